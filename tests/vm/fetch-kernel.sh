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

# The image must be the build the headers were made for: same Debian version. A kernel of
# another suite, whose headers this machine does not have (Debian 13's 6.12.117+deb13-amd64):
# the image of that suite's archive (EKVM_SOURCE_SUITES, default trixie; scripts/suite-apt.sh).
suite=''
if ! want=$(dpkg-query -W -f='${Version}' "linux-headers-$kver" 2>/dev/null); then
	for s in ${EKVM_SOURCE_SUITES-trixie}; do
		want=$("$EKVM_TOP/scripts/suite-apt.sh" "$s" apt-cache show --no-all-versions "$pkg" 2>/dev/null |
			sed -n 's/^Version: //p' | head -1)
		[ -z "$want" ] || { suite=$s; break; }
	done
	[ -n "$want" ] || die "linux-headers-$kver is not installed (scripts/install-deps.sh $kver), and no" \
		"suite in '${EKVM_SOURCE_SUITES-trixie}' has $pkg"
fi
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pkg $want" ] && [ -f "$dest/boot/vmlinuz-$kver" ]; then
	exit 0
fi

info "fetching $pkg $want${suite:+ ($suite)}"
dl=$EKVM_BUILD/vm/dl
mkdir -p "$dl"
deb=$dl/${pkg}_${want}_amd64.deb
if [ ! -s "$deb" ]; then
	# apt-get download writes into the current directory; _apt cannot write build/, so
	# download as root quietly (the unsandboxed warning is expected here).
	if [ -n "$suite" ]; then
		(cd "$dl" && "$EKVM_TOP/scripts/suite-apt.sh" "$suite" apt-get download -q "$pkg=$want" >&2) || true
	else
		(cd "$dl" && apt-get download -q "$pkg=$want" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) || true
	fi
	found=$(find "$dl" -maxdepth 1 -name "${pkg}_*_amd64.deb" | head -1)
	[ -n "$found" ] || die "could not download $pkg=$want (apt-get update? is it still in the archive?)"
	# the archive's file name escapes the epoch colon; keep our own name
	[ "$found" = "$deb" ] || mv "$found" "$deb"
fi

rm -rf "$dest"
mkdir -p "$dest"
dpkg -x "$deb" "$dest"
# Debian 13's packages ship the modules under usr/lib/modules (merged /usr)
if [ ! -e "$dest/lib/modules" ] && [ -d "$dest/usr/lib/modules" ]; then
	mkdir -p "$dest/lib" && mv "$dest/usr/lib/modules" "$dest/lib/modules"
fi
[ -f "$dest/boot/vmlinuz-$kver" ] || die "$deb has no boot/vmlinuz-$kver"
[ -f "$dest/lib/modules/$kver/modules.dep" ] || depmod -b "$dest" "$kver"
echo "$pkg $want" >"$stamp"
info "kernel $kver in $dest"
