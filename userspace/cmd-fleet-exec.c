// SPDX-License-Identifier: GPL-2.0-only
/*
 * ekvm fleet: runs the fleet controller, the program ekvm-fleet (fleet-main.c), with the
 * arguments after `ekvm fleet` (--help included), as git runs git-<command>. Only ekvm-fleet
 * links libvirt, so that every other ekvm command starts without it; it is packaged apart
 * (ekvm-fleet). ekvm takes no global options before the command, so there are none to pass.
 *
 * Where ekvm-fleet is looked for, in this order (ekvm.1, FILES):
 *  1. $EKVM_EXEC_PATH/ekvm-fleet when EKVM_EXEC_PATH is set (not empty): there only;
 *  2. the folder of the running ekvm (/proc/self/exe): build/userspace/ekvm runs
 *     build/userspace/ekvm-fleet;
 *  3. LIBEXECDIR, $(PREFIX)/libexec/ekvm when built (/usr/libexec/ekvm in the packages).
 * An ekvm whose name ends in -asan (the sanitizer build the tests run) runs ekvm-fleet-asan.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ekvm.h"

#ifndef EKVM_LIBEXECDIR
#define EKVM_LIBEXECDIR "/usr/local/libexec/ekvm"
#endif

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* The path of the fleet program to run: the first that exists, else the last place tried. */
static int fleet_path(char *path, size_t size)
{
	char self[PATH_MAX];
	const char *dir = getenv("EKVM_EXEC_PATH"), *name = "ekvm-fleet";
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n > 0) {
		self[n] = 0;
		if (ends_with(self, "-asan"))
			name = "ekvm-fleet-asan";
	}
	if (dir && *dir)
		return snprintf(path, size, "%s/%s", dir, name) < (int)size ? 0 : -ENAMETOOLONG;
	slash = n > 0 ? strrchr(self, '/') : NULL;
	if (slash) {
		*slash = 0;
		if (snprintf(path, size, "%s/%s", self, name) < (int)size && !access(path, X_OK))
			return 0;
	}
	return snprintf(path, size, "%s/%s", EKVM_LIBEXECDIR, name) < (int)size ? 0 : -ENAMETOOLONG;
}

int cmd_fleet(int argc, char **argv, struct ekvm_ctx *ctx)
{
	char path[PATH_MAX];
	int r = fleet_path(path, sizeof(path));

	(void)argc;
	if (r)
		return env_error(ctx, "EKVM_EXEC_PATH", -r, "the folder of ekvm-fleet");
	fflush(stdout);
	argv[0] = path;
	execv(path, argv);
	r = errno;
	if (r == ENOENT)
		fprintf(stderr,
			"ekvm fleet: ekvm-fleet is not installed (install the ekvm-fleet package): "
			"%s: %s\n",
			path, strerror(r));
	else
		fprintf(stderr, "ekvm fleet: cannot run %s: %s\n", path, strerror(r));
	return EKVM_EXIT_USAGE;
}
