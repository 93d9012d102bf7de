// SPDX-License-Identifier: GPL-2.0-only
/*
 * ekvm exit-latency histograms (debugfs kvm/<pid>-<fd>/ekvm_exit_latency, kvm.ekvm_exit_hist).
 *
 * A real-mode guest with an in-kernel irqchip makes a known number of exits of each kind:
 * K reads of the PIC's port 0x21 (handled in the kernel), N writes to port 0x10 (KVM_EXIT_IO
 * to us), M writes to unbacked memory (KVM_EXIT_MMIO to us), then a last write to port 0x11.
 * The recording is off by default (a static key): a VM that makes all these exits then has
 * an empty histogram file. Switched on, a new VM's histogram must hold exactly K "kernel io",
 * N "user io" and M "user mmio" exits; the last exit is not counted until the vCPU enters
 * the guest again. Switched off, the histogram does not grow; switched on again, it does,
 * without the exit pending from before. Every line of the file is well-formed and bad values
 * for the parameter are refused. (hist_toggle_test switches it while vCPUs run.)
 *
 * Sampling (ABI 6): kvm.ekvm_exit_hist_period is 16 by default; the exact counts above are
 * taken at period 1. At period 10 a new VM making the same exits records about a tenth of
 * each kind (gaps uniform in [1, 19]: for K = 300 about 30 with a standard deviation near 3;
 * the bounds below are 5 or more deviations away), and the file says the period. Values out
 * of 1..65536 and garbage are refused.
 */
#define _GNU_SOURCE
#include <dirent.h>

#include "ekvm_test.h"

#define HIST_PARAM	KVM_PARAMS "ekvm_exit_hist"
#define PERIOD_PARAM	KVM_PARAMS "ekvm_exit_hist_period"
#define DEBUGFS		"/sys/kernel/debug"

enum { K = 300, N = 200, M = 100 };

static char saved[8], saved_period[16];
static char header[256];	/* the file's "# sampled" line, read_hist()'s last */

static void restore(void)
{
	ekvm_write(HIST_PARAM, saved);
	ekvm_write(PERIOD_PARAM, saved_period);
}

/* mov $imm16, %cx */
#define MOV_CX(n)	0xb9, (n) & 0xff, (n) >> 8

static const uint8_t guest[] = {
	MOV_CX(K),
	0xe4, 0x21,		/* 1: in $0x21, %al (PIC, in the kernel) */
	0xe2, 0xfc,		/*    loop 1b */
	MOV_CX(N),
	0xe6, 0x10,		/* 2: out %al, $0x10 (to userspace) */
	0xe2, 0xfc,		/*    loop 2b */
	0xb8, 0x00, 0x20,	/*    mov $0x2000, %ax */
	0x8e, 0xd8,		/*    mov %ax, %ds */
	MOV_CX(M),
	0xa2, 0x00, 0x00,	/* 3: mov %al, (0) = 0x20000, no memory there (MMIO) */
	0xe2, 0xfb,		/*    loop 3b */
	0xe6, 0x11,		/*    out %al, $0x11: done */
	0xe6, 0x10,		/* 4: out %al, $0x10 */
	0xeb, 0xfc,		/*    jmp 4b */
};

struct counts {
	unsigned long long n[2][5];	/* [kernel, user][io, mmio, hlt, msr, other] */
	int lines;
};

static int index_of(const char *const *names, int nr, const char *s)
{
	for (int i = 0; i < nr; i++)
		if (!strcmp(names[i], s))
			return i;
	return -1;
}

static void read_hist(const char *path, struct counts *c)
{
	static const char *const wheres[] = { "kernel", "user" };
	static const char *const classes[] = { "io", "mmio", "hlt", "msr", "other" };
	char line[256], where[32], class[32];
	unsigned long long low, count;
	FILE *f = fopen(path, "r");

	TEST_ASSERT(f, "open %s: %s", path, strerror(errno));
	memset(c, 0, sizeof(*c));
	while (fgets(line, sizeof(line), f)) {
		int w, k;

		printf("hist: %s", line);
		if (!strncmp(line, "# sampled", 9))
			snprintf(header, sizeof(header), "%s", line);
		if (line[0] == '#')
			continue;
		TEST_ASSERT(sscanf(line, "%31s %31s %llu %llu", where, class, &low, &count) == 4,
			    "bad line in %s: %s", path, line);
		w = index_of(wheres, 2, where);
		k = index_of(classes, 5, class);
		TEST_ASSERT(w >= 0 && k >= 0, "unknown where/class: %s", line);
		TEST_ASSERT(count > 0, "empty bucket printed: %s", line);
		TEST_ASSERT(low == 0 || (low >= 2 && !(low & (low - 1)) && low <= (1ULL << 31)),
			    "bucket bound %llu is not 0 or a power of two up to 2^31", low);
		c->n[w][k] += count;
		c->lines++;
	}
	fclose(f);
}

static void run_to_done(struct tiny_vm *t)
{
	int reason;

	for (int i = 0; i < N; i++) {
		reason = tiny_vm_run(t);
		TEST_ASSERT(reason == KVM_EXIT_IO && t->run->io.port == 0x10,
			    "exit %d: reason %d port %#x, expected I/O on 0x10", i, reason,
			    t->run->io.port);
	}
	for (int i = 0; i < M; i++) {
		reason = tiny_vm_run(t);
		TEST_ASSERT(reason == KVM_EXIT_MMIO && t->run->mmio.phys_addr == 0x20000 &&
			    t->run->mmio.is_write, "MMIO exit %d: reason %d addr %#llx", i, reason,
			    (unsigned long long)t->run->mmio.phys_addr);
	}
	reason = tiny_vm_run(t);
	TEST_ASSERT(reason == KVM_EXIT_IO && t->run->io.port == 0x11,
		    "the last exit: reason %d port %#x, expected I/O on 0x11", reason,
		    t->run->io.port);
}

int main(void)
{
	struct counts c, c2;
	struct tiny_vm t;
	char path[256], val[8];

	ekvm_require(6);
	TEST_ASSERT(!ekvm_read(HIST_PARAM, saved, sizeof(saved)), "no %s", HIST_PARAM);
	TEST_ASSERT(!strcmp(saved, "N"), "ekvm_exit_hist is %s, its default is N", saved);
	TEST_ASSERT(!ekvm_read(PERIOD_PARAM, saved_period, sizeof(saved_period)), "no %s",
		    PERIOD_PARAM);
	TEST_ASSERT(!strcmp(saved_period, "16"), "ekvm_exit_hist_period is %s, its default is 16",
		    saved_period);
	atexit(restore);
	ekvm_must_write(PERIOD_PARAM, "1");	/* exact counts first */
	ensure_mounted(DEBUGFS, "debugfs", "kvm");

	/* off (the default): a VM that makes every kind of exit records nothing */
	tiny_vm_create(&t, guest, sizeof(guest), 0x10000, 1);
	snprintf(path, sizeof(path), DEBUGFS "/kvm/%d-%d/ekvm_exit_latency", getpid(), t.vm);
	run_to_done(&t);
	tiny_vm_outs(&t, 5);	/* and enters the guest again after each */
	read_hist(path, &c);
	TEST_ASSERT(c.lines == 0, "recording off: the VM has %d histogram lines", c.lines);
	tiny_vm_destroy(&t);
	printf("off by default: nothing recorded\n");

	ekvm_must_write(HIST_PARAM, "1");
	tiny_vm_create(&t, guest, sizeof(guest), 0x10000, 1);
	snprintf(path, sizeof(path), DEBUGFS "/kvm/%d-%d/ekvm_exit_latency", getpid(), t.vm);
	read_hist(path, &c);
	TEST_ASSERT(c.lines == 0, "a VM that never ran has %d histogram lines", c.lines);

	run_to_done(&t);
	read_hist(path, &c);
	TEST_ASSERT(c.n[0][0] == K, "kernel io exits: %llu, expected %d", c.n[0][0], K);
	TEST_ASSERT(c.n[1][0] == N, "user io exits: %llu, expected %d", c.n[1][0], N);
	TEST_ASSERT(c.n[1][1] == M, "user mmio exits: %llu, expected %d", c.n[1][1], M);
	for (int k = 2; k < 5; k++)
		TEST_ASSERT(!c.n[1][k], "user exits of class %d: %llu, expected none", k,
			    c.n[1][k]);
	printf("kernel io %llu, user io %llu, user mmio %llu, kernel other %llu\n", c.n[0][0],
	       c.n[1][0], c.n[1][1], c.n[0][4]);

	/* off: nothing more is recorded */
	ekvm_must_write(HIST_PARAM, "0");
	tiny_vm_outs(&t, 50);	/* the guest loops on port 0x10 now */
	read_hist(path, &c2);
	TEST_ASSERT(!memcmp(&c, &c2, sizeof(c)), "the histogram grew while switched off");
	/* on again: the exit pending from before is dropped, new ones count */
	ekvm_must_write(HIST_PARAM, "1");
	tiny_vm_outs(&t, 51);	/* 51 exits, the last one still pending */
	read_hist(path, &c2);
	TEST_ASSERT(c2.n[1][0] == N + 50, "user io after switching on again: %llu, expected %d",
		    c2.n[1][0], N + 50);

	/* bad values */
	{
		static const char *const bad[] = { "2", "garbage", "-1", "\n", "yes", "10", "" };

		ekvm_check_rejected(HIST_PARAM, bad, sizeof(bad) / sizeof(bad[0]), EINVAL);
		TEST_ASSERT(!ekvm_read(HIST_PARAM, val, sizeof(val)) && !strcmp(val, "Y"),
			    "ekvm_exit_hist is %s after the bad values", val);
	}
	/* the file is read-only */
	TEST_ASSERT(ekvm_write(path, "0") < 0, "%s is writable", path);
	tiny_vm_destroy(&t);
	TEST_ASSERT(access(path, F_OK) && errno == ENOENT, "%s outlives its VM", path);

	/* sampled: about one exit in 10 */
	{
		static const char *const range[] = { "0", "65537", "4294967296" };
		static const char *const garbage[] = { "garbage", "-1", "1.5", "" };

		ekvm_check_rejected(PERIOD_PARAM, range, sizeof(range) / sizeof(range[0]), ERANGE);
		ekvm_check_rejected(PERIOD_PARAM, garbage, sizeof(garbage) / sizeof(garbage[0]), 0);
	}
	ekvm_must_write(PERIOD_PARAM, "10");
	tiny_vm_create(&t, guest, sizeof(guest), 0x10000, 1);
	snprintf(path, sizeof(path), DEBUGFS "/kvm/%d-%d/ekvm_exit_latency", getpid(), t.vm);
	run_to_done(&t);
	read_hist(path, &c);
	printf("period 10: kernel io %llu of %d, user io %llu of %d, user mmio %llu of %d\n",
	       c.n[0][0], K, c.n[1][0], N, c.n[1][1], M);
	TEST_ASSERT(!strcmp(header, "# sampled: about 1 exit in 10\n"), "the file's period line: %s",
		    header);
	TEST_ASSERT(c.n[0][0] >= 14 && c.n[0][0] <= 50, "kernel io sampled: %llu of %d at period 10",
		    c.n[0][0], K);
	TEST_ASSERT(c.n[1][0] >= 8 && c.n[1][0] <= 36, "user io sampled: %llu of %d at period 10",
		    c.n[1][0], N);
	TEST_ASSERT(c.n[1][1] >= 2 && c.n[1][1] <= 22, "user mmio sampled: %llu of %d at period 10",
		    c.n[1][1], M);
	tiny_vm_destroy(&t);
	printf("exit-latency histograms ok\n");
	return 0;
}
