/* SPDX-License-Identifier: GPL-2.0-only */
/* Parsing of command-line values and kernel text; 0 or -errno (-EINVAL, -ERANGE). */
#ifndef EKVM_PARSE_H
#define EKVM_PARSE_H

#include <stddef.h>

/* A decimal unsigned number with nothing around it, at most max. */
int parse_u64(const char *s, unsigned long long max, unsigned long long *val);

/* Seconds as "2", "0.5" or "0.025" (milliseconds resolution, at most one hour). */
int parse_seconds(const char *s, unsigned int *ms);

/* Seconds as parse_seconds(), up to max_s (any size) with milliseconds resolution. */
int parse_seconds_max(const char *s, unsigned long long max_s, unsigned long long *ms);

/* "<pid>-<fd>", the name of a per-VM debugfs folder. */
int parse_vm_dir(const char *name, unsigned int *pid, unsigned int *fd);

/* Whether the space-separated word list (e.g. a cpuinfo flags line) holds word. */
int has_word(const char *list, const char *word);

/*
 * The guest name in a QEMU command line (/proc/PID/cmdline: len bytes of NUL-terminated
 * arguments), as kvm_stat -g finds it: the value of -name (or --name) split at commas (",,"
 * is a comma), "guest=NAME", a part without '=' winning. "" when there is none.
 */
void qemu_guest_name(const char *cmdline, size_t len, char *name, size_t size);

/*
 * The processes under proc_dir (/proc) whose guest name is name: returns how many (the first
 * max found in /proc's order, in pids, ascending) or -errno when proc_dir cannot be read.
 */
int find_guest_pids(const char *proc_dir, const char *name, unsigned int *pids, int max);

/* cmd-stat.c: kvm_stat's -g: the one pid of guest name, or an exit code after saying why. */
struct ekvm_ctx;
int stat_guest_pid(const struct ekvm_ctx *ctx, const char *name, unsigned int *pid);
/* stat -p: 0, or (after one line on stderr) exit 2 for a pid that does not exist or a thread */
int stat_check_pid(const struct ekvm_ctx *ctx, unsigned int pid);

#endif
