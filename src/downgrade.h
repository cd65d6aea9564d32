/*
 * relayq -- make a message's content fit the path it takes: per-part
 * re-encoding for the queue, the 8BITMIME downgrade for the wire.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * RFC 2045 (transfer encodings), RFC 2046 (composite types are never
 * encoded: their parts are), RFC 6152 section 3 (an 8-bit message for a
 * server without 8BITMIME is converted to 7 bits), RFC 2047 and RFC 2231
 * (8-bit header fields as encoded words and parameters, hdrenc.c), RFC
 * 6531 section 3.2 / RFC 6532 (UTF-8 headers need SMTPUTF8).
 *
 * Two passes over the content, each streaming through the MIME walker
 * (mimewalk.h) in bounded memory:
 *
 *  1. the scan decides, part by part, what the content needs: nothing, a
 *     new transfer encoding (text becomes quoted-printable, binary data
 *     base64), a fixed-up existing encoding (base64 re-wrapped,
 *     quoted-printable given soft line breaks), a corrected
 *     Content-Transfer-Encoding label, or 8-bit header fields encoded.
 *     It refuses, with a one-line reason, only what cannot be made valid.
 *     The result is a plan: one small record per part, and an upper bound
 *     of the converted size (exact unless some line is longer than 75
 *     octets after encoding);
 *  2. the transform applies the plan while the content streams again:
 *     every octet of a part the plan does not change is copied as it was
 *     (boundaries, part headers, preamble, epilogue), and nothing is ever
 *     dropped except octets that decoders ignore by definition (those
 *     outside the alphabet inside base64, RFC 2045 6.8).
 *
 * The same code serves the queue (relayq, flags 0: no line over 998
 * octets and no NUL; 8-bit stays) and the flush (DG_7BIT when the server
 * lacks 8BITMIME, DG_HDR_ASCII when it lacks SMTPUTF8).  The transform is
 * deterministic: the same content and plan give the same octets, however
 * the content is cut into pieces, so a DKIM signer can hash one run and
 * send another.
 */
#ifndef RELAYQ_DOWNGRADE_H
#define RELAYQ_DOWNGRADE_H

#include <stddef.h>

#include "content.h"
#include "queue.h"
#include "status.h"

#define DG_7BIT		0x1	/* no octet >= 0x80 (no 8BITMIME) */
#define DG_HDR_ASCII	0x2	/* the message's header fields in ASCII
				   (no SMTPUTF8); implied by DG_7BIT */

struct dg_scan;
struct dg_plan;

/* ---- the two passes, for any content ----------------------------------- */

struct dg_scan *dg_scan_new(unsigned flags);
/* The content in pieces of any size.  Errors: as dg_scan_end. */
int	dg_scan_feed(struct dg_scan *, const void *, size_t, struct rq_err *);
/*
 * The end of the content: *out is the plan (the caller's, dg_plan_free).
 * Errors: EX_DATAERR with a one-line reason when the content cannot be
 * made valid for the path; for the flush (flags not 0) the reason starts
 * with an enhanced status code: 5.6.3 (content that cannot be converted),
 * 5.6.9 (an 8-bit header field that cannot be encoded), 5.6.7 (a UTF-8
 * address in a header field).  dg_scan_end frees the scan either way.
 */
int	dg_scan_end(struct dg_scan *, struct dg_plan **out, struct rq_err *);
/* After an error of dg_scan_feed, or to give up.  NULL is fine. */
void	dg_scan_free(struct dg_scan *);
/*
 * Has the scan seen all it needs?  With DG_HDR_ASCII alone only the
 * message's header section matters; a caller may stop feeding then.
 */
int	dg_scan_done(const struct dg_scan *);

/* Does the plan change anything?  (0: send or keep the content as is.) */
int	dg_plan_changes(const struct dg_plan *);
/* An upper bound of the size after the transform (RFC 1870 SIZE). */
long long dg_plan_size(const struct dg_plan *);
void	dg_plan_free(struct dg_plan *);		/* NULL is fine */

/*
 * The transform that applies the plan (content.h), for content_open() or
 * to be fed by hand.  It keeps its own copy of what it needs: the plan
 * may be freed, or used for another transform, at once.  Its feed()
 * appends at most about three times what it is fed (plus a header field).
 */
void	dg_transform(const struct dg_plan *, struct content_transform *out);

/* ---- for the flush (smtp.c, and a DKIM signer) ------------------------- */

/*
 * The flags a message needs on a server with or without 8BITMIME and
 * SMTPUTF8: 0 when it can go as queued.
 */
unsigned downgrade_flags(const struct envelope *env, int has_8bitmime,
	    int has_smtputf8);
/*
 * Scan queued message m (m->fd from m->data_off, env.size octets) for
 * flags.  Returns 0 and *out, or EX_IOERR (reading the queue file) or
 * EX_DATAERR (the content cannot be converted: err's text starts with
 * the enhanced status code, as for dg_scan_end).
 */
int	downgrade_plan(struct qmsg *m, unsigned flags, struct dg_plan **out,
	    struct rq_err *);

#endif
