/*
 * relayq -- the MIME structure of a message, walked as it streams
 * (mimewalk.h).
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A stack of frames, one per open part: the message at the bottom, the
 * part being read on top.  A multipart frame is in its preamble, between
 * parts (a child frame above it) or in its epilogue; a message/rfc822
 * frame always has its child above it; a leaf frame reads content.
 *
 * Lines matter only where a delimiter or a header can start.  Inside a
 * leaf with no open multipart around it (a single-part message) the
 * content is handed on in whole chunks; inside a multipart, a line that
 * does not start with '-' cannot be a delimiter and is handed on at once,
 * so only lines starting with '-' are collected (up to MW_PEEK octets) and
 * compared with the open boundaries.  The line end of the last line seen
 * is held back ("pending") until the next line is known, because before a
 * delimiter it belongs to the delimiter.
 */
#include <stdlib.h>
#include <string.h>

#include "mimewalk.h"
#include "util.h"

enum st {
	ST_HDR,			/* header fields of the top part */
	ST_LEAF,		/* content of a leaf */
	ST_PREAMBLE,		/* multipart before its first delimiter */
	ST_PARTS,		/* composite with a child above it */
	ST_EPILOGUE,		/* multipart after its close delimiter */
};

struct frame {
	struct mw_part	 p;
	enum st		 st;
	char		 bnd[MW_BOUNDARY_MAX + 1];
	size_t		 bndlen;	/* 0: no boundary (yet) */
	int		 digest;	/* multipart/digest */
	int		 ct_done;	/* the first Content-Type was seen */
	int		 cte_done;
};

struct mimewalk {
	const struct mw_ops *ops;
	void		*arg;
	struct frame	 f[MW_DEPTH_MAX + 1];
	int		 top;
	unsigned	 nparts;
	unsigned	 nopen;		/* multiparts whose boundary counts */
	int		 bol;		/* the next octet starts a line */
	char		 lb[MW_PEEK + 2]; /* line start being collected */
	size_t		 lblen;
	int		 mid_field;	/* mid-line octets go to the field */
	int		 cr;		/* a CR held back at a chunk's end */
	char		 pend[2];	/* a line end held back */
	size_t		 pendlen;
	struct buf	 fb;		/* the field being collected */
	int		 fopen;		/* a field is open */
	int		 fpieces;	/* pieces of it already handed on */
	int		 fname_ct;	/* it is a Content-Type field */
	struct buf	 tmp;
};

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* ---- field helpers (exported) ------------------------------------------- */

int
mw_field_is(const char *f, size_t n, const char *name)
{
	size_t k = strlen(name), i;

	if (n < k || rq_strncasecmp(f, name, k) != 0)
		return 0;
	for (i = k; i < n && is_wsp(f[i]); i++)
		continue;
	return i < n && f[i] == ':';
}

void
mw_field_value(const char *f, size_t n, struct buf *out)
{
	const char *p = memchr(f, ':', n), *end = f + n;

	buf_reset(out);
	buf_add(out, "", 0);
	if (p == NULL)
		return;
	for (p++; p < end && is_wsp(*p); p++)
		continue;
	while (p < end) {
		if (*p == '\r' && p + 1 < end && p[1] == '\n') {
			p += 2;
			continue;
		}
		if (*p == '\n') {
			p++;
			continue;
		}
		buf_addch(out, *p++);
	}
	while (out->len > 0 && is_wsp(out->data[out->len - 1]))
		out->data[--out->len] = '\0';
}

void
mw_value_token(const char *v, size_t n, int slash, char *out, size_t max)
{
	size_t i, o = 0;
	int depth = 0, cut = 0;

	for (i = 0; i < n; i++) {
		char c = v[i];

		if (depth > 0) {
			if (c == '\\' && i + 1 < n)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (c == '(') {
			depth++;
			continue;
		}
		if (is_wsp(c) && o == 0)
			continue;
		if (is_wsp(c) || c == ';' || (c == '/' && !slash) ||
		    c == '\r' || c == '\n')
			break;
		if (o + 1 < max)
			out[o++] = (char)rq_tolower((unsigned char)c);
		else
			cut = 1;
	}
	out[cut ? 0 : o] = '\0';
}

int
mw_param(const char *v, size_t n, const char *name, struct buf *out)
{
	size_t i = 0, a, ae, vs, ve, k = strlen(name);
	int q;

	for (;;) {
		/* To the next ';' outside a quoted-string. */
		for (q = 0; i < n && (q || v[i] != ';'); i++) {
			if (q && v[i] == '\\' && i + 1 < n)
				i++;
			else if (v[i] == '"')
				q = !q;
		}
		if (i >= n)
			return 0;
		i++;
		for (a = i; a < n && is_wsp(v[a]); a++)
			continue;
		for (ae = a; ae < n && v[ae] != '=' && v[ae] != ';'; ae++)
			continue;
		if (ae >= n || v[ae] != '=') {
			i = ae;
			continue;
		}
		vs = ae + 1;
		while (ae > a && is_wsp(v[ae - 1]))
			ae--;
		for (q = 0, ve = vs; ve < n && (q || v[ve] != ';'); ve++) {
			if (q && v[ve] == '\\' && ve + 1 < n)
				ve++;
			else if (v[ve] == '"')
				q = !q;
		}
		i = ve;
		if (ae - a != k || rq_strncasecmp(v + a, name, k) != 0)
			continue;
		while (vs < ve && is_wsp(v[vs]))
			vs++;
		while (ve > vs && is_wsp(v[ve - 1]))
			ve--;
		buf_reset(out);
		buf_add(out, "", 0);
		if (ve - vs >= 2 && v[vs] == '"' && v[ve - 1] == '"') {
			for (vs++, ve--; vs < ve; vs++) {
				if (v[vs] == '\\' && vs + 1 < ve)
					vs++;
				buf_addch(out, v[vs]);
			}
		} else
			buf_add(out, v + vs, ve - vs);
		while (out->len > 0 && is_wsp(out->data[out->len - 1]))
			out->data[--out->len] = '\0';
		return 1;
	}
}

/* ---- events ---------------------------------------------------------------- */

static struct frame *
topf(struct mimewalk *w)
{
	return &w->f[w->top];
}

/* Content of the top frame, to wherever its state sends it. */
static int
content(struct mimewalk *w, const char *p, size_t n, struct rq_err *err)
{
	struct frame *f = topf(w);

	if (n == 0)
		return 0;
	switch (f->st) {
	case ST_LEAF:
		return w->ops->body == NULL ? 0 :
		    w->ops->body(w->arg, &f->p, p, n, err);
	case ST_PREAMBLE:
		return w->ops->raw == NULL ? 0 :
		    w->ops->raw(w->arg, &f->p, MW_PREAMBLE, p, n, err);
	case ST_EPILOGUE:
		return w->ops->raw == NULL ? 0 :
		    w->ops->raw(w->arg, &f->p, MW_EPILOGUE, p, n, err);
	default:
		/* Cannot happen: headers and composites take no content. */
		return rq_errf(err, EX_SOFTWARE, "mimewalk: content in state "
		    "%d", (int)f->st);
	}
}

static int
release_pend(struct mimewalk *w, struct rq_err *err)
{
	size_t n = w->pendlen;

	w->pendlen = 0;
	return content(w, w->pend, n, err);
}

/* ---- header fields ---------------------------------------------------------- */

/* Learn from a whole field what the walker needs. */
static void
field_learn(struct mimewalk *w, const char *f, size_t n)
{
	struct frame *fr = topf(w);
	struct buf *v = &w->tmp, b;
	char *semi;

	if (mw_field_is(f, n, "MIME-Version")) {
		fr->p.has_mimever = 1;
	} else if (mw_field_is(f, n, "Content-Type") && !fr->ct_done) {
		fr->ct_done = 1;
		fr->p.has_ct = 1;
		mw_field_value(f, n, v);
		mw_value_token(v->data, v->len, 1, fr->p.type,
		    sizeof(fr->p.type));
		semi = strchr(fr->p.type, '/');
		if (semi == NULL || semi == fr->p.type || semi[1] == '\0' ||
		    strchr(semi + 1, '/') != NULL)
			rq_strlcpy(fr->p.type, "text/plain",
			    sizeof(fr->p.type));
		buf_init(&b);
		if (mw_param(v->data, v->len, "boundary", &b) &&
		    b.len > 0 && b.len <= MW_BOUNDARY_MAX) {
			memcpy(fr->bnd, b.data, b.len);
			fr->bndlen = b.len;
		}
		buf_free(&b);
	} else if (mw_field_is(f, n, "Content-Transfer-Encoding") &&
	    !fr->cte_done) {
		fr->cte_done = 1;
		mw_field_value(f, n, v);
		mw_value_token(v->data, v->len, 0, fr->p.cte,
		    sizeof(fr->p.cte));
		if (fr->p.cte[0] == '\0')
			rq_strlcpy(fr->p.cte, "?", sizeof(fr->p.cte));
	}
}

static int
field_piece(struct mimewalk *w, int last, struct rq_err *err)
{
	int flags = (w->fpieces == 0 ? MW_FIELD_FIRST : 0) |
	    (last ? MW_FIELD_LAST : 0);
	int rc = 0;

	if (w->fpieces == 0) {
		if (last)
			field_learn(w, w->fb.data, w->fb.len);
		else if (mw_field_is(w->fb.data, w->fb.len, "Content-Type") &&
		    !topf(w)->ct_done) {
			/* Too long to parse: the type stays unknown. */
			topf(w)->ct_done = 1;
			topf(w)->p.has_ct = 1;
			topf(w)->p.type[0] = '\0';
		}
	}
	if (w->ops->field != NULL)
		rc = w->ops->field(w->arg, &topf(w)->p, w->fb.data, w->fb.len,
		    flags, err);
	w->fpieces++;
	buf_reset(&w->fb);
	return rc;
}

static int
field_add(struct mimewalk *w, const char *p, size_t n, struct rq_err *err)
{
	size_t k;
	int rc;

	while (n > 0) {
		k = MW_FIELD_MAX - w->fb.len;
		if (k > n)
			k = n;
		buf_add(&w->fb, p, k);
		p += k;
		n -= k;
		if (w->fb.len == MW_FIELD_MAX && n > 0) {
			rc = field_piece(w, 0, err);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

static int
field_flush(struct mimewalk *w, struct rq_err *err)
{
	if (!w->fopen)
		return 0;
	w->fopen = 0;
	return field_piece(w, 1, err);
}

static int
field_start(struct mimewalk *w, const char *p, size_t n, struct rq_err *err)
{
	int rc = field_flush(w, err);

	if (rc != 0)
		return rc;
	w->fopen = 1;
	w->fpieces = 0;
	buf_reset(&w->fb);
	return field_add(w, p, n, err);
}

/* Does line (n octets) start a header field ("name:" or "name WSP :")? */
static int
is_field_start(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 33 || c > 126 || c == ':')
			break;
	}
	if (i == 0)
		return 0;
	while (i < n && is_wsp(p[i]))
		i++;
	return i < n && p[i] == ':';
}

/* ---- frames -------------------------------------------------------------------- */

static int
push(struct mimewalk *w, struct rq_err *err)
{
	struct frame *up = topf(w), *f;

	if (w->nparts >= MW_PARTS_MAX)
		return rq_errf(err, EX_DATAERR, "the message has more than %d "
		    "MIME parts", MW_PARTS_MAX);
	w->top++;
	f = topf(w);
	memset(f, 0, sizeof(*f));
	f->p.index = w->nparts++;
	f->p.depth = (unsigned)w->top;
	f->p.parent = up->p.index;
	f->p.in_digest = up->digest;
	f->st = ST_HDR;
	return 0;
}

static int
is_identity(const char *cte)
{
	return cte[0] == '\0' || strcmp(cte, "7bit") == 0 ||
	    strcmp(cte, "8bit") == 0 || strcmp(cte, "binary") == 0;
}

/* The header section is over: decide what the part is, and say so. */
static int
headers_end(struct mimewalk *w, struct rq_err *err)
{
	struct frame *f = topf(w);
	struct mw_part *p = &f->p;
	int rc = field_flush(w, err);

	if (rc != 0)
		return rc;
	if (!p->has_ct)
		rq_strlcpy(p->type, p->in_digest ? "message/rfc822" :
		    "text/plain", sizeof(p->type));
	p->kind = MW_LEAF;
	if (strncmp(p->type, "multipart/", 10) == 0) {
		if (f->bndlen == 0)
			p->no_boundary = 1;
		else if (p->depth >= MW_DEPTH_MAX)
			p->too_deep = 1;
		else {
			p->kind = MW_MULTIPART;
			f->digest = strcmp(p->type, "multipart/digest") == 0;
		}
	} else if ((strcmp(p->type, "message/rfc822") == 0 ||
	    strcmp(p->type, "message/global") == 0) && is_identity(p->cte)) {
		if (p->depth >= MW_DEPTH_MAX)
			p->too_deep = 1;
		else
			p->kind = MW_MESSAGE;
	}
	if (p->kind != MW_MULTIPART)
		f->bndlen = 0;
	return w->ops->headers_end == NULL ? 0 :
	    w->ops->headers_end(w->arg, p, err);
}

/* After headers_end: the top part's body begins. */
static int
begin_body(struct mimewalk *w, struct rq_err *err)
{
	struct frame *f = topf(w);

	switch (f->p.kind) {
	case MW_MULTIPART:
		f->st = ST_PREAMBLE;
		w->nopen++;
		return 0;
	case MW_MESSAGE:
		f->st = ST_PARTS;
		return push(w, err);
	default:
		f->st = ST_LEAF;
		return 0;
	}
}

/* End the top frame (which is then popped, unless it is the message). */
static int
end_top(struct mimewalk *w, struct rq_err *err)
{
	struct frame *f = topf(w);
	int rc = 0;

	if (f->st == ST_HDR) {
		rc = headers_end(w, err);
		if (rc != 0)
			return rc;
	}
	if (f->p.kind == MW_MULTIPART && f->st != ST_EPILOGUE && f->st != ST_HDR)
		w->nopen--;
	if (w->ops->part_end != NULL)
		rc = w->ops->part_end(w->arg, &f->p, err);
	if (w->top > 0)
		w->top--;
	return rc;
}

/*
 * Is line (n octets, its line end included if it has one) a delimiter of
 * an open multipart?  Returns the frame, or -1; *close for "--b--".
 */
static int
delim_match(struct mimewalk *w, const char *l, size_t n, int *close)
{
	const struct frame *f;
	int k;

	if (n > 0 && l[n - 1] == '\n')
		n--;
	if (n > 0 && l[n - 1] == '\r')
		n--;
	while (n > 0 && is_wsp(l[n - 1]))
		n--;
	if (n < 3 || l[0] != '-' || l[1] != '-')
		return -1;
	l += 2;
	n -= 2;
	for (k = w->top; k >= 0; k--) {
		f = &w->f[k];
		if (f->p.kind != MW_MULTIPART || f->bndlen == 0 ||
		    f->st == ST_EPILOGUE || f->st == ST_HDR)
			continue;
		if (n < f->bndlen || memcmp(l, f->bnd, f->bndlen) != 0)
			continue;
		if (n == f->bndlen) {
			*close = 0;
			return k;
		}
		if (n == f->bndlen + 2 && l[n - 2] == '-' && l[n - 1] == '-') {
			*close = 1;
			return k;
		}
	}
	return -1;
}

static int
delimiter(struct mimewalk *w, int k, int close, const char *l, size_t n,
    struct rq_err *err)
{
	struct frame *f;
	int rc;

	while (w->top > k) {
		topf(w)->p.end_delim = 1;
		rc = end_top(w, err);
		if (rc != 0)
			return rc;
	}
	f = topf(w);
	buf_reset(&w->tmp);
	buf_add(&w->tmp, w->pend, w->pendlen);
	buf_add(&w->tmp, l, n);
	w->pendlen = 0;
	if (w->ops->raw != NULL) {
		rc = w->ops->raw(w->arg, &f->p, MW_DELIM, w->tmp.data,
		    w->tmp.len, err);
		if (rc != 0)
			return rc;
	}
	if (close) {
		f->st = ST_EPILOGUE;
		f->p.closed = 1;
		w->nopen--;
		return 0;
	}
	f->st = ST_PARTS;
	return push(w, err);
}

/* Split a whole line into its text and its line end. */
static size_t
eol_len(const char *l, size_t n)
{
	if (n > 0 && l[n - 1] == '\n')
		return n > 1 && l[n - 2] == '\r' ? 2 : 1;
	return 0;
}

/* A line end after mid-line content. */
static int
line_end(struct mimewalk *w, const char *e, size_t n, struct rq_err *err)
{
	w->bol = 1;
	if (w->mid_field)
		return field_add(w, e, n, err);
	if (w->nopen > 0) {
		memcpy(w->pend, e, n);
		w->pendlen = n;
		return 0;
	}
	return content(w, e, n, err);
}

/*
 * A line start collected in w->lb: the whole line (complete, ending in LF
 * or at the end of the input) or its first MW_PEEK octets.
 */
static int
line(struct mimewalk *w, const char *l, size_t n, int complete,
    struct rq_err *err)
{
	struct frame *f;
	size_t e;
	int k, close, rc;

	for (;;) {
		f = topf(w);
		if (complete && w->nopen > 0 &&
		    (k = delim_match(w, l, n, &close)) >= 0) {
			/* A part still in its headers ends in end_top(). */
			w->bol = 1;
			return delimiter(w, k, close, l, n, err);
		}
		if (f->st != ST_HDR)
			break;
		e = eol_len(l, n);
		if (complete && e == n && n > 0) {
			/* The empty line. */
			f->p.sep = 1;
			rc = headers_end(w, err);
			if (rc == 0 && w->ops->raw != NULL)
				rc = w->ops->raw(w->arg, &f->p, MW_SEP, l, n,
				    err);
			if (rc == 0)
				rc = begin_body(w, err);
			w->bol = 1;
			return rc;
		}
		if ((is_wsp(l[0]) && w->fopen) || is_field_start(l, n)) {
			rc = is_wsp(l[0]) ? field_add(w, l, n, err) :
			    field_start(w, l, n, err);
			w->bol = complete;
			w->mid_field = 1;
			return rc;
		}
		/* Not a header: the body starts with this line. */
		rc = headers_end(w, err);
		if (rc == 0)
			rc = begin_body(w, err);
		if (rc != 0)
			return rc;
	}
	/* Content: the held line end was not a delimiter's. */
	rc = release_pend(w, err);
	if (rc != 0)
		return rc;
	w->mid_field = 0;
	if (!complete) {
		w->bol = 0;
		return content(w, l, n, err);
	}
	e = eol_len(l, n);
	rc = content(w, l, n - e, err);
	if (rc == 0 && e > 0)
		rc = line_end(w, l + n - e, e, err);
	return rc;
}

/* ---- feeding ------------------------------------------------------------------------- */

struct mimewalk *
mw_new(const struct mw_ops *ops, void *arg)
{
	struct mimewalk *w = xcalloc(1, sizeof(*w));

	w->ops = ops;
	w->arg = arg;
	w->bol = 1;
	w->f[0].st = ST_HDR;
	w->nparts = 1;
	buf_init(&w->fb);
	buf_init(&w->tmp);
	return w;
}

unsigned
mw_parts(const struct mimewalk *w)
{
	return w->nparts;
}

int
mw_clean(const struct mimewalk *w)
{
	return w->lblen == 0 && w->pendlen == 0 && !w->cr && !w->fopen;
}

/* Mid-line octets (no LF among them) of the current line. */
static int
mid(struct mimewalk *w, const char *p, size_t n, struct rq_err *err)
{
	if (n == 0)
		return 0;
	return w->mid_field ? field_add(w, p, n, err) : content(w, p, n, err);
}

int
mw_feed(struct mimewalk *w, const void *data, size_t n, struct rq_err *err)
{
	const char *p = data, *end, *lf, *q;
	size_t k, take;
	enum st st;
	int rc = 0;

	while (n > 0 && rc == 0) {
		if (w->cr) {
			w->cr = 0;
			if (p[0] == '\n') {
				p++;
				n--;
				rc = line_end(w, "\r\n", 2, err);
				continue;
			}
			rc = mid(w, "\r", 1, err);
			if (rc != 0)
				break;
		}
		st = topf(w)->st;
		if (w->bol && st != ST_HDR && w->nopen == 0) {
			/* Nothing but the end can end this content. */
			w->bol = 0;
			w->mid_field = 0;
			rc = content(w, p, n, err);
			break;
		}
		if (w->bol) {
			if (w->lblen == 0 && st != ST_HDR && p[0] != '-') {
				/* Not a delimiter: content. */
				rc = release_pend(w, err);
				w->bol = 0;
				w->mid_field = 0;
				continue;
			}
			take = MW_PEEK - w->lblen;
			if (take > n)
				take = n;
			lf = memchr(p, '\n', take);
			if (lf != NULL)
				take = (size_t)(lf - p) + 1;
			memcpy(w->lb + w->lblen, p, take);
			w->lblen += take;
			p += take;
			n -= take;
			if (lf != NULL || w->lblen == MW_PEEK) {
				int held = 0;

				k = w->lblen;
				w->lblen = 0;
				/* A CR at the cut may start the line end. */
				if (lf == NULL && w->lb[k - 1] == '\r') {
					k--;
					held = 1;
				}
				rc = line(w, w->lb, k, lf != NULL, err);
				if (held)
					w->cr = 1;
			}
			continue;
		}
		end = p + n;
		if (w->mid_field || w->nopen == 0) {
			lf = memchr(p, '\n', n);
		} else {
			/*
			 * Content inside a multipart: run on over every line
			 * whose successor cannot be a delimiter.
			 */
			for (q = p; (lf = memchr(q, '\n', (size_t)(end - q))) !=
			    NULL && lf + 1 < end && lf[1] != '-'; q = lf + 1)
				continue;
		}
		if (lf == NULL) {
			k = n;
			if (p[n - 1] == '\r') {
				k--;
				w->cr = 1;
			}
			rc = mid(w, p, k, err);
			break;
		}
		k = (size_t)(lf - p);
		if (k > 0 && p[k - 1] == '\r') {
			rc = mid(w, p, k - 1, err);
			if (rc == 0)
				rc = line_end(w, "\r\n", 2, err);
		} else {
			rc = mid(w, p, k, err);
			if (rc == 0)
				rc = line_end(w, "\n", 1, err);
		}
		p += k + 1;
		n -= k + 1;
	}
	return rc;
}

int
mw_end(struct mimewalk *w, struct rq_err *err)
{
	size_t k;
	int rc = 0;

	if (w->cr) {
		w->cr = 0;
		rc = mid(w, "\r", 1, err);
	}
	if (rc == 0 && w->lblen > 0) {
		k = w->lblen;
		w->lblen = 0;
		rc = line(w, w->lb, k, 1, err);
	}
	if (rc == 0 && topf(w)->st != ST_HDR && topf(w)->st != ST_PARTS)
		rc = release_pend(w, err);
	while (rc == 0) {
		int last = w->top == 0;

		rc = end_top(w, err);
		if (last)
			break;
	}
	return rc;
}

void
mw_free(struct mimewalk *w)
{
	if (w == NULL)
		return;
	buf_free(&w->fb);
	buf_free(&w->tmp);
	free(w);
}
