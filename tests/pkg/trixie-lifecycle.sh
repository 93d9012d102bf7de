#!/usr/bin/env bash
# The .deb lifecycle on a Debian 13 (trixie) root, as a Debian 13 host meets it: trixie's own
# dkms (3.2.2), gcc-14 and the 6.12.117+deb13 kernel (image and headers), in a clean root made by
# scripts/suite-root.sh from Debian's archive (cached in build/roots/), entered with chroot in a
# private mount namespace.
#  1. install ekvm-dkms and ekvm-tools (make deb's): DKMS builds the 6.12.117 tree with trixie's
#     compiler (its list serves Debian 6.12.117-1), signs and installs the modules as .ko.xz in
#     updates/dkms; modprobe resolves kvm_amd to them; ekvm status in the root agrees; what DKMS
#     3.2 did with the kernel's own kvm*.ko.xz is recorded (it may move them to its
#     original_module folder);
#  2. the modules boot: the VM harness boots Debian 13's kernel (its image from trixie's archive)
#     with them: identity, tool and histogram tests, the smoke guest, the module reload;
#  3. purge: the kernel's own KVM modules back, byte-identical; dpkg --verify of the kernel image
#     clean; no ekvm file left; modprobe resolves kvm_amd to the kernel's own module.
set -euo pipefail
. "$(dirname "$0")/../lib-pkg.sh"

k13=$(makefile_var TRIXIE_KVER)
[ -n "$k13" ] || fail "no TRIXIE_KVER in the Makefile"
debs="$EKVM_BUILD/deb"
[ -f "$debs/ekvm-dkms_${PKGVER}_all.deb" ] || fail "no packages in $debs: run make deb first"
smoke="$EKVM_BUILD/userspace/ekvm-static"
[ -x "$smoke" ] || fail "no $smoke: make -C userspace static"

trixie_root "$k13"
kvmdir=lib/modules/$k13/kernel/arch/x86/kvm
# the kernel's own KVM modules with their checksums (nothing when they are not there)
sums() { (cd "$root/$kvmdir" && find . \( -name 'kvm*.ko' -o -name 'kvm*.ko.xz' \) -exec sha256sum {} + | LC_ALL=C sort); }
# the KVM modules modprobe loads for kvm_amd (not irqbypass, ccp), in load order
resolve() { in_root modprobe -S "$k13" --show-depends kvm_amd | awk '$1 == "insmod" && $2 ~ /\/kvm[^\/]*$/ { print $2 }' | xargs; }

# shellcheck disable=SC2016 # dpkg-query's format
echo "# trixie root: dkms $(in_root dpkg-query -W -f '${Version}' dkms), $(in_root sh -c 'ls /usr/bin/gcc-[0-9]*' | xargs)"
stock=$(sums)
[ -n "$stock" ] || fail "$k13 has no KVM modules of its own in the root"
in_root dpkg --verify "linux-image-$k13" || fail "linux-image-$k13 does not verify before the test"
assert_eq "resolution before" "/$kvmdir/kvm.ko.xz /$kvmdir/kvm-amd.ko.xz" "$(resolve)"

echo "# 1. install"
mkdir -p "$root/tmp/ekvm"
cp "$debs/ekvm-dkms_${PKGVER}_all.deb" "$debs/ekvm-tools_${PKGVER}_amd64.deb" "$root/tmp/ekvm/"
in_root apt-get install -y -q --no-install-recommends "/tmp/ekvm/ekvm-dkms_${PKGVER}_all.deb" \
	"/tmp/ekvm/ekvm-tools_${PKGVER}_amd64.deb" >"$TEST_TMP/install.log" 2>&1 ||
	{ tail -30 "$TEST_TMP/install.log"; fail "apt install in the trixie root failed"; }
# (dkms 3.2 ends its progress lines with a carriage return)
tr -d '\r' <"$TEST_TMP/install.log" | grep -qxF "ekvm: kernel $k13 now has ekvm $PKGVER's KVM modules" ||
	fail "no modules line for $k13: $(grep -i 'ekvm\|dkms\|error' "$TEST_TMP/install.log" | tail -8)"
want=$(makefile_var BASE_VERSION_6.12).$(makefile_var EKVM_RELEASE)
upd=$root/lib/modules/$k13/updates/dkms
for m in kvm kvm-intel kvm-amd; do
	f=$upd/$m.ko.xz
	[ -f "$f" ] || fail "no $m.ko.xz in updates/dkms: $(ls "$upd" 2>&1)"
	assert_eq "$m version" "$want" "$(in_root modinfo -F version "/lib/modules/$k13/updates/dkms/$m.ko.xz")"
	magic=$(in_root modinfo -F vermagic "/lib/modules/$k13/updates/dkms/$m.ko.xz")
	assert_eq "$m vermagic's kernel" "$k13" "${magic%% *}"
	[ -n "$(in_root modinfo -F signer "/lib/modules/$k13/updates/dkms/$m.ko.xz")" ] || fail "$m is not signed"
done
assert_eq "resolution with ekvm" "/lib/modules/$k13/updates/dkms/kvm.ko.xz /lib/modules/$k13/updates/dkms/kvm-amd.ko.xz" "$(resolve)"
in_root ekvm status --json >"$TEST_TMP/status.json"
assert_eq "ekvm status for $k13" "updates True $want" "$(python3 -c 'import json, sys
k = [k for k in json.load(open(sys.argv[1]))["kernels"] if k["kernel"] == sys.argv[2]][0]
print(k["origin"], k["ekvm"], k["version"])' "$TEST_TMP/status.json" "$k13")"
# DKMS 3.1 and later move the kernel's own modules of the same name aside (original_module/)
# and put them back on removal; 3.0 (Debian 12) leaves them in place.
aside=$root/var/lib/dkms/ekvm/original_module/$k13/x86_64
if [ -z "$(sums)" ]; then
	assert_eq "the kernel's own KVM modules, moved aside by DKMS" "$stock" \
		"$(cd "$aside" && find . \( -name 'kvm*.ko' -o -name 'kvm*.ko.xz' \) -exec sha256sum {} + | LC_ALL=C sort)"
	where="moved to ${aside#"$root"} by DKMS, byte-identical"
else
	assert_eq "the kernel's own KVM modules" "$stock" "$(sums)"
	where="in place"
fi
echo "$k13: ekvm $want (.ko.xz), signed, resolved by modprobe; the kernel's own kvm*.ko.xz $where"

echo "# 2. the modules in Debian 13's kernel (VM harness)"
mods=$TEST_TMP/modules
mkdir -p "$mods" && cp "$upd"/kvm*.ko.xz "$mods/"
"$EKVM_TOP/tests/vm/run.sh" -k "$k13" -e "$mods" -s ekvm,extra,reload \
	-f '^ekvm/(identity|tool|hist)_test$|^extra/' -n 1 -x "$smoke" -o "$TEST_TMP/vm" >"$TEST_TMP/vm.log" 2>&1 ||
	{ tail -30 "$TEST_TMP/vm.log"; fail "the modules DKMS built on trixie failed the VM harness"; }
grep -E '^[0-9]+ passed' "$TEST_TMP/vm.log"

echo "# 3. purge"
in_root apt-get purge -y -q ekvm-tools ekvm-dkms >"$TEST_TMP/purge.log" 2>&1 ||
	{ tail -30 "$TEST_TMP/purge.log"; fail "purge in the trixie root failed"; }
assert_eq "the kernel's own KVM modules after purge" "$stock" "$(sums)"
in_root dpkg --verify "linux-image-$k13" || fail "linux-image-$k13 does not verify after purge"
assert_eq "resolution after purge" "/$kvmdir/kvm.ko.xz /$kvmdir/kvm-amd.ko.xz" "$(resolve)"
for f in "/lib/modules/$k13/updates/dkms" /var/lib/dkms/ekvm /usr/src/ekvm-"$PKGVER" /usr/lib/ekvm \
	/var/lib/ekvm-dkms /usr/bin/ekvm /etc/kernel/postinst.d/ekvm-dkms; do
	# (DKMS may leave an empty updates/dkms)
	[ -z "$(find "$root$f" \( -name '*ekvm*' -o -name 'kvm*' \) 2>/dev/null | head -1)" ] ||
		fail "$f is left after purge"
done
echo "the trixie root is back as it was: the kernel's KVM byte-identical, dpkg --verify clean"
