/*
 * relayq -- the DKIM signer (dkim.h): the key, the signature field, and
 * the TXT record to publish.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * See dkim.c for the RFCs.  The crypto is GnuTLS's, linked (only
 * relayq-flush signs): the private key (gnutls_privkey_*), SHA-256
 * (gnutls_hash), RSASSA-PKCS1-v1_5 and Ed25519 (gnutls_privkey_sign_*),
 * base64 (gnutls_base64_encode2, through dkim_b64), the public key for
 * the TXT record (gnutls_pubkey_export*).
 *
 * A signature (RFC 6376 section 3.7):
 *	bh = SHA-256(canonical body)
 *	data = canonical(each field named in h=, in h= order, each name
 *	       taking the next instance from the bottom; a name with no
 *	       instance left adds nothing) + canonical(our DKIM-Signature
 *	       field with an empty b=, without its final CRLF)
 *	b = rsa-sha256: RSASSA-PKCS1-v1_5(SHA-256(data))
 *	    ed25519-sha256: Ed25519(SHA-256(data))
 * The field is written with b= last, so that "b=" is the end of the text
 * hashed, and a verifier that deletes b='s value (with the white space
 * folded into it) gets back exactly what we hashed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "dkim.h"
#include "dkimint.h"
#include "idn.h"

#define SHA256_LEN	DKIM_SHA256_LEN
#define KEY_FILE_MAX	(64 * 1024)
#define FOLD_COL	76		/* fold the signature field before this */

static const char selftest_text[] = "relayq DKIM key self-test\r\n";

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static void
datum_free(gnutls_datum_t *d)
{
	if (d->data != NULL)
		gnutls_free(d->data);
	d->data = NULL;
	d->size = 0;
}

/* ---- the signer --------------------------------------------------------- */

struct dkim_signer {
	gnutls_privkey_t	 key;
	gnutls_pubkey_t		 pub;
	int			 ed25519;
	unsigned		 bits;
	char			*domain;	/* A-label */
	char			*selector;
	char			*headers;	/* as configured, or default */
	struct dkim_hname	*h;
	size_t			 nh;
	enum dkim_canon		 hcanon, bcanon;
	long long		 expire;
};

/* The key file's bytes in *data (to be wiped); EX_CONFIG naming it. */
static int
read_key_file(const char *path, struct buf *data, struct rq_err *err)
{
	struct stat st;
	ssize_t got;
	int fd, ex = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return rq_errno(err, EX_CONFIG, errno, "dkim_key %s", path);
	if (fstat(fd, &st) != 0) {
		ex = rq_errno(err, EX_CONFIG, errno, "dkim_key %s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ex = rq_errf(err, EX_CONFIG, "dkim_key %s: not a regular file",
		    path);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		ex = rq_errf(err, EX_CONFIG, "dkim_key %s: owned by uid %lu, "
		    "not by the user who signs (uid %lu)", path,
		    (unsigned long)st.st_uid, (unsigned long)geteuid());
		goto out;
	}
	if (st.st_mode & 077) {
		ex = rq_errf(err, EX_CONFIG, "dkim_key %s: a private key "
		    "readable or writable by others (mode %03o); chmod 600 it",
		    path, (unsigned)(st.st_mode & 0777));
		goto out;
	}
	if (st.st_size > KEY_FILE_MAX) {
		ex = rq_errf(err, EX_CONFIG, "dkim_key %s: too large for a "
		    "private key", path);
		goto out;
	}
	data->cap = (size_t)st.st_size + 1;
	data->data = xmalloc(data->cap);
	got = read_full(fd, data->data, (size_t)st.st_size);
	if (got < 0) {
		ex = rq_errno(err, EX_CONFIG, errno, "dkim_key %s", path);
		goto out;
	}
	data->len = (size_t)got;
	data->data[data->len] = '\0';
out:
	close(fd);
	return ex;
}

static int
load_key(struct dkim_signer *s, const char *path, struct rq_err *err)
{
	struct buf data = { 0 };
	gnutls_datum_t d;
	int rc, alg;

	rc = read_key_file(path, &data, err);
	if (rc != 0)
		goto out;
	if (gnutls_privkey_init(&s->key) < 0 ||
	    gnutls_pubkey_init(&s->pub) < 0) {
		rc = rq_errf(err, EX_CONFIG, "dkim_key %s: GnuTLS cannot "
		    "allocate a key", path);
		goto out;
	}
	d.data = (unsigned char *)data.data;
	d.size = (unsigned)data.len;
	rc = gnutls_privkey_import_x509_raw(s->key, &d, GNUTLS_X509_FMT_PEM,
	    NULL, 0);
	if (rc < 0) {
		rc = rq_errf(err, EX_CONFIG, "dkim_key %s: not an unencrypted "
		    "PEM private key (%s)", path, gnutls_strerror(rc));
		goto out;
	}
	alg = gnutls_privkey_get_pk_algorithm(s->key, &s->bits);
	if (alg == GNUTLS_PK_EDDSA_ED25519) {
		s->ed25519 = 1;
	} else if (alg == GNUTLS_PK_RSA) {
		if (s->bits < DKIM_RSA_MIN_BITS) {
			rc = rq_errf(err, EX_CONFIG, "dkim_key %s: an RSA key "
			    "of %u bits; verifiers ignore signatures by keys "
			    "under %d bits (RFC 8301), make one of 2048",
			    path, s->bits, DKIM_RSA_MIN_BITS);
			goto out;
		}
	} else {
		rc = rq_errf(err, EX_CONFIG, "dkim_key %s: a %s key; DKIM "
		    "signs with RSA (rsa-sha256) or Ed25519 (ed25519-sha256)",
		    path, gnutls_pk_get_name((gnutls_pk_algorithm_t)alg));
		goto out;
	}
	rc = gnutls_pubkey_import_privkey(s->pub, s->key, 0, 0);
	if (rc < 0) {
		rc = rq_errf(err, EX_CONFIG, "dkim_key %s: no public key from "
		    "it (%s)", path, gnutls_strerror(rc));
		goto out;
	}
	rc = 0;
out:
	buf_wipe(&data);
	return rc;
}

int
dkim_signer_new(const struct dkim_signer_params *p, struct dkim_signer **out,
    struct rq_err *err)
{
	struct dkim_signer *s;
	struct rq_err e;
	const char *why;
	int rc;

	*out = NULL;
	if (p->domain == NULL || p->selector == NULL || p->key_file == NULL)
		return rq_errf(err, EX_CONFIG, "dkim_domain, dkim_selector and "
		    "dkim_key must be set together");
	s = xcalloc(1, sizeof(*s));
	if (idn_domain_to_ascii(p->domain, &s->domain, &e) != 0) {
		rc = rq_errf(err, EX_CONFIG, "dkim_domain %s: %s", p->domain,
		    e.msg);
		goto fail;
	}
	if (dkim_check_selector(p->selector) != 0) {
		rc = rq_errf(err, EX_CONFIG, "dkim_selector %s: not a "
		    "selector", p->selector);
		goto fail;
	}
	s->selector = xstrdup(p->selector);
	s->headers = xstrdup(p->headers != NULL ? p->headers :
	    dkim_default_headers());
	if (dkim_parse_headers(s->headers, &s->h, &s->nh, &why) != 0) {
		rc = rq_errf(err, EX_CONFIG, "dkim_headers: %s", why);
		goto fail;
	}
	s->hcanon = p->hcanon == DKIM_CANON_SIMPLE ? DKIM_CANON_SIMPLE :
	    DKIM_CANON_RELAXED;
	s->bcanon = p->bcanon == DKIM_CANON_SIMPLE ? DKIM_CANON_SIMPLE :
	    DKIM_CANON_RELAXED;
	s->expire = p->expire > 0 ? p->expire : 0;
	rc = load_key(s, p->key_file, err);
	if (rc != 0)
		goto fail;
	*out = s;
	return 0;
fail:
	dkim_signer_free(s);
	return rc;
}

void
dkim_signer_free(struct dkim_signer *s)
{
	if (s == NULL)
		return;
	if (s->key != NULL)
		gnutls_privkey_deinit(s->key);
	if (s->pub != NULL)
		gnutls_pubkey_deinit(s->pub);
	free(s->domain);
	free(s->selector);
	free(s->headers);
	if (s->h != NULL)
		dkim_hnames_free(s->h, s->nh);
	free(s);
}

const char *
dkim_signer_domain(const struct dkim_signer *s)
{
	return s->domain;
}

const char *
dkim_signer_selector(const struct dkim_signer *s)
{
	return s->selector;
}

const char *
dkim_signer_algorithm(const struct dkim_signer *s)
{
	return s->ed25519 ? "ed25519-sha256" : "rsa-sha256";
}

unsigned
dkim_signer_bits(const struct dkim_signer *s)
{
	return s->bits;
}

enum dkim_canon
dkim_signer_body_canon(const struct dkim_signer *s)
{
	return s->bcanon;
}

const char *
dkim_signer_headers(const struct dkim_signer *s)
{
	return s->headers;
}

int
dkim_signer_txt(const struct dkim_signer *s, char **name, char **value,
    struct rq_err *err)
{
	gnutls_datum_t der = { NULL, 0 }, x = { NULL, 0 }, y = { NULL, 0 };
	gnutls_ecc_curve_t curve;
	char *p = NULL;
	int rc;

	*name = *value = NULL;
	if (s->ed25519) {
		/* RFC 8463 section 4.2: the raw key, not an SPKI. */
		rc = gnutls_pubkey_export_ecc_raw2(s->pub, &curve, &x, &y, 0);
		if (rc >= 0 && x.size == 32)
			p = dkim_b64(x.data, x.size);
	} else {
		rc = gnutls_pubkey_export2(s->pub, GNUTLS_X509_FMT_DER, &der);
		if (rc >= 0)
			p = dkim_b64(der.data, der.size);
	}
	datum_free(&der);
	datum_free(&x);
	datum_free(&y);
	if (p == NULL)
		return rq_errf(err, EX_SOFTWARE, "cannot export the DKIM "
		    "public key%s%s", rc < 0 ? ": " : "",
		    rc < 0 ? gnutls_strerror(rc) : "");
	*name = xasprintf("%s._domainkey.%s", s->selector, s->domain);
	*value = xasprintf("v=DKIM1; k=%s; p=%s", s->ed25519 ? "ed25519" :
	    "rsa", p);
	free(p);
	return 0;
}

static int
sign_digest(const struct dkim_signer *s, const unsigned char *dig,
    gnutls_datum_t *sig)
{
	gnutls_datum_t d;

	d.data = (unsigned char *)(uintptr_t)dig;
	d.size = SHA256_LEN;
	if (s->ed25519)
		return gnutls_privkey_sign_data2(s->key,
		    GNUTLS_SIGN_EDDSA_ED25519, 0, &d, sig);
	return gnutls_privkey_sign_hash2(s->key, GNUTLS_SIGN_RSA_SHA256, 0,
	    &d, sig);
}

static int
verify_digest(const struct dkim_signer *s, const unsigned char *dig,
    const gnutls_datum_t *sig)
{
	gnutls_datum_t d;

	d.data = (unsigned char *)(uintptr_t)dig;
	d.size = SHA256_LEN;
	if (s->ed25519)
		return gnutls_pubkey_verify_data2(s->pub,
		    GNUTLS_SIGN_EDDSA_ED25519, 0, &d, sig);
	return gnutls_pubkey_verify_hash2(s->pub, GNUTLS_SIGN_RSA_SHA256, 0,
	    &d, sig);
}

/* base64 of the signature of dig. */
static int
sign_b64(const struct dkim_signer *s, const unsigned char *dig, char **out,
    struct rq_err *err)
{
	gnutls_datum_t sig = { NULL, 0 };
	int rc;

	*out = NULL;
	rc = sign_digest(s, dig, &sig);
	if (rc >= 0)
		*out = dkim_b64(sig.data, sig.size);
	datum_free(&sig);
	if (*out == NULL)
		return rq_errf(err, EX_SOFTWARE, "DKIM signing failed: %s",
		    rc < 0 ? gnutls_strerror(rc) : "base64");
	return 0;
}

int
dkim_sign_data(const struct dkim_signer *s, const void *data, size_t n,
    char **out, struct rq_err *err)
{
	unsigned char dig[SHA256_LEN];

	*out = NULL;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data, n, dig) < 0)
		return rq_errf(err, EX_SOFTWARE, "SHA-256 failed");
	return sign_b64(s, dig, out, err);
}

int
dkim_signer_selftest(const struct dkim_signer *s, struct rq_err *err)
{
	unsigned char dig[SHA256_LEN];
	gnutls_datum_t sig = { NULL, 0 };
	int rc;

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, selftest_text,
	    sizeof(selftest_text) - 1, dig) < 0)
		return rq_errf(err, EX_CONFIG, "SHA-256 failed");
	rc = sign_digest(s, dig, &sig);
	if (rc < 0)
		return rq_errf(err, EX_CONFIG, "the DKIM key cannot sign: %s",
		    gnutls_strerror(rc));
	rc = verify_digest(s, dig, &sig);
	datum_free(&sig);
	if (rc < 0)
		return rq_errf(err, EX_CONFIG, "a signature by the DKIM key "
		    "does not verify with its public key: %s",
		    gnutls_strerror(rc));
	return 0;
}

/* ---- one message -------------------------------------------------------- */

struct field {
	size_t	off, len;	/* in hdr, with the final CRLF */
	size_t	nlen;		/* the name, without WSP before ':' */
	int	used;		/* taken by an h= entry */
};

struct dkim_msg {
	const struct dkim_signer *s;
	struct dkim_bh		*bh;		/* NULL: known[] applies */
	char			 known[DKIM_BH_MAX];
	struct buf		 hdr;		/* header lines, CRLF-ended */
	size_t			 linelen;	/* of the current header line */
	int			 cr;
	int			 hdone;		/* the header section is read */
	int			 ours;		/* already signed with our d= */
	struct field		*f;
	size_t			 nf, fcap;
};

struct dkim_msg *
dkim_msg_new(const struct dkim_signer *s, const char *known_bh)
{
	struct dkim_msg *dm = xcalloc(1, sizeof(*dm));
	size_t k;

	dm->s = s;
	k = strlen(dkim_canon_name(s->bcanon));
	if (known_bh != NULL && dkim_bh_valid(known_bh) &&
	    strncmp(known_bh, dkim_canon_name(s->bcanon), k) == 0 &&
	    known_bh[k] == ':')
		rq_strlcpy(dm->known, known_bh, sizeof(dm->known));
	else
		dm->bh = dkim_bh_new(s->bcanon, 1);
	return dm;
}

void
dkim_msg_free(struct dkim_msg *dm)
{
	if (dm == NULL)
		return;
	dkim_bh_free(dm->bh);
	buf_free(&dm->hdr);
	free(dm->f);
	free(dm);
}

static int
same_name(const char *a, size_t alen, const char *b)
{
	return alen == strlen(b) && rq_strncasecmp(a, b, alen) == 0;
}

/*
 * The value of tag t in a tag-list (RFC 6376 section 3.2), FWS trimmed,
 * as [*v, *v + *vlen); 0 when found.
 */
static int
tag_value(const char *p, const char *end, const char *t, const char **v,
    size_t *vlen)
{
	const char *ts, *te, *vs, *ve;

	while (p < end) {
		while (p < end && (is_wsp((unsigned char)*p) || *p == '\r' ||
		    *p == '\n'))
			p++;
		ts = p;
		while (p < end && *p != '=' && *p != ';')
			p++;
		te = p;
		while (te > ts && (is_wsp((unsigned char)te[-1]) ||
		    te[-1] == '\r' || te[-1] == '\n'))
			te--;
		if (p == end || *p == ';') {
			p++;
			continue;
		}
		vs = ++p;
		while (p < end && *p != ';')
			p++;
		ve = p;
		p++;
		while (vs < ve && (is_wsp((unsigned char)*vs) || *vs == '\r' ||
		    *vs == '\n'))
			vs++;
		while (ve > vs && (is_wsp((unsigned char)ve[-1]) ||
		    ve[-1] == '\r' || ve[-1] == '\n'))
			ve--;
		if (same_name(ts, (size_t)(te - ts), t)) {
			*v = vs;
			*vlen = (size_t)(ve - vs);
			return 0;
		}
	}
	return -1;
}

/* The header section is complete: split it into fields. */
static int
split_fields(struct dkim_msg *dm, struct rq_err *err)
{
	const char *h = dm->hdr.data, *colon, *d;
	size_t off = 0, e, dlen;

	dm->nf = 0;
	while (off < dm->hdr.len) {
		/* A line, up to its CRLF: header_feed ends every line so. */
		e = off;
		while (e + 1 < dm->hdr.len && !(h[e] == '\r' && h[e + 1] == '\n'))
			e++;
		e = e + 2 <= dm->hdr.len ? e + 2 : dm->hdr.len;
		if (is_wsp((unsigned char)h[off]) && dm->nf > 0) {
			/* A folded line belongs to the field above. */
			dm->f[dm->nf - 1].len = e - dm->f[dm->nf - 1].off;
			off = e;
			continue;
		}
		if (dm->nf == DKIM_FIELDS_MAX)
			return rq_errf(err, EX_DATAERR, "the header section has "
			    "more than %d fields; cannot DKIM-sign it",
			    DKIM_FIELDS_MAX);
		if (dm->nf == dm->fcap) {
			dm->fcap = dm->fcap ? dm->fcap * 2 : 32;
			dm->f = xreallocarray(dm->f, dm->fcap, sizeof(*dm->f));
		}
		memset(&dm->f[dm->nf], 0, sizeof(*dm->f));
		dm->f[dm->nf].off = off;
		dm->f[dm->nf].len = e - off;
		dm->nf++;
		off = e;
	}
	for (size_t i = 0; i < dm->nf; i++) {
		struct field *f = &dm->f[i];

		colon = memchr(h + f->off, ':', f->len);
		if (colon == NULL) {
			f->nlen = 0;	/* not a field: matches no name */
			continue;
		}
		f->nlen = (size_t)(colon - (h + f->off));
		while (f->nlen > 0 && is_wsp((unsigned char)h[f->off +
		    f->nlen - 1]))
			f->nlen--;
		/* Not signed twice: a signature with our d= is enough. */
		if (same_name(h + f->off, f->nlen, "dkim-signature") &&
		    tag_value(colon + 1, h + f->off + f->len, "d", &d,
		    &dlen) == 0 && dlen == strlen(dm->s->domain) &&
		    rq_strncasecmp(d, dm->s->domain, dlen) == 0)
			dm->ours = 1;
	}
	return 0;
}

static int
end_header_line(struct dkim_msg *dm, struct rq_err *err)
{
	if (dm->linelen == 0) {
		dm->hdone = 1;
		return split_fields(dm, err);
	}
	buf_add(&dm->hdr, "\r\n", 2);
	dm->linelen = 0;
	if (dm->hdr.len > DKIM_HEADER_MAX)
		return rq_errf(err, EX_DATAERR, "the header section is over "
		    "%d octets; cannot DKIM-sign it", DKIM_HEADER_MAX);
	return 0;
}

static int
header_feed(struct dkim_msg *dm, const unsigned char *p, size_t n,
    struct rq_err *err)
{
	size_t i, run;
	int rc;

	for (i = 0; i < n && !dm->hdone; ) {
		if (dm->cr) {
			dm->cr = 0;
			if ((rc = end_header_line(dm, err)) != 0)
				return rc;
			if (p[i] == '\n')
				i++;
			continue;
		}
		if (p[i] == '\r') {
			dm->cr = 1;
			i++;
			continue;
		}
		if (p[i] == '\n') {
			if ((rc = end_header_line(dm, err)) != 0)
				return rc;
			i++;
			continue;
		}
		for (run = i; run < n && p[run] != '\r' && p[run] != '\n'; run++)
			;
		buf_add(&dm->hdr, p + i, run - i);
		dm->linelen += run - i;
		if (dm->hdr.len > DKIM_HEADER_MAX)
			return rq_errf(err, EX_DATAERR, "the header section is "
			    "over %d octets; cannot DKIM-sign it",
			    DKIM_HEADER_MAX);
		i = run;
	}
	return 0;
}

int
dkim_msg_feed(struct dkim_msg *dm, const void *p, size_t n,
    struct rq_err *err)
{
	int rc;

	if (dm->bh != NULL)
		dkim_bh_feed(dm->bh, p, n);
	if (!dm->hdone) {
		rc = header_feed(dm, p, n, err);
		if (rc != 0)
			return rc;
	}
	return dm->hdone && (dm->bh == NULL || dm->ours) ? 1 : 0;
}

/* The signature field as it is being written, folded. */
struct fold {
	struct buf	*b;
	size_t		 col;
};

/* Add text, after sep (" " or ""), or on a new line if it would be long. */
static void
fold_add(struct fold *f, const char *sep, const char *text, size_t n)
{
	size_t s = strlen(sep);

	if (f->col + s + n > FOLD_COL && f->col > 1) {
		buf_add(f->b, "\r\n\t", 3);
		f->col = 1;
	} else {
		buf_add(f->b, sep, s);
		f->col += s;
	}
	buf_add(f->b, text, n);
	f->col += n;
}

static void
fold_tag(struct fold *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fold_tag(struct fold *f, const char *fmt, ...)
{
	struct buf t = { 0 };
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&t, fmt, ap);
	va_end(ap);
	fold_add(f, " ", t.data, t.len);
	buf_free(&t);
}

/*
 * h=: each configured name as often as the message has it, plus once
 * more when oversigned; a name the message lacks and that is not
 * oversigned is left out.
 */
static void
h_list(const struct dkim_msg *dm, struct strlist *names)
{
	const struct dkim_signer *s = dm->s;
	size_t i, k, count;

	for (i = 0; i < s->nh; i++) {
		count = 0;
		for (k = 0; k < dm->nf; k++)
			if (same_name(dm->hdr.data + dm->f[k].off,
			    dm->f[k].nlen, s->h[i].name))
				count++;
		if (s->h[i].over)
			count++;
		while (count-- > 0)
			strlist_add(names, s->h[i].name);
	}
}

/* The instance of name that an h= entry takes next: from the bottom. */
static struct field *
take_field(struct dkim_msg *dm, const char *name)
{
	size_t k;

	for (k = dm->nf; k-- > 0; ) {
		struct field *f = &dm->f[k];

		if (!f->used && same_name(dm->hdr.data + f->off, f->nlen,
		    name)) {
			f->used = 1;
			return f;
		}
	}
	return NULL;
}

/* The content ended: close the header section if it is still open. */
static int
end_headers(struct dkim_msg *dm, struct rq_err *err)
{
	int rc;

	if (!dm->hdone && (dm->cr || dm->linelen > 0)) {
		/* A pending CR may end the empty line that closes it. */
		dm->cr = 0;
		if ((rc = end_header_line(dm, err)) != 0)
			return rc;
	}
	if (dm->hdone)
		return 0;
	dm->hdone = 1;
	return split_fields(dm, err);
}

/* Our field up to "b=", folded (b= comes last: see the top). */
static void
field_head(const struct dkim_msg *dm, const struct strlist *names,
    const char *bh64, long long now, struct fold *fo)
{
	const struct dkim_signer *s = dm->s;
	size_t i;

	buf_addstr(fo->b, "DKIM-Signature:");
	fo->col = fo->b->len;
	fold_tag(fo, "v=1;");
	fold_tag(fo, "a=%s;", dkim_signer_algorithm(s));
	fold_tag(fo, "c=%s/%s;", dkim_canon_name(s->hcanon),
	    dkim_canon_name(s->bcanon));
	fold_tag(fo, "d=%s;", s->domain);
	fold_tag(fo, "s=%s;", s->selector);
	fold_tag(fo, "t=%lld;", now);
	if (s->expire > 0)
		fold_tag(fo, "x=%lld;", now + s->expire);
	for (i = 0; i < names->n; i++) {
		char *t = xasprintf("%s%s%s", i == 0 ? "h=" : "",
		    names->v[i], i + 1 < names->n ? ":" : ";");

		fold_add(fo, i == 0 ? " " : "", t, strlen(t));
		free(t);
	}
	fold_tag(fo, "bh=%s;", bh64);
	fold_tag(fo, "b=");
}

/* The data-hash: the fields h= names, then our field without its CRLF. */
static int
header_digest(struct dkim_msg *dm, const struct strlist *names,
    const struct buf *field, unsigned char dig[SHA256_LEN],
    struct rq_err *err)
{
	enum dkim_canon canon = dm->s->hcanon;
	gnutls_hash_hd_t h;
	struct buf c = { 0 };
	size_t i;

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return rq_errf(err, EX_SOFTWARE, "SHA-256 failed");
	for (i = 0; i < names->n; i++) {
		struct field *f = take_field(dm, names->v[i]);

		if (f == NULL)
			continue;	/* oversigned: adds nothing */
		buf_reset(&c);
		dkim_canon_field(canon, dm->hdr.data + f->off, f->len, &c);
		(void)gnutls_hash(h, c.data, c.len);
	}
	buf_reset(&c);
	dkim_canon_field(canon, field->data, field->len, &c);
	(void)gnutls_hash(h, c.data, c.len - 2);
	gnutls_hash_deinit(h, dig);
	for (i = 0; i < dm->nf; i++)
		dm->f[i].used = 0;
	buf_free(&c);
	return 0;
}

/* b='s value, folded: FWS between base64 characters is allowed. */
static void
field_b(struct fold *fo, const char *sig)
{
	size_t i, n = strlen(sig), take;

	for (i = 0; i < n; i += take) {
		if (fo->col + 16 > FOLD_COL) {
			buf_add(fo->b, "\r\n\t", 3);
			fo->col = 1;
		}
		take = FOLD_COL - fo->col;
		if (take > n - i)
			take = n - i;
		buf_add(fo->b, sig + i, take);
		fo->col += take;
	}
	buf_add(fo->b, "\r\n", 2);
}

int
dkim_msg_sign(struct dkim_msg *dm, long long now, char **out,
    struct rq_err *err)
{
	struct strlist names = { 0 };
	struct buf field = { 0 };
	struct fold fo;
	unsigned char dig[SHA256_LEN];
	char bh[DKIM_BH_MAX], *sig = NULL;
	const char *bh64;
	int rc;

	*out = NULL;
	if ((rc = end_headers(dm, err)) != 0)
		return rc;
	if (dm->ours)
		return 0;
	if (dm->bh != NULL) {
		dkim_bh_end(dm->bh, bh);
		dm->bh = NULL;
	} else {
		rq_strlcpy(bh, dm->known, sizeof(bh));
	}
	bh64 = strchr(bh, ':');
	if (bh64 == NULL)
		return rq_errf(err, EX_SOFTWARE, "the DKIM body hash failed");
	h_list(dm, &names);
	fo.b = &field;
	field_head(dm, &names, bh64 + 1, now, &fo);
	rc = header_digest(dm, &names, &field, dig, err);
	if (rc == 0)
		rc = sign_b64(dm->s, dig, &sig, err);
	if (rc == 0) {
		field_b(&fo, sig);
		*out = buf_steal(&field);
	}
	free(sig);
	buf_free(&field);
	strlist_free(&names);
	return rc;
}
