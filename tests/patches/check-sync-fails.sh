#!/usr/bin/env bash
# scripts/check-sync.sh passes on the real series and fails, naming the patch and the rule, when
# the two bases' series drift apart: a patch dropped from one base without a reason (patches), a
# different Upstream-Status (status), and a different ekvm ABI level (abi). A patch listed in
# not-carried with a reason is accepted.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

read -r -a bases <<<"$(makefile_var BASES)"
[ ${#bases[@]} -ge 2 ] || skip "one base only"
a=${bases[0]} b=${bases[1]}
last=$(series_patches "$(makefile_var "BASE_VERSION_$b")" | tail -1)
[ -n "$last" ] || fail "patches/$b is empty"

"$EKVM_TOP/scripts/check-sync.sh" || fail "check-sync fails on the real series"

# Runs check-sync on a copy of patches/ changed in base B's folder by the command given;
# sets $out; EXPECT is pass or fail.
check_copy() {
	local name=$1 expect=$2 copy="$TEST_TMP/patches-$1"
	shift 2
	rm -rf "$copy" && cp -a "$EKVM_TOP/patches" "$copy"
	(cd "$copy/$b" && "$@")
	if [ "$expect" = fail ]; then
		expect_failure env EKVM_PATCHES="$copy" "$EKVM_TOP/scripts/check-sync.sh"
	else
		out=$(EKVM_PATCHES="$copy" "$EKVM_TOP/scripts/check-sync.sh" 2>&1) ||
			fail "$name: check-sync fails: $out"
	fi
}

drop_last() {
	sed -i "/^$last\$/d" series
}
check_copy dropped fail drop_last
assert_match "dropped" "check-sync: $last: patches: in patches/$a but not in patches/$b" "$out"
echo "$out" | tail -1

# Accepted: a patch only base A carries, listed in B's not-carried with a reason. (Not one of the
# series' own: each raises the ABI level, so a base without it would differ in "abi", rightly.)
extra=9999-KVM-ekvm-test-only-note.patch
copy="$TEST_TMP/patches-not-carried"
rm -rf "$copy" && cp -a "$EKVM_TOP/patches" "$copy"
cat >"$copy/$a/$extra" <<'EOT'
From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: ekvm maintainers <maintainers@ekvm.invalid>
Date: Wed, 2 Dec 2026 00:00:00 +0000
Subject: [PATCH] KVM: ekvm: a note only one base carries

A note only one base carries, for the test of check-sync's not-carried
list; it leaves the ABI alone.

Upstream-Status: ekvm-only
Signed-off-by: ekvm maintainers <maintainers@ekvm.invalid>
---
 Documentation/ekvm-test-note.txt | 1 +
 1 file changed, 1 insertion(+)
 create mode 100644 Documentation/ekvm-test-note.txt

diff --git a/Documentation/ekvm-test-note.txt b/Documentation/ekvm-test-note.txt
new file mode 100644
--- /dev/null
+++ b/Documentation/ekvm-test-note.txt
@@ -0,0 +1 @@
+test
EOT
echo "$extra" >>"$copy/$a/series"
echo "$extra a note for this test only, patches/$a carries it" >"$copy/$b/not-carried"
out=$(EKVM_PATCHES="$copy" "$EKVM_TOP/scripts/check-sync.sh" 2>&1) ||
	fail "not-carried: check-sync fails: $out"
echo "not carried with a reason: accepted"

drop_last_without_reason() {
	drop_last
	echo "$last" >not-carried
}
check_copy no-reason fail drop_last_without_reason
assert_match "no reason" "not-carried: $last: say why" "$out"

status_pending() {
	sed -i 's/^Upstream-Status: ekvm-only$/Upstream-Status: Pending/' "$last"
}
check_copy status fail status_pending
assert_match "status" "check-sync: $last: status: Upstream-Status differs" "$out"
echo "$out" | tail -1

# the ABI level the series ends with, one higher on base B only (the last patch that sets it)
abi_up() {
	local setter level names
	mapfile -t names < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' series)
	setter=$(grep -l '^+#define EKVM_ABI_LEVEL' "${names[@]}" | tail -1)
	[ -n "$setter" ] || fail "abi: no patch of patches/$b sets EKVM_ABI_LEVEL"
	level=$(awk '/^\+#define EKVM_ABI_LEVEL/ { print $3 }' "$setter")
	sed -i -E "s/^(\+#define EKVM_ABI_LEVEL[[:space:]]+)$level\$/\1$((level + 1))/" "$setter"
}
check_copy abi fail abi_up
assert_match "abi" "check-sync: patches/$b: abi: " "$out"
echo "$out" | grep abi | tail -1
