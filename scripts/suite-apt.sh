#!/usr/bin/env bash
# suite-apt.sh SUITE apt-get|apt-cache ARGS...: apt for another Debian suite than the machine's
# (trixie), with its own lists and cache in build/apt/<suite>/ and the machine's apt config and
# sources untouched: SUITE, SUITE-updates and SUITE-security, main, signed by Debian's archive
# keyring. The lists are updated when older than a day (EKVM_APT_MAX_AGE seconds). For reading
# the suite's packages (versions, apt-get download, apt-get source), never for installing here.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || usage "$0 SUITE apt-get|apt-cache ARGS..."
suite=$1 tool=$2
shift 2
[[ $suite =~ ^[a-z]+$ ]] || die "'$suite' is not a Debian suite name"
case $tool in apt-get | apt-cache) ;; *) die "'$tool': apt-get or apt-cache" ;; esac
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || die "no $keyring (install debian-archive-keyring)"
dir=$EKVM_BUILD/apt/$suite
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/etc/preferences.d"
cat >"$dir/etc/sources.list" <<EOT
deb [signed-by=$keyring] http://deb.debian.org/debian $suite $suite-updates main
deb [signed-by=$keyring] http://deb.debian.org/debian-security $suite-security main
EOT
: >"$dir/status"
opts=(-o "Dir::Etc::SourceList=$dir/etc/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
	-o "Dir::Etc::Preferences=/nonexistent" -o "Dir::Etc::PreferencesParts=$dir/etc/preferences.d"
	-o "Dir::State::Lists=$dir/lists" -o "Dir::State::status=$dir/status"
	-o "Dir::Cache=$dir/cache" -o "APT::Architecture=amd64" -o "APT::Architectures::=amd64"
	-o "APT::Sandbox::User=root" -o "Debug::NoLocking=1")
stamp=$dir/lists/.updated
if [ ! -f "$stamp" ] || [ $(($(date +%s) - $(stat -c %Y "$stamp"))) -gt "${EKVM_APT_MAX_AGE:-86400}" ]; then
	apt-get -q "${opts[@]}" update >"$dir/update.log" 2>&1 ||
		{ tail -5 "$dir/update.log" >&2; die "apt-get update for $suite failed (log: $dir/update.log)"; }
	touch "$stamp"
fi
exec "$tool" "${opts[@]}" "$@"
