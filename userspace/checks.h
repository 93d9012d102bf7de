/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Host checks for `ekvm validate`, in the style of libvirt's virt-host-validate. Each
 * check_*() appends results to a list; nothing is printed here.
 */
#ifndef EKVM_CHECKS_H
#define EKVM_CHECKS_H

enum check_result { CHECK_PASS, CHECK_WARN, CHECK_FAIL, CHECK_NA };

struct check {
	char key[48]; /* stable snake_case name */
	char what[96]; /* "Checking ..." without the word Checking */
	enum check_result result;
	char note[256]; /* the hint (WARN, FAIL) or a detail (PASS, N/A), or "" */
};

#define MAX_CHECKS 48

struct checks {
	struct check items[MAX_CHECKS];
	int n;
};

const char *check_result_name(enum check_result r);

/* Adds a check with its result; note is a printf format (may be NULL). */
void check_add(struct checks *c, const char *key, const char *what, enum check_result r,
	       const char *note, ...) __attribute__((format(printf, 5, 6)));

void check_cpu(struct checks *c);
void check_kvm(struct checks *c); /* /dev/kvm, module, ABI, the smoke guest */
void check_nested(struct checks *c);
void check_iommu(struct checks *c);
void check_hugepages(struct checks *c);
void check_devices(struct checks *c);
void check_cgroups(struct checks *c);
void check_headers(struct checks *c);
void check_secure_boot(struct checks *c); /* efi.c */

#endif
