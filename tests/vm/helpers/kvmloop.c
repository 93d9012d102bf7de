// SPDX-License-Identifier: GPL-2.0
/*
 * kvmloop: the smallest KVM guest there is, driven with /dev/kvm ioctls only.
 *
 * The guest is real-mode code at 0x1000, "1: out $0x10, %al; jmp 1b": every iteration is one
 * KVM_EXIT_IO back to us. Every exit is checked (reason, port, size, direction), so a KVM that
 * fails KVM_RUN or reports anything else makes kvmloop fail.
 * bench-kernel runs another guest at 0x1100: KERNEL_EXITS CPUID instructions, each an exit that
 * KVM handles in the kernel without returning to us, then one "out" so that we can count; the
 * guest counts its CPUIDs in %ebp, which is checked against the outs at the end.
 *
 *   kvmloop count N          run N exits, print "exits N seconds S", exit 0
 *   kvmloop bench SECONDS    run for SECONDS, print "exits_per_sec R exits N seconds S"
 *   kvmloop bench-kernel SECONDS
 *                            the same with in-kernel (CPUID) exits: "exits_per_sec R exits N
 *                            seconds S io_exits M per_io K" (R and N count the CPUID exits;
 *                            M "out" exits to userspace, one every K CPUIDs)
 *   kvmloop cap [CAP]        print KVM_CHECK_EXTENSION(CAP) on /dev/kvm, by default
 *                            KVM_CAP_EKVM (0x454b564d): the ekvm ABI level, 0 on stock KVM
 *   kvmloop hold READYFILE   create the VM, run 1000 exits, create READYFILE, then keep the VM
 *                            (and /dev/kvm) open until SIGTERM/SIGINT; exit 0
 * Exit status: 0 on success, 1 on any error (message on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define GUEST_MEM	0x10000
#define GUEST_CODE	0x1000
#define GUEST_KCODE	0x1100	/* bench-kernel's guest */
#define KERNEL_EXITS	256	/* its CPUIDs per "out" */
#define GUEST_PORT	0x10
#define KVM_CAP_EKVM	0x454b564d	/* "EKVM" */

struct vm {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	uint8_t *mem;
};

static void die(const char *what)
{
	fprintf(stderr, "kvmloop: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void vm_create(struct vm *v, unsigned long rip)
{
	static const uint8_t code[] = {
		0xe6, GUEST_PORT,	/* out $0x10, %al */
		0xeb, 0xfc,		/* jmp . - 2 */
	};
	/* real mode: 0x66 makes an instruction's registers 32-bit */
	static const uint8_t kcode[] = {
		0xbe, KERNEL_EXITS & 0xff, KERNEL_EXITS >> 8,	/* 0: mov $KERNEL_EXITS, %si */
		0x66, 0x31, 0xc0,	/* 3: xor %eax, %eax (CPUID leaf 0) */
		0x66, 0x31, 0xc9,	/* 6: xor %ecx, %ecx */
		0x0f, 0xa2,		/* 9: cpuid (clobbers eax, ebx, ecx, edx) */
		0x66, 0x45,		/* 11: inc %ebp (the CPUIDs so far) */
		0x4e,			/* 13: dec %si */
		0x75, 0xf3,		/* 14: jnz 3 */
		0xe6, GUEST_PORT,	/* 16: out $0x10, %al */
		0xeb, 0xec,		/* 18: jmp 0 */
	};
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int api, mmap_size;

	v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (v->kvm < 0)
		die("open /dev/kvm");
	api = ioctl(v->kvm, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		fprintf(stderr, "kvmloop: KVM_GET_API_VERSION %d, want %d\n", api, KVM_API_VERSION);
		exit(1);
	}
	v->vm = ioctl(v->kvm, KVM_CREATE_VM, 0);
	if (v->vm < 0)
		die("KVM_CREATE_VM");

	v->mem = mmap(NULL, GUEST_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v->mem == MAP_FAILED)
		die("mmap guest memory");
	memcpy(v->mem + GUEST_CODE, code, sizeof(code));
	memcpy(v->mem + GUEST_KCODE, kcode, sizeof(kcode));
	region = (struct kvm_userspace_memory_region) {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = GUEST_MEM,
		.userspace_addr = (uintptr_t)v->mem,
	};
	if (ioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &region))
		die("KVM_SET_USER_MEMORY_REGION");

	v->vcpu = ioctl(v->vm, KVM_CREATE_VCPU, 0);
	if (v->vcpu < 0)
		die("KVM_CREATE_VCPU");
	mmap_size = ioctl(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(struct kvm_run))
		die("KVM_GET_VCPU_MMAP_SIZE");
	v->run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
	if (v->run == MAP_FAILED)
		die("mmap kvm_run");

	if (ioctl(v->vcpu, KVM_GET_SREGS, &sregs))
		die("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(v->vcpu, KVM_SET_SREGS, &sregs))
		die("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = rip;
	regs.rflags = 0x2;
	if (ioctl(v->vcpu, KVM_SET_REGS, &regs))
		die("KVM_SET_REGS");
}

/* One KVM_RUN that must come back with the guest's "out" to GUEST_PORT. */
static void run_once(struct vm *v, unsigned long n)
{
	struct kvm_run *r = v->run;

	if (ioctl(v->vcpu, KVM_RUN, 0))
		die("KVM_RUN");
	if (r->exit_reason != KVM_EXIT_IO || r->io.port != GUEST_PORT || r->io.size != 1 ||
	    r->io.direction != KVM_EXIT_IO_OUT || r->io.count != 1) {
		fprintf(stderr, "kvmloop: exit %lu: reason %u port %#x size %u dir %u count %u\n",
			n, r->exit_reason, r->io.port, r->io.size, r->io.direction, r->io.count);
		exit(1);
	}
}

/*
 * bench-kernel's guest counted its CPUIDs in %ebp: did it run them all? It stopped at its "out"
 * (KVM moves RIP past it at the exit or at the next KVM_RUN, depending on the version).
 */
static void check_cpuids(struct vm *v, unsigned long want)
{
	struct kvm_regs regs;

	if (ioctl(v->vcpu, KVM_GET_REGS, &regs))
		die("KVM_GET_REGS");
	if ((uint32_t)regs.rbp != (uint32_t)want ||
	    (regs.rip != GUEST_KCODE + 16 && regs.rip != GUEST_KCODE + 18)) {
		fprintf(stderr, "kvmloop: guest ran %u CPUIDs, want %lu (rip %#llx)\n",
			(uint32_t)regs.rbp, want, regs.rip);
		exit(1);
	}
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct vm v;
	unsigned long n, want;
	double t0, secs, until;

	if (argc == 2 || (argc == 3 && !strcmp(argv[1], "cap"))) {
		long cap = argc == 3 ? strtol(argv[2], NULL, 0) : KVM_CAP_EKVM;
		int kvm, r;

		if (strcmp(argv[1], "cap"))
			goto usage;
		kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
		if (kvm < 0)
			die("open /dev/kvm");
		r = ioctl(kvm, KVM_CHECK_EXTENSION, cap);
		if (r < 0)
			die("KVM_CHECK_EXTENSION");
		printf("%d\n", r);
		return 0;
	}
	if (argc != 3 || (strcmp(argv[1], "count") && strcmp(argv[1], "bench") &&
			  strcmp(argv[1], "bench-kernel") && strcmp(argv[1], "hold")))
		goto usage;
	vm_create(&v, strcmp(argv[1], "bench-kernel") ? GUEST_CODE : GUEST_KCODE);

	if (!strcmp(argv[1], "count")) {
		want = strtoul(argv[2], NULL, 0);
		t0 = now();
		for (n = 0; n < want; n++)
			run_once(&v, n);
		printf("exits %lu seconds %.3f\n", n, now() - t0);
	} else if (!strcmp(argv[1], "bench")) {
		secs = strtod(argv[2], NULL);
		/* warm up: fault in the code page and settle the vCPU */
		for (n = 0; n < 1000; n++)
			run_once(&v, n);
		t0 = now();
		until = t0 + secs;
		for (n = 0;; n++) {
			run_once(&v, n);
			if ((n & 1023) == 1023 && now() >= until)
				break;
		}
		n++;
		secs = now() - t0;
		printf("exits_per_sec %.0f exits %lu seconds %.3f\n", n / secs, n, secs);
	} else if (!strcmp(argv[1], "bench-kernel")) {
		secs = strtod(argv[2], NULL);
		/* warm up, as bench; each out comes after KERNEL_EXITS CPUIDs */
		for (n = 0; n < 10; n++)
			run_once(&v, n);
		t0 = now();
		until = t0 + secs;
		for (n = 0;; n++) {
			run_once(&v, n);
			if (now() >= until)
				break;
		}
		n++;
		secs = now() - t0;
		check_cpuids(&v, (n + 10) * KERNEL_EXITS);
		printf("exits_per_sec %.0f exits %lu seconds %.3f io_exits %lu per_io %d\n",
		       n * KERNEL_EXITS / secs, n * KERNEL_EXITS, secs, n, KERNEL_EXITS);
	} else {
		struct sigaction sa = { .sa_handler = on_signal };
		int fd;

		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		for (n = 0; n < 1000; n++)
			run_once(&v, n);
		fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			die(argv[2]);
		close(fd);
		while (!stop)
			pause();
		printf("held the VM until signalled\n");
	}
	return 0;
usage:
	fprintf(stderr, "USAGE: kvmloop count N | bench SECONDS | bench-kernel SECONDS | "
		"hold READYFILE | cap [CAP]\n");
	return 2;
}
