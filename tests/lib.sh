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
