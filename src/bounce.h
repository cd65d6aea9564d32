/*
 * relayq -- bounces: RFC 3464 delivery status notifications for mail that
 * failed for good.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A bounce is a multipart/report (RFC 6522) with report-type
 * delivery-status: a human-readable text/plain part, a
 * message/delivery-status part (RFC 3464), and the original message as
 * message/rfc822 -- or only its header as text/rfc822-headers when the
 * sender asked for RET=HDRS or the original is larger than
 * BOUNCE_FULL_MAX.  It is queued with the null sender, so it can never
 * cause another bounce (deliver.c moves a failed null-sender message to
 * failed/ instead).  The original is streamed from its queue file, never
 * held in memory.
 */
#ifndef RELAYQ_BOUNCE_H
#define RELAYQ_BOUNCE_H

#include <stddef.h>

#include "queue.h"
#include "status.h"
#include "util.h"

/* Originals larger than this are returned as headers only. */
#define BOUNCE_FULL_MAX	(1024 * 1024)

struct bounce_params {
	const char	*to;		/* the bounce's recipient */
	const char	*domain;	/* Reporting-MTA, From MAILER-DAEMON@ */
	const char	*remote_mta;	/* the smart host, or NULL */
	const char	*account;	/* account for the bounce's envelope,
					   or NULL (chosen at flush time) */
	long long	 now;
	/*
	 * NULL: a bounce about the recipients in state RCPT_FAILED.  Else
	 * a "relayed" notice (RFC 3461 section 4.3: the smart host has no
	 * DSN, so this is the last word on them) about the recipients i
	 * with relayed[i] set, whose 250 replies are in m->st.rreply; it
	 * returns the original's header only.
	 */
	const unsigned char *relayed;
};

/*
 * The bounce's envelope: null sender, one recipient (p->to), p->account.
 * *out is filled with allocated members (envelope_free).
 */
void	bounce_envelope(const struct bounce_params *p, struct envelope *out);

/* Where the report's octets go: returns 0 or an EX_ code with err set. */
typedef int (*bounce_sink)(void *arg, const void *, size_t,
    struct rq_err *);

/*
 * Write the report about m's recipients in state RCPT_FAILED (their
 * reasons from m->st.rreply), or those p->relayed picks, through sink,
 * CRLF line ends throughout.
 * *eightbit is set when the result has 8-bit octets (an 8-bit original
 * returned in full).  Errors: from the sink; EX_IOERR reading m->fd.
 */
int	bounce_write(const struct qmsg *m, const struct bounce_params *p,
	    bounce_sink sink, void *arg, int *eightbit, struct rq_err *);

/*
 * Write the report into q as a new message (queue_writer_open/write/
 * commit).  The new message's id is copied to id (QUEUE_ID_MAX octets)
 * when id is not NULL.  Errors: from the queue.
 */
int	bounce_queue(struct queue *q, const struct qmsg *m,
	    const struct bounce_params *p, char *id, struct rq_err *);

/*
 * The RFC 3463 status for a recorded reason: the enhanced code in an SMTP
 * reply ("550 5.1.1 ..." -> "5.1.1") or at the start of a local reason
 * ("5.3.4 ..."), else "5.0.0" for a 5xx reply or anything else.  dst gets
 * at most size octets (16 is enough).
 */
void	bounce_status(const char *reason, char *dst, size_t size);

#endif
