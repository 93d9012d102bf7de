/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The ekvm ABI as the tool sees it: a copy of the two constants of the series'
 * uapi header include/uapi/linux/ekvm.h (patches/6.1/0001-KVM-ekvm-report-the-ekvm-
 * version-base-and-series.patch). That header exists only in the patched kernel tree,
 * so the tool keeps its own copy; the two must stay equal (checked by the top-level build).
 */
#ifndef EKVM_ABI_H
#define EKVM_ABI_H

/* KVM_CHECK_EXTENSION(KVM_CAP_EKVM): the ekvm ABI level; stock KVM returns 0. */
#define KVM_CAP_EKVM 0x454b564d /* "EKVM" */

/* The ekvm ABI level this tool is built for. */
#define EKVM_ABI_LEVEL 6

#endif /* EKVM_ABI_H */
