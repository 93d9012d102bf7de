#!/usr/bin/env bash
# Import a Linux base into build/src/linux-VERSION and check its KVM files against
# kernel/manifests/VERSION.sha256. The source comes from Debian's linux-source package (--deb),
# a tarball (--tarball) or an unpacked or git kernel tree (--tree). A verified import is reused.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 3 ] || usage "$0 VERSION --deb DEBIAN_VERSION | --tarball FILE | --tree DIR"
version=$1 kind=$2 from=$3
manifest=$(manifest_of "$version")
dest=$(src_dir "$version")
[ -f "$manifest" ] || die "no manifest for Linux $version in kernel/manifests: not a supported base"

if [ -f "$dest/.ekvm-imported" ]; then
	verify_manifest "$dest" "$manifest"
	exit 0
fi

tmp="$EKVM_BUILD/src/.import-$version"
rm -rf "$tmp" && mkdir -p "$tmp/tree"
case "$kind" in
--deb)
	pkg="linux-source-$(series_of "$version")"
	info "downloading $pkg=$from"
	(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$from" >/dev/null) ||
		die "cannot download $pkg=$from (is it in the apt sources? try apt-get update)"
	dpkg -x "$tmp"/"${pkg}"_*.deb "$tmp/deb"
	tarball=$(echo "$tmp"/deb/usr/src/linux-source-*.tar.xz)
	tar -xaf "$tarball" -C "$tmp/tree" --strip-components=1
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
info "imported Linux $version into $dest"
