/*
 * relayq -- libFuzzer harness for the MIME walker and the downgrade
 * (mimewalk.c, downgrade.c, hdrenc.c).
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The first octet picks the path (the queue, no 8BITMIME, no SMTPUTF8)
 * and the piece sizes; the rest, with CRLF line ends as the queue holds
 * them, is the content.  The oracle is the round trip of issue 8: when
 * the scan accepts, the transform's output, walked and decoded (quoted-
 * printable and base64 undone), has the same parts with the same types
 * and the same decoded content as the input; it keeps the wire rules
 * (no bare CR or LF; no line over 998 octets and no NUL unless only the
 * header section was to change; on a 7-bit path no octet >= 0x80); it does not depend on how either pass is cut into
 * pieces; and the scan's size bound holds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "downgrade.h"
#include "mimewalk.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define LEAVES_MAX	64

/* The leaves of a message, decoded. */
struct dec {
	size_t		 n;
	char		 type[LEAVES_MAX][MW_TYPE_MAX];
	struct buf	 body[LEAVES_MAX];
	char		 cte[MW_CTE_MAX];
	struct buf	 cur;
	int		 overflow;
};

static int
hexv(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
b64v(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* A lenient decoder, as mail readers are (RFC 2045 6.7 and 6.8). */
static void
decode(const char *cte, const struct buf *in, struct buf *out)
{
	size_t i;
	unsigned acc = 0;
	int bits = 0, v;

	if (strcmp(cte, "quoted-printable") == 0) {
		for (i = 0; i < in->len; i++) {
			char c = in->data[i];

			if (c == '=' && i + 2 < in->len && in->data[i + 1] == '\r' &&
			    in->data[i + 2] == '\n') {
				i += 2;
				continue;
			}
			if (c == '=' && i + 1 == in->len)
				continue;
			if (c == '=' && i + 2 < in->len + 0 &&
			    hexv(in->data[i + 1]) >= 0 && hexv(in->data[i + 2]) >= 0) {
				buf_addch(out, (char)(hexv(in->data[i + 1]) * 16 +
				    hexv(in->data[i + 2])));
				i += 2;
				continue;
			}
			buf_addch(out, c);
		}
		return;
	}
	if (strcmp(cte, "base64") == 0) {
		for (i = 0; i < in->len; i++) {
			if (in->data[i] == '=')
				break;
			v = b64v((unsigned char)in->data[i]);
			if (v < 0)
				continue;
			acc = (acc << 6) | (unsigned)v;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				buf_addch(out, (char)((acc >> bits) & 0xff));
			}
		}
		return;
	}
	buf_add(out, in->data, in->len);
}

static int
d_hend(void *arg, const struct mw_part *p, struct rq_err *err)
{
	struct dec *d = arg;

	(void)err;
	if (p->kind != MW_LEAF)
		return 0;
	rq_strlcpy(d->cte, p->cte, sizeof(d->cte));
	buf_reset(&d->cur);
	return 0;
}

static int
d_body(void *arg, const struct mw_part *p, const char *b, size_t n,
    struct rq_err *err)
{
	struct dec *d = arg;

	(void)p;
	(void)err;
	buf_add(&d->cur, b, n);
	return 0;
}

static int
d_end(void *arg, const struct mw_part *p, struct rq_err *err)
{
	struct dec *d = arg;

	(void)err;
	if (p->kind != MW_LEAF)
		return 0;
	if (d->n == LEAVES_MAX) {
		d->overflow = 1;
		return 0;
	}
	rq_strlcpy(d->type[d->n], p->type, sizeof(d->type[d->n]));
	buf_init(&d->body[d->n]);
	buf_add(&d->body[d->n], "", 0);
	decode(d->cte, &d->cur, &d->body[d->n]);
	d->n++;
	return 0;
}

static const struct mw_ops dec_ops = { NULL, d_hend, d_body, NULL, d_end };

static void
walk_decode(const char *p, size_t n, struct dec *d)
{
	struct mimewalk *w = mw_new(&dec_ops, d);
	struct rq_err err;

	memset(d, 0, sizeof(*d));
	buf_init(&d->cur);
	if (mw_feed(w, p, n, &err) != 0 || mw_end(w, &err) != 0)
		d->overflow = 1;
	mw_free(w);
}

static void
dec_free(struct dec *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		buf_free(&d->body[i]);
	buf_free(&d->cur);
}

/* The transform over p in pieces of step octets. */
static int
run(const struct dg_plan *plan, const char *p, size_t n, size_t step,
    struct buf *out)
{
	struct content_transform tr;
	struct rq_err err;
	size_t off, k;
	int rc = 0;

	dg_transform(plan, &tr);
	for (off = 0; off < n && rc == 0; off += k) {
		k = step + off % 5;
		if (k > n - off)
			k = n - off;
		rc = tr.feed(tr.arg, p + off, k, out, &err);
	}
	if (rc == 0)
		rc = tr.end(tr.arg, out, &err);
	tr.free(tr.arg);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned paths[] = { 0, DG_7BIT, DG_HDR_ASCII, 0 };
	struct buf in, a, b;
	struct dg_scan *s;
	struct dg_plan *plan = NULL;
	struct rq_err err;
	struct dec di, dout;
	unsigned flags;
	size_t i, step, len, maxline;
	int rc;

	if (size < 1)
		return 0;
	flags = paths[data[0] & 3];
	step = 1 + (data[0] >> 2);
	/* Canonical content: every line end CRLF, the last line ended. */
	buf_init(&in);
	buf_add(&in, "", 0);
	for (i = 1; i < size; i++) {
		if (data[i] == '\r' || data[i] == '\n') {
			if (data[i] == '\r' && i + 1 < size && data[i + 1] == '\n')
				i++;
			buf_add(&in, "\r\n", 2);
		} else
			buf_addch(&in, (char)data[i]);
	}
	if (in.len > 0 && in.data[in.len - 1] != '\n')
		buf_add(&in, "\r\n", 2);

	s = dg_scan_new(flags);
	for (i = 0, rc = 0; i < in.len && rc == 0; i += step)
		rc = dg_scan_feed(s, in.data + i, in.len - i < step ? in.len - i :
		    step, &err);
	if (rc != 0) {
		dg_scan_free(s);
		buf_free(&in);
		return 0;
	}
	if (dg_scan_end(s, &plan, &err) != 0) {
		/* Refused: one line of reason, nothing more to check. */
		if (strchr(err.msg, '\n') != NULL || err.msg[0] == '\0')
			abort();
		buf_free(&in);
		return 0;
	}
	buf_init(&a);
	buf_init(&b);
	buf_add(&a, "", 0);
	buf_add(&b, "", 0);
	if (run(plan, in.data, in.len, 1 + step % 7, &a) != 0 ||
	    run(plan, in.data, in.len, 4096, &b) != 0)
		abort();
	/* Deterministic, however it is cut. */
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	if (!dg_plan_changes(plan) &&
	    (a.len != in.len || memcmp(a.data, in.data, in.len) != 0))
		abort();
	if (flags != 0 && (long long)a.len > dg_plan_size(plan))
		abort();
	/* The wire rules. */
	for (i = 0, len = 0, maxline = 0; i < a.len; i++) {
		unsigned char c = (unsigned char)a.data[i];

		if (c == '\r' && (i + 1 >= a.len || a.data[i + 1] != '\n'))
			abort();
		if (c == '\n' && (i == 0 || a.data[i - 1] != '\r'))
			abort();
		if ((flags & DG_7BIT) && c >= 0x80)
			abort();
		/* With DG_HDR_ASCII alone only the header section counts. */
		if (c == '\0' && dg_plan_changes(plan) && flags != DG_HDR_ASCII)
			abort();
		if (c == '\n') {
			len = 0;
			continue;
		}
		if (c != '\r' && ++len > maxline)
			maxline = len;
	}
	if (dg_plan_changes(plan) && maxline > 998 && flags != DG_HDR_ASCII)
		abort();
	/* The round trip: same leaves, same types, same decoded content. */
	walk_decode(in.data, in.len, &di);
	walk_decode(a.data, a.len, &dout);
	if (!di.overflow && !dout.overflow) {
		if (di.n != dout.n)
			abort();
		for (i = 0; i < di.n; i++) {
			if (strcmp(di.type[i], dout.type[i]) != 0)
				abort();
			if (di.body[i].len != dout.body[i].len ||
			    memcmp(di.body[i].data, dout.body[i].data,
			    di.body[i].len) != 0)
				abort();
		}
	}
	dec_free(&di);
	dec_free(&dout);
	dg_plan_free(plan);
	buf_free(&a);
	buf_free(&b);
	buf_free(&in);
	return 0;
}
