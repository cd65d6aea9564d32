/*
 * relayq -- libFuzzer harness for the report's log parser (report.c) and
 * the causes table (cause.c): log files and the replies in them are input
 * from wherever the log came from.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The input is cut at LF into lines; each is parsed, and the reply of an
 * event classified.  Beyond "does not crash": every field of an event
 * points inside the line, the status is one of REV_*, and the causes
 * table always answers with a named cause, a code of 0 or 200..599, an
 * enhanced code of at most 11 octets and a one-line advice.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cause.h"
#include "report.h"

static void
inside(const char *f, const char *line, size_t len)
{
	if (f != NULL && *f != '\0' && (f < line || f > line + len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = malloc(len + 1);
		struct report_event ev;
		struct cause_match m;

		memcpy(line, p, len);
		line[len] = '\0';
		cause_classify(line, &m);
		if (report_parse_line(line, 1795888800LL, &ev)) {
			if (ev.status < REV_SENT || ev.status > REV_EXPIRED)
				abort();
			inside(ev.id, line, len);
			inside(ev.account, line, len);
			inside(ev.rcpt, line, len);
			inside(ev.relay, line, len);
			inside(ev.reply, line, len);
			cause_classify(ev.reply, &m);
		}
		if (m.cause == NULL || m.cause->name == NULL ||
		    (m.code != 0 && (m.code < 200 || m.code > 599)) ||
		    strlen(m.enhanced) > 11 || strchr(m.advice, '\n') != NULL)
			abort();
		free(line);
		p += len + 1;
	}
	return 0;
}
