/*
 * relayq -- internationalised domain names with libidn2 (the only file
 * that includes idn2.h).
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * RFC 5890-5893 (IDNA2008) with UTS #46 non-transitional mapping (so
 * "faß.de" stays "xn--fa-hia.de", not "fass.de", and upper case is
 * mapped), input normalised to NFC; RFC 6531 section 3.2 for what a
 * client without SMTPUTF8 at the server may send.
 */
#include <stdlib.h>
#include <string.h>

#include <idn2.h>

#include "idn.h"
#include "util.h"

static int
is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* A copy of s fit for an error message: control characters (and, when
 * s is not valid UTF-8, every 8-bit octet) replaced by '?'. */
static char *
printable(const char *s, int ascii_only)
{
	char *p = xstrdup(s);

	for (char *q = p; *q != '\0'; q++) {
		unsigned char c = (unsigned char)*q;

		if (rq_iscntrl(c) || (ascii_only && c >= 0x80))
			*q = '?';
	}
	return p;
}

int
idn_domain_to_ascii(const char *domain, char **out, struct rq_err *err)
{
	char *a = NULL;
	int rc;

	*out = NULL;
	/* An address literal ("[192.0.2.1]", "[IPv6:...]") has no labels;
	 * an ASCII name is already what goes on the wire. */
	if (domain[0] == '[' || is_ascii(domain)) {
		*out = xstrdup(domain);
		return 0;
	}
	rc = idn2_to_ascii_8z(domain, &a, IDN2_NFC_INPUT |
	    IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK) {
		char *shown = printable(domain, rc == IDN2_ENCODING_ERROR);

		rq_errf(err, EX_DATAERR,
		    "cannot convert domain \"%.255s\" to ASCII (IDNA2008): %s",
		    shown, idn2_strerror(rc));
		free(shown);
		return EX_DATAERR;
	}
	*out = xstrdup(a);
	idn2_free(a);
	return 0;
}

int
idn_addr_to_ascii(const char *addr, char **out, struct rq_err *err)
{
	const char *at = strrchr(addr, '@');
	char *dom = NULL;
	size_t llen;
	int rc;

	*out = NULL;
	if (at == NULL) {
		/* The null sender, or a bare name: nothing to convert. */
		*out = xstrdup(addr);
		return 0;
	}
	llen = (size_t)(at - addr);
	for (size_t i = 0; i < llen; i++)
		if ((unsigned char)addr[i] >= 0x80)
			return rq_errf(err, EX_DATAERR, "local part of %.300s "
			    "is not ASCII and the server does not support "
			    "SMTPUTF8", addr);
	rc = idn_domain_to_ascii(at + 1, &dom, err);
	if (rc != 0)
		return rc;
	*out = xasprintf("%.*s@%s", (int)llen, addr, dom);
	free(dom);
	return 0;
}
