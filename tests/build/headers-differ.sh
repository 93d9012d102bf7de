#!/usr/bin/env bash
# A kernel of the right point release whose KVM headers differ from the base's (a vendor kernel
# with its own KVM patches) is refused with one line naming the header; missing headers are
# refused the same way. The kernel build folder is a copy of the real one with one header edited.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

need_tree_and_headers

# Debian's layout: the arch folder (version, config) includes a common folder (headers).
kdir="$TEST_TMP/headers-arch" common="$TEST_TMP/headers-common"
mkdir -p "$kdir/include/generated/uapi/linux" "$common/include/linux"
cp "$real/include/generated/utsrelease.h" "$kdir/include/generated/"
cp "$real/include/generated/uapi/linux/version.h" "$kdir/include/generated/uapi/linux/"
echo "include $common/Makefile" >"$kdir/Makefile"
echo "# common" >"$common/Makefile"
cp "$(readlink -f "/lib/modules/$EKVM_KVER/source")/include/linux/kvm_host.h" "$common/include/linux/"

# Same headers: the target check passes.
(cd "$tree" && ./ekvm-check.sh target "$EKVM_VERSION_BASE" "$kdir") || fail "identical headers refused"

# One changed line in kvm_host.h: refused, naming the header.
sed -i '0,/^struct kvm {$/s//struct kvm {\n\tint vendor_field;/' "$common/include/linux/kvm_host.h"
expect_failure make -s -C "$tree" KDIR="$kdir"
assert_eq "message" "ekvm: kernel $EKVM_KVER's include/linux/kvm_host.h differs from Linux $EKVM_VERSION_BASE's: its KVM headers are not the base's" \
	"$(echo "$out" | grep '^ekvm:')"

# No build folder at all.
expect_failure make -s -C "$tree" KDIR="$TEST_TMP/nothing"
assert_eq "message" "ekvm: no kernel build folder at $TEST_TMP/nothing (install that kernel's headers package)" \
	"$(echo "$out" | grep '^ekvm:')"
