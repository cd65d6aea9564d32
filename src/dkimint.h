/*
 * relayq -- what dkim.c lends dkimsign.c.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef RELAYQ_DKIMINT_H
#define RELAYQ_DKIMINT_H

#include <stddef.h>

#define DKIM_SHA256_LEN	32

/* One name of a dkim_headers list. */
struct dkim_hname {
	char	*name;		/* lower case */
	int	 over;		/* oversign */
};

/* The list parsed; -1 and *why (static text) when it is not valid. */
int	dkim_parse_headers(const char *list, struct dkim_hname **out,
	    size_t *nout, const char **why);
void	dkim_hnames_free(struct dkim_hname *, size_t);
/* base64 of n octets at p (malloc'd), through GnuTLS; NULL if it fails. */
char   *dkim_b64(const void *p, size_t n);

#endif
