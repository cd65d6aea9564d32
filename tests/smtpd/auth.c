/*
 * rq-testsmtpd -- the server side of SMTP AUTH (RFC 4954).
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * SASL mechanisms run through libgsasl's server side (PLAIN, LOGIN,
 * CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256 and their -PLUS variants with
 * tls-exporter or tls-unique channel binding, EXTERNAL with a verified
 * client certificate).  XOAUTH2 (Google's protocol) and OAUTHBEARER
 * (RFC 7628) are checked here by hand against the script's "oauth" token,
 * since libgsasl has no server for them.
 *
 * When a mechanism ends with data for the client (SCRAM's server-final
 * message), it goes in a 334 and the client answers with an empty line
 * before the 235 (RFC 4954 section 4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gsasl.h>

#include "smtpd.h"

static Gsasl	*ctx;

struct hook {
	const struct sd_script	*s;
	struct sd_conn		*c;
	const char		*cb;	/* channel binding the mechanism used */
};

static const struct sd_user *
find_user(const struct sd_script *s, const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < s->nusers; i++)
		if (strcmp(s->users[i].name, name) == 0)
			return &s->users[i];
	return NULL;
}

static int
set_cb(Gsasl_session *sctx, struct hook *h, Gsasl_property prop)
{
	struct sbuf raw = { 0 };
	char *b64 = NULL;
	size_t b64len;
	int exporter = prop == GSASL_CB_TLS_EXPORTER;
	int rc = GSASL_NO_CALLBACK;

	if (tls_channel_binding(h->c, exporter, &raw) == 0 &&
	    gsasl_base64_to(raw.data, raw.len, &b64, &b64len) == GSASL_OK) {
		gsasl_property_set(sctx, prop, b64);
		h->cb = exporter ? "tls-exporter" : "tls-unique";
		rc = GSASL_OK;
	}
	free(b64);
	sbuf_free(&raw);
	return rc;
}

static int
callback(Gsasl *g, Gsasl_session *sctx, Gsasl_property prop)
{
	struct hook *h = gsasl_session_hook_get(sctx);
	const struct sd_user *u;
	const char *pw;

	(void)g;
	switch (prop) {
	case GSASL_PASSWORD:
		u = find_user(h->s, gsasl_property_fast(sctx, GSASL_AUTHID));
		if (u == NULL || u->password == NULL)
			return GSASL_NO_PASSWORD;
		gsasl_property_set(sctx, GSASL_PASSWORD, u->password);
		return GSASL_OK;
	case GSASL_VALIDATE_SIMPLE:
		u = find_user(h->s, gsasl_property_fast(sctx, GSASL_AUTHID));
		pw = gsasl_property_fast(sctx, GSASL_PASSWORD);
		if (u != NULL && u->password != NULL && pw != NULL &&
		    strcmp(u->password, pw) == 0)
			return GSASL_OK;
		return GSASL_AUTHENTICATION_ERROR;
	case GSASL_VALIDATE_EXTERNAL:
		return tls_client_verified(h->c) ? GSASL_OK :
		    GSASL_AUTHENTICATION_ERROR;
	case GSASL_CB_TLS_EXPORTER:
	case GSASL_CB_TLS_UNIQUE:
		return set_cb(sctx, h, prop);
	default:
		return GSASL_NO_CALLBACK;
	}
}

void
auth_setup(void)
{
	int rc;

	rc = gsasl_init(&ctx);
	if (rc != GSASL_OK)
		sd_die("gsasl_init: %s", gsasl_strerror(rc));
	gsasl_callback_set(ctx, callback);
}

int
auth_supported(const char *mech)
{
	if (strcmp(mech, "XOAUTH2") == 0 || strcmp(mech, "OAUTHBEARER") == 0)
		return 1;
	return gsasl_server_support_p(ctx, mech);
}

static int
say(struct sd_conn *c, const char *s)
{
	struct sbuf b = { 0 };

	if (sd_verbose) {
		sd_escape(&b, s, strlen(s), 300);
		sd_log("S: %s", b.data ? b.data : "");
		sbuf_free(&b);
	}
	return conn_write(c, s, strlen(s));
}

/* Read one client line (CRLF removed) into out; -1 when gone. */
static int
hear(struct sd_conn *c, struct sbuf *out, size_t max)
{
	struct sbuf b = { 0 };
	int r = conn_getline(c, out, max);

	if (r != 1)
		return -1;
	out->data[--out->len] = '\0';
	if (out->len > 0 && out->data[out->len - 1] == '\r')
		out->data[--out->len] = '\0';
	if (sd_verbose) {
		sd_escape(&b, out->data, out->len, 300);
		sd_log("C: %s", b.data ? b.data : "");
		sbuf_free(&b);
	}
	return 0;
}

/* Send a 334 with base64 of data; -1 when the connection is gone. */
static int
challenge(struct sd_conn *c, const char *data, size_t n)
{
	char *b64 = NULL;
	size_t len;
	int rc;

	if (gsasl_base64_to(data, n, &b64, &len) != GSASL_OK)
		return -1;
	{
		struct sbuf b = { 0 };

		sbuf_addf(&b, "334 %s\r\n", b64);
		rc = say(c, b.data);
		sbuf_free(&b);
	}
	free(b64);
	return rc;
}

/* Value of "key=" among \x01-separated pairs of p[0..n), or NULL. */
static char *
kv_get(const char *p, size_t n, const char *key)
{
	size_t klen = strlen(key), i = 0;

	while (i < n) {
		const char *e = memchr(p + i, '\x01', n - i);
		size_t len = e != NULL ? (size_t)(e - (p + i)) : n - i;

		if (len >= klen && memcmp(p + i, key, klen) == 0)
			return sd_strndup(p + i + klen, len - klen);
		i += len + 1;
	}
	return NULL;
}

/*
 * XOAUTH2: user=NAME ^A auth=Bearer TOKEN ^A ^A.
 * OAUTHBEARER (RFC 7628): n,a=NAME, ^A host=.. ^A auth=Bearer TOKEN ^A ^A.
 */
static int
oauth_run(struct sd_conn *c, const struct sd_script *s, const char *mech,
    const char *initial, struct sbuf *info)
{
	struct sbuf line = { 0 };
	char *dec = NULL, *user = NULL, *auth = NULL;
	size_t declen = 0, i;
	int bearer = strcmp(mech, "OAUTHBEARER") == 0, ok = 0, rc = 0;

	if (initial == NULL) {
		if (say(c, "334 \r\n") != 0 || hear(c, &line, 65536) != 0) {
			rc = -1;
			goto out;
		}
		initial = line.data;
	}
	if (strcmp(initial, "*") == 0) {
		rc = say(c, "501 5.7.0 Authentication cancelled\r\n") ? -1 : 0;
		goto out;
	}
	if (strcmp(initial, "=") != 0 &&
	    gsasl_base64_from(initial, strlen(initial), &dec, &declen) !=
	    GSASL_OK) {
		rc = say(c, "501 5.5.2 Cannot decode response\r\n") ? -1 : 0;
		goto out;
	}
	if (dec != NULL && bearer) {
		/* GS2 header "n,a=NAME," then the key/value pairs. */
		const char *a = NULL, *comma;

		if (declen > 4 && memcmp(dec, "n,a=", 4) == 0)
			a = dec + 4;
		comma = memchr(dec, ',', declen);
		comma = comma ? memchr(comma + 1, ',', declen -
		    (size_t)(comma + 1 - dec)) : NULL;
		if (a != NULL && comma != NULL)
			user = sd_strndup(a, (size_t)(comma - a));
		if (comma != NULL)
			auth = kv_get(comma + 1, declen -
			    (size_t)(comma + 1 - dec), "auth=");
	} else if (dec != NULL) {
		user = kv_get(dec, declen, "user=");
		auth = kv_get(dec, declen, "auth=");
	}
	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0) {
		for (i = 0; i < s->nusers; i++) {
			const struct sd_user *u = &s->users[i];

			if (u->token != NULL && strcmp(u->token, auth + 7) == 0 &&
			    (user == NULL || strcmp(user, u->name) == 0)) {
				ok = 1;
				if (user == NULL)
					user = sd_strdup(u->name);
				break;
			}
		}
	}
	if (ok) {
		sbuf_addf(info, "auth_mech=%s\nauth_user=%s\n", mech, user);
		rc = say(c, "235 2.7.0 Authentication successful\r\n") ? -1 : 1;
		goto out;
	}
	/* Failure: an error document, the client's dummy reply, then 535. */
	{
		static const char err2[] = "{\"status\":\"401\","
		    "\"schemes\":\"bearer\",\"scope\":\"https://mail.google.com/\"}";
		static const char errb[] = "{\"status\":\"invalid_token\","
		    "\"scope\":\"\"}";

		sbuf_addf(info, "auth_failed=%s\n", mech);
		if ((bearer ? challenge(c, errb, sizeof(errb) - 1) :
		    challenge(c, err2, sizeof(err2) - 1)) != 0 ||
		    hear(c, &line, 65536) != 0) {
			rc = -1;
			goto out;
		}
		rc = say(c, "535 5.7.8 Authentication credentials invalid\r\n") ?
		    -1 : 0;
	}
out:
	free(dec);
	free(user);
	free(auth);
	sbuf_free(&line);
	return rc;
}

int
auth_run(struct sd_conn *c, const struct sd_script *s, const char *mech,
    const char *initial, struct sbuf *info)
{
	struct hook h = { s, c, NULL };
	Gsasl_session *sctx = NULL;
	struct sbuf line = { 0 }, b = { 0 };
	const char *input;
	char *output = NULL;
	int rc, res = 0;

	if (strcmp(mech, "XOAUTH2") == 0 || strcmp(mech, "OAUTHBEARER") == 0)
		return oauth_run(c, s, mech, initial, info);
	rc = gsasl_server_start(ctx, mech, &sctx);
	if (rc != GSASL_OK) {
		sd_log("gsasl_server_start %s: %s", mech, gsasl_strerror(rc));
		return say(c, "504 5.5.4 Unrecognized authentication type\r\n") ?
		    -1 : 0;
	}
	gsasl_session_hook_set(sctx, &h);
	gsasl_property_set(sctx, GSASL_SERVICE, "smtp");
	gsasl_property_set(sctx, GSASL_HOSTNAME, s->hostname);
	/* "=" is an empty initial response (RFC 4954 section 4). */
	input = initial == NULL ? "" : strcmp(initial, "=") == 0 ? "" : initial;
	for (;;) {
		free(output);
		output = NULL;
		rc = gsasl_step64(sctx, input, &output);
		if (rc != GSASL_NEEDS_MORE)
			break;
		b.len = 0;
		sbuf_addf(&b, "334 %s\r\n", output);
		if (say(c, b.data) != 0 || hear(c, &line, 65536) != 0) {
			res = -1;
			goto out;
		}
		if (strcmp(line.data, "*") == 0) {
			res = say(c, "501 5.7.0 Authentication cancelled\r\n") ?
			    -1 : 0;
			goto out;
		}
		input = line.data;
	}
	if (rc == GSASL_OK && output != NULL && output[0] != '\0') {
		b.len = 0;
		sbuf_addf(&b, "334 %s\r\n", output);
		if (say(c, b.data) != 0 || hear(c, &line, 65536) != 0) {
			res = -1;
			goto out;
		}
		if (line.len != 0)
			rc = GSASL_MECHANISM_PARSE_ERROR;
	}
	if (rc == GSASL_OK) {
		const char *user = gsasl_property_fast(sctx, GSASL_AUTHID);

		sbuf_addf(info, "auth_mech=%s\nauth_user=%s\n", mech,
		    user != NULL ? user : "");
		if (h.cb != NULL)
			sbuf_addf(info, "auth_cb=%s\n", h.cb);
		res = say(c, "235 2.7.0 Authentication successful\r\n") ? -1 : 1;
	} else {
		sd_log("auth %s failed: %s", mech, gsasl_strerror(rc));
		sbuf_addf(info, "auth_failed=%s\n", mech);
		res = say(c, "535 5.7.8 Authentication credentials invalid\r\n") ?
		    -1 : 0;
	}
out:
	free(output);
	sbuf_free(&line);
	sbuf_free(&b);
	gsasl_finish(sctx);
	return res;
}
