#!/usr/bin/env bash
# Unit test of tests/vm/report.sh's verdicts on timeouts and retries, with fake guest results
# (no QEMU, seconds): run by tests/vm/run.sh before it boots anything, or on its own
# (tests/run.sh tests/vm/report-unit-test.sh). It proves that
#   - a test that timed out with stock and with ekvm, retry included, is SLOW: reported, not a failure;
#   - a test that timed out with ekvm, retry included, and passes with stock is a regression;
#   - a test that passed on its retry passes, and the report says it was retried;
#   - the same retry policy on both sides: stock passing only on its retry still makes an ekvm
#     timeout a regression; both sides timing out on a test the expectations list is XFAIL;
#   - bad values of the knobs (EKVM_VM_TIMEOUT_SCALE, EKVM_VM_RETRY, -S, -R) stop with one line.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

report=$EKVM_TOP/tests/vm/report.sh
export EKVM_VM_EXPECTATIONS=$TEST_TMP/expectations.txt
cat >"$EKVM_VM_EXPECTATIONS" <<'EOF'
selftests/fake_listed fail 6.1 any any times out with stock too (this test's own entry)
EOF

# guest_log DIR MODS NPT TEST... : a guest's results.log; TEST is name=status (one attempt) or
# name=timeout/status (timed out at 120 s, then status on its retry at 360 s)
guest_log() {
	local d=$1 mods=$2 npt=$3 t name res first
	shift 3
	mkdir -p "$d"
	{
		echo "@@HOST start 3.52 2.10 1.05"
		echo "@@BEGIN tests $mods $npt"
		echo "@@LOAD $mods ok irqbypass kvm ccp kvm-amd"
		echo "@@PARAM npt $([ "$npt" = 1 ] && echo Y || echo N)"
		if [ "$mods" = ekvm ]; then echo "@@IDENT ekvm cap=1 version=6.1.192.1"; else echo "@@IDENT stock cap=0 version=-"; fi
		for t in "$@"; do
			name=${t%%=*} res=${t#*=}
			echo "@@S $name"
			echo "@@O $name some output"
			if [[ $res == */* ]]; then
				first=${res%%/*} res=${res#*/}
				echo "@@R $name $first -1 120004 120 360"
			fi
			case $res in
			pass) echo "@@T $name pass 0 5000" ;;
			timeout) echo "@@T $name timeout -1 360004" ;;
			*) echo "@@T $name $res 1 7000" ;;
			esac
		done
		echo "@@UNLOAD ok"
		echo "@@END"
		echo "@@HOST end 3.60 2.20 1.10"
	} >"$d/results.log"
	: >"$d/console.log"
}

# run_report NAME STOCK_TESTS EKVM_TESTS: the report of one fake run (npt=1); $out its output, $rc its exit
run_report() {
	local d=$TEST_TMP/$1
	rm -rf "$d"
	read -r -a st <<<"$2"
	read -r -a et <<<"$3"
	guest_log "$d/stock-npt1" stock 1 "${st[@]}"
	guest_log "$d/ekvm-npt1" ekvm 1 "${et[@]}"
	rc=0
	out=$("$report" -d "$d" -V 6.1.192.1 -b 6.1 -n 1 -S 1 -R 3 2>&1) || rc=$?
	echo "--- $1 (exit $rc)"
	echo "$out"
}
# verdict_of NAME TEST: the TAP line of TEST in run NAME
verdict_of() {
	grep -E "^(not )?ok [0-9]+ npt1/$2( |$)" "$TEST_TMP/$1/results.tap" || fail "$1: no verdict for $2"
}

# 1. both sides time out, retry included: SLOW, visible, not a failure
run_report both-timeout "selftests/a=pass selftests/slow=timeout/timeout" \
	"selftests/a=pass selftests/slow=timeout/timeout"
assert_eq "both-timeout: exit" 0 "$rc"
assert_match "both-timeout: TAP" '^ok [0-9]+ npt1/selftests/slow # SKIP timeout on both sides \(machine too slow\)' \
	"$(verdict_of both-timeout selftests/slow)"
assert_match "both-timeout: table" 'selftests/slow +timeout +timeout .*SLOW \(timeout on both sides \(machine too slow\); stock: timeout at 120 s and again on retry at 360 s; ekvm: timeout at 120 s and again on retry at 360 s\)' "$out"
assert_match "both-timeout: listed at the end" '^TIMEOUT ON BOTH SIDES' "$out"
assert_match "both-timeout: named at the end" '^  npt1/selftests/slow: stock: timeout at 120 s' "$out"
assert_match "both-timeout: closing line" '^7 passed, 0 failed, 1 skipped$' "$(tail -1 <<<"$out")"
assert_match "both-timeout: JUnit" 'name="npt1/selftests/slow"><skipped message="SLOW timeout on both sides' \
	"$(cat "$TEST_TMP/both-timeout/results.xml")"
assert_match "both-timeout: host load" 'host load \(1, 5, 15 min\) ekvm-npt1: 3.52 2.10 1.05 at the start, 3.60 2.20 1.10 at the end' "$out"
assert_match "both-timeout: the policy" 'x 1 \(EKVM_VM_TIMEOUT_SCALE\); a test that timed out ran once more at 3x its limit' "$out"

# 2. ekvm times out, retry included, where stock passes: a regression
run_report ekvm-timeout "selftests/a=pass selftests/b=pass" "selftests/a=pass selftests/b=timeout/timeout"
assert_eq "ekvm-timeout: exit" 1 "$rc"
assert_match "ekvm-timeout: TAP" '^not ok [0-9]+ npt1/selftests/b # regression: timeout with ekvm, passes with stock; ekvm: timeout at 120 s and again on retry at 360 s$' \
	"$(verdict_of ekvm-timeout selftests/b)"
assert_match "ekvm-timeout: FAILED" '^  npt1/selftests/b: regression: timeout with ekvm' "$out"
assert_match "ekvm-timeout: closing line" '^7 passed, 1 failed, 0 skipped$' "$(tail -1 <<<"$out")"

# 3. a pass on the retry is a pass, and is reported as retried
run_report retried-pass "selftests/a=pass selftests/b=pass" "selftests/a=pass selftests/b=timeout/pass"
assert_eq "retried-pass: exit" 0 "$rc"
assert_match "retried-pass: TAP" '^ok [0-9]+ npt1/selftests/b # ekvm: timeout at 120 s, passed on retry at 360 s \(in 5.0 s\)$' \
	"$(verdict_of retried-pass selftests/b)"
assert_match "retried-pass: listed at the end" '^RETRIED' "$out"
assert_match "retried-pass: named at the end" '^  npt1/selftests/b: ekvm: timeout at 120 s, passed on retry at 360 s' "$out"
assert_match "retried-pass: guest TAP" '^ok 2 selftests/b # timeout at 120 s, passed on retry at 360 s' \
	"$(cat "$TEST_TMP/retried-pass/ekvm-npt1.tap")"
assert_match "retried-pass: closing line" '^8 passed, 0 failed, 0 skipped$' "$(tail -1 <<<"$out")"

# 4. fairness: stock passes only on its retry, ekvm times out on its retry too: still a regression
run_report stock-retried "selftests/b=timeout/pass" "selftests/b=timeout/timeout"
assert_eq "stock-retried: exit" 1 "$rc"
assert_match "stock-retried: TAP" '^not ok [0-9]+ npt1/selftests/b # regression: timeout with ekvm, passes with stock; stock: timeout at 120 s, passed on retry at 360 s .*; ekvm: timeout at 120 s and again' \
	"$(verdict_of stock-retried selftests/b)"

# 5. ekvm fails where stock times out: not SLOW (ekvm failed), a failure nobody reviewed
run_report fail-vs-timeout "selftests/b=timeout/timeout" "selftests/b=fail"
assert_eq "fail-vs-timeout: exit" 1 "$rc"
assert_match "fail-vs-timeout: TAP" '^not ok [0-9]+ npt1/selftests/b # fail with ekvm and timeout with stock: not in expectations' \
	"$(verdict_of fail-vs-timeout selftests/b)"

# 6. both time out on a test the expectations list: the entry counts (XFAIL)
run_report listed "selftests/fake_listed=timeout/timeout" "selftests/fake_listed=timeout/timeout"
assert_eq "listed: exit" 0 "$rc"
assert_match "listed: TAP" '^not ok [0-9]+ npt1/selftests/fake_listed # TODO fail: times out with stock too' \
	"$(verdict_of listed selftests/fake_listed)"

# 7. without retries (old results, EKVM_VM_RETRY=0) nothing is said about one
run_report no-retry "selftests/b=pass" "selftests/b=timeout"
assert_eq "no-retry: exit" 1 "$rc"
assert_match "no-retry: TAP" '^not ok [0-9]+ npt1/selftests/b # regression: timeout with ekvm, passes with stock$' \
	"$(verdict_of no-retry selftests/b)"
if grep -q RETRIED <<<"$out"; then fail "no-retry: a RETRIED section without retries"; fi

# 8. the knobs: one line and a non-zero exit on a bad value
for bad in abc 0 -1 1.2.3 ''; do
	[ -n "$bad" ] || continue
	expect_failure env EKVM_VM_TIMEOUT_SCALE="$bad" "$EKVM_TOP/tests/vm/run.sh"
	assert_eq "EKVM_VM_TIMEOUT_SCALE=$bad: one line" 1 "$(wc -l <<<"$out")"
	assert_match "EKVM_VM_TIMEOUT_SCALE=$bad" "EKVM_VM_TIMEOUT_SCALE='$bad': not a positive number" "$out"
done
for bad in x 11 -1 2.5; do
	expect_failure env EKVM_VM_RETRY="$bad" "$EKVM_TOP/tests/vm/run.sh"
	assert_eq "EKVM_VM_RETRY=$bad: one line" 1 "$(wc -l <<<"$out")"
	assert_match "EKVM_VM_RETRY=$bad" "EKVM_VM_RETRY='$bad': not a whole number" "$out"
done
expect_failure "$report" -d "$TEST_TMP/listed" -b 6.1 -n 1 -S 0
assert_eq "report -S 0: one line" 1 "$(wc -l <<<"$out")"
expect_failure "$report" -d "$TEST_TMP/listed" -b 6.1 -n 1 -R many
assert_eq "report -R many: one line" 1 "$(wc -l <<<"$out")"
echo "report.sh: timeouts and retries as documented"
