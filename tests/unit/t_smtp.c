/*
 * relayq -- unit tests for the content filter between the queue and the
 * wire (smtp_canon_*): CRLF only, dot-stuffing for DATA, none for BDAT,
 * and the SMTP smuggling sequences.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"
#include "tap.h"

struct tcase {
	const char	*name;
	const char	*in;
	size_t		 inlen;
	const char	*data;		/* DATA form, with the terminator */
	size_t		 datalen;
	const char	*bdat;		/* BDAT form */
	size_t		 bdatlen;
};

#define S(x)	x, sizeof(x) - 1

static const struct tcase cases[] = {
	{ "empty", S(""), S(".\r\n"),
	  S("") },
	{ "one line", S("a\r\n"), S("a\r\n.\r\n"),
	  S("a\r\n") },
	{ "no final line end", S("a"), S("a\r\n.\r\n"),
	  S("a\r\n") },
	{ "a final CR only", S("a\r"), S("a\r\n.\r\n"),
	  S("a\r\n") },
	{ "bare LF", S("a\nb\n"), S("a\r\nb\r\n.\r\n"),
	  S("a\r\nb\r\n") },
	{ "bare CR", S("a\rb\r\n"), S("a\r\nb\r\n.\r\n"),
	  S("a\r\nb\r\n") },
	{ "CR CR LF", S("a\r\r\nb"), S("a\r\n\r\nb\r\n.\r\n"),
	  S("a\r\n\r\nb\r\n") },
	{ "leading dot", S(".x\r\n"), S("..x\r\n.\r\n"),
	  S(".x\r\n") },
	{ "dot line", S("a\r\n.\r\nb\r\n"), S("a\r\n..\r\nb\r\n.\r\n"),
	  S("a\r\n.\r\nb\r\n") },
	{ "dot alone at end", S("a\r\n."), S("a\r\n..\r\n.\r\n"),
	  S("a\r\n.\r\n") },
	{ "dots inside a line", S("a.b.\r\n"), S("a.b.\r\n.\r\n"),
	  S("a.b.\r\n") },
	{ "two dots", S("..\r\n"), S("...\r\n.\r\n"),
	  S("..\r\n") },
	/* hannob/smtpsmug end-of-data variants, each in a body. */
	{ "smuggle LF.LF", S("x\n.\nMAIL FROM:<e@v>\r\n"),
	  S("x\r\n..\r\nMAIL FROM:<e@v>\r\n.\r\n"),
	  S("x\r\n.\r\nMAIL FROM:<e@v>\r\n") },
	{ "smuggle CR.CR", S("x\r.\rQUIT\r\n"), S("x\r\n..\r\nQUIT\r\n.\r\n"),
	  S("x\r\n.\r\nQUIT\r\n") },
	{ "smuggle CR.LF", S("x\r.\ny\r\n"), S("x\r\n..\r\ny\r\n.\r\n"),
	  S("x\r\n.\r\ny\r\n") },
	{ "smuggle LF.CR", S("x\n.\ry\r\n"), S("x\r\n..\r\ny\r\n.\r\n"),
	  S("x\r\n.\r\ny\r\n") },
	{ "smuggle LF.CRLF", S("x\n.\r\ny\r\n"), S("x\r\n..\r\ny\r\n.\r\n"),
	  S("x\r\n.\r\ny\r\n") },
	{ "smuggle CRLF.LF", S("x\r\n.\ny\r\n"), S("x\r\n..\r\ny\r\n.\r\n"),
	  S("x\r\n.\r\ny\r\n") },
	{ "smuggle CR.CRLF", S("x\r.\r\ny\r\n"), S("x\r\n..\r\ny\r\n.\r\n"),
	  S("x\r\n.\r\ny\r\n") },
	{ "smuggle CRLF.CR", S("x\r\n.\ry\r\n"), S("x\r\n..\r\ny\r\n.\r\n"),
	  S("x\r\n.\r\ny\r\n") },
	{ "smuggle CRLF NUL.CRLF", S("x\r\n\0.\r\ny\r\n"),
	  S("x\r\n\0.\r\ny\r\n.\r\n"), S("x\r\n\0.\r\ny\r\n") },
	{ "LF at start", S("\n.\n"), S("\r\n..\r\n.\r\n"),
	  S("\r\n.\r\n") },
};

/* Run the filter over in, fed in pieces of step octets (0: at once). */
static void
run(const char *in, size_t n, int stuff, size_t step, struct buf *out)
{
	struct smtp_canon cs;
	size_t i, k;

	buf_reset(out);
	smtp_canon_init(&cs, stuff);
	if (step == 0) {
		smtp_canon_feed(&cs, in, n, out);
	} else {
		for (i = 0; i < n; i += k) {
			k = n - i < step ? n - i : step;
			smtp_canon_feed(&cs, in + i, k, out);
		}
	}
	smtp_canon_end(&cs, out);
}

/* Where the first end of data ("." alone on a line) is, or -1. */
static long
first_eod(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i + 3 <= n; i++)
		if ((i == 0 || (i >= 2 && p[i - 2] == '\r' &&
		    p[i - 1] == '\n')) && memcmp(p + i, ".\r\n", 3) == 0)
			return (long)i;
	return -1;
}

/* Undo dot-stuffing and drop the terminator. */
static void
unstuff(const char *p, size_t n, struct buf *out)
{
	size_t i;
	int bol = 1;

	buf_reset(out);
	for (i = 0; i + 3 < n || (i < n && n - i != 3); i++) {
		if (bol && p[i] == '.') {
			bol = 0;
			continue;
		}
		buf_addch(out, p[i]);
		bol = p[i] == '\n';
	}
}

int
main(void)
{
	static const size_t steps[] = { 0, 1, 2, 3, 7 };
	struct buf out, un, bd;
	size_t i, s;
	int j;

	buf_init(&out);
	buf_init(&un);
	buf_init(&bd);
	/* Give each buffer memory: is_mem must never see a NULL pointer. */
	buf_addch(&out, 'x');
	buf_addch(&un, 'x');
	buf_addch(&bd, 'x');
	for (i = 0; i < RQ_ARRAY_LEN(cases); i++) {
		const struct tcase *c = &cases[i];

		for (s = 0; s < RQ_ARRAY_LEN(steps); s++) {
			run(c->in, c->inlen, 1, steps[s], &out);
			is_mem(out.data, out.len, c->data, c->datalen,
			    "DATA: %s (pieces of %zu)", c->name, steps[s]);
			run(c->in, c->inlen, 0, steps[s], &bd);
			is_mem(bd.data, bd.len, c->bdat, c->bdatlen,
			    "BDAT: %s (pieces of %zu)", c->name, steps[s]);
		}
		run(c->in, c->inlen, 1, 0, &out);
		ok(crlf_canonical(out.data, out.len), "DATA: %s: CRLF only",
		    c->name);
		is_int(first_eod(out.data, out.len), (long)out.len - 3,
		    "DATA: %s: the only end of data is the last line",
		    c->name);
		run(c->in, c->inlen, 0, 0, &bd);
		unstuff(out.data, out.len, &un);
		is_mem(un.data, un.len, bd.data, bd.len,
		    "DATA: %s: unstuffing gives the canonical content",
		    c->name);
	}

	/* Random octets (CR, LF and dots likely): the same properties. */
	srand(4242);
	for (j = 0; j < 300; j++) {
		static const char alpha[] = "\r\n.\r\n.a\0";
		char in[64];
		size_t n = (size_t)(rand() % (int)sizeof(in));
		int good = 1;

		for (i = 0; i < n; i++)
			in[i] = alpha[rand() % (int)(sizeof(alpha) - 1)];
		run(in, n, 1, 0, &out);
		run(in, n, 1, 1 + (size_t)(rand() % 5), &un);
		good &= out.len == un.len && memcmp(out.data, un.data,
		    out.len) == 0;
		good &= crlf_canonical(out.data, out.len);
		good &= first_eod(out.data, out.len) == (long)out.len - 3;
		run(in, n, 0, 0, &bd);
		good &= crlf_canonical(bd.data, bd.len);
		unstuff(out.data, out.len, &un);
		good &= un.len == bd.len && memcmp(un.data, bd.data,
		    bd.len) == 0;
		if (!good)
			ok(0, "random input %d keeps the properties", j);
	}
	ok(1, "300 random inputs: CRLF only, one end of data, round trip, "
	    "independent of how the input is cut");

	buf_free(&out);
	buf_free(&un);
	buf_free(&bd);
	return done_testing();
}
