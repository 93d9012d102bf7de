// SPDX-License-Identifier: GPL-2.0-only
/*
 * A bounded fuzz of ekvm's new interfaces: for SECONDS (default 20), one thread creates and
 * destroys VMs and vCPUs, adds memory, runs vCPUs briefly and issues random ioctls on them,
 * while another writes random and valid values to the drain, the per-user limits, the audit
 * log and histogram switches and reads the counters and every VM's histogram file (also
 * while VMs go away). Afterwards, with every file closed, the host's VM and vCPU counters
 * must be back where they started and the kernel must not have logged a WARNING or BUG.
 *
 *   fuzz_test [SECONDS]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include "ekvm_test.h"

#define NR_VMS		6
#define NR_VCPUS	4

static const char *const params[] = {
	EKVM_SYSFS "drain",
	KVM_PARAMS "ekvm_max_vms_per_user",
	KVM_PARAMS "ekvm_max_vcpus_per_user",
	KVM_PARAMS "ekvm_audit_log",
	KVM_PARAMS "ekvm_exit_hist",
};

static volatile int stop;
static unsigned long nr_ops[2], nr_vms_made;

static void restore(void)
{
	ekvm_write(params[0], "0");
	ekvm_write(params[1], "0");
	ekvm_write(params[2], "0");
	ekvm_write(params[3], "0");
	ekvm_write(params[4], "0");
}

/* The values that switch a boolean off (or are refused). */
static int ekvm_parse_is_off(const char *v)
{
	return strcmp(v, "1") && strcmp(v, "on") && strcmp(v, "y") && strcmp(v, "Y");
}

static unsigned int rnd(unsigned int *seed, unsigned int n)
{
	return rand_r(seed) % n;
}

static void on_alarm(int sig)
{
	(void)sig;
}

struct vm {
	int fd;
	int vcpu[NR_VCPUS];
	void *mem;
};

static void vm_close(struct vm *v)
{
	for (int i = 0; i < NR_VCPUS; i++)
		if (v->vcpu[i] >= 0)
			close(v->vcpu[i]);
	if (v->fd >= 0)
		close(v->fd);
	if (v->mem)
		munmap(v->mem, 0x100000);
	memset(v, 0xff, sizeof(*v));
	v->mem = NULL;
}

static void *vm_thread(void *arg)
{
	unsigned int seed = 1;
	struct vm vms[NR_VMS];
	uint8_t buf[4096];
	int kvm = kvm_open();

	(void)arg;
	for (int i = 0; i < NR_VMS; i++) {
		memset(&vms[i], 0xff, sizeof(vms[i]));
		vms[i].mem = NULL;
	}
	while (!stop) {
		struct vm *v = &vms[rnd(&seed, NR_VMS)];
		int c = rnd(&seed, NR_VCPUS), r;

		nr_ops[0]++;
		switch (rnd(&seed, 8)) {
		case 0:
		case 1:
			if (v->fd < 0) {
				v->fd = ioctl(kvm, KVM_CREATE_VM, 0);
				nr_vms_made += v->fd >= 0;
			}
			break;
		case 2:
			vm_close(v);
			break;
		case 3:
			if (v->fd >= 0 && v->vcpu[c] < 0)
				v->vcpu[c] = ioctl(v->fd, KVM_CREATE_VCPU,
						   rnd(&seed, 4) ? (unsigned int)c : rnd(&seed, 5000));
			break;
		case 4:
			if (v->fd >= 0 && !v->mem) {
				struct kvm_userspace_memory_region m = {
					.slot = rnd(&seed, 4),
					.guest_phys_addr = (uint64_t)rnd(&seed, 16) << 20,
					.memory_size = 0x100000 >> rnd(&seed, 8),
				};

				v->mem = mmap(NULL, 0x100000, PROT_READ | PROT_WRITE,
					      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				if (v->mem == MAP_FAILED) {
					v->mem = NULL;
					break;
				}
				m.userspace_addr = (uintptr_t)v->mem;
				ioctl(v->fd, KVM_SET_USER_MEMORY_REGION, &m);
			}
			break;
		case 5:
			/* a short run, cut by the interval timer if the guest does not exit */
			if (v->vcpu[c] >= 0)
				ioctl(v->vcpu[c], KVM_RUN, 0);
			break;
		case 6:
			/* random capabilities and sizes on every kind of fd */
			r = rnd(&seed, 3);
			ioctl(r == 0 ? kvm : r == 1 ? v->fd : v->vcpu[c], KVM_CHECK_EXTENSION,
			      rnd(&seed, 2) ? KVM_CAP_EKVM : rnd(&seed, 300));
			ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
			break;
		case 7:
			/* the VM and vCPU stats, as a monitoring agent reads them */
			if (v->fd >= 0) {
				int sfd = ioctl(rnd(&seed, 2) || v->vcpu[c] < 0 ? v->fd : v->vcpu[c],
						KVM_GET_STATS_FD, 0);

				if (sfd >= 0) {
					if (read(sfd, buf, sizeof(buf)) < 0)
						nr_ops[0]++;
					close(sfd);
				}
			}
			break;
		}
	}
	for (int i = 0; i < NR_VMS; i++)
		vm_close(&vms[i]);
	close(kvm);
	return NULL;
}

static void read_hists(void)
{
	DIR *d = opendir("/sys/kernel/debug/kvm");
	struct dirent *e;
	char path[512], buf[4096];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strchr(e->d_name, '-'))
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%s/ekvm_exit_latency",
			 e->d_name);
		ekvm_read(path, buf, sizeof(buf));	/* may vanish meanwhile */
	}
	closedir(d);
}

static void *param_thread(void *arg)
{
	static const char *const values[] = {
		"0", "1", "2", "3", "on", "off", "y", "n", "Y", "N", "-1", "", "\n", "1048576",
		"1048577", "4294967295", "4294967296", "99999999999999999999", "0x10", "1 1",
		"garbage", "\xff\xfe", "%s%s%n", "true", "1x",
	};
	unsigned int seed = 2;
	char junk[64], buf[64];

	(void)arg;
	while (!stop) {
		const char *p = params[rnd(&seed, 5)];

		nr_ops[1]++;
		switch (rnd(&seed, 4)) {
		case 0: {
			const char *v = values[rnd(&seed, sizeof(values) / sizeof(values[0]))];

			/* no valid "on" for the audit log: it would log every VM of the fuzz */
			if (p == params[3] && !ekvm_parse_is_off(v))
				v = "garbage";
			ekvm_write(p, v);
			break;
		}
		case 1: {
			size_t n = 1 + rnd(&seed, sizeof(junk));

			for (size_t i = 0; i < n; i++)
				junk[i] = rand_r(&seed);
			if (p != params[3])
				ekvm_write_len(p, junk, n);
			break;
		}
		case 2:
			ekvm_read(EKVM_SYSFS "vms", buf, sizeof(buf));
			ekvm_read(EKVM_SYSFS "vcpus", buf, sizeof(buf));
			ekvm_read(p, buf, sizeof(buf));
			break;
		case 3:
			read_hists();
			break;
		}
		/* mostly let VMs be created */
		if (!rnd(&seed, 8))
			restore();
	}
	return NULL;
}

int main(int argc, char *argv[])
{
	int secs = argc > 1 ? atoi(argv[1]) : 20, kmsg;
	struct itimerval it = { { 0, 20000 }, { 0, 20000 } };
	struct sigaction sa = { .sa_handler = on_alarm };
	long vms0, vcpus0;
	pthread_t a, b;
	time_t end;

	ekvm_require(2);
	TEST_ASSERT(secs > 0, "usage: fuzz_test [SECONDS]");
	atexit(restore);
	restore();
	ensure_mounted("/sys/kernel/debug", "debugfs", "kvm");
	kmsg = kmsg_open();
	vms0 = ekvm_read_num(EKVM_SYSFS "vms");
	vcpus0 = ekvm_read_num(EKVM_SYSFS "vcpus");

	/* KVM_RUN returns EINTR at the next timer signal */
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	TEST_ASSERT(!pthread_create(&a, NULL, vm_thread, NULL) &&
		    !pthread_create(&b, NULL, param_thread, NULL), "pthread_create");
	for (end = time(NULL) + secs; time(NULL) < end;)
		sleep(1);
	stop = 1;
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	restore();

	printf("%lu VM operations (%lu VMs created), %lu parameter operations in %d s\n",
	       nr_ops[0], nr_vms_made, nr_ops[1], secs);
	TEST_ASSERT(nr_vms_made > 0, "no VM was created at all");
	TEST_ASSERT(ekvm_read_num(EKVM_SYSFS "vms") == vms0 &&
		    ekvm_read_num(EKVM_SYSFS "vcpus") == vcpus0,
		    "counters after the fuzz: %ld VMs, %ld vCPUs; before: %ld, %ld",
		    ekvm_read_num(EKVM_SYSFS "vms"), ekvm_read_num(EKVM_SYSFS "vcpus"), vms0,
		    vcpus0);
	kmsg_count(kmsg, NULL);	/* fails on a WARNING or BUG */
	printf("fuzz ok\n");
	return 0;
}
