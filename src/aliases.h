/*
 * relayq -- the aliases file (/etc/aliases format) for bare local names.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Format: "name: target, target, ..." with continuation lines starting
 * with white space, '#' comments, names matched case-insensitively.  A
 * "default:" entry catches every bare name not listed.  Targets that are
 * themselves bare names are expanded again (recursively, at most 16 deep;
 * a loop is an error).  Targets of the form "|command", "/file" and
 * ":include:" are local deliveries relayq cannot do: an error naming them.
 */
#ifndef RELAYQ_ALIASES_H
#define RELAYQ_ALIASES_H

#include "status.h"
#include "util.h"

struct aliases;

/* Read the file.  Errors: EX_CONFIG naming FILE:LINE, or EX_NOINPUT. */
int	aliases_load(const char *path, struct aliases **out, struct rq_err *);
void	aliases_free(struct aliases *);

/*
 * Replace every bare name in rcpts (addresses without '@') by its
 * expansion, recursively; addresses with a domain pass unchanged.
 * Duplicates are removed.  A bare name with no entry and no default is
 * left as it is (the caller qualifies or refuses it).  Errors: EX_CONFIG
 * for loops or unsupported targets.  a may be NULL (no aliases file).
 */
int	aliases_expand(const struct aliases *a, struct strlist *rcpts,
	    struct rq_err *);

#endif
