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

drop_last_with_reason() {
	drop_last
	echo "$last the feature needs an interface this base lacks (test)" >not-carried
}
check_copy not-carried pass drop_last_with_reason
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
