#!/usr/bin/env bash
# The RPM install/remove cycle of ekvm-dkms, ekvm-tools and ekvm-fleet, as rpm runs it (rpm -i
# --nodeps runs the scriptlets here; Debian's dkms stands in for the RHEL one): install builds,
# signs and installs ekvm modules for the supported kernels whose headers are present (a 6.1
# kernel and the 6.12 one: the package carries both bases) and skips the rest; ekvm-tools does
# not require libvirt and `ekvm fleet` says in one line that ekvm-fleet is not installed until it
# is; erase leaves no ekvm file and the distro's module files untouched.
set -euo pipefail
. "$(dirname "$0")/../lib-pkg.sh"

base=$EKVM_KVER k612=$(makefile_var BASE_KVER_6.12)
rpms="$EKVM_BUILD/rpm" release=$(makefile_var EKVM_RELEASE)
dkms_rpm=$(echo "$rpms/ekvm-dkms-$PKGVER-"*.noarch.rpm) tools_rpm=$(echo "$rpms/ekvm-tools-$PKGVER-"*.x86_64.rpm)
fleet_rpm=$(echo "$rpms/ekvm-fleet-$PKGVER-"*.x86_64.rpm)
{ [ -f "$dkms_rpm" ] && [ -f "$tools_rpm" ] && [ -f "$fleet_rpm" ]; } || fail "no RPMs in $rpms: run make rpm first"
# rpm_erase: erases the ekvm packages installed (rpm -e refuses a list with one not installed)
rpm_erase() {
	local p
	for p in ekvm-fleet ekvm-tools ekvm-dkms; do
		! rpm -q "$p" >/dev/null 2>&1 || rpm -e "$p" || return
	done
}

lifecycle_begin "$base" "$k612" rpm_erase
stock=$(stock_checksums "$base") stock612=$(stock_checksums "$k612")

echo "# install"
rpm -i --nodeps "$dkms_rpm" "$tools_rpm" >"$TEST_TMP/install.log" 2>&1 ||
	{ tail -30 "$TEST_TMP/install.log"; fail "rpm -i failed"; }
for k in "$base" "$k612"; do
	assert_ekvm_modules "$k" "$release"
done
abi=$(awk '$2 == "EKVM_ABI_LEVEL" { print $3 }' "$EKVM_TOP/userspace/include/ekvm-abi.h")
assert_eq "ekvm --version" "ekvm $PKGVER (ekvm ABI $abi)" "$(ekvm --version)"
rpm -q --provides ekvm-dkms | grep -qx "ekvm-abi = $abi" || fail "ekvm-dkms does not provide ekvm-abi = $abi"
# the fleet controller is a package of its own: only it requires libvirt
! rpm -q --requires ekvm-tools | grep -q libvirt || fail "ekvm-tools requires libvirt: $(rpm -q --requires ekvm-tools | xargs)"
fleet_reqs=$(rpm -qp --requires "$fleet_rpm")
grep -q '^libvirt\.so\.0' <<<"$fleet_reqs" || fail "ekvm-fleet does not require libvirt.so.0: $(xargs <<<"$fleet_reqs")"
grep -q "^ekvm-tools(x86-64) = $PKGVER-" <<<"$fleet_reqs" || fail "ekvm-fleet does not require ekvm-tools = $PKGVER: $(xargs <<<"$fleet_reqs")"
rc=0 && out=$(ekvm fleet --help 2>&1) || rc=$?
assert_eq "ekvm fleet without ekvm-fleet: exit status" 2 "$rc"
assert_eq "ekvm fleet without ekvm-fleet" "ekvm fleet: ekvm-fleet is not installed (install the ekvm-fleet package): /usr/libexec/ekvm/ekvm-fleet: No such file or directory" "$out"
rpm -i --nodeps "$fleet_rpm" >"$TEST_TMP/install-fleet.log" 2>&1 || { tail -30 "$TEST_TMP/install-fleet.log"; fail "rpm -i ekvm-fleet failed"; }
[[ $(ekvm fleet --help) == "usage: ekvm fleet plan|rollout|resume|status"* ]] ||
	fail "ekvm fleet --help with ekvm-fleet installed: $(ekvm fleet --help 2>&1)"
echo "ekvm fleet: not installed said in one line; runs /usr/libexec/ekvm/ekvm-fleet once installed"

echo "# erase"
rpm -e ekvm-fleet ekvm-tools ekvm-dkms >"$TEST_TMP/erase.log" 2>&1 || { tail -30 "$TEST_TMP/erase.log"; fail "rpm -e failed"; }
for k in "$base" "$k612"; do
	assert_no_ekvm_modules "$k"
done
assert_stock_resolution "$k612"
assert_eq "the distro's module files" "$stock" "$(stock_checksums "$base")"
assert_eq "$k612's own KVM modules" "$stock612" "$(stock_checksums "$k612")"
for f in /usr/src/ekvm-* /var/lib/dkms/ekvm /usr/lib/ekvm /etc/kernel/postinst.d/ekvm-dkms /usr/bin/ekvm \
	/usr/libexec/ekvm /var/lib/ekvm-dkms; do
	[ ! -e "$f" ] || fail "$f is left after rpm -e"
done
echo "the host is back as it was"
