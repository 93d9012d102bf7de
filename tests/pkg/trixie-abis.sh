#!/usr/bin/env bash
# Every Debian 13 kernel ABI ekvm-dkms serves (TRIXIE_KVERS: 6.12.107+deb13 ... 6.12.118+deb13,
# 6.12.115+deb13.1 too), in a clean Debian 13 root (the one tests/pkg/trixie-lifecycle.sh uses,
# made by scripts/suite-root.sh, cached in build/roots/): trixie's dkms 3.2.2 and gcc-14, each
# ABI's real headers from trixie's archive (repackaged without the dependency on the kernel image,
# scripts/lib.sh headers_noimage_deb; the base's own image is in the root).
#  1. install ekvm-dkms (make deb's): DKMS builds, signs and installs ekvm's modules for every ABI
#     from the tree of its point release, which lists its Debian version (6.12.115-1 and -2 both
#     served by the 6.12.115 tree; 6.12.116 has no Debian 12 kernel, so only this test builds it);
#     modprobe resolves kvm_amd to them for each;
#  2. the oldest ABI's modules (its tree carries a point-release fix-up of the series) boot in
#     that Debian 13 kernel (the VM harness: identity, tool and histogram tests, the smoke guest,
#     the module reload);
#  3. purge: no ekvm module left for any ABI.
# About 20 minutes (eight DKMS builds: 1,183 s on 2026-12-04, root cached, machine busy); not in make check (make check-full, make pkg-test).
set -euo pipefail
. "$(dirname "$0")/../lib-pkg.sh"

read -r -a kvers <<<"$(makefile_var TRIXIE_KVERS)"
k13=$(makefile_var TRIXIE_KVER) release=$(makefile_var EKVM_RELEASE)
{ [ ${#kvers[@]} -gt 0 ] && [ -n "$k13" ]; } || fail "no TRIXIE_KVERS or TRIXIE_KVER in the Makefile"
debs="$EKVM_BUILD/deb"
[ -f "$debs/ekvm-dkms_${PKGVER}_all.deb" ] || fail "no packages in $debs: run make deb first"
smoke="$EKVM_BUILD/userspace/ekvm-static"
[ -x "$smoke" ] || fail "no $smoke: make -C userspace static"

trixie_root "$k13"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# the KVM modules modprobe loads for kvm_amd (not irqbypass, ccp), in load order
resolve() { in_root modprobe -S "$1" --show-depends kvm_amd | awk '$1 == "insmod" && $2 ~ /\/kvm[^\/]*$/ { print $2 }' | xargs; }

echo "# the headers of ${#kvers[@]} Debian 13 kernels"
mkdir -p "$root/tmp/ekvm"
for k in "${kvers[@]}"; do
	[ "$k" = "$k13" ] && continue
	cp "$(SUITE_APT="$EKVM_TOP/scripts/suite-apt.sh trixie" headers_noimage_deb "linux-headers-$k")" "$root/tmp/ekvm/"
done
in_root apt-get update -q >"$TEST_TMP/update.log" 2>&1 || { tail -5 "$TEST_TMP/update.log"; fail "apt-get update in the root failed"; }
in_root sh -c 'apt-get install -y -q --no-install-recommends /tmp/ekvm/linux-headers-*.deb' \
	>"$TEST_TMP/headers.log" 2>&1 || { tail -20 "$TEST_TMP/headers.log"; fail "installing the headers failed"; }
for k in "${kvers[@]}"; do
	[ -f "$root/lib/modules/$k/build/Makefile" ] || fail "no headers for $k in the root"
done

echo "# 1. install ekvm-dkms: a build for every ABI"
cp "$debs/ekvm-dkms_${PKGVER}_all.deb" "$root/tmp/ekvm/"
in_root apt-get install -y -q --no-install-recommends "/tmp/ekvm/ekvm-dkms_${PKGVER}_all.deb" \
	>"$TEST_TMP/install.log" 2>&1 || { tail -30 "$TEST_TMP/install.log"; fail "apt install in the trixie root failed"; }
tr -d '\r' <"$TEST_TMP/install.log" >"$TEST_TMP/install.txt"
for k in "${kvers[@]}"; do
	grep -qxF "ekvm: kernel $k now has ekvm $PKGVER's KVM modules" "$TEST_TMP/install.txt" ||
		fail "no modules line for $k: $(grep -i "$k\|error" "$TEST_TMP/install.txt" | tail -5)"
	debver=$(sed -n 's/^#define LINUX_PACKAGE_ID " Debian \(.*\)"$/\1/p' \
		"$root/lib/modules/$k/build/include/generated/package.h")
	point=${debver%%-*}
	upd=/lib/modules/$k/updates/dkms
	# (compressed as the kernel's own modules are: 6.12.107's are plain .ko, later ones .ko.xz)
	for m in kvm kvm-intel kvm-amd; do
		f=$(module_file "$root$upd" "$m") || fail "$k: no $m module in updates/dkms: $(ls "$root$upd" 2>&1)"
		f=${f#"$root"}
		assert_eq "$k: $m version" "$point.$release" "$(in_root modinfo -F version "$f")"
		magic=$(in_root modinfo -F vermagic "$f")
		assert_eq "$k: $m vermagic's kernel" "$k" "${magic%% *}"
		[ -n "$(in_root modinfo -F signer "$f")" ] || fail "$k: $m is not signed"
	done
	# DKMS 3.2.2 skips depmod for a kernel without modules.dep (headers only, as every ABI here
	# but the root's own): the kernel image's installation would run it, so it is run here
	[ "$k" = "$k13" ] || [ -f "$root/lib/modules/$k/modules.dep" ] || in_root depmod -a "$k"
	kf=$(module_file "$root$upd" kvm) af=$(module_file "$root$upd" kvm-amd)
	assert_eq "$k: resolution" "${kf#"$root"} ${af#"$root"}" "$(resolve "$k")"
	echo "$k (Debian $debver): ekvm $point.$release, signed, resolved by modprobe"
done

oldest=${kvers[0]}
echo "# 2. $oldest's modules in that kernel (VM harness)"
mods=$TEST_TMP/modules
mkdir -p "$mods" && cp "$root/lib/modules/$oldest/updates/dkms"/kvm*.ko* "$mods/"
"$EKVM_TOP/tests/vm/run.sh" -k "$oldest" -e "$mods" -s ekvm,extra,reload \
	-f '^ekvm/(identity|tool|hist)_test$|^extra/' -n 1 -x "$smoke" -o "$TEST_TMP/vm" >"$TEST_TMP/vm.log" 2>&1 ||
	{ tail -30 "$TEST_TMP/vm.log"; fail "the modules DKMS built for $oldest failed the VM harness"; }
grep -E '^[0-9]+ passed' "$TEST_TMP/vm.log"

echo "# 3. purge"
in_root apt-get purge -y -q ekvm-dkms >"$TEST_TMP/purge.log" 2>&1 ||
	{ tail -30 "$TEST_TMP/purge.log"; fail "purge in the trixie root failed"; }
for k in "${kvers[@]}"; do
	[ -z "$(find "$root/lib/modules/$k/updates" -name 'kvm*' 2>/dev/null | head -1)" ] ||
		fail "$k: ekvm modules left after purge"
done
echo "no ekvm module left for any of the ${#kvers[@]} kernels"
