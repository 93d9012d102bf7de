#!/usr/bin/env bash
# The profile configs (scripts/build-kernel.sh): the minimal profile's final config has every
# line of its fragments (a base's override in kernel/config/<series>/ winning over the common
# line), and a fragment line Kconfig cannot honour stops the build, naming it, in a common
# fragment as in a base's override. Uses the laid-out tree of make kernel-deb for the base (run
# after it: the tree is not laid out here).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-kernel.sh"

cfg=$KWORK/config
[ -f "$cfg" ] || fail "no $cfg: run make kernel-deb KCONFIG=$KPROFILE BASE=$KSERIES"
# the options the fragments set, the last line of an option winning
declare -A want from
while read -r f; do
	while read -r line; do
		want[${line%%=*}]=$line
		from[${line%%=*}]=${f#"$EKVM_TOP"/}
	done < <(sed -n 's/^\(CONFIG_[A-Z0-9_]*=\([ym]\|[0-9]\+\)\)$/\1/p' "$f")
done < <(kconfig_fragments)
[ ${#want[@]} -gt 10 ] || fail "only ${#want[@]} options in the fragments"
for opt in "${!want[@]}"; do
	grep -qxF "${want[$opt]}" "$cfg" || fail "${want[$opt]} of ${from[$opt]} is not in $cfg"
done
echo "${#want[@]} options of $(kconfig_fragments | sed "s|^$EKVM_TOP/||" | paste -sd' ') hold in $cfg"
assert_match "CONFIG_LOCALVERSION" '^CONFIG_LOCALVERSION="-ekvm(-minimal)?"$' "$(grep '^CONFIG_LOCALVERSION=' "$cfg")"

# KVM_AMD=y cannot hold with KVM=m: the build must stop and say so (config only, no compile).
bad=$TEST_TMP/config
cp -a "$EKVM_TOP/kernel/config" "$bad"
sed -i 's/^CONFIG_KVM_AMD=m$/CONFIG_KVM_AMD=y/' "$bad/ekvm.config"
expect_failure env EKVM_KCONFIG_DIR="$bad" "$EKVM_TOP/scripts/build-kernel.sh" "$KPROFILE"
assert_match "the error" 'kernel/config/ekvm.config: CONFIG_KVM_AMD=y does not hold after olddefconfig \(got: CONFIG_KVM_AMD=m\)' "$out"
# the same line in the base's override of the profile fragment is checked as well, and named
cp -a "$EKVM_TOP/kernel/config/." "$bad/"
mkdir -p "$bad/$KSERIES"
echo 'CONFIG_KVM_AMD=y' >>"$bad/$KSERIES/$KPROFILE.config"
expect_failure env EKVM_KCONFIG_DIR="$bad" "$EKVM_TOP/scripts/build-kernel.sh" "$KPROFILE"
assert_match "the error" "kernel/config/$KSERIES/$KPROFILE.config: CONFIG_KVM_AMD=y does not hold after olddefconfig" "$out"
# and the good config is still the tree's
cmp -s "$cfg" "$KWORK/linux-$KBASE/.config" || fail "a failed config run changed the tree's .config"
echo "fragments hold; a dropped option stops the build"
