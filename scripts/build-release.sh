#!/usr/bin/env bash
# Build a complete ekvm release set into OUT from this tree as ekvm release RELEASE, without
# touching patches/ or the Makefile: ekvm-dkms, ekvm-tools, ekvm-fleet and ekvm-modules-<kver> for the
# Debian kernel of each base (BASE_KVER_<base>) whose headers are installed here. EXTRA_PATCH_DIR
# (e.g. tests/lab/patches) holds <base>/series and its patches for every base, applied after that
# base's series (EKVM_PATCHES points at a copy of patches/ with them added). The objects are
# built in OUT/work/ (make modules B=...), so two releases never share a tree or an object; the
# imported bases in build/src are shared, they are the same for every release.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

{ [ $# -ge 2 ] && [ $# -le 3 ]; } || usage "$0 OUT RELEASE [EXTRA_PATCH_DIR]"
out=$(realpath -m "$1") release=$2 extra=${3:-}
[[ $release =~ ^[1-9][0-9]*$ ]] || die "not a release number: '$release'"
work="$out/work"
# OUT is emptied: only a new or empty folder, or one this script made (its marker file)
if [ -d "$out" ] && [ ! -f "$out/.ekvm-release" ] && [ -n "$(ls -A "$out")" ]; then
	die "$out is neither empty nor a release folder of build-release.sh: give a new folder"
fi
[ ! -e "$out" ] || [ -d "$out" ] || die "$out is not a folder"
read -r -a bases <<<"$(makefile_var BASES)"
read -r -a dkms_releases <<<"$(makefile_var DKMS_RELEASES_ALL)"
pkgver=$(make -s --no-print-directory -C "$EKVM_TOP" print-PKG_VERSION EKVM_RELEASE="$release")
rm -rf "$work" && mkdir -p "$work" && touch "$out/.ekvm-release"

# The series, and the extra patches after it, in a copy of patches/ of this release's own.
if [ -n "$extra" ]; then
	[ -d "$extra" ] || die "no patch folder $extra"
	src=${EKVM_PATCHES:-$EKVM_TOP/patches}
	cp -a "$src" "$work/patches"
	for b in "${bases[@]}"; do
		[ -f "$extra/$b/series" ] || die "no $extra/$b/series: the extra patches must cover every base (${bases[*]})"
		while read -r p; do
			[ -f "$extra/$b/$p" ] || die "$extra/$b/series lists $p, which is missing"
			[ ! -e "$work/patches/$b/$p" ] || die "$extra/$b/$p has the name of a series patch"
			cp "$extra/$b/$p" "$work/patches/$b/$p"
			echo "$p" >>"$work/patches/$b/series"
		done < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$extra/$b/series")
	done
	export EKVM_PATCHES="$work/patches"
fi
export EKVM_RELEASE=$release

info "release $release ($pkgver) into $out${extra:+, with the patches of $extra}"
kvers=()
for b in "${bases[@]}"; do
	kver=$(makefile_var "BASE_KVER_$b")
	if [ ! -f "/lib/modules/$kver/build/Makefile" ]; then
		info "no headers of $kver here: no ekvm-modules-$kver in release $release (scripts/install-deps.sh $kver)"
		continue
	fi
	make -s --no-print-directory -C "$EKVM_TOP" modules BASE="$b" B="$work" EKVM_RELEASE="$release" \
		>"$work/modules-$b.log" 2>&1 || { tail -20 "$work/modules-$b.log" >&2; die "the $b modules of release $release failed to build"; }
	kvers+=("$kver")
done
[ ${#kvers[@]} -gt 0 ] || die "no base kernel's headers are installed: no modules to package"

"$EKVM_TOP/scripts/build-deb.sh" "$work/deb" "$pkgver" "${dkms_releases[@]}" 2>"$work/deb.log" ||
	{ tail -20 "$work/deb.log" >&2; die "the packages of release $release failed to build"; }
for k in "${kvers[@]}"; do
	"$EKVM_TOP/scripts/build-modules-deb.sh" "$work/deb" "$pkgver" "$k" "$work/modules/$k" 2>>"$work/deb.log" ||
		{ tail -20 "$work/deb.log" >&2; die "ekvm-modules-$k of release $release failed to build"; }
done

rm -f "$out"/*.deb
debs=("$work/deb/ekvm-dkms_${pkgver}_all.deb" "$work/deb/ekvm-tools_${pkgver}_amd64.deb"
	"$work/deb/ekvm-fleet_${pkgver}_amd64.deb")
for k in "${kvers[@]}"; do debs+=("$work/deb/ekvm-modules-${k}_${pkgver}_amd64.deb"); done
cp "${debs[@]}" "$out/"
# the staged source package is a copy of the tree: not kept
rm -rf "$work/deb/ekvm-$pkgver"
# what a host gets: the modules of each kernel report <its point release>.<release>
for k in "${kvers[@]}"; do
	v=$(/sbin/modinfo -F version "$work/modules/$k/kvm.ko")
	[ "${v##*.}" = "$release" ] || die "the modules for $k report $v, not release $release"
done
info "release $release: $(cd "$out" && echo ./*.deb | sed 's|\./||g')"
