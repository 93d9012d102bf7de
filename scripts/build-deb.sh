#!/usr/bin/env bash
# Build the Debian packages ekvm-dkms, ekvm-tools and ekvm-fleet into OUT from a staged source
# tree: packaging/deb/debian, dkms.conf, the DKMS source (scripts/dkms-source.sh) and userspace/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 3 ] || usage "$0 OUT PACKAGE_VERSION RELEASE..."
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
cat >"$stage/debian/changelog" <<EOT
ekvm ($pkgver) unstable; urgency=medium

  * ekvm $pkgver: the ekvm series of ${series_dirs}
    with KVM for Linux ${versions% }

 -- ekvm maintainers <maintainers@ekvm.invalid>  $(git -C "$EKVM_TOP" log -1 --format=%cD 2>/dev/null || date -R)
EOT
rm -f "$out"/ekvm-dkms_"$pkgver"_*.deb "$out"/ekvm-tools_"$pkgver"_*.deb "$out"/ekvm-fleet_"$pkgver"_*.deb
deb_build "$stage" "$out/ekvm-$pkgver.build.log" "$out"/ekvm-dkms_"$pkgver"_all.deb \
	"$out"/ekvm-tools_"$pkgver"_amd64.deb "$out"/ekvm-fleet_"$pkgver"_amd64.deb
info "built $(cd "$out" && echo ekvm-*_"$pkgver"_*.deb)"
