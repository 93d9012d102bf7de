#!/usr/bin/env bash
# Migration with QEMU's native TLS, ekvm fleet's default (VIR_MIGRATE_TLS): each host of the
# fleet has a test CA's certificates in its migrate_tls_x509_cert_dir (FLEET_MIGRATION_TLS=1:
# fleet_tls_host) and the rollout runs without --insecure-migration. Every guest goes away and
# back with its heartbeat; the QMP each libvirtd sent shows TLS set up for every migration (the
# source's migrate parameters name the TLS credentials and the destination's IP, the
# destination's credentials verify the peer). Then hostA's certificates are replaced by another
# CA's: in the TLS handshake hostA's QEMU trusts no destination's server certificate, and the
# next rollout halts at its first migration (retried once, on the other host: refused too) with
# QEMU's TLS error in the report, every guest running at its source.
set -euo pipefail
FLEET_MIGRATION_TLS=1
. "$(dirname "$0")/../lib/fleet.sh"

fleet_case
start=$SECONDS
ekvm_fleet rollout -i "$INV" -s "$STATE" >"$FLEET/rollout.out" 2>&1 ||
	{ tail -30 "$FLEET/rollout.out"; fail "rollout with TLS failed"; }
echo "# rollout with TLS in $((SECONDS - start)) s"
guests_alive
uuids_unchanged
report_is '.result == "done" and .failure == null and .invariant.holds
	and ([.hosts[].status] | unique) == ["done"] and ([.vms[] | .host == .home] | all)'
grep -q ' migration policy: TLS, ' "$STATE.log" || fail "the migration policy is not TLS: $(grep 'migration policy' "$STATE.log")"
grep -q 'insecure-migration' "$STATE.log" && fail "an --insecure-migration warning with TLS"
grep -q 'evacuate: guest1 now on host[BC]' "$STATE.log" || fail "no evacuation of guest1"
grep -q 'return: guest1 now on hostA' "$STATE.log" || fail "guest1 not returned"
grep -q 'evacuate: guest2 now on host[AB]' "$STATE.log" || fail "no evacuation of guest2"
grep -q 'return: guest2 now on hostC' "$STATE.log" || fail "guest2 not returned"
# Each migration set up TLS, as libvirt does it only with VIR_MIGRATE_TLS (plain TCP: no
# credentials object, "tls-creds":""), in the QMP each libvirtd sent (qmp.log: fleet_host): the
# source's QEMU got client credentials and the migrate parameters tls-creds and tls-hostname
# (the destination's IP, which its server certificate must name), the destination's QEMU server
# credentials that verify the peer's certificate before its migrate-incoming.
qmp() { grep -o 'QEMU_MONITOR_SEND_MSG: .*' "$FLEET/$1/var/log/libvirt/qmp.log" || true; }
creds='"qom-type":"tls-creds-x509","id":"objlibvirt_migrate_tls0","dir":"/etc/libvirt/pki/qemu"'
n=0
while read -r src vm dst; do
	qmp "$src" | grep -qF "{$creds,\"endpoint\":\"client\",\"verify-peer\":true}" ||
		fail "$vm $src -> $dst: no TLS client credentials in $src's QEMU"
	qmp "$src" | grep -qF "\"tls-creds\":\"objlibvirt_migrate_tls0\",\"tls-hostname\":\"$(host_ip "$dst")\"" ||
		fail "$vm $src -> $dst: $src's QEMU did not migrate with TLS to $(host_ip "$dst")"
	qmp "$dst" | grep -qF "{$creds,\"endpoint\":\"server\",\"verify-peer\":true}" ||
		fail "$vm $src -> $dst: no TLS server credentials (verify-peer) in $dst's QEMU"
	echo "# $vm $src -> $dst: TLS (client credentials, tls-hostname $(host_ip "$dst"); server credentials, verify-peer)"
	n=$((n + 1))
done < <(sed -n 's/.*Z \(host[ABC]\): [a-z]*: \(guest[0-9]\) now on \(host[ABC]\) .*/\1 \2 \3/p' "$STATE.log")
assert_eq "migrations with TLS" 4 "$n"
# every incoming migration of the rollout had TLS credentials set first
inc=0 tls=0
for h in "${FLEET_HOSTS[@]}"; do
	inc=$((inc + $(qmp "$h" | grep -c '"execute":"migrate-incoming"' || true)))
	tls=$((tls + $(qmp "$h" | grep -cF '"tls-creds":"objlibvirt_migrate_tls0","tls-hostname":""' || true)))
done
assert_eq "incoming migrations with TLS credentials (of $inc)" "$inc" "$tls"

# hostA's PKI replaced by another CA's (its CA, its certificates signed by it): each QEMU's own
# credentials load, but in the TLS handshake hostA's QEMU trusts no other host's server
# certificate (nor they its client certificate). Plain TCP would not notice.
fleet_tls_ca "$FLEET/pki-other" "another CA"
fleet_tls_certs hostA "$FLEET/pki-other"
start=$SECONDS
rc=0
ekvm_fleet rollout -i "$INV" -s "$STATE" >"$FLEET/rollout2.out" 2>&1 || rc=$?
echo "# rollout with hostA's CA replaced: exit $rc in $((SECONDS - start)) s"
assert_eq "rollout exit status with hostA's CA replaced" 1 "$rc"
tlserr="operation failed: job 'migration out' failed: The certificate hasn't got a known issuer"
grep -q "^rollout: halted at hostA (evacuate): guest1: migration to host[BC] failed: $tlserr\$" "$FLEET/rollout2.out" ||
	fail "report: $(tail -20 "$FLEET/rollout2.out")"
report_is '.result == "halted" and .failure.host == "hostA" and .failure.step == "evacuate"
	and (.failure.error | test("migration out.* failed: The certificate hasn.t got a known issuer"))
	and .invariant.holds'
# the first migration, and its retry on the other host, refused in the handshake
for h in hostB hostC; do
	grep -qF "hostA: evacuate: guest1: migration to $h failed: $tlserr" "$STATE.log" ||
		fail "guest1's migration to $h did not fail on TLS: $(grep 'guest1' "$STATE.log" | tail -4)"
done
echo "# refused: $tlserr"
[ "$(where guest1)" = hostA ] || fail "guest1 is not running on hostA"
[ "$(where guest2)" = hostC ] || fail "guest2 is not running on hostC"
guests_alive
uuids_unchanged
for h in "${FLEET_HOSTS[@]}"; do
	assert_eq "upgrades of $h" 1 "$(wc -l <"$FLEET/$h.upgrades")"
done
grep ' migration policy: ' "$STATE.log" | tail -1 | grep -q ' migration policy: TLS, ' ||
	fail "the second rollout's migration policy is not TLS"
echo "# TLS migration: every guest away and back with TLS; a host of another CA refused in the handshake"
