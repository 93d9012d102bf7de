#!/usr/bin/env bash
# Debian packages of an ekvm kernel (docs/kernel-packages.md): the tree of build-kernel.sh
# PROFILE built with the kernel's own packaging (make bindeb-pkg); the image and headers
# packages are kept in OUTDIR and checked with lintian (packaging/kernel/lintian-suppress
# says why each tag it lists does not apply). linux-libc-dev is not shipped: it would replace
# the distro's. The meta-packages linux-image-ekvm[-PROFILE] and linux-headers-ekvm[-PROFILE]
# of this release are built beside them (scripts/build-kernel-meta-deb.sh).
#   build-kernel-deb.sh PROFILE OUTDIR
# The base is the top Makefile's (BASE=6.12 in the environment or make's command line).
# EKVM_KERNEL_JOBS (default: the number of cores) sets make -j; the build runs under nice.
# With ccache installed, compiles go through it (cache in build/kernel/ccache).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || usage "$0 minimal|release OUTDIR"
profile=$1 out=$2
tree=$("$EKVM_TOP/scripts/build-kernel.sh" "$profile")
work=$(dirname "$tree")
# the base's own <version>.<release> (PKG_VERSION is the DKMS package's, of the first base)
# (EKVM_RELEASE=N builds release N, as build-kernel.sh does: the kernel tests' next release)
pkgver=$(makefile_var VERSION).${EKVM_RELEASE:-$(makefile_var EKVM_RELEASE)}
jobs=${EKVM_KERNEL_JOBS:-$(nproc)}
# LOCALVERSION set (empty): uname -r is the config's alone, no "+" from a version control tree.
kmake=(make -C "$tree" -j"$jobs" LOCALVERSION= KDEB_PKGVERSION="$pkgver-1" KDEB_SOURCENAME=linux-ekvm
	KBUILD_BUILD_USER=ekvm KBUILD_BUILD_HOST=ekvm)
if command -v ccache >/dev/null; then
	export CCACHE_DIR=${CCACHE_DIR:-$EKVM_BUILD/kernel/ccache}
	kmake+=(CC="ccache gcc")
fi
# One locale for the compiler, the one packaging/rpm/kernel-ekvm.spec gives the RPM build:
# ccache keys on LANG and LC_*, so the RPM build of the same tree then hits the cache.
export LANG=C.UTF-8
unset LC_ALL LC_CTYPE LC_MESSAGES
# The packages' Maintainer (mkdebian reads these), as in ekvm's other packages.
export DEBFULLNAME="ekvm maintainers" DEBEMAIL=maintainers@ekvm.invalid
# bindeb-pkg writes the packages into the tree's parent folder: start from an empty one.
rm -f "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes
t=$SECONDS
info "building the $profile kernel (make bindeb-pkg, -j$jobs; log in $work/build.log)"
if ! nice -n 10 "${kmake[@]}" bindeb-pkg >"$work/build.log" 2>&1; then
	grep -E 'error|Error' "$work/build.log" | head -5 >&2
	die "kernel build failed: $work/build.log"
fi
krel=$(cat "$tree/include/config/kernel.release")
info "built $krel in $((SECONDS - t)) s"

mkdir -p "$out"
rm -f "$out"/linux-image-"$krel"*.deb "$out"/linux-headers-"$krel"_*.deb
shipped=()
for d in "$work"/linux-image-"$krel"_*.deb "$work"/linux-image-"$krel"-dbg_*.deb \
	"$work"/linux-headers-"$krel"_*.deb; do
	[ -f "$d" ] || continue
	mv "$d" "$out/"
	shipped+=("$out/$(basename "$d")")
done
[ ${#shipped[@]} -ge 2 ] || die "bindeb-pkg made no image and headers packages for $krel in $work"
rm -f "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes
# The image holds ekvm's KVM: it provides ekvm-abi-<level> of the tree's uapi header, as ekvm-dkms
# does, so that ekvm-tools (which depends on it) installs on hosts that run this kernel.
abi=$(awk '$2 == "EKVM_ABI_LEVEL" { print $3 }' "$tree/include/uapi/linux/ekvm.h")
[ -n "$abi" ] || die "no EKVM_ABI_LEVEL in $tree/include/uapi/linux/ekvm.h"
"$EKVM_TOP/scripts/deb-provides.sh" "$out/linux-image-${krel}_"*.deb "ekvm-abi-$abi"
# linux-image-ekvm[-<profile>] and linux-headers-ekvm[-<profile>]: apt upgrade follows them to
# each new ekvm kernel
flavour=
[ "$profile" = release ] || flavour=-$profile
mapfile -t meta < <("$EKVM_TOP/scripts/build-kernel-meta-deb.sh" "$out" "$krel" "$pkgver-1" "$flavour")

# lintian: every tag is either fixed or listed, with its reason, in the suppress file.
supp=$EKVM_TOP/packaging/kernel/lintian-suppress
if ! lintian --fail-on error,warning --suppress-tags-from-file <(sed 's/#.*//' "$supp") \
	"${shipped[@]}" >"$work/lintian.log" 2>&1; then
	cat "$work/lintian.log" >&2
	die "lintian found problems in the kernel packages (see above)"
fi
for d in "${shipped[@]}" "${meta[@]}"; do
	echo "$d $(du -k "$d" | cut -f1) KiB"
done
