// SPDX-License-Identifier: GPL-2.0-only
/*
 * ekvm exit-latency histograms switched on and off while vCPUs run: the static key flips
 * under running vCPUs, vCPUs get their histograms on first use, VMs are destroyed while the
 * recording is on, and the per-CPU pointer must never outlive a vCPU's stay on a CPU.
 *
 * For SECONDS, RUNNERS processes each create a VM (real mode, in-kernel irqchip), run it for
 * ROUNDS KVM_RUNs of 10 in-kernel exits (PIC port 0x21) and one exit to userspace (port
 * 0x10), check its histogram file is well-formed and counts no more exits than were made,
 * and destroy it; meanwhile a thread switches kvm.ekvm_exit_hist on and off every few
 * hundred microseconds. A use of freed histograms or a stale pointer shows as a kernel
 * report, which the harness fails on. Afterwards, switched on, a new VM must count its exits
 * exactly: the key still works after the flips. The toggler also moves the sampling period
 * (kvm.ekvm_exit_hist_period) between 1 and 3 at each switch on, so the countdown is rearmed
 * and its period changed under running vCPUs; the exact count is taken at period 1, switched
 * on afresh. (Processes, not threads: a VM's debugfs folder is named <pid>-<fd>, and a thread
 * may get the fd number another thread has just closed while that VM's folder is still there.)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>

#include "ekvm_test.h"

#define HIST_PARAM	KVM_PARAMS "ekvm_exit_hist"
#define PERIOD_PARAM	KVM_PARAMS "ekvm_exit_hist_period"
#define DEBUGFS		"/sys/kernel/debug"

enum { SECONDS = 5, RUNNERS = 2, ROUNDS = 50, KERNEL_PER_RUN = 10 };

static char saved[8], saved_period[16];
/* shared with the runner processes */
static struct shared {
	volatile int stop;
	volatile unsigned long vms[RUNNERS];
} *sh;

static void restore(void)
{
	ekvm_write(HIST_PARAM, saved);
	ekvm_write(PERIOD_PARAM, saved_period);
}

static const uint8_t guest[] = {
	0xb9, KERNEL_PER_RUN, 0x00,	/* 0: mov $10, %cx */
	0xe4, 0x21,			/* 1: in $0x21, %al (PIC, in the kernel) */
	0xe2, 0xfc,			/*    loop 1b */
	0xe6, 0x10,			/*    out %al, $0x10 (to userspace) */
	0xeb, 0xf5,			/*    jmp 0b */
};

/* io counts of a VM's histogram file: [kernel, user]; fails on a malformed line. */
static void read_io(const char *path, unsigned long long io[2])
{
	char line[256], where[16], class[16];
	unsigned long long low, count;
	FILE *f = fopen(path, "r");

	TEST_ASSERT(f, "open %s: %s", path, strerror(errno));
	io[0] = io[1] = 0;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#')
			continue;
		TEST_ASSERT(sscanf(line, "%15s %15s %llu %llu", where, class, &low, &count) == 4 &&
			    (!strcmp(where, "kernel") || !strcmp(where, "user")) && count > 0 &&
			    (low == 0 || !(low & (low - 1))), "bad line in %s: %s", path, line);
		if (!strcmp(class, "io"))
			io[!strcmp(where, "user")] += count;
	}
	fclose(f);
}

static void run_vm(unsigned long long io[2])
{
	struct tiny_vm t;
	char path[256];

	tiny_vm_create(&t, guest, sizeof(guest), 0x10000, 1);
	snprintf(path, sizeof(path), DEBUGFS "/kvm/%d-%d/ekvm_exit_latency", getpid(), t.vm);
	tiny_vm_outs(&t, ROUNDS);
	read_io(path, io);
	tiny_vm_destroy(&t);
}

static void runner(int i)
{
	unsigned long long io[2];

	while (!sh->stop) {
		run_vm(io);
		/* the last user exit is still pending: at most ROUNDS - 1 counted */
		TEST_ASSERT(io[0] <= (unsigned long long)ROUNDS * KERNEL_PER_RUN &&
			    io[1] <= ROUNDS - 1, "a VM of %d runs counts %llu kernel io, %llu user io",
			    ROUNDS, io[0], io[1]);
		sh->vms[i]++;
	}
	_exit(0);	/* not the parent's atexit() */
}

static void *toggler(void *arg)
{
	unsigned long *flips = arg;
	struct timespec pause = { 0, 300 * 1000 };

	while (!sh->stop) {
		if (!(*flips & 1))
			ekvm_must_write(PERIOD_PARAM, *flips & 2 ? "3" : "1");
		ekvm_must_write(HIST_PARAM, *flips & 1 ? "0" : "1");
		(*flips)++;
		nanosleep(&pause, NULL);
	}
	return NULL;
}

int main(void)
{
	unsigned long flips = 0, total = 0;
	pid_t run[RUNNERS];
	unsigned long long io[2];
	pthread_t tog;
	int status;

	ekvm_require(6);
	TEST_ASSERT(!ekvm_read(HIST_PARAM, saved, sizeof(saved)), "no %s", HIST_PARAM);
	TEST_ASSERT(!ekvm_read(PERIOD_PARAM, saved_period, sizeof(saved_period)), "no %s",
		    PERIOD_PARAM);
	atexit(restore);
	ensure_mounted(DEBUGFS, "debugfs", "kvm");

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(sh != MAP_FAILED, "mmap");
	for (int i = 0; i < RUNNERS; i++) {
		run[i] = fork();
		TEST_ASSERT(run[i] >= 0, "fork: %s", strerror(errno));
		if (!run[i])
			runner(i);
	}
	TEST_ASSERT(!pthread_create(&tog, NULL, toggler, &flips), "pthread_create");
	sleep(SECONDS);
	sh->stop = 1;
	pthread_join(tog, NULL);
	for (int i = 0; i < RUNNERS; i++) {
		TEST_ASSERT(waitpid(run[i], &status, 0) == run[i], "waitpid");
		TEST_ASSERT(WIFEXITED(status) && !WEXITSTATUS(status),
			    "runner %d failed (status %#x)", i, status);
		total += sh->vms[i];
	}
	printf("%lu VMs of %d runs in %d s while the recording was switched %lu times\n", total,
	       ROUNDS, SECONDS, flips);
	TEST_ASSERT(total >= RUNNERS && flips >= 10, "too little happened: %lu VMs, %lu switches",
		    total, flips);

	/*
	 * The toggler may have left the recording on at period 3, and a new period applies on
	 * each CPU from its next sample (up to 5 exits away): switch off first, so that switching
	 * on rearms every CPU's countdown and the count at period 1 is exact from the first exit.
	 */
	ekvm_must_write(HIST_PARAM, "0");
	ekvm_must_write(PERIOD_PARAM, "1");
	ekvm_must_write(HIST_PARAM, "1");
	run_vm(io);
	TEST_ASSERT(io[0] == (unsigned long long)ROUNDS * KERNEL_PER_RUN && io[1] == ROUNDS - 1,
		    "after the switches: %llu kernel io, %llu user io, expected %d and %d", io[0],
		    io[1], ROUNDS * KERNEL_PER_RUN, ROUNDS - 1);
	printf("exit-latency histograms switched under running vCPUs: ok\n");
	return 0;
}
