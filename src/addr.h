/*
 * relayq -- mail addresses: RFC 5322 address lists and RFC 5321 mailboxes.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Addresses travel through relayq as plain C strings in RFC 5321 form,
 * "local@domain" (the local part kept exactly as written, quoted when it
 * needs quotes: "\"john doe\"@example.org"), or a bare "local" name before
 * aliasing and qualification.  The null sender is "".
 */
#ifndef RELAYQ_ADDR_H
#define RELAYQ_ADDR_H

#include <stddef.h>

#include "status.h"
#include "util.h"

/* RFC 5321 section 4.5.3.1 limits. */
#define ADDR_LOCAL_MAX	64
#define ADDR_DOMAIN_MAX	255
#define ADDR_PATH_MAX	254	/* a path is 256 octets with the < > */

/*
 * Parse an RFC 5322 address-list (a To/Cc/Bcc header value, unfolded or
 * not, or a command-line argument such as "a@b.org, Jo <c@d.org>").
 * Handles display names, comments (nested), quoted strings, quoted local
 * parts, angle addresses, groups ("undisclosed-recipients: ;", "team: a@b,
 * c@d;"), encoded words in display names, obsolete route syntax in angle
 * addresses (the route is dropped), and bare local names ("root").
 * Each mailbox found is appended to out as "local@domain" or "local",
 * comments, white space and folds removed; a local part written with
 * quotes is unquoted and quoted again only when it is not a dot-string
 * ("\"john\"@x" -> "john@x", "\"john doe\"@x" stays), since RFC 5322
 * 3.4.1 makes both forms the same address.  Every mailbox appended has
 * passed addr_check(allow_bare=1); duplicates are kept.  An empty list,
 * or one of empty groups only, is fine (nothing appended).  err may be
 * NULL.  Returns 0, or EX_DATAERR with a one-line message naming the
 * problem ("bad address list \"...\": unbalanced quotes: ...", or
 * addr_check's message).  Nothing is appended on error.
 */
int	addr_parse_list(const char *text, size_t len, struct strlist *out,
	    struct rq_err *);

/*
 * Check one address against RFC 5321 (Mailbox syntax: dot-string or
 * quoted-string local part, domain name or address literal; local part at
 * most 64 octets, domain 255, whole at most 254; no control characters,
 * no CR/LF/NUL, no leading '-').  UTF-8 (RFC 6531) is allowed in the local
 * part and domain when it is valid UTF-8.  With allow_bare, a local name
 * without '@' is accepted (it will be aliased or qualified).  what names
 * the address in messages ("recipient", "sender"; NULL: "address"):
 * "recipient \"a@b\\r\\nX\": control character in address", the address
 * escaped and shortened so that the message is one line.  The empty
 * string (the null sender) is refused: callers test for it first.
 * Returns 0 or EX_DATAERR.
 */
int	addr_check(const char *addr, int allow_bare, const char *what,
	    struct rq_err *);

/* Does addr contain an '@' (outside a quoted local part)? */
int	addr_has_domain(const char *addr);
/*
 * Pointer to the domain: after the '@' that ends the local part (a
 * leading quoted string, else the text before the first '@'), or NULL.
 */
const char *addr_domain(const char *addr);
/* Does the string contain any octet >= 0x80? */
int	addr_is_utf8(const char *s);
/* Is the local part (before the domain) non-ASCII? */
int	addr_local_is_utf8(const char *addr);

/*
 * Normalise an envelope sender given with -f/-r: strips surrounding
 * blanks and one pair of angle brackets; "<>" and "" become "" (the null
 * sender); "Name <addr>" (one mailbox with a display name) becomes addr.
 * Returns an allocated string (not checked: use addr_check).
 */
char   *addr_envelope(const char *arg);

/*
 * Qualify the bare mailboxes of an RFC 5322 address header value (From,
 * To, Cc, ...): "root (Cron Daemon)" becomes "root@DOMAIN (Cron Daemon)",
 * "Cron <root>" becomes "Cron <root@DOMAIN>".  Everything else stays
 * byte for byte: display names, comments, quoted strings, folds, groups
 * ("undisclosed-recipients:;" is left alone), addresses that have a
 * domain, and "<>".  The value (len octets, folded or not) is appended to
 * out, qualified.  Returns the number of mailboxes qualified; 0 leaves out
 * holding a copy of the value.  Text it cannot make sense of (unbalanced
 * quotes, comments or brackets) is copied unchanged.
 */
size_t	addr_qualify_header(const char *value, size_t len, const char *domain,
	    struct buf *out);

/* RFC 3461 xtext encoding (for ENVID and ORCPT), appended to out. */
void	addr_xtext(const char *in, struct buf *out);

/*
 * Does addr match pattern (msmtp's "from" wildcards: '*' any run, '?' one
 * character, a UTF-8 character counting as one), the octets of addr's
 * domain compared case-insensitively and its local part exactly?
 */
int	addr_match(const char *pattern, const char *addr);

#endif
