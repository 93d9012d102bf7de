# shellcheck shell=bash
# Sourced by run.sh (ok, run, usage_error, $EKVM, $T, $O are its own).
# ekvm's output cannot be corrupted (issue 17): strings from the kernel, VM names, URIs and
# files go through one JSON encoder and one text escape (out.c), a failed write to stdout
# fails the command, and a malformed sysfs or debugfs value is an error, not a "-".
# shellcheck disable=SC2154 # out, err, rc, T, O, EKVM, ABI: set by run.sh

# out_one_line: $err is exactly one line
out_one_line() {
	[ -n "$err" ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ]
}

# json_check FILE PYTHON-EXPR: FILE parses as JSON (python3's strict parser) into d, and
# the expression (with raw(path): the bytes of a file, minus one trailing newline, decoded
# with U+FFFD for invalid UTF-8, the rule of out.h) is true.
json_check() {
	python3 -c '
import json, sys
def raw(path):
    b = open(path, "rb").read()
    return (b[:-1] if b.endswith(b"\n") else b).decode("utf-8", "replace")
d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' "$@" 2>/dev/null
}

# text_clean FILE: valid UTF-8 without a control character but newline (no C0, DEL or C1)
text_clean() {
	python3 -c '
import sys, unicodedata
t = open(sys.argv[1], "rb").read().decode("utf-8")
sys.exit(any(c != "\n" and unicodedata.category(c) == "Cc" for c in t))' "$1" 2>/dev/null
}

# A real process whose comm is hostile (non-UTF-8 bytes, an escape sequence, a quote, a
# backslash, a newline) holds a real VM: comm comes from the name of the file it runs.
output_comm_tests() {
	local comm=$'\e[2J"\\\n\xff\xc3q\xe2\x82x' d=$T/out-comm pid line wfd
	mkdir -p "$d"
	ln -sf "$O/tests/vmhold" "$d/$comm"
	coproc OUT_HOLD { "$d/$comm" 1; }
	read -r -u "${OUT_HOLD[0]}" line; pid=${line#ready }
	HOLD_PID=$OUT_HOLD_PID
	printf '%s\n' "$comm" | cmp -s - "/proc/$pid/comm"
	ok $? "a VM holder whose comm has ESC, a quote, a backslash, a newline, invalid UTF-8"
	if mount_ns_or_skip "stat -1 -p PID --json with a hostile comm"; then
		in_mount_ns "$EKVM" stat --mount-debugfs -1 --delay 0 -p "$pid" --json >"$d/stat.json" 2>"$T/err"
		rc=$?
		[ "$rc" -eq 0 ] && json_check "$d/stat.json" \
			"[v['comm'] for v in d['per_vm']] == [raw('/proc/$pid/comm')] and d['vms'] == 1" &&
			! grep -q $'[\x01-\x1f]' "$d/stat.json"
		ok $? "stat -1 -p PID --json: parses, comm with U+FFFD for invalid UTF-8 (rc $rc)"
	fi
	wfd=${OUT_HOLD[1]}
	exec {wfd}>&-
	wait "$HOLD_PID" 2>/dev/null; HOLD_PID=
}

# Hostile strings from sysfs (a fake ekvm): JSON parses, text shows them escaped.
output_sysfs_string_tests() {
	local root=$T/sys-out-str e
	cp -r "$(fake_ekvm_sysfs "$ABI")" "$root"
	e=$root/module/kvm/ekvm
	printf '6.1\e]0;pwn\a\xff"\\x' >"$e/version"
	printf '0001-a\e[31m.patch\n0002-\xc2\x9b\xfe.patch\n' >"$e/series"
	run EKVM_SYSFS_ROOT="$root" EKVM_DEV_KVM="$T/nokvm" -- status --json
	printf '%s\n' "$out" >"$T/out-status.json"
	[ "$rc" -eq 0 ] && json_check "$T/out-status.json" "d['loaded']['version'] == raw('$e/version')
		and d['loaded']['series'] == raw('$e/series').split('\n')"
	ok $? "status --json: a hostile version and series parse back (U+FFFD for invalid UTF-8)"
	run EKVM_SYSFS_ROOT="$root" EKVM_DEV_KVM="$T/nokvm" -- status
	printf '%s\n' "$out" >"$T/out-status.txt"
	[ "$rc" -eq 0 ] && text_clean "$T/out-status.txt" &&
		[[ $out == *'version:   6.1\x1b]0;pwn\x07\xff"\\x'* ]] &&
		[[ $out == *'0001-a\x1b[31m.patch'* ]] && [[ $out == *'0002-\u009b\xfe.patch'* ]]
	ok $? "status text: ESC, BEL, C1, invalid UTF-8 and backslash escaped visibly"

	# random bytes: JSON is what Python decodes with errors="replace"; text is clean UTF-8
	python3 - "$EKVM" "$e/version" "$root" "$T/nokvm" <<'EOF'
import json, os, random, subprocess, sys, unicodedata
ekvm, path, root, nokvm = sys.argv[1:]
env = dict(os.environ, EKVM_SYSFS_ROOT=root, EKVM_DEV_KVM=nokvm)
rng = random.Random(17)
pool = bytes(range(1, 256)) + b"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" * 8
bad = 0
for i in range(25):
    b = bytes(rng.choice(pool) for _ in range(rng.randint(1, 60))).rstrip(b"\n") or b"x"
    open(path, "wb").write(b)
    j = subprocess.run([ekvm, "status", "--json"], env=env, capture_output=True)
    t = subprocess.run([ekvm, "status"], env=env, capture_output=True)
    try:
        ok = json.loads(j.stdout.decode("utf-8"))["loaded"]["version"] == b.decode("utf-8", "replace")
        txt = t.stdout.decode("utf-8")
        ok = ok and not any(c != "\n" and unicodedata.category(c) == "Cc" for c in txt)
    except (ValueError, KeyError):
        ok = False
    if not ok:
        bad += 1
        print("# random version %r: json %r" % (b, j.stdout[:200]), file=sys.stderr)
sys.exit(bad != 0)
EOF
	ok $? "25 random byte strings: JSON decodes as errors=\"replace\" would, text has no control"
}

# ekvm-fleet: a hostile URI (ESC, invalid UTF-8) in the inventory, and a hostile host name in
# an inventory error.
output_fleet_tests() {
	local d=$T/out-fleet uri
	[ -x "$O/ekvm-fleet-asan" ] || return 0
	mkdir -p "$d"
	uri=$'test:///nonexistent/\e[31mred\xff.xml'
	{
		echo "fleet upgrade=true version=6.1.192.2 smoke_cmd=true lease=$d/lease"
		echo "host name=hostA uri=$uri exec=\"sh -c\""
		echo "host name=hostB uri=test:///nonexistent/b.xml exec=\"sh -c\""
	} >"$d/inv"
	"$O/ekvm-fleet-asan" plan -i "$d/inv" --json >"$d/plan.json" 2>"$T/err"; rc=$?
	json_check "$d/plan.json" "d['hosts'][0]['uri'] == b'test:///nonexistent/\x1b[31mred\xff.xml'.decode('utf-8', 'replace')"
	ok $? "fleet plan --json: a URI with ESC and invalid UTF-8 parses back (rc $rc)"
	"$O/ekvm-fleet-asan" plan -i "$d/inv" >"$d/plan.txt" 2>"$d/plan.err"; rc=$?
	text_clean "$d/plan.txt" && text_clean "$d/plan.err" &&
		grep -qF 'test:///nonexistent/\x1b[31mred\xff.xml' "$d/plan.txt"
	ok $? "fleet plan text: the URI escaped, on stdout and stderr (rc $rc)"
	printf 'fleet upgrade=true version=1\nhost name=bad\e[2J\xff uri=test:///x exec=true\n' >"$d/inv-bad"
	"$O/ekvm-fleet-asan" plan -i "$d/inv-bad" >/dev/null 2>"$T/err"; rc=$?
	err=$(cat "$T/err")
	[ "$rc" -eq 2 ] && out_one_line && text_clean "$T/err" && [[ $err == *'bad\x1b[2J\xff'* ]]
	ok $? "fleet: an inventory error names a hostile host name escaped ($err)"
}

# write_error_is DESCRIPTION CMD...: CMD >/dev/full fails (not 0) with one line on stderr
write_error_is() {
	local what=$1; shift
	"$@" >/dev/full 2>"$T/err"; rc=$?
	err=$(cat "$T/err")
	[ "$rc" -ne 0 ] && out_one_line && [[ $err == *"write error: No space left on device" ]]
	ok $? "$what >/dev/full: exit $rc, one line ($err)"
}

output_write_error_tests() {
	local sys dbg=$T/out-dbg
	sys=$(fake_ekvm2_sysfs out-full)
	mkdir -p "$dbg/kvm/100-4"
	echo 12 >"$dbg/kvm/exits"; echo 5 >"$dbg/kvm/100-4/exits"
	write_error_is "status" "$EKVM" status
	write_error_is "status --json" "$EKVM" status --json
	write_error_is "validate" "$EKVM" validate --json
	write_error_is "stat -1" env EKVM_DEBUGFS_ROOT="$dbg" "$EKVM" stat -1 --delay 0 --json
	write_error_is "smoke" "$EKVM" smoke
	write_error_is "drain status" env EKVM_SYSFS_ROOT="$sys" "$EKVM" drain status
	write_error_is "help" "$EKVM" help
	write_error_is "help status" "$EKVM" help status
	write_error_is "status --help" "$EKVM" status --help
	write_error_is "--version" "$EKVM" --version
	if [ -x "$O/ekvm-fleet-asan" ]; then
		write_error_is "ekvm-fleet --help" "$O/ekvm-fleet-asan" --help
		write_error_is "ekvm fleet --help" env EKVM_EXEC_PATH="$O" "$EKVM" fleet --help
		write_error_is "ekvm-fleet status" "$O/ekvm-fleet-asan" status -s "$T/out-nostate"
	fi
	"$EKVM" --version >/dev/null
	ok $? "--version to /dev/null: exit 0"
}

# A malformed value is exit 2 with one line naming the file (ekvm.1, EXIT STATUS).
output_malformed_tests() {
	local sys dbg=$T/out-bad-dbg f fifo wpid i=0
	for f in "module/kvm/ekvm/vms=12abc" "module/kvm/ekvm/drain=maybe" "module/kvm/ekvm/abi=2x" \
		"module/kvm/parameters/ekvm_max_vms_per_user=-1" \
		"module/kvm/parameters/ekvm_audit_log=$(printf 'Y\e[31m')"; do
		i=$((i + 1)); sys=$(fake_ekvm2_sysfs "out-bad-$i")
		printf '%s\n' "${f#*=}" >"$sys/${f%%=*}"
		run EKVM_SYSFS_ROOT="$sys" EKVM_DEV_KVM="$T/nokvm" -- status --json
		[ "$rc" -eq 2 ] && [ -z "$out" ] && out_one_line &&
			[[ $err == "ekvm status: $sys/${f%%=*}: malformed value '"* ]] &&
			text_clean "$T/err"
		ok $? "status: malformed ${f%%=*}: exit 2, one line ($err)"
	done
	sys=$(fake_ekvm2_sysfs out-long)
	head -c 100 /dev/zero | tr '\0' 9 >"$sys/module/kvm/ekvm/vcpus"
	run EKVM_SYSFS_ROOT="$sys" EKVM_DEV_KVM="$T/nokvm" -- status
	[ "$rc" -eq 2 ] && out_one_line && [[ $err == *"/module/kvm/ekvm/vcpus: malformed value '999"*"...'"* ]]
	ok $? "status: a 100-digit count is malformed, cut in the message ($err)"
	echo 3 >"$sys/module/kvm/ekvm/vcpus"
	head -c 80 /dev/zero | tr '\0' v >"$sys/module/kvm/ekvm/version"
	run EKVM_SYSFS_ROOT="$sys" EKVM_DEV_KVM="$T/nokvm" -- status
	[ "$rc" -eq 2 ] && out_one_line && [[ $err == *"/module/kvm/ekvm/version: malformed: longer than 63 bytes" ]]
	ok $? "status: a version longer than its field is an error, not cut ($err)"

	# long values read whole: a 150-patch series (over 4 KiB is too long: an error)
	sys=$(fake_ekvm2_sysfs out-series)
	for f in $(seq -w 1 150); do echo "$f-ekvm-fix-a-thing.patch"; done \
		>"$sys/module/kvm/ekvm/series"
	run EKVM_SYSFS_ROOT="$sys" EKVM_DEV_KVM="$T/nokvm" -- status --json
	[ "$rc" -eq 0 ] && [ -n "$out" ] && echo "$out" | jq -e '(.loaded.series | length) == 150 and
		.loaded.series[149] == "150-ekvm-fix-a-thing.patch"' >/dev/null
	ok $? "status: a $(stat -c %s "$sys/module/kvm/ekvm/series")-byte series read whole"
	for f in $(seq -w 1 150); do echo "$f-ekvm-fix-a-much-longer-thing.patch"; done \
		>"$sys/module/kvm/ekvm/series"
	run EKVM_SYSFS_ROOT="$sys" EKVM_DEV_KVM="$T/nokvm" -- status --json
	[ "$rc" -eq 2 ] && out_one_line && [[ $err == *"series: malformed: longer than 4095 bytes" ]]
	ok $? "status: a series longer than 4095 bytes is an error ($err)"
	# a file that comes in several reads (a FIFO, written in two parts) is read to its end
	fifo=$sys/module/kvm/ekvm/series
	rm -f "$fifo"; mkfifo "$fifo"
	# (status opens it twice: a writer a reader; the pause before the next writer lets the last
	# reader close first, else it would read on into the next writer's lines: 1 s, ample on a
	# loaded machine)
	(while { printf '0001-a.patch\n'; sleep 0.1; printf '0002-b.patch\n'; } >"$fifo"; do
		sleep 1; done) &
	wpid=$!
	run EKVM_SYSFS_ROOT="$sys" EKVM_DEV_KVM="$T/nokvm" -- status --json
	kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null
	[ "$rc" -eq 0 ] && [ -n "$out" ] && echo "$out" | jq -e '.loaded.series == ["0001-a.patch", "0002-b.patch"]' >/dev/null
	ok $? "status: a value that takes two reads is read to its end"

	# debugfs: a total, a VM's value, a value too long for a number
	mkdir -p "$dbg/kvm/100-4"
	echo 5 >"$dbg/kvm/100-4/exits"
	echo "12 13" >"$dbg/kvm/exits"
	run EKVM_DEBUGFS_ROOT="$dbg" -- stat -1 --delay 0 --json
	[ "$rc" -eq 2 ] && [ -z "$out" ] && out_one_line && [[ $err == *"$dbg/kvm/exits"* ]]
	ok $? "stat -1: a malformed total is exit 2, one line naming the file ($err)"
	echo 12 >"$dbg/kvm/exits"
	printf 'x\e[2J\n' >"$dbg/kvm/100-4/exits"
	run EKVM_DEBUGFS_ROOT="$dbg" -- stat -1 --delay 0 -p 100 --json
	[ "$rc" -eq 2 ] && [ -z "$out" ] && out_one_line && text_clean "$T/err" &&
		[[ $err == *"$dbg/kvm/100-4/exits"* ]]
	ok $? "stat -1 -p: a malformed value of a VM is exit 2, one line naming the file ($err)"
	head -c 100 /dev/zero | tr '\0' 1 >"$dbg/kvm/100-4/exits"
	run EKVM_DEBUGFS_ROOT="$dbg" -- stat -1 --delay 0 -p 100 --json
	[ "$rc" -eq 2 ] && [ -z "$out" ] && out_one_line
	ok $? "stat -1 -p: a 100-digit value is malformed, exit 2 ($err)"
	echo 5 >"$dbg/kvm/100-4/exits"
	run EKVM_DEBUGFS_ROOT="$dbg" -- stat -1 --delay 0 -p 100 --json
	[ "$rc" -eq 0 ] && [ -n "$out" ] && echo "$out" | jq -e '[.stats[] | select(.name == "exits") | .total] == [5]' >/dev/null
	ok $? "stat -1 -p: well-formed again, exit 0"
}

output_tests() {
	output_comm_tests
	output_sysfs_string_tests
	output_fleet_tests
	output_write_error_tests
	output_malformed_tests
}
