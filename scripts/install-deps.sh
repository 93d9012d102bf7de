#!/usr/bin/env bash
# Install what ekvm needs from Debian's archive. Idempotent: only missing packages are installed.
#   install-deps.sh [-f LIST]... [KVER]...
# LIST is a file of package names, one a line (# comments); KVER installs that kernel's headers.
# Without -f, scripts/deps/build.txt is used. Headers that depend on their kernel's image (Debian
# 12's 6.12 headers) are installed without it (headers_noimage_deb in scripts/lib.sh): this
# machine builds for kernels, it never gets another kernel image.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lists=() pkgs=()
while [ $# -gt 0 ]; do
	case "$1" in
	-f) [ $# -ge 2 ] || usage "$0 [-f LIST]... [KVER]..."; lists+=("$2"); shift 2 ;;
	-*) usage "$0 [-f LIST]... [KVER]..." ;;
	*) pkgs+=("linux-headers-$1"); shift ;;
	esac
done
[ ${#lists[@]} -gt 0 ] || lists=("$EKVM_TOP/scripts/deps/build.txt")
for l in "${lists[@]}"; do
	[ -f "$l" ] || die "no package list $l"
	mapfile -t -O ${#pkgs[@]} pkgs < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$l")
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
# A fresh machine has no package lists yet; refresh them once an hour at most.
stamp=/var/lib/apt/periodic/ekvm-update-stamp
if [ -z "$(find "$stamp" -mmin -60 2>/dev/null)" ]; then
	apt-get update -qq -o DPkg::Lock::Timeout=600
	mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
for i in "${!missing[@]}"; do
	p=${missing[$i]}
	[[ $p == linux-headers-* ]] || continue
	deps=$(apt-cache show --no-all-versions "$p" 2>/dev/null | sed -n 's/^Depends: //p' | head -1)
	[[ $deps != *linux-image-* ]] || missing[i]=$(headers_noimage_deb "$p")
done
# (another apt may run at the same time, e.g. a parallel make: wait for its lock)
apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
