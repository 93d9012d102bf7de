#!/usr/bin/env bash
# Build time of the patched KVM against an unpatched build of the same base, on this machine,
# alternating the two from clean RUNS times; prints wall and CPU seconds and the ratio of the
# CPU times (patched / unpatched; goal <= 1.05). Figures are recorded in docs/bench.md.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

{ [ $# -ge 2 ] && [ $# -le 3 ]; } || usage "$0 VERSION KVER [RUNS]"
version=$1 kver=$2 runs=${3:-2}
dir="$EKVM_BUILD/bench"
"$EKVM_TOP/scripts/prepare-tree.sh" "$version" "$dir/unpatched" 0 2>/dev/null
"$EKVM_TOP/scripts/prepare-tree.sh" "$version" "$dir/ekvm" 2>/dev/null

# CPU clock ticks used by this shell's finished children (utime + stime + cutime + cstime);
# read with builtins into the variable named, so that it is this shell's /proc entry.
cpu_ticks() {
	local -a st
	read -ra st <"/proc/$BASHPID/stat"
	printf -v "$1" '%d' $((st[13] + st[14] + st[15] + st[16]))
}

# Prints "wall cpu" in seconds for one clean build of a tree.
timed_build() {
	local tree=$1 t0 c0 c1
	make -s -C "/lib/modules/$kver/build" M="$tree/arch/x86/kvm" clean >/dev/null
	cpu_ticks c0
	t0=$(date +%s.%N)
	kbuild_tree "$tree" "$kver" "$tree/build.log" || die "the build of $tree failed"
	cpu_ticks c1
	echo "$(echo "$(date +%s.%N) - $t0" | bc) $(echo "($c1 - $c0) / $(getconf CLK_TCK)" | bc -l)"
}

declare -A wall cpu
for _ in $(seq "$runs"); do
	for kind in unpatched ekvm; do
		read -r w c < <(timed_build "$dir/$kind")
		wall[$kind]=$(echo "${wall[$kind]:-0} + $w" | bc -l)
		cpu[$kind]=$(echo "${cpu[$kind]:-0} + $c" | bc -l)
	done
done
for kind in unpatched ekvm; do
	printf '%-10s build: %6.1f s wall, %6.1f s CPU (mean of %d)\n' "$kind" \
		"$(echo "${wall[$kind]} / $runs" | bc -l)" "$(echo "${cpu[$kind]} / $runs" | bc -l)" "$runs"
done
printf 'build time ratio ekvm/unpatched: %.3f CPU, %.3f wall (goal <= 1.05)\n' \
	"$(echo "${cpu[ekvm]} / ${cpu[unpatched]}" | bc -l)" "$(echo "${wall[ekvm]} / ${wall[unpatched]}" | bc -l)"
