/*
 * relayq -- unit tests for TLS (tls.c through net.c) over loopback.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Certificates are made with certtool(1) in a fresh temporary directory;
 * a forked child runs a GnuTLS server (this test, not relayq, includes
 * GnuTLS for that) which greets with "220 cb=<tls-exporter hex>
 * resumed=<0|1> clientcert=<0|1>", echoes one line and closes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "conf.h"
#include "net.h"
#include "reply.h"
#include "tap.h"
#include "tls.h"
#include "util.h"

static char dir[] = "/tmp/t_tls.XXXXXX";

static char *
path(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static int
run(const char *cmd)
{
	char *full = xasprintf("cd %s && (%s) 2>/dev/null", dir, cmd);
	int rc = system(full);

	free(full);
	return rc;
}

static void
write_file(const char *name, const char *text)
{
	char *p = path(name);
	FILE *f = fopen(p, "w");

	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		perror(p);
		exit(1);
	}
	free(p);
}

#define KEY(n) "certtool --generate-privkey --key-type=ecdsa --outfile " n \
	" >/dev/null"

/* Every certificate the cases need; 0 when certtool made them all. */
static int
make_certs(void)
{
	static const char *srv_names =
	    "dns_name = \"localhost\"\nip_address = \"127.0.0.1\"\n"
	    "tls_www_server\nsigning_key\nencryption_key\n";
	struct buf t = { 0 };
	int rc = 0;

	write_file("ca.tmpl", "cn = \"relayq test CA\"\nca\ncert_signing_key\n"
	    "crl_signing_key\nexpiration_days = 30\n");
	write_file("crl.tmpl", "crl_next_update = 30\ncrl_number = 1\n");
	write_file("ca2.tmpl", "cn = \"another CA\"\nca\ncert_signing_key\n"
	    "expiration_days = 30\n");
	buf_addf(&t, "cn = \"localhost\"\n%sexpiration_days = 30\n", srv_names);
	write_file("srv.tmpl", t.data);
	buf_reset(&t);
	buf_addf(&t, "cn = \"localhost\"\n%sactivation_date = "
	    "\"2020-01-01 00:00:00 UTC\"\nexpiration_date = "
	    "\"2020-06-01 00:00:00 UTC\"\n", srv_names);
	write_file("old.tmpl", t.data);
	buf_free(&t);
	write_file("cli.tmpl", "cn = \"client\"\ntls_www_client\nsigning_key\n"
	    "expiration_days = 30\n");

	rc |= run(KEY("ca.key") " && " KEY("ca2.key") " && " KEY("srv.key") \
	    " && " KEY("cli.key"));
	rc |= run("certtool --generate-self-signed --load-privkey ca.key "
	    "--template ca.tmpl --outfile ca.pem");
	rc |= run("certtool --generate-self-signed --load-privkey ca2.key "
	    "--template ca2.tmpl --outfile ca2.pem");
	/* good: signed by ca; other: the same key, signed by ca2 */
	rc |= run("certtool --generate-certificate --load-privkey srv.key "
	    "--load-ca-certificate ca.pem --load-ca-privkey ca.key "
	    "--template srv.tmpl --outfile good.pem");
	rc |= run("certtool --generate-certificate --load-privkey srv.key "
	    "--load-ca-certificate ca2.pem --load-ca-privkey ca2.key "
	    "--template srv.tmpl --outfile other.pem");
	rc |= run("certtool --generate-certificate --load-privkey srv.key "
	    "--load-ca-certificate ca.pem --load-ca-privkey ca.key "
	    "--template old.tmpl --outfile expired.pem");
	rc |= run("certtool --generate-self-signed --load-privkey srv.key "
	    "--template srv.tmpl --outfile self.pem");
	rc |= run("certtool --generate-certificate --load-privkey cli.key "
	    "--load-ca-certificate ca.pem --load-ca-privkey ca.key "
	    "--template cli.tmpl --outfile cli.pem");
	rc |= run("certtool --fingerprint --hash=sha256 --infile good.pem "
	    "> good.fp");
	rc |= run("certtool --generate-crl --load-ca-privkey ca.key "
	    "--load-ca-certificate ca.pem --load-certificate good.pem "
	    "--template crl.tmpl --outfile crl.pem");
	return rc;
}

static char *
read_file(const char *name)
{
	char *p = path(name);
	FILE *f = fopen(p, "r");
	char line[256];

	free(p);
	if (f == NULL || fgets(line, sizeof(line), f) == NULL)
		return xstrdup("");
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	return xstrdup(line);
}

/* ---- the server ---------------------------------------------------------- */

struct server {
	pid_t	pid;
	int	port;
};

static void
tls_child(int lfd, const char *cert, const char *prio, int nconn, int mute)
{
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t tkey;
	char *c = path(cert), *k = path("srv.key");

	gnutls_certificate_allocate_credentials(&cred);
	if (gnutls_certificate_set_x509_key_file(cred, c, k,
	    GNUTLS_X509_FMT_PEM) < 0)
		_exit(2);
	free(c);
	free(k);
	gnutls_session_ticket_key_generate(&tkey);
	for (int i = 0; i < nconn; i++) {
		gnutls_session_t s;
		gnutls_datum_t cb = { NULL, 0 };
		unsigned ncerts = 0;
		char line[512], hex[80] = "none";
		ssize_t n;
		int fd = accept(lfd, NULL, NULL), r;

		if (fd < 0)
			_exit(3);
		if (mute) {
			/* Accept, say nothing, wait for the client to go. */
			while (read(fd, line, sizeof(line)) > 0)
				;
			close(fd);
			continue;
		}
		gnutls_init(&s, GNUTLS_SERVER);
		gnutls_priority_set_direct(s, prio, NULL);
		gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
		gnutls_session_ticket_enable_server(s, &tkey);
		gnutls_transport_set_int(s, fd);
		do
			r = gnutls_handshake(s);
		while (r < 0 && !gnutls_error_is_fatal(r));
		if (r < 0) {
			gnutls_deinit(s);
			close(fd);
			continue;
		}
		if (gnutls_session_channel_binding(s, GNUTLS_CB_TLS_EXPORTER,
		    &cb) == 0) {
			for (unsigned j = 0; j < cb.size && j < 32; j++)
				snprintf(hex + 2 * j, 3, "%02x", cb.data[j]);
			gnutls_free(cb.data);
		}
		gnutls_certificate_get_peers(s, &ncerts);
		snprintf(line, sizeof(line), "220 cb=%s resumed=%d "
		    "clientcert=%d\r\n", hex, gnutls_session_is_resumed(s),
		    ncerts > 0);
		gnutls_record_send(s, line, strlen(line));
		n = gnutls_record_recv(s, line, sizeof(line));
		if (n > 0)
			gnutls_record_send(s, line, (size_t)n);
		gnutls_bye(s, GNUTLS_SHUT_WR);
		gnutls_deinit(s);
		close(fd);
	}
	_exit(0);
}

static struct server
serve(const char *cert, const char *prio, int nconn, int mute)
{
	struct server s;
	int lfd = listen_loopback(&s.port);

	s.pid = fork();
	if (s.pid == 0)
		tls_child(lfd, cert, prio, nconn, mute);
	close(lfd);
	return s;
}

/* ---- the client ---------------------------------------------------------- */

struct opts {
	const char	*trust;		/* file name in dir, or NULL */
	const char	*pin;
	int		 nocheck;
	const char	*prio;
	int		 clientcert;
	const char	*crl;		/* file name in dir, or NULL */
};

static int
make_ctx(const struct opts *o, struct tls_ctx **ctx, struct rq_err *err)
{
	struct account a;
	char *trust = o->trust ? path(o->trust) : NULL;
	char *cert = o->clientcert ? path("cli.pem") : NULL;
	char *key = o->clientcert ? path("cli.key") : NULL;
	char *crl = o->crl ? path(o->crl) : NULL;
	int rc;

	memset(&a, 0, sizeof(a));
	a.tls = 1;
	a.tls_certcheck = !o->nocheck;
	a.tls_trust_file = trust;
	a.tls_fingerprint = (char *)(uintptr_t)o->pin;
	a.tls_priorities = (char *)(uintptr_t)o->prio;
	a.tls_cert_file = cert;
	a.tls_key_file = key;
	a.tls_crl_file = crl;
	rc = tls_ctx_new(&a, ctx, err);
	free(crl);
	free(trust);
	free(cert);
	free(key);
	return rc;
}

/*
 * Connect, handshake for name, read the banner into banner (when not
 * NULL), send a line and check the echo.  Returns the first error.
 */
static int
talk(struct tls_ctx *ctx, int port, const char *name, struct buf *banner,
    struct rq_err *err)
{
	struct conn *c = NULL;
	struct buf line = { 0 };
	int rc;

	rc = conn_open("127.0.0.1", port, NULL, 2000, &c, err);
	if (rc == 0)
		rc = conn_starttls(c, ctx, name, 2000, err);
	if (rc == 0)
		rc = conn_getline(c, &line, REPLY_LINE_MAX, 2000, err);
	if (rc == 0 && banner != NULL) {
		buf_reset(banner);
		buf_add(banner, line.data, strcspn(line.data, "\r\n"));
	}
	if (rc == 0)
		rc = conn_printf(c, err, "EHLO relayq\r\n");
	if (rc == 0)
		rc = conn_flush(c, 2000, err);
	if (rc == 0)
		rc = conn_getline(c, &line, REPLY_LINE_MAX, 2000, err);
	if (rc == 0 && strcmp(line.data, "EHLO relayq\r\n") != 0)
		rc = rq_errf(err, EX_PROTOCOL, "echo was \"%s\"", line.data);
	if (rc == 0 && c != NULL && banner != NULL) {
		buf_addf(banner, " version=%s", tls_version(conn_tls(c)));
		buf_addf(banner, " client-resumed=%d",
		    tls_resumed(conn_tls(c)));
		{
			struct buf x = { 0 };

			if (tls_exporter(conn_tls(c), &x) == 0) {
				buf_addstr(banner, " mycb=");
				for (size_t i = 0; i < x.len; i++)
					buf_addf(banner, "%02x",
					    (unsigned char)x.data[i]);
			}
			buf_free(&x);
		}
	}
	conn_close(c);
	buf_free(&line);
	return rc;
}

static const struct {
	const char	*name;
	const char	*cert;		/* server certificate */
	const char	*verify;	/* name to verify */
	struct opts	 o;
	int		 want;
	const char	*errword;
} cases[] = {
	{ "good chain", "good.pem", "localhost", { "ca.pem", NULL, 0, NULL, 0, NULL },
	    0, NULL },
	{ "good chain, IP address", "good.pem", "127.0.0.1",
	    { "ca.pem", NULL, 0, NULL, 0, NULL }, 0, NULL },
	{ "good chain, trailing dot", "good.pem", "localhost.",
	    { "ca.pem", NULL, 0, NULL, 0, NULL }, 0, NULL },
	{ "good chain, address literal", "good.pem", "[127.0.0.1]",
	    { "ca.pem", NULL, 0, NULL, 0, NULL }, 0, NULL },
	{ "wrong host", "good.pem", "mail.example.org",
	    { "ca.pem", NULL, 0, NULL, 0, NULL }, EX_TEMPFAIL,
	    "certificate is not for mail.example.org" },
	{ "expired", "expired.pem", "localhost",
	    { "ca.pem", NULL, 0, NULL, 0, NULL }, EX_TEMPFAIL,
	    "certificate has expired" },
	{ "self-signed", "self.pem", "localhost",
	    { "ca.pem", NULL, 0, NULL, 0, NULL }, EX_TEMPFAIL,
	    "self-signed certificate" },
	{ "unknown CA", "other.pem", "localhost",
	    { "ca.pem", NULL, 0, NULL, 0, NULL }, EX_TEMPFAIL,
	    "certificate signer is unknown" },
	{ "system trust does not know our CA", "good.pem", "localhost",
	    { NULL, NULL, 0, NULL, 0, NULL }, EX_TEMPFAIL, "signer is unknown" },
	{ "certcheck off accepts self-signed", "self.pem", "localhost",
	    { "ca.pem", NULL, 1, NULL, 0, NULL }, 0, NULL },
	{ "certcheck off accepts wrong host", "good.pem", "mail.example.org",
	    { "ca.pem", NULL, 1, NULL, 0, NULL }, 0, NULL },
	{ "pin of another certificate", "good.pem", "localhost",
	    { "ca.pem", "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
	      "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff", 0, NULL, 0, NULL },
	    EX_TEMPFAIL, "fingerprint does not match" },
	{ "TLS 1.2 only", "good.pem", "localhost",
	    { "ca.pem", NULL, 0, "NORMAL:-VERS-ALL:+VERS-TLS1.2", 0, NULL }, 0,
	    NULL },
	{ "client certificate", "good.pem", "localhost",
	    { "ca.pem", NULL, 0, NULL, 1, NULL }, 0, NULL },
	{ "revoked by the CRL", "good.pem", "localhost",
	    { "ca.pem", NULL, 0, NULL, 0, "crl.pem" }, EX_TEMPFAIL,
	    "revoked" },
	{ "CRL of another certificate", "expired.pem", "localhost",
	    { "ca.pem", NULL, 0, NULL, 0, "crl.pem" }, EX_TEMPFAIL,
	    "certificate has expired" },
};

static void
test_cases(void)
{
	for (size_t i = 0; i < RQ_ARRAY_LEN(cases); i++) {
		struct server s = serve(cases[i].cert, "NORMAL", 1, 0);
		struct tls_ctx *ctx = NULL;
		struct rq_err err = { 0 };
		struct buf banner = { 0 };
		int rc;

		rc = make_ctx(&cases[i].o, &ctx, &err);
		if (!is_int(rc, 0, "%s: ctx", cases[i].name)) {
			diag("%s", err.msg);
			stop_child(s.pid);
			continue;
		}
		rc = talk(ctx, s.port, cases[i].verify, &banner, &err);
		is_int(rc, cases[i].want, "%s: %s", cases[i].name,
		    rc ? err.msg : banner.data);
		if (cases[i].want != 0)
			ok(strstr(err.msg, cases[i].errword) != NULL,
			    "%s: message mentions \"%s\"", cases[i].name,
			    cases[i].errword);
		if (rc == 0 && cases[i].o.prio != NULL)
			ok(strstr(banner.data, "version=TLS1.2") != NULL,
			    "%s: negotiated TLS1.2", cases[i].name);
		if (rc == 0 && cases[i].o.clientcert)
			ok(strstr(banner.data, "clientcert=1") != NULL,
			    "%s: the server got it", cases[i].name);
		if (rc == 0) {
			/* Both ends computed the same tls-exporter value. */
			const char *a = strstr(banner.data, "cb=");
			const char *b = strstr(banner.data, "mycb=");

			ok(a != NULL && b != NULL && strlen(b + 5) == 64 &&
			    strncmp(a + 3, b + 5, 64) == 0,
			    "%s: tls-exporter binding matches the server's",
			    cases[i].name);
		}
		buf_free(&banner);
		tls_ctx_free(ctx);
		stop_child(s.pid);
	}
}

static void
test_pin(void)
{
	char *fp = read_file("good.fp");
	struct opts o = { NULL, fp, 0, NULL, 0, NULL };
	struct server s = serve("good.pem", "NORMAL", 2, 0);
	struct tls_ctx *ctx = NULL;
	struct rq_err err = { 0 };

	/* With the right pin no CA is needed, nor the right name. */
	ok(strlen(fp) == 64, "certtool gave a SHA-256 fingerprint (%s)", fp);
	is_int(make_ctx(&o, &ctx, &err), 0, "pinned ctx");
	is_int(talk(ctx, s.port, "localhost", NULL, &err), 0,
	    "pin matches without a CA: %s", err.msg);
	is_int(talk(ctx, s.port, "elsewhere.example", NULL, &err), 0,
	    "pin matches for another name: %s", err.msg);
	tls_ctx_free(ctx);
	stop_child(s.pid);
	free(fp);
}

static void
test_resume(const char *prio, const char *label)
{
	struct opts o = { "ca.pem", NULL, 0, prio, 0, NULL };
	struct server s = serve("good.pem", "NORMAL", 3, 0);
	struct tls_ctx *ctx = NULL;
	struct rq_err err = { 0 };
	struct buf b = { 0 };

	make_ctx(&o, &ctx, &err);
	is_int(talk(ctx, s.port, "localhost", &b, &err), 0, "%s: first", label);
	ok(strstr(b.data, "client-resumed=0") != NULL, "%s: first is full: %s",
	    label, b.data);
	is_int(talk(ctx, s.port, "localhost", &b, &err), 0, "%s: second",
	    label);
	ok(strstr(b.data, "resumed=1") != NULL &&
	    strstr(b.data, "client-resumed=1") != NULL,
	    "%s: second is resumed: %s", label, b.data);
	/* Resumption data is kept per name. */
	is_int(talk(ctx, s.port, "127.0.0.1", &b, &err), 0, "%s: third",
	    label);
	ok(strstr(b.data, "client-resumed=0") != NULL,
	    "%s: other name, full handshake: %s", label, b.data);
	buf_free(&b);
	tls_ctx_free(ctx);
	stop_child(s.pid);
}

/* TLS 1.2 without extended master secret: no tls-exporter binding. */
static void
test_no_ems(void)
{
	struct opts o = { "ca.pem", NULL, 0, "NORMAL:-VERS-ALL:+VERS-TLS1.2",
	    0, NULL };
	struct server s = serve("good.pem", "NORMAL:%NO_SESSION_HASH", 1, 0);
	struct tls_ctx *ctx = NULL;
	struct rq_err err = { 0 };
	struct buf b = { 0 };

	make_ctx(&o, &ctx, &err);
	is_int(talk(ctx, s.port, "localhost", &b, &err), 0,
	    "TLS 1.2 without EMS: session works");
	diag("%s", b.data != NULL ? b.data : "");
	ok(strstr(b.data, "version=TLS1.2") != NULL &&
	    strstr(b.data, "mycb=") == NULL,
	    "TLS 1.2 without EMS: no tls-exporter binding offered");
	buf_free(&b);
	tls_ctx_free(ctx);
	stop_child(s.pid);
}

static void
test_describe(void)
{
	struct opts o = { "ca.pem", NULL, 0, NULL, 0, NULL };
	struct server s = serve("good.pem", "NORMAL", 1, 0);
	struct tls_ctx *ctx = NULL;
	struct rq_err err = { 0 };
	struct conn *c = NULL;
	struct buf d = { 0 };

	make_ctx(&o, &ctx, &err);
	conn_open("127.0.0.1", s.port, NULL, 2000, &c, &err);
	is_int(conn_starttls(c, ctx, "localhost", 2000, &err), 0,
	    "describe: handshake");
	ok(conn_is_tls(c), "conn_is_tls after the handshake");
	is_int(conn_starttls(c, ctx, "localhost", 2000, &err), EX_PROTOCOL,
	    "a second TLS start is refused");
	tls_describe(conn_tls(c), &d);
	ok(strstr(d.data, "certificate 0:") != NULL &&
	    strstr(d.data, "subject CN=localhost") != NULL &&
	    strstr(d.data, "issuer CN=relayq test CA") != NULL &&
	    strstr(d.data, "SHA-256 ") != NULL &&
	    strstr(d.data, "verification: ok for localhost") != NULL,
	    "describe shows the chain and the verification");
	if (!ok(strstr(d.data, "session: (TLS1.3)") != NULL &&
	    strstr(d.data, "TLS1.3") != NULL, "describe shows the version"))
		diag("%s", d.data);
	conn_close(c);
	buf_free(&d);
	tls_ctx_free(ctx);
	stop_child(s.pid);
}

static void
test_errors(void)
{
	static const struct {
		struct opts	 o;
		const char	*errword;
	} bad[] = {
		{ { "nonexistent.pem", NULL, 0, NULL, 0, NULL },
		    "tls_trust_file" },
		{ { "ca.tmpl", NULL, 0, NULL, 0, NULL }, "tls_trust_file" },
		{ { NULL, "AB:CD", 0, NULL, 0, NULL }, "SHA-256" },
		{ { NULL, "zz:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
		    "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff", 0, NULL,
		    0, NULL }, "SHA-256" },
		{ { NULL, NULL, 0, "NORMAL:+NO-SUCH-THING", 0, NULL },
		    "tls_priorities" },
		{ { "ca.pem", NULL, 0, NULL, 0, "nonexistent.crl" },
		    "tls_crl_file" },
	};
	struct server s;
	struct tls_ctx *ctx = NULL;
	struct rq_err err = { 0 };
	struct opts good = { "ca.pem", NULL, 0, NULL, 0, NULL };
	long long t0;
	int rc;

	for (size_t i = 0; i < RQ_ARRAY_LEN(bad); i++) {
		is_int(make_ctx(&bad[i].o, &ctx, &err), EX_CONFIG,
		    "bad ctx %zu: configuration error", i);
		ok(ctx == NULL && strstr(err.msg, bad[i].errword) != NULL,
		    "bad ctx %zu: \"%s\" mentions %s", i, err.msg,
		    bad[i].errword);
	}

	/* A server that accepts and never answers the ClientHello. */
	s = serve("good.pem", "NORMAL", 1, 1);
	make_ctx(&good, &ctx, &err);
	t0 = (long long)time(NULL);
	{
		struct conn *c = NULL;

		conn_open("127.0.0.1", s.port, NULL, 2000, &c, &err);
		rc = conn_starttls(c, ctx, "localhost", 500, &err);
		is_int(rc, EX_TEMPFAIL, "silent server: handshake fails");
		ok(strstr(err.msg, "timeout") != NULL, "says timeout: %s",
		    err.msg);
		ok(!conn_is_tls(c), "still plain after a failed handshake");
		conn_close(c);
	}
	ok((long long)time(NULL) - t0 < 3, "within the timeout");
	tls_ctx_free(ctx);
	stop_child(s.pid);
	tls_ctx_free(NULL);
	tls_close(NULL);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	if (make_certs() != 0) {
		ok(0, "certtool made the test certificates");
	} else {
		test_cases();
		test_pin();
		test_resume(NULL, "TLS1.3");
		test_resume("NORMAL:-VERS-ALL:+VERS-TLS1.2", "TLS1.2");
		test_no_ems();
		test_describe();
		test_errors();
	}
	rm_tree(dir);
	return done_testing();
}
