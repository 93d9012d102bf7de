#!/usr/bin/env bash
# The upgrade command of hostB exits 1: the rollout halts there with hostB empty, the canary
# done, hostC untouched, every guest running; resume after the fix completes the rollout.
set -euo pipefail
. "$(dirname "$0")/../lib/fleet.sh"

# shellcheck disable=SC2034 # read by fleet_inventory; the quotes are for the host's shell
UPGRADE_hostB="test ! -e $EKVM_BUILD/fleet/upgrade-fails/broken || { echo 'E: package ekvm-dkms is broken'; exit 1; }; echo 6.1.192.2 >$EKVM_BUILD/fleet/upgrade-fails/hostB.kvm-version"
fleet_case
touch "$FLEET/broken"
expect_failure ekvm_fleet rollout -i "$INV" -s "$STATE"
echo "$out" >"$FLEET/halted.out"
echo "$out" | grep -q 'rollout: halted at hostB (upgrade): upgrade command exited 1: E: package ekvm-dkms is broken' ||
	fail "report: $out"
guests_alive
uuids_unchanged
report_is '.result == "halted" and .failure.host == "hostB" and .failure.step == "upgrade"
	and .invariant.holds
	and (.hosts[] | select(.name == "hostA") | .status == "done")
	and (.hosts[] | select(.name == "hostB") | .status == "failed" and .vms == 0)
	and (.hosts[] | select(.name == "hostC") | .status == "pending")
	and ([.vms[] | select(.host == "hostB")] | length) == 0'
[ ! -e "$FLEET/hostC.upgrades" ] || fail "hostC was upgraded after the halt"
# resume refuses nothing but a fix: still broken, it halts again at the same place
expect_failure ekvm_fleet resume -s "$STATE"
report_is '.failure.host == "hostB" and .failure.step == "upgrade"'
# a second rollout over the unfinished one is refused
expect_failure ekvm_fleet rollout -i "$INV" -s "$STATE"
assert_match "rollout over a halted one" 'unfinished rollout' "$out"
rm "$FLEET/broken"
resume_to_done
echo "# upgrade failure: halted with every guest running, resumed to completion"
