# shellcheck shell=bash
# ekvm fleet runs the program ekvm-fleet, sourced by tests/run.sh (its ok, run, usage_error, $T,
# $O, $EKVM): only ekvm-fleet links libvirt; ekvm finds it in $EKVM_EXEC_PATH, else in its own
# folder, else in LIBEXECDIR (cmd-fleet-exec.c). ekvm-asan runs ekvm-fleet-asan.
# shellcheck disable=SC2154 # out, err, rc, T, O, EKVM: set by run.sh

fleet_program_tests() {
	local d=$T/fleet-exec libexec
	mkdir -p "$d/path" "$d/own" "$d/bad"
	# (here-strings: grep -q closing a pipe early fails the pipeline under pipefail)
	! grep -q libvirt <<<"$(ldd "$O/ekvm")" && ! grep -q libvirt <<<"$(ldd "$EKVM")" &&
		grep -q 'libvirt\.so' <<<"$(ldd "$O/ekvm-fleet")" &&
		grep -q 'libvirt\.so' <<<"$(ldd "$O/ekvm-fleet-asan")"
	ok $? "ekvm and ekvm-asan do not link libvirt, ekvm-fleet and ekvm-fleet-asan do"
	[ "$("$EKVM" fleet --help)" = "$("$O/ekvm-fleet-asan" --help)" ] &&
		[ "$("$O/ekvm" help fleet)" = "$("$O/ekvm-fleet" --help)" ]
	ok $? "ekvm fleet --help and ekvm help fleet are ekvm-fleet's help"
	# EKVM_EXEC_PATH: there only; every argument passed as it is
	# shellcheck disable=SC2016 # the script's own $0 and $@
	printf '#!/bin/sh\nprintf "%%s|" "$0" "$@"\n' >"$d/path/ekvm-fleet-asan"
	chmod 755 "$d/path/ekvm-fleet-asan"
	run EKVM_EXEC_PATH="$d/path" -- fleet rollout -i "a b" --json ""
	[ "$rc" -eq 0 ] && [ "$out" = "$d/path/ekvm-fleet-asan|rollout|-i|a b|--json||" ]
	ok $? "fleet: runs \$EKVM_EXEC_PATH/ekvm-fleet-asan with the arguments as given ($out)"
	usage_error "fleet without ekvm-fleet" EKVM_EXEC_PATH="$d/none" -- fleet plan -i inv
	[ "$err" = "ekvm fleet: ekvm-fleet is not installed (install the ekvm-fleet package): $d/none/ekvm-fleet-asan: No such file or directory" ]
	ok $? "fleet without ekvm-fleet: the line names the package and the path"
	usage_error "help fleet without ekvm-fleet" EKVM_EXEC_PATH="$d/none" -- help fleet
	printf '#!/bin/sh\n' >"$d/bad/ekvm-fleet-asan"
	usage_error "fleet with an ekvm-fleet that cannot run" EKVM_EXEC_PATH="$d/bad" -- fleet status
	[[ $err == "ekvm fleet: cannot run $d/bad/ekvm-fleet-asan: Permission denied" ]]
	ok $? "fleet: an ekvm-fleet that cannot run is named with the error"
	# the folder of the running ekvm, then LIBEXECDIR
	cp "$O/ekvm" "$d/own/ekvm"
	libexec=$(strings "$O/ekvm" | grep -m1 '^/.*/libexec/ekvm$')
	out=$(env -u EKVM_EXEC_PATH "$d/own/ekvm" fleet status -s "$d/nost" 2>&1); rc=$?
	[ -e "$libexec/ekvm-fleet" ] || { [ "$rc" -eq 2 ] &&
		[ "$out" = "ekvm fleet: ekvm-fleet is not installed (install the ekvm-fleet package): $libexec/ekvm-fleet: No such file or directory" ]; }
	ok $? "fleet: ekvm alone looks in LIBEXECDIR ($out)"
	cp "$O/ekvm-fleet" "$d/own/ekvm-fleet"
	out=$(env -u EKVM_EXEC_PATH "$d/own/ekvm" fleet status -s "$d/nost" 2>&1); rc=$?
	[ "$rc" -eq 0 ] && [[ $out == *"no rollout recorded"* ]]
	ok $? "fleet: ekvm runs the ekvm-fleet in its own folder (rc $rc: $out)"
	if [ -x "$O/ekvm-static" ]; then
		[[ $(env -u EKVM_EXEC_PATH "$O/ekvm-static" fleet --help) == "usage: ekvm fleet "* ]]
		ok $? "static ekvm: fleet runs the ekvm-fleet next to it"
	fi
}
