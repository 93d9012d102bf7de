/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The smoke guest's code, loaded at X86_GUEST_CODE_GPA and started in real mode with
 * CS = 0. Addresses are computed relative to the load address.
 */
#include "x86-guest.h"

#define GPA(label) ((label) - x86_guest_code + X86_GUEST_CODE_GPA)

	.section .rodata
	.globl x86_guest_code
	.globl x86_guest_code_end

	.code16
x86_guest_code:
	cli
	mov	$X86_GUEST_PORT, %dx
	mov	$X86_GUEST_REAL_VALUE, %al
	out	%al, %dx			/* I/O exit 1: real mode */
	lgdtl	X86_GUEST_GDT_DESC_GPA
	mov	%cr0, %eax
	or	$1, %eax			/* CR0.PE */
	mov	%eax, %cr0
	ljmpl	$0x08, $GPA(prot32)

	.code32
prot32:
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$X86_GUEST_STACK_GPA, %esp
	mov	$X86_GUEST_PROT_VALUE, %al
	out	%al, %dx			/* I/O exit 2: protected mode */
	mov	%cr4, %eax
	or	$0x20, %eax			/* CR4.PAE */
	mov	%eax, %cr4
	mov	$X86_GUEST_PML4_GPA, %eax
	mov	%eax, %cr3
	mov	$0xc0000080, %ecx		/* EFER */
	rdmsr
	or	$0x100, %eax			/* EFER.LME */
	wrmsr
	mov	%cr0, %eax
	or	$0x80000000, %eax		/* CR0.PG */
	mov	%eax, %cr0
	ljmp	$0x18, $GPA(long64)

	.code64
long64:
	mov	$X86_GUEST_PORT, %dx		/* rdmsr clobbered it */
	mov	$X86_GUEST_LONG_VALUE, %eax
	out	%eax, %dx			/* I/O exit 3: long mode */
	mov	$X86_GUEST_MMIO_GPA, %rbx
	movl	$X86_GUEST_MMIO_VALUE, (%rbx)	/* MMIO exit */
	mov	$X86_GUEST_BENCH_PORT, %dx
	test	%esi, %esi
	jz	2f
1:	out	%al, %dx			/* bench: RSI I/O exits */
	dec	%esi
	jnz	1b
2:	hlt
	jmp	2b
x86_guest_code_end:

	.section .note.GNU-stack, "", @progbits
