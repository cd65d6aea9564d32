/*
 * relayq -- SMTP AUTH (RFC 4954) mechanisms through libgsasl, plus XOAUTH2
 * and OAUTHBEARER (RFC 7628).  Only auth.c includes gsasl.h.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The caller (smtp.c) drives the wire: it sends "AUTH MECH [initial]",
 * passes each 334 challenge (base64 text after "334 ") to auth_step(),
 * and sends back the base64 it returns.  Secrets live only inside the
 * auth session and are wiped by auth_end().
 */
#ifndef RELAYQ_AUTH_H
#define RELAYQ_AUTH_H

#include "conf.h"
#include "status.h"
#include "util.h"

struct auth_sess;

/* Does the account authenticate at all ("auth" set and not "off")? */
int	auth_wanted(const struct account *);

/*
 * Choose the mechanism: acct->auth names one (it must be offered, else
 * EX_UNAVAILABLE "server does not offer MECH"), or "on" picks the strongest
 * offered in this order: SCRAM-SHA-256-PLUS (only when have_cb),
 * SCRAM-SHA-1-PLUS (have_cb), SCRAM-SHA-256, SCRAM-SHA-1, PLAIN, LOGIN,
 * CRAM-MD5.  GSSAPI, EXTERNAL, XOAUTH2, OAUTHBEARER only when named.
 * Without TLS (tls_active 0) nothing is chosen unless
 * acct->auth_plaintext (EX_UNAVAILABLE "refusing to authenticate without
 * TLS").  *mech points to a static string.
 */
int	auth_choose(const struct account *, const struct strlist *offered,
	    int tls_active, int have_cb, const char **mech, struct rq_err *);

/*
 * Start mech for acct's user with password (or the OAuth token for
 * XOAUTH2/OAUTHBEARER); cb_b64 is the base64 tls-exporter binding or NULL;
 * host is the server name (GSSAPI service host).
 */
int	auth_begin(const char *mech, const struct account *,
	    const char *password, const char *cb_b64, const char *host,
	    struct auth_sess **out, struct rq_err *);

#define AUTH_STEP_DONE	0	/* nothing more to send */
#define AUTH_STEP_MORE	1	/* send *out, expect another 334 or 235 */

/*
 * One step.  in_b64 is the server's challenge (NULL for the initial
 * response); *out is the base64 response to send ("" for empty, sent as
 * "=" in an initial response), allocated, the caller frees it with
 * free_secret().  Returns AUTH_STEP_DONE / AUTH_STEP_MORE, or an EX_ code
 * with err set.
 */
int	auth_step(struct auth_sess *, const char *in_b64, char **out,
	    struct rq_err *);
/*
 * Has the mechanism run to its end on our side, so that a 235 is
 * believable?  For SCRAM this means the server's signature was checked
 * (its server-final message came in a 334 and auth_step accepted it); a
 * 235 before that skips the server's proof, and the caller should treat
 * it as a failed authentication.  For the others: once the last response
 * has been produced.
 */
int	auth_complete(const struct auth_sess *);
/* Does mech send an initial response with the AUTH command? */
int	auth_has_initial(const char *mech);
void	auth_end(struct auth_sess *);	/* wipes; NULL is fine */

#endif
