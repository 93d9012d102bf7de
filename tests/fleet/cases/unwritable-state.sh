#!/usr/bin/env bash
# A state that cannot be saved mid-rollout (issue 16: "every save is checked"): the state file's
# folder is made immutable (chattr +i: root ignores modes; the log already open there is still
# appended to) while guest1's evacuation from hostA runs (16 MiB/s). The save after the
# evacuation fails: the rollout halts with one line about the state, exit 1, nothing upgraded,
# STATE keeps the last state saved (hostA drained, guest1 recorded on hostA), and no VM is lost.
# With the folder writable again, resume (which takes guest1 where it runs now) completes.
set -euo pipefail
. "$(dirname "$0")/../lib/fleet.sh"

fleet_case
command -v chattr >/dev/null || skip "no chattr (e2fsprogs)"
dir=$FLEET/state.d
mkdir -p "$dir"
STATE=$dir/state
chattr +i "$dir" 2>/dev/null || skip "chattr +i does not work on $dir's filesystem"
chattr -i "$dir"
unlock() { chattr -i "$dir" 2>/dev/null || true; }
trap 'unlock; fleet_down' EXIT
fleet_inventory "$INV" 6.1.192.2 bandwidth=16
ekvm_fleet rollout -i "$INV" -s "$STATE" --retries 0 --json >"$FLEET/rollout.json" 2>"$FLEET/events" &
pid=$!
dest=$(migrating_to "$pid")
saved=$(cat "$STATE")
chattr +i "$dir"
echo "# $dir made immutable while guest1 migrates to $dest"
touch "$dir/probe" 2>/dev/null && { kill "$pid"; fail "$dir is still writable"; }
rc=0; wait "$pid" || rc=$?
assert_eq "rollout exit status" 1 "$rc"
n=$(grep -c "rollout halted: cannot save the state to $STATE: Operation not permitted" "$STATE.log" || true)
assert_eq "log lines about the state that cannot be saved" 1 "$n"
jq -e --arg e "cannot save the state to $STATE: Operation not permitted" \
	'.result == "halted" and .failure.step == "evacuate" and .failure.error == $e and .invariant.holds' \
	"$FLEET/rollout.json" >/dev/null || fail "the report does not say why: $(jq -c '{result, failure}' "$FLEET/rollout.json")"
jq -e -s '.[-1].event == "end" and .[-1].result == "halted" and .[-1].exit == 1' "$FLEET/events" >/dev/null ||
	fail "the last event: $(tail -1 "$FLEET/events")"
# STATE keeps the last state saved; nothing left behind in the folder
assert_eq "the state file" "$saved" "$(cat "$STATE")"
[ ! -e "$STATE.tmp" ] || fail "STATE.tmp left behind"
for h in "${FLEET_HOSTS[@]}"; do
	[ ! -e "$FLEET/$h.upgrades" ] || fail "$h was upgraded after the state could not be saved"
done
grep -q "evacuate: guest1 now on $dest" "$STATE.log" || fail "guest1's migration did not end: $(grep guest1 "$STATE.log" | tail -3)"
grep -E " (upgrade|verify|return): " "$STATE.log" && fail "the rollout went on without its state"
guests_alive
uuids_unchanged
[ "$(where guest1)" = "$dest" ] || fail "guest1 is not on $dest"
# status reads the last state saved (result running: the halt could not be written) and
# libvirt: an interrupted rollout, exit 1, guest1 found where it runs
rc=0; ekvm_fleet status -s "$STATE" >/dev/null 2>&1 || rc=$?
assert_eq "status exit status" 1 "$rc"
report_is '.result == "running" and .invariant.holds
	and ([.vms[] | select(.name == "guest1") | .host, .home] == ["'"$dest"'", "hostA"])'
chattr -i "$dir"
resume_to_done
assert_eq "upgrades of hostA" 1 "$(wc -l <"$FLEET/hostA.upgrades")"
echo "# unwritable state: halted at once with one line, exit 1, every guest running; resumed"
