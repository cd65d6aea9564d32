/*
 * relayq -- header fields for a 7-bit path: 8-bit content as RFC 2047
 * encoded words or RFC 2231 parameters, domains as A-labels; folding.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * RFC 5322 sections 2.2 (fields, folding), 3.4 (address lists); RFC 2047
 * sections 2 and 5 (where encoded words may stand: unstructured text,
 * comments, phrases); RFC 2231 sections 3 and 4 (parameter continuations
 * and charsets); RFC 1428 (the unknown-8bit charset); RFC 5890 (A-labels).
 */
#ifndef RELAYQ_HDRENC_H
#define RELAYQ_HDRENC_H

#include <stddef.h>

#include "status.h"
#include "util.h"

#define HDR_LINE_MAX	998

/*
 * Field f (n octets: "Name: value", its physical lines with CRLF ends)
 * holds 8-bit octets; append to out the same field in ASCII, CRLF ended,
 * folded so that lines stay short:
 *  - address fields (From, To, Cc, Reply-To, Sender, Resent-*, ...):
 *    8-bit display names and comments become encoded words, 8-bit
 *    domains become A-labels; an 8-bit local part cannot be written in
 *    ASCII (5.6.7);
 *  - Content-Type and Content-Disposition: 8-bit parameter values
 *    become RFC 2231 values (name*=utf-8''...), continued when long;
 *  - fields whose syntax has no room for encoded words (Message-ID,
 *    References, Received, Date, ...) cannot be converted (5.6.9);
 *  - every other field is unstructured text: its whole value becomes
 *    encoded words (existing encoded words are kept as they are).
 * Text that is valid UTF-8 is labelled utf-8, other 8-bit text
 * unknown-8bit.  Decoded (unfolded, RFC 2047 and 2231 decoded), the new
 * field says what the old one said.  Returns 0, or EX_DATAERR with err's
 * text starting "5.6.9 " or "5.6.7 " (out is then unchanged).
 */
int	hdrenc_field(const char *f, size_t n, struct buf *out,
	    struct rq_err *err);

/*
 * Append field f to out with every physical line over HDR_LINE_MAX
 * octets folded before white space (RFC 5322 2.2.3).  Returns 0, or
 * EX_DATAERR (err set, out unchanged) when a line has nowhere to fold.
 */
int	hdr_fold(const char *f, size_t n, struct buf *out, struct rq_err *err);

/*
 * Append one physical line (len octets, no line end) to out, folded
 * before white space so that no piece exceeds HDR_LINE_MAX octets: CRLF
 * between the pieces, none after the last.  A piece keeps something
 * other than white space and, on a field's first line, everything up to
 * minpos (the colon).  -1 when there is nowhere to fold (out may then
 * hold some pieces: callers fold into a scratch buffer).
 */
int	hdr_fold_line(const char *p, size_t len, size_t minpos,
	    struct buf *out);

#endif
