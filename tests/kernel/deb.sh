#!/usr/bin/env bash
# The Debian packages of the minimal-profile ekvm kernel (make kernel-deb KCONFIG=minimal):
# names carry the -ekvm kernel release; the image holds vmlinuz and the modules, the ekvm KVM
# modules among them (version, vermagic, series) and provides ekvm-abi; the headers build an
# external module. Then, in a clean Debian 12 root with Debian's own kernel (never on this
# machine): apt installs the kernel through the linux-image-ekvm-minimal meta-package from a
# local repository, beside Debian's kernel (no file of an installed package touched, initramfs
# made by Debian's hooks); the next release published, apt upgrade brings its kernel beside the
# first; purge leaves the root's kernels as they were.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-kernel.sh"

[ "$(id -u)" -eq 0 ] || skip "installs packages in a root: run as root"
image=$KDEBS/linux-image-${KREL}_${PKGVER}-1_amd64.deb
headers=$KDEBS/linux-headers-${KREL}_${PKGVER}-1_amd64.deb
meta=("$KDEBS/linux-image-ekvm${KFLAVOUR}_${PKGVER}_amd64.deb" "$KDEBS/linux-headers-ekvm${KFLAVOUR}_${PKGVER}_amd64.deb")
next=("$KDEBS/linux-image-${NEXT_KREL}_${NEXT_PKGVER}-1_amd64.deb" "$KDEBS/linux-headers-${NEXT_KREL}_${NEXT_PKGVER}-1_amd64.deb"
	"$KDEBS/linux-image-ekvm${KFLAVOUR}_${NEXT_PKGVER}_amd64.deb" "$KDEBS/linux-headers-ekvm${KFLAVOUR}_${NEXT_PKGVER}_amd64.deb")
for d in "$image" "$headers" "${meta[@]}" "${next[@]}"; do
	[ -f "$d" ] || fail "no $(basename "$d") in $KDEBS: run make kernel-test (or kernel-deb and kernel-next) KCONFIG=$KPROFILE"
done
kernel_root
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

echo "# the meta-packages"
assert_eq "linux-image-ekvm$KFLAVOUR depends on" "linux-image-$KREL (= $PKGVER-1)" "$(dpkg-deb -f "${meta[0]}" Depends)"
assert_eq "linux-headers-ekvm$KFLAVOUR depends on" "linux-image-ekvm$KFLAVOUR (= $PKGVER), linux-headers-$KREL (= $PKGVER-1)" \
	"$(dpkg-deb -f "${meta[1]}" Depends)"
assert_eq "the next linux-image-ekvm$KFLAVOUR depends on" "linux-image-$NEXT_KREL (= $NEXT_PKGVER-1)" "$(dpkg-deb -f "${next[2]}" Depends)"

echo "# an external module builds against the headers package"
dpkg -x "$headers" "$TEST_TMP/headers"
assert_extmod_builds "$TEST_TMP/headers/usr/src/linux-headers-$KREL" "linux-headers-$KREL"

echo "# apt install linux-image-ekvm$KFLAVOUR in a Debian 12 root, beside Debian's kernel"
root=$KROOT # kernel_root's (the contents above were checked in an unpacked image)
# No path of the packages may belong to a package installed in the root (directories aside).
(dpkg-deb -c "$image"; dpkg-deb -c "$headers") | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' |
	LC_ALL=C sort -u >"$TEST_TMP/files"
cat "$root"/var/lib/dpkg/info/*.list | LC_ALL=C sort -u >"$TEST_TMP/owned"
owned=$(LC_ALL=C comm -12 "$TEST_TMP/files" "$TEST_TMP/owned" | head -3)
[ -z "$owned" ] || fail "files already owned by packages of a Debian 12 root: $owned"
# The kernel packages installed (dpkg-query exits 1 when a pattern matches nothing).
kernel_pkgs() {
	# shellcheck disable=SC2016 # dpkg-query's format
	{ in_root dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Version}\n' 'linux-image-*' 'linux-headers-*' 2>/dev/null || true; } |
		awk '$1 == "ii"' | sort
}
stock_before=$(kernel_pkgs)
boot_before=$(ls "$root/boot")
[ -n "$stock_before" ] || fail "no Debian kernel in the root"
# a local repository (trusted: the signed repositories have their own tests, tests/pkg)
repo=$root/srv/kernels
mkdir -p "$repo"
publish() {
	cp "$@" "$repo/"
	(cd "$repo" && dpkg-scanpackages --multiversion . >Packages 2>/dev/null)
	in_root apt-get update -q >"$TEST_TMP/update.log" 2>&1 || { tail -5 "$TEST_TMP/update.log"; fail "apt-get update failed"; }
}
echo "deb [trusted=yes] file:/srv/kernels ./" >"$root/etc/apt/sources.list.d/ekvm-kernels.list"
publish "$image" "$headers" "${meta[@]}"
apt_r() { in_root apt-get -y -q -o Dpkg::Use-Pty=0 --no-install-recommends "$@"; }
apt_r install "linux-image-ekvm$KFLAVOUR" "linux-headers-ekvm$KFLAVOUR" >"$TEST_TMP/install.log" 2>&1 ||
	{ tail -20 "$TEST_TMP/install.log"; fail "apt-get install linux-image-ekvm$KFLAVOUR failed"; }
[ -f "$root/boot/vmlinuz-$KREL" ] || fail "no /boot/vmlinuz-$KREL after install"
[ -s "$root/boot/initrd.img-$KREL" ] || fail "Debian's initramfs hook made no /boot/initrd.img-$KREL"
assert_eq "installed kvm version" "$PKGVER" "$(in_root modinfo -k "$KREL" -F version kvm)"
in_root test -e "/lib/modules/$KREL/build/Makefile" || fail "/lib/modules/$KREL/build is not the headers"
assert_eq "Debian's kernel packages stay" "$stock_before" "$(kernel_pkgs | grep -v -e "-$KREL " -e "-ekvm$KFLAVOUR ")"

echo "# the next release published: apt upgrade brings its kernel"
publish "${next[@]}"
# (apt-get upgrade --with-new-pkgs is what apt upgrade does: the new kernel is a new package)
apt_r --with-new-pkgs upgrade >"$TEST_TMP/upgrade.log" 2>&1 ||
	{ tail -20 "$TEST_TMP/upgrade.log"; fail "apt upgrade failed"; }
# shellcheck disable=SC2016 # dpkg-query's format
assert_eq "linux-image-ekvm$KFLAVOUR after upgrade" "$NEXT_PKGVER" "$(in_root dpkg-query -W -f='${Version}' "linux-image-ekvm$KFLAVOUR")"
[ -f "$root/boot/vmlinuz-$NEXT_KREL" ] || fail "no /boot/vmlinuz-$NEXT_KREL after apt upgrade"
[ -s "$root/boot/initrd.img-$NEXT_KREL" ] || fail "no /boot/initrd.img-$NEXT_KREL after apt upgrade"
assert_eq "the next kernel's kvm version" "$NEXT_PKGVER" "$(in_root modinfo -k "$NEXT_KREL" -F version kvm)"
in_root test -e "/lib/modules/$NEXT_KREL/build/Makefile" || fail "the next kernel's headers are not installed"
# the first kernel stays installed beside it (what booted may be it), as with Debian's kernels
[ -f "$root/boot/vmlinuz-$KREL" ] || fail "apt upgrade removed the running release's kernel"

echo "# purge"
apt_r purge "linux-image-ekvm$KFLAVOUR" "linux-headers-ekvm$KFLAVOUR" "linux-image-$KREL" "linux-headers-$KREL" \
	"linux-image-$NEXT_KREL" "linux-headers-$NEXT_KREL" >"$TEST_TMP/purge.log" 2>&1 ||
	{ tail -20 "$TEST_TMP/purge.log"; fail "apt-get purge failed"; }
for k in "$KREL" "$NEXT_KREL"; do
	for f in "/boot/vmlinuz-$k" "/boot/config-$k" "/boot/initrd.img-$k" "/lib/modules/$k" "/usr/src/linux-headers-$k"; do
		[ ! -e "$root$f" ] || fail "$f is left after purge"
	done
done
assert_eq "the root's kernel packages" "$stock_before" "$(kernel_pkgs)"
assert_eq "the root's /boot" "$boot_before" "$(ls "$root/boot")"
echo "installed through the meta-package beside Debian's kernel, upgraded to $NEXT_PKGVER, purged"
