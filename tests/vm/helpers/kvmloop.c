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
 *   kvmloop run PROGRESSFILE run a guest until SIGTERM/SIGINT, then print "exits N seconds S";
 *                            PROGRESSFILE appears after 1000 exits and holds the count of exits
 *                            so far, rewritten every 1024. The guest (at 0x1200) runs 8 CPUIDs
 *                            (exits KVM handles itself), then increments %di and "out"s its low
 *                            byte: each exit to us must bring the next byte, so a guest whose
 *                            registers were lost or mixed up with another's fails.
 *   kvmloop tscaux VALUE PROGRESSFILE
 *                            as run, with the guest's MSR_TSC_AUX set to VALUE: the guest (at
 *                            0x1300) runs RDTSCP 4096 times, checking that %ecx is VALUE each
 *                            time, then "out"s; a wrong value ends it with an "out" to port
 *                            0x11 and kvmloop fails, printing what the guest read. Two guests
 *                            with different values on one CPU check that each sees its own
 *                            TSC_AUX (a user-return MSR that KVM loads lazily).
 *   kvmloop hostaux          this CPU's TSC_AUX as host user space reads it (RDTSCP) must be
 *                            what Linux put there, (node << 12) | cpu as getcpu(2) says: a
 *                            KVM that took a guest's value for the host's and "restored" it
 *                            fails this
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
#include <sys/syscall.h>
#include <x86intrin.h>
#include <time.h>
#include <unistd.h>

#define GUEST_MEM	0x10000
#define GUEST_CODE	0x1000
#define GUEST_KCODE	0x1100	/* bench-kernel's guest */
#define GUEST_RCODE	0x1200	/* run's guest */
#define RUN_CPUIDS	8	/* its CPUIDs per "out" */
#define GUEST_TCODE	0x1300	/* tscaux's guest */
#define GUEST_BADPORT	0x11	/* tscaux's guest read a wrong TSC_AUX */
#define MSR_TSC_AUX	0xc0000103
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
	static const uint8_t rcode[] = {
		0xbe, RUN_CPUIDS, 0,	/* 0: mov $RUN_CPUIDS, %si */
		0x66, 0x31, 0xc0,	/* 3: xor %eax, %eax */
		0x66, 0x31, 0xc9,	/* 6: xor %ecx, %ecx */
		0x0f, 0xa2,		/* 9: cpuid */
		0x4e,			/* 11: dec %si */
		0x75, 0xf5,		/* 12: jnz 3 */
		0x47,			/* 14: inc %di */
		0x89, 0xf8,		/* 15: mov %di, %ax */
		0xe6, GUEST_PORT,	/* 17: out $0x10, %al */
		0xeb, 0xeb,		/* 19: jmp 0 */
	};
	static const uint8_t tcode[] = {
		0xbd, 0x00, 0x10,	/* 0: mov $4096, %bp */
		0x0f, 0x01, 0xf9,	/* 3: rdtscp */
		0x66, 0x39, 0xf1,	/* 6: cmp %esi, %ecx */
		0x75, 0x07,		/* 9: jne 18 */
		0x4d,			/* 11: dec %bp */
		0x75, 0xf5,		/* 12: jnz 3 */
		0xe6, GUEST_PORT,	/* 14: out $0x10, %al */
		0xeb, 0xee,		/* 16: jmp 0 */
		0xe6, GUEST_BADPORT,	/* 18: out $0x11, %al */
		0xf4,			/* 20: hlt */
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
	memcpy(v->mem + GUEST_RCODE, rcode, sizeof(rcode));
	memcpy(v->mem + GUEST_TCODE, tcode, sizeof(tcode));
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

/* The exit must be the guest's "out" to GUEST_PORT. */
static void check_io(struct vm *v, unsigned long n)
{
	struct kvm_run *r = v->run;

	if (r->exit_reason != KVM_EXIT_IO || r->io.port != GUEST_PORT || r->io.size != 1 ||
	    r->io.direction != KVM_EXIT_IO_OUT || r->io.count != 1) {
		fprintf(stderr, "kvmloop: exit %lu: reason %u port %#x size %u dir %u count %u\n",
			n, r->exit_reason, r->io.port, r->io.size, r->io.direction, r->io.count);
		exit(1);
	}
}

/* One KVM_RUN that must come back with the guest's "out" to GUEST_PORT. */
static void run_once(struct vm *v, unsigned long n)
{
	if (ioctl(v->vcpu, KVM_RUN, 0))
		die("KVM_RUN");
	check_io(v, n);
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

/*
 * tscaux's setup: RDTSCP in the guest's CPUID (else KVM makes it #UD), its
 * TSC_AUX and, in %esi, the value the guest checks against.
 */
static void tscaux_setup(struct vm *v, uint32_t value)
{
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[1];
	} cpuid = { .c.nent = 1, .e[0] = { .function = 0x80000001, .edx = 1u << 27 } };
	struct {
		struct kvm_msrs m;
		struct kvm_msr_entry e[1];
	} msrs = { .m.nmsrs = 1, .e[0] = { .index = MSR_TSC_AUX, .data = value } };
	struct kvm_regs regs;

	if (ioctl(v->vcpu, KVM_SET_CPUID2, &cpuid))
		die("KVM_SET_CPUID2");
	if (ioctl(v->vcpu, KVM_SET_MSRS, &msrs) != 1)
		die("KVM_SET_MSRS TSC_AUX");
	if (ioctl(v->vcpu, KVM_GET_REGS, &regs))
		die("KVM_GET_REGS");
	regs.rsi = value;
	if (ioctl(v->vcpu, KVM_SET_REGS, &regs))
		die("KVM_SET_REGS");
}

/* tscaux's guest stopped at its "out" to GUEST_BADPORT: what did it read? */
static void tscaux_bad(struct vm *v, unsigned long n, uint32_t value)
{
	struct kvm_regs regs;

	if (ioctl(v->vcpu, KVM_GET_REGS, &regs))
		die("KVM_GET_REGS");
	fprintf(stderr, "kvmloop: exit %lu: the guest's RDTSCP read TSC_AUX %#x, want %#x\n", n,
		(uint32_t)regs.rcx, value);
	exit(1);
}

static volatile sig_atomic_t stop;

/*
 * run's exit N (from 0) must "out" the low byte of N + 1; tscaux's guest
 * must not have found a wrong TSC_AUX (TSCAUX: the value it checks). False
 * if a signal interrupted KVM_RUN before the exit (nothing to check then).
 */
static int run_checked(struct vm *v, unsigned long n, const uint32_t *tscaux)
{
	uint8_t got;

	if (ioctl(v->vcpu, KVM_RUN, 0)) {
		if (errno == EINTR && stop)
			return 0;
		die("KVM_RUN");
	}
	if (tscaux) {
		if (v->run->exit_reason == KVM_EXIT_IO && v->run->io.port == GUEST_BADPORT)
			tscaux_bad(v, n, *tscaux);
		check_io(v, n);
		return 1;
	}
	check_io(v, n);
	got = *((uint8_t *)v->run + v->run->io.data_offset);
	if (got != (uint8_t)(n + 1)) {
		fprintf(stderr, "kvmloop: exit %lu: the guest sent %u, want %u\n", n, got,
			(uint8_t)(n + 1));
		exit(1);
	}
	return 1;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/*
 * run and tscaux: checked exits until SIGTERM/SIGINT; PROGRESSFILE appears
 * after 1000 and holds the count, rewritten every 1024.
 */
static int run_until_signalled(struct vm *v, const char *progress, const uint32_t *tscaux)
{
	struct sigaction sa = { .sa_handler = on_signal };
	char line[32];
	int fd = -1, len;
	unsigned long n;
	double t0;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	t0 = now();
	for (n = 0; !stop; n++) {
		if (!run_checked(v, n, tscaux))
			break;
		if (n < 999 || (n != 999 && (n & 1023) != 1023))
			continue;
		if (fd < 0) {
			fd = open(progress, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			if (fd < 0)
				die(progress);
		}
		len = snprintf(line, sizeof(line), "%20lu\n", n + 1);
		if (pwrite(fd, line, len, 0) != len)
			die(progress);
	}
	printf("exits %lu seconds %.3f\n", n, now() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	struct vm v;
	unsigned long n, want;
	uint32_t tscaux;
	double t0, secs, until;

	if (argc == 2 && !strcmp(argv[1], "hostaux")) {
		unsigned int cpu, node, aux;

		if (syscall(SYS_getcpu, &cpu, &node, NULL))
			die("getcpu");
		__rdtscp(&aux);
		printf("cpu %u node %u TSC_AUX %#x\n", cpu, node, aux);
		/* the task may have moved between the two: pin it (taskset) */
		return aux == ((node << 12) | cpu) ? 0 : 1;
	}
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
	if (argc == 4 && !strcmp(argv[1], "tscaux")) {
		unsigned long value;
		char *end;

		errno = 0;
		value = strtoul(argv[2], &end, 0);
		if (errno || !*argv[2] || *end || value > UINT32_MAX)
			goto usage;
		tscaux = value;
		vm_create(&v, GUEST_TCODE);
		tscaux_setup(&v, tscaux);
		return run_until_signalled(&v, argv[3], &tscaux);
	}
	if (argc != 3 || (strcmp(argv[1], "count") && strcmp(argv[1], "bench") &&
			  strcmp(argv[1], "bench-kernel") && strcmp(argv[1], "hold") &&
			  strcmp(argv[1], "run")))
		goto usage;
	vm_create(&v, !strcmp(argv[1], "bench-kernel") ? GUEST_KCODE :
		      !strcmp(argv[1], "run") ? GUEST_RCODE : GUEST_CODE);

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
	} else if (!strcmp(argv[1], "run")) {
		return run_until_signalled(&v, argv[2], NULL);
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
		"hold READYFILE | run PROGRESSFILE | tscaux VALUE PROGRESSFILE | "
		"hostaux | cap [CAP]\n");
	return 2;
}
