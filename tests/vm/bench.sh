#!/usr/bin/env bash
# I/O-exit rate of ekvm against stock KVM, in one guest boot: load stock, measure, unload,
# load ekvm, measure, unload, ROUNDS times. The measure is tests/vm/helpers/kvmloop.c: a
# real-mode guest doing "out" in a tight loop, counting KVM_EXIT_IO for SECONDS. Prints the
# numbers and the ratio ekvm/stock (goal: >= 0.99); asserts nothing about timing.
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
	-t $((rounds * 2 * (secs + 20) + 120)) -- ekvm.job=bench ekvm.rounds="$rounds" ekvm.secs="$secs" ||
	die "the benchmark guest did not finish (see $out/console.log)"
info "benchmark guest: $((SECONDS - t)) s"

# @@B <round> <set> exits_per_sec R exits N seconds S
tr -d '\r' <"$out/results.log" | awk -v version="$version" '
	/^@@B / {
		if ($4 != "exits_per_sec") { print "round " $2 " " $3 ": " substr($0, index($0, $4)); bad = 1; next }
		rate[$2, $3] = $5; if ($2 > n) n = $2
	}
	END {
		printf "%-6s %14s %14s %8s\n", "round", "stock exits/s", "ekvm exits/s", "ratio"
		for (r = 1; r <= n; r++) {
			s = rate[r, "stock"]; e = rate[r, "ekvm"]
			if (s == "" || e == "") { printf "%-6d %14s %14s %8s\n", r, s, e, "-"; bad = 1; continue }
			printf "%-6d %14.0f %14.0f %8.3f\n", r, s, e, e / s
			ss += s; es += e; k++
		}
		if (k == 0) { print "no complete round"; exit 1 }
		printf "%-6s %14.0f %14.0f %8.3f\n", "mean", ss / k, es / k, es / ss
		printf "ekvm %s / stock: %.3f (goal >= 0.99) over %d round(s)\n", version, es / ss, k
		exit bad
	}'
