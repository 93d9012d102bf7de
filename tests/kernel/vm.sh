#!/usr/bin/env bash
# The minimal-profile ekvm kernel from its Debian package, booted in the VM harness with its own
# (in-tree, series applied) KVM modules, against Debian's kernel with its stock KVM as the
# reference: tests/vm/run.sh -K (docs/kernel-packages.md says how the results are judged). The
# base is the top Makefile's (BASE=6.12 for the 6.12 kernel against Debian's 6.12.117+deb12-amd64).
# EKVM_KERNEL_TEST_NPTS (default 1,0) chooses the npt settings.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-kernel.sh"

image=$KDEBS/linux-image-${KREL}_${PKGVER}-1_amd64.deb
[ -f "$image" ] || fail "no $image: run make kernel-deb KCONFIG=$KPROFILE"
# the reference: the base's Debian kernel with its stock KVM
args=(-K "$image" -k "$KSTOCK" -n "${EKVM_KERNEL_TEST_NPTS:-1,0}" -o "$EKVM_BUILD/kernel-test/$KSERIES/vm-$KPROFILE")
# ekvm's smoke guest too, when the static tool is built (make kernel-test builds it)
[ ! -x "$EKVM_BUILD/userspace/ekvm-static" ] || args+=(-x "$EKVM_BUILD/userspace/ekvm-static")
"$EKVM_TOP/tests/vm/run.sh" "${args[@]}"
