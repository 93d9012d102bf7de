// SPDX-License-Identifier: GPL-2.0-only
/*
 * Running one command: its --help, the preconditions of its flags, and the argument error
 * helpers with fixed wording. Shared by ekvm (cmd.c's dispatch table) and ekvm-fleet
 * (fleet-main.c), so that both check, print and fail alike.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ekvm.h"
#include "kvm.h"
#include "sysfs.h"

void ekvm_print_cmd_help(FILE *f, const struct ekvm_cmd *c)
{
	fprintf(f, "usage: ekvm %s %s\n\n%s.\n\nOptions:\n%s  -h, --help      this help\n", c->name,
		c->usage, c->summary, c->options);
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

int ekvm_run(const struct ekvm_cmd *cmd, int argc, char **argv)
{
	struct ekvm_ctx ctx = { .cmd = cmd, .kvm_fd = -1 };
	int ret;

	if (!(cmd->flags & CMD_EXEC) && wants_help(argc, argv)) {
		ekvm_print_cmd_help(stdout, cmd);
		return EKVM_EXIT_OK;
	}
	ret = check_preconditions(&ctx);
	if (ret)
		return ret;
	opterr = 0;
	optind = 0;
	ret = cmd->fn(argc, argv, &ctx);
	if (ctx.kvm_fd >= 0)
		close(ctx.kvm_fd);
	if (fflush(stdout) && ret == EKVM_EXIT_OK)
		ret = EKVM_EXIT_USAGE;
	return ret;
}

int arg_usage(const struct ekvm_ctx *ctx, const char *fmt, ...)
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
		return arg_usage(ctx, "option '%.*s' needs a value", len, tok);
	return arg_usage(ctx, "unknown option '%.*s'", len, tok);
}

int arg_invalid(const struct ekvm_ctx *ctx, const char *opt, const char *value,
		const char *expected)
{
	return arg_usage(ctx, "invalid value '%s' for option '%s': expected %s", value, opt,
			 expected);
}

int arg_extra(const struct ekvm_ctx *ctx, const char *arg)
{
	return arg_usage(ctx, "unexpected argument '%s'", arg);
}

int arg_conflict(const struct ekvm_ctx *ctx, const char *opt1, const char *opt2)
{
	return arg_usage(ctx, "options '%s' and '%s' cannot be used together", opt1, opt2);
}

int env_error(const struct ekvm_ctx *ctx, const char *what, int err, const char *hint)
{
	fprintf(stderr, "ekvm %s: %s: %s%s%s%s\n", ctx->cmd->name, what, strerror(err),
		hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
	return EKVM_EXIT_USAGE;
}
