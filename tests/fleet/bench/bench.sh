#!/usr/bin/env bash
# make bench, fleet part: a rollout of the three-host netns fleet (tests/fleet/lib/fleet.sh)
# with two 128 MiB guests: the plan (preflight), the whole rollout, and each host's time beyond
# its migrations and its upgrade command (drain, preflight share, verify, state, log). Prints
# the figures; docs/bench.md records them.
set -euo pipefail
. "$(dirname "$0")/../lib/fleet.sh"

fleet_case
t0=$(date +%s.%N)
ekvm_fleet plan -i "$INV" >/dev/null
t1w=$(date +%s.%N)
ekvm_fleet plan -i "$INV" >/dev/null
t1=$(date +%s.%N)
ekvm_fleet rollout -i "$INV" -s "$STATE" --json >"$FLEET/report.json" 2>"$FLEET/rollout.err" ||
	fail "rollout failed: $(tail -5 "$FLEET/rollout.err")"
t2=$(date +%s.%N)
guests_alive >/dev/null
uuids_unchanged
echo "fleet: plan (preflight, cold daemons): $(echo "$t1w - $t0" | bc) s, again: $(echo "$t1 - $t1w" | bc) s"
echo "fleet: rollout of 3 hosts, 2 guests of $FLEET_GUEST_MIB MiB: $(echo "$t2 - $t1" | bc) s"
jq -r '.hosts[] | "fleet: \(.name): \(.times.total_s) s = migrations \(.times.migrate_s) s + upgrade \(.times.upgrade_s) s + the rest \(.times.overhead_s) s"' \
	"$FLEET/report.json"
jq -r --arg wall "$(echo "$t2 - $t1" | bc)" '"fleet: per host, all included but migrations and upgrades (preflight, drain, verify, state): \((($wall | tonumber) - ([.hosts[].times.migrate_s] | add) - ([.hosts[].times.upgrade_s] | add)) / (.hosts | length) * 100 | round / 100) s"' \
	"$FLEET/report.json"
sed -n 's/.*: \(guest[0-9]\) now on \(host.\) (\([0-9.]*\) s, downtime \([0-9]*\) ms)/\3 \4/p' "$STATE.log" |
	awk '{ n++; t += $1; d += $2; if ($2 > m) m = $2 }
		END { printf "fleet: %d migrations: mean %.2f s, downtime mean %d ms, max %d ms\n", n, t / n, d / n, m }'
