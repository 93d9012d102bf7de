// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ekvm tool against the real ABI 2 interfaces: `ekvm drain`, `ekvm status` and
 * `ekvm stat --hist` of the static build (extra/ekvm-static, which `make vm-test` puts in the
 * guest), checked against sysfs and against what this test's VM did.
 *
 *   drain status/on/off change and report /sys/module/kvm/ekvm/drain; `drain on --wait` times
 *   out (exit 1) while a VM is open and returns 0 once it is closed; `status --json` reports
 *   the features; with the recording switched on (off by default since ABI 5) and every exit
 *   sampled (kvm.ekvm_exit_hist_period 1, since ABI 6), `stat --hist -p PID` shows exactly
 *   the I/O exits the VM made, and `status --json` the period.
 */
#define _GNU_SOURCE
#include <sys/wait.h>

#include "ekvm_test.h"

#define TOOL	"/tests/extra/ekvm-static"
#define HIST_PARAM	KVM_PARAMS "ekvm_exit_hist"
#define PERIOD_PARAM	KVM_PARAMS "ekvm_exit_hist_period"

static char saved_hist[8], saved_period[16];

/* Runs the tool with args (a shell word list), returns its exit status; output in *out. */
static int tool(char **out, const char *args)
{
	char cmd[512];
	size_t cap = 1 << 16, len = 0;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", TOOL, args);
	*out = calloc(1, cap);
	TEST_ASSERT(*out, "calloc");
	p = popen(cmd, "r");
	TEST_ASSERT(p, "popen %s", cmd);
	while (len < cap - 1 && fgets(*out + len, cap - len, p))
		len += strlen(*out + len);
	st = pclose(p);
	printf("$ ekvm %s -> %d\n%s", args, WIFEXITED(st) ? WEXITSTATUS(st) : -1, *out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void restore(void)
{
	ekvm_write(EKVM_SYSFS "drain", "0");
	if (saved_hist[0])
		ekvm_write(HIST_PARAM, saved_hist);
	if (saved_period[0])
		ekvm_write(PERIOD_PARAM, saved_period);
}

static void expect(const char *args, int want_rc, const char *want)
{
	char *out;
	int rc = tool(&out, args);

	TEST_ASSERT(rc == want_rc, "ekvm %s: exit %d, expected %d", args, rc, want_rc);
	TEST_ASSERT(!want || strstr(out, want), "ekvm %s: no '%s' in its output", args, want);
	free(out);
}

int main(void)
{
	struct tiny_vm t;
	char args[64], want[64];

	ekvm_require(2);
	if (access(TOOL, X_OK))
		ksft_exit_skip("no %s in this guest (the harness adds it with -x)\n", TOOL);
	atexit(restore);

	expect("drain status --json", 0, "\"drain\":false");
	expect("drain on", 0, "drain: on");
	TEST_ASSERT(ekvm_read_num(EKVM_SYSFS "drain") == 1, "ekvm drain on did not set drain");
	expect("drain off", 0, "drain: off");
	TEST_ASSERT(ekvm_read_num(EKVM_SYSFS "drain") == 0, "ekvm drain off did not clear drain");

	if (!ekvm_read(PERIOD_PARAM, saved_period, sizeof(saved_period)))
		ekvm_must_write(PERIOD_PARAM, "1");
	if (!ekvm_read(HIST_PARAM, saved_hist, sizeof(saved_hist)))
		ekvm_must_write(HIST_PARAM, "1");
	tiny_vm_create(&t, tiny_out_loop, sizeof(tiny_out_loop), 0x10000, 0);
	tiny_vm_outs(&t, 201);	/* 200 counted, the last one pending */
	expect("status --json", 0, "\"vms\":1");
	if (saved_period[0])
		expect("status --json", 0, "\"exit_hist_period\":1");
	snprintf(args, sizeof(args), "stat --hist -p %d", getpid());
	expect(args, 0, "user io: 200 exits");
	expect("drain on --wait --timeout 1", 1, "1 VM");
	TEST_ASSERT(ekvm_read_num(EKVM_SYSFS "drain") == 1, "the drain is not on after the timeout");
	tiny_vm_destroy(&t);
	expect("drain on --wait --timeout 10", 0, "drain: on (0 VMs");
	expect("drain status --json", 0, "\"vms\":0");
	expect("drain off", 0, NULL);
	snprintf(want, sizeof(want), "\"max_vms_per_user\":0");
	expect("status --json", 0, want);
	printf("the ekvm tool drives and shows the ABI 2 features\n");
	return 0;
}
