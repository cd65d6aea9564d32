/*
 * relayq -- a map from strings to indexes.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Linear probing in a table kept at most half full; no removal (the
 * report and the queue shape only ever add).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "util.h"

static size_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return (size_t)h;
}

/* The slot of key, or of the empty slot where it would go. */
static size_t
slot(const struct strmap *m, const char *key)
{
	size_t i = hash(key) & (m->cap - 1);

	while (m->keys[i] != NULL && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

int
strmap_get(const struct strmap *m, const char *key, size_t *val)
{
	size_t i;

	if (m->cap == 0)
		return 0;
	i = slot(m, key);
	if (m->keys[i] == NULL)
		return 0;
	*val = m->vals[i];
	return 1;
}

static void
grow(struct strmap *m)
{
	struct strmap big = { 0 };
	size_t i, j;

	big.cap = m->cap ? m->cap * 2 : 64;
	big.keys = xcalloc(big.cap, sizeof(*big.keys));
	big.vals = xcalloc(big.cap, sizeof(*big.vals));
	for (i = 0; i < m->cap; i++) {
		if (m->keys[i] == NULL)
			continue;
		j = slot(&big, m->keys[i]);
		big.keys[j] = m->keys[i];
		big.vals[j] = m->vals[i];
	}
	big.n = m->n;
	free(m->keys);
	free(m->vals);
	*m = big;
}

void
strmap_put(struct strmap *m, const char *key, size_t val)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap)
		grow(m);
	i = slot(m, key);
	if (m->keys[i] == NULL) {
		m->keys[i] = xstrdup(key);
		m->n++;
	}
	m->vals[i] = val;
}

void
strmap_free(struct strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}
