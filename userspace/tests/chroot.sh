# shellcheck shell=bash
# Sourced by run.sh (ok, run, usage_error, $EKVM, $T, $O are its own).

# The groups that make mount namespaces (in_mount_ns), and fake_debugfs_tests as a control.
CHROOT_GROUPS="fake_debugfs_tests debugfs_tests unprivileged_tests hist_host_tests"

# chroot_skip WHY: one skipped test.
chroot_skip() {
	echo "ok $((n + 1)) - # SKIP suite in a chroot: $1"
	n=$((n + 1)); passed=$((passed + 1))
}

# chroot_mounts BASE: the mount points at or under BASE in this mount namespace, sorted.
chroot_mounts() {
	awk -v b="$1" '$5 == b || index($5, b "/") == 1 { print $5 }' /proc/self/mountinfo | sort
}

# chroot_setup BASE ROOT: a tmpfs at BASE, shared as / is on systemd hosts (a mount that leaked
# out of a namespace would show here), and in it ROOT, a directory that is not a mount point:
# read-only binds of /usr, /etc and of the tree and build folder, /proc, /sys, /dev (slaves:
# unmounting them does not reach the host's), a fresh /tmp.
chroot_setup() {
	local base=$1 r=$2 d l
	mount -t tmpfs -o mode=755 ekvm-chroot "$base" && mount --make-shared "$base" || return 1
	mkdir -p "$r/tmp" "$r/run" "$r/root" && chmod 1777 "$r/tmp" || return 1
	for l in bin sbin lib lib32 lib64 libx32; do
		if [ -L "/$l" ]; then
			ln -s "$(readlink "/$l")" "$r/$l" || return 1
		elif [ -d "/$l" ]; then
			mkdir -p "$r/$l" && mount --bind -o ro "/$l" "$r/$l" || return 1
		fi
	done
	for d in /usr /etc "$PWD" "$O"; do
		mkdir -p "$r$d" && mount --rbind -o ro "$d" "$r$d" && mount --make-rslave "$r$d" || return 1
	done
	for d in /proc /sys /dev; do
		mkdir -p "$r$d" && mount --rbind "$d" "$r$d" && mount --make-rslave "$r$d" || return 1
	done
}

# chroot_results OUTPUT STATUS: a suite's count line, exit status and skips, on one line.
chroot_results() {
	{ grep ' passed, ' "$1" | tail -1; grep '^rc=' "$2"; grep '# SKIP' "$1" | sed 's/^ok [0-9]* //'; } |
		tr '\n' '|'
}

# chroot_cleanup BASE: unmounts everything under BASE and removes it (rmdir only: nothing is
# deleted through a mount that is still there).
chroot_cleanup() {
	# (a lazy unmount of BASE detaches the whole tree, even where a mount hides others)
	umount -R "$1" 2>/dev/null || umount -l "$1" 2>/dev/null
	[ -z "$(chroot_mounts "$1")" ] && rmdir "$1"
}

# The suite's mount-namespace tests in a chroot whose / is not a mount point (debootstrap
# chroots, the build roots of distributions and of many CI containers): unshare cannot change
# the propagation of such a root (issue 17). They must give the same results as here, and no
# mount made in their namespaces may appear outside them.
chroot_tests() {
	local base r line groups res_in res_out leaked before
	if [ -n "${EKVM_TEST_IN_CHROOT:-}" ]; then
		return 0 # this suite runs in the test's chroot: no chroot in the chroot
	fi
	if [ "$(id -u)" -ne 0 ]; then chroot_skip "needs root (mount, chroot)"; return; fi
	for line in chroot unshare mount umount mountpoint; do
		command -v "$line" >/dev/null || { chroot_skip "no $line"; return; }
	done
	base=$(mktemp -d /tmp/ekvm-chroot.XXXXXX) # (not in $T: run.sh's trap removes $T with rm -rf)
	r=$base/root
	groups=${EKVM_CHROOT_GROUPS:-$CHROOT_GROUPS}
	(
		trap 'chroot_cleanup "$base"' EXIT
		trap 'exit 130' INT TERM HUP
		if ! chroot_setup "$base" "$r" >"$T/chroot-setup" 2>&1; then
			echo "setup failed: $(tr '\n' ' ' <"$T/chroot-setup")" >"$T/chroot-status"
			exit 0
		fi
		chroot "$r" mountpoint -q / && echo "is-mountpoint" >"$T/chroot-status"
		chroot_mounts "$base" >"$T/chroot-before"
		chroot "$r" env EKVM_TEST_IN_CHROOT=1 EKVM_TESTS="$groups" O="$O" \
			"$PWD/tests/run.sh" >"$T/chroot-out" 2>&1
		echo "rc=$?" >>"$T/chroot-status"
		chroot_mounts "$base" >"$T/chroot-after"
	)
	[ -z "$(chroot_mounts "$base")" ] && [ ! -e "$base" ]
	ok $? "chroot: everything unmounted and removed ($base)"
	if grep -q '^setup failed' "$T/chroot-status"; then
		chroot_skip "$(cat "$T/chroot-status")"
		return
	fi
	! grep -q is-mountpoint "$T/chroot-status"
	ok $? "chroot: / is not a mount point there"
	while IFS= read -r line; do
		case "$line" in
		"ok "*) ok 0 "in a chroot: ${line#ok * - }" ;;
		"not ok "*) ok 1 "in a chroot: ${line#not ok * - }" ;;
		*) echo "# chroot: $line" ;;
		esac
	done <"$T/chroot-out"
	# the same groups here: the same counts, exit status and skips (descriptions name pids and
	# paths); a test that fails here too fails above as well, and in its own group
	EKVM_TEST_IN_CHROOT=1 EKVM_TESTS="$groups" O="$O" tests/run.sh >"$T/chroot-here" 2>&1
	echo "rc=$?" >"$T/chroot-here-status"
	res_in=$(chroot_results "$T/chroot-out" "$T/chroot-status")
	res_out=$(chroot_results "$T/chroot-here" "$T/chroot-here-status")
	[ "$res_in" = "$res_out" ]
	ok $? "chroot: $groups: the same results as here (chroot: $res_in; here: $res_out)"
	before=$(cat "$T/chroot-before")
	leaked=$(comm -13 "$T/chroot-before" "$T/chroot-after" | tr '\n' ' ')
	[ -n "$before" ] && [ -z "$leaked" ]
	ok $? "chroot: no mount leaked out of the tests' namespaces${leaked:+ ($leaked)}"
}
