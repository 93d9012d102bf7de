#!/usr/bin/env bash
# Build (or reuse) the disk image of the lab's hypervisor hosts: Debian 12 from Debian's archive
# (debootstrap, the mirror of /etc/apt/sources.list*), systemd, sshd, libvirtd with QEMU, DKMS
# and Debian's kernel BASE_KVER_6.1 (the top Makefile) with its initramfs made in the chroot.
#   image.sh                 prints the image's folder: build/lab/image/<hash>/
#   image.sh --dkms DEB      the DKMS variant: the image plus ekvm-dkms DEB (its version) installed
#                            by apt from the signed lab repository (EKVM_LAB_REPO, build/lab/repo:
#                            tests/lab/releases/build.sh), DKMS-built in a chroot at native speed
#                            for the image's kernel; prints build/lab/image/<hash>-dkms-<hash2>/
# <hash> covers everything that defines the image (this script, tests/lab/image/*, the kernel
# version, the mirror, the busybox of the nested guest): an unchanged definition reuses the
# cached image, a changed one builds a new one (and the older images are deleted).
# <hash2> is the deb's sha256: a new deb makes a new variant (the older variants are deleted).
# The folder holds base.qcow2 (ext4 root, no partition table: root=/dev/vda), vmlinuz and
# initrd.img (for -kernel/-initrd), packages.txt (what got installed) and build.log.
# Hosts boot qcow2 overlays of base.qcow2 and never change it.
# The base needs no loop mount: the root is a folder turned into ext4 by mkfs.ext4 -d. The
# variant is a raw copy of the base's root, loop-mounted. The chroot's mounts (the loop, proc,
# sys, dev, the package cache, the repository) live in a private mount and PID namespace
# (unshare) that disappears with the build, also when it fails or is interrupted.
# The images' apt sources are empty: the lab network has no Debian mirror, only the lab's repository.
set -euo pipefail
. "$(dirname "$0")/../../../scripts/lib.sh"

LAB_IMAGE_DEF=$EKVM_TOP/tests/lab/image
USAGE="$0 [--dkms EKVM-DKMS-DEB]"

# The archive's URIs as this machine's apt uses them (deb822 or one-line format).
apt_uri() {
	local suffix=$1 uri
	uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
		sed -n -e 's/^URIs:[[:space:]]*//p' -e 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?//p' |
		tr ' ' '\n' | grep -E "^https?://[^ ]*/$suffix/?\$" | head -1 || true)
	echo "${uri%/}"
}

# Stage 2, inside `unshare --mount --pid --fork`: debootstrap, install, configure ROOT.
build_root() {
	local root=$1 cache=$2 mirror=$3 security=$4 kver=$5 debver=$6 pkgs
	mapfile -t pkgs < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$LAB_IMAGE_DEF/packages.txt")
	mkdir -p "$cache/debootstrap" "$cache/apt/partial"
	info "debootstrap bookworm from $mirror"
	debootstrap --variant=minbase --cache-dir="$cache/debootstrap" bookworm "$root" "$mirror" >&2 ||
		die "debootstrap from $mirror failed"
	mount -t proc proc "$root/proc"
	mount -t sysfs sys "$root/sys"
	mount --rbind /dev "$root/dev"
	mount -t tmpfs tmpfs "$root/run"
	mount --bind "$cache/apt" "$root/var/cache/apt/archives"
	cat >"$root/etc/apt/sources.list" <<-EOF
		deb $mirror bookworm main
		deb $mirror bookworm-updates main
		deb $security bookworm-security main
	EOF
	# no daemon starts in the chroot
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	# The hosts' initramfs: only what mounts root=/dev/vda (virtio disk, ext4). MODULES=most
	# made it 30 MB and its udev loaded drivers for everything, seconds of TCG time per boot.
	mkdir -p "$root/etc/initramfs-tools/conf.d"
	echo 'MODULES=list' >"$root/etc/initramfs-tools/conf.d/ekvm-lab"
	printf '%s\n' virtio_pci virtio_blk ext4 >>"$root/etc/initramfs-tools/modules"
	info "installing ${#pkgs[@]} packages and linux-image-$kver $debver"
	chroot "$root" apt-get update -qq >&2 || die "apt-get update failed in the chroot"
	DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-unsafe-io "${pkgs[@]}" \
		"linux-image-$kver=$debver" "linux-headers-$kver=$debver" >&2 ||
		die "apt-get install failed in the chroot"
	[ -s "$root/boot/initrd.img-$kver" ] || die "no initramfs for $kver in the image"
	rm -f "$root/usr/sbin/policy-rc.d"
	# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
	chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' >"$root/../packages.txt"
}

# The image's own configuration (no mounts needed): the lab's files, services, cleanups.
configure_root() {
	local root=$1 kver=$2 g=$1/var/lib/ekvm-lab/guest initrd_root
	echo '/dev/vda / ext4 rw,errors=remount-ro 0 0' >"$root/etc/fstab"
	install -m 755 "$LAB_IMAGE_DEF/ekvm-lab-config.sh" "$root/usr/local/sbin/ekvm-lab-config"
	install -m 644 "$LAB_IMAGE_DEF/ekvm-lab-config.service" "$root/etc/systemd/system/"
	chroot "$root" systemctl enable -q ekvm-lab-config.service systemd-networkd.service
	# Nothing periodic or housekeeping in a lab host (apt has no archive to reach, the disks are
	# throwaway): every unit costs boot time on three TCG hosts sharing two cores.
	# libvirt-guests would suspend guests at shutdown; the lab kills its hosts.
	chroot "$root" systemctl mask -q apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
		e2scrub_all.timer e2scrub_reap.service fstrim.timer logrotate.timer \
		systemd-tmpfiles-clean.timer libvirt-guests.service getty@tty1.service
	# the host's console for debugging without a password prompt hanging anything: root has
	# no password (locked); SSH with the lab key only
	mkdir -p "$root/etc/ssh/sshd_config.d"
	cat >"$root/etc/ssh/sshd_config.d/ekvm-lab.conf" <<-EOF
		# ekvm lab: one host key from the config disk, keys only, no DNS lookups; no PAM
		# session (logind and a user manager per login cost a TCG host seconds per connection)
		HostKey /etc/ssh/ssh_host_ed25519_key
		PasswordAuthentication no
		UseDNS no
		UsePAM no
	EOF
	# per-host identity comes from the config disk: none of it in the base
	rm -f "$root"/etc/ssh/ssh_host_*
	: >"$root/etc/machine-id"
	rm -f "$root/var/lib/dbus/machine-id"
	# libvirt: no NAT network (no dnsmasq in the lab)
	rm -f "$root/etc/libvirt/qemu/networks/autostart/default.xml"
	# the nested guest: Debian's kernel (the host's own) and a busybox initramfs, at the same
	# path on every host; its console file in /var/log/ekvm-lab
	mkdir -p "$g" "$root/var/log/ekvm-lab"
	cp "$root/boot/vmlinuz-$kver" "$g/vmlinuz"
	initrd_root=$(mktemp -d "$root/../guest-root.XXXXXX")
	mkdir -p "$initrd_root/bin" "$initrd_root/dev" "$initrd_root/proc"
	cp "$(command -v busybox)" "$initrd_root/bin/busybox"
	ln -s busybox "$initrd_root/bin/sh"
	install -m 755 "$LAB_IMAGE_DEF/guest-init.sh" "$initrd_root/init"
	(cd "$initrd_root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$g/initrd.cpio"
	rm -rf "$initrd_root"
	chroot "$root" apt-get clean
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/tmp/* "$root/debootstrap"
	# no Debian archive on the lab network: a host's apt-get update only talks to the lab's
	# repository once the story adds it
	: >"$root/etc/apt/sources.list"
	rm -f "$root"/etc/apt/sources.list.d/*
}

# Stage 2 of the variant, inside `unshare --mount --pid --fork`: loop-mounts RAW (the base's
# root) at MNT, installs ekvm-dkms VERSION from REPO (DKMS builds it for KVER), checks it, leaves
# the root as the base has it (no sources, no lists), copies packages.txt and the boot files to OUT.
dkms_root() {
	local raw=$1 mnt=$2 repo=$3 version=$4 kver=$5 out=$6 ko got st t
	mkdir -p "$mnt"
	mount -o loop "$raw" "$mnt"
	mount -t proc proc "$mnt/proc"
	mount -t sysfs sys "$mnt/sys"
	mount --rbind /dev "$mnt/dev"
	mount -t tmpfs tmpfs "$mnt/run"
	mount -t tmpfs tmpfs "$mnt/tmp"
	mkdir "$mnt/tmp/repo"
	mount --bind -o ro "$repo" "$mnt/tmp/repo"
	# the repository and its key for this install only (both in the chroot's /tmp, a tmpfs)
	cp "$repo/ekvm-archive-keyring.gpg" "$mnt/tmp/ekvm-archive-keyring.gpg"
	echo "deb [signed-by=/tmp/ekvm-archive-keyring.gpg] file:/tmp/repo lab main" \
		>"$mnt/etc/apt/sources.list.d/ekvm-lab-build.list"
	printf '#!/bin/sh\nexit 101\n' >"$mnt/usr/sbin/policy-rc.d"
	chmod 755 "$mnt/usr/sbin/policy-rc.d"
	info "installing ekvm-dkms=$version from the lab repository (DKMS build for $kver)"
	t=$SECONDS
	chroot "$mnt" apt-get update -q >&2 || die "apt-get update from the lab repository failed"
	DEBIAN_FRONTEND=noninteractive chroot "$mnt" apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confold "ekvm-dkms=$version" >&2 ||
		die "apt-get install ekvm-dkms=$version failed in the chroot"
	info "ekvm-dkms installed and built in $((SECONDS - t)) s"
	rm -f "$mnt/usr/sbin/policy-rc.d" "$mnt/etc/apt/sources.list.d/ekvm-lab-build.list"
	# the package's hook never fails (a kernel keeps its own KVM): check what DKMS did
	st=$(chroot "$mnt" dkms status -m ekvm -v "$version" -k "$kver")
	info "dkms status: $st"
	grep -q ': installed' <<<"$st" || die "dkms status: ekvm $version is not installed for $kver"
	ko=$(module_file "$mnt/lib/modules/$kver/updates/dkms" kvm) ||
		die "no kvm.ko in /lib/modules/$kver/updates/dkms"
	got=$(chroot "$mnt" modinfo -F version "${ko#"$mnt"}")
	[ "$got" = "$version" ] || die "${ko#"$mnt"} reports version '$got', not $version"
	info "DKMS: ${ko#"$mnt"} version $got"
	chroot "$mnt" apt-get clean
	rm -rf "$mnt"/var/lib/apt/lists/*
	# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
	chroot "$mnt" dpkg-query -W -f '${Package} ${Version}\n' >"$out/packages.txt"
	cp "$mnt/boot/vmlinuz-$kver" "$out/vmlinuz"
	cp "$mnt/boot/initrd.img-$kver" "$out/initrd.img"
	if [ -s "$mnt/etc/apt/sources.list" ] || [ -n "$(ls -A "$mnt/etc/apt/sources.list.d")" ]; then
		die "the variant's apt sources are not empty"
	fi
	# explicitly: the loop device goes with the last unmount (autoclear)
	umount -R "$mnt"
}

# built OUT: prints OUT and succeeds when it is built (its .done); else takes the images' lock
# (one build at a time: a second lab starting meanwhile waits) and succeeds only if OUT was built
# while it waited. The lock is held until the script ends.
built() {
	if [ -f "$1/.done" ]; then
		echo "$1"
		return 0
	fi
	mkdir -p "$EKVM_BUILD/lab/image"
	exec 9>"$EKVM_BUILD/lab/image/.lock"
	flock 9
	[ -f "$1/.done" ] || return 1
	echo "$1"
}

# dkms_variant DEB KVER: builds (or reuses) the DKMS variant of the base image; prints its folder.
dkms_variant() {
	local deb=$1 kver=$2 repo=${EKVM_LAB_REPO:-$EKVM_BUILD/lab/repo} base version sum pkgsum
	local images=$EKVM_BUILD/lab/image name out tmp start old
	[ -f "$deb" ] || die "no such ekvm-dkms package: $deb"
	[ "$(dpkg-deb -f "$deb" Package 2>/dev/null)" = ekvm-dkms ] || die "not an ekvm-dkms package: $deb"
	version=$(dpkg-deb -f "$deb" Version)
	if [ ! -s "$repo/ekvm-archive-keyring.gpg" ] || [ ! -f "$repo/dists/lab/InRelease" ]; then
		die "no signed lab repository in $repo: run tests/lab/releases/build.sh first"
	fi
	sum=$(sha256sum <"$deb" | cut -d' ' -f1)
	# the repository must serve this very deb under its version
	pkgsum=$(awk -v v="$version" '/^Package:/ { p = $2 } /^Version:/ { ver = $2 }
		/^SHA256:/ && p == "ekvm-dkms" && ver == v { print $2 }' "$repo/dists/lab/main/binary-amd64/Packages")
	[ "$pkgsum" = "$sum" ] ||
		die "the lab repository's ekvm-dkms $version is not $deb (rebuild it: tests/lab/releases/build.sh)"
	base=$("$0") || die "no base image"
	name=$(basename "$base")-dkms-$(cut -c1-16 <<<"$sum")
	out=$images/$name
	! built "$out" || return 0
	tmp=$images/.$name.tmp
	# the namespace took its mounts along: never delete through one all the same
	# shellcheck disable=SC2064 # $tmp is fixed now
	trap "findmnt -rn -o TARGET | grep -q '^$tmp/' || rm -rf --one-file-system '$tmp'" EXIT
	trap 'exit 130' INT TERM HUP
	rm -rf --one-file-system "$tmp"
	mkdir -p "$tmp"
	start=$SECONDS
	info "building the DKMS variant $name: ekvm-dkms $version (log in $tmp/build.log)"
	qemu-img convert -O raw "$base/base.qcow2" "$tmp/root.raw" || die "qemu-img convert of the base failed"
	info "raw copy of the base in $((SECONDS - start)) s"
	if ! unshare --mount --pid --fork --propagation private -- \
		"$0" --stage2-dkms "$tmp/root.raw" "$tmp/mnt" "$repo" "$version" "$kver" "$tmp" \
		>"$tmp/build.log" 2>&1; then
		cp "$tmp/build.log" "$EKVM_BUILD/lab/image-failed.log"
		old=$(grep '^ekvm: ' "$tmp/build.log" | tail -1 || true)
		die "DKMS variant build failed: ${old#ekvm: } (log: $EKVM_BUILD/lab/image-failed.log)"
	fi
	rmdir "$tmp/mnt"
	info "$(grep -h 'installed and built in' "$tmp/build.log" | sed 's/^ekvm: //'), chroot done at $((SECONDS - start)) s"
	qemu-img convert -O qcow2 "$tmp/root.raw" "$tmp/base.qcow2" || die "qemu-img convert failed"
	rm -f "$tmp/root.raw"
	echo "$name" >"$tmp/.done"
	# one variant at a time on disk (a new base already deleted the older base's)
	for old in "$images/$(basename "$base")"-dkms-*; do
		[ "$old" = "$out" ] || rm -rf --one-file-system "$old"
	done
	mv "$tmp" "$out"
	info "DKMS variant $name built in $((SECONDS - start)) s: $(du -sh "$out/base.qcow2" | cut -f1) ($out)"
	echo "$out"
}

if [ "${1:-}" = --stage2 ]; then
	# internal: run by this script under unshare
	shift
	build_root "$@"
	exit 0
fi
if [ "${1:-}" = --stage2-dkms ]; then
	shift
	dkms_root "$@"
	exit 0
fi
dkms_deb=
if [ "${1:-}" = --dkms ]; then
	[ $# -eq 2 ] || usage "$USAGE"
	dkms_deb=$2
elif [ $# -ne 0 ]; then
	usage "$USAGE"
fi
[ "$(id -u)" -eq 0 ] || die "the lab image needs root (debootstrap, chroot)"
for cmd in debootstrap mkfs.ext4 qemu-img busybox cpio unshare; do
	command -v "$cmd" >/dev/null || die "no $cmd: scripts/install-deps.sh -f tests/lab/deps.txt"
done

kver=$(makefile_var BASE_KVER_6.1)
debver=$(makefile_var BASE_DEBVER_6.1)
mirror=${EKVM_LAB_MIRROR:-$(apt_uri debian)}
security=${EKVM_LAB_SECURITY_MIRROR:-$(apt_uri debian-security)}
[ -n "$mirror" ] || die "no Debian mirror (…/debian) in /etc/apt/sources.list*: set EKVM_LAB_MIRROR"
[ -n "$security" ] || die "no security mirror (…/debian-security) in /etc/apt/sources.list*: set EKVM_LAB_SECURITY_MIRROR"
for f in packages.txt ekvm-lab-config.sh ekvm-lab-config.service guest-init.sh; do
	[ -f "$LAB_IMAGE_DEF/$f" ] || die "missing $LAB_IMAGE_DEF/$f"
done

if [ -n "$dkms_deb" ]; then
	dkms_variant "$dkms_deb" "$kver"
	exit 0
fi

hash=$({
	cat "$0"
	for f in "$LAB_IMAGE_DEF"/*; do echo "== $(basename "$f")"; cat "$f"; done
	echo "$kver $debver $mirror $security"
	sha256sum <"$(command -v busybox)"
} | sha256sum | cut -c1-16)
images=$EKVM_BUILD/lab/image
out=$images/$hash
! built "$out" || exit 0

tmp=$images/.$hash.tmp
cleanup() {
	# unshare's namespaces are gone once it returned: nothing can be mounted under $tmp, but
	# never delete through a mount
	if findmnt -rn -o TARGET | grep -q "^$tmp/"; then
		info "mounts left under $tmp: not deleting it"
	else
		rm -rf --one-file-system "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
rm -rf --one-file-system "$tmp"
mkdir -p "$tmp"
start=$SECONDS
info "building the lab image $hash (a few minutes; log in $tmp/build.log)"
if ! unshare --mount --pid --fork --propagation private -- \
	"$0" --stage2 "$tmp/root" "$EKVM_BUILD/lab/cache" "$mirror" "$security" "$kver" "$debver" \
	>"$tmp/build.log" 2>&1; then
	# the log outlives the partial build, which the EXIT trap deletes
	cp "$tmp/build.log" "$EKVM_BUILD/lab/image-failed.log"
	last=$(grep '^ekvm: ' "$tmp/build.log" | tail -1 || true)
	die "lab image build failed: ${last#ekvm: } (log: $EKVM_BUILD/lab/image-failed.log)"
fi
if ! configure_root "$tmp/root" "$kver" >>"$tmp/build.log" 2>&1; then
	cp "$tmp/build.log" "$EKVM_BUILD/lab/image-failed.log"
	die "configuring the lab image failed (log: $EKVM_BUILD/lab/image-failed.log)"
fi
cp "$tmp/root/boot/vmlinuz-$kver" "$tmp/vmlinuz"
cp "$tmp/root/boot/initrd.img-$kver" "$tmp/initrd.img"
# room for DKMS builds and packages in each host: the ext4 file is sparse, the qcow2 holds
# only what is written
size_mib=$(($(du -sm "$tmp/root" | cut -f1) + 3072))
mkfs.ext4 -q -L ekvm-lab-root -d "$tmp/root" "$tmp/root.ext4" "${size_mib}M" >>"$tmp/build.log" 2>&1 ||
	die "mkfs.ext4 -d failed: $(tail -1 "$tmp/build.log")"
rm -rf --one-file-system "$tmp/root"
qemu-img convert -O qcow2 "$tmp/root.ext4" "$tmp/base.qcow2" || die "qemu-img convert failed"
rm -f "$tmp/root.ext4"
echo "$hash" >"$tmp/.done"
# one image at a time on disk: the older ones go (a lab still running on one keeps its files
# open until it stops)
for old in "$images"/*; do
	[ "$old" = "$images/$hash" ] || rm -rf --one-file-system "$old"
done
mv "$tmp" "$out"
info "lab image $hash built in $((SECONDS - start)) s: $(du -sh "$out/base.qcow2" | cut -f1) ($out)"
echo "$out"
