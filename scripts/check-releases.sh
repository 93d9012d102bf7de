#!/usr/bin/env bash
# Check every point release the DKMS package carries, of every base (6.1.y with patches/6.1/,
# 6.12.y with patches/6.12/): the series applies to it (with its fix-ups), the patched KVM builds
# against the headers of a Debian kernel of that release with warnings as errors, and keeps the
# release's kABI baseline (kernel/kabi/<version>.symvers, which must exist).
#   check-releases.sh "RELEASE..." KVER...
# RELEASE is <version>:<Debian source version>[,<Debian source version>...] (scripts/lib.sh,
# release_version); each KVER's headers must be installed. The Debian versions after the first
# are checked to hold the same KVM files as the first (scripts/verify-debian-source.sh): ekvm's
# tree serves their kernels too.
# EKVM_CHECK_RELEASES_SKIP: versions not to build here (make check: the bases' own releases,
# which its check-patches has just applied, built and kABI-checked).
# EKVM_CHECK_RELEASES_ELSEWHERE: versions that have no kernel this machine can build for (6.12.116,
# Debian 13's only, built with its gcc-14): the series is applied to them, and the build is left
# to tests/pkg/trixie-abis.sh, which builds every Debian 13 kernel ABI in a Debian 13 root.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || usage "$0 \"RELEASE...\" KVER..."
read -r -a releases <<<"$1"
shift
declare -A kver_of
for k in "$@"; do
	v=$("$EKVM_TOP/kernel/ekvm-check.sh" version "/lib/modules/$k/build")
	kver_of[$v]=${kver_of[$v]:-$k}
done
for r in "${releases[@]}"; do
	version=$(release_version "$r") debver=$(release_source "$r")
	read -r -a same <<<"$(release_debvers "$r")"
	[ ${#same[@]} -lt 2 ] || "$EKVM_TOP/scripts/verify-debian-source.sh" "$version" "${same[@]:1}"
	if [[ " ${EKVM_CHECK_RELEASES_SKIP:-} " == *" $version "* ]]; then
		info "check-releases: $version: checked by check-patches, not built again"
		continue
	fi
	kver=${kver_of[$version]:-}
	elsewhere=no
	if [ -z "$kver" ]; then
		[[ " ${EKVM_CHECK_RELEASES_ELSEWHERE:-} " == *" $version "* ]] ||
			die "check-releases: $version: no kernel of that release among $*"
		elsewhere=yes
	fi
	"$EKVM_TOP/scripts/import-base.sh" "$version" --deb "$debver" --kvm-only
	tree="$EKVM_BUILD/releases/linux-$version"
	"$EKVM_TOP/scripts/prepare-tree.sh" "$version" "$tree" 2>/dev/null
	if [ $elsewhere = yes ]; then
		info "check-releases: $version: applies; no kernel of it can be built for here (Debian" \
			"13's only): tests/pkg/trixie-abis.sh builds it for that kernel in a Debian 13 root"
		continue
	fi
	kbuild_tree "$tree" "$kver" "$tree/build.log" check ||
		die "check-releases: $version: the series does not build for $kver (log: $tree/build.log)"
	baseline="$EKVM_TOP/kernel/kabi/$version.symvers"
	[ -f "$baseline" ] || die "check-releases: $version: no kABI baseline" \
		"kernel/kabi/$version.symvers (scripts/update-kabi.sh $version $kver writes it)"
	"$EKVM_TOP/kernel/ekvm-check.sh" kabi "$baseline" "$tree/arch/x86/kvm/Module.symvers" ||
		die "check-releases: $version: kabi (message above)"
	info "check-releases: $version: applies, builds for $kver, kABI kept"
done
