#!/usr/bin/env bash
# deb-provides.sh DEB PROVIDE...: adds virtual packages to DEB's Provides field, in place, its
# files and every other control field untouched (the package is unpacked with dpkg-deb -R and
# built again, xz-compressed as bindeb-pkg's are). For the ekvm kernel's image package, which
# the kernel's own packaging (make bindeb-pkg) builds with no way to add a field: it provides
# ekvm-abi-<level> as ekvm-dkms does, so that ekvm-tools installs on hosts that run ekvm's
# kernel (docs/kernel-packages.md).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || usage "$0 DEB PROVIDE..."
deb=$1
shift
[ -f "$deb" ] || die "no package $deb"
for p in "$@"; do
	[[ $p =~ ^[a-z0-9][a-z0-9.+-]+$ ]] || die "'$p' is not a package name"
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ekvm-provides.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -R "$deb" "$tmp/pkg"
ctl="$tmp/pkg/DEBIAN/control"
have=$(sed -n 's/^Provides: //p' "$ctl")
for p in "$@"; do
	[[ ", $have, " == *", $p, "* ]] || have=${have:+$have, }$p
done
if grep -q '^Provides: ' "$ctl"; then
	sed -i "s/^Provides: .*/Provides: $have/" "$ctl"
else
	# after Version, where dpkg-gencontrol puts it
	sed -i "/^Version: /a Provides: $have" "$ctl"
fi
dpkg-deb -Zxz -b "$tmp/pkg" "$tmp/new.deb" >/dev/null
mv "$tmp/new.deb" "$deb"
info "$(basename "$deb"): Provides: $have"
