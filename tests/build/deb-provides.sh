#!/usr/bin/env bash
# scripts/deb-provides.sh, which makes the ekvm kernel's image package provide ekvm-abi-<level>:
# on a small package built here, the field is added (and merged into an existing Provides, once),
# the files, their checksums and the other control fields stay as they were, a bad name is
# refused, and dpkg (in a scratch database) installs a package that depends on ekvm-abi-6 with the
# changed package and refuses it with the original.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

mkpkg() { # mkpkg NAME [DEPENDS]: a package NAME with one file, in $TEST_TMP/NAME.deb
	local d="$TEST_TMP/src-$1"
	mkdir -p "$d/DEBIAN" "$d/usr/share/$1"
	echo "$1" >"$d/usr/share/$1/file"
	(cd "$d" && md5sum usr/share/"$1"/file >DEBIAN/md5sums)
	printf 'Package: %s\nVersion: 1.0\nArchitecture: all\nMaintainer: ekvm maintainers <maintainers@ekvm.invalid>\n%sDescription: test package\n' \
		"$1" "${2:+Depends: $2$'\n'}" >"$d/DEBIAN/control"
	dpkg-deb --root-owner-group -b "$d" "$TEST_TMP/$1.deb" >/dev/null
}
fields() { dpkg-deb -f "$1" | grep -v '^Provides: '; }

mkpkg kimage
cp "$TEST_TMP/kimage.deb" "$TEST_TMP/kimage-orig.deb"
"$EKVM_TOP/scripts/deb-provides.sh" "$TEST_TMP/kimage.deb" ekvm-abi-6
assert_eq "Provides" "ekvm-abi-6" "$(dpkg-deb -f "$TEST_TMP/kimage.deb" Provides)"
assert_eq "the other fields" "$(fields "$TEST_TMP/kimage-orig.deb")" "$(fields "$TEST_TMP/kimage.deb")"
assert_eq "the files" "$(dpkg-deb -c "$TEST_TMP/kimage-orig.deb")" "$(dpkg-deb -c "$TEST_TMP/kimage.deb")"
assert_eq "md5sums" "$(dpkg-deb -I "$TEST_TMP/kimage-orig.deb" md5sums)" "$(dpkg-deb -I "$TEST_TMP/kimage.deb" md5sums)"
"$EKVM_TOP/scripts/deb-provides.sh" "$TEST_TMP/kimage.deb" ekvm-abi-6 linux-image
assert_eq "Provides, merged once" "ekvm-abi-6, linux-image" "$(dpkg-deb -f "$TEST_TMP/kimage.deb" Provides)"
expect_failure "$EKVM_TOP/scripts/deb-provides.sh" "$TEST_TMP/kimage.deb" 'x, y'
assert_eq "a bad name" "ekvm: 'x, y' is not a package name" "$out"
expect_failure "$EKVM_TOP/scripts/deb-provides.sh" "$TEST_TMP/none.deb" ekvm-abi-6
assert_eq "no package" "ekvm: no package $TEST_TMP/none.deb" "$out"

# dpkg resolves the virtual package
mkpkg ktools ekvm-abi-6
db() { # db DIR ARGS: dpkg on a scratch database and root in DIR
	mkdir -p "$1/admin/info" "$1/admin/updates" "$1/admin/triggers" "$1/root"
	touch "$1/admin/status" "$1/admin/available"
	local dir=$1
	shift
	dpkg --admindir="$dir/admin" --instdir="$dir/root" --force-script-chrootless --log=/dev/null "$@"
}
db "$TEST_TMP/db1" -i "$TEST_TMP/kimage.deb" "$TEST_TMP/ktools.deb" >"$TEST_TMP/db1.log" 2>&1 ||
	fail "dpkg did not install ktools with the image providing ekvm-abi-6: $(tail -3 "$TEST_TMP/db1.log")"
expect_failure db "$TEST_TMP/db2" -i "$TEST_TMP/kimage-orig.deb" "$TEST_TMP/ktools.deb"
echo "$out" | grep -q "depends on ekvm-abi-6" || fail "dpkg without the Provides: $out"
echo "Provides added, files and fields kept; dpkg satisfies ekvm-abi-6 with it, not without"
