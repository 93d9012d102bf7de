#!/usr/bin/env bash
# Build (or reuse) the disk image of the lab's hypervisor hosts: Debian 12 from Debian's archive
# (debootstrap, the mirror of /etc/apt/sources.list*), systemd, sshd, libvirtd with QEMU, DKMS
# and Debian's kernel BASE_KVER_6.1 (the top Makefile) with its initramfs made in the chroot.
#   image.sh        prints the image's folder: build/lab/image/<hash>/
# <hash> covers everything that defines the image (this script, tests/lab/image/*, the kernel
# version, the mirror, the busybox of the nested guest): an unchanged definition reuses the
# cached image, a changed one builds a new one (and the older images are deleted).
# The folder holds base.qcow2 (ext4 root, no partition table: root=/dev/vda), vmlinuz and
# initrd.img (for -kernel/-initrd), packages.txt (what got installed) and build.log.
# Hosts boot qcow2 overlays of base.qcow2 and never change it.
# No loop mounts: the root is a folder turned into ext4 by mkfs.ext4 -d. The chroot's mounts
# (proc, sys, dev, the package cache) live in a private mount and PID namespace (unshare) that
# disappears with the build, also when it fails or is interrupted.
set -euo pipefail
. "$(dirname "$0")/../../../scripts/lib.sh"

LAB_IMAGE_DEF=$EKVM_TOP/tests/lab/image
USAGE="$0"

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
}

if [ "${1:-}" = --stage2 ]; then
	# internal: run by this script under unshare
	shift
	build_root "$@"
	exit 0
fi
[ $# -eq 0 ] || usage "$USAGE"
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

hash=$({
	cat "$0"
	for f in "$LAB_IMAGE_DEF"/*; do echo "== $(basename "$f")"; cat "$f"; done
	echo "$kver $debver $mirror $security"
	sha256sum <"$(command -v busybox)"
} | sha256sum | cut -c1-16)
images=$EKVM_BUILD/lab/image
out=$images/$hash
if [ -f "$out/.done" ]; then
	echo "$out"
	exit 0
fi
# one build at a time (two labs starting together): the second waits, then finds it done
mkdir -p "$images"
exec 9>"$images/.lock"
flock 9
if [ -f "$out/.done" ]; then
	echo "$out"
	exit 0
fi

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
