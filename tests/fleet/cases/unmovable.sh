#!/usr/bin/env bash
# A VM that cannot move: guest3 runs on hostA from a disk image in hostA's own /var (local
# storage, not declared shared). `plan` reports it (exit 1, a FAIL naming guest3 and its disk)
# and the rollout halts at the pre-flight with nothing drained, moved or upgraded. With
# `vm name=guest3 policy=pin` in the inventory, hostA is skipped (reported, left pending) and
# the rollout upgrades the others, guest3 never moved. With policy copy-storage it moves with
# its disk, once every host has a storage pool where the disk lives and no file is at its path
# on the others; after its return the copy on its evacuation's destination is deleted.
set -euo pipefail
. "$(dirname "$0")/../lib/fleet.sh"

fleet_case
img=/var/lib/libvirt/images/guest3.img # in hostA's private /var (fleet_host)
mkdir -p "$FLEET/hostA/var/lib/libvirt/images"
truncate -s 16M "$FLEET/hostA$img"
fleet_guest guest3 hostA "" "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$img'/><target dev='vda' bus='virtio'/></disk>"
wait_heartbeat guest3
UUIDS0=$(fleet_uuids)
[ "$(echo "$UUIDS0" | wc -l)" -eq 3 ] || fail "three guests expected: $UUIDS0"

rc=0; ekvm_fleet plan -i "$INV" --json >"$FLEET/plan.json" 2>/dev/null || rc=$?
assert_eq "plan exit status" 1 "$rc"
jq -e '[.checks[] | select(.result == "FAIL")] | length == 1 and (.[0].host == "hostA")
	and (.[0].note | test("guest3") and test("guest3.img"))' "$FLEET/plan.json" >/dev/null ||
	fail "plan: $(jq -c '[.checks[] | select(.result != "PASS")]' "$FLEET/plan.json")"
echo "# plan: $(jq -r '.checks[] | select(.result == "FAIL") | "\(.check): \(.note)"' "$FLEET/plan.json")"

rc=0; ekvm_fleet rollout -i "$INV" -s "$STATE" >"$FLEET/rollout.out" 2>&1 || rc=$?
assert_eq "rollout exit status" 1 "$rc"
report_is '.result == "halted" and .failure.step == "preflight"'
for h in "${FLEET_HOSTS[@]}"; do
	[ ! -e "$FLEET/$h.upgrades" ] || fail "$h was upgraded by a rollout halted at its pre-flight"
done
grep -q " drain: " "$STATE.log" && fail "a host was drained by a rollout halted at its pre-flight"
[ "$(where guest3)" = hostA ] || fail "guest3 is not on hostA"

echo "vm name=guest3 policy=pin" >>"$INV"
rc=0; ekvm_fleet rollout -i "$INV" -s "$FLEET/state2" --json >"$FLEET/rollout2.json" 2>/dev/null || rc=$?
assert_eq "pinned rollout exit status" 0 "$rc"
jq -e '.result == "done" and .invariant.holds
	and ([.hosts[] | select(.name == "hostA") | .status] == ["pending"])
	and ([.hosts[] | select(.name != "hostA") | .status] | unique == ["done"])' \
	"$FLEET/rollout2.json" >/dev/null || fail "pinned rollout: $(jq -c '.hosts' "$FLEET/rollout2.json")"
[ ! -e "$FLEET/hostA.upgrades" ] || fail "pinned hostA was upgraded"
[ "$(where guest3)" = hostA ] || fail "pinned guest3 moved"
grep -q "evacuate: migrating guest3" "$FLEET/state2.log" && fail "guest3 was migrated"
guests_alive
wait_heartbeat guest3
uuids_unchanged
echo "# unmovable guest3: reported by plan, halted the rollout untouched; pinned, its host skipped"

# policy copy-storage: its disk goes along (VIR_MIGRATE_NON_SHARED_INC). libvirt creates the
# image in the destination's storage pool first: without a pool there, plan says so
sed -i 's/^vm name=guest3 policy=pin$/vm name=guest3 policy=copy-storage/' "$INV"
printf 'EKVM-DISK-MARK' | dd of="$FLEET/hostA$img" conv=notrunc status=none
rc=0; ekvm_fleet plan -i "$INV" --json >"$FLEET/plan3.json" 2>/dev/null || rc=$?
assert_eq "copy-storage plan without storage pools" 1 "$rc"
jq -e '[.checks[] | select(.result == "FAIL") | .check] | unique == ["storage"]' "$FLEET/plan3.json" >/dev/null ||
	fail "plan: $(jq -c '[.checks[] | select(.result == "FAIL")]' "$FLEET/plan3.json")"
for h in "${FLEET_HOSTS[@]}"; do
	mkdir -p "$FLEET/$h/var/lib/libvirt/images"
	virsh_on "$h" pool-define-as images dir --target /var/lib/libvirt/images >/dev/null
	virsh_on "$h" pool-start images >/dev/null
done
# a file already at the disk's path on the other hosts: the copy would overwrite it, FAIL
for h in hostB hostC; do echo "not guest3's" >"$FLEET/$h$img"; done
rc=0; ekvm_fleet plan -i "$INV" --json >"$FLEET/plan5.json" 2>/dev/null || rc=$?
assert_eq "copy-storage plan onto an existing file" 1 "$rc"
jq -e '[.checks[] | select(.result == "FAIL") | .check + " " + .note] | length == 1
	and (.[0] | test("^storage guest3: /var/lib/libvirt/images/guest3.img already exists on host[BC]"))' \
	"$FLEET/plan5.json" >/dev/null || fail "plan: $(jq -c '[.checks[] | select(.result == "FAIL")]' "$FLEET/plan5.json")"
rm -f "$FLEET/hostB$img" "$FLEET/hostC$img"
rc=0; ekvm_fleet plan -i "$INV" --json >"$FLEET/plan4.json" 2>/dev/null || rc=$?
assert_eq "copy-storage plan with storage pools" 0 "$rc"
jq -e '[.checks[] | select(.check == "storage") | .result + " " + .note]
	| length == 1 and (.[0] | test("^PASS pool images holds the copied disks of 1 VM: [0-9]+ MiB needed, [0-9]+ MiB available$"))' \
	"$FLEET/plan4.json" >/dev/null || fail "plan: $(jq -c '[.checks[] | select(.check == "storage")]' "$FLEET/plan4.json")"
rc=0; ekvm_fleet rollout -i "$INV" -s "$FLEET/state3" >"$FLEET/rollout3.out" 2>&1 || rc=$?
assert_eq "copy-storage rollout exit status" 0 "$rc"
away=$(sed -n 's/.*evacuate: migrating guest3 (.*, copying its local disks) to \(host[BC]\),.*/\1/p' "$FLEET/state3.log")
[ -n "$away" ] || fail "guest3 was not migrated with its disk: $(grep guest3 "$FLEET/state3.log" | tail -5)"
grep -q "return: guest3 now on hostA" "$FLEET/state3.log" || fail "guest3 did not come back"
grep -q "return: guest3: deleted the copy of its disk $img on $away" "$FLEET/state3.log" ||
	fail "the copy on $away was not deleted: $(grep guest3 "$FLEET/state3.log" | tail -5)"
[ ! -e "$FLEET/$away$img" ] || fail "the copy of guest3's disk is still on $away"
grep -q 'EKVM-DISK-MARK' "$FLEET/hostA$img" || fail "guest3's disk on hostA lost its data"
grep -q 'copied' "$FLEET/state3" && fail "the state still records copies: $(grep guest3 "$FLEET/state3")"
[ "$(where guest3)" = hostA ] || fail "guest3 is not back on hostA"
guests_alive
wait_heartbeat guest3
uuids_unchanged
echo "# copy-storage: guest3 went to $away and back with its disk, the copy there deleted"
