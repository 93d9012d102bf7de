// SPDX-License-Identifier: GPL-2.0-only
/*
 * ekvm audit trail: the tracepoints ekvm:vm_create, vm_destroy, vm_denied and vcpu_denied,
 * enabled through tracefs, and the kernel log records of kvm.ekvm_audit_log.
 *
 * Creates and destroys VMs of known shape (vCPUs, memory, lifetime, uid), has VMs and vCPUs
 * refused by the drain and the per-user limits, and checks every field of every record.
 * With ekvm_audit_log off no record is logged; bad values for it are refused.
 */
#define _GNU_SOURCE
#include <sys/prctl.h>
#include <sys/wait.h>

#include "ekvm_test.h"

#define TRACING		"/sys/kernel/tracing"
#define AUDIT_LOG	KVM_PARAMS "ekvm_audit_log"
#define DRAIN		EKVM_SYSFS "drain"
#define MAX_VMS		KVM_PARAMS "ekvm_max_vms_per_user"
#define MAX_VCPUS	KVM_PARAMS "ekvm_max_vcpus_per_user"


static char comm[17];
static char saved_audit[8];

static void restore(void)
{
	ekvm_write(TRACING "/events/ekvm/enable", "0");
	ekvm_write(AUDIT_LOG, saved_audit);
	ekvm_write(DRAIN, "0");
	ekvm_write(MAX_VMS, "0");
	ekvm_write(MAX_VCPUS, "0");
}

/* The trace so far, as one string. */
static char *read_trace(void)
{
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap);
	ssize_t n;
	int fd = open(TRACING "/trace", O_RDONLY);

	TEST_ASSERT(buf && fd >= 0, "open " TRACING "/trace: %s", strerror(errno));
	while ((n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += n;
	buf[len] = '\0';
	close(fd);
	return buf;
}

/* The first trace line of event `ev` that contains `with`; NULL if none. */
static const char *find_event(const char *trace, const char *ev, const char *with)
{
	char tag[64];
	const char *p = trace;

	snprintf(tag, sizeof(tag), " %s: ", ev);
	while ((p = strstr(p, tag))) {
		const char *eol = strchrnul(p, '\n');
		const char *w = strstr(p, with);

		if (w && w < eol)
			return p + strlen(tag);
		p = eol;
	}
	return NULL;
}

static unsigned long long field(const char *rec, const char *name)
{
	char key[32];
	const char *p;

	snprintf(key, sizeof(key), " %s=", name);
	p = strstr(rec - 1, key);
	TEST_ASSERT(p && p < strchrnul(rec, '\n'), "no field %s in: %.200s", name, rec);
	return strtoull(p + strlen(key), NULL, 10);
}

static void child_vm(uid_t uid)
{
	pid_t pid = fork();
	int status;

	TEST_ASSERT(pid >= 0, "fork");
	if (!pid) {
		int kvm, vm;

		if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
			_exit(2);
		kvm = open("/dev/kvm", O_RDWR);
		vm = kvm < 0 ? -1 : vm_create_raw(kvm);
		_exit(vm < 0 ? 3 : 0);
	}
	TEST_ASSERT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		    !WEXITSTATUS(status), "the VM of uid %u: status %#x", uid, status);
}

int main(void)
{
	char with[128], needle[160];
	unsigned long long serial, v;
	const char *rec;
	char *trace, *log;
	int kvm, vm, vm2, c0, r, kmsg;
	pid_t pid = getpid();
	struct stat st;

	ekvm_require(4);
	TEST_ASSERT(!ekvm_read(AUDIT_LOG, saved_audit, sizeof(saved_audit)), "no %s", AUDIT_LOG);
	TEST_ASSERT(!strcmp(saved_audit, "N"), "ekvm_audit_log is %s, its default is N",
		    saved_audit);
	atexit(restore);
	prctl(PR_GET_NAME, comm);
	ensure_mounted(TRACING, "tracefs", "trace");
	TEST_ASSERT(!access(TRACING "/events/ekvm/vm_create", F_OK),
		    "no ekvm events in " TRACING "/events");
	ekvm_must_write(TRACING "/events/ekvm/enable", "1");
	TEST_ASSERT(!truncate(TRACING "/trace", 0), "clear the trace: %s", strerror(errno));
	ekvm_must_write(AUDIT_LOG, "1");
	TEST_ASSERT(!stat("/dev/kvm", &st) && !chmod("/dev/kvm", 0666), "chmod /dev/kvm");
	kmsg = kmsg_open();

	kmsg_ratelimit_settle();
	kvm = kvm_open();
	ekvm_known_vm(kvm);
	child_vm(1000);
	chmod("/dev/kvm", st.st_mode & 07777);
	/* refused by the drain */
	ekvm_must_write(DRAIN, "1");
	r = vm_create_raw(kvm);
	TEST_ASSERT(r == -EBUSY, "KVM_CREATE_VM while draining: %d", r);
	ekvm_must_write(DRAIN, "0");
	/* refused by the vCPU limit */
	ekvm_must_write(MAX_VCPUS, "1");
	vm = vm_create_raw(kvm);
	TEST_ASSERT(vm >= 0, "KVM_CREATE_VM: %s", strerror(-vm));
	c0 = vcpu_create_raw(vm, 0);
	r = vcpu_create_raw(vm, 7);
	TEST_ASSERT(c0 >= 0 && r == -EDQUOT, "vCPUs under a limit of 1: %d, %d", c0, r);
	ekvm_must_write(MAX_VCPUS, "0");
	/* refused by the VM limit (vm is open) */
	ekvm_must_write(MAX_VMS, "1");
	vm2 = vm_create_raw(kvm);
	TEST_ASSERT(vm2 == -EDQUOT, "a second VM under a limit of 1: %d", vm2);
	ekvm_must_write(MAX_VMS, "0");
	close(c0);
	close(vm);

	trace = read_trace();
	printf("%s", trace);

	/* the known VM: created and destroyed by this process, as root */
	snprintf(with, sizeof(with), "pid=%d uid=0 comm=%s\n", pid, comm);
	rec = find_event(trace, "vm_create", with);
	TEST_ASSERT(rec, "no vm_create with '%s'", with);
	serial = field(rec, "vm");
	snprintf(with, sizeof(with), "vm=%llu pid=%d uid=0 comm=%s ", serial, pid, comm);
	rec = find_event(trace, "vm_destroy", with);
	TEST_ASSERT(rec, "no vm_destroy with '%s'", with);
	TEST_ASSERT(field(rec, "vcpus") == 2, "vm_destroy: vcpus %llu, expected 2",
		    field(rec, "vcpus"));
	TEST_ASSERT(field(rec, "memory") == EKVM_KNOWN_MEMORY,
		    "vm_destroy: memory %llu, expected %d", field(rec, "memory"),
		    EKVM_KNOWN_MEMORY);
	v = field(rec, "lifetime_ms");
	TEST_ASSERT(v >= EKVM_KNOWN_LIFETIME_MS && v < 60000,
		    "vm_destroy: lifetime_ms %llu, expected %d+", v, EKVM_KNOWN_LIFETIME_MS);
	/* the VM of uid 1000 */
	rec = find_event(trace, "vm_create", " uid=1000 ");
	TEST_ASSERT(rec, "no vm_create of uid 1000");
	snprintf(with, sizeof(with), "vm=%llu ", field(rec, "vm"));
	rec = find_event(trace, "vm_destroy", with);
	TEST_ASSERT(rec && strstr(rec, " uid=1000 ") && field(rec, "vcpus") == 0 &&
		    field(rec, "memory") == 0, "vm_destroy of uid 1000's VM: %.200s",
		    rec ? rec : "missing");
	/* the refusals */
	snprintf(with, sizeof(with), "pid=%d uid=0 comm=%s reason=drain err=%d\n", pid, comm,
		 -EBUSY);
	TEST_ASSERT(find_event(trace, "vm_denied", with), "no vm_denied with '%s'", with);
	snprintf(with, sizeof(with), "pid=%d uid=0 comm=%s reason=vm_limit err=%d\n", pid, comm,
		 -EDQUOT);
	TEST_ASSERT(find_event(trace, "vm_denied", with), "no vm_denied with '%s'", with);
	snprintf(with, sizeof(with), " vcpu_id=7 pid=%d uid=0 comm=%s reason=vcpu_limit err=%d\n",
		 pid, comm, -EDQUOT);
	TEST_ASSERT(find_event(trace, "vcpu_denied", with), "no vcpu_denied with '%s'", with);

	/* the same in the kernel log (kmsg was opened before the first VM) */
	log = kmsg_read_new(kmsg);
	snprintf(needle, sizeof(needle), "audit: vm_create vm=%llu pid=%d uid=0 comm=%s\n",
		 serial, pid, comm);
	TEST_ASSERT(strstr(log, needle), "no log record '%s'", needle);
	snprintf(needle, sizeof(needle),
		 "audit: vm_destroy vm=%llu pid=%d uid=0 comm=%s vcpus=2 memory=%d lifetime_ms=",
		 serial, pid, comm, EKVM_KNOWN_MEMORY);
	TEST_ASSERT(strstr(log, needle), "no log record '%s'", needle);
	snprintf(needle, sizeof(needle), "audit: vm_denied pid=%d uid=0 comm=%s reason=drain err=%d\n",
		 pid, comm, -EBUSY);
	TEST_ASSERT(strstr(log, needle), "no log record '%s'", needle);
	snprintf(needle, sizeof(needle),
		 "audit: vcpu_denied vm=%llu vcpu_id=7 pid=%d uid=0 comm=%s reason=vcpu_limit err=%d\n",
		 serial + 2, pid, comm, -EDQUOT);
	TEST_ASSERT(strstr(log, needle), "no log record '%s'", needle);
	TEST_ASSERT(strstr(log, "audit: vm_create vm=") && strstr(log, " uid=1000 comm="),
		    "no log record of uid 1000's VM");
	free(log);

	/* off: no record */
	ekvm_must_write(AUDIT_LOG, "0");
	vm = vm_create_raw(kvm);
	TEST_ASSERT(vm >= 0, "KVM_CREATE_VM: %s", strerror(-vm));
	close(vm);
	TEST_ASSERT(kmsg_count(kmsg, "audit: ") == 0, "audit records with ekvm_audit_log off");

	/* bad values */
	{
		static const char *const bad[] = { "2", "garbage", "-1", "yes1", "\n", "11", "" };

		ekvm_check_rejected(AUDIT_LOG, bad, sizeof(bad) / sizeof(bad[0]), EINVAL);
	}
	close(kvm);
	printf("audit trail ok\n");
	return 0;
}
