#!/usr/bin/env bash
# Boot the Debian kernel image with the harness's initramfs under Bochs, whose CPU emulates VMX
# (EPT, VPID, unrestricted guest), so that kvm-intel loads in the guest: the Intel half of the
# harness (docs/vm-test.md, "Intel: Bochs"). The same interface as boot.sh:
#   boot-bochs.sh -k KVER -i INITRAMFS -o OUTDIR [-t SECONDS] [-s STALL] [-c MODEL] [-m MIB] -- [ekvm.KEY=VALUE]...
# Bochs boots no kernel by itself: the kernel, the initramfs and the command line go on a GRUB
# rescue ISO (grub-mkrescue) that Bochs boots from its CD-ROM drive. Guest time follows the
# instruction count (clock: sync=none): a guest second is EKVM_BOCHS_IPS instructions, whatever
# the host's load. Its display is VNC (rfb, the only non-interactive one in Debian's build),
# inside a network namespace of its own: nothing listens on any of the host's interfaces.
# -t: the guest's time limit (host seconds); -s: stop it when it showed no life for STALL host
# seconds: no result and no heartbeat (ekvm.hb=5: guest-init.sh writes a line among the results
# every 5 guest seconds while its kernel's timers run). Bochs hangs the whole machine when a KVM
# guest spins with interrupts off, and the guest's own timeouts then never fire: a host-side
# watchdog is the only way out. A test that is only slow (a guest second is several host seconds
# under Bochs) keeps the heartbeat going and is left to its guest-side timeout.
# -c: the Bochs CPU model (default corei7_skylake_x, EKVM_BOCHS_CPU); -m: memory in MiB (1024).
# OUTDIR gets console.log (COM1: the kernel's console), results.log (COM2: the results) and
# bochs.log. Exits 0 when the guest finished its job (its last line is @@END), 1 if it crashed
# or timed out, 3 if it stalled; Bochs never outlives this script.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

USAGE="$0 -k KVER -i INITRAMFS -o OUTDIR [-t SECONDS] [-s STALL] [-c MODEL] [-m MIB] -- [ekvm.KEY=VALUE]..."
kver='' initrd='' outdir='' limit=1800 stall=0 cpu=${EKVM_BOCHS_CPU:-corei7_skylake_x} mem=1024
ips=${EKVM_BOCHS_IPS:-40000000}
while getopts k:i:o:t:s:c:m: opt; do
	case $opt in
	k) kver=$OPTARG ;;
	i) initrd=$OPTARG ;;
	o) outdir=$OPTARG ;;
	t) limit=$OPTARG ;;
	s) stall=$OPTARG ;;
	c) cpu=$OPTARG ;;
	m) mem=$OPTARG ;;
	*) usage "$USAGE" ;;
	esac
done
shift $((OPTIND - 1))
{ [ -n "$kver" ] && [ -n "$initrd" ] && [ -n "$outdir" ]; } || usage "$USAGE"
for w in "$@"; do
	[[ $w == ekvm.*=* ]] || usage "$USAGE"
done
[[ $cpu =~ ^[a-z0-9_]+$ ]] || die "'$cpu' is not a Bochs CPU model name"
[[ $mem =~ ^[0-9]+$ ]] || die "memory '$mem': MiB, a whole number"
[[ $ips =~ ^[0-9]+$ ]] || die "EKVM_BOCHS_IPS '$ips': instructions a second, a whole number"
command -v bochs-bin >/dev/null || die "no Bochs (scripts/install-deps.sh -f tests/vm/deps-intel.txt)"
command -v grub-mkrescue >/dev/null || die "no grub-mkrescue (scripts/install-deps.sh -f tests/vm/deps-intel.txt)"
kernel=$EKVM_BUILD/vm/kernel/$kver/boot/vmlinuz-$kver
[ -f "$kernel" ] || die "no $kernel: run tests/vm/fetch-kernel.sh $kver"
[ -f "$initrd" ] || die "no initramfs $initrd"
bios=/usr/share/bochs/BIOS-bochs-latest vgabios=/usr/share/vgabios/vgabios.bin
{ [ -f "$bios" ] && [ -f "$vgabios" ]; } || die "no Bochs BIOS ($bios, $vgabios: bochsbios, vgabios)"

mkdir -p "$outdir"
outdir=$(realpath "$outdir")
rm -f "$outdir/console.log" "$outdir/results.log" "$outdir/bochs.log"
: >"$outdir/console.log"
: >"$outdir/results.log"

# the heartbeat, unless the caller set it (bench.sh: ekvm.hb=0, nothing else runs in the guest)
hb=ekvm.hb=5
[[ " $* " != *" ekvm.hb="* ]] || hb=''
# The ISO: GRUB on the serial port (no menu, no wait), the kernel and the initramfs.
iso=$outdir/boot.iso stage=$outdir/iso
rm -rf "$stage" && mkdir -p "$stage/boot/grub"
cp "$kernel" "$stage/boot/vmlinuz"
cp "$initrd" "$stage/boot/initrd"
# panic=-1: a guest kernel panic reboots, which the harness reads as a crash (no @@END)
cat >"$stage/boot/grub/grub.cfg" <<EOF
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=0
menuentry ekvm {
	linux /boot/vmlinuz console=ttyS0,115200 panic=-1 tsc=reliable loglevel=4 $hb $*
	initrd /boot/initrd
}
EOF
grub-mkrescue -o "$iso" "$stage" >"$outdir/grub-mkrescue.log" 2>&1 ||
	die "grub-mkrescue failed: $(tail -1 "$outdir/grub-mkrescue.log")"
rm -rf "$stage"

cat >"$outdir/bochsrc" <<EOF
megs: $mem
cpu: model=$cpu, count=1, ips=$ips, reset_on_triple_fault=1
clock: sync=none, time0=946681200
romimage: file=$bios
vgaromimage: file=$vgabios
ata0-master: type=cdrom, path="$iso", status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev="$outdir/console.log"
com2: enabled=1, mode=file, dev="$outdir/results.log"
display_library: rfb, options="timeout=0"
log: $outdir/bochs.log
panic: action=fatal
error: action=report
info: action=ignore
debug: action=ignore
EOF
# Debian's Bochs has its debugger built in and stops before the first instruction: "c" goes on.
echo c >"$outdir/debugger.rc"

# Bochs in its own network namespace (its VNC port reaches nothing) and process group, killed
# with everything it started when this script ends, however it ends.
rc=0
(cd "$outdir" && exec setsid timeout --kill-after=10 "$limit" unshare --net \
	bochs-bin -q -f "$outdir/bochsrc" -rc "$outdir/debugger.rc" </dev/null >"$outdir/bochs.out" 2>&1) &
bochs=$!
trap 'kill -- -"$bochs" 2>/dev/null || kill "$bochs" 2>/dev/null || true' EXIT
finished=0 stalled=0 last_size=-1 last_change=$SECONDS
while kill -0 "$bochs" 2>/dev/null; do
	# the guest's last line says it is done (its poweroff ends Bochs too)
	if grep -q '^@@END' "$outdir/results.log"; then
		finished=1
		break
	fi
	size=$(cat "$outdir/results.log" "$outdir/console.log" 2>/dev/null | wc -c)
	if [ "$size" != "$last_size" ]; then
		last_size=$size last_change=$SECONDS
	elif [ "$stall" -gt 0 ] && [ $((SECONDS - last_change)) -ge "$stall" ]; then
		stalled=1
		break
	fi
	sleep 2
done
kill -- -"$bochs" 2>/dev/null || kill "$bochs" 2>/dev/null || true
wait "$bochs" 2>/dev/null || rc=$?
rm -f "$iso"
# (the guest's poweroff ends Bochs, with status 1, right after the last line)
if [ $finished -eq 1 ] || grep -q '^@@END' "$outdir/results.log"; then
	exit 0
fi
if [ $stalled -eq 1 ]; then
	echo "@@QEMU stalled: no result and no heartbeat for ${stall}s (Bochs)" >>"$outdir/results.log"
	info "guest stalled: no result and no heartbeat for ${stall}s ($outdir)"
	exit 3
fi
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "@@QEMU timeout after ${limit}s (Bochs)" >>"$outdir/results.log"
	info "guest timed out after ${limit}s ($outdir)"
	exit 1
fi
echo "@@QEMU Bochs ended ($rc) before the guest finished: $(tail -1 "$outdir/bochs.out" 2>/dev/null)" >>"$outdir/results.log"
info "Bochs ended ($rc) before the guest finished ($outdir): $(tail -1 "$outdir/bochs.out" 2>/dev/null)"
exit 1
