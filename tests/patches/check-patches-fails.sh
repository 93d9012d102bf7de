#!/usr/bin/env bash
# scripts/check-patches.sh fails, naming the patch and the rule, on copies of the series broken
# in the ways that matter: a patch whose context no longer matches the base (apply), a patch with
# a style error (checkpatch), a patch without the required trailers (headers), and a patch that
# adds a field to struct kvm (kabi: the export CRCs change, so the distro's kvmgt.ko would load
# against a KVM whose layout it does not know).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

v=$EKVM_VERSION_BASE series=$(series_of "$v")
first=$(series_patches "$v" | head -1)
[ -n "$first" ] || fail "the series is empty"

# Runs check-patches on a copy of patches/ changed by the command given. The broken patch is the
# first or the last: the whole series' build finds it (every prefix is make check-patches' job).
check_broken() {
	local copy="$TEST_TMP/patches-$1"
	shift
	rm -rf "$copy" && cp -a "$EKVM_TOP/patches" "$copy"
	(cd "$copy/$series" && "$@")
	expect_failure env EKVM_PATCHES="$copy" EKVM_CHECK_DIR="$TEST_TMP/check" EKVM_CHECK_BISECT=whole \
		"$EKVM_TOP/scripts/check-patches.sh" "$v" "$EKVM_KVER"
	echo "$out" | grep '^ekvm:' | tail -1
}

# apply: change one context line of the first patch's first hunk
break_context() {
	awk '!done && /^@@/ { hunk = 1 } hunk && !done && /^ [^ ]/ { sub(/^ /, " /* ekvm test */ "); done = 1 } 1' \
		"$first" >x && mv x "$first"
}
msg=$(check_broken context break_context)
assert_match "context" "^ekvm: patch $first does not apply: .*Hunk #[0-9]+ FAILED" "$msg"
echo "$msg"

# checkpatch: trailing white space on an added line
add_trailing_space() {
	awk '!done && /^\+\t/ { $0 = $0 " "; done = 1 } 1' "$first" >x && mv x "$first"
}
msg=$(check_broken style add_trailing_space)
assert_match "style" "^ekvm: check-patches: $first: checkpatch: .*trailing whitespace" "$msg"
echo "$msg"

# headers: no Upstream-Status
drop_status() {
	sed -i '/^Upstream-Status:/d' "$first"
}
msg=$(check_broken headers drop_status)
assert_match "headers" "^ekvm: check-patches: $first: headers: needs one Upstream-Status" "$msg"
echo "$msg"

# kabi: a new last patch that adds a field to struct kvm
add_kvm_field() {
	local p=9999-KVM-test-add-a-field-to-struct-kvm.patch h=include/linux/kvm_host.h
	mkdir -p a/include/linux b/include/linux
	cp "$(src_dir "$v")/$h" "a/$h"
	sed '0,/^struct kvm {$/s//struct kvm {\n\tunsigned long ekvm_test_field;/' "a/$h" >"b/$h"
	{
		echo "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001"
		echo "From: ekvm maintainers <maintainers@ekvm.invalid>"
		echo "Subject: [PATCH] KVM: test: add a field to struct kvm"
		echo
		echo "This patch exists only in a test: it adds a field to struct kvm, which"
		echo "changes the layout every exported function taking a struct kvm sees, and"
		echo "so the CRC of those exports. check-patches must refuse it."
		echo
		echo "Upstream-Status: ekvm-only"
		echo "Signed-off-by: ekvm maintainers <maintainers@ekvm.invalid>"
		echo "---"
		diff -u "a/$h" "b/$h" | sed -e "1s|^--- .*|--- a/$h|" -e "2s|^+++ .*|+++ b/$h|" || true
	} >"$p"
	rm -rf a b
	echo "$p" >>series
}
msg=$(check_broken kabi add_kvm_field)
assert_match "kabi" "^ekvm: check-patches: 9999-KVM-test-add-a-field-to-struct-kvm.patch: kabi: " "$msg"
echo "$msg"
echo "all four broken series were refused"
