# shellcheck shell=bash
# The three-host lab (make lab-test): three Debian 12 hypervisor hosts, each a QEMU TCG VM with
# an SVM-capable CPU (-cpu EPYC, so that Debian's kvm_amd loads in it and runs nested guests),
# booting Debian's kernel BASE_KVER_6.1 and a full Debian userspace (systemd, sshd, libvirtd)
# from the image tests/lab/lib/image.sh builds. Sourced by the tests in tests/lab/cases/.
#
# Network: one network namespace ($LAB_NS, ekl<pid>) holds a bridge br0 with the controller's
# address 10.252.0.254/24 and one tap per host; the QEMUs run in it, so nothing the hosts send
# leaves the namespace. Hosts hv1..hv3 are 10.252.0.1..3 (systemd-networkd, static).
# Identity: each host gets a tiny ext4 config disk (/dev/vdb, mkfs.ext4 -d, no mount) that the
# image's ekvm-lab-config.service applies before the network, sshd and libvirtd start: hostname,
# machine-id and libvirt's host_uuid, its SSH host key, root's authorized_keys (the lab key), the
# lab key itself and known_hosts of every host (so that a host's libvirtd reaches the others over
# qemu+ssh for peer-to-peer migration), /etc/hosts (hv1..hv3, ctl). The kernel command line
# carries the machine-id and hostname too (systemd.machine_id=, systemd.hostname=), for PID 1.
# Controller: lab_ctl runs a command in the namespace with root's home (/etc/passwd) and
# /etc/hosts replaced in a private mount namespace by the lab's own ($LAB/ctl): ssh there uses
# the lab key, a known_hosts the lab wrote from the host keys it generated, and a shared
# connection per host (ControlMaster). So plain qemu+ssh://root@10.252.0.N/system URIs work.
# lab_down (the EXIT trap of lab_up) kills every process in the namespace (the QEMUs, ssh
# masters) and deletes it with its bridge and taps; the lab mounts nothing outside
# short-lived private mount namespaces.
. "$(dirname "${BASH_SOURCE[0]}")/../../lib.sh"

LAB_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB=$EKVM_BUILD/lab/run/$(basename "$0" .sh)
LAB_NS=ekl$(($$ % 100000))
LAB_HOSTS=(hv1 hv2 hv3)
LAB_NET=10.252.0
LAB_CTL_IP=$LAB_NET.254
# per host: memory (MiB) and vCPUs; the machine has 2 cores and other work runs beside the lab
LAB_MEM=${EKVM_LAB_MEM:-1792}
LAB_SMP=${EKVM_LAB_SMP:-1}
# seconds a host may take from QEMU start to answering SSH and libvirt
LAB_BOOT_TIMEOUT=${EKVM_LAB_BOOT_TIMEOUT:-600}
# the controller's SSH key, kept across runs (build/lab/ssh/)
LAB_KEY=$EKVM_BUILD/lab/ssh/id_ed25519
# the nested guests' files in every host (tests/lab/lib/image.sh puts them there)
LAB_GUEST_DIR=/var/lib/ekvm-lab/guest
LAB_GUEST_LOGS=/var/log/ekvm-lab
LAB_GUEST_MIB=${EKVM_LAB_GUEST_MIB:-128}
# per host, set by a case before lab_up: the image it boots. "base" (the default) or "dkms": the
# base plus ekvm-dkms $LAB_IMAGE_DKMS_DEB (default: release N's from tests/lab/releases/build.sh,
# which the case runs first) installed and DKMS-built in the image (image.sh --dkms)
declare -gA LAB_IMAGE_VARIANT=()
LAB_IMAGE_DKMS_DEB=${LAB_IMAGE_DKMS_DEB:-}

lab_n() { echo "${1#hv}"; }
lab_ip() { echo "$LAB_NET.$(lab_n "$1")"; }
lab_mac() { printf '52:54:00:fc:00:%02x' "$(lab_n "$1")"; }
lab_uuid() { printf '6c61622d-6876-4000-8000-%012d' "$(lab_n "$1")"; }
lab_uri() { echo "qemu+ssh://root@$(lab_ip "$1")/system"; }

# lab_ctl CMD...: runs CMD as the lab's controller (in the namespace, lab home and hosts file).
lab_ctl() {
	# shellcheck disable=SC2016 # expanded by the inner sh
	ip netns exec "$LAB_NS" unshare --mount --propagation private -- sh -c \
		'mount --bind "$0/passwd" /etc/passwd && mount --bind "$0/hosts" /etc/hosts && exec "$@"' \
		"$LAB/ctl" "$@"
}

# lab_ssh HOST CMD...: CMD as root on HOST.
lab_ssh() {
	local h=$1
	shift
	lab_ctl ssh "root@$(lab_ip "$h")" -- "$@"
}

# lab_virsh HOST ARGS...: virsh on HOST's libvirtd over qemu+ssh.
lab_virsh() {
	local h=$1
	shift
	lab_ctl virsh -q -c "$(lab_uri "$h")" "$@"
}

lab_down() {
	local pids all='' p
	if ip netns list | grep -qw "^$LAB_NS"; then
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			pids=$(ip netns pids "$LAB_NS")
			[ -n "$pids" ] || break
			all+=" $pids"
			# shellcheck disable=SC2086 # one pid a word
			kill -9 $pids 2>/dev/null || true
			sleep 0.3
		done
		ip netns del "$LAB_NS" || true
	fi
	# a killed QEMU takes a moment to give its memory back and go: wait until it has
	for p in $all; do
		for _ in $(seq 1 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.2
		done
	done
	return 0
}

# The lab key and the controller's home: known_hosts from the host keys lab_up generated.
lab_controller() {
	local c=$LAB/ctl h
	if [ ! -s "$LAB_KEY" ]; then
		mkdir -p "$(dirname "$LAB_KEY")"
		ssh-keygen -q -t ed25519 -N '' -C ekvm-lab-controller -f "$LAB_KEY"
	fi
	mkdir -p "$c/home/.ssh"
	chmod 700 "$c/home" "$c/home/.ssh"
	install -m 600 "$LAB_KEY" "$c/home/.ssh/id_ed25519"
	install -m 644 "$LAB_KEY.pub" "$c/home/.ssh/id_ed25519.pub"
	# one SSH connection per host, shared by every ssh and virsh call of the run (a handshake
	# costs the TCG hosts a second or so)
	printf '%s\n' 'Host *' 'User root' 'IdentityFile ~/.ssh/id_ed25519' 'IdentitiesOnly yes' \
		'UserKnownHostsFile ~/.ssh/known_hosts' 'StrictHostKeyChecking yes' 'BatchMode yes' \
		'ConnectTimeout 10' 'ServerAliveInterval 5' 'ServerAliveCountMax 6' \
		'ControlMaster auto' 'ControlPath ~/.ssh/cm-%h' 'ControlPersist 600' >"$c/home/.ssh/config"
	for h in "${LAB_HOSTS[@]}"; do
		echo "$h,$(lab_ip "$h") $(cut -d' ' -f1-2 "$LAB/$h/ssh_host_ed25519_key.pub")"
	done >"$c/home/.ssh/known_hosts"
	sed "s#^\(root:[^:]*:0:0:[^:]*:\)[^:]*:#\1$c/home:#" /etc/passwd >"$c/passwd"
	lab_hosts_file >"$c/hosts"
}

lab_hosts_file() {
	local h
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
	printf '%s\tctl\n' "$LAB_CTL_IP"
	for h in "${LAB_HOSTS[@]}"; do printf '%s\t%s\n' "$(lab_ip "$h")" "$h"; done
}

# lab_config_disk HOST: $LAB/HOST/config.ext4, read by the image's ekvm-lab-config.service.
lab_config_disk() {
	local h=$1 d=$LAB/$1 t=$LAB/$1/config
	rm -rf "$t" && mkdir -p "$t/root/etc/ssh" "$t/root/etc/systemd/network" "$t/root/root/.ssh"
	echo "$h" >"$t/hostname"
	lab_uuid "$h" >"$t/host-uuid"
	install -m 600 "$d/ssh_host_ed25519_key" "$t/root/etc/ssh/"
	install -m 644 "$d/ssh_host_ed25519_key.pub" "$t/root/etc/ssh/"
	lab_hosts_file >"$t/root/etc/hosts"
	cat >"$t/root/etc/systemd/network/10-ekvm-lab.network" <<-EOF
		[Match]
		MACAddress=$(lab_mac "$h")

		[Network]
		Address=$(lab_ip "$h")/24
		LinkLocalAddressing=no
		IPv6AcceptRA=no
	EOF
	chmod 700 "$t/root/root" "$t/root/root/.ssh"
	install -m 600 "$LAB_KEY.pub" "$t/root/root/.ssh/authorized_keys"
	# host to host (libvirt's peer-to-peer migration, qemu+ssh): the lab key and every host key
	install -m 600 "$LAB_KEY" "$t/root/root/.ssh/id_ed25519"
	install -m 644 "$LAB/ctl/home/.ssh/known_hosts" "$t/root/root/.ssh/known_hosts"
	printf 'Host *\n\tBatchMode yes\n\tStrictHostKeyChecking yes\n\tConnectTimeout 10\n' >"$t/root/root/.ssh/config"
	mkfs.ext4 -q -L ekvm-lab-cfg -d "$t" "$d/config.ext4" 8M >/dev/null
}

# lab_boot HOST IMAGE-DIR: the host's disk (an overlay on the image), its tap, its first boot.
lab_boot() {
	local h=$1 img=$2 d=$LAB/$1 tap=lab-$1
	qemu-img create -q -f qcow2 -b "$img/base.qcow2" -F qcow2 "$d/disk.qcow2"
	ip -n "$LAB_NS" tuntap add dev "$tap" mode tap
	ip -n "$LAB_NS" link set "$tap" master br0 up
	rm -f "$d/console.log"
	lab_qemu "$h" "$img"
}

# lab_qemu HOST IMAGE-DIR: starts the host's QEMU (daemonized, in the namespace) on the disk and
# tap lab_boot made; the console log is appended to across boots.
lab_qemu() {
	local h=$1 img=$2 d=$LAB/$1 tap=lab-$1 uuid
	uuid=$(lab_uuid "$h")
	# cache=unsafe: the overlay is thrown away with the run, and this machine's disk is never
	# synced; a guest's flush still writes QEMU's qcow2 metadata out to this machine's page cache,
	# so a killed QEMU (lab_kill) is a power cut for the host: what it flushed survives.
	# tsc=reliable as tests/vm/boot.sh
	ip netns exec "$LAB_NS" qemu-system-x86_64 -name "$h" \
		-accel tcg,thread=single -cpu EPYC -smp "$LAB_SMP" -m "$LAB_MEM" -uuid "$uuid" \
		-nodefaults -display none -monitor none \
		-chardev "file,id=con0,path=$d/console.log,append=on" -serial chardev:con0 \
		-kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
		-append "root=/dev/vda rw console=ttyS0 loglevel=4 tsc=reliable systemd.hostname=$h systemd.machine_id=${uuid//-/} systemd.firstboot=off" \
		-drive "file=$d/disk.qcow2,if=none,id=root,format=qcow2,cache=unsafe" \
		-device virtio-blk-pci,drive=root,addr=0x4 \
		-drive "file=$d/config.ext4,if=none,id=cfg,format=raw,readonly=on" \
		-device virtio-blk-pci,drive=cfg,addr=0x5 \
		-netdev "tap,id=net0,ifname=$tap,script=no,downscript=no" \
		-device "virtio-net-pci,netdev=net0,mac=$(lab_mac "$h"),addr=0x3" \
		-object rng-random,filename=/dev/urandom,id=rng0 -device virtio-rng-pci,rng=rng0 \
		-pidfile "$d/qemu.pid" -daemonize 2>"$d/qemu.log" ||
		fail "QEMU of $h did not start: $(tail -1 "$d/qemu.log")"
	date +%s >"$d/started"
}

# lab_up: the image (built or cached), the network, three booting hosts. The EXIT trap takes
# everything down again.
lab_up() {
	local h img
	[ "$(id -u)" -eq 0 ] || skip "the lab needs root (network namespace, taps, debootstrap)"
	trap lab_down EXIT
	trap 'exit 130' INT TERM HUP # the EXIT trap still runs
	img=$("$LAB_LIB/image.sh") || fail "no lab image"
	lab_images "$img"
	lab_reap_stale
	# shellcheck disable=SC2034 # for the cases: the base image folder (LAB_IMAGE_OF[HOST]: each host's)
	LAB_IMAGE=$img
	rm -rf "$LAB" && mkdir -p "$LAB"
	for h in "${LAB_HOSTS[@]}"; do
		mkdir -p "$LAB/$h"
		ssh-keygen -q -t ed25519 -N '' -C "root@$h" -f "$LAB/$h/ssh_host_ed25519_key"
	done
	lab_controller
	for h in "${LAB_HOSTS[@]}"; do lab_config_disk "$h"; done
	ip netns add "$LAB_NS"
	ip -n "$LAB_NS" link set lo up
	ip -n "$LAB_NS" link add br0 type bridge
	ip -n "$LAB_NS" addr add "$LAB_CTL_IP/24" dev br0
	ip -n "$LAB_NS" link set br0 up
	for h in "${LAB_HOSTS[@]}"; do lab_boot "$h" "${LAB_IMAGE_OF[$h]}"; done
}

# lab_images BASE: LAB_IMAGE_OF[HOST], the image folder each host boots, from LAB_IMAGE_VARIANT
# (the DKMS variant built or cached).
declare -gA LAB_IMAGE_OF=()
lab_images() {
	local base=$1 h v dkms="" n
	for h in "${!LAB_IMAGE_VARIANT[@]}"; do
		[[ " ${LAB_HOSTS[*]} " == *" $h "* ]] || fail "LAB_IMAGE_VARIANT: no host $h"
	done
	for h in "${LAB_HOSTS[@]}"; do
		v=${LAB_IMAGE_VARIANT[$h]:-base}
		case "$v" in
		base) LAB_IMAGE_OF[$h]=$base ;;
		dkms)
			if [ -z "$dkms" ]; then
				if [ -z "$LAB_IMAGE_DKMS_DEB" ]; then
					n=$(makefile_var EKVM_RELEASE)
					LAB_IMAGE_DKMS_DEB=$EKVM_BUILD/lab/releases/$n/ekvm-dkms_$(makefile_var BASE_VERSION_6.1).${n}_all.deb
				fi
				dkms=$("$LAB_LIB/image.sh" --dkms "$LAB_IMAGE_DKMS_DEB") || fail "no DKMS variant of the lab image"
			fi
			LAB_IMAGE_OF[$h]=$dkms
			;;
		*) fail "LAB_IMAGE_VARIANT[$h]=$v: base or dkms" ;;
		esac
	done
}

# A run killed with SIGKILL (no EXIT trap) leaves its QEMUs daemonized and its namespace: the
# next run of the same test stops them (only QEMUs booted from this run folder).
lab_reap_stale() {
	local f pid ns
	for f in "$LAB"/*/qemu.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		[ -r "/proc/$pid/cmdline" ] || continue
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "^qemu-system-x86_64 .*$LAB/" || continue
		ns=$(ip netns identify "$pid" 2>/dev/null || true)
		info "stopping QEMU $pid of an earlier run (namespace ${ns:-none})"
		kill -9 "$pid" 2>/dev/null || true
		[ -z "$ns" ] || LAB_NS=$ns lab_down
	done
}

# lab_kill HOST: the host dies as in a power cut: its QEMU is killed (SIGKILL), and the
# controller's SSH connections to it are closed (they would wait for their keepalive).
lab_kill() {
	local h=$1 pid
	pid=$(cat "$LAB/$h/qemu.pid")
	kill -9 "$pid"
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	! kill -0 "$pid" 2>/dev/null || fail "$h: QEMU $pid did not die"
	lab_ctl ssh -O exit "root@$(lab_ip "$h")" >/dev/null 2>&1 || true
	lab_ctl ssh -O exit "root@$h" >/dev/null 2>&1 || true
}

# lab_restart HOST: boots a killed host again from its own disk; returns when SSH and libvirt
# answer.
lab_restart() {
	local h=$1
	! lab_alive "$h" || fail "$h is running: no restart"
	lab_qemu "$h" "${LAB_IMAGE_OF[$h]}"
	lab_wait_hosts "$h"
}

lab_alive() { kill -0 "$(cat "$LAB/$1/qemu.pid" 2>/dev/null || echo 0)" 2>/dev/null; }

# lab_wait_hosts [HOST...]: until each host answers SSH and libvirt (qemu+ssh); records the
# seconds from QEMU start in $LAB/HOST/boot-seconds.
lab_wait_hosts() {
	local h hosts=("$@") pending=() t
	[ ${#hosts[@]} -gt 0 ] || hosts=("${LAB_HOSTS[@]}")
	pending=("${hosts[@]}")
	while [ ${#pending[@]} -gt 0 ]; do
		local left=()
		for h in "${pending[@]}"; do
			lab_alive "$h" || { tail -20 "$LAB/$h/console.log" >&2; echo >&2; fail "$h: QEMU died while booting"; }
			t=$(($(date +%s) - $(cat "$LAB/$h/started")))
			if lab_ssh "$h" true 2>/dev/null && lab_virsh "$h" uri >/dev/null 2>&1; then
				echo "$t" >"$LAB/$h/boot-seconds"
				echo "# $h: SSH and libvirt answer, ${t}s after QEMU started"
				continue
			fi
			if [ "$t" -gt "$LAB_BOOT_TIMEOUT" ]; then
				tail -20 "$LAB/$h/console.log" >&2; echo >&2
				fail "$h: no SSH and libvirt ${LAB_BOOT_TIMEOUT}s after boot (console: $LAB/$h/console.log)"
			fi
			left+=("$h")
		done
		pending=("${left[@]+"${left[@]}"}")
		[ ${#pending[@]} -eq 0 ] || sleep 3
	done
}

# lab_guest_define NAME HOST [CPU-XML]: defines a nested guest on HOST (KVM in the host, no
# disk, Debian's kernel and the heartbeat initramfs of the image; its ttyS0 is appended to
# /var/log/ekvm-lab/NAME.log on whichever host runs it).
lab_guest_define() {
	local g=$1 h=$2 cpu=${3:-"<cpu mode='host-model'/>"} uuid
	uuid=$(printf '6c61622d-6775-4000-8000-%012d' "$(cksum <<<"$g" | cut -d' ' -f1)")
	cat >"$LAB/$g.xml" <<-XML
		<domain type='kvm'>
		  <name>$g</name>
		  <uuid>$uuid</uuid>
		  <memory unit='MiB'>$LAB_GUEST_MIB</memory>
		  <vcpu>1</vcpu>
		  <os>
		    <type arch='x86_64' machine='pc'>hvm</type>
		    <kernel>$LAB_GUEST_DIR/vmlinuz</kernel>
		    <initrd>$LAB_GUEST_DIR/initrd.cpio</initrd>
		    <cmdline>console=ttyS0 panic=-1 loglevel=4</cmdline>
		  </os>
		  $cpu
		  <on_crash>destroy</on_crash>
		  <devices>
		    <emulator>/usr/bin/qemu-system-x86_64</emulator>
		    <serial type='file'>
		      <source path='$LAB_GUEST_LOGS/$g.log' append='on'/>
		      <target port='0'/>
		    </serial>
		    <memballoon model='none'/>
		  </devices>
		</domain>
	XML
	lab_virsh "$h" define /dev/stdin <"$LAB/$g.xml" >/dev/null
}

# lab_heartbeats NAME: the guest's heartbeats from every host's log, merged by sequence number:
# "SEQ BOOT-ID UPTIME HOST" a line. Not deduplicated: a heartbeat found twice (the same sequence
# number on two hosts) is a guest that ran twice.
lab_heartbeats() {
	local g=$1 h
	for h in "${LAB_HOSTS[@]}"; do
		lab_ssh "$h" cat "$LAB_GUEST_LOGS/$g.log" 2>/dev/null |
			grep -aoE 'ekvm-hb [0-9a-f-]{36} [0-9]+ [0-9]+\.[0-9]+' |
			awk -v h="$h" '{ print $3, $2, $4, h }' || true
	done | sort -n -k1,1 -k3,3n
}

# lab_heartbeat_check FILE (lab_heartbeats' output): "MISSING TWICE TORN LONGEST": heartbeats
# missing from the sequence; found twice (the guest ran twice); lost where the guest changed host
# (one line torn between two hosts' console files at the switch-over: the channel's doing, not
# the guest's; at most one a migration); the longest time between two heartbeats by the guest's
# own clock (one every half second).
lab_heartbeat_check() {
	awk 'NR > 1 {
			if ($1 == prev) twice++
			else if ($1 == prev + 2 && $4 != host) torn++
			else missing += $1 - prev - 1
			if ($3 - up > longest) longest = $3 - up
		}
		{ prev = $1; host = $4; up = $3 }
		END { printf "%d %d %d %.1f\n", missing, twice, torn, longest }' "$1"
}

# lab_heartbeat NAME: "SEQ BOOT-ID UPTIME HOST" of the guest's last heartbeat (empty before one).
lab_heartbeat() { lab_heartbeats "$1" | tail -1; }

# lab_wait_heartbeat NAME [SECONDS]: until a heartbeat past the last one seen (default 60 s);
# prints the new last heartbeat.
lab_wait_heartbeat() {
	local g=$1 limit=${2:-60} before now start=$SECONDS
	before=$(lab_heartbeat "$g" | awk '{print $1}')
	while [ $((SECONDS - start)) -lt "$limit" ]; do
		now=$(lab_heartbeat "$g")
		if [ -n "$now" ] && [ "${now%% *}" -gt "${before:-0}" ]; then
			echo "$now"
			return 0
		fi
		sleep 1
	done
	fail "$g: no heartbeat after ${before:-none} in ${limit}s"
}

# lab_where NAME: the host(s) where the guest runs now.
lab_where() {
	local h
	for h in "${LAB_HOSTS[@]}"; do
		lab_virsh "$h" domstate "$1" 2>/dev/null | grep -q running && echo "$h"
	done
	return 0
}
