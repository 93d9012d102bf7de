#!/usr/bin/env bash
# ekvm-select (what dkms.conf and the kernel hook ask which tree builds for a kernel) serves a
# Debian kernel only when its Debian source version is in the tree's debian-versions list (Debian
# patches KVM inside a point release): another Debian version of the same point release is
# refused with one line naming both, and keeps its own KVM. A kernel whose headers name no Debian
# version (a custom build) is matched by point release and KVM headers as before. The kernel
# build folders are the real headers' generated files with package.h as each case needs it; the
# real headers' package.h is checked to say what dpkg says.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

need_tree_and_headers
v=$EKVM_VERSION_BASE

# the real headers: package.h holds the Debian source version dpkg knows the package by
debver=$(dpkg-query -W -f '${source:Version}' "linux-headers-$EKVM_KVER")
assert_eq "package.h of $EKVM_KVER" "#define LINUX_PACKAGE_ID \" Debian $debver\"" \
	"$(cat "$real/include/generated/package.h")"

# a DKMS source with one tree (the select script, the tree's checks and its headers' sums)
src="$TEST_TMP/dkms"
mkdir -p "$src/trees/$v"
cp "$EKVM_TOP/kernel/ekvm-select.sh" "$src/ekvm-select"
cp "$tree/ekvm-check.sh" "$tree/base-headers.sha256" "$src/trees/$v/"
# a kernel build folder: the real headers' Makefile and generated files, package.h as given
kdir="$TEST_TMP/kdir"
mkdir -p "$kdir/include/generated/uapi/linux"
cp "$real/Makefile" "$kdir/"
cp "$real/include/generated/utsrelease.h" "$kdir/include/generated/"
cp "$real/include/generated/uapi/linux/version.h" "$kdir/include/generated/uapi/linux/"
select_for() { # select_for PACKAGE_ID|-: prints the tree chosen, or the line why not
	if [ "$1" = - ]; then
		rm -f "$kdir/include/generated/package.h"
	else
		echo "#define LINUX_PACKAGE_ID \" Debian $1\"" >"$kdir/include/generated/package.h"
	fi
	bash "$src/ekvm-select" "$EKVM_KVER" "$kdir" 2>&1 || true
}
printf '%s\n' "$v-2" "$v-1" >"$src/trees/$v/debian-versions"

assert_eq "Debian $v-2, listed" "$v" "$(select_for "$v-2")"
assert_eq "Debian $v-1, listed" "$v" "$(select_for "$v-1")"
assert_eq "Debian $v-7, not listed" "ekvm: skipping kernel $EKVM_KVER: it is Debian's Linux $v-7, and ekvm's KVM for Linux $v is checked for Debian $v-2, $v-1 only (Debian may have patched KVM since); it keeps its own KVM" \
	"$(select_for "$v-7")"
assert_eq "no Debian version (a custom kernel)" "$v" "$(select_for -)"
rm "$src/trees/$v/debian-versions"
assert_eq "a tree without a debian-versions list" "ekvm: skipping kernel $EKVM_KVER: it is Debian's Linux $v-2, and ekvm's KVM for Linux $v is checked for Debian no version only (Debian may have patched KVM since); it keeps its own KVM" \
	"$(select_for "$v-2")"
echo "Debian versions listed: served; $v-7: refused in one line; no package.h: by point release"
