#!/usr/bin/env bash
# Build the RPMs ekvm-dkms, ekvm-tools and ekvm-fleet into OUT with rpmbuild, from a tarball of the
# staged source (the DKMS source of scripts/dkms-source.sh, userspace/, kernel-hook/, LICENSE).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 3 ] || usage "$0 OUT PACKAGE_VERSION RELEASE..."
out=$(realpath -m "$1") pkgver=$2
shift 2
top="$out/rpmbuild" stage="$out/rpmbuild/stage/ekvm-$pkgver"
rm -rf "$top" && mkdir -p "$stage" "$top/SOURCES"
"$EKVM_TOP/scripts/dkms-source.sh" "$stage/dkms" "$pkgver" "$@"
cp -a "$EKVM_TOP/userspace" "$stage/userspace"
cp -a "$EKVM_TOP/packaging/dkms" "$stage/kernel-hook"
cp "$EKVM_TOP/LICENSE" "$EKVM_TOP/docs/packages.md" "$stage/"
# sorted, owned by root, every file at the time of the last commit, gzip without a name or
# time: the same bytes for the same source (the RPMs are reproducible, tests/pkg/reproducible.sh)
epoch=$(git -C "$EKVM_TOP" log -1 --format=%ct 2>/dev/null || echo 0)
tar -C "$top/stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
	-cf - "ekvm-$pkgver" | gzip -9n >"$top/SOURCES/ekvm-$pkgver.tar.gz"
abi=$(awk '$2 == "EKVM_ABI_LEVEL" { print $3 }' "$EKVM_TOP/userspace/include/ekvm-abi.h")
# --nodeps: the build dependencies are Debian packages here (scripts/deps, packaging/deps.txt),
# which rpm's own database does not know.
# The build folder is one fixed path, as mock's /builddir is for Fedora: the programs' debug
# link holds a checksum of their debug file, whose DWARF has the build path in it (find-debuginfo
# rewrites it in place, padding), so the same source built elsewhere would differ. Builds take
# turns on it (flock).
builddir=/var/tmp/ekvm-rpmbuild
mkdir -p "$builddir"
exec 9>"$builddir.lock"
flock 9
rm -rf "${builddir:?}"/*
rpmbuild -bb --nodeps --define "_topdir $top" --define "_builddir $builddir" --define "ekvm_version $pkgver" \
	--define "ekvm_abi $abi" "$EKVM_TOP/packaging/rpm/ekvm.spec" >"$out/ekvm-$pkgver.rpmbuild.log" 2>&1 ||
	{ tail -20 "$out/ekvm-$pkgver.rpmbuild.log" >&2; die "rpmbuild failed (log: $out/ekvm-$pkgver.rpmbuild.log)"; }
rm -rf "${builddir:?}"/*
exec 9>&-
find "$top/RPMS" -name "ekvm-*-$pkgver-*.rpm" -exec mv {} "$out/" \;
rpmlint -c "$EKVM_TOP/packaging/rpm/rpmlint.toml" "$out"/ekvm-*-"$pkgver"-*.rpm >"$out/rpmlint.log" 2>&1 ||
	{ cat "$out/rpmlint.log" >&2; die "rpmlint found problems"; }
info "built $(cd "$out" && echo ekvm-*-"$pkgver"-*.rpm)"
