#!/usr/bin/env bash
# build-keyring-deb.sh OUT VERSION KEY: the package ekvm-archive-keyring_VERSION_all.deb in OUT,
# holding the public part of the repository signing key KEY (a GnuPG home folder or a key id of
# $GNUPGHOME, as scripts/build-repo.sh takes it) as /usr/share/keyrings/ekvm-archive-keyring.gpg,
# the file a sources entry names in Signed-By:. Built with dpkg-buildpackage from
# packaging/keyring/debian and checked with lintian.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 3 ] || usage "$0 OUT VERSION KEY"
out=$(realpath -m "$1") version=$2 key=$3
[[ $version =~ ^[0-9][0-9A-Za-z.+~-]*$ ]] || die "'$version' is not a package version"
signing_key "$key"
[ ! -d "$key" ] || trap 'gpgconf --homedir "$home" --kill gpg-agent 2>/dev/null || true' EXIT
stage="$out/ekvm-archive-keyring-$version"
rm -rf "$stage" && mkdir -p "$stage"
cp -a "$EKVM_TOP/packaging/keyring/debian" "$stage/debian"
gpg --homedir "$home" --batch --quiet --export "$fpr" >"$stage/ekvm-archive-keyring.gpg"
[ -s "$stage/ekvm-archive-keyring.gpg" ] || die "gpg exported nothing for $fpr"
cat >"$stage/debian/changelog" <<EOT
ekvm-archive-keyring ($version) unstable; urgency=medium

  * The ekvm repository's signing key, $fpr.

 -- ekvm maintainers <maintainers@ekvm.invalid>  $(git -C "$EKVM_TOP" log -1 --format=%cD 2>/dev/null || date -R)
EOT
rm -f "$out"/ekvm-archive-keyring_"$version"_all.deb
deb_build "$stage" "$out/ekvm-archive-keyring-$version.build.log" "$out/ekvm-archive-keyring_${version}_all.deb"
rm -f "$out"/ekvm-archive-keyring_"$version"_amd64.buildinfo "$out"/ekvm-archive-keyring_"$version"_amd64.changes
info "built ekvm-archive-keyring_${version}_all.deb (key $fpr)"
