#!/usr/bin/env bash
# Check that the series of every base are in step (docs/patches.md, "Two bases"):
#   patches    every patch of one base's series is in every other base's, under the same file
#              name (the same subject) and at the same position, unless the base that lacks it
#              lists it in patches/<series>/not-carried with the reason
#   status     a patch carried on several bases has the same Upstream-Status on each
#   abi        the ekvm uapi header (include/uapi/linux/ekvm.h) the whole series leaves is the
#              same on every base, and the tool's copy (userspace/include/ekvm-abi.h) agrees
#   BASE...    the bases (series), default: the top Makefile's BASES
# EKVM_PATCHES names another patches/ folder (the tests use it to check broken copies).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

bases=("$@")
[ ${#bases[@]} -gt 0 ] || read -r -a bases <<<"$(makefile_var BASES)"
[ ${#bases[@]} -ge 2 ] || { info "check-sync: one base only, nothing to compare"; exit 0; }
root=${EKVM_PATCHES:-$EKVM_TOP/patches}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

fail() {
	echo "ekvm: check-sync: $1: $2: $3" >&2
	failed=1
}

# The series of a base (a series name such as 6.12) without comments, and the names it does
# not carry (first word of each not-carried line; a line needs a reason after the name).
series_of_base() {
	[ -f "$root/$1/series" ] || die "no series file $root/$1/series"
	sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$root/$1/series"
}
not_carried() {
	local f="$root/$1/not-carried"
	[ -f "$f" ] || return 0
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$f" | while read -r name reason; do
		[ -n "$reason" ] || die "$f: $name: say why it is not carried"
		echo "$name"
	done
}
status_of() {
	grep -m1 '^Upstream-Status: ' "$root/$1/$2" || true
}

for b in "${bases[@]}"; do
	series_of_base "$b" >"$tmp/$b.series"
	not_carried "$b" >"$tmp/$b.not-carried"
done

# patches and status: each pair of bases, both ways
for a in "${bases[@]}"; do
	for b in "${bases[@]}"; do
		[ "$a" != "$b" ] || continue
		while read -r p; do
			if ! grep -qx -- "$p" "$tmp/$b.series"; then
				grep -qx -- "$p" "$tmp/$b.not-carried" ||
					fail "$p" patches "in patches/$a but not in patches/$b (port it, or list it in patches/$b/not-carried with the reason)"
				continue
			fi
			[ "$(status_of "$a" "$p")" = "$(status_of "$b" "$p")" ] ||
				fail "$p" status "Upstream-Status differs between patches/$a and patches/$b"
		done <"$tmp/$a.series"
		# the patches both carry come in the same order
		grep -xFf "$tmp/$b.series" "$tmp/$a.series" >"$tmp/order.a" || true
		grep -xFf "$tmp/$a.series" "$tmp/$b.series" >"$tmp/order.b" || true
		cmp -s "$tmp/order.a" "$tmp/order.b" ||
			fail "patches/$a vs patches/$b" patches "the patches both carry are in a different order"
	done
done

# abi: the uapi header each whole series leaves (only the patches' own new files matter here,
# so each series is applied to its base's KVM files in a scratch tree)
first=''
for b in "${bases[@]}"; do
	v=$(makefile_var "BASE_VERSION_$b")
	[ -n "$v" ] || die "no BASE_VERSION_$b in the top Makefile"
	[ -f "$(src_dir "$v")/.ekvm-imported" ] || die "Linux $v is not imported (make import BASE=$b)"
	EKVM_PATCHES=$root "$EKVM_TOP/scripts/prepare-tree.sh" "$v" "$tmp/tree-$b" 2>/dev/null ||
		{ fail "patches/$b" abi "the series does not apply to Linux $v (make check-patches BASE=$b says why)"; continue; }
	h="$tmp/tree-$b/include/uapi/linux/ekvm.h"
	[ -f "$h" ] || { fail "patches/$b" abi "the series adds no include/uapi/linux/ekvm.h"; continue; }
	if [ -z "$first" ]; then
		first=$b
	elif ! cmp -s "$tmp/tree-$first/include/uapi/linux/ekvm.h" "$h"; then
		fail "patches/$b" abi "include/uapi/linux/ekvm.h differs from patches/$first's: $(diff "$tmp/tree-$first/include/uapi/linux/ekvm.h" "$h" | grep '^[<>]' | head -2 | tr '\n' ' ')"
	fi
	tool="$EKVM_TOP/userspace/include/ekvm-abi.h"
	for name in KVM_CAP_EKVM EKVM_ABI_LEVEL; do
		k=$(awk -v n="$name" '$1 == "#define" && $2 == n { print $3 }' "$h")
		t=$(awk -v n="$name" '$1 == "#define" && $2 == n { print $3 }' "$tool")
		{ [ -n "$k" ] && [ "$k" = "$t" ]; } ||
			fail "patches/$b" abi "$name is '$k' in the series but '$t' in userspace/include/ekvm-abi.h"
	done
done

[ "$failed" -eq 0 ] || exit 1
info "check-sync: ${bases[*]}: the series are in step ($(wc -l <"$tmp/${bases[0]}.series") patches on ${bases[0]}), same ekvm ABI"
