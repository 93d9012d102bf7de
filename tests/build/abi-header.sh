#!/usr/bin/env bash
# The tool's copy of the ekvm ABI (userspace/include/ekvm-abi.h) equals the uapi header the series
# adds (include/uapi/linux/ekvm.h of the patched tree): same capability number, same ABI level.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

uapi="$EKVM_BUILD/kvm/$EKVM_KVER/include/uapi/linux/ekvm.h"
tool="$EKVM_TOP/userspace/include/ekvm-abi.h"
[ -f "$uapi" ] || fail "no $uapi: run make first"
for name in KVM_CAP_EKVM EKVM_ABI_LEVEL; do
	k=$(awk -v n="$name" '$1 == "#define" && $2 == n { print $3 }' "$uapi")
	t=$(awk -v n="$name" '$1 == "#define" && $2 == n { print $3 }' "$tool")
	[ -n "$k" ] || fail "$name is not defined in $uapi"
	assert_eq "$name in the tool's header" "$k" "$t"
	echo "$name = $k"
done
