/*
 * relayq -- unit tests for SMTP AUTH (auth.c): the mechanism choice table,
 * known encodings, and every libgsasl mechanism run against a libgsasl
 * server session in the same process.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsasl.h>

#include "auth.h"
#include "conf.h"
#include "tap.h"
#include "util.h"

static void
split(struct strlist *l, const char *s)
{
	char *copy = xstrdup(s), *save = NULL;

	for (char *w = strtok_r(copy, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save))
		strlist_add(l, w);
	free(copy);
}

/* ---- auth_choose ------------------------------------------------------- */

static const struct {
	const char	*auth;
	const char	*offered;
	int		 tls, cb, plaintext;
	const char	*want;		/* mechanism, or NULL for an error */
	int		 ex;
	const char	*errword;
} choose[] = {
	{ "on", "PLAIN LOGIN", 1, 0, 0, "PLAIN", 0, NULL },
	{ "on", "LOGIN CRAM-MD5 PLAIN", 1, 0, 0, "PLAIN", 0, NULL },
	{ "on", "CRAM-MD5 LOGIN", 1, 0, 0, "LOGIN", 0, NULL },
	{ "on", "CRAM-MD5", 1, 0, 0, "CRAM-MD5", 0, NULL },
	{ "on", "SCRAM-SHA-1 SCRAM-SHA-256 PLAIN", 1, 0, 0, "SCRAM-SHA-256",
	    0, NULL },
	{ "on", "PLAIN SCRAM-SHA-1", 1, 0, 0, "SCRAM-SHA-1", 0, NULL },
	{ "on", "SCRAM-SHA-256-PLUS SCRAM-SHA-256", 1, 1, 0,
	    "SCRAM-SHA-256-PLUS", 0, NULL },
	/* -PLUS only with channel binding. */
	{ "on", "SCRAM-SHA-256-PLUS SCRAM-SHA-256", 1, 0, 0, "SCRAM-SHA-256",
	    0, NULL },
	{ "on", "SCRAM-SHA-1-PLUS SCRAM-SHA-1 SCRAM-SHA-256", 1, 1, 0,
	    "SCRAM-SHA-1-PLUS", 0, NULL },
	{ "on", "SCRAM-SHA-256-PLUS", 1, 0, 0, NULL, EX_UNAVAILABLE,
	    "no mechanism" },
	/* Named-only mechanisms are never picked by "on". */
	{ "on", "GSSAPI EXTERNAL XOAUTH2 OAUTHBEARER", 1, 1, 0, NULL,
	    EX_UNAVAILABLE, "offered: GSSAPI EXTERNAL XOAUTH2 OAUTHBEARER" },
	{ "on", "", 1, 0, 0, NULL, EX_UNAVAILABLE, "does not offer AUTH" },
	/* No plaintext authentication without TLS. */
	{ "on", "PLAIN LOGIN", 0, 0, 0, NULL, EX_UNAVAILABLE, "without TLS" },
	{ "CRAM-MD5", "CRAM-MD5", 0, 0, 0, NULL, EX_UNAVAILABLE,
	    "without TLS" },
	{ "SCRAM-SHA-256", "SCRAM-SHA-256", 0, 0, 0, NULL, EX_UNAVAILABLE,
	    "without TLS" },
	{ "on", "PLAIN", 0, 0, 1, "PLAIN", 0, NULL },
	/* A configured mechanism that is not offered: no silent fallback. */
	{ "SCRAM-SHA-256", "PLAIN LOGIN SCRAM-SHA-1", 1, 0, 0, NULL,
	    EX_UNAVAILABLE, "does not offer SCRAM-SHA-256" },
	{ "CRAM-MD5", "PLAIN", 1, 0, 0, NULL, EX_UNAVAILABLE,
	    "does not offer CRAM-MD5" },
	{ "scram-sha-256", "SCRAM-SHA-256", 1, 0, 0, "SCRAM-SHA-256", 0, NULL },
	{ "SCRAM-SHA-256-PLUS", "SCRAM-SHA-256-PLUS SCRAM-SHA-256", 1, 0, 0,
	    NULL, EX_UNAVAILABLE, "channel binding" },
	{ "SCRAM-SHA-256-PLUS", "SCRAM-SHA-256-PLUS", 1, 1, 0,
	    "SCRAM-SHA-256-PLUS", 0, NULL },
	{ "XOAUTH2", "PLAIN XOAUTH2", 1, 0, 0, "XOAUTH2", 0, NULL },
	{ "OAUTHBEARER", "OAUTHBEARER", 1, 0, 0, "OAUTHBEARER", 0, NULL },
	{ "EXTERNAL", "EXTERNAL PLAIN", 1, 0, 0, "EXTERNAL", 0, NULL },
	{ "LOGIN", "PLAIN LOGIN", 1, 0, 0, "LOGIN", 0, NULL },
	{ "DIGEST-MD5", "DIGEST-MD5", 1, 0, 0, NULL, EX_CONFIG, "unknown" },
	{ "off", "PLAIN", 1, 0, 0, NULL, EX_SOFTWARE, "off" },
};

static void
test_wanted(void)
{
	static const struct {
		const char	*auth;
		int		 want;
	} cases[] = {
		{ NULL, 0 }, { "off", 0 }, { "Off", 0 }, { "on", 1 },
		{ "PLAIN", 1 },
	};
	struct account a;

	for (size_t i = 0; i < RQ_ARRAY_LEN(cases); i++) {
		memset(&a, 0, sizeof(a));
		a.auth = (char *)(uintptr_t)cases[i].auth;
		is_int(auth_wanted(&a), cases[i].want, "auth_wanted(auth %s)",
		    cases[i].auth != NULL ? cases[i].auth : "unset");
	}
}

static void
test_choose(void)
{
	for (size_t i = 0; i < RQ_ARRAY_LEN(choose); i++) {
		struct account a;
		struct strlist off = { 0 };
		struct rq_err err = { 0 };
		const char *mech = NULL;
		int rc;

		memset(&a, 0, sizeof(a));
		a.auth = (char *)(uintptr_t)choose[i].auth;
		a.auth_plaintext = choose[i].plaintext;
		split(&off, choose[i].offered);
		rc = auth_choose(&a, &off, choose[i].tls, choose[i].cb, &mech,
		    &err);
		if (choose[i].want != NULL) {
			is_int(rc, 0, "choose %zu (%s / %s): ok", i,
			    choose[i].auth, choose[i].offered);
			is_str(mech, choose[i].want, "choose %zu: mechanism", i);
		} else {
			is_int(rc, choose[i].ex, "choose %zu (%s / %s): refused",
			    i, choose[i].auth, choose[i].offered);
			ok(mech == NULL, "choose %zu: nothing chosen", i);
			ok(strstr(err.msg, choose[i].errword) != NULL,
			    "choose %zu: \"%s\" mentions \"%s\"", i, err.msg,
			    choose[i].errword);
		}
		strlist_free(&off);
	}
}

/* ---- known encodings --------------------------------------------------- */

/* One exchange: the challenge (NULL: the initial response), the response. */
struct exch {
	const char	*in;
	const char	*out;
	int		 ret;
};

static const struct {
	const char	*mech;
	const char	*user;
	const char	*secret;
	const char	*host;
	int		 port;
	struct exch	 x[4];
} vectors[] = {
	/* RFC 4616 form with RFC 2195's credentials. */
	{ "PLAIN", "tim", "tanstaaftanstaaf", NULL, 0, {
	    { NULL, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm", AUTH_STEP_DONE } } },
	{ "LOGIN", "tim", "tanstaaftanstaaf", NULL, 0, {
	    { "VXNlcm5hbWU6", "dGlt", AUTH_STEP_MORE },
	    { "UGFzc3dvcmQ6", "dGFuc3RhYWZ0YW5zdGFhZg==", AUTH_STEP_DONE } } },
	/* RFC 2195 section 2. */
	{ "CRAM-MD5", "tim", "tanstaaftanstaaf", NULL, 0, {
	    { "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
	      "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw",
	      AUTH_STEP_DONE } } },
	/* Google's XOAUTH2 documentation example. */
	{ "XOAUTH2", "someuser@example.com",
	    "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", NULL, 0, {
	    { NULL, "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5"
	      "LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==",
	      AUTH_STEP_MORE },
	    { "eyJzdGF0dXMiOiI0MDEifQ==", "", AUTH_STEP_DONE } } },
	/* RFC 7628 section 4.1. */
	{ "OAUTHBEARER", "user@example.com",
	    "vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==", "server.example.com",
	    143, {
	    { NULL, "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUu"
	      "Y29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNr"
	      "QmhkSFJoZG1semRHRXVZMjl0Q2c9PQEB", AUTH_STEP_MORE },
	    /* RFC 7628 3.2.3: an error challenge is answered with %x01. */
	    { "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=", "AQ==",
	      AUTH_STEP_DONE } } },
	/* saslname escaping of ',' and '=' (RFC 5801). */
	{ "OAUTHBEARER", "a,b=c", "T", NULL, 0, {
	    /* "n,a=a=2Cb=3Dc,\x01auth=Bearer T\x01\x01" */
	    { NULL, "bixhPWE9MkNiPTNEYywBYXV0aD1CZWFyZXIgVAEB",
	      AUTH_STEP_MORE } } },
	/* EXTERNAL: an empty initial response (sent as "="). */
	{ "EXTERNAL", NULL, NULL, NULL, 0, {
	    { NULL, "", AUTH_STEP_DONE } } },
};

static void
test_vectors(void)
{
	for (size_t i = 0; i < RQ_ARRAY_LEN(vectors); i++) {
		struct account a;
		struct auth_sess *as = NULL;
		struct rq_err err = { 0 };
		int rc;

		memset(&a, 0, sizeof(a));
		a.user = (char *)(uintptr_t)vectors[i].user;
		a.port = vectors[i].port;
		a.tls = 1;
		rc = auth_begin(vectors[i].mech, &a, vectors[i].secret, NULL,
		    vectors[i].host, &as, &err);
		if (!is_int(rc, 0, "vector %zu %s: begin", i, vectors[i].mech)) {
			diag("%s", err.msg);
			continue;
		}
		is_int(auth_has_initial(vectors[i].mech),
		    vectors[i].x[0].in == NULL, "vector %zu: initial response "
		    "%s", i, vectors[i].x[0].in == NULL ? "yes" : "no");
		for (size_t k = 0; k < RQ_ARRAY_LEN(vectors[i].x); k++) {
			const struct exch *x = &vectors[i].x[k];
			char *out = NULL;

			if (x->out == NULL)
				break;
			rc = auth_step(as, x->in, &out, &err);
			is_int(rc, x->ret, "vector %zu %s step %zu: result", i,
			    vectors[i].mech, k);
			is_str(out, x->out, "vector %zu %s step %zu: response",
			    i, vectors[i].mech, k);
			free_secret(out);
		}
		auth_end(as);
	}
}

/* Missing credentials and hostile values. */
static void
test_begin_errors(void)
{
	static const struct {
		const char	*mech;
		const char	*user;
		const char	*secret;
		const char	*cb;
		int		 ex;
		const char	*errword;
	} bad[] = {
		{ "PLAIN", NULL, "pw", NULL, EX_CONFIG, "needs a user" },
		{ "SCRAM-SHA-256", "u", NULL, NULL, EX_CONFIG, "password" },
		{ "XOAUTH2", "u", "", NULL, EX_CONFIG, "token" },
		{ "SCRAM-SHA-256-PLUS", "u", "pw", NULL, EX_UNAVAILABLE,
		    "channel binding" },
		{ "XOAUTH2", "u\001auth=Bearer x", "tok3n", NULL, EX_CONFIG,
		    "control character" },
		{ "OAUTHBEARER", "u", "tok3n\001\001", NULL, EX_CONFIG,
		    "control character" },
		{ "NOPE", "u", "passw0rd", NULL, EX_CONFIG, "unknown" },
	};

	for (size_t i = 0; i < RQ_ARRAY_LEN(bad); i++) {
		struct account a;
		struct auth_sess *as = NULL;
		struct rq_err err = { 0 };

		memset(&a, 0, sizeof(a));
		a.user = (char *)(uintptr_t)bad[i].user;
		is_int(auth_begin(bad[i].mech, &a, bad[i].secret, bad[i].cb,
		    "mx.example", &as, &err), bad[i].ex,
		    "begin %zu (%s): refused", i, bad[i].mech);
		ok(as == NULL, "begin %zu: no session", i);
		ok(strstr(err.msg, bad[i].errword) != NULL,
		    "begin %zu: \"%s\" mentions \"%s\"", i, err.msg,
		    bad[i].errword);
		ok(bad[i].secret == NULL || *bad[i].secret == '\0' ||
		    strstr(err.msg, bad[i].secret) == NULL,
		    "begin %zu: the secret is not in the message", i);
	}
	auth_end(NULL);
}

/* ---- against a libgsasl server ----------------------------------------- */

static const char *srv_password;
static const char *srv_cb;

static int
server_cb(Gsasl *ctx, Gsasl_session *s, Gsasl_property prop)
{
	const char *id, *pw;

	(void)ctx;
	switch (prop) {
	case GSASL_PASSWORD:
		gsasl_property_set(s, GSASL_PASSWORD, srv_password);
		return GSASL_OK;
	case GSASL_VALIDATE_SIMPLE:
		id = gsasl_property_fast(s, GSASL_AUTHID);
		pw = gsasl_property_fast(s, GSASL_PASSWORD);
		return id != NULL && pw != NULL && strcmp(id, "alice") == 0 &&
		    strcmp(pw, srv_password) == 0 ? GSASL_OK :
		    GSASL_AUTHENTICATION_ERROR;
	case GSASL_CB_TLS_EXPORTER:
		if (srv_cb == NULL)
			return GSASL_NO_CALLBACK;
		gsasl_property_set(s, GSASL_CB_TLS_EXPORTER, srv_cb);
		return GSASL_OK;
	default:
		return GSASL_NO_CALLBACK;
	}
}

/* Flip one character inside the "v=" of a SCRAM server-final message. */
static char *
tamper(const char *b64)
{
	char *raw = NULL, *out = NULL, *res;
	size_t rawlen = 0, outlen = 0;

	gsasl_base64_from(b64, strlen(b64), &raw, &rawlen);
	if (rawlen > 4)
		raw[3] = raw[3] == 'A' ? 'B' : 'A';
	gsasl_base64_to(raw, rawlen, &out, &outlen);
	res = xstrndup(out, outlen);
	gsasl_free(raw);
	gsasl_free(out);
	return res;
}

/*
 * Drive one exchange the way smtp.c does: AUTH [initial], then 334
 * challenges until the server says 235 (returns 1) or 535 (0), or the
 * client gives up (-1).
 */
static int
run_exchange(Gsasl *srv, const char *mech, const char *client_pw,
    const char *client_cb, int tamper_final)
{
	struct account a;
	struct auth_sess *as = NULL;
	Gsasl_session *ss = NULL;
	struct rq_err err = { 0 };
	char *cl = NULL, *so = NULL;
	int rc, srv_rc, result = -1;

	memset(&a, 0, sizeof(a));
	a.user = (char *)(uintptr_t)"alice";
	if (auth_begin(mech, &a, client_pw, client_cb, "mx.example", &as,
	    &err) != 0) {
		diag("auth_begin %s: %s", mech, err.msg);
		return -2;
	}
	if (gsasl_server_start(srv, mech, &ss) != GSASL_OK) {
		auth_end(as);
		return -2;
	}
	if (auth_has_initial(mech)) {
		rc = auth_step(as, NULL, &cl, &err);
	} else {
		cl = xstrdup("");
		rc = AUTH_STEP_MORE;
	}
	for (int round = 0; round < 10; round++) {
		if (rc != AUTH_STEP_MORE && rc != AUTH_STEP_DONE)
			break;		/* the client gave up: "*" */
		srv_rc = gsasl_step64(ss, cl, &so);
		free_secret(cl);
		cl = NULL;
		if (srv_rc != GSASL_OK && srv_rc != GSASL_NEEDS_MORE) {
			result = 0;	/* 535 */
			break;
		}
		if (srv_rc == GSASL_OK && (so == NULL || *so == '\0')) {
			/* 235: believable only once the client is done. */
			result = auth_complete(as) ? 1 : -1;
			break;
		}
		/* 334 with so (for SCRAM, the server-final message). */
		if (srv_rc == GSASL_OK && tamper_final) {
			char *t = tamper(so);

			rc = auth_step(as, t, &cl, &err);
			free(t);
		} else
			rc = auth_step(as, so, &cl, &err);
		gsasl_free(so);
		so = NULL;
		if (srv_rc == GSASL_OK) {
			/* The server already decided; the client's empty
			 * answer to server-final gets the 235. */
			result = rc == AUTH_STEP_DONE && auth_complete(as) ?
			    1 : -1;
			break;
		}
	}
	free_secret(cl);
	gsasl_free(so);
	gsasl_finish(ss);
	auth_end(as);
	return result;
}

static void
test_server(void)
{
	static const char cb1[] = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=";
	static const char cb2[] = "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY=";
	static const struct {
		const char	*mech;
		const char	*client_pw;
		const char	*client_cb;
		const char	*server_cb;
		int		 tamper;
		int		 want;
	} runs[] = {
		{ "PLAIN", "s3cret", NULL, NULL, 0, 1 },
		{ "PLAIN", "wrong", NULL, NULL, 0, 0 },
		{ "LOGIN", "s3cret", NULL, NULL, 0, 1 },
		{ "LOGIN", "wrong", NULL, NULL, 0, 0 },
		{ "CRAM-MD5", "s3cret", NULL, NULL, 0, 1 },
		{ "CRAM-MD5", "wrong", NULL, NULL, 0, 0 },
		{ "SCRAM-SHA-1", "s3cret", NULL, NULL, 0, 1 },
		{ "SCRAM-SHA-1", "wrong", NULL, NULL, 0, 0 },
		{ "SCRAM-SHA-256", "s3cret", NULL, NULL, 0, 1 },
		{ "SCRAM-SHA-256", "wrong", NULL, NULL, 0, 0 },
		{ "SCRAM-SHA-256-PLUS", "s3cret", cb1, cb1, 0, 1 },
		{ "SCRAM-SHA-1-PLUS", "s3cret", cb1, cb1, 0, 1 },
		/* A man in the middle has a different TLS session. */
		{ "SCRAM-SHA-256-PLUS", "s3cret", cb1, cb2, 0, 0 },
		{ "SCRAM-SHA-1-PLUS", "s3cret", cb2, cb1, 0, 0 },
		/* Binding data offered to plain SCRAM is not used. */
		{ "SCRAM-SHA-256", "s3cret", cb1, NULL, 0, 1 },
		{ "SCRAM-SHA-1", "s3cret", cb1, cb1, 0, 1 },
		/* A server that cannot prove it knows the password. */
		{ "SCRAM-SHA-256", "s3cret", NULL, NULL, 1, -1 },
	};
	Gsasl *srv = NULL;

	if (gsasl_init(&srv) != GSASL_OK) {
		ok(0, "gsasl_init for the server");
		return;
	}
	gsasl_callback_set(srv, server_cb);
	srv_password = "s3cret";
	for (size_t i = 0; i < RQ_ARRAY_LEN(runs); i++) {
		int got;

		srv_cb = runs[i].server_cb;
		got = run_exchange(srv, runs[i].mech, runs[i].client_pw,
		    runs[i].client_cb, runs[i].tamper);
		is_int(got, runs[i].want, "server %zu: %s with %s password%s%s",
		    i, runs[i].mech, strcmp(runs[i].client_pw, "s3cret") == 0 ?
		    "the right" : "a wrong",
		    runs[i].client_cb != runs[i].server_cb ?
		    ", other TLS session" : "",
		    runs[i].tamper ? ", forged server signature" : "");
	}
	gsasl_done(srv);
}

/* SCRAM: a 235 right after client-final skips the server's proof. */
static void
test_early_success(void)
{
	struct account a;
	struct auth_sess *as = NULL;
	Gsasl *srv = NULL;
	Gsasl_session *ss = NULL;
	struct rq_err err = { 0 };
	char *cl = NULL, *so = NULL;

	memset(&a, 0, sizeof(a));
	a.user = (char *)(uintptr_t)"alice";
	gsasl_init(&srv);
	gsasl_callback_set(srv, server_cb);
	srv_password = "s3cret";
	srv_cb = NULL;
	gsasl_server_start(srv, "SCRAM-SHA-256", &ss);
	auth_begin("SCRAM-SHA-256", &a, "s3cret", NULL, NULL, &as, &err);
	auth_step(as, NULL, &cl, &err);			/* client-first */
	ok(!auth_complete(as), "SCRAM: not complete after client-first");
	gsasl_step64(ss, cl, &so);			/* server-first */
	free_secret(cl);
	is_int(auth_step(as, so, &cl, &err), AUTH_STEP_MORE,
	    "SCRAM: client-final");
	ok(!auth_complete(as), "SCRAM: a 235 now would not be believable");
	gsasl_free(so);
	so = NULL;
	gsasl_step64(ss, cl, &so);			/* server-final */
	free_secret(cl);
	cl = NULL;
	is_int(auth_step(as, so, &cl, &err), AUTH_STEP_DONE,
	    "SCRAM: server-final verified");
	ok(auth_complete(as), "SCRAM: complete after server-final");
	is_str(cl, "", "SCRAM: the answer to server-final is empty");
	free_secret(cl);
	gsasl_free(so);
	gsasl_finish(ss);
	gsasl_done(srv);
	auth_end(as);
	ok(!auth_complete(NULL), "auth_complete(NULL) is 0");
}

/* A session is over once the mechanism said so. */
static void
test_no_extra_steps(void)
{
	struct account a;
	struct auth_sess *as = NULL;
	struct rq_err err = { 0 };
	char *out = NULL;

	memset(&a, 0, sizeof(a));
	a.user = (char *)(uintptr_t)"tim";
	auth_begin("PLAIN", &a, "pw", NULL, NULL, &as, &err);
	is_int(auth_step(as, NULL, &out, &err), AUTH_STEP_DONE, "PLAIN done");
	free_secret(out);
	out = NULL;
	is_int(auth_step(as, "", &out, &err), EX_PROTOCOL,
	    "another 334 after PLAIN is refused");
	ok(out == NULL, "and nothing is sent");
	auth_end(as);

	auth_begin("CRAM-MD5", &a, "s3cr3tpw", NULL, NULL, &as, &err);
	is_int(auth_step(as, "!!!notbase64", &out, &err), EX_PROTOCOL,
	    "CRAM-MD5 with a challenge that is not base64");
	ok(strstr(err.msg, "base64") != NULL, "says base64: %s", err.msg);
	ok(strstr(err.msg, "s3cr3tpw") == NULL, "no secret in the message");
	auth_end(as);
}

int
main(void)
{
	test_wanted();
	test_choose();
	test_vectors();
	test_begin_errors();
	test_server();
	test_early_success();
	test_no_extra_steps();
	return done_testing();
}
