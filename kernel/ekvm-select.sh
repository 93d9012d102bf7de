#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ekvm-select KVER [KDIR]: which KVM tree of this DKMS source builds for kernel KVER. Prints the
# folder name under trees/ (a Linux point release: 6.1.192, 6.12.117, ...); otherwise says why on
# one line on stderr and exits 1, and the kernel keeps its own KVM. Silent when the kernel has no
# headers (DKMS says so). dkms.conf runs it for every kernel DKMS considers.
#
# The point release comes from the headers' include/generated/uapi/linux/version.h, never from
# the kernel's name: Debian's 6.1 kernels are named 6.1.0-<ABI>-amd64 whatever their point
# release, its 6.12 kernels 6.12.117+deb12-amd64, RHEL's 6.12.0-<n>.el10 (whose headers say
# 6.12.0, a release ekvm has no tree for), and a custom kernel can be named anything.
set -euo pipefail

kver=${1:?usage: ekvm-select KVER [KDIR]}
kdir=${2:-/lib/modules/$kver/build}
here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
[ -f "$kdir/Makefile" ] || exit 1

# The trees' point releases, in version order (every tree has the same ekvm-check.sh).
mapfile -t have < <(cd "$here/trees" && for d in */; do [ -x "$d/ekvm-check.sh" ] && echo "${d%/}"; done | sort -V)
[ ${#have[@]} -gt 0 ] || { echo "ekvm: no KVM tree in $here/trees" >&2; exit 1; }
ver=$("$here/trees/${have[0]}/ekvm-check.sh" version "$kdir" 2>/dev/null) || exit 1
# Debian's kernels name their source package version in the headers (include/generated/
# package.h: LINUX_PACKAGE_ID " Debian 6.1.192-3"), and Debian patches KVM inside a point release
# (6.1.38-3 added "KVM: Add GDS_NO support to KVM"): a tree serves only the Debian versions its
# debian-versions file lists, those checked to hold the KVM files it was made from. Other kernels
# (no package.h, or not Debian's) are matched by point release and KVM headers only.
debver=$(sed -n 's/^#define LINUX_PACKAGE_ID " Debian \(.*\)"$/\1/p' \
	"$kdir/include/generated/package.h" 2>/dev/null || true)
if [ -d "$here/trees/$ver" ] && [ -n "$debver" ] &&
	! grep -qxF -- "$debver" "$here/trees/$ver/debian-versions" 2>/dev/null; then
	known=$(paste -sd, "$here/trees/$ver/debian-versions" 2>/dev/null | sed 's/,/, /g' || true)
	echo "ekvm: skipping kernel $kver: it is Debian's Linux $debver, and ekvm's KVM for Linux $ver" \
		"is checked for Debian ${known:-no version} only (Debian may have patched KVM since);" \
		"it keeps its own KVM" >&2
	exit 1
fi
if [ -d "$here/trees/$ver" ]; then
	why=$(cd "$here/trees/$ver" && ./ekvm-check.sh target "$ver" "$kdir" 2>&1) && { echo "$ver"; exit 0; }
	echo "$why; ekvm skips kernel $kver, which keeps its own KVM" >&2
	exit 1
fi
list=$(printf '%s, ' "${have[@]}")
echo "ekvm: skipping kernel $kver: it is Linux $ver and ekvm has KVM for Linux ${list%, } only; it keeps its own KVM" >&2
exit 1
