/*
 * relayq -- unit tests for IDNA conversion (idn.c).
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "idn.h"
#include "tap.h"
#include "util.h"

/* want NULL: an error whose message contains errword. */
struct tcase {
	const char	*in;
	const char	*want;
	const char	*errword;
};

static const struct tcase domains[] = {
	{ "example.com", "example.com", NULL },
	{ "Example.COM", "Example.COM", NULL },	/* ASCII kept as is */
	{ "xn--bcher-kva.example", "xn--bcher-kva.example", NULL },
	{ "b\xc3\xbc" "cher.example", "xn--bcher-kva.example", NULL },
	{ "B\xc3\x9c" "CHER.example", "xn--bcher-kva.example", NULL },
	/* Non-transitional: sharp s is kept, not mapped to "ss". */
	{ "fa\xc3\x9f.de", "xn--fa-hia.de", NULL },
	/* NFC: u + combining diaeresis is the same name as u-umlaut. */
	{ "u\xcc\x88" "ber.de", "xn--ber-goa.de", NULL },
	{ "\xe4\xbe\x8b\xe3\x81\x88.\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88",
	    "xn--r8jz45g.xn--zckzah", NULL },
	{ "[192.0.2.1]", "[192.0.2.1]", NULL },
	{ "[IPv6:2001:db8::1]", "[IPv6:2001:db8::1]", NULL },
	{ "\xff.example", NULL, "encoding" },
	{ "a\xe2\x80\x8d" "b.example", NULL, "context" },
	{ "-b\xc3\xbc" "cher.example", NULL, "hyphen" },
};

static const struct tcase addrs[] = {
	{ "", "", NULL },
	{ "root", "root", NULL },
	{ "user@example.com", "user@example.com", NULL },
	{ "user@b\xc3\xbc" "cher.example", "user@xn--bcher-kva.example", NULL },
	{ "\"a@b\"@b\xc3\xbc" "cher.example",
	    "\"a@b\"@xn--bcher-kva.example", NULL },
	{ "user@[192.0.2.1]", "user@[192.0.2.1]", NULL },
	{ "j\xc3\xb6rg@example.com", NULL, "local part" },
	{ "j\xc3\xb6rg@b\xc3\xbc" "cher.example", NULL, "SMTPUTF8" },
	{ "user@\xff.example", NULL, "cannot convert domain" },
};

/* One case of fn, a conversion: its result, or its error and message. */
static void
check(int (*fn)(const char *, char **, struct rq_err *), const char *what,
    size_t i, const struct tcase *c)
{
	struct rq_err err = { 0 };
	char *out = NULL;
	int rc = fn(c->in, &out, &err);

	if (c->want != NULL) {
		is_int(rc, 0, "%s %zu converts", what, i);
		is_str(out, c->want, "%s %zu: %s", what, i, c->want);
	} else {
		is_int(rc, EX_DATAERR, "%s %zu refused", what, i);
		ok(out == NULL, "%s %zu: no output", what, i);
		ok(strstr(err.msg, c->errword) != NULL,
		    "%s %zu: \"%s\" mentions %s", what, i, err.msg,
		    c->errword);
		for (const char *p = err.msg; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 ||
			    (unsigned char)*p == 0xff) {
				ok(0, "%s %zu: message printable", what, i);
				break;
			}
	}
	free(out);
}

int
main(void)
{
	for (size_t i = 0; i < RQ_ARRAY_LEN(domains); i++)
		check(idn_domain_to_ascii, "domain", i, &domains[i]);
	for (size_t i = 0; i < RQ_ARRAY_LEN(addrs); i++)
		check(idn_addr_to_ascii, "address", i, &addrs[i]);
	return done_testing();
}
