#!/usr/bin/env bash
# The RPM install/remove cycle of ekvm-dkms and ekvm-tools, as rpm runs it (rpm -i --nodeps runs
# the scriptlets here; Debian's dkms stands in for the RHEL one): install builds, signs and
# installs ekvm modules for the supported kernels whose headers are present (two 6.1 kernels and
# the 6.12 one: the package carries both bases) and skips the rest; erase leaves no ekvm file and
# the distro's module files untouched.
set -euo pipefail
. "$(dirname "$0")/../lib-pkg.sh"

read -r -a kvers <<<"$(makefile_var DKMS_KVERS_6.1)"
base=$EKVM_KVER other=${kvers[0]} k612=$(makefile_var BASE_KVER_6.12)
rpms="$EKVM_BUILD/rpm" release=$(makefile_var EKVM_RELEASE)
dkms_rpm=$(echo "$rpms/ekvm-dkms-$PKGVER-"*.noarch.rpm) tools_rpm=$(echo "$rpms/ekvm-tools-$PKGVER-"*.x86_64.rpm)
{ [ -f "$dkms_rpm" ] && [ -f "$tools_rpm" ]; } || fail "no RPMs in $rpms: run make rpm first"

lifecycle_begin "$base" "$other $k612" rpm -e ekvm-tools ekvm-dkms
stock=$(stock_checksums "$base") stock612=$(kvm_checksums "$k612")

echo "# install"
rpm -i --nodeps "$dkms_rpm" "$tools_rpm" >"$TEST_TMP/install.log" 2>&1 ||
	{ tail -30 "$TEST_TMP/install.log"; fail "rpm -i failed"; }
for k in "$base" "$other" "$k612"; do
	assert_ekvm_modules "$k" "$release"
done
abi=$(awk '$2 == "EKVM_ABI_LEVEL" { print $3 }' "$EKVM_TOP/userspace/include/ekvm-abi.h")
assert_eq "ekvm --version" "ekvm $PKGVER (ekvm ABI $abi)" "$(ekvm --version)"
rpm -q --provides ekvm-dkms | grep -qx "ekvm-abi = $abi" || fail "ekvm-dkms does not provide ekvm-abi = $abi"

echo "# erase"
rpm -e ekvm-tools ekvm-dkms >"$TEST_TMP/erase.log" 2>&1 || { tail -30 "$TEST_TMP/erase.log"; fail "rpm -e failed"; }
for k in "$base" "$other" "$k612"; do
	assert_no_ekvm_modules "$k"
done
assert_stock_resolution "$k612"
assert_eq "the distro's module files" "$stock" "$(stock_checksums "$base")"
assert_eq "$k612's own KVM modules" "$stock612" "$(kvm_checksums "$k612")"
for f in /usr/src/ekvm-* /var/lib/dkms/ekvm /usr/lib/ekvm /etc/kernel/postinst.d/ekvm-dkms /usr/bin/ekvm; do
	[ ! -e "$f" ] || fail "$f is left after rpm -e"
done
echo "the host is back as it was"
