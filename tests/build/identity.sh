#!/usr/bin/env bash
# The modules `make` built carry the ekvm identity: MODULE_VERSION <base>.<release> on all three,
# the target kernel's vermagic, the generated identity header, and the capability and sysfs code
# of the identity patch in the patched source.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

mods="$EKVM_BUILD/modules/$EKVM_KVER" tree="$EKVM_BUILD/kvm/$EKVM_KVER"
want="$EKVM_VERSION_BASE.$(makefile_var EKVM_RELEASE)"
[ -f "$mods/kvm.ko" ] || fail "no modules in $mods: run make first"

for m in kvm kvm-intel kvm-amd; do
	assert_eq "$m version" "$want" "$(/sbin/modinfo -F version "$mods/$m.ko")"
	assert_eq "$m vermagic" "$EKVM_KVER SMP preempt mod_unload modversions " \
		"$(/sbin/modinfo -F vermagic "$mods/$m.ko")"
done
assert_eq "kvm-amd depends" "kvm,ccp" "$(/sbin/modinfo -F depends "$mods/kvm-amd.ko")"

h="$tree/include/linux/ekvm_version.h"
assert_match "EKVM_VERSION" "^#define EKVM_VERSION \"$want\"$" "$(grep EKVM_VERSION "$h")"
series=$(series_patches "$EKVM_VERSION_BASE" | paste -sd/ | sed 's|/|\\n|g')
assert_eq "EKVM_SERIES" "#define EKVM_SERIES \"$series\"" "$(grep EKVM_SERIES "$h")"

grep -A1 -q 'case KVM_CAP_EKVM:' "$tree/virt/kvm/kvm_main.c" || fail "no KVM_CAP_EKVM in kvm_main.c"
assert_match "KVM_CAP_EKVM" '0x454b564d' "$(grep 'define KVM_CAP_EKVM' "$tree/include/uapi/linux/ekvm.h")"
for a in version base release abi series; do
	grep -q "__ATTR_RO($a)" "$tree/virt/kvm/ekvm.c" || fail "no sysfs attribute $a in ekvm.c"
done
nm "$mods/kvm.ko" >"$TEST_TMP/kvm.nm"
grep -q ' T ekvm_identity_init$' "$TEST_TMP/kvm.nm" || fail "kvm.ko has no ekvm_identity_init"
echo "modules are ekvm $want for $EKVM_KVER"
