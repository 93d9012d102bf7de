#!/usr/bin/env bash
# A build against a kernel that is not the series' base stops with one line naming both
# versions, before any compiler runs: another LTS series (6.12) and another 6.1 point release.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

tree="$EKVM_BUILD/kvm/$EKVM_KVER"
[ -f "$tree/Makefile" ] || fail "no prepared tree $tree: run make first"

# The newest 6.12 and the oldest other 6.1 ABI in the archive (names change as it moves on).
newest_612=$(apt-cache search --names-only '^linux-headers-6\.12\.[0-9]+\+deb12-amd64$' |
	awk '{print $1}' | sort -V | tail -1)
other_61=$(apt-cache search --names-only '^linux-headers-6\.1\.0-[0-9]+-amd64$' |
	awk '{print $1}' | grep -v "$EKVM_KVER" | sort -V | head -1)
{ [ -n "$newest_612" ] && [ -n "$other_61" ]; } || skip "no 6.12 or other 6.1 headers in the apt lists"

for pkg in "$newest_612" "$other_61"; do
	kver=${pkg#linux-headers-}
	kdir="$(deb_extract "$pkg")/usr/src/$pkg"
	ver=$(awk '/LINUX_VERSION_MAJOR/{a=$3} /LINUX_VERSION_PATCHLEVEL/{b=$3}
		/LINUX_VERSION_SUBLEVEL/{c=$3} END{print a"."b"."c}' \
		"$kdir/include/generated/uapi/linux/version.h")
	expect_failure make -s -C "$tree" KDIR="$kdir"
	msg=$(echo "$out" | grep '^ekvm:')
	assert_eq "message for $kver" \
		"ekvm: KVM sources are Linux $EKVM_VERSION_BASE but kernel $kver is Linux $ver" "$msg"
	if echo "$out" | grep -Eq 'CC \[M\]|error:'; then
		fail "the compiler ran for $kver: $out"
	fi
	echo "$kver: $msg"
done
