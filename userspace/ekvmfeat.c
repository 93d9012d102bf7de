// SPDX-License-Identifier: GPL-2.0-only
/* The ekvm features in sysfs (ekvmfeat.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "ekvmfeat.h"
#include "parse.h"
#include "sysfs.h"

/* Far above any count or limit the kernel shows (limits stop at 1048576). */
#define FEAT_COUNT_MAX (1ULL << 40)

int feat_parse_bool(const char *s)
{
	size_t len = strcspn(s, "\n");

	if (len != 1 || (s[1] && strcmp(s + 1, "\n")))
		return -EINVAL;
	if (s[0] == 'Y' || s[0] == '1')
		return 1;
	if (s[0] == 'N' || s[0] == '0')
		return 0;
	return -EINVAL;
}

long long feat_read_count(const char *rel)
{
	uint64_t v;
	int r = read_root_u64(ROOT_SYS, rel, &v);

	if (r < 0)
		return r;
	return v > FEAT_COUNT_MAX ? -ERANGE : (long long)v;
}

int feat_read_bool(const char *rel)
{
	char buf[8];
	int r = read_root_file(ROOT_SYS, rel, buf, sizeof(buf));

	return r < 0 ? r : feat_parse_bool(buf);
}

void feat_read(struct ekvm_feat *f)
{
	memset(f, 0, sizeof(*f));
	f->kvm_loaded = root_exists(ROOT_SYS, "module/kvm") == 0;
	f->ekvm = root_exists(ROOT_SYS, "module/kvm/ekvm") == 0;
	f->drain = feat_read_bool(FEAT_DRAIN);
	f->vms = feat_read_count(FEAT_VMS);
	f->vcpus = feat_read_count(FEAT_VCPUS);
	f->max_vms = feat_read_count(FEAT_MAX_VMS);
	f->max_vcpus = feat_read_count(FEAT_MAX_VCPUS);
	f->audit_log = feat_read_bool(FEAT_AUDIT_LOG);
	f->exit_hist = feat_read_bool(FEAT_EXIT_HIST);
	f->exit_hist_period = feat_read_count(FEAT_EXIT_HIST_PERIOD);
}

int feat_write_drain(bool on)
{
	char path[4096];
	const char *val = on ? "1\n" : "0\n";
	ssize_t n;
	int fd, r = root_path(path, sizeof(path), ROOT_SYS, FEAT_DRAIN);

	if (r)
		return r;
	/* no O_CREAT: the attribute must exist; O_TRUNC is what a shell's '>' does */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, 2);
	r = n < 0 ? -errno : n != 2 ? -EIO : 0;
	if (close(fd) && !r)
		r = -errno;
	if (r)
		return r;
	r = feat_read_bool(FEAT_DRAIN);
	if (r < 0)
		return r;
	return r == on ? 0 : -EAGAIN;
}
