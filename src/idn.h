/*
 * relayq -- internationalised domain names with libidn2 (only idn.c
 * includes idn2.h).
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef RELAYQ_IDN_H
#define RELAYQ_IDN_H

#include "status.h"

/*
 * The A-label form of a domain (IDNA2008, NFC, non-transitional; an ASCII
 * domain is returned lowercase-preserved as is; an address literal
 * "[...]" unchanged).  Caller frees.  Errors: EX_DATAERR naming the
 * domain and libidn2's reason.
 */
int	idn_domain_to_ascii(const char *domain, char **out, struct rq_err *);

/*
 * An address for a server without SMTPUTF8: the domain converted to its
 * A-label; a non-ASCII local part is EX_DATAERR ("local part is not
 * ASCII and the server does not support SMTPUTF8").  The null sender and
 * bare names pass through.  Caller frees.
 */
int	idn_addr_to_ascii(const char *addr, char **out, struct rq_err *);

#endif
