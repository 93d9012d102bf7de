/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The ekvm tool: one binary, one dispatch table of subcommands (cmd.c). `ekvm fleet` is a
 * program of its own, ekvm-fleet (fleet-main.c), which ekvm runs (cmd-fleet-exec.c): only it
 * links libvirt.
 *
 * A subcommand is a function `int cmd_<name>(int argc, char **argv, struct ekvm_ctx *ctx)`
 * in cmd-<name>.c. It parses its own options, prints, and returns an exit code. Everything
 * it needs from the system comes from the helper modules (kvm.c, sysfs.c, ident.c, out.c,
 * ...), which never print and return -errno. Preconditions shared by several commands are
 * flags in the table and are checked once, in cmd.c, before the command runs.
 */
#ifndef EKVM_H
#define EKVM_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#ifndef EKVM_VERSION
#define EKVM_VERSION "0.1.0-dev"
#endif

/* Exit codes of every subcommand. */
enum {
	EKVM_EXIT_OK = 0, /* done; every check passed */
	EKVM_EXIT_FAIL = 1, /* a check failed */
	EKVM_EXIT_USAGE = 2, /* bad arguments, or the environment cannot answer */
	EKVM_EXIT_NOT_EKVM = 3, /* the loaded KVM lacks the ekvm feature (stock, none, older ABI) */
};

/* Preconditions, checked by cmd.c before a command runs. */
enum {
	NEED_KVM = 1 << 0, /* opens /dev/kvm (EKVM_DEV_KVM) into ctx->kvm_fd */
	NEED_SYSFS = 1 << 1, /* sysfs (EKVM_SYSFS_ROOT) must be readable */
	CMD_EXEC = 1 << 2, /* runs another program: every argument, --help too, goes to it */
};

struct ekvm_cmd;

struct ekvm_ctx {
	const struct ekvm_cmd *cmd;
	int kvm_fd; /* with NEED_KVM, else -1 */
};

struct ekvm_cmd {
	const char *name;
	int (*fn)(int argc, char **argv, struct ekvm_ctx *ctx);
	unsigned int flags;
	const char *summary;
	const char *usage; /* "ekvm <name> " is printed before it */
	const char *options; /* one option a line, already indented */
};

int ekvm_main(int argc, char **argv);
/*
 * Runs one command (runcmd.c): its --help, its preconditions, then cmd->fn(argc, argv) with
 * argv[0] the command's name; flushes stdout. Used by ekvm_main() and by ekvm-fleet's main().
 */
int ekvm_run(const struct ekvm_cmd *cmd, int argc, char **argv);
void ekvm_print_cmd_help(FILE *f, const struct ekvm_cmd *c);

/*
 * Argument errors, with fixed wording: they print one line naming the command and the
 * problem, then a hint to read the help, and return EKVM_EXIT_USAGE.
 */
/* After getopt_long returned '?' or ':' (short options start with ':'; cmd.c sets opterr = 0). */
/* "ekvm <cmd>: <message> (see 'ekvm help <cmd>')" on stderr; returns EKVM_EXIT_USAGE. */
int arg_usage(const struct ekvm_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int arg_error(const struct ekvm_ctx *ctx, char **argv, int opt);
int arg_invalid(const struct ekvm_ctx *ctx, const char *opt, const char *value,
		const char *expected);
int arg_extra(const struct ekvm_ctx *ctx, const char *arg);
int arg_conflict(const struct ekvm_ctx *ctx, const char *opt1, const char *opt2);
/* An environment error: "ekvm <cmd>: <what>: <strerror>[ (<hint>)]"; returns EKVM_EXIT_USAGE. */
int env_error(const struct ekvm_ctx *ctx, const char *what, int err, const char *hint);

int cmd_status(int argc, char **argv, struct ekvm_ctx *ctx);
int cmd_validate(int argc, char **argv, struct ekvm_ctx *ctx);
int cmd_smoke(int argc, char **argv, struct ekvm_ctx *ctx);
int cmd_stat(int argc, char **argv, struct ekvm_ctx *ctx);
/* ekvm stat --hist (cmd-stat-hist.c): cmd_stat() hands its arguments over. */
int cmd_stat_hist(int argc, char **argv, struct ekvm_ctx *ctx);
int cmd_drain(int argc, char **argv, struct ekvm_ctx *ctx);
int cmd_reload(int argc, char **argv, struct ekvm_ctx *ctx);
int cmd_instance(int argc, char **argv, struct ekvm_ctx *ctx);
/* The KVM instances and the active one (cmd-instance.c), for ekvm instance and ekvm status. */
void print_instances(const char *indent);
/*
 * In ekvm-fleet, cmd-fleet.c (libvirt); in ekvm, cmd-fleet-exec.c, which runs ekvm-fleet with
 * the same arguments.
 */
int cmd_fleet(int argc, char **argv, struct ekvm_ctx *ctx);
/* `ekvm help` lists fleet with this summary; `ekvm fleet --help` is ekvm-fleet's. */
#define EKVM_FLEET_SUMMARY "Roll a new KVM across a libvirt fleet, live-migrating VMs away and back"

#endif /* EKVM_H */
