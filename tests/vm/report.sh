#!/usr/bin/env bash
# Compare the guest runs of one harness run and say whether ekvm regressed.
#   report.sh -d RUNDIR [-P amd|intel] [-V EKVM_VERSION] [-b BASE] [-n NPTS] [-S TIMEOUT_SCALE] [-R RETRY_FACTOR]
# RUNDIR holds stock-nptN/ and ekvm-nptN/ (results.log and console.log of boot.sh) for each
# npt setting of NPTS (comma list, default 1,0), and optionally reload/, instance/ and
# instances-nptN/ (the scenarios of guest-init.sh, each step a verdict). On platform intel
# (-P; Bochs, kvm_intel) the setting is kvm_intel's ept: stock-eptN/, ekvm-eptN/, and the
# verdicts are named eptN/... Writes, in RUNDIR:
#   <run>/tests.tsv, <run>/dmesg.log, <run>/logs/<test>.log, <run>.tap   each guest run (kselftest TAP)
#   results.tap (TAP 13) and results.xml (JUnit)                         the verdicts
# prints the table and the closing "N passed, N failed, N skipped" line, and exits 1 when:
#   a test that passes with stock fails (or skips) with ekvm; the ekvm modules do not load, do
#   not report the ekvm version (sysfs and KVM_CAP_EKVM) or do not unload; the guest's kernel
#   log has a WARNING, BUG, Oops or Call Trace with ekvm that stock did not have; a guest did not
#   finish; a test fails with stock and ekvm and is not listed in tests/vm/expectations.txt.
# A test that timed out ran once more with a longer limit (guest-init.sh, @@R): the verdict is on
# the retry's result, and the notes say what the first attempt did. A test that timed out with
# stock and with ekvm, retry included, is no ekvm regression: verdict SLOW (the machine is too
# slow for it), counted as skipped and listed at the end, unless the expectations list it.
# BASE (6.1, 6.12; default: the series of EKVM_VERSION) chooses the expectations that apply.
# -S and -R (what run.sh used: EKVM_VM_TIMEOUT_SCALE, EKVM_VM_RETRY) only go into the table.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$(dirname "$0")/lib-vm.sh"

USAGE="$0 -d RUNDIR [-P amd|intel] [-V EKVM_VERSION] [-b BASE] [-n NPTS] [-S TIMEOUT_SCALE] [-R RETRY_FACTOR]"
dir='' want_version='' npts=1,0 base='' tscale='' retry='' platform=amd
while getopts d:V:b:n:S:R:P: opt; do
	case $opt in
	P) platform=$OPTARG ;;
	S) tscale=$OPTARG ;;
	R) retry=$OPTARG ;;
	d) dir=$OPTARG ;;
	V) want_version=$OPTARG ;;
	b) base=$OPTARG ;;
	n) npts=$OPTARG ;;
	*) usage "$USAGE" ;;
	esac
done
{ [ -n "$dir" ] && [ -d "$dir" ]; } || usage "$USAGE"
# 6.12.117.1 -> 6.12
[ -n "$base" ] || [ -z "$want_version" ] || base=$(series_of "$(series_of "$want_version")")
[[ $base =~ ^[0-9]+\.[0-9]+$ ]] || usage "$USAGE"
[ -z "$tscale" ] || timeout_scale_ok "$tscale" || die "timeout scale '$tscale' (-S): not a positive number like 2 or 0.5"
[ -z "$retry" ] || retry_factor_ok "$retry" || die "retry factor '$retry' (-R): not a whole number from 0 to 10"
expectations_check
case $platform in
amd) mmu=npt vmod=kvm_amd ;;
intel) mmu=ept vmod=kvm_intel ;;
*) usage "$USAGE" ;;
esac

# --- parse one guest run: tests.tsv (name status rc ms), meta, dmesg.log, logs/, kernel issues
parse() {
	local run=$1
	[ -f "$run/results.log" ] || return 1
	rm -rf "$run/logs"
	mkdir -p "$run/logs"
	tr -d '\r' <"$run/results.log" | awk -v run="$run" '
		function log_of(n) { gsub("/", "_", n); return run "/logs/" n ".log" }
		# What a kernel problem is, without what changes from boot to boot or build to build.
		function issue(line) {
			if (line !~ /WARNING:|BUG:|Oops|Call Trace|general protection fault|Kernel panic|kernel BUG|RIP: /)
				return ""
			sub(/^\[ *[0-9.]+\] /, "", line)
			gsub(/CPU: [0-9]+ PID: [0-9]+/, "CPU: N PID: N", line)
			# "at /any/build/dir/arch/x86/kvm/x86.c:675": the file, not where it was built nor the line
			while (match(line, / at [^ ]*\/[^ \/]+:[0-9]+/)) {
				f = substr(line, RSTART + 4, RLENGTH - 4); sub(/.*\//, "", f); sub(/:[0-9]+$/, "", f)
				line = substr(line, 1, RSTART - 1) " at " f substr(line, RSTART + RLENGTH)
			}
			gsub(/0x[0-9a-f]+/, "X", line); gsub(/[0-9a-f]{8,}/, "X", line)
			gsub(/Comm: [^ ]+/, "Comm: C", line); gsub(/Tainted: [A-Z ]+/, "Tainted: T", line)
			gsub(/\[[^]]*:[0-9]+\]/, "[task]", line); gsub(/[0-9]+/, "N", line)
			return line
		}
		/^@@BEGIN/ { print "begin", $2, $3, $4 > (run "/meta") }
		/^@@LOAD/ { s = $0; sub(/^@@LOAD [^ ]+ /, "", s); print "load", s > (run "/meta") }
		/^@@PARAM/ { print "param_" $2, $3 > (run "/meta") }
		/^@@IDENT/ { print "ident", $3, $4 > (run "/meta") }
		/^@@UNLOAD/ { s = $0; sub(/^@@UNLOAD /, "", s); print "unload", s > (run "/meta") }
		/^@@END/ { print "end" > (run "/meta") }
		/^@@RESTART/ { restarts++; print "restart", $3 > (run "/meta") }
		/^@@QEMU/ { s = $0; sub(/^@@QEMU /, "", s); print "qemu", s > (run "/meta") }
		/^@@HOST / { print "host_" $2, $3, $4, $5 > (run "/meta") }
		# a first attempt that timed out: name status rc ms limit retry-limit
		/^@@R / { print $2 "\t" $3 "\t" $4 "\t" $5 "\t" $6 "\t" $7 > (run "/retries.tsv") }
		/^@@S / { current = $2 }
		/^@@T / { print $2 "\t" $3 "\t" $4 "\t" $5 > (run "/tests.tsv"); current = "" }
		/^@@O / { n = $2; s = $0; sub(/^@@O [^ ]+ /, "", s); print s > log_of(n) }
		# A report (WARNING, BUG, Oops...) is known by its first line; its "RIP:" and "Call Trace:"
		# lines, up to "---[ end trace", belong to it. A Call Trace of its own counts alone.
		/^@@K / { s = $0; sub(/^@@K [^ ]+ /, "", s); print s > (run "/dmesg.log")
			  if (s ~ /---\[ end trace/) { in_report[$2] = 0; next }
			  i = issue(s); if (i == "") next
			  if (s ~ /Call Trace|RIP: /) { if (in_report[$2]) next }
			  else in_report[$2] = 1
			  print $2 "\t" i "\t" s > (run "/issues.tsv") }
		END { if (current != "") print "running", current > (run "/meta") }
	'
	touch "$run/meta" "$run/tests.tsv" "$run/issues.tsv" "$run/dmesg.log" "$run/retries.tsv"
	# A guest that hung or died: its console has the last words (panic, oops, lockup) that the
	# ring buffer never gave; they are the hung test's.
	if grep -q '^restart\|^running' "$run/meta" && [ -f "$run/console.log" ]; then
		tr -d '\r' <"$run/console.log" |
			grep -E 'WARNING:|BUG:|Oops|Call Trace|general protection fault|Kernel panic|kernel BUG' |
			sed -e 's/^\[ *[0-9.]*\] //' |
			awk '{ l = $0; gsub(/\[[^]]*:[0-9]+\]/, "[task]"); gsub(/[0-9]+/, "N")
			       print "console\t" $0 "\t" l }' >>"$run/issues.tsv" || true
	fi
}

meta() { awk -v k="$2" '$1 == k { $1 = ""; print substr($0, 2); exit }' "$1/meta"; }

# What a test's retry did, from its first attempt (retries.tsv: name status rc ms limit limit2)
# and its final result: "timeout at 120 s, passed on retry at 360 s (in 200.1 s)"; nothing when
# it was not retried.
retry_note() {
	local run=$1 name=$2 st=$3 ms=$4 r
	r=$(awk -F'\t' -v n="$name" '$1 == n { print $5 "\t" $6; exit }' "$run/retries.tsv")
	[ -n "$r" ] || return 0
	local l1=${r%%$'\t'*} l2=${r#*$'\t'}
	case $st in
	pass) echo "timeout at $l1 s, passed on retry at $l2 s (in $(secs "$ms") s)" ;;
	timeout) echo "timeout at $l1 s and again on retry at $l2 s" ;;
	*) echo "timeout at $l1 s, $st on retry at $l2 s" ;;
	esac
}

# kselftest-style TAP of one guest run
run_tap() {
	local run=$1 n=0 name st rc ms rn
	{
		echo "TAP version 13"
		echo "1..$(wc -l <"$run/tests.tsv")"
		while IFS=$'\t' read -r name st rc ms; do
			n=$((n + 1))
			rn=$(retry_note "$run" "$name" "$st" "$ms")
			case $st in
			pass) echo "ok $n $name${rn:+ # $rn}" ;;
			skip) echo "ok $n $name # SKIP" ;;
			timeout) echo "not ok $n $name # TIMEOUT${rn:+ ($rn)}" ;;
			signal) echo "not ok $n $name # killed by signal $rc${rn:+ ($rn)}" ;;
			*) echo "not ok $n $name # exit=$rc${rn:+ ($rn)}" ;;
			esac
		done <"$run/tests.tsv"
	} >"$run.tap"
}

declare -a V_NAME V_VERDICT V_NOTE
verdict() { V_NAME+=("$1"); V_VERDICT+=("$2"); V_NOTE+=("$3"); }
secs() {
	if [ "${1:--}" = - ]; then echo -; else awk -v ms="$1" 'BEGIN { printf "%.1f", ms / 1000 }'; fi
}

table=$dir/table.txt
: >"$table"
row() { printf '%-46s %-8s %-8s %8s %8s  %s\n' "$@" >>"$table"; }
if [ -n "$tscale$retry" ]; then
	echo "time limits: the timeouts of test-args.txt x ${tscale:-1} (EKVM_VM_TIMEOUT_SCALE);" \
		"a test that timed out ran once more at ${retry:-?}x its limit (EKVM_VM_RETRY; 0: no retry)" >>"$table"
fi
retried=() slow=()

IFS=, read -r -a npt_list <<<"$npts"
for npt in "${npt_list[@]}"; do
	s=$dir/stock-$mmu$npt e=$dir/ekvm-$mmu$npt
	parse "$s" || { verdict "$mmu$npt/guest" FAIL "no stock run in $s"; continue; }
	parse "$e" || { verdict "$mmu$npt/guest" FAIL "no ekvm run in $e"; continue; }
	run_tap "$s"
	run_tap "$e"
	echo "" >>"$table"
	echo "$mmu=$npt" >>"$table"
	for r in "$s" "$e"; do
		h0=$(meta "$r" host_start) h1=$(meta "$r" host_end)
		[ -z "$h0" ] || echo "  host load (1, 5, 15 min) ${r##*/}: $h0 at the start, ${h1:-?} at the end" >>"$table"
	done
	row test stock ekvm "stock s" "ekvm s" verdict

	# the guests ran to the end
	for r in "$s" "$e"; do
		set=${r##*/}
		if grep -q '^end' "$r/meta"; then
			verdict "$mmu$npt/$set/complete" PASS "$(grep -c '^restart' "$r/meta") restart(s)"
		else
			verdict "$mmu$npt/$set/complete" FAIL "the guest did not finish: $(meta "$r" qemu) during $(meta "$r" running) (see $r/console.log)"
		fi
	done

	# modules: load, npt (ept) setting, identity, unload
	sl=$(meta "$s" load) el=$(meta "$e" load)
	[[ $sl == ok* ]] || verdict "$mmu$npt/modules/stock-load" FAIL "stock modules did not load: ${sl:-no result}"
	if [[ $el == ok* ]]; then
		verdict "$mmu$npt/modules/ekvm-load" PASS ""
	else
		verdict "$mmu$npt/modules/ekvm-load" FAIL "ekvm modules did not load: ${el:-no result}"
	fi
	want_np=$([ "$npt" = 1 ] && echo Y || echo N)
	for r in "$s" "$e"; do
		got=$(meta "$r" "param_$mmu")
		[ -z "$got" ] || [ "$got" = "$want_np" ] ||
			verdict "$mmu$npt/modules/${r##*/}-$mmu" FAIL "$vmod.$mmu is $got, wanted $want_np"
	done
	read -r scap sver <<<"$(meta "$s" ident)" || true
	read -r ecap ever <<<"$(meta "$e" ident)" || true
	if [[ $sl == ok* ]] && [ "$scap $sver" != "cap=0 version=-" ]; then
		verdict "$mmu$npt/modules/stock-identity" FAIL "stock KVM reports ekvm: $scap $sver"
	fi
	if [[ $el == ok* ]]; then
		ecapv=${ecap#cap=} everv=${ever#version=}
		if ! [[ $ecapv =~ ^[0-9]+$ ]] || [ "$ecapv" -lt 1 ]; then
			verdict "$mmu$npt/modules/ekvm-identity" FAIL "KVM_CAP_EKVM is '$ecapv', not an ABI level"
		elif [ "$everv" = - ] || { [ -n "$want_version" ] && [ "$everv" != "$want_version" ]; }; then
			verdict "$mmu$npt/modules/ekvm-identity" FAIL "/sys/module/kvm/ekvm/version is '$everv', the module file says '${want_version:-?}'"
		else
			verdict "$mmu$npt/modules/ekvm-identity" PASS "ekvm $everv, KVM_CAP_EKVM $ecapv"
		fi
		su=$(meta "$s" unload) eu=$(meta "$e" unload)
		if [[ $eu == ok* ]] || { [ -n "$su" ] && [[ $su != ok* ]]; } || [ -z "$eu$su" ]; then
			[ -z "$eu" ] || verdict "$mmu$npt/modules/ekvm-unload" PASS ""
		else
			verdict "$mmu$npt/modules/ekvm-unload" FAIL "$vmod/kvm did not unload after the tests: ${eu:-no result}"
		fi
	fi

	# tests: ekvm against stock
	declare -A S_ST=() S_MS=() E_ST=() E_MS=()
	order=()
	while IFS=$'\t' read -r name st rc ms; do S_ST[$name]=$st S_MS[$name]=$ms; order+=("$name"); done <"$s/tests.tsv"
	while IFS=$'\t' read -r name st rc ms; do
		E_ST[$name]=$st E_MS[$name]=$ms
		[ -n "${S_ST[$name]:-}" ] || order+=("$name")
	done <"$e/tests.tsv"
	for name in "${order[@]}"; do
		st=${S_ST[$name]:--} et=${E_ST[$name]:--}
		exp=$(expectation "$name" "$base" "$platform" "$npt")
		kind=${exp%%$'\t'*} why=${exp#*$'\t'}
		v=PASS note=""
		# what the retries did, each side (the same policy in both guests)
		sr=$(retry_note "$s" "$name" "$st" "${S_MS[$name]:-}") er=$(retry_note "$e" "$name" "$et" "${E_MS[$name]:-}")
		rnote="${sr:+stock: $sr}${sr:+${er:+; }}${er:+ekvm: $er}"
		[ -z "$sr" ] || retried+=("$mmu$npt/$name: stock: $sr")
		[ -z "$er" ] || retried+=("$mmu$npt/$name: ekvm: $er")
		case $et in
		pass)
			[ "$kind" != fail ] || note="XPASS: listed as failing ($why), remove the entry?" ;;
		skip)
			if [ "$st" = pass ]; then
				v=FAIL note="regression: skips with ekvm, passes with stock"
			else
				v=SKIP
			fi ;;
		*)
			if [ "$st" = pass ]; then
				if [ "$kind" = flaky ]; then
					v=FLAKY note="$et with ekvm, pass with stock; flaky: $why"
				else
					v=FAIL note="regression: $et with ekvm, passes with stock"
				fi
			elif [ "$kind" = fail ] || [ "$kind" = flaky ]; then
				v=XFAIL note="$kind: $why"
			elif [ "$st" = timeout ] && [ "$et" = timeout ]; then
				# no ekvm regression: neither side finished it in time, retry included
				v=SLOW note="timeout on both sides (machine too slow)"
				slow+=("$mmu$npt/$name: ${rnote:-timeout with stock and ekvm}")
			elif [ "$st" = - ]; then
				v=FAIL note="$et with ekvm, not run with stock"
			elif [ "$st" = skip ]; then
				v=FAIL note="$et with ekvm, skips with stock"
			else
				v=FAIL note="$et with ekvm and $st with stock: not in expectations.txt for $base"
			fi ;;
		esac
		[ -z "$rnote" ] || note+="${note:+; }$rnote"
		verdict "$mmu$npt/$name" "$v" "$note"
		row "$name" "$st" "$et" "$(secs "${S_MS[$name]:-}")" "$(secs "${E_MS[$name]:-}")" "$v${note:+ ($note)}"
	done
	unset S_ST S_MS E_ST E_MS

	# kernel log: problems ekvm has that stock has not, less the known flaky ones
	# (expectations: "kernel-log/<function> flaky <base> <platform> <npt> <reason>", <function> as in "at
	# x86.c <function>+0x.../0x..." of the report's first line)
	new=$(awk -F'\t' 'NR == FNR { seen[$2] = 1; next } !($2 in seen) { print $1 "\t" $2 "\t" $3 }' \
		"$s/issues.tsv" "$e/issues.tsv" | sort -u)
	known=$(expected_klog_flaky "$base" "$platform" "$npt")
	unknown="" flaky=""
	while IFS=$'\t' read -r t sig line; do
		[ -n "$t" ] || continue
		k=""
		for fn in $known; do
			if [[ $sig == *" $fn+"* ]]; then k=$fn; fi
		done
		if [ -n "$k" ]; then flaky+="$t: $line (known: kernel-log/$k)"$'\n'; else unknown+="$t: $line"$'\n'; fi
	done <<<"$new"
	if [ -n "$flaky" ]; then
		while IFS= read -r l; do [ -z "$l" ] || echo "    FLAKY $l"; done <<<"$flaky" >>"$table"
	fi
	if [ -n "$unknown" ]; then
		verdict "$mmu$npt/kernel-log" FAIL "ekvm's kernel log has what stock's has not: $(head -5 <<<"$unknown" | tr '\n' '|')"
		while IFS= read -r l; do [ -z "$l" ] || echo "    NEW $l"; done <<<"$unknown" >>"$table"
	elif [ -n "$flaky" ]; then
		verdict "$mmu$npt/kernel-log" FLAKY "only known flaky reports: $(head -3 <<<"$flaky" | tr '\n' '|')"
	else
		verdict "$mmu$npt/kernel-log" PASS "$(wc -l <"$e/issues.tsv") matching lines with ekvm, $(wc -l <"$s/issues.tsv") with stock"
	fi
done

# the scenarios, ekvm only: the module reload, and a KVM instance's own (tests/vm/guest-init.sh)
for r in "$dir"/reload "$dir"/instance "$dir"/instances-*; do
	[ -d "$r" ] || continue
	scen=${r##*/}
	if parse "$r"; then
		echo "" >>"$table"
		case $scen in
		reload) echo "module reload (stock -> ekvm without reboot)" ;;
		instance) echo "KVM instance (one module, its own names; docs/multi-kvm.md)" ;;
		instances-*) echo "two KVM instances at once, ${scen#instances-} (docs/multi-kvm.md)" ;;
		esac >>"$table"
		row test stock ekvm "" "ekvm s" verdict
		while IFS=$'\t' read -r name st rc ms; do
			if [ "$st" = pass ]; then v=PASS note=""; else v=FAIL note="see $r/logs/${name//\//_}.log"; fi
			verdict "$name" "$v" "$note"
			row "$name" - "$st" - "$(secs "$ms")" "$v"
		done <"$r/tests.tsv"
		grep -q '^end' "$r/meta" || verdict "$scen/complete" FAIL "the guest did not finish: $(meta "$r" qemu) during $(meta "$r" running)"
		# what the stock guests' logs have too (boot messages) is not the scenario's doing
		new=$({ cat "$dir"/stock-"$mmu"*/issues.tsv 2>/dev/null || true; } |
			awk -F'\t' 'NR == FNR { seen[$2] = 1; next } !($2 in seen) { print $1 ": " $3 }' - "$r/issues.tsv" |
			sort -u | head -5)
		if [ -n "$new" ]; then
			verdict "$scen/kernel-log" FAIL "kernel log: $(tr '\n' '|' <<<"$new")"
		else
			verdict "$scen/kernel-log" PASS ""
		fi
	else
		verdict "$scen/complete" FAIL "no results in $r"
	fi
done

# --- verdicts: TAP 13, JUnit, table, closing line
pass=0 fail=0 skip=0
{
	echo "TAP version 13"
	echo "1..${#V_NAME[@]}"
	for i in "${!V_NAME[@]}"; do
		n=$((i + 1)) name=${V_NAME[i]} note=${V_NOTE[i]}
		case ${V_VERDICT[i]} in
		PASS) pass=$((pass + 1)); echo "ok $n $name${note:+ # $note}" ;;
		SKIP) skip=$((skip + 1)); echo "ok $n $name # SKIP" ;;
		SLOW) skip=$((skip + 1)); echo "ok $n $name # SKIP $note" ;;
		XFAIL | FLAKY) skip=$((skip + 1)); echo "not ok $n $name # TODO $note" ;;
		*) fail=$((fail + 1)); echo "not ok $n $name # $note" ;;
		esac
	done
} >"$dir/results.tap"
xml() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g' <<<"$1"; }
{
	echo '<?xml version="1.0" encoding="UTF-8"?>'
	echo "<testsuite name=\"ekvm-vm\" tests=\"${#V_NAME[@]}\" failures=\"$fail\" skipped=\"$skip\">"
	for i in "${!V_NAME[@]}"; do
		printf '  <testcase classname="ekvm-vm" name="%s">' "$(xml "${V_NAME[i]}")"
		case ${V_VERDICT[i]} in
		PASS) ;;
		SKIP | XFAIL | FLAKY | SLOW) printf '<skipped message="%s"/>' "$(xml "${V_VERDICT[i]} ${V_NOTE[i]}")" ;;
		*) printf '<failure message="%s"/>' "$(xml "${V_NOTE[i]}")" ;;
		esac
		echo '</testcase>'
	done
	echo '</testsuite>'
} >"$dir/results.xml"

cat "$table"
echo ""
if [ ${#retried[@]} -gt 0 ]; then
	echo "RETRIED (timed out, then ran once more with a longer limit):"
	printf '  %s\n' "${retried[@]}"
fi
if [ ${#slow[@]} -gt 0 ]; then
	echo "TIMEOUT ON BOTH SIDES (machine too slow: no ekvm regression, not a failure; counted as skipped):"
	printf '  %s\n' "${slow[@]}"
fi
if [ "$fail" -gt 0 ]; then
	echo "FAILED:"
	for i in "${!V_NAME[@]}"; do
		[ "${V_VERDICT[i]}" = FAIL ] && echo "  ${V_NAME[i]}: ${V_NOTE[i]}"
	done
fi
echo "results: $dir/results.tap $dir/results.xml"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
