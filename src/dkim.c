/*
 * relayq -- DKIM (dkim.h): the configuration values, canonicalisation and
 * the body hash; the signer is dkimsign.c.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * RFC 6376 sections 3.4 (canonicalisation), 3.5 (the tags), 3.7 (the
 * hashes), 5.4 (which fields to sign); RFC 8301 (rsa-sha256, at least
 * 1024 bits); RFC 8463 (ed25519-sha256: PureEdDSA over the SHA-256 of the
 * header data, and p= as the raw public key).
 *
 * The crypto is GnuTLS's, and nothing here is hand-written: SHA-256
 * (gnutls_hash) and base64 (gnutls_base64_encode2) here, through the
 * table of gtls.h, because relayq, which makes the body hash while it
 * writes a message, loads GnuTLS only when an account signs; the private
 * key (gnutls_privkey_*), RSASSA-PKCS1-v1_5 and Ed25519
 * (gnutls_privkey_sign_*) and the public key for the TXT record
 * (gnutls_pubkey_export*) in dkimsign.c, which only relayq-flush links.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkim.h"
#include "dkimint.h"
#include "gtls.h"

#define SHA256_LEN	DKIM_SHA256_LEN
#define BH_B64_LEN	44		/* base64 of 32 octets */
#define OBUF_SIZE	(16 * 1024)	/* canonical body octets per hash call */
#define HNAME_MAX	100		/* one field name in dkim_headers */
#define HLIST_MAX	64		/* names in dkim_headers */

/*
 * RFC 6376 section 5.4.1's list, plus Message-ID, the MIME fields and
 * List-Unsubscribe-Post (RFC 8058 section 4 wants it signed).  The '+'
 * fields are those a message has at most once (RFC 5322 section 3.6, RFC
 * 2045): oversigned, a copy with one added fails, so that nobody can
 * replay a signed message with a Subject or Reply-To of their choosing.
 * Resent-* and List-* fields are signed when present but not oversigned:
 * resending and mailing lists add them.  Sender is left out, as the RFC
 * does: lists rewrite it.
 */
static const char default_headers[] =
    "+from:+reply-to:+subject:+date:+to:+cc:+message-id:+in-reply-to:"
    "+references:+mime-version:+content-type:+content-transfer-encoding:"
    "resent-date:resent-from:resent-to:resent-cc:list-id:list-help:"
    "list-unsubscribe:list-unsubscribe-post:list-subscribe:list-post:"
    "list-owner:list-archive";

/* ---- small helpers ------------------------------------------------------ */

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* base64 of n octets at p, allocated with malloc; NULL if GnuTLS fails. */
char *
dkim_b64(const void *p, size_t n)
{
	const struct gtls_fns *g = gtls_fns();
	gnutls_datum_t in, out = { NULL, 0 };
	char *s;

	if (g == NULL)
		return NULL;
	in.data = (unsigned char *)(uintptr_t)p;
	in.size = (unsigned)n;
	if (g->base64_encode2(&in, &out) < 0)
		return NULL;
	s = xstrndup((const char *)out.data, out.size);
	g->free(out.data);
	return s;
}

/* ---- configuration values ----------------------------------------------- */

const char *
dkim_canon_name(enum dkim_canon c)
{
	return c == DKIM_CANON_SIMPLE ? "simple" : "relaxed";
}

static int
canon_word(const char *s, size_t n, enum dkim_canon *out)
{
	if (n == 6 && rq_strncasecmp(s, "simple", 6) == 0)
		*out = DKIM_CANON_SIMPLE;
	else if (n == 7 && rq_strncasecmp(s, "relaxed", 7) == 0)
		*out = DKIM_CANON_RELAXED;
	else
		return -1;
	return 0;
}

int
dkim_parse_canon(const char *s, enum dkim_canon *hdr, enum dkim_canon *body)
{
	const char *slash = strchr(s, '/');

	if (slash == NULL) {
		*body = DKIM_CANON_SIMPLE;
		return canon_word(s, strlen(s), hdr);
	}
	if (canon_word(s, (size_t)(slash - s), hdr) != 0)
		return -1;
	return canon_word(slash + 1, strlen(slash + 1), body);
}

const char *
dkim_default_headers(void)
{
	return default_headers;
}

void
dkim_hnames_free(struct dkim_hname *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(h[i].name);
	free(h);
}

static int
is_sep(int c)
{
	return c == ':' || c == ',' || is_wsp(c);
}

/* ftext (RFC 5322 section 3.6.8) without the separators we accept. */
static int
is_fname(int c)
{
	return c > 0x20 && c < 0x7f && c != ':' && c != ',';
}

int
dkim_parse_headers(const char *list, struct dkim_hname **out, size_t *nout,
    const char **why)
{
	struct dkim_hname *h = xcalloc(HLIST_MAX, sizeof(*h));
	const char *p = list, *start;
	size_t n = 0, k, len;
	int over, from = 0;

	*why = NULL;
	for (;;) {
		while (is_sep((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		over = *p == '+';
		if (over)
			p++;
		start = p;
		while (is_fname((unsigned char)*p))
			p++;
		len = (size_t)(p - start);
		if (len == 0 || (*p != '\0' && !is_sep((unsigned char)*p))) {
			*why = "not a list of header field names separated "
			    "by ':'";
			goto fail;
		}
		if (len > HNAME_MAX) {
			*why = "a field name is too long";
			goto fail;
		}
		if (n == HLIST_MAX) {
			*why = "more than 64 field names";
			goto fail;
		}
		h[n].name = xstrndup(start, len);
		for (char *c = h[n].name; *c != '\0'; c++)
			*c = (char)rq_tolower((unsigned char)*c);
		h[n].over = over;
		for (k = 0; k < n; k++)
			if (strcmp(h[k].name, h[n].name) == 0) {
				*why = "a field name is listed twice";
				n++;
				goto fail;
			}
		if (strcmp(h[n].name, "from") == 0)
			from = 1;
		if (strcmp(h[n].name, "dkim-signature") == 0) {
			*why = "DKIM-Signature cannot be signed by itself";
			n++;
			goto fail;
		}
		n++;
	}
	if (!from) {
		/* RFC 6376 section 5.4: From MUST be signed. */
		*why = "From must be in the list (RFC 6376 section 5.4)";
		goto fail;
	}
	*out = h;
	*nout = n;
	return 0;
fail:
	dkim_hnames_free(h, n);
	return -1;
}

int
dkim_check_headers(const char *list, const char **why)
{
	struct dkim_hname *h;
	size_t n;

	if (dkim_parse_headers(list, &h, &n, why) != 0)
		return -1;
	dkim_hnames_free(h, n);
	return 0;
}

int
dkim_check_selector(const char *s)
{
	size_t label = 0, total = 0;

	for (; *s != '\0'; s++, total++) {
		unsigned char c = (unsigned char)*s;

		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return -1;
		if (++label > 63)
			return -1;
	}
	return total > 0 && total <= 200 && label > 0 ? 0 : -1;
}

/* ---- the body hash (RFC 6376 sections 3.4.3, 3.4.4, 3.7) ---------------- */

struct dkim_bh {
	const struct gtls_fns	*g;
	gnutls_hash_hd_t	 h;
	enum dkim_canon		 canon;
	int			 in_headers;	/* skipping the header section */
	int			 hline;		/* this header line has octets */
	int			 cr;		/* a CR, its LF not yet seen */
	int			 content;	/* this body line has content */
	int			 wsp;		/* relaxed: WSP not yet written */
	int			 wrote;		/* any canonical octet */
	unsigned long long	 empty;		/* empty lines held back */
	struct buf		*tap;
	size_t			 olen;
	char			 out[OBUF_SIZE];
};

struct dkim_bh *
dkim_bh_new(enum dkim_canon canon, int skip_headers)
{
	struct dkim_bh *bh = xcalloc(1, sizeof(*bh));

	/* Without GnuTLS, no hash: the flush makes one (dkim.h). */
	if ((bh->g = gtls_fns()) == NULL ||
	    bh->g->hash_init(&bh->h, GNUTLS_DIG_SHA256) < 0) {
		free(bh);
		return NULL;
	}
	bh->canon = canon == DKIM_CANON_SIMPLE ? DKIM_CANON_SIMPLE :
	    DKIM_CANON_RELAXED;
	bh->in_headers = skip_headers;
	return bh;
}

void
dkim_bh_tap(struct dkim_bh *bh, struct buf *copy)
{
	bh->tap = copy;
}

static void
bh_flush(struct dkim_bh *bh)
{
	if (bh->olen > 0)
		(void)bh->g->hash(bh->h, bh->out, bh->olen);
	bh->olen = 0;
}

static void
bh_put(struct dkim_bh *bh, const void *p, size_t n)
{
	if (bh->tap != NULL)
		buf_add(bh->tap, p, n);
	bh->wrote = 1;
	if (n >= OBUF_SIZE) {
		bh_flush(bh);
		(void)bh->g->hash(bh->h, p, n);
		return;
	}
	if (bh->olen + n > OBUF_SIZE)
		bh_flush(bh);
	memcpy(bh->out + bh->olen, p, n);
	bh->olen += n;
}

/* A line ended (CRLF, LF or a lone CR, as on the wire). */
static void
bh_eol(struct dkim_bh *bh)
{
	if (bh->in_headers) {
		if (!bh->hline)
			bh->in_headers = 0;	/* the empty line */
		bh->hline = 0;
		return;
	}
	/* Empty lines wait: at the end of the body they are dropped. */
	if (bh->content)
		bh_put(bh, "\r\n", 2);
	else
		bh->empty++;
	bh->content = 0;
	bh->wsp = 0;
}

void
dkim_bh_feed(struct dkim_bh *bh, const void *in, size_t n)
{
	const unsigned char *p = in;
	int relaxed = bh->canon == DKIM_CANON_RELAXED;
	size_t i = 0, run;

	while (i < n) {
		unsigned char c = p[i];

		if (bh->cr) {
			bh->cr = 0;
			bh_eol(bh);
			if (c == '\n') {
				i++;
				continue;
			}
		}
		if (c == '\r') {
			bh->cr = 1;
			i++;
			continue;
		}
		if (c == '\n') {
			bh_eol(bh);
			i++;
			continue;
		}
		if (bh->in_headers) {
			bh->hline = 1;
			for (i++; i < n && p[i] != '\r' && p[i] != '\n'; i++)
				;
			continue;
		}
		if (relaxed && is_wsp(c)) {
			/* A run of WSP becomes one SP, none at the end. */
			bh->wsp = 1;
			i++;
			continue;
		}
		if (!bh->content) {
			/* Content: the empty lines before it stay. */
			for (; bh->empty > 0; bh->empty--)
				bh_put(bh, "\r\n", 2);
			bh->content = 1;
		}
		if (bh->wsp) {
			bh_put(bh, " ", 1);
			bh->wsp = 0;
		}
		for (run = i + 1; run < n && p[run] != '\r' && p[run] != '\n' &&
		    !(relaxed && is_wsp(p[run])); run++)
			;
		bh_put(bh, p + i, run - i);
		i = run;
	}
}

static void
bh_digest(struct dkim_bh *bh, unsigned char dig[SHA256_LEN])
{
	if (bh->cr) {
		bh->cr = 0;
		bh_eol(bh);
	}
	/* A last line without its end gets one (so does the wire). */
	if (!bh->in_headers && bh->content)
		bh_put(bh, "\r\n", 2);
	/* simple: an empty body is one CRLF; relaxed: nothing. */
	if (bh->canon == DKIM_CANON_SIMPLE && !bh->wrote)
		bh_put(bh, "\r\n", 2);
	bh_flush(bh);
	bh->g->hash_deinit(bh->h, dig);
	bh->h = NULL;
}

void
dkim_bh_end(struct dkim_bh *bh, char out[DKIM_BH_MAX])
{
	unsigned char dig[SHA256_LEN];
	char *s;

	bh_digest(bh, dig);
	s = dkim_b64(dig, sizeof(dig));
	out[0] = '\0';
	if (s != NULL && strlen(s) == BH_B64_LEN)
		(void)snprintf(out, DKIM_BH_MAX, "%s:%s",
		    dkim_canon_name(bh->canon), s);
	free(s);
	free(bh);
}

void
dkim_bh_free(struct dkim_bh *bh)
{
	if (bh == NULL)
		return;
	if (bh->h != NULL)
		bh->g->hash_deinit(bh->h, NULL);
	free(bh);
}

int
dkim_bh_valid(const char *s)
{
	enum dkim_canon c;
	const char *colon = strchr(s, ':');
	size_t i;

	if (colon == NULL || canon_word(s, (size_t)(colon - s), &c) != 0)
		return 0;
	s = colon + 1;
	if (strlen(s) != BH_B64_LEN || s[BH_B64_LEN - 1] != '=')
		return 0;
	for (i = 0; i < BH_B64_LEN - 1; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '+' || ch == '/'))
			return 0;
	}
	return 1;
}

/* ---- one header field (RFC 6376 sections 3.4.1, 3.4.2) ------------------ */

void
dkim_canon_field(enum dkim_canon canon, const char *f, size_t n,
    struct buf *out)
{
	const char *colon, *e, *p, *end;
	int sp = 0, started = 0;

	if (n >= 2 && f[n - 2] == '\r' && f[n - 1] == '\n')
		n -= 2;
	if (canon == DKIM_CANON_SIMPLE) {
		buf_add(out, f, n);
		buf_add(out, "\r\n", 2);
		return;
	}
	end = f + n;
	colon = memchr(f, ':', n);
	e = colon != NULL ? colon : end;
	/* The name in lower case, without WSP before the colon. */
	while (e > f && is_wsp((unsigned char)e[-1]))
		e--;
	for (p = f; p < e; p++)
		buf_addch(out, (char)rq_tolower((unsigned char)*p));
	if (colon != NULL) {
		buf_addch(out, ':');
		/* Unfolded; WSP runs as one SP; none at either end. */
		for (p = colon + 1; p < end; p++) {
			unsigned char c = (unsigned char)*p;

			if (c == '\r' || c == '\n')
				continue;
			if (is_wsp(c)) {
				sp = 1;
				continue;
			}
			if (sp && started)
				buf_addch(out, ' ');
			sp = 0;
			started = 1;
			buf_addch(out, (char)c);
		}
	}
	buf_add(out, "\r\n", 2);
}
