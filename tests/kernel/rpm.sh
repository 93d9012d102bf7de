#!/usr/bin/env bash
# The kernel-ekvm RPMs of the minimal profile (make kernel-rpm KCONFIG=minimal): contents
# (rpm -qlp), install-only provides, scriptlets; the ekvm KVM modules in kernel-ekvm-modules;
# an external module builds against kernel-ekvm-devel; rpm -i runs %posttrans (depmod, and
# kernel-install, which Debian's systemd has too) and rpm -e leaves nothing behind.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-kernel.sh"

[ "$(id -u)" -eq 0 ] || skip "installs packages: run as root"
rel=1
[ "$KPROFILE" = release ] || rel=1.$KPROFILE
main=$KRPMS/kernel-ekvm-$PKGVER-$rel.x86_64.rpm
mods=$KRPMS/kernel-ekvm-modules-$PKGVER-$rel.x86_64.rpm
devel=$KRPMS/kernel-ekvm-devel-$PKGVER-$rel.x86_64.rpm
for r in "$main" "$mods" "$devel"; do
	[ -f "$r" ] || fail "no $(basename "$r") in $KRPMS: run make kernel-rpm KCONFIG=$KPROFILE"
done

echo "# contents"
list() { rpm -qlp "$1" 2>/dev/null; }
has() { list "$1" | grep -xF "$2" >/dev/null || fail "$(basename "$1") has no $2"; }
has "$main" "/lib/modules/$KREL/vmlinuz"
has "$main" "/lib/modules/$KREL/System.map"
has "$main" "/lib/modules/$KREL/config"
has "$main" "/boot/vmlinuz-$KREL"
rpm -qp --dump "$main" 2>/dev/null | awk -v f="/boot/vmlinuz-$KREL" '$1 == f { g = 1 } END { exit !g }' ||
	fail "no /boot/vmlinuz-$KREL entry"
for m in kvm kvm-amd kvm-intel; do
	list "$mods" | grep -xE "/lib/modules/$KREL/kernel/arch/x86/kvm/$m\.ko(\.xz|\.zst|\.gz)?" >/dev/null ||
		fail "$(basename "$mods") has no $m.ko"
done
has "$devel" "/usr/src/kernels/$KREL/Makefile"
has "$devel" "/usr/src/kernels/$KREL/Module.symvers"
has "$devel" "/lib/modules/$KREL/build"
# every file of every package lives under a path named by the kernel release (side by side)
others=$(for r in "$main" "$mods" "$devel"; do list "$r"; done | grep -vE "^(/lib/modules/$KREL|/usr/src/kernels/$KREL|/boot/[a-zA-Z.]+-$KREL(\\.img)?$|/usr/share/licenses/kernel-ekvm)" || true)
[ -z "$others" ] || fail "paths not named by $KREL: $(echo "$others" | head -3 | tr '\n' ' ')"

echo "# install-only provides and scriptlets"
rpm -qp --provides "$main" 2>/dev/null | grep -x 'installonlypkg(kernel)' >/dev/null || fail "kernel-ekvm does not provide installonlypkg(kernel)"
rpm -qp --provides "$mods" 2>/dev/null | grep -x 'installonlypkg(kernel-module)' >/dev/null || fail "kernel-ekvm-modules does not provide installonlypkg(kernel-module)"
abi=$(awk '$2 == "EKVM_ABI_LEVEL" { print $3 }' "$EKVM_TOP/userspace/include/ekvm-abi.h")
rpm -qp --provides "$mods" 2>/dev/null | grep -x "ekvm-abi = $abi" >/dev/null ||
	fail "kernel-ekvm-modules does not provide ekvm-abi = $abi (ekvm-tools requires it): $(rpm -qp --provides "$mods" 2>&1 | xargs)"
rpm -qp --provides "$devel" 2>/dev/null | grep -x 'installonlypkg(kernel)' >/dev/null || fail "kernel-ekvm-devel does not provide installonlypkg(kernel)"
scripts=$(rpm -qp --scripts "$main" 2>/dev/null)
echo "$scripts" | grep -q '^posttrans scriptlet' || fail "kernel-ekvm has no %posttrans"
echo "$scripts" | grep -qF "/usr/bin/kernel-install add $KREL /lib/modules/$KREL/vmlinuz" || fail "%posttrans does not run kernel-install add"
echo "$scripts" | grep -qF "[ -x /usr/bin/kernel-install ]" || fail "%posttrans runs kernel-install even where there is none"
echo "$scripts" | grep -qF "depmod -a $KREL" || fail "%posttrans does not run depmod"
echo "$scripts" | grep -qF "/usr/bin/kernel-install remove $KREL" || fail "%preun does not run kernel-install remove"
# the scriptlets are valid sh
rpm -qp --queryformat '%{POSTTRANS}\n' "$main" 2>/dev/null | sh -n || fail "%posttrans is not valid sh"
rpm -qp --queryformat '%{PREUN}\n' "$main" 2>/dev/null | sh -n || fail "%preun is not valid sh"

echo "# the ekvm KVM modules"
root=$TEST_TMP/root
mkdir -p "$root"
for r in "$main" "$mods" "$devel"; do
	(cd "$root" && rpm2cpio "$r" | cpio -idm --quiet)
done
assert_ekvm_kvm "$root"
file "$root/lib/modules/$KREL/vmlinuz" | grep -q 'Linux kernel x86 boot executable' || fail "vmlinuz is not a kernel image"
cmp -s "$root/lib/modules/$KREL/config" "$KWORK/config" || fail "the packaged config is not the profile's"

echo "# an external module builds against kernel-ekvm-devel"
assert_extmod_builds "$root/usr/src/kernels/$KREL" kernel-ekvm-devel

echo "# rpm -i and rpm -e"
# --nodeps: the dependencies are RHEL packages (kmod), which Debian's rpm database does not know
cleanup() { rpm -e --nodeps kernel-ekvm-devel kernel-ekvm-modules kernel-ekvm >/dev/null 2>&1 || true; }
trap cleanup EXIT
rpm -i --nodeps "$main" "$mods" "$devel" >"$TEST_TMP/install.log" 2>&1 ||
	{ tail -20 "$TEST_TMP/install.log"; fail "rpm -i failed"; }
[ -s "/lib/modules/$KREL/modules.dep" ] || fail "%posttrans did not run depmod"
assert_eq "installed kvm version" "$PKGVER" "$(modinfo -k "$KREL" -F version kvm)"
rpm -e kernel-ekvm-devel kernel-ekvm-modules kernel-ekvm >"$TEST_TMP/erase.log" 2>&1 ||
	{ tail -20 "$TEST_TMP/erase.log"; fail "rpm -e failed"; }
trap - EXIT
for f in "/lib/modules/$KREL" "/usr/src/kernels/$KREL" "/boot/vmlinuz-$KREL"; do
	[ ! -e "$f" ] || fail "$f is left after rpm -e"
done
echo "kernel-ekvm $PKGVER-$rel: contents, provides, scriptlets, install and erase"
