# shellcheck shell=bash
# Helpers for the package lifecycle tests (tests/pkg/): they install and remove packages and
# kernel headers on this machine, as root, and put back what they changed.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "the package tests install packages: run them as root"
export DEBIAN_FRONTEND=noninteractive

# shellcheck disable=SC2034 # used by the tests that source this file
PKGVER="$EKVM_VERSION_BASE.$(makefile_var EKVM_RELEASE)"

# apt waits for a dpkg lock held by someone else (another test installing kernel packages).
apt_q() {
	apt-get -y -q -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=900 --no-install-recommends "$@"
}

# The names of the installed packages, sorted.
installed_packages() {
	dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 == "ii" { print $2 }' | LC_ALL=C sort
}

# The Linux point release of an installed kernel's headers, and ekvm's module version for it.
point_release() {
	"$EKVM_TOP/kernel/ekvm-check.sh" version "/lib/modules/$1/build"
}

# The files modprobe would load for kvm_amd on kernel KVER, one a line.
resolution() {
	modprobe -S "$1" --show-depends kvm_amd | awk '$1 == "insmod" { print $2 }'
}

# assert_ekvm_modules KVER RELEASE: kernel KVER resolves kvm_amd to ekvm's signed modules of
# version <point release>.RELEASE in updates/dkms, built for KVER (vermagic: the kernel's own
# modules' when it has them, else at least KVER's name).
assert_ekvm_modules() {
	local kver=$1 want m f magic stock res dir="/lib/modules/$1/updates/dkms"
	local -A path
	want="$(point_release "$kver").$2"
	stock=$(module_file "/lib/modules/$kver/kernel/arch/x86/kvm" kvm) &&
		stock=$(/sbin/modinfo -F vermagic "$stock")
	for m in kvm kvm-intel kvm-amd; do
		f=$(module_file "$dir" "$m") || fail "$kver: no $dir/$m.ko*"
		path[$m]=$f
		assert_eq "$kver $m version" "$want" "$(/sbin/modinfo -F version "$f")"
		assert_eq "$kver $m signer" "DKMS module signing key" "$(/sbin/modinfo -F signer "$f")"
		magic=$(/sbin/modinfo -F vermagic "$f")
		assert_eq "$kver $m vermagic's kernel" "$kver" "${magic%% *}"
		[ -z "$stock" ] || assert_eq "$kver $m vermagic" "$stock" "$magic"
	done
	# here-strings, not pipes: with pipefail a pipe into grep -q may fail on SIGPIPE
	res=$(resolution "$kver")
	for m in kvm kvm-amd; do
		grep -qxF "${path[$m]}" <<<"$res" ||
			fail "$kver: $m resolves to: $(xargs <<<"$res") (want ${path[$m]}; $dir has: $(cd "$dir" && echo *))"
	done
	echo "$kver: ekvm $want ($(basename "$f")), signed, vermagic ${magic%% *}, resolved by modprobe"
}

# assert_stock_resolution KVER: kvm_amd resolves to the kernel's own module.
assert_stock_resolution() {
	local own
	own=$(module_file "/lib/modules/$1/kernel/arch/x86/kvm" kvm-amd) || fail "$1 has no kvm-amd module of its own"
	grep -qxF "$own" <<<"$(resolution "$1")" ||
		fail "$1: kvm_amd does not resolve to the kernel's own module: $(resolution "$1" | xargs)"
}

# No ekvm module is left for KVER (only the kernel's own, if it has any).
assert_no_ekvm_modules() {
	local kver=$1
	[ -z "$(find "/lib/modules/$kver/updates" -name 'kvm*.ko*' 2>/dev/null)" ] ||
		fail "$kver: ekvm modules left: $(find "/lib/modules/$kver/updates" -name 'kvm*')"
	if grep -q updates/ <<<"$(resolution "$kver" 2>/dev/null)"; then
		fail "$kver: kvm_amd still resolves to updates/"
	fi
}

# The stock KVM modules of Debian's KVER image, put where the image package puts them (without
# installing the image: this machine gets no kernel image), so that the tests can see resolution
# go from stock to ekvm and back and check that the distro's files are never touched (compressed
# as the image has them: 6.12's are .ko.xz). stock_modules_remove takes them away again.
STOCK_MODULES=(kernel/arch/x86/kvm/kvm kernel/arch/x86/kvm/kvm-amd kernel/arch/x86/kvm/kvm-intel
	kernel/virt/lib/irqbypass kernel/drivers/crypto/ccp/ccp)
stock_modules_add() {
	local kver=$1 root f m
	root=$(deb_extract "linux-image-$kver-unsigned")
	for m in "${STOCK_MODULES[@]}"; do
		f=$(cd "$root/lib/modules/$kver" && echo "$m".ko*)
		[ -f "$root/lib/modules/$kver/$f" ] || fail "linux-image-$kver-unsigned has no $m.ko"
		install -D -m 0644 "$root/lib/modules/$kver/$f" "/lib/modules/$kver/$f"
	done
	# (its warnings: no modules.order or modules.builtin, which come with the whole image)
	depmod "$kver" 2>/dev/null
}
stock_modules_remove() {
	local kver=$1 m
	for m in "${STOCK_MODULES[@]}"; do
		rm -f "/lib/modules/$kver/$m".ko*
	done
	find "/lib/modules/$kver/kernel" -type d -empty -delete 2>/dev/null || true
	depmod "$kver" 2>/dev/null
}
# The stock modules' checksums; fails when one is missing.
stock_checksums() {
	local m f
	for m in "${STOCK_MODULES[@]}"; do
		f=$(cd "/lib/modules/$1" && echo "$m".ko*)
		[ -f "/lib/modules/$1/$f" ] || fail "$1: the stock module $m.ko is missing"
		(cd "/lib/modules/$1" && sha256sum "$f")
	done
}

# The Linux point release of a kernel headers package in the apt lists (its upstream version).
apt_point_release() {
	local v
	v=$(apt-cache show --no-all-versions "$1" | sed -n 's/^Version: //p' | head -1)
	echo "${v%%-*}"
}

# The newest Debian 12 amd64 kernel headers package in the apt lists, not installed, whose point
# release ekvm-dkms has no tree for (an older 6.12.y today; 6.1.0-57 is 6.1.192 again). Prints
# nothing when there is none.
unsupported_headers() {
	local carried p
	carried=" $(makefile_var DKMS_RELEASES_ALL | tr ' ' '\n' | cut -d: -f1 | xargs) "
	apt-cache search --names-only '^linux-headers-(6\.1\.0-[0-9]+|6\.12\.[0-9]+\+deb12)-amd64$' |
		awk '{print $1}' | sort -rV | while read -r p; do
		[[ $carried == *" $(apt_point_release "$p") "* ]] && continue
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' && continue
		echo "$p"
		break
	done
}

# lifecycle_begin BASE "KVER..." REMOVE...: the state a lifecycle test starts from: no ekvm
# package (REMOVE... is the command that removes them), headers for kernels BASE and KVER... and
# no other Debian 12 headers but those of the kernels in LC_KEEP (a list), the stock modules of
# BASE and KVER... in place. On exit the test
# puts the machine back: ekvm removed, what the test installed purged, the stock modules taken
# away, the headers set aside reinstalled (scripts/install-deps.sh: without their images).
lifecycle_begin() {
	local base=$1 k keep=()
	local -a more
	read -r -a more <<<"$2"
	shift 2
	LC_REMOVE=("$@") LC_STOCK=("$base" "${more[@]}")
	for k in "$base" "${more[@]}" ${LC_KEEP:-}; do
		keep+=(-e "linux-headers-$k")
	done
	mapfile -t LC_ASIDE < <(installed_packages |
		grep -E '^linux-headers-(6\.1\.0-[0-9]+|6\.12\.[0-9]+\+deb12)-amd64$' | grep -vx "${keep[@]}")
	LC_BEFORE=$(installed_packages)
	trap lifecycle_end EXIT
	"${LC_REMOVE[@]}" >/dev/null 2>&1 || true
	[ ${#LC_ASIDE[@]} -eq 0 ] || apt_q purge "${LC_ASIDE[@]}" >/dev/null 2>&1
	"$EKVM_TOP/scripts/install-deps.sh" "$base" "${more[@]}"
	for k in "${LC_STOCK[@]}"; do
		stock_modules_add "$k"
	done
}
lifecycle_end() {
	local new
	set +e
	"${LC_REMOVE[@]}" >/dev/null 2>&1
	mapfile -t new < <(comm -13 <(echo "$LC_BEFORE") <(installed_packages))
	[ ${#new[@]} -eq 0 ] || apt_q purge "${new[@]}" >/dev/null 2>&1
	for k in "${LC_STOCK[@]}"; do
		stock_modules_remove "$k"
	done
	[ ${#LC_ASIDE[@]} -eq 0 ] || "$EKVM_TOP/scripts/install-deps.sh" "${LC_ASIDE[@]#linux-headers-}" >/dev/null 2>&1
}

# The clean Debian 13 root of the trixie tests (one cached tarball for all of them): DKMS and
# Debian 13's kernel KVER (headers and image: the image's own KVM modules and modules.dep).
TRIXIE_ROOT_TAR=$EKVM_BUILD/roots/trixie-dkms.tar
trixie_root_packages() {
	echo dkms "linux-headers-$1" "linux-image-$1" kmod xz-utils openssl python3 libkmod2 ca-certificates
}

# trixie_root KVER: the calling test runs again in a private mount namespace (the root is about
# 2 GB) in that root, unpacked in $TEST_TMP/root with a tmpfs /tmp (suite_root_ns); sets root.
trixie_root() {
	local pkgs
	read -r -a pkgs <<<"$(trixie_root_packages "$1")"
	suite_root_ns trixie "$TRIXIE_ROOT_TAR" "${pkgs[@]}"
	mount -t tmpfs tmpfs "$root/tmp"
}
