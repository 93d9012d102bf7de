#!/usr/bin/env bash
# What the lab installs (tests/lab/releases/build.sh), built in a folder of its own: releases N and
# N+1 carry the right versions, N+1's modules and DKMS trees (both bases) have the lab's patch and
# N's do not, the broken N+1 fails in its postinst and is otherwise N+1, patches/ and the Makefile
# are untouched, and apt sees suites lab (N, N+1) and lab-broken (N, the broken N+1) in the signed
# repository and gets each suite's own files. About 5 minutes (two releases built);
# EKVM_LAB_OUT=<folder> checks what tests/lab/releases/build.sh built there instead (build/lab).
set -euo pipefail
. "$(dirname "$0")/../../lib.sh"
. "$(dirname "$0")/../../lib-repo.sh"

[ "$(id -u)" -eq 0 ] || skip "apt-get update on the lab repository: run as root"
n=$(makefile_var EKVM_RELEASE)
n1=$((n + 1)) kver=$EKVM_KVER base=$EKVM_VERSION_BASE
lab=${EKVM_LAB_OUT:-$TEST_TMP/lab}
rel="$lab/releases"
mod="ekvm-modules-$kver"
tree_sums() { (cd "$EKVM_TOP" && find patches Makefile -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
if [ -z "${EKVM_LAB_OUT:-}" ]; then
	before=$(tree_sums)
	"$EKVM_TOP/tests/lab/releases/build.sh" "$lab" >"$TEST_TMP/build.log" 2>&1 ||
		{ tail -30 "$TEST_TMP/build.log"; fail "tests/lab/releases/build.sh failed"; }
	grep '^ekvm: \(release\|lab\)' "$TEST_TMP/build.log"
	assert_eq "patches/ and the Makefile after the build" "$before" "$(tree_sums)"
fi

# unpack DEB: the folder it is unpacked in (control files in DEBIAN/)
unpack() {
	local d
	d="$TEST_TMP/x/$(basename "$(dirname "$1")")/$(basename "$1" .deb)"
	if [ ! -d "$d" ]; then
		mkdir -p "$(dirname "$d")"
		dpkg-deb -R "$1" "$d" || fail "cannot unpack $1"
	fi
	echo "$d"
}

for r in "$n" "$n1"; do
	v="$base.$r"
	echo "# release $r"
	assert_eq "release $r packages" "ekvm-dkms_${v}_all.deb ekvm-fleet_${v}_amd64.deb ${mod}_${v}_amd64.deb ekvm-tools_${v}_amd64.deb" \
		"$(cd "$rel/$r" && echo ./*.deb | sed 's|\./||g')"
	for d in "$rel/$r"/*.deb; do
		assert_eq "$(basename "$d") Version" "$v" "$(dpkg-deb -f "$d" Version)"
	done
	m=$(unpack "$rel/$r/${mod}_${v}_amd64.deb")/lib/modules/$kver/updates/ekvm
	for k in kvm kvm-intel kvm-amd; do
		assert_eq "release $r $k.ko version" "$v" "$(/sbin/modinfo -F version "$m/$k.ko")"
		[ -n "$(/sbin/modinfo -F signer "$m/$k.ko")" ] || fail "release $r $k.ko is not signed"
	done
	dkms=$(unpack "$rel/$r/ekvm-dkms_${v}_all.deb")/usr/src/ekvm-$v/trees
	trees=$(cd "$dkms" && echo *)
	with=$(cd "$dkms" && { grep -l 'lab_release_show' -- */virt/kvm/ekvm.c || true; } | cut -d/ -f1 | xargs)
	releases=$(cd "$dkms" && sed -n 's/^#define EKVM_RELEASE "\(.*\)"$/\1/p' -- */include/linux/ekvm_version.h | sort -u)
	assert_eq "release $r DKMS trees' EKVM_RELEASE" "$r" "$releases"
	# (here-strings: with pipefail, a pipe into grep -q fails on SIGPIPE)
	str=$(strings "$m/kvm.ko")
	if [ "$r" = "$n1" ]; then
		grep -qx lab_release <<<"$str" || fail "release $r kvm.ko has no lab_release attribute"
		grep -q 'KVM-ekvm-lab-report-the-lab-release' <<<"$str" ||
			fail "release $r kvm.ko's series does not name the lab patch"
		assert_eq "release $r DKMS trees with the lab patch" "$trees" "$with"
		echo "release $r: modules $v with lab_release; the lab patch in every DKMS tree ($trees)"
	else
		! grep -qx lab_release <<<"$str" || fail "release $r kvm.ko has the lab's attribute"
		assert_eq "release $r DKMS trees with the lab patch" "" "$with"
		echo "release $r: modules $v without lab_release; DKMS trees $trees"
	fi
done

good=$(unpack "$rel/$n1/${mod}_${base}.${n1}_amd64.deb")
for b in broken:postinst:configure broken-preinst:preinst:upgrade; do
	what=${b%%:*} script=${b#*:} script=${script%:*} arg=${b##*:}
	echo "# release $n1, $what"
	dir="$rel/$n1-$what"
	assert_eq "$what packages" "$(cd "$rel/$n1" && echo ./*.deb)" "$(cd "$dir" && echo ./*.deb)"
	bad=$(unpack "$dir/${mod}_${base}.${n1}_amd64.deb")
	diff -r "$good/lib" "$bad/lib" >/dev/null || fail "the $what package's modules are not N+1's"
	diff "$good/DEBIAN/control" "$bad/DEBIAN/control" >/dev/null || fail "the $what package's control differs from N+1's"
	expect_failure sh "$bad/DEBIAN/$script" "$arg" "$base.$n"
	assert_eq "$what $script" "ekvm lab: this ekvm-modules package is broken on purpose (suite lab-$what)" "$out"
	for p in ekvm-dkms_${base}.${n1}_all.deb ekvm-tools_${base}.${n1}_amd64.deb ekvm-fleet_${base}.${n1}_amd64.deb; do
		cmp -s "$rel/$n1/$p" "$dir/$p" || fail "lab-$what's $p is not release $n1's"
	done
	echo "$what: $mod $base.$n1's $script fails, its modules and fields are N+1's"
done
broken="$rel/$n1-broken"

echo "# installed and upgraded by dpkg (a scratch database and root; no kernel image here)"
kos="lib/modules/$kver/updates/ekvm"
# sums DIR: the checksums of the modules in DIR
sums() { (cd "$1" && sha256sum kvm.ko kvm-intel.ko kvm-amd.ko); }
sums_n=$(sums "$(unpack "$rel/$n/${mod}_${base}.${n}_amd64.deb")/$kos")
sums_n1=$(sums "$good/$kos")
# start DIR: release N installed in a new scratch root
start() {
	rm -rf "$1"
	scratch_dpkg "$1" -i "$rel/$n/${mod}_${base}.${n}_amd64.deb" >"$1.log" 2>&1 || { cat "$1.log"; fail "installing $mod $base.$n failed"; }
	assert_eq "$mod after installing $base.$n" "ii $base.$n" "$(scratch_status "$1" "$mod")"
	assert_eq "modules of $base.$n" "$sums_n" "$(sums "$1/root/$kos")"
}
start "$TEST_TMP/dpkg-good"
scratch_dpkg "$TEST_TMP/dpkg-good" -i "$rel/$n1/${mod}_${base}.${n1}_amd64.deb" >"$TEST_TMP/dpkg-good.log" 2>&1 ||
	{ cat "$TEST_TMP/dpkg-good.log"; fail "the upgrade to $base.$n1 failed"; }
assert_eq "$mod after the upgrade" "ii $base.$n1" "$(scratch_status "$TEST_TMP/dpkg-good" "$mod")"
assert_eq "modules after the upgrade" "$sums_n1" "$(sums "$TEST_TMP/dpkg-good/root/$kos")"
scratch_dpkg "$TEST_TMP/dpkg-good" --purge "$mod" >/dev/null 2>&1 || fail "purging $mod failed"
[ -z "$(find "$TEST_TMP/dpkg-good/root" -type f)" ] || fail "files left after the purge: $(find "$TEST_TMP/dpkg-good/root" -type f)"
echo "lab: $base.$n installed, upgraded to $base.$n1 (its modules in place), purged (nothing left)"

start "$TEST_TMP/dpkg-broken"
expect_failure scratch_dpkg "$TEST_TMP/dpkg-broken" -i "$broken/${mod}_${base}.${n1}_amd64.deb"
grep -qF "ekvm lab: this ekvm-modules package is broken on purpose (suite lab-broken)" <<<"$out" || fail "lab-broken: $out"
assert_eq "$mod after lab-broken's upgrade" "iF $base.$n1" "$(scratch_status "$TEST_TMP/dpkg-broken" "$mod")"
assert_eq "modules after lab-broken's upgrade" "$sums_n1" "$(sums "$TEST_TMP/dpkg-broken/root/$kos")"
echo "lab-broken: the upgrade fails, $mod is left half-configured at $base.$n1, its modules unpacked"
# the way back (README.md): down to N, then up to lab's N+1
for r in "$n:$rel/$n" "$n1:$rel/$n1"; do
	scratch_dpkg "$TEST_TMP/dpkg-broken" -i "${r#*:}/${mod}_${base}.${r%%:*}_amd64.deb" >"$TEST_TMP/dpkg-back.log" 2>&1 ||
		{ cat "$TEST_TMP/dpkg-back.log"; fail "from lab-broken's $base.$n1 to $base.${r%%:*} failed"; }
	assert_eq "$mod after going to $base.${r%%:*}" "ii $base.${r%%:*}" "$(scratch_status "$TEST_TMP/dpkg-broken" "$mod")"
done
assert_eq "modules after the way back" "$sums_n1" "$(sums "$TEST_TMP/dpkg-broken/root/$kos")"
echo "lab-broken: back to $base.$n (a downgrade), then up to lab's $base.$n1"

start "$TEST_TMP/dpkg-preinst"
expect_failure scratch_dpkg "$TEST_TMP/dpkg-preinst" -i "$rel/$n1-broken-preinst/${mod}_${base}.${n1}_amd64.deb"
grep -qF "ekvm lab: this ekvm-modules package is broken on purpose (suite lab-broken-preinst)" <<<"$out" ||
	fail "lab-broken-preinst: $out"
assert_eq "$mod after lab-broken-preinst's upgrade" "ii $base.$n" "$(scratch_status "$TEST_TMP/dpkg-preinst" "$mod")"
assert_eq "modules after lab-broken-preinst's upgrade" "$sums_n" "$(sums "$TEST_TMP/dpkg-preinst/root/$kos")"
echo "lab-broken-preinst: the upgrade fails, $mod stays installed at $base.$n with its modules"

echo "# the repository"
repo="$lab/repo"
repo_apt "$repo" lab lab-broken lab-broken-preinst -- update >"$TEST_TMP/update.log" 2>&1 || { cat "$TEST_TMP/update.log"; fail "apt-get update failed"; }
! grep -E '^(W|E):' "$TEST_TMP/update.log" || fail "apt-get update warned"
want=""
for p in ekvm-dkms ekvm-tools ekvm-fleet "$mod"; do
	for s in lab lab-broken lab-broken-preinst; do
		for r in "$n" "$n1"; do want+="$p $base.$r $s/main"$'\n'; done
	done
done
assert_eq "what apt sees" "$(LC_ALL=C sort <<<"${want%$'\n'}")" "$(repo_madison "$repo" "lab lab-broken lab-broken-preinst" ekvm-dkms ekvm-tools ekvm-fleet "$mod")"
for s in lab lab-broken lab-broken-preinst; do
	repo_apt_reset
	repo_apt "$repo" "$s" -- update >/dev/null 2>&1 || fail "apt-get update of $s failed"
	rm -rf "$TEST_TMP/dl" && mkdir "$TEST_TMP/dl"
	(cd "$TEST_TMP/dl" && repo_apt "$repo" "$s" -- download "$mod=$base.$n1") >/dev/null 2>&1 || fail "cannot get $mod from $s"
	src=$rel/$n1${s#lab}
	cmp -s "$TEST_TMP/dl/${mod}_${base}.${n1}_amd64.deb" "$src/${mod}_${base}.${n1}_amd64.deb" ||
		fail "$s gave another $mod $base.$n1 than $src's"
done
echo "repository: lab, lab-broken and lab-broken-preinst each hold N and N+1 of the three packages and give their own files"
echo "ok: $(du -sh "$lab" | cut -f1) in $lab"
