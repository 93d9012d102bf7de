#!/usr/bin/env bash
# The signed apt repository (scripts/build-repo.sh, scripts/make-signing-key.sh), as apt sees it:
# two suites and two components in one repository, read by `apt-get update` over file: with
# signed-by= the exported keyring, in an apt configuration of its own (this machine's sources,
# lists and cache untouched). apt sees every package and version of each suite and fetches them;
# a tampered Packages file, a keyring of another key, an unsigned suite are refused. Small
# packages made here stand in for ekvm's, so it takes seconds.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-repo.sh"

cd "$TEST_TMP"
# mkdeb NAME VERSION ARCH: a minimal package in debs/
mkdeb() {
	local d="pkg/$1_$2"
	mkdir -p "$d/DEBIAN" "$d/usr/share/doc/$1" debs
	printf 'Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: ekvm maintainers <maintainers@ekvm.invalid>\nDescription: ekvm repository test package\n' \
		"$1" "$2" "$3" >"$d/DEBIAN/control"
	echo "$1 $2" >"$d/usr/share/doc/$1/version"
	dpkg-deb -b -Zgzip "$d" "debs/$1_$2_$3.deb" >/dev/null
}
mkdeb ekvm-test-tools 1.1 amd64
mkdeb ekvm-test-tools 1.2 amd64
mkdeb ekvm-test-dkms 1.2 all
mkdeb ekvm-test-extra 1.0 all
mkdir broken && mkdeb ekvm-test-tools 1.2 amd64 && echo broken >>"pkg/ekvm-test-tools_1.2/usr/share/doc/ekvm-test-tools/version" &&
	dpkg-deb -b -Zgzip pkg/ekvm-test-tools_1.2 broken/ekvm-test-tools_1.2_amd64.deb >/dev/null

key=$("$EKVM_TOP/scripts/make-signing-key.sh" key 2>/dev/null)
[ "$("$EKVM_TOP/scripts/make-signing-key.sh" key 2>/dev/null)" = "$key" ] || fail "make-signing-key.sh made a second key"
uid=$(gpg --homedir key --batch --with-colons --list-keys 2>/dev/null | awk -F: '$1 == "uid" { print $10; exit }')
assert_eq "key uid" "ekvm lab signing key (throw-away) <maintainers@ekvm.invalid>" "$uid"
build() { "$EKVM_TOP/scripts/build-repo.sh" "$@"; }

echo "# wrong input"
expect_failure build repo lab key
assert_match "no packages" "^USAGE: " "$out"
expect_failure build repo lab key "$TEST_TMP/key/pubring.kbx"
assert_eq "not a package" "ekvm: $TEST_TMP/key/pubring.kbx is not a Debian package" "$out"
expect_failure build repo lab "$TEST_TMP/pkg" debs/ekvm-test-extra_1.0_all.deb
assert_eq "no key" "ekvm: no secret key in $TEST_TMP/pkg (scripts/make-signing-key.sh makes a throw-away one)" "$out"

echo "# a repository: suite lab (main: 1.1 and 1.2, extra: another package), suite lab-broken"
build repo lab key debs/ekvm-test-tools_1.1_amd64.deb debs/ekvm-test-tools_1.2_amd64.deb debs/ekvm-test-dkms_1.2_all.deb
build -c extra repo lab key debs/ekvm-test-extra_1.0_all.deb
build repo lab-broken key debs/ekvm-test-tools_1.1_amd64.deb broken/ekvm-test-tools_1.2_amd64.deb
grep -qx "Components: extra main" repo/dists/lab/Release || fail "Release of lab: $(grep Components repo/dists/lab/Release)"
for f in repo/dists/lab/Release repo/dists/lab-broken/Release; do
	grep -qx "Suite: $(basename "$(dirname "$f")")" "$f" || fail "$f has no Suite line"
	grep -q '^SHA256:' "$f" || fail "$f has no SHA256 hashes"
done
# the keyring: binary (not armored), the signing key's public part only
! grep -q 'BEGIN PGP' repo/ekvm-archive-keyring.gpg || fail "the keyring is armored"
assert_eq "keyring" "pub $key" "$(gpg --batch --with-colons --show-keys repo/ekvm-archive-keyring.gpg 2>/dev/null |
	awk -F: '$1 == "pub" || $1 == "sec" { t = $1 } $1 == "fpr" && t { print t, $10; t = "" }')"

apt_() { repo_apt "$TEST_TMP/repo" "$@"; }
fresh() { repo_apt_reset; }

echo "# apt-get update: signed, seen, fetched"
fresh
apt_ lab:main,extra lab-broken -- update >update.log 2>&1 || { cat update.log; fail "apt-get update failed"; }
! grep -E '^(W|E):' update.log || fail "apt-get update warned"
versions=$(repo_madison "$TEST_TMP/repo" "lab:main,extra lab-broken" ekvm-test-tools ekvm-test-dkms ekvm-test-extra)
echo "$versions"
assert_eq "what apt sees" "ekvm-test-dkms 1.2 lab/main
ekvm-test-extra 1.0 lab/extra
ekvm-test-tools 1.1 lab-broken/main
ekvm-test-tools 1.1 lab/main
ekvm-test-tools 1.2 lab-broken/main
ekvm-test-tools 1.2 lab/main" "$versions"
# the same name and version, different files in the two suites: each suite's own is fetched
fresh
apt_ lab-broken -- update >/dev/null 2>&1 || fail "apt-get update of lab-broken failed"
mkdir dl
(cd dl && apt_ lab-broken -- download ekvm-test-tools=1.2) >dl.log 2>&1 || { cat dl.log; fail "download from lab-broken failed"; }
cmp -s dl/ekvm-test-tools_1.2_amd64.deb broken/ekvm-test-tools_1.2_amd64.deb ||
	fail "lab-broken did not give its own ekvm-test-tools 1.2"

echo "# refused: a tampered Packages file, another key, no signature"
cp -a repo repo.good
sed -i 's/^Version: 1.1$/Version: 1.9/' repo/dists/lab/main/binary-amd64/Packages
rm repo/dists/lab/main/binary-amd64/Packages.gz
fresh
expect_failure apt_ lab -- update
grep -q 'Hash Sum mismatch\|File has unexpected size' <<<"$out" || fail "tampered Packages: $out"
echo "tampered Packages: $(grep -m1 -o 'Hash Sum mismatch\|File has unexpected size' <<<"$out")"
rm -rf repo && cp -a repo.good repo

sed -i 's/^Label: ekvm$/Label: evil/' repo/dists/lab/InRelease
fresh
expect_failure apt_ lab -- update -o Acquire::AllowInsecureRepositories=false
grep -q "BADSIG\|NO_PUBKEY\|is not signed\|not valid" <<<"$out" || fail "tampered InRelease: $out"
echo "tampered InRelease: $(grep -m1 -o 'BADSIG [0-9A-F]*\|is not signed' <<<"$out")"
rm -rf repo && cp -a repo.good repo

"$EKVM_TOP/scripts/make-signing-key.sh" other >/dev/null 2>&1
gpg --homedir other --batch --export >other.gpg 2>/dev/null
gpgconf --homedir other --kill gpg-agent 2>/dev/null || true
fresh
KEYRING="$TEST_TMP/other.gpg" expect_failure apt_ lab -- update
grep -q "NO_PUBKEY" <<<"$out" || fail "another key: $out"
echo "another key: $(grep -m1 -o 'NO_PUBKEY [0-9A-F]*' <<<"$out")"

rm repo/dists/lab/InRelease repo/dists/lab/Release.gpg
fresh
expect_failure apt_ lab -- update
grep -q "is not signed" <<<"$out" || fail "unsigned suite: $out"
echo "unsigned suite: refused"
rm -rf repo && mv repo.good repo

echo "# a second key cannot sign the same repository"
expect_failure build repo lab other debs/ekvm-test-extra_1.0_all.deb
assert_match "another key" "^ekvm: $TEST_TMP/repo is signed with another key" "$out"
gpgconf --homedir key --kill gpg-agent 2>/dev/null || true
gpgconf --homedir other --kill gpg-agent 2>/dev/null || true
echo "ok: $(du -sh repo | cut -f1) repository, key $key"
