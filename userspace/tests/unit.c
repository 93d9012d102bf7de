// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests of parsing and formatting, built with ASan/UBSan. TAP-like output. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "efi.h"
#include "ekvmfeat.h"
#include "hist.h"
#include "kstat.h"
#include "out.h"
#include "parse.h"

static int tests, failures;

static void ok(int cond, const char *what)
{
	tests++;
	failures += !cond;
	printf("%sok %d - unit: %s\n", cond ? "" : "not ", tests, what);
}

static void test_parse_u64(void)
{
	unsigned long long v = 0;

	ok(parse_u64("42", 100, &v) == 0 && v == 42, "parse_u64 42");
	ok(parse_u64("101", 100, &v) == -ERANGE, "parse_u64 above max is ERANGE");
	ok(parse_u64("99999999999999999999999", ~0ULL, &v) == -ERANGE, "parse_u64 overflow");
	ok(parse_u64("-1", 100, &v) == -EINVAL, "parse_u64 rejects a sign");
	ok(parse_u64(" 1", 100, &v) == -EINVAL, "parse_u64 rejects a space");
	ok(parse_u64("1x", 100, &v) == -EINVAL, "parse_u64 rejects trailing text");
	ok(parse_u64("", 100, &v) == -EINVAL, "parse_u64 rejects empty");
}

static void test_parse_seconds(void)
{
	unsigned int ms = 0;

	ok(parse_seconds("2", &ms) == 0 && ms == 2000, "parse_seconds 2");
	ok(parse_seconds("0.5", &ms) == 0 && ms == 500, "parse_seconds 0.5");
	ok(parse_seconds("0.025", &ms) == 0 && ms == 25, "parse_seconds 0.025");
	ok(parse_seconds(".1", &ms) == 0 && ms == 100, "parse_seconds .1");
	ok(parse_seconds("0", &ms) == 0 && ms == 0, "parse_seconds 0");
	ok(parse_seconds("0.0001", &ms) == -ERANGE, "parse_seconds below a millisecond");
	ok(parse_seconds("3601", &ms) == -ERANGE, "parse_seconds above an hour");
	ok(parse_seconds("1.", &ms) == -EINVAL, "parse_seconds 1.");
	ok(parse_seconds("a", &ms) == -EINVAL, "parse_seconds a");
	ok(parse_seconds("1.2.3", &ms) == -EINVAL, "parse_seconds 1.2.3");
	ok(parse_seconds("-1", &ms) == -EINVAL, "parse_seconds -1");
	ok(parse_seconds("", &ms) == -EINVAL, "parse_seconds empty");
}

static void test_parse_misc(void)
{
	unsigned int pid = 0, fd = 0;
	uint64_t v = 0;

	ok(parse_vm_dir("1234-17", &pid, &fd) == 0 && pid == 1234 && fd == 17, "vm dir 1234-17");
	ok(parse_vm_dir("1234", &pid, &fd) == -EINVAL, "vm dir without fd");
	ok(parse_vm_dir("a-1", &pid, &fd) == -EINVAL, "vm dir a-1");
	ok(parse_vm_dir("1-", &pid, &fd) == -EINVAL, "vm dir 1-");
	ok(parse_vm_dir("99999999999999999999999-1", &pid, &fd) == -EINVAL, "vm dir long pid");
	ok(has_word("fpu vme vmx sse", "vmx") == 1, "has_word vmx");
	ok(has_word("fpu vmxe sse", "vmx") == 0, "has_word not a prefix");
	ok(has_word("svm", "svm") == 1 && has_word("", "svm") == 0, "has_word alone, empty");
	ok(kstat_parse_value("123\n", &v) == 0 && v == 123, "stat value 123");
	ok(kstat_parse_value("1 2\n", &v) == -EINVAL, "stat value with two numbers");
	ok(kstat_parse_value("12\n3", &v) == -EINVAL, "stat value with a second line");
	ok(kstat_parse_value("", &v) == -EINVAL, "stat value empty");
}

/* Runs fn with out.h writing to a string in json or text mode; returns the string. */
static char *capture(void (*fn)(void), int json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	out_init(f, json);
	fn();
	out_flush();
	fclose(f);
	return buf;
}

static void sample_doc(void)
{
	out_obj_begin(NULL);
	out_str("name", "name=%s", "a\"b\\c\n\x01");
	out_u64("total", " total=%llu", 18446744073709551615ULL);
	out_str("none", " none=%s", NULL);
	out_dbl("rate", " rate=%.1f", 2.25);
	out_dbl("nan", NULL, NAN);
	out_bool("flag", " flag=%s", true);
	out_arr_begin("list");
	out_int(NULL, " %lld", -3);
	out_obj_begin(NULL);
	out_obj_end();
	out_arr_end();
	out_txt(" text-only");
	out_obj_end();
}

static void test_out(void)
{
	char *j = capture(sample_doc, 1), *t = capture(sample_doc, 0);

	ok(j && !strcmp(j, "{\"name\":\"a\\\"b\\\\c\\n\\u0001\",\"total\":18446744073709551615,"
			   "\"none\":null,\"rate\":2.250,\"nan\":null,\"flag\":true,"
			   "\"list\":[-3,{}]}\n"),
	   "JSON document: escaping, nulls, nesting");
	ok(t && !strcmp(t, "name=a\"b\\\\c\\n\\x01 total=18446744073709551615 none=- rate=2.2 "
			   "flag=yes -3 text-only"),
	   "text from the same calls, the string escaped");
	if (j && t && (strcmp(j, "") == 0 || strcmp(t, "") == 0))
		ok(0, "output not empty");
	free(j);
	free(t);
}

static char *json_of(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	json_write_string(f, s);
	fclose(f);
	return buf;
}

static int json_is(const char *s, const char *want)
{
	char *j = json_of(s);
	int r = j && !strcmp(j, want);

	if (!r)
		printf("# json_write_string: got %s, want %s\n", j ? j : "(null)", want);
	free(j);
	return r;
}

static int text_is(const char *s, const char *want)
{
	char buf[256];
	size_t len = text_escape(buf, sizeof(buf), s);
	int r = len == strlen(want) && !strcmp(buf, want);

	if (!r)
		printf("# text_escape: got %s, want %s\n", buf, want);
	return r;
}

/* The JSON encoder and the text escape, on what a comm, a VM name or a URI can hold. */
static void test_escape(void)
{
	char small[8], big[2000];
	const char *e;

	ok(json_is("plain é ü € 𝄞", "\"plain é ü € 𝄞\"") && json_is("", "\"\""),
	   "JSON: valid UTF-8 as is");
	ok(json_is("q\"b\\/", "\"q\\\"b\\\\/\"") && json_is("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"") &&
		   json_is("\x1b[2J\x01\x7f", "\"\\u001b[2J\\u0001\\u007f\"") &&
		   json_is("\xc2\x9b"
			   "1m",
			   "\"\\u009b1m\""),
	   "JSON: quotes, backslash, C0, DEL and C1 controls escaped");
	ok(json_is("a\xff"
		   "b",
		   "\"a\\ufffdb\"") &&
		   json_is("\x80\xbf", "\"\\ufffd\\ufffd\"") &&
		   json_is("\xc0\xaf", "\"\\ufffd\\ufffd\"") &&
		   json_is("\xe2\x82", "\"\\ufffd\"") && json_is("\xe2\x82x", "\"\\ufffdx\"") &&
		   json_is("\xf0\x9f\x98", "\"\\ufffd\"") &&
		   json_is("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"") &&
		   json_is("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"") &&
		   json_is("\xe0\x80\x80", "\"\\ufffd\\ufffd\\ufffd\"") &&
		   json_is("\xf5", "\"\\ufffd\""),
	   "JSON: invalid UTF-8 is U+FFFD a maximal subpart (overlong, surrogate, > U+10FFFF)");
	ok(text_is("vm-1 é 𝄞", "vm-1 é 𝄞") && text_is("a\\b", "a\\\\b") &&
		   text_is("\x1b]0;pwn\x07\n\t\r", "\\x1b]0;pwn\\x07\\n\\t\\r") &&
		   text_is("\x7f\xc2\x9b", "\\x7f\\u009b"),
	   "text: backslash, C0, DEL and C1 controls escaped visibly");
	ok(text_is("a\xff\xfe", "a\\xff\\xfe") && text_is("\xe2\x82x", "\\xe2\\x82x") &&
		   text_is("\xed\xa0\x80", "\\xed\\xa0\\x80"),
	   "text: each byte of invalid UTF-8 as \\xHH");
	ok(text_escape(small, sizeof(small), "\x1b\x1b\x1b") == 12 && !strcmp(small, "\\x1b\\x1"),
	   "text_escape: snprintf-like when it does not fit");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	e = out_esc(big);
	ok(strlen(e) == 1023 && !strcmp(e + 1020, "...") && !strcmp(out_esc(NULL), "-") &&
		   !strcmp(out_esc("\x1b"), "\\x1b"),
	   "out_esc: cut with ... at 1023 bytes, NULL is -");
	for (size_t i = 1; i + 4 < sizeof(big); i += 4)
		memcpy(big + i, "\xf0\x9d\x84\x9e", 4);
	big[1997] = 0;
	e = out_esc(big);
	ok(strlen(e) == 1020 && !strcmp(e + 1017, "..."), "out_esc: not cut inside a character");
}

/* An EFI signature list with one X.509 entry holding cert. */
static size_t make_siglist(unsigned char *buf, const unsigned char *cert, uint32_t len)
{
	uint32_t list = 28 + 16 + len, hdr = 0, sig = 16 + len;

	memset(buf, 0xa1, 16);
	memcpy(buf + 16, &list, 4);
	memcpy(buf + 20, &hdr, 4);
	memcpy(buf + 24, &sig, 4);
	memset(buf + 28, 0xb2, 16);
	memcpy(buf + 44, cert, len);
	return list;
}

static void test_efi(void)
{
	unsigned char cert[] = "\x30\x82\x01\x02 a certificate", other[] = "\x30\x82 another one";
	unsigned char buf[256];
	size_t n = make_siglist(buf, cert, sizeof(cert));

	ok(efi_siglist_has_cert(buf, n, cert, sizeof(cert)) == 1, "MOK list holds the key");
	ok(efi_siglist_has_cert(buf, n, other, sizeof(other)) == 0, "MOK list lacks a key");
	ok(efi_siglist_has_cert(buf, n - 1, cert, sizeof(cert)) == 0, "truncated MOK list");
	buf[16] = 3; /* list size smaller than its header */
	ok(efi_siglist_has_cert(buf, n, cert, sizeof(cert)) == 0, "corrupt MOK list");
}

static const struct hist_series *find_series(const struct hist *h, const char *w, const char *c)
{
	for (int i = 0; i < h->n; i++)
		if (!strcmp(h->s[i].where, w) && !strcmp(h->s[i].class, c))
			return &h->s[i];
	return NULL;
}

/* Parses text into a fresh hist; returns hist_parse()'s answer, the error line in *line. */
static int parse_text(struct hist *h, const char *text, size_t len, int *line)
{
	struct hist_error e = { 0, NULL };
	int r;

	hist_init(h);
	r = hist_parse(h, text, len, &e);
	*line = e.line;
	return r;
}

static void test_hist_parse(void)
{
	static const char file[] = "# ekvm exit latency: ns from VM-exit to the next VM-entry\n"
				   "# <where> <class> <low_ns> <count>\n"
				   "kernel io 1024 17\n"
				   "user io 65536 3\n"
				   "\n"
				   "  kernel\tio 1024 1\r\n"
				   "kernel hlt 0 2\n"
				   "user warp 2147483648 5"; /* no final newline */
	const struct hist_series *s;
	struct hist h, sum;
	int line, r;

	r = parse_text(&h, file, strlen(file), &line);
	ok(r == 0 && h.n == 4, "hist: 4 series from a file with comments, blanks, tabs, CRLF");
	s = find_series(&h, "kernel", "io");
	ok(s && s->b[10] == 18 && s->count == 18, "hist: kernel io 1024 summed over two lines");
	s = find_series(&h, "kernel", "hlt");
	ok(s && s->b[0] == 2, "hist: low_ns 0 is bucket 0");
	s = find_series(&h, "user", "warp");
	ok(s && s->b[31] == 5 && s->count == 5,
	   "hist: unknown class kept, 2^31 is the last bucket");
	hist_sort(&h);
	ok(!strcmp(h.s[0].class, "io") && !strcmp(h.s[1].class, "hlt") &&
		   !strcmp(h.s[2].where, "user") && !strcmp(h.s[3].class, "warp"),
	   "hist: sorted kernel before user, io before hlt, unknown last");
	hist_init(&sum);
	ok(hist_add(&sum, &h) == 0 && hist_add(&sum, &h) == 0 && sum.n == 4 &&
		   find_series(&sum, "kernel", "io")->b[10] == 36,
	   "hist: adding a hist twice doubles it");
	hist_free(&sum);
	hist_free(&h);

	ok(parse_text(&h, "# only\n# comments\n", 18, &line) == 0 && h.n == 0,
	   "hist: a VM with no exits has no series");
	hist_free(&h);
	ok(parse_text(&h, "", 0, &line) == 0 && h.n == 0, "hist: an empty file");
	hist_free(&h);
}

static void test_hist_errors(void)
{
	static const struct {
		const char *text;
		int line;
		const char *what;
	} bad[] = {
		{ "kernel io 1000 1\n", 1, "low_ns not a power of two" },
		{ "# c\nkernel io 1 1\n", 2, "low_ns 1" },
		{ "kernel io 4294967296 1\n", 1, "low_ns 2^32" },
		{ "kernel io 1024\n", 1, "three fields" },
		{ "kernel io 1024 1 2\n", 1, "five fields" },
		{ "kernel io 1024 -1\n", 1, "negative count" },
		{ "kernel io 1024 99999999999999999999999\n", 1, "count overflow" },
		{ "kernel io 0x400 1\n", 1, "hex low_ns" },
		{ "a b 2 1\nkernel io 2 1\njunk\n", 3, "junk on line 3" },
		{ "kernelkernelkernelkernelkernelkernel io 2 1\n", 1, "a word too long" },
	};
	struct hist h;
	int line;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char what[96];
		int r = parse_text(&h, bad[i].text, strlen(bad[i].text), &line);

		snprintf(what, sizeof(what), "hist: malformed, %s: EINVAL at line %d", bad[i].what,
			 bad[i].line);
		ok(r == -EINVAL && line == bad[i].line, what);
		hist_free(&h);
	}
	ok(parse_text(&h, "kernel io 2 1\0 x\n", sizeof("kernel io 2 1\0 x\n") - 1, &line) ==
			   -EINVAL &&
		   line == 1,
	   "hist: a NUL byte inside a line");
	hist_free(&h);
	ok(parse_text(&h, "k i 2 18446744073709551615\nk i 2 1\n",
		      strlen("k i 2 18446744073709551615\nk i 2 1\n"), &line) == -ERANGE,
	   "hist: a sum that overflows is ERANGE");
	hist_free(&h);
}

static void test_hist_quantile(void)
{
	struct hist_series s = { .count = 0 };

	ok(isnan(hist_quantile(&s, 0.5)), "quantile of an empty series is NAN");
	s.b[10] = 1; /* [1024, 2048) */
	s.count = 1;
	ok(hist_quantile(&s, 0.5) == 1536 && hist_quantile(&s, 0.99) == 1536,
	   "quantile of one exit: the middle of its bucket");
	s.b[10] = 90;
	s.b[16] = 10; /* [65536, 131072) */
	s.count = 100;
	ok(hist_quantile(&s, 0.5) > 1024 && hist_quantile(&s, 0.5) < 2048,
	   "median in the bucket holding exit 50");
	ok(hist_quantile(&s, 0.99) > 65536 && hist_quantile(&s, 0.99) < 131072,
	   "p99 in the bucket holding exit 99");
	ok(hist_quantile(&s, 0.9) < hist_quantile(&s, 0.91), "p90 (last of the low bucket) < p91");
	s.b[31] = 900;
	s.count = 1000;
	ok(hist_quantile(&s, 0.99) == 2147483648.0, "quantile in the open last bucket: its low");
	ok(hist_low(0) == 0 && hist_high(0) == 2 && hist_low(1) == 2 &&
		   hist_high(30) == 1ULL << 31 && hist_high(31) == 0,
	   "bucket bounds");
}

static void test_hist_fmt(void)
{
	char a[32], b[32], c[32], d[32];

	hist_fmt_bound(a, sizeof(a), 0);
	hist_fmt_bound(b, sizeof(b), 512);
	hist_fmt_bound(c, sizeof(c), 1024);
	hist_fmt_bound(d, sizeof(d), 1ULL << 31);
	ok(!strcmp(a, "0") && !strcmp(b, "512") && !strcmp(c, "1K") && !strcmp(d, "2G"),
	   "bucket bounds as bpftrace prints them: 0, 512, 1K, 2G");
	hist_fmt_bound(a, sizeof(a), 1ULL << 20);
	ok(!strcmp(a, "1M"), "bucket bound 1M");
	hist_fmt_ns(a, sizeof(a), 830);
	hist_fmt_ns(b, sizeof(b), 98304);
	hist_fmt_ns(c, sizeof(c), 2147483648.0);
	hist_fmt_ns(d, sizeof(d), NAN);
	ok(!strcmp(a, "~830 ns") && !strcmp(b, "~98.3 us") && !strcmp(c, ">=2147.5 ms") &&
		   !strcmp(d, "-"),
	   "latencies: ~830 ns, ~98.3 us, >=2147.5 ms in the open bucket, - for none");
}

static void test_feat_bool(void)
{
	ok(feat_parse_bool("Y") == 1 && feat_parse_bool("N\n") == 0 && feat_parse_bool("1") == 1 &&
		   feat_parse_bool("0") == 0,
	   "feature bool: Y, N, 1, 0");
	ok(feat_parse_bool("yes") == -EINVAL && feat_parse_bool("") == -EINVAL &&
		   feat_parse_bool("2") == -EINVAL && feat_parse_bool("Y\nN") == -EINVAL,
	   "feature bool: anything else is EINVAL");
}

int main(void)
{
	test_parse_u64();
	test_parse_seconds();
	test_parse_misc();
	test_out();
	test_escape();
	test_efi();
	test_hist_parse();
	test_hist_errors();
	test_hist_quantile();
	test_hist_fmt();
	test_feat_bool();
	printf("# unit: %d tests, %d failed\n", tests, failures);
	return failures != 0;
}
