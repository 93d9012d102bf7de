/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A minimal x86 guest for the smoke test: one vCPU and 2 MiB of memory. The guest code
 * (x86-guest-code.S) starts in real mode, reports each mode by an I/O exit on
 * X86_GUEST_PORT, switches to protected mode and long mode with the GDT and identity
 * page tables set up here, writes X86_GUEST_MMIO_VALUE to the unbacked X86_GUEST_MMIO_GPA
 * (an MMIO exit), then does RSI I/O exits on X86_GUEST_BENCH_PORT and halts.
 */
#ifndef EKVM_X86_GUEST_H
#define EKVM_X86_GUEST_H

#define X86_GUEST_CODE_GPA 0x1000
#define X86_GUEST_GDT_DESC_GPA 0x2000
#define X86_GUEST_GDT_GPA 0x2010
#define X86_GUEST_PML4_GPA 0x3000
#define X86_GUEST_PDPT_GPA 0x4000
#define X86_GUEST_PD_GPA 0x5000
#define X86_GUEST_STACK_GPA 0x8000
#define X86_GUEST_MEM_SIZE 0x200000
#define X86_GUEST_MMIO_GPA 0x400000
#define X86_GUEST_PORT 0x10
#define X86_GUEST_BENCH_PORT 0x11
#define X86_GUEST_REAL_VALUE 0x16
#define X86_GUEST_PROT_VALUE 0x32
#define X86_GUEST_LONG_VALUE 0x454b564d /* "EKVM" */
#define X86_GUEST_MMIO_VALUE 0x1234abcd

#ifndef __ASSEMBLER__

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct x86_guest {
	int vm_fd, vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	void *mem;
};

/* Creates the VM and its vCPU, ready to run; loops is the bench loop count (RSI). */
int x86_guest_create(int kvm_fd, struct x86_guest *g, uint32_t loops);
void x86_guest_destroy(struct x86_guest *g);

/* KVM_RUN once: the exit reason, or -errno. */
int x86_guest_run(struct x86_guest *g);

/* Whether the vCPU is in 64-bit long mode now (EFER.LMA and CS.L). */
int x86_guest_in_long_mode(struct x86_guest *g, bool *yes);

/* The guest's code, from x86-guest-code.S. */
extern const unsigned char x86_guest_code[], x86_guest_code_end[];

#endif
#endif
