#!/usr/bin/env bash
# scripts/import-base.sh accepts a source tree whose KVM files match the manifest, reuses a
# verified import, and refuses, naming the file, a tree with a changed, missing or extra KVM file
# or of another version. The trees are copies of the imported base's KVM files.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

v=$EKVM_VERSION_BASE src=$(src_dir "$v")
[ -f "$src/.ekvm-imported" ] || fail "Linux $v is not imported: run make first"

# A tree holding only what the manifest covers, plus the top Makefile (the version).
make_tree() {
	rm -rf "$1" && mkdir -p "$1"
	kvm_files "$src" | tar -C "$src" -cf - -T - | tar -C "$1" -xf -
	cp "$src/Makefile" "$1/"
}
import() {
	EKVM_BUILD="$TEST_TMP/build" "$EKVM_TOP/scripts/import-base.sh" "$v" --tree "$1"
}

make_tree "$TEST_TMP/good"
import "$TEST_TMP/good" || fail "a matching tree was refused"
[ -f "$TEST_TMP/build/src/linux-$v/.ekvm-imported" ] || fail "no import stamp"
import "$TEST_TMP/nonexistent" || fail "a verified import was not reused"

# A verified import that was changed afterwards is caught on reuse.
echo "/* changed */" >>"$TEST_TMP/build/src/linux-$v/virt/kvm/eventfd.c"
expect_failure import "$TEST_TMP/good"
assert_match "changed import" "virt/kvm/eventfd.c: FAILED" "$out"
rm -rf "$TEST_TMP/build"

make_tree "$TEST_TMP/changed"
sed -i '1s/^/\n/' "$TEST_TMP/changed/arch/x86/kvm/x86.c"
expect_failure import "$TEST_TMP/changed"
assert_match "changed file" "arch/x86/kvm/x86.c: FAILED" "$out"

make_tree "$TEST_TMP/missing"
rm "$TEST_TMP/missing/include/linux/kvm_host.h"
expect_failure import "$TEST_TMP/missing"
assert_match "missing file" "file set differs at: include/linux/kvm_host.h" "$out"

make_tree "$TEST_TMP/extra"
touch "$TEST_TMP/extra/arch/x86/kvm/vendor.c"
expect_failure import "$TEST_TMP/extra"
assert_match "extra file" "file set differs at: arch/x86/kvm/vendor.c" "$out"

make_tree "$TEST_TMP/version"
sed -i 's/^SUBLEVEL = .*/SUBLEVEL = 1/' "$TEST_TMP/version/Makefile"
expect_failure import "$TEST_TMP/version"
assert_match "other version" "the source given is Linux 6\.1\.1, not $v" "$out"

expect_failure "$EKVM_TOP/scripts/import-base.sh" 9.9.9 --deb 9.9.9-1
assert_match "unknown base" "no manifest for Linux 9.9.9" "$out"
