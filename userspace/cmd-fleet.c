// SPDX-License-Identifier: GPL-2.0-only
/*
 * ekvm fleet plan|rollout|resume|status: roll a new KVM across a libvirt fleet, one batch of
 * hosts at a time, live-migrating their VMs away and back (docs/fleet.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ekvm.h"
#include "fleet.h"
#include "out.h"
#include "parse.h"

#define DEFAULT_STATE "/var/lib/ekvm/fleet/state"

enum sub { SUB_PLAN, SUB_ROLLOUT, SUB_RESUME, SUB_STATUS, SUB_ABORT };

struct fleet_opts {
	enum sub sub;
	const char *inventory, *state, *log;
	bool json, rescan;
	unsigned long long parallel, timeout, bandwidth, batch_size;
	bool no_return;
	/* the migration policy: value + 1, 0 not given */
	unsigned long long per_gib, progress, abort_s, postcopy, downtime, conns, per_source,
		per_dest, retries, bake, connect_timeout;
	bool insecure, no_auto_converge, serial_upgrades, break_lease, leave;
	const char *skip[64]; /* resume --skip-host */
	int nr_skip;
};

enum {
	OPT_PER_GIB = 256,
	OPT_PROGRESS,
	OPT_ABORT,
	OPT_POSTCOPY,
	OPT_DOWNTIME,
	OPT_CONNS,
	OPT_PER_SOURCE,
	OPT_PER_DEST,
	OPT_RETRIES,
	OPT_INSECURE,
	OPT_NO_AUTO_CONVERGE,
	OPT_SERIAL_UPGRADES,
	OPT_BREAK_LEASE,
	OPT_SKIP_HOST,
	OPT_LEAVE,
	OPT_BAKE,
	OPT_CONNECT_TIMEOUT,
};

/* The policy's numeric options: name, limits, where it goes (value + 1), what it takes. */
static const struct {
	int id;
	const char *name;
	unsigned long long min, max;
	size_t off;
	const char *range;
} num_opts[] = {
	{ OPT_PER_GIB, "--timeout-per-gib", 0, 86400, offsetof(struct fleet_opts, per_gib),
	  "0 to 86400 seconds" },
	{ OPT_PROGRESS, "--progress-timeout", 0, 86400, offsetof(struct fleet_opts, progress),
	  "0 (off) to 86400 seconds" },
	{ OPT_ABORT, "--abort-timeout", 1, 3600, offsetof(struct fleet_opts, abort_s),
	  "1 to 3600 seconds" },
	{ OPT_POSTCOPY, "--postcopy-after", 1, 86400, offsetof(struct fleet_opts, postcopy),
	  "1 to 86400 seconds" },
	{ OPT_DOWNTIME, "--max-downtime", 0, 60000, offsetof(struct fleet_opts, downtime),
	  "0 (libvirt's) to 60000 ms" },
	{ OPT_CONNS, "--parallel-connections", 2, 255, offsetof(struct fleet_opts, conns),
	  "2 to 255" },
	{ OPT_PER_SOURCE, "--max-per-source", 1, 64, offsetof(struct fleet_opts, per_source),
	  "1 to 64" },
	{ OPT_PER_DEST, "--max-per-dest", 1, 64, offsetof(struct fleet_opts, per_dest), "1 to 64" },
	{ OPT_RETRIES, "--retries", 0, 16, offsetof(struct fleet_opts, retries), "0 to 16" },
	{ OPT_BAKE, "--bake", 0, 86400, offsetof(struct fleet_opts, bake), "0 to 86400 seconds" },
	{ OPT_CONNECT_TIMEOUT, "--connect-timeout", 1, 3600,
	  offsetof(struct fleet_opts, connect_timeout), "1 to 3600 seconds" },
};

static int parse_opts(int argc, char **argv, struct ekvm_ctx *ctx, struct fleet_opts *o)
{
	static const struct option opts[] = {
		{ "inventory", required_argument, NULL, 'i' },
		{ "state", required_argument, NULL, 's' },
		{ "log", required_argument, NULL, 'l' },
		{ "parallel", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "bandwidth", required_argument, NULL, 'b' },
		{ "batch-size", required_argument, NULL, 'B' },
		{ "no-return", no_argument, NULL, 'n' },
		{ "rescan", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout-per-gib", required_argument, NULL, OPT_PER_GIB },
		{ "progress-timeout", required_argument, NULL, OPT_PROGRESS },
		{ "abort-timeout", required_argument, NULL, OPT_ABORT },
		{ "postcopy-after", required_argument, NULL, OPT_POSTCOPY },
		{ "max-downtime", required_argument, NULL, OPT_DOWNTIME },
		{ "parallel-connections", required_argument, NULL, OPT_CONNS },
		{ "max-per-source", required_argument, NULL, OPT_PER_SOURCE },
		{ "max-per-dest", required_argument, NULL, OPT_PER_DEST },
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "insecure-migration", no_argument, NULL, OPT_INSECURE },
		{ "no-auto-converge", no_argument, NULL, OPT_NO_AUTO_CONVERGE },
		{ "serial-upgrades", no_argument, NULL, OPT_SERIAL_UPGRADES },
		{ "break-lease", no_argument, NULL, OPT_BREAK_LEASE },
		{ "skip-host", required_argument, NULL, OPT_SKIP_HOST },
		{ "leave", no_argument, NULL, OPT_LEAVE },
		{ "bake", required_argument, NULL, OPT_BAKE },
		{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
		{ 0 },
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, ":i:s:l:p:t:", opts, NULL)) != -1) {
		bool num = false;

		for (size_t k = 0; k < sizeof(num_opts) / sizeof(num_opts[0]); k++) {
			unsigned long long v, *dst;

			if (num_opts[k].id != c)
				continue;
			num = true;
			if (parse_u64(optarg, num_opts[k].max, &v) || v < num_opts[k].min)
				return arg_invalid(ctx, num_opts[k].name, optarg,
						   num_opts[k].range);
			dst = (unsigned long long *)((char *)o + num_opts[k].off);
			*dst = v + 1;
		}
		if (num)
			continue;
		switch (c) {
		case 'i':
			o->inventory = optarg;
			break;
		case 's':
			o->state = optarg;
			break;
		case 'l':
			o->log = optarg;
			break;
		case 'p':
			if (parse_u64(optarg, 64, &o->parallel) || !o->parallel)
				return arg_invalid(ctx, "--parallel", optarg, "1 to 64");
			break;
		case 't':
			if (parse_u64(optarg, 86400, &o->timeout) || !o->timeout)
				return arg_invalid(ctx, "--timeout", optarg, "1 to 86400 seconds");
			break;
		case 'b':
			if (parse_u64(optarg, 1000000, &o->bandwidth))
				return arg_invalid(ctx, "--bandwidth", optarg,
						   "MiB/s, 0 for no cap");
			o->bandwidth++; /* 0 means "not given" */
			break;
		case 'B':
			if (parse_u64(optarg, FLEET_MAX_HOSTS, &o->batch_size) || !o->batch_size)
				return arg_invalid(ctx, "--batch-size", optarg, "1 to 256");
			break;
		case 'n':
			o->no_return = true;
			break;
		case 'r':
			o->rescan = true;
			break;
		case 'j':
			o->json = true;
			break;
		case OPT_INSECURE:
			o->insecure = true;
			break;
		case OPT_NO_AUTO_CONVERGE:
			o->no_auto_converge = true;
			break;
		case OPT_SERIAL_UPGRADES:
			o->serial_upgrades = true;
			break;
		case OPT_BREAK_LEASE:
			o->break_lease = true;
			break;
		case OPT_LEAVE:
			o->leave = true;
			break;
		case OPT_SKIP_HOST:
			if (o->nr_skip == (int)(sizeof(o->skip) / sizeof(o->skip[0])))
				return arg_invalid(ctx, "--skip-host", optarg, "at most 64 hosts");
			o->skip[o->nr_skip++] = optarg;
			break;
		default:
			return arg_error(ctx, argv, c);
		}
	}
	if (optind < argc)
		return arg_extra(ctx, argv[optind]);
	if ((o->sub == SUB_PLAN || o->sub == SUB_ROLLOUT) && !o->inventory) {
		fprintf(stderr,
			"ekvm fleet: %s needs the inventory: -i FILE (see 'ekvm help fleet')\n",
			argv[0]);
		return EKVM_EXIT_USAGE;
	}
	if ((o->sub == SUB_RESUME || o->sub == SUB_STATUS || o->sub == SUB_ABORT) && o->inventory)
		return arg_conflict(ctx, argv[0], "--inventory");
	if (o->rescan && o->sub != SUB_RESUME)
		return arg_conflict(ctx, argv[0], "--rescan");
	if (o->nr_skip && o->sub != SUB_RESUME)
		return arg_conflict(ctx, argv[0], "--skip-host");
	if (o->break_lease && o->sub != SUB_RESUME && o->sub != SUB_ROLLOUT && o->sub != SUB_ABORT)
		return arg_conflict(ctx, argv[0], "--break-lease");
	if (o->leave && o->sub != SUB_ABORT)
		return arg_conflict(ctx, argv[0], "--leave");
	return 0;
}

/* A relative path made absolute (the current folder's), so that resume, run from elsewhere,
 * finds the same file. */
static void absolute(char *path, size_t size)
{
	char cwd[4096], tmp[8200];

	if (path[0] == '/' || !path[0] || !getcwd(cwd, sizeof(cwd)))
		return;
	snprintf(tmp, sizeof(tmp), "%s/%s", cwd, path);
	if (strlen(tmp) < size)
		memcpy(path, tmp, strlen(tmp) + 1);
}

static void apply_opts(struct fleet *f, const struct fleet_opts *o)
{
	f->json = o->json;
	if (o->parallel)
		f->parallel = (unsigned int)o->parallel;
	if (o->timeout)
		f->timeout_s = (unsigned int)o->timeout;
	if (o->bandwidth)
		f->bandwidth_mib = (unsigned int)(o->bandwidth - 1);
	if (o->batch_size)
		f->batch_size = (unsigned int)o->batch_size;
	f->no_return = o->no_return;
	fleet_policy_defaults(f);
	if (o->per_gib)
		f->timeout_per_gib_s = (unsigned int)(o->per_gib - 1);
	if (o->progress)
		f->progress_timeout_s = (unsigned int)(o->progress - 1);
	if (o->abort_s)
		f->abort_timeout_s = (unsigned int)(o->abort_s - 1);
	if (o->postcopy)
		f->postcopy_after_s = (unsigned int)(o->postcopy - 1);
	if (o->downtime)
		f->downtime_ms = (unsigned int)(o->downtime - 1);
	if (o->conns)
		f->parallel_conns = (unsigned int)(o->conns - 1);
	if (o->per_source)
		f->max_per_source = (unsigned int)(o->per_source - 1);
	if (o->per_dest)
		f->max_per_dest = (unsigned int)(o->per_dest - 1);
	if (o->retries)
		f->retries = (unsigned int)(o->retries - 1);
	if (o->bake)
		f->bake_s = (unsigned int)(o->bake - 1);
	if (o->connect_timeout)
		f->connect_timeout_s = (unsigned int)(o->connect_timeout - 1);
	f->insecure = o->insecure;
	f->no_auto_converge = o->no_auto_converge;
	f->serial_upgrades = o->serial_upgrades;
	f->break_lease = o->break_lease;
	snprintf(f->state_path, sizeof(f->state_path), "%s", o->state ? o->state : DEFAULT_STATE);
	if (o->log)
		snprintf(f->log_path, sizeof(f->log_path), "%s", o->log);
	else if (!f->log_path[0])
		snprintf(f->log_path, sizeof(f->log_path), "%.4090s.log", f->state_path);
	absolute(f->log_path, sizeof(f->log_path));
}

static int do_plan(struct fleet *f)
{
	int *order = calloc((size_t)f->nr_hosts, sizeof(int));
	int *batch_of = calloc((size_t)f->nr_hosts, sizeof(int)), nb = 0, failed;

	if (!order || !batch_of) {
		free(order);
		free(batch_of);
		return EKVM_EXIT_USAGE;
	}
	failed = fleet_preflight(f, order, batch_of, &nb);
	fleet_print_plan(f, order, batch_of, nb);
	free(order);
	free(batch_of);
	return failed ? EKVM_EXIT_FAIL : EKVM_EXIT_OK;
}

/* One rollout at a time per state file. */
static int lock_state(struct ekvm_ctx *ctx, const struct fleet *f, int *fd)
{
	char path[4200], dir[4200];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", f->state_path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		for (char *p = dir + 1; *p; p++) {
			if (*p != '/')
				continue;
			*p = 0;
			mkdir(dir, 0755);
			*p = '/';
		}
		mkdir(dir, 0755);
	}
	snprintf(path, sizeof(path), "%s.lock", f->state_path);
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (*fd < 0)
		return env_error(ctx, path, errno, "--state FILE puts the state elsewhere");
	/* `ekvm fleet status` holds a shared lock for a moment to see whether a rollout runs */
	for (int i = 0; i < 20 && flock(*fd, LOCK_EX | LOCK_NB); i++)
		nanosleep(&(struct timespec){ 0, 50000000 }, NULL);
	if (flock(*fd, LOCK_EX | LOCK_NB)) {
		fprintf(stderr, "ekvm fleet: another ekvm fleet runs on %s\n", f->state_path);
		close(*fd);
		return EKVM_EXIT_USAGE;
	}
	return 0;
}

static int report(struct fleet *f, int rc)
{
	struct invariant inv;

	fleet_invariant(f, &inv);
	out_init(stdout, f->json);
	fleet_print_report(f, &inv);
	return rc;
}

/* Whether an ekvm fleet rollout or resume holds the state's lock now. */
static bool rollout_running(const struct fleet *f)
{
	char path[4200];
	bool held;
	int fd;

	snprintf(path, sizeof(path), "%s.lock", f->state_path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	held = flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

/*
 * status: the report, and an exit code for monitoring (docs/fleet.md): 0 done or nothing to
 * report, 1 halted (or interrupted), 4 the invariant broken, 5 a host unreachable, 6 running.
 */
static int status(struct fleet *f)
{
	struct invariant inv;
	int rc;

	fleet_invariant(f, &inv);
	out_init(stdout, f->json);
	fleet_print_report(f, &inv);
	if (f->inventory_note[0])
		fprintf(stderr, "ekvm fleet: note: %s\n", f->inventory_note);
	if (rollout_running(f))
		return FLEET_EXIT_RUNNING;
	rc = fleet_exit_code(f, &inv);
	if (!rc && strcmp(f->result, "done") && strcmp(f->result, "planned") &&
	    strcmp(f->result, "aborted"))
		rc = EKVM_EXIT_FAIL;
	return rc;
}

/*
 * rollout over an existing state file: only over one that reads back and records a finished
 * rollout; anything else (cut short, edited, an unfinished rollout) would lose the VMs' homes.
 */
static int check_old_state(const struct fleet *f)
{
	char err[FLEET_ERR] = "";
	struct fleet old;
	struct stat st;
	int r;

	if (stat(f->state_path, &st)) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "ekvm fleet: %s: %s (not starting over it)\n", f->state_path,
			strerror(errno));
		return EKVM_EXIT_USAGE;
	}
	fleet_init(&old);
	r = fleet_state_load(&old, f->state_path, err, sizeof(err));
	if (r) {
		fprintf(stderr,
			"ekvm fleet: %s: not overwriting a state that does not read back: 'ekvm "
			"fleet status -s %s' or 'resume' once it is fixed, or remove the file to "
			"start afresh\n",
			err, f->state_path);
		r = EKVM_EXIT_USAGE;
	} else if (strcmp(old.result, "done") && strcmp(old.result, "planned") &&
		   strcmp(old.result, "aborted")) {
		fprintf(stderr,
			"ekvm fleet: %s records an unfinished rollout (%s): 'ekvm fleet resume' "
			"continues it, 'ekvm fleet status' shows it; remove the file to start "
			"afresh\n",
			f->state_path, old.result);
		r = EKVM_EXIT_USAGE;
	}
	fleet_free(&old);
	return r;
}

/* A new rollout: its start, a new id, its own copy of the inventory. */
static int start_rollout(struct fleet *f)
{
	int r;

	fleet_now_iso(f->started, sizeof(f->started));
	f->rollout_id[0] = 0; /* a new one */
	r = fleet_inventory_keep(f);
	if (r)
		fprintf(stderr,
			"ekvm fleet: %s.inventory: %s (a rollout keeps a copy of its inventory "
			"beside its state)\n",
			f->state_path, strerror(-r));
	return r ? EKVM_EXIT_USAGE : 0;
}

/* resume: failed hosts again, --skip-host ones left out. */
static int start_resume(struct fleet *f, const struct fleet_opts *o)
{
	for (int i = 0; i < o->nr_skip; i++) {
		int h = fleet_host_find(f, o->skip[i]);

		if (h < 0 || f->hosts[h].status == HOST_DONE) {
			fprintf(stderr, "ekvm fleet: --skip-host %s: %s\n", o->skip[i],
				h < 0 ? "no such host in the rollout's inventory"
				      : "the host is done already");
			return EKVM_EXIT_USAGE;
		}
	}
	/* (a canary that failed only its health gate: fleet_rollout() runs the gate again) */
	for (int h = 0; h < f->nr_hosts; h++)
		if (f->hosts[h].status == HOST_FAILED && f->hosts[h].failed_step != STEP_BAKE)
			f->hosts[h].status = HOST_PENDING;
	f->rescan = o->rescan;
	for (int i = 0; i < o->nr_skip; i++) {
		int h = fleet_host_find(f, o->skip[i]);

		f->hosts[h].status = HOST_SKIPPED;
		f->hosts[h].failed_step = STEP_NONE;
		fleet_log(f, h, "skipped by --skip-host: not upgraded, not a destination; %s",
			  "its VMs stay where they are, not verified");
	}
	return 0;
}

/* abort: only a rollout that has not ended. */
static int start_abort(const struct fleet *f)
{
	if (!strcmp(f->result, "halted") || !strcmp(f->result, "running"))
		return 0;
	fprintf(stderr, "ekvm fleet: %s records no unfinished rollout (%s): nothing to abort\n",
		f->state_path, f->result);
	return EKVM_EXIT_USAGE;
}

/* rollout, resume and abort: under the state's lock. */
static int do_rollout(struct ekvm_ctx *ctx, struct fleet *f, const struct fleet_opts *o)
{
	int lock = -1, r;

	r = lock_state(ctx, f, &lock);
	if (r)
		return r;
	r = o->sub == SUB_ROLLOUT ? check_old_state(f) : 0;
	if (!r && (r = fleet_log_check(f->log_path)))
		r = env_error(ctx, f->log_path, -r, "-l FILE puts the log elsewhere");
	if (!r)
		r = o->sub == SUB_ROLLOUT  ? start_rollout(f)
		    : o->sub == SUB_RESUME ? start_resume(f, o)
					   : start_abort(f);
	if (r) {
		close(lock);
		return r;
	}
	if (o->sub != SUB_ROLLOUT && f->inventory_note[0])
		fleet_log(f, -1, "note: %s", f->inventory_note);
	fleet_lease_init(f);
	if (o->sub == SUB_ABORT)
		r = fleet_abort(f, o->leave);
	else
		r = fleet_rollout(f, o->sub == SUB_RESUME);
	r = report(f, r < 0 ? EKVM_EXIT_FAIL : r);
	close(lock);
	return r;
}

static int run(struct ekvm_ctx *ctx, const struct fleet_opts *o)
{
	const char *state = o->state ? o->state : DEFAULT_STATE;
	char err[FLEET_ERR] = "";
	struct fleet f;
	int r;

	fleet_init(&f);
	if (o->sub == SUB_PLAN || o->sub == SUB_ROLLOUT) {
		r = fleet_inventory_load(&f, o->inventory, err, sizeof(err));
	} else {
		r = fleet_state_load(&f, state, err, sizeof(err));
		if (r == -ENOENT && o->sub == SUB_STATUS) {
			/* nothing to report: {"result": null, "state": STATE} */
			out_init(stdout, o->json);
			out_obj_begin(NULL);
			out_str("result", "no rollout recorded at %s\n", o->json ? NULL : state);
			out_str("state", NULL, state);
			out_obj_end();
			out_flush();
			fleet_free(&f);
			return EKVM_EXIT_OK;
		}
	}
	if (r) {
		fprintf(stderr, "ekvm fleet: %s\n", err);
		fleet_free(&f);
		return EKVM_EXIT_USAGE;
	}
	apply_opts(&f, o);
	if (fleet_virt_init()) {
		fprintf(stderr, "ekvm fleet: libvirt does not initialize\n");
		fleet_free(&f);
		return EKVM_EXIT_USAGE;
	}
	out_init(stdout, o->json);
	if (o->sub == SUB_PLAN)
		r = do_plan(&f);
	else if (o->sub == SUB_STATUS)
		r = status(&f);
	else
		r = do_rollout(ctx, &f, o);
	for (int h = 0; h < f.nr_hosts; h++)
		fleet_disconnect(&f, h);
	fleet_free(&f);
	return r;
}

int cmd_fleet(int argc, char **argv, struct ekvm_ctx *ctx)
{
	static const char *const subs[] = { "plan", "rollout", "resume", "status", "abort" };
	struct fleet_opts o = { 0 };
	int r;

	if (argc < 2 || argv[1][0] == '-')
		return arg_invalid(ctx, "subcommand", argc < 2 ? "" : argv[1],
				   "plan, rollout, resume, status or abort");
	for (r = 0; r < 5 && strcmp(argv[1], subs[r]); r++)
		;
	if (r == 5)
		return arg_invalid(ctx, "subcommand", argv[1],
				   "plan, rollout, resume, status or abort");
	/*
	 * A host that dies mid-rollout leaves libvirt's connection to it (qemu+ssh: a pipe to ssh)
	 * and our own ssh pipes broken: a write there must fail with EPIPE, as libvirt asks of
	 * its clients, not kill the controller before it records the halt (found by the lab).
	 */
	signal(SIGPIPE, SIG_IGN);
	o.sub = (enum sub)r;
	r = parse_opts(argc - 1, argv + 1, ctx, &o);
	return r ? r : run(ctx, &o);
}
