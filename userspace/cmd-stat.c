// SPDX-License-Identifier: GPL-2.0-only
/* ekvm stat: live KVM statistics from debugfs, like the kernel's kvm_stat. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ekvm.h"
#include "ident.h"
#include "kstat.h"
#include "out.h"
#include "parse.h"
#include "sysfs.h"

#define DELAY_MIN_MS 10 /* the shortest interval outside -1: no busy loop */
#define GUEST_PIDS_MAX 16

enum stat_mode { MODE_TOP, MODE_ONCE, MODE_LOG };

struct stat_opts {
	enum stat_mode mode;
	unsigned int delay_ms, pid;
	unsigned long long count; /* 0: forever */
	bool json, mount, has_filter, csv, skip_zero;
	const char *log_file, *guest, *fields, *delay_arg;
	FILE *log; /* -L: the file, else NULL (stdout) */
	bool need_csv_header;
	unsigned long long printed; /* -l/-L lines printed since the last header */
	regex_t filter;
};

static volatile sig_atomic_t stop, hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		hup = 1;
	else
		stop = 1;
}

/* A rate, or null / "-" when there is none. */
static void out_rate(const char *key, const char *fmt, const char *dash_fmt, double v)
{
	if (isnan(v))
		out_str(key, dash_fmt, NULL);
	else
		out_dbl(key, fmt, v);
}

static bool shown(const struct stat_opts *o, const char *name)
{
	return !o->has_filter || regexec(&o->filter, name, 0, NULL, 0) == 0;
}

static double rate_of(const struct kstat *k, const uint64_t *prev, const bool *prev_ok, int i,
		      double dt)
{
	if (!prev || dt <= 0 || !k->ok[i] || !prev_ok[i])
		return NAN;
	return ((double)k->vals[i] - (double)prev[i]) / dt;
}

static void print_header(const struct kstat *k, const struct stat_opts *o, double dt)
{
	struct kvm_ident id;
	int err, bad = kstat_unreadable(k, &err);

	ident_read_sysfs(&id);
	out_obj_begin("kvm");
	out_str("flavour", "KVM: %s", ident_flavour(&id));
	out_str("version", id.version[0] ? " %s" : NULL, id.version[0] ? id.version : NULL);
	out_str("vendor_module", id.vendor[0] ? " (%s)" : NULL, id.vendor[0] ? id.vendor : NULL);
	out_obj_end();
	out_int("vms", ", %lld VMs", k->nvms);
	if (o->pid)
		out_int("pid", " of pid %lld", o->pid);
	out_rate("interval_s", ", rates over %.2f s", NULL, dt > 0 ? dt : NAN);
	out_txt("\n");
	out_obj_begin("unreadable");
	out_int("count", bad ? "%lld statistics cannot be read" : NULL, bad);
	out_str("error", bad ? " (%s" : NULL, bad ? strerror(err) : NULL);
	out_txt(bad ? "%s): shown as -\n" : "",
		err == EPERM ? ": kernel lockdown hides writable debugfs files" : "");
	out_obj_end();
}

static int by_rate(const void *a, const void *b, void *arg)
{
	const double *r = arg;
	int i = *(const int *)a, j = *(const int *)b;
	double x = isnan(r[i]) ? -1 : r[i], y = isnan(r[j]) ? -1 : r[j];

	return x < y ? 1 : x > y ? -1 : i - j;
}

/* The table of statistics: by name, or by rate for the refreshing view. */
static void print_table(const struct kstat *k, const uint64_t *prev, const bool *prev_ok, double dt,
			const struct stat_opts *o, int max_rows)
{
	int *idx = calloc((size_t)k->n + 1, sizeof(int)), n = 0;
	double *rates = calloc((size_t)k->n + 1, sizeof(double));

	for (int i = 0; idx && rates && i < k->n; i++) {
		rates[i] = rate_of(k, prev, prev_ok, i, dt);
		if (shown(o, k->names[i]))
			idx[n++] = i;
	}
	if (o->mode == MODE_TOP && rates)
		qsort_r(idx, (size_t)n, sizeof(int), by_rate, rates);
	out_txt("%-34s %16s %12s\n", "NAME", "TOTAL", "RATE/s");
	out_arr_begin("stats");
	for (int j = 0; j < n && (!max_rows || j < max_rows); j++) {
		int i = idx[j];

		out_obj_begin(NULL);
		out_str("name", "%-34s ", k->names[i]);
		if (k->ok[i])
			out_u64("total", "%16llu ", k->vals[i]);
		else
			out_str("total", "%16s ", NULL);
		out_rate("rate", "%12.1f\n", "%12s\n", rates[i]);
		out_obj_end();
	}
	out_arr_end();
	free(idx);
	free(rates);
}

/* JSON only: each VM's values. */
static void print_vms(const struct kstat *k, const struct stat_opts *o)
{
	out_arr_begin("per_vm");
	for (int v = 0; v < k->nvms; v++) {
		char rel[64], comm[64];

		snprintf(rel, sizeof(rel), "%u/comm", k->vms[v].pid);
		if (read_root_file(ROOT_PROC, rel, comm, sizeof(comm)) < 0)
			comm[0] = 0;
		out_obj_begin(NULL);
		out_int("pid", NULL, k->vms[v].pid);
		out_int("fd", NULL, k->vms[v].fd);
		out_str("comm", NULL, comm[0] ? comm : NULL);
		out_obj_begin("stats");
		for (int i = 0; i < k->n; i++) {
			if (!shown(o, k->names[i]))
				continue;
			if (k->vms[v].ok && k->vms[v].ok[i])
				out_u64(k->names[i], NULL, k->vms[v].vals[i]);
			else
				out_str(k->names[i], NULL, NULL);
		}
		out_obj_end();
		out_obj_end();
	}
	out_arr_end();
}

/* -1: one sample (two with an interval, for the rates), by name. */
static int run_once(struct kstat *k, const struct stat_opts *o)
{
	uint64_t *prev = calloc((size_t)k->n + 1, sizeof(uint64_t));
	bool *prev_ok = calloc((size_t)k->n + 1, sizeof(bool));
	double dt = 0;
	int r = prev && prev_ok ? 0 : -ENOMEM;

	if (!r && o->delay_ms) {
		r = kstat_sample(k, false, o->pid);
		memcpy(prev, k->vals, sizeof(uint64_t) * (size_t)k->n);
		memcpy(prev_ok, k->ok, sizeof(bool) * (size_t)k->n);
		dt = k->time;
		nanosleep(&(struct timespec){ o->delay_ms / 1000, (o->delay_ms % 1000) * 1000000L },
			  NULL);
	}
	if (!r)
		r = kstat_sample(k, o->json || o->pid, o->pid);
	if (!r) {
		dt = o->delay_ms ? k->time - dt : 0;
		out_obj_begin(NULL);
		print_header(k, o, dt);
		print_table(k, o->delay_ms ? prev : NULL, prev_ok, dt, o, 0);
		if (o->json)
			print_vms(k, o);
		out_obj_end();
		out_flush();
	}
	free(prev);
	free(prev_ok);
	return r;
}

/* Whether every shown statistic's rate is 0 (or unknown): a record that -z leaves out. */
static bool all_zero(const struct kstat *k, const uint64_t *prev, const bool *prev_ok, double dt,
		     const struct stat_opts *o)
{
	for (int i = 0; i < k->n; i++) {
		double r = rate_of(k, prev, prev_ok, i, dt);

		if (shown(o, k->names[i]) && !k->err[i] && !isnan(r) && r != 0)
			return false;
	}
	return true;
}

/* -c: "timestamp,name,..." once (-L: only into an empty file), then one row an interval. */
static void print_csv_line(const struct kstat *k, const uint64_t *prev, const bool *prev_ok,
			   double dt, struct stat_opts *o)
{
	time_t t = time(NULL);
	char stamp[32];

	if (o->need_csv_header) {
		out_txt("timestamp");
		for (int i = 0; i < k->n; i++)
			if (shown(o, k->names[i]) && !k->err[i])
				out_txt(",%s", k->names[i]);
		out_txt("\n");
	}
	o->need_csv_header = false;
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", localtime(&t));
	out_txt("%s", stamp);
	for (int i = 0; i < k->n; i++) {
		double r = rate_of(k, prev, prev_ok, i, dt);

		if (shown(o, k->names[i]) && !k->err[i])
			out_txt(isnan(r) ? "," : ",%.0f", r);
	}
	out_txt("\n");
	out_flush();
}

/* -l: a header of names, then one line of rates every interval (header again every 20). */
static void print_log_line(const struct kstat *k, const uint64_t *prev, const bool *prev_ok,
			   double dt, struct stat_opts *o)
{
	char fmt[16];
	bool header = o->printed % 20 == 0;

	if (o->skip_zero && all_zero(k, prev, prev_ok, dt, o))
		return;
	if (o->csv) {
		print_csv_line(k, prev, prev_ok, dt, o);
		return;
	}
	o->printed++;
	for (int i = 0; !o->json && header && i < k->n; i++)
		if (shown(o, k->names[i]) && !k->err[i])
			out_txt("%*s ", (int)(strlen(k->names[i]) > 8 ? strlen(k->names[i]) : 8),
				k->names[i]);
	out_txt(header ? "\n" : "");
	out_obj_begin(NULL);
	out_dbl("interval_s", NULL, dt);
	out_obj_begin("rates");
	for (int i = 0; i < k->n; i++) {
		int w = (int)(strlen(k->names[i]) > 8 ? strlen(k->names[i]) : 8);

		if (!shown(o, k->names[i]) || k->err[i])
			continue;
		snprintf(fmt, sizeof(fmt), "%%%d.0f ", w);
		out_rate(k->names[i], fmt, "-", rate_of(k, prev, prev_ok, i, dt));
	}
	out_obj_end();
	out_obj_end();
	out_txt("\n");
	out_flush();
}

/* -L FILE: opens it for appending (again after a SIGHUP, for logrotate); 0 or -errno. */
static int open_log(struct stat_opts *o)
{
	struct stat st;

	if (o->log)
		fclose(o->log);
	o->log = fopen(o->log_file, "a");
	if (!o->log)
		return -errno;
	o->need_csv_header = fstat(fileno(o->log), &st) || st.st_size == 0;
	o->printed = 0;
	out_init(o->log, o->json);
	return 0;
}

static void print_top(const struct kstat *k, const uint64_t *prev, const bool *prev_ok, double dt,
		      const struct stat_opts *o)
{
	struct winsize ws = { 0 };
	bool tty = isatty(STDOUT_FILENO);

	if (tty)
		ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws);
	out_txt("%s", tty ? "\033[H\033[J" : "");
	print_header(k, o, dt);
	print_table(k, prev, prev_ok, dt, o, ws.ws_row > 6 ? ws.ws_row - 5 : 0);
	out_txt("%s", tty ? "" : "\n");
	out_flush();
}

/* Sleeps one interval; in the refreshing view a 'q' on the terminal quits. */
static void wait_interval(const struct stat_opts *o)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	char c;

	if (o->mode != MODE_TOP || !isatty(STDIN_FILENO)) {
		nanosleep(&(struct timespec){ o->delay_ms / 1000, (o->delay_ms % 1000) * 1000000L },
			  NULL);
		return;
	}
	if (poll(&p, 1, (int)o->delay_ms) > 0 && read(STDIN_FILENO, &c, 1) == 1 &&
	    (c == 'q' || c == 'Q'))
		stop = 1;
}

static int run_loop(struct kstat *k, struct stat_opts *o)
{
	uint64_t *prev = calloc((size_t)k->n + 1, sizeof(uint64_t));
	bool *prev_ok = calloc((size_t)k->n + 1, sizeof(bool));
	double t;
	int r = prev && prev_ok ? kstat_sample(k, false, o->pid) : -ENOMEM;

	for (unsigned long long line = 0; !r && !stop && (!o->count || line < o->count); line++) {
		memcpy(prev, k->vals, sizeof(uint64_t) * (size_t)k->n);
		memcpy(prev_ok, k->ok, sizeof(bool) * (size_t)k->n);
		t = k->time;
		wait_interval(o);
		if (stop)
			break;
		r = kstat_sample(k, false, o->pid);
		if (r)
			break;
		if (hup && o->log) {
			hup = 0;
			r = open_log(o);
			if (r)
				break;
		}
		if (o->mode == MODE_LOG)
			print_log_line(k, prev, prev_ok, k->time - t, o);
		else
			print_top(k, prev, prev_ok, k->time - t, o);
		/* stdout: the exit says "write error"; -L: the file is named here */
		if (out_failed()) {
			if (o->log) {
				fprintf(stderr, "ekvm stat: %s: write error\n",
					out_esc(o->log_file));
				r = EKVM_EXIT_USAGE;
			}
			break;
		}
	}
	free(prev);
	free(prev_ok);
	return r;
}

/* Runs a mode with the terminal in non-canonical mode for the refreshing view. */
static int run_mode(struct kstat *k, struct stat_opts *o)
{
	struct termios saved, raw;
	bool term = o->mode == MODE_TOP && tcgetattr(STDIN_FILENO, &saved) == 0;
	int r;

	if (o->mode == MODE_ONCE)
		return run_once(k, o);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (o->log)
		signal(SIGHUP, on_signal);
	if (term) {
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	r = run_loop(k, o);
	if (term)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	return r;
}

static int open_stats(struct kstat *k, const struct stat_opts *o, struct ekvm_ctx *ctx)
{
	char path[4096];
	int r;

	if (o->mount && (r = kstat_mount_debugfs()))
		return env_error(ctx, "mounting debugfs", -r, "run as root");
	r = kstat_open(k);
	if (!r)
		return 0;
	root_path(path, sizeof(path), ROOT_DEBUGFS, "kvm");
	if (r == -ENOENT && kstat_debugfs_mounted() == 0)
		return env_error(ctx, path, -r,
				 "debugfs is not mounted: mount -t debugfs none /sys/kernel/debug, "
				 "or use --mount-debugfs");
	if (r == -ENOENT)
		return env_error(ctx, path, -r, "no KVM statistics: is KVM loaded?");
	if (r == -EACCES)
		return env_error(ctx, path, -r, "debugfs is readable by root only");
	return env_error(ctx, path, -r, NULL);
}

/* "-d 0.5" or "-d0.5" as the old delay: -d is kvm_stat's --debugfs now, the interval -s. */
static bool old_delay(const char *arg)
{
	return arg && !strncmp(arg, "-d", 2) && (isdigit((unsigned char)arg[2]) || arg[2] == '.');
}

static int old_delay_error(const struct ekvm_ctx *ctx, const char *value)
{
	return arg_usage(
		ctx,
		"'-d %s': -d takes no value (kvm_stat's --debugfs); the interval is -s SEC "
		"(--set-delay, --delay)",
		value);
}

static int parse_opt(struct stat_opts *o, int c, char **argv, struct ekvm_ctx *ctx)
{
	unsigned long long v;

	switch (c) {
	case '1':
	case 'l':
		if (o->mode != MODE_TOP && o->mode != (c == '1' ? MODE_ONCE : MODE_LOG))
			return arg_conflict(ctx, "-1", o->log_file ? "-L" : "-l");
		o->mode = c == '1' ? MODE_ONCE : MODE_LOG;
		return 0;
	case 'L':
		if (o->mode == MODE_ONCE)
			return arg_conflict(ctx, "-1", "-L");
		o->mode = MODE_LOG;
		o->log_file = optarg;
		return 0;
	case 's':
		o->delay_arg = optarg;
		return parse_seconds(optarg, &o->delay_ms)
			       ? arg_invalid(ctx, "-s", optarg, "seconds, e.g. 1 or 0.5")
			       : 0;
	case 'd': /* kvm_stat's --debugfs: ekvm reads nothing else */
		if (argv[optind] && !parse_seconds(argv[optind], &(unsigned int){ 0 }))
			return old_delay_error(ctx, argv[optind]);
		return 0;
	case 'i': /* kvm_stat's --debugfs-include-past: ekvm's totals always include the past */
		return 0;
	case 't':
		return arg_usage(ctx,
				 "option '-t' (tracepoints) is not supported: ekvm stat reads "
				 "debugfs only (kvm_stat -t or perf kvm stat read tracepoints)");
	case 'c':
		o->csv = true;
		return 0;
	case 'z':
		o->skip_zero = true;
		return 0;
	case 'n':
		if (parse_u64(optarg, UINT32_MAX, &o->count) || !o->count)
			return arg_invalid(ctx, "-n", optarg, "a count from 1 to 4294967295");
		return 0;
	case 'p':
		if (parse_u64(optarg, 0x7fffffff, &v) || !v)
			return arg_invalid(ctx, "-p", optarg, "a process id");
		o->pid = (unsigned int)v;
		return 0;
	case 'g':
		o->guest = optarg;
		return 0;
	case 'f':
		if (o->has_filter)
			regfree(&o->filter);
		o->fields = optarg;
		o->has_filter = strcmp(optarg, "help") &&
				regcomp(&o->filter, optarg, REG_EXTENDED | REG_NOSUB) == 0;
		return o->has_filter || !strcmp(optarg, "help")
			       ? 0
			       : arg_invalid(ctx, "-f", optarg, "a regular expression, or help");
	case 'j':
		o->json = true;
		return 0;
	case 'm':
		o->mount = true;
		return 0;
	case 'V':
		return arg_usage(ctx, "option '--per-vm' needs --hist (each VM's exit histograms)");
	default:
		if (c == '?' && (isdigit(optopt) || optopt == '.') &&
		    (old_delay(argv[optind]) || old_delay(argv[optind - 1])))
			return old_delay_error(ctx, old_delay(argv[optind]) ? argv[optind] + 2
									    : argv[optind - 1] + 2);
		return arg_error(ctx, argv, c);
	}
}

/* Whether <debugfs>/kvm has a VM folder of pid (a fake debugfs need not match /proc). */
static bool has_vm_of(unsigned int pid)
{
	char path[4096];
	struct dirent *d;
	unsigned int p, fd;
	bool found = false;
	DIR *dir;

	root_path(path, sizeof(path), ROOT_DEBUGFS, "kvm");
	dir = opendir(path);
	while (dir && !found && (d = readdir(dir)))
		found = !parse_vm_dir(d->d_name, &p, &fd) && p == pid;
	if (dir)
		closedir(dir);
	return found;
}

/* -p: kvm_stat refuses a pid that does not exist; a thread id gets its process named. */
int stat_check_pid(const struct ekvm_ctx *ctx, unsigned int pid)
{
	char rel[64], buf[4096], *tgid;
	unsigned long long leader;

	snprintf(rel, sizeof(rel), "%u/status", pid);
	if (read_root_file(ROOT_PROC, rel, buf, sizeof(buf)) < 0) {
		if (has_vm_of(pid))
			return 0;
		fprintf(stderr, "ekvm %s: -p %u: no such process (specified pid does not exist)\n",
			ctx->cmd->name, pid);
		return EKVM_EXIT_USAGE;
	}
	tgid = strstr(buf, "\nTgid:");
	if (tgid && !parse_u64(strtok(tgid + 6, " \t\n"), 0x7fffffff, &leader) && leader != pid) {
		fprintf(stderr, "ekvm %s: -p %u is a thread of process %llu: use -p %llu\n",
			ctx->cmd->name, pid, leader, leader);
		return EKVM_EXIT_USAGE;
	}
	return 0;
}

int stat_guest_pid(const struct ekvm_ctx *ctx, const char *name, unsigned int *pid)
{
	unsigned int pids[GUEST_PIDS_MAX];
	char list[GUEST_PIDS_MAX * 12 + 8] = "";
	int n = find_guest_pids(root_dir(ROOT_PROC), name, pids, GUEST_PIDS_MAX);

	if (n < 0)
		return env_error(ctx, root_dir(ROOT_PROC), -n, "looking for guest names");
	if (n == 0) {
		fprintf(stderr,
			"ekvm %s: -g %s: no guest by that name (no process with -name %s or "
			"-name guest=%s)\n",
			ctx->cmd->name, name, name, name);
		return EKVM_EXIT_USAGE;
	}
	if (n > 1) {
		for (int i = 0; i < n && i < GUEST_PIDS_MAX; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%u",
				 i ? " " : "", pids[i]);
		fprintf(stderr,
			"ekvm %s: -g %s: %d processes have that guest name (pids %s%s): use -p\n",
			ctx->cmd->name, name, n, list, n > GUEST_PIDS_MAX ? " ..." : "");
		return EKVM_EXIT_USAGE;
	}
	*pid = pids[0];
	return 0;
}

/* The combinations kvm_stat refuses, and the interval outside -1. */
static int check_opts(struct stat_opts *o, struct ekvm_ctx *ctx)
{
	if (o->csv && o->mode != MODE_LOG)
		return arg_usage(ctx, "option '-c' (CSV) needs -l or -L");
	if (o->skip_zero && o->mode != MODE_LOG)
		return arg_usage(ctx, "option '-z' (skip zero records) needs -l or -L");
	if (o->csv && o->json)
		return arg_conflict(ctx, "-c", "--json");
	if (o->guest && o->pid)
		return arg_conflict(ctx, "-g", "-p");
	if (o->json && o->mode == MODE_TOP)
		o->mode = MODE_ONCE;
	if (o->mode != MODE_ONCE && o->delay_ms < DELAY_MIN_MS)
		return arg_usage(
			ctx,
			"-s %s: the interval must be at least 0.01 s (0 only with -1: totals "
			"only)",
			o->delay_arg);
	if (o->guest)
		return stat_guest_pid(ctx, o->guest, &o->pid);
	return o->pid ? stat_check_pid(ctx, o->pid) : 0;
}

/* A failed sample: a malformed value names its file (kstat_bad()), else the errno. */
static int sample_error(const struct ekvm_ctx *ctx, const struct kstat *k, int r)
{
	const char *value, *file = r == -EBADMSG ? kstat_bad(k, &value) : NULL;
	char path[4096];

	if (!file)
		return env_error(ctx, "reading statistics", -r, NULL);
	root_path(path, sizeof(path), ROOT_DEBUGFS, "kvm");
	fprintf(stderr, "ekvm %s: %s/%s: malformed value '%s' (expected one number)\n",
		ctx->cmd->name, out_esc(path), out_esc(file), out_esc(value));
	return EKVM_EXIT_USAGE;
}

/* -f help: the names of the statistics, as kvm_stat lists its events. */
static int list_fields(const struct kstat *k)
{
	for (int i = 0; i < k->n; i++)
		printf("  %s\n", out_esc(k->names[i]));
	return 0;
}

int cmd_stat(int argc, char **argv, struct ekvm_ctx *ctx)
{
	static const struct option opts[] = {
		{ "once", no_argument, NULL, '1' },
		{ "batch", no_argument, NULL, '1' },
		{ "log", no_argument, NULL, 'l' },
		{ "log-to-file", required_argument, NULL, 'L' },
		{ "csv", no_argument, NULL, 'c' },
		{ "skip-zero-records", no_argument, NULL, 'z' },
		{ "set-delay", required_argument, NULL, 's' },
		{ "delay", required_argument, NULL, 's' },
		{ "debugfs", no_argument, NULL, 'd' },
		{ "debugfs-include-past", no_argument, NULL, 'i' },
		{ "tracepoints", no_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'n' },
		{ "fields", required_argument, NULL, 'f' },
		{ "pid", required_argument, NULL, 'p' },
		{ "guest", required_argument, NULL, 'g' },
		{ "json", no_argument, NULL, 'j' },
		{ "mount-debugfs", no_argument, NULL, 'm' },
		{ "per-vm", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct stat_opts o = { .mode = MODE_TOP, .delay_ms = 1000, .need_csv_header = true };
	struct kstat k;
	int c, r = 0;

	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--hist"))
			return cmd_stat_hist(argc, argv, ctx);
	while (!r && (c = getopt_long(argc, argv, ":1lL:cs:ditzn:f:p:g:", opts, NULL)) != -1)
		r = parse_opt(&o, c, argv, ctx);
	if (!r && optind < argc)
		r = arg_extra(ctx, argv[optind]);
	if (!r)
		r = check_opts(&o, ctx);
	if (!r)
		r = open_stats(&k, &o, ctx);
	if (!r && o.fields && !o.has_filter) {
		r = list_fields(&k);
		kstat_close(&k);
	} else if (!r) {
		out_init(stdout, o.json);
		if (o.log_file && (r = open_log(&o)))
			r = env_error(ctx, o.log_file, -r, "the file of -L");
		else if ((r = run_mode(&k, &o)) < 0)
			r = sample_error(ctx, &k, r);
		kstat_close(&k);
	}
	if (o.log)
		fclose(o.log);
	if (o.has_filter)
		regfree(&o.filter);
	return r;
}
