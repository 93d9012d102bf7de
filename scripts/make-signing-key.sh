#!/usr/bin/env bash
# Make a throw-away apt repository signing key in GnuPG home DIR (ed25519, no passphrase) and
# print its fingerprint; a DIR that already holds a secret key keeps it. For tests and the lab
# only: a real repository is signed with a key that never sits in build/ (docs/packages.md).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] || usage "$0 DIR"
home=$1
uid="ekvm lab signing key (throw-away) <maintainers@ekvm.invalid>"
[ ! -e "$home" ] || [ -d "$home" ] || die "$home is not a folder"
mkdir -p "$home" && chmod 0700 "$home"
# the agent gpg starts for this home goes away with it, whatever happens
trap 'gpgconf --homedir "$home" --kill gpg-agent 2>/dev/null || true' EXIT
fpr() {
	gpg --homedir "$home" --batch --with-colons --list-secret-keys 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }'
}
if [ -z "$(fpr)" ]; then
	gpg --homedir "$home" --batch --quiet --pinentry-mode loopback --passphrase '' \
		--quick-generate-key "$uid" ed25519 sign never 2>/dev/null ||
		die "gpg could not make a key in $home"
	info "made a throw-away signing key in $home"
fi
fpr
