#!/usr/bin/env bash
# The canary's health gate with a real guest agent on the line: guest3 on the canary hostA has
# the guest agent's virtio-serial channel and the test agent of fleet_guest_image (it answers
# guest-sync, guest-ping and guest-get-host-name as QEMU's agent does). A rollout with --bake 5
# migrates guest3 away and back; the gate pings its agent (guest-ping, 10 s to answer) and
# passes it ("its guest agent answers"), guest1 without an agent too; the agent saw the ping on
# its console. (Before the ping had a deadline, the gate asked libvirt for the hostname from the
# agent, and a muted agent kept the rollout waiting for ever: 14 minutes until it was killed.) A second rollout: during the bake the agent is told to stop
# answering for 20 s (ekvm-test-mute): the gate halts the rollout at hostA's bake naming guest3
# and its agent, with hostB and hostC untouched; once the agent answers again, resume runs the
# gate (passed) and completes the rollout.
set -euo pipefail
. "$(dirname "$0")/../lib/fleet.sh"

# agent_answers: until guest3's agent answers on hostA (60 s at most)
agent_answers() {
	for _ in $(seq 1 120); do
		[ "$(virsh_on hostA domhostname guest3 --source agent 2>/dev/null)" = ekvm-agent ] && return 0
		sleep 0.5
	done
	fail "guest3's agent does not answer on hostA: $(virsh_on hostA domhostname guest3 --source agent 2>&1)"
}

fleet_case
FLEET_GUEST_AGENT=1 fleet_guest guest3 hostA
wait_heartbeat guest3
agent_answers
grep -aq "ekvm-agent: guest-get-host-name" "$FLEET/guest3.log" || fail "the agent's console shows no command"
echo "# guest3's agent answers on hostA: $(grep -ac 'ekvm-agent: guest-sync' "$FLEET/guest3.log") syncs so far"

ekvm_fleet rollout -i "$INV" -s "$STATE" --bake 5 >"$FLEET/rollout.out" 2>&1 ||
	fail "rollout: $(tail -20 "$FLEET/rollout.out")"
grep -q "hostA: bake: guest3 running, its guest agent answers" "$STATE.log" ||
	fail "the gate did not ask guest3's agent: $(grep bake "$STATE.log" | tail -4)"
grep -aq "ekvm-agent: guest-ping" "$FLEET/guest3.log" || fail "the agent's console shows no guest-ping"
grep -q "hostA: bake: guest1 running (no guest agent connected)" "$STATE.log" ||
	fail "the gate did not pass guest1: $(grep bake "$STATE.log" | tail -4)"
grep -q "bake: the canary passed its health gate (2 VMs)" "$STATE.log" || fail "no gate passed"
report_is '.result == "done" and .invariant.holds'
echo "# gate passed: guest3's agent answered after its migration away and back"

# the second rollout: the agent stops answering during the bake
fleet_inventory "$INV" 6.1.192.3
rm -f "$FLEET"/host?.upgrades
ekvm_fleet rollout -i "$INV" -s "$STATE.2" --bake 5 >"$FLEET/rollout2.out" 2>&1 &
pid=$!
STATE=$STATE.2 wait_log "$pid" "bake: the canary runs 5 s before its health gate" "the canary's bake"
[ "$(where guest3)" = hostA ] || { kill "$pid"; fail "guest3 is not back on hostA for the bake"; }
virsh_on hostA qemu-agent-command guest3 '{"execute":"ekvm-test-mute"}' >/dev/null ||
	{ kill "$pid"; fail "the agent did not take ekvm-test-mute"; }
echo "# muted guest3's agent for 20 s during the canary's bake"
rc=0; wait "$pid" || rc=$?
assert_eq "rollout exit status" 1 "$rc"
grep -q "rollout: halted at hostA (bake): health gate: guest3 on hostA: its guest agent does not answer" \
	"$FLEET/rollout2.out" || fail "report: $(tail -20 "$FLEET/rollout2.out")"
grep -aq "ekvm-agent: muted: guest-ping" "$FLEET/guest3.log" || fail "the muted agent saw no guest-ping"
if [ -e "$FLEET/hostB.upgrades" ] || [ -e "$FLEET/hostC.upgrades" ]; then
	fail "a host was upgraded after the canary failed its gate"
fi
agent_answers
ekvm_fleet resume -s "$STATE.2" --bake 1 >"$FLEET/resume.out" 2>&1 ||
	fail "resume: $(tail -20 "$FLEET/resume.out")"
grep -q "hostA: bake: guest3 running, its guest agent answers" "$STATE.2.log" ||
	fail "the resumed gate did not pass guest3: $(grep bake "$STATE.2.log" | tail -4)"
STATE=$STATE.2 report_is '.result == "done" and .invariant.holds and ([.hosts[].status] | unique) == ["done"]'
guests_alive
wait_heartbeat guest3
echo "# a hung agent halted the rollout at the canary's gate; answering again, resume completed it"
