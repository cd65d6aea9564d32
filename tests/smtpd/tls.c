/*
 * rq-testsmtpd -- the server side of TLS (RFC 3207 STARTTLS, RFC 8314
 * implicit TLS) with GnuTLS.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Credentials and the session-ticket key are made once in the parent, so
 * every forked session shares them: a client resuming a session on its
 * next connection is then visible in conn-N.info (tls_resumed=yes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "smtpd.h"

static gnutls_certificate_credentials_t	cred;
static gnutls_priority_t		prio;
static gnutls_datum_t			ticket_key;
static int				ready;

void
tls_setup(const struct sd_script *s)
{
	const char *errpos = NULL;
	int rc;

	if (s->tls_cert == NULL)
		return;
	rc = gnutls_global_init();
	if (rc < 0)
		sd_die("gnutls_global_init: %s", gnutls_strerror(rc));
	rc = gnutls_certificate_allocate_credentials(&cred);
	if (rc < 0)
		sd_die("gnutls: %s", gnutls_strerror(rc));
	rc = gnutls_certificate_set_x509_key_file(cred, s->tls_cert, s->tls_key,
	    GNUTLS_X509_FMT_PEM);
	if (rc < 0)
		sd_die("%s / %s: %s", s->tls_cert, s->tls_key,
		    gnutls_strerror(rc));
	if (s->tls_ca != NULL) {
		rc = gnutls_certificate_set_x509_trust_file(cred, s->tls_ca,
		    GNUTLS_X509_FMT_PEM);
		if (rc < 0)
			sd_die("%s: %s", s->tls_ca, gnutls_strerror(rc));
	}
	rc = gnutls_priority_init(&prio,
	    s->tls_priority != NULL ? s->tls_priority : "NORMAL", &errpos);
	if (rc < 0)
		sd_die("tls priority '%s' (at '%s'): %s",
		    s->tls_priority ? s->tls_priority : "NORMAL",
		    errpos ? errpos : "", gnutls_strerror(rc));
	rc = gnutls_session_ticket_key_generate(&ticket_key);
	if (rc < 0)
		sd_die("gnutls: %s", gnutls_strerror(rc));
	ready = 1;
}

/* Details of the client certificate, if one was sent. */
static void
peer_info(gnutls_session_t sess, struct sbuf *info)
{
	const gnutls_datum_t *certs;
	unsigned int ncerts = 0, status = 0;
	gnutls_x509_crt_t crt;
	gnutls_datum_t dn = { NULL, 0 };

	certs = gnutls_certificate_get_peers(sess, &ncerts);
	if (certs == NULL || ncerts == 0) {
		sbuf_addstr(info, "client_cert=no\n");
		return;
	}
	sbuf_addstr(info, "client_cert=yes\n");
	if (gnutls_certificate_verify_peers2(sess, &status) == 0)
		sbuf_addf(info, "client_cert_verified=%s\n",
		    status == 0 ? "yes" : "no");
	if (gnutls_x509_crt_init(&crt) == 0) {
		if (gnutls_x509_crt_import(crt, &certs[0],
		    GNUTLS_X509_FMT_DER) == 0 &&
		    gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
			sbuf_addf(info, "client_cert_dn=%.*s\n", (int)dn.size,
			    (const char *)dn.data);
			gnutls_free(dn.data);
		}
		gnutls_x509_crt_deinit(crt);
	}
}

int
tls_start(struct sd_conn *c, const struct sd_script *s, struct sbuf *info)
{
	gnutls_session_t sess;
	char name[256];
	size_t namelen = sizeof(name);
	unsigned int type;
	int rc;

	if (!ready)
		return -1;
	rc = gnutls_init(&sess, GNUTLS_SERVER);
	if (rc < 0) {
		sd_warn("gnutls_init: %s", gnutls_strerror(rc));
		return -1;
	}
	gnutls_priority_set(sess, prio);
	gnutls_credentials_set(sess, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_session_ticket_enable_server(sess, &ticket_key);
	if (s->tls_ca != NULL)
		gnutls_certificate_server_set_request(sess,
		    s->tls_require_client_cert ? GNUTLS_CERT_REQUIRE :
		    GNUTLS_CERT_REQUEST);
	gnutls_transport_set_int(sess, c->fd);
	gnutls_handshake_set_timeout(sess,
	    (unsigned int)(c->read_timeout * 1000));
	do
		rc = gnutls_handshake(sess);
	while (rc < 0 && gnutls_error_is_fatal(rc) == 0);
	if (rc < 0) {
		sd_log("tls handshake failed: %s", gnutls_strerror(rc));
		sbuf_addf(info, "tls_error=%s\n", gnutls_strerror(rc));
		gnutls_deinit(sess);
		return -1;
	}
	c->tls = sess;
	sbuf_addf(info, "tls_version=%s\ntls_cipher=%s\ntls_resumed=%s\n",
	    gnutls_protocol_get_name(gnutls_protocol_get_version(sess)),
	    gnutls_cipher_get_name(gnutls_cipher_get(sess)),
	    gnutls_session_is_resumed(sess) ? "yes" : "no");
	if (gnutls_server_name_get(sess, name, &namelen, &type, 0) == 0 &&
	    type == GNUTLS_NAME_DNS)
		sbuf_addf(info, "sni=%.*s\n", (int)namelen, name);
	else
		sbuf_addstr(info, "sni=\n");
	peer_info(sess, info);
	sd_log("tls up: %s", gnutls_protocol_get_name(
	    gnutls_protocol_get_version(sess)));
	return 0;
}

int
tls_channel_binding(struct sd_conn *c, int exporter, struct sbuf *out)
{
	gnutls_datum_t cb = { NULL, 0 };

	if (c->tls == NULL)
		return -1;
	if (gnutls_session_channel_binding(c->tls, exporter ?
	    GNUTLS_CB_TLS_EXPORTER : GNUTLS_CB_TLS_UNIQUE, &cb) < 0)
		return -1;
	sbuf_add(out, cb.data, cb.size);
	gnutls_free(cb.data);
	return 0;
}

int
tls_client_verified(struct sd_conn *c)
{
	unsigned int status = 0, n = 0;

	if (c->tls == NULL || gnutls_certificate_get_peers(c->tls, &n) == NULL ||
	    n == 0)
		return 0;
	return gnutls_certificate_verify_peers2(c->tls, &status) == 0 &&
	    status == 0;
}

void
tls_end(struct sd_conn *c)
{
	if (c->tls == NULL)
		return;
	/* Best effort: the client may already be gone. */
	(void)gnutls_bye(c->tls, GNUTLS_SHUT_WR);
	gnutls_deinit(c->tls);
	c->tls = NULL;
}
