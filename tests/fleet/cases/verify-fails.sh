#!/usr/bin/env bash
# hostC's upgrade installs the wrong KVM version: verify fails there, after guest2 was
# evacuated; hostC stays drained and empty, guest2 runs elsewhere. Fixed inventory, resume.
set -euo pipefail
. "$(dirname "$0")/../lib/fleet.sh"

VERSION_hostC=6.1.192.9 fleet_case
expect_failure ekvm_fleet rollout -i "$INV" -s "$STATE"
echo "$out" | grep -q "rollout: halted at hostC (verify): KVM version is '6.1.192.9', expected '6.1.192.2'" ||
	fail "report: $out"
guests_alive
uuids_unchanged
report_is '.result == "halted" and .failure.host == "hostC" and .failure.step == "verify"
	and .invariant.holds
	and ([.hosts[] | select(.status == "done") | .name] == ["hostA", "hostB"])
	and (.hosts[] | select(.name == "hostC") | .status == "failed" and .vms == 0)
	and (.vms[] | select(.name == "guest2") | .host != "hostC")'
# the fix: the right package
fleet_inventory "$INV" 6.1.192.2
resume_to_done
assert_eq "upgrades of hostC" 2 "$(wc -l <"$FLEET/hostC.upgrades")"
echo "# verify failure: halted with every guest running, resumed to completion"
