#!/usr/bin/env bash
# Policy shutdown (docs/fleet.md): guest3 on the canary hostA has ACPI and busybox acpid (its
# power button powers it off: fleet_guest_image) and `vm name=guest3 policy=shutdown`. The
# rollout shuts it down cleanly before hostA's upgrade (its console shows the power-down; the
# fake upgrade records that libvirt has it shut off then), starts it again on hostA after the
# verify (a new boot, heartbeats again), and migrates the others as usual; exit 0, the invariant
# holds. Then guest4, on hostA with ACPI but nothing handling the power button, gets policy
# shutdown too and shutdown_timeout=5: the rollout halts at hostA's evacuation naming guest4,
# which still runs at home, with guest3 shut down by the rollout (recorded, shown by status);
# `abort` starts guest3 again. Once more, halted the same way, the inventory fixed
# (shutdown_force=1): `resume` powers guest4 off after the timeout and goes to the end, both
# guests started again after hostA's upgrade.
set -euo pipefail
. "$(dirname "$0")/../lib/fleet.sh"

# wait_boot NAME N: until the guest's console log shows its boot number N and a heartbeat of
# that boot (60 s at most): a guest started again appends a new boot to its log
wait_boot() {
	for _ in $(seq 1 240); do
		[ "$(grep -ac 'Linux version' "$FLEET/$1.log")" -ge "$2" ] &&
			awk '/Linux version/ { hb = 0 } /ekvm-hb/ { hb = 1 } END { exit !hb }' "$FLEET/$1.log" &&
			return 0
		sleep 0.25
	done
	fail "$1: no boot $2 with a heartbeat in 60 s ($(grep -ac 'Linux version' "$FLEET/$1.log") boots)"
}

fleet_case
FLEET_GUEST_ACPI=acpid fleet_guest guest3 hostA
wait_heartbeat guest3
grep -aq 'ekvm-acpid: started (.*event' "$FLEET/guest3.log" ||
	fail "guest3's acpid has no input device: $(grep -a 'ekvm-acpid\|button\|ACPI' "$FLEET/guest3.log" | tail -5)"
UUIDS0=$(fleet_uuids)
[ "$(echo "$UUIDS0" | wc -l)" -eq 3 ] || fail "three guests expected: $UUIDS0"

# hostA's fake upgrade records guest3's state (libvirt's) while it runs
upgrade_a() {
	echo "virsh -q -c $(host_uri hostA) domstate guest3 >>$FLEET/hostA.guest3-state 2>&1;" \
		"echo \$(date +%s.%N) >>$FLEET/hostA.upgrades && echo $1 >$FLEET/hostA.kvm-version"
}
UPGRADE_hostA=$(upgrade_a 6.1.192.2) fleet_inventory "$INV" 6.1.192.2 shutdown_timeout=120
echo "vm name=guest3 policy=shutdown" >>"$INV"

plan=$(ekvm_fleet plan -i "$INV" --json)
echo "$plan" | jq -e '.failed == 0 and ([.batches[0].moves[] | select(.vm == "guest3")
	| .policy == "shutdown" and .to == null] == [true])
	and ([.checks[] | select(.check == "movable") | .note] | any(test("^guest3: policy shutdown")))' \
	>/dev/null || fail "plan: $plan"

boots0=$(grep -ac 'Linux version' "$FLEET/guest3.log")
start=$SECONDS
ekvm_fleet rollout -i "$INV" -s "$STATE" --json >"$FLEET/rollout.json" 2>"$FLEET/events.json" ||
	{ tail -30 "$FLEET/events.json"; fail "rollout failed"; }
echo "# rollout in $((SECONDS - start)) s"
jq -e '.result == "done" and .invariant.holds and .invariant.shut == 0
	and ([.vms[] | .host == .home and .shut == null] | all)' "$FLEET/rollout.json" >/dev/null ||
	fail "rollout: $(jq -c '{result, invariant, vms}' "$FLEET/rollout.json")"
# shut down cleanly (its own poweroff, by its power button), off during the upgrade, started after
grep -aq 'ekvm-acpid: power button: poweroff' "$FLEET/guest3.log" || fail "guest3's acpid did not see the power button"
assert_eq "guest3's power-downs" 1 "$(grep -ac 'reboot: Power down' "$FLEET/guest3.log")"
assert_eq "guest3's state during hostA's upgrade" "shut off" "$(cat "$FLEET/hostA.guest3-state")"
wait_boot guest3 $((boots0 + 1))
assert_eq "guest3's boots" $((boots0 + 1)) "$(grep -ac 'Linux version' "$FLEET/guest3.log")"
if ! { grep -q 'hostA: evacuate: shutting guest3 down (policy shutdown: ACPI power button), up to 120 s$' "$STATE.log" &&
	grep -q 'hostA: evacuate: guest3 shut down in [0-9.]* s' "$STATE.log" &&
	grep -q 'hostA: return: guest3 started again on hostA$' "$STATE.log"; }; then
	fail "the log: $(grep guest3 "$STATE.log")"
fi
grep -q 'evacuate: migrating guest3' "$STATE.log" && fail "guest3 was migrated"
jq -se '[.[] | select(.event == "shutdown" or .event == "started") | .event + " " + .host + " " + .vm + " " + .step]
	== ["shutdown hostA guest3 evacuate", "started hostA guest3 return"]' "$FLEET/events.json" >/dev/null ||
	fail "events: $(grep -E '"(shutdown|started)"' "$FLEET/events.json")"
assert_eq "guest3's host" hostA "$(where guest3)"
guests_alive
wait_heartbeat guest3
uuids_unchanged
echo "# guest3 shut down cleanly for hostA's upgrade, started again after"

# guest4 ignores the power button: halted at hostA's evacuation, guest4 still running there
FLEET_GUEST_ACPI=ignore fleet_guest guest4 hostA
wait_heartbeat guest4
UUIDS0=$(fleet_uuids)
[ "$(echo "$UUIDS0" | wc -l)" -eq 4 ] || fail "four guests expected: $UUIDS0"
UPGRADE_hostA=$(upgrade_a 6.1.192.3) fleet_inventory "$INV" 6.1.192.3 shutdown_timeout=5
printf 'vm name=guest3 policy=shutdown\nvm name=guest4 policy=shutdown\n' >>"$INV"
STATE=$FLEET/state2
boots0=$(grep -ac 'Linux version' "$FLEET/guest3.log")
rc=0; ekvm_fleet rollout -i "$INV" -s "$STATE" >"$FLEET/rollout2.out" 2>&1 || rc=$?
assert_eq "rollout with a guest that ignores the shutdown: exit status" 1 "$rc"
report_is '.result == "halted" and .failure.host == "hostA" and .failure.step == "evacuate"
	and (.failure.error | test("guest4 did not shut down within 5 s"))
	and .invariant.holds and .invariant.shut == 1
	and ([.vms[] | select(.name == "guest3") | .host == null and .shut == "hostA"] == [true])
	and ([.vms[] | select(.name == "guest4") | .host == "hostA"] == [true])'
out=$(ekvm_fleet status -s "$STATE" 2>&1) && fail "status of a halted rollout exited 0"
[[ $out == *"guest3"*"shut down by the rollout on hostA"* ]] || fail "status does not show guest3 shut down: $out"
grep -q 'shut=hostA' "$STATE" || fail "the state does not record guest3 shut down"
assert_eq "upgrades of hostA" 1 "$(wc -l <"$FLEET/hostA.upgrades")"
assert_eq "guest4's host" hostA "$(where guest4)"
wait_heartbeat guest4
rc=0; ekvm_fleet abort -s "$STATE" >"$FLEET/abort.out" 2>&1 || rc=$?
assert_eq "abort exit status" 0 "$rc"
report_is '.result == "aborted" and .invariant.holds and .invariant.shut == 0 and ([.vms[] | .host == .home] | all)'
grep -q 'hostA: abort: guest3 started again on hostA$' "$STATE.log" || fail "abort: $(tail -5 "$STATE.log")"
wait_boot guest3 $((boots0 + 1))
assert_eq "guest3's boots after abort" $((boots0 + 1)) "$(grep -ac 'Linux version' "$FLEET/guest3.log")"
wait_heartbeat guest3
wait_heartbeat guest4
guests_alive
uuids_unchanged
echo "# a guest that ignores the shutdown halts the rollout at home; abort started guest3 again"

# the same halt, then the inventory fixed (shutdown_force=1): resume powers guest4 off
STATE=$FLEET/state3
rc=0; ekvm_fleet rollout -i "$INV" -s "$STATE" >"$FLEET/rollout3.out" 2>&1 || rc=$?
assert_eq "rollout 3 exit status" 1 "$rc"
report_is '.failure.step == "evacuate" and .invariant.shut == 1'
sed -i 's/ shutdown_timeout=5$/ shutdown_timeout=5 shutdown_force=1/' "$INV"
grep -q 'shutdown_force=1' "$INV" || fail "the inventory was not fixed: $(head -3 "$INV")"
boots0=$(grep -ac 'Linux version' "$FLEET/guest3.log")
boots4=$(grep -ac 'Linux version' "$FLEET/guest4.log")
ekvm_fleet resume -s "$STATE" >"$FLEET/resume.out" 2>&1 || { tail -30 "$FLEET/resume.out"; fail "resume did not complete"; }
report_is '.result == "done" and .invariant.holds and .invariant.shut == 0
	and ([.hosts[].version] | unique) == ["6.1.192.3"] and ([.vms[] | .host == .home] | all)'
if ! { grep -q 'hostA: evacuate: guest4 did not shut down within 5 s: powered off (shutdown_force=1)$' "$STATE.log" &&
	grep -q 'hostA: return: guest3 started again on hostA$' "$STATE.log" &&
	grep -q 'hostA: return: guest4 started again on hostA$' "$STATE.log"; }; then
	fail "resume: $(grep -E 'guest[34]' "$STATE.log" | tail -8)"
fi
grep -q 'migrating guest4' "$STATE.log" && fail "guest4 was migrated"
wait_boot guest3 $((boots0 + 1))
wait_boot guest4 $((boots4 + 1))
assert_eq "guest3's boots after resume" $((boots0 + 1)) "$(grep -ac 'Linux version' "$FLEET/guest3.log")"
assert_eq "guest4's boots after resume" $((boots4 + 1)) "$(grep -ac 'Linux version' "$FLEET/guest4.log")"
grep -aq 'reboot: Power down' "$FLEET/guest4.log" && fail "guest4 powered itself off"
wait_heartbeat guest3
wait_heartbeat guest4
guests_alive
uuids_unchanged
log_is_timestamped
echo "# halted again, shutdown_force=1: resume powered guest4 off, started both again, finished"
