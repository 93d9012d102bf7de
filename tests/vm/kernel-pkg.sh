#!/usr/bin/env bash
# Unpack an ekvm kernel package for the VM harness (run.sh -K, docs/kernel-packages.md): its
# image, and the module set kvm-amd needs from its own modules (irqbypass, kvm, ccp, kvm-amd:
# in-tree, series applied), which the guest loads as the "ekvm" set.
#   kernel-pkg.sh PACKAGE
# PACKAGE is a linux-image-*.deb (unpacked with dpkg -x, never installed, into
# build/vm/kernel-pkg/<package name>/) or a folder that holds an unpacked kernel (the kernel-ekvm
# and kernel-ekvm-modules RPMs through rpm2cpio, or a .deb through dpkg -x): one
# lib/modules/KREL/ and its image as boot/vmlinuz-KREL or lib/modules/KREL/vmlinuz.
# Prints one line: KREL IMAGE MODULE_DIR (the modules, flat, uncompressed, <name>.ko).
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$(dirname "$0")/lib-vm.sh"

[ $# -eq 1 ] || usage "$0 linux-image-KREL_*.deb|DIR"
pkg=$1
if [ -d "$pkg" ]; then
	root=$(realpath "$pkg")
else
	{ [[ $pkg == *.deb ]] && [ -f "$pkg" ]; } || die "$pkg is neither a .deb nor a folder"
	root=$EKVM_BUILD/vm/kernel-pkg/$(basename "$pkg" .deb)
	rm -rf "$root" && mkdir -p "$root"
	dpkg -x "$pkg" "$root"
fi
mapfile -t krels < <(find "$root/lib/modules" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null)
[ ${#krels[@]} -eq 1 ] || die "$pkg: expected one kernel in lib/modules, found ${#krels[@]}"
krel=${krels[0]}
image=$root/boot/vmlinuz-$krel
[ -f "$image" ] || image=$root/lib/modules/$krel/vmlinuz
[ -f "$image" ] || die "$pkg: no boot/vmlinuz-$krel nor lib/modules/$krel/vmlinuz"

# Packages ship no modules.dep (depmod runs when they are installed): make it here.
mods=$root/lib/modules/$krel
[ -f "$mods/modules.dep" ] || depmod -b "$root" "$krel"
dep=$(grep -E '^kernel/arch/x86/kvm/kvm-amd\.ko(\.[a-z]+)?:' "$mods/modules.dep") ||
	die "$pkg: no kvm-amd.ko module (CONFIG_KVM_AMD=m) in $krel"
set_dir=$root/ekvm-set
rm -rf "$set_dir" && mkdir -p "$set_dir"
read -r -a files <<<"${dep#*:}"
for f in "${dep%%:*}" "${files[@]}"; do
	unpack_module "$mods/$f" "$set_dir/$(module_name "$f").ko"
done
[ -f "$set_dir/kvm.ko" ] || die "$pkg: kvm-amd.ko does not depend on a kvm.ko module"
vermagic=$(modinfo -F vermagic "$set_dir/kvm.ko")
[ "${vermagic%% *}" = "$krel" ] || die "$pkg: kvm.ko is built for ${vermagic%% *}, not $krel"
echo "$krel $image $set_dir"
