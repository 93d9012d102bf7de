#!/usr/bin/env bash
# DKMS build time on a kernel update: with ekvm-dkms installed, the time from `apt-get install
# linux-headers-KVER` to ekvm's modules installed for KVER (what a host sees when a new kernel
# arrives). Installs the package and the headers, measures, then puts the machine back (headers
# of KVER that were installed before are removed first and installed again after). Root only.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || usage "$0 DEB_FOLDER KVER"
debs=$(realpath "$1") kver=$2 pkgver="$(makefile_var BASE_VERSION_6.1).$(makefile_var EKVM_RELEASE)"
[ "$(id -u)" -eq 0 ] || die "the DKMS benchmark installs packages: run it as root"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
apt_q() { apt-get -y -q -o Dpkg::Use-Pty=0 --no-install-recommends "$@" >"$log" 2>&1 || { tail -5 "$log" >&2; return 1; }; }
installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'
}
# Removes those of the packages named that are installed.
purge() {
	local p have=()
	for p in "$@"; do installed "$p" && have+=("$p"); done
	[ ${#have[@]} -eq 0 ] || apt_q purge "${have[@]}"
}
had=no
installed "linux-headers-$kver" && had=yes
restore() {
	purge ekvm-tools ekvm-dkms "linux-headers-$kver" "linux-headers-${kver%-amd64}-common"
	[ "$had" = no ] || apt_q install "linux-headers-$kver"
}
trap restore EXIT
purge ekvm-tools ekvm-dkms "linux-headers-$kver" "linux-headers-${kver%-amd64}-common"
apt_q install "$debs/ekvm-dkms_${pkgver}_all.deb" || die "cannot install ekvm-dkms"
apt-get -y -q --download-only install "linux-headers-$kver" >/dev/null 2>&1
start=$(date +%s.%N)
apt_q install "linux-headers-$kver" || die "cannot install linux-headers-$kver"
took=$(echo "$(date +%s.%N) - $start" | bc)
[ -f "/lib/modules/$kver/updates/dkms/kvm-amd.ko" ] || die "no ekvm modules for $kver after the headers arrived"
printf 'DKMS on a kernel update (%s headers installed -> ekvm modules installed): %.1f s\n' "$kver" "$took"
