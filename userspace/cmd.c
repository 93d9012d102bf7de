// SPDX-License-Identifier: GPL-2.0-only
/*
 * The dispatch table and the help generated from it; runcmd.c runs the command (its --help,
 * the precondition checks, the argument error helpers). To add a subcommand: write
 * cmd-<name>.c, declare cmd_<name>() in ekvm.h, add a row here, a section to ekvm.1, a row to
 * docs/ekvm-tool.md's command table, and its words and options to ekvm.bash-completion and
 * _ekvm (tests/docs-sync.sh checks all of them against the option tables).
 */
#include <stdio.h>
#include <string.h>

#include "ekvm.h"
#include "include/ekvm-abi.h"
#include "out.h"

static const struct ekvm_cmd commands[] = {
	{ "status", cmd_status, NEED_SYSFS,
	  "Show the tool, the loaded KVM and the kvm.ko of every installed kernel", "[--json]",
	  "  --json          machine-readable output\n" },
	{ "validate", cmd_validate, NEED_SYSFS, "Check that this host can run KVM and ekvm guests",
	  "[-q] [--json]",
	  "  -q, --quiet     print only the checks that do not pass\n"
	  "  --json          machine-readable output\n" },
	{ "smoke", cmd_smoke, NEED_KVM, "Run a minimal guest through real, protected and long mode",
	  "[--bench] [-n COUNT] [--json]",
	  "  --bench         loop I/O exits and report exits per second\n"
	  "  -n, --count N   I/O exits in the --bench loop (default 200000; needs --bench)\n"
	  "  --json          machine-readable output\n" },
	{ "stat", cmd_stat, 0, "Live KVM statistics from debugfs, like kvm_stat",
	  "[-1 | -l | -L FILE | --hist] [-c] [-z] [-s SEC] [-n COUNT] [-f REGEX] [-p PID | -g "
	  "NAME] "
	  "[-d] [-i] [-t] [--per-vm] [--mount-debugfs] [--json]",
	  "  (default)       refreshing view sorted by rate; q quits\n"
	  "  -1, --once, --batch\n"
	  "                  print totals and rates once\n"
	  "  -l, --log       print one line of rates every interval, like vmstat\n"
	  "  -L, --log-to-file FILE\n"
	  "                  like -l, appending to FILE (reopened on SIGHUP)\n"
	  "  -c, --csv       with -l or -L: a CSV header (once) and rows with a timestamp\n"
	  "  -z, --skip-zero-records\n"
	  "                  with -l or -L: leave out the lines whose rates are all 0\n"
	  "  -s, --set-delay, --delay SEC\n"
	  "                  interval between samples (default 1; at least 0.01; 0 with -1:\n"
	  "                  totals only)\n"
	  "  -n, --count N   stop after N refreshes (view and log modes)\n"
	  "  -f, --fields RE show only statistics whose name matches the regular expression\n"
	  "                  (-f help: list the statistics)\n"
	  "  -p, --pid PID   statistics of the VMs of process PID only\n"
	  "  -g, --guest NAME\n"
	  "                  the VMs of the QEMU process of guest NAME (-name guest=NAME)\n"
	  "  -d, --debugfs   kvm_stat's: read debugfs (ekvm always does)\n"
	  "  -i, --debugfs-include-past\n"
	  "                  kvm_stat's: totals include past events (ekvm's always do)\n"
	  "  -t, --tracepoints\n"
	  "                  kvm_stat's tracepoints: refused, ekvm reads debugfs only\n"
	  "  --mount-debugfs mount debugfs when it is not mounted\n"
	  "  --json          machine-readable output (with -l: one object a line)\n"
	  "  --hist          ekvm exit-latency histograms, once (with -p, -g, --per-vm, --json)\n"
	  "  --per-vm        with --hist: each VM's histograms instead of their sum\n" },
	{ "drain", cmd_drain, NEED_SYSFS,
	  "Stop new VMs on this ekvm host for maintenance, and wait until it is empty",
	  "[on | off | status] [--wait] [--timeout SEC] [--json]",
	  "  on | off        switch the drain (root): KVM_CREATE_VM then fails with EBUSY\n"
	  "  status          the drain and the live VMs and vCPUs (default)\n"
	  "  --wait          (on, status) wait until the host has no VM\n"
	  "  --timeout SEC   give up waiting after SEC seconds (e.g. 600 or 0.5, at most a\n"
	  "                  week), exit 1 (implies --wait; default 0: no limit)\n"
	  "  --json          machine-readable output\n" },
	{ "reload", cmd_reload, NEED_SYSFS,
	  "Reload KVM without a reboot when no VM is open, and check the new version",
	  "[--expect VERSION] [--ko DIR] [--vendor kvm_amd|kvm_intel] [--json]",
	  "  --expect VER    the version the reloaded KVM must report (exit 1 if not)\n"
	  "  --ko DIR        load DIR/kvm.ko and DIR/kvm-amd.ko|kvm-intel.ko (insmod)\n"
	  "                  instead of what modprobe finds\n"
	  "  --vendor MOD    the vendor module when none is loaded now\n"
	  "  --json          machine-readable output\n" },
	{ "instance", cmd_instance, NEED_SYSFS,
	  "Load, activate and unload KVM instances, several KVMs running VMs at once",
	  "[list | load KO [--activate] [PARAM=VALUE]... | activate NAME|none | unload NAME] "
	  "[--json]",
	  "  list            the instances, their VMs and the active one (default)\n"
	  "  load KO         load an instance's module file (root), and the base module\n"
	  "                  ekvm_vac (beside it, else modprobe's) and what it needs first\n"
	  "  --activate      (load) make it active: new VMs start on it\n"
	  "  activate NAME   make NAME (or none) the instance new opens of /dev/kvm reach\n"
	  "  unload NAME     unload an instance that is not active and has no VM (root)\n"
	  "  --json          machine-readable output\n" },
	/* another program, ekvm-fleet (cmd-fleet-exec.c); its help is its own (fleet-main.c) */
	{ "fleet", cmd_fleet, CMD_EXEC, EKVM_FLEET_SUMMARY, NULL, NULL },
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct ekvm_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void print_version(FILE *f)
{
	fprintf(f, "ekvm %s (ekvm ABI %d)\n", EKVM_VERSION, EKVM_ABI_LEVEL);
}

static void print_help(FILE *f)
{
	fprintf(f, "usage: ekvm <command> [<options>]\n       ekvm help [<command>]\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < NR_COMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'ekvm help <command>' or 'ekvm <command> --help' for its options.\n"
		   "Exit codes: 0 ok, 1 a check failed, 2 usage or environment error,\n"
		   "3 the loaded KVM is not ekvm or lacks the feature.\n");
	print_version(f);
}

static int unknown_command(const char *name)
{
	fprintf(stderr, "ekvm: '%s' is not an ekvm command (see 'ekvm help')\n", name);
	return EKVM_EXIT_USAGE;
}

static int do_help(int argc, char **argv)
{
	const struct ekvm_cmd *c;

	if (argc < 1) {
		print_help(stdout);
		return EKVM_EXIT_OK;
	}
	c = find_command(argv[0]);
	if (!c)
		return unknown_command(argv[0]);
	if (c->flags & CMD_EXEC) {
		char help[] = "--help", *args[] = { argv[0], help, NULL };

		return ekvm_run(c, 2, args);
	}
	ekvm_print_cmd_help(stdout, c);
	return EKVM_EXIT_OK;
}

static int dispatch(int argc, char **argv)
{
	const struct ekvm_cmd *c;

	if (argc < 2) {
		print_help(stderr);
		return EKVM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return do_help(argc - 2, argv + 2);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") ||
	    !strcmp(argv[1], "version")) {
		print_version(stdout);
		return EKVM_EXIT_OK;
	}
	c = find_command(argv[1]);
	if (!c)
		return unknown_command(argv[1]);
	return ekvm_run(c, argc - 1, argv + 1);
}

/* Every command, help and --version included, ends here: a failed write to stdout fails. */
int ekvm_main(int argc, char **argv)
{
	return out_close_stdout("ekvm", dispatch(argc, argv));
}
