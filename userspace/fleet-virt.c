// SPDX-License-Identifier: GPL-2.0-only
/*
 * libvirt for ekvm fleet: connections, host facts (UUID, memory from virNodeGetMemoryStats,
 * CPU), the running VMs and CPU compatibility (virConnectCompareHypervisorCPU). Migration is
 * fleet-migrate.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "fleet.h"

static void quiet(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

int fleet_virt_init(void)
{
	if (virInitialize() < 0)
		return -EIO;
	virSetErrorFunc(NULL, quiet);
	return 0;
}

const char *fleet_virt_error(void)
{
	const char *m = virGetLastErrorMessage();

	return m ? m : "unknown libvirt error";
}

int fleet_connect(struct fleet *f, int host)
{
	struct fleet_host *h = &f->hosts[host];

	if (h->conn && virConnectIsAlive(h->conn) == 1)
		return 0;
	fleet_disconnect(f, host);
	h->conn = virConnectOpen(h->uri);
	h->reachable = h->conn != NULL;
	if (!h->conn)
		snprintf(h->error, sizeof(h->error), "cannot connect to %.200s: %.250s", h->uri,
			 fleet_virt_error());
	return h->conn ? 0 : -EHOSTUNREACH;
}

void fleet_disconnect(struct fleet *f, int host)
{
	struct fleet_host *h = &f->hosts[host];

	if (h->conn)
		virConnectClose(h->conn);
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

int fleet_host_facts(struct fleet *f, int host, char *err, size_t errsize)
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

static void scan_host(struct fleet *f, int h, bool paused_pass)
{
	virDomainPtr *doms = NULL;
	int n = virConnectListAllDomains(f->hosts[h].conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);

	for (int i = 0; i < n; i++) {
		char uuid[VIR_UUID_STRING_BUFLEN];
		int state = 0, reason = 0, v;

		if (virDomainGetUUIDString(doms[i], uuid) == 0 &&
		    virDomainGetState(doms[i], &state, &reason, 0) == 0 &&
		    (state == VIR_DOMAIN_PAUSED) == paused_pass) {
			v = fleet_vm_find(f, uuid);
			if (v < 0)
				v = fleet_vm_add(f, uuid, virDomainGetName(doms[i]), h, 0);
			if (v >= 0 && !paused_pass && f->vms[v].host >= 0 && f->vms[v].host != h)
				f->duplicates++; /* running on two hosts: keep the first */
			else if (v >= 0 && (!paused_pass || f->vms[v].host < 0)) {
				f->vms[v].host = h;
				f->vms[v].mem_kib = virDomainGetMaxMemory(doms[i]);
			}
		}
		virDomainFree(doms[i]);
	}
	free(doms);
}

int fleet_scan(struct fleet *f)
{
	int down = 0;

	f->duplicates = 0;
	for (int h = 0; h < f->nr_hosts; h++)
		down += fleet_connect(f, h) != 0;
	/* until found: unverified if its host does not answer, else not running */
	for (int i = 0; i < f->nr_vms; i++) {
		int h = f->vms[i].host >= 0 ? f->vms[i].host : f->vms[i].home;

		f->vms[i].host = h >= 0 && !f->hosts[h].reachable ? -2 : -1;
	}
	/* running VMs first: a VM paused by a migration may also exist on its destination */
	for (int pass = 0; pass < 2; pass++)
		for (int h = 0; h < f->nr_hosts; h++)
			if (f->hosts[h].reachable)
				scan_host(f, h, pass);
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
	const char *xmls[FLEET_MAX_HOSTS];
	virConnectPtr conn = NULL;
	unsigned int n = 0;
	char *base;

	for (int h = 0; h < f->nr_hosts; h++) {
		if (!f->hosts[h].reachable || !f->hosts[h].cpu_xml[0])
			continue;
		conn = conn ? conn : f->hosts[h].conn;
		xmls[n++] = f->hosts[h].cpu_xml;
	}
	if (!n) {
		snprintf(model, size, "no host describes its CPU");
		return -ENOENT;
	}
	base = virConnectBaselineHypervisorCPU(conn, NULL, NULL, NULL, NULL, xmls, n, 0);
	if (!base) {
		snprintf(model, size, "%s", fleet_virt_error());
		return -EIO;
	}
	if (xml_element(base, "<cpu", "model", false, model, size))
		snprintf(model, size, "(no model)");
	free(base);
	return 0;
}
