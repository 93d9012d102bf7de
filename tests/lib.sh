# shellcheck shell=bash
# Helpers for ekvm's tests: sourced by each test script. A test exits 0 to pass, 4 to skip
# (as KSFT_SKIP), anything else to fail; TEST_ASSERT-like helpers say what failed.
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

# Used by the tests that source this file.
# shellcheck disable=SC2034
{
KSFT_SKIP=4
EKVM_KVER=${EKVM_KVER:-$(makefile_var BASE_KVER_6.1)}
EKVM_VERSION_BASE=$(makefile_var BASE_VERSION_6.1)
}
TEST_TMP="$EKVM_BUILD/tests/$(basename "$0" .sh)"
rm -rf "$TEST_TMP" && mkdir -p "$TEST_TMP"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

skip() {
	echo "SKIP: $*" >&2
	exit "$KSFT_SKIP"
}

# assert_eq WHAT EXPECTED ACTUAL
assert_eq() {
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

# assert_match WHAT REGEX TEXT
assert_match() {
	echo "$3" | grep -Eq -- "$2" || fail "$1: '$3' does not match /$2/"
}

# Runs a command that must fail; its combined output is left in $out.
expect_failure() {
	if out=$("$@" 2>&1); then
		fail "'$*' succeeded but must fail; output: $out"
	fi
}

# rerun_in_mount_namespace: runs the calling test again, whole, in a private mount namespace
# (EKVM_MOUNT_NS=1 there: this returns at once) and exits with its status. What the inner run
# mounts goes with the namespace, whatever happens; the roots it unpacked ($TEST_TMP/root*) go
# when it ends, from out here, where nothing is mounted in them. The inner run starts with an
# empty $TEST_TMP: the outer one keeps nothing there.
rerun_in_mount_namespace() {
	[ -z "${EKVM_MOUNT_NS:-}" ] || return 0
	local rc=0
	unshare --mount --propagation private --fork env EKVM_MOUNT_NS=1 "$0" || rc=$?
	rm -rf "$TEST_TMP"/root*
	exit $rc
}

# suite_root_ns SUITE TAR PACKAGE...: the calling test runs again, whole, in a private mount
# namespace (rerun_in_mount_namespace), in a clean root of SUITE with PACKAGEs
# (scripts/suite-root.sh, cached as TAR), unpacked in $TEST_TMP/root with /proc, /sys and /dev
# mounted. In the inner run it returns with root set; in_root runs a command in it.
suite_root_ns() {
	local suite=$1 tar=$2
	shift 2
	if [ -z "${EKVM_MOUNT_NS:-}" ]; then
		"$EKVM_TOP/scripts/suite-root.sh" "$suite" "$tar" "$@"
		rerun_in_mount_namespace
	fi
	root_unpack "$tar" "$TEST_TMP/root"
}

# root_unpack TAR DIR: a root made by scripts/suite-root.sh, unpacked into DIR with /proc, /sys
# and /dev mounted (inside rerun_in_mount_namespace); sets root=DIR, where in_root runs commands.
root_unpack() {
	root=$2
	mkdir -p "$root"
	tar -C "$root" --numeric-owner -xf "$1"
	mount -t proc proc "$root/proc"
	mount -t sysfs sys "$root/sys"
	mount --rbind /dev "$root/dev"
}
in_root() {
	chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"
}

# Unpacks a Debian package into a cached folder and prints the folder.
deb_extract() {
	local pkg=$1 dir="$EKVM_BUILD/dl/$1"
	if [ ! -f "$dir/.extracted" ]; then
		rm -rf "$dir" && mkdir -p "$dir"
		(cd "$dir" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null) ||
			fail "cannot download $pkg"
		dpkg -x "$dir"/*.deb "$dir/root" && touch "$dir/.extracted"
	fi
	echo "$dir/root"
}

# need_tree_and_headers: sets tree (make's prepared KVM tree for EKVM_KVER) and real (that
# kernel's headers), or fails saying what to run.
need_tree_and_headers() {
	tree="$EKVM_BUILD/kvm/$EKVM_KVER"
	real="/lib/modules/$EKVM_KVER/build"
	[ -f "$tree/Makefile" ] || fail "no prepared tree $tree: run make first"
	[ -d "$real" ] || fail "no headers for $EKVM_KVER"
}
