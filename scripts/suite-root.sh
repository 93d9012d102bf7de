#!/usr/bin/env bash
# suite-root.sh SUITE OUT.tar [PACKAGE...]: a clean root of Debian SUITE (bookworm, trixie) as a
# tarball: debootstrap --variant=minbase from deb.debian.org, SUITE, SUITE-updates and
# SUITE-security in its sources, PACKAGEs installed without recommends, apt's cache emptied. Made
# in a mount namespace (nothing stays mounted) and kept: it is made again only when the suite,
# the package list or this script change (OUT.tar.key). For building and installing packages on
# a suite other than the machine's (docs/packages.md, "Debian 13").
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || usage "$0 SUITE OUT.tar [PACKAGE...]"
suite=$1 out=$(realpath -m "$2")
shift 2
[[ $suite =~ ^[a-z]+$ ]] || die "'$suite' is not a Debian suite name"
[ "$(id -u)" -eq 0 ] || die "making a root needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null || die "no debootstrap (scripts/install-deps.sh -f packaging/deps.txt)"
key=$(printf '%s\n' "$suite" "$@" | cat - "$0" | sha256sum | cut -d' ' -f1)
if [ -f "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ]; then
	info "$suite root: $out (made before)"
	exit 0
fi
mirror=http://deb.debian.org/debian
mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$(dirname "$out")/.root-$suite.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root" "$(dirname "$out")/debootstrap-cache"
info "making a $suite root (debootstrap, then ${*:-no packages}; log $work/root.log)"
# shellcheck disable=SC2016 # expanded by the inner shell
if ! unshare --mount --fork -- bash -euo pipefail -c '
	root=$1 suite=$2 mirror=$3 cache=$4
	shift 4
	debootstrap --variant=minbase --cache-dir="$cache" "$suite" "$root" "$mirror"
	mount -t proc proc "$root/proc"
	mount --rbind /dev "$root/dev"
	printf "deb %s %s main\ndeb %s %s-updates main\ndeb http://deb.debian.org/debian-security %s-security main\n" \
		"$mirror" "$suite" "$mirror" "$suite" "$suite" >"$root/etc/apt/sources.list"
	printf "#!/bin/sh\nexit 101\n" >"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	chroot "$root" apt-get update -qq
	[ $# -eq 0 ] || DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -q \
		--no-install-recommends -o Dpkg::Options::=--force-unsafe-io "$@"
	chroot "$root" apt-get clean
	rm -f "$root/usr/sbin/policy-rc.d"
	umount -R "$root/dev" "$root/proc"
' make-root "$work/root" "$suite" "$mirror" "$(dirname "$out")/debootstrap-cache" "$@" >"$work/root.log" 2>&1; then
	tail -15 "$work/root.log" >&2
	die "making the $suite root failed"
fi
rm -rf "$work/root/debootstrap" "$work/root"/var/log/*.log
tar -C "$work/root" --numeric-owner -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "$key" >"$out.key"
info "$suite root: $out ($(du -h "$out" | cut -f1))"
