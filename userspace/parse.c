// SPDX-License-Identifier: GPL-2.0-only
/* Parsing and small formatting helpers, unit-tested in tests/unit.c. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

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

int parse_seconds(const char *s, unsigned int *ms)
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
	if (ilen && (r = parse_u64(intpart, 3600, &whole)))
		return r;
	if (flen) {
		memcpy(fracpart, dot + 1, flen);
		if ((r = parse_u64(fracpart, 999, &frac)))
			return r;
	}
	if (whole * 1000 + frac > 3600 * 1000)
		return -ERANGE;
	*ms = (unsigned int)(whole * 1000 + frac);
	return 0;
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
