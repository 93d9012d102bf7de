#!/usr/bin/env bash
# build-kernel-meta-deb.sh OUT KREL KVERSION FLAVOUR: the meta-packages that follow the newest
# ekvm kernel (docs/kernel-packages.md), linux-image-ekvm<FLAVOUR> and linux-headers-ekvm<FLAVOUR>
# at version KVERSION's upstream part, depending on linux-image-KREL (= KVERSION) and
# linux-headers-KREL (= KVERSION), built with dpkg-buildpackage from packaging/kernel/meta/ into
# OUT and checked with lintian. FLAVOUR is empty for the release profile and -<profile> for
# another (-minimal), as in the kernel release, so a test kernel never stands in for a release.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 4 ] || usage "$0 OUT KREL KVERSION FLAVOUR"
out=$(realpath -m "$1") krel=$2 kversion=$3 flavour=$4
[[ $krel =~ ^[0-9][0-9a-z.+-]*$ ]] || die "'$krel' is not a kernel release"
[[ $kversion =~ ^[0-9][0-9A-Za-z.+~]*-[0-9A-Za-z.+~]+$ ]] || die "'$kversion' is not a Debian package version with a revision"
[[ $flavour =~ ^(-[a-z0-9]+)?$ ]] || die "'$flavour' is not a flavour (empty or -name)"
# The meta-packages' own version: the kernel's upstream version (native package)
version=${kversion%-*}
stage=$out/linux-ekvm-meta-$version
rm -rf "$stage" && mkdir -p "$stage"
cp -a "$EKVM_TOP/packaging/kernel/meta/debian" "$stage/debian"
sed -e "s/@KREL@/$krel/g" -e "s/@KVERSION@/$kversion/g" -e "s/@FLAVOUR@/$flavour/g" \
	"$stage/debian/control.in" >"$stage/debian/control"
rm "$stage/debian/control.in"
cat >"$stage/debian/changelog" <<EOT
linux-ekvm-meta ($version) unstable; urgency=medium

  * The ekvm kernel $krel ($kversion).

 -- ekvm maintainers <maintainers@ekvm.invalid>  $(git -C "$EKVM_TOP" log -1 --format=%cD 2>/dev/null || date -R)
EOT
debs=("$out/linux-image-ekvm${flavour}_${version}_amd64.deb" "$out/linux-headers-ekvm${flavour}_${version}_amd64.deb")
rm -f "${debs[@]}"
deb_build "$stage" "$out/linux-ekvm-meta-$version.build.log" "${debs[@]}"
rm -rf "$stage" "$out"/linux-ekvm-meta_"$version"_amd64.buildinfo "$out"/linux-ekvm-meta_"$version"_amd64.changes
for d in "${debs[@]}"; do
	[ -f "$d" ] || die "dpkg-buildpackage made no $(basename "$d")"
	echo "$d"
done
