#!/usr/bin/env bash
# The Debian packages of the minimal-profile ekvm kernel (make kernel-deb KCONFIG=minimal):
# names carry the -ekvm kernel release; the image holds vmlinuz and the modules, the ekvm KVM
# modules among them (version, vermagic, series); the headers build an external module; both
# install beside Debian's kernel (dpkg -i, no file of an installed package touched) and purge
# without a trace.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-kernel.sh"

[ "$(id -u)" -eq 0 ] || skip "installs packages: run as root"
image=$KDEBS/linux-image-${KREL}_${PKGVER}-1_amd64.deb
headers=$KDEBS/linux-headers-${KREL}_${PKGVER}-1_amd64.deb
{ [ -f "$image" ] && [ -f "$headers" ]; } || fail "no packages for $KREL in $KDEBS: run make kernel-deb KCONFIG=$KPROFILE"
[ -z "$(find "$KDEBS" -name 'linux-libc-dev*')" ] || fail "linux-libc-dev is shipped: it would replace Debian's"

echo "# contents"
root=$TEST_TMP/image
dpkg -x "$image" "$root"
assert_eq "image package" "linux-image-$KREL" "$(dpkg-deb -f "$image" Package)"
assert_eq "headers package" "linux-headers-$KREL" "$(dpkg-deb -f "$headers" Package)"
abi=$(awk '$2 == "EKVM_ABI_LEVEL" { print $3 }' "$EKVM_TOP/userspace/include/ekvm-abi.h")
[[ ", $(dpkg-deb -f "$image" Provides), " == *", ekvm-abi-$abi, "* ]] ||
	fail "linux-image-$KREL does not provide ekvm-abi-$abi (ekvm-tools depends on it): $(dpkg-deb -f "$image" Provides)"
[ -f "$root/boot/vmlinuz-$KREL" ] || fail "no boot/vmlinuz-$KREL in the image package"
file "$root/boot/vmlinuz-$KREL" | grep -q 'Linux kernel x86 boot executable' || fail "vmlinuz is not a kernel image"
[ -f "$root/boot/config-$KREL" ] || fail "no boot/config-$KREL"
cmp -s "$root/boot/config-$KREL" "$KWORK/config" || fail "the packaged config is not the profile's"
lv=-ekvm
[ "$KPROFILE" = release ] || lv+=-$KPROFILE
for opt in CONFIG_KVM=m CONFIG_KVM_AMD=m CONFIG_KVM_INTEL=m "CONFIG_LOCALVERSION=\"$lv\""; do
	grep -qxF "$opt" "$root/boot/config-$KREL" || fail "$opt not in the packaged config"
done
assert_ekvm_kvm "$root"
# kvm-amd needs the same modules as in Debian's kernel, which the VM harness loads in Debian's
# order (irqbypass, kvm, ccp, kvm-amd): a module more (e.g. sha1_generic for ccp) would not load.
# (module names without a compression suffix: Debian's 6.12 modules are .ko.xz)
deps_of() {
	awk -F': ' '$1 ~ /\/kvm-amd\.ko(\.xz|\.zst|\.gz)?$/ { print $2 }' "$1" | tr ' ' '\n' |
		xargs -rn1 basename | sed -E 's/\.(xz|zst|gz)$//' | sort | paste -sd' '
}
pkg_deps=$(deps_of "$root/lib/modules/$KREL/modules.dep")
[ -n "$pkg_deps" ] || fail "no kvm-amd dependencies in the package's modules.dep"
stock_dep=$EKVM_BUILD/vm/kernel/$KSTOCK/lib/modules/$KSTOCK/modules.dep
if [ -f "$stock_dep" ]; then
	assert_eq "kvm-amd's dependencies, as in Debian's kernel" "$(deps_of "$stock_dep")" "$pkg_deps"
else
	assert_eq "kvm-amd's dependencies" "ccp.ko irqbypass.ko kvm.ko" "$pkg_deps"
fi
nmods=$(find "$root/lib/modules/$KREL" -name '*.ko*' | wc -l)
[ "$nmods" -ge 4 ] || fail "only $nmods modules in the image package"
echo "image: vmlinuz, $nmods modules, kvm.ko $(modinfo -F version "$(module_file "$(kmod_dir "$root")" arch/x86/kvm/kvm)")"

echo "# install beside Debian's kernel"
# No path of the packages may belong to an installed package (directories aside).
(dpkg-deb -c "$image"; dpkg-deb -c "$headers") | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' |
	LC_ALL=C sort -u >"$TEST_TMP/files"
cat /var/lib/dpkg/info/*.list | LC_ALL=C sort -u >"$TEST_TMP/owned"
owned=$(LC_ALL=C comm -12 "$TEST_TMP/files" "$TEST_TMP/owned" | head -3)
[ -z "$owned" ] || fail "files already owned by installed packages: $owned"
cleanup() { dpkg --purge "linux-headers-$KREL" "linux-image-$KREL" >/dev/null 2>&1 || true; }
trap cleanup EXIT
# The kernel packages installed (dpkg-query exits 1 when a pattern matches nothing).
kernel_pkgs() {
	{ dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Version}\n' 'linux-image-*' 'linux-headers-*' 2>/dev/null || true; } |
		awk '$1 == "ii"' | sort
}
stock_before=$(kernel_pkgs)
dpkg -i "$image" "$headers" >"$TEST_TMP/install.log" 2>&1 || { tail -20 "$TEST_TMP/install.log"; fail "dpkg -i failed"; }
[ -f "/boot/vmlinuz-$KREL" ] || fail "no /boot/vmlinuz-$KREL after install"
assert_eq "installed kvm version" "$PKGVER" "$(modinfo -k "$KREL" -F version kvm)"
[ -e "/lib/modules/$KREL/build/Makefile" ] || fail "/lib/modules/$KREL/build is not the headers"

echo "# an external module builds against the headers package"
assert_extmod_builds "/lib/modules/$KREL/build" "linux-headers-$KREL"

echo "# purge"
dpkg --purge "linux-headers-$KREL" "linux-image-$KREL" >"$TEST_TMP/purge.log" 2>&1 ||
	{ tail -20 "$TEST_TMP/purge.log"; fail "dpkg --purge failed"; }
trap - EXIT
for f in "/boot/vmlinuz-$KREL" "/boot/config-$KREL" "/lib/modules/$KREL" "/usr/src/linux-headers-$KREL"; do
	[ ! -e "$f" ] || fail "$f is left after purge"
done
assert_eq "Debian's kernel packages" "$stock_before" \
	"$(kernel_pkgs)"
echo "installed beside Debian's kernels and purged"
