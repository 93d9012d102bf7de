#!/usr/bin/env bash
# The profile configs (scripts/build-kernel.sh): the minimal profile's final config has every
# line of its fragments, and a fragment line Kconfig cannot honour stops the build, naming it.
# Uses the laid-out minimal tree of make kernel-deb (run after it: the tree is not laid out here).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-kernel.sh"

cfg=$EKVM_BUILD/kernel/$KPROFILE/config
[ -f "$cfg" ] || fail "no $cfg: run make kernel-deb KCONFIG=$KPROFILE"
for f in ekvm.config "$KPROFILE.config"; do
	sed -n 's/^\(CONFIG_[A-Z0-9_]*=[ym]\)$/\1/p' "$EKVM_TOP/kernel/config/$f" | while read -r want; do
		grep -qxF "$want" "$cfg" || fail "$want of kernel/config/$f is not in $cfg"
	done
done
assert_match "CONFIG_LOCALVERSION" '^CONFIG_LOCALVERSION="-ekvm(-minimal)?"$' "$(grep '^CONFIG_LOCALVERSION=' "$cfg")"

# KVM_AMD=y cannot hold with KVM=m: the build must stop and say so (config only, no compile).
bad=$TEST_TMP/config
cp -a "$EKVM_TOP/kernel/config" "$bad"
sed -i 's/^CONFIG_KVM_AMD=m$/CONFIG_KVM_AMD=y/' "$bad/ekvm.config"
expect_failure env EKVM_KCONFIG_DIR="$bad" "$EKVM_TOP/scripts/build-kernel.sh" "$KPROFILE"
assert_match "the error" 'ekvm.config: CONFIG_KVM_AMD=y does not hold after olddefconfig \(got: CONFIG_KVM_AMD=m\)' "$out"
# and the good config is still the tree's
cmp -s "$cfg" "$EKVM_BUILD/kernel/$KPROFILE/linux-$KBASE/.config" || fail "a failed config run changed the tree's .config"
echo "fragments hold; a dropped option stops the build"
