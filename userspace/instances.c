// SPDX-License-Identifier: GPL-2.0-only
/* The KVM instances behind the base module, from its parameters and their ekvm/ folders. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "instances.h"
#include "sysfs.h"

bool instance_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > 55)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '_'))
			return false;
	return true;
}

int instances_active(char *buf, size_t size)
{
	int r = read_root_file(ROOT_SYS, VAC_ACTIVE, buf, size);

	if (r < 0)
		buf[0] = 0;
	return r;
}

static long long read_count(const char *name, const char *attr)
{
	char rel[128];
	uint64_t v;

	snprintf(rel, sizeof(rel), "module/%s/ekvm/%s", name, attr);
	return read_root_u64(ROOT_SYS, rel, &v) < 0 || v > (uint64_t)INT64_MAX ? -1 : (long long)v;
}

int instances_read(struct kvm_instance_info *list, int max)
{
	char names[MAX_INSTANCES * 64 + 64], active[64];
	char *save, *p;
	int n = 0, r;

	r = read_root_file(ROOT_SYS, VAC_INSTANCES, names, sizeof(names));
	if (r < 0)
		return r;
	instances_active(active, sizeof(active));
	for (p = strtok_r(names, "\n", &save); p && n < max; p = strtok_r(NULL, "\n", &save)) {
		struct kvm_instance_info *i = &list[n];
		char rel[128];

		if (!instance_name_ok(p))
			continue;
		memset(i, 0, sizeof(*i));
		snprintf(i->name, sizeof(i->name), "%s", p);
		snprintf(rel, sizeof(rel), "module/%s/ekvm/version", p);
		if (read_root_file(ROOT_SYS, rel, i->version, sizeof(i->version)) < 0)
			i->version[0] = 0;
		i->vms = read_count(p, "vms");
		i->vcpus = read_count(p, "vcpus");
		i->active = !strcmp(p, active);
		n++;
	}
	return n;
}

int instances_activate(const char *name)
{
	char path[4096], now[64], line[80];
	int fd, r, len;
	ssize_t w;

	if (strcmp(name, "none") && !instance_name_ok(name))
		return -EINVAL;
	r = root_path(path, sizeof(path), ROOT_SYS, VAC_ACTIVE);
	if (r)
		return r;
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(line, sizeof(line), "%s\n", name);
	w = write(fd, line, (size_t)len);
	r = w < 0 ? -errno : w != len ? -EIO : 0;
	if (close(fd) && !r)
		r = -errno;
	if (r)
		return r;
	r = instances_active(now, sizeof(now));
	if (r < 0)
		return r;
	return strcmp(now, name) ? -EAGAIN : 0;
}
