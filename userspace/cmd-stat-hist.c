// SPDX-License-Identifier: GPL-2.0-only
/*
 * ekvm stat --hist: the exit-latency histograms of ekvm (ekvm ABI 5; sampled since ABI 6),
 * read once from every VM's <debugfs>/kvm/<pid>-<fd>/ekvm_exit_latency (hist.h), summed over
 * the VMs (or each VM with --per-vm), one log2 table with a bar chart per where/class, like
 * bpftrace's hist().
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekvm.h"
#include "ekvmfeat.h"
#include "hist.h"
#include "ident.h"
#include "kstat.h"
#include "out.h"
#include "parse.h"
#include "sysfs.h"

#define HIST_FILE_MAX (1 << 20)
#define BAR_WIDTH 40

struct hist_opts {
	unsigned int pid;
	bool json, per_vm, mount;
};

struct hist_vm {
	unsigned int pid, fd;
	bool has_file;
	struct hist h;
};

struct hist_vms {
	int n, with_file;
	struct hist_vm *v;
};

static int parse_opts(struct hist_opts *o, int argc, char **argv, struct ekvm_ctx *ctx)
{
	static const struct option opts[] = {
		{ "hist", no_argument, NULL, 'H' },
		{ "once", no_argument, NULL, '1' },
		{ "batch", no_argument, NULL, '1' },
		{ "pid", required_argument, NULL, 'p' },
		{ "guest", required_argument, NULL, 'g' },
		{ "json", no_argument, NULL, 'j' },
		{ "per-vm", no_argument, NULL, 'V' },
		{ "mount-debugfs", no_argument, NULL, 'm' },
		{ "debugfs", no_argument, NULL, 'd' },
		{ "debugfs-include-past", no_argument, NULL, 'i' },
		/* the modes and options of the live view, refused with --hist */
		{ "log", no_argument, NULL, 'l' },
		{ "log-to-file", required_argument, NULL, 'L' },
		{ "csv", no_argument, NULL, 'c' },
		{ "skip-zero-records", no_argument, NULL, 'z' },
		{ "set-delay", required_argument, NULL, 's' },
		{ "delay", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "fields", required_argument, NULL, 'f' },
		{ "tracepoints", no_argument, NULL, 't' },
		{ 0 },
	};
	static const char *const live[] = {
		['l'] = "-l", ['L'] = "-L", ['c'] = "-c", ['z'] = "-z",
		['s'] = "-s", ['n'] = "-n", ['f'] = "-f", ['t'] = "-t",
	};
	const char *guest = NULL;
	unsigned long long v;
	int c;

	while ((c = getopt_long(argc, argv, ":1p:g:dilL:czs:n:f:t", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
		case '1':
		case 'd': /* kvm_stat's --debugfs: the histograms are in debugfs */
		case 'i': /* the histograms count from the VM's start anyway */
			break;
		case 'p':
			if (parse_u64(optarg, 0x7fffffff, &v) || !v)
				return arg_invalid(ctx, "-p", optarg, "a process id");
			o->pid = (unsigned int)v;
			break;
		case 'g':
			guest = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'V':
			o->per_vm = true;
			break;
		case 'm':
			o->mount = true;
			break;
		case 'l':
		case 'L':
		case 'c':
		case 'z':
		case 's':
		case 'n':
		case 'f':
		case 't':
			return arg_conflict(ctx, "--hist", live[c]);
		default:
			return arg_error(ctx, argv, c);
		}
	}
	if (optind < argc)
		return arg_extra(ctx, argv[optind]);
	if (guest && o->pid)
		return arg_conflict(ctx, "-g", "-p");
	return guest ? stat_guest_pid(ctx, guest, &o->pid) : 0;
}

static int cmp_vm(const void *a, const void *b)
{
	const struct hist_vm *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->fd < y->fd ? -1 : x->fd > y->fd;
}

/* One VM's file into vm->h: 0 (also when the file or the VM is gone), or an exit code. */
static int read_vm(const struct ekvm_ctx *ctx, const char *name, struct hist_vm *vm)
{
	char path[4096];
	struct hist_error e = { 0, NULL };
	unsigned char *data = NULL;
	long len;
	int r;

	snprintf(path, sizeof(path), "%s/kvm/%s/%s", root_dir(ROOT_DEBUGFS), name, HIST_FILE);
	len = read_whole_file(path, &data, HIST_FILE_MAX);
	if (len == -ENOENT || len == -ENOTDIR)
		return 0;
	if (len < 0)
		return env_error(ctx, path, (int)-len,
				 len == -EACCES ? "debugfs is readable by root only" : NULL);
	if (len >= HIST_FILE_MAX)
		r = -EFBIG;
	else
		r = hist_parse(&vm->h, (const char *)data, (size_t)len, &e);
	free(data);
	if (r == -EINVAL) {
		fprintf(stderr, "ekvm %s: %s: line %d: %s\n", ctx->cmd->name, path, e.line, e.why);
		return EKVM_EXIT_USAGE;
	}
	if (r)
		return env_error(ctx, path, -r, NULL);
	vm->has_file = true;
	hist_sort(&vm->h);
	return 0;
}

static void free_vms(struct hist_vms *vms)
{
	for (int i = 0; i < vms->n; i++)
		hist_free(&vms->v[i].h);
	free(vms->v);
}

/* Every VM folder (of pid) and its histograms; an exit code on error. */
static int read_vms(const struct ekvm_ctx *ctx, DIR *dir, unsigned int pid, struct hist_vms *vms)
{
	struct dirent *d;
	int r = 0;

	while (!r && (d = readdir(dir))) {
		struct hist_vm vm = { 0 }, *v;

		if (parse_vm_dir(d->d_name, &vm.pid, &vm.fd) || (pid && vm.pid != pid))
			continue;
		v = realloc(vms->v, sizeof(*v) * (size_t)(vms->n + 1));
		if (!v)
			return env_error(ctx, "reading the histograms", ENOMEM, NULL);
		vms->v = v;
		v = &vms->v[vms->n++];
		*v = vm;
		hist_init(&v->h);
		r = read_vm(ctx, d->d_name, v);
		vms->with_file += v->has_file;
	}
	if (vms->n > 1)
		qsort(vms->v, (size_t)vms->n, sizeof(*vms->v), cmp_vm);
	return r;
}

static const char *plural(long long n)
{
	return n == 1 ? "" : "s";
}

static void print_buckets(const struct hist_series *s)
{
	uint64_t max = 0;
	int first = HIST_BUCKETS, last = -1;

	for (int i = 0; i < HIST_BUCKETS; i++) {
		if (!s->b[i])
			continue;
		first = i < first ? i : first;
		last = i;
		max = s->b[i] > max ? s->b[i] : max;
	}
	out_arr_begin("buckets");
	for (int i = first; i <= last; i++) {
		char lo[16], hi[16], label[40];
		int bar = max ? (int)((double)s->b[i] * BAR_WIDTH / (double)max) : 0;

		hist_fmt_bound(lo, sizeof(lo), hist_low(i));
		hist_fmt_bound(hi, sizeof(hi), hist_high(i));
		snprintf(label, sizeof(label), "[%s, %s)", lo, hist_high(i) ? hi : "...");
		if (s->b[i] && !bar)
			bar = 1;
		out_txt("%-18s %12llu |%.*s%*s|\n", label, (unsigned long long)s->b[i], bar,
			"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@", BAR_WIDTH - bar, "");
		if (!s->b[i])
			continue;
		out_obj_begin(NULL);
		out_u64("low_ns", NULL, hist_low(i));
		if (hist_high(i))
			out_u64("high_ns", NULL, hist_high(i));
		else
			out_str("high_ns", NULL, NULL);
		out_u64("count", NULL, s->b[i]);
		out_obj_end();
	}
	out_arr_end();
}

static void print_hist(const char *key, const struct hist *h)
{
	out_arr_begin(key);
	for (int i = 0; i < h->n; i++) {
		const struct hist_series *s = &h->s[i];
		double p50 = hist_quantile(s, 0.5), p99 = hist_quantile(s, 0.99);
		char t50[32], t99[32];

		hist_fmt_ns(t50, sizeof(t50), p50);
		hist_fmt_ns(t99, sizeof(t99), p99);
		out_obj_begin(NULL);
		out_str("where", "\n%s", s->where);
		out_str("class", " %s", s->class);
		out_u64("count", ": %llu exit", s->count);
		out_dbl("median_ns", NULL, p50);
		out_dbl("p99_ns", NULL, p99);
		out_txt("%s, median %s, p99 %s\n", plural((long long)s->count), t50, t99);
		print_buckets(s);
		out_obj_end();
	}
	out_arr_end();
	out_txt(h->n ? "" : "no exits recorded yet\n");
}

static void print_header(const struct hist_opts *o, const struct hist_vms *vms, int exit_hist)
{
	long long period = feat_read_count(FEAT_EXIT_HIST_PERIOD);
	struct kvm_ident id;

	ident_read_sysfs(&id);
	out_obj_begin("kvm");
	out_str("flavour", "KVM: %s", ident_flavour(&id));
	out_str("version", id.version[0] ? " %s" : NULL, id.version[0] ? id.version : NULL);
	out_obj_end();
	if (exit_hist >= 0)
		out_bool("exit_hist", NULL, exit_hist);
	else
		out_str("exit_hist", NULL, NULL);
	out_int("vms", ", %lld VM", vms->n);
	out_txt("%s", plural(vms->n));
	if (o->pid)
		out_int("pid", " of pid %lld", o->pid);
	else
		out_str("pid", NULL, NULL);
	out_int("vms_with_hist", ", %lld with exit histograms", vms->with_file);
	out_txt("\nexit latency: ns from VM-exit to the next VM-entry (kernel: handled in KVM, "
		"user: went to userspace)\n");
	if (period > 0)
		out_int("exit_hist_period",
			"counts are samples: about 1 exit in %lld is recorded "
			"(kvm.ekvm_exit_hist_period)\n",
			period);
	else
		out_str("exit_hist_period", NULL, NULL);
	out_txt(exit_hist == 0 ? "exit histograms are switched off (kvm.ekvm_exit_hist = N): the "
				 "counts do not grow\n"
			       : "");
}

static void print_all(const struct hist_opts *o, const struct hist_vms *vms, const struct hist *sum)
{
	out_obj_begin(NULL);
	print_header(o, vms, feat_read_bool(FEAT_EXIT_HIST));
	if (!o->per_vm || o->json)
		print_hist("hist", sum);
	out_arr_begin("per_vm");
	for (int i = 0; i < vms->n; i++) {
		const struct hist_vm *v = &vms->v[i];
		char rel[64], comm[64];

		snprintf(rel, sizeof(rel), "%u/comm", v->pid);
		if (read_root_file(ROOT_PROC, rel, comm, sizeof(comm)) < 0)
			comm[0] = 0;
		out_obj_begin(NULL);
		if (o->per_vm)
			out_txt("\n== VM %u-%u (%s)%s\n", v->pid, v->fd,
				comm[0] ? out_esc(comm) : "-",
				v->has_file ? "" : ": no histograms");
		out_int("pid", NULL, v->pid);
		out_int("fd", NULL, v->fd);
		out_str("comm", NULL, comm[0] ? comm : NULL);
		if (v->has_file && (o->per_vm || o->json))
			print_hist("hist", &v->h);
		else
			out_str("hist", NULL, NULL);
		out_obj_end();
	}
	out_arr_end();
	out_obj_end();
	out_flush();
}

/* Nothing to show: exit 3 when the loaded KVM has no exit histograms, else 1. */
static int nothing(const struct ekvm_ctx *ctx, const struct hist_opts *o, int nvms)
{
	struct kvm_ident id;
	char param[4096], vms[64];
	int on = feat_read_bool(FEAT_EXIT_HIST);
	const char *name = ctx->cmd->name;

	ident_read_sysfs(&id);
	root_path(param, sizeof(param), ROOT_SYS, FEAT_EXIT_HIST);
	snprintf(vms, sizeof(vms), "%d VM%s", nvms, plural(nvms));
	if (o->pid)
		snprintf(vms + strlen(vms), sizeof(vms) - strlen(vms), " of pid %u", o->pid);
	if (on == -ENOENT && !id.loaded)
		fprintf(stderr,
			"ekvm %s: KVM is not loaded (no %s/module/kvm): no exit histograms\n", name,
			root_dir(ROOT_SYS));
	else if (on == -ENOENT && !id.ekvm)
		fprintf(stderr,
			"ekvm %s: the loaded KVM is not ekvm (no %s): no exit histograms in the "
			"%s\n",
			name, param, vms);
	else if (on == -ENOENT)
		fprintf(stderr,
			"ekvm %s: the loaded ekvm has no exit histograms (no %s; they need ekvm "
			"ABI 5)\n",
			name, param);
	else if (!nvms)
		fprintf(stderr, "ekvm %s: %s in %s/kvm: no exit histograms to show\n", name, vms,
			root_dir(ROOT_DEBUGFS));
	else
		fprintf(stderr, "ekvm %s: none of the %s has an %s file%s\n", name, vms, HIST_FILE,
			on == 0 ? " (exit histograms are switched off: kvm.ekvm_exit_hist = N)"
				: "");
	return on == -ENOENT ? EKVM_EXIT_NOT_EKVM : EKVM_EXIT_FAIL;
}

static int open_kvm_dir(const struct ekvm_ctx *ctx, const struct hist_opts *o, DIR **dir)
{
	char path[4096];
	struct kvm_ident id;
	int r;

	if (o->mount && (r = kstat_mount_debugfs()))
		return env_error(ctx, "mounting debugfs", -r, "run as root");
	root_path(path, sizeof(path), ROOT_DEBUGFS, "kvm");
	*dir = opendir(path);
	if (*dir)
		return 0;
	r = errno;
	ident_read_sysfs(&id);
	if (r == ENOENT && kstat_debugfs_mounted() == 0)
		return env_error(ctx, path, r,
				 "debugfs is not mounted: mount -t debugfs none /sys/kernel/debug, "
				 "or use --mount-debugfs");
	if (r == ENOENT && !id.loaded)
		return nothing(ctx, o, 0);
	return env_error(ctx, path, r, r == EACCES ? "debugfs is readable by root only" : NULL);
}

int cmd_stat_hist(int argc, char **argv, struct ekvm_ctx *ctx)
{
	struct hist_opts o = { 0 };
	struct hist_vms vms = { 0 };
	struct hist sum;
	DIR *dir = NULL;
	int r = parse_opts(&o, argc, argv, ctx);

	if (!r)
		r = open_kvm_dir(ctx, &o, &dir);
	if (r)
		return r;
	/* (after open_kvm_dir(): a pid with VMs in the debugfs it mounted is not refused) */
	if (o.pid && (r = stat_check_pid(ctx, o.pid))) {
		closedir(dir);
		return r;
	}
	hist_init(&sum);
	r = read_vms(ctx, dir, o.pid, &vms);
	closedir(dir);
	for (int i = 0; !r && i < vms.n; i++) {
		int e = hist_add(&sum, &vms.v[i].h);

		if (e)
			r = env_error(ctx, "summing the histograms", -e, NULL);
	}
	if (!r && !vms.with_file)
		r = nothing(ctx, &o, vms.n);
	if (!r) {
		hist_sort(&sum);
		out_init(stdout, o.json);
		print_all(&o, &vms, &sum);
	}
	hist_free(&sum);
	free_vms(&vms);
	return r;
}
