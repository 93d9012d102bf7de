# shellcheck shell=bash
# Fleets of libvirt test-driver hosts (test:///FILE, one XML file a host, no daemon): shared by
# the userspace tier (userspace/tests/fleet-preflight.sh) and the fleet tier
# (tests/fleet/cases/scale-plan.sh), which plan the same 5,000 VMs.

# test_driver_big_host FILE FIRST COUNT: writes a test-driver host (4 TiB) running COUNT domains
# of 1 MiB (vmFIRST..., UUIDs 6b766d00-0000-4000-9000-<number>) to FILE; prints its URI.
test_driver_big_host() {
	local f=$1 i
	{
		echo "<node><cpu><mhz>2000</mhz><model>i686</model><nodes>1</nodes><sockets>1</sockets>"
		echo "<cores>2</cores><threads>1</threads><active>2</active></cpu><memory>4294967296</memory>"
		for ((i = $2; i < $2 + $3; i++)); do
			printf "<domain type='test'><name>vm%d</name><uuid>6b766d00-0000-4000-9000-%012d</uuid>" "$i" "$i"
			printf "<memory>1024</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>\n"
		done
		echo "</node>"
	} >"$f"
	echo "test://$f"
}

# test_driver_5000 DIR: the inventory DIR/inv-5000 of 4 test-driver hosts big0..big3 (files
# DIR/big<N>.xml) running 1,250 VMs each; upgrade true, exec "sh -c", leases under DIR.
test_driver_5000() {
	local h
	{
		echo "fleet upgrade=true exec=\"sh -c\" lease=$1/lease-pf"
		for h in 0 1 2 3; do
			echo "host name=big$h uri=$(test_driver_big_host "$1/big$h.xml" $((h * 1250)) 1250)"
		done
	} >"$1/inv-5000"
}

# TEST_DRIVER_5000_PLANNED: jq, true when a plan (--json) of test_driver_5000's inventory places
# every one of its 5,000 VMs, each once, with no check failed.
# shellcheck disable=SC2034 # used by the scripts that source this file
TEST_DRIVER_5000_PLANNED='.failed == 0 and ([.hosts[].vms] | add) == 5000
	and ([.batches[].moves | length] | add) == 5000
	and ([.batches[].moves[] | select(.to == null)] | length) == 0
	and ([.batches[].moves[].uuid] | unique | length) == 5000'
