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
 * ":include:" are local deliveries relayq cannot do: an error naming them
 * when a recipient expands through such an entry (not when loading, so a
 * system /etc/aliases with an unrelated pipe still works).  A name that
 * lists itself ("root: root, admin@example.org") keeps itself, bare, as
 * in sendmail, and so does "\name".  Names produced by the default
 * entry are not sent through the default again.  When a name has two
 * entries the first one counts, as in Postfix.  Targets are parsed with
 * addr_parse_list, so "Name <a@b.org>" and comments work.
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
 * Duplicates are removed (local parts compared exactly, domains without
 * regard to case; the first one stays).  A bare name with no entry and no
 * default is left as it is (the caller qualifies or refuses it).  Errors:
 * EX_CONFIG for loops, nesting deeper than 16 or unsupported targets;
 * rcpts is unchanged then.  a may be NULL (no aliases file: duplicates
 * are still removed).
 */
int	aliases_expand(const struct aliases *a, struct strlist *rcpts,
	    struct rq_err *);

#endif
