#!/usr/bin/env bash
# I/O-exit rate of ekvm against stock KVM, in one guest boot: load stock, measure, unload,
# load ekvm, measure, unload, ROUNDS times. The measure is tests/vm/helpers/kvmloop.c: a
# real-mode guest doing "out" in a tight loop, counting KVM_EXIT_IO for SECONDS. Prints the
# numbers and the ratio ekvm/stock (goal: >= 0.99), and in the same ekvm load the rate with
# ekvm's exit-latency histograms off (goal: on costs <= 1%); asserts nothing about timing.
#   bench.sh [-k KVER] [-e EKVM_MODULE_DIR] [-r ROUNDS] [-t SECONDS]
# Under TCG, nested SVM is emulated: the absolute rates say little about hardware, the ratio
# compares the two module sets on the same emulated machine.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

USAGE="$0 [-k KVER] [-e EKVM_MODULE_DIR] [-r ROUNDS] [-t SECONDS]"
kver='' ekvm='' rounds=3 secs=5
while getopts k:e:r:t: opt; do
	case $opt in
	k) kver=$OPTARG ;;
	e) ekvm=$OPTARG ;;
	r) rounds=$OPTARG ;;
	t) secs=$OPTARG ;;
	*) usage "$USAGE" ;;
	esac
done
[ $OPTIND -gt $# ] || usage "$USAGE"
{ [[ $rounds =~ ^[1-9][0-9]*$ ]] && [[ $secs =~ ^[1-9][0-9]*$ ]]; } || usage "$USAGE"
kver=${kver:-$(makefile_var KVER)}
ekvm=$(realpath "${ekvm:-$EKVM_BUILD/modules/$kver}")
[ -f "$ekvm/kvm.ko" ] || die "no ekvm modules in $ekvm (make)"
version=$(modinfo -F version "$ekvm/kvm.ko")
here=$EKVM_TOP/tests/vm
out=$EKVM_BUILD/vm/bench

"$EKVM_TOP/scripts/install-deps.sh" -f "$here/deps.txt" "$kver"
"$here/fetch-kernel.sh" "$kver"
"$here/build-tests.sh" "${version%.*}"
mkdir -p "$out"
"$here/mkinitramfs.sh" -k "$kver" -e "$ekvm" -s none -o "$out/initramfs.cpio"
t=$SECONDS
"$here/boot.sh" -k "$kver" -i "$out/initramfs.cpio" -o "$out" \
	-t $((rounds * 3 * (secs + 20) + 120)) -- ekvm.job=bench ekvm.rounds="$rounds" ekvm.secs="$secs" ||
	die "the benchmark guest did not finish (see $out/console.log)"
info "benchmark guest: $((SECONDS - t)) s"

# @@B <round> <set> exits_per_sec R exits N seconds S; set: stock, ekvm, nohist (ekvm with its
# exit-latency histograms switched off, same module load)
tr -d '\r' <"$out/results.log" | awk -v version="$version" '
	/^@@B / {
		if ($4 != "exits_per_sec") { print "round " $2 " " $3 ": " substr($0, index($0, $4)); bad = 1; next }
		rate[$2, $3] = $5; if ($2 > n) n = $2
	}
	END {
		printf "%-6s %14s %14s %8s %16s %10s\n", "round", "stock exits/s", "ekvm exits/s", "ratio",
			"ekvm nohist/s", "hist cost"
		for (r = 1; r <= n; r++) {
			s = rate[r, "stock"]; e = rate[r, "ekvm"]; h = rate[r, "nohist"]
			if (s == "" || e == "" || h == "") { printf "%-6d %14s %14s %8s %16s\n", r, s, e, "-", h; bad = 1; continue }
			printf "%-6d %14.0f %14.0f %8.3f %16.0f %9.2f%%\n", r, s, e, e / s, h, (h - e) / h * 100
			ss += s; es += e; hs += h; k++
		}
		if (k == 0) { print "no complete round"; exit 1 }
		printf "%-6s %14.0f %14.0f %8.3f %16.0f %9.2f%%\n", "mean", ss / k, es / k, es / ss, hs / k, (hs - es) / hs * 100
		printf "ekvm %s / stock: %.3f (goal >= 0.99) over %d round(s)\n", version, es / ss, k
		printf "exit-latency histograms on / off: %.3f, %.2f%% slower (goal <= 1%%)\n", es / hs, (hs - es) / hs * 100
		exit bad
	}'
