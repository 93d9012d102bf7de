#!/usr/bin/env bash
# A migration that stops making progress: the destination's QEMU is stopped (SIGSTOP) while
# guest1 migrates to it (8 MiB/s), once memory is being sent, so that its data remaining no
# longer falls. The progress timeout (--progress-timeout 5) aborts it (virDomainAbortJob) long
# before the completion timeout, and the destination is let go on (SIGCONT) once the abort is
# issued; with --retries 0 the rollout halts at hostA's evacuation with guest1 running at home,
# and resume completes the rollout. The incoming QEMU is found when the migration starts and
# stopped on the first progress line: guest1's RAM is mostly zero pages, cheap to send, and a
# search after that line let a migration end first on a loaded machine (seen once, 2026-12-05).
set -euo pipefail
. "$(dirname "$0")/../lib/fleet.sh"

fleet_case
fleet_inventory "$INV" 6.1.192.2 bandwidth=8
ekvm_fleet rollout -i "$INV" -s "$STATE" --retries 0 --progress-timeout 5 --abort-timeout 60 \
	>"$FLEET/rollout.out" 2>&1 &
pid=$!
dest=$(migrating_to "$pid")
# the destination's QEMU is the one started for an incoming migration (libvirt: -incoming defer)
qpid=
for _ in $(seq 1 120); do
	# (in the destination's namespace: another fleet on this machine has a guest1 too)
	for p in $(pgrep -f 'guest=guest1.*-incoming' || true); do
		[ "$(ip netns identify "$p" 2>/dev/null)" = "$(host_ns "$dest")" ] && qpid=$p && break
	done
	[ -z "$qpid" ] || break
	sleep 0.25
done
[ -n "$qpid" ] || { kill "$pid"; fail "no incoming QEMU for guest1 on $dest"; }
[ "$(migrating_to "$pid" sending)" = "$dest" ] || { kill "$pid"; fail "guest1's progress names another host"; }
kill -STOP "$qpid"
echo "# stopped guest1's incoming QEMU on $dest (pid $qpid)"
# (a migration that ended before the stop would make this case test nothing: say so)
if grep -q "guest1 now on" "$STATE.log"; then
	kill -CONT "$qpid"; kill "$pid"; fail "guest1's migration ended before its destination was stopped"
fi
# A stopped destination also keeps the source's abort from ending (the source waits on it: the
# controller would report the VM STUCK after --abort-timeout). Once the progress timeout has
# issued the abort, the destination comes back, as after a transient hang, and the abort ends.
for _ in $(seq 1 240); do
	grep -q "evacuate: guest1: no progress in 5 s" "$STATE.log" && break
	sleep 0.25
done
kill -CONT "$qpid" 2>/dev/null || true
rc=0; wait "$pid" || rc=$?
assert_eq "rollout exit status" 1 "$rc"
grep -q "evacuate: guest1: max downtime 300 ms" "$STATE.log" || fail "no max downtime set in the log"
grep -q "evacuate: guest1: no progress in 5 s (at best [0-9]* MiB remaining): aborting" "$STATE.log" ||
	fail "no abort for lack of progress in the log: $(grep guest1 "$STATE.log" | tail -5)"
grep -q "no end after" "$STATE.log" && fail "the completion timeout fired, not the progress timeout"
grep -q "rollout: halted at hostA (evacuate): guest1: migration to $dest failed: no progress in 5 s" "$FLEET/rollout.out" ||
	fail "report: $(tail -20 "$FLEET/rollout.out")"
grep -q "STUCK" "$STATE.log" && fail "the abort did not end the migration in 60 s"
guests_alive
[ "$(where guest1)" = hostA ] || fail "guest1 is not running on hostA after the abort"
uuids_unchanged
report_is '.result == "halted" and .failure.host == "hostA" and .failure.step == "evacuate"
	and .invariant.holds'
resume_to_done
echo "# stalled migration: aborted by the progress timeout, halted with every guest running, resumed"
