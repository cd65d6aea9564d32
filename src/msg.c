/*
 * relayq -- the message on the way in: read, canonicalise, fix headers, spool.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * RFC 5321 section 2.3.8 (no bare CR or LF), 4.5.2 (dot lines),
 * 4.5.3.1.6 (line length); RFC 5322 sections 2.1.1, 2.2.3 (folding), 3.6
 * (the fields added here), 3.6.3 and 3.6.6 (Bcc, Resent- blocks);
 * RFC 2045 (MIME-Version, Content-Transfer-Encoding) and RFC 2046 section
 * 5 (composite types are never re-encoded).
 *
 * Three layers, one pipeline:
 *
 *  - the reader (rd_piece) turns raw input into canonical pieces of lines:
 *    every line end it finds (LF, CRLF, or a CR not followed by LF) comes
 *    out as CRLF, a last line without an end gets one, and dot lines are
 *    recognised and unstuffed here, so everything above sees only
 *    canonical text.  A piece is at most PIECE_MAX octets, so a huge line
 *    never needs huge memory;
 *  - msg_read_headers keeps the header section in memory as fields (their
 *    physical lines as they will go out) and decides what to add, remove
 *    and extract;
 *  - emit() writes the headers and streams the body into a sink.  A sink
 *    is either the queue (queue_writer_*) or an unlinked temporary file
 *    (msg_write_fd), behind the same four operations, so the one
 *    transformation serves both.  When a body line turns out to be longer
 *    than 998 octets or holds a NUL, emit() opens a second output in the
 *    sink, writes the header section for quoted-printable, reads back the
 *    body written so far, encodes it and the rest of the input, and drops
 *    the first output.  Memory stays constant either way.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "downgrade.h"
#include "hdrenc.h"
#include "mime.h"
#include "msg.h"

#define INPUT_BUFSZ	(64 * 1024)
#define PIECE_MAX	(64 * 1024)	/* octets of a line handled at once */
#define OUT_FLUSH	(64 * 1024)	/* output is handed on in such chunks */

/* ---- buffered input ------------------------------------------------------ */

void
input_init(struct input *in, int fd)
{
	memset(in, 0, sizeof(*in));
	in->fd = fd;
}

void
input_free(struct input *in)
{
	free(in->buf);
	in->buf = NULL;
	in->off = in->len = in->cap = 0;
}

/*
 * Make at least need (a few) octets available at in->buf + in->off unless
 * the input ends first.  Returns what is available, or -1 (errno set).
 * Callers only ask for more when less than need is left, so moving the
 * remainder to the front is cheap.
 */
static ssize_t
input_fill(struct input *in, size_t need)
{
	ssize_t r;
	size_t want;

	if (in->buf == NULL) {
		in->cap = INPUT_BUFSZ;
		in->buf = xmalloc(in->cap);
	}
	while (in->len - in->off < need && !in->eof) {
		if (in->off > 0) {
			memmove(in->buf, in->buf + in->off, in->len - in->off);
			in->len -= in->off;
			in->off = 0;
		}
		want = in->cap - in->len;
		if (in->max_read > 0 && want > in->max_read)
			want = in->max_read;
		r = read(in->fd, in->buf + in->len, want);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			in->eof = 1;
		in->len += (size_t)r;
	}
	return (ssize_t)(in->len - in->off);
}

ssize_t
input_getline(struct input *in, struct buf *line, size_t max)
{
	size_t got = 0, n;
	ssize_t avail;
	const char *p, *lf;

	while (got < max) {
		avail = input_fill(in, 1);
		if (avail < 0)
			return -1;
		if (avail == 0)
			break;
		p = in->buf + in->off;
		n = (size_t)avail < max - got ? (size_t)avail : max - got;
		lf = memchr(p, '\n', n);
		if (lf != NULL)
			n = (size_t)(lf - p) + 1;
		buf_add(line, p, n);
		in->off += n;
		got += n;
		if (lf != NULL)
			break;
	}
	return (ssize_t)got;
}

/* ---- the canonicalising reader ------------------------------------------- */

struct reader {
	struct input	*in;
	int		 dots;		/* a lone "." ends the message */
	int		 unstuff;	/* SMTP DATA: strip a leading dot */
	int		 bol;		/* the next octet starts a line */
	int		 after_lf;	/* the last line end was LF or CRLF */
	int		 after_crlf;	/* ... and it was CRLF */
	int		 done;		/* EOF or the "." line was reached */
	unsigned long	 lineno;	/* input line being read, from 1 */
};

struct piece {
	size_t		 len;		/* content octets, CRLF not counted */
	int		 first;		/* starts a line */
	int		 eol;		/* ends its line; CRLF was appended */
	int		 nul;		/* holds a NUL octet */
	int		 eightbit;	/* holds an octet >= 0x80 */
	unsigned long	 lineno;
};

static void
rd_init(struct reader *r, struct input *in, int dots, int unstuff)
{
	memset(r, 0, sizeof(*r));
	r->in = in;
	r->dots = dots || unstuff;
	r->unstuff = unstuff;
	r->bol = 1;
	r->after_lf = 1;
	r->after_crlf = 1;
}

static int
rd_ioerr(struct rq_err *err)
{
	return rq_errno(err, EX_IOERR, errno, "cannot read the message");
}

/*
 * At the start of a line that may be a dot line: 1 when it is the
 * terminating "." line (consumed), 2 when it starts with a dot followed by
 * more on the line, 0 otherwise, -1 on a read error.
 *
 * In an SMTP DATA stream (unstuff) only <CRLF>.<CRLF> ends the data, as
 * RFC 5321 4.1.1.4 says: accepting <LF>.<LF> there is what made SMTP
 * smuggling work against receivers (CVE-2023-51764), and it would let
 * a message's body be read as our client's next commands.
 */
static int
rd_dotline(struct reader *r)
{
	struct input *in = r->in;
	ssize_t avail;
	const char *p;

	avail = input_fill(in, 3);
	if (avail < 0)
		return -1;
	p = in->buf + in->off;
	if (avail == 0 || p[0] != '.')
		return 0;
	if (avail == 1) {
		/* "." and EOF: the end, as in Postfix's sendmail. */
		if (r->unstuff)
			return 0;
		in->off += 1;
		return 1;
	}
	if (p[1] == '\n') {
		if (r->unstuff)
			return 0;
		in->off += 2;
		return 1;
	}
	if (p[1] == '\r') {
		if (avail >= 3 && p[2] == '\n') {
			in->off += 3;
			return 1;
		}
		/* ".<CR>" without LF: an ordinary one-dot line. */
		return 0;
	}
	return 2;
}

/*
 * Append the next piece of canonical text to out: at most max content
 * octets, plus CRLF when the piece ends its line.  Returns 1 with *pc
 * filled, 0 at the end of the message, or an EX_* code with err set.
 */
static int
rd_piece(struct reader *r, struct buf *out, size_t max, struct piece *pc,
    struct rq_err *err)
{
	struct input *in = r->in;
	const unsigned char *p;
	unsigned char c, eight = 0;
	ssize_t avail;
	size_t i, room;
	int d;

	memset(pc, 0, sizeof(*pc));
	if (r->done)
		return 0;
	pc->first = r->bol;
	if (r->bol) {
		r->lineno++;
		if (r->dots && (r->unstuff ? r->after_crlf : r->after_lf)) {
			d = rd_dotline(r);
			if (d < 0)
				return rd_ioerr(err);
			if (d == 1) {
				r->done = 1;
				return 0;
			}
			/* RFC 5321 4.5.2: delete the first of several. */
			if (d == 2 && r->unstuff)
				in->off++;
		}
	}
	pc->lineno = r->lineno;
	for (;;) {
		avail = input_fill(in, 1);
		if (avail < 0)
			return rd_ioerr(err);
		if (avail == 0) {
			if (r->unstuff)
				return rq_errf(err, EX_DATAERR, "the input "
				    "ended before the \".\" line that ends "
				    "the message");
			r->done = 1;
			if (pc->len == 0 && r->bol)
				return 0;
			/* The missing final line end; never an extra one. */
			buf_add(out, "\r\n", 2);
			pc->eol = 1;
			r->bol = 1;
			break;
		}
		p = (const unsigned char *)in->buf + in->off;
		room = max - pc->len;
		for (i = 0; i < (size_t)avail && i < room; i++) {
			c = p[i];
			if (c == '\r' || c == '\n')
				break;
			if (c == '\0')
				pc->nul = 1;
			eight |= c;
		}
		buf_add(out, p, i);
		in->off += i;
		pc->len += i;
		if (i == (size_t)avail)
			continue;	/* all used up: read on */
		if (p[i] == '\n') {
			in->off++;
			r->after_lf = 1;
			r->after_crlf = 0;
		} else if (p[i] == '\r') {
			in->off++;
			/* CR at the end of what was read: look further. */
			avail = input_fill(in, 1);
			if (avail < 0)
				return rd_ioerr(err);
			r->after_lf = avail > 0 && in->buf[in->off] == '\n';
			r->after_crlf = r->after_lf;	/* else bare CR */
			if (r->after_lf)
				in->off++;
		} else {
			/* The piece is full; the line goes on. */
			r->bol = 0;
			break;
		}
		buf_add(out, "\r\n", 2);
		pc->eol = 1;
		r->bol = 1;
		break;
	}
	pc->eightbit = (eight & 0x80) != 0;
	return 1;
}

/* ---- the header section -------------------------------------------------- */

struct field {
	struct buf	 raw;		/* its lines, CRLF-ended, as they go out */
	size_t		 namelen;	/* the name, without WSP and colon */
	size_t		 vofs;		/* the value: after the colon */
	unsigned long	 lineno;
	int		 del;		/* removed from the output */
};

struct msg {
	const struct msg_opts *opts;	/* the caller's, read when writing */
	struct reader	 rd;
	struct field	*f;
	size_t		 nf, fcap;
	size_t		 hdrlen;	/* octets of the header section read */
	struct buf	 added;		/* fields added at the end */
	struct buf	 pushback;	/* first body piece, read as a header */
	struct piece	 pb;
	int		 has_pb;
	int		 sep;		/* the input had the empty line */
	int		 hdr8;		/* 8-bit octets in the header section */
	int		 has_from, has_date, has_msgid, has_to;
	struct strlist	 rcpts;
	char		*hfrom;
	int		 used;		/* the body was consumed */
};

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static int
field_is(const struct field *f, const char *name)
{
	size_t n = strlen(name);

	return f->namelen == n && rq_strncasecmp(f->raw.data, name, n) == 0;
}

static int
field_is_resent(const struct field *f)
{
	return f->namelen > 7 && rq_strncasecmp(f->raw.data, "Resent-", 7) == 0;
}

/*
 * Length of the field name when line starts a header field
 * ("name" [WSP] ":"; the WSP is RFC 5322's obsolete syntax), else 0.
 * *vofs is set to the octet after the colon.
 */
static size_t
field_name(const char *line, size_t len, size_t *vofs)
{
	size_t i, n;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c < 33 || c > 126 || c == ':')
			break;
	}
	n = i;
	while (i < len && is_wsp(line[i]))
		i++;
	if (n == 0 || i >= len || line[i] != ':')
		return 0;
	*vofs = i + 1;
	return n;
}

/* The value of f unfolded (line ends before WSP dropped), into out. */
static void
field_value(const struct field *f, struct buf *out)
{
	const char *p = f->raw.data + f->vofs;
	const char *end = f->raw.data + f->raw.len;

	buf_reset(out);
	buf_add(out, "", 0);		/* data is never NULL */
	while (p < end && is_wsp(*p))
		p++;
	while (p < end) {
		if (p + 1 < end && p[0] == '\r' && p[1] == '\n') {
			p += 2;
			continue;
		}
		buf_addch(out, *p++);
	}
	while (out->len > 0 && is_wsp(out->data[out->len - 1]))
		out->data[--out->len] = '\0';
}

/* One physical line, folded (hdr_fold_line), and its CRLF. */
static int
fold_line(const char *p, size_t len, size_t minpos, unsigned long lineno,
    struct buf *out, struct rq_err *err)
{
	if (hdr_fold_line(p, len, minpos, out) != 0)
		return rq_errf(err, EX_DATAERR, "header line %lu is longer "
		    "than %d octets and has no white space to fold it at",
		    lineno, MSG_LINE_MAX);
	buf_add(out, "\r\n", 2);
	return 0;
}

/* Fold every line of a CRLF text in place where it is too long. */
static int
fold_text(struct buf *b, size_t minpos, unsigned long lineno,
    struct rq_err *err)
{
	struct buf out;
	size_t pos, end;
	int rc = 0, need = 0;

	for (pos = 0; pos < b->len; pos = end + 2) {
		end = pos;
		while (end + 1 < b->len && !(b->data[end] == '\r' &&
		    b->data[end + 1] == '\n'))
			end++;
		if (end - pos > MSG_LINE_MAX)
			need = 1;
	}
	if (!need)
		return 0;
	buf_init(&out);
	for (pos = 0; pos < b->len && rc == 0; pos = end + 2) {
		end = pos;
		while (end + 1 < b->len && !(b->data[end] == '\r' &&
		    b->data[end + 1] == '\n'))
			end++;
		rc = fold_line(b->data + pos, end - pos,
		    pos == 0 ? minpos : 0, lineno++, &out, err);
	}
	if (rc == 0) {
		buf_free(b);
		*b = out;
	} else
		buf_free(&out);
	return rc;
}

static struct field *
field_new(struct msg *m)
{
	struct field *f;

	if (m->nf == m->fcap) {
		m->fcap = m->fcap ? m->fcap * 2 : 32;
		m->f = xreallocarray(m->f, m->fcap, sizeof(*m->f));
	}
	f = &m->f[m->nf++];
	memset(f, 0, sizeof(*f));
	return f;
}

/* Which Resent- field names may appear once per block (RFC 5322 3.6). */
static int
resent_once_bit(const struct field *f)
{
	static const char *once[] = { "Resent-Date", "Resent-From",
	    "Resent-Sender", "Resent-Message-ID" };
	size_t i;

	for (i = 0; i < RQ_ARRAY_LEN(once); i++)
		if (field_is(f, once[i]))
			return 1 << i;
	return 0;
}

static int
is_rcpt_field(const struct field *f, int resent)
{
	if (resent)
		return field_is(f, "Resent-To") || field_is(f, "Resent-Cc") ||
		    field_is(f, "Resent-Bcc");
	return field_is(f, "To") || field_is(f, "Cc") || field_is(f, "Bcc");
}

/*
 * -t: find the fields to take recipients from.  The newest Resent- block
 * is at the top (RFC 5322 3.6.6); a block is a run of Resent- fields that
 * ends at another field or where a once-per-block name repeats.  The first
 * block holding recipient fields wins; without one, To/Cc/Bcc count.
 */
static int
extract_rcpts(struct msg *m, struct rq_err *err)
{
	size_t i, j, from = 0, to = m->nf;
	int resent = 0, seen, bit, rcpt;
	struct buf v;
	int rc = 0;

	for (i = 0; i < m->nf && !resent; i = j) {
		j = i + 1;
		if (!field_is_resent(&m->f[i]))
			continue;
		seen = rcpt = 0;
		for (j = i; j < m->nf && field_is_resent(&m->f[j]); j++) {
			bit = resent_once_bit(&m->f[j]);
			if (bit & seen)
				break;
			seen |= bit;
			rcpt |= is_rcpt_field(&m->f[j], 1);
		}
		if (rcpt) {
			resent = 1;
			from = i;
			to = j;
		}
	}
	buf_init(&v);
	for (i = from; i < to && rc == 0; i++) {
		if (!is_rcpt_field(&m->f[i], resent))
			continue;
		field_value(&m->f[i], &v);
		rc = addr_parse_list(v.data, v.len, &m->rcpts, err);
		if (rc != 0)
			rq_errctx(err, "%.*s header (line %lu)",
			    (int)m->f[i].namelen, m->f[i].raw.data,
			    m->f[i].lineno);
	}
	buf_free(&v);
	return rc;
}

/* Add "Name: value" at the end, folded if it must be. */
static int
add_field(struct msg *m, const char *name, const char *value,
    struct rq_err *err)
{
	struct buf line;
	int rc;

	/* Values come from the caller; none may smuggle a line in. */
	if (strpbrk(value, "\r\n") != NULL)
		return rq_errf(err, EX_DATAERR, "the %s field to add would "
		    "hold a line break", name);
	buf_init(&line);
	buf_addf(&line, "%s: %s\r\n", name, value);
	rc = fold_text(&line, strlen(name) + 1, 0, err);
	if (rc == 0)
		buf_add(&m->added, line.data, line.len);
	buf_free(&line);
	return rc;
}

/* Look at what is there; fold; extract; remove Bcc. */
static int
headers_done(struct msg *m, struct rq_err *err)
{
	const struct msg_opts *o = m->opts;
	int rc = 0;
	struct buf v;
	size_t i;
	struct field *f;

	buf_init(&v);
	for (i = 0; i < m->nf && rc == 0; i++) {
		f = &m->f[i];
		rc = fold_text(&f->raw, f->vofs, f->lineno, err);
		if (field_is(f, "From")) {
			if (!m->has_from) {
				struct strlist l = { 0 };

				field_value(f, &v);
				if (addr_parse_list(v.data, v.len, &l,
				    NULL) == 0 && l.n > 0)
					m->hfrom = xstrdup(l.v[0]);
				strlist_free(&l);
			}
			m->has_from = 1;
		} else if (field_is(f, "Date"))
			m->has_date = 1;
		else if (field_is(f, "Message-ID"))
			m->has_msgid = 1;
		else if (field_is(f, "To") || field_is(f, "Cc"))
			m->has_to = 1;
		if (o->remove_bcc && (field_is(f, "Bcc") ||
		    field_is(f, "Resent-Bcc")))
			f->del = 1;
	}
	buf_free(&v);
	if (rc == 0 && o->extract)
		rc = extract_rcpts(m, err);
	return rc;
}

/* Fields whose value is an address list (RFC 5322 3.6.2, 3.6.3, 3.6.6). */
static int
is_address_field(const struct field *f)
{
	static const char *const names[] = {
		"From", "Sender", "Reply-To", "To", "Cc", "Bcc",
		"Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc",
		"Resent-Bcc", "Disposition-Notification-To",
	};
	size_t i;

	for (i = 0; i < RQ_ARRAY_LEN(names); i++)
		if (field_is(f, names[i]))
			return 1;
	return 0;
}

/*
 * "From: root (Cron Daemon)" is no valid address (RFC 5322 addr-spec has
 * a domain), and receivers such as Gmail refuse it: bare names in address
 * fields get the domain a bare sender gets, as Postfix's
 * append_at_myorigin does for local submissions.  The field is rewritten
 * (and folded again if it grew too long); nothing else changes.
 */
static int
qualify_fields(struct msg *m, struct rq_err *err)
{
	const char *dom = m->opts->header_domain;
	struct buf nv;
	size_t i, vlen;
	struct field *f;
	int rc = 0;

	if (dom == NULL || *dom == '\0')
		return 0;
	buf_init(&nv);
	for (i = 0; i < m->nf && rc == 0; i++) {
		f = &m->f[i];
		if (f->del || !is_address_field(f) || f->raw.len < f->vofs + 2)
			continue;
		vlen = f->raw.len - 2 - f->vofs;
		buf_reset(&nv);
		buf_add(&nv, f->raw.data, f->vofs);
		if (addr_qualify_header(f->raw.data + f->vofs, vlen, dom,
		    &nv) == 0)
			continue;
		buf_add(&nv, "\r\n", 2);
		m->hdr8 |= rq_has_8bit(dom, strlen(dom));
		buf_reset(&f->raw);
		buf_add(&f->raw, nv.data, nv.len);
		rc = fold_text(&f->raw, f->vofs, f->lineno, err);
	}
	buf_free(&nv);
	return rc;
}

/*
 * Decide the added fields, from the options as they are now (the caller
 * may learn the sender only after reading the headers).
 */
static int
headers_add(struct msg *m, struct rq_err *err)
{
	const struct msg_opts *o = m->opts;
	const char *sender = o->sender != NULL ? o->sender : "";
	struct buf v;
	size_t i;
	char date[64];
	unsigned char rnd[8];
	int rc = 0;

	buf_init(&v);
	buf_reset(&m->added);
	rc = qualify_fields(m, err);
	if (rc == 0 && sender[0] != '\0' && (o->set_from_header == HDR_ON ||
	    (o->set_from_header == HDR_AUTO && !m->has_from))) {
		/* HDR_ON: ours replaces whatever the author wrote. */
		for (i = 0; i < m->nf; i++)
			if (field_is(&m->f[i], "From"))
				m->f[i].del = 1;
		if (o->full_name != NULL && o->full_name[0] != '\0') {
			mime_encode_phrase(o->full_name, &v);
			buf_addf(&v, " <%s>", sender);
		} else
			buf_addstr(&v, sender);
		rc = add_field(m, "From", v.data, err);
	}
	if (rc == 0 && o->undisclosed != NULL && !m->has_to)
		rc = add_field(m, "To", o->undisclosed, err);
	if (rc == 0 && o->set_date_header != HDR_OFF && !m->has_date) {
		rfc5322_date(date, sizeof(date), o->now);
		rc = add_field(m, "Date", date, err);
	}
	if (rc == 0 && o->set_msgid_header != HDR_OFF && !m->has_msgid) {
		random_bytes(rnd, sizeof(rnd));
		buf_reset(&v);
		buf_addch(&v, '<');
		for (i = 0; i < sizeof(rnd); i++)
			buf_addf(&v, "%02x", rnd[i]);
		buf_addf(&v, ".%lld@%s>", (long long)o->now,
		    o->msgid_domain != NULL ? o->msgid_domain : "localhost");
		rc = add_field(m, "Message-ID", v.data, err);
	}
	m->hdr8 |= rq_has_8bit(m->added.data, m->added.len);
	buf_free(&v);
	return rc;
}

/*
 * After an error inside an SMTP DATA stream, read and discard the rest of
 * it up to the "." line, so that the caller's next read is the next
 * command and not a line of the refused message.
 */
static void
rd_drain(struct reader *r)
{
	struct buf junk;
	struct piece pc;

	if (!r->unstuff)
		return;
	buf_init(&junk);
	while (rd_piece(r, &junk, PIECE_MAX, &pc, NULL) == 1)
		buf_reset(&junk);
	buf_free(&junk);
}

int
msg_read_headers(struct input *in, const struct msg_opts *opts,
    struct msg **out, struct rq_err *err)
{
	struct msg *m;
	struct field *cur = NULL;
	struct buf line;
	struct piece pc;
	size_t namelen, vofs = 0;
	int r, rc, cont;

	*out = NULL;
	m = xcalloc(1, sizeof(*m));
	m->opts = opts;
	rd_init(&m->rd, in, opts->dot_ends, opts->unstuff);
	buf_init(&line);

	for (;;) {
		buf_reset(&line);
		r = rd_piece(&m->rd, &line, PIECE_MAX, &pc, err);
		if (r != 1) {
			rc = r;		/* 0: the end, no body */
			if (rc != 0)
				goto fail;
			break;
		}
		if (pc.len == 0 && pc.eol) {
			m->sep = 1;
			break;
		}
		cont = is_wsp(line.data[0]) && cur != NULL;
		namelen = cont ? 0 : field_name(line.data, pc.len, &vofs);
		if (!cont && namelen == 0) {
			if (pc.lineno == 1 && !opts->unstuff &&
			    pc.len >= 5 && memcmp(line.data, "From ", 5) == 0) {
				/* An mbox "From " line: dropped. */
				while (!pc.eol) {
					buf_reset(&line);
					rc = rd_piece(&m->rd, &line, PIECE_MAX,
					    &pc, err);
					if (rc < 0 || rc > 1)
						goto fail;
					if (rc == 0)
						break;
				}
				continue;
			}
			/* Not a header: the body starts here. */
			m->pushback = line;
			buf_init(&line);
			m->pb = pc;
			m->has_pb = 1;
			break;
		}
		if (!cont) {
			if (m->nf == MSG_FIELDS_MAX) {
				rc = rq_errf(err, EX_DATAERR, "the header "
				    "section has more than %d fields",
				    MSG_FIELDS_MAX);
				goto fail;
			}
			cur = field_new(m);
			cur->namelen = namelen;
			cur->vofs = vofs;
			cur->lineno = pc.lineno;
		}
		for (;;) {
			m->hdrlen += pc.len + (pc.eol ? 2 : 0);
			if (m->hdrlen > MSG_HEADER_MAX) {
				rc = rq_errf(err, EX_DATAERR, "the header "
				    "section is larger than %d octets",
				    MSG_HEADER_MAX);
				goto fail;
			}
			if (pc.nul) {
				rc = rq_errf(err, EX_DATAERR, "NUL byte in "
				    "header line %lu", pc.lineno);
				goto fail;
			}
			m->hdr8 |= pc.eightbit;
			buf_add(&cur->raw, line.data, line.len);
			if (pc.eol)
				break;
			buf_reset(&line);
			rc = rd_piece(&m->rd, &line, PIECE_MAX, &pc, err);
			if (rc < 0 || rc > 1)
				goto fail;
			if (rc == 0)
				break;	/* cannot happen: EOF adds an end */
		}
	}
	rc = headers_done(m, err);
	if (rc != 0)
		goto fail;
	buf_free(&line);
	*out = m;
	return 0;
fail:
	if (rc != EX_IOERR)
		rd_drain(&m->rd);
	buf_free(&line);
	msg_free(m);
	return rc;
}

const struct strlist *
msg_header_rcpts(const struct msg *m)
{
	return &m->rcpts;
}

const char *
msg_header_from(const struct msg *m)
{
	return m->hfrom;
}

void
msg_free(struct msg *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nf; i++)
		buf_free(&m->f[i].raw);
	free(m->f);
	buf_free(&m->added);
	buf_free(&m->pushback);
	strlist_free(&m->rcpts);
	free(m->hfrom);
	free(m);
}

/* ---- sinks: where the content goes --------------------------------------- */

struct sink;

struct sink_ops {
	/* Start a new output ("generation"); *gen is its handle. */
	int	(*open)(struct sink *, void **gen, struct rq_err *);
	int	(*write)(void *gen, const void *, size_t, struct rq_err *);
	ssize_t	(*pread)(void *gen, void *, size_t, long long off,
		    struct rq_err *);
	void	(*abort)(void *gen);
};

struct sink {
	const struct sink_ops *ops;
	void		*gen;		/* the current output */
	long long	 size;		/* octets handed to it */
	struct buf	 pend;		/* not yet handed on */
	/* the MIME scan of the first output (NULL once it stopped) */
	struct dg_scan	*scan;
	int		 scan_rc;	/* its first error */
	struct rq_err	 scan_err;
	/* queue sink */
	struct queue	*q;
	struct envelope	*env;
	int		 opened;
};

static int
sink_flush(struct sink *s, struct rq_err *err)
{
	int rc;

	if (s->pend.len == 0)
		return 0;
	if (s->scan != NULL) {
		s->scan_rc = dg_scan_feed(s->scan, s->pend.data, s->pend.len,
		    &s->scan_err);
		if (s->scan_rc != 0) {
			dg_scan_free(s->scan);
			s->scan = NULL;
		}
	}
	rc = s->ops->write(s->gen, s->pend.data, s->pend.len, err);
	if (rc != 0)
		return rc;
	s->size += (long long)s->pend.len;
	buf_reset(&s->pend);
	return 0;
}

static int
sink_put(struct sink *s, const void *p, size_t n, struct rq_err *err)
{
	buf_add(&s->pend, p, n);
	return s->pend.len >= OUT_FLUSH ? sink_flush(s, err) : 0;
}

/* Octets written to the current output, pending ones included. */
static long long
sink_pos(const struct sink *s)
{
	return s->size + (long long)s->pend.len;
}

static int
qsink_open(struct sink *s, void **gen, struct rq_err *err)
{
	struct qwriter *w;
	int rc;

	/* A second output is a new file: it needs its own ID. */
	if (s->opened)
		s->env->id[0] = '\0';
	rc = queue_writer_open(s->q, s->env, &w, err);
	if (rc != 0)
		return rc;
	s->opened = 1;
	*gen = w;
	return 0;
}

static int
qsink_write(void *gen, const void *p, size_t n, struct rq_err *err)
{
	return queue_writer_write(gen, p, n, err);
}

static ssize_t
qsink_pread(void *gen, void *p, size_t n, long long off, struct rq_err *err)
{
	return queue_writer_pread(gen, p, n, off, err);
}

static void
qsink_abort(void *gen)
{
	queue_writer_abort(gen);
}

static const struct sink_ops queue_sink_ops = {
	qsink_open, qsink_write, qsink_pread, qsink_abort,
};

struct tmpfile {
	int	fd;
};

static int
fsink_open(struct sink *s, void **gen, struct rq_err *err)
{
	struct tmpfile *t;
	const char *dir;
	char *path;
	int fd;

	dir = secure_getenv("TMPDIR");
	if (dir == NULL || dir[0] != '/')
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		/* No O_TMPFILE there: the classic way. */
		path = xasprintf("%s/relayq-msg.XXXXXX", dir);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0)
			unlink(path);
		free(path);
	}
	if (fd < 0)
		return rq_errno(err, EX_CANTCREAT, errno, "cannot create a "
		    "temporary file in %s", dir);
	t = xmalloc(sizeof(*t));
	t->fd = fd;
	*gen = t;
	return 0;
}

static int
fsink_write(void *gen, const void *p, size_t n, struct rq_err *err)
{
	struct tmpfile *t = gen;

	if (write_all(t->fd, p, n) != 0)
		return rq_errno(err, ex_from_errno(errno), errno,
		    "cannot write the temporary file");
	return 0;
}

static ssize_t
fsink_pread(void *gen, void *p, size_t n, long long off, struct rq_err *err)
{
	struct tmpfile *t = gen;
	ssize_t r;

	do
		r = pread(t->fd, p, n, (off_t)off);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		rq_errno(err, EX_IOERR, errno, "cannot read the temporary "
		    "file");
	return r;
}

static void
fsink_abort(void *gen)
{
	struct tmpfile *t = gen;

	if (t == NULL)
		return;
	close(t->fd);
	free(t);
}

static const struct sink_ops file_sink_ops = {
	fsink_open, fsink_write, fsink_pread, fsink_abort,
};

/* ---- the transformation --------------------------------------------------- */

struct emit {
	struct msg	*m;
	struct sink	*s;
	int		 sep_due;	/* the empty line is still to be written */
	int		 body8;		/* 8-bit octets in the body as written */
	int		 bad;		/* a body line over 998 octets or a NUL */
	size_t		 linelen;	/* of the current body line so far */
};

/* The header section as it goes out. */
static int
emit_headers(struct emit *e, struct rq_err *err)
{
	struct msg *m = e->m;
	struct sink *s = e->s;
	const struct field *f;
	size_t i;
	int rc;

	for (i = 0; i < m->nf; i++) {
		f = &m->f[i];
		if (f->del)
			continue;
		rc = sink_put(s, f->raw.data, f->raw.len, err);
		if (rc != 0)
			return rc;
	}
	buf_add(&s->pend, m->added.data, m->added.len);
	/*
	 * The empty line follows when there is a header or the input had
	 * one; otherwise only when a body follows (an empty input stays
	 * empty).
	 */
	e->sep_due = 1;
	if (sink_pos(s) > 0 || m->sep) {
		buf_add(&s->pend, "\r\n", 2);
		e->sep_due = 0;
	}
	return sink_flush(s, err);
}

/*
 * The scan found parts to re-encode: a second output gets the content
 * of the first through the transform (downgrade.h), then the first goes.
 */
static int
emit_rewrite(struct emit *e, const struct dg_plan *plan, struct rq_err *err)
{
	struct sink *s = e->s;
	struct content_transform tr;
	struct buf out;
	void *old = s->gen;
	long long off, end = s->size;
	char *tmp;
	ssize_t n;
	size_t want;
	int rc;

	s->gen = NULL;
	s->size = 0;
	rc = s->ops->open(s, &s->gen, err);
	if (rc != 0) {
		s->gen = old;
		return rc;
	}
	dg_transform(plan, &tr);
	buf_init(&out);
	tmp = xmalloc(OUT_FLUSH);
	e->body8 = 0;
	for (off = 0; off < end && rc == 0; off += n) {
		want = end - off < OUT_FLUSH ? (size_t)(end - off) : OUT_FLUSH;
		n = s->ops->pread(old, tmp, want, off, err);
		if (n <= 0) {
			if (n == 0)
				rq_errf(err, EX_IOERR, "the spooled message is "
				    "shorter than written");
			rc = err->ex != EX_OK ? err->ex : EX_IOERR;
			break;
		}
		buf_reset(&out);
		rc = tr.feed(tr.arg, tmp, (size_t)n, &out, err);
		if (rc == 0 && off + n >= end)
			rc = tr.end(tr.arg, &out, err);
		e->body8 |= rq_has_8bit(out.data, out.len);
		if (rc == 0)
			rc = sink_put(s, out.data, out.len, err);
	}
	if (rc == 0 && end == 0) {
		buf_reset(&out);
		rc = tr.end(tr.arg, &out, err);
		if (rc == 0)
			rc = sink_put(s, out.data, out.len, err);
	}
	if (rc == 0)
		rc = sink_flush(s, err);
	tr.free(tr.arg);
	free(tmp);
	buf_free(&out);
	s->ops->abort(old);
	return rc;
}

/* One piece of a body line: noted and written as it is. */
static int
emit_piece(struct emit *e, const char *data, size_t n, const struct piece *pc,
    struct rq_err *err)
{
	struct sink *s = e->s;

	if (pc->first)
		e->linelen = 0;
	e->linelen += pc->len;
	if (e->linelen > MSG_LINE_MAX || pc->nul)
		e->bad = 1;
	if (e->sep_due) {
		buf_add(&s->pend, "\r\n", 2);
		e->sep_due = 0;
	}
	e->body8 |= pc->eightbit;
	buf_add(&s->pend, data, n);
	return s->pend.len >= OUT_FLUSH ? sink_flush(s, err) : 0;
}

/*
 * After the first output: is it fit for the queue as it is?  When a
 * body line was too long or held a NUL, the scan's plan re-encodes the
 * parts concerned, or its reason refuses the message.  (A scan error
 * without such a line, e.g. past the walker's part limit, does not
 * matter: there is nothing to re-encode.)
 */
static int
emit_fix(struct emit *e, struct rq_err *err)
{
	struct sink *s = e->s;
	struct dg_plan *plan = NULL;
	int rc = s->scan_rc;

	if (s->scan != NULL) {
		rc = dg_scan_end(s->scan, &plan, &s->scan_err);
		s->scan = NULL;
	}
	if (!e->bad) {
		dg_plan_free(plan);
		return 0;
	}
	if (rc != 0) {
		rq_errf(err, EX_DATAERR, "%s", s->scan_err.msg);
		return EX_DATAERR;
	}
	rc = dg_plan_changes(plan) ? emit_rewrite(e, plan, err) : 0;
	dg_plan_free(plan);
	return rc;
}

static int
envelope_is_utf8(const struct envelope *env)
{
	size_t i;

	if (env->sender != NULL && addr_is_utf8(env->sender))
		return 1;
	for (i = 0; i < env->rcpts.n; i++)
		if (addr_is_utf8(env->rcpts.v[i]))
			return 1;
	return 0;
}

/*
 * The whole pipeline into s.  On success s->gen holds the content
 * (flushed) and env is updated; on error every output is gone.
 */
static int
emit(struct msg *m, struct sink *s, struct envelope *env, struct rq_err *err)
{
	struct emit e;
	struct buf piece;
	struct piece pc;
	int rc, r;

	if (m->used)
		return rq_errf(err, EX_SOFTWARE, "the message was already "
		    "written");
	m->used = 1;
	memset(&e, 0, sizeof(e));
	e.m = m;
	e.s = s;
	buf_init(&piece);
	rc = headers_add(m, err);
	if (rc != 0)
		goto out;
	rc = s->ops->open(s, &s->gen, err);
	if (rc != 0) {
		s->gen = NULL;
		goto out;
	}
	s->scan = dg_scan_new(0);
	rc = emit_headers(&e, err);
	if (rc == 0 && m->has_pb)
		rc = emit_piece(&e, m->pushback.data, m->pushback.len, &m->pb,
		    err);
	while (rc == 0) {
		buf_reset(&piece);
		r = rd_piece(&m->rd, &piece, PIECE_MAX, &pc, err);
		if (r == 0)
			break;
		if (r != 1) {
			rc = r;
			break;
		}
		rc = emit_piece(&e, piece.data, piece.len, &pc, err);
	}
	if (rc == 0)
		rc = sink_flush(s, err);
	if (rc == 0)
		rc = emit_fix(&e, err);
	if (rc == 0 && env != NULL) {
		env->size = s->size;
		env->eightbit = m->hdr8 || e.body8;
		env->smtputf8 = m->hdr8 || envelope_is_utf8(env);
	}
out:
	if (rc != 0 && rc != EX_IOERR)
		rd_drain(&m->rd);
	buf_free(&piece);
	buf_free(&s->pend);
	dg_scan_free(s->scan);
	s->scan = NULL;
	if (rc != 0 && s->gen != NULL) {
		s->ops->abort(s->gen);
		s->gen = NULL;
	}
	return rc;
}

int
msg_spool(struct msg *m, struct queue *q, struct envelope *env,
    struct qwriter **w, struct rq_err *err)
{
	struct sink s;
	int rc;

	*w = NULL;
	memset(&s, 0, sizeof(s));
	s.ops = &queue_sink_ops;
	s.q = q;
	s.env = env;
	rc = emit(m, &s, env, err);
	if (rc == 0)
		*w = s.gen;
	return rc;
}

int
msg_write_fd(struct msg *m, int fd, struct envelope *env, struct rq_err *err)
{
	struct sink s;
	struct tmpfile *t;
	char *tmp;
	long long off;
	ssize_t n;
	int rc;

	memset(&s, 0, sizeof(s));
	s.ops = &file_sink_ops;
	rc = emit(m, &s, env, err);
	if (rc != 0)
		return rc;
	t = s.gen;
	tmp = xmalloc(OUT_FLUSH);
	for (off = 0; off < s.size && rc == 0; off += n) {
		n = fsink_pread(t, tmp, OUT_FLUSH, off, err);
		if (n <= 0) {
			rc = n < 0 ? err->ex : rq_errf(err, EX_IOERR,
			    "the temporary file is shorter than written");
			break;
		}
		if (write_all(fd, tmp, (size_t)n) != 0)
			rc = rq_errno(err, EX_IOERR, errno, "cannot write "
			    "the message");
	}
	free(tmp);
	fsink_abort(t);
	return rc;
}
