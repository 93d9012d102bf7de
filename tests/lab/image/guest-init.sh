#!/bin/sh
# /init of the lab's nested guest (busybox): a heartbeat on ttyS0 every half second, with the
# boot id (the same across live migrations, new after a reboot), a sequence number and the
# uptime. libvirt appends ttyS0 to a file on whichever host the guest runs.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t devtmpfs dev /dev
boot=$(cat /proc/sys/kernel/random/boot_id)
i=0
while :; do
	i=$((i + 1))
	read -r up _ </proc/uptime
	echo "ekvm-hb $boot $i $up" >/dev/ttyS0
	sleep 0.5
done
