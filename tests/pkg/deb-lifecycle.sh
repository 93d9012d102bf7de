#!/usr/bin/env bash
# The .deb lifecycle of ekvm-dkms and ekvm-tools on this machine, as an operator meets it:
#  1. install with two supported kernels' headers present: ekvm modules built, signed and
#     installed for both, modprobe resolves to them, `ekvm status` agrees, and the installed
#     modules boot in the VM harness (identity test, smoke guest, module reload);
#  2. install the headers of another supported ABI: its ekvm modules appear by themselves;
#  3. install the headers of an unsupported kernel (6.12): apt succeeds, one skip line;
#  4. upgrade to the next release: every kernel rebuilt, nothing of the old release left;
#  5. purge: stock resolution back, no ekvm file left, the distro's module files untouched.
set -euo pipefail
. "$(dirname "$0")/../lib-pkg.sh"

read -r -a kvers <<<"$(makefile_var DKMS_KVERS_6.1)"
read -r -a dkms_releases <<<"$(makefile_var DKMS_RELEASES_6.1)"
base=$EKVM_KVER other=${kvers[0]} later=${kvers[2]}
debs="$EKVM_BUILD/deb" next="$EKVM_VERSION_BASE.$(($(makefile_var EKVM_RELEASE) + 1))"
[ -f "$debs/ekvm-dkms_${PKGVER}_all.deb" ] || fail "no packages in $debs: run make deb first"
deb612=$(headers_612_deb)
k612=$(basename "$deb612" .deb) && k612=${k612#linux-headers-}

lifecycle_begin "$base" "$other" apt_q purge ekvm-tools ekvm-dkms
stock=$(stock_checksums "$base")
resolution "$base" | grep -qx "/lib/modules/$base/kernel/arch/x86/kvm/kvm-amd.ko" ||
	fail "stock modules do not resolve: $(resolution "$base")"

echo "# 1. install"
apt_q install "$debs/ekvm-dkms_${PKGVER}_all.deb" "$debs/ekvm-tools_${PKGVER}_amd64.deb" \
	>"$TEST_TMP/install.log" 2>&1 || { tail -30 "$TEST_TMP/install.log"; fail "apt install failed"; }
assert_ekvm_modules "$base" "$(makefile_var EKVM_RELEASE)"
assert_ekvm_modules "$other" "$(makefile_var EKVM_RELEASE)"
ekvm status --json >"$TEST_TMP/status.json"
status=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
k = [k for k in d["kernels"] if k["kernel"] == sys.argv[2]][0]
print(k["origin"], k["ekvm"], k["version"], k["signer"], d["tool"]["version"])' "$TEST_TMP/status.json" "$base")
assert_eq "ekvm status for $base" "updates True $EKVM_VERSION_BASE.$(makefile_var EKVM_RELEASE) DKMS module signing key $PKGVER" "$status"
smoke="$EKVM_BUILD/userspace/ekvm-static"
[ -x "$smoke" ] || fail "no $smoke: make -C userspace static"
"$EKVM_TOP/tests/vm/run.sh" -k "$base" -e "/lib/modules/$base/updates/dkms" -s ekvm,extra,reload \
	-n 1 -x "$smoke" -o "$TEST_TMP/vm" >"$TEST_TMP/vm.log" 2>&1 ||
	{ tail -30 "$TEST_TMP/vm.log"; fail "the installed modules failed the VM harness"; }
grep -E '^[0-9]+ passed' "$TEST_TMP/vm.log"

echo "# 2. headers of another supported kernel"
apt_q install "linux-headers-$later" >"$TEST_TMP/later.log" 2>&1 ||
	{ tail -30 "$TEST_TMP/later.log"; fail "installing linux-headers-$later failed"; }
assert_ekvm_modules "$later" "$(makefile_var EKVM_RELEASE)"

echo "# 3. headers of an unsupported kernel"
apt_q install "$deb612" >"$TEST_TMP/612.log" 2>&1 ||
	{ tail -30 "$TEST_TMP/612.log"; fail "installing the $k612 headers failed"; }
grep "^ekvm: skipping kernel $k612: it is Linux 6\.12\." "$TEST_TMP/612.log" ||
	fail "no skip line for $k612: $(grep ekvm "$TEST_TMP/612.log")"
assert_no_ekvm_modules "$k612"

echo "# 4. upgrade to $next"
EKVM_RELEASE=$((${next##*.})) "$EKVM_TOP/scripts/build-deb.sh" "$TEST_TMP/next" "$next" \
	"${dkms_releases[@]}" >"$TEST_TMP/build-next.log" 2>&1 || { cat "$TEST_TMP/build-next.log"; fail "building $next failed"; }
apt_q install "$TEST_TMP/next/ekvm-dkms_${next}_all.deb" "$TEST_TMP/next/ekvm-tools_${next}_amd64.deb" \
	>"$TEST_TMP/upgrade.log" 2>&1 || { tail -30 "$TEST_TMP/upgrade.log"; fail "the upgrade failed"; }
for k in "$base" "$other" "$later"; do
	assert_ekvm_modules "$k" "${next##*.}"
done
assert_eq "DKMS versions of ekvm" "$next" "$(find /var/lib/dkms/ekvm -mindepth 1 -maxdepth 1 \
	-not -name 'kernel-*' -printf '%f ' | xargs)"
[ ! -e "/usr/src/ekvm-$PKGVER" ] || fail "/usr/src/ekvm-$PKGVER left after the upgrade"

echo "# 5. purge"
apt_q purge ekvm-tools ekvm-dkms >"$TEST_TMP/purge.log" 2>&1 || { tail -30 "$TEST_TMP/purge.log"; fail "purge failed"; }
for k in "$base" "$other" "$later"; do
	assert_no_ekvm_modules "$k"
done
resolution "$base" | grep -qx "/lib/modules/$base/kernel/arch/x86/kvm/kvm-amd.ko" ||
	fail "stock resolution not back: $(resolution "$base")"
assert_eq "the distro's module files" "$stock" "$(stock_checksums "$base")"
for f in /usr/src/ekvm-* /var/lib/dkms/ekvm /usr/lib/ekvm /etc/kernel/postinst.d/ekvm-dkms \
	/etc/kernel/header_postinst.d/ekvm-dkms /usr/bin/ekvm; do
	[ ! -e "$f" ] || fail "$f is left after purge"
done
echo "the host is back as it was"
