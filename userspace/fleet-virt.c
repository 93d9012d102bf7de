// SPDX-License-Identifier: GPL-2.0-only
/*
 * libvirt for ekvm fleet: connections, host facts (UUID, memory: MemAvailable from the host's
 * /proc/meminfo, else virNodeGetMemoryStats; CPU), the running VMs, their definitions and CPU
 * compatibility (virConnectCompareHypervisorCPU). Migration is fleet-migrate.c.
 *
 * Every libvirt call has a deadline: a connection opens in a thread of its own within
 * connect_timeout (one that does not answer is left behind: the host is unreachable), and
 * every connection has libvirt's keepalive (FLEET_KEEPALIVE_*), run by the default event loop
 * in a thread of its own, so that a daemon that stops answering closes the connection and the
 * call waiting on it fails.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "fleet.h"

static void quiet(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

static void *event_loop(void *arg)
{
	(void)arg;
	for (;;)
		if (virEventRunDefaultImpl() < 0)
			usleep(100000);
	return NULL;
}

int fleet_virt_init(void)
{
	static bool done;
	pthread_t t;

	if (done)
		return 0;
	if (virInitialize() < 0)
		return -EIO;
	virSetErrorFunc(NULL, quiet);
	/* keepalive needs an event loop, registered before the first connection */
	if (virEventRegisterDefaultImpl() < 0 || pthread_create(&t, NULL, event_loop, NULL))
		return -EIO;
	pthread_detach(t);
	done = true;
	return 0;
}

/* A connection opening in its thread; freed by whichever of the thread and its waiter is
 * last (the waiter gives it up with abandoned). */
struct opener {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done, abandoned;
	double deadline;
	unsigned int timeout_s;
	char uri[FLEET_STR];
	virConnectPtr conn;
	char err[FLEET_ERR];
};

static void opener_free(struct opener *o)
{
	pthread_mutex_destroy(&o->lock);
	pthread_cond_destroy(&o->cond);
	free(o);
}

static void *opener_thread(void *arg)
{
	struct opener *o = arg;
	virConnectPtr conn = virConnectOpen(o->uri);
	bool abandoned;

	if (conn &&
	    virConnectSetKeepAlive(conn, FLEET_KEEPALIVE_INTERVAL, FLEET_KEEPALIVE_COUNT) < 0 &&
	    virGetLastErrorCode() != VIR_ERR_NO_SUPPORT) {
		/* a remote connection without keepalive could wait forever: refuse it */
		snprintf(o->err, sizeof(o->err), "keepalive: %.400s", fleet_virt_error());
		virConnectClose(conn);
		conn = NULL;
	} else if (!conn) {
		snprintf(o->err, sizeof(o->err), "%.480s", fleet_virt_error());
	}
	virResetLastError();
	pthread_mutex_lock(&o->lock);
	abandoned = o->abandoned;
	o->conn = conn;
	o->done = true;
	pthread_cond_signal(&o->cond);
	pthread_mutex_unlock(&o->lock);
	if (abandoned) {
		if (conn)
			virConnectClose(conn);
		opener_free(o);
	}
	return NULL;
}

static struct opener *opener_start(const char *uri, unsigned int timeout_s)
{
	struct opener *o = calloc(1, sizeof(*o));
	pthread_condattr_t ca;
	pthread_t t;

	if (!o)
		return NULL;
	pthread_mutex_init(&o->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&o->cond, &ca);
	pthread_condattr_destroy(&ca);
	snprintf(o->uri, sizeof(o->uri), "%s", uri);
	o->timeout_s = timeout_s;
	o->deadline = fleet_mono() + timeout_s;
	if (pthread_create(&t, NULL, opener_thread, o)) {
		opener_free(o);
		return NULL;
	}
	pthread_detach(t);
	return o;
}

/* Waits until the opener's deadline: 0 (conn, or NULL and err) or -ETIMEDOUT (still open). */
static int opener_wait(struct opener *o, virConnectPtr *conn, char *err, size_t errsize)
{
	struct timespec ts;
	double left;

	pthread_mutex_lock(&o->lock);
	/* libvirt's test driver runs in this process: it cannot hang on a daemon or a network,
	 * and opening a large one takes its time */
	while (!o->done && !strncmp(o->uri, "test:", 5))
		pthread_cond_wait(&o->cond, &o->lock);
	while (!o->done && (left = o->deadline - fleet_mono()) > 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)left;
		ts.tv_nsec += (long)((left - (double)(time_t)left) * 1e9);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&o->cond, &o->lock, &ts);
	}
	if (!o->done) {
		pthread_mutex_unlock(&o->lock);
		snprintf(err, errsize,
			 "no answer within %u s (connect_timeout): the daemon or the network hangs",
			 o->timeout_s);
		return -ETIMEDOUT;
	}
	pthread_mutex_unlock(&o->lock);
	*conn = o->conn;
	snprintf(err, errsize, "%s", o->err);
	return 0;
}

/* Gives the opener up: the thread closes what it opens and frees it. */
static void opener_abandon(struct opener *o)
{
	bool done;

	pthread_mutex_lock(&o->lock);
	done = o->done;
	o->abandoned = true;
	pthread_mutex_unlock(&o->lock);
	if (done) {
		if (o->conn)
			virConnectClose(o->conn);
		opener_free(o);
	}
}

void *fleet_virt_open(const char *uri, unsigned int timeout_s, char *err, size_t errsize)
{
	struct opener *o = opener_start(uri, timeout_s ? timeout_s : FLEET_CONNECT_TIMEOUT);
	virConnectPtr conn = NULL;

	if (!o) {
		snprintf(err, errsize, "cannot start a thread: %s", strerror(errno));
		return NULL;
	}
	if (opener_wait(o, &conn, err, errsize)) {
		opener_abandon(o);
		return NULL;
	}
	opener_free(o);
	return conn;
}

const char *fleet_virt_error(void)
{
	const char *m = virGetLastErrorMessage();

	return m ? m : "unknown libvirt error";
}

/* Starts opening the host's connection unless one is open or opening. */
static int connect_start(struct fleet *f, int host)
{
	struct fleet_host *h = &f->hosts[host];

	if (h->status == HOST_SKIPPED)
		return -ENOTCONN;
	if (h->conn && virConnectIsAlive(h->conn) == 1)
		return 0;
	if (h->conn)
		virConnectClose(h->conn);
	h->conn = NULL;
	h->reachable = false;
	/* at most one open in flight a host: a hung one is not started again */
	if (!h->opener)
		h->opener = opener_start(h->uri, f->connect_timeout_s ? f->connect_timeout_s
								      : FLEET_CONNECT_TIMEOUT);
	return h->opener ? 0 : -errno;
}

int fleet_connect(struct fleet *f, int host)
{
	struct fleet_host *h = &f->hosts[host];
	char err[FLEET_ERR] = "";
	virConnectPtr conn = NULL;
	int r = connect_start(f, host);

	if (h->conn)
		return 0;
	if (r && h->status == HOST_SKIPPED) {
		snprintf(h->error, sizeof(h->error), "skipped (resume --skip-host): not connected");
		return -EHOSTUNREACH;
	}
	if (r) {
		snprintf(h->error, sizeof(h->error), "cannot connect to %.200s: %s", h->uri,
			 strerror(-r));
		return -EHOSTUNREACH;
	}
	r = opener_wait(h->opener, &conn, err, sizeof(err));
	if (!r) {
		opener_free(h->opener);
		h->opener = NULL;
	}
	h->conn = conn;
	h->reachable = conn != NULL;
	if (!conn)
		snprintf(h->error, sizeof(h->error), "cannot connect to %.200s: %.250s", h->uri,
			 err);
	return conn ? 0 : -EHOSTUNREACH;
}

int fleet_connect_all(struct fleet *f)
{
	int down = 0;

	for (int h = 0; h < f->nr_hosts; h++)
		connect_start(f, h);
	for (int h = 0; h < f->nr_hosts; h++)
		down += fleet_connect(f, h) != 0;
	return down;
}

void fleet_disconnect(struct fleet *f, int host)
{
	struct fleet_host *h = &f->hosts[host];

	if (h->conn)
		virConnectClose(h->conn);
	if (h->opener)
		opener_abandon(h->opener);
	h->opener = NULL;
	h->conn = NULL;
	h->reachable = false;
}

/* The text of the first <tag>...</tag> inside the first <within> element. */
static int xml_element(const char *xml, const char *within, const char *tag, bool whole, char *buf,
		       size_t size)
{
	char open[64], close[64];
	const char *p = strstr(xml, within), *s, *e;

	snprintf(open, sizeof(open), "<%s", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	for (s = p ? strstr(p, open) : NULL; s; s = strstr(s + 1, open))
		if (strchr(" >/\n", s[strlen(open)]))
			break;
	if (!s)
		return -ENOENT;
	e = strchr(s, '>');
	if (e && e[-1] == '/') {
		e++; /* <tag .../> */
	} else {
		const char *c = strstr(s, close);

		if (!c)
			return -EINVAL;
		if (!whole) {
			s = e + 1;
			e = c;
		} else {
			e = c + strlen(close);
		}
	}
	if ((size_t)(e - s) >= size)
		return -E2BIG;
	memcpy(buf, s, (size_t)(e - s));
	buf[e - s] = 0;
	return 0;
}

/*
 * For drivers without memory statistics (libvirt's test driver): virNodeGetInfo's total less
 * the running VMs' memory. Real hosts use virNodeGetMemoryStats (virNodeGetInfo's figure is
 * wrong on some of them).
 */
static int estimate_memory(struct fleet_host *h)
{
	virDomainPtr *doms = NULL;
	virNodeInfo info;
	uint64_t used = 0;
	int n;

	if (virNodeGetInfo(h->conn, &info) < 0)
		return -EIO;
	n = virConnectListAllDomains(h->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	for (int i = 0; i < n; i++) {
		used += virDomainGetMaxMemory(doms[i]);
		virDomainFree(doms[i]);
	}
	free(doms);
	h->avail_kib = info.memory > used ? info.memory - used : 0;
	h->mem_estimated = true;
	return 0;
}

static int host_memory(struct fleet *f, int host, char *err, size_t errsize);
static int host_meminfo(struct fleet_host *h, char *err, size_t errsize);

int fleet_host_facts(struct fleet *f, int host, char *err, size_t errsize)
{
	int r = host_memory(f, host, err, errsize);

	return r ? r : host_meminfo(&f->hosts[host], err, errsize);
}

static int host_memory(struct fleet *f, int host, char *err, size_t errsize)
{
	struct fleet_host *h = &f->hosts[host];
	virNodeMemoryStatsPtr st = NULL;
	char *caps;
	int n = 0;

	caps = virConnectGetCapabilities(h->conn);
	if (!caps) {
		snprintf(err, errsize, "capabilities: %s", fleet_virt_error());
		return -EIO;
	}
	if (xml_element(caps, "<host>", "uuid", false, h->uuid, sizeof(h->uuid)))
		h->uuid[0] = 0;
	if (xml_element(caps, "<host>", "cpu", true, h->cpu_xml, sizeof(h->cpu_xml)))
		h->cpu_xml[0] = 0;
	free(caps);
	h->avail_kib = 0;
	h->mem_estimated = false;
	if (virNodeGetMemoryStats(h->conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, NULL, &n, 0) < 0 &&
	    virGetLastErrorCode() == VIR_ERR_NO_SUPPORT)
		return estimate_memory(h);
	if (n <= 0 || !(st = calloc((size_t)n, sizeof(*st))) ||
	    virNodeGetMemoryStats(h->conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, st, &n, 0) < 0) {
		snprintf(err, errsize, "memory statistics: %s", st ? fleet_virt_error() : "none");
		free(st);
		return -EIO;
	}
	for (int i = 0; i < n; i++)
		if (!strcmp(st[i].field, VIR_NODE_MEMORY_STATS_FREE) ||
		    !strcmp(st[i].field, VIR_NODE_MEMORY_STATS_BUFFERS) ||
		    !strcmp(st[i].field, VIR_NODE_MEMORY_STATS_CACHED))
			h->avail_kib += st[i].value;
	free(st);
	return 0;
}

/*
 * MemAvailable (and the free hugepages) from the host's /proc/meminfo, through its exec prefix:
 * free + buffers + cached counts shared memory (tmpfs, memfd guests' RAM) as free, MemAvailable
 * does not. libvirt's test driver hosts are not this machine: their memory is the driver's,
 * unless meminfo_cmd says where to read it.
 */
static int host_meminfo(struct fleet_host *h, char *err, size_t errsize)
{
	const char *cmd = h->meminfo_cmd[0] ? h->meminfo_cmd : "cat /proc/meminfo";
	uint64_t avail = 0, huge = 0;
	char out[16384];
	int rc;

	h->meminfo = false;
	h->huge_free_kib = 0;
	if (!h->meminfo_cmd[0] && !strncmp(h->uri, "test:", 5))
		return 0;
	rc = fleet_exec(h->exec, cmd, 60, out, sizeof(out));
	if (rc) {
		snprintf(err, errsize, "meminfo: '%.200s' exited %d: %.200s", cmd, rc,
			 fleet_last_line(out));
		return -EIO;
	}
	if (fleet_meminfo_parse(out, &avail, &huge)) {
		snprintf(err, errsize, "meminfo: no MemAvailable in the output of '%.200s'", cmd);
		return -EIO;
	}
	h->avail_kib = avail;
	h->huge_free_kib = huge;
	h->meminfo = true;
	h->mem_estimated = false;
	return 0;
}

/*
 * A host whose VMs cannot all be listed or recorded is treated as one that does not answer
 * (its VMs unverified, never "gone"): a VM dropped here would let its host be upgraded under
 * it.
 */
static void scan_failed(struct fleet *f, int h, const char *why)
{
	struct fleet_host *host = &f->hosts[h];

	snprintf(host->error, sizeof(host->error), "listing its VMs: %.400s", why);
	host->reachable = false;
}

static void scan_host(struct fleet *f, int h, bool paused_pass)
{
	virDomainPtr *doms = NULL;
	int n = virConnectListAllDomains(f->hosts[h].conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);

	if (n < 0)
		scan_failed(f, h, fleet_virt_error());

	for (int i = 0; i < n; i++) {
		char uuid[VIR_UUID_STRING_BUFLEN];
		int state = 0, reason = 0, v;

		if (virDomainGetUUIDString(doms[i], uuid) == 0 &&
		    virDomainGetState(doms[i], &state, &reason, 0) == 0 &&
		    (state == VIR_DOMAIN_PAUSED) == paused_pass) {
			v = fleet_vm_find(f, uuid);
			if (v < 0)
				v = fleet_vm_add(f, uuid, virDomainGetName(doms[i]), h, 0);
			if (v < 0)
				scan_failed(f, h, strerror(-v));
			if (v >= 0 && !paused_pass && f->vms[v].host >= 0 && f->vms[v].host != h)
				f->duplicates++; /* running on two hosts: keep the first */
			else if (v >= 0 && (!paused_pass || f->vms[v].host < 0)) {
				f->vms[v].host = h;
				f->vms[v].mem_kib = virDomainGetMaxMemory(doms[i]);
				f->vms[v].transient = virDomainIsPersistent(doms[i]) == 0;
			}
		}
		virDomainFree(doms[i]);
	}
	free(doms);
}

int fleet_scan(struct fleet *f)
{
	int down, nr_known, *expected;

	f->duplicates = 0;
	down = fleet_connect_all(f);
	nr_known = f->nr_vms;
	expected = calloc((size_t)nr_known + 1, sizeof(*expected));
	if (!expected)
		nr_known = 0; /* (then a host failing its listing leaves its VMs "not found") */
	/* until found: unverified if its host does not answer, else not running */
	for (int i = 0; i < f->nr_vms; i++) {
		int h = f->vms[i].host >= 0	 ? f->vms[i].host
			: f->vms[i].shut_on >= 0 ? f->vms[i].shut_on
						 : f->vms[i].home;

		if (i < nr_known)
			expected[i] = h;
		f->vms[i].host = h >= 0 && !f->hosts[h].reachable ? -2 : -1;
		f->vms[i].lost_on = h;
	}
	/* running VMs first: a VM paused by a migration may also exist on its destination */
	for (int pass = 0; pass < 2; pass++)
		for (int h = 0; h < f->nr_hosts; h++)
			if (f->hosts[h].reachable)
				scan_host(f, h, pass);
	/* a host that failed its listing: its VMs are unverified, and it counts as down */
	for (int i = 0; i < f->nr_vms && i < nr_known; i++) {
		int h = f->vms[i].host;

		if (h >= 0 && !f->hosts[h].reachable) {
			f->vms[i].host = -2;
			f->vms[i].lost_on = h;
		} else if (h == -1 && expected[i] >= 0 && !f->hosts[expected[i]].reachable) {
			f->vms[i].host = -2;
			f->vms[i].lost_on = expected[i];
		}
	}
	free(expected);
	down = 0;
	for (int h = 0; h < f->nr_hosts; h++)
		down += !f->hosts[h].reachable;
	return down;
}

int fleet_count_on(const struct fleet *f, int host)
{
	int n = 0;

	for (int i = 0; i < f->nr_vms; i++)
		n += f->vms[i].host == host;
	return n;
}

static char cpu_note[FLEET_ERR];

const char *fleet_cpu_note(void)
{
	return cpu_note;
}

bool fleet_cpu_compatible(struct fleet *f, int vm, int host)
{
	struct fleet_vm *v = &f->vms[vm];
	virDomainPtr dom = NULL;
	char *xml = NULL, cpu[8192], type[16] = "kvm";
	const char *cmp = cpu;
	bool ok = true;
	int r;

	if (v->host < 0 || !f->hosts[v->host].conn)
		goto unknown;
	dom = virDomainLookupByUUIDString(f->hosts[v->host].conn, v->uuid);
	xml = dom ? virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_MIGRATABLE) : NULL;
	if (!xml)
		goto unknown;
	if (!strncmp(xml, "<domain type=", 13))
		snprintf(type, sizeof(type), "%.*s", (int)strcspn(xml + 14, "'\""), xml + 14);
	if (xml_element(xml, "<domain", "cpu", true, cpu, sizeof(cpu)) || !strstr(cpu, "<model")) {
		if (!strstr(cpu, "host-passthrough") && !strstr(cpu, "maximum")) {
			snprintf(cpu_note, sizeof(cpu_note), "default CPU model of %s", type);
			goto out;
		}
	}
	if (strstr(cpu, "host-passthrough") || strstr(cpu, "'maximum'")) {
		/* the guest sees the source host's CPU: the destination must have it all */
		cmp = f->hosts[v->host].cpu_xml;
	}
	r = virConnectCompareHypervisorCPU(f->hosts[host].conn, NULL, NULL, NULL, type, cmp, 0);
	if (r == VIR_CPU_COMPARE_ERROR) {
		snprintf(cpu_note, sizeof(cpu_note), "cannot compare: %.400s", fleet_virt_error());
		goto out;
	}
	ok = r != VIR_CPU_COMPARE_INCOMPATIBLE;
	snprintf(cpu_note, sizeof(cpu_note), "%s",
		 r == VIR_CPU_COMPARE_IDENTICAL ? "identical CPU"
		 : ok				? "destination CPU is a superset"
						: "incompatible CPU");
	goto out;
unknown:
	snprintf(cpu_note, sizeof(cpu_note), "cannot read the VM's definition: %.400s",
		 fleet_virt_error());
out:
	free(xml);
	if (dom)
		virDomainFree(dom);
	return ok;
}

int fleet_cpu_baseline(struct fleet *f, char *model, size_t size)
{
	const char **xmls = calloc((size_t)f->nr_hosts + 1, sizeof(*xmls));
	virConnectPtr conn = NULL;
	unsigned int n = 0;
	char *base;

	if (!xmls) {
		snprintf(model, size, "out of memory");
		return -ENOMEM;
	}

	for (int h = 0; h < f->nr_hosts; h++) {
		if (!f->hosts[h].reachable || !f->hosts[h].cpu_xml[0])
			continue;
		conn = conn ? conn : f->hosts[h].conn;
		xmls[n++] = f->hosts[h].cpu_xml;
	}
	if (!n) {
		free(xmls);
		snprintf(model, size, "no host describes its CPU");
		return -ENOENT;
	}
	base = virConnectBaselineHypervisorCPU(conn, NULL, NULL, NULL, NULL, xmls, n, 0);
	free(xmls);
	if (!base) {
		snprintf(model, size, "%s", fleet_virt_error());
		return -EIO;
	}
	if (xml_element(base, "<cpu", "model", false, model, size))
		snprintf(model, size, "(no model)");
	free(base);
	return 0;
}

int fleet_vm_inspect(struct fleet *f, int vm)
{
	struct fleet_vm *v = &f->vms[vm];
	virDomainPtr dom = NULL;
	char *xml = NULL;

	v->policy = fleet_vm_policy(f, v);
	if (v->host >= 0 && f->hosts[v->host].conn)
		dom = virDomainLookupByUUIDString(f->hosts[v->host].conn, v->uuid);
	xml = dom ? virDomainGetXMLDesc(dom, 0) : NULL;
	if (dom)
		virDomainFree(dom);
	if (!xml) {
		v->traits = VM_XML_UNREAD;
		return -EIO;
	}
	fleet_vm_xml(f, v, v->host, xml);
	free(xml);
	return 0;
}

bool fleet_xml_agent_connected(const char *xml)
{
	const char *p = xml;

	/* <channel type='unix'>...<target type='virtio' name='org.qemu.guest_agent.0'
	 * state='connected'/>...</channel> */
	while ((p = strstr(p, "<target ")) != NULL) {
		const char *end = strchr(p, '>');

		if (!end)
			return false;
		if (memmem(p, (size_t)(end - p), "org.qemu.guest_agent.0", 22) &&
		    (memmem(p, (size_t)(end - p), "state='connected'", 17) ||
		     memmem(p, (size_t)(end - p), "state=\"connected\"", 17)))
			return true;
		p = end;
	}
	return false;
}

int fleet_vm_healthy(struct fleet *f, int vm, char *why, size_t size)
{
	struct fleet_vm *v = &f->vms[vm];
	virDomainPtr dom = NULL;
	int state = 0, reason = 0, r = -1;
	char *xml = NULL, *reply;

	if (v->host < 0 || !f->hosts[v->host].conn) {
		snprintf(why, size, "%s is not found running", v->name);
		return -1;
	}
	dom = virDomainLookupByUUIDString(f->hosts[v->host].conn, v->uuid);
	if (!dom || virDomainGetState(dom, &state, &reason, 0) < 0) {
		snprintf(why, size, "%s on %s: %s", v->name, f->hosts[v->host].name,
			 fleet_virt_error());
		goto out;
	}
	if (state != VIR_DOMAIN_RUNNING) {
		snprintf(why, size, "%s on %s is not running (libvirt state %d, reason %d)",
			 v->name, f->hosts[v->host].name, state, reason);
		goto out;
	}
	xml = virDomainGetXMLDesc(dom, 0);
	if (xml && fleet_xml_agent_connected(xml)) {
		/*
		 * The agent answers a guest-ping within FLEET_AGENT_TIMEOUT. Only this
		 * call has a timeout of its own: libvirt's agent calls (virDomainGetHostname,
		 * ...) wait for an answer forever unless the domain's agent timeout was
		 * changed, which would change it for every other user of the domain.
		 */
		reply = virDomainQemuAgentCommand(dom, "{\"execute\":\"guest-ping\"}",
						  FLEET_AGENT_TIMEOUT, 0);
		if (!reply) {
			snprintf(why, size, "%s on %s: its guest agent does not answer: %s",
				 v->name, f->hosts[v->host].name, fleet_virt_error());
			goto out;
		}
		free(reply);
		snprintf(why, size, "running, its guest agent answers");
	} else {
		snprintf(why, size, "running (no guest agent connected)");
	}
	r = 0;
out:
	free(xml);
	if (dom)
		virDomainFree(dom);
	return r;
}

/* The storage pool whose target is dir; drivers without virStoragePoolLookupByTargetPath
 * (libvirt's test driver) by the <target><path> of each pool. */
static virStoragePoolPtr pool_by_dir(virConnectPtr conn, const char *dir)
{
	virStoragePoolPtr pool = virStoragePoolLookupByTargetPath(conn, dir), *all = NULL;
	virErrorPtr e = pool ? NULL : virGetLastError();
	char path[FLEET_STR];
	int n;

	if (pool || !e || e->code != VIR_ERR_NO_SUPPORT)
		return pool;
	n = virConnectListAllStoragePools(conn, &all, 0);
	for (int i = 0; i < n; i++) {
		char *xml = pool ? NULL : virStoragePoolGetXMLDesc(all[i], 0);

		if (xml && !xml_element(xml, "<target", "path", false, path, sizeof(path)) &&
		    !strcmp(path, dir))
			pool = all[i];
		else
			virStoragePoolFree(all[i]);
		free(xml);
	}
	free(all);
	return pool;
}

int fleet_pool_at(struct fleet *f, int host, const char *dir)
{
	virStoragePoolPtr pool;
	int active;

	if (host < 0 || !f->hosts[host].conn)
		return -ENOENT;
	pool = pool_by_dir(f->hosts[host].conn, dir);
	if (!pool)
		return -ENOENT;
	active = virStoragePoolIsActive(pool);
	virStoragePoolFree(pool);
	return active == 1 ? 0 : -ENOENT;
}

/* policy shutdown: the VM's domain on host, or NULL (-ENOENT not defined there, else -EIO) */
static virDomainPtr vm_domain(struct fleet *f, int host, const char *uuid, int *r, char *err,
			      size_t errsize)
{
	virDomainPtr dom;
	virErrorPtr e;

	*r = 0;
	if (host < 0 || host >= f->nr_hosts || !f->hosts[host].conn) {
		snprintf(err, errsize, "no connection to its host");
		*r = -EIO;
		return NULL;
	}
	dom = virDomainLookupByUUIDString(f->hosts[host].conn, uuid);
	if (dom)
		return dom;
	e = virGetLastError();
	*r = e && e->code == VIR_ERR_NO_DOMAIN ? -ENOENT : -EIO;
	snprintf(err, errsize, "%s",
		 *r == -ENOENT ? "not defined there (no persistent definition)"
			       : fleet_virt_error());
	return NULL;
}

int fleet_vm_active(struct fleet *f, int host, const char *uuid, char *err, size_t errsize)
{
	int r;
	virDomainPtr dom = vm_domain(f, host, uuid, &r, err, errsize);

	if (!dom)
		return r;
	r = virDomainIsActive(dom);
	if (r < 0) {
		snprintf(err, errsize, "%s", fleet_virt_error());
		r = -EIO;
	}
	virDomainFree(dom);
	return r;
}

int fleet_vm_power(struct fleet *f, int host, const char *uuid, enum fleet_power op, char *err,
		   size_t errsize)
{
	int r;
	virDomainPtr dom = vm_domain(f, host, uuid, &r, err, errsize);

	if (!dom)
		return r;
	if (op == FLEET_SHUTDOWN)
		r = virDomainShutdown(dom);
	else if (op == FLEET_DESTROY)
		r = virDomainDestroy(dom);
	else
		r = virDomainCreate(dom);
	if (r < 0) {
		snprintf(err, errsize, "%s", fleet_virt_error());
		r = -EIO;
	}
	virDomainFree(dom);
	return r;
}

int fleet_pool_space(struct fleet *f, int host, const char *dir, uint64_t *avail, char *name,
		     size_t size)
{
	virStoragePoolPtr pool;
	virStoragePoolInfo info;
	int r = -ENOENT;

	if (host < 0 || !f->hosts[host].conn)
		return -ENOENT;
	pool = pool_by_dir(f->hosts[host].conn, dir);
	if (!pool)
		return -ENOENT;
	if (virStoragePoolIsActive(pool) == 1) {
		virStoragePoolRefresh(pool, 0); /* files made outside libvirt, the space now */
		r = virStoragePoolGetInfo(pool, &info) ? -EIO : 0;
		if (!r)
			*avail = info.available;
		snprintf(name, size, "%s", virStoragePoolGetName(pool));
	}
	virStoragePoolFree(pool);
	return r;
}

int fleet_vol_exists(struct fleet *f, int host, const char *path)
{
	virStorageVolPtr vol;
	virErrorPtr e;

	if (host < 0 || !f->hosts[host].conn)
		return -EIO;
	vol = virStorageVolLookupByPath(f->hosts[host].conn, path);
	if (vol) {
		virStorageVolFree(vol);
		return 1;
	}
	e = virGetLastError();
	return e && e->code == VIR_ERR_NO_STORAGE_VOL ? 0 : -EIO;
}

struct copy_disks {
	struct fleet *f;
	int host;
	virDomainPtr dom;
	void (*fn)(const char *path, long long bytes, void *arg);
	void *arg;
};

/* the bytes a disk image holds (its allocation: what a sparse copy writes), -1 unknown */
static void copy_disk(const char *path, void *arg)
{
	struct copy_disks *c = arg;
	virStorageVolPtr vol = NULL;
	virStorageVolInfo vi;
	virDomainBlockInfo bi;
	long long bytes = -1;

	if (path[0] == '/')
		vol = virStorageVolLookupByPath(c->f->hosts[c->host].conn, path);
	if (vol && !virStorageVolGetInfo(vol, &vi))
		bytes = (long long)vi.allocation;
	else if (path[0] == '/' && !virDomainGetBlockInfo(c->dom, path, &bi, 0))
		bytes = (long long)bi.allocation;
	if (vol)
		virStorageVolFree(vol);
	c->fn(path, bytes, c->arg);
}

int fleet_copy_disks(struct fleet *f, int vm,
		     void (*fn)(const char *path, long long bytes, void *arg), void *arg)
{
	struct fleet_vm *v = &f->vms[vm];
	struct copy_disks c = { .f = f, .host = v->host, .fn = fn, .arg = arg };
	char *xml = NULL;
	const char *devs;
	int n;

	if (v->host < 0 || !f->hosts[v->host].conn)
		return -EIO;
	c.dom = virDomainLookupByUUIDString(f->hosts[v->host].conn, v->uuid);
	xml = c.dom ? virDomainGetXMLDesc(c.dom, 0) : NULL;
	if (!xml) {
		if (c.dom)
			virDomainFree(c.dom);
		return -EIO;
	}
	devs = strstr(xml, "<devices>");
	n = fleet_local_disks(f, v->host, devs ? devs : xml, xml + strlen(xml), copy_disk, &c);
	free(xml);
	virDomainFree(c.dom);
	return n;
}

int fleet_vol_delete(struct fleet *f, int host, const char *path, char *err, size_t errsize)
{
	char dir[FLEET_STR], *slash;
	virStoragePoolPtr pool;
	virStorageVolPtr vol;
	int r = 0;

	if (host < 0 || fleet_connect(f, host)) {
		snprintf(err, errsize, "no connection to %s",
			 host < 0 ? "its host" : f->hosts[host].name);
		return -EIO;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = 0;
	pool = pool_by_dir(f->hosts[host].conn, dir);
	if (pool) {
		virStoragePoolRefresh(pool, 0);
		virStoragePoolFree(pool);
	}
	vol = virStorageVolLookupByPath(f->hosts[host].conn, path);
	if (!vol) {
		snprintf(err, errsize, "%s", fleet_virt_error());
		return -EIO;
	}
	if (virStorageVolDelete(vol, 0) < 0) {
		snprintf(err, errsize, "%s", fleet_virt_error());
		r = -EIO;
	}
	virStorageVolFree(vol);
	return r;
}
