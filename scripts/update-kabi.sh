#!/usr/bin/env bash
# Write kernel/kabi/VERSION.symvers: the exports and CRCs of an unpatched build of the base's KVM.
# Every prefix of the series must keep them (scripts/check-patches.sh, docs/kabi.md).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || usage "$0 VERSION KVER"
version=$1 kver=$2
tree="$EKVM_BUILD/kabi/linux-$version"
"$EKVM_TOP/scripts/prepare-tree.sh" "$version" "$tree" 0
kbuild_tree "$tree" "$kver" "$tree/build.log" check || die "the unpatched base does not build for $kver"
mkdir -p "$EKVM_TOP/kernel/kabi"
sed "s|$tree/||" "$tree/arch/x86/kvm/Module.symvers" | LC_ALL=C sort -k2 >"$EKVM_TOP/kernel/kabi/$version.symvers"
info "wrote kernel/kabi/$version.symvers ($(wc -l <"$EKVM_TOP/kernel/kabi/$version.symvers") exports)"
