#!/usr/bin/env bash
# What the lab installs (tests/lab/releases/README.md): from this tree, in OUT (build/lab):
#   releases/N/                  ekvm-dkms, ekvm-tools, ekvm-fleet, ekvm-modules-<kver> of
#                                release N, the Makefile's
#   releases/N+1/                the same as release N+1, with the lab's patch (tests/lab/patches:
#                                the attribute /sys/module/kvm/ekvm/lab_release) after the series
#   releases/N+1-broken/         release N+1 whose ekvm-modules-<kver> fails to configure (its
#                                postinst exits 1 once dpkg has unpacked it)
#   releases/N+1-broken-preinst/ release N+1 whose ekvm-modules-<kver> fails before it is unpacked
#                                (its preinst exits 1): the host keeps N as it was
#   key/                         the throw-away GnuPG key that signs the repository
#   repo/                        the signed apt repository: suites lab (N, N+1), lab-broken (N,
#                                broken N+1), lab-broken-preinst (N, broken N+1), and
#                                ekvm-archive-keyring.gpg for signed-by=
# Releases N and N+1 are built again only when what they are made of changed: a hash of the
# files they come from is kept in releases/inputs (-f builds them anyway).
set -euo pipefail
. "$(dirname "$0")/../../../scripts/lib.sh"

force=
if [ "${1:-}" = -f ]; then force=1 && shift; fi
[ $# -le 1 ] || usage "$0 [-f] [OUT]"
out=$(realpath -m "${1:-$EKVM_BUILD/lab}")
n=$(makefile_var EKVM_RELEASE)
n1=$((n + 1))
rel="$out/releases"
scripts="$EKVM_TOP/scripts"

inputs=$(cd "$EKVM_TOP" && find Makefile dkms.conf kernel packaging patches scripts userspace \
	tests/lab/patches -type f -print0 | LC_ALL=C sort -z |
	xargs -0 sha256sum | sha256sum | cut -c1-16)
if [ -z "$force" ] && [ "$(cat "$rel/inputs" 2>/dev/null)" = "$inputs" ] &&
	compgen -G "$rel/$n/ekvm-modules-*.deb" >/dev/null && compgen -G "$rel/$n1/ekvm-modules-*.deb" >/dev/null; then
	info "releases $n and $n1 are up to date in $rel (inputs $inputs)"
else
	rm -f "$rel/inputs"
	"$scripts/build-release.sh" "$rel/$n" "$n"
	"$scripts/build-release.sh" "$rel/$n1" "$n1" "$EKVM_TOP/tests/lab/patches"
	echo "$inputs" >"$rel/inputs"
fi

# break SUITE SCRIPT: releases/N+1-<what>/, N+1's packages, but each ekvm-modules fails in its
# maintainer script SCRIPT (postinst: at configure, after dpkg unpacked it; preinst: at install
# and upgrade, before), as a package whose installation fails on a host does. The modules and
# the control fields stay N+1's.
break_release() {
	local suite=$1 script=$2 dir d f tmp s when
	dir="$rel/$n1${suite#lab}"
	rm -rf "$dir" && mkdir -p "$dir"
	# shellcheck disable=SC2016 # shell code for the maintainer script: $1 is its argument
	case "$script" in
	postinst) when='[ "$1" = configure ]' ;;
	preinst) when='[ "$1" = install ] || [ "$1" = upgrade ]' ;;
	esac
	for d in "$rel/$n1"/*.deb; do
		f=$(basename "$d")
		if [[ $f != ekvm-modules-* ]]; then
			cp "$d" "$dir/"
			continue
		fi
		tmp="$dir/${f%.deb}"
		dpkg-deb -R "$d" "$tmp"
		s="$tmp/DEBIAN/$script"
		[ -f "$s" ] || printf '#!/bin/sh\nset -e\n' >"$s"
		grep -qx 'set -e' "$s" || die "no set -e line in $f's $script to break"
		{
			sed -n '1,/^set -e$/p' "$s"
			echo "# ekvm lab: broken on purpose (suite $suite): this package never installs."
			echo "if $when; then"
			echo "	echo \"ekvm lab: this ekvm-modules package is broken on purpose (suite $suite)\" >&2"
			echo "	exit 1"
			echo "fi"
			sed '1,/^set -e$/d' "$s"
		} >"$s.new"
		mv "$s.new" "$s" && chmod 0755 "$s"
		dpkg-deb -b -Zxz "$tmp" "$dir/$f" >/dev/null
		rm -rf "$tmp"
	done
	info "release $n1, broken in the $script ($suite): $(cd "$dir" && echo ./*.deb | sed 's|\./||g')"
}
break_release lab-broken postinst
break_release lab-broken-preinst preinst

# The repository: every suite signed by the throw-away key, each with N to start from.
"$scripts/make-signing-key.sh" "$out/key" >/dev/null
rm -rf "$out/repo"
"$scripts/build-repo.sh" "$out/repo" lab "$out/key" "$rel/$n"/*.deb "$rel/$n1"/*.deb
for s in lab-broken lab-broken-preinst; do
	"$scripts/build-repo.sh" "$out/repo" "$s" "$out/key" "$rel/$n"/*.deb "$rel/$n1${s#lab}"/*.deb
done
info "lab repository in $out/repo (signed-by=$out/repo/ekvm-archive-keyring.gpg): suites lab ($n, $n1), lab-broken and lab-broken-preinst ($n, $n1 broken)"
