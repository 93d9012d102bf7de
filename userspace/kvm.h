/* SPDX-License-Identifier: GPL-2.0-only */
/* /dev/kvm: opening it and asking it questions. Every function returns -errno on error. */
#ifndef EKVM_KVM_H
#define EKVM_KVM_H

/* The KVM device: $EKVM_DEV_KVM, else $EKVM_DEV_ROOT/kvm, else /dev/kvm. */
const char *kvm_dev_path(void);

/* Opens the KVM device and checks it speaks KVM API 12 (-ENOTTY when it is not KVM). */
int kvm_open(void);

/* What to tell the user about a failure of kvm_open(), or NULL. */
const char *kvm_open_hint(int err);

/* KVM_CHECK_EXTENSION: >= 0, or -errno. */
int kvm_check_extension(int fd, unsigned long cap);

/* The ekvm ABI level of the loaded KVM (KVM_CAP_EKVM): 0 for stock KVM. */
int kvm_ekvm_abi(int kvm_fd);

#endif
