#!/usr/bin/env bash
# ekvm's apt repository as Debian 12 and Debian 13 hosts use it (make pkg-test; root): a signed
# repository with suites bookworm and trixie (scripts/build-repo.sh, a throw-away key) holding
# each suite's packages built in a clean root of that suite (build-deb.sh -s, as make repo
# builds them) and ekvm-archive-keyring, then the next release built the same way. In a clean root of each
# suite (scripts/suite-root.sh, cached in build/roots/; trixie's with a kernel's headers, so
# DKMS builds there), entered with chroot in a private mount namespace, the repository bound
# in at /srv/ekvm and read over file:, as docs/packages.md tells a host to:
#  1. the key put in place by hand, the deb822 sources entry with Signed-By:, apt-get update;
#     apt installs ekvm-archive-keyring and ekvm-tools (which brings ekvm-dkms): the keyring
#     package owns the key file from then on;
#  2. the repository moves to the next release (N+1): apt-get upgrade takes it;
#  3. a tampered InRelease is refused (apt-get update fails, nothing newer is seen);
#  4. apt purges ekvm: nothing of it left but the keyring package.
set -euo pipefail
. "$(dirname "$0")/../lib-pkg.sh"

release=$(makefile_var EKVM_RELEASE) k13=$(makefile_var TRIXIE_KVER)
next="$EKVM_VERSION_BASE.$((release + 1))"
read -r -a dkms_releases <<<"$(makefile_var DKMS_RELEASES_ALL)"
repo=$TEST_TMP/repo key=$TEST_TMP/key

if [ -z "${EKVM_SUITES_NS:-}" ]; then
	"$EKVM_TOP/scripts/suite-root.sh" bookworm "$EKVM_BUILD/roots/bookworm-dkms.tar" dkms kmod ca-certificates
	read -r -a trixie_pkgs <<<"$(trixie_root_packages "$k13")"
	"$EKVM_TOP/scripts/suite-root.sh" trixie "$TRIXIE_ROOT_TAR" "${trixie_pkgs[@]}"
	"$EKVM_TOP/scripts/make-signing-key.sh" "$key" >/dev/null
	"$EKVM_TOP/scripts/build-keyring-deb.sh" "$TEST_TMP/keyring" "$PKGVER" "$key" >/dev/null
	for suite in bookworm trixie; do
		"$EKVM_TOP/scripts/build-deb.sh" -s "$suite" "$TEST_TMP/$suite-n" "$PKGVER" \
			"${dkms_releases[@]}" >"$TEST_TMP/build-$suite-n.log" 2>&1 ||
			{ tail -20 "$TEST_TMP/build-$suite-n.log"; fail "building $PKGVER in a $suite root failed"; }
		EKVM_RELEASE=$((release + 1)) "$EKVM_TOP/scripts/build-deb.sh" -s "$suite" "$TEST_TMP/$suite-next" "$next" \
			"${dkms_releases[@]}" >"$TEST_TMP/build-$suite-next.log" 2>&1 ||
			{ tail -20 "$TEST_TMP/build-$suite-next.log"; fail "building $next in a $suite root failed"; }
	done
	rc=0
	# keep TEST_TMP (lib.sh empties it when the test starts): the inner run keeps its own
	mv "$TEST_TMP" "$TEST_TMP.outer"
	unshare --mount --propagation private --fork env EKVM_SUITES_NS=1 "$0" || rc=$?
	rm -rf "$TEST_TMP"/root-* "$TEST_TMP.outer"
	exit $rc
fi
outer=$TEST_TMP.outer
publish() { # publish SUITE DEB...: the repository's SUITE now holds these packages
	local s=$1
	shift
	"$EKVM_TOP/scripts/build-repo.sh" "$repo" "$s" "$outer/key" \
		"$outer/keyring/ekvm-archive-keyring_${PKGVER}_all.deb" "$@" >/dev/null
}
# SUITE's packages of release VERSION (N or next), built in its root
built() { echo "$outer/$1-$2/ekvm-dkms_${3}_all.deb" "$outer/$1-$2/ekvm-tools_${3}_amd64.deb" "$outer/$1-$2/ekvm-fleet_${3}_amd64.deb"; }

for suite in bookworm trixie; do
	echo "# $suite"
	case $suite in
	bookworm) tar=$EKVM_BUILD/roots/bookworm-dkms.tar ;;
	trixie) tar=$TRIXIE_ROOT_TAR ;;
	esac
	root_unpack "$tar" "$TEST_TMP/root-$suite"
	mkdir -p "$root/srv/ekvm"
	read -r -a release_n <<<"$(built "$suite" n "$PKGVER")"
	read -r -a release_next <<<"$(built "$suite" next "$next")"
	publish "$suite" "${release_n[@]}"
	mount --bind "$repo" "$root/srv/ekvm"
	apt_r() { in_root apt-get -y -q -o Dpkg::Use-Pty=0 --no-install-recommends "$@"; }

	echo "## 1. add the repository, install"
	install -m 0644 "$repo/ekvm-archive-keyring.gpg" "$root/usr/share/keyrings/ekvm-archive-keyring.gpg"
	cat >"$root/etc/apt/sources.list.d/ekvm.sources" <<-EOT
		Types: deb
		URIs: file:/srv/ekvm
		Suites: $suite
		Components: main
		Signed-By: /usr/share/keyrings/ekvm-archive-keyring.gpg
	EOT
	apt_r update >"$TEST_TMP/$suite-update.log" 2>&1 || { tail -20 "$TEST_TMP/$suite-update.log"; fail "$suite: apt-get update failed"; }
	apt_r install ekvm-archive-keyring ekvm-tools >"$TEST_TMP/$suite-install.log" 2>&1 ||
		{ tail -30 "$TEST_TMP/$suite-install.log"; fail "$suite: apt-get install ekvm-tools failed"; }
	# the host got its suite's build of the tool
	dpkg-deb -x "${release_n[1]}" "$TEST_TMP/$suite-tools"
	cmp -s "$TEST_TMP/$suite-tools/usr/bin/ekvm" "$root/usr/bin/ekvm" || fail "$suite: /usr/bin/ekvm is not $suite's build"
	assert_eq "$suite: the key file's package" "ekvm-archive-keyring: /usr/share/keyrings/ekvm-archive-keyring.gpg" \
		"$(in_root dpkg -S /usr/share/keyrings/ekvm-archive-keyring.gpg)"
	# shellcheck disable=SC2016 # dpkg-query's format
	assert_eq "$suite: installed" "ekvm-dkms $PKGVER ekvm-tools $PKGVER" \
		"$(in_root dpkg-query -W -f '${Package} ${Version} ' ekvm-dkms ekvm-tools | xargs)"
	in_root ekvm --version | grep -qF "$PKGVER" || fail "$suite: ekvm --version: $(in_root ekvm --version 2>&1)"
	if [ "$suite" = trixie ]; then
		[ -f "$root/lib/modules/$k13/updates/dkms/kvm-amd.ko.xz" ] || fail "trixie: no ekvm modules for $k13"
	fi
	echo "$suite: ekvm-archive-keyring and ekvm-tools $PKGVER (with ekvm-dkms) from the repository"

	echo "## 2. the next release"
	publish "$suite" "${release_next[@]}"
	apt_r update >"$TEST_TMP/$suite-update2.log" 2>&1 || { tail -20 "$TEST_TMP/$suite-update2.log"; fail "$suite: apt-get update failed"; }
	apt_r upgrade >"$TEST_TMP/$suite-upgrade.log" 2>&1 || { tail -30 "$TEST_TMP/$suite-upgrade.log"; fail "$suite: apt-get upgrade failed"; }
	# shellcheck disable=SC2016 # dpkg-query's format
	assert_eq "$suite: upgraded" "ekvm-dkms $next ekvm-tools $next" \
		"$(in_root dpkg-query -W -f '${Package} ${Version} ' ekvm-dkms ekvm-tools | xargs)"
	if [ "$suite" = trixie ]; then
		assert_eq "trixie: $k13's modules" "$(makefile_var BASE_VERSION_6.12).$((release + 1))" \
			"$(in_root modinfo -F version "/lib/modules/$k13/updates/dkms/kvm-amd.ko.xz")"
	fi
	echo "$suite: apt-get upgrade took $next"

	echo "## 3. a tampered repository"
	cp -a "$repo/dists/$suite/InRelease" "$TEST_TMP/InRelease.good"
	sed -i '0,/^Date: /s/^Date: .*/Date: Thu, 01 Jan 2099 00:00:00 UTC/' "$repo/dists/$suite/InRelease"
	if apt_r update >"$TEST_TMP/$suite-tampered.log" 2>&1 &&
		! grep -q "^[EW]: .*\(signature\|not signed\|BADSIG\)" "$TEST_TMP/$suite-tampered.log"; then
		fail "$suite: apt-get update accepted a tampered InRelease: $(tail -5 "$TEST_TMP/$suite-tampered.log")"
	fi
	grep -m1 -E "^[EW]: " "$TEST_TMP/$suite-tampered.log"
	cp -a "$TEST_TMP/InRelease.good" "$repo/dists/$suite/InRelease"

	echo "## 4. remove"
	apt_r purge ekvm-tools ekvm-dkms >"$TEST_TMP/$suite-purge.log" 2>&1 ||
		{ tail -30 "$TEST_TMP/$suite-purge.log"; fail "$suite: purge failed"; }
	for f in /usr/bin/ekvm /usr/src/ekvm-"$next" /var/lib/dkms/ekvm /usr/lib/ekvm; do
		[ ! -e "$root$f" ] || fail "$suite: $f is left after purge"
	done
	if [ "$suite" = trixie ]; then
		[ -z "$(find "$root/lib/modules/$k13/updates" -name 'kvm*' 2>/dev/null)" ] || fail "trixie: ekvm modules left"
	fi
	echo "$suite: purged"
	umount -R "$root/srv/ekvm" "$root/dev" "$root/sys" "$root/proc"
	rm -rf "$root"
done
