#!/usr/bin/env bash
# The RPM install/remove cycle of ekvm-dkms and ekvm-tools, as rpm runs it (rpm -i --nodeps runs
# the scriptlets here; Debian's dkms stands in for the RHEL one): install builds, signs and
# installs ekvm modules for the supported kernels whose headers are present and skips the rest;
# erase leaves no ekvm file and the distro's module files untouched.
set -euo pipefail
. "$(dirname "$0")/../lib-pkg.sh"

read -r -a kvers <<<"$(makefile_var DKMS_KVERS_6.1)"
base=$EKVM_KVER other=${kvers[0]}
rpms="$EKVM_BUILD/rpm" release=$(makefile_var EKVM_RELEASE)
dkms_rpm=$(echo "$rpms/ekvm-dkms-$PKGVER-"*.noarch.rpm) tools_rpm=$(echo "$rpms/ekvm-tools-$PKGVER-"*.x86_64.rpm)
{ [ -f "$dkms_rpm" ] && [ -f "$tools_rpm" ]; } || fail "no RPMs in $rpms: run make rpm first"

lifecycle_begin "$base" "$other" rpm -e ekvm-tools ekvm-dkms
stock=$(stock_checksums "$base")

echo "# install"
rpm -i --nodeps "$dkms_rpm" "$tools_rpm" >"$TEST_TMP/install.log" 2>&1 ||
	{ tail -30 "$TEST_TMP/install.log"; fail "rpm -i failed"; }
assert_ekvm_modules "$base" "$release"
assert_ekvm_modules "$other" "$release"
abi=$(awk '$2 == "EKVM_ABI_LEVEL" { print $3 }' "$EKVM_TOP/userspace/include/ekvm-abi.h")
assert_eq "ekvm --version" "ekvm $PKGVER (ekvm ABI $abi)" "$(ekvm --version)"
rpm -q --provides ekvm-dkms | grep -qx "ekvm-abi = $abi" || fail "ekvm-dkms does not provide ekvm-abi = $abi"

echo "# erase"
rpm -e ekvm-tools ekvm-dkms >"$TEST_TMP/erase.log" 2>&1 || { tail -30 "$TEST_TMP/erase.log"; fail "rpm -e failed"; }
assert_no_ekvm_modules "$base"
assert_no_ekvm_modules "$other"
assert_eq "the distro's module files" "$stock" "$(stock_checksums "$base")"
for f in /usr/src/ekvm-* /var/lib/dkms/ekvm /usr/lib/ekvm /etc/kernel/postinst.d/ekvm-dkms /usr/bin/ekvm; do
	[ ! -e "$f" ] || fail "$f is left after rpm -e"
done
echo "the host is back as it was"
