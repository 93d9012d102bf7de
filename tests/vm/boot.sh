#!/usr/bin/env bash
# Boot the Debian kernel image with the harness's initramfs under QEMU (TCG, an SVM-capable CPU,
# so that kvm-amd loads in the guest with nested SVM emulated by QEMU) and wait for it.
#   boot.sh -k KVER -i INITRAMFS -o OUTDIR [-t SECONDS] [-s STALL] [-c CPU] [-m MEM] [-K IMAGE] [-I] -- [ekvm.KEY=VALUE]...
# -K: boot IMAGE (e.g. an ekvm kernel package's vmlinuz, run.sh -K) instead of KVER's image.
# -I: deterministic guest time (-icount shift=0,sleep=off): the guest's clocks count its
# instructions, one a nanosecond, whatever the host's load (tests/vm/bench.sh; single-threaded
# TCG only). It boots one vCPU: with two, QEMU 7.2's icount hangs the guest at "smp: Bringing up
# secondary CPUs". A guest second then takes 10-15 s of the host's.
# -t: the guest's time limit; -s: stop it when it wrote no result for STALL seconds (a hung guest
# kernel: under TCG a guest can lock up, stock or not).
# The ekvm.* words go to the kernel command line for the guest's /init (tests/vm/guest-init.sh).
# EKVM_VM_ACCEL overrides the accelerator (default tcg,thread=single: multi-threaded TCG hung
# the guest now and then with nested SVM), EKVM_VM_CPU the CPU model (default EPYC: svm, npt).
# OUTDIR gets console.log (ttyS0: the kernel's console) and results.log (ttyS1: the results).
# Exits 0 when the guest finished its job (its last line is @@END), 1 if it crashed or timed out,
# 3 if it stalled.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

USAGE="$0 -k KVER -i INITRAMFS -o OUTDIR [-t SECONDS] [-s STALL] [-c CPU] [-m MEM] [-K IMAGE] [-I] -- [ekvm.KEY=VALUE]..."
kver='' initrd='' outdir='' image='' limit=1800 stall=0 cpu=${EKVM_VM_CPU:-EPYC} mem=4G
accel=${EKVM_VM_ACCEL:-tcg,thread=single}
icount=() smp=2
while getopts k:i:o:t:s:c:m:K:I opt; do
	case $opt in
	k) kver=$OPTARG ;;
	i) initrd=$OPTARG ;;
	o) outdir=$OPTARG ;;
	t) limit=$OPTARG ;;
	s) stall=$OPTARG ;;
	c) cpu=$OPTARG ;;
	m) mem=$OPTARG ;;
	K) image=$OPTARG ;;
	I) icount=(-icount "shift=0,sleep=off") smp=1 ;;
	*) usage "$USAGE" ;;
	esac
done
shift $((OPTIND - 1))
{ [ -n "$kver" ] && [ -n "$initrd" ] && [ -n "$outdir" ]; } || usage "$USAGE"
for w in "$@"; do
	[[ $w == ekvm.*=* ]] || usage "$USAGE"
done
kernel=${image:-$EKVM_BUILD/vm/kernel/$kver/boot/vmlinuz-$kver}
[ -f "$kernel" ] || die "no $kernel: run tests/vm/fetch-kernel.sh $kver"
[ -f "$initrd" ] || die "no initramfs $initrd"

mkdir -p "$outdir"
rm -f "$outdir/console.log" "$outdir/results.log"
# panic=-1 and -no-reboot: a guest kernel panic ends QEMU at once, with results.log cut short.
rc=0
timeout --kill-after=10 "$limit" qemu-system-x86_64 \
	-accel "$accel" "${icount[@]}" -cpu "$cpu" -smp "$smp" -m "$mem" \
	-display none -monitor none -no-reboot -nodefaults \
	-serial "file:$outdir/console.log" -serial "file:$outdir/results.log" \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 tsc=reliable loglevel=4 $*" \
	>"$outdir/qemu.log" 2>&1 &
qemu=$!
trap 'kill "$qemu" 2>/dev/null || true' EXIT
stalled=0
if [ "$stall" -gt 0 ]; then
	last_size=-1 last_change=$SECONDS
	while kill -0 "$qemu" 2>/dev/null; do
		size=$(stat -c %s "$outdir/results.log" 2>/dev/null || echo 0)
		if [ "$size" != "$last_size" ]; then
			last_size=$size last_change=$SECONDS
		elif [ $((SECONDS - last_change)) -ge "$stall" ]; then
			stalled=1
			kill "$qemu" 2>/dev/null || true
			break
		fi
		sleep 2
	done
fi
wait "$qemu" || rc=$?
if [ $stalled -eq 1 ]; then
	echo "@@QEMU stalled: no result for ${stall}s" >>"$outdir/results.log"
	info "guest stalled: no result for ${stall}s ($outdir)"
	exit 3
fi
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "@@QEMU timeout after ${limit}s" >>"$outdir/results.log"
	info "guest timed out after ${limit}s ($outdir)"
	exit 1
fi
if [ $rc -ne 0 ]; then
	echo "@@QEMU exit $rc: $(tail -1 "$outdir/qemu.log")" >>"$outdir/results.log"
	info "qemu failed ($rc): $(tail -1 "$outdir/qemu.log")"
	exit 1
fi
tr -d '\r' <"$outdir/results.log" | grep -q '^@@END' || { info "guest did not finish ($outdir)"; exit 1; }
exit 0
