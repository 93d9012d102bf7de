#!/usr/bin/env bash
# Issue 16's "no fixed cap" in the fleet tier: `ekvm fleet plan` (the copy of the program the
# fleet cases run) over 5,000 VMs on 4 hosts of libvirt's test driver (test:///FILE, no daemon:
# the generator tests/fleet/lib/test-driver.sh, shared with userspace/tests/fleet-preflight.sh)
# places every VM, each once, and exits 0 (plan: 1 only when a check FAILs). It needs no
# namespace, daemon or guest.
set -euo pipefail
. "$(dirname "$0")/../lib/fleet.sh"
. "$(dirname "$0")/../lib/test-driver.sh"

for p in ekvm ekvm-fleet; do
	[ -x "$EKVM_BUILD/userspace/$p" ] || fail "no $EKVM_BUILD/userspace/$p (make userspace)"
done
rm -rf "$FLEET" && mkdir -p "$FLEET"
cp "$EKVM_BUILD/userspace/ekvm" "$EKVM_BUILD/userspace/ekvm-fleet" "$FLEET/"
test_driver_5000 "$FLEET"
start=$SECONDS
rc=0; "$FLEET/ekvm" fleet plan -i "$FLEET/inv-5000" --json >"$FLEET/plan.json" 2>"$FLEET/plan.err" || rc=$?
echo "# plan of 5,000 VMs in $((SECONDS - start)) s"
assert_eq "plan exit status" 0 "$rc"
jq -e "$TEST_DRIVER_5000_PLANNED" "$FLEET/plan.json" >/dev/null ||
	fail "not every VM planned: $(jq -c '{failed, vms: [.hosts[].vms], moves: [.batches[].moves | length]}' "$FLEET/plan.json")"
# every VM by name too, in the batch of its host (the canary big0 first)
jq -e '[.batches[] | .hosts[0] as $h | .moves[] | select(.from == $h) | .vm] | unique | length == 5000' \
	"$FLEET/plan.json" >/dev/null || fail "a VM planned out of its host's batch"
jq -e '.batches[0].canary and .batches[0].hosts == ["big0"] and (.batches | length) == 4' "$FLEET/plan.json" >/dev/null ||
	fail "batches: $(jq -c '[.batches[] | {batch, canary, hosts}]' "$FLEET/plan.json")"
# the text plan names every VM as well
rc=0; "$FLEET/ekvm" fleet plan -i "$FLEET/inv-5000" >"$FLEET/plan.txt" 2>&1 || rc=$?
assert_eq "text plan exit status" 0 "$rc"
n=$(grep -oE '\bvm[0-9]+\b' "$FLEET/plan.txt" | sort -u | wc -l)
assert_eq "VMs named in the text plan" 5000 "$n"
echo "# 5,000 test-driver VMs on 4 hosts: every one planned, exit 0"
