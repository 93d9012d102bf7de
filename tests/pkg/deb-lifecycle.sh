#!/usr/bin/env bash
# The .deb lifecycle of ekvm-dkms, ekvm-tools and ekvm-fleet on this machine, as an operator meets it:
#  1. install with a 6.1 and the 6.12 kernel's headers present (the package carries both
#     bases): ekvm modules built, signed and installed for each (6.12's compressed like its own,
#     .ko.xz), modprobe resolves to them, `ekvm status` agrees, and the installed modules boot in
#     the VM harness (ekvm's identity, tool and histogram tests, the smoke guest, module reload);
#     ekvm-tools does not depend on libvirt: `ekvm fleet` says in one line that ekvm-fleet is not
#     installed, then runs it once ekvm-fleet is;
#  2. install the headers of another supported ABI: its ekvm modules appear by themselves;
#  3. install the headers of an unsupported kernel (an older 6.12.y): apt succeeds, one skip line;
#  4. upgrade to the next release: every kernel rebuilt, nothing of the old release left;
#  5. purge: stock resolution back, no ekvm file left, the distro's module files untouched.
set -euo pipefail
. "$(dirname "$0")/../lib-pkg.sh"

read -r -a kvers <<<"$(makefile_var DKMS_KVERS_6.1)"
read -r -a dkms_releases <<<"$(makefile_var DKMS_RELEASES_ALL)"
base=$EKVM_KVER later=${kvers[2]} k612=$(makefile_var BASE_KVER_6.12)
release=$(makefile_var EKVM_RELEASE)
debs="$EKVM_BUILD/deb" next="$EKVM_VERSION_BASE.$((release + 1))"
[ -f "$debs/ekvm-dkms_${PKGVER}_all.deb" ] || fail "no packages in $debs: run make deb first"
unsup=$(unsupported_headers)
if [ -n "$unsup" ]; then
	kunsup=${unsup#linux-headers-} vunsup=$(apt_point_release "$unsup")
	debunsup=$(headers_noimage_deb "$unsup")
fi

lifecycle_begin "$base" "$k612" apt_q purge ekvm-fleet ekvm-tools ekvm-dkms
stock=$(stock_checksums "$base") stock612=$(stock_checksums "$k612")
assert_stock_resolution "$base"
assert_stock_resolution "$k612"

echo "# 1. install"
apt_q install "$debs/ekvm-dkms_${PKGVER}_all.deb" "$debs/ekvm-tools_${PKGVER}_amd64.deb" \
	>"$TEST_TMP/install.log" 2>&1 || { tail -30 "$TEST_TMP/install.log"; fail "apt install failed"; }
for k in "$base" "$k612"; do
	assert_ekvm_modules "$k" "$release"
done
ekvm status --json >"$TEST_TMP/status.json"
for k in "$base" "$k612"; do
	status=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
k = [k for k in d["kernels"] if k["kernel"] == sys.argv[2]][0]
print(k["origin"], k["ekvm"], k["version"], k["signer"], d["tool"]["version"])' "$TEST_TMP/status.json" "$k")
	assert_eq "ekvm status for $k" "updates True $(point_release "$k").$release DKMS module signing key $PKGVER" "$status"
done
smoke="$EKVM_BUILD/userspace/ekvm-static"
[ -x "$smoke" ] || fail "no $smoke: make -C userspace static"
"$EKVM_TOP/tests/vm/run.sh" -k "$base" -e "/lib/modules/$base/updates/dkms" -s ekvm,extra,reload \
	-f '^ekvm/(identity|tool|hist)_test$|^extra/' -n 1 -x "$smoke" -o "$TEST_TMP/vm" >"$TEST_TMP/vm.log" 2>&1 ||
	{ tail -30 "$TEST_TMP/vm.log"; fail "the installed modules failed the VM harness"; }
grep -E '^[0-9]+ passed' "$TEST_TMP/vm.log"
# the fleet controller is a package of its own: only it depends on libvirt
tools_deps=$(dpkg-deb -f "$debs/ekvm-tools_${PKGVER}_amd64.deb" Depends)
fleet_deps=$(dpkg-deb -f "$debs/ekvm-fleet_${PKGVER}_amd64.deb" Depends)
[[ $tools_deps != *libvirt* ]] || fail "ekvm-tools depends on libvirt: $tools_deps"
[[ $fleet_deps == *"ekvm-tools (= $PKGVER)"* && $fleet_deps == *libvirt0* ]] ||
	fail "ekvm-fleet does not depend on ekvm-tools (= $PKGVER) and libvirt0: $fleet_deps"
! ldd /usr/bin/ekvm | grep -q libvirt || fail "the installed ekvm links libvirt: $(ldd /usr/bin/ekvm)"
echo "ekvm-tools: Depends: $tools_deps"
rc=0 && out=$(ekvm fleet --help 2>&1) || rc=$?
assert_eq "ekvm fleet without ekvm-fleet: exit status" 2 "$rc"
assert_eq "ekvm fleet without ekvm-fleet" "ekvm fleet: ekvm-fleet is not installed (install the ekvm-fleet package): /usr/libexec/ekvm/ekvm-fleet: No such file or directory" "$out"
apt_q install "$debs/ekvm-fleet_${PKGVER}_amd64.deb" >"$TEST_TMP/install-fleet.log" 2>&1 ||
	{ tail -30 "$TEST_TMP/install-fleet.log"; fail "apt install ekvm-fleet failed"; }
[[ $(ekvm fleet --help) == "usage: ekvm fleet plan|rollout|resume|status"* ]] ||
	fail "ekvm fleet --help with ekvm-fleet installed: $(ekvm fleet --help 2>&1)"
echo "ekvm fleet: not installed said in one line; runs /usr/libexec/ekvm/ekvm-fleet once installed"

echo "# 2. headers of another supported kernel"
apt_q install "linux-headers-$later" >"$TEST_TMP/later.log" 2>&1 ||
	{ tail -30 "$TEST_TMP/later.log"; fail "installing linux-headers-$later failed"; }
assert_ekvm_modules "$later" "$release"

if [ -n "$unsup" ]; then
	echo "# 3. headers of an unsupported kernel, $kunsup (Linux $vunsup)"
	apt_q install "$debunsup" >"$TEST_TMP/unsup.log" 2>&1 ||
		{ tail -30 "$TEST_TMP/unsup.log"; fail "installing the $kunsup headers failed"; }
	grep -F "ekvm: skipping kernel $kunsup: it is Linux $vunsup and ekvm has KVM for Linux " \
		"$TEST_TMP/unsup.log" || fail "no skip line for $kunsup: $(grep ekvm "$TEST_TMP/unsup.log")"
	assert_no_ekvm_modules "$kunsup"
	grep -qF "ekvm: skipping kernel $kunsup: it is Linux $vunsup" "/var/lib/ekvm-dkms/skipped/$kunsup" ||
		fail "the kernel hook noted nothing for $kunsup: $(cat "/var/lib/ekvm-dkms/skipped/$kunsup" 2>&1)"
	[[ $(ekvm status) == *"warning: skipping kernel $kunsup: it is Linux $vunsup"* ]] ||
		fail "ekvm status does not warn about $kunsup"
else
	echo "# 3. (no headers of a kernel ekvm has no tree for in the apt lists: nothing to install)"
fi

echo "# 4. upgrade to $next"
EKVM_RELEASE=$((${next##*.})) "$EKVM_TOP/scripts/build-deb.sh" "$TEST_TMP/next" "$next" \
	"${dkms_releases[@]}" >"$TEST_TMP/build-next.log" 2>&1 || { cat "$TEST_TMP/build-next.log"; fail "building $next failed"; }
apt_q install "$TEST_TMP/next/ekvm-dkms_${next}_all.deb" "$TEST_TMP/next/ekvm-tools_${next}_amd64.deb" \
	"$TEST_TMP/next/ekvm-fleet_${next}_amd64.deb" \
	>"$TEST_TMP/upgrade.log" 2>&1 || { tail -30 "$TEST_TMP/upgrade.log"; fail "the upgrade failed"; }
for k in "$base" "$later" "$k612"; do
	assert_ekvm_modules "$k" "${next##*.}"
done
assert_eq "DKMS versions of ekvm" "$next" "$(find /var/lib/dkms/ekvm -mindepth 1 -maxdepth 1 \
	-not -name 'kernel-*' -printf '%f ' | xargs)"
[ ! -e "/usr/src/ekvm-$PKGVER" ] || fail "/usr/src/ekvm-$PKGVER left after the upgrade"
assert_eq "ekvm-fleet after the upgrade" "$next" "$(dpkg-query -W -f '${Version}' ekvm-fleet)"

echo "# 5. purge"
apt_q purge ekvm-fleet ekvm-tools ekvm-dkms >"$TEST_TMP/purge.log" 2>&1 || { tail -30 "$TEST_TMP/purge.log"; fail "purge failed"; }
for k in "$base" "$later" "$k612"; do
	assert_no_ekvm_modules "$k"
done
assert_stock_resolution "$base"
assert_stock_resolution "$k612"
assert_eq "the distro's module files" "$stock" "$(stock_checksums "$base")"
assert_eq "$k612's own KVM modules" "$stock612" "$(stock_checksums "$k612")"
for f in /usr/src/ekvm-* /var/lib/dkms/ekvm /usr/lib/ekvm /etc/kernel/postinst.d/ekvm-dkms \
	/etc/kernel/header_postinst.d/ekvm-dkms /usr/bin/ekvm /usr/libexec/ekvm /var/lib/ekvm-dkms; do
	[ ! -e "$f" ] || fail "$f is left after purge"
done
echo "the host is back as it was"
