// SPDX-License-Identifier: GPL-2.0-only
/* Batches and placement: which hosts go together and where their VMs go. No libvirt here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"

int fleet_batches(const struct fleet *f, int *order, int *batch_of)
{
	int n = 0, nb = 0, maxb = -1;

	if (f->nr_hosts == 0)
		return 0;
	/* the canary: the first host of the inventory, alone */
	order[n++] = 0;
	batch_of[0] = nb++;
	for (int i = 1; i < f->nr_hosts; i++)
		if (f->hosts[i].batch > maxb)
			maxb = f->hosts[i].batch;
	/* hosts with batch=N, by N; the same N is one batch */
	for (int b = 0; b <= maxb; b++) {
		bool any = false;

		for (int i = 1; i < f->nr_hosts; i++) {
			if (f->hosts[i].batch != b)
				continue;
			order[n++] = i;
			batch_of[i] = nb;
			any = true;
		}
		nb += any;
	}
	/* then the others, batch_size at a time, in inventory order */
	for (int i = 1, k = 0; i < f->nr_hosts; i++) {
		if (f->hosts[i].batch >= 0)
			continue;
		if (k == 0)
			nb++;
		order[n++] = i;
		batch_of[i] = nb - 1;
		k = (k + 1) % (int)(f->batch_size ? f->batch_size : 1);
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
	struct fleet_vm *v;

	if (!f->vms)
		f->vms = calloc(FLEET_MAX_VMS, sizeof(*f->vms));
	if (!f->vms)
		return -ENOMEM;
	if (f->nr_vms == FLEET_MAX_VMS)
		return -E2BIG;
	v = &f->vms[f->nr_vms];
	memset(v, 0, sizeof(*v));
	snprintf(v->uuid, sizeof(v->uuid), "%s", uuid);
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->home = v->host = host;
	v->dest = -1;
	v->mem_kib = mem_kib;
	return f->nr_vms++;
}

/* What a VM costs a destination: its memory and QEMU's overhead (64 MiB). */
static uint64_t vm_need_kib(const struct fleet_vm *v)
{
	return v->mem_kib + 64 * 1024;
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
		f->hosts[h].planned_kib = 0;
	for (int i = 0; i < f->nr_vms; i++) {
		struct fleet_vm *v = &f->vms[i];
		int best = -1;
		bool cpu_refused = false;

		if (v->host < 0 || batch_of[v->host] != batch)
			continue;
		v->dest = -1;
		for (int h = 0; h < f->nr_hosts; h++) {
			const struct fleet_host *d = &f->hosts[h];

			if (batch_of[h] == batch || !d->reachable || d->status == HOST_FAILED)
				continue;
			if (room_kib(f, h) < (int64_t)vm_need_kib(v))
				continue;
			if (cpu_ok && !cpu_ok(f, i, h)) {
				cpu_refused = true;
				continue;
			}
			if (best < 0 || room_kib(f, h) > room_kib(f, best))
				best = h;
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
	}
	return unplaced;
}
