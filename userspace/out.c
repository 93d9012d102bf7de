// SPDX-License-Identifier: GPL-2.0-only
/* The text/JSON printer behind out.h. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ekvm.h"
#include "out.h"

#define MAX_DEPTH 16

static struct {
	FILE *f;
	bool json;
	int depth;
	bool first[MAX_DEPTH];
	bool in_array[MAX_DEPTH];
} out = { .json = false };

/* The errno of the first failed flush of stdout (out_flush()), for out_close_stdout(). */
static int stdout_errno;

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

/*
 * One UTF-8 sequence at p (the well-formed sequences of Unicode's table 3-7: no overlong
 * forms, no surrogates, nothing above U+10FFFF): its length (1-4) and code point, or -n when
 * its first n bytes are a maximal ill-formed subpart, to be replaced as one. A NUL is never
 * a continuation byte, so this does not read past the end of a string.
 */
static int utf8_decode(const unsigned char *p, uint32_t *cp)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int n;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		*cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		*cp = p[0] & 0x0f;
		lo = p[0] == 0xe0 ? 0xa0 : 0x80;
		hi = p[0] == 0xed ? 0x9f : 0xbf;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		*cp = p[0] & 0x07;
		lo = p[0] == 0xf0 ? 0x90 : 0x80;
		hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	} else {
		return -1;
	}
	for (int i = 1; i < n; i++) {
		if (p[i] < lo || p[i] > hi)
			return -i;
		*cp = *cp << 6 | (p[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
}

static bool is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

void json_write_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		uint32_t cp;
		int n = utf8_decode(p, &cp);
		const char *esc = NULL;

		if (n < 0) {
			fputs("\\ufffd", f);
			p += -n;
			continue;
		}
		switch (cp) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\b':
			esc = "\\b";
			break;
		case '\f':
			esc = "\\f";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		}
		if (esc)
			fputs(esc, f);
		else if (is_control(cp))
			fprintf(f, "\\u%04x", (unsigned int)cp);
		else
			fwrite(p, 1, (size_t)n, f);
		p += n;
	}
	fputc('"', f);
}

/* Appends what to buf[*len] as snprintf would (counting what does not fit). */
static void put(char *buf, size_t size, size_t *len, const char *what, size_t n)
{
	if (*len < size)
		memcpy(buf + *len, what, *len + n < size ? n : size - *len);
	*len += n;
}

size_t text_escape(char *buf, size_t size, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = 0;
	char esc[8];

	while (*p) {
		uint32_t cp;
		int n = utf8_decode(p, &cp);

		if (n < 0) {
			for (int i = 0; i < -n; i++) {
				snprintf(esc, sizeof(esc), "\\x%02x", p[i]);
				put(buf, size, &len, esc, 4);
			}
			p += -n;
			continue;
		}
		if (cp == '\\')
			put(buf, size, &len, "\\\\", 2);
		else if (cp == '\n')
			put(buf, size, &len, "\\n", 2);
		else if (cp == '\r')
			put(buf, size, &len, "\\r", 2);
		else if (cp == '\t')
			put(buf, size, &len, "\\t", 2);
		else if (cp < 0x80 && is_control(cp))
			put(buf, size, &len, esc,
			    (size_t)snprintf(esc, sizeof(esc), "\\x%02x", cp));
		else if (is_control(cp))
			put(buf, size, &len, esc,
			    (size_t)snprintf(esc, sizeof(esc), "\\u%04x", cp));
		else
			put(buf, size, &len, (const char *)p, (size_t)n);
		p += n;
	}
	if (size)
		buf[len < size ? len : size - 1] = 0;
	return len;
}

const char *out_esc(const char *s)
{
	static _Thread_local char bufs[4][1024];
	static _Thread_local unsigned int next;
	char *buf = bufs[next++ % 4];
	size_t cut = sizeof(bufs[0]) - 4;

	if (!s)
		return "-";
	if (text_escape(buf, sizeof(bufs[0]), s) >= sizeof(bufs[0])) {
		/* not in the middle of a character */
		while (cut > 0 && ((unsigned char)buf[cut] & 0xc0) == 0x80)
			cut--;
		memcpy(buf + cut, "...", 4);
	}
	return buf;
}

int out_close_stdout(const char *prog, int ret)
{
	bool err = ferror(stdout);
	int e;

	errno = 0;
	if (fclose(stdout) == 0 && !err)
		return ret;
	/* glibc drops what a failed flush could not write: its errno is the one we kept */
	e = stdout_errno ? stdout_errno : errno;
	/* stdout closed by the caller (>&-) and nothing written to it: not an error */
	if (e == EBADF && !err)
		return ret;
	if (e)
		fprintf(stderr, "%s: write error: %s\n", prog, strerror(e));
	else
		fprintf(stderr, "%s: write error\n", prog);
	return EKVM_EXIT_USAGE;
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
	} else if (fmt && !val) {
		fprintf(out_file(), fmt, "-");
	} else if (fmt) {
		char small[256], *esc = small;
		size_t len = text_escape(small, sizeof(small), val);

		if (len >= sizeof(small)) {
			esc = malloc(len + 1);
			if (esc)
				text_escape(esc, len + 1, val);
		}
		/* out of memory: the string cut short, still escaped */
		fprintf(out_file(), fmt, esc ? esc : small);
		if (esc != small)
			free(esc);
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

bool out_failed(void)
{
	return ferror(out_file());
}

int out_flush(void)
{
	int err = 0;

	if (out.json && out.depth == 0)
		fputc('\n', out_file());
	errno = 0;
	if (fflush(out_file()))
		err = errno ? errno : EIO;
	if (err && out_file() == stdout && !stdout_errno)
		stdout_errno = err;
	/* an error of an earlier flush, whose errno is gone */
	return err ? -err : ferror(out_file()) ? -EIO : 0;
}
