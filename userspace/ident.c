// SPDX-License-Identifier: GPL-2.0-only
/* The identity of the loaded KVM, from /sys/module and /dev/kvm. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ident.h"
#include "kvm.h"
#include "sysfs.h"

static const char *const vendors[] = { "kvm_intel", "kvm_amd", "kvm_pvm" };

static void read_ekvm_sysfs(struct kvm_ident *id)
{
	char buf[32];

	id->ekvm = true;
	read_root_file(ROOT_SYS, "module/kvm/ekvm/version", id->version, sizeof(id->version));
	read_root_file(ROOT_SYS, "module/kvm/ekvm/base", id->base, sizeof(id->base));
	read_root_file(ROOT_SYS, "module/kvm/ekvm/release", id->release, sizeof(id->release));
	read_root_file(ROOT_SYS, "module/kvm/ekvm/series", id->series, sizeof(id->series));
	if (read_root_file(ROOT_SYS, "module/kvm/ekvm/abi", buf, sizeof(buf)) > 0)
		sscanf(buf, "%d", &id->sysfs_abi);
}

void ident_read_sysfs(struct kvm_ident *id)
{
	memset(id, 0, sizeof(*id));
	id->sysfs_abi = -1;
	if (root_exists(ROOT_SYS, "module/kvm"))
		return;
	id->loaded = true;
	kvm_instance(id->instance, sizeof(id->instance));
	id->builtin = root_exists(ROOT_SYS, "module/kvm/initstate") != 0;
	for (size_t i = 0; i < sizeof(vendors) / sizeof(vendors[0]); i++) {
		char rel[64];

		snprintf(rel, sizeof(rel), "module/%s", vendors[i]);
		if (!root_exists(ROOT_SYS, rel)) {
			snprintf(id->vendor, sizeof(id->vendor), "%s", vendors[i]);
			break;
		}
	}
	if (id->instance[0])
		id->vendor[0] = 0; /* an instance has no vendor module: it is one */
	if (!root_exists(ROOT_SYS, "module/kvm/ekvm"))
		read_ekvm_sysfs(id);
	else
		read_root_file(ROOT_SYS, "module/kvm/version", id->version, sizeof(id->version));
}

int ident_read(struct kvm_ident *id, int kvm_fd)
{
	int fd = kvm_fd;

	ident_read_sysfs(id);
	if (fd < 0)
		fd = kvm_open();
	if (fd < 0) {
		id->dev_err = -fd;
		id->cap_ekvm = fd;
		return 0;
	}
	id->cap_ekvm = kvm_ekvm_abi(fd);
	if (id->cap_ekvm > 0)
		id->ekvm = true;
	if (fd != kvm_fd)
		close(fd);
	return 0;
}

const char *ident_flavour(const struct kvm_ident *id)
{
	if (id->ekvm)
		return "ekvm";
	return id->loaded || id->cap_ekvm >= 0 ? "stock" : "none";
}

int ident_abi(const struct kvm_ident *id)
{
	if (id->cap_ekvm >= 0)
		return id->cap_ekvm;
	if (id->sysfs_abi >= 0)
		return id->sysfs_abi;
	return id->loaded ? (id->ekvm ? -1 : 0) : -1;
}
