#!/usr/bin/env bash
# Put Debian packages into a signed apt repository in OUT, as suite SUITE, component COMPONENT
# (default main), and export the signing key's public part as OUT/ekvm-archive-keyring.gpg
# (binary, for signed-by=). KEY is a GnuPG home folder (its first secret key signs) or a key id
# of $GNUPGHOME. Each call (re)writes one component of one suite and leaves the others, so one
# repository holds several suites and components:
#   dists/SUITE/COMPONENT/binary-amd64/Packages{,.gz}
#   dists/SUITE/{Release,InRelease,Release.gpg}    (hashes by apt-ftparchive, signed by KEY)
#   pool/SUITE/COMPONENT/<letter>/<source>/*.deb
# The pool is per suite: two suites may carry different builds under one file name (the lab's
# lab-broken holds a broken N+1 next to lab's good one), which a shared pool cannot hold.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

USAGE="$0 [-c COMPONENT] OUT SUITE KEY DEB..."
component=main
if [ "${1:-}" = -c ]; then
	[ $# -ge 2 ] || usage "$USAGE"
	component=$2
	shift 2
fi
[ $# -ge 4 ] || usage "$USAGE"
out=$(realpath -m "$1") suite=$2 key=$3
shift 3
name='^[a-z0-9][a-z0-9.+-]*$'
[[ $suite =~ $name ]] || die "not a suite name: '$suite'"
[[ $component =~ $name ]] || die "not a component name: '$component'"
for d in "$@"; do
	[ -f "$d" ] || die "no package $d"
	arch=$(dpkg-deb -f "$d" Architecture 2>/dev/null) || die "$d is not a Debian package"
	case "$arch" in amd64 | all) ;; *) die "$d is for $arch: the repository is amd64 only" ;; esac
done

# The signing key: its GnuPG home and fingerprint.
signing_key "$key"
[ ! -d "$key" ] || trap 'gpgconf --homedir "$home" --kill gpg-agent 2>/dev/null || true' EXIT
gpg_() { gpg --homedir "$home" --batch --quiet "$@"; }

# One keyring for the repository: every suite is signed by the same key.
keyring="$out/ekvm-archive-keyring.gpg"
mkdir -p "$out"
gpg_ --export "$fpr" >"$keyring.tmp"
if [ -f "$keyring" ] && ! cmp -s "$keyring" "$keyring.tmp"; then
	rm -f "$keyring.tmp"
	die "$out is signed with another key than $fpr ($keyring): sign it with that key or use a new folder"
fi
mv "$keyring.tmp" "$keyring"

# The packages of this suite's component, and its index.
pool="pool/$suite/$component" bin="dists/$suite/$component/binary-amd64"
rm -rf "${out:?}/$pool" "${out:?}/dists/$suite/$component"
mkdir -p "$out/$bin"
for d in "$@"; do
	src=$(dpkg-deb -f "$d" Source) pkg=$(dpkg-deb -f "$d" Package)
	src=${src%% *} src=${src:-$pkg}
	letter=${src:0:1}
	[[ $src != lib* ]] || letter=${src:0:4}
	dest="$out/$pool/$letter/$src"
	mkdir -p "$dest"
	[ ! -e "$dest/$(basename "$d")" ] || die "$(basename "$d") is given twice"
	cp "$d" "$dest/"
done
log="$out/.ftparchive.log"
(cd "$out" && apt-ftparchive packages "$pool") >"$out/$bin/Packages" 2>"$log" ||
	{ cat "$log" >&2; die "apt-ftparchive packages failed"; }
[ ! -s "$log" ] || { cat "$log" >&2; die "apt-ftparchive: warnings above"; }
rm -f "$log"
gzip -9nkf "$out/$bin/Packages"

# The suite's Release over every component it has, signed inline and detached.
dist="$out/dists/$suite"
components=$(find "$dist" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | LC_ALL=C sort | xargs)
rm -f "$dist/Release" "$dist/InRelease" "$dist/Release.gpg"
apt-ftparchive -o APT::FTPArchive::Release::Origin=ekvm -o APT::FTPArchive::Release::Label=ekvm \
	-o APT::FTPArchive::Release::Suite="$suite" -o APT::FTPArchive::Release::Codename="$suite" \
	-o APT::FTPArchive::Release::Architectures=amd64 \
	-o APT::FTPArchive::Release::Components="$components" \
	-o APT::FTPArchive::Release::Description="ekvm packages ($suite)" \
	release "$dist" >"$out/.Release.tmp"
mv "$out/.Release.tmp" "$dist/Release"
gpg_ --local-user "$fpr" --digest-algo SHA512 --clearsign -o "$dist/InRelease" "$dist/Release" ||
	die "gpg could not sign $dist/Release with $fpr"
gpg_ --local-user "$fpr" --digest-algo SHA512 --armor --detach-sign -o "$dist/Release.gpg" "$dist/Release" ||
	die "gpg could not sign $dist/Release with $fpr"
info "repository $out: suite $suite ($components), $component has $# packages, signed by $fpr"
