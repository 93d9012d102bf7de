// SPDX-License-Identifier: GPL-2.0-only
/* Parsing and small formatting helpers, unit-tested in tests/unit.c. */
#include <ctype.h>
#include <stdbool.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse.h"

#define CMDLINE_MAX (256 * 1024)

int parse_u64(const char *s, unsigned long long max, unsigned long long *val)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v > max)
		return -ERANGE;
	*val = v;
	return 0;
}

int parse_seconds_max(const char *s, unsigned long long max_s, unsigned long long *ms)
{
	unsigned long long whole = 0, frac = 0;
	const char *dot = s ? strchr(s, '.') : NULL;
	char intpart[24], fracpart[4] = "000";
	size_t ilen, flen;
	int r;

	if (!s)
		return -EINVAL;
	ilen = dot ? (size_t)(dot - s) : strlen(s);
	flen = dot ? strlen(dot + 1) : 0;
	if ((ilen == 0 && flen == 0) || ilen >= sizeof(intpart) || (dot && flen == 0))
		return -EINVAL;
	if (flen > 3)
		return -ERANGE; /* finer than a millisecond */
	memcpy(intpart, s, ilen);
	intpart[ilen] = 0;
	if (ilen && (r = parse_u64(intpart, max_s, &whole)))
		return r;
	if (flen) {
		memcpy(fracpart, dot + 1, flen);
		if ((r = parse_u64(fracpart, 999, &frac)))
			return r;
	}
	if (whole * 1000 + frac > max_s * 1000)
		return -ERANGE;
	*ms = whole * 1000 + frac;
	return 0;
}

int parse_seconds(const char *s, unsigned int *ms)
{
	unsigned long long v;
	int r = parse_seconds_max(s, 3600, &v);

	if (!r)
		*ms = (unsigned int)v;
	return r;
}

/* Whether the argument at a (up to end) is word. */
static bool arg_is(const char *a, const char *end, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(end - a) > n && !memcmp(a, word, n + 1);
}

void qemu_guest_name(const char *cmdline, size_t len, char *name, size_t size)
{
	const char *end = cmdline + len, *val = NULL;
	char part[256];
	size_t n = 0;

	name[0] = 0;
	for (const char *a = cmdline; a < end && !val; a += strnlen(a, (size_t)(end - a)) + 1)
		if ((arg_is(a, end, "-name") || arg_is(a, end, "--name")) &&
		    a + strlen(a) + 1 < end)
			val = a + strlen(a) + 1;
	if (!val)
		return;
	end = val + strnlen(val, (size_t)(end - val));
	for (const char *p = val; p <= end; p++) {
		if (p < end && (*p != ',' || (p + 1 < end && p[1] == ','))) {
			if (n + 1 < sizeof(part))
				part[n++] = *p;
			p += *p == ',';
			continue;
		}
		part[n] = 0;
		n = 0;
		if (!strchr(part, '=')) {
			snprintf(name, size, "%s", part);
			return;
		}
		if (!strncmp(part, "guest=", 6))
			snprintf(name, size, "%s", part + 6);
	}
}

int find_guest_pids(const char *proc_dir, const char *name, unsigned int *pids, int max)
{
	DIR *dir = opendir(proc_dir);
	char *buf = malloc(CMDLINE_MAX + 1), path[4096], gname[256];
	unsigned long long pid;
	struct dirent *d;
	int n = 0;

	if (!dir || !buf) {
		n = dir ? -ENOMEM : -errno;
		free(buf);
		if (dir)
			closedir(dir);
		return n;
	}
	while ((d = readdir(dir))) {
		ssize_t len = 0, got;
		int fd;

		if (parse_u64(d->d_name, 0x7fffffff, &pid))
			continue;
		snprintf(path, sizeof(path), "%s/%s/cmdline", proc_dir, d->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		while (len < CMDLINE_MAX &&
		       (got = read(fd, buf + len, CMDLINE_MAX - (size_t)len)) > 0)
			len += got;
		close(fd);
		buf[len] = 0;
		qemu_guest_name(buf, (size_t)len, gname, sizeof(gname));
		if (!gname[0] || strcmp(gname, name))
			continue;
		if (n < max)
			pids[n] = (unsigned int)pid;
		n++;
	}
	closedir(dir);
	free(buf);
	for (int i = 1; i < n && i < max; i++) /* ascending: a stable message */
		for (int j = i; j > 0 && pids[j - 1] > pids[j]; j--) {
			unsigned int t = pids[j];

			pids[j] = pids[j - 1];
			pids[j - 1] = t;
		}
	return n;
}

int parse_vm_dir(const char *name, unsigned int *pid, unsigned int *fd)
{
	const char *dash = strchr(name, '-');
	unsigned long long p, f;
	char buf[24];

	if (!dash || (size_t)(dash - name) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, name, (size_t)(dash - name));
	buf[dash - name] = 0;
	if (parse_u64(buf, 0x7fffffff, &p) || parse_u64(dash + 1, 0x7fffffff, &f))
		return -EINVAL;
	*pid = (unsigned int)p;
	*fd = (unsigned int)f;
	return 0;
}

int has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	while (n && (p = strstr(p, word))) {
		int start = p == list || isspace((unsigned char)p[-1]);
		int end = !p[n] || isspace((unsigned char)p[n]);

		if (start && end)
			return 1;
		p += n;
	}
	return 0;
}
