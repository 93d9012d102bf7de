#!/usr/bin/env bash
# What must not hurt a Debian host (issue 18):
#  1. a DKMS build that really fails: ekvm-dkms with every KVM tree broken (an #error added to
#     the package's kvm_host.h, the package otherwise make deb's) installs, and the package is
#     configured (apt exits 0): each kernel gets one line saying its build failed and that it
#     keeps its own KVM, and kvm_amd still resolves to the kernel's own module. (dh_dkms's
#     postinst used to exit with the build's status and fail the configuration.)
#  2. `apt remove` (not purge): the hooks under /etc/kernel/ are conffiles and stay, the program
#     they run is gone; a kernel headers package still configures (its postinst runs
#     /etc/kernel/header_postinst.d with run-parts --exit-on-error; the hook used to exit 127).
#     Purge then removes the hooks.
#  3. a Debian kernel whose Debian source version ekvm has not checked (every tree's
#     debian-versions list made to hold another version): each kernel gets one line naming its
#     Debian version and keeps its own KVM, the package is configured, `ekvm status` shows the
#     note for the kernel and `ekvm validate` would; purge takes the notes away.
#  4. a kernel of a point release ekvm has no tree for, as a host has one when Debian publishes a
#     point release before ekvm does (every Debian 12 kernel in the archive has a tree today, so
#     the package keeps only the tree no kernel here is of; the kernels' headers are Debian's own):
#     installing the package and then the kernel's headers each say so in one line naming the
#     trees there are, the package is configured, the kernel keeps its own KVM, ekvm status warns.
set -euo pipefail
. "$(dirname "$0")/../lib-pkg.sh"

base=$EKVM_KVER debs="$EKVM_BUILD/deb"
[ -f "$debs/ekvm-dkms_${PKGVER}_all.deb" ] || fail "no packages in $debs: run make deb first"
# every kernel whose headers are here now stays so (nothing set aside, nothing to reinstall)
mapfile -t more < <(installed_packages | sed -n 's/^linux-headers-\(6\.[0-9]*\.[0-9].*-amd64\)$/\1/p' | grep -vx "$base")
LC_KEEP="${more[*]}" lifecycle_begin "$base" "" apt_q purge ekvm-fleet ekvm-tools ekvm-dkms
assert_stock_resolution "$base"

echo "# 1. a DKMS build that fails"
root=$TEST_TMP/broken
dpkg-deb -R "$debs/ekvm-dkms_${PKGVER}_all.deb" "$root"
n=0
# (in the header every KVM file includes first: each kernel's build fails at its first file)
for f in "$root/usr/src/ekvm-$PKGVER"/trees/*/include/linux/kvm_host.h; do
	echo '#error "ekvm test: this tree does not build"' >>"$f"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no KVM tree in the ekvm-dkms package"
(cd "$root" && find usr -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum >DEBIAN/md5sums)
dpkg-deb -b "$root" "$TEST_TMP/ekvm-dkms-broken.deb" >/dev/null
rc=0
apt_q install "$TEST_TMP/ekvm-dkms-broken.deb" "$debs/ekvm-tools_${PKGVER}_amd64.deb" \
	>"$TEST_TMP/broken.log" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { tail -30 "$TEST_TMP/broken.log"; fail "apt install of ekvm-dkms whose build fails: exit $rc"; }
assert_eq "ekvm-dkms's state" "install ok installed" "$(dpkg-query -W -f '${Status}' ekvm-dkms)"
grep -F "ekvm: building ekvm $PKGVER's KVM for kernel $base failed (/var/lib/dkms/ekvm/$PKGVER/build/make.log); it keeps its own KVM" \
	"$TEST_TMP/broken.log" || fail "no failure line for $base: $(grep ekvm: "$TEST_TMP/broken.log" | head -5)"
! grep -q "common.postinst\|Building initial module" "$TEST_TMP/broken.log" ||
	fail "dh_dkms's postinst ran: $(grep -m2 "common.postinst\|Building initial" "$TEST_TMP/broken.log")"
assert_no_ekvm_modules "$base"
assert_stock_resolution "$base"
grep -q "ekvm test: this tree does not build" "/var/lib/dkms/ekvm/$PKGVER/build/make.log" ||
	fail "the build did not fail on the broken tree: $(tail -5 "/var/lib/dkms/ekvm/$PKGVER/build/make.log")"
echo "configured, $base keeps its own KVM; make.log: $(grep -m1 'ekvm test' "/var/lib/dkms/ekvm/$PKGVER/build/make.log")"

echo "# 2. remove, not purge: a kernel headers package still configures"
apt_q remove ekvm-tools ekvm-dkms >"$TEST_TMP/remove.log" 2>&1 || { tail -20 "$TEST_TMP/remove.log"; fail "apt remove failed"; }
assert_eq "ekvm-dkms's state after remove" "deinstall ok config-files" "$(dpkg-query -W -f '${Status}' ekvm-dkms)"
for d in postinst.d header_postinst.d; do
	[ -x "/etc/kernel/$d/ekvm-dkms" ] || fail "/etc/kernel/$d/ekvm-dkms is gone after remove (a conffile stays)"
done
[ ! -e /usr/lib/ekvm/kernel-hook ] || fail "/usr/lib/ekvm/kernel-hook is left after remove"
run-parts --exit-on-error --arg="$base" /etc/kernel/header_postinst.d >"$TEST_TMP/run-parts.log" 2>&1 ||
	fail "run-parts /etc/kernel/header_postinst.d for $base: $(tail -5 "$TEST_TMP/run-parts.log")"
apt_q install --reinstall "linux-headers-$base" >"$TEST_TMP/headers.log" 2>&1 ||
	{ tail -20 "$TEST_TMP/headers.log"; fail "linux-headers-$base does not configure after apt remove ekvm-dkms"; }
echo "linux-headers-$base reinstalled and configured with ekvm-dkms removed, not purged"
apt_q purge ekvm-dkms >"$TEST_TMP/purge.log" 2>&1 || { tail -20 "$TEST_TMP/purge.log"; fail "purge failed"; }
for d in postinst.d header_postinst.d; do
	[ ! -e "/etc/kernel/$d/ekvm-dkms" ] || fail "/etc/kernel/$d/ekvm-dkms is left after purge"
done
assert_stock_resolution "$base"
echo "purged: the hooks are gone, $base resolves to its own KVM"

echo "# 3. a Debian version ekvm has not checked"
root=$TEST_TMP/unchecked
dpkg-deb -R "$debs/ekvm-dkms_${PKGVER}_all.deb" "$root"
n=0
for f in "$root/usr/src/ekvm-$PKGVER"/trees/*/debian-versions; do
	echo "0.0.0-ekvm-test" >"$f"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no debian-versions list in the ekvm-dkms package's trees"
(cd "$root" && find usr -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum >DEBIAN/md5sums)
dpkg-deb -b "$root" "$TEST_TMP/ekvm-dkms-unchecked.deb" >/dev/null
apt_q install "$TEST_TMP/ekvm-dkms-unchecked.deb" "$debs/ekvm-tools_${PKGVER}_amd64.deb" \
	>"$TEST_TMP/unchecked.log" 2>&1 || { tail -30 "$TEST_TMP/unchecked.log"; fail "apt install failed"; }
debver=$(dpkg-query -W -f '${source:Version}' "linux-headers-$base")
line="ekvm: skipping kernel $base: it is Debian's Linux $debver, and ekvm's KVM for Linux $(point_release "$base") is checked for Debian 0.0.0-ekvm-test only (Debian may have patched KVM since); it keeps its own KVM"
grep -qxF "$line" "$TEST_TMP/unchecked.log" ||
	fail "no line naming $base's Debian version: $(grep ekvm: "$TEST_TMP/unchecked.log" | head -3)"
assert_eq "the kernel hook's note for $base" "$line" "$(cat "/var/lib/ekvm-dkms/skipped/$base")"
assert_no_ekvm_modules "$base"
assert_stock_resolution "$base"
assert_eq "ekvm status --json: $base's skipped" "${line#ekvm: }" \
	"$(ekvm status --json | python3 -c 'import json, sys
print([k for k in json.load(sys.stdin)["kernels"] if k["kernel"] == sys.argv[1]][0]["skipped"])' "$base")"
grep -qxF "warning: ${line#ekvm: }" <<<"$(ekvm status)" || fail "ekvm status prints no warning for $base"
echo "$base ($debver) skipped in one line, noted, shown by ekvm status"
apt_q purge ekvm-tools ekvm-dkms >"$TEST_TMP/purge2.log" 2>&1 || { tail -20 "$TEST_TMP/purge2.log"; fail "purge failed"; }
[ ! -e /var/lib/ekvm-dkms ] || fail "/var/lib/ekvm-dkms is left after purge"
echo "purged: the notes are gone"

echo "# 4. a point release ekvm has no tree for"
read -r -a kvers612 <<<"$(makefile_var DKMS_KVERS_6.12)"
knew=${kvers612[-1]}
vnew=$(point_release "$knew")
root=$TEST_TMP/notree
dpkg-deb -R "$debs/ekvm-dkms_${PKGVER}_all.deb" "$root"
[ -d "$root/usr/src/ekvm-$PKGVER/trees/$vnew" ] || fail "the ekvm-dkms package has no $vnew tree"
# only the trees no kernel here is of are kept (Debian 13's only: 6.12.116), so that no build runs
# for the other kernels either: each of them is skipped too
only=" $(makefile_var TRIXIE_ONLY_RELEASES) "
for d in "$root/usr/src/ekvm-$PKGVER"/trees/*/; do
	d=${d%/}
	[[ $only == *" ${d##*/} "* ]] || rm -rf "$d"
done
[ -n "$(ls "$root/usr/src/ekvm-$PKGVER/trees")" ] || fail "no tree without a kernel here ($only) in the package"
(cd "$root" && find usr -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum >DEBIAN/md5sums)
dpkg-deb -b "$root" "$TEST_TMP/ekvm-dkms-notree.deb" >/dev/null
trees=$(find "$root/usr/src/ekvm-$PKGVER/trees" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -V | paste -sd, | sed 's/,/, /g')
line="ekvm: skipping kernel $knew: it is Linux $vnew and ekvm has KVM for Linux $trees only; it keeps its own KVM"
apt_q install "$TEST_TMP/ekvm-dkms-notree.deb" "$debs/ekvm-tools_${PKGVER}_amd64.deb" \
	>"$TEST_TMP/notree.log" 2>&1 || { tail -30 "$TEST_TMP/notree.log"; fail "apt install failed"; }
grep -qxF "$line" "$TEST_TMP/notree.log" || fail "no skip line for $knew: $(grep "ekvm: .*$knew" "$TEST_TMP/notree.log" | head -3)"
for k in "$base" "${more[@]}"; do
	grep -qF "ekvm: skipping kernel $k: it is Linux $(point_release "$k") and ekvm has KVM for Linux $trees only" \
		"$TEST_TMP/notree.log" || fail "no skip line for $k"
done
"$EKVM_TOP/scripts/install-deps.sh" "$knew" >/dev/null
dpkg -i "$(headers_noimage_deb "linux-headers-$knew")" >"$TEST_TMP/notree-headers.log" 2>&1 ||
	{ tail -20 "$TEST_TMP/notree-headers.log"; fail "linux-headers-$knew does not configure"; }
grep -qxF "$line" "$TEST_TMP/notree-headers.log" ||
	fail "no skip line when $knew's headers are installed: $(grep ekvm: "$TEST_TMP/notree-headers.log" | head -3)"
assert_no_ekvm_modules "$knew"
grep -qxF "warning: ${line#ekvm: }" <<<"$(ekvm status)" || fail "ekvm status prints no warning for $knew"
echo "$knew (Linux $vnew) skipped in one line on install and with its headers, shown by ekvm status"
apt_q purge ekvm-tools ekvm-dkms >"$TEST_TMP/purge3.log" 2>&1 || { tail -20 "$TEST_TMP/purge3.log"; fail "purge failed"; }
