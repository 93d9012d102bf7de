#!/usr/bin/env bash
# ekvm-modules-<kver>, the prebuilt signed modules for one kernel (scripts/build-modules-deb.sh),
# built from make's modules with a key given by the environment: its control fields, its files
# (the three modules in updates/ekvm and the docs, nothing else), the modules' version, vermagic
# and signature (signer, key, and the PKCS#7 checked by openssl against the certificate), the
# depmod of its maintainer scripts, and wrong input refused. lintian runs in the build, which
# fails on any error or warning. No kernel image is installed here, so it is not installed (the
# lab installs it in a Debian root). make deb's package, when there, is checked the same way.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

kver=$EKVM_KVER
pkgver="$EKVM_VERSION_BASE.$(makefile_var EKVM_RELEASE)"
mods="$EKVM_BUILD/modules/$kver"
[ -f "$mods/kvm.ko" ] || fail "no modules in $mods: run make modules first"
abi=$(awk '$2 == "EKVM_ABI_LEVEL" { print $3 }' "$EKVM_TOP/userspace/include/ekvm-abi.h")
build="$EKVM_TOP/scripts/build-modules-deb.sh"

echo "# wrong input"
expect_failure "$build" "$TEST_TMP/out" "$pkgver" "$kver"
assert_match "too few arguments" "^USAGE: " "$out"
expect_failure "$build" "$TEST_TMP/out" "$pkgver" 6.1.0-47-amd64 "$mods"
assert_eq "modules of another kernel" "ekvm: $mods/kvm.ko is built for kernel $kver, not 6.1.0-47-amd64" "$out"
expect_failure env EKVM_MODULE_KEY=/nonexistent "$build" "$TEST_TMP/out" "$pkgver" "$kver" "$mods"
assert_eq "a key without a certificate" "ekvm: EKVM_MODULE_KEY and EKVM_MODULE_CERT go together" "$out"

# check_deb KVER DEB CERT: the package of kernel KVER and its modules (those of
# build/modules/KVER), signed with CERT's key
check_deb() {
	local kver=$1 deb=$2 cert=$3 root m f files signer serial want_version want_magic
	want_version=$(/sbin/modinfo -F version "$EKVM_BUILD/modules/$kver/kvm.ko")
	want_magic=$(/sbin/modinfo -F vermagic "$EKVM_BUILD/modules/$kver/kvm.ko")
	echo "# $(basename "$deb")"
	assert_eq "Package" "ekvm-modules-$kver" "$(dpkg-deb -f "$deb" Package)"
	assert_eq "Version" "$pkgver" "$(dpkg-deb -f "$deb" Version)"
	assert_eq "Architecture" amd64 "$(dpkg-deb -f "$deb" Architecture)"
	assert_eq "Depends" "linux-image-$kver | linux-image-$kver-unsigned, kmod" "$(dpkg-deb -f "$deb" Depends)"
	assert_eq "Provides" "ekvm-abi-$abi" "$(dpkg-deb -f "$deb" Provides)"
	assert_eq "Conflicts" ekvm-dkms "$(dpkg-deb -f "$deb" Conflicts)"
	files=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $6 }' | LC_ALL=C sort | xargs)
	assert_eq "files" "./lib/modules/$kver/updates/ekvm/kvm-amd.ko ./lib/modules/$kver/updates/ekvm/kvm-intel.ko ./lib/modules/$kver/updates/ekvm/kvm.ko ./usr/share/doc/ekvm-modules-$kver/changelog.gz ./usr/share/doc/ekvm-modules-$kver/copyright" "$files"
	root="$TEST_TMP/root-$(basename "$deb" .deb)"
	rm -rf "$root" && dpkg-deb -R "$deb" "$root"
	openssl x509 -inform DER -in "$cert" -out "$TEST_TMP/cert.pem" 2>/dev/null ||
		openssl x509 -in "$cert" -out "$TEST_TMP/cert.pem"
	serial=$(openssl x509 -in "$TEST_TMP/cert.pem" -noout -serial | sed 's/^serial=//')
	signer=$(openssl x509 -in "$TEST_TMP/cert.pem" -noout -subject -nameopt multiline |
		sed -n 's/^ *commonName *= //p')
	for m in kvm kvm-intel kvm-amd; do
		f="$root/lib/modules/$kver/updates/ekvm/$m.ko"
		assert_eq "$m version" "$want_version" "$(/sbin/modinfo -F version "$f")"
		assert_eq "$m vermagic" "$want_magic" "$(/sbin/modinfo -F vermagic "$f")"
		assert_eq "$m signer" "$signer" "$(/sbin/modinfo -F signer "$f")"
		assert_eq "$m signing key" "$serial" "$(/sbin/modinfo -F sig_key "$f" | tr -d :)"
		assert_eq "$m signature hash" sha256 "$(/sbin/modinfo -F sig_hashalgo "$f")"
		# (here-strings: with pipefail, a pipe into grep -q may fail on SIGPIPE)
		! grep -q '\.debug_info' <<<"$(readelf -S "$f")" || fail "$m.ko is not stripped"
		# the appended PKCS#7 signs the module: split it off and verify it with the certificate
		python3 - "$f" "$TEST_TMP/content" "$TEST_TMP/sig" <<-'EOF'
			import struct, sys
			d = open(sys.argv[1], "rb").read()
			magic = b"~Module signature appended~\n"
			assert d.endswith(magic), "no module signature"
			n = struct.unpack(">I", d[-len(magic) - 4:-len(magic)])[0]
			end = len(d) - len(magic) - 12
			open(sys.argv[2], "wb").write(d[:end - n])
			open(sys.argv[3], "wb").write(d[end - n:end])
		EOF
		openssl cms -verify -binary -inform DER -in "$TEST_TMP/sig" -content "$TEST_TMP/content" \
			-certfile "$TEST_TMP/cert.pem" -CAfile "$TEST_TMP/cert.pem" -purpose any -out /dev/null 2>/dev/null ||
			fail "$m.ko: its signature does not verify with $cert"
	done
	# depmod for that kernel only when it is installed, and never failing
	for s in postinst postrm; do
		grep -qxF "		depmod -a -F /boot/System.map-$kver $kver || true" "$root/DEBIAN/$s" ||
			grep -qxF "	depmod -a -F /boot/System.map-$kver $kver || true" "$root/DEBIAN/$s" ||
			fail "$s does not run depmod for $kver: $(cat "$root/DEBIAN/$s")"
		grep -qF "if [ -e /boot/System.map-$kver ]" "$root/DEBIAN/$s" || fail "$s runs depmod without $kver installed"
	done
	echo "ok: $want_version for $kver, signed by \"$signer\" (verified), Provides ekvm-abi-$abi"
}

echo "# built with a key from the environment"
(umask 077 && openssl req -new -x509 -nodes -days 1 -newkey rsa:2048 -sha256 -subj "/CN=ekvm test module key/" \
	-keyout "$TEST_TMP/test.key" -outform PEM -out "$TEST_TMP/test.crt" 2>/dev/null)
EKVM_MODULE_KEY="$TEST_TMP/test.key" EKVM_MODULE_CERT="$TEST_TMP/test.crt" \
	"$build" "$TEST_TMP/out" "$pkgver" "$kver" "$mods" >"$TEST_TMP/build.log" 2>&1 ||
	{ cat "$TEST_TMP/build.log"; fail "build-modules-deb.sh failed"; }
cat "$TEST_TMP/build.log"
check_deb "$kver" "$TEST_TMP/out/ekvm-modules-${kver}_${pkgver}_amd64.deb" "$TEST_TMP/test.crt"

# make deb's packages: one for the kernel of each base of MODULES_DEB_BASES whose modules are built
for b in $(makefile_var MODULES_DEB_BASES); do
	k=$(makefile_var "BASE_KVER_$b")
	made="$EKVM_BUILD/deb/ekvm-modules-${k}_${pkgver}_amd64.deb"
	if [ ! -f "$EKVM_BUILD/modules/$k/kvm.ko" ]; then
		echo "# (no modules built for $k: make deb builds no package for it)"
	elif [ -f "$made" ]; then
		# (signed with the caller's key when make deb had one)
		check_deb "$k" "$made" "${EKVM_MODULE_CERT:-$EKVM_BUILD/keys/module-signing.der}"
	else
		echo "# (no $made: make deb was not run)"
	fi
done
