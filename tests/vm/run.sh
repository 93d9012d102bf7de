#!/usr/bin/env bash
# The VM test harness (docs/vm-test.md): the same tests against the stock KVM modules of the
# Debian kernel and against ekvm's, for kvm_amd npt=1 and npt=0, in guests booted under QEMU,
# plus the module reload scenario; fails when ekvm regressed (tests/vm/report.sh says how).
# Platform intel (-P): kvm_intel with ept=1 and ept=0 in guests booted under Bochs, whose CPU
# emulates VMX (tests/vm/boot-bochs.sh).
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$(dirname "$0")/lib-vm.sh"

USAGE="$0 [-P amd|intel] [-k KVER] [-e EKVM_MODULE_DIR | -K PACKAGE] [-s SETS] [-n NPTS] [-I NPTS] [-f REGEX] [-X REGEX] [-x PROGRAM]... [-j 1|2] [-o OUTDIR]
  -P PLATFORM amd (default; also EKVM_VM_PLATFORM): QEMU TCG with an SVM CPU, kvm-amd, npt;
              intel: Bochs with a VMX CPU, kvm-intel, ept (-n gives ept's settings; no -K)
  -k KVER     the Debian kernel to boot (default: the top Makefile's BASE_KVER)
  -e DIR      the ekvm modules (kvm.ko, kvm-amd.ko) to test (default: build/modules/KVER); their
              version (6.1.192.1, 6.12.117.1) says the base: whose selftests run, which
              expectations apply. A folder with one KVM instance (kvm_ekvm_*.ko, make
              instance; amd only) tests that instead, behind its base module ekvm_vac.ko
              when the folder has it (docs/multi-kvm.md); its twin (the same instance under
              another name) in DIR/twin/ runs beside it in the instances set
  -s SETS     comma list of selftests, ekvm, extra, reload, instance, instances (default:
              selftests,ekvm,reload, plus extra when there are extra programs; with an
              instance, instance instead of reload, and instances when it has a twin); reload
              and instance need -x .../ekvm-static
  -n NPTS     kvm_amd npt settings to test, comma list (default: EKVM_VM_NPTS, else 1,0)
  -I NPTS     the npt settings of the instances set (default: -n's)
  -f REGEX    run only the tests whose name (e.g. selftests/cpuid_test) matches REGEX
  -X REGEX    leave out the tests whose name matches REGEX (also EKVM_VM_EXCLUDE)
  -x PROGRAM  a static executable to run as test extra/<name> (repeatable; also
              EKVM_VM_EXTRA_TESTS, a space-separated list): exit 0 pass, 4 skip, else fail
  -j 1|2      guests at a time: 2 (default) runs two side by side, the next starting as one
              ends (one QEMU keeps about one host core busy), 1 one after the other
  -o OUTDIR   where results go (default: build/vm/results/<date>, linked as results/latest)
  -K PACKAGE  an ekvm kernel package (linux-image-*.deb, or an unpacked kernel folder): the
              'ekvm' guests boot its kernel with its own KVM modules, the 'stock' guests boot
              KVER's with its stock modules (the reference); not with -e, no reload set
Environment (docs/vm-test.md, \"Slow hosts\"):
  EKVM_VM_TIMEOUT_SCALE  multiplies every test's timeout (test-args.txt), e.g. 2 or 0.5 (default 1)
  EKVM_VM_RETRY          a test that timed out runs once more with this many times its limit,
                         in the stock and the ekvm guests alike; 0 to 10, 0: no retry (default 3)"

kver='' ekvm='' sets='' npts=${EKVM_VM_NPTS:-1,0} inst_npts='' filter='' exclude=${EKVM_VM_EXCLUDE:-} outdir='' extras=() jobs=2 kpkg='' ekvm_kernel='' krel=''
platform=${EKVM_VM_PLATFORM:-amd}
while getopts P:k:e:s:n:I:f:X:x:j:o:K:h opt; do
	case $opt in
	P) platform=$OPTARG ;;
	k) kver=$OPTARG ;;
	e) ekvm=$OPTARG ;;
	s) sets=$OPTARG ;;
	n) npts=$OPTARG ;;
	I) inst_npts=$OPTARG ;;
	f) filter=$OPTARG ;;
	X) exclude=$OPTARG ;;
	x) extras+=("$OPTARG") ;;
	j) jobs=$OPTARG ;;
	o) outdir=$OPTARG ;;
	K) kpkg=$OPTARG ;;
	*) usage "$USAGE" ;;
	esac
done
[ $OPTIND -gt $# ] || usage "$USAGE"
case $platform in
amd) vko=kvm-amd mmu=npt boot=boot.sh ;;
intel) vko=kvm-intel mmu=ept boot=boot-bochs.sh ;;
*) usage "$USAGE" ;;
esac
[ "$platform" = amd ] || [ -z "$kpkg" ] || die "-K (an ekvm kernel package) is for platform amd only"
tscale=${EKVM_VM_TIMEOUT_SCALE:-1} retry=${EKVM_VM_RETRY:-3}
timeout_scale_ok "$tscale" ||
	die "EKVM_VM_TIMEOUT_SCALE='$tscale': not a positive number like 2 or 0.5"
retry_factor_ok "$retry" || die "EKVM_VM_RETRY='$retry': not a whole number from 0 (no retry) to 10"
read -r -a env_extras <<<"${EKVM_VM_EXTRA_TESTS:-}"
extras+=("${env_extras[@]}")
kver=${kver:-$(makefile_var KVER)}
[ -n "$kver" ] || die "no KVER (-k)"
if [ -n "$kpkg" ]; then
	# The package's kernel and its in-tree KVM (docs/kernel-packages.md)
	[ -z "$ekvm" ] || usage "$USAGE"
	read -r krel ekvm_kernel ekvm < <("$EKVM_TOP/tests/vm/kernel-pkg.sh" "$kpkg") ||
		die "cannot use the kernel package $kpkg"
fi
ekvm=$(realpath "${ekvm:-$EKVM_BUILD/modules/$kver}")
# an instance (kvm_ekvm_*.ko) instead of kvm.ko and the vendor module
inst_ko=''
if [ -z "$kpkg" ] && inst_ko=$(instance_module "$ekvm"); then
	[ "$platform" = amd ] || die "$inst_ko: instances are for platform amd only (SVM)"
fi
if [ -z "$sets" ]; then
	sets=selftests,ekvm,reload
	[ -z "$kpkg" ] || sets=selftests,ekvm
	[ -z "$inst_ko" ] || sets=selftests,ekvm,instance
	[ -z "$inst_ko" ] || ! instance_module "$ekvm/twin" >/dev/null || sets+=,instances
	[ ${#extras[@]} -eq 0 ] || sets+=,extra
fi
[[ $npts =~ ^[01](,[01])*$ ]] || usage "$USAGE"
inst_npts=${inst_npts:-$npts}
[[ $inst_npts =~ ^[01](,[01])*$ ]] || usage "$USAGE"
[[ $jobs =~ ^[12]$ ]] || usage "$USAGE"
[[ ,$sets, =~ ^(,(selftests|ekvm|extra|reload|instance|instances))+,$ ]] || usage "$USAGE"
[ -n "$inst_ko" ] || [[ ,$sets, != *,instance,* ]] ||
	die "the instance set tests a KVM instance: give its folder (-e, make instance)"
[[ ,$sets, != *,instances,* ]] || instance_module "$ekvm/twin" >/dev/null ||
	die "the instances set runs a KVM instance and its twin: $ekvm/twin has no kvm_ekvm_*.ko"
[ -z "$inst_ko" ] || [[ ,$sets, != *,reload,* ]] ||
	die "the reload set reloads kvm.ko and the vendor module, not an instance"
tool=''
for x in "${extras[@]}"; do
	[ -x "$x" ] || die "extra test $x is not an executable"
	[ "$(basename "$x")" != ekvm-static ] || tool=$x
done
[[ ,$sets, != *,instance,* && ,$sets, != *,instances,* ]] || [ -n "$tool" ] ||
	die "the instance sets run the ekvm tool: give the static tool (-x build/userspace/ekvm-static)"
# the reload scenario reloads with the tool, as an operator does
[[ ,$sets, != *,reload,* ]] || [ -n "$tool" ] ||
	die "the reload set runs ekvm reload: give the static tool (-x build/userspace/ekvm-static)"
if [ -n "$inst_ko" ]; then
	kvm_ko=$inst_ko
else
	{ kvm_ko=$(module_file "$ekvm" kvm) && module_file "$ekvm" "$vko" >/dev/null; } ||
		die "no ekvm modules (kvm, $vko) in $ekvm (make)"
fi
version=$(modinfo -F version "$kvm_ko")
vermagic=$(modinfo -F vermagic "$kvm_ko")
[ "${vermagic%% *}" = "${krel:-$kver}" ] || die "$kvm_ko is built for ${vermagic%% *}, not ${krel:-$kver}"
[ -z "$kpkg" ] || [[ ,$sets, != *,reload,* ]] ||
	die "-K: no reload set (the stock modules cannot load into the package's kernel)"
[ -n "$version" ] || die "$kvm_ko has no version: not an ekvm build"
base_version=${version%.*}
base=$(series_of "$base_version")
# Modules of another point release than the base's (an ekvm-dkms tree: 6.12.107.4) run the tests
# of their series' base: the selftests and ekvm's tests are built from the base's whole tree, and
# the other releases are imported with their KVM files only.
bv=$(makefile_var "BASE_VERSION_$base")
[ -n "$bv" ] || die "no BASE_VERSION_$base in the Makefile"
if [ "$base_version" != "$bv" ]; then
	info "ekvm $version is of point release $base_version: the tests are those of the $base base, $bv"
	base_version=$bv
fi

outdir=${outdir:-$EKVM_BUILD/vm/results/$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$outdir"
outdir=$(realpath "$outdir")
ln -sfn "$outdir" "$EKVM_BUILD/vm/results/latest" 2>/dev/null || true
timings=$outdir/timings.txt
: >"$timings"
t_all=$SECONDS
timed() {
	local what=$1 t=$SECONDS rc=0
	shift
	"$@" || rc=$?
	printf '%-28s %5ds\n' "$what" $((SECONDS - t)) | tee -a "$timings" >&2
	return $rc
}

[ -z "$inst_ko" ] || info "the ekvm side is the KVM instance $(module_name "$inst_ko") (one module for kvm and $vko)"
info "testing ekvm $version ($ekvm) against stock $kver (base $base) on $platform ($vko); sets $sets; $mmu $npts; timeouts x$tscale, retry x$retry; results in $outdir"
[ -z "$exclude" ] || info "left out (-X, EKVM_VM_EXCLUDE): the tests matching '$exclude'"
here=$EKVM_TOP/tests/vm
# the report's own logic first: it decides the run (a second, fake results)
# shellcheck disable=SC2317 # called through timed
report_unit_test() { "$here/report-unit-test.sh" >"$outdir/report-unit-test.log" 2>&1; }
timed report-unit-test report_unit_test ||
	die "tests/vm/report-unit-test.sh failed: $outdir/report-unit-test.log"
# the kernel's headers when this machine's suite has them (not for Debian 13's +deb13 kernels:
# fetch-kernel.sh takes their image from that suite's archive)
hdr=()
! apt-cache show "linux-headers-$kver" >/dev/null 2>&1 || hdr=("$kver")
deps=(-f "$here/deps.txt")
[ "$platform" = amd ] || deps+=(-f "$here/deps-intel.txt")
timed deps "$EKVM_TOP/scripts/install-deps.sh" "${deps[@]}" "${hdr[@]}"
timed fetch-kernel "$here/fetch-kernel.sh" "$kver"
timed build-tests "$here/build-tests.sh" "$base_version"
test_sets=$(tr , '\n' <<<"$sets" | { grep -Ev '^(reload|instance|instances)$' || true; } | paste -sd, -)
initrd=$outdir/initramfs.cpio
mk=("$here/mkinitramfs.sh" -V "${vko#kvm-}" -k "$kver" -e "$ekvm" -b "$base_version" -s "${test_sets:-ekvm}" -o "$initrd" -T "$tscale")
[ -z "$filter" ] || mk+=(-f "$filter")
[ -z "$exclude" ] || mk+=(-X "$exclude")
for x in "${extras[@]}"; do mk+=(-x "$x"); done
timed initramfs "${mk[@]}"
mv "$outdir/initramfs.list" "$outdir/tests.list"

# A guest's time limit: the sum of its tests' timeouts, each retried (the worst case), and some
# for booting and loading; it has stalled (a hung guest kernel) when it wrote no result for the
# longest timeout (of a retry) and 60 s more. Under Bochs a guest second takes several host
# seconds (7 with three emulators on 2 cores, 2026-12-04), so the limit is 10 times longer, and
# a stall is no result and no heartbeat (boot-bochs.sh) for 420 s: the boot (1.5 to 3 minutes)
# is silent, a test that is only slow is not.
limit=$(awk -v r="$retry" '{ t += $2 } END { print t * (1 + r) + 300 }' "$outdir/tests.list")
stall=$(awk -v r="$retry" '$2 > m { m = $2 } END { print m * (r > 1 ? r : 1) + 60 }' "$outdir/tests.list")
[ "$platform" = amd ] || limit=$((limit * 10)) stall=420

# Runs one guest job into $outdir/NAME; when the guest hangs or dies during a test, that test
# is recorded as "hang" and a new guest goes on with the next test (at most 3 times).
# shellcheck disable=SC2317 # called through timed
run_guest() {
	local name=$1 dir=$outdir/$1 from=1 seg=0 rc last idx kopt=()
	shift
	# with -K, the ekvm guests boot the package's kernel
	[ -z "$ekvm_kernel" ] || [[ $name != ekvm-* ]] || kopt=(-K "$ekvm_kernel")
	rm -rf "$dir"
	mkdir -p "$dir"
	# the host's load (1, 5, 15 min) when the guest started and ended, for the report
	echo "@@HOST start $(cut -d' ' -f1-3 /proc/loadavg)" >"$dir/results.log"
	while :; do
		seg=$((seg + 1))
		rc=0
		"$here/$boot" -k "$kver" "${kopt[@]}" -i "$initrd" -o "$dir/boot$seg" -t "$limit" -s "$stall" -- \
			ekvm.vendor="$platform" "$@" ekvm.from="$from" || rc=$?
		tr -d '\r' <"$dir/boot$seg/results.log" >>"$dir/results.log"
		tr -d '\r' <"$dir/boot$seg/console.log" >>"$dir/console.log"
		if [ "$rc" -eq 0 ]; then
			echo "@@HOST end $(cut -d' ' -f1-3 /proc/loadavg)" >>"$dir/results.log"
			return 0
		fi
		# the test that was running: started (@@S) and not finished (@@T)
		last=$(awk '/^@@S / { t = $2 } /^@@T / { t = "" } END { print t }' "$dir/boot$seg/results.log")
		idx=$(awk -v t="$last" '$1 == t { print NR; exit }' "$outdir/tests.list")
		if [ -z "$last" ] || [ -z "$idx" ] || [ "$seg" -ge 4 ]; then
			return 1
		fi
		info "$name: the guest hung or died in $last; going on after it in a new guest"
		echo "@@T $last hang -1 0" >>"$dir/results.log"
		echo "@@RESTART after $last" >>"$dir/results.log"
		from=$((idx + 1))
	done
}

boot_rc=0
# a signal to this script ends its guests too (kill_tree: they run in background subshells)
trap 'trap - INT TERM; kill_tree $$; exit 143' INT TERM

# scenario_guest NAME LIMIT ARG...: one boot of a scenario into $outdir/NAME, its log unCRed
# shellcheck disable=SC2317 # called through timed
scenario_guest() {
	local name=$1 limit=$2 rc=0
	shift 2
	"$here/$boot" -k "$kver" -i "$initrd" -o "$outdir/$name" -t "$limit" -- \
		ekvm.vendor="$platform" "$@" || rc=$?
	tr -d '\r' <"$outdir/$name/results.log" >"$outdir/$name/results.tmp" 2>/dev/null &&
		mv "$outdir/$name/results.tmp" "$outdir/$name/results.log"
	return "$rc"
}

# guest WHAT[:ARG]: runs one guest of the run: tests:MODS:NPT (the tests' guest of stock or
# ekvm at an npt setting), reload, instance (the instance's own scenario, guest-init.sh
# job_instance, at the first npt setting), instances:NPT (two instances at once, job_instances)
guest() {
	local what=${1%%:*} arg=${1#*:} mods npt
	case $what in
	tests)
		mods=${arg%%:*} npt=${arg#*:}
		timed "guest $mods $mmu=$npt" run_guest "$mods-$mmu$npt" \
			ekvm.job=tests ekvm.mods="$mods" ekvm.npt="$npt" ekvm.retry="$retry" ;;
	reload)
		timed "guest reload" scenario_guest reload "$([ "$platform" = amd ] && echo 300 || echo 1800)" \
			ekvm.job=reload ;;
	instance)
		timed "guest instance" scenario_guest instance 300 ekvm.job=instance ekvm.npt="${npt_list[0]}" ;;
	instances)
		timed "guest instances $mmu=$arg" scenario_guest "instances-$mmu$arg" 400 \
			ekvm.job=instances ekvm.npt="$arg" ;;
	esac
}

# The run's guests, -j at a time in this order: a slot one guest frees takes the next, so the
# scenarios' guests use the core the short stock guest leaves.
guests=()
IFS=, read -r -a npt_list <<<"$npts"
if [ -n "$test_sets" ]; then
	# the ekvm guest first: the longer of the two
	for npt in "${npt_list[@]}"; do guests+=("tests:ekvm:$npt" "tests:stock:$npt"); done
fi
[[ ,$sets, != *,reload,* ]] || guests+=(reload)
[[ ,$sets, != *,instance,* ]] || guests+=(instance)
if [[ ,$sets, == *,instances,* ]]; then
	IFS=, read -r -a inst_npt_list <<<"$inst_npts"
	for n in "${inst_npt_list[@]}"; do guests+=("instances:$n"); done
fi
running=0
for g in "${guests[@]}"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n || boot_rc=1
		running=$((running - 1))
	fi
	guest "$g" &
	running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
	wait -n || boot_rc=1
	running=$((running - 1))
done

rm -f "$initrd"
rc=0
[ -n "$test_sets" ] || npts=""
timed report "$here/report.sh" -d "$outdir" -P "$platform" -V "$version" -b "$base" -n "$npts" -S "$tscale" -R "$retry" || rc=$?
printf '%-28s %5ds\n' total $((SECONDS - t_all)) | tee -a "$timings" >&2
[ $boot_rc -eq 0 ] || info "a guest did not finish (see above)"
exit $rc
