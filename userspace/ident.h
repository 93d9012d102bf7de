/* SPDX-License-Identifier: GPL-2.0-only */
/* Which KVM is loaded now: stock or ekvm, its version (sysfs) and ABI (/dev/kvm). */
#ifndef EKVM_IDENT_H
#define EKVM_IDENT_H

#include <stdbool.h>

struct kvm_ident {
	bool loaded; /* /sys/module/kvm exists (or a KVM instance's folder: sysfs.h) */
	char instance[64]; /* the KVM instance read as KVM (kvm_instance()), or "" */
	bool builtin; /* ... and has no initstate: built into the kernel */
	bool ekvm; /* /sys/module/kvm/ekvm exists, or KVM_CAP_EKVM > 0 */
	char vendor[32]; /* kvm_intel, kvm_amd, kvm_pvm, ... or "" */
	char version[64]; /* ekvm/version, else the module's version file, else "" */
	char base[64], release[32];
	int sysfs_abi; /* ekvm/abi, or -1 */
	char series[4096]; /* ekvm/series: one patch a line */
	int dev_err; /* 0, or the errno of opening /dev/kvm */
	int cap_ekvm; /* KVM_CHECK_EXTENSION(KVM_CAP_EKVM), or -errno */
};

/* Fills the sysfs part of id only (no /dev/kvm). */
void ident_read_sysfs(struct kvm_ident *id);

/* Fills id; kvm_fd < 0 opens the KVM device itself. Returns 0 (every failure is in id). */
int ident_read(struct kvm_ident *id, int kvm_fd);

/* "ekvm", "stock" or "none" */
const char *ident_flavour(const struct kvm_ident *id);

/* The ABI level of the loaded KVM: the capability, else sysfs, else 0 for stock; -1 if none. */
int ident_abi(const struct kvm_ident *id);

#endif
