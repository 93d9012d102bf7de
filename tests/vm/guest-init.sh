#!/bin/sh
# /init of the harness's initramfs (busybox sh, PID 1 in the guest). Not run on the host.
#
# The kernel command line says what to do:
#   ekvm.vendor=amd|intel                                the vendor module (default amd: kvm-amd,
#                                                        its setting npt; intel: kvm-intel, ept)
#   ekvm.job=tests   ekvm.mods=stock|ekvm ekvm.npt=0|1   load that module set, run /tests/list
#                                                        (ekvm.npt: the vendor's npt or ept)
#                    [ekvm.from=N]                       from its Nth test on (after a hang)
#                    [ekvm.retry=F]                      a test that timed out runs once more
#                                                        with F times its limit (0: never)
#   ekvm.job=reload                                      the module reload scenario
#   ekvm.job=instance ekvm.npt=0|1                       the KVM instance's own scenario (the
#                                                        ekvm set is an instance, make instance)
#   ekvm.job=instances ekvm.npt=0|1 [ekvm.churn=S]       two instances at once: the ekvm set's
#                                                        and its twin (/mods/twin), guests on
#                                                        both; then S seconds (default 20) of
#                                                        loading, switching and unloading
#   ekvm.hb=S                                            a heartbeat line (@@HB) every S guest
#                                                        seconds (boot-bochs.sh)
#   ekvm.job=probe                                       the CPU's virtualization features and
#                                                        the vendor module's parameters
#   ekvm.job=bench   ekvm.rounds=N ekvm.secs=S           exits/s of stock, ekvm-off and ekvm-on
#                                                        interleaved, I/O and in-kernel exits
# Results go to the second serial port (/dev/ttyS1) as lines starting with "@@" that
# tests/vm/report.sh reads; the console (ttyS0) only has the kernel's messages.
#   @@BEGIN <job> <mods> <npt>      @@LOAD <set> ok|fail <text>    @@PARAM npt|ept <Y|N>
#   @@IDENT <set> cap=<n> version=<v|->                            @@T <name> <status> <rc> <ms>
#   @@S <name> (started)            @@O <name> <output line>       @@K <name> <kernel log line>
#   @@R <name> <status> <rc> <ms> <limit s> <retry limit s>  (a first attempt that timed out)
#   @@UNLOAD ok|fail <text>         @@B <round> <set> <kind> <kvmloop's result or error>  @@END
#   @@HIST <round> <set> <kvm.ekvm_exit_hist as read back>
#   (bench: set stock, ekvm-off or ekvm-on: ekvm's modules with kvm.ekvm_exit_hist set to 0 or
#   1 and read back; kind io (kvmloop bench) or kernel (kvmloop bench-kernel); kind "-" when
#   the set could not be measured at all)
# shellcheck shell=sh disable=SC2013,SC2016,SC1091
# (SC2013: /proc/cmdline and /mods/order are read as words on purpose.)

/bin/busybox mkdir -p /proc /sys /dev /tmp /run /usr/bin /usr/sbin /sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s
mkdir -p /dev/shm /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t devpts devpts /dev/pts
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/tests/extra

param() {
	for w in $(cat /proc/cmdline); do
		case "$w" in "ekvm.$1="*) echo "${w#*=}"; return ;; esac
	done
	echo "$2"
}
JOB=$(param job tests)
MODS=$(param mods stock)
NPT=$(param npt 1)
case $(param vendor amd) in
intel) VKO=kvm-intel VMOD=kvm_intel MMU=ept ;;
*) VKO=kvm-amd VMOD=kvm_amd MMU=npt ;;
esac
FROM=$(param from 1)
RETRY=$(param retry 0)

stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec 3>/dev/ttyS1
out() { echo "$*" >&3; }
# ekvm.hb=S: a heartbeat line "@@HB <uptime>" among the results every S seconds of guest time
# (boot-bochs.sh), so that the host tells a slow test (the guest's own timers still run) from an
# emulated machine that hangs (Bochs: a KVM guest spinning with interrupts off never gives the
# CPU back to this kernel). On the results port: under Bochs no line written to ttyS0 from user
# space reached the console file, only the kernel's own messages did (2026-12-04; under QEMU it
# does). Each line is one write(2), which the tty layer does not interleave with another's.
HB=$(param hb 0) HBPID=''
case $HB in
'' | *[!0-9]* | 0) ;;
*)
	# (sleep without the results port: finish's close must be the port's last)
	(while sleep "$HB" 3>&-; do out "@@HB $(cut -d' ' -f1 /proc/uptime)"; done) &
	HBPID=$! ;;
esac

finish() {
	klog "${1:-end}"
	out "@@END"
	# the last close of the results port waits until the UART has sent it all: without it, Bochs
	# powered off with the last lines still in the port's buffer (2026-12-04)
	[ -z "$HBPID" ] || { kill "$HBPID"; wait "$HBPID"; } 2>/dev/null
	exec 3>&-
	sync
	poweroff -f
	echo o >/proc/sysrq-trigger
	sleep 60
}

# The kernel's new messages since the last call, tagged with what ran meanwhile.
klog() {
	dmesg -c 2>/dev/null | sed "s|^|@@K $1 |" >&3
}

# Loads a module set: /mods/order (or the set's own /mods/SET/order) names the modules
# (dependencies first); a set's own file replaces the stock one, the others (irqbypass, ccp) come
# from the stock image. A KVM instance (/mods/SET/instance names it; docs/multi-kvm.md) is kvm and
# the vendor module in one: its tests see it through instance_view.
load_set() {
	set=$1 npt=$2
	order=/mods/order
	[ -f "/mods/$set/order" ] && order=/mods/$set/order
	INST=$(cat "/mods/$set/instance" 2>/dev/null || true)
	for m in $(cat "$order"); do
		# a shared dependency (irqbypass, ccp) stays loaded from one set to the next
		[ -d "/sys/module/$(echo "$m" | tr - _)" ] && continue
		f=/mods/$set/$m.ko
		[ -f "$f" ] || f=/mods/stock/$m.ko
		args=
		{ [ "$m" = "$VKO" ] || [ "$m" = "$INST" ]; } && args="$MMU=$npt"
		# shellcheck disable=SC2086 # no argument is an empty word
		if ! msg=$(insmod "$f" $args 2>&1); then
			out "@@LOAD $set fail insmod $m.ko $args: $msg"
			return 1
		fi
	done
	if [ ! -c /dev/kvm ]; then
		out "@@LOAD $set fail no /dev/kvm after loading"
		return 1
	fi
	out "@@LOAD $set ok $(tr '\n' ' ' <"$order")"
	if [ -n "$INST" ]; then
		out "@@PARAM $MMU $(cat "/sys/module/$INST/parameters/$MMU" 2>/dev/null || echo -)"
		instance_view "$INST" || { out "@@LOAD $set fail instance_view $INST"; return 1; }
	else
		out "@@PARAM $MMU $(cat "/sys/module/$VMOD/parameters/$MMU" 2>/dev/null || echo -)"
	fi
	ident "$set"
}

# The tests look for KVM by the names of kvm.ko and the vendor module: /sys/module/kvm and
# /sys/module/kvm_amd (parameters, ekvm/), /sys/kernel/debug/kvm, the tracepoint systems kvm,
# kvmmmu and ekvm. An instance has them under its own name (/sys/module/NAME,
# /sys/kernel/debug/NAME, NAME, NAME_mmu, NAME_ekvm). So that the same tests run on it, this
# shows them those names for the instance: a tmpfs over /sys/module with a link for every module
# of a second sysfs mount (/run/sys) plus kvm and kvm_amd to the instance's, a tmpfs over
# /sys/kernel/debug with kvm linked to the instance's folder of debugfs (/run/debug), and a tmpfs
# over /sys/kernel/tracing with links to tracefs (/run/tracing), events/ a folder of links to its
# systems plus kvm, kvmmmu and ekvm to the instance's. What the instance itself names is checked
# on the real mounts by job_instance.
instance_view() {
	mkdir -p /run/sys /run/debug /run/tracing
	mount -t sysfs sysfs /run/sys && mount -t debugfs debugfs /run/debug &&
		mount -t tracefs tracefs /run/tracing || return 1
	[ -d "/run/sys/module/$1" ] && [ -d "/run/debug/$1" ] && [ -d "/run/tracing/events/$1" ] ||
		return 1
	mount -t tmpfs tmpfs /sys/module || return 1
	for d in /run/sys/module/*; do ln -s "$d" /sys/module/; done
	ln -s "/run/sys/module/$1" /sys/module/kvm
	ln -s "/run/sys/module/$1" "/sys/module/$VMOD"
	mount -t tmpfs tmpfs /sys/kernel/debug || return 1
	ln -s "/run/debug/$1" /sys/kernel/debug/kvm
	mount -t tmpfs tmpfs /sys/kernel/tracing || return 1
	for f in /run/tracing/*; do [ "${f##*/}" = events ] || ln -s "$f" /sys/kernel/tracing/; done
	mkdir /sys/kernel/tracing/events
	for f in /run/tracing/events/*; do ln -s "$f" /sys/kernel/tracing/events/; done
	ln -s "/run/tracing/events/$1" /sys/kernel/tracing/events/kvm
	ln -s "/run/tracing/events/${1}_mmu" /sys/kernel/tracing/events/kvmmmu
	ln -s "/run/tracing/events/${1}_ekvm" /sys/kernel/tracing/events/ekvm
}

instance_view_off() {
	umount /sys/kernel/tracing /sys/kernel/debug /sys/module /run/tracing /run/debug /run/sys \
		2>/dev/null
	return 0
}

# What the loaded KVM says it is: the capability and the sysfs version.
ident() {
	cap=$(kvmloop cap 2>/dev/null || echo error)
	v=-
	[ -r /sys/module/kvm/ekvm/version ] && v=$(cat /sys/module/kvm/ekvm/version)
	out "@@IDENT $1 cap=$cap version=$v"
}

unload_set() {
	if [ -n "${INST:-}" ]; then
		instance_view_off
		inst_unload && rmmod ekvm_vac
		return
	fi
	rmmod "$VMOD" && rmmod kvm
}

# one attempt of a test: timeout program args...; /tmp/result, /tmp/out
attempt() {
	lim=$1
	shift
	rm -rf /tmp/run /tmp/result && mkdir -p /tmp/run
	(cd /tmp/run && runtest -t "$lim" -o /tmp/result -- "$@" >/tmp/out 2>&1 </dev/null)
	[ -s /tmp/result ] || echo "error -1 0" >/tmp/result
	# at most the last 300 lines of a test's output
	# (awk ends the last line even when the test's output did not)
	tail -n 300 /tmp/out | awk -v n="$name" '{ print "@@O " n " " $0 }' >&3
}

# runs one test: name timeout program args...
# A test that timed out (a loaded host makes a TCG guest slow) runs once more with RETRY times
# its limit; @@R says so, and @@T is the retry's result. The same in the stock and ekvm guests.
run_one() {
	name=$1 t=$2
	shift 2
	out "@@S $name"
	attempt "$t" "$@"
	read -r status rc ms </tmp/result
	if [ "$status" = timeout ] && [ "$RETRY" -gt 0 ]; then
		t2=$((t * RETRY))
		out "@@O $name [harness] timeout at $t s (${ms} ms); once more with a limit of $t2 s"
		out "@@R $name $status $rc $ms $t $t2"
		klog "$name"
		attempt "$t2" "$@"
		read -r status rc ms </tmp/result
	fi
	out "@@T $name $status $rc $ms"
	klog "$name"
}

job_tests() {
	klog boot
	if ! load_set "$MODS" "$NPT"; then
		klog load
		finish
	fi
	klog load
	if [ "$MODS" = ekvm ] && [ -f /etc/ekvm-expect ]; then
		set -a
		. /etc/ekvm-expect
		set +a
	fi
	# /tests/list: name timeout program [args...]
	i=0
	while read -r name t prog args; do
		case "$name" in "#"* | "") continue ;; esac
		i=$((i + 1))
		[ "$i" -ge "$FROM" ] || continue
		# shellcheck disable=SC2086
		run_one "$name" "$t" "$prog" $args
	done </tests/list
	# the module must still unload cleanly after the tests
	if msg=$(unload_set 2>&1); then
		out "@@UNLOAD ok"
	else
		out "@@UNLOAD fail $msg"
	fi
}

# The host upgrade without reboot: stock KVM with a VM open cannot go away; once the VM is
# closed it unloads, and ekvm loads and runs a guest. Each step is a test of its own.
SCEN=reload
step() {
	name=$SCEN/$1
	shift
	t0=$(uptime_ms)
	# in this shell, not a subshell: hold_vm leaves the VM's pid for release_vm
	if "$@" >/tmp/step.out 2>&1; then st="pass 0"; else st="fail 1"; fi
	tail -n 20 /tmp/step.out | awk -v n="$name" '{ print "@@O " n " " $0 }' >&3
	out "@@T $name $st $(($(uptime_ms) - t0))"
	klog "$name"
}
uptime_ms() { read -r up _ </proc/uptime; echo $((${up%.*} * 1000 + (1${up#*.} - 100) * 10)); }
must_fail() { if "$@"; then echo "unexpectedly succeeded: $*"; return 1; fi; return 0; }
hold_vm() {
	rm -f /tmp/ready
	kvmloop hold /tmp/ready </dev/null >/tmp/hold.out 2>&1 &
	HOLD=$!
	i=0
	while [ ! -f /tmp/ready ]; do
		kill -0 "$HOLD" 2>/dev/null || { cat /tmp/hold.out; return 1; }
		i=$((i + 1))
		[ $i -lt 600 ] || { echo "the VM did not start in 60 s"; return 1; }
		sleep 0.1
	done
	echo "VM running in pid $HOLD"
}
release_vm() { kill "$HOLD" && wait "$HOLD"; cat /tmp/hold.out; }
is_stock() { [ "$(kvmloop cap)" = 0 ] && [ ! -e /sys/module/kvm/ekvm ] && echo "stock KVM loaded"; }
is_ekvm() {
	v=$(cat /sys/module/kvm/ekvm/version) && c=$(kvmloop cap) && [ "$c" -ge 1 ] &&
		echo "ekvm $v, KVM_CAP_EKVM $c" && { [ -z "${EKVM_EXPECT_VERSION:-}" ] || [ "$v" = "$EKVM_EXPECT_VERSION" ]; }
}
# ekvm reload refuses: it fails, and its message matches the pattern PATTERN (a glob).
reload_refused() {
	if msg=$(ekvm-static reload --ko /mods/ekvm --vendor "$VMOD" 2>&1); then
		echo "unexpectedly reloaded: $msg"
		return 1
	fi
	echo "$msg"
	# shellcheck disable=SC2254 # the argument is a pattern
	case "$msg" in $1) return 0 ;; esac
	return 1
}
# The reload is the operator's: ekvm reload (tests/extra/ekvm-static), as a rollout's upgrade
# command runs it, on the real kvm/kvm_amd (kvm_intel) refcounts and holders.
job_reload() {
	klog boot
	[ -f /etc/ekvm-expect ] && { set -a; . /etc/ekvm-expect; set +a; }
	step load_stock load_set stock 1
	step stock_is_stock is_stock
	step stock_runs_guest kvmloop count 10000
	step vm_open hold_vm
	step rmmod_refused must_fail rmmod "$VMOD"
	step reload_refused reload_refused "*KVM is in use*$VMOD refcnt*"
	step stock_still_loaded test -c /dev/kvm -a -d "/sys/module/$VMOD"
	step vm_close release_vm
	step reload_to_ekvm ekvm-static reload --ko /mods/ekvm --vendor "$VMOD" \
		--expect "${EKVM_EXPECT_VERSION:-unknown}"
	step ekvm_is_ekvm is_ekvm
	step ekvm_runs_guest kvmloop count 10000
	step ekvm_vm_open hold_vm
	step ekvm_reload_refused reload_refused "*KVM is in use*(1 VMs*"
	step ekvm_vm_close release_vm
	step reload_to_stock ekvm-static reload --ko /mods/stock --vendor "$VMOD" --expect stock
	step stock_again is_stock
	step unload_stock unload_set
}

# A KVM instance behind its base (docs/multi-kvm.md): what it names is its own (module, parameters, ekvm/,
# debugfs, tracepoint systems), nothing is kvm.ko's; it runs guests, is pinned by an open VM,
# traces, unloads and loads again. On the real sysfs and debugfs (no instance_view).
job_instance() {
	SCEN=instance
	klog boot
	[ -f /etc/ekvm-expect ] && { set -a; . /etc/ekvm-expect; set +a; }
	step load load_set ekvm "$NPT"
	step real_names instance_view_off
	step no_kvm_modules must_fail test -e /sys/module/kvm -o -e /sys/module/kvm_amd -o -e /sys/module/kvm_intel
	step own_module test -n "$INST" -a -d "/sys/module/$INST/parameters" -a -c /dev/kvm
	step own_params test -e "/sys/module/$INST/parameters/$MMU" -a -e "/sys/module/$INST/parameters/ekvm_exit_hist" -a -e "/sys/module/$INST/parameters/halt_poll_ns"
	step identity inst_identity
	step own_debugfs inst_debugfs
	step own_tracepoints inst_tracepoints
	step own_slab_caches inst_slabs
	step runs_guest kvmloop count 10000
	step tool_status inst_tool_status
	step traces_exits inst_traces
	step vm_open hold_vm
	step rmmod_refused must_fail rmmod "$INST"
	step base_active inst_base_active
	step stock_refused must_fail insmod /mods/stock/kvm.ko
	step none_active inst_none_active
	step held_vm_alive kill -0 "$HOLD"
	step active_again inst_active_again
	step tool_counts_vm inst_tool_vms 1
	step tool_reload_refused reload_refused "*$INST*a KVM instance is loaded*"
	step vm_close release_vm
	step tool_counts_none inst_tool_vms 0
	step unload inst_unload
	step load_again load_set ekvm "$NPT"
	step runs_guest_again kvmloop count 10000
	step unload_again unload_set
}
inst_identity() {
	v=$(cat "/sys/module/$INST/ekvm/version") && c=$(kvmloop cap) && [ "$c" -ge 1 ] &&
		echo "$INST: ekvm $v, KVM_CAP_EKVM $c" && [ "$v" = "${EKVM_EXPECT_VERSION:-}" ]
}
inst_debugfs() {
	mount -t debugfs debugfs /sys/kernel/debug || return 1
	for f in /sys/kernel/debug/*; do echo "${f##*/}"; done
	r=0
	[ -d "/sys/kernel/debug/$INST" ] && [ ! -e /sys/kernel/debug/kvm ] || r=1
	umount /sys/kernel/debug
	return $r
}
inst_tracing() {
	mount -t tracefs tracefs /sys/kernel/tracing || return 1
}
inst_tracepoints() {
	inst_tracing || return 1
	t=/sys/kernel/tracing/events
	for f in "$t"/*kvm*; do echo "${f##*/}"; done
	r=0
	[ -d "$t/$INST/kvm_exit" ] && [ -d "$t/$INST/kvm_userspace_exit" ] &&
		[ -d "$t/${INST}_mmu/kvm_mmu_get_page" ] && [ -d "$t/${INST}_ekvm/vm_create" ] &&
		[ ! -e "$t/kvm" ] && [ ! -e "$t/kvmmmu" ] && [ ! -e "$t/ekvm" ] || r=1
	umount /sys/kernel/tracing
	return $r
}
# the instance's kvm_exit tracepoint records a guest's exits
inst_traces() {
	inst_tracing || return 1
	t=/sys/kernel/tracing
	echo >"$t/trace"
	echo 1 >"$t/events/$INST/kvm_exit/enable"
	kvmloop count 100 >/dev/null
	echo 0 >"$t/events/$INST/kvm_exit/enable"
	n=$(grep -c "kvm_exit: " "$t/trace" || true)
	echo "$n kvm_exit events"
	umount "$t"
	[ "$n" -ge 100 ]
}
# SLUB's folder of a cache that cannot merge (a usercopy region: kvm_vcpu, x86_emulator) is
# named after it; the others may be merged into another cache and have no folder of their own
inst_slabs() {
	ls -d /sys/kernel/slab/*kvm_vcpu* /sys/kernel/slab/*x86_emulator* 2>&1
	[ -d "/sys/kernel/slab/${INST}_kvm_vcpu" ] && [ ! -e /sys/kernel/slab/kvm_vcpu ] &&
		[ -d "/sys/kernel/slab/${INST}_x86_emulator" ] && [ ! -e /sys/kernel/slab/x86_emulator ]
}

# the operator's tool reads the instance as the loaded KVM (userspace/sysfs.c)
inst_tool_status() {
	j=$(ekvm-static status --json) || { echo "$j"; return 1; }
	echo "$j" | cut -c1-400
	case "$j" in
	*'"flavour":"ekvm"'*'"instance":"'"$INST"'"'*'"version":"'"${EKVM_EXPECT_VERSION:-?}"'"'*) ;;
	*) return 1 ;;
	esac
	ekvm-static status | grep -F "KVM instance $INST"
}
inst_tool_vms() {
	j=$(ekvm-static drain status --json) || { echo "$j"; return 1; }
	echo "$j"
	case "$j" in *'"vms":'"$1"[,\}]*) return 0 ;; esac
	return 1
}
# the base module (ekvm_vac) owns /dev/kvm and makes its first instance active
inst_base_active() {
	a=$(cat /sys/module/ekvm_vac/parameters/active) && echo "active: $a" && [ "$a" = "$INST" ] &&
		[ -c /dev/kvm ] && ! [ -e /sys/module/kvm ]
}
# with none active, a new open of /dev/kvm fails, an instance with no VM unloads only then
inst_none_active() {
	echo none >/sys/module/ekvm_vac/parameters/active || return 1
	[ "$(cat /sys/module/ekvm_vac/parameters/active)" = none ] || return 1
	must_fail kvmloop cap
}
inst_active_again() {
	echo "$INST" >/sys/module/ekvm_vac/parameters/active || return 1
	must_fail sh -c 'echo no_such_instance >/sys/module/ekvm_vac/parameters/active' || return 1
	[ "$(kvmloop cap)" -ge 1 ]
}

# Two instances at once (docs/multi-kvm.md): A, the ekvm set's instance, and B, its twin (the
# same code built under another name, /mods/twin). A runs a guest that keeps exiting, every
# exit checked (kvmloop run); B loads beside it, becomes active and runs its own guest on the
# same CPU of this machine; both run on; A cannot unload while its guest lives, and unloads
# after; B's guest runs throughout. Then a bounded time of loading, switching and unloading
# with guests starting and stopping. On the real sysfs; every step's kernel log is checked.
job_instances() {
	SCEN=instances-$MMU$NPT
	klog boot
	[ -f /etc/ekvm-expect ] && { set -a; . /etc/ekvm-expect; set +a; }
	B=$(cat /mods/twin/instance)
	step load_a load_set ekvm "$NPT"
	A=$INST
	step real_names instance_view_off
	step a_guest guest_start a 0
	step a_tscaux_guest guest_start ta 0 tscaux 0xa0a0
	step tool_load_b ekvm-static instance load "/mods/twin/$B.ko" "$MMU=$NPT"
	step both_listed insts_listed "$A" "$B"
	step a_still_active insts_active "$A"
	step tool_activate_b insts_tool_activate "$B"
	step b_guest guest_start b 0
	step b_tscaux_guest guest_start tb 0 tscaux 0xb0b0
	step both_run guests_run a b ta tb
	step selftests_on_b_beside_a insts_selftests
	step tscaux_guests_stop guests_stop ta tb
	step host_tscaux insts_host_tscaux
	step new_vm_on_b insts_new_vm "$B" "$A"
	step tool_lists insts_tool_list "$A" "$B"
	step a_unload_refused must_fail rmmod "$A"
	step tool_a_unload_refused insts_tool_refused "$A" "*$A still has 1 VM*"
	step tool_b_unload_refused insts_tool_refused "$B" "*$B is the active instance*"
	step a_guest_stop guest_stop a
	step tool_unload_a ekvm-static instance unload "$A"
	step b_runs_on guests_run b
	step base_unload_refused must_fail rmmod ekvm_vac
	step tool_load_a_active ekvm-static instance load "/mods/ekvm/$A.ko" --activate "$MMU=$NPT"
	step a_active insts_active "$A"
	step a_guest_again guest_start a 1
	step both_run_again guests_run a b
	step b_guest_stop guest_stop b
	step a_guest_stop_again guest_stop a
	step cpu_offline_online insts_cpu_cycle "$A" "$B"
	step unload_inactive rmmod "$B"
	step churn insts_churn "$(param churn 20)"
	step unload_all insts_unload_all
	step tool_load_with_base insts_tool_first "$A"
	step tool_none_active ekvm-static instance activate none
	step tool_unload_last ekvm-static instance unload "$A"
	step unload_base rmmod ekvm_vac
	step refuses_avic insts_refused "$A" avic=1
	step refuses_sev insts_refused "$A" sev=1
}
# an instance refuses what the base does not own (docs/multi-kvm.md, G1, G2): its load fails,
# and the tool, which loaded the base for it, unloads the base again
insts_refused() {
	if msg=$(ekvm-static instance load "/mods/ekvm/$1.ko" "$2" 2>&1); then
		echo "unexpectedly loaded with $2: $msg"
		return 1
	fi
	echo "$msg"
	dmesg | grep -F "$2 is not supported" || dmesg | grep -F "${2%=*}" | tail -n 2
	! [ -e "/sys/module/$1" ] && ! [ -e /sys/module/ekvm_vac ]
}
# with no base loaded, the tool loads it from beside the instance's file, and the instance
# becomes active as the first one; a guest runs on it
insts_tool_first() {
	ekvm-static instance load "/mods/ekvm/$1.ko" "$MMU=$NPT" && insts_active "$1" &&
		kvmloop count 1000
}
# guest_start G CPU [tscaux VALUE]: a kvmloop run (or tscaux) guest on the active instance,
# pinned to CPU, in the background; returns once it has made 1000 checked exits
guest_start() {
	g=$1 c=$2
	shift 2
	[ $# -gt 0 ] || set -- run
	rm -f "/tmp/g.$g"
	taskset -c "$c" kvmloop "$@" "/tmp/g.$g" </dev/null >"/tmp/g.$g.out" 2>&1 &
	eval "G_$g=$!"
	i=0
	while [ ! -s "/tmp/g.$g" ]; do
		kill -0 "$(eval echo "\$G_$g")" 2>/dev/null || { cat "/tmp/g.$g.out"; return 1; }
		i=$((i + 1))
		[ $i -lt 600 ] || { echo "guest $g did not start in 60 s"; return 1; }
		sleep 0.1
	done
	echo "guest $g: $(guest_exits "$g") exits"
}
guest_exits() { tr -d ' ' <"/tmp/g.$1"; }
# guests_run G...: each guest's count of checked exits grows within 10 s
guests_run() {
	for g in "$@"; do eval "n_$g=$(guest_exits "$g")"; done
	i=0
	while [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
		grown=0
		for g in "$@"; do
			[ "$(guest_exits "$g")" -gt "$(eval echo "\$n_$g")" ] && grown=$((grown + 1))
		done
		[ $grown -lt $# ] || break
	done
	for g in "$@"; do
		kill -0 "$(eval echo "\$G_$g")" 2>/dev/null || { echo "guest $g is gone"; cat "/tmp/g.$g.out"; }
		echo "guest $g: $(eval echo "\$n_$g") -> $(guest_exits "$g") exits"
	done
	[ "$grown" -eq $# ]
}
# guest_stop G: SIGTERM; the guest must end well, every exit it made checked
guest_stop() {
	pid=$(eval echo "\$G_$1")
	kill "$pid" && wait "$pid"
	r=$?
	cat "/tmp/g.$1.out"
	[ $r -eq 0 ] && grep -q '^exits [1-9]' "/tmp/g.$1.out"
}
# the last CPU goes offline and comes back (the base switches SVM off and on there and runs
# each instance's part); then each instance runs a guest on it
insts_cpu_cycle() {
	c=$(($(nproc) - 1)) f=/sys/devices/system/cpu/cpu$(($(nproc) - 1))/online
	[ "$c" -gt 0 ] || { echo "one CPU: nothing to take offline"; return 1; }
	echo 0 >"$f" && echo 1 >"$f" || return 1
	for i in "$2" "$1"; do
		insts_activate "$i" && taskset -c "$c" kvmloop count 1000 || return 1
	done
}
# a few selftests on the active instance, on CPU 0 beside the guests running there; they look
# for KVM by the modules' names (kvm's parameters), which instance_view shows them
insts_selftests() {
	a=$(cat /sys/module/ekvm_vac/parameters/active)
	if ! instance_view "$a"; then
		echo "no view of $a"
		instance_view_off
		return 1
	fi
	r=0
	for t in state_test cpuid_test sync_regs_test svm_vmcall_test; do
		rm -f /tmp/st.result
		(cd /tmp && taskset -c 0 runtest -t 300 -o /tmp/st.result -- "/tests/selftests/$t" \
			</dev/null >/tmp/st.out 2>&1)
		st=error rc=-1 ms=0
		[ -s /tmp/st.result ] && read -r st rc ms </tmp/st.result
		echo "$t: $st (rc $rc, $ms ms)"
		[ "$st" = pass ] || { tail -n 5 /tmp/st.out; r=1; }
	done
	instance_view_off
	return $r
}
guests_stop() { for g in "$@"; do guest_stop "$g" || return 1; done; }
# each CPU's TSC_AUX, as host user space reads it, is still Linux's after the guests' own
insts_host_tscaux() {
	for c in $(seq 0 $(($(nproc) - 1))); do taskset -c "$c" kvmloop hostaux || return 1; done
}
insts_listed() {
	l=$(cat /sys/module/ekvm_vac/parameters/instances) || return 1
	echo "$l"
	for i in "$@"; do echo "$l" | grep -qx "$i" || return 1; done
}
insts_active() {
	a=$(cat /sys/module/ekvm_vac/parameters/active) && echo "active: $a" && [ "$a" = "$1" ]
}
insts_activate() {
	echo "$1" >/sys/module/ekvm_vac/parameters/active && insts_active "$1"
}
insts_tool_activate() { ekvm-static instance activate "$1" && insts_active "$1"; }
# the tool lists both instances with their VMs, names the active one, reads it as KVM
insts_tool_list() {
	j=$(ekvm-static instance list --json) || { echo "$j"; return 1; }
	echo "$j"
	ekvm-static instance
	case "$j" in
	*'"count":2,"active":"'"$2"'"'*'"name":"'"$1"'"'*'"vms":1,'*'"active":false'*'"name":"'"$2"'"'*'"vms":1,'*'"active":true'*) ;;
	*) return 1 ;;
	esac
	j=$(ekvm-static status --json) && echo "$j" | cut -c1-300 &&
		case "$j" in *'"instance":"'"$2"'"'*) ;; *) return 1 ;; esac
}
# ekvm instance unload NAME refuses, its message matching the pattern PATTERN
insts_tool_refused() {
	if msg=$(ekvm-static instance unload "$1" 2>&1); then
		echo "unexpectedly unloaded: $msg"
		return 1
	fi
	echo "$msg"
	# shellcheck disable=SC2254 # the argument is a pattern
	case "$msg" in $2) [ -d "/sys/module/$1" ] ;; *) return 1 ;; esac
}
# a VM created now goes to the active instance NEW; OLD keeps only its own
insts_new_vm() {
	hold_vm || return 1
	n=$(cat "/sys/module/$1/ekvm/vms") o=$(cat "/sys/module/$2/ekvm/vms")
	release_vm >/dev/null
	echo "VMs while a third one was held: $1 $n, $2 $o"
	[ "$n" -eq 2 ] && [ "$o" -eq 1 ]
}
# S seconds: the active instance X runs a guest; the other, Y, loads, becomes active and runs
# a guest of its own and a short one; X's guest stops and X unloads; then the other way round.
# Meanwhile the last CPU goes offline and online again and again (the guests run on CPU 0).
insts_churn() {
	guest_start a 0 || return 1
	f=/sys/devices/system/cpu/cpu$(($(nproc) - 1))/online
	rm -f /tmp/churn.end /tmp/churn.hp
	(n=0
	while [ ! -e /tmp/churn.end ]; do
		if ! { echo 0 >"$f" && sleep 0.3 && echo 1 >"$f" && sleep 0.3; }; then
			echo "failed" >/tmp/churn.hp
			exit 1
		fi
		n=$((n + 1))
		echo "$n" >/tmp/churn.hp
	done) &
	hp=$!
	end=$(($(uptime_ms) + $1 * 1000))
	x=$A y=$B gx=a gy=b rounds=0 err=''
	while [ -z "$err" ] && [ "$(uptime_ms)" -lt "$end" ]; do
		if ! insmod "/mods/$(insts_dir "$y")/$y.ko" "$MMU=$NPT"; then
			err="insmod $y"
		elif ! insts_activate "$y" >/dev/null; then
			err="activate $y"
		elif ! guest_start "$gy" 0 >/dev/null; then
			err="guest on $y"
		elif ! kvmloop count 1000 >/dev/null; then
			err="short guest on $y"
		elif ! guest_stop "$gx" >/dev/null; then
			err="guest on $x"
		elif ! rmmod "$x"; then
			err="rmmod $x"
		else
			t=$x x=$y y=$t t=$gx gx=$gy gy=$t
			rounds=$((rounds + 1))
		fi
	done
	touch /tmp/churn.end
	wait "$hp"
	hpr=$?
	echo 1 >"$f" 2>/dev/null
	[ -z "$err" ] || { echo "round $rounds: $err failed"; return 1; }
	[ "$hpr" -eq 0 ] || { echo "CPU hotplug failed after $rounds rounds"; return 1; }
	echo "$rounds rounds in $1 s; the last CPU went offline and online $(cat /tmp/churn.hp) times"
	echo "$x active, its guest running"
	guests_run "$gx" && guest_stop "$gx" >/dev/null
}
insts_dir() { if [ "$1" = "$B" ]; then echo twin; else echo ekvm; fi; }
insts_unload_all() {
	echo none >/sys/module/ekvm_vac/parameters/active || return 1
	for i in $(cat /sys/module/ekvm_vac/parameters/instances); do rmmod "$i" || return 1; done
	rmmod ekvm_vac && ! [ -e /sys/module/ekvm_vac ]
}

# the base holds the active instance: none is made active first
inst_unload() {
	echo none >/sys/module/ekvm_vac/parameters/active || return 1
	rmmod "$INST" || return 1
	! [ -e "/sys/module/$INST" ]
}

# kvm.ekvm_exit_hist set to 0 or 1 and read back (Y/N, or 1/0), with 1 the sampling period
# kvm.ekvm_exit_hist_period PERIOD first (16, the default, for the ekvm-on set; 1, every exit,
# for ekvm-exact): set_hist 0|1 [PERIOD]; fails if it did not take.
set_hist() {
	p=/sys/module/kvm/parameters/ekvm_exit_hist
	q=/sys/module/kvm/parameters/ekvm_exit_hist_period
	[ -w "$p" ] || { echo "no $p"; return 1; }
	if [ -n "${2:-}" ]; then
		[ -w "$q" ] || { echo "no $q"; return 1; }
		echo "$2" >"$q" || { echo "writing $2 to $q failed"; return 1; }
		[ "$(cat "$q")" = "$2" ] || { echo "$q reads $(cat "$q") after writing $2"; return 1; }
	fi
	echo "$1" >"$p" || { echo "writing $1 to $p failed"; return 1; }
	v=$(cat "$p")
	case "$1/$v" in 0/N | 0/0 | 1/Y | 1/1) return 0 ;; esac
	echo "$p reads $v after writing $1"
	return 1
}

# Both exit kinds with the loaded modules: round set
bench_set() {
	for kind in io kernel; do
		cmd=bench
		[ "$kind" = kernel ] && cmd=bench-kernel
		if res=$(kvmloop "$cmd" "$secs" 2>&1); then
			out "@@B $1 $2 $kind $res"
		else
			out "@@B $1 $2 $kind kvmloop failed: $(echo "$res" | tr '\n' ' ')"
		fi
	done
}

# One module set of a round: round set (stock), round hist... (ekvm-off for 0, ekvm-on for 1,
# ekvm-exact for e: the ekvm sets share one load). A set that did not load is unloaded as far as it went.
bench_stock() {
	if ! load_set stock 1 >/dev/null; then
		out "@@B $1 stock - load failed"
		rmmod "$VMOD" 2>/dev/null; rmmod kvm 2>/dev/null
	else
		if [ -e /sys/module/kvm/parameters/ekvm_exit_hist ]; then
			out "@@B $1 stock - not stock KVM: it has ekvm_exit_hist"
		else
			bench_set "$1" stock
		fi
		unload_set || out "@@B $1 stock - unload failed"
	fi
	klog "bench/$1/stock"
}
bench_ekvm() {
	br=$1
	shift
	if ! load_set ekvm 1 >/dev/null; then
		out "@@B $br ekvm - load failed"
		rmmod "$VMOD" 2>/dev/null; rmmod kvm 2>/dev/null
	else
		for h in "$@"; do
			case $h in
			0) hs=ekvm-off hv=0 hp='' ;;
			1) hs=ekvm-on hv=1 hp=16 ;;
			*) hs=ekvm-exact hv=1 hp=1 ;;
			esac
			if msg=$(set_hist "$hv" $hp 2>&1); then
				out "@@HIST $br $hs $(cat /sys/module/kvm/parameters/ekvm_exit_hist) $(cat /sys/module/kvm/parameters/ekvm_exit_hist_period 2>/dev/null || echo -)"
				bench_set "$br" "$hs"
			else
				out "@@B $br $hs - ekvm_exit_hist: $msg"
			fi
		done
		unload_set || out "@@B $br ekvm - unload failed"
	fi
	klog "bench/$br/ekvm"
}

# Each round measures stock, ekvm-off, ekvm-on and ekvm-exact, each with both exit kinds; odd rounds in
# that order, even rounds the other way round, so that a drift in time weighs on each alike.
job_bench() {
	klog boot
	rounds=$(param rounds 3)
	secs=$(param secs 5)
	r=1
	while [ "$r" -le "$rounds" ]; do
		if [ $((r % 2)) = 1 ]; then
			bench_stock "$r"
			bench_ekvm "$r" 0 1 e
		else
			bench_ekvm "$r" e 1 0
			bench_stock "$r"
		fi
		r=$((r + 1))
	done
}

# What the emulated CPU gives KVM: the vmx/svm flags the guest kernel saw, then every parameter
# of the loaded vendor module (kvm_intel: ept, vpid, unrestricted_guest, enable_apicv, pml,
# preemption_timer, enable_shadow_vmcs... as KVM settled them on this CPU).
job_probe() {
	klog boot
	out "@@CPU $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
	out "@@CPU flags $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(vmx|svm|ept|vpid|npt|x2apic|tsc_deadline_timer)' | xargs)"
	out "@@CPU vmx $(grep -m1 '^vmx flags' /proc/cpuinfo | cut -d: -f2- | xargs)"
	if load_set "$MODS" "$NPT"; then
		for f in /sys/module/"$VMOD"/parameters/*; do
			out "@@KVMPARAM ${f##*/}=$(tr '\n' ' ' <"$f" 2>/dev/null | xargs)"
		done
		unload_set || out "@@UNLOAD fail"
	fi
	klog probe
}

out "@@BEGIN $JOB $MODS $NPT"
case "$JOB" in
tests) job_tests ;;
reload) job_reload ;;
instance) job_instance ;;
instances) job_instances ;;
bench) job_bench ;;
probe) job_probe ;;
*) out "@@LOAD - fail unknown job $JOB" ;;
esac
finish end
