// SPDX-License-Identifier: GPL-2.0-only
/*
 * Live migration for ekvm fleet: virDomainMigrateToURI3 with LIVE | PEER2PEER | PERSIST_DEST |
 * UNDEFINE_SOURCE | ABORT_ON_ERROR (as OpenStack nova and oVirt VDSM), one thread per migration
 * in flight, `parallel` at a time; the main thread logs progress from virDomainGetJobStats
 * every second and aborts (virDomainAbortJob) a migration past the timeout.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "fleet.h"

struct mig {
	struct fleet *f;
	int vm, src, dst;
	virDomainPtr dom;
	pthread_t thr;
	bool started, joined, aborted;
	int done; /* set by the thread (atomic) */
	int rc;
	char err[FLEET_ERR];
	double t0, last_log;
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
	const struct fleet_host *d = &m->f->hosts[m->dst];
	virTypedParameterPtr params = NULL;
	int np = 0, maxp = 0;
	char uri[FLEET_STR];
	unsigned int flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
			     VIR_MIGRATE_UNDEFINE_SOURCE | VIR_MIGRATE_ABORT_ON_ERROR;

	migrate_uri_of(d, uri, sizeof(uri));
	if (uri[0])
		virTypedParamsAddString(&params, &np, &maxp, VIR_MIGRATE_PARAM_URI, uri);
	if (m->f->bandwidth_mib)
		virTypedParamsAddULLong(&params, &np, &maxp, VIR_MIGRATE_PARAM_BANDWIDTH,
					m->f->bandwidth_mib);
	m->rc = virDomainMigrateToURI3(m->dom, d->uri, params, (unsigned int)np, flags);
	if (m->rc < 0)
		snprintf(m->err, sizeof(m->err), "%s", fleet_virt_error());
	virTypedParamsFree(params, np);
	__atomic_store_n(&m->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* One progress line; false when the job has no statistics yet (it is still setting up). */
static bool log_progress(struct mig *m)
{
	virTypedParameterPtr p = NULL;
	unsigned long long rem = 0, total = 0, down = 0;
	int np = 0, type = 0;

	if (virDomainGetJobStats(m->dom, &type, &p, &np, 0) < 0 || type == VIR_DOMAIN_JOB_NONE) {
		virTypedParamsFree(p, np);
		return false;
	}
	virTypedParamsGetULLong(p, np, VIR_DOMAIN_JOB_DATA_REMAINING, &rem);
	virTypedParamsGetULLong(p, np, VIR_DOMAIN_JOB_DATA_TOTAL, &total);
	virTypedParamsGetULLong(p, np, VIR_DOMAIN_JOB_DOWNTIME, &down);
	virTypedParamsFree(p, np);
	/*
	 * Before the first byte is sent (libvirt is still starting the destination's QEMU: seconds
	 * on a busy host) the job has no data statistics yet: say so rather than "0 of 0 MiB".
	 */
	if (!total) {
		fleet_log(m->f, m->src, "%s: %s -> %s: %.1f s, setting up (no memory sent yet)",
			  m->f->moving, m->f->vms[m->vm].name, m->f->hosts[m->dst].name,
			  fleet_mono() - m->t0);
		return true;
	}
	fleet_log(m->f, m->src,
		  "%s: %s -> %s: %.1f s, %llu of %llu MiB remaining, "
		  "expected downtime %llu ms",
		  m->f->moving, m->f->vms[m->vm].name, m->f->hosts[m->dst].name,
		  fleet_mono() - m->t0, rem >> 20, total >> 20, down);
	return true;
}

/* The completed job's downtime, from the destination. */
static long long downtime_ms(struct mig *m)
{
	virDomainPtr d =
		virDomainLookupByUUIDString(m->f->hosts[m->dst].conn, m->f->vms[m->vm].uuid);
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

static int start_one(struct fleet *f, struct mig *m)
{
	struct fleet_vm *v = &f->vms[m->vm];

	m->f = f;
	m->src = v->host;
	m->dst = v->dest;
	m->t0 = m->last_log = fleet_mono();
	m->dom = virDomainLookupByUUIDString(f->hosts[m->src].conn, v->uuid);
	if (!m->dom) {
		snprintf(m->err, sizeof(m->err), "%s", fleet_virt_error());
		m->rc = -1;
		m->done = 1;
		return -1;
	}
	fleet_log(f, m->src, "%s: migrating %s (%s, %llu MiB) to %s", f->moving, v->name, v->uuid,
		  (unsigned long long)(v->mem_kib >> 10), f->hosts[m->dst].name);
	if (pthread_create(&m->thr, NULL, migrate_thread, m)) {
		snprintf(m->err, sizeof(m->err), "cannot start a thread");
		m->rc = -1;
		m->done = 1;
		return -1;
	}
	m->started = true;
	return 0;
}

static int finish_one(struct fleet *f, struct mig *m)
{
	struct fleet_vm *v = &f->vms[m->vm];

	if (m->started)
		pthread_join(m->thr, NULL);
	m->joined = true;
	if (m->rc < 0 && m->aborted) {
		snprintf(v->error, sizeof(v->error),
			 "migration to %s failed: no end after %u s, aborted (%.300s)",
			 f->hosts[m->dst].name, f->timeout_s, m->err);
		fleet_log(f, m->src, "%s: %s: %s", f->moving, v->name, v->error);
	} else if (m->rc < 0) {
		snprintf(v->error, sizeof(v->error), "migration to %s failed: %.400s",
			 f->hosts[m->dst].name, m->err);
		fleet_log(f, m->src, "%s: %s: %s", f->moving, v->name, v->error);
	} else {
		long long down = downtime_ms(m);

		v->host = m->dst;
		v->error[0] = 0;
		if (down >= 0)
			fleet_log(f, m->src, "%s: %s now on %s (%.1f s, downtime %lld ms)",
				  f->moving, v->name, f->hosts[m->dst].name, fleet_mono() - m->t0,
				  down);
		else
			fleet_log(f, m->src, "%s: %s now on %s (%.1f s)", f->moving, v->name,
				  f->hosts[m->dst].name, fleet_mono() - m->t0);
	}
	if (m->dom)
		virDomainFree(m->dom);
	m->dom = NULL;
	return m->rc < 0;
}

int fleet_migrate(struct fleet *f, const int *vms, int n)
{
	struct mig *m = calloc((size_t)(n ? n : 1), sizeof(*m));
	int next = 0, inflight = 0, failed = 0;
	struct timespec tick = { 0, 250 * 1000 * 1000 };

	if (!m)
		return n;
	while ((next < n && !failed) || inflight) {
		while (!failed && inflight < (int)f->parallel && next < n) {
			m[next].vm = vms[next];
			if (start_one(f, &m[next]) == 0)
				inflight++;
			else
				failed += finish_one(f, &m[next]);
			next++;
		}
		nanosleep(&tick, NULL);
		for (int i = 0; i < next; i++) {
			struct mig *x = &m[i];

			if (!x->started || x->joined)
				continue;
			if (__atomic_load_n(&x->done, __ATOMIC_ACQUIRE)) {
				failed += finish_one(f, x);
				inflight--;
				continue;
			}
			if (!x->aborted && fleet_mono() - x->t0 > f->timeout_s) {
				fleet_log(f, x->src, "%s: %s: no end after %u s: aborting",
					  f->moving, f->vms[x->vm].name, f->timeout_s);
				virDomainAbortJob(x->dom);
				x->aborted = true;
			}
			/* at most once a second, as soon as there are statistics */
			if (fleet_mono() - x->last_log >= 1.0 && log_progress(x))
				x->last_log = fleet_mono();
		}
	}
	free(m);
	return failed;
}

void fleet_resume_paused(struct fleet *f, int host)
{
	virDomainPtr *doms = NULL;
	int n;

	if (fleet_connect(f, host))
		return;
	n = virConnectListAllDomains(f->hosts[host].conn, &doms, VIR_CONNECT_LIST_DOMAINS_PAUSED);
	for (int i = 0; i < n; i++) {
		int state = 0, reason = 0;

		if (virDomainGetState(doms[i], &state, &reason, 0) == 0 &&
		    state == VIR_DOMAIN_PAUSED && reason == VIR_DOMAIN_PAUSED_MIGRATION) {
			int r = virDomainResume(doms[i]);

			fleet_log(f, host, "resuming %s, left paused by the failed migration: %s",
				  virDomainGetName(doms[i]), r ? fleet_virt_error() : "running");
		}
		virDomainFree(doms[i]);
	}
	free(doms);
}
