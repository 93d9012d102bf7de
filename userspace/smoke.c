// SPDX-License-Identifier: GPL-2.0-only
/* The smoke test's checks of the guest's exits (the guest itself is x86-guest.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ekvmfeat.h"
#include "smoke.h"
#include "x86-guest.h"

static const struct {
	const char *key, *text;
} steps[NR_STEPS] = {
	[STEP_REAL_IO] = { "real_mode_io", "real mode I/O exit (port 0x10, 0x16)" },
	[STEP_PROT_IO] = { "protected_mode_io", "protected mode I/O exit (port 0x10, 0x32)" },
	[STEP_LONG_IO] = { "long_mode_io", "long mode I/O exit (port 0x10, 0x454b564d)" },
	[STEP_MMIO] = { "mmio", "MMIO write exit (0x400000, 4 bytes, 0x1234abcd)" },
	[STEP_BENCH] = { "bench_io", "I/O exit loop (port 0x11)" },
	[STEP_HLT] = { "hlt", "HLT exit" },
};

const char *smoke_step_key(enum smoke_step s)
{
	return steps[s].key;
}

const char *smoke_step_text(enum smoke_step s)
{
	return steps[s].text;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void describe_exit(struct kvm_run *run, char *buf, size_t size)
{
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		snprintf(buf, size, "got I/O exit: %s port 0x%x, %u bytes",
			 run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in", run->io.port,
			 run->io.size);
		break;
	case KVM_EXIT_MMIO:
		snprintf(buf, size, "got MMIO exit: %s 0x%llx, %u bytes",
			 run->mmio.is_write ? "write" : "read",
			 (unsigned long long)run->mmio.phys_addr, run->mmio.len);
		break;
	case KVM_EXIT_HLT:
		snprintf(buf, size, "got HLT exit");
		break;
	case KVM_EXIT_SHUTDOWN:
		snprintf(buf, size, "got shutdown exit (triple fault)");
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(buf, size, "VM entry failed: reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(buf, size, "KVM internal error: suberror %u", run->internal.suberror);
		break;
	default:
		snprintf(buf, size, "got exit reason %u", run->exit_reason);
	}
}

/* 0 when the exit is an OUT of size bytes of value to port; else 1 with detail. */
static int check_out(struct kvm_run *run, uint16_t port, uint8_t size, uint32_t value, char *detail,
		     size_t dsize)
{
	uint32_t got = 0;

	if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT ||
	    run->io.port != port || run->io.size != size || run->io.count != 1) {
		describe_exit(run, detail, dsize);
		return 1;
	}
	memcpy(&got, (char *)run + run->io.data_offset, size);
	if (got != value) {
		snprintf(detail, dsize, "wrote 0x%" PRIx32 ", expected 0x%" PRIx32, got, value);
		return 1;
	}
	return 0;
}

static int check_mmio(struct kvm_run *run, char *detail, size_t dsize)
{
	uint32_t got;

	if (run->exit_reason != KVM_EXIT_MMIO || !run->mmio.is_write ||
	    run->mmio.phys_addr != X86_GUEST_MMIO_GPA || run->mmio.len != 4) {
		describe_exit(run, detail, dsize);
		return 1;
	}
	memcpy(&got, run->mmio.data, sizeof(got));
	if (got != X86_GUEST_MMIO_VALUE) {
		snprintf(detail, dsize, "wrote 0x%" PRIx32 ", expected 0x%x", got,
			 X86_GUEST_MMIO_VALUE);
		return 1;
	}
	return 0;
}

/* Runs to the next exit and checks it is step s; 0 pass, 1 fail. */
static int run_step(struct x86_guest *g, enum smoke_step s, struct smoke_report *rep)
{
	size_t n = sizeof(rep->detail);
	bool lm = false;
	int r = x86_guest_run(g);

	if (r < 0) {
		snprintf(rep->detail, n, "KVM_RUN: %s", strerror(-r));
		return 1;
	}
	switch (s) {
	case STEP_REAL_IO:
		return check_out(g->run, X86_GUEST_PORT, 1, X86_GUEST_REAL_VALUE, rep->detail, n);
	case STEP_PROT_IO:
		return check_out(g->run, X86_GUEST_PORT, 1, X86_GUEST_PROT_VALUE, rep->detail, n);
	case STEP_LONG_IO:
		if (check_out(g->run, X86_GUEST_PORT, 4, X86_GUEST_LONG_VALUE, rep->detail, n))
			return 1;
		if ((r = x86_guest_in_long_mode(g, &lm)) || !lm) {
			snprintf(rep->detail, n, "vCPU not in long mode (EFER.LMA, CS.L)%s%s",
				 r ? ": " : "", r ? strerror(-r) : "");
			return 1;
		}
		return 0;
	case STEP_MMIO:
		return check_mmio(g->run, rep->detail, n);
	case STEP_BENCH:
		return check_out(g->run, X86_GUEST_BENCH_PORT, 1, X86_GUEST_LONG_VALUE & 0xff,
				 rep->detail, n);
	default:
		if (g->run->exit_reason == KVM_EXIT_HLT)
			return 0;
		describe_exit(g->run, rep->detail, n);
		return 1;
	}
}

static int run_steps(struct x86_guest *g, uint32_t loops, struct smoke_report *rep)
{
	double t0 = now_ms(), tb = 0;

	for (int s = 0; s < NR_STEPS; s++) {
		if (s == STEP_BENCH) {
			tb = now_ms();
			for (uint32_t i = 0; i < loops; i++)
				if (run_step(g, STEP_BENCH, rep))
					return rep->failed = s, 1;
			tb = now_ms() - tb;
			rep->bench_exits = loops;
			rep->bench_s = tb / 1e3;
			continue;
		}
		if (run_step(g, (enum smoke_step)s, rep))
			return rep->failed = s, 1;
	}
	rep->run_ms = now_ms() - t0 - tb;
	return 0;
}

int smoke_run(int kvm_fd, uint32_t loops, struct smoke_report *rep)
{
	struct x86_guest g;
	double t0 = now_ms();
	int r;

	memset(rep, 0, sizeof(*rep));
	rep->failed = -1;
	r = x86_guest_create(kvm_fd, &g, loops);
	if (r) {
		rep->setup_err = r;
		rep->failed = STEP_REAL_IO;
		/* a drained ekvm refuses every new VM, the smoke test's too: say why */
		snprintf(rep->detail, sizeof(rep->detail), "creating the guest: %s%s", strerror(-r),
			 r == -EBUSY && feat_read_bool(FEAT_DRAIN) == 1
				 ? " (the host is drained: 'ekvm drain off' lets VMs start)"
				 : "");
		return 1;
	}
	r = run_steps(&g, loops, rep);
	x86_guest_destroy(&g);
	rep->total_ms = now_ms() - t0;
	return r;
}
