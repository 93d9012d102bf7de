#!/usr/bin/env bash
# Build the programs the guest runs for one base, all static, under build/vm/tests/BASE_VERSION/
# (each base version has its own, cached separately):
#   usr/include/         the base source's uapi headers (make headers_install, out of tree)
#   selftests/           the upstream KVM selftests of the base source (tools/testing/selftests/kvm)
#   selftests.list       their x86_64 programs, one path (relative to selftests/) a line
#   bin/helpers/         runtest and kvmloop (tests/vm/helpers/)
#   bin/ekvm/            ekvm's own tests (tests/vm/ekvm/*.c, one test per file)
#   build-tests.sh BASE_VERSION
# Prints nothing on stdout; tests_dir BASE_VERSION (below) is where the results are.
# The base source (build/src/linux-BASE_VERSION, from `make import`) is only read.
# tests/vm/selftests-compat-<series>.h, when there is one for the base's series (6.1), is
# force-included into its selftests.
# Incremental: headers and selftests are rebuilt only when the source or the compat header change.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

[ $# -eq 1 ] || usage "$0 BASE_VERSION"
src=$(src_dir "$1")
[ -f "$src/Makefile" ] || die "no base source in $src: run make import BASE=$(series_of "$1")"
vm=$EKVM_BUILD/vm/tests/$1
here=$EKVM_TOP/tests/vm
ksft=$src/tools/testing/selftests/kvm
compat=$here/selftests-compat-$(series_of "$1").h
mkdir -p "$vm"

# The key of a cached step: what it was built from.
compat_sum=none
[ ! -f "$compat" ] || compat_sum=$(sha256sum <"$compat" | cut -c1-16)
key="$src $(stat -c %Y "$src/Makefile") $compat_sum $(gcc -dumpfullversion)"

if [ "$(cat "$vm/usr/.key" 2>/dev/null)" != "$key" ]; then
	info "installing the uapi headers of $(basename "$src")"
	rm -rf "${vm:?}/usr" "${vm:?}/obj-hdr"
	make -s -C "$src" O="$vm/obj-hdr" INSTALL_HDR_PATH="$vm/usr" headers_install >"$vm/headers.log" 2>&1 ||
		{ tail -5 "$vm/headers.log" >&2; die "headers_install failed (log: $vm/headers.log)"; }
	echo "$key" >"$vm/usr/.key"
fi

if [ "$(cat "$vm/selftests/.key" 2>/dev/null)" != "$key" ]; then
	rm -rf "$vm/selftests"
fi
mkdir -p "$vm/selftests"
info "building the KVM selftests of $(basename "$src")"
# Built static for the initramfs, against the headers installed above (INSTALL_HDR_PATH for 6.1's
# Makefile, KHDR_INCLUDES for later ones'); the compat header supplies what stable backports miss.
cflags="-static"
[ ! -f "$compat" ] || cflags+=" -include $compat"
ksft_make=(make -C "$ksft" OUTPUT="$vm/selftests" INSTALL_HDR_PATH="$vm/usr"
	KHDR_INCLUDES="-isystem $vm/usr/include" EXTRA_CFLAGS="$cflags")
if ! "${ksft_make[@]}" -j"$(nproc)" >"$vm/selftests.log" 2>&1; then
	grep -E 'error|undefined reference' "$vm/selftests.log" | head -5 >&2
	die "the KVM selftests did not build (log: $vm/selftests.log)"
fi
echo "$key" >"$vm/selftests/.key"

# The x86_64 test programs, as the selftests' Makefile lists them (TEST_GEN_PROGS).
# shellcheck disable=SC2016 # $(TEST_GEN_PROGS) is make's
"${ksft_make[@]}" -s --no-print-directory \
	--eval 'ekvm-list: ; @printf "%s\n" $(TEST_GEN_PROGS)' ekvm-list |
	sed "s|^$vm/selftests/||" >"$vm/selftests.list.tmp"
[ -s "$vm/selftests.list.tmp" ] || die "no selftest programs listed"
while read -r t; do
	[ -x "$vm/selftests/$t" ] || die "selftest $t was not built"
done <"$vm/selftests.list.tmp"
mv "$vm/selftests.list.tmp" "$vm/selftests.list"

info "building the harness's helpers and ekvm's tests"
make -s -C "$here" OUT="$vm/bin" HDR="$vm/usr/include" KSFT="$ksft" KSFT_OUT="$vm/selftests" \
	>"$vm/bin.log" 2>&1 || { cat "$vm/bin.log" >&2; die "ekvm tests or helpers did not build"; }
info "$(wc -l <"$vm/selftests.list") selftests, $(find "$vm/bin/ekvm" -type f -executable | wc -l) ekvm tests ($vm)"
