/*
 * relayq -- unit tests for addr.c: address lists, RFC 5321 checks, xtext,
 * envelope senders and "from" patterns.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "tap.h"

/*
 * s made printable for a test name (TAP needs one line); a few rotating
 * static buffers so that one message can show two strings.
 */
static const char *
vis(const char *s)
{
	static char bufs[4][512];
	static int next;
	char *b = bufs[next++ % 4];
	size_t o = 0;

	for (; *s != '\0' && o < sizeof(bufs[0]) - 8; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(b + o, 8, "\\x%02x", c);
		else
			b[o++] = (char)c;
	}
	b[o] = '\0';
	return b;
}

/* ---- addr_parse_list ----------------------------------------------------- */

struct list_case {
	const char *in;
	const char *want;	/* '|'-joined, or NULL: an error is wanted */
	const char *err;	/* substring of the error message */
};

static const struct list_case list_cases[] = {
	{ "a@b.org", "a@b.org", NULL },
	{ "a@b.org, Jo <c@d.org>", "a@b.org|c@d.org", NULL },
	{ "root", "root", NULL },
	{ "root, www-data", "root|www-data", NULL },
	{ "<root>", "root", NULL },
	{ "\"Doe, John\" <john@example.org>", "john@example.org", NULL },
	{ "John (the man) Doe <john(c1)@(c2)example.org (c3)>",
	    "john@example.org", NULL },
	{ "(nested (comment (deep)) here) a@b.org", "a@b.org", NULL },
	{ "a@b.org (paren \\) escaped, and a comma)", "a@b.org", NULL },
	{ "\"john doe\"@example.org", "\"john doe\"@example.org", NULL },
	{ "\"a@b\"@example.org", "\"a@b\"@example.org", NULL },
	{ "\"a,b\"@example.org, c@d.org", "\"a,b\"@example.org|c@d.org", NULL },
	{ "\"john\"@example.org", "john@example.org", NULL },
	{ "\"john\".\"doe\"@example.org", "john.doe@example.org", NULL },
	{ "\"a\\\"b\"@x.org", "\"a\\\"b\"@x.org", NULL },
	{ "\"a\\b\"@x.org", "ab@x.org", NULL },
	{ "john . doe @ example . org", "john.doe@example.org", NULL },
	{ "undisclosed-recipients:;", "", NULL },
	{ "Undisclosed recipients:;", "", NULL },
	{ "undisclosed-recipients:", "", NULL },
	{ "team: a@b.org, Jo <c@d.org>;, e@f.org",
	    "a@b.org|c@d.org|e@f.org", NULL },
	{ "empty: ;, x@y.org", "x@y.org", NULL },
	{ "A Group:a@b.org,c@d.org;,Other:e@f.org;",
	    "a@b.org|c@d.org|e@f.org", NULL },
	{ "=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.de>",
	    "joerg@example.de", NULL },
	{ "=?UTF-8?Q?Doe,_J?= <j@example.org>, k@example.org",
	    "j@example.org|k@example.org", NULL },
	{ "=?iso-8859-1?b?SvZyZw==?= <j@example.de>", "j@example.de", NULL },
	{ "<@route1.org,@route2.org:user@example.org>", "user@example.org",
	    NULL },
	{ "Jo <@relay.example:jo@example.org>", "jo@example.org", NULL },
	{ "a@b.org,\r\n c@d.org", "a@b.org|c@d.org", NULL },
	{ "Jo\r\n\tDoe\r\n <jo@x.org>", "jo@x.org", NULL },
	{ "\"folded\r\n name\" <f@x.org>", "f@x.org", NULL },
	{ ",, a@b.org ,,", "a@b.org", NULL },
	{ "", "", NULL },
	{ "   ", "", NULL },
	{ "user@[192.0.2.1]", "user@[192.0.2.1]", NULL },
	{ "user@[IPv6:2001:db8::1]", "user@[IPv6:2001:db8::1]", NULL },
	{ "J\xc3\xb6rg <j\xc3\xb6rg@b\xc3\xbc" "cher.de>",
	    "j\xc3\xb6rg@b\xc3\xbc" "cher.de", NULL },
	{ "\"Dr.\" J. Smith <js@y.org>", "js@y.org", NULL },
	{ "mary@x.org (Mary), \"Bob\" <bob@x.org>, root",
	    "mary@x.org|bob@x.org|root", NULL },
	{ "a@B.Example.ORG", "a@B.Example.ORG", NULL },
	{ "x@y.org, x@y.org", "x@y.org|x@y.org", NULL },

	/* Broken syntax. */
	{ "\"unterminated@x.org", NULL, "unbalanced quotes" },
	{ "a@b.org (comment", NULL, "unbalanced parenthesis" },
	{ "a@b.org (a (b) c", NULL, "unbalanced parenthesis" },
	{ "a@b.org)", NULL, "unbalanced parenthesis" },
	{ "Jo <a@b.org", NULL, "unbalanced angle brackets" },
	{ "a@b.org>", NULL, "unbalanced angle brackets" },
	{ "Jo <<a@b.org>>", NULL, "'<' inside" },
	{ "user@[1.2.3.4", NULL, "unbalanced brackets" },
	{ "user@1.2.3.4]", NULL, "unbalanced brackets" },
	{ "John Doe", NULL, "words without an address" },
	{ "a@b.org c@d.org", NULL, "white space in a domain" },
	{ "<>", NULL, "empty address" },
	{ "a@@b.org", NULL, "more than one '@'" },
	{ "a@b@c.org", NULL, "more than one '@'" },
	{ "g1: g2: a@b.org;;", NULL, "group inside a group" },
	{ ": a@b.org;", NULL, "group without a name" },
	{ "a@b.org;", NULL, "';' outside a group" },
	{ "foo\\bar@x.org", NULL, "backslash" },
	{ "a@\"quoted\".org", NULL, "quoted string in a domain" },
	{ "[1.2.3.4]@x.org", NULL, "domain literal in a local part" },
	{ "Jo <a@b.org> c@d.org", NULL, "expected ','" },
	{ "team: a@b.org; e@f.org", NULL, "expected ','" },

	/* Hostile input. */
	{ "a@b\r\nRCPT TO:<x@y>", NULL, "control character" },
	{ "a@b\nDATA", NULL, "control character" },
	{ "a@b\rDATA", NULL, "control character" },
	{ "a@b.org\x01", NULL, "control character" },
	{ "\"a\x01\"@b.org", NULL, "control character" },
	{ "a@b.org (\x1b[2J)", NULL, "control character" },
	{ "\"a\tb\"@x.org", NULL, "control character" },
	/* Quoted pairs and folds inside comments, quotes and literals. */
	{ "a@b.org (x \\( y)", "a@b.org", NULL },
	{ "\"a\r\n b\"@x.org", "\"a b\"@x.org", NULL },
	{ "a@b.org (x\r\n y)", "a@b.org", NULL },
	{ "\"ab\\", NULL, "unbalanced quotes" },
	{ "(a\\", NULL, "unbalanced parenthesis" },
	{ "\"a\\\x01\"@x.org", NULL, "control character" },
	{ "x@y (a\\\r\n b)", NULL, "control character" },
	{ "user@[1.2[3.4]", NULL, "'[' inside a domain literal" },
	{ "-X/tmp/x", NULL, "starts with '-'" },
	{ "x@y.org, -oQ/tmp/q@evil.org", NULL, "starts with '-'" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "@x.org", NULL, "local part longer than 64" },
	{ "a@b.org, x@y..org", NULL, "empty label" },
	{ "j\xc3@x.org", NULL, "invalid UTF-8" },
	{ "@example.org", NULL, "empty local part" },
	{ "a@", NULL, "empty domain" },
};

static void
test_parse_list(void)
{
	size_t i;

	for (i = 0; i < RQ_ARRAY_LEN(list_cases); i++) {
		const struct list_case *c = &list_cases[i];
		struct strlist out = { 0 };
		struct rq_err err = { 0 };
		int rc;
		char *got;

		/* Something already in the list must stay untouched. */
		strlist_add(&out, "keep@x.org");
		rc = addr_parse_list(c->in, strlen(c->in), &out, &err);
		if (c->want != NULL) {
			if (!is_int(rc, 0, "parse ok: %s", vis(c->in)))
				diag("error: %s", err.msg);
			ok(out.n >= 1 && strcmp(out.v[0], "keep@x.org") == 0,
			    "existing entries kept: %s", vis(c->in));
			strlist_free(&out);
			/* Again on a fresh list for the comparison. */
			rc = addr_parse_list(c->in, strlen(c->in), &out, &err);
			got = joined(&out);
			is_str(got, c->want, "parse result: %s", vis(c->in));
			free(got);
		} else {
			is_int(rc, EX_DATAERR, "parse refused: %s", vis(c->in));
			is_int(out.n, 1, "nothing appended on error: %s",
			    vis(c->in));
			if (!ok(strstr(err.msg, c->err) != NULL,
			    "message names the problem (%s)", c->err))
				diag("message: %s", err.msg);
			ok(strchr(err.msg, '\n') == NULL &&
			    strchr(err.msg, '\r') == NULL,
			    "message is one line");
		}
		strlist_free(&out);
	}
}

/* Inputs that need an explicit length or are built at run time. */
static void
test_parse_list_special(void)
{
	static const char nul[] = "a@b\0.org";
	struct strlist out = { 0 };
	struct rq_err err = { 0 };
	struct buf b = { 0 };
	char *got;
	int i, rc;

	rc = addr_parse_list(nul, sizeof(nul) - 1, &out, &err);
	is_int(rc, EX_DATAERR, "NUL inside a list is refused");
	ok(strstr(err.msg, "control character") != NULL, "NUL: %s", err.msg);
	ok(strstr(err.msg, "\\x00") != NULL, "NUL shown escaped");

	/* Length given explicitly: the text after len is not read. */
	rc = addr_parse_list("a@b.org, junk\n", 7, &out, &err);
	got = joined(&out);
	is_str(got, "a@b.org", "only len octets are parsed");
	free(got);
	strlist_free(&out);

	/* Deeply nested comments cost nothing (no recursion). */
	for (i = 0; i < 100000; i++)
		buf_addch(&b, '(');
	for (i = 0; i < 100000; i++)
		buf_addch(&b, ')');
	buf_addstr(&b, "deep@x.org");
	rc = addr_parse_list(b.data, b.len, &out, &err);
	got = joined(&out);
	is_str(got, "deep@x.org", "100000 nested comments");
	free(got);
	strlist_free(&out);
	buf_free(&b);

	/* Many addresses. */
	for (i = 0; i < 5000; i++)
		buf_addf(&b, "%s\"User %d\" <u%d@x.org>", i ? ",\r\n " : "",
		    i, i);
	rc = addr_parse_list(b.data, b.len, &out, &err);
	is_int(rc, 0, "5000 addresses parse");
	is_int(out.n, 5000, "5000 addresses found");
	ok(out.n == 5000 && strcmp(out.v[4999], "u4999@x.org") == 0,
	    "last address right");
	strlist_free(&out);
	buf_free(&b);

	/* A 300-octet path in a list. */
	buf_addstr(&b, "Long <");
	for (i = 0; i < 60; i++)
		buf_addstr(&b, "abcd.");
	buf_addstr(&b, "x@example.org>");
	rc = addr_parse_list(b.data, b.len, &out, &err);
	is_int(rc, EX_DATAERR, "a 300-octet local part in a list is refused");
	ok(strstr(err.msg, "...") != NULL, "long input shortened in message");
	ok(strlen(err.msg) < 300, "message stays short");
	buf_free(&b);

	/* NULL err is allowed. */
	rc = addr_parse_list("\"x", 2, &out, NULL);
	is_int(rc, EX_DATAERR, "NULL err works");
}

/* ---- addr_check ---------------------------------------------------------- */

struct check_case {
	const char *addr;
	int bare;
	const char *err;	/* NULL: valid; else substring of the message */
};

static const struct check_case check_cases[] = {
	{ "a@b.org", 0, NULL },
	{ "first.last@sub.example.co.uk", 0, NULL },
	{ "user+tag@example.org", 0, NULL },
	{ "o'brien@example.ie", 0, NULL },
	{ "x@localhost", 0, NULL },
	{ "{weird}|=~!#$%&*/^`@x-y.example", 0, NULL },
	{ "\"john doe\"@example.org", 0, NULL },
	{ "\"a@b\"@example.org", 0, NULL },
	{ "\"a\\\"b\"@x.org", 0, NULL },
	{ "\"a..b\"@x.org", 0, NULL },
	{ "root", 1, NULL },
	{ "www-data", 1, NULL },
	{ "root", 0, "no domain in address" },
	{ "j\xc3\xb6rg@b\xc3\xbc" "cher.de", 0, NULL },
	{ "\xe7\x94\xb0\xe4\xb8\xad@\xe4\xbe\x8b\xe3\x81\x88.jp", 0, NULL },
	{ "a@[192.0.2.1]", 0, NULL },
	{ "a@[IPv6:::1]", 0, NULL },
	{ "a@[IPv6:2001:db8::1]", 0, NULL },
	{ "a@[ipv6:2001:DB8:0:0:0:0:0:1]", 0, NULL },
	{ "a@[IPv6:::ffff:192.0.2.1]", 0, NULL },
	{ "a@xn--bcher-kva.de", 0, NULL },
	{ "a@123.example", 0, NULL },

	{ "", 0, "empty address" },
	{ "a@b\r\nRCPT TO:<x@y>", 0, "control character in address" },
	{ "a@b\nDATA", 0, "control character in address" },
	{ "a\tb@x.org", 0, "control character in address" },
	{ "a\x7f@b.org", 0, "control character in address" },
	{ "\"a\x01\"@b.org", 0, "control character in address" },
	{ "-X/tmp/x", 1, "starts with '-'" },
	{ "-oQ/tmp@x.org", 0, "starts with '-'" },
	{ ".a@b.org", 0, "misplaced dot" },
	{ "a.@b.org", 0, "misplaced dot" },
	{ "a..b@b.org", 0, "misplaced dot" },
	{ ".", 1, "misplaced dot" },
	{ "@b.org", 0, "empty local part" },
	{ "\"\"@b.org", 0, "empty local part" },
	{ "a@", 0, "empty domain" },
	{ "a b@x.org", 0, "space in local part" },
	{ "a\"b@x.org", 0, "invalid character in local part" },
	{ "a(b)@x.org", 0, "invalid character in local part" },
	{ "\"unterminated@x.org", 0, "unterminated quoted local part" },
	{ "\"a\\\"@x.org", 0, "unterminated quoted local part" },
	{ "\"a\"b@x.org", 0, "text after the quoted local part" },
	{ "a@b@c.org", 0, "invalid character in domain" },
	{ "a@-b.org", 0, "starts or ends with '-'" },
	{ "a@b-.org", 0, "starts or ends with '-'" },
	{ "a@b_c.org", 0, "invalid character in domain" },
	{ "a@b .org", 0, "space in domain" },
	{ "a@b.org.", 0, "domain ends with a dot" },
	{ "a@.b.org", 0, "empty label" },
	{ "a@b..org", 0, "empty label" },
	{ "a@[256.0.0.1]", 0, "malformed IPv4" },
	{ "a@[1.2.3]", 0, "malformed IPv4" },
	{ "a@[1.2.3.4.5]", 0, "malformed IPv4" },
	{ "a@[1.2.3.0004]", 0, "malformed IPv4" },
	{ "a@[]", 0, "malformed address literal" },
	{ "a@[1.2.3.4", 0, "malformed address literal" },
	{ "a@[IPv6:2001:db8::g]", 0, "malformed IPv6" },
	{ "a@[IPv6:1.2.3.4]", 0, "malformed IPv6" },
	{ "a@[IPv6:1:2:3:4:5:6:7:8:9]", 0, "malformed IPv6" },
	{ "a@[x-tag:stuff]", 0, "unsupported address literal" },
	{ "j\xc3@x.org", 0, "invalid UTF-8" },
	{ "\xed\xa0\x80@x.org", 0, "invalid UTF-8" },
	{ "\xc0\xaf@x.org", 0, "invalid UTF-8" },
	{ "a@x\xff.org", 0, "invalid UTF-8" },
};

static void
test_check(void)
{
	struct rq_err err;
	struct buf b = { 0 };
	size_t i;
	int rc;

	for (i = 0; i < RQ_ARRAY_LEN(check_cases); i++) {
		const struct check_case *c = &check_cases[i];

		rq_errclear(&err);
		rc = addr_check(c->addr, c->bare, "recipient", &err);
		if (c->err == NULL) {
			if (!is_int(rc, 0, "valid: %s", vis(c->addr)))
				diag("error: %s", err.msg);
		} else {
			is_int(rc, EX_DATAERR, "invalid: %s (%s)", vis(c->addr),
			    c->err);
			if (!ok(strstr(err.msg, c->err) != NULL,
			    "message names it: %s", c->err))
				diag("message: %s", err.msg);
			ok(strncmp(err.msg, "recipient \"", 11) == 0,
			    "message starts with what");
		}
	}

	/* The message of the brief, exactly, on one line. */
	addr_check("a@b\r\nX", 0, "recipient", &err);
	is_str(err.msg, "recipient \"a@b\\r\\nX\": control character in "
	    "address", "control characters are escaped in the message");
	addr_check("-f\"x", 0, "sender", &err);
	is_str(err.msg, "sender \"-f\\\"x\": address starts with '-'",
	    "quotes escaped in the message");

	/* Limits: 64 octets of local part, 63 of label, 254 of path. */
	for (i = 0; i < 64; i++)
		buf_addch(&b, 'l');
	buf_addstr(&b, "@x.org");
	is_int(addr_check(b.data, 0, "recipient", &err), 0,
	    "64-octet local part is fine");
	buf_reset(&b);
	for (i = 0; i < 65; i++)
		buf_addch(&b, 'l');
	buf_addstr(&b, "@x.org");
	is_int(addr_check(b.data, 0, "recipient", &err), EX_DATAERR,
	    "65-octet local part is refused");
	ok(strstr(err.msg, "local part longer than 64") != NULL, "%s",
	    err.msg);
	buf_reset(&b);
	buf_addstr(&b, "a@");
	for (i = 0; i < 63; i++)
		buf_addch(&b, 'd');
	buf_addstr(&b, ".org");
	is_int(addr_check(b.data, 0, "recipient", &err), 0,
	    "63-octet label is fine");
	buf_reset(&b);
	buf_addstr(&b, "a@");
	for (i = 0; i < 64; i++)
		buf_addch(&b, 'd');
	buf_addstr(&b, ".org");
	is_int(addr_check(b.data, 0, "recipient", &err), EX_DATAERR,
	    "64-octet label is refused");
	ok(strstr(err.msg, "label longer than 63") != NULL, "%s", err.msg);

	/* 64 + 1 + 189 = 254 fits; one more label octet does not. */
	buf_reset(&b);
	for (i = 0; i < 64; i++)
		buf_addch(&b, 'l');
	buf_addch(&b, '@');
	for (i = 0; i < 3; i++)
		buf_addf(&b, "%.60s.", "dddddddddddddddddddddddddddddddddddddd"
		    "dddddddddddddddddddddddddddd");
	buf_addstr(&b, "abcdef");
	is_int(b.len, 254, "built a 254-octet path");
	is_int(addr_check(b.data, 0, "recipient", &err), 0,
	    "254-octet path is fine");
	buf_addch(&b, 'g');
	is_int(addr_check(b.data, 0, "recipient", &err), EX_DATAERR,
	    "255-octet path is refused");
	ok(strstr(err.msg, "longer than 254") != NULL, "%s", err.msg);

	/* A 300-octet path and a 256-octet domain. */
	buf_reset(&b);
	buf_addstr(&b, "user@");
	while (b.len < 300)
		buf_addstr(&b, "abcdefghij.");
	buf_addstr(&b, "org");
	is_int(addr_check(b.data, 0, "recipient", &err), EX_DATAERR,
	    "300-octet path is refused");
	ok(strstr(err.msg, "domain longer than 255") != NULL, "%s", err.msg);
	ok(strlen(err.msg) < 250, "long address shortened in the message");
	buf_free(&b);

	/* NULL what and NULL err. */
	is_int(addr_check("a b@c", 0, NULL, &err), EX_DATAERR, "NULL what");
	ok(strncmp(err.msg, "address \"", 9) == 0, "defaults to 'address'");
	is_int(addr_check("a b@c", 0, "x", NULL), EX_DATAERR, "NULL err");
}

/* ---- small helpers ------------------------------------------------------- */

static void
test_domain(void)
{
	static const struct {
		const char *addr, *domain;
		int utf8, local_utf8;
	} cases[] = {
		{ "a@b.org", "b.org", 0, 0 },
		{ "root", NULL, 0, 0 },
		{ "", NULL, 0, 0 },
		{ "\"a@b\"", NULL, 0, 0 },
		{ "\"a@b\"@c.org", "c.org", 0, 0 },
		{ "\"x\\\"@y\"@z.org", "z.org", 0, 0 },
		{ "a@[IPv6:::1]", "[IPv6:::1]", 0, 0 },
		{ "j\xc3\xb6rg@x.org", "x.org", 1, 1 },
		{ "joerg@b\xc3\xbc" "cher.de", "b\xc3\xbc" "cher.de", 1, 0 },
		{ "j\xc3\xb6rg", NULL, 1, 1 },
	};
	size_t i;

	for (i = 0; i < RQ_ARRAY_LEN(cases); i++) {
		const char *d = addr_domain(cases[i].addr);

		is_str(d, cases[i].domain, "addr_domain(%s)",
		    vis(cases[i].addr));
		is_int(addr_has_domain(cases[i].addr), cases[i].domain != NULL,
		    "addr_has_domain(%s)", vis(cases[i].addr));
		is_int(addr_is_utf8(cases[i].addr), cases[i].utf8,
		    "addr_is_utf8(%s)", vis(cases[i].addr));
		is_int(addr_local_is_utf8(cases[i].addr), cases[i].local_utf8,
		    "addr_local_is_utf8(%s)", vis(cases[i].addr));
	}
}

static void
test_envelope(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "<>", "" },
		{ "", "" },
		{ "  ", "" },
		{ "< >", " " },
		{ "<a@b.org>", "a@b.org" },
		{ "a@b.org", "a@b.org" },
		{ " <a@b.org> ", "a@b.org" },
		{ "<<a@b.org>>", "<a@b.org>" },
		{ "<", "<" },
		{ "a@b.org>", "a@b.org>" },
		{ "<root>", "root" },
		{ "\"Web App\" <app@b.org>", "app@b.org" },
		{ "Web App <app@b.org>", "app@b.org" },
		{ "Ops <root>", "root" },
		{ "a <b@c.org>, d <e@f.org>", "a <b@c.org>, d <e@f.org>" },
	};
	size_t i;

	for (i = 0; i < RQ_ARRAY_LEN(cases); i++) {
		char *got = addr_envelope(cases[i].in);

		is_str(got, cases[i].want, "addr_envelope(\"%s\")",
		    cases[i].in);
		free(got);
	}
}

static void
test_xtext(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "a@b.org", "a@b.org" },
		{ "", "" },
		{ "a+b=c@x.org", "a+2Bb+3Dc@x.org" },
		{ "a b", "a+20b" },
		{ "j\xc3\xb6rg", "j+C3+B6rg" },
		{ "!~\"<>", "!~\"<>" },
		{ "x\r\ny", "x+0D+0Ay" },
		{ "\x7f", "+7F" },
		{ "rfc822;a@b", "rfc822;a@b" },
	};
	size_t i;

	for (i = 0; i < RQ_ARRAY_LEN(cases); i++) {
		struct buf b = { 0 };

		buf_addstr(&b, "");
		addr_xtext(cases[i].in, &b);
		is_str(b.data, cases[i].want, "xtext(%s)", vis(cases[i].in));
		buf_free(&b);
	}
}

static void
test_match(void)
{
	static const struct {
		const char *pat, *addr;
		int want;
	} cases[] = {
		{ "*@example.org", "a@example.org", 1 },
		{ "*@example.org", "a@EXAMPLE.ORG", 1 },
		{ "*@Example.ORG", "a@example.org", 1 },
		{ "*@example.org", "a@example.org.evil", 0 },
		{ "*@example.org", "a@sub.example.org", 0 },
		{ "*@*example.org", "a@sub.example.org", 1 },
		{ "A@example.org", "a@example.org", 0 },
		{ "a@example.org", "a@example.org", 1 },
		{ "a?c@x.org", "abc@x.org", 1 },
		{ "a?c@x.org", "ac@x.org", 0 },
		{ "a?c@x.org", "abbc@x.org", 0 },
		{ "j?rg@x.org", "j\xc3\xb6rg@x.org", 1 },
		{ "*", "anything@x", 1 },
		{ "*", "", 1 },
		{ "", "", 1 },
		{ "", "a", 0 },
		{ "**@x.org", "a@x.org", 1 },
		{ "user@*.example.org", "user@mail.example.org", 1 },
		{ "user@*.example.org", "user@example.org", 0 },
		{ "*a*b*c*", "xaybzc", 1 },
		{ "*a*b*c", "xaybzcd", 0 },
		{ "*@*", "root", 0 },
		{ "root", "root", 1 },
		{ "ro*", "root", 1 },
		{ "*+*@x.org", "me+tag@x.org", 1 },
		{ "*+*@x.org", "me@x.org", 0 },
		{ "?", "\xc3\xb6", 1 },
		{ "??", "\xc3\xb6", 0 },
		{ "a*?", "a", 0 },
		{ "a*?", "ab", 1 },
	};
	size_t i;

	for (i = 0; i < RQ_ARRAY_LEN(cases); i++)
		is_int(addr_match(cases[i].pat, cases[i].addr), cases[i].want,
		    "addr_match(%s, %s)", vis(cases[i].pat),
		    vis(cases[i].addr));
}

static void
test_qualify_header(void)
{
	static const struct {
		const char *in, *want;
		size_t n;
	} cases[] = {
		{ "root", "root@d.example", 1 },
		{ " root", " root@d.example", 1 },
		{ "root (Cron Daemon)", "root@d.example (Cron Daemon)", 1 },
		{ "\"(Cron Daemon)\" <root>", "\"(Cron Daemon)\" <root@d.example>", 1 },
		{ "Fail2Ban <fail2ban>", "Fail2Ban <fail2ban@d.example>", 1 },
		{ "root, bob@x.org", "root@d.example, bob@x.org", 1 },
		{ "a, b,\r\n c", "a@d.example, b@d.example,\r\n c@d.example", 3 },
		{ "bob@x.org", "bob@x.org", 0 },
		{ "Bob <bob@x.org>", "Bob <bob@x.org>", 0 },
		{ "<>", "<>", 0 },
		{ "", "", 0 },
		{ "undisclosed-recipients:;", "undisclosed-recipients:;", 0 },
		{ "team: a, b@x.org;", "team: a@d.example, b@x.org;", 1 },
		{ "\"a, b\" <c>", "\"a, b\" <c@d.example>", 1 },
		{ "\"john doe\"", "\"john doe\"@d.example", 1 },
		{ "John Smith", "John Smith", 0 },
		{ "x (comment, with comma) <y>", "x (comment, with comma) <y@d.example>", 1 },
		{ "(only a comment)", "(only a comment)", 0 },
		{ "a (nested (comment)) ", "a@d.example (nested (comment)) ", 1 },
		{ "\"unbalanced <root>", "\"unbalanced <root>", 0 },
		{ "<root", "<root", 0 },
		{ "(open comment root", "(open comment root", 0 },
		{ "root\\@x", "root\\@x", 0 },
		{ "j\xc3\xb6rg", "j\xc3\xb6rg@d.example", 1 },
		{ "a@[1.2.3.4]", "a@[1.2.3.4]", 0 },
	};
	size_t i, n;

	for (i = 0; i < RQ_ARRAY_LEN(cases); i++) {
		struct buf b = { 0 };

		buf_addstr(&b, "");
		n = addr_qualify_header(cases[i].in, strlen(cases[i].in),
		    "d.example", &b);
		is_str(b.data, cases[i].want, "qualify_header(%s)",
		    vis(cases[i].in));
		is_int((long long)n, (long long)cases[i].n,
		    "... %zu mailbox(es) qualified", cases[i].n);
		buf_free(&b);
	}
}

int
main(void)
{
	test_parse_list();
	test_parse_list_special();
	test_check();
	test_domain();
	test_envelope();
	test_xtext();
	test_match();
	test_qualify_header();
	return done_testing();
}
