/*
 * relayq -- a queued message's content as it goes on the wire.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * smtp.c sends what this module yields; it never reads the queue file
 * itself.  The content is a pipeline, each stage streaming in bounded
 * memory, without a temporary copy:
 *
 *	queue file (m->fd from m->data_off, env.size octets)
 *	  -> transform	(the 8BITMIME downgrade, when the server lacks it)
 *	  -> prefix	(header fields put first, e.g. a DKIM-Signature)
 *	  -> reader	(content_read)
 *
 * Line ends and dot-stuffing are smtp.c's business (smtp_canon); what
 * comes out here is message content with CRLF line ends, as queued.
 *
 * DKIM (content_dkim) reads the same pipeline, before the transaction,
 * so that the signature covers the header and body exactly as they go
 * out: through the same transform, when there is one.
 */
#ifndef RELAYQ_CONTENT_H
#define RELAYQ_CONTENT_H

#include <sys/types.h>

#include "dkim.h"
#include "queue.h"
#include "status.h"
#include "util.h"

/*
 * A transform between the queue file and the wire: fed the content in
 * pieces, it appends what goes on the wire to out.  end() is called once
 * after the last piece (it may append a tail).  Either returns 0, or an
 * EX_ code with err set (the message cannot be sent this way: err's text
 * starts with an enhanced status code, e.g. "5.6.3 ...").
 */
struct content_transform {
	int	(*feed)(void *arg, const char *in, size_t n, struct buf *out,
		    struct rq_err *err);
	int	(*end)(void *arg, struct buf *out, struct rq_err *err);
	void	(*free)(void *arg);
	void	 *arg;
};

struct content;

/*
 * Start reading m's content.  transform may be NULL (the content as
 * queued); content_open takes it over (and frees it with its free()),
 * even on failure.  prefix (may be NULL or "") is sent before the content:
 * complete header lines, each ending in CRLF.  Errors: EX_IOERR.
 */
int	content_open(struct qmsg *m, struct content_transform *transform,
	    const char *prefix, struct content **out, struct rq_err *err);
/*
 * Up to n octets into buf.  Returns the number of octets (0: the end),
 * or -1 with err set: EX_IOERR (reading the queue file), EX_DATAERR (the
 * file is shorter than its recorded size), or the transform's error.
 */
ssize_t	content_read(struct content *, void *buf, size_t n,
	    struct rq_err *err);
void	content_close(struct content *);	/* NULL is fine */

/*
 * The DKIM-Signature field for m's content as it goes on the wire
 * through transform (taken over as by content_open; NULL: as queued),
 * signed by signer with t=now, in *field (allocated, ending in CRLF; it
 * is the prefix for content_open).  Without a transform, the body hash
 * recorded at submit (m->env.dkim_bh) is used when its canonicalisation
 * is the signer's, and only the header section is read; otherwise one
 * streaming pass over the content hashes the body.  *field is NULL when
 * the message already has a signature for the signer's domain.  Errors:
 * content_read's (EX_IOERR, EX_DATAERR, the transform's), EX_DATAERR for
 * a header section too large to sign, EX_SOFTWARE from the crypto.
 */
int	content_dkim(struct qmsg *m, struct content_transform *transform,
	    const struct dkim_signer *signer, long long now, char **field,
	    struct rq_err *err);

#endif
