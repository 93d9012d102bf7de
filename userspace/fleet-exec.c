// SPDX-License-Identifier: GPL-2.0-only
/*
 * A command on a host: `<prefix words> <command line>`, the command line as one argument,
 * which the prefix hands to a shell there (`ssh root@hv1` does; locally `sh -c` or
 * `ip netns exec hostA sh -c`). Output is kept (its end), the command is killed with its
 * process group on timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fleet.h"

static void keep_tail(char *out, size_t size, size_t *len, const char *data, size_t n)
{
	if (size == 0)
		return;
	if (n >= size - 1) {
		data += n - (size - 1);
		n = size - 1;
	}
	if (*len + n > size - 1) {
		size_t drop = *len + n - (size - 1);

		memmove(out, out + drop, *len - drop);
		*len -= drop;
	}
	memcpy(out + *len, data, n);
	*len += n;
	out[*len] = 0;
}

static int collect(pid_t pid, int fd, unsigned int timeout_s, char *out, size_t size)
{
	double deadline = fleet_mono() + timeout_s;
	size_t len = 0;
	int status;

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int left = (int)((deadline - fleet_mono()) * 1000), r;
		char buf[4096];
		ssize_t n;

		if (left <= 0) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			return 124;
		}
		r = poll(&p, 1, left);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		keep_tail(out, size, &len, buf, (size_t)n);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int fleet_exec(const char *prefix, const char *cmdline, unsigned int timeout_s, char *out,
	       size_t size)
{
	char *argv[66], buf[4096];
	int n = fleet_words(prefix, argv, 64, buf, sizeof(buf)), pfd[2], r;
	pid_t pid;

	if (size)
		out[0] = 0;
	if (n <= 0)
		return n < 0 ? n : -EINVAL;
	argv[n] = (char *)cmdline;
	argv[n + 1] = NULL;
	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return r;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		dup2(null, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execvp(argv[0], argv);
		fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	close(pfd[1]);
	r = collect(pid, pfd[0], timeout_s, out, size);
	close(pfd[0]);
	return r;
}

/* The last line of a command's output, for one-line errors. */
const char *fleet_last_line(char *out)
{
	size_t n = strlen(out);
	char *p;

	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = 0;
	p = strrchr(out, '\n');
	return p ? p + 1 : out;
}
