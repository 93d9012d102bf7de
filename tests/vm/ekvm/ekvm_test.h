/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers of ekvm's VM-harness tests (tests/vm/ekvm/, one file a test): the ekvm sysfs
 * attributes and kvm module parameters, the kernel log, raw /dev/kvm VMs and
 * a tiny real-mode guest. The tests use the KVM selftests' TEST_ASSERT.
 */
#ifndef EKVM_TEST_H
#define EKVM_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "test_util.h"

#define EKVM_SYSFS	"/sys/module/kvm/ekvm/"
#define KVM_PARAMS	"/sys/module/kvm/parameters/"
#define KVM_CAP_EKVM	0x454b564d

/* Reads a small file into buf (no trailing newline); -errno on failure. */
static inline int ekvm_read(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

static inline long ekvm_read_num(const char *path)
{
	char buf[64];
	int r = ekvm_read(path, buf, sizeof(buf));

	TEST_ASSERT(!r, "read %s: %s", path, strerror(-r));
	return strtol(buf, NULL, 10);
}

/* Writes exactly len bytes in one write(); 0 or -errno. */
static inline int ekvm_write_len(const char *path, const char *val, size_t len)
{
	ssize_t n;
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

static inline int ekvm_write(const char *path, const char *val)
{
	return ekvm_write_len(path, val, strlen(val));
}

static inline void ekvm_must_write(const char *path, const char *val)
{
	int r = ekvm_write(path, val);

	TEST_ASSERT(!r, "write '%s' to %s: %s", val, path, strerror(-r));
}

/*
 * Writes each of the n bad values to path: each must fail (with want_err, or any error when
 * want_err is 0) and leave the value as it was. An empty value never reaches the kernel (an
 * empty write() succeeds without calling it), so it only has to change nothing.
 */
static inline void ekvm_check_rejected(const char *path, const char *const *bad, size_t n,
				       int want_err)
{
	char was[64], now[64];

	TEST_ASSERT(!ekvm_read(path, was, sizeof(was)), "read %s", path);
	for (size_t i = 0; i < n; i++) {
		int r = ekvm_write(path, bad[i]);

		TEST_ASSERT(!*bad[i] || (r < 0 && (!want_err || r == -want_err)),
			    "writing '%s' to %s: %s", bad[i], path, r ? strerror(-r) : "accepted");
		TEST_ASSERT(!ekvm_read(path, now, sizeof(now)) && !strcmp(was, now),
			    "%s changed from %s to %s after writing '%s'", path, was, now, bad[i]);
	}
}

/*
 * Until /sys/module/kvm/ekvm/{vms,vcpus} read vms and vcpus (5 s at most): the counters may lag
 * the exit of a killed process by its final fput()s.
 */
static inline void ekvm_wait_counts(long vms, long vcpus, const char *when)
{
	long v = -1, c = -1;

	for (int i = 0; i < 50; i++) {
		v = ekvm_read_num(EKVM_SYSFS "vms");
		c = ekvm_read_num(EKVM_SYSFS "vcpus");
		if (v == vms && c == vcpus) {
			printf("%s: %ld VMs, %ld vCPUs\n", when, v, c);
			return;
		}
		usleep(100000);
	}
	TEST_FAIL("%s: vms %ld vcpus %ld, expected %ld and %ld", when, v, c, vms, vcpus);
}

/*
 * The feature under test needs ekvm ABI level `level`. On stock KVM (or an
 * older ekvm) the test skips, unless the harness says the loaded KVM is an
 * ekvm of at least that level (EKVM_EXPECT_ABI): then it fails.
 */
static inline void ekvm_require(int level)
{
	const char *expect = getenv("EKVM_EXPECT_ABI");
	char buf[64];
	int abi = 0;

	if (!ekvm_read(EKVM_SYSFS "abi", buf, sizeof(buf)))
		abi = atoi(buf);
	if (abi >= level)
		return;
	TEST_ASSERT(!expect || atoi(expect) < level,
		    "the harness loaded ekvm ABI %s, but %sabi says %d", expect,
		    EKVM_SYSFS, abi);
	ksft_exit_skip("needs ekvm ABI level %d (loaded: %d)\n", level, abi);
}

/* The kernel log from now on: open /dev/kmsg at its end. */
static inline int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	TEST_ASSERT(fd >= 0, "open /dev/kmsg: %s", strerror(errno));
	TEST_ASSERT(lseek(fd, 0, SEEK_END) >= 0, "seek /dev/kmsg: %s", strerror(errno));
	return fd;
}

/*
 * The messages logged since kmsg_open() (or the last call), one a line, echoed to explain
 * failures. A WARNING, BUG or call trace fails the test. The caller frees the string.
 */
static inline char *kmsg_read_new(int fd)
{
	size_t cap = 1 << 16, len = 0;
	char rec[2048], *all = malloc(cap);
	ssize_t n;

	TEST_ASSERT(all, "malloc");
	all[0] = '\0';
	for (;;) {
		const char *msg;

		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* records overwritten meanwhile */
		if (n <= 0)
			break;
		rec[n] = '\0';
		msg = strchr(rec, ';') ? strchr(rec, ';') + 1 : rec;
		printf("kmsg: %s", msg);
		TEST_ASSERT(!strstr(msg, "WARNING:") && !strstr(msg, "BUG:") &&
			    !strstr(msg, "Call Trace"), "the kernel logged: %s", msg);
		while (len + strlen(msg) + 1 > cap) {
			cap *= 2;
			all = realloc(all, cap);
			TEST_ASSERT(all, "realloc");
		}
		strcpy(all + len, msg);
		len += strlen(msg);
	}
	return all;
}

/* How many of the messages logged since the last look contain `needle` (may be NULL). */
static inline int kmsg_count(int fd, const char *needle)
{
	char *all = kmsg_read_new(fd);
	int found = 0;

	for (const char *p = all; needle && (p = strstr(p, needle)); p++)
		found++;
	free(all);
	return found;
}

/*
 * ekvm logs refusals with printk_ratelimited(): at most 10 lines a call site in 5 s. A test
 * that wants to see its own refusal in the log waits for a new 5 s window first, as an
 * earlier test (the fuzz) may have used up the current one.
 */
static inline void kmsg_ratelimit_settle(void)
{
	usleep(5100 * 1000);
}

static inline int kvm_open(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	TEST_ASSERT(fd >= 0, "open /dev/kvm: %s", strerror(errno));
	return fd;
}

/* KVM_CREATE_VM: the VM's fd or -errno. */
static inline int vm_create_raw(int kvm)
{
	int fd = ioctl(kvm, KVM_CREATE_VM, 0);

	return fd < 0 ? -errno : fd;
}

static inline int vcpu_create_raw(int vm, int id)
{
	int fd = ioctl(vm, KVM_CREATE_VCPU, id);

	return fd < 0 ? -errno : fd;
}

/*
 * The audit tests' VM of known shape: 2 vCPUs, 1 MiB + 64 KiB of memory, about
 * EKVM_KNOWN_LIFETIME_MS old when destroyed. It has what makes KVM add private memory slots on
 * Intel (a TSS address, an in-kernel irqchip: the TSS and APIC access page slots): vm_destroy
 * counts only the guest memory userspace gave. (On AMD these are no-ops, and the check holds
 * either way.)
 */
#define EKVM_KNOWN_SLOT0	0x100000	/* 1 MiB */
#define EKVM_KNOWN_SLOT1	0x10000		/* 64 KiB */
#define EKVM_KNOWN_MEMORY	(EKVM_KNOWN_SLOT0 + EKVM_KNOWN_SLOT1)
#define EKVM_KNOWN_LIFETIME_MS	300

static inline void ekvm_add_slot(int vm, int slot, uint64_t gpa, size_t size)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
	};
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	TEST_ASSERT(mem != MAP_FAILED, "mmap");
	r.userspace_addr = (uintptr_t)mem;
	TEST_ASSERT(!ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r), "KVM_SET_USER_MEMORY_REGION: %s",
		    strerror(errno));
}

static inline void ekvm_known_vm(int kvm)
{
	int vm = vm_create_raw(kvm), c0, c1;

	TEST_ASSERT(vm >= 0, "KVM_CREATE_VM: %s", strerror(-vm));
	ekvm_add_slot(vm, 0, 0, EKVM_KNOWN_SLOT0);
	ekvm_add_slot(vm, 1, 0x200000, EKVM_KNOWN_SLOT1);
	TEST_ASSERT(!ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL), "KVM_SET_TSS_ADDR: %s",
		    strerror(errno));
	TEST_ASSERT(!ioctl(vm, KVM_CREATE_IRQCHIP, 0), "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	c0 = vcpu_create_raw(vm, 0);
	c1 = vcpu_create_raw(vm, 1);
	TEST_ASSERT(c0 >= 0 && c1 >= 0, "KVM_CREATE_VCPU: %d %d", c0, c1);
	usleep(EKVM_KNOWN_LIFETIME_MS * 1000);
	close(c0);
	close(c1);
	close(vm);
}

/* A real-mode guest: memory at 0..mem_size, code at 0x1000, one vCPU. */
struct tiny_vm {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	uint8_t *mem;
	size_t mem_size;
	size_t run_size;
};

#define TINY_CODE	0x1000

static inline void tiny_vm_create(struct tiny_vm *t, const uint8_t *code, size_t len,
				  size_t mem_size, int irqchip)
{
	struct kvm_userspace_memory_region region = { 0 };
	struct kvm_sregs sregs;
	struct kvm_regs regs = { 0 };
	int mmap_size;

	t->kvm = kvm_open();
	t->vm = vm_create_raw(t->kvm);
	TEST_ASSERT(t->vm >= 0, "KVM_CREATE_VM: %s", strerror(-t->vm));
	t->mem_size = mem_size;
	t->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(t->mem != MAP_FAILED, "mmap guest memory");
	memcpy(t->mem + TINY_CODE, code, len);
	region.memory_size = mem_size;
	region.userspace_addr = (uintptr_t)t->mem;
	TEST_ASSERT(!ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &region),
		    "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
	if (irqchip)
		TEST_ASSERT(!ioctl(t->vm, KVM_CREATE_IRQCHIP, 0), "KVM_CREATE_IRQCHIP: %s",
			    strerror(errno));
	t->vcpu = vcpu_create_raw(t->vm, 0);
	TEST_ASSERT(t->vcpu >= 0, "KVM_CREATE_VCPU: %s", strerror(-t->vcpu));
	mmap_size = ioctl(t->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	TEST_ASSERT(mmap_size > 0, "KVM_GET_VCPU_MMAP_SIZE");
	t->run_size = mmap_size;
	t->run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, t->vcpu, 0);
	TEST_ASSERT(t->run != MAP_FAILED, "mmap kvm_run");
	TEST_ASSERT(!ioctl(t->vcpu, KVM_GET_SREGS, &sregs), "KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	sregs.ds.base = 0;
	sregs.ds.selector = 0;
	TEST_ASSERT(!ioctl(t->vcpu, KVM_SET_SREGS, &sregs), "KVM_SET_SREGS");
	regs.rip = TINY_CODE;
	regs.rflags = 2;
	TEST_ASSERT(!ioctl(t->vcpu, KVM_SET_REGS, &regs), "KVM_SET_REGS");
}

/* One KVM_RUN: the exit reason. */
static inline int tiny_vm_run(struct tiny_vm *t)
{
	TEST_ASSERT(!ioctl(t->vcpu, KVM_RUN, 0), "KVM_RUN: %s", strerror(errno));
	return t->run->exit_reason;
}

/* Closes everything: the kvm_run mapping too, which holds the vCPU and so the VM. */
static inline void tiny_vm_destroy(struct tiny_vm *t)
{
	munmap(t->run, t->run_size);
	close(t->vcpu);
	close(t->vm);
	close(t->kvm);
	munmap(t->mem, t->mem_size);
}

/* "1: out $0x10, %al; jmp 1b": every KVM_RUN returns one KVM_EXIT_IO on port 0x10. */
static const uint8_t tiny_out_loop[] = { 0xe6, 0x10, 0xeb, 0xfc };

/* Runs n I/O exits of tiny_out_loop, checking each. */
static inline void tiny_vm_outs(struct tiny_vm *t, int n)
{
	for (int i = 0; i < n; i++) {
		int reason = tiny_vm_run(t);

		TEST_ASSERT(reason == KVM_EXIT_IO && t->run->io.port == 0x10,
			    "exit %d: reason %d port %#x, expected KVM_EXIT_IO on 0x10", i,
			    reason, t->run->io.port);
	}
}

static inline void ensure_mounted(const char *dir, const char *fstype, const char *probe)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, probe);
	if (!access(path, F_OK))
		return;
	mkdir(dir, 0755);
	TEST_ASSERT(!mount(fstype, dir, fstype, 0, NULL), "mount %s on %s: %s", fstype, dir,
		    strerror(errno));
}

#endif /* EKVM_TEST_H */
