// SPDX-License-Identifier: GPL-2.0-only
/*
 * ekvm audit trail, the records themselves (patch 0004): a hostile process name cannot forge
 * records, the kernel log lines are rate-limited, and the kernel audit subsystem (auditd's
 * trail) gets one AUDIT_KERNEL_OTHER record per event.
 *
 * A. With kvm.ekvm_audit_log=1, the comm in the vm_create, vm_destroy, vm_denied and
 *    vcpu_denied lines and in the "KVM_CREATE_VM/VCPU refused for pid N (COMM)" warnings is
 *    escaped: each byte outside 0x21..0x7e and each of = " \ as \xHH (lowercase). A comm
 *    holding a space, '=', a newline, a quote, a backslash and a byte 0xff appears escaped, a
 *    plain one unchanged. No ekvm line logged meanwhile (the drain and the vCPU limit are
 *    switched under the hostile comm too) is more than one line or carries a forged key.
 *    (/dev/kmsg escapes the text once more, control bytes and '\' as \xHH: the records are
 *    decoded before they are checked.)
 * B. The lines are rate-limited (10 a call site in 5 s): 200 VMs created and destroyed in a
 *    burst log at least one and at most 10 for each 5 s window they span.
 * C. With the kernel audit enabled (a netlink reader registered as the audit daemon), each VM
 *    created and destroyed, each VM refused (drain, per-user VM limit) and each vCPU refused
 *    (per-user vCPU limit) gives one record of type AUDIT_KERNEL_OTHER (1316) with every field
 *    in order, the comm as audit_log_untrustedstring() writes it (hex when it has a control
 *    byte, a space or a quote, else quoted), also with ekvm_audit_log off. With the audit
 *    disabled, none. The plumbing is proved first with a marker message (AUDIT_USER_AVC, which
 *    the kernel logs even when the audit is disabled): markers also bound what each step
 *    waits for.
 *
 * Each part runs in a child process of its own and is reported on its own; the kvm parameters,
 * the drain and the audit status are restored on every exit.
 */
#define _GNU_SOURCE
#include <linux/audit.h>
#include <linux/netlink.h>
#include <ctype.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "ekvm_test.h"

/* the ABI level of patch 0004, the audit trail */
#define AUDIT_ABI	4

#define AUDIT_LOG	KVM_PARAMS "ekvm_audit_log"
#define DRAIN		EKVM_SYSFS "drain"
#define MAX_VMS		KVM_PARAMS "ekvm_max_vms_per_user"
#define MAX_VCPUS	KVM_PARAMS "ekvm_max_vcpus_per_user"


#define BURST_VMS	200
#define RATE_BURST	10		/* printk_ratelimited(): 10 lines ... */
#define RATE_WINDOW_S	5		/* ... a call site in 5 s */

/*
 * The hostile name: a space, '=', a newline followed by a forged "vm=9", a quote, a backslash
 * and a byte above 0x7e; 15 bytes, what a comm holds.
 */
static const char hostile_name[] = "a b=c\nvm=9 x\"\\\xff";
static const char plain_name[] = "ekvm-Plain_1.x";
/* '=' alone is not "untrusted" for the kernel audit: quoted there, escaped in the log */
static const char equals_name[] = "ekvm=eq";

static char saved_audit_log[8];
static pid_t main_pid;

/* A failed check that ends the part (errno cleared: test_assert() makes EACCES a skip). */
#define CHECK(e, fmt, ...) do {						\
	if (!(e)) {							\
		errno = 0;						\
		TEST_FAIL(fmt, ##__VA_ARGS__);				\
	}								\
} while (0)

/* A failed check of a record: reported, counted, and the part goes on. */
static int failures;
#define EXPECT(e, fmt, ...) ({						\
	bool __ok = (e);						\
	if (!__ok) {							\
		failures++;						\
		printf("FAIL: " fmt "\n", ##__VA_ARGS__);		\
	}								\
	__ok;								\
})

/* The end of a part: all its checks passed. */
static void part_done(const char *part)
{
	CHECK(!failures, "part %s: %d checks failed (FAIL: lines above)", part, failures);
}

/* A printable rendering of s (C escapes), for messages; a few rotating buffers. */
static const char *show(const char *s)
{
	static char bufs[4][1024];
	static int next;
	char *b = bufs[next++ % 4], *p = b;

	for (; *s && p < b + sizeof(bufs[0]) - 5; s++) {
		unsigned char c = *s;

		if (c == '\n')
			p += sprintf(p, "\\n");
		else if (c < 0x20 || c > 0x7e)
			p += sprintf(p, "\\%03o", c);
		else
			*p++ = c;
	}
	*p = '\0';
	return b;
}

/* The comm as the spec says ekvm's log lines write it. */
static void log_escape(const char *comm, char *out, size_t size)
{
	char *p = out;

	for (const unsigned char *s = (const unsigned char *)comm; *s; s++) {
		TEST_ASSERT(p + 5 < out + size, "escape buffer");
		if (*s < 0x21 || *s > 0x7e || *s == '=' || *s == '"' || *s == '\\')
			p += sprintf(p, "\\x%02x", *s);
		else
			*p++ = *s;
	}
	*p = '\0';
}

/* The comm as audit_log_untrustedstring() writes it. */
static void audit_escape(const char *comm, char *out, size_t size)
{
	const unsigned char *s;
	char *p = out;

	for (s = (const unsigned char *)comm; *s; s++)
		if (*s < 0x21 || *s > 0x7e || *s == '"')
			break;
	if (!*s) {
		snprintf(out, size, "\"%s\"", comm);
		return;
	}
	for (s = (const unsigned char *)comm; *s; s++) {
		TEST_ASSERT(p + 3 < out + size, "escape buffer");
		p += sprintf(p, "%02X", *s);
	}
	*p = '\0';
}

/* Sets the comm; returns it as the kernel keeps it (truncated to 15 bytes). */
static void set_comm(const char *name, char *comm)
{
	TEST_ASSERT(!prctl(PR_SET_NAME, name), "PR_SET_NAME: %s", strerror(errno));
	memset(comm, 0, 17);
	TEST_ASSERT(!prctl(PR_GET_NAME, comm), "PR_GET_NAME: %s", strerror(errno));
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* KVM_CREATE_VM refused by the drain, switched on and off under the same comm. */
static void drain_refusal(int kvm)
{
	int r;

	ekvm_must_write(DRAIN, "1");
	r = vm_create_raw(kvm);
	ekvm_must_write(DRAIN, "0");
	CHECK(r == -EBUSY, "KVM_CREATE_VM while draining: %d, expected %d", r, -EBUSY);
}

/* KVM_CREATE_VCPU 7 refused by a per-user limit of 1 vCPU (set and reset under the comm). */
static void vcpu_refusal(int kvm)
{
	int vm, vcpu, r;

	vm = vm_create_raw(kvm);
	TEST_ASSERT(vm >= 0, "KVM_CREATE_VM: %s", strerror(-vm));
	ekvm_must_write(MAX_VCPUS, "1");
	vcpu = vcpu_create_raw(vm, 0);
	r = vcpu_create_raw(vm, 7);
	ekvm_must_write(MAX_VCPUS, "0");
	CHECK(vcpu >= 0 && r == -EDQUOT, "vCPUs under a limit of 1: %d, %d", vcpu, r);
	close(vcpu);
	close(vm);
}

/* ------------------------------------------------------------------ the kernel log */

/* Decodes /dev/kmsg's escaping (\xHH) of one record's text, in place. */
static void kmsg_unescape(char *s)
{
	char *d = s;

	while (*s) {
		unsigned int c;

		if (s[0] == '\\' && s[1] == 'x' && sscanf(s + 2, "%2x", &c) == 1 &&
		    isxdigit((unsigned char)s[2]) && isxdigit((unsigned char)s[3])) {
			*d++ = c;
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

struct records {
	char **rec;
	int n, cap;
};

/*
 * The records logged since the last look (kmsg_open()), each decoded to the exact text the
 * kernel logged: a raw newline in a record is one the kernel wrote, not a record separator.
 * The ekvm ones are echoed when echo is set (the harness keeps 300 lines of output). A
 * WARNING, BUG or call trace fails the test, as with kmsg_read_new().
 */
static void kmsg_records(int kmsg, struct records *r, bool echo)
{
	char buf[4096];

	memset(r, 0, sizeof(*r));
	for (;;) {
		ssize_t n = read(kmsg, buf, sizeof(buf) - 1);
		char *msg, *end;

		if (n < 0 && errno == EPIPE)
			continue;	/* records overwritten meanwhile */
		if (n <= 0)
			break;
		buf[n] = '\0';
		msg = strchr(buf, ';') ? strchr(buf, ';') + 1 : buf;
		end = strchr(msg, '\n');	/* then the dictionary, if any */
		if (end)
			*end = '\0';
		TEST_ASSERT(!strstr(msg, "WARNING:") && !strstr(msg, "BUG:") &&
			    !strstr(msg, "Call Trace"), "the kernel logged: %s", msg);
		kmsg_unescape(msg);
		if (echo && strstr(msg, "ekvm"))
			printf("kmsg: %s\n", show(msg));
		if (r->n == r->cap) {
			r->cap = r->cap ? 2 * r->cap : 256;
			r->rec = realloc(r->rec, r->cap * sizeof(*r->rec));
			TEST_ASSERT(r->rec, "realloc");
		}
		r->rec[r->n] = strdup(msg);
		TEST_ASSERT(r->rec[r->n], "strdup");
		r->n++;
	}
}

static void records_free(struct records *r)
{
	for (int i = 0; i < r->n; i++)
		free(r->rec[i]);
	free(r->rec);
}

static const char *const log_keys[][9] = {
	{ "vm_create", "vm", "pid", "uid", "comm" },
	{ "vm_destroy", "vm", "pid", "uid", "comm", "vcpus", "memory", "lifetime_ms" },
	{ "vm_denied", "pid", "uid", "comm", "reason", "err" },
	{ "vcpu_denied", "vm", "vcpu_id", "pid", "uid", "comm", "reason", "err" },
};

/*
 * Every ekvm record is one line, and every audit line is "<event> key=value..." with exactly
 * the keys of its event in order and no other '=' (no field forged by a comm).
 */
static void check_no_forgery(const struct records *r)
{
	for (int i = 0; i < r->n; i++) {
		const char *rec = r->rec[i], *a;
		char copy[1024], *tok, *save;
		int k = 0, ev = -1;

		if (!strstr(rec, "ekvm"))
			continue;
		if (!EXPECT(!strchr(rec, '\n'), "an ekvm record of more than one line (a record "
			    "forged by the comm): '%s'", show(rec)))
			continue;
		a = strstr(rec, "ekvm: audit: ");
		if (!a)
			continue;
		snprintf(copy, sizeof(copy), "%s", a + strlen("ekvm: audit: "));
		tok = strtok_r(copy, " ", &save);
		for (int e = 0; tok && e < 4; e++)
			if (!strcmp(tok, log_keys[e][0]))
				ev = e;
		if (!EXPECT(ev >= 0, "an audit line of an unknown event: '%s'", show(rec)))
			continue;
		while ((tok = strtok_r(NULL, " ", &save))) {
			const char *eq = strchr(tok, '=');
			const char *want = log_keys[ev][++k];
			size_t klen = eq ? (size_t)(eq - tok) : 0;

			if (!EXPECT(want, "an audit line with more fields than %s has (forged "
				    "by the comm): '%s' in '%s'", log_keys[ev][0], show(tok),
				    show(rec)))
				break;
			if (!EXPECT(eq && !strchr(eq + 1, '=') && klen == strlen(want) &&
				    !strncmp(tok, want, klen),
				    "an audit line's field %d is '%s', expected one '%s=' "
				    "(forged by the comm) in '%s'", k, show(tok), want, show(rec)))
				break;
		}
		if (!tok)
			EXPECT(!log_keys[ev][k + 1], "an audit line with fewer fields than %s has: "
			       "'%s'", log_keys[ev][0], show(rec));
	}
}

/* The one record with "ekvm: audit: <ev> " of process pid (from "audit: "); NULL if none. */
static const char *find_audit_line(const struct records *r, const char *ev, pid_t pid,
				   const char *hint)
{
	char tag[64], p[32];
	const char *found = NULL;

	snprintf(tag, sizeof(tag), "ekvm: audit: %s ", ev);
	snprintf(p, sizeof(p), " pid=%d ", pid);
	for (int i = 0; i < r->n; i++)
		if (strstr(r->rec[i], tag) && strstr(r->rec[i], p)) {
			EXPECT(!found, "two %s lines of pid %d (%s): '%s' and '%s'", ev, pid, hint,
			       show(found), show(r->rec[i]));
			found = strstr(r->rec[i], tag) + strlen("ekvm: audit: ");
		}
	EXPECT(found, "no '%s' log line of pid %d (%s)", ev, pid, hint);
	return found;
}

static void expect_line(const char *got, const char *want)
{
	if (got)
		EXPECT(!strcmp(got, want), "log line\n    got:      '%s'\n    expected: '%s'",
		       show(got), show(want));
}

/* vm_create and vm_destroy of the known VM of pid under comm: every field. */
static void check_log_vm(const struct records *r, pid_t pid, const char *comm)
{
	char esc[128], want[512];
	unsigned long long serial = 0, ms = 0;
	const char *got;
	int n = 0;

	log_escape(comm, esc, sizeof(esc));
	got = find_audit_line(r, "vm_create", pid, show(comm));
	if (got && !EXPECT(sscanf(got, "vm_create vm=%llu", &serial) == 1,
			   "a vm_create line without a serial: '%s'", show(got)))
		got = NULL;
	if (got) {
		snprintf(want, sizeof(want), "vm_create vm=%llu pid=%d uid=0 comm=%s", serial, pid,
			 esc);
		expect_line(got, want);
	}
	got = find_audit_line(r, "vm_destroy", pid, show(comm));
	if (!got)
		return;
	snprintf(want, sizeof(want),
		 "vm_destroy vm=%llu pid=%d uid=0 comm=%s vcpus=2 memory=%d lifetime_ms=", serial,
		 pid, esc, EKVM_KNOWN_MEMORY);
	if (EXPECT(!strncmp(got, want, strlen(want)) &&
		   sscanf(got + strlen(want), "%llu%n", &ms, &n) == 1 && !got[strlen(want) + n],
		   "log line\n    got:      '%s'\n    expected: '%s<ms>'", show(got), show(want)))
		EXPECT(ms >= EKVM_KNOWN_LIFETIME_MS && ms < 60000,
		       "vm_destroy: lifetime_ms %llu, expected %d+", ms, EKVM_KNOWN_LIFETIME_MS);
	printf("A: vm_create and vm_destroy of vm %llu, comm '%s': expected comm=%s\n", serial,
	       show(comm), show(esc));
}

/* A: the comm escaped in the kernel log lines. */
static void part_a(void)
{
	char comm[17], esc[128], want[512];
	unsigned long long serial;
	struct records r;
	const char *got;
	pid_t pid = getpid();
	int kvm, kmsg, found = 0;

	ekvm_must_write(AUDIT_LOG, "1");
	kvm = kvm_open();
	kmsg = kmsg_open();
	kmsg_ratelimit_settle();

	set_comm(hostile_name, comm);
	printf("A: hostile comm '%s' (%zu bytes)\n", show(comm), strlen(comm));
	ekvm_known_vm(kvm);
	drain_refusal(kvm);
	kmsg_records(kmsg, &r, true);
	check_log_vm(&r, pid, comm);

	log_escape(comm, esc, sizeof(esc));
	got = find_audit_line(&r, "vm_denied", pid, "drain");
	snprintf(want, sizeof(want), "vm_denied pid=%d uid=0 comm=%s reason=drain err=%d", pid, esc,
		 -EBUSY);
	expect_line(got, want);
	snprintf(want, sizeof(want), "KVM_CREATE_VM refused for pid %d (%s) uid 0: ", pid, esc);
	for (int i = 0; i < r.n; i++)
		if (strstr(r.rec[i], "KVM_CREATE_VM refused for pid ")) {
			EXPECT(strstr(r.rec[i], want) && !strchr(r.rec[i], '\n'),
			       "refused warning\n    got:      '%s'\n    expected: '...%s...'",
			       show(r.rec[i]), show(want));
			found++;
		}
	EXPECT(found == 1, "%d 'KVM_CREATE_VM refused' warnings, expected 1", found);
	check_no_forgery(&r);
	records_free(&r);

	/* a vCPU refused: its audit line and warning, and the limit set under the comm */
	vcpu_refusal(kvm);
	kmsg_records(kmsg, &r, true);
	got = find_audit_line(&r, "vm_create", pid, "the VM of the vCPU refused");
	if (got && EXPECT(sscanf(got, "vm_create vm=%llu", &serial) == 1,
			  "a vm_create line without a serial: '%s'", show(got))) {
		got = find_audit_line(&r, "vcpu_denied", pid, "vcpu_limit");
		snprintf(want, sizeof(want), "vcpu_denied vm=%llu vcpu_id=7 pid=%d uid=0 comm=%s "
			 "reason=vcpu_limit err=%d", serial, pid, esc, -EDQUOT);
		expect_line(got, want);
	}
	snprintf(want, sizeof(want), "KVM_CREATE_VCPU 7 refused for pid %d (%s) uid 0: ", pid,
		 esc);
	found = 0;
	for (int i = 0; i < r.n; i++)
		if (strstr(r.rec[i], "KVM_CREATE_VCPU ")) {
			EXPECT(strstr(r.rec[i], want) && !strchr(r.rec[i], '\n'),
			       "refused warning\n    got:      '%s'\n    expected: '...%s...'",
			       show(r.rec[i]), show(want));
			found++;
		}
	EXPECT(found == 1, "%d 'KVM_CREATE_VCPU refused' warnings, expected 1", found);
	check_no_forgery(&r);
	records_free(&r);
	printf("A: the vCPU refusal: vcpu_denied and the warning checked\n");

	set_comm(plain_name, comm);
	printf("A: plain comm '%s'\n", show(comm));
	ekvm_known_vm(kvm);
	kmsg_records(kmsg, &r, true);
	check_log_vm(&r, pid, comm);
	check_no_forgery(&r);
	records_free(&r);

	close(kmsg);
	close(kvm);
	part_done("A");
}

/* ------------------------------------------------------------------ B: rate limit */

static void part_b(void)
{
	char comm[17], tag[64];
	struct records r;
	pid_t pid = getpid();
	int kvm, keep, kmsg, creates = 0, destroys = 0, suppressed = 0;
	long long t0, ms;
	long windows, allowed;

	ekvm_must_write(AUDIT_LOG, "1");
	set_comm("ekvm-burst", comm);
	kvm = kvm_open();
	/* one VM kept open: KVM does not switch virtualization off and on for every VM */
	keep = vm_create_raw(kvm);
	TEST_ASSERT(keep >= 0, "KVM_CREATE_VM: %s", strerror(-keep));
	kmsg = kmsg_open();
	kmsg_ratelimit_settle();
	t0 = now_ms();
	for (int i = 0; i < BURST_VMS; i++) {
		int vm = vm_create_raw(kvm);

		TEST_ASSERT(vm >= 0, "KVM_CREATE_VM %d: %s", i, strerror(-vm));
		close(vm);
	}
	ms = now_ms() - t0;
	kmsg_records(kmsg, &r, false);
	check_no_forgery(&r);
	snprintf(tag, sizeof(tag), " pid=%d uid=0 comm=ekvm-burst", pid);
	for (int i = 0; i < r.n; i++) {
		if (strstr(r.rec[i], "ekvm: audit: vm_create ") && strstr(r.rec[i], tag))
			creates++;
		if (strstr(r.rec[i], "ekvm: audit: vm_destroy ") && strstr(r.rec[i], tag))
			destroys++;
		if (strstr(r.rec[i], "callbacks suppressed")) {
			printf("kmsg: %s\n", show(r.rec[i]));
			suppressed++;
		}
	}
	records_free(&r);
	close(keep);
	close(kmsg);
	close(kvm);

	/* a 5 s window opens at a line; ms can span at most ms / 5000 + 1 of them */
	windows = ms / (RATE_WINDOW_S * 1000) + 1;
	allowed = windows * RATE_BURST;
	printf("B: %d VMs created and destroyed in %lld ms (at most %ld rate-limit windows): "
	       "%d vm_create and %d vm_destroy lines, %d 'callbacks suppressed' lines\n",
	       BURST_VMS, ms, windows, creates, destroys, suppressed);
	CHECK(allowed < BURST_VMS / 2, "the burst of %d VMs took %lld ms: too slow to tell a rate "
	      "limit", BURST_VMS, ms);
	EXPECT(creates >= 1 && destroys >= 1, "no vm_create or vm_destroy line at all (%d, %d)",
	       creates, destroys);
	EXPECT(creates <= allowed, "%d vm_create lines for %d VMs in %lld ms: not rate-limited "
	       "(at most %d a call site in %d s: %ld)", creates, BURST_VMS, ms, RATE_BURST,
	       RATE_WINDOW_S, allowed);
	EXPECT(destroys <= allowed, "%d vm_destroy lines for %d VMs in %lld ms: not rate-limited "
	       "(at most %d a call site in %d s: %ld)", destroys, BURST_VMS, ms, RATE_BURST,
	       RATE_WINDOW_S, allowed);
	part_done("B");
}

/* ------------------------------------------------------------------ C: kernel audit */

struct audit_rec {
	int type;
	char *text;	/* after "audit(SEC.MSEC:SERIAL): " */
};

static int audit_fd = -1;
static pid_t audit_owner;	/* the process registered as the audit daemon */
static bool audit_registered;
static uint32_t audit_seq;
static struct audit_rec *arecs;
static int narecs, arecs_cap;
/* the last ack (NLMSG_ERROR) and status reply seen */
static uint32_t ack_seq, status_seq;
static int ack_err;
static struct audit_status status_reply;
static int saved_enabled = -1;

/* The reader's socket; when quiet, false if the kernel has no audit. */
static bool audit_open(bool quiet)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int size = 4 << 20;

	audit_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
	if (audit_fd < 0 && quiet)
		return false;
	if (audit_fd < 0 && (errno == EPROTONOSUPPORT || errno == ECONNREFUSED))
		TEST_FAIL("the guest kernel has no audit: socket(NETLINK_AUDIT): %s "
			  "(CONFIG_AUDIT=y expected, as Debian's)", strerror(errno));
	TEST_ASSERT(audit_fd >= 0, "socket(NETLINK_AUDIT): %s", strerror(errno));
	TEST_ASSERT(!bind(audit_fd, (struct sockaddr *)&sa, sizeof(sa)), "bind: %s",
		    strerror(errno));
	setsockopt(audit_fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	return true;
}

static void add_record(int type, const char *data, size_t len)
{
	char *text, *body;

	while (len && !data[len - 1])
		len--;
	if (narecs == arecs_cap) {
		arecs_cap = arecs_cap ? arecs_cap * 2 : 256;
		arecs = realloc(arecs, arecs_cap * sizeof(*arecs));
		TEST_ASSERT(arecs, "realloc");
	}
	text = strndup(data, len);
	TEST_ASSERT(text, "strndup");
	body = strstr(text, "): ");
	if (!strncmp(text, "audit(", 6) && body)
		memmove(text, body + 3, strlen(body + 3) + 1);
	arecs[narecs].type = type;
	arecs[narecs].text = text;
	narecs++;
	if (type == AUDIT_KERNEL_OTHER || type == AUDIT_USER_AVC || type == AUDIT_CONFIG_CHANGE)
		printf("audit: type=%d %s\n", type, show(text));
}

/* Reads what arrives within timeout_ms (returns at the first datagram); false on timeout. */
static bool audit_pump(int timeout_ms)
{
	static char buf[1 << 16];
	struct pollfd pfd = { .fd = audit_fd, .events = POLLIN };
	size_t rest;
	ssize_t n;
	char *p;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return false;
	n = recv(audit_fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	CHECK(n != -1 || errno != ENOBUFS, "the audit socket overflowed: records lost");
	TEST_ASSERT(n > 0, "recv(NETLINK_AUDIT): %s", strerror(errno));
	for (p = buf, rest = n; rest >= NLMSG_HDRLEN;) {
		struct nlmsghdr *nh = (struct nlmsghdr *)p;
		const void *data = NLMSG_DATA(nh);
		size_t step;

		/*
		 * A record (types from 1100) is a datagram of its own, and the kernel sets its
		 * nlmsg_len without the header (audit_log_end(), a quirk auditd knows): its text
		 * is the rest of the datagram. AUDIT_REPLACE is the kernel probing its daemon.
		 */
		if (nh->nlmsg_type >= AUDIT_FIRST_USER_MSG) {
			if (nh->nlmsg_type != AUDIT_REPLACE)
				add_record(nh->nlmsg_type, data, rest - NLMSG_HDRLEN);
			break;
		}
		if (nh->nlmsg_len < NLMSG_HDRLEN || nh->nlmsg_len > rest)
			break;
		if (nh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = data;

			ack_seq = e->msg.nlmsg_seq;
			ack_err = e->error;
		} else if (nh->nlmsg_type == AUDIT_GET) {
			size_t len = nh->nlmsg_len - NLMSG_HDRLEN;

			memset(&status_reply, 0, sizeof(status_reply));
			memcpy(&status_reply, data,
			       len < sizeof(status_reply) ? len : sizeof(status_reply));
			status_seq = nh->nlmsg_seq;
		}
		step = NLMSG_ALIGN(nh->nlmsg_len);
		if (step >= rest)
			break;
		p += step;
		rest -= step;
	}
	return true;
}

/* Sends a request and waits for its ack: the error it carries (0 or -errno). */
static int audit_request(int type, const void *data, size_t len)
{
	struct {
		struct nlmsghdr nh;
		char data[1024];
	} req = { 0 };
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	uint32_t seq = ++audit_seq;
	long long end = now_ms() + 10000;

	TEST_ASSERT(len <= sizeof(req.data), "audit request too long");
	req.nh.nlmsg_len = NLMSG_LENGTH(len);
	req.nh.nlmsg_type = type;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.nh.nlmsg_seq = seq;
	memcpy(req.data, data, len);
	if (sendto(audit_fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		if (errno == ECONNREFUSED || errno == EPROTONOSUPPORT)
			TEST_FAIL("the guest kernel's audit is unavailable (audit=0 on its command "
				  "line?): sendto(NETLINK_AUDIT): %s", strerror(errno));
		TEST_FAIL("sendto(NETLINK_AUDIT, type %d): %s", type, strerror(errno));
	}
	while (ack_seq != seq && now_ms() < end)
		audit_pump(500);
	TEST_ASSERT(ack_seq == seq, "no ack for audit request type %d", type);
	return ack_err;
}

static struct audit_status audit_get(void)
{
	long long end = now_ms() + 10000;
	int r = audit_request(AUDIT_GET, NULL, 0);

	TEST_ASSERT(!r, "AUDIT_GET: %s", strerror(-r));
	/* the reply is sent by a kernel thread: it may come after the ack */
	while (status_seq != audit_seq && now_ms() < end)
		audit_pump(500);
	TEST_ASSERT(status_seq == audit_seq, "no reply to AUDIT_GET");
	return status_reply;
}

static int audit_set(uint32_t mask, uint32_t enabled, uint32_t pid)
{
	struct audit_status s = { .mask = mask, .enabled = enabled, .pid = pid };

	return audit_request(AUDIT_SET, &s, sizeof(s));
}

/*
 * A marker through the kernel's audit queue (AUDIT_USER_AVC is logged even with the audit
 * disabled): once it arrived, every record the kernel queued before it has arrived too.
 * Returns the index of the marker's record.
 */
static int audit_marker(void)
{
	static int n;
	char text[64], want[80];
	long long end = now_ms() + 20000;
	int from = narecs, r;

	snprintf(text, sizeof(text), "ekvm-audit-records-marker-%d", ++n);
	snprintf(want, sizeof(want), "msg='%s'", text);
	r = audit_request(AUDIT_USER_AVC, text, strlen(text) + 1);
	TEST_ASSERT(!r, "AUDIT_USER_AVC: %s", strerror(-r));
	for (;;) {
		for (int i = from; i < narecs; i++)
			if (arecs[i].type == AUDIT_USER_AVC && strstr(arecs[i].text, want))
				return i;
		from = narecs;
		CHECK(now_ms() < end, "the audit marker '%s' never arrived: the netlink reader "
		      "gets no records from the kernel", text);
		audit_pump(500);
	}
}

/* Restores the audit status: runs in the process registered as the audit daemon. */
static void audit_restore(void)
{
	if (audit_fd < 0 || getpid() != audit_owner || !audit_registered)
		return;
	audit_registered = false;
	if (saved_enabled >= 0 && audit_set(AUDIT_STATUS_ENABLED, saved_enabled, 0))
		fprintf(stderr, "audit: could not restore enabled=%d\n", saved_enabled);
	/* what the kernel logs about it comes to us, not to the kernel log */
	while (audit_pump(300))
		;
	if (audit_set(AUDIT_STATUS_PID, 0, 0))
		fprintf(stderr, "audit: could not unregister as the audit daemon\n");
}

/* The ekvm records (type 1316, "op=ekvm_...") among arecs[from..to). */
static int ekvm_records(int from, int to, const char **out, int max)
{
	int n = 0;

	for (int i = from; i < to; i++) {
		if (arecs[i].type == AUDIT_KERNEL_OTHER && !strncmp(arecs[i].text, "op=ekvm_", 8)) {
			if (n < max)
				out[n] = arecs[i].text;
			n++;
		} else {
			EXPECT(!strstr(arecs[i].text, "op=ekvm_"),
			       "an ekvm audit record of type %d, expected %d: '%s'", arecs[i].type,
			       AUDIT_KERNEL_OTHER, show(arecs[i].text));
		}
	}
	return n;
}

static void expect_record(const char *got, const char *want, int idx)
{
	EXPECT(!strcmp(got, want),
	       "audit record %d (type %d)\n    got:      '%s'\n    expected: '%s'", idx,
	       AUDIT_KERNEL_OTHER, show(got), show(want));
}

/* A vm_create record: its serial, after checking every field. */
static unsigned long long expect_create(const char *got, pid_t pid, const char *c, int idx)
{
	unsigned long long serial = 0;
	char want[256];

	if (!EXPECT(sscanf(got, "op=ekvm_vm_create vm=%llu ", &serial) == 1,
		    "audit record %d: '%s', expected 'op=ekvm_vm_create vm=<serial> pid=%d uid=0 "
		    "comm=%s res=1'", idx, show(got), pid, show(c)))
		return 0;
	snprintf(want, sizeof(want), "op=ekvm_vm_create vm=%llu pid=%d uid=0 comm=%s res=1", serial,
		 pid, c);
	expect_record(got, want, idx);
	return serial;
}

static void expect_destroy(const char *got, unsigned long long serial, pid_t pid,
			   const char *c, int vcpus, int memory, bool check_lifetime, int idx)
{
	unsigned long long ms = 0;
	char want[256];
	int n = 0;

	snprintf(want, sizeof(want),
		 "op=ekvm_vm_destroy vm=%llu pid=%d uid=0 comm=%s vcpus=%d memory=%d lifetime_ms=",
		 serial, pid, c, vcpus, memory);
	if (EXPECT(!strncmp(got, want, strlen(want)) &&
		   sscanf(got + strlen(want), "%llu%n", &ms, &n) == 1 &&
		   !strcmp(got + strlen(want) + n, " res=1"),
		   "audit record %d\n    got:      '%s'\n    expected: '%s<ms> res=1'", idx,
		   show(got), show(want)) && check_lifetime)
		EXPECT(ms >= EKVM_KNOWN_LIFETIME_MS && ms < 60000,
		       "vm_destroy record: lifetime_ms %llu, expected %d+", ms, EKVM_KNOWN_LIFETIME_MS);
}

/*
 * One round of events under name: the known VM, a drain refusal, a VM-limit refusal (VM L
 * open), a vCPU-limit refusal (VM V, vCPU 7). Then checks the records, in order.
 */
static void audit_round(int kvm, const char *name)
{
	char comm[17], c[64], want[256];
	const char *got[16];
	unsigned long long k, l, v;
	pid_t pid = getpid();
	int from, to, n, vm, r;

	from = audit_marker() + 1;
	set_comm(name, comm);
	audit_escape(comm, c, sizeof(c));
	ekvm_known_vm(kvm);
	drain_refusal(kvm);
	vm = vm_create_raw(kvm);
	TEST_ASSERT(vm >= 0, "KVM_CREATE_VM: %s", strerror(-vm));
	ekvm_must_write(MAX_VMS, "1");
	r = vm_create_raw(kvm);
	ekvm_must_write(MAX_VMS, "0");
	CHECK(r == -EDQUOT, "a second VM under a limit of 1: %d, expected %d", r, -EDQUOT);
	close(vm);
	vcpu_refusal(kvm);
	set_comm("ekvm-audit-rd", comm);
	to = audit_marker();

	n = ekvm_records(from, to, got, 16);
	printf("C: comm '%s' (in the records: %s): %d ekvm records (type 1316 above)\n",
	       show(name), show(c), n);
	if (!EXPECT(n == 9, "%d ekvm audit records (type %d) for comm '%s', expected 9: create "
		    "and destroy of 3 VMs, 2 VMs and 1 vCPU refused", n, AUDIT_KERNEL_OTHER,
		    show(name)))
		return;
	k = expect_create(got[0], pid, c, 0);
	expect_destroy(got[1], k, pid, c, 2, EKVM_KNOWN_MEMORY, true, 1);
	snprintf(want, sizeof(want),
		 "op=ekvm_vm_denied pid=%d uid=0 comm=%s reason=drain err=%d res=0", pid, c,
		 -EBUSY);
	expect_record(got[2], want, 2);
	l = expect_create(got[3], pid, c, 3);
	snprintf(want, sizeof(want),
		 "op=ekvm_vm_denied pid=%d uid=0 comm=%s reason=vm_limit err=%d res=0", pid, c,
		 -EDQUOT);
	expect_record(got[4], want, 4);
	expect_destroy(got[5], l, pid, c, 0, 0, false, 5);
	v = expect_create(got[6], pid, c, 6);
	snprintf(want, sizeof(want),
		 "op=ekvm_vcpu_denied vm=%llu vcpu_id=7 pid=%d uid=0 comm=%s reason=vcpu_limit "
		 "err=%d res=0", v, pid, c, -EDQUOT);
	expect_record(got[7], want, 7);
	expect_destroy(got[8], v, pid, c, 1, 0, false, 8);
	EXPECT(k < l && l < v, "serials not increasing: %llu %llu %llu", k, l, v);
}

static void part_c(void)
{
	struct audit_status st;
	int kvm, from, to, r, vm, n;
	const char *got[16];
	bool config_change = false;

	audit_owner = getpid();
	atexit(audit_restore);
	audit_open(false);
	st = audit_get();
	printf("C: audit status: enabled %u, pid %u, rate_limit %u, backlog_limit %u, lost %u\n",
	       st.enabled, st.pid, st.rate_limit, st.backlog_limit, st.lost);
	CHECK(st.enabled != 2, "the audit configuration is locked (enabled=2)");
	CHECK(!st.pid, "an audit daemon (pid %u) is registered already", st.pid);
	saved_enabled = st.enabled;
	r = audit_set(AUDIT_STATUS_ENABLED | AUDIT_STATUS_PID, 1, getpid());
	TEST_ASSERT(!r, "AUDIT_SET enabled=1 pid=%d: %s", getpid(), strerror(-r));
	audit_registered = true;
	st = audit_get();
	CHECK(st.enabled == 1 && st.pid == (uint32_t)getpid(),
	      "after AUDIT_SET: enabled %u pid %u", st.enabled, st.pid);

	/* the plumbing: the kernel's records reach this reader */
	from = audit_marker();
	for (int i = 0; i < from; i++)
		config_change |= arecs[i].type == AUDIT_CONFIG_CHANGE;
	printf("C: the netlink reader works: the marker (type %d) arrived%s\n", AUDIT_USER_AVC,
	       config_change ? ", and the AUDIT_CONFIG_CHANGE (1305) of the registration" : "");

	/* the records do not depend on the kernel log records */
	ekvm_must_write(AUDIT_LOG, "0");
	kvm = kvm_open();
	audit_round(kvm, hostile_name);
	audit_round(kvm, plain_name);
	audit_round(kvm, equals_name);

	/* audit disabled (still registered): no record */
	r = audit_set(AUDIT_STATUS_ENABLED, 0, 0);
	TEST_ASSERT(!r, "AUDIT_SET enabled=0: %s", strerror(-r));
	from = audit_marker() + 1;
	vm = vm_create_raw(kvm);
	TEST_ASSERT(vm >= 0, "KVM_CREATE_VM: %s", strerror(-vm));
	close(vm);
	ekvm_known_vm(kvm);
	drain_refusal(kvm);
	to = audit_marker();
	n = ekvm_records(from, to, got, 16);
	EXPECT(!n, "%d ekvm audit records with the audit disabled, the first: '%s'", n,
	       n ? show(got[0]) : "");
	printf("C: audit disabled: %d ekvm records for 2 VMs and a refusal\n", n);
	close(kvm);
	part_done("C");
}

/* ------------------------------------------------------------------ main */

static void restore(void)
{
	if (getpid() != main_pid)
		return;
	ekvm_write(DRAIN, "0");
	ekvm_write(MAX_VMS, "0");
	ekvm_write(MAX_VCPUS, "0");
	ekvm_write(AUDIT_LOG, saved_audit_log);
}

/* Runs one part in a child: true when it passed. */
static bool run_part(const char *name, const char *what, void (*part)(void))
{
	pid_t pid;
	int status;

	printf("==== part %s: %s\n", name, what);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork: %s", strerror(errno));
	if (!pid) {
		part();
		fflush(stdout);
		exit(0);
	}
	TEST_ASSERT(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
	restore();
	printf("==== part %s: %s (%s)\n", name,
	       WIFEXITED(status) && !WEXITSTATUS(status) ? "PASS" : "FAIL", what);
	fflush(stdout);
	return WIFEXITED(status) && !WEXITSTATUS(status);
}

/*
 * After part C: the audit status as it was (enabled, no daemon), whatever became of the child
 * (its socket is closed: the kernel lets the daemon go).
 */
static void check_audit_status(int enabled)
{
	struct audit_status st;
	int r;

	if (enabled < 0 || !audit_open(true))
		return;
	st = audit_get();
	if (st.pid || (int)st.enabled != enabled) {
		fprintf(stderr, "audit status left at enabled %u pid %u: restoring\n", st.enabled,
			st.pid);
		r = audit_set(AUDIT_STATUS_ENABLED | AUDIT_STATUS_PID, enabled, 0);
		TEST_ASSERT(!r, "restoring the audit status: %s", strerror(-r));
	}
	close(audit_fd);
	audit_fd = -1;
}

int main(void)
{
	bool a, b, c;
	int enabled = -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ekvm_require(AUDIT_ABI);
	main_pid = getpid();
	TEST_ASSERT(!ekvm_read(AUDIT_LOG, saved_audit_log, sizeof(saved_audit_log)), "no %s",
		    AUDIT_LOG);
	atexit(restore);
	/* the audit status to come back to (part C fails if there is no audit) */
	if (audit_open(true)) {
		enabled = audit_get().enabled;
		close(audit_fd);
		audit_fd = -1;
	}

	a = run_part("A", "comm escaped in ekvm's kernel log lines", part_a);
	b = run_part("B", "ekvm's kernel log lines rate-limited", part_b);
	c = run_part("C", "kernel audit records (AUDIT_KERNEL_OTHER)", part_c);
	check_audit_status(enabled);

	printf("audit records: A %s, B %s, C %s\n", a ? "pass" : "FAIL", b ? "pass" : "FAIL",
	       c ? "pass" : "FAIL");
	return a && b && c ? 0 : 1;
}
