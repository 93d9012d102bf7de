# shellcheck shell=bash
# Sourced by run.sh (ok, run, usage_error, $EKVM, $T, $O are its own).
#
# The documents against the code, so that they cannot drift: every command of the dispatch table
# (cmd.c) and every option of its getopt_long tables must be in `ekvm help <command>`, in its
# section of ekvm.1, in docs/ekvm-tool.md's command table, in the bash completion and in the zsh
# completion (_ekvm), and nothing else may be (an option the code dropped).
#
# Where the options come from: the sources, not the program. The tables are `static const struct
# option opts[]` locals of each command's function, so a running ekvm cannot show them without a
# change to every command; running the commands up to getopt_long() would need /dev/kvm (smoke)
# and sysfs first (the preconditions are checked before options are parsed), and `stat --hist`
# hands its arguments to another table (cmd-stat-hist.c) before getopt runs. `--help` is
# hand-written text in cmd.c and fleet-main.c: it is one of the documents checked, not the
# reference. The tables have one form (clang-format keeps it: `{ "name", x_argument, NULL, val }`
# then `getopt_long(argc, argv, "SHORTOPTS", table, ...)`), and the parser checks itself: every
# getopt_long() call must have a table and a literal short-option string, every command at least
# one table, and the commands found in cmd.c must be those `ekvm help` lists; so a change of form
# fails here instead of passing with nothing compared.

# ds_cmds: "name function" for each row of cmd.c's dispatch table.
ds_cmds() {
	sed -n 's/^[[:space:]]*{ "\([a-z][a-z0-9-]*\)", \(cmd_[a-z0-9_]*\),.*/\1 \2/p' cmd.c
}

# ds_files FUNCTION: the sources of a command: those that define FUNCTION (cmd_fleet: ekvm's
# cmd-fleet-exec.c and ekvm-fleet's cmd-fleet.c), and those of the cmd_* functions they hand
# their arguments to (cmd_stat -> cmd_stat_hist).
ds_files() {
	local f g
	grep -l "^int $1(" ./*.c | while read -r f; do
		echo "$f"
		grep -o 'cmd_[a-z0-9_]*(' "$f" | tr -d '(' | sort -u | while read -r g; do
			[ "$g" = "$1" ] || grep -l "^int $g(" ./*.c
		done
	done | sort -u
}

# ds_code_opts FILE...: the options of the getopt_long tables in FILE, one a line, "SPELLING ARG
# KEY": ARG 1 when the option takes a value; KEY the same for the short and the long spellings of
# one option (the table's val is the short option's letter): the short one, else the long one. -h and --help (runcmd.c) are every
# command's. "PARSE-ERROR FILE" when a file's tables cannot be read.
ds_code_opts() {
	local f flat s c arg name kind val n
	local -a tables strs
	for f; do
		flat=$(tr '\n\t' '  ' <"$f")
		n=$(grep -o 'getopt_long *(' <<<"$flat" | wc -l)
		[ "$n" -gt 0 ] || continue
		mapfile -t tables < <(grep -o 'struct option [a-z_]* *\[\] *= *{[^;]*}' <<<"$flat")
		mapfile -t strs < <(grep -o 'getopt_long *([^,;]*,[^,;]*, *"[^"]*" *,' <<<"$flat" |
			sed 's/.*"\(.*\)".*/\1/')
		if [ "${#tables[@]}" -ne "$n" ] || [ "${#strs[@]}" -ne "$n" ]; then
			echo "PARSE-ERROR $f"
			continue
		fi
		for i in "${!tables[@]}"; do
			s=${strs[i]#[+-]}
			s=${s#:}
			while [ -n "$s" ]; do
				c=${s:0:1} s=${s:1} arg=0
				[[ $s == :* ]] && arg=1
				s=${s#:}
				s=${s#:}
				echo "-$c $arg -$c"
			done
			n=0
			while read -r name kind val; do
				n=$((n + 1))
				val=${val//\'/}
				if [ ${#val} -eq 1 ] && [[ ${strs[i]} == *"$val"* ]]; then
					val=-$val
				else
					val=--$name
				fi
				echo "--$name $([ "$kind" = required ] && echo 1 || echo 0) $val"
			done < <(grep -o '{ *"[^"]*", *[a-z]*_argument, *[A-Za-z0-9_]*, *[^ },]*' \
				<<<"${tables[i]}" |
				sed 's/^{ *"\([^"]*\)", *\([a-z]*\)_argument, *[A-Za-z0-9_]*, *\(.*\)$/\1 \2 \3/')
			[ "$n" -gt 0 ] || echo "PARSE-ERROR $f"
		done
	done
	echo "-h 0 -h"
	echo "--help 0 -h"
}

# ds_tokens: the option spellings named in the text on stdin (man page escapes undone).
ds_tokens() {
	sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(em/ /g' |
		grep -oE '(^|[^A-Za-z0-9_./-])--?[A-Za-z0-9][A-Za-z0-9-]*' | sed -E 's/^[^-]*//' |
		grep -E '^(--[a-z0-9][a-z0-9-]*[a-z0-9]|-[A-Za-z0-9])$' | sort -u
}

# ds_diff WHAT EXPECTED FOUND: ok when the two lists of words are the same; else says which
# words are missing from WHAT and which it has that the code does not.
ds_diff() {
	local missing extra
	missing=$(comm -23 <(tr ' ' '\n' <<<"$2" | sed '/^$/d' | sort -u) \
		<(tr ' ' '\n' <<<"$3" | sed '/^$/d' | sort -u) | tr '\n' ' ')
	extra=$(comm -13 <(tr ' ' '\n' <<<"$2" | sed '/^$/d' | sort -u) \
		<(tr ' ' '\n' <<<"$3" | sed '/^$/d' | sort -u) | tr '\n' ' ')
	[ -z "$missing$extra" ]
	ok $? "$1${missing:+; missing: $missing}${extra:+; not in the code: $extra}"
}

# ds_subset WHAT ALLOWED FOUND: ok when every word of FOUND is one of ALLOWED.
ds_subset() {
	local extra
	extra=$(comm -13 <(tr ' ' '\n' <<<"$2" | sed '/^$/d' | sort -u) \
		<(tr ' ' '\n' <<<"$3" | sed '/^$/d' | sort -u) | tr '\n' ' ')
	[ -z "$extra" ]
	ok $? "$1${extra:+; not in the code: $extra}"
}

# ds_man_section CMD: the sections of ekvm.1 whose heading is `.SS ekvm CMD ...`, headings
# included; ds_man_synopsis CMD: those headings only.
ds_man_section() {
	awk -v cmd="$1" '/^\.S[HS] /{ in_ = ($0 ~ "^\\.SS ekvm " cmd "( |$)") } in_' ekvm.1
}
ds_man_synopsis() {
	grep -E "^\.SS ekvm $1( |\$)" ekvm.1
}

# ds_bash_complete WORD...: what the bash completion offers after `WORD...` (the last word is
# the one completed).
ds_bash_complete() {
	bash -c '. ./ekvm.bash-completion; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; _ekvm; printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$@" 2>&1 | sort -u
}

# ds_zsh_complete WORD...: what the zsh completion offers after `WORD...`, through zsh's own
# completion system (compinit, _ekvm from this folder) in a zsh driven by zpty, zsh's module for
# pseudo-terminals (no terminal needed): the line and a Tab are typed, compadd is wrapped to print
# the candidates (not the calls that only filter: -O, -A, -D), and ^T ends it. The state of
# compinit is kept in $T/zcompdump (0.05 s a run instead of 1 s).
ds_zsh_complete() {
	local out=$T/zsh-complete
	rm -f "$out"
	# shellcheck disable=SC2016 # zsh code, expanded by zsh
	zsh -f -c '
		zmodload zsh/zpty || exit 2
		zpty z zsh -f -i
		zpty -w z "PS1= ; fpath=(${(q)PWD} \$fpath); autoload -Uz compinit; compinit -u -d ${(q)3}"
		zpty -w z '"'"'compadd() { local a; for a; do [[ $a == -(|-) ]] && break;
			[[ $a == -[ODA]* ]] && { builtin compadd "$@"; return; }; done; local -a h;
			builtin compadd -O h "$@"; (( $#h )) && print -rl -- "<c>"${^h} >&2;
			builtin compadd "$@"; }'"'"'
		zpty -w z '"'"'_ds_end() { print -r -- "<end>" >&2; exit }; zle -N _ds_end;
			bindkey "^T" _ds_end'"'"'
		zpty -w z "exec 2>${(q)2}"
		zpty -w -n z "$1"$'"'"'\t\C-t'"'"'
		for i in {1..100}; do grep -q "^<end>" $2 2>/dev/null && break; sleep 0.05; done
		zpty -d z' _ "$*" "$out" "$T/zcompdump" >/dev/null 2>&1
	grep -q '^<end>' "$out" 2>/dev/null || echo "zsh-did-not-complete"
	sed -n 's/^<c>//p' "$out" 2>/dev/null | sort -u
}

docs_sync_tests() {
	local cmd fn opts spellings e help_cmds man tbl subs words w arg key v f top
	local -a cw files
	local -A takes_value

	# the commands: cmd.c's table is the one `ekvm help` prints
	help_cmds=$("$EKVM" help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p' |
		sort | tr '\n' ' ')
	ds_diff "docs-sync: cmd.c's dispatch table is the commands 'ekvm help' lists" \
		"$help_cmds" "$(ds_cmds | cut -d' ' -f1 | tr '\n' ' ')"
	[ -n "$help_cmds" ] && [ "$(ds_cmds | wc -l)" -ge 7 ]
	ok $? "docs-sync: the dispatch table is read ($(ds_cmds | cut -d' ' -f1 | tr '\n' ' '))"

	# the command lists
	ds_diff "docs-sync: ekvm.1 has a section for every command" "$help_cmds" \
		"$(sed -n 's/^\.SS ekvm \([a-z][a-z0-9-]*\).*/\1/p' ekvm.1 | sort -u | tr '\n' ' ')"
	# shellcheck disable=SC2016 # Markdown's backquotes
	tbl=$(sed -n 's/^| `ekvm \([a-z][a-z0-9-]*\)`.*/\1/p' ../docs/ekvm-tool.md)
	ds_diff "docs-sync: docs/ekvm-tool.md's command table has every command" "$help_cmds" \
		"$(tr '\n' ' ' <<<"$tbl")"
	# shellcheck disable=SC2016 # Markdown's backquotes
	grep -q '^Every command also takes `-h`/`--help`' ../docs/ekvm-tool.md
	ok $? "docs-sync: docs/ekvm-tool.md says that every command takes -h/--help"
	# the words ekvm takes instead of a command (help, --version...: cmd.c compares argv[1])
	top=$(grep -o 'strcmp(argv\[1\], "[^"]*")' cmd.c | sed 's/.*"\(.*\)")/\1/' | sort -u | tr '\n' ' ')
	ds_diff "docs-sync: bash completion offers every command and $top" \
		"$help_cmds $top" "$(ds_bash_complete ekvm '' | tr '\n' ' ')"
	ds_diff "docs-sync: ekvm.1's SYNOPSIS names ekvm's own options" \
		"$(tr ' ' '\n' <<<"$top" | grep '^-' | tr '\n' ' ')" \
		"$(awk '/^\.SH /{ in_ = ($2 == "SYNOPSIS") } in_' ekvm.1 | ds_tokens | tr '\n' ' ')"
	ds_diff "docs-sync: bash completion of 'ekvm help' offers every command" "$help_cmds" \
		"$(ds_bash_complete ekvm help '' | tr '\n' ' ')"
	zsh -n _ekvm
	ok $? "docs-sync: zsh completion _ekvm parses (zsh -n)"
	words=$(ds_zsh_complete ekvm ''; ds_zsh_complete ekvm -)
	[ -n "$words" ]
	ok $? "docs-sync: zsh completion runs (compinit, zpty) and offers commands ($(
		tr '\n' ' ' <<<"$words"))"
	ds_diff "docs-sync: zsh completion offers every command and $top" "$help_cmds $top" \
		"$(tr '\n' ' ' <<<"$words")"

	for cmd in $help_cmds; do
		fn=$(ds_cmds | awk -v c="$cmd" '$1 == c { print $2 }')
		mapfile -t files < <(ds_files "$fn")
		opts=$(ds_code_opts "${files[@]}")
		! grep -q PARSE-ERROR <<<"$opts" && [ "$(wc -l <<<"$opts")" -gt 2 ]
		ok $? "docs-sync: $cmd: the option tables of ${files[*]} are read ($(
			cut -d' ' -f1 <<<"$opts" | tr '\n' ' '))"
		spellings=$(cut -d' ' -f1 <<<"$opts" | sort -u | tr '\n' ' ')
		takes_value=()
		while read -r w arg key; do takes_value[$w]=$arg; done <<<"$opts"
		# the positional words: a command's `static const char *const NAMES[] = { "..." }` that
		# argv is compared with (drain's actions, fleet's subcommands)
		subs=$(for f in "${files[@]}"; do
			grep -o 'strcmp(argv\[[^]]*\], *[a-z_]*\[' "$f" | sed 's/.*, *\([a-z_]*\)\[/\1/' |
				while read -r v; do
					sed -n "s/.*static const char \*const $v\[\] = {\(.*\)};.*/\1/p" "$f" |
						grep -o '"[a-z][a-z0-9-]*"' | tr -d '"'
				done
		done | sort -u | tr '\n' ' ')

		# --help: every option, nothing else
		ds_diff "docs-sync: $cmd: 'ekvm help $cmd' names every option" "$spellings" \
			"$("$EKVM" help "$cmd" 2>&1 | ds_tokens | tr '\n' ' ')"

		# ekvm.1: the section names every spelling; its synopsis every option (-h/--help: in
		# SYNOPSIS, for every command)
		man=$(ds_man_section "$cmd")
		ds_diff "docs-sync: $cmd: ekvm.1's section names every option" \
			"$(tr ' ' '\n' <<<"$spellings" | grep -vx -e -h -e --help | tr '\n' ' ')" \
			"$(ds_tokens <<<"$man" | tr '\n' ' ')"
		e=$(ds_man_synopsis "$cmd" | ds_tokens)
		ds_diff "docs-sync: $cmd: ekvm.1's synopsis lists every option (one spelling)" \
			"$(awk '$3 != "-h" { print $3 }' <<<"$opts" | sort -u | tr '\n' ' ')" \
			"$(while read -r w; do awk -v w="$w" '$1 == w { print $3 }' <<<"$opts"; done \
				<<<"$e" | sort -u | tr '\n' ' ')$(comm -13 <(cut -d' ' -f1 <<<"$opts" | sort -u) \
				<(sed '/^$/d' <<<"$e") | sed 's/^/not-an-option:/' | tr '\n' ' ')"
		[ -z "$subs" ] || ds_diff "docs-sync: $cmd: ekvm.1's synopsis names its words ($subs)" \
			"$subs" "$(ds_man_synopsis "$cmd" | grep -oE '[a-z]+' | grep -xF -f <(tr ' ' '\n' <<<"$subs") |
				sort -u | tr '\n' ' ')"

		# docs/ekvm-tool.md: the command table's row names every spelling (-h/--help: once, below)
		ds_diff "docs-sync: $cmd: docs/ekvm-tool.md's command table names every option" \
			"$(tr ' ' '\n' <<<"$spellings" | grep -vx -e -h -e --help | tr '\n' ' ')" \
			"$(grep "^| \`ekvm $cmd\`" ../docs/ekvm-tool.md | ds_tokens | tr '\n' ' ')"
		ds_subset "docs-sync: $cmd: docs' headings name only its options" "$spellings" \
			"$(grep -hE "^#+ \`ekvm $cmd( |\`)" ../docs/ekvm-tool.md ../docs/fleet.md | ds_tokens |
				tr '\n' ' ')"

		# bash completion: exactly the command's options
		cw=(ekvm "$cmd")
		[ "$cmd" = fleet ] && cw+=(plan)
		ds_diff "docs-sync: $cmd: bash completion offers exactly its options" "$spellings" \
			"$(ds_bash_complete "${cw[@]}" - | tr '\n' ' ')"
		if [ -n "$subs" ]; then
			ds_diff "docs-sync: $cmd: bash completion offers its words" \
				"$subs" "$(ds_bash_complete ekvm "$cmd" '' | grep -v '^-' | tr '\n' ' ')"
			ds_diff "docs-sync: $cmd: zsh completion offers its words" \
				"$subs" "$(ds_zsh_complete ekvm "$cmd" '' | grep -v '^-' | tr '\n' ' ')"
		fi
		# an option's value is not another option; FILE and DIR are files; a|b are the values
		for w in $spellings; do
			[ "${takes_value[$w]}" = 1 ] || continue
			# what the help says it takes, under any of the option's spellings
			key=$(awk -v w="$w" '$1 == w { print $3; exit }' <<<"$opts")
			e=$(awk -v k="$key" '$3 == k { print $1 }' <<<"$opts" | while read -r v; do
				"$EKVM" help "$cmd" 2>&1 |
					grep -oE -- "(^|[] [,])$v (FILE|DIR|[a-z_]+(\|[a-z_]+)+)([] ]|$)"
			done | head -1 | awk '{ print $2 }' | tr -d '][')
			mkdir -p "$T/ds/dir.d"
			: >"$T/ds/file"
			case "$e" in
			FILE)
				ds_diff "docs-sync: $cmd: bash completes a file after $w" "$T/ds/dir.d $T/ds/file" \
					"$(ds_bash_complete "${cw[@]}" "$w" "$T/ds/" | tr '\n' ' ')"
				ds_diff "docs-sync: $cmd: zsh completes a file after $w" "dir.d file" \
					"$(ds_zsh_complete "${cw[@]}" "$w" "$T/ds/" | tr '\n' ' ')" ;;
			DIR)
				ds_diff "docs-sync: $cmd: bash completes a folder after $w" "$T/ds/dir.d" \
					"$(ds_bash_complete "${cw[@]}" "$w" "$T/ds/" | tr '\n' ' ')"
				ds_diff "docs-sync: $cmd: zsh completes a folder after $w" "dir.d" \
					"$(ds_zsh_complete "${cw[@]}" "$w" "$T/ds/" | tr '\n' ' ')" ;;
			*\|*)
				ds_diff "docs-sync: $cmd: bash completes the values of $w" "${e//|/ }" \
					"$(ds_bash_complete "${cw[@]}" "$w" '' | tr '\n' ' ')"
				ds_diff "docs-sync: $cmd: zsh completes the values of $w" "${e//|/ }" \
					"$(ds_zsh_complete "${cw[@]}" "$w" '' | tr '\n' ' ')" ;;
			*)
				! ds_bash_complete "${cw[@]}" "$w" '' | grep -q '^-'
				ok $? "docs-sync: $cmd: bash completion offers no option as $w's value" ;;
			esac
		done

		# zsh completion: exactly the command's options
		ds_diff "docs-sync: $cmd: zsh completion offers exactly its options" "$spellings" \
			"$(ds_zsh_complete "${cw[@]}" - | grep '^-' | tr '\n' ' ')"
	done

	# docs/fleet.md's synopsis of the fleet commands: every option (one spelling)
	mapfile -t files < <(ds_files cmd_fleet)
	opts=$(ds_code_opts "${files[@]}")
	e=$(awk '/^## Commands/ { in_ = 1 } in_ && /^```/ { if (++n == 2) exit } in_ && n == 1' \
		../docs/fleet.md | ds_tokens)
	ds_diff "docs-sync: docs/fleet.md's synopsis lists every fleet option (one spelling)" \
		"$(awk '$3 != "-h" { print $3 }' <<<"$opts" | sort -u | tr '\n' ' ')" \
		"$(while read -r w; do awk -v w="$w" '$1 == w && $3 != "-h" { print $3 }' <<<"$opts"; done \
			<<<"$e" | sort -u | tr '\n' ' ')$(comm -13 <(cut -d' ' -f1 <<<"$opts" | sort -u) \
			<(sed '/^$/d' <<<"$e") | sed 's/^/not-an-option:/' | tr '\n' ' ')"
}
