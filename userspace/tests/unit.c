// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests of parsing and formatting, built with ASan/UBSan. TAP-like output. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "efi.h"
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
	ok(t && !strcmp(t, "name=a\"b\\c\n\x01 total=18446744073709551615 none=- rate=2.2 "
			   "flag=yes -3 text-only"),
	   "text from the same calls");
	if (j && t && (strcmp(j, "") == 0 || strcmp(t, "") == 0))
		ok(0, "output not empty");
	free(j);
	free(t);
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

int main(void)
{
	test_parse_u64();
	test_parse_seconds();
	test_parse_misc();
	test_out();
	test_efi();
	printf("# unit: %d tests, %d failed\n", tests, failures);
	return failures != 0;
}
