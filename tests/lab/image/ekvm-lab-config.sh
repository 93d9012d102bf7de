#!/usr/bin/env bash
# Runs at boot in a lab host (ekvm-lab-config.service, before the network, sshd and libvirtd):
# applies the host's identity from its config disk, an ext4 image the lab builds per host
# (tests/lab/lib/lab.sh). The disk holds:
#   hostname    the host's name (hv1...)
#   host-uuid   its UUID: /etc/machine-id (without dashes) and libvirt's host_uuid
#   root/       a tree copied over / (SSH host key, root's keys and known_hosts, /etc/hosts,
#               the systemd-networkd configuration of the lab address)
# The shared base image stays as built; each host writes only its own qcow2 overlay.
set -euo pipefail
dev=${1:?USAGE: ekvm-lab-config DEVICE}
mnt=/run/ekvm-lab-config
mkdir -p "$mnt"
mount -o ro "$dev" "$mnt"
trap 'umount "$mnt"' EXIT

name=$(cat "$mnt/hostname")
uuid=$(cat "$mnt/host-uuid")
cp -a "$mnt/root/." /
echo "$name" >/etc/hostname
hostname "$name"
# The kernel command line's systemd.machine_id= set the ID PID 1 uses; keep the file in step.
if ! mountpoint -q /etc/machine-id; then
	echo "${uuid//-/}" >/etc/machine-id
fi
# libvirt refuses to migrate between hosts with the same UUID
conf=/etc/libvirt/libvirtd.conf
sed -i '/^host_uuid[[:space:]]*=/d' "$conf"
echo "host_uuid = \"$uuid\"" >>"$conf"
echo "ekvm-lab: $name uuid $uuid"
