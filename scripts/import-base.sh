#!/usr/bin/env bash
# Import a Linux base into build/src/linux-VERSION and check its KVM files against
# kernel/manifests/VERSION.sha256. The source comes from Debian's linux-source package (--deb: from
# the machine's apt sources, else from the suites in EKVM_SOURCE_SUITES, default trixie),
# a tarball (--tarball) or an unpacked or git kernel tree (--tree). A verified import is reused.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

{ [ $# -eq 3 ] || { [ $# -eq 4 ] && [ "$4" = --kvm-only ]; }; } ||
	usage "$0 VERSION --deb DEBIAN_VERSION [--kvm-only] | --tarball FILE | --tree DIR"
version=$1 kind=$2 from=$3 kvm_only=${4:+yes}
manifest=$(manifest_of "$version")
dest=$(src_dir "$version")
[ -f "$manifest" ] || die "no manifest for Linux $version in kernel/manifests: not a supported base"

# --kvm-only (a point release that is not a base: the DKMS package's trees, check-releases): only
# the KVM files and the top Makefile are unpacked, not the whole 1.5 GB tree. A whole import
# serves both; a KVM-only one is imported again, whole, when the whole tree is asked for.
if [ -f "$dest/.ekvm-imported" ] && { [ -n "$kvm_only" ] || [ ! -f "$dest/.ekvm-kvm-only" ]; }; then
	verify_manifest "$dest" "$manifest"
	exit 0
fi
[ -z "$kvm_only" ] || [ "$kind" = --deb ] || die "--kvm-only is for --deb imports"

tmp="$EKVM_BUILD/src/.import-$version"
rm -rf "$tmp" && mkdir -p "$tmp/tree"
case "$kind" in
--deb)
	pkg="linux-source-$(series_of "$version")"
	info "downloading $pkg=$from"
	# from the machine's apt sources, else from another suite's (Debian 13's own 6.12 kernels)
	if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$from" >/dev/null 2>&1); then
		got=no
		for suite in ${EKVM_SOURCE_SUITES-trixie}; do
			if (cd "$tmp" && "$EKVM_TOP/scripts/suite-apt.sh" "$suite" apt-get download -q \
				"$pkg=$from" >/dev/null 2>&1); then
				got=yes
				break
			fi
		done
		[ $got = yes ] || die "cannot download $pkg=$from (not in the apt sources, nor in" \
			"${EKVM_SOURCE_SUITES-trixie}; try apt-get update)"
	fi
	dpkg -x "$tmp"/"${pkg}"_*.deb "$tmp/deb"
	tarball=$(echo "$tmp"/deb/usr/src/linux-source-*.tar.xz)
	if [ -n "$kvm_only" ]; then
		mapfile -t globs < <(kvm_file_globs)
		tar -xaf "$tarball" -C "$tmp/tree" --strip-components=1 --wildcards \
			"$(basename "$tarball" .tar.xz)/Makefile" "${globs[@]}"
		touch "$tmp/tree/.ekvm-kvm-only"
	else
		tar -xaf "$tarball" -C "$tmp/tree" --strip-components=1
	fi
	;;
--tarball)
	[ -f "$from" ] || die "no tarball $from"
	tar -xaf "$from" -C "$tmp/tree" --strip-components=1
	;;
--tree)
	[ -f "$from/Makefile" ] || die "$from is not a Linux source tree"
	if [ -e "$from/.git" ]; then
		git -C "$from" archive --format=tar HEAD | tar -x -C "$tmp/tree"
	else
		cp -a "$from/." "$tmp/tree/"
	fi
	;;
*) usage "$0 VERSION --deb DEBIAN_VERSION | --tarball FILE | --tree DIR" ;;
esac

got=$(awk '/^VERSION =/{v=$3} /^PATCHLEVEL =/{p=$3} /^SUBLEVEL =/{s=$3} END{print v"."p"."s}' "$tmp/tree/Makefile")
[ "$got" = "$version" ] || die "the source given is Linux $got, not $version"
verify_manifest "$tmp/tree" "$manifest"
rm -rf "$dest" && mv "$tmp/tree" "$dest" && rm -rf "$tmp"
echo "$kind $from" >"$dest/.ekvm-imported"
info "imported Linux $version into $dest${kvm_only:+ (its KVM files)}"
