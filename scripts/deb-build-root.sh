#!/usr/bin/env bash
# deb-build-root.sh SUITE STAGE: build the staged Debian source STAGE (a folder with debian/) in a
# clean root of Debian SUITE, as sbuild does: a root made by scripts/suite-root.sh from Debian's
# archive with build-essential, lintian and the source's Build-Depends (cached in build/roots/,
# made again when they change), the source copied in at /build/<name> (one path for every build:
# reproducible), dpkg-buildpackage -b, then that suite's lintian on the packages, warnings being
# errors. The packages, .buildinfo and .changes land beside STAGE; the log is STAGE.SUITE.log.
# Everything happens in a private mount namespace; the unpacked root goes when it ends.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || usage "$0 SUITE STAGE"
suite=$1 stage=$(realpath -m "$2")
[[ $suite =~ ^[a-z]+$ ]] || die "'$suite' is not a Debian suite name"
[ -f "$stage/debian/control" ] || die "no $stage/debian/control"
[ "$(id -u)" -eq 0 ] || die "building in a root needs root (chroot, mounts)"
out=$(dirname "$stage") name=$(basename "$stage") log=$stage.$suite.log
# The Build-Depends as package names (versions and alternatives as apt takes them): the root
# is keyed by them
deps=$(sed -n '/^Build-Depends:/,/^[A-Z][A-Za-z-]*:/{/^Build-Depends:/{s/^Build-Depends://;p;d};/^[ \t]/p}' "$stage/debian/control" |
	tr ',' '\n' | sed -e 's/([^)]*)//g' -e 's/\[[^]]*\]//g' -e 's/|.*//' -e 's/[[:space:]]//g' | grep -v '^$' | sort -u | xargs)
[ -n "$deps" ] || die "no Build-Depends in $stage/debian/control"
tar=$EKVM_BUILD/roots/$suite-build.tar
# shellcheck disable=SC2086 # one word a package
"$EKVM_TOP/scripts/suite-root.sh" "$suite" "$tar" build-essential lintian $deps
work=$(mktemp -d "$out/.root-$suite.XXXXXX")
trap 'rm -rf "$work"' EXIT
info "building $name in a clean $suite root (log $log)"
# shellcheck disable=SC2016 # expanded by the inner shell
if ! unshare --mount --propagation private --fork -- bash -euo pipefail -c '
	root=$1 tar=$2 stage=$3 name=$4
	mkdir -p "$root" && tar -C "$root" --numeric-owner -xf "$tar"
	mount -t proc proc "$root/proc"
	mount --rbind /dev "$root/dev"
	mkdir -p "$root/build"
	cp -a "$stage" "$root/build/$name"
	in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
	in_root sh -c "cd /build/$name && dpkg-checkbuilddeps && dpkg-buildpackage -us -uc -b"
	in_root sh -c "cd /build && lintian --fail-on error,warning *.deb"
' build-root "$work/root" "$tar" "$stage" "$name" >"$log" 2>&1; then
	tail -20 "$log" >&2
	die "building $name in the $suite root failed (log: $log)"
fi
find "$work/root/build" -maxdepth 1 -type f \( -name '*.deb' -o -name '*.buildinfo' -o -name '*.changes' \) \
	-exec mv -t "$out" {} +
