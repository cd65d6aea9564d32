/*
 * relayq -- SMTP AUTH mechanisms through libgsasl, plus XOAUTH2 and
 * OAUTHBEARER (the only file that includes gsasl.h).
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * RFC 4954 (SMTP AUTH), RFC 4616 (PLAIN), RFC 2195 (CRAM-MD5), RFC 5802
 * and RFC 7677 (SCRAM-SHA-1/-256 and their -PLUS forms), RFC 9266
 * (tls-exporter channel binding), RFC 4422 appendix A (EXTERNAL),
 * RFC 4752 (GSSAPI), RFC 7628 (OAUTHBEARER), and Google's XOAUTH2
 * (developers.google.com/gmail/imap/xoauth2-protocol).
 *
 * Two rules from research/smtp-client-security.md 2.G shape auth_choose:
 * no credentials before TLS (unless the account says so in words), and
 * no silent fallback: a mechanism the user named is used or the attempt
 * fails; "on" picks the strongest the server offers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsasl.h>

#include "auth.h"
#include "util.h"

enum auth_kind {
	K_GSASL,
	K_XOAUTH2,
	K_OAUTHBEARER,
};

/* What "on" tries, strongest first (auth.h).  Named-only ones follow. */
static const struct mech {
	const char	*name;
	int		 in_on;		/* picked by "auth on" */
	int		 plus;		/* needs channel binding */
	int		 initial;	/* initial response with AUTH */
	int		 password;	/* needs a password (or token) */
	enum auth_kind	 kind;
} mechs[] = {
	{ "SCRAM-SHA-256-PLUS",	1, 1, 1, 1, K_GSASL },
	{ "SCRAM-SHA-1-PLUS",	1, 1, 1, 1, K_GSASL },
	{ "SCRAM-SHA-256",	1, 0, 1, 1, K_GSASL },
	{ "SCRAM-SHA-1",	1, 0, 1, 1, K_GSASL },
	{ "PLAIN",		1, 0, 1, 1, K_GSASL },
	{ "LOGIN",		1, 0, 0, 1, K_GSASL },
	{ "CRAM-MD5",		1, 0, 0, 1, K_GSASL },
	{ "GSSAPI",		0, 0, 1, 0, K_GSASL },
	{ "EXTERNAL",		0, 0, 1, 0, K_GSASL },
	{ "XOAUTH2",		0, 0, 1, 1, K_XOAUTH2 },
	{ "OAUTHBEARER",	0, 0, 1, 1, K_OAUTHBEARER },
};

struct auth_sess {
	const struct mech *m;
	Gsasl		*ctx;		/* library()'s: not ours to free */
	Gsasl_session	*s;
	int		 steps;		/* auth_step calls so far */
	int		 done;		/* no further step is acceptable */
	int		 complete;	/* a 235 now is consistent */
	char		*initial;	/* OAuth: the raw initial message */
	size_t		 initial_len;
};

static const struct mech *
find_mech(const char *name)
{
	for (size_t i = 0; i < RQ_ARRAY_LEN(mechs); i++)
		if (rq_strcasecmp(mechs[i].name, name) == 0)
			return &mechs[i];
	return NULL;
}

/*
 * One libgsasl context per process, made when first needed and kept: it
 * only holds the table of mechanisms, and gsasl_init loads them all, which
 * a session needed twice (to choose, then to start).  Forked workers
 * inherit it.  NULL when libgsasl cannot be set up.
 */
static Gsasl *
library(void)
{
	static Gsasl *lib;
	static int tried;

	if (!tried) {
		tried = 1;
		if (gsasl_init(&lib) != GSASL_OK)
			lib = NULL;
	}
	return lib;
}

/* Does the installed libgsasl have a client for m? */
static int
library_has(Gsasl *ctx, const struct mech *m)
{
	if (m->kind != K_GSASL)
		return 1;
	return ctx != NULL && gsasl_client_support_p(ctx, m->name);
}

int
auth_wanted(const struct account *acct)
{
	return acct->auth != NULL && rq_strcasecmp(acct->auth, "off") != 0;
}

int
auth_choose(const struct account *acct, const struct strlist *offered,
    int tls_active, int have_cb, const char **mech, struct rq_err *err)
{
	const struct mech *m;
	Gsasl *ctx;
	int rc;

	*mech = NULL;
	if (!auth_wanted(acct))
		return rq_errf(err, EX_SOFTWARE, "authentication is off");
	/* RFC 4954 section 4, and 2.G: nothing secret crosses in the clear. */
	if (!tls_active && !acct->auth_plaintext)
		return rq_errf(err, EX_UNAVAILABLE, "refusing to authenticate "
		    "without TLS (allow_plaintext_auth is off)");
	if (offered->n == 0)
		return rq_errf(err, EX_UNAVAILABLE,
		    "server does not offer AUTH");
	ctx = library();

	if (rq_strcasecmp(acct->auth, "on") != 0) {
		m = find_mech(acct->auth);
		if (m == NULL)
			rc = rq_errf(err, EX_CONFIG, "auth %s: unknown "
			    "mechanism", acct->auth);
		else if (!strlist_contains(offered, m->name))
			rc = rq_errf(err, EX_UNAVAILABLE,
			    "server does not offer %s", m->name);
		else if (m->plus && !have_cb)
			rc = rq_errf(err, EX_UNAVAILABLE, "%s needs TLS "
			    "channel binding (tls-exporter), which this "
			    "session cannot give", m->name);
		else if (!library_has(ctx, m))
			rc = rq_errf(err, EX_UNAVAILABLE, "the installed "
			    "libgsasl cannot do %s", m->name);
		else {
			*mech = m->name;
			rc = 0;
		}
		goto out;
	}

	for (size_t i = 0; i < RQ_ARRAY_LEN(mechs); i++) {
		m = &mechs[i];
		if (!m->in_on || (m->plus && !have_cb) ||
		    !strlist_contains(offered, m->name) || !library_has(ctx, m))
			continue;
		*mech = m->name;
		rc = 0;
		goto out;
	}
	{
		struct buf b = { 0 };

		for (size_t i = 0; i < offered->n && b.len < 200; i++)
			buf_addf(&b, "%s%s", i ? " " : "", offered->v[i]);
		rc = rq_errf(err, EX_UNAVAILABLE, "server offers no mechanism "
		    "that auth on may use (offered: %s)", b.data);
		buf_free(&b);
	}
out:
	return rc;
}

int
auth_has_initial(const char *mech)
{
	const struct mech *m = find_mech(mech);

	return m != NULL && m->initial;
}

/* RFC 5801 saslname: "," and "=" escaped as "=2C" and "=3D". */
static void
add_saslname(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == ',')
			buf_addstr(b, "=2C");
		else if (*s == '=')
			buf_addstr(b, "=3D");
		else
			buf_addch(b, *s);
	}
}

static int
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if (rq_iscntrl((unsigned char)*s))
			return 1;
	return 0;
}

int
auth_begin(const char *mech, const struct account *acct, const char *password,
    const char *cb_b64, const char *host, struct auth_sess **out,
    struct rq_err *err)
{
	const struct mech *m = find_mech(mech);
	struct auth_sess *as;
	const char *user = acct->user;
	int rc;

	*out = NULL;
	if (m == NULL)
		return rq_errf(err, EX_CONFIG, "auth %s: unknown mechanism",
		    mech);
	if (m->password && (user == NULL || *user == '\0'))
		return rq_errf(err, EX_CONFIG, "auth %s needs a user",
		    m->name);
	if (m->password && (password == NULL || *password == '\0'))
		return rq_errf(err, EX_CONFIG, "auth %s needs a %s (set "
		    "password or passwordeval)", m->name,
		    m->kind == K_GSASL ? "password" : "token");
	if (m->plus && (cb_b64 == NULL || *cb_b64 == '\0'))
		return rq_errf(err, EX_UNAVAILABLE, "%s needs TLS channel "
		    "binding, which this session cannot give", m->name);

	as = xcalloc(1, sizeof(*as));
	as->m = m;
	if (m->kind != K_GSASL) {
		struct buf b = { 0 };

		/* \x01 separates the fields: one inside them would let the
		 * user name or token add fields of its own. */
		if (has_ctl(user) || has_ctl(password) ||
		    (host != NULL && has_ctl(host))) {
			free(as);
			return rq_errf(err, EX_CONFIG, "auth %s: user, token "
			    "or host contains a control character", m->name);
		}
		if (m->kind == K_XOAUTH2) {
			buf_addf(&b, "user=%s\001auth=Bearer %s\001\001", user,
			    password);
		} else {
			buf_addstr(&b, "n,a=");
			add_saslname(&b, user);
			buf_addstr(&b, ",\001");
			if (host != NULL && *host != '\0')
				buf_addf(&b, "host=%s\001port=%d\001", host,
				    conf_port(acct));
			buf_addf(&b, "auth=Bearer %s\001\001", password);
		}
		as->initial_len = b.len;
		as->initial = buf_steal(&b);
		*out = as;
		return 0;
	}

	as->ctx = library();
	if (as->ctx == NULL) {
		free(as);
		return rq_errf(err, EX_SOFTWARE, "libgsasl cannot be set up");
	}
	if (!gsasl_client_support_p(as->ctx, m->name)) {
		auth_end(as);
		return rq_errf(err, EX_UNAVAILABLE, "the installed libgsasl "
		    "cannot do %s", m->name);
	}
	rc = gsasl_client_start(as->ctx, m->name, &as->s);
	if (rc != GSASL_OK) {
		auth_end(as);
		return rq_errf(err, EX_UNAVAILABLE, "%s: %s", m->name,
		    gsasl_strerror(rc));
	}
	if (user != NULL && *user != '\0')
		gsasl_property_set(as->s, GSASL_AUTHID, user);
	if (password != NULL && m->password)
		gsasl_property_set(as->s, GSASL_PASSWORD, password);
	gsasl_property_set(as->s, GSASL_SERVICE, "smtp");
	if (host != NULL && *host != '\0')
		gsasl_property_set(as->s, GSASL_HOSTNAME, host);
	/*
	 * Only for -PLUS: RFC 5802 would have plain SCRAM send the "y" flag
	 * when binding is possible, but libgsasl 2.2 fails a non-PLUS client
	 * that holds binding data.  (auth_choose already prefers -PLUS.)
	 */
	if (m->plus)
		gsasl_property_set(as->s, GSASL_CB_TLS_EXPORTER, cb_b64);
	*out = as;
	return 0;
}

/* OAuth: the initial message, then the answer to an error challenge. */
static int
oauth_step(struct auth_sess *as, const char *in_b64, char **out,
    struct rq_err *err)
{
	char *b64 = NULL;
	size_t b64len = 0;
	int rc;

	/* The server's JSON error report is not needed: its 535 follows. */
	(void)in_b64;
	/* The first call makes the initial message, whether the caller
	 * sends it with AUTH or after an empty 334. */
	if (as->steps == 1) {
		rc = gsasl_base64_to(as->initial, as->initial_len, &b64,
		    &b64len);
		if (rc != GSASL_OK)
			return rq_errf(err, EX_SOFTWARE, "base64: %s",
			    gsasl_strerror(rc));
		*out = xstrndup(b64, b64len);
		wipe(b64, b64len);
		gsasl_free(b64);
		as->complete = 1;
		/* 235, or a 334 carrying the server's JSON error. */
		return AUTH_STEP_MORE;
	}
	if (as->done)
		return rq_errf(err, EX_PROTOCOL, "%s: server continued after "
		    "the exchange ended", as->m->name);
	/*
	 * The 334 is an error report (RFC 7628 3.2.2): answer so that the
	 * server can send its final 5xx.  OAUTHBEARER's answer is a lone
	 * %x01; XOAUTH2's an empty line.
	 */
	as->done = 1;
	*out = xstrdup(as->m->kind == K_OAUTHBEARER ? "AQ==" : "");
	return AUTH_STEP_DONE;
}

int
auth_step(struct auth_sess *as, const char *in_b64, char **out,
    struct rq_err *err)
{
	char *o = NULL;
	int rc;

	*out = NULL;
	as->steps++;
	if (as->m->kind != K_GSASL)
		return oauth_step(as, in_b64, out, err);
	if (as->done)
		return rq_errf(err, EX_PROTOCOL, "%s: server continued after "
		    "the exchange ended", as->m->name);
	rc = gsasl_step64(as->s, in_b64 != NULL ? in_b64 : "", &o);
	if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE) {
		if (o != NULL) {
			wipe(o, strlen(o));
			gsasl_free(o);
		}
		switch (rc) {
		case GSASL_BASE64_ERROR:
			return rq_errf(err, EX_PROTOCOL, "%s: the server's "
			    "challenge is not valid base64", as->m->name);
		case GSASL_AUTHENTICATION_ERROR:
			return rq_errf(err, EX_PROTOCOL, "%s: the server "
			    "failed to prove it knows the password (or its "
			    "reply is malformed)", as->m->name);
		default:
			return rq_errf(err, EX_PROTOCOL, "%s: %s",
			    as->m->name, gsasl_strerror(rc));
		}
	}
	*out = xstrdup(o != NULL ? o : "");
	if (o != NULL) {
		wipe(o, strlen(o));
		gsasl_free(o);
	}
	if (rc == GSASL_OK) {
		as->done = as->complete = 1;
		return AUTH_STEP_DONE;
	}
	return AUTH_STEP_MORE;
}

int
auth_complete(const struct auth_sess *as)
{
	return as != NULL && as->complete;
}

/* Overwrite and drop a property libgsasl keeps a copy of. */
static void
wipe_property(Gsasl_session *s, Gsasl_property p)
{
	const char *v = gsasl_property_fast(s, p);

	/* Our session owns this copy; the const is only the API's. */
	if (v != NULL)
		wipe((char *)(uintptr_t)v, strlen(v));
	gsasl_property_free(s, p);
}

void
auth_end(struct auth_sess *as)
{
	static const Gsasl_property secrets[] = {
		GSASL_PASSWORD, GSASL_SCRAM_SALTED_PASSWORD,
		GSASL_SCRAM_SERVERKEY, GSASL_SCRAM_STOREDKEY,
		GSASL_CB_TLS_EXPORTER,
	};

	if (as == NULL)
		return;
	if (as->s != NULL) {
		for (size_t i = 0; i < RQ_ARRAY_LEN(secrets); i++)
			wipe_property(as->s, secrets[i]);
		gsasl_finish(as->s);
	}
	if (as->initial != NULL) {
		wipe(as->initial, as->initial_len);
		free(as->initial);
	}
	wipe(as, sizeof(*as));
	free(as);
}
