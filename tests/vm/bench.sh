#!/usr/bin/env bash
# KVM exit rates of ekvm against stock KVM, in one guest boot. Each round measures four sets,
# interleaved (odd rounds in this order, even rounds the other way round):
#   stock       Debian's kvm and kvm-amd modules
#   ekvm-off    ekvm's modules with kvm.ekvm_exit_hist=0 (set and read back in the guest)
#   ekvm-on     the same load with kvm.ekvm_exit_hist=1, about 1 exit in 16 recorded
#               (kvm.ekvm_exit_hist_period=16, the default)
#   ekvm-exact  kvm.ekvm_exit_hist=1 with every exit recorded (kvm.ekvm_exit_hist_period=1)
# and each set with two exit kinds (tests/vm/helpers/kvmloop.c, real-mode guests):
#   io         "out" in a tight loop: every exit goes to userspace (kvmloop bench)
#   kernel     CPUID in a loop, exits KVM completes in the kernel; one "out" every 256 to count
#              them (kvmloop bench-kernel)
# Prints the exits per guest-second of each, per round and mean, the ratios ekvm-off / stock
# (goal >= 0.998), ekvm-on / stock (goal >= 0.99) and ekvm-exact / stock (no goal: what exact
# counts cost) and how much they scatter from round to round. Asserts nothing about timing; fails when a measurement is missing or kvmloop failed.
#   bench.sh [-P amd|intel] [-k KVER] [-e EKVM_MODULE_DIR] [-r ROUNDS] [-t SECONDS] [-m icount|wall|both] [-o DIR]
# -o: the folder of the guest's files (default build/vm/bench, build/vm/bench-intel with -P intel)
# -m icount (the default): QEMU's -icount shift=0,sleep=off (boot.sh -I): the guest's clock
# counts its instructions (1 = 1 ns), so that a rate is instructions per exit, independent of the
# host's load: deterministic enough to resolve 1% (docs/bench.md). SECONDS are guest seconds.
# -m wall: the guest's clock is the host's, as a rate on real hardware would be; under TCG it
# scatters by 7-25% from round to round. -m both: one boot of each, icount first.
# Under TCG, nested SVM is emulated: the absolute rates say little about hardware, the ratios
# compare the module sets on the same emulated machine.
# -P intel: kvm-intel (VMX) under Bochs (tests/vm/boot-bochs.sh), always deterministic (clock:
# sync=none: the guest's time follows Bochs's instruction count, EKVM_BOCHS_IPS a guest second;
# the guest's TSC runs at the model's nominal rate against it, so absolute rates are scaled,
# only ratios between the module sets count); -m is icount only.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

USAGE="$0 [-P amd|intel] [-k KVER] [-e EKVM_MODULE_DIR] [-r ROUNDS] [-t SECONDS] [-m icount|wall|both] [-o DIR]"
kver='' ekvm='' rounds=5 secs=1 mode=icount platform=amd outdir=''
while getopts P:k:e:r:t:m:o: opt; do
	case $opt in
	o) outdir=$OPTARG ;;
	P) platform=$OPTARG ;;
	k) kver=$OPTARG ;;
	e) ekvm=$OPTARG ;;
	r) rounds=$OPTARG ;;
	t) secs=$OPTARG ;;
	m) mode=$OPTARG ;;
	*) usage "$USAGE" ;;
	esac
done
[ $OPTIND -gt $# ] || usage "$USAGE"
{ [[ $rounds =~ ^[1-9][0-9]*$ ]] && [[ $secs =~ ^[1-9][0-9]*$ ]]; } || usage "$USAGE"
case $mode in icount) modes=(icount) ;; wall) modes=(wall) ;; both) modes=(icount wall) ;; *) usage "$USAGE" ;; esac
case $platform in
amd) vko=kvm-amd ;;
intel) vko=kvm-intel ;;
*) usage "$USAGE" ;;
esac
[ "$platform" = amd ] || [ "$mode" = icount ] ||
	die "-P intel: Bochs's clock is its instruction count (sync=none); -m wall is for amd only"
kver=${kver:-$(makefile_var KVER)}
ekvm=$(realpath "${ekvm:-$EKVM_BUILD/modules/$kver}")
{ [ -f "$ekvm/kvm.ko" ] && [ -f "$ekvm/$vko.ko" ]; } || die "no ekvm modules (kvm, $vko) in $ekvm (make)"
version=$(modinfo -F version "$ekvm/kvm.ko")
here=$EKVM_TOP/tests/vm
out=$EKVM_BUILD/vm/bench
deps=(-f "$here/deps.txt")
if [ "$platform" = intel ]; then
	out=$EKVM_BUILD/vm/bench-intel
	deps+=(-f "$here/deps-intel.txt")
fi
[ -z "$outdir" ] || out=$(realpath -m "$outdir")

"$EKVM_TOP/scripts/install-deps.sh" "${deps[@]}" "$kver"
"$here/fetch-kernel.sh" "$kver"
"$here/build-tests.sh" "${version%.*}"
mkdir -p "$out"
"$here/mkinitramfs.sh" -V "$platform" -k "$kver" -e "$ekvm" -s none -o "$out/initramfs.cpio"

# The report of one boot's results.log: MODE RESULTS
# @@B <round> <set> <kind> exits_per_sec R exits N seconds S [...]; anything else after <kind>
# is an error; @@HIST <round> <set> <ekvm_exit_hist read back> <ekvm_exit_hist_period read back>.
report() {
	tr -d '\r' <"$2" | awk -v version="$version" -v rounds="$rounds" -v mode="$1" -v secs="$secs" '
	/^@@HIST / { hist[$2, $3] = $4; period[$2, $3] = $5 }
	/^@@B / {
		if ($5 != "exits_per_sec" || $4 == "-") {
			print "round " $2 " " $3 " " $4 ": " substr($0, index($0, $5)); bad = 1; next
		}
		rate[$2, $3, $4] = $6
	}
	END {
		split("stock ekvm-off ekvm-on", sets, " ")
		split("io kernel", kinds, " ")
		title["io"] = "I/O exits to userspace (kvmloop bench)"
		title["kernel"] = "in-kernel exits, CPUID (kvmloop bench-kernel)"
		unit = mode == "icount" ? "guest-second (icount: 1 instruction = 1 ns)" : mode == "bochs" ? "guest-second (Bochs, sync=none: instruction-counted)" : "second (wall clock)"
		printf "mode: %s, %d round(s) of %d s a set and kind; ekvm %s\n", mode, rounds, secs, version
		for (r = 1; r <= rounds; r++) {
			if (hist[r, "ekvm-off"] !~ /^(N|0)$/) { print "round " r ": kvm.ekvm_exit_hist not read back as off for ekvm-off"; bad = 1 }
			if (hist[r, "ekvm-on"] !~ /^(Y|1)$/ || period[r, "ekvm-on"] != 16) { print "round " r ": kvm.ekvm_exit_hist not read back as on, period 16, for ekvm-on"; bad = 1 }
			if (hist[r, "ekvm-exact"] !~ /^(Y|1)$/ || period[r, "ekvm-exact"] != 1) { print "round " r ": kvm.ekvm_exit_hist not read back as on, period 1, for ekvm-exact"; bad = 1 }
		}
		for (ki = 1; ki <= 2; ki++) {
			k = kinds[ki]
			printf "\n%s, exits per %s\n", title[k], unit
			printf "%-7s %12s %12s %12s %12s %10s %10s %11s\n", "round", "stock", "ekvm-off", "ekvm-on", "ekvm-exact", "off/stock", "on/stock", "exact/stock"
			n = 0; ss = 0; fs = 0; os = 0; es = 0
			for (r = 1; r <= rounds; r++) {
				s = rate[r, "stock", k]; f = rate[r, "ekvm-off", k]; o = rate[r, "ekvm-on", k]; e = rate[r, "ekvm-exact", k]
				if (s == "" || f == "" || o == "" || e == "" || s == 0) {
					printf "%-7d %12s %12s %12s %12s %10s %10s %11s  (missing)\n", r, s == "" ? "-" : s, f == "" ? "-" : f, o == "" ? "-" : o, e == "" ? "-" : e, "-", "-", "-"
					bad = 1; continue
				}
				printf "%-7d %12.0f %12.0f %12.0f %12.0f %10.4f %10.4f %11.4f\n", r, s, f, o, e, f / s, o / s, e / s
				if (n == 0 || f / s < fmin) fmin = f / s
				if (n == 0 || f / s > fmax) fmax = f / s
				if (n == 0 || o / s < omin) omin = o / s
				if (n == 0 || o / s > omax) omax = o / s
				if (n == 0 || e / s < emin) emin = e / s
				if (n == 0 || e / s > emax) emax = e / s
				ss += s; fs += f; os += o; es += e; n++
			}
			if (n == 0) { print "no complete round"; bad = 1; continue }
			printf "%-7s %12.0f %12.0f %12.0f %12.0f %10.4f %10.4f %11.4f\n", "mean", ss / n, fs / n, os / n, es / n, fs / ss, os / ss, es / ss
			printf "%-7s %12s %12s %12s %12s %10s %10s %11s\n", "goal", "", "", "", "", ">= 0.998", ">= 0.99", "-"
			printf "%s: ekvm-off / stock %.4f (goal >= 0.998; rounds %.4f ... %.4f), ekvm-on / stock %.4f (goal >= 0.99; rounds %.4f ... %.4f), ekvm-exact / stock %.4f (rounds %.4f ... %.4f), %d round(s)\n",
				k, fs / ss, fmin, fmax, os / ss, omin, omax, es / ss, emin, emax, n
		}
		exit bad
	}'
}

rc=0
if [ "$platform" = intel ]; then
	# a guest second is EKVM_BOCHS_IPS instructions; Bochs runs about that many a host second,
	# but a round of guest seconds full of VM-exits (each an emulated VM-exit and VM-entry) took
	# about 110 host seconds each on a loaded machine (docs/bench.md); the limit, at 160, only
	# catches a hung Bochs; 15 minutes to boot
	limit=$((rounds * (8 * secs + 5) * 160 + 900)) t=$SECONDS
	"$here/boot-bochs.sh" -k "$kver" -i "$out/initramfs.cpio" -o "$out/bochs" -t "$limit" -- \
		ekvm.hb=0 ekvm.vendor=intel ekvm.job=bench ekvm.rounds="$rounds" ekvm.secs="$secs" ||
		die "the benchmark guest (Bochs) did not finish (see $out/bochs/console.log)"
	info "benchmark guest (Bochs): $((SECONDS - t)) s"
	report bochs "$out/bochs/results.log" ||
		die "a measurement is missing or kvmloop failed (see $out/bochs/results.log)"
	exit 0
fi
for m in "${modes[@]}"; do
	icount=() limit=$((rounds * (8 * secs + 40) + 300))
	if [ "$m" = icount ]; then
		# a guest second takes 10-15 s of the host's under icount (docs/bench.md)
		icount=(-I) limit=$((rounds * (8 * secs + 5) * 30 + 600))
	fi
	t=$SECONDS
	"$here/boot.sh" -k "$kver" -i "$out/initramfs.cpio" -o "$out/$m" "${icount[@]}" \
		-t "$limit" -- ekvm.job=bench ekvm.rounds="$rounds" ekvm.secs="$secs" ||
		die "the benchmark guest ($m) did not finish (see $out/$m/console.log)"
	info "benchmark guest ($m): $((SECONDS - t)) s"
	report "$m" "$out/$m/results.log" || rc=1
	[ "$m" = "${modes[-1]}" ] || echo
done
[ $rc -eq 0 ] || die "a measurement is missing or kvmloop failed (see $out/*/results.log)"
