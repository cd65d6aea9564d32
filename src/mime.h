/*
 * relayq -- MIME encoders: RFC 2047 encoded words, RFC 2045 quoted-printable.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef RELAYQ_MIME_H
#define RELAYQ_MIME_H

#include <stddef.h>

#include "util.h"

/*
 * Length (1 to 4) of the valid UTF-8 character starting at s, which has n
 * octets available, or 0 when the octets there are not valid UTF-8
 * (overlong forms, surrogates, code points above U+10FFFF, truncated
 * sequences).  Any ASCII octet is a character of length 1.
 */
size_t	utf8_char_len(const void *s, size_t n);

/* Is c an RFC 5322 atext character (ALPHA, DIGIT or one of !#$%&'*+-/=?^_`{|}~)? */
int	rfc5322_is_atext(unsigned char c);

/*
 * Append a display name for a From header to out: as-is when it is a
 * plain RFC 5322 phrase of printable ASCII atoms; as a quoted-string when it
 * is ASCII but holds specials ("Doe, John" -> "\"Doe, John\""); as RFC 2047
 * encoded words (=?UTF-8?B?...?= or ?Q?, each at most 75 octets, split on
 * UTF-8 character boundaries) when it holds 8-bit characters.  Control
 * characters (CR, LF, TAB, ...) become spaces first, so no name can
 * break the header; invalid UTF-8 sequences become U+FFFD.  Several
 * encoded words are separated by single spaces (the caller may fold
 * there).  An empty name appends nothing.
 */
void	mime_encode_phrase(const char *name, struct buf *out);

/*
 * Append s[0..len) as RFC 2047 encoded words in charset ("UTF-8",
 * "unknown-8bit", ...), "Q" or "B" whichever is shorter, each at most 75
 * octets, separated by single spaces (a caller may fold there).  With
 * utf8, words split only between UTF-8 characters.  len 0 appends
 * nothing.
 */
void	mime_encode_words(const void *s, size_t len, const char *charset,
	    int utf8, struct buf *out);

/*
 * Streaming quoted-printable encoder for canonical text (CRLF lines).
 * Feed it any chunks of the input; it appends encoded output to out with
 * CRLF line ends and soft breaks ("=\r\n") so that no output line exceeds
 * 76 octets.  Encodes '=', NUL, 8-bit octets, control characters other
 * than TAB, trailing white space before a line end or the end of input,
 * and a '.', 'F' or '-' at the start of an output line (so the output
 * survives a missing dot-stuffing and mbox "From " quoting, and no line
 * can pass for a multipart delimiter; every 'F' rather than "From ",
 * because that would need a look-ahead across chunks).  The
 * output does not depend on how the input is split into chunks.  A CRLF in the input is a hard line break; a lone CR or LF (which
 * canonical input never has) is encoded as =0D / =0A.
 */
struct qp_enc {
	size_t	col;		/* octets on the current output line */
	int	pending_cr;	/* last input octet was CR */
	unsigned char pending_ws; /* held-back SP or TAB (0: none) */
};

void	qp_init(struct qp_enc *);
void	qp_feed(struct qp_enc *, const void *, size_t, struct buf *out);
/* End of input: flushes what is held back.  Adds no line end of its own. */
void	qp_finish(struct qp_enc *, struct buf *out);

/* Base64 (RFC 4648), appended to out, no line breaks. */
void	base64_encode(const void *, size_t, struct buf *out);
/* Returns 0, or -1 on malformed input (bad characters, bad padding). */
int	base64_decode(const char *, size_t, struct buf *out);

#endif
