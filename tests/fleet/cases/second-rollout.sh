#!/usr/bin/env bash
# One rollout at a time: while a rollout runs (4 migrations at 16 MiB/s), a second rollout of
# the same hosts (another state file, as from another controller) is refused at once, naming
# the first (its rollout id, from the lease on hostA), and touches nothing: the first's leases
# stay, no upgrade runs. The first completes and releases its leases.
set -euo pipefail
. "$(dirname "$0")/../lib/fleet.sh"

fleet_case
fleet_inventory "$INV" 6.1.192.2 bandwidth=16
ekvm_fleet rollout -i "$INV" -s "$STATE" >"$FLEET/rollout.out" 2>&1 &
pid=$!
# the first holds its leases once it logs its first migration
migrating_to "$pid" >/dev/null
id=$(sed -n 's/^rollout //p' "$STATE")
[ -n "$id" ] || { kill "$pid"; fail "the state records no rollout id"; }
for h in "${FLEET_HOSTS[@]}"; do
	grep -q "^rollout=$id " "$FLEET/$h/lease" || { kill "$pid"; fail "$h: no lease of rollout $id"; }
done
upgrades() { cat "$FLEET"/host?.upgrades 2>/dev/null | wc -l || true; }
ups=$(upgrades)
rc=0; ekvm_fleet rollout -i "$INV" -s "$FLEET/state2" >"$FLEET/second.out" 2>&1 || rc=$?
assert_eq "second rollout's exit status" 1 "$rc"
grep -q "lease: hostA is in another rollout: rollout=$id owner=[^ ]* pid=[0-9]* state=$STATE expires=" \
	"$FLEET/second.out" || { kill "$pid"; fail "the refusal does not name the first: $(tail -5 "$FLEET/second.out")"; }
grep -q '^result halted$' "$FLEET/state2" || fail "the second's state does not record the halt"
for h in "${FLEET_HOSTS[@]}"; do
	grep -q "^rollout=$id " "$FLEET/$h/lease" || fail "$h: the second rollout changed the first's lease"
done
assert_eq "upgrades run by the second rollout" "$ups" "$(upgrades)"
kill -0 "$pid" 2>/dev/null || fail "the first rollout had ended before the second was refused: no proof"
echo "# a second rollout was refused while rollout $id migrated guest1"
rc=0; wait "$pid" || rc=$?
assert_eq "first rollout's exit status" 0 "$rc"
for h in "${FLEET_HOSTS[@]}"; do
	[ ! -e "$FLEET/$h/lease" ] || fail "$h: the lease was not released: $(cat "$FLEET/$h/lease")"
done
guests_alive
uuids_unchanged
report_is '.result == "done" and .invariant.holds and ([.hosts[].status] | unique) == ["done"]'
log_is_timestamped
echo "# one rollout at a time: the second refused, the first done, its leases released"
