#!/usr/bin/env bash
# Fetch and unpack the Debian kernel image a set of headers belongs to, for booting under QEMU.
#   fetch-kernel.sh KVER
# The package is downloaded with apt-get (never installed) and unpacked with dpkg -x into
# build/vm/kernel/KVER/: boot/vmlinuz-KVER and lib/modules/KVER/ (the stock modules).
# Cached: a second run with the same package version does nothing.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

{ [ $# -eq 1 ] && [ -n "$1" ]; } || usage "$0 KVER"
kver=$1
pkg=linux-image-$kver-unsigned
dest=$EKVM_BUILD/vm/kernel/$kver
stamp=$dest/.fetched

# The image must be the build the headers were made for: same Debian version.
want=$(dpkg-query -W -f='${Version}' "linux-headers-$kver" 2>/dev/null) ||
	die "linux-headers-$kver is not installed (scripts/install-deps.sh $kver)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pkg $want" ] && [ -f "$dest/boot/vmlinuz-$kver" ]; then
	exit 0
fi

info "fetching $pkg $want"
dl=$EKVM_BUILD/vm/dl
mkdir -p "$dl"
deb=$dl/${pkg}_${want}_amd64.deb
if [ ! -s "$deb" ]; then
	# apt-get download writes into the current directory; _apt cannot write build/, so
	# download as root quietly (the unsandboxed warning is expected here).
	(cd "$dl" && apt-get download -q "$pkg=$want" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) || true
	found=$(find "$dl" -maxdepth 1 -name "${pkg}_*_amd64.deb" | head -1)
	[ -n "$found" ] || die "could not download $pkg=$want (apt-get update? is it still in the archive?)"
	# the archive's file name escapes the epoch colon; keep our own name
	[ "$found" = "$deb" ] || mv "$found" "$deb"
fi

rm -rf "$dest"
mkdir -p "$dest"
dpkg -x "$deb" "$dest"
[ -f "$dest/boot/vmlinuz-$kver" ] || die "$deb has no boot/vmlinuz-$kver"
[ -f "$dest/lib/modules/$kver/modules.dep" ] || depmod -b "$dest" "$kver"
echo "$pkg $want" >"$stamp"
info "kernel $kver in $dest"
