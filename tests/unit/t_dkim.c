/*
 * relayq -- unit tests for DKIM: canonicalisation (RFC 6376 section 3.4
 * and tables of cases), the body hash fed in every split, the RFC 8463
 * test vector reproduced octet for octet, the configuration values, keys
 * (certtool's RSA and Ed25519, refused ones), and whole messages signed
 * here and verified by python3-dkim, also through a content transform.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "content.h"
#include "dkim.h"
#include "queue.h"
#include "tap.h"
#include "util.h"

static char base[64];

/* ---- body canonicalisation ---------------------------------------------- */

static char *
canon_body(enum dkim_canon c, int skip, const char *in, size_t n,
    size_t piece, char bh[DKIM_BH_MAX])
{
	struct dkim_bh *h = dkim_bh_new(c, skip);
	struct buf copy = { 0 };
	size_t i, k;

	dkim_bh_tap(h, &copy);
	for (i = 0; i < n; i += k) {
		k = piece == 0 || piece > n - i ? n - i : piece;
		dkim_bh_feed(h, in + i, k);
	}
	dkim_bh_end(h, bh);
	return buf_steal(&copy);
}

struct bcase {
	const char	*name;
	const char	*in;
	const char	*simple;
	const char	*relaxed;
};

static const struct bcase bodies[] = {
	/* RFC 6376 section 3.4.5's example body. */
	{ "RFC 6376 3.4.5", " C \r\nD \t E\r\n\r\n\r\n",
	  " C \r\nD \t E\r\n", " C\r\nD E\r\n" },
	{ "empty body", "", "\r\n", "" },
	{ "only empty lines", "\r\n\r\n\r\n", "\r\n", "" },
	{ "only white space lines", " \r\n\t\r\n", " \r\n\t\r\n", "" },
	{ "no final CRLF", "abc", "abc\r\n", "abc\r\n" },
	{ "no final CRLF, trailing WSP", "abc  ", "abc  \r\n", "abc\r\n" },
	{ "trailing WSP on lines", "a \r\nb\t\r\n", "a \r\nb\t\r\n",
	  "a\r\nb\r\n" },
	{ "inner WSP runs", "a  \t b\r\n", "a  \t b\r\n", "a b\r\n" },
	{ "leading WSP kept as one SP", "  \tx\r\n", "  \tx\r\n", " x\r\n" },
	{ "empty lines inside stay", "a\r\n\r\n\r\nb\r\n",
	  "a\r\n\r\n\r\nb\r\n", "a\r\n\r\n\r\nb\r\n" },
	{ "many trailing empty lines",
	  "x\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n",
	  "x\r\n", "x\r\n" },
	{ "WSP-only lines before text stay (relaxed: empty)",
	  "a\r\n  \r\nb\r\n", "a\r\n  \r\nb\r\n", "a\r\n\r\nb\r\n" },
	/* As on the wire (smtp_canon): bare LF and bare CR end lines. */
	{ "bare LF", "a\nb\n", "a\r\nb\r\n", "a\r\nb\r\n" },
	{ "bare CR", "a\rb\r", "a\r\nb\r\n", "a\r\nb\r\n" },
	{ "CR CR LF", "a\r\r\nb", "a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n" },
	{ "8-bit octets pass", "J\303\266rg \342\202\254\r\n",
	  "J\303\266rg \342\202\254\r\n", "J\303\266rg \342\202\254\r\n" },
	{ "a dot line is content", ".\r\n..\r\n", ".\r\n..\r\n",
	  ".\r\n..\r\n" },
};

static void
test_bodies(void)
{
	char bh[DKIM_BH_MAX], bh1[DKIM_BH_MAX];
	size_t i, n, piece;
	char *out;
	int all;

	for (i = 0; i < RQ_ARRAY_LEN(bodies); i++) {
		const struct bcase *b = &bodies[i];

		n = strlen(b->in);
		out = canon_body(DKIM_CANON_SIMPLE, 0, b->in, n, 0, bh);
		is_mem(out, strlen(out), b->simple, strlen(b->simple),
		    "simple body: %s", b->name);
		free(out);
		out = canon_body(DKIM_CANON_RELAXED, 0, b->in, n, 0, bh);
		is_mem(out, strlen(out), b->relaxed, strlen(b->relaxed),
		    "relaxed body: %s", b->name);
		free(out);
		/* Any split of the input gives the same hash. */
		all = 1;
		for (int c = DKIM_CANON_SIMPLE; c <= DKIM_CANON_RELAXED; c++) {
			free(canon_body(c, 0, b->in, n, 0, bh));
			for (piece = 1; piece <= 3; piece++) {
				free(canon_body(c, 0, b->in, n, piece, bh1));
				all &= strcmp(bh, bh1) == 0;
			}
		}
		ok(all, "body hash independent of the pieces: %s", b->name);
	}
}

static void
test_known_hashes(void)
{
	char bh[DKIM_BH_MAX];

	/* RFC 6376 section 3.4.3/3.4.4: the empty body's two hashes. */
	free(canon_body(DKIM_CANON_SIMPLE, 0, "", 0, 0, bh));
	is_str(bh, "simple:frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=",
	    "simple empty body: SHA-256 of CRLF");
	free(canon_body(DKIM_CANON_RELAXED, 0, "", 0, 0, bh));
	is_str(bh, "relaxed:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
	    "relaxed empty body: SHA-256 of nothing");
	ok(dkim_bh_valid(bh), "a body hash as produced is valid");
	ok(!dkim_bh_valid("relaxed:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hS"),
	    "a short one is not");
	ok(!dkim_bh_valid("lax:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
	    "an unknown canonicalisation is not");
	ok(!dkim_bh_valid("relaxed:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3h uFU="),
	    "a space in it is not");
}

/* With skip_headers the header section goes, up to the first empty line. */
static void
test_skip_headers(void)
{
	static const struct {
		const char *name, *msg, *body;
	} cases[] = {
		{ "plain", "A: 1\r\nB: 2\r\n\r\nbody\r\n", "body\r\n" },
		{ "folded header", "A: 1\r\n 2\r\n\r\nx\r\n", "x\r\n" },
		{ "no empty line: no body", "A: 1\r\nB: 2\r\n", "" },
		{ "empty header section", "\r\nbody\r\n", "body\r\n" },
		{ "bare LF message", "A: 1\nB: 2\n\nbody\n", "body\r\n" },
		{ "second empty line is body", "A: 1\r\n\r\n\r\nb\r\n",
		  "\r\nb\r\n" },
		{ "header line of spaces is not empty", "A: 1\r\n \r\n\r\nb",
		  "b\r\n" },
	};
	char bh[DKIM_BH_MAX], want[DKIM_BH_MAX], *out;
	size_t i;

	for (i = 0; i < RQ_ARRAY_LEN(cases); i++) {
		out = canon_body(DKIM_CANON_RELAXED, 1, cases[i].msg,
		    strlen(cases[i].msg), 1, bh);
		is_str(out, cases[i].body, "whole message: %s", cases[i].name);
		free(out);
		free(canon_body(DKIM_CANON_RELAXED, 0, cases[i].body,
		    strlen(cases[i].body), 0, want));
		is_str(bh, want, "... and its hash is the body's");
	}
}

/* ---- header fields ------------------------------------------------------ */

static void
test_fields(void)
{
	static const struct {
		const char *in, *simple, *relaxed;
	} cases[] = {
		/* RFC 6376 section 3.4.5's two fields. */
		{ "A: X\r\n", "A: X\r\n", "a:X\r\n" },
		{ "B : Y\t\r\n\tZ  \r\n", "B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n" },
		{ "Subject: no CRLF", "Subject: no CRLF\r\n",
		  "subject:no CRLF\r\n" },
		{ "To:\r\n  a@b,\r\n\t c@d\r\n", "To:\r\n  a@b,\r\n\t c@d\r\n",
		  "to:a@b, c@d\r\n" },
		{ "X-Empty:\r\n", "X-Empty:\r\n", "x-empty:\r\n" },
		{ "X-Wsp:   \r\n", "X-Wsp:   \r\n", "x-wsp:\r\n" },
		{ "MiXeD-CaSe: VaLuE\r\n", "MiXeD-CaSe: VaLuE\r\n",
		  "mixed-case:VaLuE\r\n" },
		{ "Subject: =?UTF-8?Q?J=C3=B6rg?=  x\r\n",
		  "Subject: =?UTF-8?Q?J=C3=B6rg?=  x\r\n",
		  "subject:=?UTF-8?Q?J=C3=B6rg?= x\r\n" },
	};
	struct buf b = { 0 };
	size_t i;

	for (i = 0; i < RQ_ARRAY_LEN(cases); i++) {
		buf_reset(&b);
		dkim_canon_field(DKIM_CANON_SIMPLE, cases[i].in,
		    strlen(cases[i].in), &b);
		is_mem(b.data, b.len, cases[i].simple, strlen(cases[i].simple),
		    "simple field %zu", i);
		buf_reset(&b);
		dkim_canon_field(DKIM_CANON_RELAXED, cases[i].in,
		    strlen(cases[i].in), &b);
		is_mem(b.data, b.len, cases[i].relaxed,
		    strlen(cases[i].relaxed), "relaxed field %zu", i);
	}
	buf_free(&b);
}

/* ---- configuration values ----------------------------------------------- */

static void
test_config_values(void)
{
	static const struct {
		const char *in;
		int ok;
		enum dkim_canon h, b;
	} canons[] = {
		{ "relaxed/relaxed", 1, DKIM_CANON_RELAXED, DKIM_CANON_RELAXED },
		{ "simple/simple", 1, DKIM_CANON_SIMPLE, DKIM_CANON_SIMPLE },
		{ "relaxed/simple", 1, DKIM_CANON_RELAXED, DKIM_CANON_SIMPLE },
		{ "simple/relaxed", 1, DKIM_CANON_SIMPLE, DKIM_CANON_RELAXED },
		{ "relaxed", 1, DKIM_CANON_RELAXED, DKIM_CANON_SIMPLE },
		{ "Relaxed/SIMPLE", 1, DKIM_CANON_RELAXED, DKIM_CANON_SIMPLE },
		{ "relaxed/", 0, 0, 0 },
		{ "/relaxed", 0, 0, 0 },
		{ "relax", 0, 0, 0 },
		{ "relaxed/relaxed/x", 0, 0, 0 },
		{ "", 0, 0, 0 },
	};
	static const struct {
		const char *in;
		int ok;
	} lists[] = {
		{ "from", 1 },
		{ "from:to:subject", 1 },
		{ "+from : +to, subject date", 1 },
		{ "From:To", 1 },
		{ "to:subject", 0 },		/* From is required */
		{ "from:to:from", 0 },		/* twice */
		{ "from:dkim-signature", 0 },
		{ "from:to\001", 0 },
		{ "", 0 },
		{ "+", 0 },
	};
	static const struct {
		const char *in;
		int ok;
	} sels[] = {
		{ "mail", 1 }, { "s2026-01", 1 }, { "a.b", 1 }, { "k_1", 1 },
		{ "", 0 }, { "a..b", 0 }, { ".a", 0 }, { "a.", 0 },
		{ "a b", 0 }, { "a;b", 0 }, { "\303\244", 0 },
	};
	enum dkim_canon h, b;
	const char *why;
	size_t i;
	int r;

	for (i = 0; i < RQ_ARRAY_LEN(canons); i++) {
		h = b = DKIM_CANON_NONE;
		r = dkim_parse_canon(canons[i].in, &h, &b) == 0;
		is_int(r, canons[i].ok, "dkim_canon \"%s\" %s", canons[i].in,
		    canons[i].ok ? "accepted" : "refused");
		if (r && canons[i].ok)
			ok(h == canons[i].h && b == canons[i].b,
			    "... as %s/%s", dkim_canon_name(h),
			    dkim_canon_name(b));
	}
	for (i = 0; i < RQ_ARRAY_LEN(lists); i++) {
		why = NULL;
		r = dkim_check_headers(lists[i].in, &why) == 0;
		is_int(r, lists[i].ok, "dkim_headers \"%s\" %s%s%s",
		    lists[i].in, lists[i].ok ? "accepted" : "refused",
		    why != NULL ? ": " : "", why != NULL ? why : "");
	}
	ok(dkim_check_headers(dkim_default_headers(), &why) == 0,
	    "the default dkim_headers is valid");
	for (i = 0; i < RQ_ARRAY_LEN(sels); i++)
		is_int(dkim_check_selector(sels[i].in) == 0, sels[i].ok,
		    "selector \"%s\" %s", sels[i].in,
		    sels[i].ok ? "accepted" : "refused");
}

/* ---- keys --------------------------------------------------------------- */

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || write_all(fd, text, strlen(text)) != 0 ||
	    fchmod(fd, mode) != 0) {
		diag("cannot write %s: %s", path, strerror(errno));
		exit(1);
	}
	close(fd);
}

static char *
slurp(const char *path, size_t *len)
{
	struct buf b = { 0 };
	char piece[4096];
	ssize_t r;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	while ((r = read(fd, piece, sizeof(piece))) > 0)
		buf_add(&b, piece, (size_t)r);
	close(fd);
	*len = b.len;
	buf_add(&b, "", 0);
	return buf_steal(&b);
}

static void
certtool_key(const char *path, const char *type, int bits)
{
	char cmd[512];

	if (bits > 0)
		snprintf(cmd, sizeof(cmd), "certtool --generate-privkey "
		    "--key-type=%s --bits=%d --outfile %s >/dev/null 2>&1",
		    type, bits, path);
	else
		snprintf(cmd, sizeof(cmd), "certtool --generate-privkey "
		    "--key-type=%s --outfile %s >/dev/null 2>&1", type, path);
	if (system(cmd) != 0) {
		diag("certtool failed: %s", cmd);
		exit(1);
	}
	chmod(path, 0600);
}

static struct dkim_signer *
signer(const char *key, const char *headers, enum dkim_canon hc,
    enum dkim_canon bc, struct rq_err *err)
{
	struct dkim_signer_params p;
	struct dkim_signer *s = NULL;

	memset(&p, 0, sizeof(p));
	p.domain = "example.org";
	p.selector = "sel";
	p.key_file = key;
	p.headers = headers;
	p.hcanon = hc;
	p.bcanon = bc;
	if (dkim_signer_new(&p, &s, err) != 0)
		return NULL;
	return s;
}

/*
 * RFC 8463 appendix A: its Ed25519 key (RFC 8032 section 7.1 test 1, in
 * PKCS#8), message and signature.  Ed25519
 * is deterministic, so the same canonical data must give the very b=.
 */
static const char rfc8463_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";

static void
test_rfc8463(void)
{
	static const char *const fields[] = {
		"From: Joe SixPack <joe@football.example.com>\r\n",
		"To: Suzie Q <suzie@shopping.example.net>\r\n",
		"Subject: Is dinner ready?\r\n",
		"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n",
		"Message-ID: <20030712040037.46341.5F8J@football.example.com>"
		    "\r\n",
	};
	static const char body[] = "Hi.\r\n\r\nWe lost the game.  Are you "
	    "hungry yet?\r\n\r\nJoe.\r\n";
	static const char sig[] =
	    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	    " d=football.example.com; i=@football.example.com;\r\n"
	    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	    " subject : date : message-id : from : subject : date;\r\n"
	    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	    " b=";
	struct dkim_signer_params p;
	struct dkim_signer *s = NULL;
	struct rq_err err = { 0 };
	struct buf data = { 0 };
	char path[128], bh[DKIM_BH_MAX], *b = NULL, *name, *value;
	size_t i;

	free(canon_body(DKIM_CANON_RELAXED, 0, body, strlen(body), 0, bh));
	is_str(bh, "relaxed:2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=",
	    "RFC 8463: the body hash");
	snprintf(path, sizeof(path), "%s/rfc8463.key", base);
	write_file(path, rfc8463_key, 0600);
	memset(&p, 0, sizeof(p));
	p.domain = "football.example.com";
	p.selector = "brisbane";
	p.key_file = path;
	if (!ok(dkim_signer_new(&p, &s, &err) == 0, "RFC 8463 key loads%s%s",
	    err.ex ? ": " : "", err.msg))
		return;
	is_str(dkim_signer_algorithm(s), "ed25519-sha256",
	    "an Ed25519 key signs ed25519-sha256");
	/* h=from:to:subject:date:message-id, then three absent ones. */
	for (i = 0; i < RQ_ARRAY_LEN(fields); i++)
		dkim_canon_field(DKIM_CANON_RELAXED, fields[i],
		    strlen(fields[i]), &data);
	dkim_canon_field(DKIM_CANON_RELAXED, sig, strlen(sig), &data);
	data.len -= 2;		/* our field is hashed without its CRLF */
	ok(dkim_sign_data(s, data.data, data.len, &b, &err) == 0,
	    "sign the RFC 8463 header data");
	is_str(b != NULL ? b : "", "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQeh"
	    "SwhEIug4D11BusFa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==",
	    "RFC 8463: the very signature of its appendix A");
	ok(dkim_signer_txt(s, &name, &value, &err) == 0, "a TXT record");
	is_str(name, "brisbane._domainkey.football.example.com",
	    "... named SELECTOR._domainkey.DOMAIN");
	is_str(value, "v=DKIM1; k=ed25519; "
	    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
	    "... with RFC 8463's raw public key");
	ok(dkim_signer_selftest(s, &err) == 0, "the self-test passes");
	free(name);
	free(value);
	free(b);
	buf_free(&data);
	dkim_signer_free(s);
}

static void
test_keys(void)
{
	struct rq_err err;
	struct dkim_signer *s;
	char rsa[128], ed[128], small[128], bad[128], ec[128];
	char *name, *value;
	int rc;

	snprintf(rsa, sizeof(rsa), "%s/rsa.key", base);
	snprintf(ed, sizeof(ed), "%s/ed.key", base);
	snprintf(small, sizeof(small), "%s/small.key", base);
	snprintf(bad, sizeof(bad), "%s/bad.key", base);
	snprintf(ec, sizeof(ec), "%s/ec.key", base);
	certtool_key(rsa, "rsa", 2048);
	certtool_key(ed, "ed25519", 0);
	certtool_key(small, "rsa", 768);
	certtool_key(ec, "ecdsa", 256);
	write_file(bad, "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n"
	    "-----END PRIVATE KEY-----\n", 0600);

	memset(&err, 0, sizeof(err));
	s = signer(rsa, NULL, 0, 0, &err);
	if (ok(s != NULL, "certtool's RSA-2048 key loads%s%s",
	    s == NULL ? ": " : "", err.msg)) {
		is_str(dkim_signer_algorithm(s), "rsa-sha256", "... rsa-sha256");
		is_int(dkim_signer_bits(s), 2048, "... 2048 bits");
		ok(dkim_signer_selftest(s, &err) == 0, "... self-test passes");
		/* (Called first: the arguments of ok() are evaluated in
		   no set order.) */
		rc = dkim_signer_txt(s, &name, &value, &err);
		ok(rc == 0 && strncmp(value, "v=DKIM1; k=rsa; "
		    "p=MIIBIjANBgkqhkiG9w0BAQEF", 41) == 0,
		    "... TXT p= is a SubjectPublicKeyInfo (%.40s)", value);
		is_str(name, "sel._domainkey.example.org", "... its name");
		free(name);
		free(value);
		dkim_signer_free(s);
	}
	s = signer(ed, NULL, 0, 0, &err);
	if (ok(s != NULL, "certtool's Ed25519 key loads")) {
		is_str(dkim_signer_algorithm(s), "ed25519-sha256",
		    "... ed25519-sha256");
		ok(dkim_signer_selftest(s, &err) == 0, "... self-test passes");
		rc = dkim_signer_txt(s, &name, &value, &err);
		ok(rc == 0 && strlen(value) ==
		    strlen("v=DKIM1; k=ed25519; p=") + 44,
		    "... TXT p= is 32 raw octets (%s)", value);
		free(name);
		free(value);
		dkim_signer_free(s);
	}

	s = signer(small, NULL, 0, 0, &err);
	ok(s == NULL && err.ex == EX_CONFIG && strstr(err.msg, "768 bits"),
	    "an RSA key under 1024 bits is refused (%s)", err.msg);
	s = signer(ec, NULL, 0, 0, &err);
	ok(s == NULL && strstr(err.msg, "RSA") != NULL,
	    "an ECDSA key is refused (%s)", err.msg);
	s = signer(bad, NULL, 0, 0, &err);
	ok(s == NULL && strstr(err.msg, "PEM private key") != NULL,
	    "junk is refused (%s)", err.msg);
	s = signer("/nonexistent/dkim.key", NULL, 0, 0, &err);
	ok(s == NULL && err.ex == EX_CONFIG &&
	    strstr(err.msg, "/nonexistent/dkim.key") != NULL,
	    "a missing file is refused, named (%s)", err.msg);
	chmod(rsa, 0640);
	s = signer(rsa, NULL, 0, 0, &err);
	ok(s == NULL && strstr(err.msg, "chmod 600") != NULL,
	    "a group-readable key is refused (%s)", err.msg);
	chmod(rsa, 0604);
	s = signer(rsa, NULL, 0, 0, &err);
	ok(s == NULL && strstr(err.msg, "chmod 600") != NULL,
	    "an other-readable key is refused");
	chmod(rsa, 0600);
	s = signer(base, NULL, 0, 0, &err);
	ok(s == NULL && strstr(err.msg, "not a regular file") != NULL,
	    "a directory is refused (%s)", err.msg);
	s = signer(rsa, "to:subject", 0, 0, &err);
	ok(s == NULL && strstr(err.msg, "dkim_headers") != NULL,
	    "dkim_headers without From is refused (%s)", err.msg);
}

/* ---- whole messages, verified by python3-dkim --------------------------- */

/*
 * Verify each file in paths with tests/lib/dkim-verify.py (the record in
 * txt); results[i] gets "pass" or "fail: ...".
 */
static void
py_verify(const char *txt, char paths[][160], size_t n, char res[][256])
{
	struct buf cmd = { 0 };
	FILE *p;
	size_t i;

	buf_addf(&cmd, "/usr/bin/python3 tests/lib/dkim-verify.py %s", txt);
	for (i = 0; i < n; i++)
		buf_addf(&cmd, " %s", paths[i]);
	buf_addstr(&cmd, " 2>&1");
	p = popen(cmd.data, "r");
	for (i = 0; i < n; i++) {
		res[i][0] = '\0';
		if (p == NULL || fgets(res[i], 256, p) == NULL)
			snprintf(res[i], 256, "fail: no answer from python3-dkim");
		res[i][strcspn(res[i], "\n")] = '\0';
	}
	if (p != NULL)
		pclose(p);
	buf_free(&cmd);
}

/* Sign msg fed in pieces of piece octets; the field, or NULL. */
static char *
sign_text(struct dkim_signer *s, const char *known, const char *msg,
    size_t piece, int *stopped_early)
{
	struct dkim_msg *dm = dkim_msg_new(s, known);
	struct rq_err err = { 0 };
	size_t n = strlen(msg), i, k;
	char *field = NULL;
	int r = 0;

	*stopped_early = 0;
	for (i = 0; i < n; i += k) {
		k = piece > n - i ? n - i : piece;
		r = dkim_msg_feed(dm, msg + i, k, &err);
		if (r != 0)
			break;
	}
	if (r == 1 && i + k < n)
		*stopped_early = 1;
	if (r == 0 || r == 1)
		(void)dkim_msg_sign(dm, 1700000000, &field, &err);
	else
		diag("dkim_msg_feed: %s", err.msg);
	dkim_msg_free(dm);
	return field;
}

static void
write_msg(const char *path, const char *field, const char *msg)
{
	struct buf b = { 0 };

	buf_addstr(&b, field != NULL ? field : "");
	buf_addstr(&b, msg);
	write_file(path, b.data, 0600);
	buf_free(&b);
}

static const struct {
	const char	*name;
	const char	*msg;
} msgs[] = {
	{ "plain", "From: a@example.org\r\nTo: b@example.net\r\n"
	    "Subject: hi\r\nDate: Fri, 1 Jan 2027 00:00:00 +0000\r\n"
	    "Message-ID: <1@example.org>\r\n\r\nHello.\r\n" },
	{ "folded headers", "From: Alice\r\n  <a@example.org>\r\n"
	    "To: b@example.net,\r\n\tc@example.net,\r\n d@example.net\r\n"
	    "Subject: a subject\r\n  folded  twice\r\n\t and more\r\n\r\n"
	    "body\r\n" },
	{ "8-bit body", "From: a@example.org\r\nSubject: 8bit\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\nJ\303\266rg "
	    "M\303\274ller \342\202\254 10\r\n\377\376 binary-ish\r\n" },
	{ "body without final newline", "From: a@example.org\r\n"
	    "Subject: no newline\r\n\r\nlast line without an end" },
	{ "empty body", "From: a@example.org\r\nSubject: empty\r\n\r\n" },
	{ "no body at all", "From: a@example.org\r\nSubject: none\r\n" },
	{ "unusual order, repeated fields", "Date: Fri, 1 Jan 2027 00:00:00 "
	    "+0000\r\nTo: first@example.net\r\nReceived: from x by y\r\n"
	    "Subject: order\r\nTo: second@example.net\r\nReceived: from y by "
	    "z\r\nFrom: a@example.org\r\nX-Unsigned: yes\r\n\r\nbody\r\n"
	    "  \r\n\r\n" },
	{ "trailing space and empty lines", "From: a@example.org  \r\n"
	    "Subject:   spaced   out   \r\n\r\n  indented \t\r\n\r\n\r\n"
	    "\r\n" },
	{ "no From (signed as absent)", "Subject: no from\r\n\r\nx\r\n" },
};

/* Every message, every canonicalisation, both keys. */
static void
test_messages(const char *rsa, const char *ed)
{
	static const enum dkim_canon canons[][2] = {
		{ DKIM_CANON_RELAXED, DKIM_CANON_RELAXED },
		{ DKIM_CANON_SIMPLE, DKIM_CANON_SIMPLE },
		{ DKIM_CANON_RELAXED, DKIM_CANON_SIMPLE },
		{ DKIM_CANON_SIMPLE, DKIM_CANON_RELAXED },
	};
	enum { N = RQ_ARRAY_LEN(msgs) * 4 };
	const char *keys[2] = { rsa, ed };
	static char paths[N][160], res[N][256];
	char txt[160], *name, *value, *field;
	struct dkim_signer *s;
	struct rq_err err;
	size_t i, c, n;
	int early;

	for (int k = 0; k < 2; k++) {
		n = 0;
		snprintf(txt, sizeof(txt), "%s/k%d.txt", base, k);
		for (c = 0; c < 4; c++) {
			s = signer(keys[k], NULL, canons[c][0], canons[c][1],
			    &err);
			if (s == NULL) {
				ok(0, "signer: %s", err.msg);
				return;
			}
			if (c == 0) {
				dkim_signer_txt(s, &name, &value, &err);
				write_file(txt, value, 0600);
				free(name);
				free(value);
			}
			for (i = 0; i < RQ_ARRAY_LEN(msgs); i++, n++) {
				/* Pieces of 5 octets: every state crosses
				   a piece boundary somewhere. */
				field = sign_text(s, NULL, msgs[i].msg, 5,
				    &early);
				snprintf(paths[n], sizeof(paths[n]),
				    "%s/m%d-%zu-%zu.eml", base, k, c, i);
				write_msg(paths[n], field, msgs[i].msg);
				free(field);
			}
			dkim_signer_free(s);
		}
		py_verify(txt, paths, n, res);
		for (i = 0; i < n; i++)
			is_str(res[i], "pass", "%s, %s/%s, %s: python3-dkim "
			    "verifies", k == 0 ? "rsa-sha256" : "ed25519-sha256",
			    dkim_canon_name(canons[i / RQ_ARRAY_LEN(msgs)][0]),
			    dkim_canon_name(canons[i / RQ_ARRAY_LEN(msgs)][1]),
			    msgs[i % RQ_ARRAY_LEN(msgs)].name);
	}
}

/* Replace the first from in text by to (a copy). */
static char *
subst(const char *text, const char *from, const char *to)
{
	const char *p = strstr(text, from);
	struct buf b = { 0 };

	if (p == NULL)
		return xstrdup(text);
	buf_add(&b, text, (size_t)(p - text));
	buf_addstr(&b, to);
	buf_addstr(&b, p + strlen(from));
	return buf_steal(&b);
}

/*
 * What a verifier must reject, and what it must still accept: the test
 * that proves the verifier can fail, and that the signature covers what
 * the defaults promise.
 */
static void
test_tampering(const char *rsa)
{
	static const char msg[] = "Received: from a by b\r\n"
	    "From: a@example.org\r\nTo: b@example.net\r\nTo: c@example.net\r\n"
	    "Subject: tamper\r\nX-Trace: 1\r\n\r\nline one\r\nline two\r\n";
	static const struct {
		const char *name, *from, *to, *want;
	} cases[] = {
		{ "untouched", "", "", "pass" },
		{ "a body octet changed", "line two", "line tw0", "fail" },
		{ "a body line added", "line two\r\n", "line two\r\nthree\r\n",
		    "fail" },
		{ "a signed field changed", "Subject: tamper",
		    "Subject: tampeR", "fail" },
		{ "a second From added (oversigned)", "X-Trace: 1\r\n",
		    "X-Trace: 1\r\nFrom: evil@example.com\r\n", "fail" },
		{ "a Reply-To added (oversigned)", "X-Trace: 1\r\n",
		    "X-Trace: 1\r\nReply-To: evil@example.com\r\n", "fail" },
		{ "two signed fields of one name swapped",
		    "To: b@example.net\r\nTo: c@example.net",
		    "To: c@example.net\r\nTo: b@example.net", "fail" },
		{ "an unsigned field added", "X-Trace: 1\r\n",
		    "X-Trace: 1\r\nX-Spam-Score: 0\r\n", "pass" },
		{ "a Received added on top", "Received: from a",
		    "Received: from relay\r\nReceived: from a", "pass" },
		{ "fields of different names reordered",
		    "From: a@example.org\r\nTo: b@example.net\r\n"
		    "To: c@example.net\r\nSubject: tamper\r\n",
		    "Subject: tamper\r\nTo: b@example.net\r\nFrom: a@example.org"
		    "\r\nTo: c@example.net\r\n", "pass" },
		{ "white space refolded (relaxed)", "Subject: tamper",
		    "Subject:\r\n \t tamper", "pass" },
		{ "trailing empty lines added (relaxed)", "line two\r\n",
		    "line two\r\n\r\n\r\n", "pass" },
	};
	enum { N = RQ_ARRAY_LEN(cases) };
	static char paths[N][160], res[N][256];
	char txt[160], *name, *value, *field, *signed_msg, *bad;
	struct dkim_signer *s;
	struct rq_err err;
	size_t i;
	int early;

	s = signer(rsa, NULL, 0, 0, &err);
	if (s == NULL)
		return;
	snprintf(txt, sizeof(txt), "%s/tamper.txt", base);
	dkim_signer_txt(s, &name, &value, &err);
	write_file(txt, value, 0600);
	field = sign_text(s, NULL, msg, 4096, &early);
	signed_msg = xasprintf("%s%s", field, msg);
	ok(strstr(field, "h=from:from:") != NULL &&
	    strstr(field, "to:to:to:") != NULL,
	    "From oversigned, both To signed and oversigned");
	ok(strstr(field, "x-trace") == NULL && strstr(field, "received") ==
	    NULL, "fields outside the list are not signed");
	for (i = 0; i < N; i++) {
		bad = cases[i].from[0] != '\0' ? subst(signed_msg,
		    cases[i].from, cases[i].to) : xstrdup(signed_msg);
		snprintf(paths[i], sizeof(paths[i]), "%s/t%zu.eml", base, i);
		write_file(paths[i], bad, 0600);
		free(bad);
	}
	py_verify(txt, paths, N, res);
	for (i = 0; i < N; i++)
		ok(strncmp(res[i], cases[i].want, 4) == 0, "%s: %s (%s)",
		    cases[i].name, cases[i].want, res[i]);
	free(signed_msg);
	free(field);
	free(name);
	free(value);
	dkim_signer_free(s);
}

/*
 * The body hash recorded at submit: used when its canonicalisation is
 * the signer's (reading stops after the header section), ignored
 * otherwise; a signature for our domain already there: not signed twice.
 */
static void
test_known_and_ours(const char *rsa)
{
	static const char body[] = "a body\r\nof  two lines \r\n";
	static const char hdr[] = "From: a@example.org\r\nSubject: k\r\n\r\n";
	static char paths[2][160], res[2][256];
	char known[DKIM_BH_MAX], simple[DKIM_BH_MAX], txt[160];
	char *msg, *f1, *f2, *name, *value, *other, *mine;
	struct dkim_signer *s;
	struct dkim_bh *h;
	struct rq_err err;
	int early;

	s = signer(rsa, NULL, 0, 0, &err);
	if (s == NULL)
		return;
	snprintf(txt, sizeof(txt), "%s/known.txt", base);
	dkim_signer_txt(s, &name, &value, &err);
	write_file(txt, value, 0600);
	h = dkim_bh_new(DKIM_CANON_RELAXED, 0);
	dkim_bh_feed(h, body, strlen(body));
	dkim_bh_end(h, known);
	h = dkim_bh_new(DKIM_CANON_SIMPLE, 0);
	dkim_bh_feed(h, body, strlen(body));
	dkim_bh_end(h, simple);
	msg = xasprintf("%s%s", hdr, body);

	f1 = sign_text(s, known, msg, 8, &early);
	ok(early, "with the recorded hash, reading stops after the header "
	    "section");
	ok(f1 != NULL && strstr(f1, known + strlen("relaxed:")) != NULL,
	    "... and bh= is the recorded one");
	f2 = sign_text(s, simple, msg, 8, &early);
	ok(!early, "a hash of another canonicalisation is not used: the "
	    "body is read");
	ok(f2 != NULL && strstr(f2, known + strlen("relaxed:")) != NULL,
	    "... and hashed with the signer's");
	snprintf(paths[0], sizeof(paths[0]), "%s/known1.eml", base);
	snprintf(paths[1], sizeof(paths[1]), "%s/known2.eml", base);
	write_msg(paths[0], f1, msg);
	write_msg(paths[1], f2, msg);
	py_verify(txt, paths, 2, res);
	is_str(res[0], "pass", "signed with the recorded hash: verifies");
	is_str(res[1], "pass", "signed after hashing again: verifies");
	free(f2);

	/* Already signed: by us (any case of d=), or by someone else. */
	mine = xasprintf("DKIM-Signature: v=1; a=rsa-sha256;\r\n d = "
	    "EXAMPLE.org ; s=x; h=from; bh=x; b=x\r\n%s", msg);
	other = xasprintf("DKIM-Signature: v=1; a=rsa-sha256; d=example.com;"
	    " s=x; h=from; bh=x; b=x\r\n%s", msg);
	f2 = sign_text(s, NULL, mine, 8, &early);
	ok(f2 == NULL, "a message signed for our d= is not signed twice");
	ok(early, "... known from the header section alone");
	f2 = sign_text(s, NULL, other, 4096, &early);
	ok(f2 != NULL, "a message signed for another domain is signed");
	free(f2);
	free(f1);
	free(mine);
	free(other);
	free(msg);
	free(name);
	free(value);
	dkim_signer_free(s);
}

/*
 * Contents that end inside the header section, in every way a line can
 * end there.  (fuzz_dkim found that a CR left pending at the end, closing
 * the header section, split the fields twice: h= then named From three
 * times, and memory past the field table was written.)
 */
static void
test_header_endings(const char *rsa)
{
	static const char *const ends[] = {
		"From: a@example.org", "From: a@example.org\r",
		"From: a@example.org\r\n", "From: a@example.org\r\n\r",
		"From: a@example.org\r\n\r\n", "From: a@example.org\n\n",
		"From: a@example.org\r\r", "From: a@example.org\n\r",
	};
	struct dkim_signer *s;
	struct rq_err err;
	char *f;
	size_t i;
	int early;

	s = signer(rsa, "+from", 0, 0, &err);
	if (s == NULL)
		return;
	for (i = 0; i < RQ_ARRAY_LEN(ends); i++) {
		for (size_t piece = 1; piece <= 64; piece += 63) {
			f = sign_text(s, NULL, ends[i], piece, &early);
			ok(f != NULL && strstr(f, "h=from:from;") != NULL,
			    "content ending %zu, pieces of %zu: From signed once "
			    "and oversigned once", i, piece);
			free(f);
		}
	}
	dkim_signer_free(s);
}

/* A header section over the limit cannot be signed: EX_DATAERR. */
static void
test_limits(const char *rsa)
{
	struct dkim_signer *s;
	struct dkim_msg *dm;
	struct rq_err err = { 0 };
	char line[1000];
	int r = 0;
	size_t i;

	s = signer(rsa, NULL, 0, 0, &err);
	if (s == NULL)
		return;
	memset(line, 'x', sizeof(line));
	memcpy(line, "X-Big: ", 7);
	line[sizeof(line) - 2] = '\r';
	line[sizeof(line) - 1] = '\n';
	dm = dkim_msg_new(s, NULL);
	for (i = 0; i < 3000 && r == 0; i++)
		r = dkim_msg_feed(dm, line, sizeof(line), &err);
	ok(r == EX_DATAERR && strstr(err.msg, "header section") != NULL,
	    "a 3 MB header section is refused (%s)", err.msg);
	dkim_msg_free(dm);
	dm = dkim_msg_new(s, NULL);
	r = 0;
	for (i = 0; i < DKIM_FIELDS_MAX + 1 && r == 0; i++)
		r = dkim_msg_feed(dm, "X: 1\r\n", 6, &err);
	if (r == 0)
		r = dkim_msg_feed(dm, "\r\n", 2, &err);
	ok(r == EX_DATAERR && strstr(err.msg, "fields") != NULL,
	    "more than %d fields are refused (%s)", DKIM_FIELDS_MAX, err.msg);
	dkim_msg_free(dm);
	dkim_signer_free(s);
}

/* ---- through a content transform (content_dkim) ------------------------- */

/* A stand-in for the 8BITMIME downgrade: 'x' becomes 'X' everywhere
   (a signed header and the body change), and a line is added at the end. */
static int tx_freed;

static int
tx_feed(void *arg, const char *in, size_t n, struct buf *out,
    struct rq_err *err)
{
	(void)arg;
	(void)err;
	for (size_t i = 0; i < n; i++)
		buf_addch(out, in[i] == 'x' ? 'X' : in[i]);
	return 0;
}

static int
tx_end(void *arg, struct buf *out, struct rq_err *err)
{
	(void)arg;
	(void)err;
	buf_addstr(out, "a line the transform added\r\n");
	return 0;
}

static int
tx_refuse(void *arg, const char *in, size_t n, struct buf *out,
    struct rq_err *err)
{
	(void)arg;
	(void)in;
	(void)n;
	(void)out;
	return rq_errf(err, EX_DATAERR, "5.6.3 this content cannot be "
	    "converted");
}

static void
tx_free(void *arg)
{
	(void)arg;
	tx_freed++;
}

static void
make_tx(struct content_transform *tr, int refuse)
{
	memset(tr, 0, sizeof(*tr));
	tr->feed = refuse ? tx_refuse : tx_feed;
	tr->end = tx_end;
	tr->free = tx_free;
}

/* The pipeline's output (prefix, then content through tr) into path. */
static int
read_all(struct qmsg *m, struct content_transform *tr, const char *prefix,
    const char *path)
{
	struct content *c = NULL;
	struct rq_err err = { 0 };
	struct buf b = { 0 };
	char piece[4096];
	ssize_t got;

	if (content_open(m, tr, prefix, &c, &err) != 0)
		return -1;
	while ((got = content_read(c, piece, sizeof(piece), &err)) > 0)
		buf_add(&b, piece, (size_t)got);
	content_close(c);
	buf_add(&b, "", 0);
	write_file(path, b.data, 0600);
	buf_free(&b);
	return got < 0 ? -1 : 0;
}

static void
test_transform(const char *rsa)
{
	static const char content[] = "From: x@example.org\r\n"
	    "To: b@example.net\r\nSubject: six boxes\r\n\r\n"
	    "the body: xylophone, box\r\n";
	static char paths[3][160], res[3][256];
	char qdir[160], txt[160], *name, *value, *f0 = NULL, *f1 = NULL;
	struct content_transform tr;
	struct envelope env;
	struct queue *q = NULL;
	struct qwriter *w = NULL;
	struct qmsg *m = NULL;
	struct dkim_signer *s;
	struct rq_err err = { 0 };
	char *text;
	size_t len;
	int rc;

	s = signer(rsa, NULL, 0, 0, &err);
	if (s == NULL)
		return;
	snprintf(txt, sizeof(txt), "%s/tx.txt", base);
	dkim_signer_txt(s, &name, &value, &err);
	write_file(txt, value, 0600);
	snprintf(qdir, sizeof(qdir), "%s/queue", base);
	memset(&env, 0, sizeof(env));
	env.sender = xstrdup("x@example.org");
	strlist_add(&env.rcpts, "b@example.net");
	env.dkim_canon = DKIM_CANON_RELAXED;
	if (queue_open(qdir, 1, &q, &err) != 0 ||
	    queue_writer_open(q, &env, &w, &err) != 0 ||
	    queue_writer_write(w, content, strlen(content), &err) != 0 ||
	    queue_writer_commit(w, &env, &err) != 0 ||
	    queue_msg_open(q, env.id, 0, &m, &err) != 0) {
		ok(0, "transform: queue set-up: %s", err.msg);
		goto out;
	}
	ok(m->env.dkim_bh[0] != '\0', "transform: the queued message has "
	    "a recorded body hash");

	rc = content_dkim(m, NULL, s, 1700000000, &f0, &err);
	ok(rc == 0 && f0 != NULL && strstr(f0, strchr(m->env.dkim_bh, ':') +
	    1) != NULL, "as queued: signed with the recorded body hash");
	make_tx(&tr, 0);
	tx_freed = 0;
	rc = content_dkim(m, &tr, s, 1700000000, &f1, &err);
	ok(rc == 0 && f1 != NULL && strstr(f1, strchr(m->env.dkim_bh, ':') +
	    1) == NULL, "through a transform: the body is hashed again "
	    "(the recorded hash is not used)");
	is_int(tx_freed, 1, "content_dkim frees the transform it took");
	snprintf(paths[0], sizeof(paths[0]), "%s/tx-plain.eml", base);
	snprintf(paths[1], sizeof(paths[1]), "%s/tx-sent.eml", base);
	snprintf(paths[2], sizeof(paths[2]), "%s/tx-wrong.eml", base);
	read_all(m, NULL, f0, paths[0]);
	make_tx(&tr, 0);
	read_all(m, &tr, f1, paths[1]);
	/* The control: the transformed stream under the plain signature. */
	make_tx(&tr, 0);
	read_all(m, &tr, f0, paths[2]);
	text = slurp(paths[1], &len);
	ok(text != NULL && strstr(text, "Subject: siX boXes") != NULL &&
	    strstr(text, "the body: Xylophone, boX") != NULL &&
	    strstr(text, "a line the transform added") != NULL,
	    "the test transform changed a signed field and the body");
	free(text);
	py_verify(txt, paths, 3, res);
	is_str(res[0], "pass", "as queued, signed as queued: verifies");
	is_str(res[1], "pass", "transformed, signed through the transform: "
	    "verifies (the signature covers what is sent)");
	ok(strncmp(res[2], "fail", 4) == 0, "transformed, signed as queued: "
	    "fails (%s)", res[2]);

	make_tx(&tr, 1);
	free(f1);
	f1 = NULL;
	rc = content_dkim(m, &tr, s, 1700000000, &f1, &err);
	ok(rc != 0 && f1 == NULL && strncmp(err.msg, "5.6.3 ", 6) == 0,
	    "a transform that refuses: no signature, its status kept (%s)",
	    err.msg);
out:
	free(f0);
	free(f1);
	free(name);
	free(value);
	queue_msg_close(m);
	queue_close(q);
	envelope_free(&env);
	dkim_signer_free(s);
}

int
main(void)
{
	snprintf(base, sizeof(base), "/tmp/t_dkim.%d", (int)getpid());
	if (mkdir(base, 0700) != 0) {
		diag("mkdir %s: %s", base, strerror(errno));
		return 1;
	}
	test_bodies();
	test_known_hashes();
	test_skip_headers();
	test_fields();
	test_config_values();
	test_rfc8463();
	test_keys();
	{
		char rsa[128], ed[128];

		snprintf(rsa, sizeof(rsa), "%s/rsa.key", base);
		snprintf(ed, sizeof(ed), "%s/ed.key", base);
		test_messages(rsa, ed);
		test_tampering(rsa);
		test_known_and_ours(rsa);
		test_header_endings(rsa);
		test_limits(rsa);
		test_transform(rsa);
	}
	rm_tree(base);
	return done_testing();
}
