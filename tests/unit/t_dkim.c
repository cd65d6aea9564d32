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

/* ---- body canonicalisation -------------------------------------------------- */

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

/* ---- header fields ------------------------------------------------------------ */

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

/* ---- configuration values ------------------------------------------------------ */

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

/* ---- keys ------------------------------------------------------------------- */

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
		ok(dkim_signer_txt(s, &name, &value, &err) == 0 &&
		    strncmp(value, "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEF",
		    41) == 0, "... TXT p= is a SubjectPublicKeyInfo (%.40s)",
		    value);
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
		ok(dkim_signer_txt(s, &name, &value, &err) == 0 &&
		    strlen(value) == strlen("v=DKIM1; k=ed25519; p=") + 44,
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
	rm_tree(base);
	return done_testing();
}
