// SPDX-License-Identifier: GPL-2.0-only
/*
 * Batches and placement: which hosts go together and where their VMs go, and what a VM's
 * definition says about moving it (host devices, local disks, memory backing) under its
 * policy. No libvirt here.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"

int fleet_batches(const struct fleet *f, int *order, int *batch_of)
{
	int n = 0, nb = 0, maxb = -1;

	int canary = 0;

	if (f->nr_hosts == 0)
		return 0;
	/* the canary: the first host of the inventory that is not pinned, alone */
	while (canary < f->nr_hosts && f->hosts[canary].pinned)
		canary++;
	if (canary < f->nr_hosts) {
		order[n++] = canary;
		batch_of[canary] = nb++;
	}
	for (int i = canary + 1; i < f->nr_hosts; i++)
		if (f->hosts[i].batch > maxb && !f->hosts[i].pinned)
			maxb = f->hosts[i].batch;
	/* hosts with batch=N, by N; the same N is one batch */
	for (int b = 0; b <= maxb; b++) {
		bool any = false;

		for (int i = canary + 1; i < f->nr_hosts; i++) {
			if (f->hosts[i].batch != b || f->hosts[i].pinned)
				continue;
			order[n++] = i;
			batch_of[i] = nb;
			any = true;
		}
		nb += any;
	}
	/* then the others, batch_size at a time, in inventory order */
	for (int i = canary + 1, k = 0; i < f->nr_hosts; i++) {
		if (f->hosts[i].batch >= 0 || f->hosts[i].pinned)
			continue;
		if (k == 0)
			nb++;
		order[n++] = i;
		batch_of[i] = nb - 1;
		k = (k + 1) % (int)(f->batch_size ? f->batch_size : 1);
	}
	/* pinned hosts last, in no batch (-1): never upgraded, never a batch's member */
	for (int i = 0; i < f->nr_hosts; i++)
		if (f->hosts[i].pinned) {
			order[n++] = i;
			batch_of[i] = -1;
		}
	return nb;
}

int fleet_vm_find(const struct fleet *f, const char *uuid)
{
	for (int i = 0; i < f->nr_vms; i++)
		if (!strcmp(f->vms[i].uuid, uuid))
			return i;
	return -1;
}

int fleet_vm_add(struct fleet *f, const char *uuid, const char *name, int host, uint64_t mem_kib)
{
	size_t len = strlen(name);
	struct fleet_vm *v;

	/* the array grows by powers of two: nr_vms is a power of two when it is full */
	if (f->nr_vms == INT_MAX)
		return -ENOMEM;
	if (!f->vms || (f->nr_vms >= 64 && !(f->nr_vms & (f->nr_vms - 1)))) {
		size_t cap = f->nr_vms < 64 ? 64 : (size_t)f->nr_vms * 2;
		struct fleet_vm *n = realloc(f->vms, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		f->vms = n;
	}
	v = &f->vms[f->nr_vms];
	memset(v, 0, sizeof(*v));
	snprintf(v->uuid, sizeof(v->uuid), "%s", uuid);
	if (len < sizeof(v->name)) {
		memcpy(v->name, name, len + 1);
	} else {
		/* kept cut, and said: "...", name_cut (the pre-flight fails it) */
		snprintf(v->name, sizeof(v->name), "%.*s...", (int)sizeof(v->name) - 4, name);
		v->name_cut = true;
	}
	v->home = v->host = host;
	v->dest = -1;
	v->lost_on = -1;
	v->shut_on = -1;
	v->copied_on = -1;
	v->mem_kib = mem_kib;
	return f->nr_vms++;
}

/* What a VM costs a destination: its memory and QEMU's overhead (64 MiB); a hugepage-backed
 * VM's memory comes from the hugepage pool instead (huge_need_kib). */
static uint64_t vm_need_kib(const struct fleet_vm *v)
{
	return (v->traits & VM_HUGEPAGES ? 0 : v->mem_kib) + 64 * 1024;
}

static uint64_t huge_need_kib(const struct fleet_vm *v)
{
	return v->traits & VM_HUGEPAGES ? v->mem_kib : 0;
}

static bool moves(const struct fleet_vm *v)
{
	return v->policy == POLICY_MIGRATE || v->policy == POLICY_COPY_STORAGE;
}

static int64_t room_kib(const struct fleet *f, int h)
{
	const struct fleet_host *host = &f->hosts[h];

	return (int64_t)host->avail_kib - (int64_t)f->reserve_mib * 1024 -
	       (int64_t)host->planned_kib;
}

int fleet_place(struct fleet *f, const int *batch_of, int batch,
		bool (*cpu_ok)(struct fleet *f, int vm, int host))
{
	int unplaced = 0;

	for (int h = 0; h < f->nr_hosts; h++)
		f->hosts[h].planned_kib = f->hosts[h].planned_huge_kib = 0;
	for (int i = 0; i < f->nr_vms; i++) {
		struct fleet_vm *v = &f->vms[i];
		int best = -1;
		bool cpu_refused = false, huge_short = false;

		if (v->host < 0 || batch_of[v->host] != batch)
			continue;
		v->dest = -1;
		v->copy_storage = v->policy == POLICY_COPY_STORAGE && v->traits & VM_LOCAL_DISK;
		if (!moves(v)) {
			/* shut down and started again (or pinned): not placed, not unplaced */
			snprintf(v->error, sizeof(v->error), "%s",
				 v->policy == POLICY_SHUTDOWN
					 ? "policy shutdown: shut down before the upgrade, started "
					   "after"
					 : "policy pin: not migrated");
			continue;
		}
		for (int h = 0; h < f->nr_hosts; h++) {
			const struct fleet_host *d = &f->hosts[h];

			if (batch_of[h] == batch || !d->reachable || d->status == HOST_FAILED)
				continue;
			if (room_kib(f, h) < (int64_t)vm_need_kib(v))
				continue;
			if (huge_need_kib(v) &&
			    d->huge_free_kib < d->planned_huge_kib + huge_need_kib(v)) {
				huge_short = true;
				continue;
			}
			if (cpu_ok && !cpu_ok(f, i, h)) {
				cpu_refused = true;
				continue;
			}
			if (best < 0 || room_kib(f, h) > room_kib(f, best))
				best = h;
		}
		if (best < 0 && huge_short && !cpu_refused) {
			snprintf(v->error, sizeof(v->error),
				 "no destination outside its batch with %llu MiB of free hugepages "
				 "(HugePages_Free in its /proc/meminfo)",
				 (unsigned long long)(huge_need_kib(v) / 1024));
			unplaced++;
			continue;
		}
		if (best < 0) {
			snprintf(v->error, sizeof(v->error),
				 cpu_refused
					 ? "no destination with a compatible CPU and %llu MiB free"
					 : "no destination outside its batch with %llu MiB free",
				 (unsigned long long)(vm_need_kib(v) / 1024));
			unplaced++;
			continue;
		}
		v->error[0] = 0;
		v->dest = best;
		f->hosts[best].planned_kib += vm_need_kib(v);
		f->hosts[best].planned_huge_kib += huge_need_kib(v);
	}
	return unplaced;
}

static const char *const policy_names[] = {
	[POLICY_MIGRATE] = "migrate",
	[POLICY_COPY_STORAGE] = "copy-storage",
	[POLICY_SHUTDOWN] = "shutdown",
	[POLICY_PIN] = "pin",
};

const char *fleet_policy_name(enum vm_policy p)
{
	return p <= POLICY_PIN ? policy_names[p] : "?";
}

int fleet_policy_parse(const char *s, enum vm_policy *p)
{
	for (int i = 0; i <= POLICY_PIN; i++)
		if (!strcmp(s, policy_names[i])) {
			*p = (enum vm_policy)i;
			return 0;
		}
	return -EINVAL;
}

enum vm_policy fleet_vm_policy(struct fleet *f, const struct fleet_vm *v)
{
	for (int i = 0; i < f->nr_policies; i++) {
		struct fleet_vm_policy *p = &f->policies[i];

		if (!strcmp(p->vm, v->name) || !strcasecmp(p->vm, v->uuid)) {
			p->used = true;
			return p->policy;
		}
	}
	return POLICY_MIGRATE;
}

int fleet_pin_hosts(struct fleet *f)
{
	int n = 0;

	for (int h = 0; h < f->nr_hosts; h++) {
		f->hosts[h].pinned = false;
		f->hosts[h].pin_vm[0] = 0;
	}
	for (int i = 0; i < f->nr_vms; i++) {
		const struct fleet_vm *v = &f->vms[i];
		struct fleet_host *h;

		if (v->host < 0 || v->policy != POLICY_PIN)
			continue;
		h = &f->hosts[v->host];
		n += !h->pinned;
		if (!h->pinned)
			snprintf(h->pin_vm, sizeof(h->pin_vm), "%.*s", (int)sizeof(h->pin_vm) - 1,
				 v->name);
		h->pinned = true;
	}
	return n;
}

int fleet_vm_movable(const struct fleet *f, const struct fleet_vm *v, char *why, size_t size)
{
	why[0] = 0;
	if (v->policy == POLICY_PIN)
		return 0;
	if (v->policy == POLICY_SHUTDOWN) {
		if (f->can_shutdown && v->transient) {
			snprintf(why, size,
				 "policy shutdown: a transient VM (no persistent definition) "
				 "vanishes when it is shut down and cannot be started again: "
				 "define it (virsh define), or policy migrate or pin");
			return -EPERM;
		}
		if (f->can_shutdown)
			return 0;
		snprintf(why, size,
			 "policy shutdown: this rollout cannot shut VMs down and start "
			 "them again yet");
		return -EPERM;
	}
	if (v->traits & VM_XML_UNREAD) {
		snprintf(why, size, "its definition cannot be read: what it needs is unknown");
		return -EPERM;
	}
	if (v->traits & VM_HOSTDEV) {
		snprintf(
			why, size,
			"host device (%s): passthrough cannot be live-migrated; policy shutdown or "
			"pin",
			v->hostdev);
		return -EPERM;
	}
	if (v->traits & VM_LOCAL_DISK && v->policy == POLICY_MIGRATE) {
		snprintf(why, size,
			 "%d disk%s on storage not declared shared (%.200s): shared_storage=PREFIX "
			 "if it is, else policy copy-storage, shutdown or pin",
			 v->nr_local_disks, v->nr_local_disks == 1 ? "" : "s", v->local_disk);
		return -EPERM;
	}
	if (v->traits & VM_LOCAL_DISK && !f->can_copy_storage) {
		snprintf(why, size,
			 "policy copy-storage (%.200s): this rollout cannot copy storage yet",
			 v->local_disk);
		return -EPERM;
	}
	return 0;
}

/* XML: the value of attribute name inside the element starting at elem (up to its '>'),
 * entities decoded. */
static bool xml_attr(const char *elem, const char *name, char *buf, size_t size)
{
	const char *end = strchr(elem, '>'), *p = elem;
	size_t nlen = strlen(name), o = 0;
	char q;

	if (!end)
		return false;
	for (;;) {
		p = strstr(p, name);
		if (!p || p >= end)
			return false;
		if ((p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n') && p[nlen] == '=' &&
		    (p[nlen + 1] == '\'' || p[nlen + 1] == '"'))
			break;
		p += nlen;
	}
	q = p[nlen + 1];
	for (p += nlen + 2; *p && *p != q && o + 1 < size; p++) {
		static const struct {
			const char *ent;
			char c;
		} ents[] = { { "&amp;", '&' },
			     { "&lt;", '<' },
			     { "&gt;", '>' },
			     { "&quot;", '"' },
			     { "&apos;", '\'' } };
		char c = *p;

		for (size_t e = 0; c == '&' && e < sizeof(ents) / sizeof(ents[0]); e++)
			if (!strncmp(p, ents[e].ent, strlen(ents[e].ent))) {
				c = ents[e].c;
				p += strlen(ents[e].ent) - 1;
				break;
			}
		buf[o++] = c;
	}
	buf[o] = 0;
	return true;
}

/* The next <tag (followed by a blank, '>' or '/') from p before end, or NULL. */
static const char *xml_next(const char *p, const char *end, const char *tag)
{
	size_t len = strlen(tag);

	for (p = strstr(p, tag); p && p < end; p = strstr(p + 1, tag))
		if (strchr(" \t\n>/", p[len]))
			return p;
	return NULL;
}

static bool on_shared(const struct fleet *f, int host, const char *src)
{
	for (int i = 0; i < f->nr_shared; i++) {
		const char *pre = f->shared[i].prefix;
		size_t len = strlen(pre);

		if (f->shared[i].host >= 0 && f->shared[i].host != host)
			continue;
		if (len && !strncmp(src, pre, len) &&
		    (pre[len - 1] == '/' || !src[len] || src[len] == '/'))
			return true;
	}
	return false;
}

int fleet_local_disks(const struct fleet *f, int host, const char *xml, const char *end,
		      void (*fn)(const char *path, void *arg), void *arg)
{
	int n = 0;

	for (const char *d = xml_next(xml, end, "<disk"); d; d = xml_next(d + 1, end, "<disk")) {
		const char *close = strstr(d, "</disk>"), *src;
		char type[32] = "", a[FLEET_STR] = "", b[FLEET_STR] = "", path[FLEET_STR + 8];

		if (!close || close > end)
			close = end;
		xml_attr(d, "type", type, sizeof(type));
		src = xml_next(d, close, "<source");
		if (!src)
			continue; /* an empty CD-ROM drive */
		if (!strcmp(type, "file"))
			xml_attr(src, "file", a, sizeof(a));
		else if (!strcmp(type, "block"))
			xml_attr(src, "dev", a, sizeof(a));
		else if (!strcmp(type, "dir"))
			xml_attr(src, "dir", a, sizeof(a));
		else if (!strcmp(type, "volume") && xml_attr(src, "pool", b, sizeof(b)))
			xml_attr(src, "volume", a, sizeof(a));
		else
			continue; /* network (rbd, iscsi, nbd...): shared by nature */
		if (!a[0] && !b[0])
			continue;
		if (b[0])
			snprintf(path, sizeof(path), "pool:%.250s/%.250s", b, a);
		else
			snprintf(path, sizeof(path), "%s", a);
		if (on_shared(f, host, path))
			continue;
		n++;
		if (fn)
			fn(path, arg);
	}
	return n;
}

static void first_disk(const char *path, void *arg)
{
	struct fleet_vm *v = arg;

	if (!v->nr_local_disks++)
		snprintf(v->local_disk, sizeof(v->local_disk), "%.*s",
			 (int)sizeof(v->local_disk) - 1, path);
	v->traits |= VM_LOCAL_DISK;
}

static void xml_disks(const struct fleet *f, struct fleet_vm *v, int host, const char *xml,
		      const char *end)
{
	fleet_local_disks(f, host, xml, end, first_disk, v);
}

void fleet_vm_xml(const struct fleet *f, struct fleet_vm *v, int host, const char *xml)
{
	const char *end = xml + strlen(xml), *devs, *mb, *p;
	char a[64] = "", b[64] = "", c[64] = "", d[64] = "";

	v->traits = 0;
	v->nr_local_disks = 0;
	v->local_disk[0] = v->hostdev[0] = 0;
	/* host devices: <hostdev> and <interface type='hostdev'> (SR-IOV) */
	devs = strstr(xml, "<devices>");
	devs = devs ? devs : xml;
	p = xml_next(devs, end, "<hostdev");
	if (p) {
		const char *addr = xml_next(p, end, "<address");

		v->traits |= VM_HOSTDEV;
		xml_attr(p, "type", a, sizeof(a));
		if (addr && xml_attr(addr, "bus", b, sizeof(b)) &&
		    xml_attr(addr, "slot", c, sizeof(c)) &&
		    xml_attr(addr, "function", d, sizeof(d))) {
			char dom[16] = "0x0000";

			xml_attr(addr, "domain", dom, sizeof(dom));
			snprintf(v->hostdev, sizeof(v->hostdev), "%s %04lx:%02lx:%02lx.%lx", a,
				 strtoul(dom, NULL, 16), strtoul(b, NULL, 16), strtoul(c, NULL, 16),
				 strtoul(d, NULL, 16));
		} else {
			snprintf(v->hostdev, sizeof(v->hostdev), "%s", a[0] ? a : "hostdev");
		}
	}
	for (p = xml_next(devs, end, "<interface"); p && !(v->traits & VM_HOSTDEV);
	     p = xml_next(p + 1, end, "<interface"))
		if (xml_attr(p, "type", a, sizeof(a)) && !strcmp(a, "hostdev")) {
			v->traits |= VM_HOSTDEV;
			snprintf(v->hostdev, sizeof(v->hostdev), "interface type='hostdev'");
		}
	xml_disks(f, v, host, devs, end);
	/* memory backing: hugepages, memfd, shared access; NUMA cells with memAccess='shared' */
	mb = strstr(xml, "<memoryBacking>");
	if (mb) {
		const char *mbe = strstr(mb, "</memoryBacking>");

		mbe = mbe ? mbe : end;
		if (xml_next(mb, mbe, "<hugepages"))
			v->traits |= VM_HUGEPAGES;
		for (p = xml_next(mb, mbe, "<source"); p; p = xml_next(p + 1, mbe, "<source"))
			if (xml_attr(p, "type", a, sizeof(a)) && !strcmp(a, "memfd"))
				v->traits |= VM_SHARED_MEM;
		for (p = xml_next(mb, mbe, "<access"); p; p = xml_next(p + 1, mbe, "<access"))
			if (xml_attr(p, "mode", a, sizeof(a)) && !strcmp(a, "shared"))
				v->traits |= VM_SHARED_MEM;
	}
	for (p = xml_next(xml, end, "<cell"); p; p = xml_next(p + 1, end, "<cell"))
		if (xml_attr(p, "memAccess", a, sizeof(a)) && !strcmp(a, "shared"))
			v->traits |= VM_SHARED_MEM;
}

int fleet_meminfo_parse(const char *text, uint64_t *avail_kib, uint64_t *huge_free_kib)
{
	unsigned long long avail = 0, free_pages = 0, page_kb = 0;
	bool have = false;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (sscanf(p, "MemAvailable: %llu kB", &avail) == 1)
			have = true;
		sscanf(p, "HugePages_Free: %llu", &free_pages);
		sscanf(p, "Hugepagesize: %llu kB", &page_kb);
	}
	*huge_free_kib = free_pages * page_kb;
	if (!have)
		return -ENOENT;
	*avail_kib = avail;
	return 0;
}
