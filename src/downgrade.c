/*
 * relayq -- make a message's content fit the path it takes (downgrade.h).
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What each part gets (the scan decides, the transform does):
 *
 *	part				needs*		becomes
 *	text (any subtype), identity	yes		quoted-printable (base64
 *							when it holds a NUL)
 *	message/delivery-status		yes		the same
 *	other message/ leaf		yes		refused (RFC 2046 5.2)
 *	any other leaf, identity	yes		base64
 *	quoted-printable		yes		soft line breaks added,
 *							NUL and (7-bit) 8-bit
 *							octets escaped
 *	base64				yes		re-wrapped at 76, octets
 *							outside the alphabet dropped
 *	other encodings (x-uuencode)	yes		refused
 *	identity labelled 8bit/binary	no, 7-bit path	labelled 7bit
 *	multipart, message/rfc822	-		their parts as above;
 *							label 7bit on a 7-bit path
 *	preamble, epilogue		yes		refused (no encoding
 *							exists for them)
 *	header field, 8-bit		7-bit path	hdrenc_field()
 *	header field, line > 998	-		folded (hdr_fold)
 *
 * (*) needs: a line over 998 octets, a NUL, or, for a 7-bit path, an
 * octet >= 0x80.  "Identity" is no Content-Transfer-Encoding, 7bit, 8bit
 * or binary.  A re-encoded leaf loses its Content-Transfer-Encoding
 * fields and gets one new one at the end of its header section (and a
 * Content-Type when it had none, and the message a MIME-Version when it
 * had none).  A leaf inside a multipart that never closes is not
 * re-encoded (where it ends is a guess): the message is refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "downgrade.h"
#include "hdrenc.h"
#include "mime.h"
#include "mimewalk.h"

#define LINE_MAX_OCTETS	998
#define B64_LINE	76
#define CHUNK		(64 * 1024)

enum act {
	A_KEEP = 0,
	A_QP,			/* identity -> quoted-printable */
	A_B64,			/* identity -> base64 */
	A_QPFIX,		/* quoted-printable made valid */
	A_B64WRAP,		/* base64 made valid */
	A_LABEL7,		/* the label says 7bit now */
};

enum cs {
	CS_NONE = 0,		/* no Content-Type added */
	CS_UTF8,
	CS_UNKNOWN,
};

static const char *const cte_line[] = {
	NULL,
	"Content-Transfer-Encoding: quoted-printable\r\n",
	"Content-Transfer-Encoding: base64\r\n",
	NULL,
	NULL,
	"Content-Transfer-Encoding: 7bit\r\n",
};
static const char *const ct_line[] = {
	NULL,
	"Content-Type: text/plain; charset=utf-8\r\n",
	"Content-Type: text/plain; charset=unknown-8bit\r\n",
};
static const char mimever_line[] = "MIME-Version: 1.0\r\n";

struct dg_part {
	unsigned char	 act;
	unsigned char	 cs;
};

struct dg_plan {
	unsigned	 flags;
	unsigned	 nparts;
	struct dg_part	*part;
	int		 changes;
	int		 add_mimever;
	long long	 size;
};

/* ---- shared by both passes -------------------------------------------------- */

/* Longest physical line of a field (line ends not counted). */
static size_t
longest(const char *p, size_t n)
{
	size_t i, len = 0, max = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (len > 0 && p[i - 1] == '\r')
				len--;
			if (len > max)
				max = len;
			len = 0;
			continue;
		}
		len++;
	}
	if (len > max)
		max = len;
	return max;
}

/* Must part's header fields be ASCII on this path? */
static int
fields_ascii(unsigned flags, const struct mw_part *p)
{
	return (flags & DG_7BIT) || ((flags & DG_HDR_ASCII) && p->index == 0);
}

static int
replaces_cte(int act)
{
	return act == A_QP || act == A_B64 || act == A_LABEL7;
}

/* "the message" or "part 3 (text/plain)", for reasons. */
static void
part_name(const struct mw_part *p, char *out, size_t n)
{
	if (p->index == 0)
		(void)snprintf(out, n, "the message");
	else if (p->type[0] == '\0')
		(void)snprintf(out, n, "part %u", p->index);
	else
		(void)snprintf(out, n, "part %u (%s)", p->index, p->type);
}

/*
 * What one header field becomes: 0 and *out untouched (keep), 1 (drop),
 * 2 (*out holds the new field), or an EX_ code.  drop_cte: the part's
 * Content-Transfer-Encoding is being replaced.
 */
static int
field_act(unsigned flags, const struct mw_part *p, int drop_cte,
    const char *f, size_t n, struct buf *out, struct rq_err *err)
{
	char who[MW_TYPE_MAX + 32], old[RQ_ERR_MSG];
	int rc;

	if (drop_cte && mw_field_is(f, n, "Content-Transfer-Encoding"))
		return 1;
	if (memchr(f, '\0', n) != NULL) {
		part_name(p, who, sizeof(who));
		return rq_errf(err, EX_DATAERR, "%sa header field of %s holds "
		    "a NUL byte", flags ? "5.6.3 " : "", who);
	}
	if (fields_ascii(flags, p) && rq_has_8bit(f, n)) {
		rc = hdrenc_field(f, n, out, err);
		if (rc != 0 && p->index != 0 && err != NULL) {
			rq_strlcpy(old, err->msg, sizeof(old));
			part_name(p, who, sizeof(who));
			rq_errf(err, rc, "%s (in %s)", old, who);
		}
		return rc != 0 ? rc : 2;
	}
	if (longest(f, n) > LINE_MAX_OCTETS) {
		rc = hdr_fold(f, n, out, err);
		if (rc != 0 && flags && err != NULL) {
			rq_strlcpy(old, err->msg, sizeof(old));
			rq_errf(err, rc, "5.6.3 %s", old);
		}
		return rc != 0 ? rc : 2;
	}
	return 0;
}

static int
cte_class(const char *cte)
{
	if (cte[0] == '\0' || strcmp(cte, "7bit") == 0 ||
	    strcmp(cte, "8bit") == 0 || strcmp(cte, "binary") == 0)
		return 0;
	if (strcmp(cte, "quoted-printable") == 0)
		return 1;
	if (strcmp(cte, "base64") == 0)
		return 2;
	return 3;
}

/* ---- UTF-8 validity, streaming ----------------------------------------------- */

struct u8 {
	unsigned char	need, lo, hi;
	int		bad;
};

static void
u8_feed(struct u8 *u, const unsigned char *p, size_t n)
{
	size_t i;
	unsigned char c;

	for (i = 0; i < n && !u->bad; i++) {
		c = p[i];
		if (u->need > 0) {
			if (c < u->lo || c > u->hi) {
				u->bad = 1;
				break;
			}
			u->need--;
			u->lo = 0x80;
			u->hi = 0xbf;
			continue;
		}
		if (c < 0x80)
			continue;
		u->lo = 0x80;
		u->hi = 0xbf;
		if (c < 0xc2)
			u->bad = 1;
		else if (c < 0xe0)
			u->need = 1;
		else if (c < 0xf0) {
			u->need = 2;
			if (c == 0xe0)
				u->lo = 0xa0;
			if (c == 0xed)
				u->hi = 0x9f;
		} else if (c < 0xf5) {
			u->need = 3;
			if (c == 0xf0)
				u->lo = 0x90;
			if (c == 0xf4)
				u->hi = 0x8f;
		} else
			u->bad = 1;
	}
}

/* ---- pass 1: the scan ------------------------------------------------------------ */

/* Per open part. */
struct sframe {
	unsigned	 index;
	int		 valid;
	int		 msg_nosep;	/* message/rfc822 without an empty line:
					   its child's header follows at once */
	int		 recoded_inside; /* a leaf below gets a new body */
	long long	 cte_bytes;	/* its CTE fields as they would go */
};

/* The leaf being read. */
struct leafst {
	long long	 n, lines, cur;	/* octets, line ends, current line */
	long long	 nul, eight, eq;	/* counts of NUL, 8-bit, "=" */
	int		 lastcr, longline;
	struct u8	 u;
	/* quoted-printable size bound, per line (see qp_bound_line) */
	long long	 qline, qtotal;
	int		 qbol, qlastws, qcr;
};

struct dg_scan {
	unsigned	 flags;
	struct mimewalk	*w;
	struct dg_plan	*plan;
	struct sframe	 st[MW_DEPTH_MAX + 2];	/* by depth */
	struct leafst	 leaf;
	long long	 in;		/* octets fed */
	long long	 delta;		/* size change so far */
	long long	 rawcur;	/* line length in preamble/epilogue */
	int		 done;
	struct buf	 tmp;
};

static struct dg_part *
plan_part(struct dg_plan *pl, unsigned index)
{
	if (index >= pl->nparts) {
		unsigned n = index + 64;

		pl->part = xreallocarray(pl->part, n, sizeof(*pl->part));
		memset(pl->part + pl->nparts, 0,
		    (n - pl->nparts) * sizeof(*pl->part));
		pl->nparts = n;
	}
	return &pl->part[index];
}

static int
s_field(void *arg, const struct mw_part *p, const char *f, size_t n,
    int flags, struct rq_err *err)
{
	struct dg_scan *s = arg;
	char who[MW_TYPE_MAX + 32];
	int rc;

	if (s->done)
		return 0;
	if (flags != (MW_FIELD_FIRST | MW_FIELD_LAST)) {
		/* A piece of a field too long to keep: it must do as is. */
		if ((flags & MW_FIELD_FIRST) &&
		    mw_field_is(f, n, "Content-Transfer-Encoding"))
			goto toolong;
		if (memchr(f, '\0', n) != NULL ||
		    longest(f, n) > LINE_MAX_OCTETS ||
		    (fields_ascii(s->flags, p) && rq_has_8bit(f, n)))
			goto toolong;
		return 0;
	}
	buf_reset(&s->tmp);
	rc = field_act(s->flags, p, 0, f, n, &s->tmp, err);
	if (rc > 2)
		return rc;
	if (mw_field_is(f, n, "Content-Transfer-Encoding"))
		s->st[p->depth].cte_bytes += rc == 2 ? (long long)s->tmp.len :
		    (long long)n;
	if (rc == 2) {
		s->delta += (long long)s->tmp.len - (long long)n;
		s->plan->changes = 1;
	}
	return 0;
toolong:
	part_name(p, who, sizeof(who));
	return rq_errf(err, EX_DATAERR, "%sa header field of %s is longer "
	    "than %d octets and would need rewriting", s->flags ? "5.6.3 " :
	    "", who, MW_FIELD_MAX);
}

static int
s_hend(void *arg, const struct mw_part *p, struct rq_err *err)
{
	struct dg_scan *s = arg;

	(void)err;
	if (p->index == 0 && s->flags == DG_HDR_ASCII)
		s->done = 1;
	memset(&s->leaf, 0, sizeof(s->leaf));
	s->leaf.qbol = 1;
	return 0;
}

/* A quoted-printable line of base cost b: its bound, soft breaks included. */
static long long
qp_bound_line(long long b)
{
	/*
	 * A soft-broken line carries at least 73 octets before its "=";
	 * the octet after a break may need escaping (2 more): at most
	 * b / 71 + 1 breaks of 3 octets each, plus 2 each for escapes.
	 */
	return b + (b > 75 ? 5 * (b / 71 + 1) : 0);
}

static void
leaf_stats(struct dg_scan *s, const struct mw_part *p, const unsigned char *d,
    size_t n)
{
	struct leafst *l = &s->leaf;
	const unsigned char *q = d, *end = d + n, *lf;
	long long len;
	size_t i;

	l->n += (long long)n;
	while ((lf = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		len = l->cur + (lf - q);
		if ((lf > q && lf[-1] == '\r') || (lf == q && l->lastcr))
			len--;
		if (len > LINE_MAX_OCTETS)
			l->longline = 1;
		l->lines++;
		l->cur = 0;
		q = lf + 1;
	}
	l->cur += end - q;
	if (l->cur > LINE_MAX_OCTETS + 1)
		l->longline = 1;
	if (n > 0)
		l->lastcr = d[n - 1] == '\r';
	for (q = d; (q = memchr(q, '\0', (size_t)(end - q))) != NULL; q++)
		l->nul++;
	/* Only existing quoted-printable can have an "=" that becomes =3D. */
	if (cte_class(p->cte) == 1)
		for (q = d; (q = memchr(q, '=', (size_t)(end - q))) != NULL;
		    q++)
			l->eq++;
	/* The charset of a Content-Type relayq adds (none there yet). */
	if (!p->has_ct)
		u8_feed(&l->u, d, n);
	if (!(s->flags & DG_7BIT))
		return;
	for (i = 0; i < n; i++) {
		unsigned char c = d[i];

		/* Most octets: printable, mid-line, nothing pending. */
		if (c > ' ' && c < 0x7f && c != '=' && !l->qbol && !l->qcr) {
			l->qline++;
			l->qlastws = 0;
			continue;
		}
		if (c >= 0x80)
			l->eight++;
		if (c == '\n') {
			l->qtotal += qp_bound_line(l->qline +
			    (l->qlastws ? 2 : 0)) + 2;
			l->qline = 0;
			l->qbol = 1;
			l->qlastws = 0;
			l->qcr = 0;
			continue;
		}
		if (l->qcr) {
			/* A CR not before LF is =0D. */
			l->qline += 3;
			l->qcr = 0;
		}
		if (c == '\r') {
			l->qcr = 1;
			continue;
		}
		if (c == '=' || c >= 0x7f || (c < 0x20 && c != '\t') ||
		    (l->qbol && (c == '.' || c == 'F' || c == '-')))
			l->qline += 3;
		else
			l->qline += 1;
		l->qlastws = c == ' ' || c == '\t';
		l->qbol = 0;
	}
}

static int
s_body(void *arg, const struct mw_part *p, const char *b, size_t n,
    struct rq_err *err)
{
	struct dg_scan *s = arg;

	(void)err;
	if (!s->done)
		leaf_stats(s, p, (const unsigned char *)b, n);
	return 0;
}

static int
s_raw(void *arg, const struct mw_part *p, enum mw_raw what, const char *b,
    size_t n, struct rq_err *err)
{
	struct dg_scan *s = arg;
	static const char *const where[] = { "header section", "preamble",
	    "boundary line", "epilogue" };
	char who[MW_TYPE_MAX + 32];
	const char *lf, *q = b, *end = b + n;
	const char *why = NULL;

	if (s->done)
		return 0;
	if (what == MW_SEP || what == MW_DELIM)
		s->rawcur = 0;
	while ((lf = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		if (s->rawcur + (lf - q) > LINE_MAX_OCTETS + 1)
			why = "a line longer than 998 octets";
		s->rawcur = 0;
		q = lf + 1;
	}
	s->rawcur += end - q;
	if (s->rawcur > LINE_MAX_OCTETS + 1)
		why = "a line longer than 998 octets";
	if (memchr(b, '\0', n) != NULL)
		why = "a NUL byte";
	else if ((s->flags & DG_7BIT) && rq_has_8bit(b, n))
		why = "8-bit octets";
	if (why == NULL)
		return 0;
	part_name(p, who, sizeof(who));
	if (s->flags)
		return rq_errf(err, EX_DATAERR, "5.6.3 the %s of %s holds %s, "
		    "which cannot be converted for a server without "
		    "8BITMIME", where[what], who, why);
	return rq_errf(err, EX_DATAERR, "the %s of %s holds %s, which "
	    "cannot be re-encoded", where[what], who, why);
}

/* Decide a leaf's fate at its end. */
static int
leaf_decide(struct dg_scan *s, const struct mw_part *p, struct dg_part *dp,
    struct rq_err *err)
{
	struct leafst *l = &s->leaf;
	char who[MW_TYPE_MAX + 32];
	long long len = l->cur - (l->lastcr ? 1 : 0), enc;
	int longline = l->longline || len > LINE_MAX_OCTETS;
	int sevenbit = (s->flags & DG_7BIT) != 0;
	int needs = longline || l->nul > 0 || (sevenbit && l->eight > 0);
	int cls = cte_class(p->cte);
	const char *why, *refuse = NULL;

	if (!needs) {
		if (sevenbit && (strcmp(p->cte, "8bit") == 0 ||
		    strcmp(p->cte, "binary") == 0))
			dp->act = A_LABEL7;
		return 0;
	}
	why = l->nul > 0 ? "a NUL byte" : longline ?
	    "a line longer than 998 octets" : "8-bit octets";
	if (p->too_deep)
		refuse = "it is nested deeper than the MIME walker follows";
	else if (p->type[0] == '\0')
		refuse = "its Content-Type field is too long to read";
	else if (p->no_boundary)
		refuse = "it is multipart without a boundary parameter";
	else if (cls == 3)
		refuse = "its transfer encoding is not one relayq can "
		    "re-encode";
	else if (cls == 1)
		dp->act = A_QPFIX;
	else if (cls == 2)
		dp->act = A_B64WRAP;
	else if (strncmp(p->type, "text/", 5) == 0 ||
	    strcmp(p->type, "message/delivery-status") == 0)
		dp->act = l->nul > 0 ? A_B64 : A_QP;
	else if (strncmp(p->type, "message/", 8) == 0)
		refuse = "a message type other than message/rfc822 may not be "
		    "encoded (RFC 2046 5.2)";
	else
		dp->act = A_B64;
	if (refuse != NULL) {
		part_name(p, who, sizeof(who));
		if (s->flags)
			return rq_errf(err, EX_DATAERR, "5.6.3 %s holds %s "
			    "and cannot be converted for a server without "
			    "8BITMIME: %s", who, why, refuse);
		return rq_errf(err, EX_DATAERR, "%s holds %s and cannot be "
		    "re-encoded: %s", who, why, refuse);
	}
	if ((dp->act == A_QP || dp->act == A_B64) && !p->has_ct &&
	    strcmp(p->type, "text/plain") == 0)
		dp->cs = l->u.bad || l->u.need ? CS_UNKNOWN : CS_UTF8;
	/* The size bound. */
	switch (dp->act) {
	case A_QP:
		enc = l->qtotal + qp_bound_line(l->qline +
		    (l->qlastws ? 2 : 0)) + (l->qcr ? 3 : 0);
		if (!sevenbit)		/* not counted: any bound will do */
			enc = 3 * l->n + 3 * (l->n / 70 + l->lines + 1);
		break;
	case A_B64:
		enc = (l->n + 2) / 3 * 4;
		enc += 2 * (enc / B64_LINE + 1);
		break;
	case A_QPFIX:
		/*
		 * Escapes first (any "=" may be one that becomes =3D); then
		 * a soft break ("=" CRLF, and "-" after it escaped: 5
		 * octets) for each 73 octets of that output at most, since a
		 * line is broken only past column 72.
		 */
		enc = l->n + 2 * (l->nul + l->eight + l->eq);
		enc += 5 * (enc / 73 + 1);
		break;
	default:	/* A_B64WRAP */
		enc = l->n + 2 * (l->n / B64_LINE + 1);
		break;
	}
	s->delta += enc - l->n;
	return 0;
}

static int
s_end(void *arg, const struct mw_part *p, struct rq_err *err)
{
	struct dg_scan *s = arg;
	struct sframe *f = &s->st[p->depth];
	struct dg_part *dp;
	char who[MW_TYPE_MAX + 32];
	int rc;

	if (s->done)
		return 0;
	dp = plan_part(s->plan, p->index);
	if (p->kind == MW_LEAF) {
		rc = leaf_decide(s, p, dp, err);
		if (rc != 0)
			return rc;
		if (dp->act != A_KEEP && dp->act != A_LABEL7)
			f->recoded_inside = 1;
	} else {
		if (p->kind == MW_MULTIPART && !p->closed &&
		    f->recoded_inside) {
			part_name(p, who, sizeof(who));
			return rq_errf(err, EX_DATAERR, "%s%s never reaches "
			    "its closing boundary, and a part inside it "
			    "would need re-encoding", s->flags ? "5.6.3 " :
			    "", who);
		}
		if ((s->flags & DG_7BIT) && (strcmp(p->cte, "8bit") == 0 ||
		    strcmp(p->cte, "binary") == 0))
			dp->act = A_LABEL7;
	}
	if (dp->act != A_KEEP) {
		s->plan->changes = 1;
		if (replaces_cte(dp->act)) {
			s->delta += (long long)strlen(cte_line[dp->act]) -
			    f->cte_bytes;
			if (dp->cs != CS_NONE)
				s->delta += (long long)strlen(ct_line[dp->cs]);
			if (!p->sep)
				s->delta += 2;
			/* See r_hend: the message around gets one too. */
			if (!p->sep && p->depth > 0 &&
			    s->st[p->depth - 1].msg_nosep)
				s->delta += 2;
		}
		if (dp->act == A_QP || dp->act == A_B64)
			s->plan->add_mimever = 1;
	}
	if (p->index == 0 && s->plan->add_mimever && !p->has_mimever)
		s->delta += (long long)strlen(mimever_line);
	f->valid = 0;
	if (p->depth > 0 && f->recoded_inside)
		s->st[p->depth - 1].recoded_inside = 1;
	return 0;
}

/* The first event of a part opens its frame. */
static void
s_track(struct dg_scan *s, const struct mw_part *p)
{
	struct sframe *f = &s->st[p->depth];

	if (f->valid && f->index == p->index)
		return;
	memset(f, 0, sizeof(*f));
	f->valid = 1;
	f->index = p->index;
}

static int
t_field(void *arg, const struct mw_part *p, const char *f, size_t n,
    int flags, struct rq_err *err)
{
	s_track(arg, p);
	return s_field(arg, p, f, n, flags, err);
}

static int
t_hend(void *arg, const struct mw_part *p, struct rq_err *err)
{
	struct dg_scan *s = arg;

	s_track(s, p);
	s->st[p->depth].msg_nosep = p->kind == MW_MESSAGE && !p->sep;
	return s_hend(arg, p, err);
}

static const struct mw_ops scan_ops = {
	t_field, t_hend, s_body, s_raw, s_end,
};

struct dg_scan *
dg_scan_new(unsigned flags)
{
	struct dg_scan *s = xcalloc(1, sizeof(*s));

	if (flags & DG_7BIT)
		flags |= DG_HDR_ASCII;
	s->flags = flags;
	s->plan = xcalloc(1, sizeof(*s->plan));
	s->plan->flags = flags;
	s->w = mw_new(&scan_ops, s);
	buf_init(&s->tmp);
	return s;
}

/*
 * For the flush, every reason starts with an enhanced status code: the
 * walker's own (more parts than it follows) gets 5.6.3.
 */
static int
scan_err(const struct dg_scan *s, int rc, struct rq_err *err)
{
	char old[RQ_ERR_MSG];

	if (rc == 0 || s->flags == 0 || err == NULL ||
	    (err->msg[0] >= '2' && err->msg[0] <= '5' && err->msg[1] == '.'))
		return rc;
	rq_strlcpy(old, err->msg, sizeof(old));
	return rq_errf(err, rc, "5.6.3 %s, which cannot be converted for a "
	    "server without 8BITMIME", old);
}

int
dg_scan_feed(struct dg_scan *s, const void *p, size_t n, struct rq_err *err)
{
	s->in += (long long)n;
	if (s->done)
		return 0;
	return scan_err(s, mw_feed(s->w, p, n, err), err);
}

int
dg_scan_done(const struct dg_scan *s)
{
	return s->done;
}

int
dg_scan_end(struct dg_scan *s, struct dg_plan **out, struct rq_err *err)
{
	int rc = 0;

	*out = NULL;
	if (!s->done)
		rc = scan_err(s, mw_end(s->w, err), err);
	if (rc == 0) {
		s->plan->size = s->in + s->delta;
		*out = s->plan;
		s->plan = NULL;
	}
	dg_scan_free(s);
	return rc;
}

void
dg_scan_free(struct dg_scan *s)
{
	if (s == NULL)
		return;
	mw_free(s->w);
	dg_plan_free(s->plan);
	buf_free(&s->tmp);
	free(s);
}

int
dg_plan_changes(const struct dg_plan *pl)
{
	return pl->changes;
}

long long
dg_plan_size(const struct dg_plan *pl)
{
	return pl->size;
}

void
dg_plan_free(struct dg_plan *pl)
{
	if (pl == NULL)
		return;
	free(pl->part);
	free(pl);
}

/* ---- pass 2: the transform ----------------------------------------------------------- */

struct rw {
	unsigned	 flags;
	unsigned	 nparts;
	struct dg_part	*part;
	int		 add_mimever;
	struct mimewalk	*w;
	struct buf	*out;		/* where feed() appends */
	int		 bypass;	/* header done: copy the rest */
	/* the leaf being encoded */
	int		 act;
	struct qp_enc	 qp;
	unsigned char	 b3[3];
	size_t		 b3n;
	size_t		 col;
	unsigned char	 qpend;		/* quoted-printable: the digit after "=" */
	int		 qpn;		/* how much waits: 1 "=", 2 "=X" */
	struct buf	 tmp;
};

static const struct dg_part *
rw_part(const struct rw *r, unsigned index)
{
	static const struct dg_part keep = { A_KEEP, CS_NONE };

	return index < r->nparts ? &r->part[index] : &keep;
}

static int
r_field(void *arg, const struct mw_part *p, const char *f, size_t n,
    int flags, struct rq_err *err)
{
	struct rw *r = arg;
	int rc;

	if (r->bypass || flags != (MW_FIELD_FIRST | MW_FIELD_LAST)) {
		buf_add(r->out, f, n);
		return 0;
	}
	buf_reset(&r->tmp);
	rc = field_act(r->flags, p, replaces_cte(rw_part(r, p->index)->act),
	    f, n, &r->tmp, err);
	if (rc == 0)
		buf_add(r->out, f, n);
	else if (rc == 2)
		buf_add(r->out, r->tmp.data, r->tmp.len);
	return rc > 2 ? rc : 0;
}

static int
r_hend(void *arg, const struct mw_part *p, struct rq_err *err)
{
	struct rw *r = arg;
	const struct dg_part *dp = rw_part(r, p->index);

	(void)err;
	if (r->bypass)
		return 0;
	r->act = p->kind == MW_LEAF ? dp->act : A_KEEP;
	if (replaces_cte(dp->act)) {
		if (dp->cs != CS_NONE)
			buf_addstr(r->out, ct_line[dp->cs]);
		buf_addstr(r->out, cte_line[dp->act]);
	}
	if (p->index == 0 && r->add_mimever && !p->has_mimever)
		buf_addstr(r->out, mimever_line);
	if (replaces_cte(dp->act) && !p->sep)
		buf_add(r->out, "\r\n", 2);
	/*
	 * A message/rfc822 part whose content had no header section (and
	 * so no empty line after the part's own fields): when its content
	 * gets fields now, they must not join the part's.
	 */
	if (p->kind == MW_MESSAGE && !p->sep &&
	    replaces_cte(rw_part(r, p->index + 1)->act))
		buf_add(r->out, "\r\n", 2);
	qp_init(&r->qp);
	r->b3n = 0;
	r->col = 0;
	r->qpn = 0;
	if (p->index == 0 && r->flags == DG_HDR_ASCII)
		r->bypass = 1;
	return 0;
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char hexd[] = "0123456789ABCDEF";

static void
b64_group(struct rw *r, const unsigned char *g, size_t k)
{
	char q[4];

	if (r->col + 4 > B64_LINE) {
		buf_add(r->out, "\r\n", 2);
		r->col = 0;
	}
	q[0] = b64chars[g[0] >> 2];
	q[1] = b64chars[((g[0] & 3) << 4) | (k > 1 ? g[1] >> 4 : 0)];
	q[2] = k > 1 ? b64chars[((g[1] & 15) << 2) | (k > 2 ? g[2] >> 6 : 0)] :
	    '=';
	q[3] = k > 2 ? b64chars[g[2] & 63] : '=';
	buf_add(r->out, q, 4);
	r->col += 4;
}

static void
b64_feed(struct rw *r, const unsigned char *d, size_t n)
{
	size_t i = 0;

	while (r->b3n > 0 && r->b3n < 3 && i < n)
		r->b3[r->b3n++] = d[i++];
	if (r->b3n == 3) {
		b64_group(r, r->b3, 3);
		r->b3n = 0;
	}
	for (; i + 3 <= n; i += 3)
		b64_group(r, d + i, 3);
	while (i < n)
		r->b3[r->b3n++] = d[i++];
}

/* Existing base64, valid again: lines of at most 76, no stray octets. */
static void
b64wrap_feed(struct rw *r, const unsigned char *d, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = d[i];

		if (c == '\n' || c == '\r') {
			buf_addch(r->out, (char)c);
			if (c == '\n')
				r->col = 0;
			continue;
		}
		/*
		 * RFC 2045 6.8: decoders ignore anything outside the
		 * alphabet; dropping it also means no new line can start
		 * with "--" and pass for a delimiter.
		 */
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '='))
			continue;
		if (r->col == B64_LINE) {
			buf_add(r->out, "\r\n", 2);
			r->col = 0;
		}
		buf_addch(r->out, (char)c);
		r->col++;
	}
}

/*
 * One unit of quoted-printable out (an octet, or an =XX that must stay
 * whole), after a soft break when the line would pass 75 octets.
 */
static void
qpfix_put(struct rw *r, const char *u, size_t k)
{
	if (r->col + k > 75) {
		buf_add(r->out, "=\r\n", 3);
		r->col = 0;
		/* A new line must not start a delimiter. */
		if (k == 1 && u[0] == '-') {
			u = "=2D";
			k = 3;
		}
	}
	buf_add(r->out, u, k);
	r->col += k;
}

/* One octet of content, escaped where it must be. */
static void
qpfix_octet(struct rw *r, unsigned char c)
{
	char e[3];

	if (c == '=' || c == '\0' || ((r->flags & DG_7BIT) && c >= 0x80)) {
		e[0] = '=';
		e[1] = hexd[c >> 4];
		e[2] = hexd[c & 15];
		qpfix_put(r, e, 3);
	} else
		qpfix_put(r, (const char *)&c, 1);
}

/*
 * Existing quoted-printable, valid again.  An "=" begins an escape only
 * before two hex digits, and a soft break before a line end; any other
 * "=" is content (as lenient decoders read it, RFC 2045 6.7 note 1) and
 * becomes =3D.  The "=" and up to one digit wait in r->qpend until the
 * next octet decides, which may come in the next piece.
 */
static void
qpfix_feed(struct rw *r, const unsigned char *d, size_t n)
{
	size_t i;
	char e[3];

	for (i = 0; i < n; i++) {
		unsigned char c = d[i];

		if (r->qpn == 2 && rq_hexval(c) >= 0) {
			e[0] = '=';
			e[1] = (char)r->qpend;
			e[2] = (char)c;
			qpfix_put(r, e, 3);
			r->qpn = 0;
			continue;
		}
		if (r->qpn == 1 && rq_hexval(c) >= 0) {
			r->qpend = c;
			r->qpn = 2;
			continue;
		}
		if (r->qpn == 1 && (c == '\r' || c == '\n')) {
			/* A soft break as it was: never split from its end. */
			buf_addch(r->out, '=');
			r->col++;
			r->qpn = 0;
		}
		if (r->qpn > 0) {
			qpfix_octet(r, '=');
			if (r->qpn == 2)
				qpfix_octet(r, r->qpend);
			r->qpn = 0;
		}
		if (c == '\n' || c == '\r') {
			buf_addch(r->out, (char)c);
			if (c == '\n')
				r->col = 0;
		} else if (c == '=')
			r->qpn = 1;
		else
			qpfix_octet(r, c);
	}
}

/* The part ends: an "=" last is a soft break, "=X" is content. */
static void
qpfix_finish(struct rw *r)
{
	if (r->qpn == 1)
		buf_addch(r->out, '=');
	else if (r->qpn == 2) {
		qpfix_octet(r, '=');
		qpfix_octet(r, r->qpend);
	}
	r->qpn = 0;
}

static int
r_body(void *arg, const struct mw_part *p, const char *b, size_t n,
    struct rq_err *err)
{
	struct rw *r = arg;
	const unsigned char *d = (const unsigned char *)b;

	(void)p;
	(void)err;
	switch (r->act) {
	case A_QP:
		qp_feed(&r->qp, d, n, r->out);
		break;
	case A_B64:
		b64_feed(r, d, n);
		break;
	case A_B64WRAP:
		b64wrap_feed(r, d, n);
		break;
	case A_QPFIX:
		qpfix_feed(r, d, n);
		break;
	default:
		buf_add(r->out, b, n);
		break;
	}
	return 0;
}

static int
r_raw(void *arg, const struct mw_part *p, enum mw_raw what, const char *b,
    size_t n, struct rq_err *err)
{
	struct rw *r = arg;

	(void)p;
	(void)what;
	(void)err;
	buf_add(r->out, b, n);
	return 0;
}

static int
r_end(void *arg, const struct mw_part *p, struct rq_err *err)
{
	struct rw *r = arg;

	(void)err;
	if (p->kind != MW_LEAF)
		return 0;
	if (r->act == A_QP)
		qp_finish(&r->qp, r->out);
	else if (r->act == A_QPFIX)
		qpfix_finish(r);
	else if (r->act == A_B64) {
		if (r->b3n > 0)
			b64_group(r, r->b3, r->b3n);
		r->b3n = 0;
		/* Before a delimiter, its line end ends the last line. */
		if (!p->end_delim && r->col > 0)
			buf_add(r->out, "\r\n", 2);
	}
	r->act = A_KEEP;
	return 0;
}

static const struct mw_ops rw_ops = {
	r_field, r_hend, r_body, r_raw, r_end,
};

static int
tr_feed(void *arg, const char *in, size_t n, struct buf *out,
    struct rq_err *err)
{
	struct rw *r = arg;
	int rc;

	if (r->bypass && mw_clean(r->w)) {
		buf_add(out, in, n);
		return 0;
	}
	r->out = out;
	rc = mw_feed(r->w, in, n, err);
	r->out = NULL;
	return rc;
}

static int
tr_end(void *arg, struct buf *out, struct rq_err *err)
{
	struct rw *r = arg;
	int rc;

	if (r->bypass && mw_clean(r->w))
		return 0;
	r->out = out;
	rc = mw_end(r->w, err);
	r->out = NULL;
	return rc;
}

static void
tr_free(void *arg)
{
	struct rw *r = arg;

	if (r == NULL)
		return;
	mw_free(r->w);
	free(r->part);
	buf_free(&r->tmp);
	free(r);
}

void
dg_transform(const struct dg_plan *pl, struct content_transform *tr)
{
	struct rw *r = xcalloc(1, sizeof(*r));

	r->flags = pl->flags;
	r->nparts = pl->nparts;
	if (pl->nparts > 0) {
		r->part = xreallocarray(NULL, pl->nparts, sizeof(*r->part));
		memcpy(r->part, pl->part, pl->nparts * sizeof(*r->part));
	}
	r->add_mimever = pl->add_mimever;
	r->w = mw_new(&rw_ops, r);
	buf_init(&r->tmp);
	tr->feed = tr_feed;
	tr->end = tr_end;
	tr->free = tr_free;
	tr->arg = r;
}

/* ---- for the flush --------------------------------------------------------------------- */

unsigned
downgrade_flags(const struct envelope *env, int has_8bitmime,
    int has_smtputf8)
{
	unsigned f = 0;

	if (env->eightbit && !has_8bitmime)
		f |= DG_7BIT | DG_HDR_ASCII;
	/* smtputf8 is set for UTF-8 in the header (or the envelope). */
	if (env->smtputf8 && !has_smtputf8)
		f |= DG_HDR_ASCII;
	return f;
}

int
downgrade_plan(struct qmsg *m, unsigned flags, struct dg_plan **out,
    struct rq_err *err)
{
	struct dg_scan *s = dg_scan_new(flags);
	char *buf = xmalloc(CHUNK);
	long long off = m->data_off, left = m->env.size;
	ssize_t got;
	size_t want;
	int rc = 0;

	*out = NULL;
	while (left > 0 && !dg_scan_done(s)) {
		want = left > CHUNK ? CHUNK : (size_t)left;
		do
			got = pread(m->fd, buf, want, (off_t)off);
		while (got < 0 && errno == EINTR);
		if (got <= 0) {
			rc = got < 0 ? rq_errno(err, EX_IOERR, errno, "reading "
			    "queued message %s", m->env.id) : rq_errf(err,
			    EX_IOERR, "queued message %s is shorter than its "
			    "recorded size", m->env.id);
			break;
		}
		rc = dg_scan_feed(s, buf, (size_t)got, err);
		if (rc != 0)
			break;
		off += got;
		left -= got;
	}
	free(buf);
	if (rc != 0) {
		dg_scan_free(s);
		return rc;
	}
	/* What was not read counts as it is. */
	s->in += left;
	return dg_scan_end(s, out, err);
}
