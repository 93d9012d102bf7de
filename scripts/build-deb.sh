#!/usr/bin/env bash
# Build the Debian packages ekvm-dkms, ekvm-tools and ekvm-fleet into OUT from a staged source
# tree: packaging/deb/debian, dkms.conf, the DKMS source (scripts/dkms-source.sh) and userspace/.
# With -s SUITE the build runs in a clean root of that Debian suite (scripts/deb-build-root.sh)
# instead of on this machine.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

suite=
if [ "${1:-}" = -s ]; then
	[ $# -ge 2 ] || usage "$0 [-s SUITE] OUT PACKAGE_VERSION RELEASE..."
	suite=$2
	shift 2
fi
[ $# -ge 3 ] || usage "$0 [-s SUITE] OUT PACKAGE_VERSION RELEASE..."
out=$(realpath -m "$1") pkgver=$2
shift 2
stage="$out/ekvm-$pkgver"
rm -rf "$stage" && mkdir -p "$stage"
cp -a "$EKVM_TOP/packaging/deb/debian" "$stage/debian"
cp "$EKVM_TOP/dkms.conf" "$stage/debian/ekvm-dkms.dkms"
"$EKVM_TOP/scripts/dkms-source.sh" "$stage/dkms" "$pkgver" "$@"
cp -a "$EKVM_TOP/userspace" "$stage/userspace"
cp -a "$EKVM_TOP/packaging/dkms" "$stage/kernel-hook"
# the series the trees come from, one per base (6.1, 6.12)
series_dirs=$(for r in "$@"; do series_of "${r%%:*}"; done | sort -uV | sed 's|.*|patches/&/|' | tr '\n' ' ')
series_dirs=${series_dirs% } series_dirs=${series_dirs// / and }
versions=$(for r in "$@"; do printf '%s ' "${r%%:*}"; done)
# (a changelog line stays within 80 columns: the list of trees is wrapped)
with=$(echo "with KVM for Linux ${versions% }" | fold -s -w 72 | sed -e 's/ *$//' -e 's/^/    /')
cat >"$stage/debian/changelog" <<EOT
ekvm ($pkgver) unstable; urgency=medium

  * ekvm $pkgver: the ekvm series of ${series_dirs}
$with

 -- ekvm maintainers <maintainers@ekvm.invalid>  $(git -C "$EKVM_TOP" log -1 --format=%cD 2>/dev/null || date -R)
EOT
rm -f "$out"/ekvm-dkms_"$pkgver"_*.deb "$out"/ekvm-tools_"$pkgver"_*.deb "$out"/ekvm-fleet_"$pkgver"_*.deb
if [ -n "$suite" ]; then
	"$EKVM_TOP/scripts/deb-build-root.sh" "$suite" "$stage"
else
	deb_build "$stage" "$out/ekvm-$pkgver.build.log" "$out"/ekvm-dkms_"$pkgver"_all.deb \
		"$out"/ekvm-tools_"$pkgver"_amd64.deb "$out"/ekvm-fleet_"$pkgver"_amd64.deb
fi
info "built $(cd "$out" && echo ekvm-*_"$pkgver"_*.deb)"
