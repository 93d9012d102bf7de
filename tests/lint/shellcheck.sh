#!/usr/bin/env bash
# Every shell script of the project is shellcheck clean.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

cd "$EKVM_TOP"
# the .sh files, plus the shell files that carry no .sh: CI's entry, the DKMS configuration
# (bash, read by dkms) and the kernel hooks the packages install
mapfile -t files < <(git ls-files '*.sh' .ci/run dkms.conf packaging/dkms/etc-kernel-hook \
	packaging/dkms/kernel-install-plugin; git ls-files --others --exclude-standard '*.sh')
[ ${#files[@]} -gt 0 ] || fail "no shell scripts found"
shellcheck "${files[@]}"
echo "${#files[@]} scripts clean"
