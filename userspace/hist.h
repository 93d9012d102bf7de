/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Exit-latency histograms of ekvm (ekvm ABI 2): each VM's debugfs folder has a read-only
 * file ekvm_exit_latency, one line a non-empty bucket:
 *
 *   # comment lines start with '#'
 *   <where> <class> <low_ns> <count>      e.g. "kernel io 1024 17"
 *
 * where is kernel|user, class io|mmio|hlt|msr|other (other words are kept as they are);
 * low_ns is 0 or 2^b (b = 1..31): the bucket holds latencies low_ns <= t < 2 * low_ns
 * (bucket 0: t < 2 ns; bucket 2^31: every t >= 2^31 ns). No printing, -errno on error.
 */
#ifndef EKVM_HIST_H
#define EKVM_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_BUCKETS 32 /* index 0: low 0; index b: low 2^b */
#define HIST_FILE "ekvm_exit_latency"

struct hist_series {
	char where[32], class[32];
	uint64_t count; /* sum of the buckets */
	uint64_t b[HIST_BUCKETS];
};

struct hist {
	int n; /* series, in no particular order until hist_sort() */
	struct hist_series *s;
	/* private: room in s, and an index by (where, class) so that adding is linear */
	int cap, nslots; /* nslots: a power of two, 0 when the index is to be built */
	int *slots; /* -1: free, else an index into s */
};

/* Where a parse failed: the line (from 1) and what is wrong with it. */
struct hist_error {
	int line;
	const char *why;
};

void hist_init(struct hist *h);
void hist_free(struct hist *h);

/*
 * Adds the buckets of the text (len bytes, need not end in a NUL) to h. A malformed line
 * stops the parse with -EINVAL and *err filled (the lines before it have been added): parse
 * a file into an empty hist and hist_add() it when it is whole. -ENOMEM; -ERANGE when a
 * count overflows.
 */
int hist_parse(struct hist *h, const char *text, size_t len, struct hist_error *err);

/* Adds every series of src to dst. */
int hist_add(struct hist *dst, const struct hist *src);

/* Orders the series: kernel before user, then io, mmio, hlt, msr, other; unknown words last. */
void hist_sort(struct hist *h);

/* The bucket bounds in ns: low of index i, and high (exclusive; 0 for the last, open bucket). */
uint64_t hist_low(int i);
uint64_t hist_high(int i);

/*
 * The approximate q-quantile (0 < q <= 1) in ns: the bucket holding it, linear inside it
 * (the open last bucket gives its low bound). NAN for an empty series.
 */
double hist_quantile(const struct hist_series *s, double q);

/* A bucket bound as bpftrace prints it: "0", "512", "1K", "2M", "2G" (powers of 1024). */
void hist_fmt_bound(char *buf, size_t size, uint64_t v);

/* An approximate latency for the text: "~830 ns", "~98.3 us", ">=2147.5 ms", "-" for NAN. */
void hist_fmt_ns(char *buf, size_t size, double ns);

#endif
