#!/usr/bin/env bash
# The lab's hosts: three Debian 12 hosts boot from the cached image, answer SSH and libvirt
# (qemu+ssh) from the controller, have distinct names and UUIDs and a working KVM (kvm_amd of
# Debian's kernel on QEMU's emulated SVM); a nested guest runs on hv1, writes heartbeats,
# live-migrates to hv2 (peer to peer) and goes on there with the same boot id.
set -euo pipefail
. "$(dirname "$0")/../lib/lab.sh"

# note TEXT: a line of the test's output, also kept in $LAB/timings.txt
note() { echo "# $*" | tee -a "$LAB/timings.txt"; }

t0=$SECONDS
lab_up
note "image $(basename "$LAB_IMAGE") ready, hosts started in $((SECONDS - t0))s"
lab_wait_hosts "${LAB_HOSTS[@]}"
note "all hosts up $((SECONDS - t0))s after start"

# each host's facts in one SSH round trip, the three hosts side by side
# shellcheck disable=SC2016 # run by the host's shell
facts='hostname; cat /etc/machine-id; uname -r; cat /sys/module/kvm_amd/parameters/npt
test -c /dev/kvm && echo dev-kvm; grep -q "^kvm_amd " /proc/modules && echo kvm_amd
for p in hv1 hv2 hv3; do [ "$p" = "$(hostname)" ] || { ssh "root@$p" true && echo "ssh-$p"; }; done'
pids=()
for h in "${LAB_HOSTS[@]}"; do
	lab_ssh "$h" "$facts" >"$LAB/$h/facts" 2>&1 &
	pids+=($!)
	lab_virsh "$h" capabilities >"$LAB/$h/capabilities" 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
uuids='' mids=''
for h in "${LAB_HOSTS[@]}"; do
	f=$LAB/$h/facts
	assert_eq "$h: hostname" "$h" "$(sed -n 1p "$f")"
	mid=$(sed -n 2p "$f")
	assert_eq "$h: machine-id" "$(lab_uuid "$h" | tr -d -)" "$mid"
	grep -qx dev-kvm "$f" || fail "$h: no /dev/kvm"
	grep -qx kvm_amd "$f" || fail "$h: kvm_amd is not loaded"
	# the host's own view of its peers (its libvirtd connects to them when it migrates)
	for p in "${LAB_HOSTS[@]}"; do
		[ "$p" = "$h" ] || grep -qx "ssh-$p" "$f" || fail "$h cannot reach $p over SSH: $(cat "$f")"
	done
	uuid=$(sed -n 's:.*<uuid>\(.*\)</uuid>.*:\1:p' "$LAB/$h/capabilities" | head -1)
	assert_eq "$h: libvirt host UUID" "$(lab_uuid "$h")" "$uuid"
	echo "# $h: kernel $(sed -n 3p "$f"), kvm_amd npt=$(sed -n 4p "$f"), host UUID $uuid"
	uuids+="$uuid"$'\n' mids+="$mid"$'\n'
done
assert_eq "distinct host UUIDs" 3 "$(sort -u <<<"$uuids" | sed '/^$/d' | wc -l)"
assert_eq "distinct machine-ids" 3 "$(sort -u <<<"$mids" | sed '/^$/d' | wc -l)"
note "hosts checked $((SECONDS - t0))s after start"

# the nested guest on hv1
lab_guest_define g1 hv1
t=$SECONDS
lab_virsh hv1 start g1 >/dev/null
first=$(lab_wait_heartbeat g1 600)
note "g1 on hv1: first heartbeat seen $((SECONDS - t))s after start: $first"
hb=$(lab_wait_heartbeat g1 60)
boot=$(echo "$hb" | awk '{print $2}')
assert_eq "g1 runs on" hv1 "$(lab_where g1)"

# live migration hv1 -> hv2, peer to peer: hv1's libvirtd connects to hv2's over qemu+ssh
t=$SECONDS
lab_virsh hv1 migrate --live --p2p --persistent --undefinesource g1 "qemu+ssh://root@hv2/system" ||
	fail "migration of g1 to hv2 failed"
note "g1 migrated hv1 -> hv2 in $((SECONDS - t))s"
lab_virsh hv2 domjobinfo --completed g1 | grep -E 'Time elapsed|downtime|Data processed|Memory processed' |
	sed 's/^/# /' | tee -a "$LAB/timings.txt" || true
assert_eq "g1 runs on" hv2 "$(lab_where g1)"
lab_virsh hv1 dominfo g1 >/dev/null 2>&1 && fail "g1 is still defined on hv1 (--undefinesource)"

# heartbeats go on on hv2, same boot, the sequence unbroken
lab_wait_heartbeat g1 60 >/dev/null
after=$(lab_wait_heartbeat g1 60)
assert_eq "g1's host after the migration" hv2 "$(echo "$after" | awk '{print $4}')"
assert_eq "g1's boot id after the migration" "$boot" "$(echo "$after" | awk '{print $2}')"
lab_heartbeats g1 >"$LAB/g1.heartbeats"
assert_eq "g1's boot ids" 1 "$(awk '{print $2}' "$LAB/g1.heartbeats" | sort -u | wc -l)"
# Every number once, in order. One heartbeat may be lost where the host changes: ttyS0 is
# written a byte at a time, so a line can start in hv1's file and end in hv2's.
read -r missing twice torn longest < <(lab_heartbeat_check "$LAB/g1.heartbeats")
assert_eq "heartbeats missing from g1's sequence" 0 "$missing"
assert_eq "g1's heartbeats found twice (the guest ran twice)" 0 "$twice"
[ "$torn" -eq 0 ] || note "g1: one heartbeat torn between hv1's and hv2's console files"
note "g1: longest time between two heartbeats ${longest}s (guest clock)"
note "g1: heartbeats 1..$(tail -1 "$LAB/g1.heartbeats" | awk '{print $1}'), one boot, on $(awk '{print $4}' "$LAB/g1.heartbeats" | uniq | tr '\n' ' ')"
note "total $((SECONDS - t0))s"
