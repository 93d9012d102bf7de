#!/usr/bin/env bash
# The whole user story on the lab's real hosts (docs/lab.md), each step a TAP test:
#   hosts        three Debian 12 hosts boot with Debian's stock KVM
#   repository   each adds the signed ekvm repository (signed-by=) served on the lab network
#   install      ekvm N from it: hv1, hv2 ekvm-modules-<kver> (no compiler), hv3 ekvm-dkms (the
#                image's DKMS variant built it in its chroot); ekvm reload, status, validate, smoke
#   guests       two nested libvirt guests on hv1 and on hv2, on ekvm N; hv3 empty
#   broken       ekvm fleet rollout to N+1 with the README's upgrade command, hv3 (empty) the
#                canary and on the broken suite: its upgrade fails, the rollout halts, hv3 keeps
#                a working KVM N; the operator repairs it (the good suite, N again)
#   killed       ekvm fleet resume; hv3's QEMU is killed during its upgrade (a power cut): halted
#                again; hv3 boots with a working KVM; dpkg --configure -a
#   rollout      ekvm fleet resume to the end: real drain, live migration between ekvm hosts,
#                apt-get from the repository, ekvm reload, smoke; a guest start on drained hv1
#                (someone else's) is refused
#   upgraded     every host runs N+1 (version and the new sysfs attribute), every guest alive with
#                its boot id, heartbeats unbroken, back home, UUID set unchanged, logs clean
#   downgrade    the same tool back to N, as after a bad release; checked the same way
# Every halt leaves the guests running where they were, at home. A failed step stops the story (the next steps need it); the EXIT trap takes the lab down.
set -euo pipefail
. "$(dirname "$0")/../lib/lab.sh"

KVER=$(makefile_var BASE_KVER_6.1)
N=$(makefile_var EKVM_RELEASE)
VN=$(makefile_var BASE_VERSION_6.1).$N
VN1=$(makefile_var BASE_VERSION_6.1).$((N + 1))
REPO=$EKVM_BUILD/lab/repo
GUESTS=(g1 g2 g3 g4)
declare -A HOME_OF=([g1]=hv1 [g2]=hv1 [g3]=hv2 [g4]=hv2)
EKVM_CTL=$LAB/ekvm

# --- TAP: one line a step, the story's output in "# " lines
echo "TAP version 13"
step_n=0 passed=0 failed=0
note() { echo "# $*" | tee -a "$LAB/story.txt" >&2; }
# step NAME FUNCTION: runs the function; a failure ends the story
step() {
	local name=$1 t=$SECONDS rc=0
	step_n=$((step_n + 1))
	# (not "|| rc=$?": that would switch errexit off inside the step)
	set +e
	(
		set -e
		"$2"
	)
	rc=$?
	set -e
	if [ $rc -eq 0 ]; then
		echo "ok $step_n - $name # $((SECONDS - t))s"
		passed=$((passed + 1))
	else
		echo "not ok $step_n - $name # exit $rc after $((SECONDS - t))s"
		failed=$((failed + 1))
		echo "$passed passed, $failed failed"
		exit 1
	fi
}
# on HOST...: run a shell command line on each HOST at once; fails if one fails (its output shown)
on() {
	local cmd=$1 h pids=() rc=0
	shift
	for h in "$@"; do
		lab_ssh "$h" "$cmd" >"$LAB/$h/on.out" 2>&1 &
		pids+=($!)
	done
	for h in "$@"; do
		if ! wait "${pids[0]}"; then
			rc=1
			sed "s/^/$h: /" "$LAB/$h/on.out" | tail -15 >&2
		fi
		pids=("${pids[@]:1}")
	done
	return $rc
}

# --- the steps
s_hosts() {
	lab_wait_hosts "${LAB_HOSTS[@]}"
	for h in hv1 hv2; do
		lab_ssh "$h" 'grep -q "^kvm_amd " /proc/modules && test ! -e /sys/module/kvm/ekvm' ||
			fail "$h does not run Debian's stock KVM at boot"
	done
	# hv3's image has ekvm-dkms N, built by DKMS in the image's chroot (tests/lab/lib/image.sh)
	assert_eq "hv3's KVM at boot (DKMS)" "$VN" "$(lab_ssh hv3 cat /sys/module/kvm/ekvm/version)"
	note "hosts up in $(cat "$LAB"/hv*/boot-seconds | sort -n | tail -1)s: hv1, hv2 stock KVM, hv3 ekvm $VN (DKMS)"
}

s_repository() {
	# the repository on the lab network: busybox httpd on the controller's address
	ip netns exec "$LAB_NS" busybox httpd -p "$LAB_CTL_IP:8080" -h "$REPO"
	# as an operator adds a third-party repository: its key to /usr/share/keyrings, signed-by=
	on "/usr/lib/apt/apt-helper download-file http://ctl:8080/ekvm-archive-keyring.gpg \
		/usr/share/keyrings/ekvm-archive-keyring.gpg &&
		echo 'deb [signed-by=/usr/share/keyrings/ekvm-archive-keyring.gpg] http://ctl:8080/ lab main' \
		>/etc/apt/sources.list.d/ekvm.list && apt-get update -q" "${LAB_HOSTS[@]}"
	local policy
	policy=$(lab_ssh hv1 "apt-cache policy ekvm-tools")
	[[ $policy == *"$VN1"* ]] || fail "hv1 does not see ekvm-tools $VN1: $policy"
}

# the version every host reports, and what ekvm status says
versions_are() {
	local v=$1 h got
	for h in "${LAB_HOSTS[@]}"; do
		got=$(lab_ssh "$h" "cat /sys/module/kvm/ekvm/version; ekvm status --json" 2>&1) ||
			fail "$h: $got"
		[ "$(head -1 <<<"$got")" = "$v" ] || fail "$h runs KVM $(head -1 <<<"$got"), not $v"
		tail -n +2 <<<"$got" | jq -e --arg v "$v" '.. | objects | select(.version? == $v)' >/dev/null ||
			fail "$h: ekvm status does not report $v: $(tail -n +2 <<<"$got" | head -c 400)"
	done
}

s_install() {
	on "apt-get install -y -q ekvm-tools=$VN ekvm-modules-$KVER=$VN" hv1 hv2
	on "apt-get install -y -q ekvm-tools=$VN ekvm-dkms=$VN && dkms status ekvm | grep -q installed" hv3
	on "ekvm reload --expect $VN && ekvm validate && ekvm smoke" "${LAB_HOSTS[@]}"
	versions_are "$VN"
	note "ekvm $VN on every host: hv1, hv2 ekvm-modules-$KVER, hv3 ekvm-dkms"
}

s_guests() {
	local g
	for g in "${GUESTS[@]}"; do
		lab_guest_define "$g" "${HOME_OF[$g]}"
		lab_virsh "${HOME_OF[$g]}" start "$g" >/dev/null
	done
	for g in "${GUESTS[@]}"; do
		lab_wait_heartbeat "$g" 600 >"$LAB/$g.first"
		note "$g on ${HOME_OF[$g]}: $(cat "$LAB/$g.first")"
	done
	lab_uuids >"$LAB/uuids.before"
}

# the UUIDs of the running guests of the whole lab, sorted
lab_uuids() {
	local h
	for h in "${LAB_HOSTS[@]}"; do lab_virsh "$h" list --uuid; done | sed '/^$/d' | sort
}

# fleet_inventory VERSION EXTRA-APT-OPTIONS HOST...: $LAB/fleet/inventory-VERSION for a rollout
# to VERSION with the README's upgrade command, hosts in that order (the first is the canary)
fleet_inventory() {
	local v=$1 opts=$2 h
	shift 2
	mkdir -p "$LAB/fleet"
	{
		echo "fleet version=$v parallel=2 timeout=900 command_timeout=900"
		echo "fleet upgrade=\"apt-get update -q && apt-get install -y -q${opts:+ $opts} ekvm-tools=$v ekvm-modules-$KVER=$v && ekvm reload --expect $v\""
		for h in "$@"; do
			echo "host name=$h uri=$(lab_uri "$h") exec=\"ssh root@$h\""
		done
	} >"$LAB/fleet/inventory-$v"
	lab_ctl "$EKVM_CTL" fleet plan -i "$LAB/fleet/inventory-$v" >"$LAB/fleet/plan-$v.txt" 2>&1 ||
		{ cat "$LAB/fleet/plan-$v.txt" >&2; fail "ekvm fleet plan failed"; }
}

# fleet VERSION OUT rollout|resume: ekvm fleet on the lab (state $LAB/fleet/state-VERSION), its
# output in $LAB/fleet/OUT; returns its exit status
fleet() {
	# the lab's libvirtds have no TLS certificates: plain TCP between the hosts, said in the log
	local v=$1 out=$LAB/fleet/$2 rc=0 args=(-s "$LAB/fleet/state-$1" --insecure-migration)
	[ "$3" = resume ] || args+=(-i "$LAB/fleet/inventory-$v")
	lab_ctl "$EKVM_CTL" fleet "$3" "${args[@]}" >"$out" 2>&1 || rc=$?
	grep -E 'now on|downtime|upgrade: exit|verify: passed|invariant|halted|FAILED' "$out" |
		sed 's/^/  /' >&2 || true
	return $rc
}

# fleet_done VERSION OUT: the rollout or resume that wrote OUT went to the end
fleet_done() {
	grep -q '^rollout: done' "$LAB/fleet/$2" || { tail -30 "$LAB/fleet/$2" >&2; fail "ekvm fleet did not say done ($2)"; }
	grep -q '^result done' "$LAB/fleet/state-$1" || fail "the state file does not say done"
}

# halted_at VERSION HOST STEP: the rollout to VERSION is halted at HOST's STEP, the other hosts
# untouched, every guest running at home
halted_at() {
	local st=$LAB/fleet/state-$1 g h
	grep -q '^result halted' "$st" || fail "the state file does not say halted: $(grep '^result' "$st")"
	grep -q "^failure host=$2 step=$3 " "$st" || fail "not halted at $2's $3: $(grep '^failure' "$st")"
	note "halted: $(sed -n 's/^failure //p' "$st" | cut -c1-240)"
	for g in "${GUESTS[@]}"; do
		assert_eq "$g runs on" "${HOME_OF[$g]}" "$(lab_where "$g" | tr '\n' ' ' | sed 's/ $//')"
	done
	for h in hv1 hv2; do
		grep -q "^host name=$h status=pending " "$st" || fail "$h is not pending: $(grep "^host name=$h " "$st")"
	done
}

# the kernel module and the dpkg state of ekvm-modules on HOST: "VERSION|stock STATUS"
kvm_on() {
	lab_ssh "$1" "grep -q '^kvm_amd ' /proc/modules || echo no-kvm_amd
		cat /sys/module/kvm/ekvm/version 2>/dev/null || echo stock
		dpkg-query -W -f='\${db:Status-Abbrev}' ekvm-modules-$KVER 2>/dev/null || echo none" | tr '\n' ' ' | sed 's/ *$//'
}

s_broken() {
	local rc=0 st out
	# hv3 takes its packages from the broken suite: N+1's modules package fails in its postinst
	on "sed -i 's# lab main\$# lab-broken main#' /etc/apt/sources.list.d/ekvm.list && apt-get update -q" hv3
	fleet_inventory "$VN1" "" hv3 hv1 hv2
	fleet "$VN1" rollout-broken.txt rollout || rc=$?
	assert_eq "ekvm fleet rollout's exit (halted)" 1 "$rc"
	halted_at "$VN1" hv3 upgrade
	# the host whose upgrade failed still has a working KVM: N's modules stay loaded; the
	# rollout leaves it drained, so its smoke test is refused too, and says why
	st=$(kvm_on hv3)
	note "hv3 after the failed upgrade: KVM, dpkg: $st"
	assert_eq "hv3's KVM and ekvm-modules after the failed upgrade" "$VN iF" "$st"
	assert_eq "hv3's drain after the failed upgrade" "drain: on (0 VMs, 0 vCPUs open)" "$(lab_ssh hv3 ekvm drain)"
	if out=$(lab_ssh hv3 "ekvm smoke" 2>&1); then
		fail "ekvm smoke passed on drained hv3"
	fi
	grep -q "the host is drained" <<<"$out" || fail "ekvm smoke on drained hv3 does not say it is drained: $out"
	# a halted rollout is not started over, and resumed unrepaired it halts again, at the same place
	rc=0
	fleet "$VN1" rollout-again.txt rollout || rc=$?
	assert_eq "a second ekvm fleet rollout's exit (refused)" 2 "$rc"
	grep -q "resume" "$LAB/fleet/rollout-again.txt" || fail "the refusal does not point to resume: $(cat "$LAB/fleet/rollout-again.txt")"
	rc=0
	fleet "$VN1" resume-broken.txt resume || rc=$?
	assert_eq "ekvm fleet resume's exit, hv3 still broken" 1 "$rc"
	halted_at "$VN1" hv3 upgrade
	# the operator's repair (tests/lab/releases/README.md): the good suite, back to N's package
	on "sed -i 's# lab-broken main\$# lab main#' /etc/apt/sources.list.d/ekvm.list && apt-get update -q &&
		apt-get install -y -q --allow-downgrades ekvm-modules-$KVER=$VN" hv3
	assert_eq "hv3 repaired" "$VN ii" "$(kvm_on hv3)"
}

# wait_log VERSION FROM-LINE PATTERN PID: until the rollout's log has a line matching PATTERN
# past line FROM-LINE (the fleet, PID, must still run)
wait_log() {
	local log=$LAB/fleet/state-$1.log t=$SECONDS
	until tail -n "+$(($2 + 1))" "$log" | grep -qE "$3"; do
		kill -0 "$4" 2>/dev/null || fail "ekvm fleet ended before its log said: $3"
		[ $((SECONDS - t)) -lt 1200 ] || fail "ekvm fleet's log never said: $3"
		sleep 1
	done
}

s_killed() {
	local rc=0 from pid st t
	from=$(wc -l <"$LAB/fleet/state-$VN1.log")
	fleet "$VN1" resume-killed.txt resume &
	pid=$!
	# a power cut in the middle of hv3's upgrade command
	wait_log "$VN1" "$from" '^[^ ]+ hv3: upgrade: apt-get' $pid
	sleep "${EKVM_LAB_KILL_AFTER:-12}"
	lab_kill hv3
	note "hv3 killed ${EKVM_LAB_KILL_AFTER:-12}s into its upgrade command"
	wait $pid || rc=$?
	assert_eq "ekvm fleet resume's exit (halted)" 1 "$rc"
	t=$SECONDS
	lab_restart hv3
	# what the power cut left of apt's view of the repository: package lists written shortly
	# before it may be empty files (written, renamed, never flushed), which apt-get update
	# then takes as current ("Hit"): a later install finds no version of the repository
	note "hv3's package lists after the power cut: $(lab_ssh hv3 "cd /var/lib/apt/lists && stat -c '%n %s bytes' *ctl*; apt-cache madison ekvm-modules-$KVER | wc -l" 2>&1 | tr '\n' ' ' | cut -c1-400) versions known"
	# what an operator does after a crash in the middle of a package upgrade (docs/fleet.md):
	# finish dpkg's work, fetch the package lists anew
	lab_ssh hv3 "dpkg --configure -a && rm -rf /var/lib/apt/lists/* && apt-get update -q" >"$LAB/hv3/repair.out" 2>&1 ||
		{ cat "$LAB/hv3/repair.out" >&2; fail "hv3: the repair after the power cut failed"; }
	st=$(kvm_on hv3)
	note "hv3 booted again in $((SECONDS - t))s; after dpkg --configure -a: KVM, dpkg: $st"
	lab_ssh hv3 "apt-cache madison ekvm-modules-$KVER | grep -q '$VN '" ||
		fail "hv3 does not see release $VN after the repair"
	[[ $st != no-kvm_amd* ]] || fail "hv3 has no working KVM after the power cut: $st"
	lab_ssh hv3 "ekvm smoke" >/dev/null || fail "hv3: ekvm smoke fails after the power cut"
	halted_at "$VN1" hv3 upgrade
}

s_rollout() {
	local rc=0 from pid out
	# someone else's guest, defined on hv1, started while the rollout has hv1 drained
	lab_guest_define probe hv1
	from=$(wc -l <"$LAB/fleet/state-$VN1.log")
	fleet "$VN1" resume.txt resume &
	pid=$!
	wait_log "$VN1" "$from" '^[^ ]+ hv1: drain: exit 0' $pid
	if out=$(lab_virsh hv1 start probe 2>&1); then
		fail "a guest started on drained hv1: $out"
	fi
	note "start on drained hv1 refused: $(tr '\n' ' ' <<<"$out" | cut -c1-200)"
	grep -qi "busy" <<<"$out" || fail "the refusal does not say the device is busy: $out"
	wait $pid || rc=$?
	assert_eq "ekvm fleet resume's exit" 0 "$rc"
	fleet_done "$VN1" resume.txt
	lab_virsh hv1 undefine probe >/dev/null
}

# after a rollout to VERSION: hosts, guests, heartbeats, UUIDs, kernel logs
checked() {
	local v=$1 g h missing twice torn longest
	versions_are "$v"
	for g in "${GUESTS[@]}"; do
		assert_eq "$g runs on" "${HOME_OF[$g]}" "$(lab_where "$g" | tr '\n' ' ' | sed 's/ $//')"
		lab_wait_heartbeat "$g" 60 >/dev/null
		lab_heartbeats "$g" >"$LAB/$g.heartbeats"
		assert_eq "$g: boot ids" "$(awk '{print $2}' "$LAB/$g.first")" "$(awk '{print $2}' "$LAB/$g.heartbeats" | sort -u)"
		read -r missing twice torn longest < <(lab_heartbeat_check "$LAB/$g.heartbeats")
		assert_eq "$g: heartbeats missing from the sequence" 0 "$missing"
		assert_eq "$g: heartbeats found twice (the guest ran twice)" 0 "$twice"
		note "$g: $(wc -l <"$LAB/$g.heartbeats") heartbeats, one boot, longest gap ${longest}s (guest clock), $torn torn at a switch-over, hosts $(awk '{print $4}' "$LAB/$g.heartbeats" | uniq | tr '\n' ' ')"
		awk -v m="$longest" 'BEGIN { exit !(m < 10) }' || fail "$g went ${longest}s without a heartbeat"
		for h in "${LAB_HOSTS[@]}"; do
			! lab_ssh "$h" "grep -aE 'WARNING: CPU|BUG: |Oops|Call Trace' $LAB_GUEST_LOGS/$g.log 2>/dev/null" ||
				fail "$g's console on $h has a kernel report"
		done
	done
	lab_uuids >"$LAB/uuids.after"
	cmp -s "$LAB/uuids.before" "$LAB/uuids.after" || fail "the set of running guests changed: $(diff "$LAB/uuids.before" "$LAB/uuids.after" | tr '\n' ' ')"
	for h in "${LAB_HOSTS[@]}"; do
		! lab_ssh "$h" "dmesg | grep -E 'WARNING: CPU|BUG: |Oops|Call Trace'" >"$LAB/$h/klog-issues" ||
			fail "$h's kernel log: $(head -3 "$LAB/$h/klog-issues")"
	done
}

s_upgraded() {
	local h
	checked "$VN1"
	for h in "${LAB_HOSTS[@]}"; do
		assert_eq "$h: lab_release (the code of N+1)" "$((N + 1))" "$(lab_ssh "$h" cat /sys/module/kvm/ekvm/lab_release)"
	done
	grep -E 'now on .*downtime [0-9]+ ms' "$LAB/fleet/state-$VN1.log" | sed 's/.*evacuate: \|.*return: //' |
		while read -r l; do note "migration: $l"; done
	lab_ssh hv3 "dpkg-query -W -f='\${Status}' ekvm-dkms 2>/dev/null | grep -q '^install ok installed'" &&
		fail "hv3 still has ekvm-dkms after moving to ekvm-modules"
	return 0
}

s_downgrade() {
	local h rc=0
	fleet_inventory "$VN" "--allow-downgrades" hv1 hv2 hv3
	fleet "$VN" rollout.txt rollout || rc=$?
	assert_eq "ekvm fleet rollout's exit" 0 "$rc"
	fleet_done "$VN" rollout.txt
	checked "$VN"
	for h in "${LAB_HOSTS[@]}"; do
		lab_ssh "$h" "test ! -e /sys/module/kvm/ekvm/lab_release" || fail "$h still runs N+1's code"
	done
}

t0=$SECONDS
mkdir -p "$EKVM_BUILD/lab"
# the releases N, N+1 and the signed repository (tests/lab/releases), then the lab
"$EKVM_TOP/tests/lab/releases/build.sh" >"$EKVM_BUILD/lab/releases.log" 2>&1 ||
	{ tail -20 "$EKVM_BUILD/lab/releases.log" >&2; fail "building the releases failed"; }
for f in ekvm ekvm-fleet; do
	[ -x "$EKVM_BUILD/userspace/$f" ] || fail "no $EKVM_BUILD/userspace/$f (make userspace)"
done
# hv3 is the DKMS host: its image has ekvm-dkms N, built by DKMS in the image's chroot
LAB_IMAGE_VARIANT[hv3]=dkms
lab_up
# ekvm runs the ekvm-fleet in its own folder (the controller's ekvm fleet)
cp "$EKVM_BUILD/userspace/ekvm" "$EKVM_CTL"
cp "$EKVM_BUILD/userspace/ekvm-fleet" "$(dirname "$EKVM_CTL")/ekvm-fleet"
step hosts s_hosts
step repository s_repository
step "install ekvm $VN" s_install
step guests s_guests
step "rollout to $VN1 halts at a broken package" s_broken
step "resume; a host killed in its upgrade" s_killed
step "resume to the end; a guest start on a drained host refused" s_rollout
step "upgraded: hosts on $VN1, guests unharmed" s_upgraded
step "downgrade to $VN" s_downgrade
note "story done in $((SECONDS - t0))s"
echo "1..$step_n"
echo "$passed passed, $failed failed"
