// SPDX-License-Identifier: GPL-2.0-only
/*
 * The pre-flight of every host (libvirt answers, the exec prefix works, unique host UUIDs,
 * memory and CPU for every VM's planned destination, what cannot move: host devices, local
 * disks, memory backing, each VM's policy; the return trip) and the fleet's invariant: the set
 * of VM UUIDs running in the fleet is the recorded one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"

static const char *mem_source(const struct fleet_host *h)
{
	if (h->meminfo)
		return " (MemAvailable)";
	if (h->mem_estimated)
		return " (estimated: the driver has no memory statistics)";
	return " (free + buffers + cached: no /proc/meminfo)";
}

/*
 * What each VM's definition and policy say (docs/fleet.md, "What cannot move"): a name cut
 * short, host devices, local disks, hugepages, shared memory; pinned hosts. A VM that cannot
 * leave its host under its policy is a FAIL.
 */
static void vm_checks(struct fleet *f)
{
	char why[FLEET_ERR];

	for (int i = 0; i < f->nr_vms; i++)
		if (f->vms[i].host >= 0)
			fleet_vm_inspect(f, i);
	fleet_pin_hosts(f);
	for (int i = 0; i < f->nr_vms; i++) {
		struct fleet_vm *v = &f->vms[i];

		if (v->host < 0)
			continue;
		if (v->name_cut)
			fleet_check_add("vm_name", v->host, "FAIL",
					"VM %s: its name is longer than %d bytes: rename it",
					v->uuid, FLEET_VM_NAME - 1);
		if (f->hosts[v->host].pinned)
			continue; /* its host is skipped: nothing there moves */
		if (fleet_vm_movable(f, v, why, sizeof(why)))
			fleet_check_add("movable", v->host, "FAIL", "%s (policy %s): %s", v->name,
					fleet_policy_name(v->policy), why);
		else if (v->policy == POLICY_SHUTDOWN)
			fleet_check_add("movable", v->host, "PASS",
					"%s: policy shutdown: shut down before its host's upgrade, "
					"started after",
					v->name);
		else if (v->copy_storage ||
			 (v->policy == POLICY_COPY_STORAGE && v->traits & VM_LOCAL_DISK))
			fleet_check_add("movable", v->host, "PASS",
					"%s: policy copy-storage: %d local disk%s copied (%s)",
					v->name, v->nr_local_disks,
					v->nr_local_disks == 1 ? "" : "s", v->local_disk);
		if (v->policy != POLICY_PIN && v->policy != POLICY_SHUTDOWN &&
		    v->traits & VM_HUGEPAGES)
			fleet_check_add(
				"backing", v->host, "PASS",
				"%s: hugepage-backed: its destination needs %llu MiB of free "
				"hugepages (HugePages_Free)",
				v->name, (unsigned long long)(v->mem_kib >> 10));
		if (v->policy != POLICY_PIN && v->traits & VM_SHARED_MEM)
			fleet_check_add("backing", v->host, "WARN",
					"%s: memfd/shared memory backing: counted as used by "
					"MemAvailable, not by free + buffers + cached%s",
					v->name,
					f->hosts[v->host].meminfo ? ""
								  : " (this host's MemAvailable "
								    "was not read)");
	}
	for (int h = 0; h < f->nr_hosts; h++)
		if (f->hosts[h].pinned)
			fleet_check_add("pin", h, "WARN",
					"skipped, not upgraded: %s has policy pin",
					f->hosts[h].pin_vm);
	for (int p = 0; p < f->nr_policies; p++)
		if (!f->policies[p].used)
			fleet_check_add("policy", -1, "WARN",
					"%s:%d: vm %s runs on no host of the fleet", f->inventory,
					f->policies[p].line, f->policies[p].vm);
}

/*
 * The return trip: once its batch is upgraded, a host takes its VMs back (those running on it
 * now and those whose home it is but run elsewhere, after a halted rollout): its memory now,
 * plus what its own VMs free when they leave, must hold them all.
 */
static void return_trip(struct fleet *f, const int *batch_of)
{
	for (int h = 0; h < f->nr_hosts; h++) {
		const struct fleet_host *x = &f->hosts[h];
		int64_t room = (int64_t)x->avail_kib - (int64_t)f->reserve_mib * 1024;
		int64_t back = 0, huge_room = (int64_t)x->huge_free_kib, huge_back = 0;
		int away = 0;

		if (!x->reachable || batch_of[h] < 0 || f->no_return)
			continue;
		for (int i = 0; i < f->nr_vms; i++) {
			const struct fleet_vm *v = &f->vms[i];
			int64_t m = (int64_t)v->mem_kib, need = m + 64 * 1024;

			if (v->host < 0 || v->policy == POLICY_PIN)
				continue;
			if (v->traits & VM_HUGEPAGES)
				need -= m;
			if (v->host == h) {
				room += need;
				huge_room += v->traits & VM_HUGEPAGES ? m : 0;
			}
			if (v->home == h) {
				back += need;
				huge_back += v->traits & VM_HUGEPAGES ? m : 0;
				away += v->host != h;
			}
		}
		if (!away)
			continue; /* all at home: they leave and come back, the same memory */
		if (room < back || (huge_back && huge_room < huge_back))
			fleet_check_add(
				"return", h, "FAIL",
				"its VMs need %lld MiB%s to come back after the upgrade, it "
				"has %lld MiB%s (%d of them run elsewhere now)",
				(long long)(back >> 10), huge_back ? " (+ hugepages)" : "",
				(long long)(room >> 10), mem_source(x), away);
		else
			fleet_check_add("return", h, "PASS",
					"%d VM%s away from home come back: %lld of %lld MiB%s",
					away, away == 1 ? "" : "s", (long long)(back >> 10),
					(long long)(room >> 10), mem_source(x));
	}
}

/*
 * policy copy-storage: the space for the copies. libvirt creates each local disk's image in the
 * destination's pool, sparse, and the copy writes what the image holds on its home (its
 * allocation); the copies of every VM going to one pool add up (over the whole rollout: a copy
 * stays where it went). Home needs none: the original stays there and libvirt copies the way
 * back over it (it does not create an image that exists). A file already at the path on the
 * destination is a FAIL: libvirt would copy over it.
 */
struct pool_need {
	int host;
	char pool[FLEET_STR];
	uint64_t need, avail;
	int vms;
};

struct space {
	struct pool_need *p;
	int nr;
};

struct copy_ctx {
	struct fleet *f;
	struct fleet_vm *v;
	struct space *s;
};

static void copy_one(const char *path, long long bytes, void *arg)
{
	struct copy_ctx *c = arg;
	struct fleet_vm *v = c->v;
	char dir[FLEET_STR], pool[FLEET_STR], *slash;
	uint64_t avail;
	struct pool_need *n = NULL;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (path[0] != '/' || !slash || slash == dir)
		return; /* a volume disk (pool:POOL/VOLUME): the pool check said it */
	*slash = 0;
	if (fleet_pool_space(c->f, v->dest, dir, &avail, pool, sizeof(pool)))
		return; /* no pool there: FAIL already */
	if (fleet_vol_exists(c->f, v->dest, path) == 1)
		fleet_check_add("storage", v->dest, "FAIL",
				"%s: %s already exists on %s: the copy would overwrite it "
				"(copy-storage; remove it if it is a stale copy)",
				v->name, path, c->f->hosts[v->dest].name);
	if (bytes < 0) {
		fleet_check_add("storage", v->dest, "WARN",
				"%s: the size of %s is unknown: its space in pool %s not checked",
				v->name, path, pool);
		return;
	}
	for (int k = 0; k < c->s->nr; k++)
		if (c->s->p[k].host == v->dest && !strcmp(c->s->p[k].pool, pool))
			n = &c->s->p[k];
	if (!n) {
		struct pool_need *p = realloc(c->s->p, (c->s->nr + 1) * sizeof(*p));

		if (!p)
			return;
		c->s->p = p;
		n = &p[c->s->nr++];
		memset(n, 0, sizeof(*n));
		n->host = v->dest;
		snprintf(n->pool, sizeof(n->pool), "%s", pool);
	}
	n->avail = avail;
	n->need += (uint64_t)bytes;
	n->vms++;
}

static void copy_space(struct fleet *f, int vm, struct space *s)
{
	struct copy_ctx c = { .f = f, .v = &f->vms[vm], .s = s };

	if (fleet_copy_disks(f, vm, copy_one, &c) < 0)
		fleet_check_add("storage", c.v->host, "WARN",
				"%s: its definition cannot be read: the space for its disks not "
				"checked",
				c.v->name);
}

static void space_checks(struct space *s)
{
	for (int k = 0; k < s->nr; k++) {
		struct pool_need *n = &s->p[k];

		fleet_check_add("storage", n->host, n->need > n->avail ? "FAIL" : "PASS",
				"pool %s %s the copied disks of %d VM%s: %llu MiB needed, %llu MiB "
				"available",
				n->pool, n->need > n->avail ? "is too small for" : "holds", n->vms,
				n->vms == 1 ? "" : "s",
				(unsigned long long)((n->need + (1 << 20) - 1) >> 20),
				(unsigned long long)(n->avail >> 20));
	}
	free(s->p);
	s->p = NULL;
	s->nr = 0;
}

int fleet_preflight(struct fleet *f, int *order, int *batch_of, int *nr_batches)
{
	char err[FLEET_ERR], out[1024];
	struct space space = { 0 };

	fleet_checks_reset();
	fleet_connect_all(f); /* every host at once, one deadline */
	for (int h = 0; h < f->nr_hosts; h++) {
		struct fleet_host *host = &f->hosts[h];
		int rc;

		if (host->status == HOST_SKIPPED) {
			fleet_check_add("skipped", h, "WARN",
					"left out by resume --skip-host: not upgraded, its VMs not "
					"verified");
			continue;
		}
		if (fleet_connect(f, h)) {
			fleet_check_add("reachable", h, "FAIL", "%s", host->error);
		} else if (fleet_host_facts(f, h, err, sizeof(err))) {
			fleet_check_add("reachable", h, "FAIL", "%s", err);
			host->reachable = false;
		} else {
			fleet_check_add("reachable", h, "PASS", "libvirt answers at %s", host->uri);
		}
		rc = fleet_exec(host->exec, "true", 60, out, sizeof(out));
		if (rc)
			fleet_check_add("exec", h, "FAIL", "'%s true' exited %d: %.300s",
					host->exec, rc, fleet_last_line(out));
		else
			fleet_check_add("exec", h, "PASS", "'%s' runs commands", host->exec);
	}
	for (int h = 0; h < f->nr_hosts; h++) {
		const char *u = f->hosts[h].uuid;
		int same = -1;

		if (!f->hosts[h].reachable)
			continue;
		for (int o = 0; o < f->nr_hosts && same < 0; o++)
			if (o != h && f->hosts[o].reachable && !strcmp(u, f->hosts[o].uuid))
				same = o;
		if (!u[0])
			fleet_check_add("host_uuid", h, "WARN", "libvirt reports no host UUID");
		else if (same >= 0)
			fleet_check_add("host_uuid", h, "FAIL",
					"%s is also %s's: libvirt refuses to migrate between them "
					"(set host_uuid in libvirtd.conf)",
					u, f->hosts[same].name);
		else
			fleet_check_add("host_uuid", h, "PASS", "%s", u);
	}
	if (fleet_cpu_baseline(f, err, sizeof(err)))
		fleet_check_add("cpu_baseline", -1, "WARN", "no common CPU model: %s", err);
	else
		fleet_check_add("cpu_baseline", -1, "PASS",
				"every host runs CPU model %s: VMs with it migrate anywhere", err);
	fleet_scan(f);
	vm_checks(f);
	*nr_batches = fleet_batches(f, order, batch_of);
	for (int b = 0; b < *nr_batches; b++) {
		fleet_place(f, batch_of, b, fleet_cpu_compatible);
		for (int i = 0; i < f->nr_vms; i++) {
			struct fleet_vm *v = &f->vms[i];

			if (v->host < 0 || batch_of[v->host] != b || v->policy == POLICY_SHUTDOWN ||
			    v->policy == POLICY_PIN)
				continue;
			if (v->dest < 0) {
				fleet_check_add(strstr(v->error, "CPU")		? "cpu"
						: strstr(v->error, "hugepages") ? "backing"
										: "memory",
						v->host, "FAIL", "%s: %s", v->name, v->error);
				continue;
			}
			fleet_cpu_compatible(f, i, v->dest);
			fleet_check_add("cpu", v->host,
					strstr(fleet_cpu_note(), "cannot") ? "WARN" : "PASS",
					"%s on %s: %s", v->name, f->hosts[v->dest].name,
					fleet_cpu_note());
			if (v->copy_storage) {
				char dir[FLEET_STR], *slash;

				snprintf(dir, sizeof(dir), "%s", v->local_disk);
				slash = strrchr(dir, '/');
				if (slash && slash != dir)
					*slash = 0;
				for (int k = 0; k < 2; k++) {
					int h = k ? v->home : v->dest;

					if (fleet_pool_at(f, h, dir))
						fleet_check_add("storage", h, "FAIL",
								"%s: no active storage pool at %s: "
								"libvirt cannot create its disk "
								"there (copy-storage)",
								v->name, dir);
				}
				copy_space(f, i, &space);
			}
			fleet_check_add("memory", v->dest, "PASS",
					"%s (%llu MiB%s) fits: %llu MiB available%s", v->name,
					(unsigned long long)(v->mem_kib >> 10),
					v->traits & VM_HUGEPAGES ? " in hugepages" : "",
					(unsigned long long)(f->hosts[v->dest].avail_kib >> 10),
					mem_source(&f->hosts[v->dest]));
		}
	}
	space_checks(&space);
	return_trip(f, batch_of);
	return fleet_checks_failed();
}

void fleet_invariant(struct fleet *f, struct invariant *inv)
{
	memset(inv, 0, sizeof(*inv));
	fleet_scan(f);
	inv->before = f->baseline;
	for (int i = 0; i < f->nr_vms; i++) {
		if (i >= f->baseline)
			inv->extra += f->vms[i].host >= 0;
		else if (f->vms[i].host == -1 && f->vms[i].shut_on >= 0)
			inv->shut++; /* shut down by the rollout: started after its host's upgrade */
		else if (f->vms[i].host == -1)
			inv->missing++;
		else if (f->vms[i].host == -2 && f->vms[i].lost_on >= 0 &&
			 f->hosts[f->vms[i].lost_on].status == HOST_SKIPPED)
			inv->skipped++;
		else if (f->vms[i].host == -2)
			inv->unverified++;
		else
			inv->after++;
	}
	inv->after += inv->extra;
	inv->duplicates = f->duplicates;
	inv->holds = !inv->missing && !inv->extra && !inv->unverified && !inv->duplicates;
}
