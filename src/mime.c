/*
 * relayq -- MIME encoders: RFC 2047 encoded words, RFC 2045 quoted-printable.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * RFC 2045 section 6.7 (quoted-printable), RFC 2047 sections 2, 4 and 5
 * (encoded words in a phrase), RFC 4648 section 4 (base64), RFC 3629
 * (well-formed UTF-8).
 */
#include <string.h>

#include "mime.h"

/* RFC 2047 section 2: an encoded word is at most 75 octets. */
#define EW_MAX		75

/* RFC 2045: output lines at most 76 octets, soft break "=" included. */
#define QP_LINE_MAX	76

static const char hexdig[] = "0123456789ABCDEF";
static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
utf8_char_len(const void *s, size_t n)
{
	const unsigned char *p = s;
	size_t need, i;

	if (n == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] < 0xc2)		/* continuation, or overlong 2-octet */
		return 0;
	if (p[0] < 0xe0)
		need = 2;
	else if (p[0] < 0xf0)
		need = 3;
	else if (p[0] < 0xf5)
		need = 4;
	else
		return 0;
	if (n < need)
		return 0;
	for (i = 1; i < need; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	/* Overlong 3- and 4-octet forms, surrogates, beyond U+10FFFF. */
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
		return 0;
	return need;
}

/* ---- RFC 2047 phrases ---------------------------------------------------- */

int
rfc5322_is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* May c stand for itself in a "Q" encoded word in a phrase (5(3))? */
static int
q_literal(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!*+-/", c) != NULL;
}

static size_t
q_cost(unsigned char c)
{
	return c == ' ' || q_literal(c) ? 1 : 3;
}

/* Atoms separated by single spaces, none looking like an encoded word. */
static int
is_plain_phrase(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] == ' ' || s[len - 1] == ' ')
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == ' ') {
			if (s[i + 1] == ' ')
				return 0;
			continue;
		}
		if (!rfc5322_is_atext((unsigned char)s[i]))
			return 0;
		if (s[i] == '=' && s[i + 1] == '?')
			return 0;
	}
	return 1;
}

static void
add_q(struct buf *out, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == ' ')
			buf_addch(out, '_');
		else if (q_literal(p[i]))
			buf_addch(out, (char)p[i]);
		else {
			buf_addch(out, '=');
			buf_addch(out, hexdig[p[i] >> 4]);
			buf_addch(out, hexdig[p[i] & 15]);
		}
	}
}

void
mime_encode_words(const void *data, size_t len, const char *charset,
    int utf8, struct buf *out)
{
	const unsigned char *s = data;
	size_t qlen = 0, blen, i, start, cost, n;
	size_t over = strlen(charset) + 7;	/* "=?" cs "?Q?" "?=" */
	size_t room = EW_MAX > over + 4 ? EW_MAX - over : 4;
	int use_q;

	for (i = 0; i < len; i++)
		qlen += q_cost(s[i]);
	blen = (len + 2) / 3 * 4;
	/*
	 * "Q" keeps mostly Latin names readable in the raw header, at up to
	 * half again the size of "B"; beyond that (CJK, Cyrillic) "B".
	 */
	use_q = 2 * qlen <= 3 * blen;

	start = 0;
	while (start < len) {
		size_t end = start, used = 0;

		while (end < len) {
			/* Whole characters only: each word decodes alone. */
			n = utf8 ? utf8_char_len(s + end, len - end) : 1;
			if (n == 0)
				n = 1;
			if (use_q) {
				cost = 0;
				for (i = 0; i < n; i++)
					cost += q_cost(s[end + i]);
				if (used + cost > room && end > start)
					break;
				used += cost;
			} else {
				if ((end + n - start + 2) / 3 * 4 > room &&
				    end > start)
					break;
			}
			end += n;
		}
		if (start > 0)
			buf_addch(out, ' ');
		buf_addf(out, "=?%s?%s", charset, use_q ? "Q?" : "B?");
		if (use_q)
			add_q(out, s + start, end - start);
		else
			base64_encode(s + start, end - start, out);
		buf_addstr(out, "?=");
		start = end;
	}
}

/* Encoded words for s[0..len), valid UTF-8. */
static void
encode_words(const unsigned char *s, size_t len, struct buf *out)
{
	mime_encode_words(s, len, "UTF-8", 1, out);
}

void
mime_encode_phrase(const char *name, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)name;
	struct buf clean = { 0 };
	size_t i, len = strlen(name), n;
	int eight = 0;

	/* Controls become spaces, broken UTF-8 becomes U+FFFD. */
	for (i = 0; i < len; ) {
		if (rq_iscntrl(p[i])) {
			buf_addch(&clean, ' ');
			i++;
			continue;
		}
		n = utf8_char_len(p + i, len - i);
		if (n == 0) {
			buf_addstr(&clean, "\xef\xbf\xbd");
			eight = 1;
			i++;
			continue;
		}
		if (n > 1)
			eight = 1;
		buf_add(&clean, p + i, n);
		i += n;
	}
	if (clean.len == 0) {
		buf_free(&clean);
		return;
	}
	if (eight)
		encode_words((const unsigned char *)clean.data, clean.len,
		    out);
	else if (is_plain_phrase(clean.data, clean.len))
		buf_add(out, clean.data, clean.len);
	else {
		buf_addch(out, '"');
		for (i = 0; i < clean.len; i++) {
			if (clean.data[i] == '"' || clean.data[i] == '\\')
				buf_addch(out, '\\');
			buf_addch(out, clean.data[i]);
		}
		buf_addch(out, '"');
	}
	buf_free(&clean);
}

/* ---- quoted-printable ---------------------------------------------------- */

void
qp_init(struct qp_enc *q)
{
	q->col = 0;
	q->pending_cr = 0;
	q->pending_ws = 0;
}

/*
 * The encoder writes through a pointer into room made beforehand (one
 * buf_grow per slice of input, not one per octet): an input octet puts
 * out at most itself encoded and a held-back one, each after a soft
 * break, 12 octets.
 */
#define QP_SLICE	8192
#define QP_ROOM(n)	(12 * (n) + 16)

/*
 * Put one output unit on the current line, first breaking the line
 * softly if the unit and the '=' of a later soft break would not fit.
 * Lines thus never pass 75 octets plus the "=" of a soft break.
 */
static char *
qp_put(struct qp_enc *q, unsigned char c, int encode, char *w)
{
	size_t u = encode ? 3 : 1;

	if (q->col + u > QP_LINE_MAX - 1) {
		*w++ = '=';
		*w++ = '\r';
		*w++ = '\n';
		q->col = 0;
	}
	if (encode) {
		*w++ = '=';
		*w++ = hexdig[c >> 4];
		*w++ = hexdig[c & 15];
	} else
		*w++ = (char)c;
	q->col += u;
	return w;
}

/* One octet that is neither CR nor held-back white space. */
static char *
qp_octet(struct qp_enc *q, unsigned char c, char *w)
{
	int encode;

	encode = c == '=' || c >= 0x7f || (c < 0x20 && c != '\t');
	/*
	 * A line starting with "." could be taken for the end of data if
	 * someone forgets to dot-stuff, "From " gets mangled in mbox files,
	 * and a line starting "--" could be a multipart delimiter (a soft
	 * break can start a line anywhere); encoding every '.', 'F' and '-'
	 * at a line start is simpler than looking ahead across chunks and
	 * just as correct.
	 */
	if (q->col == 0 && (c == '.' || c == 'F' || c == '-'))
		encode = 1;
	/* Same test after the soft break qp_put may insert. */
	if (!encode && q->col + 1 > QP_LINE_MAX - 1 &&
	    (c == '.' || c == 'F' || c == '-'))
		encode = 1;
	return qp_put(q, c, encode, w);
}

/* Held-back white space: literal when more text follows on its line. */
static char *
qp_flush_ws(struct qp_enc *q, int at_eol, char *w)
{
	unsigned char ws = q->pending_ws;

	if (ws == 0)
		return w;
	q->pending_ws = 0;
	return qp_put(q, ws, at_eol, w);
}

static char *
qp_slice(struct qp_enc *q, const unsigned char *p, size_t len, char *w)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = p[i];

		/* Most octets: printable, nothing held, mid-line. */
		if (c > ' ' && c < 0x7f && c != '=' && q->pending_ws == 0 &&
		    !q->pending_cr && q->col > 0 && q->col + 1 <= QP_LINE_MAX - 1) {
			*w++ = (char)c;
			q->col++;
			continue;
		}
		if (q->pending_cr) {
			q->pending_cr = 0;
			if (c == '\n') {
				/* Hard break: trailing space is encoded. */
				w = qp_flush_ws(q, 1, w);
				*w++ = '\r';
				*w++ = '\n';
				q->col = 0;
				continue;
			}
			w = qp_flush_ws(q, 0, w);
			w = qp_put(q, '\r', 1, w);
		}
		if (c == '\r') {
			q->pending_cr = 1;
			continue;
		}
		if (c == ' ' || c == '\t') {
			w = qp_flush_ws(q, 0, w);
			q->pending_ws = c;
			continue;
		}
		w = qp_flush_ws(q, 0, w);
		w = qp_octet(q, c, w);
	}
	return w;
}

void
qp_feed(struct qp_enc *q, const void *data, size_t len, struct buf *out)
{
	const unsigned char *p = data;
	size_t k;
	char *w;

	while (len > 0) {
		k = len < QP_SLICE ? len : QP_SLICE;
		buf_grow(out, QP_ROOM(k));
		w = qp_slice(q, p, k, out->data + out->len);
		out->len = (size_t)(w - out->data);
		out->data[out->len] = '\0';
		p += k;
		len -= k;
	}
}

void
qp_finish(struct qp_enc *q, struct buf *out)
{
	char *w;

	buf_grow(out, QP_ROOM(1));
	w = out->data + out->len;
	/* The end of input ends the last line: its white space is trailing. */
	if (q->pending_cr) {
		q->pending_cr = 0;
		w = qp_flush_ws(q, 0, w);
		w = qp_put(q, '\r', 1, w);
	} else
		w = qp_flush_ws(q, 1, w);
	out->len = (size_t)(w - out->data);
	out->data[out->len] = '\0';
}

/* ---- base64 -------------------------------------------------------------- */

void
base64_encode(const void *data, size_t len, struct buf *out)
{
	const unsigned char *p = data;
	size_t i;
	char q[4];

	for (i = 0; i + 3 <= len; i += 3) {
		q[0] = b64[p[i] >> 2];
		q[1] = b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		q[2] = b64[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		q[3] = b64[p[i + 2] & 63];
		buf_add(out, q, 4);
	}
	if (len - i == 1) {
		q[0] = b64[p[i] >> 2];
		q[1] = b64[(p[i] & 3) << 4];
		q[2] = q[3] = '=';
		buf_add(out, q, 4);
	} else if (len - i == 2) {
		q[0] = b64[p[i] >> 2];
		q[1] = b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		q[2] = b64[(p[i + 1] & 15) << 2];
		q[3] = '=';
		buf_add(out, q, 4);
	}
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
base64_decode(const char *in, size_t len, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i, j, start = out->len;
	unsigned char o[3];
	int v[4], pad;

	/* Canonical form only: padded to a multiple of four, no spaces. */
	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		pad = 0;
		for (j = 0; j < 4; j++) {
			if (p[i + j] == '=' && i + 4 == len && j >= 2) {
				pad++;
				v[j] = 0;
				continue;
			}
			if (pad > 0)
				goto bad;	/* data after '=' */
			v[j] = b64_value(p[i + j]);
			if (v[j] < 0)
				goto bad;
		}
		o[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		o[1] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		o[2] = (unsigned char)((v[2] & 3) << 6 | v[3]);
		buf_add(out, o, 3 - (size_t)pad);
	}
	return 0;
bad:
	/* Leave out as it was. */
	out->len = start;
	if (out->data != NULL)
		out->data[start] = '\0';
	return -1;
}
