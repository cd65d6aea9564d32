/*
 * relayq -- header fields for a 7-bit path (hdrenc.h).
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A field is unfolded first (CRLFs dropped: RFC 5322 2.2.3 unfolding),
 * rewritten as a sequence of tokens each with the white space before it,
 * and folded again only at that white space, so unfolding the result
 * gives the rewritten text exactly.  Encoded words are never split and
 * never touch a quoted-string.
 */
#include <stdlib.h>
#include <string.h>

#include "hdrenc.h"
#include "idn.h"
#include "mime.h"

#define FOLD_AT		76	/* fold before a token that would pass this */
#define TOK_MAX		4096	/* tokens of one field */

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static int
is_utf8(const unsigned char *p, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i += k) {
		k = utf8_char_len(p + i, n - i);
		if (k == 0)
			return 0;
	}
	return 1;
}

/* ---- folding output ------------------------------------------------------ */

struct fout {
	struct buf	*out;
	size_t		 col;		/* octets on the current line */
};

/* Append ws then t; fold before ws when the line would grow too long. */
static void
put(struct fout *o, const char *ws, size_t wsn, const char *t, size_t tn)
{
	if (wsn > 0 && o->col > 0 && o->col + wsn + tn > FOLD_AT) {
		buf_add(o->out, "\r\n", 2);
		o->col = 0;
	}
	buf_add(o->out, ws, wsn);
	buf_add(o->out, t, tn);
	o->col += wsn + tn;
}

/* Encoded words for text, each put after ws (the first) or one space. */
static void
put_words(struct fout *o, const char *ws, size_t wsn, const char *t,
    size_t tn)
{
	struct buf w;
	size_t i, j;
	int utf8 = is_utf8((const unsigned char *)t, tn);

	buf_init(&w);
	mime_encode_words(t, tn, utf8 ? "UTF-8" : "unknown-8bit", utf8, &w);
	for (i = 0; i < w.len; i = j + 1) {
		for (j = i; j < w.len && w.data[j] != ' '; j++)
			continue;
		if (i == 0)
			put(o, ws, wsn, w.data, j);
		else
			put(o, " ", 1, w.data + i, j - i);
	}
	buf_free(&w);
}

/* ---- the field's parts ------------------------------------------------------ */

/* Name length; *v is where the value starts (after the colon). */
static size_t
field_name(const char *f, size_t n, size_t *v)
{
	size_t i;
	const char *c = memchr(f, ':', n);

	if (c == NULL)
		return 0;
	*v = (size_t)(c - f) + 1;
	for (i = (size_t)(c - f); i > 0 && is_wsp(f[i - 1]); i--)
		continue;
	return i;
}

/* The value unfolded, leading white space dropped, trailing kept. */
static void
unfold(const char *f, size_t n, size_t v, struct buf *out)
{
	size_t i;

	buf_reset(out);
	buf_add(out, "", 0);
	for (i = v; i < n && is_wsp(f[i]); i++)
		continue;
	for (; i < n; i++) {
		if (f[i] == '\r' || f[i] == '\n')
			continue;
		buf_addch(out, f[i]);
	}
}

static int
name_in(const char *f, size_t len, const char *const *names)
{
	for (; *names != NULL; names++)
		if (strlen(*names) == len && rq_strncasecmp(f, *names, len) == 0)
			return 1;
	return 0;
}

static const char *const addr_fields[] = {
	"From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Resent-From",
	"Resent-Sender", "Resent-Reply-To", "Resent-To", "Resent-Cc",
	"Resent-Bcc", "Mail-Followup-To", "Mail-Reply-To",
	"Disposition-Notification-To", "Return-Receipt-To", "Errors-To",
	NULL
};
static const char *const param_fields[] = {
	"Content-Type", "Content-Disposition", NULL
};
/* Structured fields with no place for an encoded word. */
static const char *const rigid_fields[] = {
	"Date", "Resent-Date", "Message-ID", "Resent-Message-ID",
	"In-Reply-To", "References", "Received", "Return-Path",
	"MIME-Version", "Content-Transfer-Encoding", "Content-ID",
	"Content-MD5", "Content-Language", "Content-Location",
	"DKIM-Signature", "ARC-Seal", "ARC-Message-Signature",
	"ARC-Authentication-Results", "Authentication-Results",
	"Received-SPF", "List-Id", "List-Unsubscribe", "List-Post",
	"List-Help", "List-Subscribe", "List-Archive", "List-Owner",
	"Original-Recipient", "Final-Recipient", "Autocrypt",
	"Auto-Submitted", NULL
};

/* ---- unstructured text --------------------------------------------------------- */

/*
 * An encoded word at p (Python's email and most readers take one
 * anywhere, not only between spaces): "=?" charset "?" Q|B "?" text "?=".
 * Returns its length or 0.
 */
static size_t
encoded_word(const char *p, size_t n)
{
	size_t i = 2;

	if (n < 8 || p[0] != '=' || p[1] != '?')
		return 0;
	while (i < n && p[i] != '?')
		i++;
	if (i == 2 || i + 3 >= n || p[i] != '?' ||
	    !strchr("QqBb", p[i + 1]) || p[i + 2] != '?')
		return 0;
	for (i += 3; i + 1 < n; i++)
		if (p[i] == '?' && p[i + 1] == '=')
			return i + 2;
	return 0;
}

static int
unstructured(struct fout *o, const char *v, size_t n, struct rq_err *err)
{
	size_t i = 0, t, k, j;
	int prev_ew = 0;

	while (i < n) {
		/* Text up to the next encoded word. */
		for (t = i; t < n && (k = encoded_word(v + t, n - t)) == 0; t++)
			continue;
		if (t > i) {
			for (j = i; j < t && is_wsp(v[j]); j++)
				continue;
			/* Space between two encoded words means nothing. */
			if (!(j == t && prev_ew && t < n))
				put_words(o, " ", 1, v + i, t - i);
		}
		if (t >= n)
			break;
		k = encoded_word(v + t, n - t);
		if (rq_has_8bit(v + t, k))
			return rq_errf(err, EX_DATAERR, "5.6.9 an encoded word "
			    "holds 8-bit octets");
		put(o, " ", 1, v + t, k);
		prev_ew = 1;
		i = t + k;
	}
	return 0;
}

/* ---- tokens of structured fields ------------------------------------------------- */

enum tk {
	TK_ATOM,		/* includes dots and 8-bit octets */
	TK_QUOTED,		/* "..." */
	TK_COMMENT,		/* (...) */
	TK_LITERAL,		/* [...] */
	TK_SPECIAL,		/* one of < > @ , ; : and the rest */
};

struct tok {
	enum tk		 kind;
	size_t		 ws, wsn;	/* white space before it */
	size_t		 off, len;	/* the token itself */
	int		 eight;
};

/* Split v into tokens.  Returns the count, or -1 when there are too many. */
static int
tokenize(const char *v, size_t n, struct tok *tk, size_t max)
{
	size_t i = 0, nt = 0, s, depth;

	while (i < n) {
		s = i;
		while (i < n && is_wsp(v[i]))
			i++;
		if (i >= n) {
			/* Trailing white space: an empty atom keeps it. */
			if (nt == max)
				return -1;
			tk[nt++] = (struct tok){ TK_ATOM, s, i - s, i, 0, 0 };
			break;
		}
		if (nt == max)
			return -1;
		tk[nt].ws = s;
		tk[nt].wsn = i - s;
		tk[nt].off = i;
		if (v[i] == '"' || v[i] == '[') {
			char close = v[i] == '"' ? '"' : ']';

			tk[nt].kind = v[i] == '"' ? TK_QUOTED : TK_LITERAL;
			for (i++; i < n && v[i] != close; i++)
				if (v[i] == '\\' && i + 1 < n)
					i++;
			if (i < n)
				i++;
		} else if (v[i] == '(') {
			tk[nt].kind = TK_COMMENT;
			for (depth = 0; i < n; i++) {
				if (v[i] == '\\' && i + 1 < n)
					i++;
				else if (v[i] == '(')
					depth++;
				else if (v[i] == ')' && --depth == 0) {
					i++;
					break;
				}
			}
		} else if (strchr("<>@,;:\\)]", v[i]) != NULL) {
			tk[nt].kind = TK_SPECIAL;
			i++;
		} else {
			tk[nt].kind = TK_ATOM;
			while (i < n && !is_wsp(v[i]) &&
			    strchr("\"[(<>@,;:\\)]", v[i]) == NULL)
				i++;
		}
		tk[nt].len = i - tk[nt].off;
		tk[nt].eight = rq_has_8bit(v + tk[nt].off, tk[nt].len);
		nt++;
	}
	return (int)nt;
}

static void
put_tok(struct fout *o, const char *v, const struct tok *t)
{
	put(o, v + t->ws, t->wsn, v + t->off, t->len);
}

/* A comment: as it is, or with its 8-bit text as encoded words. */
static int
put_comment(struct fout *o, const char *v, const struct tok *t,
    struct rq_err *err)
{
	const char *c = v + t->off + 1;
	size_t n = t->len >= 2 ? t->len - 2 : 0;

	if (!t->eight) {
		put_tok(o, v, t);
		return 0;
	}
	if (memchr(c, '(', n) != NULL || memchr(c, '\\', n) != NULL ||
	    t->len < 2 || v[t->off + t->len - 1] != ')')
		return rq_errf(err, EX_DATAERR, "5.6.9 an 8-bit comment with "
		    "nested parentheses or quoted characters cannot be "
		    "encoded");
	put(o, v + t->ws, t->wsn, "(", 1);
	put_words(o, "", 0, c, n);
	put(o, "", 0, ")", 1);
	return 0;
}

/* ---- address lists ----------------------------------------------------------------- */

/*
 * A phrase (display name) of tokens a..b: 8-bit runs of words become
 * encoded words of the words' text (quoted-strings unquoted, joined by
 * single spaces, as readers take a display name).
 */
static int
put_phrase(struct fout *o, const char *v, const struct tok *tk, size_t a,
    size_t b, struct rq_err *err)
{
	struct buf text;
	size_t i, j, k;
	int eight, rc = 0;

	buf_init(&text);
	for (i = a; i < b && rc == 0; i = j) {
		if (tk[i].kind == TK_COMMENT) {
			rc = put_comment(o, v, &tk[i], err);
			j = i + 1;
			continue;
		}
		if (tk[i].kind != TK_ATOM && tk[i].kind != TK_QUOTED) {
			put_tok(o, v, &tk[i]);
			j = i + 1;
			continue;
		}
		eight = 0;
		for (j = i; j < b && (tk[j].kind == TK_ATOM ||
		    tk[j].kind == TK_QUOTED); j++)
			eight |= tk[j].eight;
		if (!eight) {
			for (k = i; k < j; k++)
				put_tok(o, v, &tk[k]);
			continue;
		}
		buf_reset(&text);
		for (k = i; k < j; k++) {
			const char *s = v + tk[k].off;
			size_t n = tk[k].len;

			if (n == 0)
				continue;
			if (text.len > 0)
				buf_addch(&text, ' ');
			if (tk[k].kind == TK_QUOTED) {
				size_t e = n >= 2 && s[n - 1] == '"' ? n - 1 : n;
				size_t q;

				for (q = 1; q < e; q++) {
					if (s[q] == '\\' && q + 1 < e)
						q++;
					buf_addch(&text, s[q]);
				}
			} else
				buf_add(&text, s, n);
		}
		put_words(o, v + tk[i].ws, tk[i].wsn, text.data, text.len);
		/* White space after the run (before '<') stays. */
		if (tk[j - 1].len == 0)
			put(o, v + tk[j - 1].ws, tk[j - 1].wsn, "", 0);
	}
	buf_free(&text);
	return rc;
}

/* An addr-spec of tokens a..b: the domain as A-labels. */
static int
put_addrspec(struct fout *o, const char *v, const struct tok *tk, size_t a,
    size_t b, struct rq_err *err)
{
	struct buf dom;
	char *ascii = NULL;
	size_t i, at = b, e;
	int rc = 0;

	for (i = a; i < b; i++)
		if (tk[i].kind == TK_SPECIAL && v[tk[i].off] == '@')
			at = i;
	for (i = a; i < at; i++)
		if (tk[i].eight && tk[i].kind != TK_COMMENT)
			return rq_errf(err, EX_DATAERR, "5.6.7 an address with "
			    "a UTF-8 local part cannot be written without "
			    "SMTPUTF8");
	for (i = a; i <= at && i < b; i++) {
		rc = tk[i].kind == TK_COMMENT ? put_comment(o, v, &tk[i], err) :
		    (put_tok(o, v, &tk[i]), 0);
		if (rc != 0)
			return rc;
	}
	if (at >= b)
		return 0;
	/* The domain: atoms and dots up to a comment or the end. */
	for (e = at + 1; e < b && tk[e].kind == TK_ATOM; e++)
		continue;
	buf_init(&dom);
	for (i = at + 1; i < e; i++)
		buf_add(&dom, v + tk[i].off, tk[i].len);
	buf_add(&dom, "", 0);
	if (rq_has_8bit(dom.data, dom.len)) {
		rc = idn_domain_to_ascii(dom.data, &ascii, err);
		if (rc != 0) {
			char old[RQ_ERR_MSG];

			rq_strlcpy(old, err != NULL ? err->msg : "", sizeof(old));
			rc = rq_errf(err, EX_DATAERR, "5.6.7 %s", old);
		} else
			put(o, v + tk[at + 1].ws, tk[at + 1].wsn, ascii,
			    strlen(ascii));
		free(ascii);
	} else {
		for (i = at + 1; i < e; i++)
			put_tok(o, v, &tk[i]);
	}
	buf_free(&dom);
	for (i = e; i < b && rc == 0; i++)
		rc = tk[i].kind == TK_COMMENT ? put_comment(o, v, &tk[i], err) :
		    (tk[i].eight ? rq_errf(err, EX_DATAERR, "5.6.9 8-bit text "
		    "after an address cannot be encoded") :
		    (put_tok(o, v, &tk[i]), 0));
	return rc;
}

/* One mailbox or group name: tokens a..b (no top-level separator). */
static int
put_mailbox(struct fout *o, const char *v, const struct tok *tk, size_t a,
    size_t b, int group_name, struct rq_err *err)
{
	size_t i, lt = b, gt = b;
	int rc;

	if (group_name)
		return put_phrase(o, v, tk, a, b, err);
	for (i = a; i < b; i++) {
		if (tk[i].kind == TK_SPECIAL && v[tk[i].off] == '<' && lt == b)
			lt = i;
		if (tk[i].kind == TK_SPECIAL && v[tk[i].off] == '>')
			gt = i;
	}
	if (lt == b)
		return put_addrspec(o, v, tk, a, b, err);
	rc = put_phrase(o, v, tk, a, lt, err);
	if (rc != 0)
		return rc;
	put_tok(o, v, &tk[lt]);
	if (gt < lt)
		gt = b;
	rc = put_addrspec(o, v, tk, lt + 1, gt, err);
	if (rc != 0)
		return rc;
	for (i = gt; i < b && rc == 0; i++)
		rc = tk[i].kind == TK_COMMENT ? put_comment(o, v, &tk[i], err) :
		    tk[i].eight ? rq_errf(err, EX_DATAERR, "5.6.9 8-bit text "
		    "after an address cannot be encoded") :
		    (put_tok(o, v, &tk[i]), 0);
	return rc;
}

static int
address_list(struct fout *o, const char *v, size_t n, struct rq_err *err)
{
	struct tok *tk = xreallocarray(NULL, TOK_MAX, sizeof(*tk));
	int nt = tokenize(v, n, tk, TOK_MAX), rc = 0, angle = 0;
	size_t i, start = 0;
	char c;

	if (nt < 0) {
		free(tk);
		return rq_errf(err, EX_DATAERR, "5.6.9 an 8-bit address field "
		    "with more than %d tokens cannot be encoded", TOK_MAX);
	}
	for (i = 0; i <= (size_t)nt && rc == 0; i++) {
		c = i < (size_t)nt && tk[i].kind == TK_SPECIAL ?
		    v[tk[i].off] : '\0';
		if (c == '<')
			angle = 1;
		else if (c == '>')
			angle = 0;
		if (i < (size_t)nt && (angle || (c != ',' && c != ';' &&
		    c != ':')))
			continue;
		rc = put_mailbox(o, v, tk, start, i, c == ':', err);
		if (rc == 0 && i < (size_t)nt)
			put_tok(o, v, &tk[i]);
		start = i + 1;
	}
	free(tk);
	return rc;
}

/* ---- MIME parameters (RFC 2231) ------------------------------------------------------- */

static int
attr_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$&+-.^_`|~", c));
}

/* Next ';' outside a quoted-string or comment, from i. */
static size_t
next_semi(const char *v, size_t n, size_t i)
{
	int q = 0, depth = 0;

	for (; i < n; i++) {
		if ((q || depth) && v[i] == '\\' && i + 1 < n)
			i++;
		else if (!depth && v[i] == '"')
			q = !q;
		else if (!q && v[i] == '(')
			depth++;
		else if (!q && v[i] == ')' && depth > 0)
			depth--;
		else if (!q && !depth && v[i] == ';')
			return i;
	}
	return n;
}

static int
put_param(struct fout *o, const char *p, size_t n, struct rq_err *err)
{
	size_t i = 0, eq, ae, vs, ve, k, seg = 0, segn;
	struct buf val, pct, t;
	const char *cs;
	int utf8;

	while (i < n && is_wsp(p[i]))
		i++;
	if (!rq_has_8bit(p, n)) {
		put(o, p, i, p + i, n - i);
		return 0;
	}
	eq = i;
	while (eq < n && p[eq] != '=')
		eq++;
	for (ae = eq; ae > i && is_wsp(p[ae - 1]); ae--)
		continue;
	for (k = i; k < ae && attr_char((unsigned char)p[k]); k++)
		continue;
	/* The name must be a plain attribute (RFC 2231 7) to take a '*'. */
	if (eq >= n || ae == i || k < ae)
		return rq_errf(err, EX_DATAERR, "5.6.9 an 8-bit MIME parameter "
		    "that is not name=value cannot be encoded");
	/* The structure hangs on it: readers take it only as it is. */
	if (ae - i == 8 && rq_strncasecmp(p + i, "boundary", 8) == 0)
		return rq_errf(err, EX_DATAERR, "5.6.9 an 8-bit multipart "
		    "boundary cannot be encoded");
	for (vs = eq + 1; vs < n && is_wsp(p[vs]); vs++)
		continue;
	for (ve = n; ve > vs && is_wsp(p[ve - 1]); ve--)
		continue;
	buf_init(&val);
	buf_add(&val, "", 0);
	if (ve - vs >= 2 && p[vs] == '"' && p[ve - 1] == '"') {
		for (k = vs + 1; k + 1 < ve; k++) {
			if (p[k] == '\\' && k + 2 < ve)
				k++;
			buf_addch(&val, p[k]);
		}
	} else
		buf_add(&val, p + vs, ve - vs);
	utf8 = is_utf8((const unsigned char *)val.data, val.len);
	cs = utf8 ? "utf-8''" : "unknown-8bit''";
	buf_init(&pct);
	for (k = 0; k < val.len; k++) {
		unsigned char c = (unsigned char)val.data[k];

		if (attr_char(c))
			buf_addch(&pct, (char)c);
		else
			buf_addf(&pct, "%%%02X", c);
	}
	buf_init(&t);
	if (ae - i + strlen(cs) + pct.len + 3 <= FOLD_AT - 2) {
		buf_addf(&t, "%.*s*=%s%s", (int)(ae - i), p + i, cs, pct.data);
		put(o, " ", 1, t.data, t.len);
	} else {
		/* Continuations (RFC 2231 3), never splitting a %XX. */
		for (k = 0; k < pct.len; k += segn, seg++) {
			segn = pct.len - k > 40 ? 40 : pct.len - k;
			if (k + segn < pct.len && pct.data[k + segn - 1] == '%')
				segn -= 1;
			else if (k + segn < pct.len && segn >= 2 &&
			    pct.data[k + segn - 2] == '%')
				segn -= 2;
			buf_reset(&t);
			buf_addf(&t, "%s%.*s*%zu*=%s%.*s", seg > 0 ? ";" : "",
			    (int)(ae - i), p + i, seg, seg == 0 ? cs : "",
			    (int)segn, pct.data + k);
			if (seg > 0)
				put(o, "", 0, ";", 1);
			put(o, " ", 1, t.data + (seg > 0), t.len - (seg > 0));
		}
	}
	buf_free(&t);
	buf_free(&pct);
	buf_free(&val);
	return 0;
}

static int
param_field(struct fout *o, const char *v, size_t n, struct rq_err *err)
{
	size_t i = next_semi(v, n, 0), j;
	int rc;

	if (rq_has_8bit(v, i))
		return rq_errf(err, EX_DATAERR, "5.6.9 an 8-bit media type or "
		    "disposition cannot be encoded");
	put(o, " ", 1, v, i);
	while (i < n) {
		j = next_semi(v, n, i + 1);
		put(o, "", 0, ";", 1);
		rc = put_param(o, v + i + 1, j - i - 1, err);
		if (rc != 0)
			return rc;
		i = j;
	}
	return 0;
}

/* ---- the entry points ----------------------------------------------------------------- */

int
hdrenc_field(const char *f, size_t n, struct buf *out, struct rq_err *err)
{
	struct buf v, res;
	struct fout o;
	size_t vofs = 0, nl = field_name(f, n, &vofs);
	int rc;

	if (nl == 0 || rq_has_8bit(f, nl))
		return rq_errf(err, EX_DATAERR, "5.6.9 a header field with an "
		    "8-bit or missing name cannot be encoded");
	if (name_in(f, nl, rigid_fields))
		return rq_errf(err, EX_DATAERR, "5.6.9 the %.*s header field "
		    "holds 8-bit octets, and its syntax has no place for "
		    "encoded words", (int)nl, f);
	buf_init(&v);
	buf_init(&res);
	unfold(f, n, vofs, &v);
	o.out = &res;
	o.col = 0;
	put(&o, "", 0, f, nl);
	put(&o, "", 0, ":", 1);
	if (name_in(f, nl, addr_fields))
		rc = address_list(&o, v.data, v.len, err);
	else if (name_in(f, nl, param_fields))
		rc = param_field(&o, v.data, v.len, err);
	else
		rc = unstructured(&o, v.data, v.len, err);
	if (rc == 0) {
		/* A run of ASCII put as one piece may still be too long. */
		buf_add(&res, "\r\n", 2);
		rc = hdr_fold(res.data, res.len, out, err);
	}
	if (rc != 0 && err != NULL) {
		char old[RQ_ERR_MSG];

		rq_strlcpy(old, err->msg, sizeof(old));
		rq_errf(err, rc, "%s (%.*s header field)", old, (int)nl, f);
	}
	buf_free(&v);
	buf_free(&res);
	return rc;
}

int
hdr_fold_line(const char *p, size_t len, size_t minpos, struct buf *out)
{
	size_t pos = 0, i, lo;

	while (len - pos > HDR_LINE_MAX) {
		/* Fold after the first non-blank octet, and after minpos. */
		for (lo = pos; lo < len && is_wsp(p[lo]); lo++)
			continue;
		if (lo < minpos)
			lo = minpos;
		for (i = pos + HDR_LINE_MAX; i > lo; i--)
			if (is_wsp(p[i]))
				break;
		if (i <= lo)
			return -1;
		buf_add(out, p + pos, i - pos);
		buf_add(out, "\r\n", 2);
		pos = i;
		minpos = 0;
	}
	buf_add(out, p + pos, len - pos);
	return 0;
}

int
hdr_fold(const char *f, size_t n, struct buf *out, struct rq_err *err)
{
	struct buf res;
	size_t start, end, i;
	const char *colon = memchr(f, ':', n);

	buf_init(&res);
	for (start = 0; start < n; start = end) {
		for (end = start; end < n && f[end] != '\n'; end++)
			continue;
		if (end < n)
			end++;
		/* The line without its end, then its end as it was. */
		i = end;
		if (i > start && f[i - 1] == '\n')
			i--;
		if (i > start && f[i - 1] == '\r')
			i--;
		if (hdr_fold_line(f + start, i - start, start == 0 &&
		    colon != NULL ? (size_t)(colon - f) + 1 : 0, &res) != 0) {
			buf_free(&res);
			return rq_errf(err, EX_DATAERR, "a header line is "
			    "longer than %d octets and has no white space to "
			    "fold it at", HDR_LINE_MAX);
		}
		buf_add(&res, f + i, end - i);
	}
	buf_add(out, res.data, res.len);
	buf_free(&res);
	return 0;
}
