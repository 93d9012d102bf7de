# shellcheck shell=bash
# Helpers for the kernel package tests (make kernel-test): where the minimal-profile packages
# are and what they must say. Sourced, after tests/lib.sh. The base is the top Makefile's
# (BASE=6.12 in the environment, or make kernel-test BASE=6.12).

# Used by the tests that source this file.
# shellcheck disable=SC2034
{
# the base's own <version>.<release> (PKG_VERSION is the DKMS package's, of the first base)
PKGVER=$(makefile_var VERSION).$(makefile_var EKVM_RELEASE)
KBASE=$(makefile_var VERSION)
KSERIES=$(series_of "$KBASE")
KPROFILE=${EKVM_KERNEL_PROFILE:-minimal}
# scripts/build-kernel.sh's folder for the base and profile: the tree, its final config
KWORK=$EKVM_BUILD/kernel/$KSERIES/$KPROFILE
# the base's Debian kernel (the VM harness's reference)
KSTOCK=$(makefile_var KVER)
# uname -r of the kernel: <base>.<release>-ekvm[-<profile>]
KREL=$PKGVER-ekvm
[ "$KPROFILE" = release ] || KREL+=-$KPROFILE
KDEBS=$EKVM_BUILD/kernel-deb/$KPROFILE
KRPMS=${EKVM_KERNEL_RPMS:-$EKVM_BUILD/kernel-rpm/$KPROFILE}
# the next release of the same kernel (make kernel-test builds it too): the upgrade tests
NEXT_PKGVER=$KBASE.$(($(makefile_var EKVM_RELEASE) + 1))
NEXT_KREL=${KREL/#$PKGVER/$NEXT_PKGVER}
# the meta-packages' flavour: empty for the release profile, -<profile> for another
KFLAVOUR=
[ "$KPROFILE" = release ] || KFLAVOUR=-$KPROFILE
# the clean Debian 12 root the kernel packages are installed in (never on this machine)
KROOT_TAR=$EKVM_BUILD/roots/bookworm-kernel.tar
}

# kernel_root: the calling test runs again, whole, in a private mount namespace, in a clean
# Debian 12 root (scripts/suite-root.sh, cached in build/roots/) with Debian's kernel, kmod,
# initramfs-tools and systemd (kernel-install), unpacked in $TEST_TMP/root with /proc, /sys and
# /dev mounted (the mounts go with the namespace; the root goes when the run ends). In the inner
# run it returns with root set; in_root runs a command in it.
kernel_root() {
	suite_root_ns bookworm "$KROOT_TAR" linux-image-amd64 kmod initramfs-tools systemd
	# (KROOT stays the root's path where a test uses root for something else for a while)
	KROOT=$root
}

# ekvm's config fragments of the profile on the base, in merge order (scripts/build-kernel.sh):
# each common one, then the base's override of it in kernel/config/<series>/ if any.
kconfig_fragments() {
	local dir=$EKVM_TOP/kernel/config f
	for f in ekvm.config "$KPROFILE.config"; do
		echo "$dir/$f"
		[ ! -f "$dir/$KSERIES/$f" ] || echo "$dir/$KSERIES/$f"
	done
}

# The directory of an unpacked kernel ROOT's in-tree modules (module_file, scripts/lib.sh, finds
# NAME.ko or NAME.ko.xz/.zst/.gz there: Debian's 6.12 config compresses modules).
kmod_dir() {
	echo "$1/lib/modules/$KREL/kernel"
}

# A module's contents, decompressed.
module_cat() {
	case $1 in
	*.xz) xz -dc "$1" ;;
	*.zst) zstd -dcq "$1" ;;
	*.gz) gzip -dc "$1" ;;
	*) cat "$1" ;;
	esac
}

# The ekvm KVM modules of an unpacked kernel ROOT: there, with the ekvm version and for KREL.
assert_ekvm_kvm() {
	local root=$1 m f
	for m in kvm kvm-amd kvm-intel; do
		f=$(module_file "$(kmod_dir "$root")" "arch/x86/kvm/$m") || fail "no $m.ko in $root/lib/modules/$KREL"
		assert_eq "$m.ko version" "$PKGVER" "$(modinfo -F version "$f")"
		assert_match "$m.ko vermagic" "^$KREL " "$(modinfo -F vermagic "$f")"
	done
	# the series that went in: its patch names are compiled into kvm.ko (/sys/module/kvm/ekvm/series)
	f=$(module_file "$(kmod_dir "$root")" arch/x86/kvm/kvm)
	module_cat "$f" >"$TEST_TMP/kvm.ko"
	while read -r p; do
		grep -qaF "$p" "$TEST_TMP/kvm.ko" || fail "kvm.ko was not built with $p of the series"
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
