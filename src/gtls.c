/*
 * relayq -- the GnuTLS table of gtls.h for a program that links GnuTLS.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "gtls.h"

static void
gtls_free(void *p)
{
	gnutls_free(p);
}

const struct gtls_fns *
gtls_fns(void)
{
	static const struct gtls_fns linked = {
		gnutls_hash_init, gnutls_hash, gnutls_hash_deinit,
		gnutls_base64_encode2, gtls_free,
	};

	return &linked;
}
