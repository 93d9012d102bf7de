/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One printing path for text and JSON (like iproute2's print_*()): every value is printed
 * with both a JSON key and a text format. In JSON mode the key is used and the format
 * ignored; in text mode the format (a printf format taking the value) is used, and a NULL
 * format prints nothing. So text and JSON output come from the same calls and cannot
 * diverge. JSON is compact, one document a line.
 */
#ifndef EKVM_OUT_H
#define EKVM_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

void out_init(FILE *f, bool json);
bool out_is_json(void);

/* Objects and arrays: key is NULL at the top level and inside arrays. */
void out_obj_begin(const char *key);
void out_obj_end(void);
void out_arr_begin(const char *key);
void out_arr_end(void);

/*
 * A NULL string is JSON null and "-" in text. Strings are untrusted (a process's comm, a VM
 * name, a URI, a file's content): JSON gets them through json_write_string(), text through
 * text_escape(), so neither invalid UTF-8 nor control characters reach a parser or a terminal.
 */
void out_str(const char *key, const char *fmt, const char *val);
void out_u64(const char *key, const char *fmt, uint64_t val);
void out_int(const char *key, const char *fmt, long long val);
/* Non-finite doubles are JSON null and "-" in text (fmt then gets a string). */
void out_dbl(const char *key, const char *fmt, double val);
void out_bool(const char *key, const char *fmt, bool val);

/* Text only: ignored in JSON mode. */
void out_txt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Ends a JSON document (newline); flushes. Returns 0, or -errno when the output cannot be
 * written (a loop that prints, like stat -l, can stop there: out_close_stdout() says it).
 */
int out_flush(void);

/* Whether a write to the output failed (a loop that prints can stop there). */
bool out_failed(void);

/*
 * The one JSON string encoder: writes s as a JSON string literal, quotes included, always
 * valid JSON without control characters. A quote and a backslash are escaped, \b \f \n \r
 * \t by name, other control characters (U+0000-U+001F, U+007F, U+0080-U+009F) as \u00XX.
 * Invalid UTF-8 is replaced by U+FFFD (written \ufffd), one for each maximal ill-formed
 * subpart (the Unicode and WHATWG practice, what Python's decode(errors="replace") gives):
 * the bytes of a truncated sequence are one U+FFFD, any other invalid byte one each.
 */
void json_write_string(FILE *f, const char *s);

/*
 * The text form of an untrusted string: printable as is, but a backslash is written as two,
 * \n \r \t as such, other C0 controls and DEL as \xHH, C1 controls as \u00XX, and each byte of
 * invalid UTF-8 as \xHH (so the bytes can still be told). Like snprintf: writes at most
 * size - 1 bytes and a NUL, returns the length of the whole escaped string.
 */
size_t text_escape(char *buf, size_t size, const char *s);

/*
 * text_escape(s) for messages (e.g. on stderr): a per-thread buffer, one of 4 used in turn
 * (so up to 4 in one printf), cut with "..." beyond 1023 bytes. NULL gives "-".
 */
const char *out_esc(const char *s);

/*
 * At exit (like coreutils' close_stdout): flushes and closes stdout; on a write error says
 * "<prog>: write error: <reason>" on stderr (one line) and returns EKVM_EXIT_USAGE (2), else
 * returns ret.
 */
int out_close_stdout(const char *prog, int ret);

#endif
