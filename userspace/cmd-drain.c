// SPDX-License-Identifier: GPL-2.0-only
/*
 * ekvm drain: the maintenance drain of an ekvm host (ekvm ABI 2). While the drain is on, KVM
 * refuses new VMs (KVM_CREATE_VM fails with EBUSY) and running VMs go on; `on --wait` then
 * waits until the host has no VM left, so a rollout knows it can reload KVM.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ekvm.h"
#include "ekvmfeat.h"
#include "out.h"
#include "parse.h"
#include "sysfs.h"

#define POLL_MS 200 /* one read of the vms attribute each time */
#define PROGRESS_S 10 /* a progress line at least this often, and when the count changes */
#define TIMEOUT_MAX_S 604800 /* a week */

enum drain_action { DRAIN_STATUS, DRAIN_ON, DRAIN_OFF };
static const char *const action_names[] = { "status", "on", "off" };

struct drain_opts {
	enum drain_action action;
	bool json, wait;
	unsigned long long timeout_ms; /* 0: no limit */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *plural(long long n)
{
	return n == 1 ? "" : "s";
}

/* "0.5", "600", "4000.5": seconds with milliseconds resolution, up to a week. */
static int parse_timeout(const char *s, unsigned long long *ms)
{
	return parse_seconds_max(s, TIMEOUT_MAX_S, ms) ? -EINVAL : 0;
}

static int parse_args(struct drain_opts *o, int argc, char **argv, struct ekvm_ctx *ctx)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ 0 },
	};
	size_t i;
	int c;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 'j') {
			o->json = true;
		} else if (c == 'w') {
			o->wait = true;
		} else if (c == 't') {
			if (parse_timeout(optarg, &o->timeout_ms))
				return arg_invalid(ctx, "--timeout", optarg,
						   "seconds, e.g. 600 or 0.5 (0: no limit; at most "
						   "604800, a week)");
			o->wait = true;
		} else if (c == '?' && optopt == 'w' && !strncmp(argv[optind - 1], "--w", 3) &&
			   strchr(argv[optind - 1], '=')) {
			/* "--wait=5": getopt_long says '?' for a value given to a flag */
			fprintf(stderr,
				"ekvm %s: option '--wait' takes no value: to limit the wait, use "
				"--timeout SEC (see 'ekvm help %s')\n",
				ctx->cmd->name, ctx->cmd->name);
			return EKVM_EXIT_USAGE;
		} else {
			return arg_error(ctx, argv, c);
		}
	}
	if (optind < argc) {
		for (i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++)
			if (!strcmp(argv[optind], action_names[i]))
				break;
		if (i == sizeof(action_names) / sizeof(action_names[0]))
			return arg_invalid(ctx, "action", argv[optind], "on, off or status");
		o->action = (enum drain_action)i;
		optind++;
	}
	if (optind < argc)
		return arg_extra(ctx, argv[optind]);
	if (o->wait && o->action == DRAIN_OFF)
		return arg_conflict(ctx, "off", "--wait");
	return 0;
}

/* "drain: on (2 VMs, 3 vCPUs open)", or the same as one JSON object. */
static void print_state(const struct drain_opts *o, const struct ekvm_feat *f, double waited)
{
	bool known = f->drain >= 0 && f->vms >= 0 && f->vcpus >= 0;

	out_obj_begin(NULL);
	out_bool("kvm_loaded", NULL, f->kvm_loaded);
	out_bool("ekvm", NULL, f->ekvm);
	out_bool("drain_supported", NULL, f->drain >= 0);
	out_str("action", NULL, action_names[o->action]);
	out_bool("drain", NULL, f->drain == 1);
	out_txt("drain: %s", f->drain == 1 ? "on" : "off");
	if (known) {
		out_int("vms", " (%lld VM", f->vms);
		out_txt("%s", plural(f->vms));
		out_int("vcpus", ", %lld vCPU", f->vcpus);
		out_txt("%s open)", plural(f->vcpus));
	} else {
		out_str("vms", NULL, NULL);
		out_str("vcpus", NULL, NULL);
	}
	out_dbl("waited_s", !isnan(waited) && f->vms == 0 ? ", empty after %.1f s" : NULL, waited);
	out_txt("\n");
	out_obj_end();
	out_flush();
}

/* No drain on this host: one line, exit 3 (stock KVM, no KVM, or an ekvm before ABI 2). */
static int no_drain(const struct ekvm_ctx *ctx, const struct ekvm_feat *f)
{
	char path[4096];
	uint64_t abi = 0;

	root_path(path, sizeof(path), ROOT_SYS, FEAT_DRAIN);
	if (!f->kvm_loaded)
		fprintf(stderr, "ekvm %s: KVM is not loaded (no %s/module/kvm): cannot drain\n",
			ctx->cmd->name, root_dir(ROOT_SYS));
	else if (!f->ekvm)
		fprintf(stderr, "ekvm %s: the loaded KVM is not ekvm (no %s): cannot drain\n",
			ctx->cmd->name, path);
	else if (read_root_u64(ROOT_SYS, "module/kvm/ekvm/abi", &abi) == 0)
		fprintf(stderr,
			"ekvm %s: the loaded ekvm has ABI %llu, the drain needs ABI 2 (no %s): "
			"cannot drain\n",
			ctx->cmd->name, (unsigned long long)abi, path);
	else
		fprintf(stderr, "ekvm %s: the loaded ekvm has no drain (no %s): cannot drain\n",
			ctx->cmd->name, path);
	return EKVM_EXIT_NOT_EKVM;
}

static int set_drain(const struct ekvm_ctx *ctx, bool on)
{
	char path[4096];
	int r;

	root_path(path, sizeof(path), ROOT_SYS, FEAT_DRAIN);
	if (geteuid() != 0) {
		fprintf(stderr, "ekvm %s: switching the drain %s needs root\n", ctx->cmd->name,
			on ? "on" : "off");
		return EKVM_EXIT_FAIL;
	}
	r = feat_write_drain(on);
	if (r == -EACCES || r == -EPERM) {
		fprintf(stderr, "ekvm %s: %s: %s (switching the drain needs root)\n",
			ctx->cmd->name, path, strerror(-r));
		return EKVM_EXIT_FAIL;
	}
	if (r == -EAGAIN) {
		fprintf(stderr, "ekvm %s: %s does not read %d after writing it\n", ctx->cmd->name,
			path, on);
		return EKVM_EXIT_FAIL;
	}
	return r ? env_error(ctx, path, -r, r == -EINVAL ? "the kernel refused the value" : NULL)
		 : 0;
}

/* Reads the drain and the counts; an error is one line, exit 2. */
static int read_state(const struct ekvm_ctx *ctx, struct ekvm_feat *f)
{
	static const char *const rels[] = { FEAT_DRAIN, FEAT_VMS, FEAT_VCPUS };
	long long vals[3];
	char path[4096];

	f->drain = feat_read_bool(FEAT_DRAIN);
	f->vms = feat_read_count(FEAT_VMS);
	f->vcpus = feat_read_count(FEAT_VCPUS);
	vals[0] = f->drain;
	vals[1] = f->vms;
	vals[2] = f->vcpus;
	for (int i = 0; i < 3; i++) {
		if (vals[i] >= 0)
			continue;
		root_path(path, sizeof(path), ROOT_SYS, rels[i]);
		return env_error(ctx, path, (int)-vals[i], NULL);
	}
	return 0;
}

/* --wait: polls the vms attribute until it reads 0, the timeout passes or the drain goes off. */
static int wait_empty(const struct ekvm_ctx *ctx, const struct drain_opts *o, struct ekvm_feat *f,
		      double *waited)
{
	const char *name = ctx->cmd->name;
	double start = now(), said = -PROGRESS_S;
	long long said_vms = -1;
	long ms;
	int r;

	for (;;) {
		r = read_state(ctx, f);
		*waited = now() - start;
		if (r || f->vms == 0)
			return r;
		if (o->action == DRAIN_ON && f->drain != 1) {
			fprintf(stderr,
				"ekvm %s: the drain was switched off while waiting (%lld VM%s "
				"open)\n",
				name, f->vms, plural(f->vms));
			return EKVM_EXIT_FAIL;
		}
		if (o->timeout_ms && *waited * 1000 >= (double)o->timeout_ms) {
			fprintf(stderr,
				"ekvm %s: %lld VM%s (%lld vCPU%s) still open after %.1f s: giving "
				"up "
				"(the drain stays %s)\n",
				name, f->vms, plural(f->vms), f->vcpus, plural(f->vcpus), *waited,
				f->drain == 1 ? "on" : "off");
			return EKVM_EXIT_FAIL;
		}
		if (f->vms != said_vms || *waited - said >= PROGRESS_S) {
			fprintf(stderr,
				"ekvm %s: waiting for %lld VM%s (%lld vCPU%s) to end, %.0f s\n",
				name, f->vms, plural(f->vms), f->vcpus, plural(f->vcpus), *waited);
			said_vms = f->vms;
			said = *waited;
		}
		ms = POLL_MS;
		if (o->timeout_ms && (double)o->timeout_ms - *waited * 1000 < ms)
			ms = (long)((double)o->timeout_ms - *waited * 1000) + 1;
		nanosleep(&(struct timespec){ 0, ms * 1000000L }, NULL);
	}
}

int cmd_drain(int argc, char **argv, struct ekvm_ctx *ctx)
{
	struct drain_opts o = { .action = DRAIN_STATUS };
	struct ekvm_feat f;
	double waited = NAN;
	int r = parse_args(&o, argc, argv, ctx);

	if (r)
		return r;
	out_init(stdout, o.json);
	feat_read(&f);
	if (f.drain == -ENOENT) {
		if (o.json)
			print_state(&o, &f, waited);
		return no_drain(ctx, &f);
	}
	r = read_state(ctx, &f);
	if (!r && o.action != DRAIN_STATUS)
		r = set_drain(ctx, o.action == DRAIN_ON);
	if (!r)
		r = read_state(ctx, &f);
	if (r)
		return r;
	/* a wait that gave up still prints the state: how many VMs are left */
	if (o.wait)
		r = wait_empty(ctx, &o, &f, &waited);
	if (!r || r == EKVM_EXIT_FAIL)
		print_state(&o, &f, waited);
	return r;
}
