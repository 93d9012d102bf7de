/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The KVM instances behind the base module ekvm_vac (docs/multi-kvm.md): which are loaded,
 * which one new opens of /dev/kvm reach (the active one), and their VMs; switching the active
 * one. Files under EKVM_SYSFS_ROOT (sysfs.h); no printing, -errno on error.
 */
#ifndef EKVM_INSTANCES_H
#define EKVM_INSTANCES_H

#include <stdbool.h>
#include <stddef.h>

#define VAC_MODULE "ekvm_vac"
#define VAC_INSTANCES "module/ekvm_vac/parameters/instances"
#define VAC_ACTIVE "module/ekvm_vac/parameters/active"
#define MAX_INSTANCES 16

struct kvm_instance_info {
	char name[64];
	char version[64]; /* ekvm/version, or "" */
	long long vms, vcpus; /* ekvm/vms and ekvm/vcpus, or -1 */
	bool active;
};

/* Whether NAME can be a module's name (an instance's): [a-z0-9_], at most 55 characters. */
bool instance_name_ok(const char *name);

/*
 * The base's active instance into buf: a name, "none", or "" when the base is not loaded
 * (-ENOENT). Returns the length or -errno.
 */
int instances_active(char *buf, size_t size);

/*
 * The loaded instances, in the order they loaded, at most max: how many, or -ENOENT when the
 * base module is not loaded.
 */
int instances_read(struct kvm_instance_info *list, int max);

/*
 * Makes NAME (or "none") the active instance (root): -ENOENT when the base has no such
 * instance, -EINVAL for a name that cannot be one.
 */
int instances_activate(const char *name);

#endif
