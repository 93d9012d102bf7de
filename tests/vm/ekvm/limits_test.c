// SPDX-License-Identifier: GPL-2.0-only
/*
 * ekvm per-user limits (kvm.ekvm_max_vms_per_user, kvm.ekvm_max_vcpus_per_user).
 *
 * With limits of 2 VMs and 3 vCPUs, a process of an unprivileged uid opens VMs and vCPUs up
 * to the limits; the next KVM_CREATE_VM and KVM_CREATE_VCPU fail with EDQUOT and the kernel
 * log names the process. Another uid is not affected. When the first process is killed its
 * VMs and vCPUs are released: the host's counters go back and the uid can open VMs again.
 * Bad values for the parameters are refused and leave them as they were.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>

#include "ekvm_test.h"

#define MAX_VMS		KVM_PARAMS "ekvm_max_vms_per_user"
#define MAX_VCPUS	KVM_PARAMS "ekvm_max_vcpus_per_user"
#define VMS		EKVM_SYSFS "vms"
#define VCPUS		EKVM_SYSFS "vcpus"

static char saved_vms[32], saved_vcpus[32];
static mode_t saved_mode;

static void restore(void)
{
	ekvm_write(MAX_VMS, saved_vms);
	ekvm_write(MAX_VCPUS, saved_vcpus);
	chmod("/dev/kvm", saved_mode);
}

/* What a child saw: the errno (0: success) of each step. */
struct outcome {
	int vm[3];	/* three KVM_CREATE_VM */
	int vcpu[4];	/* VM 1 vCPU 0 and 1, VM 2 vCPU 0 and 1 */
};

struct child {
	pid_t pid;
	struct outcome out;
};

/* Forks a process of `uid` that opens 3 VMs and 4 vCPUs, reports, and waits to be killed. */
static void child_start(struct child *c, uid_t uid)
{
	int p[2];

	TEST_ASSERT(!pipe(p), "pipe");
	c->pid = fork();
	TEST_ASSERT(c->pid >= 0, "fork");
	if (!c->pid) {
		struct outcome o;
		int kvm, vm[3];

		close(p[0]);
		if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
			_exit(2);
		kvm = open("/dev/kvm", O_RDWR);
		if (kvm < 0)
			_exit(3);
		for (int i = 0; i < 3; i++) {
			vm[i] = vm_create_raw(kvm);
			o.vm[i] = vm[i] < 0 ? -vm[i] : 0;
		}
		for (int i = 0; i < 4; i++) {
			int v = vm[i / 2] >= 0 ? vcpu_create_raw(vm[i / 2], i % 2) : -EBADF;

			o.vcpu[i] = v < 0 ? -v : 0;
		}
		if (write(p[1], &o, sizeof(o)) != sizeof(o))
			_exit(4);
		for (;;)
			pause();
	}
	close(p[1]);
	TEST_ASSERT(read(p[0], &c->out, sizeof(c->out)) == sizeof(c->out),
		    "child of uid %u died before reporting", uid);
	close(p[0]);
}

static void child_kill(struct child *c)
{
	int status;

	kill(c->pid, SIGKILL);
	TEST_ASSERT(waitpid(c->pid, &status, 0) == c->pid, "waitpid");
}

static void expect(const struct outcome *o, const int vm[3], const int vcpu[4], uid_t uid)
{
	for (int i = 0; i < 3; i++)
		TEST_ASSERT(o->vm[i] == vm[i], "uid %u VM %d: %s, expected %s", uid, i + 1,
			    strerror(o->vm[i]), strerror(vm[i]));
	for (int i = 0; i < 4; i++)
		TEST_ASSERT(o->vcpu[i] == vcpu[i], "uid %u VM %d vCPU %d: %s, expected %s", uid,
			    i / 2 + 1, i % 2, strerror(o->vcpu[i]), strerror(vcpu[i]));
}

static void check_bad_input(const char *param)
{
	static const char *const bad[] = { "garbage", "-1", "\n", "1048577", "4294967296",
					   "99999999999999999999999", "1x", "2 3", "" };
	char was[32];

	ekvm_check_rejected(param, bad, sizeof(bad) / sizeof(bad[0]), 0);
	TEST_ASSERT(!ekvm_read(param, was, sizeof(was)), "read %s", param);
	ekvm_must_write(param, "1048576");
	ekvm_must_write(param, was);
}

int main(void)
{
	static const int ok_vm[3] = { 0, 0, EDQUOT }, ok_vcpu[4] = { 0, 0, 0, EDQUOT };
	static const int free_vm[3] = { 0, 0, 0 }, free_vcpu[4] = { 0, 0, 0, 0 };
	struct child a, b, a2;
	char needle[96];
	struct stat st;
	long vms0, vcpus0;
	int kmsg, n;

	ekvm_require(3);
	TEST_ASSERT(!ekvm_read(MAX_VMS, saved_vms, sizeof(saved_vms)) &&
		    !ekvm_read(MAX_VCPUS, saved_vcpus, sizeof(saved_vcpus)),
		    "the limit parameters are missing");
	TEST_ASSERT(!stat("/dev/kvm", &st), "stat /dev/kvm");
	saved_mode = st.st_mode & 07777;
	atexit(restore);
	TEST_ASSERT(!chmod("/dev/kvm", 0666), "chmod /dev/kvm");
	kmsg = kmsg_open();
	vms0 = ekvm_read_num(VMS);
	vcpus0 = ekvm_read_num(VCPUS);

	/* unlimited: uid 1000 gets all it asks for */
	ekvm_must_write(MAX_VMS, "0");
	ekvm_must_write(MAX_VCPUS, "0");
	child_start(&a, 1000);
	expect(&a.out, free_vm, free_vcpu, 1000);
	ekvm_wait_counts(vms0 + 3, vcpus0 + 4, "unlimited, uid 1000");
	child_kill(&a);
	ekvm_wait_counts(vms0, vcpus0, "uid 1000 killed");

	kmsg_ratelimit_settle();
	ekvm_must_write(MAX_VMS, "2");
	ekvm_must_write(MAX_VCPUS, "3");
	TEST_ASSERT(ekvm_read_num(MAX_VMS) == 2 && ekvm_read_num(MAX_VCPUS) == 3,
		    "the limits do not read back");
	/* each change is logged with who made it (ABI 3) */
	snprintf(needle, sizeof(needle), "(pid %d, limits_test)", getpid());
	n = kmsg_count(kmsg, needle);
	TEST_ASSERT(n == 2, "%d log lines 'ekvm_max_v*_per_user set to N %s', expected 2", n,
		    needle);
	child_start(&a, 1000);
	expect(&a.out, ok_vm, ok_vcpu, 1000);
	ekvm_wait_counts(vms0 + 2, vcpus0 + 3, "uid 1000 at its limits");
	snprintf(needle, sizeof(needle), "KVM_CREATE_VM refused for pid %d ", a.pid);
	TEST_ASSERT(kmsg_count(kmsg, needle) == 1, "no log line '%s...'", needle);

	/* another uid has its own count */
	child_start(&b, 1001);
	expect(&b.out, ok_vm, ok_vcpu, 1001);
	ekvm_wait_counts(vms0 + 4, vcpus0 + 6, "uids 1000 and 1001 at their limits");
	snprintf(needle, sizeof(needle), "KVM_CREATE_VCPU 1 refused for pid %d ", b.pid);
	TEST_ASSERT(kmsg_count(kmsg, needle) == 1, "no log line '%s...'", needle);

	/* killing uid 1000's process releases its VMs and vCPUs, and only those */
	child_kill(&a);
	ekvm_wait_counts(vms0 + 2, vcpus0 + 3, "uid 1000 killed");
	child_start(&a2, 1000);
	expect(&a2.out, ok_vm, ok_vcpu, 1000);
	ekvm_wait_counts(vms0 + 4, vcpus0 + 6, "uid 1000 again");
	child_kill(&a2);
	child_kill(&b);
	ekvm_wait_counts(vms0, vcpus0, "all killed");

	check_bad_input(MAX_VMS);
	check_bad_input(MAX_VCPUS);
	kmsg_count(kmsg, NULL);
	printf("per-user limits ok\n");
	return 0;
}
