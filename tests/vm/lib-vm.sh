# shellcheck shell=bash
# Helpers of the VM harness's scripts (sourced after scripts/lib.sh, never run): where a base's
# test programs are, kernel module files (plain or compressed; module_file is in scripts/lib.sh),
# and tests/vm/expectations.txt.

# build/vm/tests/<base version>: what build-tests.sh built for that base (6.1.192, 6.12.117...)
tests_dir() {
	echo "$EKVM_BUILD/vm/tests/$1"
}

# The name of a module file: kernel/arch/x86/kvm/kvm-amd.ko.xz -> kvm-amd
module_name() {
	local n=${1##*/}
	echo "${n%%.ko*}"
}

# Writes module file SRC uncompressed to DEST (the guest's busybox insmod takes plain .ko files).
unpack_module() {
	case $1 in
	*.ko) cp "$1" "$2" ;;
	*.ko.xz) xz -dc "$1" >"$2" ;;
	*.ko.zst) zstd -dcq "$1" >"$2" ;;
	*.ko.gz) gzip -dc "$1" >"$2" ;;
	*) die "$1: not a kernel module file (.ko, .ko.xz, .ko.zst, .ko.gz)" ;;
	esac
}

# The knobs of a test's time limit (docs/vm-test.md, "Slow hosts"): a timeout scale is a positive
# number (2, 0.5, 1.25), a retry factor a whole number from 0 (no retry) to 10.
timeout_scale_ok() {
	[[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v s="$1" 'BEGIN { exit !(s > 0) }'
}
retry_factor_ok() {
	[[ $1 =~ ^([0-9]|10)$ ]]
}

EKVM_VM_EXPECTATIONS=${EKVM_VM_EXPECTATIONS:-$EKVM_TOP/tests/vm/expectations.txt}

# Every entry of the expectations is "<test> <kind> <base> <platform> <npt> <reason...>"; a line
# that is not (an entry of an older format, a typo) would silently match nothing: stop instead.
expectations_check() {
	awk '/^[[:space:]]*(#|$)/ { next }
		NF < 6 || $2 !~ /^(fail|flaky|skip)$/ || $3 !~ /^(any|[0-9]+\.[0-9]+)$/ ||
		$4 !~ /^(any|amd|intel)$/ || $5 !~ /^(any|0|1)$/ || ($2 == "skip" && $5 != "any") {
			printf "line %d: %s\n", NR, $0; bad = 1 }
		END { exit bad }' "$EKVM_VM_EXPECTATIONS" >&2 ||
		die "$EKVM_VM_EXPECTATIONS: entries are <test> <fail|flaky|skip> <base|any> <amd|intel|any> <npt|any> <reason> (skip: npt any)"
}

# The expectation of test NAME for base BASE (6.1, 6.12), platform PLATFORM (amd: QEMU TCG's
# SVM, intel: Bochs's VMX) and setting NPT (kvm_amd.npt or kvm_intel.ept): "kind<TAB>reason"
# of the first entry that applies, or nothing.
expectation() {
	awk -v n="$1" -v base="$2" -v plat="$3" -v npt="$4" '
		/^[[:space:]]*(#|$)/ { next }
		$1 == n && ($3 == "any" || $3 == base) && ($4 == "any" || $4 == plat) && ($5 == "any" || $5 == npt) {
			r = $0; sub(/^[^ \t]+[ \t]+[^ \t]+[ \t]+[^ \t]+[ \t]+[^ \t]+[ \t]+[^ \t]+[ \t]*/, "", r); print $2 "\t" r; exit }
	' "$EKVM_VM_EXPECTATIONS"
}

# The functions of the kernel-log reports listed flaky for BASE, PLATFORM and NPT, one a line
# (entries "kernel-log/<function> flaky <base> <platform> <npt> <reason>").
expected_klog_flaky() {
	awk -v base="$1" -v plat="$2" -v npt="$3" '/^[[:space:]]*(#|$)/ { next }
		$1 ~ /^kernel-log\// && $2 == "flaky" && ($3 == "any" || $3 == base) && ($4 == "any" || $4 == plat) &&
		($5 == "any" || $5 == npt) { print substr($1, 12) }' "$EKVM_VM_EXPECTATIONS"
}

# kill_tree PID: TERM to every descendant of PID, the deepest first, so that a boot script is
# signalled after what it started and its EXIT trap still finds its emulator's process group.
# run.sh's guests run in background subshells: without this, a TERM to run.sh (a CI time limit,
# a user's kill) would leave the boot scripts and their emulators running.
kill_tree() {
	local child
	for child in $(pgrep -P "$1"); do
		kill_tree "$child"
		kill -TERM "$child" 2>/dev/null || true
	done
}

# The ekvm KVM instance in module folder DIR (docs/multi-kvm.md): its one kvm_ekvm_*.ko, when DIR
# holds one and no kvm.ko; fails otherwise.
instance_module() {
	local f=()
	! module_file "$1" kvm >/dev/null || return 1
	shopt -s nullglob
	f=("$1"/kvm_ekvm_*.ko "$1"/kvm_ekvm_*.ko.xz "$1"/kvm_ekvm_*.ko.zst "$1"/kvm_ekvm_*.ko.gz)
	shopt -u nullglob
	[ ${#f[@]} -eq 1 ] || return 1
	echo "${f[0]}"
}
