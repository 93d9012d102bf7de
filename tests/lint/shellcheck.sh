#!/usr/bin/env bash
# Every shell script of the project is shellcheck clean.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

cd "$EKVM_TOP"
mapfile -t files < <(git ls-files '*.sh' .ci/run; git ls-files --others --exclude-standard '*.sh')
[ ${#files[@]} -gt 0 ] || fail "no shell scripts found"
shellcheck "${files[@]}"
echo "${#files[@]} scripts clean"
