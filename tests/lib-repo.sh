# shellcheck shell=bash
# Helpers for the tests of packages as hosts get them (tests/repo/, tests/pkg/): an apt
# repository read with an apt configuration of its own in $TEST_TMP/apt (this machine's sources,
# lists, cache and pins untouched, no dpkg lock taken), and dpkg in a scratch folder. Sourced
# after tests/lib.sh.

# repo_apt REPO SUITE[:COMPONENT,...]... -- ARGS: apt-get ARGS (apt-cache with APT=apt-cache)
# with sources for the SUITEs of the repository folder REPO (components: main unless given),
# signed-by= REPO/ekvm-archive-keyring.gpg (or $KEYRING).
repo_apt() {
	local repo=$1 a="$TEST_TMP/apt" s c suites=()
	shift
	while [ "$1" != -- ]; do suites+=("$1") && shift; done
	shift
	mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/empty"
	: >"$a/sources.list"
	for s in "${suites[@]}"; do
		c=main
		[[ $s != *:* ]] || c=${s#*:} s=${s%%:*}
		echo "deb [signed-by=${KEYRING:-$repo/ekvm-archive-keyring.gpg}] file:$repo $s ${c//,/ }" >>"$a/sources.list"
	done
	"${APT:-apt-get}" -o Dir::Etc::sourcelist="$a/sources.list" \
		-o Dir::Etc::sourceparts="$a/empty" -o Dir::Etc::preferencesparts="$a/empty" \
		-o Dir::State::Lists="$a/lists" -o Dir::Cache="$a/cache" \
		-o APT::Sandbox::User=root -o Debug::NoLocking=1 "$@"
}

# A new apt state: no lists of an earlier update.
repo_apt_reset() {
	rm -rf "$TEST_TMP/apt"
}

# repo_madison REPO "SUITE[:COMPONENT,...]..." PACKAGE...: "package version suite/component" for
# every version of the PACKAGEs apt sees, one a line, sorted (after repo_apt ... update)
repo_madison() {
	local repo=$1 suites
	read -r -a suites <<<"$2"
	shift 2
	APT=apt-cache repo_apt "$repo" "${suites[@]}" -- madison "$@" |
		awk -F' *[|] *' '{ split($3, s, " "); print $1, $2, s[2] }' | sed 's/^ *//' | LC_ALL=C sort
}

# scratch_dpkg DIR ARGS: dpkg with its own database (DIR/admin) and install folder (DIR/root),
# created on first use, for packages whose dependencies (a kernel image) this machine does not
# have (--force-depends). The maintainer scripts run unchrooted (DPKG_ROOT=DIR/root): ekvm's only
# act for an installed kernel (/boot/System.map-<kver>), so on this machine they act on nothing.
scratch_dpkg() {
	local dir=$1
	shift
	if [ ! -d "$dir/admin" ]; then
		mkdir -p "$dir/admin/info" "$dir/admin/updates" "$dir/admin/triggers" "$dir/root"
		: >"$dir/admin/status" && : >"$dir/admin/available"
	fi
	dpkg --admindir="$dir/admin" --instdir="$dir/root" --force-script-chrootless --force-depends \
		--log=/dev/null "$@"
}

# scratch_status DIR PACKAGE: "<status abbrev> <version>" of PACKAGE in scratch_dpkg's database
scratch_status() {
	dpkg-query --admindir="$1/admin" -W -f='${db:Status-Abbrev} ${Version}\n' "$2" 2>/dev/null | sed 's/  */ /g'
}
