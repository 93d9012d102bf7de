# shellcheck shell=bash
# Sourced by run.sh (ok, run, usage_error, $EKVM, $T, $O are its own).
# shellcheck disable=SC2154 # out, err, rc, T, O, EKVM: set by run.sh

# A debugfs look-alike for the habits: two statistics, VM folders added by the tests.
habit_debugfs() {
	local d=$T/hab-dbg/kvm
	mkdir -p "$d"
	echo 12 >"$d/exits"; echo 7 >"$d/io_exits"
	echo "$T/hab-dbg"
}

# wait_lines FILE N: until FILE has N lines (at most 15 s)
wait_lines() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(wc -l 2>/dev/null <"$1" || echo 0)" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# bump FILE STOP: rewrites FILE with a growing number every 20 ms until STOP exists (-z tests)
bump() {
	local i=0
	while [ ! -e "$2" ]; do
		i=$((i + 1)); echo "$i" >"$1.new" && mv "$1.new" "$1"
		sleep 0.02
	done
}

# kvm_stat's options with kvm_stat's meaning: -1 -d -s -c -l -L -z -f help -t -i
stat_kvm_stat_option_tests() {
	local dbg log=$T/hab-log.csv
	dbg=$(habit_debugfs)
	run EKVM_DEBUGFS_ROOT="$dbg" -- stat -1 -d
	[ "$rc" -eq 0 ] && [[ $out == *"NAME"*"exits"* ]]
	ok $? "stat -1 -d: -d is kvm_stat's --debugfs (a flag), rates over the default 1 s"
	run EKVM_DEBUGFS_ROOT="$dbg" -- stat --batch --debugfs --debugfs-include-past -s 0 --json
	echo "$out" | jq -e '[.stats[].total] == [12, 7]' >/dev/null
	ok $? "stat --batch --debugfs --debugfs-include-past -s 0: kvm_stat's long options"
	usage_error "stat -d 0.5 (the old delay)" EKVM_DEBUGFS_ROOT="$dbg" -- stat -1 -d 0.5
	[[ $err == *"-s SEC"* ]]; ok $? "stat -d 0.5: says the interval is -s now"
	usage_error "stat -d0.5 (the old delay, glued)" EKVM_DEBUGFS_ROOT="$dbg" -- stat -d0.5
	[[ $err == *"-s SEC"* ]]; ok $? "stat -d0.5: says the interval is -s now"
	run EKVM_DEBUGFS_ROOT="$dbg" -- stat -l --delay 0.01 -n 2
	[ "$rc" -eq 0 ] && [ "$(echo "$out" | wc -l)" -eq 3 ]
	ok $? "stat -l --delay 0.01: the old long option still sets the interval"
	usage_error "stat -l -s 0 (a busy loop)" EKVM_DEBUGFS_ROOT="$dbg" -- stat -l -s 0
	[[ $err == *"at least 0.01 s"* ]]; ok $? "stat -l -s 0: the minimum interval is said"
	usage_error "stat view -s 0.005" EKVM_DEBUGFS_ROOT="$dbg" -- stat -s 0.005 -n 1
	usage_error "stat -c without -l" EKVM_DEBUGFS_ROOT="$dbg" -- stat -1 -c
	usage_error "stat -z without -l" EKVM_DEBUGFS_ROOT="$dbg" -- stat -z
	usage_error "stat -c with --json" EKVM_DEBUGFS_ROOT="$dbg" -- stat -l -c --json
	usage_error "stat -t (tracepoints)" EKVM_DEBUGFS_ROOT="$dbg" -- stat -t
	[[ $err == *"debugfs only"* ]]; ok $? "stat -t: says ekvm reads debugfs only"
	usage_error "stat -1 with -L" EKVM_DEBUGFS_ROOT="$dbg" -- stat -1 -L "$log"

	run EKVM_DEBUGFS_ROOT="$dbg" -- stat -l -c -s 0.01 -n 3
	[ "$rc" -eq 0 ] && [ "$(echo "$out" | head -1)" = "timestamp,exits,io_exits" ] &&
		[ "$(echo "$out" | grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8},0,0$')" -eq 3 ] &&
		[ "$(echo "$out" | wc -l)" -eq 4 ]
	ok $? "stat -l -c: a CSV header and 3 rows of rates with a timestamp"
	run EKVM_DEBUGFS_ROOT="$dbg" -- stat -l -c -s 0.01 -n 1 -f '^io_'
	[ "$rc" -eq 0 ] && [ "$(echo "$out" | head -1)" = "timestamp,io_exits" ]
	ok $? "stat -l -c -f: the header has the kept statistics only ($(echo "$out" | head -1))"
	rm -f "$log"
	run EKVM_DEBUGFS_ROOT="$dbg" -- stat -L "$log" -c -s 0.01 -n 2
	run EKVM_DEBUGFS_ROOT="$dbg" -- stat --log-to-file "$log" --csv -s 0.01 -n 2
	[ "$rc" -eq 0 ] && [ -z "$out" ] && [ "$(grep -c timestamp "$log")" -eq 1 ] &&
		[ "$(wc -l <"$log")" -eq 5 ]
	ok $? "stat -L FILE -c twice: appends, the CSV header only at the start of the file"
	run EKVM_DEBUGFS_ROOT="$dbg" -- stat -L "$T/hab-log.txt" -s 0.01 -n 2
	[ "$rc" -eq 0 ] && [ -z "$out" ] && [ "$(wc -l <"$T/hab-log.txt")" -eq 3 ] &&
		grep -q 'exits io_exits' "$T/hab-log.txt"
	ok $? "stat -L FILE: the -l lines into the file, nothing on stdout"
	# SIGHUP reopens the file (logrotate): once the first line is there, the handler is set
	local pid
	# (at most 600 samples, 30 s: SIGTERM ends it once the new file has a sample, however slow
	# the machine is)
	EKVM_DEBUGFS_ROOT="$dbg" "$EKVM" stat -L "$T/hab-rot.log" -c -s 0.05 -n 600 2>"$T/hab-rot.err" &
	pid=$!
	wait_lines "$T/hab-rot.log" 2
	mv "$T/hab-rot.log" "$T/hab-rot.log.1"
	kill -HUP "$pid" 2>/dev/null
	wait_lines "$T/hab-rot.log" 2
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"; rc=$?
	[ "$rc" -eq 0 ] && [ "$(head -1 "$T/hab-rot.log" 2>/dev/null)" = "timestamp,exits,io_exits" ] &&
		[ "$(wc -l <"$T/hab-rot.log")" -ge 2 ] && [ "$(grep -c timestamp "$T/hab-rot.log.1")" -eq 1 ]
	ok $? "stat -L: SIGHUP reopens the file, a new CSV header in the new file (rc $rc)"
	usage_error "stat -L into a missing folder" EKVM_DEBUGFS_ROOT="$dbg" -- stat -L "$T/no/such/log"

	run EKVM_DEBUGFS_ROOT="$dbg" -- stat -l -z -s 0.01 -n 3
	[ "$rc" -eq 0 ] && [ -z "$out" ]
	ok $? "stat -l -z: no record when every rate is 0"
	bump "$dbg/kvm/exits" "$T/hab-stop" & local bumper=$!
	run EKVM_DEBUGFS_ROOT="$dbg" -- stat -l -z -c -s 0.1 -n 3 -f '^exits$'
	touch "$T/hab-stop"; wait "$bumper" 2>/dev/null; echo 12 >"$dbg/kvm/exits"
	[ "$rc" -eq 0 ] && [ "$(echo "$out" | head -1)" = "timestamp,exits" ] &&
		[ "$(echo "$out" | grep -cE ',[1-9][0-9]*$')" -eq 3 ]
	ok $? "stat -l -z -c -f: records with a rate are kept ($(echo "$out" | tail -1))"

	run EKVM_DEBUGFS_ROOT="$dbg" -- stat -f help
	[ "$rc" -eq 0 ] && [ "$out" = "$(printf '  exits\n  io_exits')" ]
	ok $? "stat -f help: the statistics' names, as kvm_stat lists its events"
	usage_error "stat --per-vm without --hist" EKVM_DEBUGFS_ROOT="$dbg" -- stat -1 --per-vm
	[[ $err == *"needs --hist"* ]]; ok $? "stat --per-vm: says it needs --hist"
	usage_error "stat --hist -s" EKVM_DEBUGFS_ROOT="$dbg" -- stat --hist -s 1
	usage_error "stat --hist -L" EKVM_DEBUGFS_ROOT="$dbg" -- stat --hist -L "$log"
}

# -p of no process (kvm_stat's error), of a thread; -g: the guest name of a QEMU command line
stat_pid_guest_tests() {
	local dbg pid tid name=ekvm-hab-$$ line
	dbg=$(habit_debugfs)
	usage_error "stat -p of no process" EKVM_DEBUGFS_ROOT="$dbg" -- \
		stat -1 -p $(($(cat /proc/sys/kernel/pid_max) + 1))
	[[ $err == *"does not exist"* ]]; ok $? "stat -p: kvm_stat's 'pid does not exist'"
	# a real process holding 2 VMs, named the way libvirt names QEMU
	coproc HABHOLD { "$O/tests/vmhold" 2 -name "guest=$name,debug-threads=on"; }
	read -r -u "${HABHOLD[0]}" line; pid=${line#ready }
	mkdir -p "$dbg/kvm/$pid-10" "$dbg/kvm/$pid-11"
	echo 5 >"$dbg/kvm/$pid-10/exits"; echo 6 >"$dbg/kvm/$pid-11/exits"
	run EKVM_DEBUGFS_ROOT="$dbg" -- stat -1 -s 0 -g "$name" --json -f '^exits$'
	echo "$out" | jq -e --argjson p "$pid" '.pid == $p and .vms == 2 and .stats[0].total == 11' >/dev/null
	ok $? "stat -g NAME: the VMs of the process with -name guest=NAME (pid $pid)"
	printf 'kernel io 1024 3\n' >"$dbg/kvm/$pid-10/ekvm_exit_latency"
	run EKVM_DEBUGFS_ROOT="$dbg" -- stat --hist -d -g "$name" --json
	echo "$out" | jq -e --argjson p "$pid" '.pid == $p and .hist[0].count == 3' >/dev/null
	ok $? "stat --hist -g NAME: that guest's histograms"
	tid=$(find "/proc/$pid/task" -mindepth 1 -maxdepth 1 ! -name "$pid" -printf '%f\n' 2>/dev/null | head -1)
	if [ -n "$tid" ]; then
		usage_error "stat -p of a thread" EKVM_DEBUGFS_ROOT="$dbg" -- stat -1 -p "$tid"
		[[ $err == *"thread of process $pid: use -p $pid"* ]]
		ok $? "stat -p TID: names the process"
	fi
	local wfd=${HABHOLD[1]}
	exec {wfd}>&-
	wait "$HABHOLD_PID" 2>/dev/null
	usage_error "stat -g with no such guest" EKVM_DEBUGFS_ROOT="$dbg" -- stat -1 -g "$name-none"
	usage_error "stat -g with -p" EKVM_DEBUGFS_ROOT="$dbg" -- stat -1 -g "$name" -p 1
	# a fake /proc: the plain name wins over guest=, ",," is a comma, two processes of a name
	local p=$T/hab-proc
	mkdir -p "$p/301" "$p/302" "$p/303" "$p/self"
	printf 'qemu\0-name\0guest=other,debug-threads=on,a,,b\0' >"$p/301/cmdline"
	printf 'qemu\0-S\0-name\0twin\0' >"$p/302/cmdline"
	printf 'qemu\0--name\0guest=twin\0' >"$p/303/cmdline"
	mkdir -p "$dbg/kvm/301-3"; echo 4 >"$dbg/kvm/301-3/exits"
	run EKVM_PROC_ROOT="$p" EKVM_DEBUGFS_ROOT="$dbg" -- stat -1 -s 0 -g a,b --json
	echo "$out" | jq -e '.pid == 301' >/dev/null
	ok $? "stat -g: a part without '=' is the name, ',,' a comma (kvm_stat's reading)"
	usage_error "stat -g of two processes" EKVM_PROC_ROOT="$p" EKVM_DEBUGFS_ROOT="$dbg" -- stat -1 -g twin
	[[ $err == *"pids 302 303"* ]]; ok $? "stat -g: names the processes of a shared name"
}

# hist aggregation over many (where, class) pairs: every pair kept, summed over two VMs
stat_hist_many_tests() {
	local d=$T/hab-hist/kvm
	mkdir -p "$d/7-1" "$d/7-2"
	awk 'BEGIN { for (i = 0; i < 3000; i++) printf "%s c%04d 1024 %d\n", (i % 2 ? "user" : "kernel"), i, i + 1 }' \
		>"$d/7-1/ekvm_exit_latency"
	cp "$d/7-1/ekvm_exit_latency" "$d/7-2/ekvm_exit_latency"
	run EKVM_DEBUGFS_ROOT="$T/hab-hist" -- stat --hist --json
	echo "$out" | jq -e '(.hist | length) == 3000 and ([.hist[].count] | add) == 2 * 3000 * 3001 / 2
		and .hist[0].where == "kernel" and .hist[0].class == "c0000" and .hist[-1].class == "c2999"' >/dev/null
	ok $? "stat --hist: 3,000 (where, class) pairs in 2 VMs summed pair by pair, in order"
}

# the messages that misled: drain --wait=5, --timeout with decimals, smoke -n, -V
habit_message_tests() {
	local root
	usage_error "drain --wait=5" -- drain --wait=5
	[[ $err == *"takes no value"*"--timeout"* ]]; ok $? "drain --wait=5: says --wait takes no value, use --timeout"
	root=$(fake_ekvm2_sysfs habits)
	echo 0 >"$root/module/kvm/ekvm/vms"; echo 0 >"$root/module/kvm/ekvm/vcpus"
	run EKVM_SYSFS_ROOT="$root" -- drain status --timeout 4000.5
	[ "$rc" -eq 0 ] && [[ $out == "drain: off (0 VMs"* ]]
	ok $? "drain --timeout 4000.5: decimals accepted above an hour ($out)"
	usage_error "drain --timeout above a week with decimals" EKVM_SYSFS_ROOT="$root" -- \
		drain status --timeout 604800.5
	usage_error "smoke -n without --bench" -- smoke -n 5
	[[ $err == *"--bench"* ]]; ok $? "smoke -n 5: says -n needs --bench"
	run -- -V
	[ "$rc" -eq 0 ] && [ "$out" = "$("$EKVM" --version)" ]
	ok $? "-V: the same as --version ($out)"
}

# fleet inventory and state files: too many words and a too long line are told apart
habit_fleet_words_tests() {
	local i=$T/hab-inv s=$T/hab-state
	printf 'fleet exec="sh -c" upgrade=true\nhost name=a uri=test:///default\nhost name=b uri=test:///default\n' >"$i"
	{ echo "host name=a$(printf ' k=v%.0s' {1..70})"; } >"$T/hab-inv-words"
	run -- fleet plan -i "$T/hab-inv-words"
	[ "$rc" -ne 0 ] && [[ $err == *"hab-inv-words:1: too many words (at most 64)" ]]
	ok $? "fleet inventory: too many words ($err)"
	{ echo "host name=a x=$(printf 'v%.0s' {1..9000})"; } >"$T/hab-inv-long"
	run -- fleet plan -i "$T/hab-inv-long"
	[ "$rc" -ne 0 ] && [[ $err == *"hab-inv-long:1: line too long (at most 8 KiB)" ]]
	ok $? "fleet inventory: line too long ($err)"
	printf 'inventory %s\nhost%s\n' "$i" "$(printf ' a%.0s' {1..20})" >"$s"
	run -- fleet status -s "$s"
	[ "$rc" -ne 0 ] && [[ $err == *"hab-state:2: too many words (at most 16)" ]]
	ok $? "fleet state: too many words ($err)"
	printf 'inventory %s\nhost x=%s\n' "$i" "$(printf 'v%.0s' {1..9000})" >"$s"
	run -- fleet status -s "$s"
	[ "$rc" -ne 0 ] && [[ $err == *"hab-state:2: line too long (at most 8 KiB)" ]]
	ok $? "fleet state: line too long ($err)"
}

stat_habit_tests() {
	stat_kvm_stat_option_tests
	stat_pid_guest_tests
	stat_hist_many_tests
	habit_message_tests
	habit_fleet_words_tests
}
