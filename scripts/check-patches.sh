#!/usr/bin/env bash
# Check the series of a base, each failure naming the patch and the rule:
#   headers     From, Subject, a real message, Signed-off-by and Upstream-Status
#   checkpatch  the base's scripts/checkpatch.pl --strict is clean
#   apply       every patch applies in order with no fuzz
#   bisect      every prefix of the series builds for KVER, warnings being errors
#   kabi        every prefix keeps the exports and CRCs of kernel/kabi/VERSION.symvers
# EKVM_PATCHES names another patches/ folder (the tests use it to check broken copies).
# EKVM_CHECK_BISECT=whole builds only the whole series, not the base and each prefix (the tests'
# kabi case, whose broken patch is the last one; make check-patches always builds every prefix).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || usage "$0 VERSION KVER"
version=$1 kver=$2
src=$(src_dir "$version") dir=$(patches_dir "$version")
work=${EKVM_CHECK_DIR:-$EKVM_BUILD/check/linux-$version}
baseline="$EKVM_TOP/kernel/kabi/$version.symvers"
release=$(makefile_var EKVM_RELEASE)
identity="ekvm maintainers <maintainers@ekvm.invalid>"
[ -f "$src/.ekvm-imported" ] || die "Linux $version is not imported (scripts/import-base.sh)"
[ ! -f "$src/.ekvm-kvm-only" ] || die "Linux $version is imported without its whole tree (make import imports it whole)"
mapfile -t patches < <(series_patches "$version")
failed=0

fail() {
	echo "ekvm: check-patches: $1: $2: $3" >&2
	failed=1
}

# headers: the mail headers and trailers git format-patch writes, and a message worth the name.
check_headers() {
	local p=$1 f="$dir/$1" words status
	head -1 "$f" | grep -Eq '^From [0-9a-f]{40} ' || { fail "$p" headers "not a git format-patch file"; return; }
	grep -q '^From: .* <.*@.*>$' "$f" || fail "$p" headers "no From: author"
	grep -Eq '^Subject: (\[PATCH[^]]*\] )?[^ ].{9,}' "$f" || fail "$p" headers "no Subject: (or a too short one)"
	status=$(grep -E '^Upstream-Status: ' "$f" || true)
	echo "$status" | grep -Eqx 'Upstream-Status: (ekvm-only|Pending|Backport [0-9a-f]{12,40}|Submitted <?https?://[^ ]+>?)' ||
		fail "$p" headers "needs one Upstream-Status: ekvm-only | Pending | Backport <sha> | Submitted <url>"
	if ! echo "$status" | grep -q Backport; then
		grep -qx "From: $identity" "$f" || fail "$p" headers "the author of an ekvm patch is $identity"
	fi
	grep -qx "Signed-off-by: $identity" "$f" || fail "$p" headers "no Signed-off-by: $identity"
	# the message: lines after the headers' blank line, before the trailers and the diff
	words=$(awk 'NR > 1 && !body && /^$/ { body = 1; next }
		body && /^---$/ { exit }
		body && !/^[A-Za-z-]+: / { n += NF }
		END { print n + 0 }' "$f")
	[ "$words" -ge 20 ] || fail "$p" headers "the commit message says too little ($words words): say why"
}

check_checkpatch() {
	local p=$1 out
	# checkpatch validates SPDX tags with spdxcheck.py, which reads LICENSES/ through git and
	# Debian's python3-git: a git repository holding LICENSES/ at the root is enough.
	if ! git -C "$src" rev-parse -q --verify HEAD >/dev/null 2>&1; then
		git -C "$src" init -q && git -C "$src" add -f LICENSES &&
			git -C "$src" -c user.name=ekvm -c user.email=ekvm@invalid commit -qm LICENSES
	fi
	# FILE_PATH_CHANGES asks for a MAINTAINERS update when a patch adds a file; ekvm's series
	# never touches MAINTAINERS (it carries KVM files only), so that one message is off.
	out=$(cd "$src" && PATH=/usr/bin:$PATH perl scripts/checkpatch.pl --strict --quiet \
		--ignore FILE_PATH_CHANGES --root="$src" "$dir/$p" 2>&1) ||
		fail "$p" checkpatch "$(echo "$out" | grep -m3 -E '^(ERROR|WARNING|CHECK)' | tr '\n' ' ')"
}

build_prefix() {
	local name=$1 log="$work/build.log"
	if ! kbuild_tree "$work" "$kver" "$log" check; then
		fail "$name" bisect "the series up to here does not build for $kver (log: $log)"
		return 1
	fi
	if ! "$EKVM_TOP/kernel/ekvm-check.sh" kabi "$baseline" "$work/arch/x86/kvm/Module.symvers"; then
		fail "$name" kabi "the exports differ from kernel/kabi/$version.symvers (message above)"
		return 1
	fi
}

for p in "${patches[@]}"; do
	[ -f "$dir/$p" ] || { fail "$p" apply "listed in the series but missing"; continue; }
	check_headers "$p"
	check_checkpatch "$p"
done
[ "$failed" -eq 0 ] || exit 1

# apply: the whole series on a fresh tree, before any build
"$EKVM_TOP/scripts/prepare-tree.sh" "$version" "$work" all 2>/dev/null ||
	"$EKVM_TOP/scripts/prepare-tree.sh" "$version" "$work" all

# bisect and kabi: the base, then one patch more at a time, built incrementally
case ${EKVM_CHECK_BISECT:-every} in
every) ;;
whole)
	build_prefix "${patches[-1]}" || exit 1
	info "check-patches: Linux $version: ${#patches[@]} patches: headers, checkpatch, apply, kabi ok (the whole series only)"
	exit 0
	;;
*) die "EKVM_CHECK_BISECT: expected every or whole, not '$EKVM_CHECK_BISECT'" ;;
esac
"$EKVM_TOP/scripts/prepare-tree.sh" "$version" "$work" 0 2>/dev/null
build_prefix "the unpatched base" || exit 1
applied=()
for p in "${patches[@]}"; do
	apply_patch "$work" "$(patch_file "$version" "$p")"
	applied+=("$p")
	write_identity "$work" "$version" "$release" "${applied[@]}"
	build_prefix "$p" || exit 1
	info "check-patches: $p: ok"
done
info "check-patches: Linux $version: ${#patches[@]} patches: headers, checkpatch, apply, bisect, kabi ok"
