// SPDX-License-Identifier: GPL-2.0-only
/* The text/JSON printer behind out.h. */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "out.h"

#define MAX_DEPTH 16

static struct {
	FILE *f;
	bool json;
	int depth;
	bool first[MAX_DEPTH];
	bool in_array[MAX_DEPTH];
} out = { .json = false };

void out_init(FILE *f, bool json)
{
	memset(&out, 0, sizeof(out));
	out.f = f;
	out.json = json;
}

bool out_is_json(void)
{
	return out.json;
}

static FILE *out_file(void)
{
	return out.f ? out.f : stdout;
}

void json_write_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* Separator and key before a JSON value. */
static void json_key(const char *key)
{
	FILE *f = out_file();

	if (out.depth > 0) {
		if (!out.first[out.depth])
			fputc(',', f);
		out.first[out.depth] = false;
	}
	if (out.depth > 0 && !out.in_array[out.depth]) {
		json_write_string(f, key ? key : "");
		fputc(':', f);
	}
}

static void open_container(const char *key, char c, bool array)
{
	if (!out.json)
		return;
	json_key(key);
	fputc(c, out_file());
	if (out.depth < MAX_DEPTH - 1)
		out.depth++;
	out.first[out.depth] = true;
	out.in_array[out.depth] = array;
}

static void close_container(char c)
{
	if (!out.json)
		return;
	fputc(c, out_file());
	if (out.depth > 0)
		out.depth--;
}

void out_obj_begin(const char *key)
{
	open_container(key, '{', false);
}

void out_obj_end(void)
{
	close_container('}');
}

void out_arr_begin(const char *key)
{
	open_container(key, '[', true);
}

void out_arr_end(void)
{
	close_container(']');
}

void out_str(const char *key, const char *fmt, const char *val)
{
	if (out.json) {
		json_key(key);
		if (val)
			json_write_string(out_file(), val);
		else
			fputs("null", out_file());
	} else if (fmt) {
		fprintf(out_file(), fmt, val ? val : "-");
	}
}

void out_u64(const char *key, const char *fmt, uint64_t val)
{
	if (out.json) {
		json_key(key);
		fprintf(out_file(), "%llu", (unsigned long long)val);
	} else if (fmt) {
		fprintf(out_file(), fmt, (unsigned long long)val);
	}
}

void out_int(const char *key, const char *fmt, long long val)
{
	if (out.json) {
		json_key(key);
		fprintf(out_file(), "%lld", val);
	} else if (fmt) {
		fprintf(out_file(), fmt, val);
	}
}

void out_dbl(const char *key, const char *fmt, double val)
{
	if (!isfinite(val)) {
		if (out.json || fmt)
			out_str(key, out.json ? NULL : "%s", NULL);
		return;
	}
	if (out.json) {
		json_key(key);
		fprintf(out_file(), "%.3f", val);
	} else if (fmt) {
		fprintf(out_file(), fmt, val);
	}
}

void out_bool(const char *key, const char *fmt, bool val)
{
	if (out.json) {
		json_key(key);
		fputs(val ? "true" : "false", out_file());
	} else if (fmt) {
		fprintf(out_file(), fmt, val ? "yes" : "no");
	}
}

void out_txt(const char *fmt, ...)
{
	va_list ap;

	if (out.json)
		return;
	va_start(ap, fmt);
	vfprintf(out_file(), fmt, ap);
	va_end(ap);
}

void out_flush(void)
{
	if (out.json && out.depth == 0)
		fputc('\n', out_file());
	fflush(out_file());
}
