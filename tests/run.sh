#!/usr/bin/env bash
# Run ekvm's tests (tests/<group>/*.sh but the VM harness, the package and the kernel package
# tests, which have their own make targets; or the tests named) and report them as TAP 13, like the
# kselftest runner: "ok N name", "not ok N name", "# SKIP"; a failing test's output follows as
# "# " lines. Ends with the line "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -gt 0 ]; then
	tests=("$@")
else
	tests=()
	for t in tests/*/*.sh; do
		case "$t" in tests/vm/* | tests/pkg/* | tests/kernel/*) ;; *) tests+=("$t") ;; esac
	done
fi
log_dir=build/tests/logs
mkdir -p "$log_dir"

echo "TAP version 13"
echo "1..${#tests[@]}"
n=0 passed=0 failed=0 skipped=0
for t in "${tests[@]}"; do
	n=$((n + 1))
	name=${t#tests/}
	log="$log_dir/${name//\//-}.log"
	start=$SECONDS
	rc=0
	bash "$t" >"$log" 2>&1 || rc=$?
	took="$((SECONDS - start))s"
	case $rc in
	0) echo "ok $n $name # $took"; passed=$((passed + 1)) ;;
	4) echo "ok $n $name # SKIP $(tail -1 "$log")"; skipped=$((skipped + 1)) ;;
	*)
		echo "not ok $n $name # exit $rc, $took"
		sed 's/^/# /' "$log" | tail -20
		failed=$((failed + 1))
		;;
	esac
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
