// SPDX-License-Identifier: GPL-2.0-only
/* KVM statistics from debugfs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "kstat.h"
#include "parse.h"
#include "sysfs.h"

#define DEBUGFS_MAGIC 0x64626720

int kstat_parse_value(const char *buf, uint64_t *val)
{
	unsigned long long v;
	char num[32];
	size_t len = strcspn(buf, "\n");

	if (len == 0 || len >= sizeof(num) || buf[len + (buf[len] != 0)] != 0)
		return -EINVAL;
	memcpy(num, buf, len);
	num[len] = 0;
	if (parse_u64(num, UINT64_MAX, &v))
		return -EINVAL;
	*val = v;
	return 0;
}

/* The file whole (sysfs.c's read_fd); what is not one number is -EBADMSG. */
static int read_value_fd(int fd, uint64_t *val, char *buf, size_t size)
{
	int r = read_fd(fd, buf, size);

	if (r == -EFBIG)
		return -EBADMSG;
	if (r < 0)
		return r;
	return kstat_parse_value(buf, val) ? -EBADMSG : 0;
}

/* A value that is not a number is remembered (kstat_bad()) and fails the sample. */
static int read_value_at(struct kstat *k, int dirfd, const char *dir, const char *name,
			 uint64_t *val)
{
	char buf[64];
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = read_value_fd(fd, val, buf, sizeof(buf));
	close(fd);
	if (r == -EBADMSG) {
		snprintf(k->bad_file, sizeof(k->bad_file), "%s%s%s", dir ? dir : "", dir ? "/" : "",
			 name);
		snprintf(k->bad_value, sizeof(k->bad_value), "%s", buf);
	}
	return r;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_stats(struct kstat *k)
{
	DIR *dir = fdopendir(dup(k->dirfd));
	struct dirent *d;
	int cap = 0;

	if (!dir)
		return -errno;
	rewinddir(dir); /* the dup shares the offset */
	while ((d = readdir(dir))) {
		if (d->d_type != DT_REG && d->d_type != DT_UNKNOWN)
			continue;
		if (d->d_name[0] == '.' || (d->d_type == DT_UNKNOWN && strchr(d->d_name, '-')))
			continue;
		if (k->n == cap) {
			char **names =
				realloc(k->names, sizeof(char *) * (size_t)(cap = cap * 2 + 64));

			if (!names) {
				closedir(dir);
				return -ENOMEM;
			}
			k->names = names;
		}
		if (!(k->names[k->n] = strdup(d->d_name))) {
			closedir(dir);
			return -ENOMEM;
		}
		k->n++;
	}
	closedir(dir);
	qsort(k->names, (size_t)k->n, sizeof(char *), cmp_name);
	return 0;
}

int kstat_open(struct kstat *k)
{
	char path[4096];
	int r;

	memset(k, 0, sizeof(*k));
	k->dirfd = -1;
	r = root_path(path, sizeof(path), ROOT_DEBUGFS, "kvm");
	if (r)
		return r;
	k->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (k->dirfd < 0)
		return -errno;
	r = list_stats(k);
	if (!r) {
		k->err = calloc((size_t)k->n + 1, sizeof(int));
		k->vals = calloc((size_t)k->n + 1, sizeof(uint64_t));
		k->ok = calloc((size_t)k->n + 1, sizeof(bool));
		if (!k->err || !k->vals || !k->ok)
			r = -ENOMEM;
	}
	for (int i = 0; !r && i < k->n; i++) {
		int fd = openat(k->dirfd, k->names[i], O_RDONLY | O_CLOEXEC);

		k->err[i] = fd < 0 ? errno : 0;
		if (fd >= 0)
			close(fd);
	}
	if (r)
		kstat_close(k);
	return r;
}

static void free_vms(struct kstat *k)
{
	for (int i = 0; i < k->nvms; i++) {
		free(k->vms[i].vals);
		free(k->vms[i].ok);
	}
	free(k->vms);
	k->vms = NULL;
	k->nvms = 0;
}

void kstat_close(struct kstat *k)
{
	for (int i = 0; k->names && i < k->n; i++)
		free(k->names[i]);
	free_vms(k);
	free(k->names);
	free(k->err);
	free(k->vals);
	free(k->ok);
	if (k->dirfd >= 0)
		close(k->dirfd);
	memset(k, 0, sizeof(*k));
	k->dirfd = -1;
}

static int sample_vm(struct kstat *k, struct kstat_vm *vm, const char *dirname)
{
	int dfd = openat(k->dirfd, dirname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	vm->vals = calloc((size_t)k->n + 1, sizeof(uint64_t));
	vm->ok = calloc((size_t)k->n + 1, sizeof(bool));
	if (!vm->vals || !vm->ok) {
		if (dfd >= 0)
			close(dfd);
		return -ENOMEM;
	}
	if (dfd < 0)
		return 0; /* the VM went away: no values */
	for (int i = 0; i < k->n; i++) {
		int r = k->err[i] ? -k->err[i]
				  : read_value_at(k, dfd, dirname, k->names[i], &vm->vals[i]);

		if (r == -EBADMSG) {
			close(dfd);
			return r;
		}
		vm->ok[i] = r == 0;
	}
	close(dfd);
	return 0;
}

static int sample_vms(struct kstat *k, unsigned int pid, bool values)
{
	DIR *dir = fdopendir(dup(k->dirfd));
	struct dirent *d;
	int r = 0;

	if (!dir)
		return -errno;
	rewinddir(dir);
	free_vms(k);
	while (!r && (d = readdir(dir))) {
		struct kstat_vm vm = { 0 }, *vms;

		if (parse_vm_dir(d->d_name, &vm.pid, &vm.fd) || (pid && vm.pid != pid))
			continue;
		vms = realloc(k->vms, sizeof(*vms) * (size_t)(k->nvms + 1));
		if (!vms) {
			r = -ENOMEM;
			break;
		}
		k->vms = vms;
		k->vms[k->nvms] = vm;
		if (values)
			r = sample_vm(k, &k->vms[k->nvms], d->d_name);
		k->nvms++;
	}
	closedir(dir);
	return r;
}

int kstat_sample(struct kstat *k, bool per_vm, unsigned int pid)
{
	struct timespec ts;
	int r = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	k->time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	for (int i = 0; i < k->n; i++) {
		k->ok[i] = false;
		if (!k->err[i] && !pid) {
			r = read_value_at(k, k->dirfd, NULL, k->names[i], &k->vals[i]);
			if (r == -EBADMSG)
				return r;
			k->ok[i] = r == 0;
			if (r == -EPERM || r == -EACCES)
				k->err[i] = -r;
		}
	}
	r = sample_vms(k, pid, per_vm || pid);
	if (r || !pid)
		return r;
	for (int i = 0; i < k->n; i++) {
		k->vals[i] = 0;
		k->ok[i] = !k->err[i] && k->nvms > 0;
		for (int v = 0; v < k->nvms; v++) {
			k->vals[i] += k->vms[v].vals[i];
			k->ok[i] &= k->vms[v].ok[i];
		}
	}
	return 0;
}

const char *kstat_bad(const struct kstat *k, const char **value)
{
	if (value)
		*value = k->bad_value;
	return k->bad_file[0] ? k->bad_file : NULL;
}

int kstat_unreadable(const struct kstat *k, int *err)
{
	int n = 0;

	*err = 0;
	for (int i = 0; i < k->n; i++) {
		if (k->err[i] && !n++)
			*err = k->err[i];
	}
	return n;
}

int kstat_debugfs_mounted(void)
{
	struct statfs sf;

	if (statfs(root_dir(ROOT_DEBUGFS), &sf))
		return -errno;
	return sf.f_type == DEBUGFS_MAGIC;
}

int kstat_mount_debugfs(void)
{
	if (kstat_debugfs_mounted() == 1)
		return 0;
	return mount("debugfs", root_dir(ROOT_DEBUGFS), "debugfs", 0, NULL) ? -errno : 0;
}
