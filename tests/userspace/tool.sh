#!/usr/bin/env bash
# The ekvm tool's own suite (userspace/tests/run.sh through make -C userspace check): unit tests
# under ASan/UBSan, smoke and status against this machine's /dev/kvm, stat against a debugfs it
# mounts, and malformed input.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

[ -e /dev/kvm ] || skip "no /dev/kvm on this machine"
make -s -C "$EKVM_TOP/userspace" check NO_DEPS=1
