#!/usr/bin/env bash
# The canary's bake time and health gate: after hostA (the canary) is done, the rollout waits
# --bake 15 s and then checks the canary's VMs (guest1, migrated away and back): guest1 is
# paused meanwhile (virsh suspend), so the gate halts the rollout at hostA's "bake" step before
# hostB or hostC is touched. With guest1 running again, resume runs the bake and the gate again,
# not hostA's batch (one upgrade of hostA in all), and completes the rollout.
set -euo pipefail
. "$(dirname "$0")/../lib/fleet.sh"

fleet_case
ekvm_fleet rollout -i "$INV" -s "$STATE" --bake 15 >"$FLEET/rollout.out" 2>&1 &
pid=$!
wait_log "$pid" "bake: the canary runs 15 s before its health gate" "the canary's bake"
[ "$(where guest1)" = hostA ] || { kill "$pid"; fail "guest1 is not back on hostA for the bake"; }
virsh_on hostA suspend guest1 >/dev/null
echo "# paused guest1 on hostA during the canary's bake"
rc=0; wait "$pid" || rc=$?
assert_eq "rollout exit status" 1 "$rc"
grep -q "rollout: halted at hostA (bake): health gate: guest1 on hostA is not running" "$FLEET/rollout.out" ||
	fail "report: $(tail -20 "$FLEET/rollout.out")"
if [ -e "$FLEET/hostB.upgrades" ] || [ -e "$FLEET/hostC.upgrades" ]; then
	fail "a host was upgraded after the canary failed its gate"
fi
virsh_on hostA resume guest1 >/dev/null
ekvm_fleet resume -s "$STATE" --bake 1 >"$FLEET/resume.out" 2>&1 ||
	fail "resume: $(tail -20 "$FLEET/resume.out")"
grep -q "hostA: bake: guest1 running (no guest agent connected)" "$STATE.log" ||
	fail "the gate did not pass guest1: $(grep bake "$STATE.log" | tail -3)"
grep -q "bake: the canary passed its health gate (1 VM)" "$STATE.log" || fail "no gate passed"
assert_eq "hostA's upgrades (the resume ran the gate, not the batch)" 1 "$(wc -l <"$FLEET/hostA.upgrades")"
guests_alive
uuids_unchanged
report_is '.result == "done" and .invariant.holds and ([.hosts[].status] | unique) == ["done"]'
log_is_timestamped
echo "# canary: paused guest failed the gate, nothing else touched; resume ran the gate and completed"
