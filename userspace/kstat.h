/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * KVM statistics from debugfs (<debugfs>/kvm): one file a statistic with the total over all
 * VMs, and a <pid>-<fd> folder a VM with the same files. No printing, -errno on error.
 *
 * The files are not seekable (a value is computed at open), so each sample opens, reads and
 * closes them; an open per-VM file would also hold a reference on its VM. A statistic that
 * cannot be opened (e.g. EPERM: kernel lockdown hides writable debugfs files) is found once,
 * at kstat_open(), and not tried again, neither in total nor per VM.
 */
#ifndef EKVM_KSTAT_H
#define EKVM_KSTAT_H

#include <stdbool.h>
#include <stdint.h>

struct kstat_vm {
	unsigned int pid, fd;
	uint64_t *vals;
	bool *ok;
};

struct kstat {
	int dirfd;
	int n; /* statistics */
	char **names; /* sorted */
	int *err; /* errno of an unreadable statistic, else 0 */
	uint64_t *vals; /* totals (or, with a pid filter, the sum over its VMs) */
	bool *ok;
	int nvms;
	struct kstat_vm *vms;
	double time; /* CLOCK_MONOTONIC seconds of the sample */
	char bad_file[320]; /* a malformed value: its file, under <debugfs>/kvm */
	char bad_value[64]; /* ... and what it holds (cut at 63 bytes) */
};

/* Opens <debugfs>/kvm and lists its statistics. */
int kstat_open(struct kstat *k);
void kstat_close(struct kstat *k);

/*
 * Samples the totals and lists the VMs; with per_vm also reads every VM's values. With
 * pid > 0 only that process's VMs are read, and the totals are their sums. A file that
 * does not hold one number (read whole) fails the sample with -EBADMSG: kstat_bad() names
 * it. (A file that cannot be read is a value missing, not an error: see err and ok.)
 */
int kstat_sample(struct kstat *k, bool per_vm, unsigned int pid);

/*
 * After -EBADMSG: the malformed file, relative to <debugfs>/kvm (e.g. "exits" or
 * "1234-11/exits"), and in *value what it holds, raw (escape it to print it). Else NULL.
 */
const char *kstat_bad(const struct kstat *k, const char **value);

/* Statistics that could not be read, and the errno of the first one. */
int kstat_unreadable(const struct kstat *k, int *err);

/* Whether debugfs is mounted at its root (-errno when it cannot be told). */
int kstat_debugfs_mounted(void);
int kstat_mount_debugfs(void);

/* Parses the content of a statistic file: one unsigned number. */
int kstat_parse_value(const char *buf, uint64_t *val);

#endif
