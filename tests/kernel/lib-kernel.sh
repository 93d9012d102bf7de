# shellcheck shell=bash
# Helpers for the kernel package tests (make kernel-test): where the minimal-profile packages
# are and what they must say. Sourced, after tests/lib.sh.

# Used by the tests that source this file.
# shellcheck disable=SC2034
{
PKGVER=$(makefile_var PKG_VERSION)
KBASE=$(makefile_var VERSION)
KPROFILE=${EKVM_KERNEL_PROFILE:-minimal}
# uname -r of the kernel: <base>.<release>-ekvm[-<profile>]
KREL=$PKGVER-ekvm
[ "$KPROFILE" = release ] || KREL+=-$KPROFILE
KDEBS=$EKVM_BUILD/kernel-deb/$KPROFILE
KRPMS=${EKVM_KERNEL_RPMS:-$EKVM_BUILD/kernel-rpm/$KPROFILE}
}

# The ekvm KVM modules of an unpacked kernel ROOT: there, with the ekvm version and for KREL.
assert_ekvm_kvm() {
	local root=$1 m f
	for m in kvm kvm-amd kvm-intel; do
		f=$root/lib/modules/$KREL/kernel/arch/x86/kvm/$m.ko
		[ -f "$f" ] || fail "no $m.ko in $root/lib/modules/$KREL"
		assert_eq "$m.ko version" "$PKGVER" "$(modinfo -F version "$f")"
		assert_match "$m.ko vermagic" "^$KREL " "$(modinfo -F vermagic "$f")"
	done
	# the series that went in: its patch names are compiled into kvm.ko (/sys/module/kvm/ekvm/series)
	f=$root/lib/modules/$KREL/kernel/arch/x86/kvm/kvm.ko
	while read -r p; do
		grep -qaF "$p" "$f" || fail "kvm.ko was not built with $p of the series"
	done < <(series_patches "$KBASE")
}

# An external module builds against the kernel build folder KDIR (the headers package, what);
# its vermagic names $KREL.
assert_extmod_builds() {
	local kdir=$1 what=$2 mdir=$TEST_TMP/extmod
	mkdir -p "$mdir"
	printf '%s\n' '#include <linux/module.h>' 'static int __init t_init(void) { return 0; }' \
		'module_init(t_init);' 'MODULE_LICENSE("GPL");' >"$mdir/ekvmt.c"
	echo 'obj-m := ekvmt.o' >"$mdir/Kbuild"
	make -C "$kdir" M="$mdir" modules >"$TEST_TMP/extmod.log" 2>&1 ||
		{ tail -20 "$TEST_TMP/extmod.log"; fail "an external module does not build against $what"; }
	assert_match "external module vermagic" "^$KREL " "$(modinfo -F vermagic "$mdir/ekvmt.ko")"
}
