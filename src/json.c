/*
 * relayq -- writing JSON strings and times.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "mime.h"
#include "util.h"

void
json_str(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *end;

	if (s == NULL) {
		fputs("null", out);
		return;
	}
	end = p + strlen(s);
	fputc('"', out);
	while (*p != '\0') {
		unsigned c = *p;
		size_t n;

		if (c == '"' || c == '\\') {
			fputc('\\', out);
			fputc((int)c, out);
			p++;
		} else if (c == '\n') {
			fputs("\\n", out);
			p++;
		} else if (c == '\r') {
			fputs("\\r", out);
			p++;
		} else if (c == '\t') {
			fputs("\\t", out);
			p++;
		} else if (rq_iscntrl(c)) {
			fprintf(out, "\\u%04x", c);
			p++;
		} else if (c < 0x80) {
			fputc((int)c, out);
			p++;
		} else {
			n = utf8_char_len(p, (size_t)(end - p));
			if (n == 0) {
				fputs("\\ufffd", out);
				p++;
			} else {
				fwrite(p, 1, n, out);
				p += n;
			}
		}
	}
	fputc('"', out);
}

void
json_time(FILE *out, long long t)
{
	char date[64];

	if (t <= 0) {
		fputs("null", out);
		return;
	}
	rfc3339_date(date, sizeof(date), (time_t)t);
	fprintf(out, "\"%s\"", date);
}
