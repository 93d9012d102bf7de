// SPDX-License-Identifier: GPL-2.0-only
/* The smoke guest's VM: memory, GDT, page tables, CPUID and the initial vCPU state. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm.h"
#include "x86-guest.h"

#define SEG_CODE32 0x00cf9a000000ffffULL
#define SEG_DATA 0x00cf92000000ffffULL
#define SEG_CODE64 0x00af9a000000ffffULL
#define PTE_PRESENT_RW 0x3ULL
#define PDE_2M 0x80ULL
#define EFER_LMA (1ULL << 10)
#define TSS_ADDR 0xfffbd000UL

static inline void *gpa(struct x86_guest *g, uint64_t addr)
{
	return (char *)g->mem + addr;
}

/* GDT: null, 32-bit code (0x08), data (0x10), 64-bit code (0x18); identity 2 MiB pages. */
static void setup_memory(struct x86_guest *g)
{
	uint64_t *gdt = gpa(g, X86_GUEST_GDT_GPA);
	uint64_t *pml4 = gpa(g, X86_GUEST_PML4_GPA);
	uint64_t *pdpt = gpa(g, X86_GUEST_PDPT_GPA);
	uint64_t *pd = gpa(g, X86_GUEST_PD_GPA);
	unsigned char *desc = gpa(g, X86_GUEST_GDT_DESC_GPA);
	uint16_t limit = 4 * 8 - 1;
	uint32_t base = X86_GUEST_GDT_GPA;

	gdt[1] = SEG_CODE32;
	gdt[2] = SEG_DATA;
	gdt[3] = SEG_CODE64;
	memcpy(desc, &limit, sizeof(limit));
	memcpy(desc + 2, &base, sizeof(base));
	pml4[0] = X86_GUEST_PDPT_GPA | PTE_PRESENT_RW;
	pdpt[0] = X86_GUEST_PD_GPA | PTE_PRESENT_RW;
	for (uint64_t i = 0; i < 512; i++)
		pd[i] = (i << 21) | PTE_PRESENT_RW | PDE_2M;
	memcpy(gpa(g, X86_GUEST_CODE_GPA), x86_guest_code,
	       (size_t)(x86_guest_code_end - x86_guest_code));
}

/* The vCPU gets every CPUID leaf KVM supports (long mode needs CPUID.LM in the guest). */
static int setup_cpuid(int kvm_fd, struct x86_guest *g)
{
	struct kvm_cpuid2 *cpuid = NULL;
	int nent = 64, r;

	for (;;) {
		free(cpuid);
		cpuid = calloc(1, sizeof(*cpuid) + (size_t)nent * sizeof(cpuid->entries[0]));
		if (!cpuid)
			return -ENOMEM;
		cpuid->nent = (uint32_t)nent;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
			break;
		r = -errno;
		if (r != -E2BIG || nent >= 4096) {
			free(cpuid);
			return r;
		}
		nent *= 2;
	}
	r = ioctl(g->vcpu_fd, KVM_SET_CPUID2, cpuid) ? -errno : 0;
	free(cpuid);
	return r;
}

static int setup_registers(struct x86_guest *g, uint32_t loops)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = {
		.rip = X86_GUEST_CODE_GPA,
		.rflags = 0x2,
		.rsi = loops,
		.rsp = X86_GUEST_STACK_GPA,
	};

	if (ioctl(g->vcpu_fd, KVM_GET_SREGS, &sregs))
		return -errno;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	sregs.ds = sregs.es = sregs.ss = sregs.fs = sregs.gs = sregs.cs;
	sregs.ds.type = sregs.es.type = sregs.ss.type = 3; /* read/write data, accessed */
	sregs.fs.type = sregs.gs.type = 3;
	if (ioctl(g->vcpu_fd, KVM_SET_SREGS, &sregs))
		return -errno;
	return ioctl(g->vcpu_fd, KVM_SET_REGS, &regs) ? -errno : 0;
}

static int create_vm(int kvm_fd, struct x86_guest *g)
{
	struct kvm_userspace_memory_region slot = {
		.memory_size = X86_GUEST_MEM_SIZE,
	};

	g->vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (g->vm_fd < 0)
		return -errno;
	if (kvm_check_extension(kvm_fd, KVM_CAP_SET_TSS_ADDR) > 0 &&
	    ioctl(g->vm_fd, KVM_SET_TSS_ADDR, TSS_ADDR))
		return -errno;
	g->mem = mmap(NULL, X86_GUEST_MEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (g->mem == MAP_FAILED) {
		g->mem = NULL;
		return -errno;
	}
	slot.userspace_addr = (uintptr_t)g->mem;
	return ioctl(g->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) ? -errno : 0;
}

static int create_vcpu(int kvm_fd, struct x86_guest *g)
{
	int size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);

	if (size < 0)
		return -errno;
	g->vcpu_fd = ioctl(g->vm_fd, KVM_CREATE_VCPU, 0);
	if (g->vcpu_fd < 0)
		return -errno;
	g->run_size = (size_t)size;
	g->run = mmap(NULL, g->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, g->vcpu_fd, 0);
	if (g->run == MAP_FAILED) {
		g->run = NULL;
		return -errno;
	}
	return 0;
}

int x86_guest_create(int kvm_fd, struct x86_guest *g, uint32_t loops)
{
	int r;

	memset(g, 0, sizeof(*g));
	g->vm_fd = g->vcpu_fd = -1;
	r = create_vm(kvm_fd, g);
	if (!r)
		r = create_vcpu(kvm_fd, g);
	if (!r)
		r = setup_cpuid(kvm_fd, g);
	if (!r)
		r = setup_registers(g, loops);
	if (r) {
		x86_guest_destroy(g);
		return r;
	}
	setup_memory(g);
	return 0;
}

void x86_guest_destroy(struct x86_guest *g)
{
	if (g->run)
		munmap(g->run, g->run_size);
	if (g->vcpu_fd >= 0)
		close(g->vcpu_fd);
	if (g->vm_fd >= 0)
		close(g->vm_fd);
	if (g->mem)
		munmap(g->mem, X86_GUEST_MEM_SIZE);
	memset(g, 0, sizeof(*g));
	g->vm_fd = g->vcpu_fd = -1;
}

int x86_guest_run(struct x86_guest *g)
{
	while (ioctl(g->vcpu_fd, KVM_RUN, 0)) {
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
	return (int)g->run->exit_reason;
}

int x86_guest_in_long_mode(struct x86_guest *g, bool *yes)
{
	struct kvm_sregs sregs;

	if (ioctl(g->vcpu_fd, KVM_GET_SREGS, &sregs))
		return -errno;
	*yes = (sregs.efer & EFER_LMA) && sregs.cs.l;
	return 0;
}
