/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The enterprise features of a loaded ekvm (ekvm ABI 2) as sysfs shows them: the maintenance
 * drain and the live VM and vCPU counts in /sys/module/kvm/ekvm/, the per-user limits, the
 * audit log and the exit histograms as kvm module parameters. No printing, -errno on error.
 * An older ekvm (ABI 1) or a stock KVM has none of these files: each value says -ENOENT.
 */
#ifndef EKVM_EKVMFEAT_H
#define EKVM_EKVMFEAT_H

#include <stdbool.h>

#define FEAT_DRAIN "module/kvm/ekvm/drain"
#define FEAT_VMS "module/kvm/ekvm/vms"
#define FEAT_VCPUS "module/kvm/ekvm/vcpus"
#define FEAT_MAX_VMS "module/kvm/parameters/ekvm_max_vms_per_user"
#define FEAT_MAX_VCPUS "module/kvm/parameters/ekvm_max_vcpus_per_user"
#define FEAT_AUDIT_LOG "module/kvm/parameters/ekvm_audit_log"
#define FEAT_EXIT_HIST "module/kvm/parameters/ekvm_exit_hist"
#define FEAT_EXIT_HIST_PERIOD "module/kvm/parameters/ekvm_exit_hist_period" /* ABI 6 */

/* Each value is >= 0, or -errno when its file cannot be read or parsed. */
struct ekvm_feat {
	bool kvm_loaded; /* /sys/module/kvm exists */
	bool ekvm; /* /sys/module/kvm/ekvm exists */
	int drain; /* 1 on, 0 off */
	long long vms, vcpus; /* live VMs and vCPUs on the host */
	long long max_vms, max_vcpus; /* per-user limits; 0 is unlimited */
	int audit_log, exit_hist; /* bool parameters: 1 Y, 0 N */
	long long exit_hist_period; /* one exit in this many is recorded (ABI 6) */
};

void feat_read(struct ekvm_feat *f);

/* Reads one feature file: a decimal count (vms, vcpus, limits) or a bool (Y/N, 1/0). */
long long feat_read_count(const char *rel);
int feat_read_bool(const char *rel);

/* Writes "1" or "0" to the drain attribute and reads it back: 0 when it took, else -errno. */
int feat_write_drain(bool on);

/* Parses "Y", "N", "1", "0" (one trailing newline allowed): 1, 0 or -EINVAL. */
int feat_parse_bool(const char *s);

#endif
