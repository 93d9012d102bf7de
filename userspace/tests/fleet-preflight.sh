# shellcheck shell=bash
# Issue 16, sourced by tests/run.sh after tests/fleet.sh (its ok, run, $T, $O, $EKVM): no fixed
# caps (5,000 test-driver VMs planned, long VM names), a deadline on every libvirt connection
# (a daemon that accepts TCP and never answers), and what cannot move (host devices, local
# disks, hugepage and memfd backing, MemAvailable, per-VM policies). libvirt's test driver
# stands in for the hosts: these are unit tests of the joints.
# shellcheck disable=SC2154 # out, err, rc, T, O: set by run.sh

# test_driver_big_host, test_driver_5000, TEST_DRIVER_5000_PLANNED (shared with the fleet tier)
# shellcheck source=tests/fleet/lib/test-driver.sh
. ../tests/fleet/lib/test-driver.sh

# xml_host NAME DOMAIN-XML...: a test-driver host (8 GiB) running the given domains
xml_host() {
	local f=$T/fleet/$1.xml
	shift
	{
		echo "<node><cpu><mhz>2000</mhz><model>i686</model><nodes>1</nodes><sockets>1</sockets>"
		echo "<cores>2</cores><threads>1</threads><active>2</active></cpu><memory>8388608</memory>"
		printf '%s\n' "$@"
		echo "</node>"
	} >"$f"
	echo "test://$f"
}

# dom NAME NUMBER [XML inside <domain>]: a 512 MiB domain
dom() {
	printf "<domain type='test'><name>%s</name><uuid>6b766d00-0000-4000-a000-%012d</uuid>" "$1" "$2"
	printf "<memory>524288</memory><vcpu>1</vcpu><os><type>hvm</type></os>%s</domain>" "${3:-}"
}

fleet_limits_tests() {
	local inv=$T/fleet/inv-5000 long500 long2000
	mkdir -p "$T/fleet"
	test_driver_5000 "$T/fleet"
	run -- fleet plan -i "$inv" --json
	[ "$rc" -eq 0 ] && echo "$out" | jq -e "$TEST_DRIVER_5000_PLANNED" >/dev/null
	ok $? "fleet plan: 5,000 test-driver VMs on 4 hosts, every one planned (the cap was 4,096) (rc $rc)"

	# VM names: 500 bytes kept whole (they were cut at 127), longer than 1023 refused loudly
	long500=$(printf 'l%.0s' {1..500})
	long2000=$(printf 'L%.0s' {1..2000})
	{
		echo "fleet upgrade=true exec=\"sh -c\" lease=$T/fleet/lease-pf"
		echo "host name=n1 uri=$(xml_host n1 "$(dom "$long500" 1)")"
		echo "host name=n2 uri=$(xml_host n2)"
	} >"$T/fleet/inv-names"
	run -- fleet plan -i "$T/fleet/inv-names" --json
	[ "$rc" -eq 0 ] && echo "$out" | jq -e --arg n "$long500" '.batches[0].moves[0].vm == $n' >/dev/null
	ok $? "fleet plan: a 500-byte VM name is kept whole (rc $rc)"
	sed -i "s|n2.xml|n2b.xml|" "$T/fleet/inv-names"
	xml_host n2b "$(dom "$long2000" 2)" >/dev/null
	run -- fleet plan -i "$T/fleet/inv-names" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '[.checks[] | select(.result == "FAIL") | .check] == ["vm_name"]
		and ([.checks[] | select(.check == "vm_name") | .note | test("6b766d00-0000-4000-a000-000000000002: its name is longer than 1023 bytes")] == [true])' >/dev/null
	ok $? "fleet plan: a VM name longer than 1023 bytes fails the pre-flight, the VM named by UUID (rc $rc)"
}

fleet_deadline_tests() {
	local port pid t0 dt i inv=$T/fleet/inv-hung
	${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -o "$T/fleet-hang" tests/fleet-hang.c || { ok 1 "fleet-hang builds"; return; }
	"$T/fleet-hang" >"$T/fleet/hang-port" &
	pid=$!
	for ((i = 0; i < 300; i++)); do [ -s "$T/fleet/hang-port" ] && break; sleep 0.1; done
	port=$(cat "$T/fleet/hang-port")
	{
		echo "fleet upgrade=true exec=\"sh -c\" lease=$T/fleet/lease-pf ekvm=true version_cmd=\"echo 1\" smoke_cmd=true"
		echo "host name=hostA uri=$(xml_host hungA "$(dom a1 1)")"
		echo "host name=hostB uri=$(xml_host hungB)"
		echo "host name=hostH uri=qemu+tcp://127.0.0.1:$port/system"
	} >"$inv"
	t0=$(date +%s)
	run -- fleet plan -i "$inv"
	dt=$(($(date +%s) - t0))
	[ "$rc" -eq 1 ] && [ "$dt" -lt 30 ] && [ "$(grep -c FAIL <<<"$out")" -eq 1 ] &&
		grep -q "FAIL  reachable     hostH  .*127.0.0.1:$port.*no answer within 10 s" <<<"$out"
	ok $? "fleet plan: a daemon that accepts TCP and never answers: exit 1 in $dt s (< 30), one FAIL line naming the host (rc $rc)"
	# status: a finished rollout of two hosts, then one of them hangs
	sed -e '/hostH/d' -e 's/hungA.xml/hungB.xml/' "$inv" >"$T/fleet/inv-hung2"
	sed -i '1a fleet connect_timeout=2' "$T/fleet/inv-hung2"
	run -- fleet rollout -i "$T/fleet/inv-hung2" -s "$T/fleet/st-hung"
	[ "$rc" -eq 0 ]
	ok $? "fleet rollout of two empty hosts: done (rc $rc)"
	# hostB's daemon now hangs: its address in the rollout's own copy of the inventory
	sed -i "s|^host name=hostB .*|host name=hostB uri=qemu+tcp://127.0.0.1:$port/system|" \
		"$T/fleet/inv-hung2" "$T/fleet/st-hung.inventory"
	t0=$(date +%s)
	run -- fleet status -s "$T/fleet/st-hung"
	dt=$(($(date +%s) - t0))
	[ "$rc" -eq 5 ] && [ "$dt" -lt 15 ] && [[ $out == *"hostB"*"UNREACHABLE"*"no answer within 2 s"* ]]
	ok $? "fleet status when a host's daemon never answers: exit 5 in $dt s, UNREACHABLE (rc $rc)"
	run -- fleet status -s "$T/fleet/st-hung" --connect-timeout 1
	[ "$rc" -eq 5 ] && [[ $out == *"hostB"*"UNREACHABLE"*"no answer within 1 s"* ]]
	ok $? "fleet status --connect-timeout 1 overrides the inventory's connect_timeout (rc $rc)"
	usage_error "fleet --connect-timeout 0" -- fleet status -s "$T/fleet/st-hung" --connect-timeout 0
	t0=$(date +%s)
	run -- fleet rollout -i "$T/fleet/inv-hung2" -s "$T/fleet/st-hung2"
	dt=$(($(date +%s) - t0))
	[ "$rc" -eq 1 ] && [ "$dt" -lt 15 ] && grep -q '^result halted' "$T/fleet/st-hung2"
	ok $? "fleet rollout with a host that never answers: halted at the pre-flight in $dt s (rc $rc)"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

fleet_movable_tests() {
	local hd disks inv=$T/fleet/inv-move
	hd="<devices><hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x03' slot='0x00' function='0x1'/></source></hostdev></devices>"
	disks="<devices><disk type='file' device='disk'><source file='/var/lib/libvirt/images/local.qcow2'/><target dev='vda' bus='virtio'/></disk>"
	disks+="<disk type='file' device='disk'><source file='/mnt/nfs/shared.qcow2'/><target dev='vdb' bus='virtio'/></disk>"
	disks+="<disk type='block' device='disk'><source dev='/dev/sdb'/><target dev='vdc' bus='virtio'/></disk></devices>"
	xml_host mX "$(dom gpu 11 "$hd")" "$(dom local 12 "$disks")" >/dev/null
	xml_host mY "$(dom huge 13 "<memoryBacking><hugepages/></memoryBacking>")" \
		"$(dom memfd 14 "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>")" >/dev/null
	xml_host mB >/dev/null
	# hostB's memory from its /proc/meminfo: 4 GiB available (the driver says 8), 256 MiB of hugepages
	printf 'MemTotal: 8388608 kB\nMemFree: 1048576 kB\nMemAvailable: 4194304 kB\nCached: 6291456 kB\nHugePages_Free: 128\nHugepagesize: 2048 kB\n' >"$T/fleet/meminfo-B"
	{
		echo "fleet upgrade=true exec=\"sh -c\" lease=$T/fleet/lease-pf shared_storage=/mnt/nfs"
		echo "host name=hostX uri=test://$T/fleet/mX.xml"
		echo "host name=hostY uri=test://$T/fleet/mY.xml"
		echo "host name=hostB uri=test://$T/fleet/mB.xml meminfo_cmd=\"cat $T/fleet/meminfo-B\""
	} >"$inv"
	run -- fleet plan -i "$inv" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '
		([.checks[] | select(.result == "FAIL") | .check + " " + .host] | sort) == ["backing hostY", "movable hostX", "movable hostX"]
		and ([.checks[] | select(.result == "FAIL" and .check == "movable") | .note] | sort | .[0] | test("^gpu .policy migrate.: host device .pci 0000:03:00.1."))
		and ([.checks[] | select(.result == "FAIL" and .check == "movable") | .note] | sort | .[1] | test("^local .policy migrate.: 2 disks on storage not declared shared ./var/lib/libvirt/images/local.qcow2."))
		and ([.checks[] | select(.result == "FAIL" and .check == "backing") | .note] == ["huge: no destination outside its batch with 512 MiB of free hugepages (HugePages_Free in its /proc/meminfo)"])
		and ([.checks[] | select(.result == "WARN" and .check == "backing") | .note | test("^memfd: memfd/shared")] == [true])
		and (.hosts[2].avail_mib == 4096)' >/dev/null
	ok $? "fleet plan: a host device, local disks and hugepages without a destination fail, each VM named with its reason; memfd said; MemAvailable read (rc $rc)"
	[ "$(grep -c FAIL <<<"$("$EKVM" fleet plan -i "$inv" 2>/dev/null)")" -eq 3 ]
	ok $? "fleet plan text: one FAIL line a VM that cannot move"

	# declared: the images folder and /dev/sdb are shared (hostX's), gpu pinned, hugepages free
	sed -i "s|mX.xml|mX.xml shared_storage=/var/lib/libvirt/images shared_storage=/dev/sdb|" "$inv"
	echo "vm name=gpu policy=pin" >>"$inv"
	sed -i 's/HugePages_Free: 128/HugePages_Free: 1024/' "$T/fleet/meminfo-B"
	run -- fleet plan -i "$inv" --json
	[ "$rc" -eq 0 ] && echo "$out" | jq -e '.failed == 0
		and (.hosts[0].pinned_by == "gpu") and (.hosts[0].batch == 0)
		and ([.batches[].hosts[]] | index("hostX") | not)
		and ([.checks[] | select(.check == "pin") | .result + " " + .host + " " + .note] == ["WARN hostX skipped, not upgraded: gpu has policy pin"])
		and ([.batches[].moves[] | select(.vm == "huge") | .to] == ["hostB"])' >/dev/null
	ok $? "fleet plan: shared storage declared, a pinned VM's host skipped and said, hugepages placed: exit 0 (rc $rc)"
	[ "$rc" -eq 0 ] || echo "$out" | jq -r '.checks[] | select(.result == "FAIL") | "# " + .check + " " + .note'

	# copy-storage needs a storage pool at the disk's folder on its destination and its home
	# (libvirt creates the image there); an unknown VM is a WARN
	sed -i "s|mX.xml shared_storage=/var/lib/libvirt/images shared_storage=/dev/sdb|mX.xml|; /name=gpu/d" "$inv"
	{ echo "vm name=local policy=copy-storage"; echo "vm name=ghost policy=shutdown"; } >>"$inv"
	run -- fleet plan -i "$inv" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '
		[.checks[] | select(.result != "PASS" and (.check == "movable" or .check == "policy" or .check == "storage")) | .result + " " + .note] | sort
		| length == 4 and (.[0] | test("^FAIL gpu .policy migrate.: host device"))
		and (.[1] | test("^FAIL local: no active storage pool at /var/lib/libvirt/images: libvirt cannot create its disk there"))
		and (.[2] | test("^FAIL local: no active storage pool at /var/lib/libvirt/images"))
		and (.[3] | test("^WARN .*inv-move:[0-9]+: vm ghost runs on no host of the fleet"))' >/dev/null &&
		echo "$out" | jq -e '[.checks[] | select(.check == "movable" and .result == "PASS") | .note]
			| any(test("^local: policy copy-storage: [0-9]+ local disks? copied"))' >/dev/null
	ok $? "fleet plan: policy copy-storage without a storage pool on its destination and home: FAIL; a policy for a VM running nowhere is a WARN (rc $rc)"
}

# The return trip: after a halted rollout a VM runs away from home; its home must take it back.
fleet_return_tests() {
	local st=$T/fleet/st-return
	xml_host rA >/dev/null
	xml_host rB "$(dom away 21)" >/dev/null
	xml_host rC >/dev/null
	printf 'MemTotal: 8388608 kB\nMemAvailable: %s kB\n' 307200 >"$T/fleet/meminfo-rA"
	{
		echo "fleet upgrade=true exec=\"sh -c\" lease=$T/fleet/lease-pf ekvm=true version_cmd=\"echo 1\" smoke_cmd=true"
		echo "host name=hostA uri=test://$T/fleet/rA.xml meminfo_cmd=\"cat $T/fleet/meminfo-rA\""
		echo "host name=hostB uri=test://$T/fleet/rB.xml"
		echo "host name=hostC uri=test://$T/fleet/rC.xml"
	} >"$T/fleet/inv-return"
	{
		echo "inventory $T/fleet/inv-return"
		echo "log $st.log"
		echo "started -"
		echo "result halted"
		for h in hostA hostB hostC; do
			echo "host name=$h status=pending step=none drained=0 ekvm=-1 version=\"\" times=0.000,0.000,0.000 error=\"\""
		done
		echo "vm uuid=6b766d00-0000-4000-a000-000000000021 name=away home=hostA host=hostB"
	} >"$st"
	run -- fleet resume -s "$st" --json
	[ "$rc" -eq 1 ] && echo "$out" | jq -e '.failure.step == "preflight"
		and ([.checks[] | select(.check == "return") | .result + " " + .host + " " + .note]
		     | .[0] | test("^FAIL hostA its VMs need 576 MiB to come back after the upgrade, it has 44 MiB .MemAvailable. .1 of them run elsewhere now."))' >/dev/null
	ok $? "fleet resume: a VM away from a home that cannot take it back fails the return check (rc $rc)"
	printf 'MemTotal: 8388608 kB\nMemAvailable: %s kB\n' 4194304 >"$T/fleet/meminfo-rA"
	run -- fleet plan -i "$T/fleet/inv-return" --json
	[ "$rc" -eq 0 ] && echo "$out" | jq -e '[.checks[] | select(.check == "return")] == []' >/dev/null
	ok $? "fleet plan: every VM at home: no return check to make (rc $rc)"
}

fleet_preflight_tests() {
	fleet_limits_tests
	fleet_deadline_tests
	fleet_movable_tests
	fleet_return_tests
}
