/* SPDX-License-Identifier: GPL-2.0-only */
/* Running another program (modprobe, insmod, rmmod: found in PATH) and waiting for it. */
#ifndef EKVM_RUNPROG_H
#define EKVM_RUNPROG_H

#include <stddef.h>

/*
 * Runs argv[0] (searched in PATH) with argv, its output left to ours. Returns 0 when it exits
 * with 0; 1 with "'<argv[0]> <argv[1]>' failed (exit N)" in err when it fails; -errno with
 * the reason in err when it cannot run.
 */
int spawn_wait(char *const argv[], char *err, size_t size);

#endif
