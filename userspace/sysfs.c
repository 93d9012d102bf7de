// SPDX-License-Identifier: GPL-2.0-only
/* Host files under overridable roots: no printing, -errno on error. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instances.h"
#include "parse.h"
#include "sysfs.h"

static const struct {
	const char *env;
	const char *dflt;
} roots[NR_ROOTS] = {
	[ROOT_SYS] = { "EKVM_SYSFS_ROOT", "/sys" },
	[ROOT_PROC] = { "EKVM_PROC_ROOT", "/proc" },
	[ROOT_DEBUGFS] = { "EKVM_DEBUGFS_ROOT", "/sys/kernel/debug" },
	[ROOT_DEV] = { "EKVM_DEV_ROOT", "/dev" },
	[ROOT_MODULES] = { "EKVM_MODULES_ROOT", "/lib/modules" },
	[ROOT_DKMS] = { "EKVM_DKMS_ROOT", "/var/lib/dkms" },
	[ROOT_EKVM_DKMS] = { "EKVM_DKMS_STATE_ROOT", "/var/lib/ekvm-dkms" },
};

const char *root_dir(enum ekvm_root root)
{
	const char *p = getenv(roots[root].env);

	return p && *p ? p : roots[root].dflt;
}

int kvm_instance(char *buf, size_t size)
{
	const char *sys = root_dir(ROOT_SYS);
	char path[4096], active[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	buf[0] = 0;
	snprintf(path, sizeof(path), "%s/module/kvm", sys);
	if (!access(path, F_OK))
		return 0;
	/* the base's active instance: the one new VMs go to */
	snprintf(path, sizeof(path), "%s/" VAC_ACTIVE, sys);
	if (read_file(path, active, sizeof(active)) > 0 && instance_name_ok(active) &&
	    strlen(active) < size) {
		snprintf(path, sizeof(path), "%s/module/%s/ekvm", sys, active);
		if (!access(path, F_OK)) {
			strcpy(buf, active);
			return 1;
		}
	}
	snprintf(path, sizeof(path), "%s/module", sys);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "kvm_ekvm_", 9))
			continue;
		snprintf(path, sizeof(path), "%s/module/%s/ekvm", sys, e->d_name);
		if (access(path, F_OK))
			continue;
		if (!n++ && strlen(e->d_name) < size)
			strcpy(buf, e->d_name);
	}
	closedir(d);
	if (n != 1)
		buf[0] = 0;
	return buf[0] ? 1 : n;
}

/* What follows PREFIX in REL when REL is PREFIX or PREFIX/..., else NULL. */
static const char *below(const char *rel, const char *prefix)
{
	size_t len = strlen(prefix);

	return !strncmp(rel, prefix, len) && (!rel[len] || rel[len] == '/') ? rel + len : NULL;
}

int root_path(char *buf, size_t size, enum ekvm_root root, const char *rel)
{
	const char *tail = NULL, *dir = "";
	char inst[64];
	int n;

	if (root == ROOT_SYS) {
		dir = "module/";
		tail = below(rel, "module/kvm");
		if (!tail)
			tail = below(rel, "module/kvm_amd");
	} else if (root == ROOT_DEBUGFS) {
		tail = below(rel, "kvm");
	}
	if (tail && kvm_instance(inst, sizeof(inst)) == 1)
		n = snprintf(buf, size, "%s/%s%s%s", root_dir(root), dir, inst, tail);
	else
		n = snprintf(buf, size, "%s/%s", root_dir(root), rel);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int read_fd(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n = 1;
	char extra;

	buf[0] = 0;
	/* until EOF: a pipe, a FIFO or a seq_file can return a file in several reads */
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		len += (size_t)n;
	}
	buf[len] = 0;
	/* full: only the trailing newline (stripped anyway) may be left */
	for (int i = 0; n != 0 && i < 2; i++) {
		while ((n = read(fd, &extra, 1)) < 0 && errno == EINTR)
			;
		if (n < 0)
			return -errno;
		if (n > 0 && (extra != '\n' || i > 0))
			return -EFBIG;
	}
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = 0;
	return (int)len;
}

int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0) {
		buf[0] = 0;
		return -errno;
	}
	r = read_fd(fd, buf, size);
	close(fd);
	if (r < 0 && r != -EFBIG)
		buf[0] = 0;
	return r;
}

int read_root_file(enum ekvm_root root, const char *rel, char *buf, size_t size)
{
	char path[4096];
	int r = root_path(path, sizeof(path), root, rel);

	return r ? r : read_file(path, buf, size);
}

int read_root_u64(enum ekvm_root root, const char *rel, uint64_t *val)
{
	char buf[64];
	unsigned long long v;
	int r = read_root_file(root, rel, buf, sizeof(buf));

	if (r < 0)
		return r;
	r = parse_u64(buf, UINT64_MAX, &v);
	if (r)
		return r;
	*val = v;
	return 0;
}

int read_root_dir(enum ekvm_root root, const char *rel, char *buf, size_t size)
{
	char path[4096];
	struct dirent **names;
	size_t len = 0;
	int n, i, r = root_path(path, sizeof(path), root, rel);

	if (r)
		return r;
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0)
		return -errno;
	buf[0] = 0;
	for (i = 0, r = 0; i < n; i++) {
		const char *d = names[i]->d_name;

		if (strcmp(d, ".") && strcmp(d, "..")) {
			r++;
			if (len < size)
				len += (size_t)snprintf(buf + len, size - len, "%s%s",
							len ? " " : "", d);
		}
		free(names[i]);
	}
	free(names);
	return r;
}

int root_exists(enum ekvm_root root, const char *rel)
{
	char path[4096];
	int r = root_path(path, sizeof(path), root, rel);

	if (r)
		return r;
	return access(path, F_OK) ? -errno : 0;
}

long read_whole_file(const char *path, unsigned char **data, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char *buf;
	size_t len = 0;
	ssize_t n = 0;

	if (fd < 0)
		return -errno;
	buf = malloc(max);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (len < max && (n = read(fd, buf + len, max - len)) > 0)
		len += (size_t)n;
	if (n < 0) {
		int err = errno;

		free(buf);
		close(fd);
		return -err;
	}
	close(fd);
	*data = buf;
	return (long)len;
}
