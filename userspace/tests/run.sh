#!/usr/bin/env bash
# make check: the ekvm tool's tests. TAP-like lines, then "N passed, N failed".
# Runs the ASan/UBSan build ($O/ekvm-asan) unless said otherwise; needs root and /dev/kvm
# for the tests that run guests, mount debugfs or change user.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
O=${O:?O must name the build folder}
EKVM=$O/ekvm-asan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1
LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp"
export LSAN_OPTIONS
ABI=$(sed -n 's/^#define EKVM_ABI_LEVEL[[:space:]]*\([0-9]*\).*/\1/p' include/ekvm-abi.h)
T=$(mktemp -d /tmp/ekvm-check.XXXXXX)
chmod 755 "$T"
trap '[ -n "${EKVM_TEST_KEEP:-}" ] || rm -rf "$T"; [ -n "${HOLD_PID:-}" ] && kill "$HOLD_PID" 2>/dev/null' EXIT
n=0 passed=0 failed=0 failures=

ok() { # ok CONDITION-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		passed=$((passed + 1)); echo "ok $n - $2"
	else
		failed=$((failed + 1)); echo "not ok $n - $2"
		# what the failing check last saw, for a log of which only the tail is kept
		failures+="not ok $n - $2"$'\n'"#   rc=${rc:-} out=$(head -c 300 <<<"${out:-}" | tr '\n' ' ')"
		failures+=$'\n'"#   err=$(head -c 300 <<<"${err:-}" | tr '\n' ' ')"$'\n'
	fi
}

# run [ENV=V]... -- ARGS: runs ekvm, leaving $out, $err and $rc.
run() {
	local envs=()
	while [ "$1" != "--" ]; do envs+=("$1"); shift; done
	shift
	out=$(env "${envs[@]}" "$EKVM" "$@" 2>"$T/err"); rc=$?
	err=$(cat "$T/err")
}

# usage_error DESCRIPTION [ENV=V]... -- ARGS: exit 2, one line on stderr, nothing on stdout.
usage_error() {
	local what=$1; shift
	run "$@"
	[ "$rc" -eq 2 ] && [ -z "$out" ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] &&
		[[ $err == ekvm* ]]
	ok $? "$what: exit 2 and one line ($err)"
}

# tap_tests PROGRAM WHAT: runs a unit-test program (built with ASan/UBSan), one "ok" of ours per
# "ok"/"not ok" line it prints, and one for its exit status.
tap_tests() {
	local line
	while IFS= read -r line; do
		case "$line" in
		"ok "*) ok 0 "${line#ok * - }" ;;
		"not ok "*) ok 1 "${line#not ok * - }" ;;
		esac
	done < <("$1" 2>&1)
	"$1" >/dev/null 2>&1
	ok $? "$2 exit 0 under ASan/UBSan"
}

unit_tests() {
	tap_tests "$O/tests/unit" "unit tests"
}

dispatch_tests() {
	run --
	[ "$rc" -eq 2 ] && [[ $err == *"usage: ekvm"* ]]
	ok $? "no command: usage, exit 2"
	run -- help
	local missing=0 c
	for c in status validate smoke stat; do [[ $out == *"  $c "* ]] || missing=1; done
	[ "$rc" -eq 0 ] && [ $missing -eq 0 ]
	ok $? "help lists every command"
	for c in status validate smoke stat; do
		local h1 h2
		h1=$("$EKVM" help $c); h2=$("$EKVM" $c --help)
		[ -n "$h1" ] && [ "$h1" = "$h2" ] && [[ $h1 == "usage: ekvm $c"* ]]
		ok $? "help $c = $c --help"
	done
	run -- --version
	[ "$out" = "ekvm ${EKVM_VERSION:-0.1.0-dev} (ekvm ABI $ABI)" ]
	ok $? "--version: $out"
	usage_error "unknown command" -- frobnicate
	usage_error "status unknown option" -- status --bogus
	usage_error "status extra argument" -- status extra
	usage_error "validate unknown short option" -- validate -x
	usage_error "smoke -n 0" -- smoke --bench -n 0
	usage_error "smoke -n abc" -- smoke -n abc
	usage_error "smoke -n without value" -- smoke -n
	usage_error "stat -s x" -- stat -s x
	usage_error "stat -s finer than 1 ms" -- stat -1 -s 0.0001
	usage_error "stat -1 with -l" -- stat -1 -l
	usage_error "stat bad regex" -- stat -1 -f '('
	usage_error "stat -p 0" -- stat -p 0
	usage_error "stat --delay without value" -- stat --delay
}

smoke_tests() {
	run -- smoke
	[ "$rc" -eq 0 ] && [[ $out == *"smoke: PASS in "* ]]
	ok $? "smoke on /dev/kvm: PASS"
	run -- smoke --json
	echo "$out" | jq -e '.result == "PASS" and ([.steps[].result] | unique) == ["PASS"]
		and (.steps | length) == 5 and .time_ms > 0' >/dev/null
	ok $? "smoke --json: 5 steps passed, time_ms"
	run -- smoke --bench -n 5000 --json
	echo "$out" | jq -e '.bench.exits == 5000 and .bench.exits_per_s > 0' >/dev/null
	ok $? "smoke --bench -n 5000: 5000 exits counted"
	if [ -x "$O/ekvm-static" ]; then
		file "$O/ekvm-static" 2>/dev/null | grep -q 'statically linked' ||
			! ldd "$O/ekvm-static" >/dev/null 2>&1
		ok $? "ekvm-static is statically linked"
		"$O/ekvm-static" smoke >/dev/null
		ok $? "static binary: smoke PASS"
	fi
	usage_error "smoke without /dev/kvm" EKVM_DEV_KVM="$T/nokvm" -- smoke
	[[ $err == *"modprobe"* ]]; ok $? "missing /dev/kvm: hint to load the module"
	usage_error "smoke on a file that is not KVM" EKVM_DEV_KVM=/dev/null -- smoke
}

# The status of this machine, checked against facts read independently.
status_tests() {
	run -- status --json
	local flavour=stock kvers
	[ -d /sys/module/kvm/ekvm ] && flavour=ekvm
	[ -e /sys/module/kvm ] || [ -e /dev/kvm ] || flavour=none
	echo "$out" | jq -e --arg f "$flavour" --arg v "${EKVM_VERSION:-0.1.0-dev}" \
		--argjson abi "$ABI" \
		'.loaded.flavour == $f and .tool.version == $v and .tool.abi == $abi' >/dev/null
	ok $? "status: tool version, ABI and loaded flavour ($flavour)"
	kvers=$( (ls /lib/modules; uname -r) | sort -u | tr '\n' ' ')
	[ "$(echo "$out" | jq -r '[.kernels[].kernel] | sort | join(" ")') " = "$kvers" ]
	ok $? "status: one entry per installed kernel and the running one ($kvers)"
	if [ "$flavour" = stock ]; then
		echo "$out" | jq -e '.abi_match == false and (.warning | test("not ekvm"))' >/dev/null
		ok $? "status on stock KVM: not ekvm, with what to do"
	fi
	run -- status
	[ "$rc" -eq 0 ] && [[ $out == *"loaded KVM:  $flavour"* ]]
	ok $? "status text: $flavour"
	usage_error "status with no sysfs" EKVM_SYSFS_ROOT="$T/nosys" -- status
}

# A fake sysfs of a loaded ekvm, with the same and with another ABI level.
fake_ekvm_sysfs() {
	local root=$T/sys-$1
	mkdir -p "$root/module/kvm/ekvm" "$root/module/kvm_intel"
	echo 6.1.192.7 >"$root/module/kvm/ekvm/version"
	echo 6.1.192 >"$root/module/kvm/ekvm/base"
	echo 7 >"$root/module/kvm/ekvm/release"
	echo "$1" >"$root/module/kvm/ekvm/abi"
	printf '0001-a.patch\n0002-b.patch\n' >"$root/module/kvm/ekvm/series"
	echo live >"$root/module/kvm/initstate"
	echo "$root"
}

fake_status_tests() {
	local root
	root=$(fake_ekvm_sysfs "$ABI")
	run EKVM_SYSFS_ROOT="$root" EKVM_DEV_KVM="$T/nokvm" -- status --json
	echo "$out" | jq -e '.loaded.flavour == "ekvm" and .loaded.version == "6.1.192.7" and
		.loaded.series == ["0001-a.patch", "0002-b.patch"] and .abi_match and
		.warning == null and .loaded.builtin == false' >/dev/null
	ok $? "status on a fake ekvm sysfs: version, series, ABI match"
	root=$(fake_ekvm_sysfs $((ABI + 1)))
	run EKVM_SYSFS_ROOT="$root" EKVM_DEV_KVM="$T/nokvm" -- status
	[ "$rc" -eq 0 ] && [[ $out == *"warning: the loaded ekvm has ABI $((ABI + 1))"* ]]
	ok $? "status: ABI mismatch is a warning with what to do"
}

# A fake sysfs of one KVM instance loaded alone (docs/multi-kvm.md): no kvm module, the
# instance's folder with ekvm/ and its parameters. Unit tests of the tool's mapping (sysfs.h);
# the VM harness's instance scenario runs the tool on a real instance.
fake_instance_tests() {
	local root=$T/sys-inst dbg=$T/dbg-inst i=kvm_ekvm_6_1_192_6
	mkdir -p "$root/module/$i/ekvm" "$root/module/$i/parameters" "$root/module/irqbypass" \
		"$dbg/$i/812-11"
	echo 6.1.192.6 >"$root/module/$i/ekvm/version"
	echo 6.1.192 >"$root/module/$i/ekvm/base"
	echo 6 >"$root/module/$i/ekvm/release"
	echo "$ABI" >"$root/module/$i/ekvm/abi"
	printf '0001-a.patch\n' >"$root/module/$i/ekvm/series"
	echo live >"$root/module/$i/initstate"
	echo 2 >"$root/module/$i/ekvm/vms"
	echo 0 >"$root/module/$i/ekvm/drain"
	echo 3 >"$root/module/$i/ekvm/vcpus"
	run EKVM_SYSFS_ROOT="$root" EKVM_DEV_KVM="$T/nokvm" -- status --json
	echo "$out" | jq -e --arg i "$i" '.loaded.flavour == "ekvm" and .loaded.instance == $i and
		.loaded.version == "6.1.192.6" and .loaded.vendor_module == null and .abi_match and
		.features.vms == 2' >/dev/null
	ok $? "status on a fake KVM instance: read as KVM, named, no vendor module"
	run EKVM_SYSFS_ROOT="$root" EKVM_DEV_KVM="$T/nokvm" -- status
	[[ $out == *"KVM instance $i"* ]]
	ok $? "status text names the instance"
	run EKVM_SYSFS_ROOT="$root" EKVM_DEV_KVM="$T/nokvm" -- drain status --json
	[ "$rc" -eq 0 ] && echo "$out" | jq -e '.vms == 2 and .drain == false' >/dev/null
	ok $? "drain status reads the instance's counters"
	if [ "$(id -u)" = 0 ]; then
		run EKVM_SYSFS_ROOT="$root" -- reload --ko "$T"
		[ "$rc" -eq 2 ] && [[ $err == *"$i"*"a KVM instance is loaded"* ]]
		ok $? "reload refuses while a KVM instance is loaded (rc $rc)"
	fi
	mkdir -p "$root/module/kvm_ekvm_6_12_117_6/ekvm"
	run EKVM_SYSFS_ROOT="$root" EKVM_DEV_KVM="$T/nokvm" -- status --json
	echo "$out" | jq -e '.loaded.flavour == "none" and .loaded.instance == null' >/dev/null
	ok $? "two instances: none is read as KVM"
	rm -rf "$root/module/kvm_ekvm_6_12_117_6"
	mkdir -p "$root/module/kvm/parameters"
	run EKVM_SYSFS_ROOT="$root" EKVM_DEV_KVM="$T/nokvm" -- status --json
	echo "$out" | jq -e '.loaded.instance == null and .loaded.flavour == "stock"' >/dev/null
	ok $? "a kvm module is read as KVM, not the instance beside it"
}

# A fake sysfs of two KVM instances behind the base module (docs/multi-kvm.md): the base's
# parameters (instances, active) and each instance's ekvm/ folder. Unit tests of the tool's
# reading (instances.h) and of ekvm instance's refusals; the VM harness's instances scenario
# runs the tool on real instances (load, activate, unload).
fake_instances_tests() {
	local root=$T/sys-insts a=kvm_ekvm_6_1_192_7 b=kvm_ekvm_6_1_192_8 i
	for i in $a $b; do
		mkdir -p "$root/module/$i/ekvm" "$root/module/$i/parameters"
		echo "${i#kvm_ekvm_}" | tr _ . >"$root/module/$i/ekvm/version"
		echo "$ABI" >"$root/module/$i/ekvm/abi"
		echo 0 >"$root/module/$i/ekvm/drain"
	done
	echo 1 >"$root/module/$a/ekvm/vms"
	echo 2 >"$root/module/$a/ekvm/vcpus"
	echo 0 >"$root/module/$b/ekvm/vms"
	echo 0 >"$root/module/$b/ekvm/vcpus"
	mkdir -p "$root/module/ekvm_vac/parameters"
	printf '%s\n%s\n' $a $b >"$root/module/ekvm_vac/parameters/instances"
	echo $b >"$root/module/ekvm_vac/parameters/active"
	run EKVM_SYSFS_ROOT="$root" EKVM_DEV_KVM="$T/nokvm" -- status --json
	echo "$out" | jq -e --arg a $a --arg b $b '.loaded.instance == $b and
		.instances.count == 2 and .instances.active == $b and
		[.instances.list[] | .name] == [$a, $b] and
		.instances.list[0].vms == 1 and .instances.list[0].active == false and
		.instances.list[1].active and .features.vms == 0' >/dev/null
	ok $? "status: two instances listed, the active one read as KVM"
	run EKVM_SYSFS_ROOT="$root" EKVM_DEV_KVM="$T/nokvm" -- instance
	[ "$rc" -eq 0 ] && [[ $out == *"KVM instances (ekvm_vac): 2, active: $b"* ]] &&
		[[ $out == *"$a: version 6.1.192.7, 1 VM, 2 vCPUs"* ]] &&
		[[ $out == *"$b: version 6.1.192.8, 0 VMs, 0 vCPUs, active"* ]]
	ok $? "instance list: names, versions, VMs, the active one"
	run EKVM_SYSFS_ROOT="$root" -- instance unload $b
	[ "$rc" -eq 1 ] && [[ $err == *"$b is the active instance"* ]]
	ok $? "instance unload refuses the active instance (rc $rc)"
	run EKVM_SYSFS_ROOT="$root" -- instance unload $a
	[ "$rc" -eq 1 ] && [[ $err == *"$a still has 1 VM"* ]]
	ok $? "instance unload refuses an instance with VMs (rc $rc)"
	run EKVM_SYSFS_ROOT="$root" -- instance unload kvm_ekvm_6_1_192_9
	[ "$rc" -eq 1 ] && [[ $err == *"no loaded KVM instance is named kvm_ekvm_6_1_192_9"* ]]
	ok $? "instance unload: an unknown name (rc $rc)"
	run EKVM_SYSFS_ROOT="$root" -- instance activate 'bad/name'
	[ "$rc" -eq 2 ] && [[ $err == *"invalid value 'bad/name'"* ]]
	ok $? "instance activate: a name that cannot be a module's (rc $rc)"
	run EKVM_SYSFS_ROOT="$root" -- instance activate $a --json
	[ "$rc" -eq 0 ] && echo "$out" | jq -e --arg a $a --arg b $b \
		'.action == "activate" and .active == $a and .was == $b' >/dev/null &&
		[ "$(cat "$root/module/ekvm_vac/parameters/active")" = $a ]
	ok $? "instance activate writes the base's parameter"
	run EKVM_SYSFS_ROOT="$root" -- instance load "$T/kvm.ko"
	[ "$rc" -eq 2 ] && [[ $err == *"a KVM instance's module file"* ]]
	ok $? "instance load refuses a file that is not an instance's (rc $rc)"
	: >"$T/kvm_ekvm_6_1_192_9.ko"
	mkdir -p "$root/module/kvm"
	run EKVM_SYSFS_ROOT="$root" -- instance load "$T/kvm_ekvm_6_1_192_9.ko"
	[ "$rc" -eq 1 ] && [[ $err == *"the kvm module is loaded"* ]]
	ok $? "instance load refuses beside the kvm module (rc $rc)"
	rmdir "$root/module/kvm"
	run EKVM_SYSFS_ROOT="$root" -- instance load "$T/kvm_ekvm_6_1_192_9.ko" --json
	[ "$rc" -eq 1 ] && [ -z "$out" ] && [[ $err == *"not a kernel module?"* ]]
	ok $? "instance load refuses a file that is not a module (rc $rc)"
	run EKVM_SYSFS_ROOT="$root" -- instance load "$T/kvm_ekvm_6_1_192_9.ko" --activate npt
	[ "$rc" -eq 2 ] && [[ $err == *"invalid value 'npt' for option 'PARAM'"* ]]
	ok $? "instance load: a parameter without a value (rc $rc)"
	run EKVM_SYSFS_ROOT="$root" -- instance activate $a --activate
	[ "$rc" -eq 2 ]
	ok $? "instance: --activate only with load (rc $rc)"
	echo none >"$root/module/ekvm_vac/parameters/active"
	run EKVM_SYSFS_ROOT="$root" EKVM_DEV_KVM="$T/nokvm" -- status --json
	echo "$out" | jq -e '.loaded.instance == null and .instances.active == null' >/dev/null
	ok $? "status: two instances, none active: none is read as KVM"
}

# sign_module KO: signs KO with a throw-away key, as DKMS would; sets $signer ("" if it cannot)
sign_module() {
	local sf
	signer=
	sf=$(find /usr/lib/linux-kbuild-* -name sign-file 2>/dev/null | head -1)
	[ -n "$sf" ] && command -v openssl >/dev/null || return 0
	openssl req -new -x509 -nodes -days 1 -subj "/CN=ekvm test key $$" -newkey rsa:2048 \
		-keyout "$T/mok.key" -outform DER -out "$T/mok.der" 2>/dev/null &&
		"$sf" sha256 "$T/mok.key" "$T/mok.der" "$1" && signer="ekvm test key $$"
}

# modprobe's choice in a module tree: ekvm in updates/ shadows the distro's kvm.ko.
modules_tests() {
	local ko kver=6.1.0-56-amd64 mods=$T/root/lib/modules version
	ko=$(find ../build/modules -name kvm.ko 2>/dev/null | sort | head -1)
	if [ -z "$ko" ] || ! command -v depmod >/dev/null; then
		echo "ok $((n + 1)) - # SKIP no ekvm kvm.ko in build/modules"; n=$((n + 1)); passed=$((passed + 1))
		return
	fi
	version=$(modinfo -F version "$ko")
	mkdir -p "$mods/$kver/updates/dkms" "$mods/$kver/kernel/arch/x86/kvm" "$mods/9.9.9-distro/kernel/arch/x86/kvm"
	cp "$ko" "$mods/$kver/updates/dkms/kvm.ko"
	sign_module "$mods/$kver/updates/dkms/kvm.ko"
	cp "$ko" "$mods/$kver/kernel/arch/x86/kvm/kvm.ko"
	cp "$ko" "$mods/9.9.9-distro/kernel/arch/x86/kvm/kvm.ko"
	depmod -b "$T/root" "$kver" 2>/dev/null && depmod -b "$T/root" 9.9.9-distro 2>/dev/null
	run EKVM_MODULES_ROOT="$mods" -- status --json
	echo "$out" | jq -e --arg k "$kver" --arg v "$version" '.kernels[] | select(.kernel == $k) |
		.origin == "updates" and .version == $v and .ekvm and (.path | test("updates/dkms/kvm.ko$"))' >/dev/null
	ok $? "status: updates/dkms/kvm.ko ($version) shadows the distro's for $kver"
	if [ -n "$signer" ]; then
		echo "$out" | jq -e --arg k "$kver" --arg s "$signer" \
			--arg key "$(modinfo -F sig_key "$mods/$kver/updates/dkms/kvm.ko")" \
			'.kernels[] | select(.kernel == $k) | .signed and .signer == $s and .sig_key == $key' >/dev/null
		ok $? "status: signed by '$signer', as modinfo says"
	fi
	echo "$out" | jq -e '.kernels[] | select(.kernel == "9.9.9-distro") | .signed == false' >/dev/null
	ok $? "status: an unsigned module is not signed"
	echo "$out" | jq -e '.kernels[] | select(.kernel == "9.9.9-distro") | .origin == "distro"' >/dev/null
	ok $? "status: a kernel with only the distro's kvm.ko"
}

# The kernel hook's notes on kernels ekvm-dkms gave no ekvm modules: status and validate say why.
skip_note_tests() {
	local st=$T/ekvm-dkms mods=$T/skiproot/lib/modules rel
	rel=$(uname -r)
	mkdir -p "$st/skipped" "$mods/9.9.9-old" "$mods/9.9.8-ok"
	echo "ekvm: skipping kernel 9.9.9-old: it is Debian's Linux 6.1.192-9, and ekvm's KVM for Linux 6.1.192 is checked for Debian 6.1.192-2 only (Debian may have patched KVM since); it keeps its own KVM" \
		>"$st/skipped/9.9.9-old"
	printf 'ekvm: building failed\033[2J\tfor %s\nsecond line\n' "$rel" >"$st/skipped/$rel"
	run EKVM_MODULES_ROOT="$mods" EKVM_DKMS_STATE_ROOT="$st" -- status --json
	echo "$out" | jq -e '[.kernels[] | select(.kernel == "9.9.9-old") | .skipped][0] |
		startswith("skipping kernel 9.9.9-old: it is Debian'"'"'s Linux 6.1.192-9")' >/dev/null &&
		echo "$out" | jq -e '.kernels[] | select(.kernel == "9.9.8-ok") | .skipped == null' >/dev/null
	ok $? "status --json: a kernel's skip note as skipped, without the hook's prefix; null without one"
	echo "$out" | jq -e --arg r "$rel" '[.kernels[] | select(.kernel == $r) | .skipped][0] ==
		"building failed?[2J?for " + $r' >/dev/null
	ok $? "status --json: a note's control characters shown as ?, its first line only"
	run EKVM_MODULES_ROOT="$mods" EKVM_DKMS_STATE_ROOT="$st" -- status
	[ "$rc" -eq 0 ] && [[ $out == *$'\nwarning: skipping kernel 9.9.9-old: it is Debian'* ]] &&
		[ "$(echo "$out" | grep -c '^warning: ')" -ge 2 ]
	ok $? "status: each skip note is a warning line after the table"
	mkdir -p "$T/evil"
	ln -s /etc/shadow "$T/evil/skipped" 2>/dev/null
	run EKVM_MODULES_ROOT="$mods" EKVM_DKMS_STATE_ROOT="$T/evil" -- status --json
	[ "$rc" -eq 0 ] && echo "$out" | jq -e '[.kernels[].skipped] | all(. == null)' >/dev/null
	ok $? "status: a skipped folder that is not one gives no notes, no error"
	if [ -e /sys/module/kvm/ekvm ] || [ ! -e /sys/module/kvm ]; then
		echo "ok $((n + 1)) - # SKIP validate's skip note needs stock KVM loaded on this host"
		n=$((n + 1)) passed=$((passed + 1))
		return
	fi
	run EKVM_DKMS_STATE_ROOT="$st" -- validate --json
	[ "$(echo "$out" | jq -r '.checks[] | select(.check == "ekvm_abi") | .note')" = \
		"stock KVM is loaded: building failed?[2J?for $rel" ]
	ok $? "validate: with stock KVM loaded, ekvm_abi says the running kernel's skip note"
}

validate_tests() {
	local fails want=0
	run -- validate --json
	fails=$(echo "$out" | jq '[.checks[] | select(.result == "FAIL")] | length')
	[ "$fails" -gt 0 ] && want=1
	[ "$fails" = "$(echo "$out" | jq .failed)" ] && [ "$rc" -eq $want ]
	ok $? "validate: exit $rc with $fails FAIL"
	echo "$out" | jq -e '.checks[] | select(.check == "kvm_usable") | .result == "PASS"' >/dev/null
	ok $? "validate: the smoke guest decides that KVM is usable"
	local bad
	bad=$(echo "$out" | jq '[.checks[] | select(.result == "WARN" or .result == "FAIL")] | length')
	run -- validate -q
	[ "$(printf '%s' "$out" | grep -c .)" -eq "$bad" ] && ! echo "$out" | grep -q ': PASS'
	ok $? "validate -q prints the $bad checks that do not pass"
	run EKVM_DEV_KVM="$T/nokvm" -- validate --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '[.checks[] | select(.result == "FAIL") | .check] |
		index("dev_kvm_exists") != null and index("kvm_usable") != null' >/dev/null
	ok $? "validate without /dev/kvm: FAIL, exit 1"
}

# Secure Boot on with the DKMS key enrolled, and with another key only.
siglist() { # siglist CERTFILE: an EFI_SIGNATURE_LIST with one X.509 entry
	local len sig list
	len=$(stat -c %s "$1"); sig=$((16 + len)); list=$((28 + sig))
	# shellcheck disable=SC2059 # le32 writes octal escapes for printf to expand
	le32() { printf '\\%03o' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24)); }
	head -c 16 /dev/zero
	# shellcheck disable=SC2059
	printf "$(le32 $list)$(le32 0)$(le32 $sig)"; head -c 16 /dev/zero; cat "$1"
}

secure_boot_tests() {
	local sys=$T/sys-efi dkms=$T/dkms var
	mkdir -p "$sys/module/kvm" "$sys/firmware/efi/efivars" "$sys/firmware/efi/mok-variables" "$dkms"
	printf '\x06\x00\x00\x00\x01' >"$sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
	head -c 700 /dev/urandom >"$dkms/mok.pub"
	head -c 650 /dev/urandom >"$T/other.der"
	var=$sys/firmware/efi/mok-variables/MokListRT
	{ siglist "$T/other.der"; siglist "$dkms/mok.pub"; } >"$var"
	run EKVM_SYSFS_ROOT="$sys" EKVM_DKMS_ROOT="$dkms" -- validate --json
	echo "$out" | jq -e '[.checks[] | select(.check == "secure_boot" or .check == "dkms_key_enrolled")
		| .result] == ["PASS", "PASS"]' >/dev/null
	ok $? "validate: Secure Boot on, DKMS key found in the MOK list"
	siglist "$T/other.der" >"$var"
	run EKVM_SYSFS_ROOT="$sys" EKVM_DKMS_ROOT="$dkms" -- validate --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '.checks[] | select(.check == "dkms_key_enrolled") |
		.result == "FAIL" and (.note | test("mokutil --import"))' >/dev/null
	ok $? "validate: DKMS key not enrolled is a FAIL with the fix"
	run EKVM_SYSFS_ROOT="$(fake_ekvm_sysfs "$ABI")" -- validate --json
	echo "$out" | jq -e '[.checks[] | select(.check == "secure_boot" or .check == "dkms_key_enrolled")
		| .result] == ["N/A", "N/A"]' >/dev/null
	ok $? "validate without EFI: Secure Boot checks are N/A"
}

# A debugfs look-alike: totals, one unreadable-looking value and two VMs of one process.
fake_debugfs_tests() {
	local d=$T/dbg/kvm
	mkdir -p "$d/100-4" "$d/100-9" "$d/200-5"
	echo 12 >"$d/exits"; echo 7 >"$d/io_exits"
	echo 5 >"$d/100-4/exits"; echo 3 >"$d/100-4/io_exits"
	echo 4 >"$d/100-9/exits"; echo 2 >"$d/100-9/io_exits"
	echo 3 >"$d/200-5/exits"; echo 2 >"$d/200-5/io_exits"
	run EKVM_DEBUGFS_ROOT="$T/dbg" -- stat -1 -s 0 --json
	[ -n "$out" ] && echo "$out" | jq -e '.vms == 3 and
		([.stats[] | select(.name == "exits") | .total] == [12]) and
		([.per_vm[] | select(.pid == 100) | .fd] | sort) == [4, 9]' >/dev/null
	ok $? "stat on a fake debugfs: totals, VMs (malformed values: output_tests)"
	run EKVM_DEBUGFS_ROOT="$T/dbg" -- stat -1 -s 0 -p 100 --json -f '^exits$'
	[ -n "$out" ] && echo "$out" | jq -e '.vms == 2 and .stats == [{"name": "exits", "total": 9, "rate": null}]' >/dev/null
	ok $? "stat -p: sums of that process's VMs, -f filter"
	run EKVM_DEBUGFS_ROOT="$T/dbg" -- stat -l -s 0.01 -n 3
	[ "$rc" -eq 0 ] && [ "$(echo "$out" | wc -l)" -eq 4 ]
	ok $? "stat -l -n 3: header and 3 lines"
	run EKVM_DEBUGFS_ROOT="$T/dbg" -- stat -s 0.01 -n 2
	[ "$rc" -eq 0 ] && [ "$(echo "$out" | grep -c '^NAME')" -eq 2 ]
	ok $? "stat view -n 2: two refreshes"
	mkdir -p "$T/empty"
	usage_error "stat without a kvm folder" EKVM_DEBUGFS_ROOT="$T/empty" -- stat -1
}

# in_mount_ns COMMAND [ARG]...: COMMAND in a mount namespace of its own whose mounts and unmounts
# do not reach this one's. unshare -m makes / private, which it cannot where / is not a mount
# point (a chroot: debootstrap's, distributions' build roots, many CI containers; issue 17):
# there the namespace keeps /'s propagation and makes every mount point it sees a slave, and the
# tests mount and unmount only on these (debugfs on /sys/kernel/debug). (Binding / onto itself
# first does not do: under a shared mount the bind shows on the host too, and "/" still names
# the directory under it.)
in_mount_ns() {
	if mountpoint -q /; then
		unshare -m "$@"
	else
		# shellcheck disable=SC2016 # the script is sh's
		unshare -m --propagation unchanged sh -c 'for m in $(cut -d " " -f 5 /proc/self/mountinfo); do
			mount --make-rslave "$(printf %b "$m")" || exit 125; done; exec "$@"' sh "$@"
	fi
}

# mount_ns_or_skip DESCRIPTION...: true if in_mount_ns works here; else one "# SKIP" for each
# DESCRIPTION (no mount namespaces: not root, or a container without CAP_SYS_ADMIN).
mount_ns_or_skip() {
	local why d
	why=$(in_mount_ns true 2>&1) && return 0
	for d; do
		n=$((n + 1)); passed=$((passed + 1))
		echo "ok $n - # SKIP $d: no mount namespace here (${why//$'\n'/ })"
	done
	return 1
}

# The real debugfs, mounted by ekvm in a private mount namespace, with VMs held open.
debugfs_tests() {
	local pid fds
	mount_ns_or_skip "stat without debugfs" "stat --mount-debugfs" "stat: every statistic" || return 0
	coproc HOLD { "$O/tests/vmhold" 2; }
	read -r -u "${HOLD[0]}" line; pid=${line#ready }
	fds=$(for f in "/proc/$pid/fd/"*; do [ "$(readlink "$f")" = "anon_inode:kvm-vm" ] && basename "$f"; done | sort -n | tr '\n' ' ')
	out=$(in_mount_ns sh -c "umount /sys/kernel/debug 2>/dev/null; umount /sys/kernel/debug 2>/dev/null
		'$EKVM' stat -1 -s 0 --json 2>&1; echo rc=\$?
		'$EKVM' stat --mount-debugfs -1 -s 0.2 --json")
	[[ $out == *"debugfs is not mounted"*"--mount-debugfs"*"rc=2"* ]]
	ok $? "stat without debugfs: says how to mount it, exit 2"
	out=$(echo "$out" | tail -1)
	[ -n "$out" ] && echo "$out" | jq -e --argjson pid "$pid" --arg fds "$fds" \
		'.vms >= 2 and ([.per_vm[] | select(.pid == $pid) | .fd] | sort | map(tostring) | join(" ")) + " " == $fds
		 and ([.per_vm[] | select(.pid == $pid) | .comm] | unique) == ["vmhold"]
		 and .interval_s > 0' >/dev/null
	ok $? "stat --mount-debugfs: the test's 2 VMs (pid $pid, fds $fds)"
	[ -n "$out" ] && echo "$out" | jq -e '([.stats[] | select(.total != null)] | length) + .unreadable.count == (.stats | length)' >/dev/null
	ok $? "stat: every statistic is a value or counted as unreadable"
	local wfd=${HOLD[1]}
	exec {wfd}>&-
	wait "$HOLD_PID" 2>/dev/null; HOLD_PID=
}

# As an unprivileged user: permission denied gives one line and exit 2.
unprivileged_tests() {
	local bin=$T/ekvm-nobody as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	cp "$EKVM" "$bin"; chmod 755 "$bin"
	mkdir -p "$T/sys-locked/module"; chmod 000 "$T/sys-locked"
	mount_ns_or_skip "unprivileged smoke" "unprivileged stat -1" "unprivileged status" &&
	for args in "smoke" "stat -1" "status" ; do
		# debugfs is mounted in a private mount namespace: root-only, whatever the host has
		# shellcheck disable=SC2086
		out=$(cd / && EKVM_SYSFS_ROOT=$([ "$args" = status ] && echo "$T/sys-locked" || echo /sys) \
			in_mount_ns sh -c 'mountpoint -q /sys/kernel/debug ||
				mount -t debugfs none /sys/kernel/debug; exec "$@"' sh \
			"${as[@]}" "$bin" $args 2>"$T/err"); rc=$?; err=$(cat "$T/err") # $args: words
		[ "$rc" -eq 2 ] && [ -z "$out" ] && [ "$(echo "$err" | wc -l)" -eq 1 ] &&
			[[ $err == *"Permission denied"* ]]
		ok $? "unprivileged $args: exit 2, one line ($err)"
	done
	[[ $(cd / && "${as[@]}" "$bin" smoke 2>&1) == *"'kvm' group"* ]]
	ok $? "unprivileged smoke: the /dev/kvm hint"
}

install_tests() {
	local d=$T/install
	make -s NO_DEPS=1 O="$O" install DESTDIR="$d" PREFIX=/usr >/dev/null
	[ -x "$d/usr/bin/ekvm" ] && [ -f "$d/usr/share/man/man1/ekvm.1" ] &&
		[ -f "$d/usr/share/bash-completion/completions/ekvm" ] &&
		[ -f "$d/usr/share/zsh/vendor-completions/_ekvm" ] &&
		[ -x "$d/usr/libexec/ekvm/ekvm-fleet" ]
	ok $? "make install: binaries (ekvm-fleet in /usr/libexec/ekvm), man page, completions"
	make -s NO_DEPS=1 O="$O" install-tools DESTDIR="$d-rpm" PREFIX=/usr \
		ZSH_COMPLETIONDIR=/usr/share/zsh/site-functions >/dev/null &&
		cmp -s _ekvm "$d-rpm/usr/share/zsh/site-functions/_ekvm"
	ok $? "make install-tools ZSH_COMPLETIONDIR=: the zsh completion where RPM systems look"
	bash -c ". '$d/usr/share/bash-completion/completions/ekvm'; COMP_WORDS=(ekvm st); COMP_CWORD=1;
		_ekvm; echo \${COMPREPLY[*]}" | grep -qx 'status stat'
	ok $? "bash completion completes subcommands"
	man -l "$d/usr/share/man/man1/ekvm.1" 2>/dev/null | grep -q "ekvm stat" ||
		grep -q '^\.SH' "$d/usr/share/man/man1/ekvm.1"
	ok $? "man page has sections"
	make -s format-check >/dev/null 2>&1
	ok $? "sources are clang-formatted"
}

# the ekvm ABI 2 features: drain, status, stat --hist
# shellcheck source=userspace/tests/features.sh
. tests/features.sh
# ekvm fleet and ekvm reload
# shellcheck source=userspace/tests/fleet.sh
. tests/fleet.sh
# shellcheck source=userspace/tests/fleet-preflight.sh
. tests/fleet-preflight.sh
# shellcheck source=userspace/tests/fleet-program.sh
. tests/fleet-program.sh

# ekvm's output: JSON and text that untrusted strings cannot corrupt, write errors
# shellcheck source=userspace/tests/output.sh
. tests/output.sh
# ekvm stat with kvm_stat's options and habits; messages that do not mislead
# shellcheck source=userspace/tests/stat-habits.sh
. tests/stat-habits.sh
# the man page, docs/ekvm-tool.md and the completions against the code's option tables
# shellcheck source=userspace/tests/docs-sync.sh
. tests/docs-sync.sh
# the suite's namespace tests where / is not a mount point (a chroot, as build roots are)
# shellcheck source=userspace/tests/chroot.sh
. tests/chroot.sh

all_tests="unit_tests dispatch_tests drain_help_tests smoke_tests status_tests fake_status_tests fake_instance_tests fake_instances_tests
	modules_tests skip_note_tests validate_tests secure_boot_tests fake_debugfs_tests debugfs_tests
	unprivileged_tests drain_tests drain_not_ekvm_tests drain_wait_tests drain_unprivileged_tests
	feature_status_tests hist_tests hist_host_tests completion_feature_tests output_tests
	stat_habit_tests docs_sync_tests chroot_tests fleet_unit_tests fleet_help_tests
	fleet_program_tests fleet_testdriver_tests fleet_preflight_tests reload_tests install_tests"
# EKVM_TESTS="dispatch_tests output_tests": run only these groups (while working on them).
for t in ${EKVM_TESTS:-$all_tests}; do
	[[ " ${all_tests//[[:space:]]/ } " == *" $t "* ]] ||
		{ echo "run.sh: no test group '$t'" >&2; exit 2; }
	"$t"
done
[ -z "$failures" ] || printf '# the failures again:\n%s' "$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
