/* SPDX-License-Identifier: GPL-2.0-only */
/* Parsing of command-line values and kernel text; 0 or -errno (-EINVAL, -ERANGE). */
#ifndef EKVM_PARSE_H
#define EKVM_PARSE_H

#include <stddef.h>

/* A decimal unsigned number with nothing around it, at most max. */
int parse_u64(const char *s, unsigned long long max, unsigned long long *val);

/* Seconds as "2", "0.5" or "0.025" (milliseconds resolution, at most one hour). */
int parse_seconds(const char *s, unsigned int *ms);

/* "<pid>-<fd>", the name of a per-VM debugfs folder. */
int parse_vm_dir(const char *name, unsigned int *pid, unsigned int *fd);

/* Whether the space-separated word list (e.g. a cpuinfo flags line) holds word. */
int has_word(const char *list, const char *word);

#endif
