#!/usr/bin/env bash
# Lay out the ekvm-dkms source in DEST: dkms.conf, ekvm-select and one prepared KVM tree per
# supported point release (trees/<version>/, the series applied now, so that nothing can fail
# to apply on a customer's host). RELEASE is <version>:<Debian source version>[,...], as in the
# Makefile's DKMS_RELEASES_<series>: each tree's debian-versions file lists the Debian source
# versions whose kernels it serves (ekvm-select; scripts/verify-debian-source.sh checks them).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 3 ] || usage "$0 DEST PACKAGE_VERSION RELEASE..."
dest=$1 pkgver=$2
shift 2
rm -rf "$dest" && mkdir -p "$dest/trees"
for r in "$@"; do
	version=$(release_version "$r") debver=$(release_source "$r")
	"$EKVM_TOP/scripts/import-base.sh" "$version" --deb "$debver" --kvm-only
	"$EKVM_TOP/scripts/prepare-tree.sh" "$version" "$dest/trees/$version" 2>/dev/null
	release_debvers "$r" | tr ' ' '\n' >"$dest/trees/$version/debian-versions"
done
# kbuild's .gitignore files mean nothing in a package
find "$dest/trees" -name .gitignore -delete
sed "s/#MODULE_VERSION#/$pkgver/" "$EKVM_TOP/dkms.conf" >"$dest/dkms.conf"
install -m 0755 "$EKVM_TOP/kernel/ekvm-select.sh" "$dest/ekvm-select"
info "DKMS source $pkgver in $dest: KVM for Linux $(cd "$dest/trees" && echo *)"
