#!/usr/bin/env bash
# Build ekvm-modules-KVER into OUT: the prebuilt kvm.ko, kvm-intel.ko and kvm-amd.ko of MODULE_DIR
# (built for kernel KVER), stripped and signed, for hosts without a compiler
# (packaging/deb/modules/, docs/packages.md). The signing key is EKVM_MODULE_KEY and
# EKVM_MODULE_CERT (PEM key, DER or PEM certificate), or else a throw-away key made once in
# build/keys/ (like DKMS's mok.key). sign-file is the kernel headers' (EKVM_SIGN_FILE overrides).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 4 ] || usage "$0 OUT PACKAGE_VERSION KVER MODULE_DIR"
out=$(realpath -m "$1") pkgver=$2 kver=$3 moddir=$4
[[ $kver =~ ^[a-z0-9][a-z0-9.+-]*$ ]] || die "not a kernel release: '$kver'"
[[ $pkgver =~ ^[0-9][0-9.]*$ ]] || die "not a package version: '$pkgver'"
[ -d "$moddir" ] || die "no module folder $moddir"
pkg="ekvm-modules-$kver"

# The three modules, all built for KVER and of one ekvm version.
modver=
for m in kvm kvm-intel kvm-amd; do
	f="$moddir/$m.ko"
	[ -f "$f" ] || die "no $m.ko in $moddir (make modules KVER=$kver builds them)"
	magic=$(/sbin/modinfo -F vermagic "$f")
	[ "${magic%% *}" = "$kver" ] || die "$f is built for kernel ${magic%% *}, not $kver"
	v=$(/sbin/modinfo -F version "$f")
	[ -n "$v" ] || die "$f has no version: not an ekvm module"
	[ -z "$modver" ] || [ "$v" = "$modver" ] || die "$f is version $v, kvm.ko is $modver"
	modver=$v
done

# The signing key: the caller's, or the throw-away one, made once.
if [ -n "${EKVM_MODULE_KEY:-}${EKVM_MODULE_CERT:-}" ]; then
	key=${EKVM_MODULE_KEY:-} cert=${EKVM_MODULE_CERT:-}
	{ [ -n "$key" ] && [ -n "$cert" ]; } || die "EKVM_MODULE_KEY and EKVM_MODULE_CERT go together"
	# (a key in a token or HSM is a PKCS#11 URI, which sign-file takes as it is)
	[[ $key == pkcs11:* ]] || [ -f "$key" ] || die "no module signing key $key (EKVM_MODULE_KEY)"
	[ -f "$cert" ] || die "no module signing certificate $cert (EKVM_MODULE_CERT)"
else
	key="$EKVM_BUILD/keys/module-signing.key" cert="$EKVM_BUILD/keys/module-signing.der"
	if [ ! -f "$key" ] || [ ! -f "$cert" ]; then
		mkdir -p "$EKVM_BUILD/keys" && chmod 0700 "$EKVM_BUILD/keys"
		info "making a throw-away module signing key in $EKVM_BUILD/keys (hosts with Secure Boot enrol $cert)"
		# the extensions of the kernel's own certs/default_x509.genkey
		(umask 077 && openssl req -new -x509 -nodes -days 36500 -newkey rsa:2048 -sha256 \
			-subj "/CN=ekvm module signing key (throw-away)/" \
			-addext basicConstraints=critical,CA:FALSE -addext keyUsage=digitalSignature \
			-keyout "$key.tmp" -outform DER -out "$cert.tmp" 2>/dev/null) ||
			die "openssl could not make a signing key"
		chmod 0644 "$cert.tmp" && mv "$key.tmp" "$key" && mv "$cert.tmp" "$cert"
	fi
fi
sign=${EKVM_SIGN_FILE:-}
if [ -z "$sign" ]; then
	# the kernel's own headers' first, else any kbuild's (the signature format is the same)
	mapfile -t kbuilds < <(printf '%s\n' /usr/lib/linux-kbuild-*/scripts/sign-file | sort -rV)
	for s in "/usr/src/linux-headers-$kver/scripts/sign-file" "/lib/modules/$kver/build/scripts/sign-file" \
		"${kbuilds[@]}"; do
		if [ -x "$s" ]; then sign=$s && break; fi
	done
fi
{ [ -n "$sign" ] && [ -x "$sign" ]; } || die "no sign-file: install linux-kbuild-6.1 or the headers of $kver (or set EKVM_SIGN_FILE)"

stage="$out/$pkg-$pkgver"
rm -rf "$stage" && mkdir -p "$stage/modules"
cp -a "$EKVM_TOP/packaging/deb/modules/debian" "$stage/debian"
echo "$kver" >"$stage/kver"
for m in kvm kvm-intel kvm-amd; do
	# as the kernel's modules_install with INSTALL_MOD_STRIP=1: debug info off, then signed
	strip --strip-debug -o "$stage/modules/$m.ko" "$moddir/$m.ko"
	"$sign" sha256 "$key" "$cert" "$stage/modules/$m.ko" || die "sign-file failed on $m.ko"
done
signer=$(/sbin/modinfo -F signer "$stage/modules/kvm.ko")
[ -n "$signer" ] || die "the signed modules carry no signature ($sign)"
# the ABI level the modules provide: the tool's, which is every base's (make check-sync)
abi=$(awk '$2 == "EKVM_ABI_LEVEL" { print $3 }' "$EKVM_TOP/userspace/include/ekvm-abi.h")
[ -n "$abi" ] || die "no EKVM_ABI_LEVEL in userspace/include/ekvm-abi.h"
sed -i -e "s/@KVER@/$kver/g" -e "s/@ABI@/$abi/g" -e "s/@MODVER@/$modver/g" "$stage/debian/control"
cat >"$stage/debian/changelog" <<EOT
$pkg ($pkgver) unstable; urgency=medium

  * ekvm $pkgver: KVM modules $modver,
    prebuilt for Linux $kver

 -- ekvm maintainers <maintainers@ekvm.invalid>  $(git -C "$EKVM_TOP" log -1 --format=%cD 2>/dev/null || date -R)
EOT
deb="$out/${pkg}_${pkgver}_amd64.deb" log="$out/$pkg-$pkgver.build.log"
rm -f "$deb"
deb_build "$stage" "$log" "$deb"
rm -rf "$stage"
info "built $(basename "$deb") (KVM $modver, signed by \"$signer\")"
