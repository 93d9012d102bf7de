// SPDX-License-Identifier: GPL-2.0
/*
 * runtest: run one test program in the guest with a timeout, like kselftest's runner.
 *
 *   runtest -t SECONDS -o RESULT -- PROGRAM [ARG]...
 *
 * The program runs in its own process group with runtest as its child subreaper, so that
 * whatever it leaves behind (threads' helper processes, forked children) is killed and reaped
 * when it exits or times out. On timeout the group gets SIGTERM, then SIGKILL 2 s later.
 * RESULT receives one line: "<status> <exit code> <milliseconds>", status being
 * pass (exit 0), skip (exit 4, KSFT_SKIP), fail (any other exit), timeout or signal.
 * runtest itself exits 0 unless it could not run the program at all (exit 125).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KSFT_SKIP 4

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Kill the test's process group and reap everything reparented to us, for at most 3 s. */
static void reap_all(pid_t pgid)
{
	long long end = now_ms() + 3000;

	kill(-pgid, SIGKILL);
	while (now_ms() < end) {
		pid_t p = waitpid(-1, NULL, WNOHANG);

		if (p < 0 && errno == ECHILD)
			return;
		if (p <= 0)
			sleep_ms(10);
	}
}

static void usage(void)
{
	fprintf(stderr, "USAGE: runtest -t SECONDS -o RESULT -- PROGRAM [ARG]...\n");
	exit(125);
}

int main(int argc, char **argv)
{
	const char *result = NULL;
	long timeout = 0;
	long long start, deadline;
	int opt, wstatus = 0, timed_out = 0;
	char status[32];
	int code = -1;
	FILE *f;
	pid_t pid;

	while ((opt = getopt(argc, argv, "t:o:")) != -1) {
		switch (opt) {
		case 't':
			timeout = strtol(optarg, NULL, 10);
			break;
		case 'o':
			result = optarg;
			break;
		default:
			usage();
		}
	}
	if (timeout <= 0 || !result || optind >= argc)
		usage();

	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
		perror("runtest: PR_SET_CHILD_SUBREAPER");

	start = now_ms();
	pid = fork();
	if (pid < 0) {
		perror("runtest: fork");
		return 125;
	}
	if (pid == 0) {
		setpgid(0, 0);
		execvp(argv[optind], &argv[optind]);
		fprintf(stderr, "runtest: cannot run %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);

	deadline = start + timeout * 1000;
	for (;;) {
		pid_t p = waitpid(pid, &wstatus, WNOHANG);

		if (p == pid)
			break;
		if (p < 0 && errno != EINTR) {
			perror("runtest: waitpid");
			return 125;
		}
		if (!timed_out && now_ms() >= deadline) {
			timed_out = 1;
			kill(-pid, SIGTERM);
			deadline = now_ms() + 2000;
		} else if (timed_out && now_ms() >= deadline) {
			kill(-pid, SIGKILL);
			deadline = now_ms() + 60000;
		}
		sleep_ms(20);
	}
	reap_all(pid);

	if (timed_out) {
		snprintf(status, sizeof(status), "timeout");
	} else if (WIFSIGNALED(wstatus)) {
		code = WTERMSIG(wstatus);
		snprintf(status, sizeof(status), "signal");
	} else {
		code = WEXITSTATUS(wstatus);
		snprintf(status, sizeof(status), "%s",
			 code == 0 ? "pass" : code == KSFT_SKIP ? "skip" : "fail");
	}

	f = fopen(result, "w");
	if (!f) {
		perror(result);
		return 125;
	}
	fprintf(f, "%s %d %lld\n", status, code, now_ms() - start);
	fclose(f);
	return 0;
}
