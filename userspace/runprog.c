// SPDX-License-Identifier: GPL-2.0-only
/* Running another program and waiting for it. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "runprog.h"

extern char **environ;

int spawn_wait(char *const argv[], char *err, size_t size)
{
	pid_t pid;
	int st, r;

	fflush(NULL);
	r = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
	if (r) {
		snprintf(err, size, "%s: %s", argv[0], strerror(r));
		return -r;
	}
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			snprintf(err, size, "%s: %s", argv[0], strerror(errno));
			return -errno;
		}
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	snprintf(err, size, "'%s%s%s' failed (exit %d)", argv[0], argv[1] ? " " : "",
		 argv[1] ? argv[1] : "", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return 1;
}
