// SPDX-License-Identifier: GPL-2.0-only
/*
 * ekvm per-user limits against user namespaces (kvm.ekvm_max_vms_per_user,
 * kvm.ekvm_max_vcpus_per_user).
 *
 * A user with subordinate uids (/etc/subuid) can have newuidmap map 65536 uids into a user
 * namespace it creates and switch among them there. The limits must count all of that as the
 * user itself, the owner of the namespace, not as each mapped uid. With limits of 2 VMs and 3
 * vCPUs, a process of uid 1000 opens /dev/kvm, enters a new user namespace, and root maps
 * "0 100000 65536" into it as newuidmap would. In the namespace the process becomes uid 0, 1,
 * ... 5 in turn (kuids 100000 ... 100005), tries KVM_CREATE_VM as each and two vCPUs in each
 * VM it gets, keeping everything open: only 2 VMs and 3 vCPUs in all may succeed, the rest
 * fail with EDQUOT, and the log names the charged uid. A namespace nested inside, created as
 * yet another mapped uid, gets no VM either. While it holds its 2 VMs: uid 1000 outside any
 * namespace shares its count (EDQUOT), root's count is its own (uid 0 of the namespace was not
 * charged to root), and uid 1001 gets its own 2. Killing the process releases everything.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#include "ekvm_test.h"

#define MAX_VMS		KVM_PARAMS "ekvm_max_vms_per_user"
#define MAX_VCPUS	KVM_PARAMS "ekvm_max_vcpus_per_user"
#define VMS		EKVM_SYSFS "vms"
#define VCPUS		EKVM_SYSFS "vcpus"
#define USERNS_CLONE	"/proc/sys/kernel/unprivileged_userns_clone"

#define OWNER		1000	/* the user with subordinate uids */
#define SUBUID		100000	/* its range: 100000-165535, as /etc/subuid gives */
#define NR_IDS		6	/* uids 0..5 of the namespace */

static char saved_vms[32], saved_vcpus[32], saved_userns[32];
static mode_t saved_mode;

static void restore(void)
{
	ekvm_write(MAX_VMS, saved_vms);
	ekvm_write(MAX_VCPUS, saved_vcpus);
	if (*saved_userns)
		ekvm_write(USERNS_CLONE, saved_userns);
	chmod("/dev/kvm", saved_mode);
}

/* What the namespace process saw: errno (0: success) of each step. */
struct ns_outcome {
	char failed[48];	/* a setup step that failed, "" if none */
	int err;		/* its errno */
	int vm[NR_IDS];		/* KVM_CREATE_VM as uid i of the namespace */
	int vcpu[NR_IDS][2];	/* vCPU 0 and 1 of that VM (EBADF: no VM) */
	int nested_vm;		/* KVM_CREATE_VM in a namespace nested in it */
};

static int ns_setup_failed(struct ns_outcome *o, const char *step)
{
	snprintf(o->failed, sizeof(o->failed), "%s", step);
	o->err = errno;
	return -1;
}

/* The user's side, up to the mapping: uid OWNER with /dev/kvm open, in a new namespace. */
static int ns_enter(struct ns_outcome *o, int *kvm, int ready, int go)
{
	char c = 0;

	if (setgroups(0, NULL) || setresgid(OWNER, OWNER, OWNER) ||
	    setresuid(OWNER, OWNER, OWNER))
		return ns_setup_failed(o, "becoming uid 1000");
	*kvm = open("/dev/kvm", O_RDWR);
	if (*kvm < 0)
		return ns_setup_failed(o, "open /dev/kvm");
	if (unshare(CLONE_NEWUSER))
		return ns_setup_failed(o, "unshare(CLONE_NEWUSER)");
	if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 1 || c != 'm')
		return ns_setup_failed(o, "the parent's mapping");
	/* mapped: full capabilities in the namespace, take gid 0 there */
	if (setresgid(0, 0, 0))
		return ns_setup_failed(o, "setresgid(0) in the namespace");
	return 0;
}

/*
 * Becomes uid `id` of the namespace (real and effective), keeping 0 as the saved uid: the
 * permitted capabilities stay, so it can switch again after taking euid 0 back.
 */
static int ns_become(struct ns_outcome *o, uid_t id)
{
	if (setresuid(-1, 0, -1) || setresuid(id, id, 0))
		return ns_setup_failed(o, "setresuid in the namespace");
	if (getuid() != id || geteuid() != id)
		return errno = EINVAL, ns_setup_failed(o, "uid in the namespace");
	return 0;
}

static void ns_child(int ready, int go, int out)
{
	struct ns_outcome o = { .failed = "" };
	int kvm = -1;

	if (!ns_enter(&o, &kvm, ready, go)) {
		for (int i = 0; i < NR_IDS; i++) {
			int vm;

			if (ns_become(&o, i))
				break;
			vm = vm_create_raw(kvm);
			o.vm[i] = vm < 0 ? -vm : 0;
			for (int j = 0; j < 2; j++) {
				int v = vm >= 0 ? vcpu_create_raw(vm, j) : -EBADF;

				o.vcpu[i][j] = v < 0 ? -v : 0;
			}
		}
		/* a namespace of its own inside, as yet another mapped uid */
		if (!*o.failed && !ns_become(&o, NR_IDS)) {
			if (unshare(CLONE_NEWUSER)) {
				ns_setup_failed(&o, "nested unshare(CLONE_NEWUSER)");
			} else {
				int vm = vm_create_raw(kvm);

				o.nested_vm = vm < 0 ? -vm : 0;
			}
		}
	}
	if (write(out, &o, sizeof(o)) != sizeof(o))
		_exit(4);
	for (;;)
		pause();
}

static void write_map(pid_t pid, const char *file)
{
	char path[64], map[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	snprintf(map, sizeof(map), "0 %u 65536\n", SUBUID);
	ekvm_must_write(path, map);
}

/* Starts the namespace process and maps its namespace as newuidmap/newgidmap would. */
static pid_t ns_start(struct ns_outcome *o)
{
	int ready[2], go[2], out[2];
	pid_t pid;
	char c;

	TEST_ASSERT(!pipe(ready) && !pipe(go) && !pipe(out), "pipe");
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork");
	if (!pid) {
		close(ready[0]);
		close(go[1]);
		close(out[0]);
		ns_child(ready[1], go[0], out[1]);
	}
	close(ready[1]);
	close(go[0]);
	close(out[1]);
	if (read(ready[0], &c, 1) == 1) {
		write_map(pid, "uid_map");
		write_map(pid, "gid_map");
		c = 'm';
		TEST_ASSERT(write(go[1], &c, 1) == 1, "write to the namespace process");
	}
	TEST_ASSERT(read(out[0], o, sizeof(*o)) == sizeof(*o),
		    "the namespace process died before reporting");
	TEST_ASSERT(!*o->failed, "the namespace process: %s: %s", o->failed, strerror(o->err));
	close(ready[0]);
	close(go[1]);
	close(out[0]);
	return pid;
}

/* A process of `uid` outside any namespace tries 3 VMs; the errno of each. */
static pid_t plain_start(uid_t uid, int err[3])
{
	int p[2];
	pid_t pid;

	TEST_ASSERT(!pipe(p), "pipe");
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork");
	if (!pid) {
		int kvm, e[3];

		close(p[0]);
		if (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
			_exit(2);
		kvm = open("/dev/kvm", O_RDWR);
		if (kvm < 0)
			_exit(3);
		for (int i = 0; i < 3; i++) {
			int vm = vm_create_raw(kvm);

			e[i] = vm < 0 ? -vm : 0;
		}
		if (write(p[1], e, sizeof(e)) != sizeof(e))
			_exit(4);
		for (;;)
			pause();
	}
	close(p[1]);
	TEST_ASSERT(read(p[0], err, 3 * sizeof(int)) == 3 * sizeof(int),
		    "the process of uid %u died before reporting", uid);
	close(p[0]);
	return pid;
}

static void kill_wait(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	TEST_ASSERT(waitpid(pid, &status, 0) == pid, "waitpid");
}

static void expect3(const int got[3], const int want[3], const char *who)
{
	for (int i = 0; i < 3; i++)
		TEST_ASSERT(got[i] == want[i], "%s, VM %d: %s, expected %s", who, i + 1,
			    strerror(got[i]), strerror(want[i]));
}

int main(void)
{
	static const int own2[3] = { 0, 0, EDQUOT }, none[3] = { EDQUOT, EDQUOT, EDQUOT };
	int got[3], root_vm[3], kvm, kmsg, n_vm = 0, n_vcpu = 0;
	struct ns_outcome o;
	char needle[160], *log;
	pid_t ns, plain;
	long vms0, vcpus0;
	struct stat st;

	ekvm_require(3);
	TEST_REQUIRE(!access("/proc/self/uid_map", F_OK));
	TEST_ASSERT(!ekvm_read(MAX_VMS, saved_vms, sizeof(saved_vms)) &&
		    !ekvm_read(MAX_VCPUS, saved_vcpus, sizeof(saved_vcpus)),
		    "the limit parameters are missing");
	TEST_ASSERT(!stat("/dev/kvm", &st), "stat /dev/kvm");
	saved_mode = st.st_mode & 07777;
	if (ekvm_read(USERNS_CLONE, saved_userns, sizeof(saved_userns)))
		*saved_userns = '\0';	/* not a Debian kernel: always allowed */
	atexit(restore);
	TEST_ASSERT(!chmod("/dev/kvm", 0666), "chmod /dev/kvm");
	if (*saved_userns)
		ekvm_must_write(USERNS_CLONE, "1");

	vms0 = ekvm_read_num(VMS);
	vcpus0 = ekvm_read_num(VCPUS);
	kmsg_ratelimit_settle();
	kmsg = kmsg_open();
	ekvm_must_write(MAX_VMS, "2");
	ekvm_must_write(MAX_VCPUS, "3");

	/* uids 0..5 of uid 1000's namespace: 2 VMs and 3 vCPUs in all */
	ns = ns_start(&o);
	for (int i = 0; i < NR_IDS; i++) {
		printf("namespace uid %d (kuid %u): VM %s, vCPUs %s, %s\n", i, SUBUID + i,
		       strerror(o.vm[i]), strerror(o.vcpu[i][0]), strerror(o.vcpu[i][1]));
		n_vm += !o.vm[i];
		n_vcpu += !o.vcpu[i][0] + !o.vcpu[i][1];
		TEST_ASSERT(!o.vm[i] || o.vm[i] == EDQUOT,
			    "namespace uid %d: KVM_CREATE_VM failed with %s", i, strerror(o.vm[i]));
	}
	printf("nested namespace: VM %s\n", strerror(o.nested_vm));
	TEST_ASSERT(n_vm == 2 && n_vcpu == 3,
		    "uid 1000 got %d VMs and %d vCPUs through its user namespace's uids, the limits are 2 and 3",
		    n_vm, n_vcpu);
	TEST_ASSERT(!o.vm[0] && !o.vm[1] && o.vcpu[1][1] == EDQUOT,
		    "namespace uids 0 and 1 should have had the VMs, the 4th vCPU refused");
	TEST_ASSERT(o.nested_vm == EDQUOT, "nested namespace: KVM_CREATE_VM %s, expected %s",
		    strerror(o.nested_vm), strerror(EDQUOT));
	ekvm_wait_counts(vms0 + 2, vcpus0 + 3, "uid 1000's namespace at its limits");

	/* the log names the caller's uid (as the host sees it) and the owner charged */
	log = kmsg_read_new(kmsg);
	snprintf(needle, sizeof(needle), "KVM_CREATE_VM refused for pid %d (", ns);
	TEST_ASSERT(strstr(log, needle), "no log line '%s...'", needle);
	snprintf(needle, sizeof(needle),
		 ") uid %u (charged to %u, owner of its user namespace): the per-user limit of 2 VMs is reached",
		 SUBUID + 2, OWNER);
	TEST_ASSERT(strstr(log, needle), "no log line '...%s'", needle);
	snprintf(needle, sizeof(needle),
		 ") uid %u (charged to %u with its VM): the per-user limit of 3 vCPUs is reached",
		 SUBUID + 1, OWNER);
	TEST_ASSERT(strstr(log, needle), "no log line '...%s'", needle);
	free(log);

	/* uid 1000 outside the namespace: the same count */
	plain = plain_start(OWNER, got);
	expect3(got, none, "uid 1000 outside its namespace");
	kill_wait(plain);

	/* root: uid 0 of the namespace was not charged to it */
	kvm = kvm_open();
	for (int i = 0; i < 3; i++) {
		root_vm[i] = vm_create_raw(kvm);
		got[i] = root_vm[i] < 0 ? -root_vm[i] : 0;
	}
	expect3(got, own2, "root");
	for (int i = 0; i < 3; i++)
		if (root_vm[i] >= 0)
			close(root_vm[i]);
	close(kvm);

	/* another uid: its own 2 */
	plain = plain_start(1001, got);
	expect3(got, own2, "uid 1001");
	ekvm_wait_counts(vms0 + 4, vcpus0 + 3, "uids 1000 and 1001 at their limits");
	kill_wait(plain);

	/* killing the namespace process releases what was charged to uid 1000 */
	kill_wait(ns);
	ekvm_wait_counts(vms0, vcpus0, "all killed");
	plain = plain_start(OWNER, got);
	expect3(got, own2, "uid 1000 once its namespace process is gone");
	kill_wait(plain);
	ekvm_wait_counts(vms0, vcpus0, "all killed again");

	kmsg_count(kmsg, NULL);
	printf("per-user limits across user namespaces ok\n");
	return 0;
}
