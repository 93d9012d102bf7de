# shellcheck shell=bash
# The netns test fleet (docs/fleet.md): three libvirtd "hosts" on this one machine, each in its
# own network, mount and UTS namespace with a private /etc/libvirt, /var, /run, passwd and group,
# joined by a bridge in a fourth namespace (the controller, where ekvm fleet and virsh run).
# Sourced by the tests in tests/fleet/cases/. Everything lives under $FLEET (build/fleet/<test>)
# and fleet_down (run by the EXIT trap) kills every process in the namespaces and deletes them.
. "$(dirname "${BASH_SOURCE[0]}")/../../lib.sh"

# In a chroot whose / is not a mount point (debootstrap's, distributions' build roots, many CI
# containers; issue 17) ip netns exec ('"mount --make-rslave /" failed: Invalid argument') and
# unshare cannot change /'s propagation, and the hosts' binds on /var, /run and /etc would show
# outside their namespaces. There the test runs again, the same, in a mount namespace of its own
# whose / is a mount point: every mount point it sees made a slave, a tmpfs on /dev/shm (under
# /dev: a slave too), / bound (rbind) in it and made a slave, and chroot'ed into. Nothing
# mounted there shows outside. (Binding / onto itself does not do: under a shared mount the bind
# shows on the host too, and "/" still names the directory under it.)
if [ -z "${EKVM_FLEET_ROOT:-}" ] && [ "$(id -u)" -eq 0 ] && ! mountpoint -q /; then
	mountpoint -q /dev || skip "neither / nor /dev is a mount point: no mount namespace for the fleet"
	unshare -m --propagation unchanged true || skip "no mount namespace here (unshare -m)"
	# shellcheck disable=SC2016 # the script is sh's
	exec env EKVM_FLEET_ROOT=1 unshare -m --propagation unchanged -- sh -c 'set -e
		for m in $(cut -d " " -f 5 /proc/self/mountinfo); do mount --make-rslave "$(printf %b "$m")"; done
		mount -t tmpfs -o mode=755 ekvm-fleet-root /dev/shm
		mkdir /dev/shm/root
		mount --rbind / /dev/shm/root
		mount --make-rslave /dev/shm/root
		exec chroot /dev/shm/root sh -c "cd \"\$0\" && exec \"\$@\"" "$@"' sh "$PWD" bash "$0" "$@"
fi

FLEET=$EKVM_BUILD/fleet/$(basename "$0" .sh)
FLEET_ID=ekf$(($$ % 100000))
FLEET_HOSTS=(hostA hostB hostC)
FLEET_GUEST_MIB=${FLEET_GUEST_MIB:-128}
FLEET_CAPS=$EKVM_BUILD/fleet/qemu-caps # libvirt's capabilities cache, kept by fleet_down
# a copy of the tool and, next to it, of the ekvm-fleet it runs, taken by fleet_up:
# build/userspace/ekvm may be rebuilt while a test runs
EKVM_BIN=$FLEET/ekvm
CTL=(ip netns exec "$FLEET_ID-ctl")

host_ns() { echo "$FLEET_ID-${1#host}"; }
host_ip() { echo "10.251.0.$((1 + $(printf '%d' "'${1#host}") - 65))"; }
host_uri() { echo "qemu+tcp://$(host_ip "$1")/system"; }
virsh_on() { local h=$1; shift; "${CTL[@]}" virsh -q -c "$(host_uri "$h")" "$@"; }

fleet_down() {
	local ns pids caps=$FLEET/hostB/var/cache/libvirt/qemu/capabilities
	# (hostB's: it has answered the plan's CPU comparisons; kept once, whole or not at all)
	if [ ! -d "$FLEET_CAPS" ] && [ -n "$(ls "$caps" 2>/dev/null)" ]; then
		rm -rf "$FLEET_CAPS.tmp"
		mkdir -p "$FLEET_CAPS.tmp"
		if cp -a "$caps" "$FLEET_CAPS.tmp/"; then mv "$FLEET_CAPS.tmp/capabilities" "$FLEET_CAPS"; fi
		rm -rf "$FLEET_CAPS.tmp"
	fi
	for ns in "$FLEET_ID-A" "$FLEET_ID-B" "$FLEET_ID-C" "$FLEET_ID-ctl"; do
		grep -qw "^$ns" <<<"$(ip netns list)" || continue
		pids=$(ip netns pids "$ns")
		# shellcheck disable=SC2086 # one pid a word
		[ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
	done
	sleep 0.3
	for ns in "$FLEET_ID-A" "$FLEET_ID-B" "$FLEET_ID-C" "$FLEET_ID-ctl"; do
		grep -qw "^$ns" <<<"$(ip netns list)" && ip netns del "$ns"
	done
	return 0
}

# The guest: Debian's kernel and a busybox initramfs whose init writes a heartbeat to
# /dev/kmsg every half second (console=ttyS0, a file on the host appended across migrations).
# With ekvm.acpid=1 on its command line (fleet_guest with FLEET_GUEST_ACPI=acpid, which also
# gives it ACPI) it loads the ACPI power button and evdev modules and runs busybox acpid, whose
# handler of the power button (event PWRF/00000080: /etc/acpi/PWRF/00000080) powers it off:
# it shuts down cleanly on virDomainShutdown ("reboot: Power down" on its console). With
# ekvm.agent=1 (fleet_guest with FLEET_GUEST_AGENT=1, which also gives it the agent's
# virtio-serial channel) it loads the virtio console modules and answers on the port named
# org.qemu.guest_agent.0 the guest agent commands libvirt sends for the health gate, as QEMU's
# agent would: guest-sync (its id back), guest-ping, guest-get-host-name ("ekvm-agent"); each
# command goes to its console ("ekvm-agent: <command>"). ekvm-test-mute, a command of this test
# agent only, makes it read and not answer for 20 s: an agent that hangs. (Cached by time: the
# initrd is rebuilt when this file is newer.)
fleet_guest_image() {
	local kver root mods out=$EKVM_BUILD/fleet/guest
	kver=$(makefile_var KVER)
	"$EKVM_TOP/tests/vm/fetch-kernel.sh" "$kver" >&2
	GUEST_KERNEL=$EKVM_BUILD/vm/kernel/$kver/boot/vmlinuz-$kver
	GUEST_INITRD=$out/initrd.cpio
	[ -s "$GUEST_INITRD" ] && [ "$GUEST_INITRD" -nt "${BASH_SOURCE[0]}" ] && return 0
	root=$out/root
	mods=$EKVM_BUILD/vm/kernel/$kver/lib/modules/$kver/kernel/drivers
	rm -rf "$root" && mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/lib" "$root/etc/acpi/PWRF"
	cp "$(command -v busybox)" "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	cp "$mods/acpi/button.ko" "$mods/input/evdev.ko" "$mods/virtio/virtio_ring.ko" \
		"$mods/virtio/virtio.ko" "$mods/virtio/virtio_pci_legacy_dev.ko" \
		"$mods/virtio/virtio_pci_modern_dev.ko" "$mods/virtio/virtio_pci.ko" \
		"$mods/char/virtio_console.ko" "$root/lib/"
	printf '#!/bin/sh\necho "<2>ekvm-acpid: power button: poweroff" >/dev/kmsg\nexec /bin/busybox poweroff -f\n' \
		>"$root/etc/acpi/PWRF/00000080"
	chmod 755 "$root/etc/acpi/PWRF/00000080"
	cat >"$root/init" <<'INIT'
#!/bin/sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev
if /bin/busybox grep -q 'ekvm.acpid=1' /proc/cmdline; then
	/bin/busybox insmod /lib/evdev.ko
	/bin/busybox insmod /lib/button.ko
	/bin/busybox sleep 0.5
	/bin/busybox acpid -d -c /etc/acpi >/dev/kmsg 2>&1 &
	echo "<2>ekvm-acpid: started ($(/bin/busybox ls /dev/input 2>&1 | /bin/busybox tr '\n' ' '))" >/dev/kmsg
fi
# the test guest agent: one command a line, one answer a line
agent_serve() {
	mute=0
	while IFS= read -r line <&3; do
		now=$(/bin/busybox date +%s)
		cmd=$(echo "$line" | /bin/busybox sed -n 's/.*"execute" *: *"\([a-z-]*\)".*/\1/p')
		if [ "$now" -lt "$mute" ]; then
			echo "<2>ekvm-agent: muted: $cmd" >/dev/kmsg
			continue
		fi
		case $cmd in
		guest-sync)
			id=$(echo "$line" | /bin/busybox sed -n 's/.*"id" *: *\([0-9]*\).*/\1/p')
			reply="{\"return\": ${id:-0}}" ;;
		guest-ping) reply='{"return": {}}' ;;
		guest-get-host-name) reply='{"return": {"host-name": "ekvm-agent"}}' ;;
		ekvm-test-mute) mute=$((now + 20)) reply='{"return": {}}' ;;
		*) reply="{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"no $cmd here\"}}" ;;
		esac
		echo "$reply" >&3
		echo "<2>ekvm-agent: $cmd" >/dev/kmsg
	done
}
if /bin/busybox grep -q 'ekvm.agent=1' /proc/cmdline; then
	/bin/busybox mount -t sysfs sys /sys
	for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_console; do
		/bin/busybox insmod /lib/$m.ko
	done
	port=''
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		for p in /sys/class/virtio-ports/*; do
			[ "$(/bin/busybox cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] && port=/dev/${p##*/}
		done
		[ -n "$port" ] && [ -e "$port" ] && break
		/bin/busybox sleep 0.5
	done
	echo "<2>ekvm-agent: port ${port:-none}" >/dev/kmsg
	# a read returns end-of-file while no host side is connected (during a migration): open again
	[ -n "$port" ] && while :; do
		exec 3<>"$port" && agent_serve
		exec 3<&-
		/bin/busybox sleep 0.5
	done &
fi
i=0
while :; do
	i=$((i + 1))
	echo "<2>ekvm-hb $i" >/dev/kmsg
	/bin/busybox sleep 0.5
done
INIT
	chmod 755 "$root/init"
	(cd "$root" && find . | cpio -o -H newc --quiet) >"$GUEST_INITRD"
}

# fleet_host NAME: a libvirtd in its own namespaces, listening on TCP without auth.
fleet_host() {
	local h=$1 d=$FLEET/$1 ns ip uuid
	ns=$(host_ns "$h"); ip=$(host_ip "$h")
	uuid=$(printf '0000e000-0000-4000-8000-%012d' "$(printf '%d' "'${h#host}")")
	rm -rf "$d" && mkdir -p "$d"/{etc,var/lib/libvirt/qemu,var/cache/libvirt,var/log/libvirt,var/tmp,run}
	# libvirt's QEMU capabilities from an earlier fleet: a daemon probes QEMU (seconds under
	# load) the first time it starts a guest or compares CPUs, and caches what it found;
	# libvirt checks the cache against the QEMU binary and itself and probes again if stale
	if [ -d "$FLEET_CAPS" ]; then
		mkdir -p "$d/var/cache/libvirt/qemu"
		cp -a "$FLEET_CAPS" "$d/var/cache/libvirt/qemu/capabilities"
	fi
	ip netns add "$ns"
	ip link add "$ns-v" type veth peer name eth0 netns "$ns"
	ip link set "$ns-v" netns "$FLEET_ID-ctl"
	"${CTL[@]}" ip link set "$ns-v" master br0 up
	ip -n "$ns" addr add "$ip/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" link set lo up
	cat >"$d/etc/libvirtd.conf" <<CONF
listen_tls = 0
listen_tcp = 1
listen_addr = "$ip"
auth_tcp = "none"
auth_unix_rw = "none"
host_uuid = "$uuid"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
CONF
	# (FLEET_MIGRATION_TLS=1: also the daemon's QMP talk with its QEMUs, debug messages of
	# qemu_monitor in /var/log/libvirt/qmp.log: the evidence of what a migration set up)
	if [ "${FLEET_MIGRATION_TLS:-0}" = 1 ]; then
		sed -i 's|^log_outputs = "\(.*\)"$|log_filters = "1:qemu.qemu_monitor"\nlog_outputs = "\1 1:file:/var/log/libvirt/qmp.log"|' \
			"$d/etc/libvirtd.conf"
	fi
	cat >"$d/etc/qemu.conf" <<CONF
user = "root"
group = "root"
security_driver = "none"
dynamic_ownership = 0
remember_owner = 0
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
migration_address = "$ip"
CONF
	[ "${FLEET_MIGRATION_TLS:-0}" != 1 ] || fleet_tls_host "$h"
	printf 'root:x:0:0:root:/root:/bin/sh\nlibvirt-qemu:x:64055:64055::/var/lib/libvirt:/bin/false\n' >"$d/passwd"
	printf 'root:x:0:\nkvm:x:104:\nlibvirt-qemu:x:64055:\n' >"$d/group"
	fleet_daemon "$h"
}

# fleet_tls_ca DIR [CN]: a test CA in DIR (ca-cert.pem, ca-key.pem; ECDSA P-256, 2 days).
fleet_tls_ca() {
	mkdir -p "$1"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=${2:-ekvm fleet test CA}" -keyout "$1/ca-key.pem" -out "$1/ca-cert.pem" \
		-addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' \
		2>"$1/openssl.err" || { cat "$1/openssl.err" >&2; fail "cannot create a test CA in $1"; }
}

# fleet_tls_host NAME (FLEET_MIGRATION_TLS=1, from fleet_host): the host's QEMU TLS x509 files
# as libvirt expects them for migration (fleet_tls_certs, of the fleet's test CA $FLEET/pki,
# made on the first call) in the host's /etc/libvirt/pki/qemu, named by qemu.conf's
# migrate_tls_x509_cert_dir (the hosts share this machine's /etc: only /etc/libvirt is theirs),
# and the peer's certificate verified (migrate_tls_x509_verify).
fleet_tls_host() {
	[ -s "$FLEET/pki/ca-key.pem" ] || fleet_tls_ca "$FLEET/pki"
	fleet_tls_certs "$1" "$FLEET/pki"
	cat >>"$FLEET/$1/etc/qemu.conf" <<CONF
migrate_tls_x509_cert_dir = "/etc/libvirt/pki/qemu"
migrate_tls_x509_verify = 1
CONF
}

# fleet_tls_certs NAME CA-DIR: the host's ca-cert.pem (CA-DIR's), server-cert.pem/server-key.pem
# (the destination's QEMU presents it), client-cert.pem/client-key.pem (the source's QEMU
# presents it), signed by CA-DIR's CA, each with the host's IP (what the migration URI names,
# QEMU's tls-hostname) and its name as subjectAltName.
fleet_tls_certs() {
	local h=$1 d=$FLEET/$1/etc/pki/qemu ca=$2 role eku
	mkdir -p "$d"
	cp "$ca/ca-cert.pem" "$d/ca-cert.pem"
	for role in server client; do
		eku=serverAuth
		[ "$role" = server ] || eku=clientAuth
		printf '%s\n' 'basicConstraints=critical,CA:FALSE' \
			'keyUsage=critical,digitalSignature,keyEncipherment' "extendedKeyUsage=$eku" \
			"subjectAltName=IP:$(host_ip "$h"),DNS:$h" >"$ca/$h-$role.ext"
		if ! { openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-subj "/CN=$h" -keyout "$d/$role-key.pem" -out "$ca/$h-$role.csr" &&
			openssl x509 -req -in "$ca/$h-$role.csr" -CA "$ca/ca-cert.pem" -CAkey "$ca/ca-key.pem" \
				-CAcreateserial -days 2 -extfile "$ca/$h-$role.ext" -out "$d/$role-cert.pem"; } \
			2>"$ca/openssl.err"; then
			cat "$ca/openssl.err" >&2
			fail "cannot make $h's $role certificate"
		fi
	done
}

# fleet_daemon NAME: starts the host's libvirtd (a subshell's child: no job messages when the
# test kills it).
fleet_daemon() {
	local h=$1 d=$FLEET/$1 ns
	ns=$(host_ns "$h")
	(
		ip netns exec "$ns" unshare --mount --uts --propagation private -- bash -c "
			hostname $h
			mount --bind $d/etc /etc/libvirt && mount --bind $d/var /var &&
			mount --bind $d/run /run && mount --bind $d/passwd /etc/passwd &&
			mount --bind $d/group /etc/group &&
			exec libvirtd --listen -f /etc/libvirt/libvirtd.conf" >>"$d/libvirtd.out" 2>&1 &
		echo $! >"$d/libvirtd.pid"
	)
}

# fleet_wait_host NAME: until the daemon answers (about 8 s cold).
fleet_wait_host() {
	for _ in $(seq 1 120); do
		virsh_on "$1" uri >/dev/null 2>&1 && return 0
		kill -0 "$(cat "$FLEET/$1/libvirtd.pid")" 2>/dev/null || break
		sleep 0.25
	done
	cat "$FLEET/$1/libvirtd.out" >&2
	fail "libvirtd of $1 did not come up"
}

# fleet_kill_daemon NAME / fleet_restart_daemon NAME: the daemon only; its guests live on.
fleet_kill_daemon() { kill -9 "$(cat "$FLEET/$1/libvirtd.pid")"; }
fleet_restart_daemon() {
	fleet_daemon "$1"
	fleet_wait_host "$1"
}

fleet_up() {
	local h
	trap fleet_down EXIT
	trap 'exit 130' INT TERM HUP # the EXIT trap still runs
	rm -rf "$FLEET" && mkdir -p "$FLEET"
	for h in ekvm ekvm-fleet; do # (h: the programs here, the hosts below)
		[ -x "$EKVM_BUILD/userspace/$h" ] || fail "no $EKVM_BUILD/userspace/$h (make userspace)"
	done
	cp "$EKVM_BUILD/userspace/ekvm" "$EKVM_BIN"
	cp "$EKVM_BUILD/userspace/ekvm-fleet" "$FLEET/ekvm-fleet"
	fleet_guest_image
	ip netns add "$FLEET_ID-ctl"
	"${CTL[@]}" ip link add br0 type bridge
	"${CTL[@]}" ip addr add 10.251.0.254/24 dev br0
	"${CTL[@]}" ip link set br0 up
	"${CTL[@]}" ip link set lo up
	for h in "${FLEET_HOSTS[@]}"; do fleet_host "$h"; done
	for h in "${FLEET_HOSTS[@]}"; do fleet_wait_host "$h"; done
}

# fleet_guest NAME HOST [CPU-XML [DEVICES-XML]]: defines and starts a guest; its console log is
# $FLEET/NAME.log. FLEET_GUEST_ACPI=acpid: with ACPI, and shutting down on the power button
# (fleet_guest_image); =ignore: with ACPI, nothing handling the button (a shutdown request is
# ignored); unset: no ACPI (the other cases' guests). FLEET_GUEST_AGENT=1: with the guest
# agent's channel and the test agent (fleet_guest_image).
fleet_guest() {
	local g=$1 h=$2 cpu=${3:-} devices=${4:-} uuid features='' cmdline='console=ttyS0 panic=-1'
	case ${FLEET_GUEST_ACPI:-} in
	acpid) features='<features><acpi/></features>' cmdline="$cmdline ekvm.acpid=1" ;;
	ignore) features='<features><acpi/></features>' ;;
	esac
	if [ "${FLEET_GUEST_AGENT:-}" = 1 ]; then
		cmdline="$cmdline ekvm.agent=1"
		devices="$devices<controller type='virtio-serial' index='0'/><channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
	fi
	uuid=$(printf '6b766d00-0000-4000-8000-%012d' "${g#guest}")
	cat >"$FLEET/$g.xml" <<XML
<domain type='qemu'>
  <name>$g</name>
  <uuid>$uuid</uuid>
  <memory unit='MiB'>$FLEET_GUEST_MIB</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$GUEST_KERNEL</kernel>
    <initrd>$GUEST_INITRD</initrd>
    <cmdline>$cmdline</cmdline>
  </os>
  $features
  <on_crash>destroy</on_crash>
  $cpu
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'><source path='$FLEET/$g.log' append='on'/></serial>
    <memballoon model='none'/>
    $devices
  </devices>
</domain>
XML
	rm -f "$FLEET/$g.log"
	virsh_on "$h" define "$FLEET/$g.xml" >/dev/null
	virsh_on "$h" start "$g" >/dev/null
}

# heartbeat NAME: the guest's last heartbeat number (0 before the first).
heartbeat() {
	local n
	n=$(grep -ao 'ekvm-hb [0-9]*' "$FLEET/$1.log" 2>/dev/null | tail -1 | awk '{print $2}')
	echo "${n:-0}"
}

# wait_heartbeat NAME: until the guest's heartbeat goes past what it was (30 s at most).
wait_heartbeat() {
	local before
	before=$(heartbeat "$1")
	for _ in $(seq 1 120); do
		[ "$(heartbeat "$1")" -gt "$before" ] && return 0
		sleep 0.25
	done
	fail "$1: no heartbeat after $before in 30 s"
}

# fleet_uuids / fleet_running_uuids: the UUIDs of the active (running or paused) / running
# guests of every host, sorted, one a line.
fleet_list_uuids() {
	local h
	for h in "${FLEET_HOSTS[@]}"; do virsh_on "$h" list --uuid "$@"; done | sed '/^$/d' | sort
}
fleet_uuids() { fleet_list_uuids; }
fleet_running_uuids() { fleet_list_uuids --state-running; }

# where NAME: the host a guest runs on now.
where() {
	local h
	for h in "${FLEET_HOSTS[@]}"; do
		virsh_on "$h" domstate "$1" 2>/dev/null | grep -q running && echo "$h"
	done
	return 0
}

# fleet_inventory FILE VERSION [KEY=VALUE for the fleet line]...: the fleet's inventory. The
# upgrade command is an honest fake: it records that it ran and installs the "new KVM version"
# in a file the version command reads (this kernel's KVM is not ekvm and cannot be reloaded).
# Per-host overrides: UPGRADE_<host>=command, VERSION_<host>=version it installs.
fleet_inventory() {
	local file=$1 version=$2 h up inst
	shift 2
	{
		echo "# the netns test fleet (tests/fleet/lib/fleet.sh)"
		echo "fleet ekvm=$EKVM_BIN version=$version $*"
		for h in "${FLEET_HOSTS[@]}"; do
			inst=VERSION_$h; inst=${!inst:-$version}
			up=UPGRADE_$h
			up=${!up:-"echo \$(date +%s.%N) >>$FLEET/$h.upgrades && echo $inst >$FLEET/$h.kvm-version"}
			# (the "hosts" share this machine's files: a lease file each)
			printf 'host name=%s uri=%s exec="ip netns exec %s sh -c" upgrade="%s" version_cmd="cat %s" lease=%s\n' \
				"$h" "$(host_uri "$h")" "$(host_ns "$h")" "$up" "$FLEET/$h.kvm-version" "$FLEET/$h/lease"
		done
	} >"$file"
}

# ekvm_fleet SUBCOMMAND ARGS...: ekvm fleet in the controller namespace, state and log under
# $FLEET. The test fleet's libvirtds have no TLS certificates (qemu.conf's migrate_tls_x509_*):
# rollout, resume and abort migrate over plain TCP, --insecure-migration (ekvm fleet migrates with TLS
# by default and logs a warning for it). With FLEET_MIGRATION_TLS=1 (set before fleet_case:
# fleet_tls_host gives each host certificates) they migrate with TLS, ekvm fleet's default.
ekvm_fleet() {
	local sub=$1
	shift
	case $sub in
	rollout | resume | abort)
		if [ "${FLEET_MIGRATION_TLS:-0}" = 1 ]; then
			"${CTL[@]}" "$EKVM_BIN" fleet "$sub" "$@"
		else
			"${CTL[@]}" "$EKVM_BIN" fleet "$sub" --insecure-migration "$@"
		fi
		;;
	*) "${CTL[@]}" "$EKVM_BIN" fleet "$sub" "$@" ;;
	esac
}

# fleet_case: the fleet up, every host at KVM 6.1.192.1, guest1 on hostA and guest2 on hostC
# running; UUIDS0 is the fleet's set of VM UUIDs, INV the inventory (new version 6.1.192.2).
fleet_case() {
	local h
	[ "$(id -u)" -eq 0 ] || skip "the fleet needs root (network namespaces, libvirtd)"
	[ -e /dev/kvm ] || skip "no /dev/kvm: the verify step runs ekvm smoke"
	fleet_up
	for h in "${FLEET_HOSTS[@]}"; do echo 6.1.192.1 >"$FLEET/$h.kvm-version"; done
	fleet_guest guest1 hostA
	# guest2 names its CPU model: the preflight compares it with each destination's
	fleet_guest guest2 hostC "<cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model></cpu>"
	wait_heartbeat guest1
	wait_heartbeat guest2
	UUIDS0=$(fleet_uuids)
	[ "$(echo "$UUIDS0" | wc -l)" -eq 2 ] || fail "two guests expected, found: $UUIDS0"
	INV=$FLEET/inventory
	STATE=$FLEET/state
	fleet_inventory "$INV" 6.1.192.2
}

# guests_alive: both guests' heartbeats advance (whatever libvirt says).
guests_alive() {
	wait_heartbeat guest1
	wait_heartbeat guest2
	echo "# heartbeats: guest1 $(heartbeat guest1), guest2 $(heartbeat guest2)"
}

# uuids_unchanged: the fleet runs the same set of VMs as at the start, each once, and no copy.
uuids_unchanged() {
	local now
	now=$(fleet_uuids)
	assert_eq "the fleet's VM UUIDs" "$UUIDS0" "$now"
}

# report_is JQ-EXPR: the JSON status report of the state file satisfies the expression.
report_is() {
	local rep
	rep=$(ekvm_fleet status -s "$STATE" --json 2>/dev/null) || true
	echo "$rep" | jq -e "$1" >/dev/null || fail "report: not ($1): $rep"
}

# the log: every line starts with an ISO-8601 UTC timestamp
log_is_timestamped() {
	local bad
	local re='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z '
	bad=$(grep -cvE "$re" "$STATE.log" || true)
	[ "$bad" = 0 ] || grep -nvE "$re" "$STATE.log" | head -5 | sed 's/^/# undated: /' >&2
	assert_eq "log lines without a timestamp" 0 "$bad"
}

# resume_to_done: ekvm fleet resume completes; guests alive, at home, set unchanged.
resume_to_done() {
	ekvm_fleet resume -s "$STATE" >"$FLEET/resume.out" 2>&1 ||
		{ tail -30 "$FLEET/resume.out"; fail "resume did not complete"; }
	guests_alive
	uuids_unchanged
	report_is '.result == "done" and .invariant.holds and ([.hosts[].status] | unique) == ["done"]
		and ([.hosts[].version] | unique) == ["6.1.192.2"]
		and ([.vms[] | .host == .home] | all)'
	log_is_timestamped
}

# wait_log PID REGEX WHAT: until the state's log has a line matching REGEX (2 minutes at most,
# while the rollout PID runs); else kills PID and fails "WHAT did not happen".
wait_log() {
	local _
	for _ in $(seq 1 480); do
		grep -q "$2" "$STATE.log" 2>/dev/null && return 0
		kill -0 "$1" 2>/dev/null || break
		sleep 0.25
	done
	kill "$1" 2>/dev/null || true
	fail "$3 did not happen: $(tail -5 "$STATE.log" 2>/dev/null)"
}

# migrating_to PID [sending]: the host guest1's evacuation migrates it to, once the migration
# has begun (within 90 s: pre-flight and the destination's QEMU take seconds each on a loaded
# host). The start line, not a progress line: under load libvirt may not answer the job's
# statistics until the memory is sent. With "sending", once a progress line shows memory sent
# (slow migrations only: a fast one may end before its first statistics). Fails, killing the
# rollout PID, when the migration does not start.
migrating_to() {
	local d='' re='s/.*evacuate: migrating guest1 (.*) to \(host[BC]\), timeout.*/\1/p'
	[ "${2:-}" != sending ] || re='s/.*evacuate: guest1 -> \(host[BC]\): .* MiB remaining.*/\1/p'
	for _ in $(seq 1 360); do
		# (no log yet at first)
		d=$(sed -n "$re" "$STATE.log" 2>/dev/null | head -1 || true)
		[ -n "$d" ] && break
		sleep 0.25
	done
	if [ -z "$d" ]; then
		kill "$1" 2>/dev/null || true
		sed 's/^/# log: /' "$STATE.log" 2>/dev/null | tail -15 >&2 || true
		fail "guest1's migration did not start"
	fi
	echo "$d"
}
