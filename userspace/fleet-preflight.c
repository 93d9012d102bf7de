// SPDX-License-Identifier: GPL-2.0-only
/*
 * The pre-flight of every host (libvirt answers, the exec prefix works, unique host UUIDs,
 * memory and CPU for every VM's planned destination) and the fleet's invariant: the set of VM
 * UUIDs running in the fleet is the recorded one.
 */
#include <stdio.h>
#include <string.h>

#include "fleet.h"

int fleet_preflight(struct fleet *f, int *order, int *batch_of, int *nr_batches)
{
	char err[FLEET_ERR], out[1024];

	fleet_checks_reset();
	for (int h = 0; h < f->nr_hosts; h++) {
		struct fleet_host *host = &f->hosts[h];
		int rc;

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
	*nr_batches = fleet_batches(f, order, batch_of);
	for (int b = 0; b < *nr_batches; b++) {
		fleet_place(f, batch_of, b, fleet_cpu_compatible);
		for (int i = 0; i < f->nr_vms; i++) {
			struct fleet_vm *v = &f->vms[i];

			if (v->host < 0 || batch_of[v->host] != b)
				continue;
			if (v->dest < 0) {
				fleet_check_add(strstr(v->error, "CPU") ? "cpu" : "memory", v->host,
						"FAIL", "%s: %s", v->name, v->error);
				continue;
			}
			fleet_cpu_compatible(f, i, v->dest);
			fleet_check_add("cpu", v->host,
					strstr(fleet_cpu_note(), "cannot") ? "WARN" : "PASS",
					"%s on %s: %s", v->name, f->hosts[v->dest].name,
					fleet_cpu_note());
			fleet_check_add(
				"memory", v->dest, "PASS",
				"%s (%llu MiB) fits: %llu MiB available%s", v->name,
				(unsigned long long)(v->mem_kib >> 10),
				(unsigned long long)(f->hosts[v->dest].avail_kib >> 10),
				f->hosts[v->dest].mem_estimated
					? " (estimated: the driver has no memory statistics)"
					: "");
		}
	}
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
		else if (f->vms[i].host == -1)
			inv->missing++;
		else if (f->vms[i].host == -2)
			inv->unverified++;
		else
			inv->after++;
	}
	inv->after += inv->extra;
	inv->duplicates = f->duplicates;
	inv->holds = !inv->missing && !inv->extra && !inv->unverified && !inv->duplicates;
}
