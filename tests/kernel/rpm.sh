#!/usr/bin/env bash
# The kernel-ekvm RPMs of the minimal profile (make kernel-rpm KCONFIG=minimal), what a RHEL-family
# host expects of a kernel package: contents (rpm -qlp) laid out as RHEL's kernel-core (symvers.gz,
# the FIPS .vmlinuz.hmac), install-only and <name>-uname-r provides, ekvm-abi, Requires(pre),
# the licence, scriptlets; the EL config (SELinux first among the LSMs, every LSM one the tree
# has); the ekvm KVM modules in kernel-ekvm-modules; an external module builds against
# kernel-ekvm-devel. Then rpm --root in a clean Debian 12 root (never on this machine): rpm -i runs
# %posttrans (depmod, and kernel-install, which Debian's systemd has too), rpm -U to the next
# release replaces it, rpm -e leaves nothing behind.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-kernel.sh"

[ "$(id -u)" -eq 0 ] || skip "installs packages: run as root"
rel=1
[ "$KPROFILE" = release ] || rel=1.$KPROFILE
main=$KRPMS/kernel-ekvm-$PKGVER-$rel.x86_64.rpm
mods=$KRPMS/kernel-ekvm-modules-$PKGVER-$rel.x86_64.rpm
devel=$KRPMS/kernel-ekvm-devel-$PKGVER-$rel.x86_64.rpm
next=("$KRPMS/kernel-ekvm-$NEXT_PKGVER-$rel.x86_64.rpm" "$KRPMS/kernel-ekvm-modules-$NEXT_PKGVER-$rel.x86_64.rpm"
	"$KRPMS/kernel-ekvm-devel-$NEXT_PKGVER-$rel.x86_64.rpm")
for r in "$main" "$mods" "$devel" "${next[@]}"; do
	[ -f "$r" ] || fail "no $(basename "$r") in $KRPMS: run make kernel-test (or kernel-rpm and kernel-next) KCONFIG=$KPROFILE"
done
kernel_root

echo "# contents"
list() { rpm -qlp "$1" 2>/dev/null; }
has() { list "$1" | grep -xF "$2" >/dev/null || fail "$(basename "$1") has no $2"; }
has "$main" "/lib/modules/$KREL/vmlinuz"
has "$main" "/lib/modules/$KREL/System.map"
has "$main" "/lib/modules/$KREL/config"
has "$main" "/lib/modules/$KREL/symvers.gz"
has "$main" "/lib/modules/$KREL/.vmlinuz.hmac"
for f in "/boot/vmlinuz-$KREL" "/boot/.vmlinuz-$KREL.hmac" "/boot/symvers-$KREL.gz" "/boot/initramfs-$KREL.img"; do
	has "$main" "$f"
done
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
others=$(for r in "$main" "$mods" "$devel"; do list "$r"; done | grep -vE "^(/lib/modules/$KREL|/usr/src/kernels/$KREL|/boot/\\.?[a-zA-Z.]+-$KREL(\\.img|\\.gz|\\.hmac)?$|/usr/share/licenses/kernel-ekvm)" || true)
[ -z "$others" ] || fail "paths not named by $KREL: $(echo "$others" | head -3 | tr '\n' ' ')"

echo "# install-only provides and scriptlets"
rpm -qp --provides "$main" 2>/dev/null | grep -x 'installonlypkg(kernel)' >/dev/null || fail "kernel-ekvm does not provide installonlypkg(kernel)"
rpm -qp --provides "$mods" 2>/dev/null | grep -x 'installonlypkg(kernel-module)' >/dev/null || fail "kernel-ekvm-modules does not provide installonlypkg(kernel-module)"
abi=$(awk '$2 == "EKVM_ABI_LEVEL" { print $3 }' "$EKVM_TOP/userspace/include/ekvm-abi.h")
rpm -qp --provides "$mods" 2>/dev/null | grep -x "ekvm-abi = $abi" >/dev/null ||
	fail "kernel-ekvm-modules does not provide ekvm-abi = $abi (ekvm-tools requires it): $(rpm -qp --provides "$mods" 2>&1 | xargs)"
rpm -qp --provides "$devel" 2>/dev/null | grep -x 'installonlypkg(kernel)' >/dev/null || fail "kernel-ekvm-devel does not provide installonlypkg(kernel)"
# what akmods, dkms and kernel-devel users match on EL: <name>-uname-r = uname -r
provides() { rpm -qp --provides "$1" 2>/dev/null | grep -xF "$2" >/dev/null || fail "$(basename "$1") does not provide $2"; }
# (rpm takes one "-" in a version-release: a test profile's 6.1.192.4-ekvm-minimal has two, so
# its packages go without them, and the spec is queried for the release's 6.1.192.4-ekvm)
if [[ $KREL == *-*-* ]]; then
	! rpm -qp --provides "$main" "$mods" "$devel" 2>/dev/null | grep -q 'uname-r' ||
		fail "kernel-ekvm provides a kernel-*-uname-r for $KREL, which rpm cannot compare"
	rk=${KREL%-"$KPROFILE"}
	spec=$(rpmspec -q --provides --define "ekvm_version $PKGVER" --define "base_version $KBASE" \
		--define "krel $rk" --define "ekvm_uname_r $rk" --define "ekvm_abi 1" \
		"$EKVM_TOP/packaging/rpm/kernel-ekvm.spec" 2>&1) || fail "rpmspec: $spec"
	for want in "kernel-uname-r = $rk" "kernel-core-uname-r = $rk" "kernel-modules-uname-r = $rk" \
		"kernel-modules-core-uname-r = $rk" "kernel-devel-uname-r = $rk"; do
		grep -qxF "$want" <<<"$spec" || fail "the spec for the release kernel $rk does not provide $want"
	done
else
	provides "$main" "kernel-uname-r = $KREL"
	provides "$main" "kernel-core-uname-r = $KREL"
	provides "$mods" "kernel-modules-uname-r = $KREL"
	provides "$devel" "kernel-devel-uname-r = $KREL"
fi
# RHEL's kernel-core needs kernel-install and dracut before it installs
pre=$(rpm -qp --qf '[%{REQUIREFLAGS:deptype} %{REQUIRENAME} %{REQUIREVERSION}\n]' "$main" 2>/dev/null)
for want in "pre /usr/bin/kernel-install " "pre dracut 027" "pre coreutils " "preun /usr/bin/kernel-install "; do
	grep -qxF "$want" <<<"$pre" || fail "kernel-ekvm does not have Requires($want): $(echo "$pre" | xargs)"
done
assert_eq "licence" "GPL-2.0-only WITH Linux-syscall-note" "$(rpm -qp --qf '%{LICENSE}' "$main" 2>/dev/null)"
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
root=$TEST_TMP/unpacked
mkdir -p "$root"
for r in "$main" "$mods" "$devel"; do
	(cd "$root" && rpm2cpio "$r" | cpio -idm --quiet)
done
assert_ekvm_kvm "$root"
file "$root/lib/modules/$KREL/vmlinuz" | grep -q 'Linux kernel x86 boot executable' || fail "vmlinuz is not a kernel image"
cmp -s "$root/lib/modules/$KREL/config" "$KWORK/config-el" || fail "the packaged config is not the profile's EL config"

echo "# the EL config: SELinux first among the major LSMs"
cfg=$root/lib/modules/$KREL/config
grep -qx 'CONFIG_SECURITY_SELINUX=y' "$cfg" || fail "SELinux is not built in"
lsm=$(sed -n 's/^CONFIG_LSM="\(.*\)"$/\1/p' "$cfg")
# the LSMs the tree defines (DEFINE_LSM(name), landlock's through LANDLOCK_NAME)
defined=$(grep -rhoE 'DEFINE_(EARLY_)?LSM\([A-Za-z_]+\)' "$KWORK/linux-$KBASE/security" | sed -E 's/.*\((.*)\)/\1/' |
	sed -e 's/^LANDLOCK_NAME$/landlock/' -e 's/^safesetid_security_init$/safesetid/' | sort -u)
first_major=
for l in ${lsm//,/ }; do
	grep -qxF "$l" <<<"$defined" || fail "CONFIG_LSM names $l, which Linux $KBASE does not have ($lsm)"
	case $l in selinux | apparmor | smack | tomoyo) first_major=${first_major:-$l} ;; esac
done
assert_eq "the first major LSM of CONFIG_LSM=\"$lsm\"" selinux "$first_major"
for l in apparmor smack tomoyo; do
	! grep -qx "CONFIG_SECURITY_${l^^}=y" "$cfg" || fail "CONFIG_SECURITY_${l^^} is set in the EL config"
done

echo "# symvers.gz and the FIPS HMAC"
gzip -dc "$root/lib/modules/$KREL/symvers.gz" | cmp -s - "$root/usr/src/kernels/$KREL/Module.symvers" ||
	fail "symvers.gz is not the kernel's Module.symvers"
# libkcapi's sha512hmac format: HMAC-SHA512 with the hmaccalc key, then two spaces and the name
# of the file in /boot it checks (computed here with Python's hmac, not the spec's openssl)
want=$(python3 -c 'import hmac, hashlib, sys; print(hmac.new(b"FIPS-FTW-RHT2009", open(sys.argv[1], "rb").read(), hashlib.sha512).hexdigest())' \
	"$root/lib/modules/$KREL/vmlinuz")
assert_eq ".vmlinuz.hmac" "$want  vmlinuz-$KREL" "$(cat "$root/lib/modules/$KREL/.vmlinuz.hmac")"

echo "# an external module builds against kernel-ekvm-devel"
assert_extmod_builds "$root/usr/src/kernels/$KREL" kernel-ekvm-devel

echo "# rpm -i, rpm -U to the next release, rpm -e, in a Debian 12 root"
root=$KROOT
# --nodeps: the dependencies are RHEL packages (dracut, kmod), which the root's rpm database
# does not know; the scriptlets run in the root (chroot)
rpm_r() { rpm --root "$root" "$@"; }
rpm_r --initdb
rpm_r -i --nodeps "$main" "$mods" "$devel" >"$TEST_TMP/install.log" 2>&1 ||
	{ tail -20 "$TEST_TMP/install.log"; fail "rpm -i failed"; }
[ -s "$root/lib/modules/$KREL/modules.dep" ] || fail "%posttrans did not run depmod"
assert_eq "installed kvm version" "$PKGVER" "$(in_root modinfo -k "$KREL" -F version kvm)"
rpm_r -U --nodeps "${next[@]}" >"$TEST_TMP/upgrade.log" 2>&1 ||
	{ tail -20 "$TEST_TMP/upgrade.log"; fail "rpm -U to $NEXT_PKGVER failed"; }
assert_eq "after rpm -U" "kernel-ekvm-$NEXT_PKGVER-$rel kernel-ekvm-devel-$NEXT_PKGVER-$rel kernel-ekvm-modules-$NEXT_PKGVER-$rel" \
	"$(rpm_r -qa --qf '%{NAME}-%{VERSION}-%{RELEASE}\n' | sort | xargs)"
[ -s "$root/lib/modules/$NEXT_KREL/modules.dep" ] || fail "%posttrans did not run depmod for $NEXT_KREL"
assert_eq "the next release's kvm version" "$NEXT_PKGVER" "$(in_root modinfo -k "$NEXT_KREL" -F version kvm)"
for f in "/lib/modules/$KREL" "/usr/src/kernels/$KREL" "/boot/vmlinuz-$KREL"; do
	[ ! -e "$root$f" ] || fail "$f is left after rpm -U to $NEXT_PKGVER"
done
rpm_r -e kernel-ekvm-devel kernel-ekvm-modules kernel-ekvm >"$TEST_TMP/erase.log" 2>&1 ||
	{ tail -20 "$TEST_TMP/erase.log"; fail "rpm -e failed"; }
[ -z "$(rpm_r -qa)" ] || fail "packages left after rpm -e: $(rpm_r -qa | xargs)"
for f in "/lib/modules/$NEXT_KREL" "/usr/src/kernels/$NEXT_KREL" "/boot/vmlinuz-$NEXT_KREL" "/boot/.vmlinuz-$NEXT_KREL.hmac"; do
	[ ! -e "$root$f" ] || fail "$f is left after rpm -e"
done
echo "kernel-ekvm $PKGVER-$rel: contents, provides, EL config, HMAC, scriptlets; rpm -i, -U to $NEXT_PKGVER, -e"
