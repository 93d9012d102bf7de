#!/usr/bin/env bash
# ekvm's signed dnf/yum repository (scripts/build-yum-repo.sh) as an EL host's dnf and rpm see it:
# make rpm's packages and ekvm-release in a repository signed with a throw-away key; rpm (a
# scratch database with the key imported) finds every package's signature good; dnf (Debian's,
# in an installroot, with the .repo file ekvm-release ships) verifies repomd.xml's signature
# (repo_gpgcheck=1), lists the packages and installs ekvm-release checking its signature
# (gpgcheck=1); a tampered repomd.xml is refused, and so is an unsigned package. The EL packages
# ekvm-tools needs (glibc, kmod-libs) are not reachable from here, so ekvm-tools itself is not
# installed by dnf: rpm-lifecycle.sh installs it with rpm.
set -euo pipefail
. "$(dirname "$0")/../lib-pkg.sh"

rpms=$EKVM_BUILD/rpm
mapfile -t pkgs < <(find "$rpms" -maxdepth 1 -name "ekvm-*-$PKGVER-*.rpm" -not -name 'ekvm-debug*' | sort)
[ ${#pkgs[@]} -eq 3 ] || fail "no RPMs of $PKGVER in $rpms: run make rpm first"
for cmd in createrepo_c dnf rpmsign; do
	command -v "$cmd" >/dev/null || fail "no $cmd (scripts/install-deps.sh -f packaging/deps.txt)"
done
repo=$TEST_TMP/yum key=$TEST_TMP/key
"$EKVM_TOP/scripts/make-signing-key.sh" "$key" >/dev/null
"$EKVM_TOP/scripts/build-yum-repo.sh" "$repo" "file://$repo" "$key" "${pkgs[@]}"

echo "# rpm: every package signed by the repository's key"
db=$TEST_TMP/rpmdb
rpm --dbpath "$db" --initdb
rpm --dbpath "$db" --import "$repo/RPM-GPG-KEY-ekvm"
for r in "$repo"/packages/*.rpm; do
	out=$(rpm --dbpath "$db" -K "$r" 2>&1) || fail "rpm -K $(basename "$r"): $out"
	[[ $out == *"digests signatures OK" ]] || fail "rpm -K $(basename "$r"): $out"
done
echo "$(find "$repo/packages" -name '*.rpm' | wc -l) packages: digests signatures OK"
cp "$repo/packages/ekvm-release-$PKGVER-1.noarch.rpm" "$TEST_TMP/unsigned.rpm"
rpmsign --delsign "$TEST_TMP/unsigned.rpm" >/dev/null
out=$(rpm --dbpath "$db" -K "$TEST_TMP/unsigned.rpm" 2>&1) || true
[[ $out != *"signatures OK"* ]] || fail "an unsigned package passes rpm -K: $out"

echo "# dnf: the repository as ekvm-release defines it"
mkdir -p "$TEST_TMP/release" "$TEST_TMP/repos.d" "$TEST_TMP/root"
(cd "$TEST_TMP/release" && rpm2cpio "$repo/packages/ekvm-release-$PKGVER-1.noarch.rpm" | cpio -idm --quiet)
assert_eq "ekvm.repo's baseurl" "baseurl=file://$repo" "$(grep '^baseurl=' "$TEST_TMP/release/etc/yum.repos.d/ekvm.repo")"
grep -qx 'repo_gpgcheck=1' "$TEST_TMP/release/etc/yum.repos.d/ekvm.repo" || fail "ekvm.repo does not check repomd's signature"
grep -qx 'gpgcheck=1' "$TEST_TMP/release/etc/yum.repos.d/ekvm.repo" || fail "ekvm.repo does not check package signatures"
# dnf skips a repository it cannot verify, and goes on, unless told not to
grep -qx 'skip_if_unavailable=False' "$TEST_TMP/release/etc/yum.repos.d/ekvm.repo" ||
	fail "ekvm.repo lets dnf skip it when its signature is bad"
# the key path of the .repo file is the installed one (/etc/pki/rpm-gpg/...): here, the unpacked
sed "s|^gpgkey=file://|gpgkey=file://$TEST_TMP/release|" "$TEST_TMP/release/etc/yum.repos.d/ekvm.repo" \
	>"$TEST_TMP/repos.d/ekvm.repo"
dnf_() {
	dnf -y -q --installroot="$TEST_TMP/root" --releasever=10 --setopt=reposdir="$TEST_TMP/repos.d" \
		--setopt=cachedir="$TEST_TMP/cache" --setopt=logdir="$TEST_TMP" --disablerepo='*' --enablerepo=ekvm "$@"
}
dnf_ makecache >"$TEST_TMP/makecache.log" 2>&1 || { cat "$TEST_TMP/makecache.log"; fail "dnf makecache failed"; }
got=$(dnf_ repoquery --qf '%{name}-%{version}' 2>/dev/null | sort | xargs)
assert_eq "dnf repoquery" "ekvm-dkms-$PKGVER ekvm-fleet-$PKGVER ekvm-release-$PKGVER ekvm-tools-$PKGVER" "$got"
dnf_ install ekvm-release >"$TEST_TMP/install.log" 2>&1 || { cat "$TEST_TMP/install.log"; fail "dnf install ekvm-release failed"; }
{ [ -f "$TEST_TMP/root/etc/yum.repos.d/ekvm.repo" ] && [ -f "$TEST_TMP/root/etc/pki/rpm-gpg/RPM-GPG-KEY-ekvm" ]; } ||
	fail "ekvm-release did not install its files in the installroot"
echo "dnf: repomd signature checked, 4 packages listed, ekvm-release installed with its signature checked"

echo "# a tampered repomd.xml"
echo "<!-- tampered -->" >>"$repo/repodata/repomd.xml"
rm -rf "$TEST_TMP/cache"
if dnf_ makecache >"$TEST_TMP/tampered.log" 2>&1; then
	fail "dnf accepted a tampered repomd.xml: $(tail -3 "$TEST_TMP/tampered.log")"
fi
grep -m1 "repomd.xml GPG signature verification error: Bad GPG signature" "$TEST_TMP/tampered.log" ||
	fail "dnf failed, but not on the signature: $(tail -3 "$TEST_TMP/tampered.log")"
echo "refused"
