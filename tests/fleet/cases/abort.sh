#!/usr/bin/env bash
# abort ends a halted rollout and brings the VMs home. hostA's libvirtd is killed while guest1's
# memory goes back to hostA (upgraded and verified; 8 MiB/s): the rollout halts at hostA's return
# with guest1 running on the destination of its evacuation. With the daemon back, `abort`
# migrates guest1 home, ends the rollout (aborted, exit 0), releases the leases, and upgrades
# nothing more: hostB and hostC are never upgraded. Before the abort, hostA holds a paused copy
# of guest1, as a libvirtd killed during an incoming migration may leave its QEMU; made here when
# the kill did not leave one: the abort destroys it (guest1 runs on the other host) and goes on.
# (A kill during the destination's prepare can leave a copy libvirt 9.0 cannot destroy:
# docs/fleet.md, "A copy libvirt cannot destroy"; the kill waits for memory sent.)
set -euo pipefail
. "$(dirname "$0")/../lib/fleet.sh"

fleet_case
fleet_inventory "$INV" 6.1.192.2 bandwidth=8
ekvm_fleet rollout -i "$INV" -s "$STATE" >"$FLEET/rollout.out" 2>&1 &
pid=$!
wait_log "$pid" "return: guest1 -> hostA: .* MiB remaining" "guest1's return to hostA, memory sent"
fleet_kill_daemon hostA
echo "# killed the libvirtd of hostA while guest1's memory went back to it"
rc=0; wait "$pid" || rc=$?
assert_eq "rollout exit status" 1 "$rc"
grep -q "rollout: halted at hostA (return): guest1: migration to hostA failed" "$FLEET/rollout.out" ||
	fail "report: $(tail -20 "$FLEET/rollout.out")"
fleet_restart_daemon hostA
away=$(where guest1)
if [ -z "$away" ] || [ "$away" = hostA ]; then fail "guest1 runs on '$away', not away from hostA"; fi
guests_alive
grep -q "^rollout=" "$FLEET/hostA/lease" || fail "the halted rollout gave up its lease"
if ! virsh_on hostA domstate guest1 >/dev/null 2>&1; then
	virsh_on hostA create "$FLEET/guest1.xml" --paused >/dev/null
fi
assert_eq "guest1's copy on hostA" paused "$(virsh_on hostA domstate guest1 | xargs)"
echo "# hostA holds a paused copy of guest1; guest1 runs on $away"

rc=0; ekvm_fleet abort -s "$STATE" >"$FLEET/abort.out" 2>&1 || rc=$?
assert_eq "abort exit status" 0 "$rc"
grep -q "abort: 1 VM to bring home" "$STATE.log" || fail "abort: $(tail -10 "$STATE.log")"
grep -q "hostA: abort: guest1: a paused copy, left by an interrupted migration, is here while $away runs it: destroyed" \
	"$STATE.log" || fail "the paused copy was not destroyed: $(grep -m3 'paused\|already' "$STATE.log")"
grep -q "abort: guest1 now on hostA" "$STATE.log" || fail "guest1 was not brought home: $(tail -10 "$STATE.log")"
[ "$(where guest1)" = hostA ] || fail "guest1 is not running on hostA after the abort"
for h in "${FLEET_HOSTS[@]}"; do
	[ ! -e "$FLEET/$h/lease" ] || fail "$h: the lease was not released"
done
if [ -e "$FLEET/hostB.upgrades" ] || [ -e "$FLEET/hostC.upgrades" ]; then
	fail "the abort upgraded a host"
fi
guests_alive
uuids_unchanged
report_is '.result == "aborted" and .failure == null and .invariant.holds
	and ([.vms[] | .host == .home] | all) and ([.hosts[].status] == ["failed", "pending", "pending"])'
rc=0; ekvm_fleet status -s "$STATE" >/dev/null 2>&1 || rc=$?
assert_eq "status exit status of the aborted rollout" 0 "$rc"
log_is_timestamped
echo "# abort: guest1 brought home, the rollout ended, its leases released"
