/* SPDX-License-Identifier: GPL-2.0-only */
/* The smoke test: run the x86 guest and check each exit it must make. No printing. */
#ifndef EKVM_SMOKE_H
#define EKVM_SMOKE_H

#include <stdbool.h>
#include <stdint.h>

enum smoke_step {
	STEP_REAL_IO,
	STEP_PROT_IO,
	STEP_LONG_IO,
	STEP_MMIO,
	STEP_BENCH,
	STEP_HLT,
	NR_STEPS,
};

struct smoke_report {
	int failed; /* the step that failed, or -1 when all passed */
	int setup_err; /* -errno when the guest could not be created, else 0 */
	char detail[192]; /* what went wrong */
	double total_ms; /* create, run and destroy */
	double run_ms; /* first KVM_RUN to HLT, without the bench loop */
	uint32_t bench_exits;
	double bench_s;
};

/* The step's JSON key and its text description. */
const char *smoke_step_key(enum smoke_step s);
const char *smoke_step_text(enum smoke_step s);

/* Runs the guest; loops > 0 adds the bench loop. Returns 0 (pass), 1 (fail). */
int smoke_run(int kvm_fd, uint32_t loops, struct smoke_report *rep);

#endif
