/*
 * relayq -- the GnuTLS functions of a DKIM body hash (SHA-256, base64),
 * through a table.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * relayq-flush links GnuTLS and fills the table with its functions
 * (gtls.c).  relayq, the submission, does not link it: loading GnuTLS and
 * the eight libraries below it costs a process about 1.3 ms of CPU (the
 * dynamic linker's symbol lookups and GnuTLS's own initialisation), more
 * than the rest of a submission's CPU, and only an account that signs
 * with DKIM needs it there, for the body hash made while the message is
 * written.  gtls_lazy.c loads it then, once, with dlopen (doc/decisions.md).
 * The functions are GnuTLS's either way, with the types of its header.
 */
#ifndef RELAYQ_GTLS_H
#define RELAYQ_GTLS_H

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

struct gtls_fns {
	__typeof__(gnutls_hash_init)		*hash_init;
	__typeof__(gnutls_hash)			*hash;
	__typeof__(gnutls_hash_deinit)		*hash_deinit;
	__typeof__(gnutls_base64_encode2)	*base64_encode2;
	gnutls_free_function			 free;
};

/* The table, or NULL when GnuTLS cannot be loaded (then: no body hash). */
const struct gtls_fns *gtls_fns(void);

#endif
