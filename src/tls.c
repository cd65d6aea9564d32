/*
 * relayq -- TLS with GnuTLS (the only file that uses GnuTLS for TLS; dkim.c
 * uses its crypto for DKIM signing).
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * RFC 3207 and RFC 8314 (STARTTLS and implicit TLS for submission),
 * RFC 6125 (server identity: GnuTLS checks the name, including IP
 * addresses in subjectAltName), RFC 8996/8997 (nothing below TLS 1.2),
 * RFC 5077/8446 4.6.1 (resumption), RFC 9266 (tls-exporter binding).
 *
 * Verification happens inside the handshake (gnutls_session_set_verify_cert),
 * so a bad certificate ends the handshake before a single byte of SMTP
 * is sent over it.  With a pin (tls_fingerprint), the CA chain is not
 * required, as in msmtp: the SHA-256 of the leaf certificate is checked
 * right after the handshake, before tls_handshake returns.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "tls.h"

#define DEFAULT_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define PIN_LEN		32		/* SHA-256 */
#define RECORD_MAX	16384

struct tls_ctx {
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t	 prio;
	unsigned char		 pin[PIN_LEN];
	int			 have_pin;
	int			 certcheck;
	gnutls_datum_t		 resume;	/* last session's data */
	char			*resume_name;	/* the name it was made for */
};

struct tls_sess {
	gnutls_session_t	 s;
	struct tls_ctx		*ctx;
	char			*name;		/* the name verified */
	int			 saved;		/* resumption data taken */
	int			 fd;
	char			*rbuf;		/* RBUF_SIZE octets from fd */
	size_t			 rpos, rlen;
	unsigned long long	 pulled;	/* octets handed to GnuTLS */
	char			 err[256];
};

/*
 * GnuTLS's own reader asks the socket for a record's 5-octet header and
 * then for its body: two recv calls a record.  Ours reads what is there
 * into a buffer and hands it out, so a reply and the next record usually
 * come in one call.  Nothing is read ahead of the TLS layer: these octets
 * are all TLS records, and STARTTLS's check for injected plaintext runs
 * before a session exists.
 */
#define RBUF_SIZE	(RECORD_MAX + 512)

static void
datum_free(gnutls_datum_t *d)
{
	if (d->data != NULL) {
		wipe(d->data, d->size);
		gnutls_free(d->data);
	}
	d->data = NULL;
	d->size = 0;
}

/* Parse "AA:BB:..." (colons optional) into PIN_LEN octets. */
static int
parse_pin(const char *s, unsigned char *pin)
{
	size_t n = 0;

	while (*s != '\0') {
		int hi, lo;

		if (*s == ':') {
			s++;
			continue;
		}
		if (n == PIN_LEN)
			return -1;
		hi = rq_tolower((unsigned char)s[0]);
		lo = s[1] != '\0' ? rq_tolower((unsigned char)s[1]) : -1;
		if (!((hi >= '0' && hi <= '9') || (hi >= 'a' && hi <= 'f')) ||
		    !((lo >= '0' && lo <= '9') || (lo >= 'a' && lo <= 'f')))
			return -1;
		hi = hi <= '9' ? hi - '0' : hi - 'a' + 10;
		lo = lo <= '9' ? lo - '0' : lo - 'a' + 10;
		pin[n++] = (unsigned char)(hi << 4 | lo);
		s += 2;
	}
	return n == PIN_LEN ? 0 : -1;
}

static void
hex_colons(struct buf *b, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_addf(b, "%s%02X", i > 0 ? ":" : "", p[i]);
}

int
tls_ctx_new(const struct account *acct, struct tls_ctx **out,
    struct rq_err *err)
{
	struct tls_ctx *ctx;
	const char *prio, *errpos = NULL;
	int r;

	*out = NULL;
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->certcheck = acct->tls_certcheck;

	r = gnutls_certificate_allocate_credentials(&ctx->cred);
	if (r < 0) {
		free(ctx);
		return rq_errf(err, EX_SOFTWARE, "TLS: %s", gnutls_strerror(r));
	}

	if (acct->tls_fingerprint != NULL && *acct->tls_fingerprint != '\0') {
		if (parse_pin(acct->tls_fingerprint, ctx->pin) != 0) {
			rq_errf(err, EX_CONFIG, "tls_fingerprint must be a "
			    "SHA-256 fingerprint (32 hex octets such as "
			    "AB:CD:...)");
			goto fail;
		}
		ctx->have_pin = 1;
	}

	if (acct->tls_trust_file == NULL ||
	    strcmp(acct->tls_trust_file, "system") == 0) {
		/* Zero certificates is not fatal here: a pin needs none,
		 * and otherwise every handshake says "signer is unknown". */
		r = gnutls_certificate_set_x509_system_trust(ctx->cred);
		if (r < 0 && r != GNUTLS_E_UNIMPLEMENTED_FEATURE &&
		    ctx->certcheck && !ctx->have_pin) {
			rq_errf(err, EX_CONFIG,
			    "cannot load the system trust store: %s",
			    gnutls_strerror(r));
			goto fail;
		}
	} else {
		r = gnutls_certificate_set_x509_trust_file(ctx->cred,
		    acct->tls_trust_file, GNUTLS_X509_FMT_PEM);
		if (r < 0) {
			rq_errf(err, EX_CONFIG, "tls_trust_file %s: %s",
			    acct->tls_trust_file, gnutls_strerror(r));
			goto fail;
		}
		if (r == 0) {
			rq_errf(err, EX_CONFIG,
			    "tls_trust_file %s holds no certificate",
			    acct->tls_trust_file);
			goto fail;
		}
	}

	if (acct->tls_crl_file != NULL && *acct->tls_crl_file != '\0') {
		r = gnutls_certificate_set_x509_crl_file(ctx->cred,
		    acct->tls_crl_file, GNUTLS_X509_FMT_PEM);
		if (r < 0) {
			rq_errf(err, EX_CONFIG, "tls_crl_file %s: %s",
			    acct->tls_crl_file, gnutls_strerror(r));
			goto fail;
		}
	}

	if ((acct->tls_cert_file != NULL) != (acct->tls_key_file != NULL)) {
		rq_errf(err, EX_CONFIG, "tls_cert_file and tls_key_file "
		    "must be given together");
		goto fail;
	}
	if (acct->tls_cert_file != NULL) {
		/* Also takes PKCS#11 URIs for both. */
		r = gnutls_certificate_set_x509_key_file2(ctx->cred,
		    acct->tls_cert_file, acct->tls_key_file,
		    GNUTLS_X509_FMT_PEM, NULL, 0);
		if (r < 0) {
			rq_errf(err, EX_CONFIG,
			    "tls_cert_file %s / tls_key_file %s: %s",
			    acct->tls_cert_file, acct->tls_key_file,
			    gnutls_strerror(r));
			goto fail;
		}
	}

	prio = acct->tls_priorities != NULL && *acct->tls_priorities != '\0' ?
	    acct->tls_priorities : DEFAULT_PRIORITIES;
	r = gnutls_priority_init(&ctx->prio, prio, &errpos);
	if (r < 0) {
		rq_errf(err, EX_CONFIG, "tls_priorities: %s at \"%.40s\"",
		    gnutls_strerror(r), errpos != NULL ? errpos : prio);
		goto fail;
	}
	*out = ctx;
	return 0;
fail:
	tls_ctx_free(ctx);
	return err != NULL ? err->ex : EX_CONFIG;
}

void
tls_ctx_free(struct tls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->cred != NULL)
		gnutls_certificate_free_credentials(ctx->cred);
	if (ctx->prio != NULL)
		gnutls_priority_deinit(ctx->prio);
	datum_free(&ctx->resume);
	free(ctx->resume_name);
	wipe(ctx, sizeof(*ctx));
	free(ctx);
}

/*
 * The name to present and verify, without the brackets and "IPv6:" tag
 * of an SMTP address literal.  *is_ip tells whether it is an address.
 */
static char *
verify_host(const char *name, int *is_ip)
{
	unsigned char a[16];
	size_t len = strlen(name);
	char *h;

	if (len >= 2 && name[0] == '[' && name[len - 1] == ']') {
		name++;
		len -= 2;
		if (len >= 5 && rq_strncasecmp(name, "IPv6:", 5) == 0) {
			name += 5;
			len -= 5;
		}
	}
	/* "mx.example." is the same name; neither SNI nor the certificate
	 * carries the root's dot. */
	if (len > 1 && name[len - 1] == '.')
		len--;
	h = xstrndup(name, len);
	*is_ip = inet_pton(AF_INET, h, a) == 1 ||
	    inet_pton(AF_INET6, h, a) == 1;
	return h;
}

/* Why the chain did not verify, in words; err gets them all. */
static int
verify_error(struct tls_sess *ts, unsigned status, struct rq_err *err)
{
	static const struct {
		unsigned	 bit;
		const char	*what;
	} reasons[] = {
		{ GNUTLS_CERT_REVOKED, "certificate has been revoked" },
		{ GNUTLS_CERT_SIGNER_NOT_CA, "certificate signer is not a CA" },
		{ GNUTLS_CERT_INSECURE_ALGORITHM,
		    "certificate uses an insecure algorithm" },
		{ GNUTLS_CERT_EXPIRED, "certificate has expired" },
		{ GNUTLS_CERT_NOT_ACTIVATED, "certificate is not yet valid" },
		{ GNUTLS_CERT_SIGNATURE_FAILURE,
		    "certificate signature does not verify" },
		{ GNUTLS_CERT_PURPOSE_MISMATCH,
		    "certificate is not for TLS servers" },
		{ GNUTLS_CERT_MISMATCH, "certificate does not match" },
	};
	struct buf b = { 0 };
	int self_signed = 0;

	if (status & GNUTLS_CERT_SIGNER_NOT_FOUND) {
		const gnutls_datum_t *peers;
		unsigned n = 0;
		gnutls_x509_crt_t crt;

		peers = gnutls_certificate_get_peers(ts->s, &n);
		if (peers != NULL && n == 1 &&
		    gnutls_x509_crt_init(&crt) == 0) {
			if (gnutls_x509_crt_import(crt, &peers[0],
			    GNUTLS_X509_FMT_DER) == 0)
				self_signed = gnutls_x509_crt_check_issuer(crt,
				    crt) != 0;
			gnutls_x509_crt_deinit(crt);
		}
		buf_addstr(&b, self_signed ? "self-signed certificate" :
		    "certificate signer is unknown");
	}
	for (size_t i = 0; i < RQ_ARRAY_LEN(reasons); i++)
		if (status & reasons[i].bit)
			buf_addf(&b, "%s%s", b.len ? "; " : "",
			    reasons[i].what);
	if (status & GNUTLS_CERT_UNEXPECTED_OWNER)
		buf_addf(&b, "%scertificate is not for %s", b.len ? "; " : "",
		    ts->name);
	if (b.len == 0) {
		gnutls_datum_t txt = { NULL, 0 };

		if (gnutls_certificate_verification_status_print(status,
		    GNUTLS_CRT_X509, &txt, 0) == 0 && txt.data != NULL)
			buf_addstr(&b, (const char *)txt.data);
		else
			buf_addf(&b, "certificate does not verify (0x%x)",
			    status);
		gnutls_free(txt.data);
	}
	rq_errf(err, EX_TEMPFAIL, "%s", b.data);
	buf_free(&b);
	return EX_TEMPFAIL;
}

/* SHA-256 of the leaf certificate; 0 or -1. */
static int
leaf_sha256(struct tls_sess *ts, unsigned char *out)
{
	const gnutls_datum_t *peers;
	unsigned n = 0;

	peers = gnutls_certificate_get_peers(ts->s, &n);
	if (peers == NULL || n == 0)
		return -1;
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, peers[0].data,
	    peers[0].size, out) == 0 ? 0 : -1;
}

/*
 * Keep this session's resumption data in the ctx.  TLS 1.3 tickets come
 * after the handshake, so for 1.3 this waits until one has arrived (it is
 * tried after each read and at close).
 */
static void
save_resume(struct tls_sess *ts)
{
	gnutls_datum_t d = { NULL, 0 };

	if (ts->saved)
		return;
	if (gnutls_protocol_get_version(ts->s) == GNUTLS_TLS1_3 &&
	    !(gnutls_session_get_flags(ts->s) & GNUTLS_SFLAGS_SESSION_TICKET))
		return;
	if (gnutls_session_get_data2(ts->s, &d) != 0 || d.size == 0) {
		gnutls_free(d.data);
		return;
	}
	ts->saved = 1;
	datum_free(&ts->ctx->resume);
	free(ts->ctx->resume_name);
	ts->ctx->resume = d;
	ts->ctx->resume_name = xstrdup(ts->name);
}

static ssize_t
pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
	struct tls_sess *ts = p;
	ssize_t n;

	if (ts->rpos == ts->rlen) {
		ts->rpos = ts->rlen = 0;
		if (len >= RBUF_SIZE) {
			n = recv(ts->fd, data, len, 0);
			if (n < 0)
				gnutls_transport_set_errno(ts->s, errno);
			else
				ts->pulled += (unsigned long long)n;
			return n;
		}
		n = recv(ts->fd, ts->rbuf, RBUF_SIZE, 0);
		if (n <= 0) {
			if (n < 0)
				gnutls_transport_set_errno(ts->s, errno);
			return n;
		}
		ts->rlen = (size_t)n;
	}
	n = (ssize_t)(ts->rlen - ts->rpos < len ? ts->rlen - ts->rpos : len);
	memcpy(data, ts->rbuf + ts->rpos, (size_t)n);
	ts->rpos += (size_t)n;
	ts->pulled += (unsigned long long)n;
	return n;
}

/*
 * GnuTLS may answer "again" after a record that carried no data (a TLS 1.3
 * session ticket) although the next record is already in our buffer: the
 * socket then has nothing to wake a poll, so it is tried again at once.
 */
static int
again_buffered(struct tls_sess *ts, ssize_t r, unsigned long long *mark)
{
	/* Only while GnuTLS keeps taking from the buffer. */
	int again = r == GNUTLS_E_AGAIN && ts->rpos < ts->rlen &&
	    gnutls_record_get_direction(ts->s) == 0 && ts->pulled != *mark;

	*mark = ts->pulled;
	return again;
}

/* For GnuTLS's waits (it is told not to time out itself). */
static int
pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
	struct tls_sess *ts = p;
	struct pollfd pfd;

	if (ts->rpos < ts->rlen)
		return 1;
	pfd.fd = ts->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

static long long
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int
tls_handshake(struct tls_ctx *ctx, int fd, const char *verify_name,
    int timeout_ms, struct tls_sess **out, struct rq_err *err)
{
	struct tls_sess *ts;
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	unsigned long long mark;
	int r, is_ip;

	*out = NULL;
	ts = xcalloc(1, sizeof(*ts));
	ts->ctx = ctx;
	ts->name = verify_host(verify_name, &is_ip);

	r = gnutls_init(&ts->s, GNUTLS_CLIENT | GNUTLS_NONBLOCK |
	    GNUTLS_NO_SIGNAL);
	if (r < 0) {
		free(ts->name);
		free(ts);
		return rq_errf(err, EX_TEMPFAIL, "TLS: %s", gnutls_strerror(r));
	}
	r = gnutls_priority_set(ts->s, ctx->prio);
	if (r == 0)
		r = gnutls_credentials_set(ts->s, GNUTLS_CRD_CERTIFICATE,
		    ctx->cred);
	if (r == 0 && !is_ip)
		r = gnutls_server_name_set(ts->s, GNUTLS_NAME_DNS, ts->name,
		    strlen(ts->name));
	if (r < 0) {
		rq_errf(err, EX_TEMPFAIL, "TLS: %s", gnutls_strerror(r));
		goto fail;
	}
	if (ctx->certcheck && !ctx->have_pin)
		gnutls_session_set_verify_cert(ts->s, ts->name, 0);
	if (ctx->resume.size > 0 && ctx->resume_name != NULL &&
	    strcmp(ctx->resume_name, ts->name) == 0)
		(void)gnutls_session_set_data(ts->s, ctx->resume.data,
		    ctx->resume.size);
	/* Reads through our buffer; writes as GnuTLS does them, on fd. */
	ts->fd = fd;
	ts->rbuf = xmalloc(RBUF_SIZE);
	gnutls_transport_set_ptr2(ts->s, ts,
	    (gnutls_transport_ptr_t)(intptr_t)fd);
	gnutls_transport_set_pull_function(ts->s, pull);
	gnutls_transport_set_pull_timeout_function(ts->s, pull_timeout);
	/* Our deadline rules, not GnuTLS's built-in 40 seconds. */
	gnutls_handshake_set_timeout(ts->s, GNUTLS_INDEFINITE_TIMEOUT);

	for (;;) {
		struct pollfd pfd;
		long long left;

		mark = ts->pulled;
		r = gnutls_handshake(ts->s);
		if (r == 0)
			break;
		if (again_buffered(ts, r, &mark))
			continue;
		if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
			verify_error(ts, gnutls_session_get_verify_cert_status(
			    ts->s), err);
			goto fail;
		}
		if (gnutls_error_is_fatal(r)) {
			rq_errf(err, EX_TEMPFAIL, "TLS handshake failed: %s",
			    gnutls_strerror(r));
			goto fail;
		}
		if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED)
			continue;	/* a warning alert: carry on */
		left = deadline < 0 ? -1 : deadline - now_ms();
		if (deadline >= 0 && left <= 0) {
			rq_errf(err, EX_TEMPFAIL, "timeout in TLS handshake");
			goto fail;
		}
		pfd.fd = fd;
		pfd.events = gnutls_record_get_direction(ts->s) ? POLLOUT :
		    POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR) {
			rq_errno(err, EX_TEMPFAIL, errno, "TLS handshake");
			goto fail;
		}
	}

	/* RFC 8996: refuse what a permissive tls_priorities let through. */
	if (gnutls_protocol_get_version(ts->s) < GNUTLS_TLS1_2 ||
	    gnutls_protocol_get_version(ts->s) > GNUTLS_TLS_VERSION_MAX) {
		rq_errf(err, EX_TEMPFAIL, "server negotiated %s; TLS 1.2 or "
		    "later is required", tls_version(ts));
		goto fail;
	}
	if (ctx->have_pin) {
		unsigned char got[PIN_LEN];

		if (leaf_sha256(ts, got) != 0) {
			/* A resumed session may not carry the certificate;
			 * its data came from a session that passed the pin. */
			if (!gnutls_session_is_resumed(ts->s)) {
				rq_errf(err, EX_TEMPFAIL, "server sent no "
				    "certificate to check the fingerprint of");
				goto fail;
			}
		} else if (memcmp(got, ctx->pin, PIN_LEN) != 0) {
			struct buf b = { 0 };

			hex_colons(&b, got, PIN_LEN);
			rq_errf(err, EX_TEMPFAIL, "certificate fingerprint "
			    "does not match tls_fingerprint (the server's is "
			    "%s)", b.data);
			buf_free(&b);
			goto fail;
		}
	}
	if (gnutls_protocol_get_version(ts->s) != GNUTLS_TLS1_3)
		save_resume(ts);
	*out = ts;
	return 0;
fail:
	gnutls_deinit(ts->s);
	free(ts->rbuf);
	free(ts->name);
	free(ts);
	return err != NULL ? err->ex : EX_TEMPFAIL;
}

/* Map a GnuTLS result to read(2)/write(2) conventions. */
static ssize_t
io_result(struct tls_sess *ts, ssize_t r)
{
	if (r >= 0)
		return r;
	switch (r) {
	case GNUTLS_E_AGAIN:
		errno = EAGAIN;
		return -1;
	case GNUTLS_E_INTERRUPTED:
		errno = EINTR;
		return -1;
	case GNUTLS_E_PREMATURE_TERMINATION:
		rq_strlcpy(ts->err, "connection closed without TLS "
		    "close_notify", sizeof(ts->err));
		errno = ECONNRESET;
		return -1;
	default:
		if (!gnutls_error_is_fatal((int)r)) {
			/* Rehandshake requests and warning alerts: ignored,
			 * the caller simply calls again. */
			errno = EINTR;
			return -1;
		}
		rq_strlcpy(ts->err, gnutls_strerror((int)r), sizeof(ts->err));
		errno = EPROTO;
		return -1;
	}
}

ssize_t
tls_read(struct tls_sess *ts, void *p, size_t n)
{
	unsigned long long mark = ts->pulled;
	ssize_t r;

	do
		r = gnutls_record_recv(ts->s, p, n);
	while (again_buffered(ts, r, &mark));

	if (r > 0)
		save_resume(ts);
	return io_result(ts, r);
}

ssize_t
tls_write(struct tls_sess *ts, const void *p, size_t n)
{
	if (n > RECORD_MAX)
		n = RECORD_MAX;
	return io_result(ts, gnutls_record_send(ts->s, p, n));
}

const char *
tls_error(struct tls_sess *ts)
{
	return ts->err;
}

size_t
tls_pending(struct tls_sess *ts)
{
	return gnutls_record_check_pending(ts->s);
}

int
tls_wants_write(struct tls_sess *ts)
{
	return gnutls_record_get_direction(ts->s) == 1;
}

const char *
tls_version(struct tls_sess *ts)
{
	const char *v = gnutls_protocol_get_name(
	    gnutls_protocol_get_version(ts->s));

	return v != NULL ? v : "unknown";
}

int
tls_resumed(struct tls_sess *ts)
{
	return gnutls_session_is_resumed(ts->s) != 0;
}

int
tls_exporter(struct tls_sess *ts, struct buf *out)
{
	gnutls_datum_t cb = { NULL, 0 };

	/* RFC 9266 section 2: with TLS 1.2 only under extended master
	 * secret, or the value is not unique to the connection. */
	if (gnutls_protocol_get_version(ts->s) != GNUTLS_TLS1_3 &&
	    !(gnutls_session_get_flags(ts->s) &
	    GNUTLS_SFLAGS_EXT_MASTER_SECRET))
		return -1;
	if (gnutls_session_channel_binding(ts->s, GNUTLS_CB_TLS_EXPORTER,
	    &cb) != 0)
		return -1;
	buf_add(out, cb.data, cb.size);
	gnutls_free(cb.data);
	return 0;
}

static void
describe_time(struct buf *b, const char *label, time_t t)
{
	char when[40];

	rfc3339_date(when, sizeof(when), t);
	buf_addf(b, "    %s %s\n", label, when);
}

void
tls_describe(struct tls_sess *ts, struct buf *out)
{
	const gnutls_datum_t *peers;
	unsigned n = 0, status = 0;
	char *desc;

	desc = gnutls_session_get_desc(ts->s);
	buf_addf(out, "session: %s%s\n", desc != NULL ? desc : tls_version(ts),
	    tls_resumed(ts) ? " (resumed)" : "");
	gnutls_free(desc);

	peers = gnutls_certificate_get_peers(ts->s, &n);
	for (unsigned i = 0; peers != NULL && i < n; i++) {
		gnutls_x509_crt_t crt;
		gnutls_datum_t dn = { NULL, 0 };
		unsigned char fp[32];
		size_t fplen = sizeof(fp);

		buf_addf(out, "certificate %u:\n", i);
		if (gnutls_x509_crt_init(&crt) != 0)
			continue;
		if (gnutls_x509_crt_import(crt, &peers[i],
		    GNUTLS_X509_FMT_DER) != 0) {
			buf_addstr(out, "    (cannot be parsed)\n");
			gnutls_x509_crt_deinit(crt);
			continue;
		}
		if (gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0)
			buf_addf(out, "    subject %s\n", dn.data);
		gnutls_free(dn.data);
		dn.data = NULL;
		if (gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) == 0)
			buf_addf(out, "    issuer %s\n", dn.data);
		gnutls_free(dn.data);
		describe_time(out, "valid from",
		    gnutls_x509_crt_get_activation_time(crt));
		describe_time(out, "valid until",
		    gnutls_x509_crt_get_expiration_time(crt));
		if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp,
		    &fplen) == 0) {
			buf_addstr(out, "    SHA-256 ");
			hex_colons(out, fp, fplen);
			buf_addch(out, '\n');
		}
		gnutls_x509_crt_deinit(crt);
	}

	if (ts->ctx->have_pin) {
		unsigned char got[PIN_LEN];

		buf_addf(out, "verification: %s\n",
		    leaf_sha256(ts, got) == 0 &&
		    memcmp(got, ts->ctx->pin, PIN_LEN) == 0 ?
		    "fingerprint matches tls_fingerprint" :
		    "fingerprint not checked (resumed session)");
	} else if (gnutls_certificate_verify_peers3(ts->s, ts->name,
	    &status) != 0) {
		buf_addstr(out,
		    "verification: not possible (no certificate)\n");
	} else if (status == 0) {
		buf_addf(out, "verification: ok for %s%s\n", ts->name,
		    ts->ctx->certcheck ? "" : " (but tls_certcheck is off)");
	} else {
		struct rq_err e = { 0 };

		verify_error(ts, status, &e);
		buf_addf(out, "verification: FAILED: %s%s\n", e.msg,
		    ts->ctx->certcheck ? "" :
		    " (ignored because tls_certcheck is off)");
	}
}

void
tls_close(struct tls_sess *ts)
{
	if (ts == NULL)
		return;
	save_resume(ts);
	/* One try: the connection is closed next whatever the peer does. */
	(void)gnutls_bye(ts->s, GNUTLS_SHUT_WR);
	tls_discard(ts);
}

void
tls_discard(struct tls_sess *ts)
{
	if (ts == NULL)
		return;
	gnutls_deinit(ts->s);
	if (ts->rbuf != NULL)
		wipe(ts->rbuf, RBUF_SIZE);
	free(ts->rbuf);
	free(ts->name);
	free(ts);
}
