// SPDX-License-Identifier: GPL-2.0-only
/*
 * ekvm maintenance drain and VM/vCPU counters (/sys/module/kvm/ekvm/{drain,vms,vcpus}).
 *
 * The counters follow the VMs and vCPUs this test opens and closes. With the drain on,
 * KVM_CREATE_VM fails with EBUSY and the kernel log names the refused process, while a VM
 * that was running keeps running guest code (and may still add a vCPU); with the drain off
 * VMs can be created again. A non-root writer is refused, and bad values (garbage,
 * negative, huge, empty, trailing junk) are rejected with EINVAL leaving the drain as it was.
 */
#define _GNU_SOURCE
#include <sys/wait.h>

#include "ekvm_test.h"

#define DRAIN	EKVM_SYSFS "drain"
#define VMS	EKVM_SYSFS "vms"
#define VCPUS	EKVM_SYSFS "vcpus"

static void drain_off(void)
{
	ekvm_write(DRAIN, "0");
}

static void check_counts(long vms, long vcpus, const char *when)
{
	long v = ekvm_read_num(VMS), c = ekvm_read_num(VCPUS);

	TEST_ASSERT(v == vms && c == vcpus, "%s: vms %ld vcpus %ld, expected %ld and %ld", when, v,
		    c, vms, vcpus);
	printf("%s: %ld VMs, %ld vCPUs\n", when, v, c);
}

/* Every bad value is refused with EINVAL and leaves the drain as it was. */
static void check_bad_input(void)
{
	static const char *const bad[] = { "2", "-1", "garbage", "1x", "on1", "",
					   "\n", "99999999999999999999999", " 1", "0 1" };

	for (int state = 0; state < 2; state++) {
		ekvm_must_write(DRAIN, state ? "1" : "0");
		ekvm_check_rejected(DRAIN, bad, sizeof(bad) / sizeof(bad[0]), EINVAL);
	}
	/* the good spellings */
	ekvm_must_write(DRAIN, "on\n");
	TEST_ASSERT(ekvm_read_num(DRAIN) == 1, "on did not switch the drain on");
	ekvm_must_write(DRAIN, "n");
	TEST_ASSERT(ekvm_read_num(DRAIN) == 0, "n did not switch the drain off");
}

/* A non-root process cannot change the drain from `state`. */
static void check_non_root(int state)
{
	pid_t pid = fork();
	int status;

	TEST_ASSERT(pid >= 0, "fork");
	if (!pid) {
		int r;

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(2);
		r = ekvm_write(DRAIN, state ? "0" : "1");
		_exit(r == -EACCES || r == -EPERM ? 0 : 1);
	}
	TEST_ASSERT(waitpid(pid, &status, 0) == pid, "waitpid");
	TEST_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "uid 65534 could write the drain attribute (status %#x)", status);
	TEST_ASSERT(ekvm_read_num(DRAIN) == state, "the drain changed after a non-root write");
}

int main(void)
{
	struct tiny_vm a, b;
	char needle[64];
	long vms0, vcpus0;
	int kmsg, kvm, r, extra;

	ekvm_require(2);
	atexit(drain_off);
	kmsg = kmsg_open();

	ekvm_must_write(DRAIN, "0");
	vms0 = ekvm_read_num(VMS);
	vcpus0 = ekvm_read_num(VCPUS);
	check_counts(vms0, vcpus0, "at start");

	tiny_vm_create(&a, tiny_out_loop, sizeof(tiny_out_loop), 0x10000, 0);
	tiny_vm_outs(&a, 100);
	check_counts(vms0 + 1, vcpus0 + 1, "one VM open");
	tiny_vm_create(&b, tiny_out_loop, sizeof(tiny_out_loop), 0x10000, 0);
	extra = vcpu_create_raw(b.vm, 1);
	TEST_ASSERT(extra >= 0, "second vCPU: %s", strerror(-extra));
	check_counts(vms0 + 2, vcpus0 + 3, "two VMs, three vCPUs open");

	kmsg_ratelimit_settle();
	/* drain on: no new VM, the running ones go on */
	ekvm_must_write(DRAIN, "1");
	TEST_ASSERT(ekvm_read_num(DRAIN) == 1, "drain reads back %ld", ekvm_read_num(DRAIN));
	kvm = kvm_open();
	r = vm_create_raw(kvm);
	TEST_ASSERT(r == -EBUSY, "KVM_CREATE_VM while draining: %s, expected EBUSY",
		    r >= 0 ? "succeeded" : strerror(-r));
	tiny_vm_outs(&a, 1000);
	tiny_vm_outs(&b, 1000);
	check_counts(vms0 + 2, vcpus0 + 3, "draining");
	snprintf(needle, sizeof(needle), "KVM_CREATE_VM refused for pid %d ", getpid());
	TEST_ASSERT(kmsg_count(kmsg, needle) == 1, "no kernel log line '%s...'", needle);
	/* a running VM may still add a vCPU */
	r = vcpu_create_raw(a.vm, 1);
	TEST_ASSERT(r >= 0, "KVM_CREATE_VCPU in a running VM while draining: %s", strerror(-r));
	close(r);	/* the vCPU stays with its VM until the VM goes */
	check_counts(vms0 + 2, vcpus0 + 4, "a vCPU added while draining");

	check_non_root(1);
	ekvm_must_write(DRAIN, "0");
	check_non_root(0);

	/* drain off: VMs can be created again */
	r = vm_create_raw(kvm);
	TEST_ASSERT(r >= 0, "KVM_CREATE_VM after the drain: %s", strerror(-r));
	check_counts(vms0 + 3, vcpus0 + 4, "a VM created after the drain");
	close(r);
	check_counts(vms0 + 2, vcpus0 + 4, "that VM closed");

	close(extra);
	tiny_vm_destroy(&b);
	check_counts(vms0 + 1, vcpus0 + 2, "VM b closed");
	tiny_vm_destroy(&a);
	check_counts(vms0, vcpus0, "all closed");

	check_bad_input();
	/* the counters cannot be written, not even by root */
	TEST_ASSERT(ekvm_write(VMS, "5") < 0 && ekvm_write(VCPUS, "5") < 0,
		    "the counters are writable");
	kmsg_count(kmsg, NULL);
	close(kvm);
	printf("drain and counters ok\n");
	return 0;
}
