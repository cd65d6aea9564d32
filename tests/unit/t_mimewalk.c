/*
 * relayq -- unit tests for mimewalk.c: the events for real message shapes,
 * and the two properties every consumer relies on: the events hand on
 * every octet once, in order, and they do not depend on how the input is
 * cut into pieces.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mimewalk.h"
#include "tap.h"
#include "util.h"

/* The events as a compact trace, and every octet they carried. */
struct rec {
	struct buf	 trace;
	struct buf	 bytes;
	char		 lastkey[32];	/* tag of the last content run */
};

static void
esc(struct buf *t, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r')
			buf_addstr(t, "\\r");
		else if (p[i] == '\n')
			buf_addstr(t, "\\n");
		else if ((unsigned char)p[i] < 32 || (unsigned char)p[i] > 126)
			buf_addf(t, "\\x%02x", (unsigned char)p[i]);
		else
			buf_addch(t, p[i]);
	}
}

static int
r_field(void *arg, const struct mw_part *p, const char *f, size_t n,
    int flags, struct rq_err *err)
{
	struct rec *r = arg;

	(void)err;
	r->lastkey[0] = '\0';
	if (r->trace.len > 0 && r->trace.data[r->trace.len - 1] == '"')
		buf_addch(&r->trace, ' ');
	buf_addf(&r->trace, "F%u%s%s ", p->index,
	    flags & MW_FIELD_FIRST ? "" : "+", flags & MW_FIELD_LAST ? "" : "~");
	buf_add(&r->bytes, f, n);
	return 0;
}

static int
r_hend(void *arg, const struct mw_part *p, struct rq_err *err)
{
	struct rec *r = arg;
	static const char *kinds[] = { "leaf", "multi", "msg" };

	(void)err;
	r->lastkey[0] = '\0';
	if (r->trace.len > 0 && r->trace.data[r->trace.len - 1] == '"')
		buf_addch(&r->trace, ' ');
	buf_addf(&r->trace, "H%u:%s:%s%s%s%s ", p->index, p->type,
	    kinds[p->kind], p->cte[0] ? ":" : "", p->cte,
	    p->too_deep ? ":deep" : p->no_boundary ? ":nob" : "");
	return 0;
}

/* Consecutive content events of one kind and part are one run. */
static void
run(struct rec *r, const char *tag, unsigned idx, const char *b, size_t n)
{
	char key[32];

	(void)snprintf(key, sizeof(key), "%s%u", tag, idx);
	if (strcmp(key, r->lastkey) == 0)
		r->trace.len--;		/* reopen the quote */
	else {
		if (r->trace.len > 0 && r->trace.data[r->trace.len - 1] == '"')
			buf_addch(&r->trace, ' ');
		buf_addf(&r->trace, "%s\"", key);
	}
	esc(&r->trace, b, n);
	buf_addch(&r->trace, '"');
	rq_strlcpy(r->lastkey, key, sizeof(r->lastkey));
	buf_add(&r->bytes, b, n);
}

static int
r_body(void *arg, const struct mw_part *p, const char *b, size_t n,
    struct rq_err *err)
{
	(void)err;
	run(arg, "B", p->index, b, n);
	return 0;
}

static int
r_raw(void *arg, const struct mw_part *p, enum mw_raw what, const char *b,
    size_t n, struct rq_err *err)
{
	static const char *tag[] = { "S", "P", "D", "E" };
	struct rec *r = arg;

	(void)err;
	/* Delimiters and separators are one event each. */
	if (what == MW_SEP || what == MW_DELIM)
		r->lastkey[0] = '\0';
	run(r, tag[what], p->index, b, n);
	if (what == MW_SEP || what == MW_DELIM)
		r->lastkey[0] = '\0';
	return 0;
}

static int
r_end(void *arg, const struct mw_part *p, struct rq_err *err)
{
	struct rec *r = arg;

	(void)err;
	if (r->trace.len > 0 && r->trace.data[r->trace.len - 1] == '"')
		buf_addch(&r->trace, ' ');
	r->lastkey[0] = '\0';
	buf_addf(&r->trace, "X%u%s ", p->index,
	    p->kind == MW_MULTIPART && !p->closed ? "!" : "");
	return 0;
}

static const struct mw_ops rec_ops = {
	r_field, r_hend, r_body, r_raw, r_end,
};

/*
 * Walk in (n octets) cut into pieces of `step` octets (0: whole) into r.
 * Returns the walker's status.
 */
static int
walk(const char *in, size_t n, size_t step, struct rec *r, struct rq_err *err)
{
	struct mimewalk *w;
	size_t off, k;
	int rc = 0;

	buf_init(&r->trace);
	buf_init(&r->bytes);
	buf_add(&r->trace, "", 0);
	buf_add(&r->bytes, "", 0);
	r->lastkey[0] = '\0';
	w = mw_new(&rec_ops, r);
	for (off = 0; off < n && rc == 0; off += k) {
		k = step == 0 ? n : step + off % 3;
		if (k > n - off)
			k = n - off;
		rc = mw_feed(w, in + off, k, err);
	}
	if (rc == 0)
		rc = mw_end(w, err);
	mw_free(w);
	/* The trace ends in one space; drop it for the tables. */
	while (r->trace.len > 0 && r->trace.data[r->trace.len - 1] == ' ')
		r->trace.data[--r->trace.len] = '\0';
	return rc;
}

static void
rec_free(struct rec *r)
{
	buf_free(&r->trace);
	buf_free(&r->bytes);
}

static const struct {
	const char *name;
	const char *in;
	const char *trace;
} cases[] = {
	{ "single part",
	  "Subject: a\r\n\r\nhello\r\nworld\r\n",
	  "F0 H0:text/plain:leaf S0\"\\r\\n\" B0\"hello\\r\\nworld\\r\\n\" X0" },
	{ "no body, no empty line",
	  "Subject: a\r\nX: b\r\n c\r\n",
	  "F0 F0 H0:text/plain:leaf X0" },
	{ "LF line ends, a header without a blank line before the body",
	  "Subject: a\nbody line\n",
	  "F0 H0:text/plain:leaf B0\"body line\\n\" X0" },
	{ "multipart/mixed: preamble, two parts, epilogue",
	  "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
	  "pre\r\n--b1\r\nContent-Type: text/plain\r\n\r\none\r\n"
	  "--b1\r\n\r\ntwo\r\n\r\n--b1--\r\nepi\r\n",
	  "F0 H0:multipart/mixed:multi S0\"\\r\\n\" P0\"pre\" "
	  "D0\"\\r\\n--b1\\r\\n\" F1 H1:text/plain:leaf S1\"\\r\\n\" B1\"one\" "
	  "X1 D0\"\\r\\n--b1\\r\\n\" H2:text/plain:leaf S2\"\\r\\n\" "
	  "B2\"two\\r\\n\" X2 D0\"\\r\\n--b1--\\r\\n\" E0\"epi\\r\\n\" X0" },
	{ "nested alternative inside mixed, digest default",
	  "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n"
	  "Content-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n"
	  "\r\nplain\r\n--i\r\nContent-Type: text/html\r\n\r\n<p>\r\n--i--\r\n"
	  "--o\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n"
	  "\r\nSubject: inner\r\n\r\ntext\r\n--d--\r\n--o--\r\n",
	  "F0 H0:multipart/mixed:multi S0\"\\r\\n\" D0\"--o\\r\\n\" "
	  "F1 H1:multipart/alternative:multi S1\"\\r\\n\" D1\"--i\\r\\n\" "
	  "H2:text/plain:leaf S2\"\\r\\n\" B2\"plain\" X2 D1\"\\r\\n--i\\r\\n\" "
	  "F3 H3:text/html:leaf S3\"\\r\\n\" B3\"<p>\" X3 "
	  "D1\"\\r\\n--i--\\r\\n\" X1 D0\"--o\\r\\n\" "
	  "F4 H4:multipart/digest:multi S4\"\\r\\n\" D4\"--d\\r\\n\" "
	  "H5:message/rfc822:msg S5\"\\r\\n\" F6 H6:text/plain:leaf "
	  "S6\"\\r\\n\" B6\"text\" X6 X5 D4\"\\r\\n--d--\\r\\n\" X4 "
	  "D0\"--o--\\r\\n\" X0" },
	{ "message/rfc822 attachment with a multipart inside",
	  "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n"
	  "Content-Type: message/rfc822\r\n\r\n"
	  "Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\nin\r\n"
	  "--z--\r\n--a--\r\n",
	  "F0 H0:multipart/mixed:multi S0\"\\r\\n\" D0\"--a\\r\\n\" "
	  "F1 H1:message/rfc822:msg S1\"\\r\\n\" F2 H2:multipart/mixed:multi "
	  "S2\"\\r\\n\" D2\"--z\\r\\n\" H3:text/plain:leaf S3\"\\r\\n\" B3\"in\" "
	  "X3 D2\"\\r\\n--z--\\r\\n\" X2 X1 D0\"--a--\\r\\n\" X0" },
	{ "boundary-like lines in a body: only the real one counts",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n"
	  "--bx\r\n-- b\r\n---b\r\n--b \t\r\n\r\n--b--",
	  "F0 H0:multipart/mixed:multi S0\"\\r\\n\" D0\"--b\\r\\n\" "
	  "H1:text/plain:leaf S1\"\\r\\n\" B1\"--bx\\r\\n-- b\\r\\n---b\" X1 "
	  "D0\"\\r\\n--b \\x09\\r\\n\" H2:text/plain:leaf S2\"\\r\\n\" X2 "
	  "D0\"--b--\" X0" },
	{ "a multipart that never closes; an outer delimiter ends the inner",
	  "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n"
	  "Content-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n\r\nx\r\n"
	  "--o\r\n\r\ny\r\n",
	  "F0 H0:multipart/mixed:multi S0\"\\r\\n\" D0\"--o\\r\\n\" "
	  "F1 H1:multipart/mixed:multi S1\"\\r\\n\" D1\"--i\\r\\n\" "
	  "H2:text/plain:leaf S2\"\\r\\n\" B2\"x\" X2 X1! D0\"\\r\\n--o\\r\\n\" "
	  "H3:text/plain:leaf S3\"\\r\\n\" B3\"y\\r\\n\" X3 X0!" },
	{ "a part whose headers end at a delimiter; no boundary parameter",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	  "Content-Type: multipart/related\r\n--b\r\nX: 1\r\n\r\n--b--\r\n",
	  "F0 H0:multipart/mixed:multi S0\"\\r\\n\" D0\"--b\\r\\n\" "
	  "F1 H1:multipart/related:leaf:nob X1 D0\"--b\\r\\n\" F2 "
	  "H2:text/plain:leaf S2\"\\r\\n\" X2 D0\"--b--\\r\\n\" X0" },
	{ "types: comments, case, a type without a slash, CTE",
	  "Content-Type: (c) Text/HTML ; charset=x\r\n"
	  "Content-Transfer-Encoding: (x) Quoted-Printable\r\n\r\nb",
	  "F0 F0 H0:text/html:leaf:quoted-printable S0\"\\r\\n\" B0\"b\" X0" },
	{ "a bad type is text/plain; message/rfc822 encoded is a leaf",
	  "Content-Type: garbage\r\n\r\n--x\r\n",
	  "F0 H0:text/plain:leaf S0\"\\r\\n\" B0\"--x\\r\\n\" X0" },
	{ "message/rfc822 with base64 is a leaf",
	  "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64"
	  "\r\n\r\nQQ==\r\n",
	  "F0 F0 H0:message/rfc822:leaf:base64 S0\"\\r\\n\" B0\"QQ==\\r\\n\" X0" },
	{ "bare LF delimiters and a bare CR in content",
	  "Content-Type: multipart/mixed; boundary=b\n\n--b\n\na\rb\n--b--\n",
	  "F0 H0:multipart/mixed:multi S0\"\\n\" D0\"--b\\n\" "
	  "H1:text/plain:leaf S1\"\\n\" B1\"a\\rb\" X1 D0\"\\n--b--\\n\" X0" },
};

static void
test_cases(void)
{
	static const size_t steps[] = { 0, 1, 2, 5, 13 };
	struct rec r, r2;
	struct rq_err err;
	size_t i, j, n;
	int rc;

	for (i = 0; i < RQ_ARRAY_LEN(cases); i++) {
		n = strlen(cases[i].in);
		rc = walk(cases[i].in, n, 0, &r, &err);
		is_int(rc, 0, "%s: walked", cases[i].name);
		is_str(r.trace.data, cases[i].trace, "%s: events",
		    cases[i].name);
		is_mem(r.bytes.data, r.bytes.len, cases[i].in, n,
		    "%s: every octet once, in order", cases[i].name);
		for (j = 1; j < RQ_ARRAY_LEN(steps); j++) {
			walk(cases[i].in, n, steps[j], &r2, &err);
			is_str(r2.trace.data, r.trace.data,
			    "%s: the same events in pieces of %zu",
			    cases[i].name, steps[j]);
			rec_free(&r2);
		}
		rec_free(&r);
	}
}

/* Long lines: a delimiter-like prefix beyond MW_PEEK, and long headers. */
static void
test_long(void)
{
	struct buf in;
	struct rec r, r2;
	struct rq_err err;
	int i, rc;

	buf_init(&in);
	buf_addstr(&in, "Content-Type: multipart/mixed; boundary=b\r\nX-Long: ");
	for (i = 0; i < 3 * MW_FIELD_MAX; i++)
		buf_addch(&in, (char)('a' + i % 26));
	buf_addstr(&in, "\r\n\r\n--b\r\n\r\n--");
	for (i = 0; i < 5000; i++)
		buf_addch(&in, 'b');
	buf_addstr(&in, "\r\n--b--\r\n");
	rc = walk(in.data, in.len, 0, &r, &err);
	is_int(rc, 0, "long lines: walked");
	ok(strstr(r.trace.data, "F0 F0~ F0+~ F0+~ F0+ H0:multipart/mixed") != NULL,
	    "long lines: a field over MW_FIELD_MAX comes in pieces: %.60s",
	    r.trace.data);
	is_int((long long)(strstr(r.trace.data, "X1 D0") != NULL), 1,
	    "long lines: a 5000-octet '--bbb...' line is content");
	is_mem(r.bytes.data, r.bytes.len, in.data, in.len,
	    "long lines: every octet once");
	walk(in.data, in.len, 7, &r2, &err);
	is_str(r2.trace.data, r.trace.data, "long lines: the same in pieces");
	rec_free(&r);
	rec_free(&r2);
	buf_free(&in);
}

/* Limits: nesting beyond MW_DEPTH_MAX, and the part count. */
static void
test_limits(void)
{
	struct buf in;
	struct rec r;
	struct rq_err err;
	int i, rc;

	buf_init(&in);
	for (i = 0; i < MW_DEPTH_MAX + 5; i++)
		buf_addf(&in, "Content-Type: multipart/mixed; boundary=b%d\r\n"
		    "\r\n--b%d\r\n", i, i);
	buf_addstr(&in, "\r\ndeep\r\n");
	rc = walk(in.data, in.len, 0, &r, &err);
	is_int(rc, 0, "deep nesting: walked");
	ok(strstr(r.trace.data, ":deep") != NULL,
	    "deep nesting: past %d levels a composite is a leaf",
	    MW_DEPTH_MAX);
	is_mem(r.bytes.data, r.bytes.len, in.data, in.len,
	    "deep nesting: every octet once");
	rec_free(&r);

	buf_reset(&in);
	buf_addstr(&in, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (i = 0; i < MW_PARTS_MAX + 1; i++)
		buf_addstr(&in, "--b\r\n\r\nx\r\n");
	rc = walk(in.data, in.len, 0, &r, &err);
	is_int(rc, EX_DATAERR, "too many parts: EX_DATAERR");
	ok(strstr(err.msg, "more than 10000 MIME parts") != NULL,
	    "too many parts: %s", err.msg);
	rec_free(&r);
	buf_free(&in);
}

/* Parameters and tokens. */
static void
test_helpers(void)
{
	static const struct {
		const char *v, *name, *want;
	} pcases[] = {
		{ "multipart/mixed; boundary=abc", "boundary", "abc" },
		{ "multipart/mixed;boundary=\"a b\\\"c\"", "boundary", "a b\"c" },
		{ "x/y; a=\"1;2\"; Boundary = zz ", "boundary", "zz" },
		{ "x/y; name=\"q\"", "boundary", NULL },
		{ "x/y; boundary=\"trail  \"", "boundary", "trail" },
	};
	struct buf b;
	char tok[32];
	size_t i;
	int got;

	buf_init(&b);
	for (i = 0; i < RQ_ARRAY_LEN(pcases); i++) {
		got = mw_param(pcases[i].v, strlen(pcases[i].v),
		    pcases[i].name, &b);
		if (pcases[i].want == NULL)
			is_int(got, 0, "param %zu: absent", i);
		else
			is_str(got ? b.data : "(none)", pcases[i].want,
			    "param %zu", i);
	}
	mw_value_token(" (a (nested)) BASE64 (b)", 24, 0, tok, sizeof(tok));
	is_str(tok, "base64", "token: comments skipped, lower case");
	mw_field_value("Subject: a\r\n  b \r\n", 18, &b);
	is_str(b.data, "a  b", "field value: unfolded, trimmed");
	ok(mw_field_is("content-type : x", 16, "Content-Type"),
	    "field name: case and white space before the colon");
	ok(!mw_field_is("Content-Types: x", 16, "Content-Type"),
	    "field name: a longer name does not match");
	buf_free(&b);
}

int
main(void)
{
	test_cases();
	test_long();
	test_limits();
	test_helpers();
	return done_testing();
}
