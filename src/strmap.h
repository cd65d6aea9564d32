/*
 * relayq -- a map from strings to indexes (open addressing, FNV-1a), for
 * the report's groups and the queue shape's domains: the caller keeps the
 * values in an array of its own and the map says where.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef RELAYQ_STRMAP_H
#define RELAYQ_STRMAP_H

#include <stddef.h>

/* A zeroed struct is an empty map. */
struct strmap {
	char	**keys;
	size_t	 *vals;
	size_t	  cap;		/* slots, a power of two (0: none yet) */
	size_t	  n;		/* keys stored */
};

/* 1 with *val set when key is there, else 0. */
int	strmap_get(const struct strmap *, const char *key, size_t *val);
/* Store key (copied) -> val, replacing an earlier value. */
void	strmap_put(struct strmap *, const char *key, size_t val);
void	strmap_free(struct strmap *);

#endif
