#!/usr/bin/env bash
# The migration policy's knobs with real QEMU migrations, on a fleet of hostA and hostB
# (hostC and guest2 stay out of the inventory: fewer migrations). guest1 and guest3 on hostA:
# a rollout with --parallel-connections 2 (VIR_MIGRATE_PARALLEL, QEMU's multifd) and
# --max-per-source 1 (-p 2) migrates them away and back, one at a time from each source (the
# log's start and end lines do not overlap), over parallel connections (hostB's incoming QEMU
# holds 3 migration connections at once: the main channel and 2). Then a rollout with
# --max-per-source 2 --max-per-dest 1: both guests leave hostA and come back to it one at a
# time each way, as their one destination allows. Then a rollout of guest1
# alone capped at 4 MiB/s with --postcopy-after 2: its migrations switch to post-copy
# (virDomainMigrateStartPostCopy) and end in it; the guest's heartbeat goes on. (At 8 MiB/s the
# pre-copy could end first on a loaded machine: libvirt answered the switch 5-6 s late, "domain
# is not running", once the source had paused for the last pre-copy pass.)
set -euo pipefail
. "$(dirname "$0")/../lib/fleet.sh"

# two_hosts FILE VERSION [KEY=VALUE]...: the inventory of hostA and hostB only
two_hosts() {
	local FLEET_HOSTS=(hostA hostB)
	fleet_inventory "$@"
}

# span VM STEP SOURCE: the log's timestamps of VM's migration in STEP from SOURCE, its start
# and its end, in SPAN_START and SPAN_END
span() {
	SPAN_START=$(grep -m1 " $3: $2: migrating $1 " "$STATE.log" | cut -d' ' -f1)
	SPAN_END=$(grep -m1 " $3: $2: $1 now on " "$STATE.log" | cut -d' ' -f1)
	if [ -z "$SPAN_START" ] || [ -z "$SPAN_END" ]; then
		fail "no migration of $1 in $2 from $3: $(grep "$1" "$STATE.log" | tail -3)"
	fi
}

# apart STEP SOURCE: guest1's and guest3's migrations in STEP from SOURCE did not overlap
# (ISO-8601 UTC timestamps compare as strings)
apart() {
	local s1 e1 s3 e3
	span guest1 "$1" "$2"
	s1=$SPAN_START e1=$SPAN_END
	span guest3 "$1" "$2"
	s3=$SPAN_START e3=$SPAN_END
	if [[ $s3 < $e1 ]] && [[ $s1 < $e3 ]]; then
		fail "$1 from $2: guest1 $s1-$e1 and guest3 $s3-$e3 overlap ($LIMIT)"
	fi
	echo "# $1 from $2: guest1 ${s1#*T}-${e1#*T}, guest3 ${s3#*T}-${e3#*T}"
}

fleet_case
fleet_guest guest3 hostA
wait_heartbeat guest3
UUIDS0=$(fleet_uuids)
# (8 MiB/s: an uncapped migration can end between two samples of its connections on an idle
# machine, and then none is seen)
two_hosts "$INV" 6.1.192.2 bandwidth=8

# 1. --parallel-connections 2 --max-per-source 1
ekvm_fleet rollout -i "$INV" -s "$STATE" --parallel-connections 2 --max-per-source 1 --json \
	>"$FLEET/rollout.json" 2>"$FLEET/rollout.events" &
pid=$!
# meanwhile, the most migration connections (libvirt's ports 49152-49215) hostB's incoming
# QEMU accepted at once: the main channel and one a parallel connection
most=0
while kill -0 "$pid" 2>/dev/null; do
	n=$(ip netns exec "$(host_ns hostB)" ss -Htn state established '( sport >= :49152 and sport <= :49215 )' 2>/dev/null | wc -l)
	[ "$n" -le "$most" ] || most=$n
	sleep 0.1
done
rc=0; wait "$pid" || rc=$?
assert_eq "rollout exit status" 0 "$rc"
echo "# at most $most migration connections into hostB at once"
[ "$most" -ge 3 ] || fail "$most migration connection(s) into hostB at once: not over 2 parallel connections"
jq -e '.result == "done" and .invariant.holds and ([.vms[] | .host == .home] | all)' \
	"$FLEET/rollout.json" >/dev/null || fail "report: $(jq -c '{result, failure}' "$FLEET/rollout.json")"
grep -q ' migration policy: .*, parallel connections 2, 2 at a time (a source 1, a destination any), ' "$STATE.log" ||
	fail "policy: $(grep 'migration policy' "$STATE.log")"
jq -e -s '[.[] | select(.event == "log" and (.message | test("^migration policy: .*parallel connections 2")))] | length == 1' \
	"$FLEET/rollout.events" >/dev/null || fail "no policy event with parallel connections 2"
jq -e -s '[.[] | select(.event == "migrated") | "\(.step) \(.vm) \(.from) \(.to)"] | sort
	== ["evacuate guest1 hostA hostB", "evacuate guest3 hostA hostB",
	    "return guest1 hostB hostA", "return guest3 hostB hostA"]' "$FLEET/rollout.events" >/dev/null ||
	fail "migrations: $(jq -c -s '[.[] | select(.event == "migrated") | .message]' "$FLEET/rollout.events")"
LIMIT="--max-per-source 1"
apart evacuate hostA
apart return hostB
guests_alive
wait_heartbeat guest3
uuids_unchanged
echo "# parallel connections and one migration a source: done"

# 1b. --max-per-source 2 --max-per-dest 1 (-p 2): a source may send both, but each
# destination takes one at a time (evacuation: both to hostB; return: both to hostA)
STATE=$FLEET/state-dest
two_hosts "$INV" 6.1.192.3 bandwidth=8
rc=0; ekvm_fleet rollout -i "$INV" -s "$STATE" --max-per-source 2 --max-per-dest 1 --json \
	>"$FLEET/dest.json" 2>"$FLEET/dest.events" || rc=$?
assert_eq "rollout (--max-per-dest 1) exit status" 0 "$rc"
grep -q ' migration policy: .*, 2 at a time (a source 2, a destination 1), ' "$STATE.log" ||
	fail "policy: $(grep 'migration policy' "$STATE.log")"
LIMIT="--max-per-dest 1"
apart evacuate hostA
apart return hostB
guests_alive
wait_heartbeat guest3
uuids_unchanged
echo "# one migration a destination: done"

# 2. post-copy: guest1 alone (guest3 goes), 4 MiB/s, switched after 2 s
virsh_on hostA destroy guest3 >/dev/null
virsh_on hostA undefine guest3 >/dev/null
UUIDS0=$(fleet_uuids)
STATE=$FLEET/state-postcopy
two_hosts "$INV" 6.1.192.2 bandwidth=4
rc=0; ekvm_fleet rollout -i "$INV" -s "$STATE" --postcopy-after 2 --json \
	>"$FLEET/postcopy.json" 2>"$FLEET/postcopy.events" || rc=$?
grep -E 'post-copy|guest1' "$STATE.log" | grep -v ' MiB remaining' | sed 's/^/# /' | head -20
assert_eq "post-copy rollout exit status" 0 "$rc"
grep -q ' migration policy: .*, post-copy after 2 s, bandwidth 4 MiB/s, ' "$STATE.log" ||
	fail "policy: $(grep 'migration policy' "$STATE.log")"
for m in "hostA: evacuate" "hostB: return"; do
	grep -qE " $m: guest1: [0-9]+ s: switched to post-copy$" "$STATE.log" ||
		fail "$m: no switch to post-copy: $(grep "$m: guest1" "$STATE.log" | grep -v remaining | tail -3)"
	grep -qE " $m: guest1 now on host[AB] \(.*, post-copy\)$" "$STATE.log" ||
		fail "$m: guest1's migration did not end in post-copy"
done
jq -e -s '([.[] | select(.event == "progress" and .vm == "guest1" and .postcopy)] | length) > 0
	and ([.[] | select(.event == "migrated" and .vm == "guest1")] | length) == 2' \
	"$FLEET/postcopy.events" >/dev/null ||
	fail "no progress event with postcopy true: $(grep -c '"progress"' "$FLEET/postcopy.events") progress events"
guests_alive
uuids_unchanged
jq -e '.result == "done" and .invariant.holds and ([.vms[] | .host == .home] | all)' \
	"$FLEET/postcopy.json" >/dev/null || fail "post-copy report: $(jq -c '{result, failure}' "$FLEET/postcopy.json")"
echo "# post-copy: guest1 went to hostB and back in post-copy, heartbeats on"
