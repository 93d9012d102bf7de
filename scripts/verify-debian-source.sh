#!/usr/bin/env bash
# verify-debian-source.sh VERSION DEBVER...: each Debian source version DEBVER of Linux VERSION
# (e.g. 6.1.192-3) holds exactly the KVM files of kernel/manifests/VERSION.sha256, so ekvm's tree
# for VERSION (imported from another Debian version) may serve its kernels: Debian patches KVM
# inside a point release (6.1.38-3 added "KVM: Add GDS_NO support to KVM"), and a tree from an
# older Debian version must not replace such a fix. Downloads linux-source-<series>=DEBVER from
# the machine's apt sources, else from the suites in EKVM_SOURCE_SUITES (default: trixie, through
# scripts/suite-apt.sh: Debian 13's kernels are 6.12 too). A verified version is remembered in
# build/dl/debian-source/, by the manifest's checksum, and not downloaded again. One line per
# version; exit 1 at the first that differs or cannot be had.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || usage "$0 VERSION DEBVER..."
version=$1
shift
manifest=$(manifest_of "$version")
[ -f "$manifest" ] || die "no manifest for Linux $version in kernel/manifests: not a supported base"
pkg="linux-source-$(series_of "$version")"
cache="$EKVM_BUILD/dl/debian-source"
mkdir -p "$cache"
msum=$(sha256sum <"$manifest" | cut -d' ' -f1)
for debver in "$@"; do
	[[ $debver == "$version"-* ]] || die "Debian version $debver is not one of Linux $version"
	stamp="$cache/$pkg=$debver.$msum.ok"
	if [ -f "$stamp" ]; then
		info "Debian $debver: KVM files as in $(basename "$manifest") (checked before)"
		continue
	fi
	tmp="$cache/.verify-$debver"
	rm -rf "$tmp" && mkdir -p "$tmp/tree"
	got=no
	if (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$debver" >/dev/null 2>&1); then
		got=yes
	else
		for suite in ${EKVM_SOURCE_SUITES-trixie}; do
			if (cd "$tmp" && "$EKVM_TOP/scripts/suite-apt.sh" "$suite" apt-get download -q \
				"$pkg=$debver" >/dev/null 2>&1); then
				got=yes
				break
			fi
		done
	fi
	[ $got = yes ] || { rm -rf "$tmp"; die "cannot download $pkg=$debver (not in the apt sources, nor in ${EKVM_SOURCE_SUITES-trixie}; try apt-get update)"; }
	# only the KVM files (kvm_file_globs): verify_manifest compares the set too
	mapfile -t globs < <(kvm_file_globs)
	dpkg-deb --fsys-tarfile "$tmp"/"$pkg"_*.deb | tar -xO --wildcards "*usr/src/$pkg.tar.xz" |
		tar -xJ -C "$tmp/tree" --strip-components=1 --wildcards "${globs[@]}" ||
		{ rm -rf "$tmp"; die "cannot unpack $pkg=$debver"; }
	(verify_manifest "$tmp/tree" "$manifest") ||
		{ rm -rf "$tmp"; die "Debian $debver's KVM is not the tree's (above): it needs a tree of its own"; }
	rm -rf "$tmp"
	touch "$stamp"
	info "Debian $debver: KVM files as in $(basename "$manifest")"
done
