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
tar -C "$top/stage" -czf "$top/SOURCES/ekvm-$pkgver.tar.gz" "ekvm-$pkgver"
abi=$(awk '$2 == "EKVM_ABI_LEVEL" { print $3 }' "$EKVM_TOP/userspace/include/ekvm-abi.h")
# --nodeps: the build dependencies are Debian packages here (scripts/deps, packaging/deps.txt),
# which rpm's own database does not know.
rpmbuild -bb --nodeps --define "_topdir $top" --define "ekvm_version $pkgver" \
	--define "ekvm_abi $abi" "$EKVM_TOP/packaging/rpm/ekvm.spec" >"$out/ekvm-$pkgver.rpmbuild.log" 2>&1 ||
	{ tail -20 "$out/ekvm-$pkgver.rpmbuild.log" >&2; die "rpmbuild failed (log: $out/ekvm-$pkgver.rpmbuild.log)"; }
find "$top/RPMS" -name "ekvm-*-$pkgver-*.rpm" -exec mv {} "$out/" \;
rpmlint -c "$EKVM_TOP/packaging/rpm/rpmlint.toml" "$out"/ekvm-*-"$pkgver"-*.rpm >"$out/rpmlint.log" 2>&1 ||
	{ cat "$out/rpmlint.log" >&2; die "rpmlint found problems"; }
info "built $(cd "$out" && echo ekvm-*-"$pkgver"-*.rpm)"
