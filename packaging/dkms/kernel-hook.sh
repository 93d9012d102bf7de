#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ekvm-dkms kernel hook: build and install ekvm's KVM modules with DKMS for a kernel that was
# just installed (or whose headers were), when ekvm has KVM for that kernel's point release.
#   kernel-hook KVER      one kernel (what /etc/kernel/*postinst.d/ hooks pass)
#   kernel-hook --all     every kernel under /lib/modules (the package's postinst)
# It never fails: a kernel that gets no ekvm modules keeps its own KVM, and a kernel package must
# never fail to configure because of ekvm. DKMS's own autoinstall is off for ekvm (dkms.conf).
# Why a kernel got no ekvm modules (no tree for it, or its build failed) is said on one line and
# kept in /var/lib/ekvm-dkms/skipped/<kernel>, which `ekvm status` and `ekvm validate` show: that
# kernel runs stock KVM.
set -u

version=@EKVM_VERSION@
source=/usr/src/ekvm-$version
skipped=/var/lib/ekvm-dkms/skipped

# note KVER WHY: one line on stderr, kept for the tool
note() {
	echo "$2" >&2
	mkdir -p "$skipped" && echo "$2" >"$skipped/$1"
}

install_for() {
	local kver=$1 why
	[ -e "/lib/modules/$kver/build/include" ] || return 0
	# ekvm-select says why on one line when there is no tree for this kernel (nothing when the
	# kernel has no headers)
	if ! why=$(bash "$source/ekvm-select" "$kver" 2>&1 >/dev/null); then
		[ -z "$why" ] || note "$kver" "$why"
		return 0
	fi
	rm -f "$skipped/$kver"
	if dkms status -m ekvm -v "$version" -k "$kver" 2>/dev/null | grep -q ': installed'; then
		return 0
	fi
	if dkms install -m ekvm -v "$version" -k "$kver"; then
		echo "ekvm: kernel $kver now has ekvm $version's KVM modules"
	else
		note "$kver" "ekvm: building ekvm $version's KVM for kernel $kver failed (/var/lib/dkms/ekvm/$version/build/make.log); it keeps its own KVM"
	fi
}

[ -d "$source" ] || exit 0
command -v dkms >/dev/null || exit 0
# the source registered with DKMS (what dh_dkms's postinst did first): dkms add
if [ -z "$(dkms status -m ekvm -v "$version" 2>/dev/null)" ] &&
	! dkms add -m ekvm -v "$version" >/dev/null; then
	echo "ekvm: dkms add -m ekvm -v $version failed: no kernel gets ekvm's KVM" >&2
	exit 0
fi
case "${1:-}" in
--all)
	rm -rf "$skipped"
	for d in /lib/modules/*/; do
		install_for "$(basename "$d")"
	done
	;;
"") echo "usage: $0 KVER | --all" >&2 ;;
*) install_for "$1" ;;
esac
exit 0
