#!/usr/bin/env bash
# kernel-ekvm RPMs (docs/kernel-packages.md): packaging/rpm/kernel-ekvm.spec built with
# rpmbuild from the base tarball (Source0, made from the verified import), the config of
# build-kernel.sh PROFILE for EL hosts (Source1, config-el: SELinux first), the generated ekvm_version.h (Source2) and the series
# (Source3); checked with rpmlint (packaging/kernel/rpmlint.toml).
#   build-kernel-rpm.sh PROFILE OUTDIR
# EKVM_KERNEL_JOBS (default: the number of cores) sets make -j; rpmbuild runs under nice.
# With ccache installed, compiles go through it (cache in build/kernel/ccache).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || usage "$0 minimal|release OUTDIR"
profile=$1 out=$(realpath -m "$2")
tree=$("$EKVM_TOP/scripts/build-kernel.sh" "$profile")
work=$(dirname "$tree")
version=$(makefile_var VERSION)
# the base's own <version>.<release> (PKG_VERSION is the DKMS package's, of the first base)
# (EKVM_RELEASE=N builds release N, as build-kernel.sh does: the kernel tests' next release)
pkgver=$(makefile_var VERSION).${EKVM_RELEASE:-$(makefile_var EKVM_RELEASE)}
src=$(src_dir "$version")
jobs=${EKVM_KERNEL_JOBS:-$(nproc)}
top=$work/rpmbuild
# uname -r of this build: the version, localversion-ekvm, then CONFIG_LOCALVERSION
krel=$version$(cat "$tree/localversion-ekvm")$(sed -n 's/^CONFIG_LOCALVERSION="\(.*\)"$/\1/p' "$work/config-el")

# Source0: the imported base as a tarball, made once per import (deterministic: sorted, owner
# root, the time of the import's stamp).
tarball=$EKVM_BUILD/kernel/linux-$version.tar.xz
if [ ! -f "$tarball" ] || [ "$src/.ekvm-imported" -nt "$tarball" ]; then
	info "making $(basename "$tarball") from $src"
	tar -C "$(dirname "$src")" --sort=name --owner=0 --group=0 --numeric-owner \
		--mtime="@$(stat -c %Y "$src/.ekvm-imported")" --exclude=.git --exclude=.ekvm-imported \
		-cf - "linux-$version" | xz -T"$jobs" -3 >"$tarball.tmp"
	mv "$tarball.tmp" "$tarball"
fi

rm -rf "$top" && mkdir -p "$top/SOURCES"
ln -s "$tarball" "$top/SOURCES/linux-$version.tar.xz"
cp "$work/config-el" "$top/SOURCES/config-$krel"
cp "$work/ekvm_version.h" "$top/SOURCES/"
series=()
mapfile -t series < <(series_patches "$version")
mkdir -p "$top/series"
# the series file as the build applies it, and each patch (a point release's fix-up if any)
printf '%s\n' "${series[@]}" >"$top/series/series"
for p in "${series[@]}"; do cp "$(patch_file "$version" "$p")" "$top/series/$p"; done
tar -C "$top/series" -czf "$top/SOURCES/ekvm-series-$pkgver.tar.gz" .

# the ekvm ABI level of the series (its uapi header in the prepared tree): kernel-ekvm-modules
# provides ekvm-abi = <level>, as ekvm-dkms does, for ekvm-tools to install
abi=$(awk '$2 == "EKVM_ABI_LEVEL" { print $3 }' "$tree/include/uapi/linux/ekvm.h")
[ -n "$abi" ] || die "no EKVM_ABI_LEVEL in $tree/include/uapi/linux/ekvm.h"
defs=(--define "_topdir $top" --define "ekvm_version $pkgver" --define "base_version $version"
	--define "krel $krel" --define "ekvm_abi $abi" --define "_smp_mflags -j$jobs")
rel=1
if [ "$profile" != release ]; then
	defs+=(--define "profile_tag .$profile")
	rel=1.$profile
fi
# the kernel-*-uname-r provides, when krel is a valid RPM version-release (one "-")
[[ $krel == *-* && $krel != *-*-* ]] && defs+=(--define "ekvm_uname_r $krel")
if command -v ccache >/dev/null; then
	export CCACHE_DIR=${CCACHE_DIR:-$EKVM_BUILD/kernel/ccache}
	defs+=(--define "ekvm_cc ccache gcc")
fi
t=$SECONDS
info "building kernel-ekvm $pkgver ($krel) with rpmbuild (-j$jobs; log in $work/rpmbuild.log)"
# --nodeps: the build dependencies are Debian packages here (packaging/kernel/deps.txt), which
# rpm's own database does not know.
if ! nice -n 10 rpmbuild -bb --nodeps "${defs[@]}" "$EKVM_TOP/packaging/rpm/kernel-ekvm.spec" \
	>"$work/rpmbuild.log" 2>&1; then
	tail -20 "$work/rpmbuild.log" >&2
	die "rpmbuild failed (log: $work/rpmbuild.log)"
fi
info "built in $((SECONDS - t)) s"

mkdir -p "$out"
rm -f "$out"/kernel-ekvm*-"$pkgver-$rel".x86_64.rpm
find "$top/RPMS" -name "kernel-ekvm*-$pkgver-$rel.x86_64.rpm" -exec mv {} "$out/" \;
mapfile -t rpms < <(find "$out" -maxdepth 1 -name "kernel-ekvm*-$pkgver-$rel.x86_64.rpm" | sort)
[ ${#rpms[@]} -eq 3 ] || die "expected 3 RPMs in $out, found ${#rpms[@]}"
rm -rf "$top/BUILD" "$top/BUILDROOT"
if ! rpmlint -c "$EKVM_TOP/packaging/kernel/rpmlint.toml" "${rpms[@]}" >"$work/rpmlint.log" 2>&1; then
	cat "$work/rpmlint.log" >&2
	die "rpmlint found problems in the kernel RPMs (see above)"
fi
for r in "${rpms[@]}"; do
	echo "$r $(du -k "$r" | cut -f1) KiB"
done
