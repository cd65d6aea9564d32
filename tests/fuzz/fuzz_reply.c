/*
 * relayq -- libFuzzer harness for the SMTP reply parser and EHLO
 * capabilities (reply.c).
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The input is what a hostile server sends: it is cut at LF into lines
 * and fed to reply_feed, starting a fresh reply after each error.  Beyond
 * "does not crash", it checks what smtp.c relies on: a complete reply has
 * a code in 200..599, at most REPLY_LINES_MAX lines and REPLY_SIZE_MAX
 * octets, lines without NUL, CR or LF; its one-line form is at most 512
 * octets without control characters; and caps_parse yields only valid
 * mechanism names, each once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"

static void
check_reply(const struct reply *r)
{
	struct caps c;
	char *one;
	size_t total = 0;

	if (r->code < 200 || r->code > 599)
		abort();
	if (r->lines.n == 0 || r->lines.n > REPLY_LINES_MAX ||
	    r->size > REPLY_SIZE_MAX)
		abort();
	for (size_t i = 0; i < r->lines.n; i++) {
		size_t len = strlen(r->lines.v[i]);

		if (len > REPLY_LINE_MAX || strpbrk(r->lines.v[i], "\r\n"))
			abort();
		total += len;
	}
	if (total > r->size)
		abort();

	one = reply_oneline(r);
	if (strlen(one) > 512 || strlen(one) < 3)
		abort();
	for (const char *p = one; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
	free(one);

	caps_init(&c);
	caps_parse(&c, r);
	caps_parse(&c, r);	/* a second parse starts afresh */
	if (c.size_max < 0 || (c.size_max > 0 && !c.size))
		abort();
	for (size_t i = 0; i < c.auth.n; i++) {
		const char *m = c.auth.v[i];
		size_t len = strlen(m);

		if (len == 0 || len > 20 || strspn(m,
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != len)
			abort();
		for (size_t k = 0; k < i; k++)
			if (strcmp(c.auth.v[k], m) == 0)
				abort();
	}
	caps_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct reply r;
	struct rq_err err = { 0 };

	reply_init(&r);
	while (size > 0) {
		const char *lf = memchr(p, '\n', size);
		size_t n = lf != NULL ? (size_t)(lf - p) + 1 : size;
		int rc = reply_feed(&r, p, n, &err);

		if (rc == 1)
			check_reply(&r);
		else if (rc != 0) {
			if (rc != EX_PROTOCOL || err.msg[0] == '\0' ||
			    strpbrk(err.msg, "\r\n") != NULL)
				abort();
			reply_free(&r);
			reply_init(&r);
		}
		p += n;
		size -= n;
	}
	reply_free(&r);
	return 0;
}
