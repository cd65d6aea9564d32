/*
 * relayq -- the MIME structure of a message, walked as it streams.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * RFC 2045 (Content-Type, Content-Transfer-Encoding), RFC 2046 section 5
 * (multipart: boundaries, preamble, epilogue; message/rfc822), RFC 5322
 * (header fields, folding).
 *
 * The walker is fed a message in pieces of any size and tells its
 * consumer, in order, what each octet is: a header field of some part, the
 * empty line after a header section, the content of a leaf part, or the
 * structure around parts (preamble, delimiter lines, epilogue).  Every
 * octet fed comes out in exactly one event, in order, so a consumer that
 * copies every event unchanged reproduces its input byte for byte.
 *
 * It is the one MIME parser of relayq: the submit-time re-encoder and the
 * flush-time 8BITMIME downgrade (downgrade.c) both run on it.  Memory is
 * bounded whatever the input: one header field is kept whole up to
 * MW_FIELD_MAX octets (a longer one is handed on in pieces), a line start
 * up to MW_PEEK octets, and one frame per nesting level up to
 * MW_DEPTH_MAX; part content is never buffered.
 *
 * The rules follow what common parsers (Python's email package among
 * them) do with real mail:
 *  - a line ends at LF (CRLF or a bare LF); the line end before a
 *    delimiter line belongs to the delimiter (RFC 2046 5.1.1), so a
 *    leaf's content never includes it;
 *  - a header section ends at an empty line, at a line that is not a
 *    header field (that line starts the body), at a delimiter line of an
 *    enclosing multipart, or at the end of the input;
 *  - a delimiter line is "--" boundary ["--"] followed only by spaces and
 *    tabs; the boundary of every open multipart counts, so a delimiter of
 *    an outer multipart ends every part inside it (which then has no close
 *    delimiter: part_end reports it);
 *  - the first Content-Type field counts; without one a part is
 *    text/plain, or message/rfc822 inside multipart/digest; a type
 *    without "/" is text/plain (RFC 2045 5.2); a multipart type without a
 *    usable boundary parameter is a leaf;
 *  - message/rfc822 and message/global with an identity transfer encoding
 *    hold a message, walked in turn; other message types are leaves;
 *  - composite parts deeper than MW_DEPTH_MAX are walked as leaves
 *    (too_deep is set); more than MW_PARTS_MAX parts is an error.
 */
#ifndef RELAYQ_MIMEWALK_H
#define RELAYQ_MIMEWALK_H

#include <stddef.h>

#include "status.h"

#define MW_DEPTH_MAX	32		/* nesting levels of composite parts */
#define MW_PARTS_MAX	10000		/* parts in one message */
#define MW_FIELD_MAX	(64 * 1024)	/* a header field kept whole */
#define MW_BOUNDARY_MAX	200		/* RFC 2046 says 70; be lenient */
#define MW_PEEK		256		/* line start examined for delimiters */
#define MW_TYPE_MAX	128
#define MW_CTE_MAX	32

enum mw_kind {
	MW_LEAF = 0,
	MW_MULTIPART,
	MW_MESSAGE,		/* message/rfc822: its body is a message */
};

/* What the walker learned about a part; valid from headers_end on. */
struct mw_part {
	unsigned	 index;		/* 0: the message; then in order */
	unsigned	 depth;		/* 0: the message */
	unsigned	 parent;	/* index of the enclosing part (0 for 0) */
	enum mw_kind	 kind;
	char		 type[MW_TYPE_MAX]; /* "text/plain", lower case; ""
					   when the field was too long */
	char		 cte[MW_CTE_MAX]; /* lower case; "" when absent */
	int		 has_ct;	/* a Content-Type field was present */
	int		 has_mimever;	/* a MIME-Version field was present */
	int		 sep;		/* the header section ended with an
					   empty line */
	int		 too_deep;	/* composite, walked as a leaf */
	int		 no_boundary;	/* multipart without a usable boundary */
	int		 in_digest;	/* the parent is multipart/digest */
	int		 closed;	/* multipart: its close delimiter came
					   (valid at part_end) */
	int		 end_delim;	/* at part_end: a delimiter ends it
					   (else the end of the input) */
};

/* What a raw event is: structure between and around parts. */
enum mw_raw {
	MW_SEP = 0,		/* the empty line ending a header section */
	MW_PREAMBLE,		/* of the multipart `part` */
	MW_DELIM,		/* a delimiter line of `part`, with the line
				   end before it */
	MW_EPILOGUE,
};

/* Flags of a field event. */
#define MW_FIELD_FIRST	1	/* starts the field (holds the name) */
#define MW_FIELD_LAST	2	/* ends it (with its CRLF); a field kept
				   whole has both */

/*
 * The consumer.  Each callback returns 0, or an EX_ code with err set,
 * which stops the walk (mw_feed and mw_end return it).  The part pointer
 * is valid during the call only.  Any callback may be NULL.
 */
struct mw_ops {
	/* A header field of part (all its physical lines), or a piece of
	   one longer than MW_FIELD_MAX. */
	int	(*field)(void *arg, const struct mw_part *, const char *f,
		    size_t n, int flags, struct rq_err *);
	/* The header section of part is over: kind, type, cte are known. */
	int	(*headers_end)(void *arg, const struct mw_part *,
		    struct rq_err *);
	/* Content of a leaf part. */
	int	(*body)(void *arg, const struct mw_part *, const char *b,
		    size_t n, struct rq_err *);
	int	(*raw)(void *arg, const struct mw_part *, enum mw_raw what,
		    const char *b, size_t n, struct rq_err *);
	/* The part is over (innermost first; every part begun ends). */
	int	(*part_end)(void *arg, const struct mw_part *,
		    struct rq_err *);
};

struct mimewalk;

/* A walker over one message; ops and arg stay the caller's. */
struct mimewalk *mw_new(const struct mw_ops *ops, void *arg);
/*
 * The next n octets of the message.  Returns 0, a callback's code, or
 * EX_DATAERR past MW_PARTS_MAX ("more than 10000 MIME parts").  After an
 * error the walker must only be freed.
 */
int	mw_feed(struct mimewalk *, const void *p, size_t n, struct rq_err *);
/* The end of the message: every open part ends.  Returns as mw_feed. */
int	mw_end(struct mimewalk *, struct rq_err *);
void	mw_free(struct mimewalk *);	/* NULL is fine */
/* Parts begun so far. */
unsigned mw_parts(const struct mimewalk *);
/*
 * Does the walker hold no octet back (no line start, line end, CR or
 * field)?  Then everything fed so far has been handed on.
 */
int	mw_clean(const struct mimewalk *);

/*
 * Helpers on a field as given to field(): is its name `name`
 * (case-insensitive)?  And its value unfolded (line ends before white
 * space removed, leading and trailing white space dropped) into out.
 */
int	mw_field_is(const char *f, size_t n, const char *name);
struct buf;
void	mw_field_value(const char *f, size_t n, struct buf *out);
/*
 * The first token of a MIME field value (Content-Type's type/subtype,
 * Content-Transfer-Encoding's mechanism), lower case, comments skipped,
 * at most max - 1 octets (a longer one is cut: it matches nothing).
 */
void	mw_value_token(const char *v, size_t n, int slash, char *out,
	    size_t max);
/*
 * The value of parameter `name` of a Content-Type or Content-Disposition
 * value (quoted-strings unquoted).  Returns 1 and fills out, or 0.
 */
int	mw_param(const char *v, size_t n, const char *name, struct buf *out);

#endif
