#!/usr/bin/env bash
# Make the guest's initramfs: busybox, tests/vm/guest-init.sh as /init, the stock module set
# of the kernel image and the ekvm one, the test programs and the list of tests to run.
#   mkinitramfs.sh -k KVER -e EKVM_MODULE_DIR -s SETS -o OUT.cpio [-V amd|intel] [-b BASE_VERSION] [-x PROGRAM]... [-f REGEX] [-X REGEX] [-T SCALE]
# -V: the vendor module the guest loads (kvm-amd, default, or kvm-intel) and the platform whose
# expectations apply (amd: QEMU TCG, intel: Bochs).
# Writes OUT.cpio and OUT.list (the tests in it: name, timeout, program, arguments).
# BASE_VERSION (default: that of the ekvm modules, e.g. 6.12.117 for 6.12.117.1) says whose
# programs go in (build-tests.sh BASE_VERSION) and which expectations and arguments apply.
# SETS is a comma list of selftests, ekvm, extra (none: no tests, e.g. for the benchmark); -x adds a static program as test extra/<name>;
# -f keeps only the tests whose name matches REGEX (grep -E), -X leaves out those that match. Tests whose expectation is "skip"
# (tests/vm/expectations.txt) are left out; tests/vm/test-args.txt gives timeouts and arguments;
# -T multiplies every timeout by SCALE (a positive number, e.g. 2 or 0.5; rounded up, at least 1 s).
# Needs fetch-kernel.sh KVER and build-tests.sh run before.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$(dirname "$0")/lib-vm.sh"

USAGE="$0 -k KVER -e EKVM_MODULE_DIR -s SETS -o OUT.cpio [-V amd|intel] [-b BASE_VERSION] [-x PROGRAM]... [-f REGEX] [-X REGEX] [-T SCALE]"
kver='' ekvm='' sets='' out='' filter='' exclude='' extras=() base_version='' scale=1 vendor=amd
while getopts k:e:s:o:x:f:X:b:T:V: opt; do
	case $opt in
	V) vendor=$OPTARG ;;
	b) base_version=$OPTARG ;;
	k) kver=$OPTARG ;;
	e) ekvm=$OPTARG ;;
	s) sets=$OPTARG ;;
	o) out=$OPTARG ;;
	x) extras+=("$OPTARG") ;;
	f) filter=$OPTARG ;;
	X) exclude=$OPTARG ;;
	T) scale=$OPTARG ;;
	*) usage "$USAGE" ;;
	esac
done
{ [ $OPTIND -gt $# ] && [ -n "$kver" ] && [ -n "$ekvm" ] && [ -n "$sets" ] && [ -n "$out" ]; } || usage "$USAGE"
timeout_scale_ok "$scale" || die "timeout scale '$scale' (-T): not a positive number like 2 or 0.5"
case $vendor in amd | intel) ;; *) usage "$USAGE" ;; esac
vko=kvm-$vendor

here=$EKVM_TOP/tests/vm
vm=$EKVM_BUILD/vm
image=$vm/kernel/$kver
mods=$image/lib/modules/$kver
default_timeout=120

[ -f "$mods/modules.dep" ] || die "no kernel image for $kver: run tests/vm/fetch-kernel.sh $kver"
# ekvm's side: kvm.ko and the vendor module, or one KVM instance (docs/multi-kvm.md)
if inst_ko=$(instance_module "$ekvm"); then
	kvm_ko=$inst_ko
else
	inst_ko=''
	for m in kvm "$vko"; do
		module_file "$ekvm" "$m" >/dev/null || die "no $m.ko in $ekvm"
	done
	kvm_ko=$(module_file "$ekvm" kvm)
fi
# What the ekvm modules must report, from the module file and the patch series.
version=$(modinfo -F version "$kvm_ko" | head -1)
base_version=${base_version:-${version%.*}}
[ -n "$base_version" ] || die "$ekvm/kvm.ko has no version: give the base (-b)"
series=$(series_of "$base_version")
tests=$(tests_dir "$base_version")
[ -f "$tests/selftests.list" ] || die "tests not built: run tests/vm/build-tests.sh $base_version"
expectations_check
busybox=$(command -v busybox) || die "no busybox (apt-get install busybox-static)"
file -L "$busybox" | grep -q 'statically linked' || die "$busybox is not static (busybox-static)"

# staged next to the output, so that runs with their own output never share it
root=${out%.cpio}.root
rm -rf "$root"
mkdir -p "$root"/{bin,etc,mods/stock,mods/ekvm,tests/selftests,tests/ekvm,tests/extra}
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$tests/bin/helpers/"* "$root/bin/"
install -m 755 "$here/guest-init.sh" "$root/init"

# The modules the vendor module needs, dependencies first (modules.dep lists them last first).
# The image's modules may be compressed (6.12: .ko.xz): the initramfs gets them uncompressed.
dep=$(grep -E "^kernel/arch/x86/kvm/$vko\.ko(\.[a-z]+)?:" "$mods/modules.dep") ||
	die "no $vko in $mods/modules.dep"
read -r -a files <<<"${dep#*:}"
order=()
for ((i = ${#files[@]} - 1; i >= 0; i--)); do order+=("${files[i]}"); done
order+=("${dep%%:*}")
for f in "${order[@]}"; do
	n=$(module_name "$f")
	unpack_module "$mods/$f" "$root/mods/stock/$n.ko"
	echo "$n" >>"$root/mods/order"
	# ekvm's build replaces what it ships (kvm, kvm-amd, kvm-intel); the rest is stock
	if [ -z "$inst_ko" ] && e=$(module_file "$ekvm" "$n"); then
		unpack_module "$e" "$root/mods/ekvm/$n.ko.tmp"
		strip --strip-debug -o "$root/mods/ekvm/$n.ko" "$root/mods/ekvm/$n.ko.tmp"
		rm "$root/mods/ekvm/$n.ko.tmp"
	fi
done
# An instance replaces both kvm.ko and the vendor module: the ekvm set has its own order, the
# stock one's other modules (irqbypass, ccp) and then the instance; /mods/ekvm/instance names it.
if [ -n "$inst_ko" ]; then
	n=$(module_name "$inst_ko")
	unpack_module "$inst_ko" "$root/mods/ekvm/$n.ko.tmp"
	strip --strip-debug -o "$root/mods/ekvm/$n.ko" "$root/mods/ekvm/$n.ko.tmp"
	rm "$root/mods/ekvm/$n.ko.tmp"
	# the base module (ekvm_vac.ko beside the instance) loads first
	base=''
	if b=$(module_file "$(dirname "$inst_ko")" ekvm_vac); then
		base=ekvm_vac
		unpack_module "$b" "$root/mods/ekvm/ekvm_vac.ko"
	fi
	{ grep -vxE "kvm|$vko" "$root/mods/order" || true; echo $base "$n"; } | xargs -n1 >"$root/mods/ekvm/order"
	echo "$n" >"$root/mods/ekvm/instance"
	# its twin, the same code under another name (make instance: twin/ beside it), for the
	# scenario of two instances at once
	if t=$(instance_module "$(dirname "$inst_ko")/twin"); then
		tn=$(module_name "$t")
		mkdir -p "$root/mods/twin"
		unpack_module "$t" "$root/mods/twin/$tn.ko.tmp"
		strip --strip-debug -o "$root/mods/twin/$tn.ko" "$root/mods/twin/$tn.ko.tmp"
		rm "$root/mods/twin/$tn.ko.tmp"
		echo "$tn" >"$root/mods/twin/instance"
	fi
fi

{
	echo "EKVM_EXPECT_VERSION='$version'"
	# the ABI level of the series, as the tool's copy of it says (scripts/check-sync.sh
	# checks that copy against every base's uapi header)
	abi=$(awk '$1 == "#define" && $2 == "EKVM_ABI_LEVEL" { print $3 }' \
		"$EKVM_TOP/userspace/include/ekvm-abi.h")
	echo "EKVM_EXPECT_ABI='${EKVM_EXPECT_ABI:-$abi}'"
	if [ -f "$(patches_dir "$base_version")/series" ]; then
		echo "EKVM_EXPECT_SERIES='$(series_patches "$base_version")'"
	fi
} >"$root/etc/ekvm-expect"

# Timeouts and arguments: "name timeout [args...]" lines of test-args.txt; a line for
# "name@<series>" (e.g. selftests/dirty_log_test@6.12) is that base's own and comes first.
args_of() {
	awk -v n="$1" -v nb="$1@$series" -v d="$default_timeout" '
		{ sub(/#.*/, "") } NF && $1 == nb && !own { $1 = ""; own = substr($0, 2) }
		NF && $1 == n && !any { $1 = ""; any = substr($0, 2) }
		END { print own != "" ? own : any != "" ? any : d }' "$here/test-args.txt"
}
# Tests with expectation "skip" for this base and platform are not run at all.
skipped() {
	[ "$(expectation "$1" "$series" "$vendor" any | cut -f1)" = skip ]
}
list=$root/tests/list
# wanted NAME: the test is to run (the filter, the exclusions and the expectations' skips)
wanted() {
	if [ -n "$filter" ] && ! grep -qE -- "$filter" <<<"$1"; then return 1; fi
	if [ -n "$exclude" ] && grep -qE -- "$exclude" <<<"$1"; then return 1; fi
	! skipped "$1"
}
add() {
	local name=$1 prog=$2
	wanted "$name" || return 0
	echo "$name $(args_of "$name" | awk -v p="$prog" -v s="$scale" '
		{ t = $1 * s; t = (t == int(t) ? t : int(t) + 1); if (t < 1) t = 1; $1 = ""; print t " " p $0 }')" >>"$list"
}
# The extra programs are in every image, run as tests or not: the reload scenario runs the
# static ekvm tool (extra/ekvm-static) as an operator would.
for t in "${extras[@]}"; do
	[ -x "$t" ] || die "extra test $t is not an executable file"
	desc=$(file -L "$t")
	if [[ $desc == *ELF* ]] && [[ $desc != *static* ]]; then
		die "extra test $t is dynamically linked: the guest has no libraries"
	fi
	cp "$t" "$root/tests/extra/"
done
: >"$list"
IFS=, read -r -a want <<<"$sets"
for s in "${want[@]}"; do
	case $s in
	ekvm)
		for t in "$tests/bin/ekvm/"*; do
			[ -x "$t" ] || continue
			cp "$t" "$root/tests/ekvm/"
			add "ekvm/$(basename "$t")" "/tests/ekvm/$(basename "$t")"
		done ;;
	selftests)
		while read -r t; do
			n=$(basename "$t")
			# (only the programs that run go in: a smaller image boots faster, under Bochs most)
			wanted "selftests/$n" || continue
			strip --strip-debug -o "$root/tests/selftests/$n" "$tests/selftests/$t"
			add "selftests/$n" "/tests/selftests/$n"
		done <"$tests/selftests.list" ;;
	extra)
		for t in "${extras[@]}"; do
			add "extra/$(basename "$t")" "/tests/extra/$(basename "$t")"
		done ;;
	none) ;;
	*) die "unknown test set '$s' (selftests, ekvm, extra, none)" ;;
	esac
done

# the scenario of two instances at once runs a few selftests on one while the other runs guests
if [ -f "$root/mods/twin/instance" ]; then
	for n in state_test cpuid_test sync_regs_test svm_vmcall_test; do
		[ -f "$root/tests/selftests/$n" ] ||
			strip --strip-debug -o "$root/tests/selftests/$n" "$tests/selftests/x86_64/$n"
	done
fi

(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$out.tmp"
mv "$out.tmp" "$out"
cp "$list" "${out%.cpio}.list"
info "initramfs $out: $(wc -l <"$list") tests, $(du -m "$out" | cut -f1) MiB"
rm -rf "$root"
