#!/usr/bin/env bash
# Install what ekvm needs to build and test, from Debian's archive. Idempotent: only missing
# packages are installed. Arguments are kernel releases whose headers to install.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ "${1:-}" = "-h" ] && usage "$0 [KVER...]"

pkgs=(
	# kernel module build
	build-essential bc bison flex libelf-dev libssl-dev kmod xz-utils
	# base import and the series
	dpkg-dev patch quilt git perl ca-certificates
	# checks
	shellcheck
)
for kver in "$@"; do
	pkgs+=("linux-headers-$kver")
done

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

[ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}): run as root or install them"
info "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; refresh them once per hour at most.
stamp=/var/lib/apt/periodic/ekvm-update-stamp
if [ -z "$(find "$stamp" -mmin -60 2>/dev/null)" ]; then
	apt-get update -qq
	mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
