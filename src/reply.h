/*
 * relayq -- SMTP replies (RFC 5321 section 4.2) and EHLO capabilities.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Replies are untrusted input.  A line is "DDD" followed by "-" (more
 * lines follow), " " or the line end (last line); every line of one reply
 * must carry the same code; the first digit must be 2 to 5.  Lines are at
 * most REPLY_LINE_MAX octets not counting CRLF (so a reader should allow
 * REPLY_LINE_MAX + 2), a reply at most REPLY_LINES_MAX lines and
 * REPLY_SIZE_MAX octets counting everything.  Anything else ends the
 * session.
 */
#ifndef RELAYQ_REPLY_H
#define RELAYQ_REPLY_H

#include <stddef.h>

#include "status.h"
#include "util.h"

#define REPLY_LINE_MAX	4096
#define REPLY_LINES_MAX	1000
#define REPLY_SIZE_MAX	(256 * 1024)

struct reply {
	int		code;		/* 200..599 */
	struct strlist	lines;		/* text of each line, after "DDD-" */
	size_t		size;		/* octets received for this reply */
	int		done;		/* the last line has been fed */
};

void	reply_init(struct reply *);
void	reply_free(struct reply *);
/* Text of the reply as one line: "CODE text text" (lines joined by ' '),
 * control characters replaced, at most 512 octets.  Caller frees. */
char   *reply_oneline(const struct reply *);

/*
 * Feed one received line (with or without CRLF; a bare LF end is accepted
 * on input).  Returns 1 when the reply is complete, 0 when more lines
 * follow, or EX_PROTOCOL with err set for a malformed or oversized reply
 * (bad or missing digits, a first digit outside 2-5, anything but ' ', '-'
 * or the end after the code, a code that differs from the first line's,
 * a NUL, CR or LF inside the line, too long, too many lines, too large).
 * Feeding a reply that is already complete starts a new one (the old
 * lines are freed), so one struct reply can be reused for a whole session.
 * After an error the reply is unusable until reply_free/reply_init.
 */
int	reply_feed(struct reply *, const char *line, size_t len,
	    struct rq_err *);

struct caps {
	int		pipelining;
	int		starttls;
	int		eightbitmime;
	int		smtputf8;
	int		dsn;
	int		chunking;
	int		enhancedstatuscodes;
	int		size;		/* SIZE advertised */
	long long	size_max;	/* 0: no limit given */
	struct strlist	auth;		/* mechanisms, upper case */
};

void	caps_init(struct caps *);
void	caps_free(struct caps *);
/*
 * Parse an EHLO reply (lines after the first) into c, which is cleared
 * first (so the same struct serves before and after STARTTLS).  Keywords
 * are case-insensitive; unknown ones are ignored.  "SIZE" alone or
 * "SIZE 0" sets size with size_max 0; a number that does not parse is
 * ignored.  Both "AUTH m1 m2" and the old "AUTH=m1 m2" form add
 * mechanisms (upper-cased, deduplicated; names that are not valid
 * RFC 4422 names, [A-Z0-9_-]{1,20}, are dropped).
 */
void	caps_parse(struct caps *, const struct reply *);

#endif
