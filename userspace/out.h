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

/* A NULL string is JSON null and "-" in text. */
void out_str(const char *key, const char *fmt, const char *val);
void out_u64(const char *key, const char *fmt, uint64_t val);
void out_int(const char *key, const char *fmt, long long val);
/* Non-finite doubles are JSON null and "-" in text (fmt then gets a string). */
void out_dbl(const char *key, const char *fmt, double val);
void out_bool(const char *key, const char *fmt, bool val);

/* Text only: ignored in JSON mode. */
void out_txt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Ends a JSON document (newline); flushes. */
void out_flush(void);

/* Writes s as a JSON string literal, quotes included. */
void json_write_string(FILE *f, const char *s);

#endif
