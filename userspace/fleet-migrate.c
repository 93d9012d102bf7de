// SPDX-License-Identifier: GPL-2.0-only
/*
 * Live migration for ekvm fleet: virDomainMigrateToURI3 with LIVE | PEER2PEER | PERSIST_DEST |
 * UNDEFINE_SOURCE | ABORT_ON_ERROR (as OpenStack nova and oVirt VDSM), AUTO_CONVERGE and TLS
 * unless told otherwise, one thread and one libvirt connection per migration in flight,
 * `parallel` at a time (and max_per_source / max_per_dest a host). The main thread reads each
 * job's statistics every 250 ms and applies the policy (fleet_migrate_decide()): progress in
 * the log every second, max downtime stepped up, post-copy when asked, virDomainAbortJob past
 * the completion timeout (timeout_s + per GiB) or the progress timeout, and a migration the
 * abort does not end is reported stuck and its thread given up, never joined.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "fleet.h"

/*
 * The policy (docs/fleet.md "Migration policy"): no libvirt calls here, unit-tested.
 */
void fleet_policy_defaults(struct fleet *f)
{
	f->timeout_per_gib_s = 150;
	f->progress_timeout_s = 150;
	f->abort_timeout_s = 60;
	f->postcopy_after_s = 0;
	f->downtime_ms = 500;
	f->parallel_conns = 0;
	f->max_per_source = 0;
	f->max_per_dest = 0;
	f->retries = 1;
	f->insecure = false;
	f->no_auto_converge = false;
	f->serial_upgrades = false;
}

unsigned int fleet_migrate_flags(const struct fleet *f)
{
	unsigned int flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
			     VIR_MIGRATE_UNDEFINE_SOURCE | VIR_MIGRATE_ABORT_ON_ERROR;

	if (!f->no_auto_converge)
		flags |= VIR_MIGRATE_AUTO_CONVERGE;
	if (!f->insecure)
		flags |= VIR_MIGRATE_TLS;
	if (f->postcopy_after_s)
		flags |= VIR_MIGRATE_POSTCOPY;
	if (f->parallel_conns)
		flags |= VIR_MIGRATE_PARALLEL;
	return flags;
}

double fleet_migrate_timeout(const struct fleet *f, uint64_t mem_kib)
{
	return f->timeout_s + f->timeout_per_gib_s * (double)mem_kib / (1024.0 * 1024.0);
}

void fleet_migrate_watch_init(struct fleet_mig_watch *w, const struct fleet *f, uint64_t mem_kib,
			      double now)
{
	memset(w, 0, sizeof(*w));
	w->t0 = w->progress_at = now;
	w->timeout = fleet_migrate_timeout(f, mem_kib);
	w->low = ULLONG_MAX;
	w->abort_at = -1;
}

/* The max downtime of step k: FLEET_DOWNTIME_START_MS (or less) up to downtime_ms. */
static unsigned int downtime_of(const struct fleet *f, unsigned int k)
{
	unsigned int start =
		f->downtime_ms < FLEET_DOWNTIME_START_MS ? f->downtime_ms : FLEET_DOWNTIME_START_MS;

	return start + (f->downtime_ms - start) * k / FLEET_DOWNTIME_STEPS;
}

enum fleet_mig_act fleet_migrate_decide(struct fleet_mig_watch *w, const struct fleet *f,
					double now, bool stats, unsigned long long remaining)
{
	double elapsed = now - w->t0;
	bool stalled;

	if (w->stuck)
		return MIG_WAIT;
	if (w->abort_at >= 0) {
		if (now - w->abort_at < f->abort_timeout_s)
			return MIG_WAIT;
		w->stuck = true;
		return MIG_STUCK;
	}
	if (stats && remaining < w->low) {
		w->low = remaining;
		w->progress_at = now;
	}
	stalled = f->progress_timeout_s && now - w->progress_at >= f->progress_timeout_s;
	if (w->postcopy) {
		/* a post-copy migration cannot be aborted: without progress it is stuck */
		if (!stalled)
			return MIG_WAIT;
		w->stuck = true;
		return MIG_STUCK;
	}
	if (f->postcopy_after_s && stats && !w->postcopy_failed &&
	    (elapsed >= f->postcopy_after_s || elapsed >= w->timeout || stalled)) {
		w->postcopy = true;
		w->progress_at = now;
		return MIG_POSTCOPY;
	}
	if (elapsed >= w->timeout || stalled) {
		w->abort_at = now;
		return elapsed >= w->timeout ? MIG_ABORT_TIMEOUT : MIG_ABORT_STALLED;
	}
	/* downtime: the start value once the job runs, then steps over the timeout's first half */
	if (f->downtime_ms && stats && w->step <= FLEET_DOWNTIME_STEPS &&
	    elapsed >= w->step * w->timeout / 2 / FLEET_DOWNTIME_STEPS) {
		w->downtime_ms = downtime_of(f, w->step++);
		return MIG_DOWNTIME;
	}
	return MIG_WAIT;
}

int fleet_migrate_next(const struct fleet *f, const int *vms, const bool *started, int n,
		       const int *from_n, const int *to_n)
{
	for (int i = 0; i < n; i++) {
		const struct fleet_vm *v = &f->vms[vms[i]];

		if (started[i])
			continue;
		if (f->max_per_source && v->host >= 0 && from_n[v->host] >= (int)f->max_per_source)
			continue;
		if (f->max_per_dest && v->dest >= 0 && to_n[v->dest] >= (int)f->max_per_dest)
			continue;
		return i;
	}
	return -1;
}

/* As fleet-plan.c's fleet_place(): a VM costs a destination its memory (or hugepages) and
 * QEMU's overhead (64 MiB); keep the two in step. */
static int64_t retry_room_kib(const struct fleet *f, int h)
{
	const struct fleet_host *host = &f->hosts[h];

	return (int64_t)host->avail_kib - (int64_t)f->reserve_mib * 1024 -
	       (int64_t)host->planned_kib;
}

int fleet_retry_dest(struct fleet *f, int vm, const int *batch_of, int batch, const bool *tried,
		     bool (*cpu_ok)(struct fleet *f, int vm, int host))
{
	struct fleet_vm *v = &f->vms[vm];
	/* a hugepage-backed VM's memory comes from the destination's hugepage pool */
	uint64_t huge = v->traits & VM_HUGEPAGES ? v->mem_kib : 0;
	int64_t need = (int64_t)((huge ? 0 : v->mem_kib) + 64 * 1024);
	int best = -1;

	for (int h = 0; h < f->nr_hosts; h++) {
		const struct fleet_host *d = &f->hosts[h];

		if (tried[h] || h == v->host || batch_of[h] == batch || !d->reachable ||
		    d->status == HOST_FAILED || retry_room_kib(f, h) < need)
			continue;
		if (huge && d->huge_free_kib < d->planned_huge_kib + huge)
			continue;
		if (cpu_ok && !cpu_ok(f, vm, h))
			continue;
		if (best < 0 || retry_room_kib(f, h) > retry_room_kib(f, best))
			best = h;
	}
	if (best >= 0) {
		f->hosts[best].planned_kib += (uint64_t)need;
		f->hosts[best].planned_huge_kib += huge;
	}
	return best;
}

/*
 * One migration in flight: its thread opens its own connection to the source (libvirtd serves
 * 5 calls at a time per client connection, max_client_requests) and never touches struct
 * fleet, so that a thread stuck in libvirt can be given up (detached, its struct leaked) while
 * the controller goes on.
 */
struct mig {
	int vm, src, dst;
	char src_uri[FLEET_STR], dst_uri[FLEET_STR], uuid[FLEET_UUID];
	virTypedParameterPtr params;
	int np;
	unsigned int flags, connect_timeout_s;
	virConnectPtr conn; /* set by the thread before ready */
	virDomainPtr dom;
	pthread_t thr;
	bool started, joined, aborted;
	int ready, cancel, done; /* atomic: the thread has dom; do not migrate; it ended */
	int rc;
	char err[FLEET_ERR];
	double last_log, last_abort;
	double first_t; /* when the first data statistics came (the ETA's rate), 0 none */
	unsigned long long first_rem;
	char why[96]; /* why it was aborted */
	struct fleet_mig_watch w;
};

static void migrate_uri_of(const struct fleet_host *d, char *buf, size_t size)
{
	const char *p = strstr(d->uri, "://"), *at;
	size_t len;

	buf[0] = 0;
	if (d->migrate_uri[0]) {
		snprintf(buf, size, "%s", d->migrate_uri);
		return;
	}
	if (!p)
		return;
	p += 3;
	len = strcspn(p, "/:?");
	at = memchr(p, '@', len);
	if (at) {
		len -= (size_t)(at + 1 - p);
		p = at + 1;
	}
	if (len)
		snprintf(buf, size, "tcp://%.*s", (int)len, p);
}

static void *migrate_thread(void *arg)
{
	struct mig *m = arg;

	/* with a deadline and keepalive (fleet-virt.c), as every connection of the controller */
	m->conn = fleet_virt_open(m->src_uri, m->connect_timeout_s, m->err, sizeof(m->err));
	m->dom = m->conn ? virDomainLookupByUUIDString(m->conn, m->uuid) : NULL;
	if (!m->dom) {
		m->rc = -1;
		if (m->conn)
			snprintf(m->err, sizeof(m->err), "%s", fleet_virt_error());
		__atomic_store_n(&m->done, 1, __ATOMIC_RELEASE);
		return NULL;
	}
	__atomic_store_n(&m->ready, 1, __ATOMIC_RELEASE);
	if (__atomic_load_n(&m->cancel, __ATOMIC_ACQUIRE)) {
		m->rc = -1;
		snprintf(m->err, sizeof(m->err), "aborted before it started");
	} else {
		m->rc = virDomainMigrateToURI3(m->dom, m->dst_uri, m->params, (unsigned int)m->np,
					       m->flags);
		if (m->rc < 0)
			snprintf(m->err, sizeof(m->err), "%s", fleet_virt_error());
	}
	__atomic_store_n(&m->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * The job's statistics: false when there are none (no job yet, or libvirt still starting the
 * destination's QEMU: no data total).
 */
static bool job_stats(struct mig *m, unsigned long long *rem, unsigned long long *total,
		      unsigned long long *down)
{
	virTypedParameterPtr p = NULL;
	int np = 0, type = 0;

	*rem = *total = *down = 0;
	if (!__atomic_load_n(&m->ready, __ATOMIC_ACQUIRE))
		return false;
	if (virDomainGetJobStats(m->dom, &type, &p, &np, 0) < 0 || type == VIR_DOMAIN_JOB_NONE) {
		virTypedParamsFree(p, np);
		return false;
	}
	virTypedParamsGetULLong(p, np, VIR_DOMAIN_JOB_DATA_REMAINING, rem);
	virTypedParamsGetULLong(p, np, VIR_DOMAIN_JOB_DATA_TOTAL, total);
	virTypedParamsGetULLong(p, np, VIR_DOMAIN_JOB_DOWNTIME, down);
	virTypedParamsFree(p, np);
	return *total > 0;
}

/* The JSON fields of a migration's events: "vm", "from", "to", "elapsed_s". */
static void mig_fields(const struct fleet *f, const struct mig *m, char *out, size_t size)
{
	char vm[FLEET_VM_NAME * 2 + 8], from[FLEET_NAME * 2 + 8], to[FLEET_NAME * 2 + 8];

	fleet_json_str(vm, sizeof(vm), f->vms[m->vm].name);
	fleet_json_str(from, sizeof(from), f->hosts[m->src].name);
	fleet_json_str(to, sizeof(to), f->hosts[m->dst].name);
	snprintf(out, size, "\"step\":\"%s\",\"vm\":%s,\"from\":%s,\"to\":%s,\"elapsed_s\":%.1f",
		 f->moving, vm, from, to, fleet_mono() - m->w.t0);
}

static void log_progress(struct fleet *f, struct mig *m, bool stats, unsigned long long rem,
			 unsigned long long total, unsigned long long down)
{
	char fields[FLEET_VM_NAME * 2 + 512], eta[32] = "null";
	size_t n;
	double now = fleet_mono();

	/*
	 * Before the first byte is sent (libvirt is still starting the destination's QEMU: seconds
	 * on a busy host) the job has no data statistics yet: say so rather than "0 of 0 MiB".
	 */
	mig_fields(f, m, fields, sizeof(fields));
	n = strlen(fields);
	if (!stats) {
		snprintf(fields + n, sizeof(fields) - n,
			 ",\"remaining_mib\":null,\"total_mib\":null,\"eta_s\":null");
		fleet_event(f, m->src, "progress", fields,
			    "%s: %s -> %s: %.1f s, setting up (no memory sent yet)", f->moving,
			    f->vms[m->vm].name, f->hosts[m->dst].name, now - m->w.t0);
		return;
	}
	/* the ETA: data remaining over the rate it has fallen at since the first statistics */
	if (!m->first_t) {
		m->first_t = now;
		m->first_rem = rem;
	} else if (rem < m->first_rem && now > m->first_t) {
		double rate = (double)(m->first_rem - rem) / (now - m->first_t);

		snprintf(eta, sizeof(eta), "%.0f", (double)rem / rate);
	}
	snprintf(fields + n, sizeof(fields) - n,
		 ",\"remaining_mib\":%llu,\"total_mib\":%llu,\"eta_s\":%s,"
		 "\"expected_downtime_ms\":%llu,\"postcopy\":%s",
		 rem >> 20, total >> 20, eta, down, m->w.postcopy ? "true" : "false");
	fleet_event(f, m->src, "progress", fields,
		    "%s: %s -> %s: %.1f s, %llu of %llu MiB remaining, "
		    "expected downtime %llu ms%s",
		    f->moving, f->vms[m->vm].name, f->hosts[m->dst].name, now - m->w.t0, rem >> 20,
		    total >> 20, down, m->w.postcopy ? " (post-copy)" : "");
}

/* The completed job's downtime, from the destination. */
static long long downtime_ms(struct fleet *f, struct mig *m)
{
	virDomainPtr d = virDomainLookupByUUIDString(f->hosts[m->dst].conn, m->uuid);
	virTypedParameterPtr p = NULL;
	unsigned long long down = 0;
	int np = 0, type = 0, r = -1;

	if (d && virDomainGetJobStats(d, &type, &p, &np, VIR_DOMAIN_JOB_STATS_COMPLETED) == 0)
		r = virTypedParamsGetULLong(p, np, VIR_DOMAIN_JOB_DOWNTIME, &down);
	virTypedParamsFree(p, np);
	if (d)
		virDomainFree(d);
	return r == 1 ? (long long)down : -1;
}

/*
 * policy copy-storage: which disk images the migration creates on its destination, recorded
 * (and the state saved) before it starts, to be deleted after the VM's return from there. Only
 * a path where no file is now (the pool refreshed: libvirt creates an image only where none is,
 * else it copies over the file), that no other VM's record names on that host and that fits
 * the record: anything else is never deleted, and said.
 */
struct copy_rec {
	struct fleet *f;
	struct fleet_vm *v;
	int dest;
};

static bool copy_recorded(const struct fleet *f, int host, const char *path)
{
	size_t k = strlen(path);

	for (int i = 0; i < f->nr_vms; i++) {
		const char *p = f->vms[i].copied;

		if (f->vms[i].copied_on != host)
			continue;
		for (; p; p = strchr(p, '|'), p = p ? p + 1 : NULL)
			if (!strncmp(p, path, k) && (!p[k] || p[k] == '|'))
				return true;
	}
	return false;
}

static void record_copy(const char *path, long long bytes, void *arg)
{
	struct copy_rec *c = arg;
	struct fleet_vm *v = c->v;
	char dir[FLEET_STR], pool[FLEET_STR], *slash;
	const char *why = NULL;
	uint64_t avail;
	size_t len = strlen(v->copied);
	int r;

	(void)bytes;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (path[0] != '/' || !slash || slash == dir || strchr(path, '|'))
		why = "not a file path the rollout can record";
	else if ((*slash = 0, fleet_pool_space(c->f, c->dest, dir, &avail, pool, sizeof(pool))))
		why = "no active storage pool there";
	else if ((r = fleet_vol_exists(c->f, c->dest, path)) == 1)
		why = "a file is there already (libvirt copies over it)";
	else if (r)
		why = "libvirt cannot tell whether a file is there";
	else if (copy_recorded(c->f, c->dest, path))
		why = "another VM's copy goes there";
	else if (len + strlen(path) + 2 > sizeof(v->copied))
		why = "the record is full";
	if (why) {
		fleet_log(c->f, v->host, "%s: %s: %s on %s: %s: the rollout will not delete it",
			  c->f->moving, v->name, path, c->f->hosts[c->dest].name, why);
		return;
	}
	snprintf(v->copied + len, sizeof(v->copied) - len, "%s%s", len ? "|" : "", path);
}

static void record_copies(struct fleet *f, struct mig *m)
{
	struct fleet_vm *v = &f->vms[m->vm];
	struct copy_rec c = { .f = f, .v = v, .dest = m->dst };

	if (m->dst == v->home)
		return; /* the way back: the original is there, libvirt copies over it */
	v->copied_on = -1;
	v->copied[0] = 0;
	if (fleet_copy_disks(f, m->vm, record_copy, &c) < 0)
		fleet_log(f, v->host,
			  "%s: %s: its disks cannot be listed: their copies on %s will "
			  "not be deleted",
			  f->moving, v->name, f->hosts[m->dst].name);
	if (v->copied[0])
		v->copied_on = m->dst;
	fleet_state_save(f); /* before the copies exist: a crash leaves no copy unrecorded */
}

/* After the VM's return from host: the copies its evacuation created there are deleted; those
 * that cannot be stay in the record (status and the report name them), a warning. */
static void delete_copies(struct fleet *f, struct fleet_vm *v, int host)
{
	char left[sizeof(v->copied)] = "", path[sizeof(v->copied)], err[FLEET_ERR];
	const char *p = v->copied;
	int r;

	while (p && *p) {
		const char *bar = strchr(p, '|');
		size_t k = bar ? (size_t)(bar - p) : strlen(p), len = strlen(left);

		snprintf(path, sizeof(path), "%.*s", (int)k, p);
		p = bar ? bar + 1 : NULL;
		r = fleet_vm_active(f, host, v->uuid, err, sizeof(err));
		if (r == 1) {
			snprintf(err, sizeof(err), "the VM still runs there");
		} else if (r < 0 && r != -ENOENT) {
			/* whether it runs there is unknown: err says why */
		} else if (fleet_vol_delete(f, host, path, err, sizeof(err)) == 0) {
			fleet_log(f, host, "return: %s: deleted the copy of its disk %s on %s",
				  v->name, path, f->hosts[host].name);
			continue;
		}
		fleet_log(f, host, "return: %s: warning: the copy of its disk %s on %s is left: %s",
			  v->name, path, f->hosts[host].name, err);
		if (len + strlen(path) + 2 <= sizeof(left)) { /* a part of v->copied: it fits */
			if (len)
				strcat(left, "|");
			strcat(left, path);
		}
	}
	snprintf(v->copied, sizeof(v->copied), "%s", left);
	if (!left[0])
		v->copied_on = -1;
	fleet_state_save(f);
}

/*
 * A copy of a VM, paused, on a host while another host runs it: what an incoming migration
 * leaves when the destination's libvirtd dies during it and comes back with the incoming QEMU
 * still there. Every new migration there then fails with "domain is already active", and the
 * copy holds KVM through the host's upgrade. The running copy is the VM (a migration that
 * finished would have paused it and resumed the other); the paused copy never ran the guest, so
 * it is destroyed. Not a post-copy one (paused, it holds memory the other is still fetching), and
 * a copy that runs is left alone: the VM running twice is for the operator (the invariant says
 * so). Only the connections the rollout has are used: none is made here (a host it cannot reach
 * keeps its own error).
 */
static void clear_stale_copy(struct fleet *f, int host, int runs_on, const char *uuid,
			     const char *name)
{
	virDomainPtr d, s = NULL;
	int ds = 0, dr = 0, ss = 0, sr = 0;

	if (!f->hosts[host].conn || !f->hosts[runs_on].conn)
		return;
	d = virDomainLookupByUUIDString(f->hosts[host].conn, uuid);
	if (d)
		s = virDomainLookupByUUIDString(f->hosts[runs_on].conn, uuid);
	if (d && s && virDomainIsActive(d) == 1 && !virDomainGetState(d, &ds, &dr, 0) &&
	    ds == VIR_DOMAIN_PAUSED && dr != VIR_DOMAIN_PAUSED_POSTCOPY &&
	    dr != VIR_DOMAIN_PAUSED_POSTCOPY_FAILED && !virDomainGetState(s, &ss, &sr, 0) &&
	    ss == VIR_DOMAIN_RUNNING) {
		int r = virDomainDestroy(d);

		if (!r)
			fleet_log(f, host,
				  "%s: %s: a paused copy, left by an interrupted migration, is "
				  "here while %s runs it: destroyed",
				  f->moving, name, f->hosts[runs_on].name);
		else
			fleet_log(f, host,
				  "%s: %s: a paused copy%s, left by an interrupted migration, "
				  "is here while %s runs it: not destroyed: %s; no migration of "
				  "%s can come here until it is gone (docs/fleet.md: a copy "
				  "libvirt cannot destroy)",
				  f->moving, name,
				  dr == VIR_DOMAIN_PAUSED_STARTING_UP ? " (starting up)" : "",
				  f->hosts[runs_on].name, fleet_virt_error(), name);
	}
	virResetLastError();
	if (s)
		virDomainFree(s);
	if (d)
		virDomainFree(d);
}

/*
 * Calls fn for each paused domain on a host, with the VM it is (-1: none the rollout knows) and
 * whether it is a copy: the last scan saw that VM run on another host.
 */
static void each_paused(struct fleet *f, int host,
			void (*fn)(struct fleet *f, int host, virDomainPtr d, int vm, bool copy))
{
	virDomainPtr *doms = NULL;
	int n;

	if (fleet_connect(f, host))
		return;
	n = virConnectListAllDomains(f->hosts[host].conn, &doms, VIR_CONNECT_LIST_DOMAINS_PAUSED);
	for (int i = 0; i < n; i++) {
		char uuid[VIR_UUID_STRING_BUFLEN];
		int v = -1;

		if (!virDomainGetUUIDString(doms[i], uuid))
			v = fleet_vm_find(f, uuid);
		fn(f, host, doms[i], v, v >= 0 && f->vms[v].host >= 0 && f->vms[v].host != host);
		virDomainFree(doms[i]);
	}
	virResetLastError();
	free(doms);
}

static void clear_if_copy(struct fleet *f, int host, virDomainPtr d, int v, bool copy)
{
	(void)d;
	if (copy)
		clear_stale_copy(f, host, f->vms[v].host, f->vms[v].uuid, f->vms[v].name);
}

void fleet_clear_stale_copies(struct fleet *f, int host)
{
	each_paused(f, host, clear_if_copy);
}

static int start_one(struct fleet *f, struct mig *m)
{
	struct fleet_vm *v = &f->vms[m->vm];
	const struct fleet_host *d;
	int maxp = 0;

	m->src = v->host;
	m->dst = v->dest;
	d = &f->hosts[m->dst];
	fleet_migrate_watch_init(&m->w, f, v->mem_kib, fleet_mono());
	m->last_log = m->w.t0;
	snprintf(m->src_uri, sizeof(m->src_uri), "%s", f->hosts[m->src].uri);
	snprintf(m->dst_uri, sizeof(m->dst_uri), "%s", d->uri);
	snprintf(m->uuid, sizeof(m->uuid), "%s", v->uuid);
	m->flags = fleet_migrate_flags(f);
	clear_stale_copy(f, m->dst, m->src, m->uuid, v->name);
	/* a transient VM stays transient: no definition made on the destination or removed */
	if (v->transient)
		m->flags &= ~(unsigned int)(VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE);
	/*
	 * policy copy-storage: its local disks copied whole along (NBD block mirror). libvirt
	 * creates the images in the destination's storage pool first, for a full copy only:
	 * with VIR_MIGRATE_NON_SHARED_INC it refuses ("pre-creation of storage targets for
	 * incremental storage migration is not supported"), the top image would have to exist
	 * there already.
	 */
	if (v->copy_storage) {
		m->flags |= VIR_MIGRATE_NON_SHARED_DISK;
		record_copies(f, m);
	}
	m->connect_timeout_s = f->connect_timeout_s;
	{
		char uri[FLEET_STR];

		migrate_uri_of(d, uri, sizeof(uri));
		if (uri[0])
			virTypedParamsAddString(&m->params, &m->np, &maxp, VIR_MIGRATE_PARAM_URI,
						uri);
	}
	if (f->bandwidth_mib) {
		virTypedParamsAddULLong(&m->params, &m->np, &maxp, VIR_MIGRATE_PARAM_BANDWIDTH,
					f->bandwidth_mib);
		if (f->postcopy_after_s)
			virTypedParamsAddULLong(&m->params, &m->np, &maxp,
						VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY,
						f->bandwidth_mib);
	}
	if (f->parallel_conns)
		virTypedParamsAddInt(&m->params, &m->np, &maxp,
				     VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS,
				     (int)f->parallel_conns);
	fleet_log(f, m->src, "%s: migrating %s (%s, %llu MiB%s%s) to %s, timeout %.0f s", f->moving,
		  v->name, v->uuid, (unsigned long long)(v->mem_kib >> 10),
		  v->transient ? ", transient" : "",
		  v->copy_storage ? ", copying its local disks" : "", d->name, m->w.timeout);
	if (pthread_create(&m->thr, NULL, migrate_thread, m)) {
		snprintf(m->err, sizeof(m->err), "cannot start a thread");
		m->rc = -1;
		m->done = 1;
		return -1;
	}
	m->started = true;
	return 0;
}

static void free_mig(struct mig *m)
{
	if (m->dom)
		virDomainFree(m->dom);
	if (m->conn)
		virConnectClose(m->conn);
	virTypedParamsFree(m->params, m->np);
	m->dom = NULL;
	m->conn = NULL;
	m->params = NULL;
	m->np = 0;
}

static int finish_one(struct fleet *f, struct mig *m)
{
	struct fleet_vm *v = &f->vms[m->vm];

	if (m->started)
		pthread_join(m->thr, NULL);
	m->joined = true;
	if (m->rc < 0 && m->aborted) {
		snprintf(v->error, sizeof(v->error), "migration to %s failed: %s, aborted (%.300s)",
			 f->hosts[m->dst].name, m->why, m->err);
		fleet_log(f, m->src, "%s: %s: %s", f->moving, v->name, v->error);
	} else if (m->rc < 0) {
		snprintf(v->error, sizeof(v->error), "migration to %s failed: %.400s",
			 f->hosts[m->dst].name, m->err);
		fleet_log(f, m->src, "%s: %s: %s", f->moving, v->name, v->error);
	} else {
		long long down = downtime_ms(f, m);
		char fields[FLEET_VM_NAME * 2 + 512];
		size_t n;

		v->host = m->dst;
		v->error[0] = 0;
		if (m->dst == v->home && v->copied_on == m->src && v->copied[0])
			delete_copies(f, v, m->src);
		mig_fields(f, m, fields, sizeof(fields));
		n = strlen(fields);
		if (down >= 0)
			snprintf(fields + n, sizeof(fields) - n, ",\"downtime_ms\":%lld", down);
		else
			snprintf(fields + n, sizeof(fields) - n, ",\"downtime_ms\":null");
		if (down >= 0)
			fleet_event(f, m->src, "migrated", fields,
				    "%s: %s now on %s (%.1f s, downtime %lld ms%s)", f->moving,
				    v->name, f->hosts[m->dst].name, fleet_mono() - m->w.t0, down,
				    m->w.postcopy ? ", post-copy" : "");
		else
			fleet_event(f, m->src, "migrated", fields, "%s: %s now on %s (%.1f s%s)",
				    f->moving, v->name, f->hosts[m->dst].name,
				    fleet_mono() - m->w.t0, m->w.postcopy ? ", post-copy" : "");
	}
	free_mig(m);
	return m->rc < 0;
}

/*
 * A migration the abort (or post-copy) did not end: its thread is detached and its struct,
 * connection and domain are left to it (never freed, never joined); the VM is reported stuck.
 */
static void give_up(struct fleet *f, struct mig *m)
{
	struct fleet_vm *v = &f->vms[m->vm];

	pthread_detach(m->thr);
	m->joined = true;
	v->stuck = true;
	if (m->w.postcopy)
		snprintf(v->error, sizeof(v->error),
			 "migration to %s STUCK: no progress in post-copy for %u s (it cannot be "
			 "aborted); see 'virsh domjobinfo %.200s' on %s",
			 f->hosts[m->dst].name, f->progress_timeout_s, v->name,
			 f->hosts[m->src].name);
	else
		snprintf(v->error, sizeof(v->error),
			 "migration to %s STUCK: aborted %u s ago and still not ended; the VM may "
			 "be paused: see 'virsh domjobinfo %.200s' on %s",
			 f->hosts[m->dst].name, f->abort_timeout_s, v->name, f->hosts[m->src].name);
	fleet_log(f, m->src, "%s: %s: %s", f->moving, v->name, v->error);
}

/* Acts on the policy's decision for a migration in flight. */
static void police(struct fleet *f, struct mig *m)
{
	unsigned long long rem, total, down;
	bool stats = job_stats(m, &rem, &total, &down);
	double now = fleet_mono();
	const char *name = f->vms[m->vm].name;
	enum fleet_mig_act act = fleet_migrate_decide(&m->w, f, now, stats, rem);

	switch (act) {
	case MIG_WAIT:
		/* an abort asked before the job began on the daemon's side: ask again */
		if (m->aborted && now - m->last_abort >= 2.0 &&
		    __atomic_load_n(&m->ready, __ATOMIC_ACQUIRE)) {
			virDomainAbortJob(m->dom);
			m->last_abort = now;
		}
		break;
	case MIG_DOWNTIME:
		if (virDomainMigrateSetMaxDowntime(m->dom, m->w.downtime_ms, 0) == 0)
			fleet_log(f, m->src, "%s: %s: max downtime %u ms", f->moving, name,
				  m->w.downtime_ms);
		else
			fleet_log(f, m->src, "%s: %s: cannot set the max downtime: %s", f->moving,
				  name, fleet_virt_error());
		break;
	case MIG_POSTCOPY:
		if (virDomainMigrateStartPostCopy(m->dom, 0) == 0)
			fleet_log(f, m->src, "%s: %s: %.0f s: switched to post-copy", f->moving,
				  name, now - m->w.t0);
		else {
			/* still pre-copy (e.g. it was ending): timeouts and abort apply again */
			m->w.postcopy = false;
			m->w.postcopy_failed = true;
			fleet_log(f, m->src, "%s: %s: %.0f s: cannot switch to post-copy: %s",
				  f->moving, name, now - m->w.t0, fleet_virt_error());
		}
		break;
	case MIG_ABORT_TIMEOUT:
	case MIG_ABORT_STALLED:
		if (act == MIG_ABORT_TIMEOUT)
			snprintf(m->why, sizeof(m->why), "no end after %.0f s", m->w.timeout);
		else if (m->w.low == ULLONG_MAX)
			snprintf(m->why, sizeof(m->why), "no progress in %u s (nothing sent)",
				 f->progress_timeout_s);
		else
			snprintf(m->why, sizeof(m->why),
				 "no progress in %u s (at best %llu MiB remaining)",
				 f->progress_timeout_s, m->w.low >> 20);
		fleet_log(f, m->src, "%s: %s: %s: aborting", f->moving, name, m->why);
		m->aborted = true;
		m->last_abort = now;
		__atomic_store_n(&m->cancel, 1, __ATOMIC_RELEASE);
		if (__atomic_load_n(&m->ready, __ATOMIC_ACQUIRE) && virDomainAbortJob(m->dom) < 0)
			fleet_log(f, m->src, "%s: %s: abort: %s", f->moving, name,
				  fleet_virt_error());
		break;
	case MIG_STUCK:
		give_up(f, m);
		return;
	}
	/* at most once a second */
	if (now - m->last_log >= 1.0) {
		log_progress(f, m, stats, rem, total, down);
		m->last_log = now;
	}
}

int fleet_migrate(struct fleet *f, const int *vms, int n)
{
	struct mig *m = calloc((size_t)(n ? n : 1), sizeof(*m));
	bool *started = calloc((size_t)(n ? n : 1), sizeof(bool));
	int *from_n = calloc((size_t)f->nr_hosts + 1, sizeof(int));
	int *to_n = calloc((size_t)f->nr_hosts + 1, sizeof(int));
	int left = n, inflight = 0, failed = 0, stuck = 0;
	struct timespec tick = { 0, 250 * 1000 * 1000 };

	if (!m || !started || !from_n || !to_n) {
		free(m);
		free(started);
		free(from_n);
		free(to_n);
		return n;
	}
	for (int i = 0; i < n; i++)
		m[i].vm = vms[i];
	while ((left && !failed) || inflight) {
		while (!failed && inflight < (int)f->parallel) {
			int i = fleet_migrate_next(f, vms, started, n, from_n, to_n);

			if (i < 0)
				break;
			started[i] = true;
			left--;
			if (start_one(f, &m[i]) == 0) {
				inflight++;
				from_n[m[i].src]++;
				to_n[m[i].dst]++;
			} else {
				failed += finish_one(f, &m[i]);
			}
		}
		nanosleep(&tick, NULL);
		for (int i = 0; i < n; i++) {
			struct mig *x = &m[i];

			if (!x->started || x->joined)
				continue;
			if (__atomic_load_n(&x->done, __ATOMIC_ACQUIRE))
				failed += finish_one(f, x);
			else
				police(f, x);
			if (x->joined) {
				failed += f->vms[x->vm].stuck;
				stuck += f->vms[x->vm].stuck;
				inflight--;
				from_n[x->src]--;
				to_n[x->dst]--;
			}
		}
	}
	/* a stuck thread still uses its struct: leak them all rather than free it under it */
	if (!stuck)
		free(m);
	free(started);
	free(from_n);
	free(to_n);
	return failed;
}

/* (never a copy of a VM that runs on another host: fleet_clear_stale_copies()) */
static void resume_if_migration(struct fleet *f, int host, virDomainPtr d, int v, bool copy)
{
	int state = 0, reason = 0;

	(void)v;
	if (!copy && virDomainGetState(d, &state, &reason, 0) == 0 && state == VIR_DOMAIN_PAUSED &&
	    reason == VIR_DOMAIN_PAUSED_MIGRATION) {
		int r = virDomainResume(d);

		fleet_log(f, host, "resuming %s, left paused by the failed migration: %s",
			  virDomainGetName(d), r ? fleet_virt_error() : "running");
	}
}

void fleet_resume_paused(struct fleet *f, int host)
{
	each_paused(f, host, resume_if_migration);
}
