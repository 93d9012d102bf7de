/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which module file modprobe would load for an installed kernel, and what modinfo says
 * about it (libkmod). Built with EKVM_NO_KMOD (the static binary), lookups return -ENOSYS.
 */
#ifndef EKVM_MODINFO_H
#define EKVM_MODINFO_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

struct modinfo {
	char path[PATH_MAX]; /* "" when built in */
	const char *origin; /* "updates", "distro", "extra", "builtin" or "other" */
	char version[64]; /* modinfo version, "" when none */
	bool is_signed;
	char signer[256], sig_key[128], sig_hashalgo[32];
};

/* Looks module up for kernel kver under the modules root: -ENOENT when there is none. */
int modinfo_lookup(const char *kver, const char *module, struct modinfo *mi);

/* Whether lookups are available in this build. */
bool modinfo_available(void);

/*
 * Why ekvm-dkms gave kernel kver no ekvm modules (no KVM tree for it, or its build failed), as
 * the kernel hook noted it in /var/lib/ekvm-dkms/skipped/<kver>: one line, control characters
 * shown as '?', without the hook's "ekvm: " prefix. Returns its length, -ENOENT when there is no
 * note (ekvm covers the kernel, or ekvm-dkms is not installed), else -errno.
 */
int modinfo_skip_note(const char *kver, char *buf, size_t size);

/* The origin of a module file from its path below /lib/modules/<kver>/. */
const char *modinfo_origin(const char *path);

#endif
