#!/usr/bin/env bash
# scripts/verify-debian-source.sh, which lets a tree serve the kernels of another Debian version
# of its point release: it refuses, naming the file, a Debian version whose KVM files differ
# from the manifest (a real linux-source package from the archive against a copy of the base's
# manifest with one checksum changed, as if Debian had patched x86.c), refuses a Debian version
# of another point release and one the archive does not have, and accepts the base's own
# Debian version against the real manifest. Downloads linux-source twice (about 140 MB each).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

v=$EKVM_VERSION_BASE debver=$(makefile_var "BASE_DEBVER_$(series_of "$v")")
verify() {
	EKVM_BUILD="$TEST_TMP/build" "$EKVM_TOP/scripts/verify-debian-source.sh" "$@"
}

mkdir -p "$TEST_TMP/manifests"
sed 's/^[0-9a-f]\{8\}\(.*  arch\/x86\/kvm\/x86\.c\)$/00000000\1/' "$(manifest_of "$v")" \
	>"$TEST_TMP/manifests/$v.sha256"
! cmp -s "$(manifest_of "$v")" "$TEST_TMP/manifests/$v.sha256" || fail "the manifest copy is unchanged"
EKVM_MANIFESTS="$TEST_TMP/manifests" expect_failure verify "$v" "$debver"
echo "$out" | grep -q "arch/x86/kvm/x86.c: FAILED" || fail "the changed file is not named: $out"
assert_eq "last line" "ekvm: Debian $debver's KVM is not the tree's (above): it needs a tree of its own" \
	"$(echo "$out" | tail -1)"
[ -z "$(ls "$TEST_TMP/build/dl/debian-source")" ] || fail "a refused version left files behind"

expect_failure verify "$v" "6.0.1-1"
assert_eq "another point release" "ekvm: Debian version 6.0.1-1 is not one of Linux $v" "$out"
expect_failure verify "$v" "$v-999"
assert_eq "a version the archive does not have" \
	"ekvm: cannot download linux-source-$(series_of "$v")=$v-999 (not in the apt sources, nor in trixie; try apt-get update)" "$out"

verify "$v" "$debver"
ls "$TEST_TMP/build/dl/debian-source/"*"=$debver".*.ok >/dev/null || fail "no stamp for $debver"
assert_eq "checked before" "ekvm: Debian $debver: KVM files as in $v.sha256 (checked before)" "$(verify "$v" "$debver" 2>&1)"
