#!/usr/bin/env bash
# A failed migration is retried on another destination before the rollout halts: the
# destination's libvirtd is killed while guest1's memory goes to it (8 MiB/s); ekvm fleet moves
# guest1 to the other host instead, and with the dead daemon restarted meanwhile the rollout
# goes on to the end without a resume.
set -euo pipefail
. "$(dirname "$0")/../lib/fleet.sh"

fleet_case
fleet_inventory "$INV" 6.1.192.2 bandwidth=8
ekvm_fleet rollout -i "$INV" -s "$STATE" >"$FLEET/rollout.out" 2>&1 &
pid=$!
dest=$(migrating_to "$pid" sending)
other=hostB
[ "$dest" = hostB ] && other=hostC
fleet_kill_daemon "$dest"
echo "# killed the libvirtd of $dest while guest1's memory went to it"
moved=
for _ in $(seq 1 240); do
	grep -q "evacuate: guest1 now on $other" "$STATE.log" && { moved=1; break; }
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.25
done
fleet_restart_daemon "$dest"
[ -n "$moved" ] || { kill "$pid" 2>/dev/null; fail "guest1 was not moved to $other: $(tail -20 "$FLEET/rollout.out")"; }
rc=0; wait "$pid" || rc=$?
assert_eq "rollout exit status" 0 "$rc"
grep -q "hostA: evacuate: guest1: migration to $dest failed" "$STATE.log" || fail "no failed migration in the log"
grep -q "hostA: evacuate: guest1: retrying on $other (retry 1 of 1)" "$STATE.log" || fail "no retry in the log"
guests_alive
uuids_unchanged
report_is '.result == "done" and .invariant.holds and ([.hosts[].status] | unique) == ["done"]
	and ([.vms[] | .host == .home] | all)'
log_is_timestamped
echo "# destination died: guest1 retried on $other, the rollout went on to the end"
