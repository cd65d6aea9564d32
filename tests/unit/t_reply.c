/*
 * relayq -- unit tests for the SMTP reply parser and EHLO capabilities.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "tap.h"
#include "util.h"

/*
 * Each case is what arrives on the wire (split at LF into lines, each fed
 * to reply_feed with its terminator), and what the parser must conclude:
 * the last return value, then the code, the number of lines and the
 * one-line form when the reply is complete, or a word of the error.
 */
static const struct {
	const char	*name;
	const char	*wire;
	size_t		 len;	/* 0: strlen(wire) */
	int		 ret;
	int		 code;
	size_t		 nlines;
	const char	*oneline;	/* or the error substring */
} cases[] = {
	{ "single line", "250 OK\r\n", 0, 1, 250, 1, "250 OK" },
	{ "bare code ends", "250\r\n", 0, 1, 250, 1, "250" },
	{ "bare LF accepted", "220 hi\n", 0, 1, 220, 1, "220 hi" },
	{ "no terminator", "354 go on", 0, 1, 354, 1, "354 go on" },
	{ "multiline", "250-a.example\r\n250-PIPELINING\r\n250 SIZE 10\r\n",
	    0, 1, 250, 3, "250 a.example PIPELINING SIZE 10" },
	{ "multiline, empty text", "250-\r\n250 \r\n", 0, 1, 250, 2, "250" },
	{ "continuation pending", "250-a\r\n250-b\r\n", 0, 0, 250, 2, NULL },
	{ "4xx", "451 4.3.0 try later\r\n", 0, 1, 451, 1,
	    "451 4.3.0 try later" },
	{ "5xx", "554 no\r\n", 0, 1, 554, 1, "554 no" },
	{ "control chars replaced", "550 a\tb\x1b[0m\r\n", 0, 1, 550, 1,
	    "550 a?b?[0m" },
	{ "code mismatch", "250-a\r\n251 b\r\n", 0, EX_PROTOCOL, 0, 0,
	    "changes its code" },
	{ "four digits", "2500 x\r\n", 0, EX_PROTOCOL, 0, 0,
	    "not followed by a space" },
	{ "two digits", "25\r\n", 0, EX_PROTOCOL, 0, 0, "three-digit" },
	{ "empty line", "\r\n", 0, EX_PROTOCOL, 0, 0, "three-digit" },
	{ "letters", "abc def\r\n", 0, EX_PROTOCOL, 0, 0, "three-digit" },
	{ "missing separator", "250OK\r\n", 0, EX_PROTOCOL, 0, 0,
	    "not followed" },
	{ "first digit 1", "150 x\r\n", 0, EX_PROTOCOL, 0, 0, "outside" },
	{ "first digit 6", "600 x\r\n", 0, EX_PROTOCOL, 0, 0, "outside" },
	{ "first digit 0", "099 x\r\n", 0, EX_PROTOCOL, 0, 0, "outside" },
	{ "NUL in text", "250 a\0b\r\n", 9, EX_PROTOCOL, 0, 0, "NUL" },
	{ "NUL in code", "2\0000 x\r\n", 8, EX_PROTOCOL, 0, 0, "NUL" },
	{ "bare CR inside", "250 a\rb\r\n", 0, EX_PROTOCOL, 0, 0, "bare CR" },
	{ "leading space", " 250 x\r\n", 0, EX_PROTOCOL, 0, 0, "three-digit" },
	{ "sign", "+25 x\r\n", 0, EX_PROTOCOL, 0, 0, "three-digit" },
	{ "8-bit text kept", "250 caf\xc3\xa9\r\n", 0, 1, 250, 1,
	    "250 caf\xc3\xa9" },
};

static void
run_case(size_t i)
{
	struct reply r;
	struct rq_err err = { 0 };
	const char *p = cases[i].wire;
	size_t left = cases[i].len ? cases[i].len : strlen(cases[i].wire);
	int ret = 0;

	reply_init(&r);
	while (left > 0) {
		const char *lf = memchr(p, '\n', left);
		size_t n = lf ? (size_t)(lf - p) + 1 : left;

		ret = reply_feed(&r, p, n, &err);
		p += n;
		left -= n;
		if (ret != 0 && ret != 1)
			break;
	}
	is_int(ret, cases[i].ret, "%s: result", cases[i].name);
	if (ret == 1) {
		char *one = reply_oneline(&r);

		is_int(r.code, cases[i].code, "%s: code", cases[i].name);
		is_int((long long)r.lines.n, (long long)cases[i].nlines,
		    "%s: lines", cases[i].name);
		is_str(one, cases[i].oneline, "%s: one line", cases[i].name);
		free(one);
	} else if (ret == 0) {
		is_int((long long)r.lines.n, (long long)cases[i].nlines,
		    "%s: lines so far", cases[i].name);
	} else {
		ok(strstr(err.msg, cases[i].oneline) != NULL,
		    "%s: error \"%s\" mentions \"%s\"", cases[i].name,
		    err.msg, cases[i].oneline);
		is_int(err.ex, EX_PROTOCOL, "%s: err.ex", cases[i].name);
	}
	reply_free(&r);
}

/* Limits: line length, number of lines, total size. */
static void
test_limits(void)
{
	struct reply r;
	struct rq_err err = { 0 };
	struct buf b = { 0 };
	int ret = 0;
	size_t i;

	/* A line of REPLY_LINE_MAX octets before CRLF is fine, one more is
	 * not. */
	buf_addstr(&b, "250 ");
	while (b.len < REPLY_LINE_MAX)
		buf_addch(&b, 'x');
	buf_addstr(&b, "\r\n");
	reply_init(&r);
	is_int(reply_feed(&r, b.data, b.len, &err), 1,
	    "line of REPLY_LINE_MAX octets plus CRLF accepted");
	reply_free(&r);
	buf_reset(&b);
	buf_addstr(&b, "250 ");
	while (b.len < REPLY_LINE_MAX + 1)
		buf_addch(&b, 'x');
	buf_addstr(&b, "\r\n");
	reply_init(&r);
	is_int(reply_feed(&r, b.data, b.len, &err), EX_PROTOCOL,
	    "line of REPLY_LINE_MAX+1 octets plus CRLF refused");
	ok(strstr(err.msg, "longer") != NULL, "error says too long: %s",
	    err.msg);
	reply_free(&r);

	/* REPLY_LINES_MAX lines are fine; one more continuation is not. */
	reply_init(&r);
	for (i = 0; i < REPLY_LINES_MAX - 1; i++) {
		ret = reply_feed(&r, "250-x\r\n", 7, &err);
		if (ret != 0)
			break;
	}
	is_int(ret, 0, "%d continuation lines accepted", REPLY_LINES_MAX - 1);
	is_int(reply_feed(&r, "250 x\r\n", 7, &err), 1,
	    "line %d completes the reply", REPLY_LINES_MAX);
	reply_free(&r);
	reply_init(&r);
	for (i = 0; i < REPLY_LINES_MAX; i++)
		ret = reply_feed(&r, "250-x\r\n", 7, &err);
	is_int(reply_feed(&r, "250 x\r\n", 7, &err), EX_PROTOCOL,
	    "line %d refused", REPLY_LINES_MAX + 1);
	ok(strstr(err.msg, "lines") != NULL, "error names lines: %s",
	    err.msg);
	reply_free(&r);

	/* Long lines, few of them: the size bound trips before the count. */
	buf_reset(&b);
	buf_addstr(&b, "250-");
	while (b.len < REPLY_LINE_MAX - 2)
		buf_addch(&b, 'y');
	buf_addstr(&b, "\r\n");	/* 4096 octets in all */
	reply_init(&r);
	ret = 0;
	for (i = 0; i < REPLY_LINES_MAX && ret == 0; i++)
		ret = reply_feed(&r, b.data, b.len, &err);
	is_int(ret, EX_PROTOCOL, "reply over REPLY_SIZE_MAX refused");
	is_int((long long)i, (long long)(REPLY_SIZE_MAX / REPLY_LINE_MAX + 1),
	    "refused at the first line past the size bound");
	ok(strstr(err.msg, "larger") != NULL, "error names size: %s", err.msg);
	reply_free(&r);
	buf_free(&b);
}

/* A complete reply followed by another: the struct is reused. */
static void
test_reuse(void)
{
	struct reply r;
	struct rq_err err = { 0 };

	reply_init(&r);
	is_int(reply_feed(&r, "250-a\r\n", 7, &err), 0, "reuse: first, more");
	is_int(reply_feed(&r, "250 b\r\n", 7, &err), 1, "reuse: first done");
	is_int(reply_feed(&r, "354 go\r\n", 8, &err), 1,
	    "reuse: second done");
	is_int(r.code, 354, "reuse: second code");
	is_int((long long)r.lines.n, 1, "reuse: old lines dropped");
	is_str(r.lines.v[0], "go", "reuse: text");
	reply_free(&r);
}

static void
test_oneline_bound(void)
{
	struct reply r;
	struct rq_err err = { 0 };
	struct buf b = { 0 };
	char *one;

	reply_init(&r);
	buf_addstr(&b, "550 ");
	/* Multi-octet characters straddle the 512 cut. */
	while (b.len < 1500)
		buf_addstr(&b, "\xc3\xa9");
	reply_feed(&r, b.data, b.len, &err);
	one = reply_oneline(&r);
	ok(strlen(one) <= 512, "oneline at most 512 octets (%zu)",
	    strlen(one));
	ok(((unsigned char)one[strlen(one) - 1] & 0xc0) == 0xc0 ||
	    (unsigned char)one[strlen(one) - 1] == 0xa9,
	    "oneline does not end inside a UTF-8 sequence");
	ok(strlen(one) < 512 || (unsigned char)one[511] == 0xa9,
	    "oneline cut at a character boundary");
	free(one);
	reply_free(&r);
	buf_free(&b);
}

/* EHLO replies: wire text and the capabilities expected. */
static const struct {
	const char	*name;
	const char	*wire;
	int		 pipelining, starttls, eightbit, utf8, dsn, chunking;
	int		 enh, size;
	long long	 size_max;
	const char	*auth;	/* mechanisms joined by ' ' */
} ehlo[] = {
	{ "postfix",
	    "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
	    "250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n"
	    "250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
	    1, 1, 1, 1, 1, 1, 1, 1, 10240000, "" },
	{ "lower case keywords",
	    "250-mx\r\n250-pipelining\r\n250-starttls\r\n250-size\r\n"
	    "250 auth plain login\r\n",
	    1, 1, 0, 0, 0, 0, 0, 1, 0, "PLAIN LOGIN" },
	{ "old AUTH= form and duplicates",
	    "250-mx\r\n250-AUTH=LOGIN PLAIN\r\n250 AUTH PLAIN LOGIN CRAM-MD5\r\n",
	    0, 0, 0, 0, 0, 0, 0, 0, 0, "LOGIN PLAIN CRAM-MD5" },
	{ "SIZE 0 means no limit", "250-mx\r\n250 SIZE 0\r\n",
	    0, 0, 0, 0, 0, 0, 0, 1, 0, "" },
	{ "SIZE with junk", "250-mx\r\n250 SIZE 12x\r\n",
	    0, 0, 0, 0, 0, 0, 0, 1, 0, "" },
	{ "SIZE huge", "250-mx\r\n250 SIZE 99999999999999999999999\r\n",
	    0, 0, 0, 0, 0, 0, 0, 1, 0, "" },
	{ "greeting line is not a keyword", "250 STARTTLS\r\n",
	    0, 0, 0, 0, 0, 0, 0, 0, 0, "" },
	{ "prefixes do not match", "250-mx\r\n250-STARTTLSX\r\n250-PIPE\r\n"
	    "250 DSNX\r\n", 0, 0, 0, 0, 0, 0, 0, 0, 0, "" },
	{ "invalid mechanism names dropped",
	    "250-mx\r\n250 AUTH SCRAM-SHA-256-PLUS A*B THIS-NAME-IS-FAR-TOO-LONG x_y\r\n",
	    0, 0, 0, 0, 0, 0, 0, 0, 0, "SCRAM-SHA-256-PLUS X_Y" },
	{ "tabs and extra spaces", "250-mx\r\n250   AUTH\t PLAIN  \r\n",
	    0, 0, 0, 0, 0, 0, 0, 0, 0, "PLAIN" },
	{ "empty lines", "250-mx\r\n250-\r\n250 \r\n",
	    0, 0, 0, 0, 0, 0, 0, 0, 0, "" },
};

static void
test_caps(void)
{
	for (size_t i = 0; i < RQ_ARRAY_LEN(ehlo); i++) {
		struct reply r;
		struct caps c;
		struct rq_err err = { 0 };
		struct buf mechs = { 0 };
		const char *p = ehlo[i].wire;
		int ret = 0;

		reply_init(&r);
		caps_init(&c);
		/* Stale state must go: caps_parse starts from nothing. */
		c.pipelining = c.starttls = 1;
		strlist_add(&c.auth, "STALE");
		while (*p != '\0') {
			const char *lf = strchr(p, '\n');

			ret = reply_feed(&r, p, (size_t)(lf - p) + 1, &err);
			p = lf + 1;
		}
		if (!is_int(ret, 1, "ehlo %s: reply parsed", ehlo[i].name))
			diag("%s", err.msg);
		caps_parse(&c, &r);
		for (size_t k = 0; k < c.auth.n; k++) {
			if (k > 0)
				buf_addch(&mechs, ' ');
			buf_addstr(&mechs, c.auth.v[k]);
		}
		is_int(c.pipelining, ehlo[i].pipelining, "ehlo %s: pipelining",
		    ehlo[i].name);
		is_int(c.starttls, ehlo[i].starttls, "ehlo %s: starttls",
		    ehlo[i].name);
		is_int(c.eightbitmime, ehlo[i].eightbit, "ehlo %s: 8bitmime",
		    ehlo[i].name);
		is_int(c.smtputf8, ehlo[i].utf8, "ehlo %s: smtputf8",
		    ehlo[i].name);
		is_int(c.dsn, ehlo[i].dsn, "ehlo %s: dsn", ehlo[i].name);
		is_int(c.chunking, ehlo[i].chunking, "ehlo %s: chunking",
		    ehlo[i].name);
		is_int(c.enhancedstatuscodes, ehlo[i].enh,
		    "ehlo %s: enhancedstatuscodes", ehlo[i].name);
		is_int(c.size, ehlo[i].size, "ehlo %s: size", ehlo[i].name);
		is_int(c.size_max, ehlo[i].size_max, "ehlo %s: size_max",
		    ehlo[i].name);
		is_str(mechs.data ? mechs.data : "", ehlo[i].auth,
		    "ehlo %s: auth", ehlo[i].name);
		buf_free(&mechs);
		caps_free(&c);
		reply_free(&r);
	}
}

int
main(void)
{
	for (size_t i = 0; i < RQ_ARRAY_LEN(cases); i++)
		run_case(i);
	test_limits();
	test_reuse();
	test_oneline_bound();
	test_caps();
	return done_testing();
}
