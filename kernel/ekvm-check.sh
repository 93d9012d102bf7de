#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ekvm build checks, run by the tree's Makefile (and so by DKMS) around the kbuild call:
#   ekvm-check.sh target BASE KDIR     the kernel in KDIR is Linux BASE with BASE's KVM headers
#   ekvm-check.sh kabi REF NEW         NEW Module.symvers keeps every KVM export of REF, same CRC
#   ekvm-check.sh version KDIR         prints the Linux point release of the kernel in KDIR
#   ekvm-check.sh instance KO SYMVERS  KO is a KVM instance: named as its file, exporting nothing
#                                      (SYMVERS, the build's Module.symvers), no CPU alias
# Each failure is one line on stderr and exit status 1.
set -euo pipefail

fail() {
	echo "ekvm: $*" >&2
	exit 1
}

version() {
	local kdir=$1 h="$1/include/generated/uapi/linux/version.h"
	[ -f "$kdir/Makefile" ] || fail "no kernel build folder at $kdir (install that kernel's headers package)"
	[ -f "$h" ] || fail "$kdir has no version.h: not a prepared kernel build folder"
	awk '/LINUX_VERSION_MAJOR/{a=$3} /LINUX_VERSION_PATCHLEVEL/{b=$3}
		/LINUX_VERSION_SUBLEVEL/{c=$3} END{print a"."b"."c}' "$h"
}

target() {
	local base=$1 kdir=$2 kver ver src sum path
	ver=$(version "$kdir")
	kver=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$kdir/include/generated/utsrelease.h" 2>/dev/null)
	kver=${kver:-$kdir}
	[ "$ver" = "$base" ] || fail "KVM sources are Linux $base but kernel $kver is Linux $ver"

	# Debian splits the headers: the arch folder's Makefile includes the common one.
	src=$kdir
	[ -f "$src/include/linux/kvm_host.h" ] ||
		src=$(sed -n 's|^include \(.*\)/Makefile$|\1|p' "$kdir/Makefile" | head -1)
	[ -n "$src" ] && [ -f "$src/include/linux/kvm_host.h" ] || return 0
	while read -r sum path; do
		[ -f "$src/$path" ] || continue
		[ "$(sha256sum <"$src/$path" | cut -d' ' -f1)" = "$sum" ] ||
			fail "kernel $kver's $path differs from Linux $base's: its KVM headers are not the base's"
	done <base-headers.sha256
}

# symbol crc, for the exports of the KVM modules only
kvm_exports() {
	awk '$3 ~ /(^|\/)arch\/x86\/kvm\/kvm(-intel|-amd)?$/ { print $2, $1 }' "$1" | LC_ALL=C sort
}

kabi() {
	local ref=$1 new=$2 diffs
	[ -f "$ref" ] || { echo "ekvm: no $ref, kABI not checked" >&2; return 0; }
	[ -f "$new" ] || fail "no $new: the build did not finish"
	diffs=$(LC_ALL=C join -a1 -e missing -o 0,1.2,2.2 <(kvm_exports "$ref") <(kvm_exports "$new") |
		awk '$2 != $3')
	[ -z "$diffs" ] && return 0
	read -r sym old new <<<"$diffs"
	fail "kABI: $(echo "$diffs" | wc -l) KVM export(s) changed, first $sym: CRC $old -> $new" \
		"(no layout change of structures that exported functions use; see docs/kabi.md)"
}

# A KVM instance (docs/multi-kvm.md) must not clash with kvm.ko or another instance by a symbol
# or be loaded by udev for the CPU.
instance() {
	local ko=$1 symvers=$2 name n exp
	[ -f "$ko" ] || fail "no $ko: the instance build did not finish"
	name=$(basename "$ko" .ko)
	[ "$(modinfo -F name "$ko")" = "$name" ] || fail "$ko is not named $name"
	[ -f "$symvers" ] || fail "no $symvers: the instance build did not finish"
	exp=$(awk -v m="/$name" 'substr($3, length($3) - length(m) + 1) == m { print $2 }' "$symvers")
	n=$(grep -c . <<<"$exp" || true)
	[ "$n" -eq 0 ] || fail "instance $name exports $n symbol(s), first $(head -1 <<<"$exp")"
	[ -z "$(modinfo -F alias "$ko")" ] || fail "instance $name has a module alias: $(modinfo -F alias "$ko" | head -1)"
	[ "$(modinfo -F version "$ko" | wc -l)" -eq 1 ] || fail "instance $name has not exactly one version"
}

case "${1:-}" in
version) [ $# -eq 2 ] || fail "usage: $0 version KDIR"; version "$2" ;;
target) [ $# -eq 3 ] || fail "usage: $0 target BASE KDIR"; target "$2" "$3" ;;
kabi) [ $# -eq 3 ] || fail "usage: $0 kabi REF_SYMVERS NEW_SYMVERS"; kabi "$2" "$3" ;;
instance) [ $# -eq 3 ] || fail "usage: $0 instance KO SYMVERS"; instance "$2" "$3" ;;
*) fail "usage: $0 target BASE KDIR | kabi REF_SYMVERS NEW_SYMVERS | version KDIR | instance KO SYMVERS" ;;
esac
