#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ekvm-select KVER [KDIR]: which KVM tree of this DKMS source builds for kernel KVER. Prints the
# folder name under trees/ (a Linux point release); otherwise says why on one line on stderr and
# exits 1, and the kernel keeps its own KVM. Silent when the kernel has no headers (DKMS says so).
# dkms.conf runs it for every kernel DKMS considers.
set -euo pipefail

kver=${1:?usage: ekvm-select KVER [KDIR]}
kdir=${2:-/lib/modules/$kver/build}
here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
[ -f "$kdir/Makefile" ] || exit 1

trees=("$here"/trees/*/)
ver=$("${trees[0]}ekvm-check.sh" version "$kdir" 2>/dev/null) || exit 1
if [ -d "$here/trees/$ver" ]; then
	why=$(cd "$here/trees/$ver" && ./ekvm-check.sh target "$ver" "$kdir" 2>&1) && { echo "$ver"; exit 0; }
	echo "$why; ekvm skips kernel $kver, which keeps its own KVM" >&2
	exit 1
fi
have=$(cd "$here/trees" && echo *)
echo "ekvm: skipping kernel $kver: it is Linux $ver and ekvm has KVM for Linux ${have// /, } only; it keeps its own KVM" >&2
exit 1
