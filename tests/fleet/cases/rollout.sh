#!/usr/bin/env bash
# A full rollout over the three-host netns fleet (tests/fleet/lib/fleet.sh): plan, the canary
# first, each host evacuated, upgraded, verified and given its VMs back; the guests' heartbeats
# never stop and the fleet's VM UUIDs stay the same.
set -euo pipefail
. "$(dirname "$0")/../lib/fleet.sh"

fleet_case
plan=$(ekvm_fleet plan -i "$INV" --json)
echo "$plan" | jq -e '.failed == 0 and (.batches | length) == 3
	and .batches[0].canary and .batches[0].hosts == ["hostA"]
	and .batches[0].moves[0].vm == "guest1" and .batches[0].moves[0].to != "hostA"
	and ([.batches[2].moves[] | .vm] == ["guest2"])
	and ([.checks[] | select(.check == "host_uuid" and .result == "PASS")] | length) == 3
	and ([.checks[] | select(.check == "cpu" and .result == "PASS") | .note]
		| any(test("^guest2 on host[AB]: (identical CPU|destination CPU is a superset)$")))' \
	>/dev/null || fail "plan: $plan"
grep -q 'batch 1 (canary): hostA' <<<"$(ekvm_fleet plan -i "$INV")" || fail "plan text has no canary line"

# a fleet where two hosts share a host UUID fails the preflight
sed 's/^host name=hostB .*/&/' "$INV" >"$FLEET/inv-dup"
sed -n '/name=hostA/p' "$INV" | sed 's/name=hostA/name=hostA2/' >>"$FLEET/inv-dup"
expect_failure ekvm_fleet plan -i "$FLEET/inv-dup" --json
echo "$out" | jq -e '[.checks[] | select(.check == "host_uuid" and .result == "FAIL") | .host] | sort == ["hostA", "hostA2"]' \
	>/dev/null || fail "duplicate host UUIDs not refused: $out"

start=$SECONDS
ekvm_fleet rollout -i "$INV" -s "$STATE" >"$FLEET/rollout.out" 2>&1 ||
	{ tail -30 "$FLEET/rollout.out"; fail "rollout failed"; }
echo "# rollout in $((SECONDS - start)) s"
guests_alive
uuids_unchanged
report_is '.result == "done" and .failure == null and .invariant.holds
	and ([.hosts[].status] | unique) == ["done"] and ([.hosts[].version] | unique) == ["6.1.192.2"]
	and ([.vms[] | .host == .home] | all) and ([.hosts[].drained] | any | not)'
# the canary went first, every host was upgraded once
for h in "${FLEET_HOSTS[@]}"; do
	assert_eq "upgrades of $h" 1 "$(wc -l <"$FLEET/$h.upgrades")"
done
if ! { [ "$(cat "$FLEET/hostA.upgrades")" \< "$(cat "$FLEET/hostB.upgrades")" ] &&
	[ "$(cat "$FLEET/hostB.upgrades")" \< "$(cat "$FLEET/hostC.upgrades")" ]; }; then
	fail "hosts not upgraded in the order A, B, C"
fi
# both guests were migrated away and back, with progress and downtime in the log
grep -q 'evacuate: guest1 now on host[BC] (.*downtime [0-9]* ms)' "$STATE.log" || fail "no evacuation of guest1"
grep -q 'return: guest1 now on hostA' "$STATE.log" || fail "guest1 not returned"
grep -q 'evacuate: guest2 now on host[AB]' "$STATE.log" || fail "no evacuation of guest2"
# (progress lines, once a second, are checked by destination-dies.sh, whose migrations are slow)
grep -q 'hostB: KVM is not ekvm: no drain to set; evacuating anyway' "$STATE.log" || fail "a host that is not ekvm is not reported"
grep -q 'preflight: PASS cpu' "$STATE.log" || fail "the preflight is not in the log"
# the policy: TLS by default, plain TCP here (the test fleet has no certificates) with a warning
grep -q ' migration policy: plain TCP, auto-converge on, timeout 300 s + 150 s a GiB, ' "$STATE.log" ||
	fail "no migration policy in the log"
grep -q ' WARNING: --insecure-migration: ' "$STATE.log" || fail "plain TCP migration without a warning"
log_is_timestamped
# a transient VM stays transient: guest2 loses its definition (it runs on), and the second
# rollout moves it away and back without defining it anywhere
virsh_on hostC undefine guest2 >/dev/null
info=$(virsh_on hostC dominfo guest2)
grep -Eq '^Persistent: +no' <<<"$info" || fail "guest2 is not transient: $info"
# a second rollout may start over a finished one; with --json only the report is on stdout
ekvm_fleet rollout -i "$INV" -s "$STATE" --json >"$FLEET/rollout2.json" 2>"$FLEET/rollout2.err" ||
	fail "second rollout: $(tail -5 "$FLEET/rollout2.err")"
jq -e '.result == "done" and .invariant.holds' "$FLEET/rollout2.json" >/dev/null || fail "second rollout report"
# ... and stderr is the event stream, one JSON object a line: the start (operator, rollout id)
# first, the end (result, exit) last, each migration's progress (MiB left, ETA) and end
jq -e -s 'all(.[]; has("time") and has("event") and has("host") and has("message"))
	and .[0].event == "start" and .[0].kind == "rollout" and (.[0].rollout | test("-[0-9]+$"))
	and (.[0].uid | type) == "number"
	and .[-1].event == "end" and .[-1].result == "done" and .[-1].exit == 0
	and ([.[] | select(.event == "batch")] | length) == 3
	and ([.[] | select(.event == "host_done") | .host] == ["hostA", "hostB", "hostC"])
	and ([.[] | select(.event == "migrated" and .vm == "guest1" and (.downtime_ms | type) == "number")] | length) == 2
	and ([.[] | select(.event == "progress" and .remaining_mib != null)] | all(.total_mib >= .remaining_mib))
	and ([.[] | select(.event == "step" and .step == "upgrade")] | length) == 3' \
	"$FLEET/rollout2.err" >/dev/null || fail "the event stream: $(head -3 "$FLEET/rollout2.err")"
grep -q 'evacuate: migrating guest2 (.*, transient) to host[AB]' "$STATE.log" ||
	fail "guest2 was not migrated as transient"
[ "$(where guest2)" = hostC ] || fail "guest2 is not back on hostC"
info=$(virsh_on hostC dominfo guest2)
grep -Eq '^Persistent: +no' <<<"$info" || fail "guest2 came back persistent: $info"
for h in hostA hostB; do
	! grep -qx guest2 <<<"$(virsh_on "$h" list --all --name)" || fail "guest2 left a definition on $h"
done
guests_alive
uuids_unchanged
echo "# rollout: done, guests alive, UUIDs unchanged, a transient VM kept transient"
