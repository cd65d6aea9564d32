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
static const struct {
	const char	*in;
	const char	*want;
	const char	*errword;
} domains[] = {
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

static const struct {
	const char	*in;
	const char	*want;
	const char	*errword;
} addrs[] = {
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

int
main(void)
{
	for (size_t i = 0; i < RQ_ARRAY_LEN(domains); i++) {
		struct rq_err err = { 0 };
		char *out = NULL;
		int rc = idn_domain_to_ascii(domains[i].in, &out, &err);

		if (domains[i].want != NULL) {
			is_int(rc, 0, "domain %zu converts", i);
			is_str(out, domains[i].want, "domain %zu: %s", i,
			    domains[i].want);
		} else {
			is_int(rc, EX_DATAERR, "domain %zu refused", i);
			ok(out == NULL, "domain %zu: no output", i);
			ok(strstr(err.msg, domains[i].errword) != NULL,
			    "domain %zu: \"%s\" mentions %s", i, err.msg,
			    domains[i].errword);
			for (const char *p = err.msg; *p != '\0'; p++)
				if ((unsigned char)*p < 0x20 ||
				    (unsigned char)*p == 0xff) {
					ok(0, "domain %zu: message printable",
					    i);
					break;
				}
		}
		free(out);
	}
	for (size_t i = 0; i < RQ_ARRAY_LEN(addrs); i++) {
		struct rq_err err = { 0 };
		char *out = NULL;
		int rc = idn_addr_to_ascii(addrs[i].in, &out, &err);

		if (addrs[i].want != NULL) {
			is_int(rc, 0, "address %zu converts", i);
			is_str(out, addrs[i].want, "address %zu: %s", i,
			    addrs[i].want);
		} else {
			is_int(rc, EX_DATAERR, "address %zu refused", i);
			ok(out == NULL, "address %zu: no output", i);
			ok(strstr(err.msg, addrs[i].errword) != NULL,
			    "address %zu: \"%s\" mentions %s", i, err.msg,
			    addrs[i].errword);
		}
		free(out);
	}
	return done_testing();
}
