/*
 * relayq -- unit tests for downgrade.c: exact output for the cases whose
 * octets matter (existing quoted-printable made valid, with its "=" that
 * are not escapes), independence of how the content is cut, and the
 * scan's size bound for the inputs that once broke it (found by
 * tests/fuzz/fuzz_downgrade.c).
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "downgrade.h"
#include "hdrenc.h"
#include "mimewalk.h"
#include "tap.h"
#include "util.h"

/* Scan then transform s for flags, each in pieces of step octets. */
static int
convert(const char *s, size_t n, unsigned flags, size_t step,
    struct buf *out, long long *bound)
{
	struct dg_scan *sc = dg_scan_new(flags);
	struct dg_plan *plan;
	struct content_transform tr;
	struct rq_err err;
	size_t off, k;
	int rc = 0;

	for (off = 0; off < n && rc == 0; off += k) {
		k = n - off < step ? n - off : step;
		rc = dg_scan_feed(sc, s + off, k, &err);
	}
	if (rc != 0) {
		dg_scan_free(sc);
		diag("scan: %s", err.msg);
		return rc;
	}
	if ((rc = dg_scan_end(sc, &plan, &err)) != 0) {
		diag("scan: %s", err.msg);
		return rc;
	}
	*bound = dg_plan_size(plan);
	dg_transform(plan, &tr);
	dg_plan_free(plan);
	buf_reset(out);
	buf_add(out, "", 0);
	for (off = 0; off < n && rc == 0; off += k) {
		k = n - off < step ? n - off : step;
		rc = tr.feed(tr.arg, s + off, k, out, &err);
	}
	if (rc == 0)
		rc = tr.end(tr.arg, out, &err);
	tr.free(tr.arg);
	if (rc != 0)
		diag("transform: %s", err.msg);
	return rc;
}

#define HDR	"Subject: t\r\nMIME-Version: 1.0\r\n" \
		"Content-Type: text/plain; charset=iso-8859-1\r\n" \
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n"

static const struct {
	const char	*name;
	unsigned	 flags;
	const char	*body;		/* after HDR */
	const char	*want;		/* the body after the transform */
	size_t		 len;		/* of body, when not strlen's */
} qp_cases[] = {
	{ "valid escapes and a soft break stay", DG_7BIT,
	  "caf=E9 =\r\nx\xe9\r\n",
	  "caf=E9 =\r\nx=E9\r\n", 0 },
	{ "an = before a non-digit is content: =3D", DG_7BIT,
	  "a=ZZ b=\xe9\r\n",
	  "a=3DZZ b=3D=E9\r\n", 0 },
	{ "an = before one digit then a non-digit is content", DG_7BIT,
	  "==C3\xa9 x=4 y=4\r\n",
	  "=3D=C3=A9 x=3D4 y=3D4\r\n", 0 },
	{ "lower-case escapes are escapes and stay as they were", DG_7BIT,
	  "caf=e9\xe9\r\n",
	  "caf=e9=E9\r\n", 0 },
	{ "an = last in the part is a soft break and stays", DG_7BIT,
	  "end\xe9=",
	  "end=E9=", 0 },
	{ "=X last in the part is content", DG_7BIT,
	  "end\xe9=A",
	  "end=E9=3DA", 0 },
	{ "a NUL is escaped on the queue's path; 8-bit stays", 0,
	  "n\0ul \xe9\r\n",
	  "n=00ul \xe9\r\n", 8 },
	{ "a soft break never splits an escape, nor =3D",
	  DG_7BIT,
	  "\xe9xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxx=E9=Q\r\n",
	  "=E9xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxx=\r\n=E9=3DQ\r\n", 0 },
	{ "a line broken before '-' escapes it (no delimiter look-alike)",
	  DG_7BIT,
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxx--b\xe9\r\n",
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxx=\r\n=2D-b=E9\r\n", 0 },
};

static void
test_qpfix(void)
{
	struct buf in, out, one;
	long long bound;
	size_t i, hl = strlen(HDR), bl;

	buf_init(&in);
	buf_init(&out);
	buf_init(&one);
	for (i = 0; i < RQ_ARRAY_LEN(qp_cases); i++) {
		bl = qp_cases[i].len ? qp_cases[i].len :
		    strlen(qp_cases[i].body);
		buf_reset(&in);
		buf_add(&in, HDR, hl);
		buf_add(&in, qp_cases[i].body, bl);
		if (!ok(convert(in.data, in.len, qp_cases[i].flags, 4096, &out,
		    &bound) == 0, "%s: converts", qp_cases[i].name))
			continue;
		is_mem(out.len >= hl ? out.data + hl : "", out.len >= hl ?
		    out.len - hl : 0, qp_cases[i].want,
		    strlen(qp_cases[i].want), "%s", qp_cases[i].name);
		ok(memcmp(out.data, HDR, hl) == 0, "%s: header as it was",
		    qp_cases[i].name);
		ok((long long)out.len <= bound, "%s: within the bound "
		    "(%zu <= %lld)", qp_cases[i].name, out.len, bound);
		/* One octet at a time: the same octets. */
		if (convert(in.data, in.len, qp_cases[i].flags, 1, &one,
		    &bound) == 0)
			is_mem(one.data, one.len, out.data, out.len,
			    "%s: the same fed one octet at a time",
			    qp_cases[i].name);
		else
			ok(0, "%s: converts one octet at a time",
			    qp_cases[i].name);
	}
	buf_free(&in);
	buf_free(&out);
	buf_free(&one);
}

/*
 * The size bound with many escapes: NULs counted one by one (they were
 * counted once per piece), 8-bit octets that triple, and "=" that become
 * =3D, each making the soft breaks more frequent.
 */
static void
test_bound(void)
{
	static const char *const fill[] = { "\0", "\xe9", "=", "=\xe9" };
	static const char *const cte[] = { "quoted-printable", "8bit" };
	struct buf in, out;
	long long bound;
	size_t f, c, i, fl;

	buf_init(&in);
	buf_init(&out);
	for (c = 0; c < RQ_ARRAY_LEN(cte); c++)
		for (f = 0; f < RQ_ARRAY_LEN(fill); f++) {
			fl = f == 0 ? 1 : strlen(fill[f]);
			buf_reset(&in);
			buf_addf(&in, "Subject: b\r\nMIME-Version: 1.0\r\n"
			    "Content-Type: text/plain\r\n"
			    "Content-Transfer-Encoding: %s\r\n\r\n", cte[c]);
			for (i = 0; i < 3000; i++) {
				buf_add(&in, fill[f], fl);
				if (i % 1500 == 1499)
					buf_add(&in, "\r\n", 2);
			}
			if (!ok(convert(in.data, in.len, DG_7BIT, 7, &out,
			    &bound) == 0, "bound, %s of %s: converts", cte[c],
			    f == 0 ? "NUL" : fill[f]))
				continue;
			ok((long long)out.len <= bound, "bound, %s, fill %zu: "
			    "%zu octets within %lld", cte[c], f, out.len,
			    bound);
			ok(bound - (long long)out.len <= (long long)out.len / 2,
			    "bound, %s, fill %zu: not loose (%lld for %zu)",
			    cte[c], f, bound, out.len);
		}
	buf_free(&in);
	buf_free(&out);
}

/*
 * An 8-bit header field whose ASCII part, put as one piece by the
 * encoder (a quoted display name), is longer than a line may be: the
 * encoded field is folded too.
 */
static void
test_header_fold(void)
{
	struct buf in, out;
	long long bound;
	size_t i;

	buf_init(&in);
	buf_init(&out);
	buf_addstr(&in, "To: \"J\xc3\xb6rg\" <j@example.org>, \"");
	for (i = 0; i < 600; i++)
		buf_addstr(&in, "x ");
	buf_addstr(&in, "\" <k@example.org>\r\nSubject: s\r\n\r\nbody\r\n");
	if (ok(convert(in.data, in.len, DG_7BIT, 4096, &out, &bound) == 0,
	    "a long 8-bit address field converts")) {
		ok(longest_line(out.data, out.len) <= 998, "no line over 998 "
		    "octets (longest %zu)", longest_line(out.data, out.len));
		ok(!rq_has_8bit(out.data, out.len), "no 8-bit octet left");
		ok((long long)out.len <= bound, "within the bound");
		ok(strstr(out.data, "=?UTF-8?") != NULL, "the name is an "
		    "encoded word");
	}
	buf_free(&in);
	buf_free(&out);
}

/*
 * Past the walker's part limit: a reason with a status code for the
 * flush, and nothing to refuse at submit when nothing needs re-encoding.
 */
static void
test_part_limit(void)
{
	struct dg_scan *sc;
	struct dg_plan *plan;
	struct rq_err err;
	struct buf in;
	int i, rc;

	buf_init(&in);
	buf_addstr(&in, "Subject: many\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (i = 0; i <= MW_PARTS_MAX; i++)
		buf_addstr(&in, "--b\r\n\r\ncaf\xc3\xa9\r\n");
	buf_addstr(&in, "--b--\r\n");

	sc = dg_scan_new(DG_7BIT);
	rc = dg_scan_feed(sc, in.data, in.len, &err);
	if (rc == 0)
		rc = dg_scan_end(sc, &plan, &err);
	else
		dg_scan_free(sc);
	is_int(rc, EX_DATAERR, "more than %d parts: refused for a 7-bit path",
	    MW_PARTS_MAX);
	ok(rc != 0 && strncmp(err.msg, "5.6.3 the message has more than",
	    31) == 0, "with 5.6.3 and the reason (%s)", rc ? err.msg : "");
	if (rc == 0)
		dg_plan_free(plan);
	buf_free(&in);
}

/* hdrenc_field: the encoded field, or the start of the reason. */
static const struct {
	const char	*in;
	const char	*want;		/* NULL: refused */
	const char	*why;		/* the reason starts so */
} hdr_cases[] = {
	{ "Subject: caf\xc3\xa9\r\n", "Subject: =?UTF-8?Q?caf=C3=A9?=\r\n",
	  NULL },
	{ "Subject: caf\xe9\r\n", "Subject: =?unknown-8bit?Q?caf=E9?=\r\n",
	  NULL },
	{ "Content-Type: text/plain; name=\"r\xc3\xa9sum\xc3\xa9.txt\"\r\n",
	  "Content-Type: text/plain; name*=utf-8''r%C3%A9sum%C3%A9.txt\r\n",
	  NULL },
	{ "Content-Type: multipart/mixed; boundary=\"b\xe9\"\r\n", NULL,
	  "5.6.9 an 8-bit multipart boundary" },
	/* Not a parameter name: a comment that never closes swallows ';'. */
	{ "Content-Type: multipart/mixed; a/b (c: d; boundary=\"x\xc0y\"\r\n",
	  NULL, "5.6.9 an 8-bit MIME parameter that is not name=value" },
	{ "Content-Type: text/plain; x y=\"\xe9\"\r\n", NULL,
	  "5.6.9 an 8-bit MIME parameter that is not name=value" },
	{ "Date: Thu, 3 Dec 2026 \xe9\r\n", NULL, "5.6.9 the Date header" },
};

static void
test_hdrenc(void)
{
	struct buf out;
	struct rq_err err;
	size_t i;
	int rc;

	buf_init(&out);
	for (i = 0; i < RQ_ARRAY_LEN(hdr_cases); i++) {
		buf_reset(&out);
		buf_add(&out, "", 0);
		rc = hdrenc_field(hdr_cases[i].in, strlen(hdr_cases[i].in),
		    &out, &err);
		if (hdr_cases[i].want != NULL) {
			is_int(rc, 0, "hdrenc %zu: encodes", i);
			if (rc == 0)
				is_str(out.data, hdr_cases[i].want,
				    "hdrenc %zu: the field", i);
		} else {
			is_int(rc, EX_DATAERR, "hdrenc %zu: refused", i);
			ok(rc != 0 && strncmp(err.msg, hdr_cases[i].why,
			    strlen(hdr_cases[i].why)) == 0, "hdrenc %zu: %s",
			    i, rc ? err.msg : "(no reason)");
		}
	}
	buf_free(&out);
}

int
main(void)
{
	test_hdrenc();
	test_part_limit();
	test_qpfix();
	test_bound();
	test_header_fold();
	return done_testing();
}
