#!/usr/bin/env bash
# build-yum-repo.sh OUT URL KEY RPM...: a signed dnf/yum repository in OUT of the RPMs given and
# ekvm-release (the .repo file for base URL URL and the key, packaging/rpm/ekvm-release.spec):
#   OUT/packages/*.rpm                 each signed with KEY (rpmsign --addsign)
#   OUT/repodata/                      createrepo_c
#   OUT/repodata/repomd.xml.asc        repomd.xml signed (detached, armored): repo_gpgcheck=1
#   OUT/RPM-GPG-KEY-ekvm               the key's public part (armored), also in ekvm-release
# KEY is a GnuPG home folder or a key id of $GNUPGHOME, as scripts/build-repo.sh takes it. RHEL 8's
# rpm (4.14) verifies RSA signatures only: sign a repository for it with an RSA key (the
# throw-away key of scripts/make-signing-key.sh is ed25519, which rpm 4.16 and later verify).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 4 ] || usage "$0 OUT URL KEY RPM..."
out=$(realpath -m "$1") url=$2 key=$3
shift 3
[[ $url =~ ^(https?|file):/[^[:space:]|]+$ ]] || die "'$url' is not a repository URL (https://..., file:///...)"
for r in "$@"; do
	[ -f "$r" ] || die "no package $r"
	rpm -qp "$r" >/dev/null 2>&1 || die "$r is not an RPM package"
done
for cmd in createrepo_c rpmsign rpmbuild; do
	command -v "$cmd" >/dev/null || die "no $cmd (scripts/install-deps.sh -f packaging/deps.txt)"
done
signing_key "$key"
[ ! -d "$key" ] || trap 'gpgconf --homedir "$home" --kill gpg-agent 2>/dev/null || true' EXIT
version=$(makefile_var PKG_VERSION)

rm -rf "$out" && mkdir -p "$out/packages"
gpg --homedir "$home" --batch --quiet --armor --export "$fpr" >"$out/RPM-GPG-KEY-ekvm"
# ekvm-release: the .repo file and the key
top=$out/.rpmbuild
mkdir -p "$top/SOURCES"
cp "$out/RPM-GPG-KEY-ekvm" "$EKVM_TOP/packaging/rpm/ekvm.repo.in" "$top/SOURCES/"
rpmbuild -bb --nodeps --define "_topdir $top" --define "ekvm_version $version" \
	--define "repo_url $url" "$EKVM_TOP/packaging/rpm/ekvm-release.spec" >"$top/rpmbuild.log" 2>&1 ||
	{ tail -20 "$top/rpmbuild.log" >&2; die "rpmbuild of ekvm-release failed"; }
find "$top/RPMS" -name 'ekvm-release-*.rpm' -exec mv {} "$out/packages/" \;
rm -rf "$top"
cp "$@" "$out/packages/"
rpmlint -c "$EKVM_TOP/packaging/rpm/rpmlint.toml" "$out"/packages/ekvm-release-*.rpm >"$out/.rpmlint.log" 2>&1 ||
	{ cat "$out/.rpmlint.log" >&2; die "rpmlint found problems in ekvm-release"; }
rm -f "$out/.rpmlint.log"
# every package signed; rpmsign calls gpg with the home and key given
for r in "$out"/packages/*.rpm; do
	rpmsign --addsign --define "_gpg_name $fpr" --define "_gpg_path $home" --define "__gpg $(command -v gpg)" \
		"$r" >/dev/null 2>"$out/.rpmsign.log" || { cat "$out/.rpmsign.log" >&2; die "rpmsign could not sign $(basename "$r")"; }
done
rm -f "$out/.rpmsign.log"
createrepo_c --quiet "$out" >/dev/null || die "createrepo_c failed"
gpg --homedir "$home" --batch --quiet --local-user "$fpr" --armor --detach-sign \
	-o "$out/repodata/repomd.xml.asc" "$out/repodata/repomd.xml" || die "gpg could not sign repomd.xml"
info "yum repository $out: $(find "$out/packages" -name '*.rpm' | wc -l) packages, signed by $fpr"
