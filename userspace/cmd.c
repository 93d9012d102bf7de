// SPDX-License-Identifier: GPL-2.0-only
/*
 * The dispatch table, the help generated from it, precondition checks and the argument
 * error helpers. To add a subcommand: write cmd-<name>.c, declare cmd_<name>() in ekvm.h,
 * add a row here, a section to ekvm.1 and a word to ekvm.bash-completion.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ekvm.h"
#include "include/ekvm-abi.h"
#include "kvm.h"
#include "sysfs.h"

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
	  "  -n, --count N   I/O exits in the --bench loop (default 200000)\n"
	  "  --json          machine-readable output\n" },
	{ "stat", cmd_stat, 0, "Live KVM statistics from debugfs, like kvm_stat",
	  "[-1 | -l | --hist] [-d SEC] [-n COUNT] [-f REGEX] [-p PID] [--per-vm] [--mount-debugfs] "
	  "[--json]",
	  "  (default)       refreshing view sorted by rate; q quits\n"
	  "  -1, --once      print totals and rates once\n"
	  "  -l, --log       print one line of rates every interval, like vmstat\n"
	  "  -d, --delay SEC interval between samples (default 1; 0 with -1: totals only)\n"
	  "  -n, --count N   stop after N refreshes (view and log modes)\n"
	  "  -f, --fields RE show only statistics whose name matches the regular expression\n"
	  "  -p, --pid PID   statistics of the VMs of process PID only\n"
	  "  --mount-debugfs mount debugfs when it is not mounted\n"
	  "  --json          machine-readable output (with -l: one object a line)\n"
	  "  --hist          ekvm exit-latency histograms, once (with -p, --per-vm, --json)\n"
	  "  --per-vm        with --hist: each VM's histograms instead of their sum\n" },
	{ "drain", cmd_drain, NEED_SYSFS,
	  "Stop new VMs on this ekvm host for maintenance, and wait until it is empty",
	  "[on | off | status] [--wait] [--timeout SEC] [--json]",
	  "  on | off        switch the drain (root): KVM_CREATE_VM then fails with EBUSY\n"
	  "  status          the drain and the live VMs and vCPUs (default)\n"
	  "  --wait          (on, status) wait until the host has no VM\n"
	  "  --timeout SEC   give up waiting after SEC seconds, exit 1 (implies --wait;\n"
	  "                  default 0: no limit)\n"
	  "  --json          machine-readable output\n" },
	{ "reload", cmd_reload, NEED_SYSFS,
	  "Reload KVM without a reboot when no VM is open, and check the new version",
	  "[--expect VERSION] [--ko DIR] [--vendor kvm_amd|kvm_intel] [--json]",
	  "  --expect VER    the version the reloaded KVM must report (exit 1 if not)\n"
	  "  --ko DIR        load DIR/kvm.ko and DIR/kvm-amd.ko|kvm-intel.ko (insmod)\n"
	  "                  instead of what modprobe finds\n"
	  "  --vendor MOD    the vendor module when none is loaded now\n"
	  "  --json          machine-readable output\n" },
	{ "fleet", cmd_fleet, 0,
	  "Roll a new KVM across a libvirt fleet, live-migrating VMs away and back",
	  "plan|rollout|resume|status [-i INVENTORY] [-s STATE] [-l LOG] [-p N] [-t SEC] "
	  "[--bandwidth MIB] [--batch-size N] [--no-return] [--rescan] [--json] "
	  "[migration policy options]",
	  "  plan            preflight and the plan: batches, which VM goes where\n"
	  "  rollout         upgrade every host, the canary first (docs/fleet.md)\n"
	  "  resume          continue a halted rollout from its state file\n"
	  "  status          the recorded state and where every VM runs now\n"
	  "  -i, --inventory FILE  the fleet's hosts (plan, rollout)\n"
	  "  -s, --state FILE      state for resume (default /var/lib/ekvm/fleet/state)\n"
	  "  -l, --log FILE        the action log (default STATE.log)\n"
	  "  -p, --parallel N      migrations at a time (default 2)\n"
	  "  -t, --timeout SEC     abort a migration after SEC seconds plus\n"
	  "                        --timeout-per-gib (default 300)\n"
	  "  --bandwidth MIB       cap each migration at MIB MiB/s\n"
	  "  --batch-size N        hosts a batch after the canary (default 1)\n"
	  "  --no-return           leave the VMs where the evacuation put them\n"
	  "  --rescan              (resume) take the VMs running now as the recorded set\n"
	  "  --json                machine-readable report; the log goes to stderr\n"
	  "migration policy (rollout, resume; docs/fleet.md):\n"
	  "  --timeout-per-gib SEC   more timeout a GiB of guest memory (default 150)\n"
	  "  --progress-timeout SEC  abort when data remaining has not fallen in SEC s\n"
	  "                          (default 150, 0 off)\n"
	  "  --abort-timeout SEC     an abort that has not ended the migration in SEC s:\n"
	  "                          the VM is reported stuck, the rollout halts (default 60)\n"
	  "  --postcopy-after SEC    switch to post-copy after SEC s, or at a timeout\n"
	  "                          instead of aborting (default: never)\n"
	  "  --max-downtime MS       max downtime, stepped up from 300 ms (default 500)\n"
	  "  --parallel-connections N  migrate over N connections (VIR_MIGRATE_PARALLEL)\n"
	  "  --max-per-source N      migrations at a time from one host (default: -p)\n"
	  "  --max-per-dest N        migrations at a time to one host (default: -p)\n"
	  "  --retries N             other destinations a failed migration tries (default 1)\n"
	  "  --insecure-migration    plain TCP, no TLS (a warning in the log)\n"
	  "  --no-auto-converge      no VIR_MIGRATE_AUTO_CONVERGE\n"
	  "  --serial-upgrades       a batch's hosts upgraded in turn, not at once\n"
	  "exit: 0 done (status: or nothing recorded), 1 halted, 2 bad input or a state\n"
	  "  that does not read back, 4 invariant broken, 5 a host unreachable,\n"
	  "  6 (status) a rollout runs now\n" },
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

static void print_cmd_help(FILE *f, const struct ekvm_cmd *c)
{
	fprintf(f, "usage: ekvm %s %s\n\n%s.\n\nOptions:\n%s  -h, --help      this help\n", c->name,
		c->usage, c->summary, c->options);
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
	print_cmd_help(stdout, c);
	return EKVM_EXIT_OK;
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

/* The one place preconditions are checked. */
static int check_preconditions(struct ekvm_ctx *ctx)
{
	if (ctx->cmd->flags & NEED_SYSFS) {
		char path[4096];
		DIR *d = NULL;

		if (root_path(path, sizeof(path), ROOT_SYS, "module") == 0)
			d = opendir(path);
		if (!d)
			return env_error(ctx, path, errno,
					 "is sysfs mounted? EKVM_SYSFS_ROOT moves it");
		closedir(d);
	}
	if (ctx->cmd->flags & NEED_KVM) {
		int fd = kvm_open();

		if (fd < 0)
			return env_error(ctx, kvm_dev_path(), -fd, kvm_open_hint(-fd));
		ctx->kvm_fd = fd;
	}
	return 0;
}

int ekvm_main(int argc, char **argv)
{
	struct ekvm_ctx ctx = { .kvm_fd = -1 };
	int ret;

	if (argc < 2) {
		print_help(stderr);
		return EKVM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return do_help(argc - 2, argv + 2);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		print_version(stdout);
		return EKVM_EXIT_OK;
	}
	ctx.cmd = find_command(argv[1]);
	if (!ctx.cmd)
		return unknown_command(argv[1]);
	if (wants_help(argc - 1, argv + 1)) {
		print_cmd_help(stdout, ctx.cmd);
		return EKVM_EXIT_OK;
	}
	ret = check_preconditions(&ctx);
	if (ret)
		return ret;
	opterr = 0;
	optind = 0;
	ret = ctx.cmd->fn(argc - 1, argv + 1, &ctx);
	if (ctx.kvm_fd >= 0)
		close(ctx.kvm_fd);
	if (fflush(stdout) && ret == EKVM_EXIT_OK)
		ret = EKVM_EXIT_USAGE;
	return ret;
}

static int say(const struct ekvm_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int say(const struct ekvm_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ekvm %s: ", ctx->cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'ekvm help %s')\n", ctx->cmd->name);
	return EKVM_EXIT_USAGE;
}

int arg_error(const struct ekvm_ctx *ctx, char **argv, int opt)
{
	const char *tok = optind > 0 ? argv[optind - 1] : "?";
	char shortopt[3] = { '-', (char)optopt, 0 };
	int len = (int)strcspn(tok, "=");

	/* a long option as typed (without "=value"), else the short option's letter */
	if (strncmp(tok, "--", 2) && optopt > ' ' && optopt < 127) {
		tok = shortopt;
		len = 2;
	}
	if (opt == ':')
		return say(ctx, "option '%.*s' needs a value", len, tok);
	return say(ctx, "unknown option '%.*s'", len, tok);
}

int arg_invalid(const struct ekvm_ctx *ctx, const char *opt, const char *value,
		const char *expected)
{
	return say(ctx, "invalid value '%s' for option '%s': expected %s", value, opt, expected);
}

int arg_extra(const struct ekvm_ctx *ctx, const char *arg)
{
	return say(ctx, "unexpected argument '%s'", arg);
}

int arg_conflict(const struct ekvm_ctx *ctx, const char *opt1, const char *opt2)
{
	return say(ctx, "options '%s' and '%s' cannot be used together", opt1, opt2);
}

int env_error(const struct ekvm_ctx *ctx, const char *what, int err, const char *hint)
{
	fprintf(stderr, "ekvm %s: %s: %s%s%s%s\n", ctx->cmd->name, what, strerror(err),
		hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
	return EKVM_EXIT_USAGE;
}
