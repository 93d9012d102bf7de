#!/usr/bin/env bash
# Distribution-style builds and their reproducibility: the Debian packages built in a clean root of
# each suite (scripts/deb-build-root.sh: bookworm and trixie, lintian of that suite clean), the
# trixie build twice, in output folders of different path lengths, byte for byte the same; the
# clean bookworm root's build the same bytes as make deb's on this machine; the trixie build is
# trixie's (its programs need trixie's libc, 2.38 or later). The RPMs built twice the same way,
# byte for byte the same, with separate debug information and the hardening of the Debian build
# (fortify, stack protector, RELRO, BIND_NOW, PIE) in the programs.
set -euo pipefail
. "$(dirname "$0")/../lib-pkg.sh"

read -r -a releases <<<"$(makefile_var DKMS_RELEASES_ALL)"
debs=(ekvm-dkms_"$PKGVER"_all.deb ekvm-tools_"$PKGVER"_amd64.deb ekvm-fleet_"$PKGVER"_amd64.deb
	ekvm-tools-dbgsym_"$PKGVER"_amd64.deb ekvm-fleet-dbgsym_"$PKGVER"_amd64.deb)
for d in "${debs[@]}"; do
	[ -f "$EKVM_BUILD/deb/$d" ] || fail "no $d in $EKVM_BUILD/deb: run make deb first"
done
# same ONE TWO FILE...: each FILE is the same bytes in folders ONE and TWO
same() {
	local one=$1 two=$2 f
	shift 2
	for f in "$@"; do
		{ [ -f "$one/$f" ] && [ -f "$two/$f" ]; } || fail "no $f in $one or $two"
		cmp -s "$one/$f" "$two/$f" || fail "$f differs between $one and $two"
	done
}

echo "# Debian 12: a clean bookworm root builds the same bytes as this machine (make deb)"
"$EKVM_TOP/scripts/build-deb.sh" -s bookworm "$TEST_TMP/bookworm" "$PKGVER" "${releases[@]}" >"$TEST_TMP/bookworm.log" 2>&1 ||
	{ tail -20 "$TEST_TMP/bookworm.log"; fail "the bookworm root build failed"; }
same "$TEST_TMP/bookworm" "$EKVM_BUILD/deb" "${debs[@]}"

echo "# Debian 13: two builds in clean trixie roots, from folders of different path lengths"
for o in trixie trixie-second-build; do
	"$EKVM_TOP/scripts/build-deb.sh" -s trixie "$TEST_TMP/$o" "$PKGVER" "${releases[@]}" >"$TEST_TMP/$o.log" 2>&1 ||
		{ tail -20 "$TEST_TMP/$o.log"; fail "the trixie root build ($o) failed"; }
done
same "$TEST_TMP/trixie" "$TEST_TMP/trixie-second-build" "${debs[@]}"
# built against trixie's libraries, not bookworm's (libc 2.36)
assert_match "trixie's ekvm-tools depends on" 'libc6 \(>= 2\.(3[89]|[4-9][0-9])' \
	"$(dpkg-deb -f "$TEST_TMP/trixie/ekvm-tools_${PKGVER}_amd64.deb" Depends)"
rm -rf "$TEST_TMP"/bookworm "$TEST_TMP"/trixie*/

echo "# RPMs: built twice, from folders of different path lengths"
for o in rpm rpm-second-build; do
	"$EKVM_TOP/scripts/build-rpm.sh" "$TEST_TMP/$o" "$PKGVER" "${releases[@]}" >"$TEST_TMP/$o.log" 2>&1 ||
		{ tail -20 "$TEST_TMP/$o.log"; fail "the RPM build ($o) failed"; }
done
mapfile -t rpms < <(find "$TEST_TMP/rpm" -maxdepth 1 -name '*.rpm' -printf '%f\n' | sort)
assert_eq "the RPMs" "ekvm-debuginfo ekvm-debugsource ekvm-dkms ekvm-fleet ekvm-tools" \
	"$(printf '%s\n' "${rpms[@]}" | sed "s/-$PKGVER-.*//" | xargs)"
same "$TEST_TMP/rpm" "$TEST_TMP/rpm-second-build" "${rpms[@]}"

echo "# the RPM's programs: hardened as the Debian build, debug information apart"
x=$TEST_TMP/x
mkdir -p "$x"
for r in ekvm-tools ekvm-fleet; do
	(cd "$x" && rpm2cpio "$TEST_TMP/rpm/$r-$PKGVER-1.x86_64.rpm" | cpio -idm --quiet)
done
for p in usr/bin/ekvm usr/libexec/ekvm/ekvm-fleet; do
	f=$x/$p
	grep -q GNU_RELRO <<<"$(readelf -lW "$f")" || fail "$p has no RELRO segment"
	grep -qE 'FLAGS_1.*NOW.*PIE|FLAGS_1.*PIE.*NOW' <<<"$(readelf -dW "$f")" || fail "$p is not linked with -z now as a PIE"
	# (the tools' output in variables: grep -q would end a pipe early, a failure under pipefail)
	syms=$(nm -D "$f")
	grep -q ' U __stack_chk_fail' <<<"$syms" || fail "$p has no stack protector"
	grep -qE ' U __[a-z]+_chk@' <<<"$syms" || fail "$p is not built with _FORTIFY_SOURCE"
	! grep -qE '\.debug_(info|line) ' <<<"$(readelf -SW "$f")" || fail "$p still has its debug information"
	id=$(readelf -nW "$f" | sed -n 's/.*Build ID: *\([0-9a-f]*\).*/\1/p')
	[ -n "$id" ] || fail "$p has no build id"
	grep -qx "/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug" \
		<<<"$(rpm -qlp "$TEST_TMP/rpm/ekvm-debuginfo-$PKGVER-1.x86_64.rpm" 2>/dev/null)" || fail "no debug file for $p (build id $id) in ekvm-debuginfo"
done
echo "the Debian packages built in clean bookworm and trixie roots, reproducibly; the RPMs reproducible and hardened"
