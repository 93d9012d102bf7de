// SPDX-License-Identifier: GPL-2.0-only
/* Exit-latency histograms: parsing, sums and quantiles (hist.h). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "parse.h"

void hist_init(struct hist *h)
{
	h->n = h->cap = h->nslots = 0;
	h->s = NULL;
	h->slots = NULL;
}

void hist_free(struct hist *h)
{
	free(h->s);
	free(h->slots);
	hist_init(h);
}

uint64_t hist_low(int i)
{
	return i <= 0 ? 0 : 1ULL << i;
}

uint64_t hist_high(int i)
{
	return i >= HIST_BUCKETS - 1 ? 0 : 1ULL << (i + 1);
}

/* FNV-1a over "where\0class". */
static uint32_t hash_of(const char *where, const char *class)
{
	uint32_t x = 2166136261u;

	for (const char *p = where;; p++) {
		x = (x ^ (unsigned char)*p) * 16777619u;
		if (!*p)
			break;
	}
	for (const char *p = class; *p; p++)
		x = (x ^ (unsigned char)*p) * 16777619u;
	return x;
}

/* The slot of (where, class): the series' own, or the free one where it would go. */
static int *slot_of(const struct hist *h, const char *where, const char *class)
{
	uint32_t mask = (uint32_t)h->nslots - 1, i = hash_of(where, class) & mask;

	for (;; i = (i + 1) & mask) {
		int *slot = &h->slots[i];

		if (*slot < 0 ||
		    (!strcmp(h->s[*slot].where, where) && !strcmp(h->s[*slot].class, class)))
			return slot;
	}
}

/* (Re)builds the index with room for n series at most half full: 0 or -ENOMEM. */
static int reindex(struct hist *h, int n)
{
	int nslots = 16, *slots;

	while (nslots < 2 * n)
		nslots *= 2;
	slots = malloc(sizeof(*slots) * (size_t)nslots);
	if (!slots)
		return -ENOMEM;
	memset(slots, 0xff, sizeof(*slots) * (size_t)nslots);
	free(h->slots);
	h->slots = slots;
	h->nslots = nslots;
	for (int i = 0; i < h->n; i++)
		*slot_of(h, h->s[i].where, h->s[i].class) = i;
	return 0;
}

static struct hist_series *series_of(struct hist *h, const char *where, const char *class)
{
	struct hist_series *s;
	int *slot;

	if ((!h->nslots || 2 * (h->n + 1) > h->nslots) && reindex(h, h->n + 1))
		return NULL;
	slot = slot_of(h, where, class);
	if (*slot >= 0)
		return &h->s[*slot];
	if (h->n == h->cap) {
		int cap = h->cap ? 2 * h->cap : 8;

		s = realloc(h->s, sizeof(*s) * (size_t)cap);
		if (!s)
			return NULL;
		h->s = s;
		h->cap = cap;
	}
	s = &h->s[h->n];
	memset(s, 0, sizeof(*s));
	snprintf(s->where, sizeof(s->where), "%s", where);
	snprintf(s->class, sizeof(s->class), "%s", class);
	*slot = h->n++;
	return s;
}

static int add_count(struct hist_series *s, int i, uint64_t count)
{
	if (__builtin_add_overflow(s->b[i], count, &s->b[i]) ||
	    __builtin_add_overflow(s->count, count, &s->count))
		return -ERANGE;
	return 0;
}

/* The bucket index of a low bound: 0 for 0, b for 2^b (b = 1..31), else -1. */
static int bucket_of(unsigned long long low)
{
	if (low == 0)
		return 0;
	if (low & (low - 1))
		return -1;
	for (int b = 1; b < HIST_BUCKETS; b++)
		if (low == 1ULL << b)
			return b;
	return -1;
}

static int word_ok(const char *w)
{
	size_t n = strlen(w);

	if (n == 0 || n >= sizeof(((struct hist_series *)0)->where))
		return 0;
	for (; *w; w++)
		if (!isgraph((unsigned char)*w))
			return 0;
	return 1;
}

/* One line, NUL-terminated and without its newline: 0, 1 for a comment or blank, or -EINVAL. */
static int parse_line(char *line, char **where, char **class, int *bucket,
		      unsigned long long *count, const char **why)
{
	char *f[5], *save = NULL;
	unsigned long long low;
	int n = 0;

	for (char *p = strtok_r(line, " \t\r", &save); p; p = strtok_r(NULL, " \t\r", &save))
		if (n < 5)
			f[n++] = p;
		else
			n = 6;
	if (n == 0 || f[0][0] == '#')
		return 1;
	*why = "expected '<where> <class> <low_ns> <count>'";
	if (n != 4)
		return -EINVAL;
	*where = f[0];
	*class = f[1];
	if (!word_ok(f[0]) || !word_ok(f[1])) {
		*why = "a where or class word that is too long or not printable";
		return -EINVAL;
	}
	*bucket = parse_u64(f[2], ~0ULL, &low) ? -1 : bucket_of(low);
	if (*bucket < 0) {
		*why = "low_ns is not 0 or a power of two from 2 to 2^31";
		return -EINVAL;
	}
	if (parse_u64(f[3], ~0ULL, count)) {
		*why = "count is not an unsigned number";
		return -EINVAL;
	}
	return 0;
}

int hist_parse(struct hist *h, const char *text, size_t len, struct hist_error *err)
{
	char *buf = malloc(len + 1);
	size_t pos = 0;
	int r = 0, lineno = 0;

	if (!buf)
		return -ENOMEM;
	memcpy(buf, text, len);
	buf[len] = 0;
	while (!r && pos < len) {
		char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		char *where = NULL, *class = NULL;
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		unsigned long long count = 0;
		int bucket = 0;
		struct hist_series *s;

		line[n] = 0;
		pos += n + 1;
		lineno++;
		err->why = "a NUL byte in the line";
		r = memchr(line, 0, n)
			    ? -EINVAL
			    : parse_line(line, &where, &class, &bucket, &count, &err->why);
		if (r == 1) {
			r = 0;
			continue;
		}
		if (r) {
			err->line = lineno;
			break;
		}
		s = series_of(h, where, class);
		r = s ? add_count(s, bucket, count) : -ENOMEM;
	}
	free(buf);
	return r;
}

int hist_add(struct hist *dst, const struct hist *src)
{
	for (int i = 0; i < src->n; i++) {
		struct hist_series *s = series_of(dst, src->s[i].where, src->s[i].class);

		if (!s)
			return -ENOMEM;
		for (int b = 0; b < HIST_BUCKETS; b++)
			if (add_count(s, b, src->s[i].b[b]))
				return -ERANGE;
	}
	return 0;
}

static int rank(const char *w, const char *const *known, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(w, known[i]))
			return i;
	return n;
}

static int cmp_series(const void *a, const void *b)
{
	static const char *const wheres[] = { "kernel", "user" };
	static const char *const classes[] = { "io", "mmio", "hlt", "msr", "other" };
	const struct hist_series *x = a, *y = b;
	int d = rank(x->where, wheres, 2) - rank(y->where, wheres, 2);

	if (!d)
		d = strcmp(x->where, y->where);
	if (!d)
		d = rank(x->class, classes, 5) - rank(y->class, classes, 5);
	return d ? d : strcmp(x->class, y->class);
}

void hist_sort(struct hist *h)
{
	if (h->n > 1)
		qsort(h->s, (size_t)h->n, sizeof(*h->s), cmp_series);
	h->nslots = 0; /* the index is rebuilt at the next add */
}

double hist_quantile(const struct hist_series *s, double q)
{
	double target, before = 0;

	if (!s->count || q <= 0 || q > 1)
		return NAN;
	target = ceil(q * (double)s->count); /* the rank of the value, from 1 */
	for (int i = 0; i < HIST_BUCKETS; i++) {
		double n = (double)s->b[i], low = (double)hist_low(i);

		if (!s->b[i] || before + n < target) {
			before += n;
			continue;
		}
		if (!hist_high(i))
			return low;
		/* the value's place among the bucket's n, each taken in the middle of its share */
		return low + ((double)hist_high(i) - low) * (target - before - 0.5) / n;
	}
	return NAN;
}

/* "1K", "2M": a bucket bound as bpftrace prints it (powers of 1024). */
void hist_fmt_bound(char *buf, size_t size, uint64_t v)
{
	static const char units[] = "KMG";
	int u = -1;

	while (v >= 1024 && !(v % 1024) && u < 2) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%llu%.*s", (unsigned long long)v, u >= 0, u >= 0 ? &units[u] : "");
}

/* "~1.5 us": an approximate latency for the text; ">=" in the open last bucket. */
void hist_fmt_ns(char *buf, size_t size, double ns)
{
	const char *about = ns >= (double)hist_low(HIST_BUCKETS - 1) ? ">=" : "~";

	if (isnan(ns))
		snprintf(buf, size, "-");
	else if (ns < 10000)
		snprintf(buf, size, "%s%.0f ns", about, ns);
	else if (ns < 1e7)
		snprintf(buf, size, "%s%.1f us", about, ns / 1e3);
	else if (ns < 1e10)
		snprintf(buf, size, "%s%.1f ms", about, ns / 1e6);
	else
		snprintf(buf, size, "%s%.2f s", about, ns / 1e9);
}
