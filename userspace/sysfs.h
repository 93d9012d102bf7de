/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Files of the host: sysfs, procfs, debugfs, /dev and /lib/modules, each under a root that
 * tests can move with an environment variable. Every function returns -errno on error.
 */
#ifndef EKVM_SYSFS_H
#define EKVM_SYSFS_H

#include <stddef.h>
#include <stdint.h>

enum ekvm_root {
	ROOT_SYS, /* $EKVM_SYSFS_ROOT or /sys */
	ROOT_PROC, /* $EKVM_PROC_ROOT or /proc */
	ROOT_DEBUGFS, /* $EKVM_DEBUGFS_ROOT or /sys/kernel/debug */
	ROOT_DEV, /* $EKVM_DEV_ROOT or /dev */
	ROOT_MODULES, /* $EKVM_MODULES_ROOT or /lib/modules */
	ROOT_DKMS, /* $EKVM_DKMS_ROOT or /var/lib/dkms */
	ROOT_EKVM_DKMS, /* $EKVM_DKMS_STATE_ROOT or /var/lib/ekvm-dkms (the kernel hook's notes) */
	NR_ROOTS,
};

const char *root_dir(enum ekvm_root root);

/*
 * A KVM instance (docs/multi-kvm.md) is kvm.ko and the vendor module in one module of its own
 * name, kvm_ekvm_<version>_<release>, with an ekvm/ folder. When no kvm module is loaded, the
 * tool reads as KVM the base module's active instance (instances.h), or else the one instance
 * loaded: root_path() maps ROOT_SYS "module/kvm", "module/kvm_amd" and ROOT_DEBUGFS "kvm" (and
 * what is below them) to its folders. kvm_instance() writes its name to buf and returns 1, or
 * "" and the number of instances loaded (0, or 2 and more with none active: then nothing is
 * mapped).
 */
int kvm_instance(char *buf, size_t size);

/* buf = <root>/<rel> (with the instance mapping above); -ENAMETOOLONG when it does not fit. */
int root_path(char *buf, size_t size, enum ekvm_root root, const char *rel);

/*
 * Reads a small file whole (until EOF, however many reads that takes) into buf, NUL-ended;
 * strips one trailing newline. Returns the length; -EFBIG when the file does not fit in
 * size - 1 bytes (buf then holds its start: nothing is cut silently), else -errno and "".
 * read_fd() is the same on an open file.
 */
int read_file(const char *path, char *buf, size_t size);
int read_fd(int fd, char *buf, size_t size);
int read_root_file(enum ekvm_root root, const char *rel, char *buf, size_t size);

/* A file holding one unsigned decimal number: -EINVAL, -ERANGE or -EFBIG when it does not. */
int read_root_u64(enum ekvm_root root, const char *rel, uint64_t *val);

/*
 * The names in folder <root>/<rel> but "." and "..", sorted, joined by spaces into buf (cut
 * short when it does not fit). Returns how many there are.
 */
int read_root_dir(enum ekvm_root root, const char *rel, char *buf, size_t size);

/* 0 when <root>/<rel> exists, else -errno. */
int root_exists(enum ekvm_root root, const char *rel);

/* Reads a whole (binary) file into a malloc'ed buffer. Returns the length. */
long read_whole_file(const char *path, unsigned char **data, size_t max);

#endif
