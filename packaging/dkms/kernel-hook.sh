#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ekvm-dkms kernel hook: build and install ekvm's KVM modules with DKMS for a kernel that was
# just installed (or whose headers were), when ekvm has KVM for that kernel's point release.
#   kernel-hook KVER      one kernel (what /etc/kernel/*postinst.d/ hooks pass)
#   kernel-hook --all     every kernel under /lib/modules (the package's postinst)
# It never fails: a kernel that gets no ekvm modules keeps its own KVM, and a kernel package must
# never fail to configure because of ekvm. DKMS's own autoinstall is off for ekvm (dkms.conf).
set -u

version=@EKVM_VERSION@
source=/usr/src/ekvm-$version

install_for() {
	local kver=$1
	[ -e "/lib/modules/$kver/build/include" ] || return 0
	# ekvm-select prints why on one line when there is no tree for this kernel
	bash "$source/ekvm-select" "$kver" >/dev/null || return 0
	if dkms status -m ekvm -v "$version" -k "$kver" 2>/dev/null | grep -q ': installed'; then
		return 0
	fi
	if dkms install -m ekvm -v "$version" -k "$kver"; then
		echo "ekvm: kernel $kver now has ekvm $version's KVM modules"
	else
		echo "ekvm: building ekvm $version's KVM for kernel $kver failed" \
			"(/var/lib/dkms/ekvm/$version/build/make.log); it keeps its own KVM" >&2
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
	for d in /lib/modules/*/; do
		install_for "$(basename "$d")"
	done
	;;
"") echo "usage: $0 KVER | --all" >&2 ;;
*) install_for "$1" ;;
esac
exit 0
