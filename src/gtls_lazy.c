/*
 * relayq -- the GnuTLS table of gtls.h loaded on first use (relayq only:
 * the submission does not link GnuTLS).
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The library is asked for by its soname, so the dynamic linker finds it
 * where it finds every other (never through LD_LIBRARY_PATH in a
 * set-group-ID relayq), and each function by name and symbol version, as
 * the linker would have bound it.  Not in librelayq.a: the Makefile links
 * it into relayq before the archive, whose gtls.o it replaces there.
 */
#include <dlfcn.h>
#include <string.h>

#include "gtls.h"

/* GnuTLS 3.x has been libgnutls.so.30 since 3.4 (2015). */
#ifndef GNUTLS_SONAME
#define GNUTLS_SONAME	"libgnutls.so.30"
#endif

static int
sym(void *h, const char *name, const char *version, void *fn, size_t len)
{
	void *p = dlvsym(h, name, version);

	if (p == NULL)
		return -1;
	memcpy(fn, &p, len);
	return 0;
}

const struct gtls_fns *
gtls_fns(void)
{
	static struct gtls_fns f;
	static int tried;
	gnutls_free_function *fr = NULL;
	void *h;

	if (tried)
		return f.hash != NULL ? &f : NULL;
	tried = 1;
	if ((h = dlopen(GNUTLS_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return NULL;
	if (sym(h, "gnutls_hash_init", "GNUTLS_3_4", &f.hash_init,
	    sizeof(f.hash_init)) != 0 ||
	    sym(h, "gnutls_hash", "GNUTLS_3_4", &f.hash, sizeof(f.hash)) != 0 ||
	    sym(h, "gnutls_hash_deinit", "GNUTLS_3_4", &f.hash_deinit,
	    sizeof(f.hash_deinit)) != 0 ||
	    sym(h, "gnutls_base64_encode2", "GNUTLS_3_6_0", &f.base64_encode2,
	    sizeof(f.base64_encode2)) != 0 ||
	    sym(h, "gnutls_free", "GNUTLS_3_4", &fr, sizeof(fr)) != 0 ||
	    *fr == NULL) {
		memset(&f, 0, sizeof(f));
		(void)dlclose(h);
		return NULL;
	}
	/* gnutls_free is a variable holding the function. */
	f.free = *fr;
	return &f;
}
