# shellcheck shell=bash
# ekvm fleet and ekvm reload, sourced by tests/run.sh (its ok, run, usage_error, $T, $O, $EKVM):
# unit tests, fleets of libvirt test-driver hosts (test:///FILE: plans, preflight failures and a
# rollout that halts because that driver cannot migrate), and reload on a fake sysfs with fake
# rmmod/modprobe/insmod. The real fleet, with migrations, is tests/fleet (make fleet-test).
# shellcheck disable=SC2154 # out, err, rc, T, O, EKVM: set by run.sh

fleet_unit_tests() {
	[ -x "$O/tests/fleet-unit" ] || return 0
	tap_tests "$O/tests/fleet-unit" "fleet unit tests"
}

# test_host NAME MEM_KIB [VM_NAME VM_MEM_KIB VM_NUMBER]...: a test-driver host file
test_host() {
	local f=$T/fleet/$1.xml
	{
		echo "<node><cpu><mhz>2000</mhz><model>i686</model><nodes>1</nodes><sockets>1</sockets>"
		echo "<cores>2</cores><threads>1</threads><active>2</active></cpu><memory>$2</memory>"
		shift 2
		while [ $# -ge 3 ]; do
			printf "<domain type='test'><name>%s</name><uuid>6b766d00-0000-4000-8000-%012d</uuid>" "$1" "$3"
			printf "<memory>%s</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>\n" "$2"
			shift 3
		done
		echo "</node>"
	} >"$f"
	echo "test://$f"
}

fleet_testdriver_tests() {
	local inv=$T/fleet/inventory st=$T/fleet/state
	mkdir -p "$T/fleet"
	{
		echo "fleet upgrade=\"echo upgraded >>$T/fleet/upgrades\" version_cmd=\"echo 6.1.192.2\""
		# every "host" runs sh -c here: one lease file for all, removed before each scenario
		# (a halted rollout keeps its lease: the next, on other test hosts, would be refused)
		echo "fleet version=6.1.192.2 smoke_cmd=true ekvm=\"$EKVM\" lease=$T/fleet/lease"
		echo "host name=hostA uri=$(test_host hostA 8388608 vm1 1048576 1) exec=\"sh -c\""
		echo "host name=hostB uri=$(test_host hostB 8388608 vm2 2097152 2) exec=\"sh -c\""
		echo "host name=hostC uri=$(test_host hostC 4194304) exec=\"sh -c\""
	} >"$inv"
	run -- fleet plan -i "$inv" --json
	echo "$out" | jq -e '.failed == 0 and (.batches | length) == 3 and .batches[0].canary
		and .batches[0].hosts == ["hostA"] and .batches[0].moves[0].vm == "vm1"
		and .batches[0].moves[0].to == "hostB" and .batches[1].moves[0].to == "hostA"
		and ([.hosts[].vms] == [1, 1, 0]) and ([.hosts[].avail_mib] == [7168, 6144, 4096])' >/dev/null
	ok $? "fleet plan on test-driver hosts: canary, batches, most room first (rc $rc)"
	echo "$out" | jq -e '([.checks[] | select(.check == "host_uuid") | .result] | unique) == ["WARN"]
		and ([.checks[] | select(.check == "memory") | .note] | all(test("estimated")))
		and ([.checks[] | select(.check == "reachable") | .result] | unique) == ["PASS"]' >/dev/null
	ok $? "fleet plan: no host UUID is a WARN, estimated memory said so"
	run -- fleet plan -i "$inv"
	[ "$rc" -eq 0 ] && [[ $out == *"batch 1 (canary): hostA"* ]] && [[ $out == *"vm1"*"hostA -> hostB"* ]]
	ok $? "fleet plan text: the canary and the moves"

	# a VM that fits nowhere, a host that does not answer: preflight fails, exit 1
	sed "s|hostB.xml|hostB-big.xml|" "$inv" >"$T/fleet/inv-big"
	test_host hostB-big 8388608 vm2 8000000 2 >/dev/null
	run -- fleet plan -i "$T/fleet/inv-big" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '[.checks[] | select(.result == "FAIL") | .check] == ["memory"]
		and (.batches[1].moves[0].to == null)' >/dev/null
	ok $? "fleet plan: a VM with no room anywhere fails the preflight (rc $rc)"
	sed "s|hostC.xml|nosuch.xml|" "$inv" >"$T/fleet/inv-down"
	run -- fleet plan -i "$T/fleet/inv-down" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '[.checks[] | select(.result == "FAIL") | .check + " " + .host] == ["reachable hostC"]' >/dev/null
	ok $? "fleet plan: an unreachable host fails the preflight"
	sed 's|exec="sh -c"|exec="/nonexistent/ssh"|' "$inv" >"$T/fleet/inv-exec"
	run -- fleet plan -i "$T/fleet/inv-exec" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '([.checks[] | select(.result == "FAIL") | .check] | unique) == ["exec"]' >/dev/null
	ok $? "fleet plan: an exec prefix that does not run fails the preflight"

	# the test driver cannot migrate: the canary's evacuation fails, is retried on another
	# destination (hostC, the only other one outside the batch) and the rollout halts
	rm -f "$T/fleet/lease"
	run -- fleet rollout -i "$inv" -s "$st" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '.result == "halted" and .failure.host == "hostA"
		and .failure.step == "evacuate" and (.failure.error | test("vm1: migration to hostC failed"))
		and .invariant.holds and (.vms[] | select(.name == "vm1") | .host == "hostA")
		and (.hosts[0].status == "failed")' >/dev/null
	ok $? "fleet rollout: a failed migration halts, the VM stays where it runs (rc $rc)"
	grep -q 'hostA: evacuate: vm1: migration to hostB failed' "$st.log" &&
		grep -q 'hostA: evacuate: vm1: retrying on hostC (retry 1 of 1)' "$st.log" &&
		[ "$(grep -c 'evacuate: migrating vm1' "$st.log")" -eq 2 ]
	ok $? "fleet rollout: a failed migration is retried once on another destination"
	grep -Eq ' migration policy: TLS, auto-converge on, timeout 300 s \+ 150 s a GiB, no progress 150 s, abort deadline 60 s, max downtime 500 ms, post-copy off, bandwidth none, parallel connections 1, 2 at a time, 1 retry on another destination$' "$st.log" &&
		! grep -q WARNING "$st.log"
	ok $? "fleet rollout: the migration policy in the log: TLS, auto-converge, timeouts by default"
	[ ! -e "$T/fleet/upgrades" ] && grep -q '^result halted$' "$st" &&
		grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z hostA: evacuate FAILED' "$st.log"
	ok $? "fleet rollout: nothing upgraded, state and timestamped log record the halt"
	run -- fleet status -s "$st"
	[ "$rc" -eq 1 ] && [[ $out == *"rollout: halted at hostA (evacuate)"* ]] && [[ $out == *"vm1"*"on hostA"* ]]
	ok $? "fleet status: the recorded halt and where each VM runs, exit 1 (halted) (rc $rc)"
	out=$(flock "$st.lock" "$EKVM" fleet status -s "$st" 2>/dev/null); rc=$?
	[ "$rc" -eq 6 ] && [[ $out == *"rollout: halted"* ]]
	ok $? "fleet status while a rollout holds the state's lock: exit 6 (rc $rc)"
	rm -f "$T/fleet/lease"
	run -- fleet rollout -i "$inv" -s "$st"
	[ "$rc" -eq 2 ] && [[ $err == *"unfinished rollout"*"resume"* ]]
	ok $? "fleet rollout over a halted rollout is refused"
	rm -f "$T/fleet/lease"
	run -- fleet resume -s "$st" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '.failure.step == "evacuate"' >/dev/null
	ok $? "fleet resume: halts again while the cause remains"
	# with --no-return and no VMs to move (hostC alone in its batch) a batch completes
	{ head -2 "$inv"; sed -n '/hostC/p' "$inv"; sed -n '/hostC/p' "$inv" | sed 's/hostC/hostD/g'; } >"$T/fleet/inv-empty"
	test_host hostD 4194304 >/dev/null
	rm -f "$T/fleet/lease"
	run -- fleet rollout -i "$T/fleet/inv-empty" -s "$T/fleet/st-empty" --json
	[ "$rc" -eq 0 ] && echo "$out" | jq -e '.result == "done" and ([.hosts[].version] == ["6.1.192.2", "6.1.192.2"])' >/dev/null &&
		[ "$(grep -c upgraded "$T/fleet/upgrades")" -eq 2 ]
	ok $? "fleet rollout of empty hosts: upgraded, verified, done"
	run -- fleet status -s "$T/fleet/st-empty"
	[ "$rc" -eq 0 ] && [[ $out == "rollout: done"* ]]
	ok $? "fleet status of a finished rollout: exit 0 (rc $rc)"
	run -- fleet status -s "$T/fleet/nosuch-state" --json
	[ "$rc" -eq 0 ] && echo "$out" | jq -e '.result == null' >/dev/null
	ok $? "fleet status with no rollout recorded: nothing to report, exit 0 (rc $rc)"
	cp "$T/fleet/inv-empty" "$T/fleet/inv-ok"
	sed -i 's/version=6.1.192.2/version=6.1.192.3/' "$T/fleet/inv-empty"
	rm -f "$T/fleet/lease"
	run -- fleet rollout -i "$T/fleet/inv-empty" -s "$T/fleet/st-empty" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '.failure.step == "verify" and
		(.failure.error | test("is .6.1.192.2., expected .6.1.192.3."))' >/dev/null
	ok $? "fleet rollout: a host reporting another version fails verify"
	mv "$T/fleet/hostD.xml" "$T/fleet/hostD.off"
	run -- fleet status -s "$T/fleet/st-empty"
	[ "$rc" -eq 5 ] && [[ $out == *"hostD"*"UNREACHABLE"* ]]
	ok $? "fleet status with a host that does not answer: exit 5 (rc $rc)"
	mv "$T/fleet/hostD.off" "$T/fleet/hostD.xml"

	# a VM started since the rollout began: resume stops; --rescan takes the running set
	test_host hostC 4194304 vm3 524288 3 >/dev/null
	rm -f "$T/fleet/lease"
	run -- fleet resume -s "$st" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '.failure.step == "preflight" and .invariant.new == 1
		and (.failure.error | test("not the recorded set")) and (.vms[2].recorded | not)' >/dev/null
	ok $? "fleet resume: a VM that appeared stops it, named as new"
	run -- fleet status -s "$st"
	[ "$rc" -eq 4 ] && [[ $out == *"vm3"*"(new)"* ]]
	ok $? "fleet status with a VM that appeared: exit 4, invariant broken (rc $rc)"
	rm -f "$T/fleet/lease"
	run -- fleet resume -s "$st" --rescan --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '.failure.step == "evacuate" and .invariant.holds
		and .invariant.before == 3 and ([.vms[].recorded] | all)' >/dev/null
	ok $? "fleet resume --rescan: the running VMs become the recorded set"

	# a VM running on two hosts at once breaks the invariant before anything moves
	{ head -2 "$inv"; echo "host name=hostA uri=$(test_host twinA 8388608 vm1 1048576 1) exec=\"sh -c\""
	  echo "host name=hostB uri=$(test_host twinB 8388608 vm1 1048576 1) exec=\"sh -c\""; } >"$T/fleet/inv-twin"
	rm -f "$T/fleet/lease"
	run -- fleet rollout -i "$T/fleet/inv-twin" -s "$T/fleet/st-twin" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '.failure.step == "preflight" and .invariant.duplicates == 1
		and (.invariant.holds | not) and (.failure.error | test("1 running twice"))' >/dev/null
	ok $? "fleet rollout: a VM running on two hosts stops it before anything moves"
	fleet_policy_tests "$inv"
	fleet_shutdown_tests
	fleet_safe_state_tests "$inv" "$st"
	fleet_lease_tests "$inv"
	fleet_copy_space_tests

	usage_error "fleet without subcommand" -- fleet
	usage_error "fleet bogus subcommand" -- fleet deploy
	usage_error "fleet plan without inventory" -- fleet plan
	usage_error "fleet plan missing inventory" -- fleet plan -i "$T/nosuch"
	printf 'fleet parallel=2\nhost name=a uri=test:///default exec="sh -c" upgrade=x colour=red\n' >"$T/fleet/bad"
	usage_error "fleet plan bad inventory" -- fleet plan -i "$T/fleet/bad"
	[[ $err == *"bad:2: unknown key 'colour'"* ]]
	ok $? "fleet: inventory errors name file and line"
	usage_error "fleet resume without state" -- fleet resume -s "$T/nosuch"
	usage_error "fleet --parallel 0" -- fleet rollout -i "$inv" -p 0
	usage_error "fleet --postcopy-after 0" -- fleet rollout -i "$inv" --postcopy-after 0
	usage_error "fleet --parallel-connections 1" -- fleet rollout -i "$inv" --parallel-connections 1
	usage_error "fleet --max-per-source 0" -- fleet rollout -i "$inv" --max-per-source 0
	usage_error "fleet --max-per-dest 65" -- fleet rollout -i "$inv" --max-per-dest 65
	usage_error "fleet --retries 17" -- fleet rollout -i "$inv" --retries 17
	usage_error "fleet --abort-timeout 0" -- fleet rollout -i "$inv" --abort-timeout 0
	usage_error "fleet --max-downtime x" -- fleet rollout -i "$inv" --max-downtime x
	usage_error "fleet resume with inventory" -- fleet resume -i "$inv"
}

# copy_host NAME [VM_NAME VM_NUMBER DISK_ALLOC_GIB]...: a test-driver host with a dir pool
# "images" at /var/lib/libvirt/images (the driver makes every pool 100 GiB), running each VM from
# its own volume there (VM_NUMBER -: the volume only, no VM)
copy_host() {
	local f=$T/fleet/$1.xml vols=""
	{
		echo "<node><cpu><mhz>2000</mhz><model>i686</model><nodes>1</nodes><sockets>1</sockets>"
		echo "<cores>2</cores><threads>1</threads><active>2</active></cpu><memory>8388608</memory>"
		shift
		while [ $# -ge 3 ]; do
			[ "$2" = - ] ||
				printf "<domain type='test'><name>%s</name><uuid>6b766d00-0000-4000-c000-%012d</uuid>%s%s%s\n" "$1" "$2" \
					"<memory>524288</memory><vcpu>1</vcpu><os><type>hvm</type></os><devices>" \
					"<disk type='file' device='disk'><source file='/var/lib/libvirt/images/$1.img'/>" \
					"<target dev='vda'/></disk></devices></domain>"
			vols+="<volume type='file'><name>$1.img</name><capacity unit='GiB'>200</capacity><allocation unit='GiB'>$3</allocation><target><path>/var/lib/libvirt/images/$1.img</path></target></volume>"
			shift 3
		done
		echo "<pool type='dir'><name>images</name><uuid>6b766d00-0000-4000-d000-000000000001</uuid>"
		echo "<source/><target><path>/var/lib/libvirt/images</path></target>$vols</pool>"
		echo "</node>"
	} >"$f"
	echo "test://$f"
}

# policy copy-storage: the destination pool must hold the copies of every VM going there (their
# allocation, added up); a file already at a copy's path there is a FAIL (libvirt would copy
# over it)
fleet_copy_space_tests() {
	local inv=$T/fleet/inv-copy
	{
		echo "fleet upgrade=true exec=\"sh -c\" lease=$T/fleet/lease-copy ekvm=true version_cmd=\"echo 1\" smoke_cmd=true"
		echo "host name=hostA uri=$(copy_host cpA c1 11 60 c2 12 50)"
		echo "host name=hostB uri=$(copy_host cpB filler - 20)"
		echo "vm name=c1 policy=copy-storage"
		echo "vm name=c2 policy=copy-storage"
	} >"$inv"
	run -- fleet plan -i "$inv" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '[.checks[] | select(.check == "storage") | .result + " " + .host + " " + .note]
		== ["FAIL hostB pool images is too small for the copied disks of 2 VMs: 112640 MiB needed, 81920 MiB available"]' >/dev/null
	ok $? "fleet plan: copy-storage, two VMs' disks (60 + 50 GiB allocated) for a pool with 80 GiB free: FAIL naming pool, needed and available (rc $rc)"
	[ "$rc" -eq 1 ] || echo "$out" | jq -r '.checks[] | select(.check == "storage") | "# " + .result + " " + .note'
	sed -i "s|cpA.xml|cpA2.xml|" "$inv"
	copy_host cpA2 c1 11 60 c2 12 30 >/dev/null
	run -- fleet plan -i "$inv" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '[.checks[] | select(.check == "storage") | .result + " " + .note]
		== ["FAIL pool images is too small for the copied disks of 2 VMs: 92160 MiB needed, 81920 MiB available"]' >/dev/null
	ok $? "fleet plan: copy-storage, the disks of VMs going to one pool add up (rc $rc)"
	copy_host cpB >/dev/null
	run -- fleet plan -i "$inv" --json
	[ "$rc" -eq 0 ] && echo "$out" | jq -e '[.checks[] | select(.check == "storage") | .result + " " + .host + " " + .note]
		== ["PASS hostB pool images holds the copied disks of 2 VMs: 92160 MiB needed, 102400 MiB available"]' >/dev/null
	ok $? "fleet plan: copy-storage, a pool with room for them: PASS, nothing asked of home (rc $rc)"
	[ "$rc" -eq 0 ] || echo "$out" | jq -r '.checks[] | select(.check == "storage") | "# " + .result + " " + .note'
	# a file at c2's path on hostB already (not a copy of this rollout): libvirt would copy over it
	copy_host cpB c2 - 1 >/dev/null
	run -- fleet plan -i "$inv" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '[.checks[] | select(.check == "storage" and .result == "FAIL") | .host + " " + .note]
		== ["hostB c2: /var/lib/libvirt/images/c2.img already exists on hostB: the copy would overwrite it (copy-storage; remove it if it is a stale copy)"]' >/dev/null
	ok $? "fleet plan: copy-storage onto a path that exists on the destination: FAIL (rc $rc)"
	[ "$rc" -eq 1 ] || echo "$out" | jq -r '.checks[] | select(.check == "storage") | "# " + .result + " " + .note'
}

# shut_host NAME MEM_KIB VM_NAME VM_NUMBER RUNSTATE [transient]: a test-driver host file with one
# VM in libvirt state RUNSTATE (1 running, 5 shut off), transient if asked
shut_host() {
	local f=$T/fleet/$1.xml
	{
		echo "<node><cpu><mhz>2000</mhz><model>i686</model><nodes>1</nodes><sockets>1</sockets>"
		echo "<cores>2</cores><threads>1</threads><active>2</active></cpu><memory>$2</memory>"
		printf "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>"
		printf "<name>%s</name><uuid>6b766d00-0000-4000-8000-%012d</uuid>" "$3" "$4"
		printf "<memory>1048576</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
		printf "<test:runstate>%s</test:runstate>%s</domain>\n" "$5" "${6:+<test:transient/>}"
		echo "</node>"
	} >"$f"
	echo "test://$f"
}

# shut_state FILE INVENTORY STEP: a halted rollout's state (hostA failed at STEP) in which the
# rollout shut vm11 down on hostA (policy shutdown: vm shut=hostA)
shut_state() {
	cat >"$1" <<-EOF
		inventory $2
		log $1.log
		started 2026-12-03T00:00:00.000Z
		result halted
		failure host=hostA step=$3 error="x"
		host name=hostA status=failed step=$3 drained=0 ekvm=0 version="" times=0,0,0 error="x"
		host name=hostB status=pending step=none drained=0 ekvm=-1 version="" times=0,0,0 error=""
		vm uuid=6b766d00-0000-4000-8000-000000000011 name=vm11 home=hostA host=- shut=hostA
	EOF
}

# Policy shutdown (issue 16) on test-driver hosts: the pre-flight, the plan, a rollout (the test
# driver shuts a VM down at once), a halted state with a VM shut down by the rollout: status,
# resume and abort start it again. Each test-driver connection reads its file afresh: a VM shut
# down runs again after the verify's new connection (the return then leaves it: "runs already").
fleet_shutdown_tests() {
	local inv=$T/fleet/inv-shut st=$T/fleet/st-shut ev
	{
		echo "fleet upgrade=\"echo upgraded >>$T/fleet/shut-upgrades\" version_cmd=\"echo 6.1.192.2\""
		echo "fleet version=6.1.192.2 smoke_cmd=true ekvm=\"$EKVM\" lease=$T/fleet/lease"
		echo "fleet shutdown_timeout=20"
		echo "host name=hostA uri=$(shut_host shutA 8388608 vm11 11 1) exec=\"sh -c\""
		echo "host name=hostB uri=$(test_host shutB 8388608) exec=\"sh -c\""
		echo "vm name=vm11 policy=shutdown"
	} >"$inv"
	run -- fleet plan -i "$inv" --json
	[ "$rc" -eq 0 ] && echo "$out" | jq -e '.failed == 0
		and (.batches[0].moves[0] | .vm == "vm11" and .policy == "shutdown" and .to == null
			and (.error | test("shut down before the upgrade, started after")))
		and ([.checks[] | select(.check == "movable") | .result + " " + .note] ==
			["PASS vm11: policy shutdown: shut down before its host'"'"'s upgrade, started after"])' >/dev/null
	ok $? "fleet plan: policy shutdown passes the pre-flight, the plan says shut down and started (rc $rc)"
	run -- fleet plan -i "$inv"
	[ "$rc" -eq 0 ] && [[ $out == *"vm11"*"hostA -> -  policy shutdown  (policy shutdown: shut down before the upgrade, started after)"* ]]
	ok $? "fleet plan text: the VM with policy shutdown is not moved"
	sed "s|shutA.xml|shutT.xml|" "$inv" >"$T/fleet/inv-shut-t"
	shut_host shutT 8388608 vm11 11 1 transient >/dev/null
	run -- fleet plan -i "$T/fleet/inv-shut-t" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '[.checks[] | select(.result == "FAIL") | .check + " " + .host] == ["movable hostA"]
		and ([.checks[] | select(.result == "FAIL") | .note][0] | test("vm11 \\(policy shutdown\\): .*transient VM .*vanishes"))' >/dev/null
	ok $? "fleet plan: a transient VM with policy shutdown fails the pre-flight, the reason said (rc $rc)"
	printf 'fleet shutdown_timeout=0\nhost name=a uri=test:///default exec="sh -c" upgrade=x\n' >"$T/fleet/bad-shut"
	usage_error "fleet shutdown_timeout=0" -- fleet plan -i "$T/fleet/bad-shut"
	[[ $err == *"bad-shut:1: shutdown_timeout=0: expected a number from 1 to 86400"* ]]
	ok $? "fleet: shutdown_timeout bounds checked, file and line named"
	printf 'fleet shutdown_force=2\nhost name=a uri=test:///default exec="sh -c" upgrade=x\n' >"$T/fleet/bad-shut"
	usage_error "fleet shutdown_force=2" -- fleet plan -i "$T/fleet/bad-shut"

	# the rollout: vm11 recorded (shut=hostA) and shut down before hostA's upgrade
	rm -f "$T/fleet/lease"
	run -- fleet rollout -i "$inv" -s "$st" --json
	ev=$(grep '"event":"shutdown"' "$T/err")
	[ "$rc" -eq 0 ] && echo "$out" | jq -e '.result == "done" and .invariant.holds and .invariant.shut == 0
		and (.vms[0] | .host == "hostA" and .shut == null)' >/dev/null &&
		grep -q 'hostA: evacuate: shutting vm11 down (policy shutdown: ACPI power button), up to 20 s$' "$st.log" &&
		grep -q 'hostA: evacuate: vm11 shut down in [0-9.]* s (started again after the upgrade)$' "$st.log" &&
		echo "$ev" | jq -e '.host == "hostA" and .step == "evacuate" and .vm == "vm11" and (.forced | not)' >/dev/null &&
		[ "$(sed -n '/shutting vm11 down/,$p' "$st.log" | grep -c 'hostA: upgrade: echo')" -eq 1 ] &&
		grep -q 'hostA: return: vm11 runs on hostA already: not started$' "$st.log" && ! grep -q ' shut=' "$st"
	ok $? "fleet rollout: policy shutdown: shut down before the upgrade (event shutdown), not started again when it runs already (rc $rc)"

	# a halted rollout that shut vm11 down (hostA's file: vm11 shut off)
	sed -i "s|shutA.xml|shutA-off.xml|" "$inv"
	shut_host shutA-off 8388608 vm11 11 5 >/dev/null
	shut_state "$st" "$inv" evacuate
	run -- fleet status -s "$st" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '.invariant.holds and .invariant.shut == 1 and .invariant.missing == 0
		and (.vms[0] | .host == null and .shut == "hostA")' >/dev/null
	ok $? "fleet status: a VM shut down by the rollout is accounted for, not missing: exit 1 (halted) (rc $rc)"
	run -- fleet status -s "$st"
	[[ $out == *"vm11"*"on -"*"home hostA  shut down by the rollout on hostA"* ]] && [[ $out == *", 1 shut down by the rollout"* ]]
	ok $? "fleet status text: shut down by the rollout on hostA"
	rm -f "$T/fleet/lease"
	run -- fleet resume -s "$st" --json
	ev=$(grep '"event":"started"' "$T/err")
	[ "$rc" -eq 0 ] && echo "$out" | jq -e '.result == "done" and .invariant.holds and .invariant.shut == 0
		and (.vms[0] | .host == "hostA" and .shut == null)' >/dev/null &&
		grep -q 'hostA: return: vm11 started again on hostA$' "$st.log" &&
		echo "$ev" | jq -e '.host == "hostA" and .step == "return" and .vm == "vm11"' >/dev/null &&
		! grep -q ' shut=' "$st"
	ok $? "fleet resume: the VM the rollout shut down is started again after its host's upgrade (event started) (rc $rc)"
	# --rescan takes the running set, and keeps what the rollout must still do: start vm11
	shut_state "$st" "$inv" evacuate
	echo "vm uuid=6b766d00-0000-4000-8000-000000000099 name=gone home=hostB host=- copied_on=hostA copied=\"/var/lib/gone.qcow2\"" >>"$st"
	rm -f "$T/fleet/lease"
	run -- fleet resume -s "$st" --rescan --json
	[ "$rc" -eq 0 ] && echo "$out" | jq -e '.result == "done" and .invariant.holds and .invariant.before == 1
		and (.vms | length == 1) and (.vms[0] | .name == "vm11" and .host == "hostA" and .shut == null)' >/dev/null &&
		grep -q 'hostA: return: vm11 started again on hostA$' "$st.log" &&
		grep -q 'rescan: gone runs nowhere: no longer recorded; its disk copies on hostA stay: /var/lib/gone.qcow2$' "$st.log"
	ok $? "fleet resume --rescan: the VM the rollout shut down is kept and started again; a VM gone is dropped, its copies named (rc $rc)"
	shut_state "$st" "$inv" evacuate
	rm -f "$T/fleet/lease"
	run -- fleet abort -s "$st" --json
	[ "$rc" -eq 0 ] && echo "$out" | jq -e '.result == "aborted" and .invariant.holds and (.vms[0].host == "hostA")' >/dev/null &&
		grep -q 'hostA: abort: vm11 started again on hostA$' "$st.log"
	ok $? "fleet abort: the VM the rollout shut down is started again at home (rc $rc)"
	shut_state "$st" "$inv" upgrade
	rm -f "$T/fleet/lease"
	run -- fleet abort -s "$st" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '.result == "halted" and .invariant.shut == 1
		and (.failure.error | test("shut down by the rollout is not running"))' >/dev/null &&
		grep -q 'hostA: abort: vm11 stays shut down: hostA failed its upgrade or verify' "$st.log"
	ok $? "fleet abort: a VM shut down on a host that failed its upgrade stays so, said, exit 1 (rc $rc)"
	rm -f "$T/fleet/lease"
}

# Issue 16: a state that cannot be read back or saved, the log, the exit codes of a rollout.
# The migration policy's options on test-driver hosts (its unit tests are in fleet-unit.c).
fleet_policy_tests() {
	local inv=$1 st=$T/fleet/st-policy
	rm -f "$T/fleet/lease"
	run -- fleet rollout -i "$inv" -s "$st" --json --retries 0 --insecure-migration \
		--postcopy-after 30 --parallel-connections 4 --max-per-source 1 --max-per-dest 2 \
		--timeout-per-gib 60 --progress-timeout 20 --abort-timeout 5 --max-downtime 800 \
		--no-auto-converge --bandwidth 100
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '.failure.step == "evacuate" and
		(.failure.error | test("vm1: migration to hostB failed"))' >/dev/null &&
		! grep -q 'retrying' "$st.log"
	ok $? "fleet rollout --retries 0: a failed migration halts at once"
	grep -Eq ' migration policy: plain TCP, auto-converge off, timeout 300 s \+ 60 s a GiB, no progress 20 s, abort deadline 5 s, max downtime 800 ms, post-copy after 30 s, bandwidth 100 MiB/s, parallel connections 4, 2 at a time \(a source 1, a destination 2\), 0 retries on another destination$' "$st.log" &&
		grep -q ' WARNING: --insecure-migration: guest memory goes between hosts over plain TCP' "$st.log" &&
		grep -q 'hostA: evacuate: migrating vm1 (.*) to hostB, timeout 360 s$' "$st.log"
	ok $? "fleet rollout: the policy's options in the log, a warning for plain TCP, the timeout per GiB"

	# the hosts of a batch are upgraded at once (one thread a host); --serial-upgrades: in turn
	local up="sleep 1; echo upgraded >>$T/fleet/par-upgrades"
	{
		echo "fleet upgrade=\"$up\" version_cmd=\"echo 6.1.192.2\""
		# every "host" runs sh -c here: one lease file for all, removed before each scenario
		# (a halted rollout keeps its lease: the next, on other test hosts, would be refused)
		echo "fleet version=6.1.192.2 smoke_cmd=true ekvm=\"$EKVM\" lease=$T/fleet/lease"
		echo "host name=hostP uri=$(test_host hostP 4194304) exec=\"sh -c\""
		echo "host name=hostQ uri=$(test_host hostQ 4194304) exec=\"sh -c\" batch=1"
		echo "host name=hostR uri=$(test_host hostR 4194304) exec=\"sh -c\" batch=1"
	} >"$T/fleet/inv-par"
	rm -f "$T/fleet/lease"
	run -- fleet rollout -i "$T/fleet/inv-par" -s "$T/fleet/st-par" --json
	[ "$rc" -eq 0 ] && grep -q ' upgrade: 2 hosts at once$' "$T/fleet/st-par.log" &&
		sed -n '/batch 2: 2 hosts/,$p' "$T/fleet/st-par.log" | grep -E 'host[QR]: upgrade: ' |
		head -2 | grep -c 'upgrade: sleep' | grep -qx 2 &&
		[ "$(grep -c upgraded "$T/fleet/par-upgrades")" -eq 3 ]
	ok $? "fleet rollout: a batch's hosts upgraded at once (rc $rc)"
	rm -f "$T/fleet/lease"
	run -- fleet rollout -i "$T/fleet/inv-par" -s "$T/fleet/st-ser" --json --serial-upgrades
	[ "$rc" -eq 0 ] && ! grep -q 'hosts at once' "$T/fleet/st-ser.log" &&
		sed -n '/batch 2: 2 hosts/,$p' "$T/fleet/st-ser.log" | grep -E 'host[QR]: upgrade: ' |
		sed -n 2p | grep -q 'hostQ: upgrade: exit 0'
	ok $? "fleet rollout --serial-upgrades: a batch's hosts upgraded in turn (rc $rc)"
}

fleet_safe_state_tests() {
	local inv=$1 st=$2 nup
	ups() { grep -c upgraded "$T/fleet/upgrades"; }
	# a rollout never writes over a state it cannot read back: cut short, or edited inventory
	sed '/^result /,$d' "$st" >"$T/fleet/st-cut" # up to started: no result
	cp "$T/fleet/st-cut" "$T/fleet/st-cut.orig"
	rm -f "$T/fleet/lease"
	run -- fleet rollout -i "$inv" -s "$T/fleet/st-cut"
	[ "$rc" -eq 2 ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] &&
		[[ $err == *"no 'result' record"*"status"*"resume"*"remove the file"* ]] &&
		cmp -s "$T/fleet/st-cut" "$T/fleet/st-cut.orig"
	ok $? "fleet rollout over a state cut short: refused, one line, the file untouched (rc $rc)"
	sed 's/name=hostC/name=hostZ/' "$inv" >"$T/fleet/inv-renamed"
	# (a state of before the rollout kept a copy of its inventory)
	sed -e "s|^inventory .*|inventory $T/fleet/inv-renamed|" -e '/^inventory_copy /d' "$st" \
		>"$T/fleet/st-renamed"
	cp "$T/fleet/st-renamed" "$T/fleet/st-renamed.orig"
	rm -f "$T/fleet/lease"
	run -- fleet rollout -i "$T/fleet/inv-renamed" -s "$T/fleet/st-renamed"
	[ "$rc" -eq 2 ] && [[ $err == *"st-renamed:"*"not in the inventory: hostC"*"not overwriting"* ]] &&
		cmp -s "$T/fleet/st-renamed" "$T/fleet/st-renamed.orig"
	ok $? "fleet rollout over a halted state whose inventory was edited: refused, untouched (rc $rc)"

	# an unwritable log is an error before anything moves
	: >"$T/fleet/afile"
	nup=$(ups)
	rm -f "$T/fleet/lease"
	run -- fleet rollout -i "$T/fleet/inv-ok" -s "$T/fleet/st-nolog" -l "$T/fleet/afile/log"
	[ "$rc" -eq 2 ] && [[ $err == "ekvm fleet: $T/fleet/afile/log: Not a directory"* ]] &&
		[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] && [ "$(ups)" -eq "$nup" ] && [ ! -e "$T/fleet/st-nolog" ]
	ok $? "fleet rollout with an unwritable log: exit 2, one line, nothing done (rc $rc)"

	# a state that cannot be saved halts the rollout: one line, exit 1, nothing upgraded
	mkdir -p "$T/fleet/st-nosave.tmp"
	rm -f "$T/fleet/lease"
	run -- fleet rollout -i "$T/fleet/inv-ok" -s "$T/fleet/st-nosave" --json
	[ "$rc" -eq 1 ] && [ "$(ups)" -eq "$nup" ] &&
		[ "$(grep -c "rollout halted: cannot save the state to $T/fleet/st-nosave: Is a directory" <<<"$err")" -eq 1 ] &&
		[ "$(grep -c '"event":"halt".*cannot save the state' <<<"$err")" -eq 1 ] &&
		echo "$out" | jq -e '.result == "halted" and (.failure.error | test("cannot save the state"))' >/dev/null
	ok $? "fleet rollout whose state cannot be saved: halted, one log line, one halt event, exit 1 (rc $rc)"

	# the log path recorded in the state is absolute
	rm -f "$T/fleet/lease"
	(cd "$T/fleet" && "$EKVM" fleet rollout -i inv-ok -s rel/st >/dev/null 2>&1)
	grep -qx "log $T/fleet/rel/st.log" "$T/fleet/rel/st" && [ -s "$T/fleet/rel/st.log" ]
	ok $? "fleet rollout -s relative: the state records the log's absolute path"

	# a VM that appears during the rollout: every host done, but exit 4, and said
	test_host hostE 4194304 >/dev/null
	test_host hostE-later 4194304 vm9 524288 9 >/dev/null
	test_host hostF 4194304 >/dev/null
	{ head -2 "$inv"; sed -n '/hostC/p' "$inv" | sed "s/hostC/hostE/g; s|\$| upgrade=\"cp $T/fleet/hostE-later.xml $T/fleet/hostE.xml\"|"
	  sed -n '/hostC/p' "$inv" | sed 's/hostC/hostF/g'; } >"$T/fleet/inv-appear"
	rm -f "$T/fleet/lease"
	run -- fleet rollout -i "$T/fleet/inv-appear" -s "$T/fleet/st-appear" --json
	[ "$rc" -eq 4 ] && echo "$out" | jq -e '.result == "done" and .invariant.new == 1
		and (.invariant.holds | not) and (.failure.error | test("invariant does not hold at the end"))' >/dev/null &&
		[[ $err == *"rollout done, but the invariant does not hold at the end: 0 missing, 1 new"* ]]
	ok $? "fleet rollout whose invariant breaks by the end: exit 4, said (rc $rc)"
}

# One rollout at a time (the lease on every host), the rollout's own inventory, resume
# --skip-host: on two empty test-driver hosts (done; with a version the canary does not report:
# halted at its verify). Every "host" is this machine here, so one lease file serves.
fleet_lease_tests() {
	local inv=$1 lease=$T/fleet/lease now nup
	{ head -2 "$inv"
	  echo "host name=leaseA uri=$(test_host leaseA 4194304) exec=\"sh -c\""
	  echo "host name=leaseB uri=$(test_host leaseB 4194304) exec=\"sh -c\""; } >"$T/fleet/inv-lease"
	rm -f "$lease"
	run -- fleet rollout -i "$T/fleet/inv-lease" -s "$T/fleet/st-l1" --json
	[ "$rc" -eq 0 ] && [ ! -e "$lease" ] &&
		grep -Eq ' rollout: rollout [0-9]{8}T[0-9]{6}Z-[^ ]+-[0-9]+ by [^ ]+ \(uid [0-9]+\) on [^ ]+, pid [0-9]+$' "$T/fleet/st-l1.log" &&
		grep -q ' lease: released$' "$T/fleet/st-l1.log" && grep -q '^rollout ' "$T/fleet/st-l1" &&
		cmp -s "$T/fleet/inv-lease" "$T/fleet/st-l1.inventory"
	ok $? "fleet rollout: the operator in the log, a copy of the inventory kept, the lease released when done (rc $rc)"
	jq -e -s 'all(.[]; (.time | test("Z$")) and (.event | type) == "string" and has("host") and (.message | type) == "string")
		and .[0].event == "start" and .[0].kind == "rollout" and .[-1].event == "end" and .[-1].result == "done"
		and .[-1].exit == 0 and ([.[] | select(.event == "host_done") | .host] == ["leaseA", "leaseB"])
		and ([.[] | select(.event == "step") | .step] | index("upgrade") != null)' <<<"$err" >/dev/null
	ok $? "fleet rollout --json: stderr is the event stream, one JSON object a line, start to end"

	# another rollout's live lease refuses the rollout, naming it; nothing is upgraded
	now=$(date +%s)
	echo "rollout=other-1 owner=alice@ctl2 pid=7 state=/x expires=$((now + 600))" >"$lease"
	cp "$lease" "$lease.orig"
	nup=$(ups)
	run -- fleet rollout -i "$T/fleet/inv-lease" -s "$T/fleet/st-l2" --json
	[ "$rc" -eq 1 ] && [ "$(ups)" -eq "$nup" ] && cmp -s "$lease" "$lease.orig" &&
		echo "$out" | jq -e '.result == "halted" and .failure.step == "preflight" and
			(.failure.error | test("is in another rollout: rollout=other-1 owner=alice@ctl2 .*expires_in=(59[0-9]|600).*--break-lease"))' >/dev/null
	ok $? "fleet rollout: a host leased by another rollout refuses it, the holder named, nothing done (rc $rc)"

	# once that lease has expired, resume takes it over (said) and completes
	echo "rollout=other-1 owner=alice@ctl2 pid=7 state=/x expires=$((now - 1))" >"$lease"
	run -- fleet resume -s "$T/fleet/st-l2" --json
	[ "$rc" -eq 0 ] && [ ! -e "$lease" ] && [ "$(ups)" -gt "$nup" ] &&
		grep -q 'lease: took over an expired lease: rollout=other-1 owner=alice@ctl2' "$T/fleet/st-l2.log"
	ok $? "fleet resume: an expired lease is taken over, logged, and released at the end (rc $rc)"

	# --break-lease takes over a live one, and says whose
	echo "rollout=other-2 owner=bob@ctl3 pid=8 state=/y expires=$((now + 600))" >"$lease"
	run -- fleet rollout -i "$T/fleet/inv-lease" -s "$T/fleet/st-l3" --break-lease --json
	[ "$rc" -eq 0 ] && [ ! -e "$lease" ] &&
		grep -q 'lease: --break-lease: took over the live lease of rollout=other-2 owner=bob@ctl3' "$T/fleet/st-l3.log"
	ok $? "fleet rollout --break-lease: a live lease taken over, the holder logged (rc $rc)"

	# a halted rollout keeps its lease: a second rollout is refused, resume (same rollout) is not
	sed '/^host name=leaseA / s/$/ version_cmd="echo 6.1.0"/' "$T/fleet/inv-lease" >"$T/fleet/inv-l4"
	run -- fleet rollout -i "$T/fleet/inv-l4" -s "$T/fleet/st-l4" --json
	[ "$rc" -eq 1 ] && grep -q "^rollout=$(sed -n 's/^rollout //p' "$T/fleet/st-l4") " "$lease" &&
		echo "$out" | jq -e '.failure.step == "verify" and .failure.host == "leaseA"' >/dev/null
	ok $? "fleet rollout halted at the canary's verify keeps its lease (rc $rc)"
	run -- fleet rollout -i "$T/fleet/inv-lease" -s "$T/fleet/st-l5"
	[ "$rc" -eq 1 ] && [[ $out == *"leaseA is in another rollout: rollout=$(sed -n 's/^rollout //p' "$T/fleet/st-l4") "* ]]
	ok $? "fleet rollout while another is halted on the same hosts: refused (rc $rc)"
	rm -f "$T/fleet/st-l5" "$T/fleet/st-l5.inventory"

	# the inventory edited under a halted rollout: status still reports it, from its copy
	sed 's/leaseA/leaseZ/g' "$T/fleet/inv-l4" >"$T/fleet/inv-l4.edited"
	cp "$T/fleet/inv-l4" "$T/fleet/inv-l4.before"
	mv "$T/fleet/inv-l4.edited" "$T/fleet/inv-l4"
	run -- fleet status -s "$T/fleet/st-l4" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '.result == "halted" and ([.hosts[].name] == ["leaseA", "leaseB"])' >/dev/null &&
		[[ $err == "ekvm fleet: note: the inventory no longer fits the rollout ("*"not in the inventory: "*"leaseA)"*"going on with the rollout's copy of it, $T/fleet/st-l4.inventory" ]]
	ok $? "fleet status after the inventory's hosts were renamed: the rollout's hosts, from its copy, said (rc $rc)"
	{ echo "fleet connect_timeout=20"; cat "$T/fleet/inv-l4.before"; } >"$T/fleet/inv-l4"
	run -- fleet status -s "$T/fleet/st-l4"
	[ "$rc" -eq 1 ] && [[ $err == "ekvm fleet: note: $T/fleet/inv-l4 changed since the rollout began"*"it is used" ]]
	ok $? "fleet status after a setting was edited: the inventory used, the change said (rc $rc)"

	# resume --skip-host: the failed canary left out, the rest of the rollout completes
	usage_error "fleet resume --skip-host of no such host" -- fleet resume -s "$T/fleet/st-l4" --skip-host leaseZ
	usage_error "fleet rollout --skip-host" -- fleet rollout -i "$T/fleet/inv-lease" --skip-host leaseA
	mv "$T/fleet/inv-l4.before" "$T/fleet/inv-l4"
	run -- fleet resume -s "$T/fleet/st-l4" --skip-host leaseA --json
	[ "$rc" -eq 0 ] && [ ! -e "$lease" ] && echo "$out" | jq -e '.result == "done" and
		([.hosts[].status] == ["skipped", "done"]) and .invariant.holds' >/dev/null &&
		grep -q 'leaseA: skipped by --skip-host' "$T/fleet/st-l4.log"
	ok $? "fleet resume --skip-host: the failed canary left out, done without it, lease released (rc $rc)"
	run -- fleet status -s "$T/fleet/st-l4"
	[ "$rc" -eq 0 ] && [[ $out == *"leaseA"*"skipped"* ]]
	ok $? "fleet status of a rollout done with a skipped host: exit 0, the host said skipped (rc $rc)"

	# abort: ends a halted rollout (no VM away from home here: nothing to move), the lease
	# released; a new rollout may start over an aborted state; nothing to abort once ended
	run -- fleet rollout -i "$T/fleet/inv-l4" -s "$T/fleet/st-l6" --json
	[ "$rc" -eq 1 ] && [ -e "$lease" ]
	ok $? "fleet rollout halted for abort (rc $rc)"
	usage_error "fleet abort --skip-host" -- fleet abort -s "$T/fleet/st-l6" --skip-host leaseA
	usage_error "fleet resume --leave" -- fleet resume -s "$T/fleet/st-l6" --leave
	run -- fleet abort -s "$T/fleet/st-l6" --json
	[ "$rc" -eq 0 ] && [ ! -e "$lease" ] && echo "$out" | jq -e '.result == "aborted" and .failure == null
		and .invariant.holds' >/dev/null && grep -q ' abort: rollout aborted$' "$T/fleet/st-l6.log"
	ok $? "fleet abort: a halted rollout ends, aborted, its lease released (rc $rc)"
	run -- fleet status -s "$T/fleet/st-l6"
	[ "$rc" -eq 0 ] && [[ $out == "rollout: aborted"* ]]
	ok $? "fleet status of an aborted rollout: exit 0 (rc $rc)"
	usage_error "fleet abort of an aborted rollout" -- fleet abort -s "$T/fleet/st-l6"
	run -- fleet rollout -i "$T/fleet/inv-lease" -s "$T/fleet/st-l6" --json
	[ "$rc" -eq 0 ] && echo "$out" | jq -e '.result == "done"' >/dev/null
	ok $? "fleet rollout over an aborted rollout's state: allowed, done (rc $rc)"

	# unit test, a fake ekvm on the hosts: a failed upgrade (as after an `ekvm reload` that
	# loaded a broken module undrained) gets the drain again; so does a failed verify
	printf '#!/bin/sh\necho "$*" >>%s\n' "$T/fleet/fake-ekvm.calls" >"$T/fleet/fake-ekvm"
	chmod +x "$T/fleet/fake-ekvm"
	: >"$T/fleet/fake-ekvm.calls"
	sed "s|ekvm=\"[^\"]*\"|ekvm=\"$T/fleet/fake-ekvm\"|; /^host name=leaseA / s/\$/ upgrade=false/" \
		"$T/fleet/inv-lease" >"$T/fleet/inv-redrain"
	run -- fleet rollout -i "$T/fleet/inv-redrain" -s "$T/fleet/st-redrain" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '.failure.step == "upgrade" and .hosts[0].drained' >/dev/null &&
		[ "$(grep -c '^drain on$' "$T/fleet/fake-ekvm.calls")" -eq 2 ] &&
		grep -q 'leaseA: drain again: exit 0' "$T/fleet/st-redrain.log"
	ok $? "fleet rollout (fake ekvm): the drain re-applied after a failed upgrade, recorded (rc $rc)"
	run -- fleet abort -s "$T/fleet/st-redrain" --json
	[ "$rc" -eq 0 ] && echo "$out" | jq -e '.result == "aborted" and .hosts[0].drained' >/dev/null &&
		grep -q 'leaseA: abort: stays drained: its KVM failed its upgrade or verify' "$T/fleet/st-redrain.log" &&
		! grep -q '^drain off$' "$T/fleet/fake-ekvm.calls"
	ok $? "fleet abort (fake ekvm): a host whose upgrade failed stays drained, said (rc $rc)"
}

# A fake sysfs and fake module tools for ekvm reload.
reload_setup() {
	local d=$T/reload
	# as on a real idle host: kvm_amd holds kvm once (kvm's refcnt 1, holders/kvm_amd)
	rm -rf "$d" && mkdir -p "$d/bin" "$d/sys/module/kvm/ekvm" "$d/sys/module/kvm/holders/kvm_amd" \
		"$d/sys/module/kvm_amd"
	echo live >"$d/sys/module/kvm/initstate"; echo 1 >"$d/sys/module/kvm/refcnt"
	echo 6.1.192.1 >"$d/sys/module/kvm/ekvm/version"; echo 0 >"$d/sys/module/kvm/ekvm/vms"
	echo live >"$d/sys/module/kvm_amd/initstate"; echo 0 >"$d/sys/module/kvm_amd/refcnt"
	cat >"$d/bin/rmmod" <<-'EOF'
	#!/bin/sh
	echo "rmmod $1" >>"$FAKE_CALLS"
	[ -e "$EKVM_SYSFS_ROOT/module/$1/initstate" ] || { echo "rmmod: $1 not loaded" >&2; exit 1; }
	rm -rf "${EKVM_SYSFS_ROOT:?}/module/$1" "$EKVM_SYSFS_ROOT/module/kvm/holders/$1"
	EOF
	cat >"$d/bin/modprobe" <<-'EOF'
	#!/bin/sh
	echo "modprobe $1" >>"$FAKE_CALLS"
	[ -z "$FAKE_MODPROBE_FAILS" ] || { echo "modprobe: ERROR: could not insert '$1'" >&2; exit 1; }
	mkdir -p "$EKVM_SYSFS_ROOT/module/kvm/ekvm" "$EKVM_SYSFS_ROOT/module/$1"
	echo live >"$EKVM_SYSFS_ROOT/module/kvm/initstate"; echo live >"$EKVM_SYSFS_ROOT/module/$1/initstate"
	echo "$FAKE_MODPROBE_VERSION" >"$EKVM_SYSFS_ROOT/module/kvm/ekvm/version"
	mkdir -p "$EKVM_SYSFS_ROOT/module/kvm/holders/$1"
	EOF
	cat >"$d/bin/insmod" <<-'EOF'
	#!/bin/sh
	echo "insmod $1" >>"$FAKE_CALLS"
	case "$1" in *broken*) echo "insmod: ERROR: could not insert module $1: Invalid module format" >&2; exit 1 ;; esac
	m=$(basename "$1" .ko | tr - _)
	mkdir -p "$EKVM_SYSFS_ROOT/module/$m/ekvm"; echo live >"$EKVM_SYSFS_ROOT/module/$m/initstate"
	[ "$m" = kvm ] && echo "$FAKE_KO_VERSION" >"$EKVM_SYSFS_ROOT/module/kvm/ekvm/version"
	[ "$m" = kvm ] || mkdir -p "$EKVM_SYSFS_ROOT/module/kvm/holders/$m"
	exit 0
	EOF
	chmod +x "$d/bin/"*
	: >"$d/calls"
	mkdir -p "$d/ko" "$d/broken"
	RL=(EKVM_SYSFS_ROOT="$d/sys" PATH="$d/bin:$PATH" FAKE_CALLS="$d/calls"
		FAKE_MODPROBE_VERSION=6.1.192.2 FAKE_KO_VERSION=6.1.192.7)
}

reload_tests() {
	local d=$T/reload
	reload_setup
	echo 1 >"$d/sys/module/kvm/ekvm/vms"
	run "${RL[@]}" -- reload --expect 6.1.192.2
	[ "$rc" -eq 1 ] && [[ $err == *"KVM is in use (1 VMs"* ]] && [ ! -s "$d/calls" ] &&
		[ "$(cat "$d/sys/module/kvm/ekvm/version")" = 6.1.192.1 ]
	ok $? "reload refuses while a VM is open, touches nothing"
	echo 0 >"$d/sys/module/kvm/ekvm/vms"; echo 2 >"$d/sys/module/kvm_amd/refcnt"
	run "${RL[@]}" -- reload
	[ "$rc" -eq 1 ] && [[ $err == *"kvm_amd refcnt 2"* ]] && [ ! -s "$d/calls" ]
	ok $? "reload refuses while the vendor module is held"
	reload_setup
	mkdir "$d/sys/module/kvm/holders/kvmgt"; echo 2 >"$d/sys/module/kvm/refcnt"
	run "${RL[@]}" -- reload
	[ "$rc" -eq 1 ] && [[ $err == *"kvm is used by module kvmgt: unload it first"* ]] && [ ! -s "$d/calls" ]
	ok $? "reload refuses while a module other than the vendor's holds kvm"
	reload_setup
	echo 2 >"$d/sys/module/kvm/refcnt"
	run "${RL[@]}" -- reload
	[ "$rc" -eq 1 ] && [[ $err == *"kvm refcnt 2 with 1 module holding it"* ]] && [ ! -s "$d/calls" ]
	ok $? "reload refuses while kvm has a reference beyond its holders'"
	reload_setup
	run "${RL[@]}" -- reload --expect 6.1.192.2 --json
	[ "$rc" -eq 0 ] && echo "$out" | jq -e '.result == "reloaded" and .vendor == "kvm_amd"
		and .before == "6.1.192.1" and .after == "6.1.192.2"' >/dev/null &&
		[ "$(tr '\n' ,  <"$d/calls")" = "rmmod kvm_amd,rmmod kvm,modprobe kvm_amd," ]
	ok $? "reload: vendor module, then kvm, out; modprobe in; version checked"
	reload_setup
	run "${RL[@]}" -- reload --expect 6.1.192.3
	[ "$rc" -eq 1 ] && [[ $err == *"the reloaded KVM is 6.1.192.2, expected 6.1.192.3"* ]]
	ok $? "reload: another version than expected is a failure"
	reload_setup
	run "${RL[@]}" -- reload --ko "$d/ko" --expect 6.1.192.7
	[ "$rc" -eq 0 ] && [ "$(tr '\n' , <"$d/calls")" = "rmmod kvm_amd,rmmod kvm,insmod $d/ko/kvm.ko,insmod $d/ko/kvm-amd.ko," ]
	ok $? "reload --ko: insmod kvm.ko then kvm-amd.ko"
	reload_setup
	run "${RL[@]}" -- reload --ko "$d/broken" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '.result == "fallback" and .after == "6.1.192.2"' >/dev/null &&
		[[ $err == *"loaded what modprobe finds instead"* ]] && [ -e "$d/sys/module/kvm_amd/initstate" ]
	ok $? "reload: new modules that do not load: falls back to modprobe's, says so"
	reload_setup
	run "${RL[@]}" FAKE_MODPROBE_FAILS=1 -- reload
	[ "$rc" -eq 1 ] && [[ $err == *"no KVM may be loaded now"* ]]
	ok $? "reload: nothing loads: says that no KVM may be loaded"
	reload_setup
	rm "$d/sys/module/kvm/initstate"
	run "${RL[@]}" -- reload
	[ "$rc" -eq 1 ] && [[ $err == *"built into this kernel"* ]] && [ ! -s "$d/calls" ]
	ok $? "reload: KVM built in cannot be reloaded"
	usage_error "reload --vendor bogus" -- reload --vendor kvm_arm
	usage_error "reload extra argument" -- reload now
}

fleet_help_tests() {
	local c h1 h2
	for c in fleet reload; do
		h1=$("$EKVM" help $c); h2=$("$EKVM" $c --help)
		[ -n "$h1" ] && [ "$h1" = "$h2" ] && [[ $h1 == "usage: ekvm $c"* ]] &&
			[[ $("$EKVM" help) == *"  $c "* ]]
		ok $? "help $c = $c --help, listed in help"
	done
}
