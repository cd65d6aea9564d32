/*
 * relayq -- the queue's shape: messages and octets by state, pending
 * recipients by age bucket and recipient domain (Postfix qshape's buckets),
 * why each message waits, and the oldest one; for relayq --report and
 * relayq --metrics.  Reads the queue without locks, as mailq does.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef RELAYQ_QSHAPE_H
#define RELAYQ_QSHAPE_H

#include "conf.h"
#include "queue.h"
#include "status.h"

/* Ages: 0-5m, 5-10m, 10-20m, 20-40m, 40-80m, 80-160m, older. */
#define QS_NBUCKETS	7

/* As mailq says: failed (in failed/), held, deferred (tried), queued. */
enum qs_state { QS_QUEUED, QS_DEFERRED, QS_HELD, QS_FAILED, QS_NSTATES };

/* Why a message in msg/ is not being sent right now. */
enum qs_wait {
	QW_DUE,			/* due: waits for the next flush run */
	QW_BACKOFF,		/* deferred, next attempt later */
	QW_HOSTDOWN,		/* ... and the last error was no session */
	QW_RATE,		/* due, but its account's rate_limit is full */
	QW_WARMUP,		/* the day's warm-up allowance is used */
	QW_HELD,		/* held by an operator */
	QW_NOACCOUNT,		/* its account is not configured */
	QS_NWAITS
};

struct qs_domain {
	char		*name;		/* recipient domain, lower case */
	unsigned	 total;
	unsigned	 n[QS_NBUCKETS];
};

struct qshape {
	long long	 now;
	unsigned	 msgs[QS_NSTATES];
	long long	 bytes[QS_NSTATES];	/* content octets */
	unsigned	 unreadable;		/* corrupt or unreadable files */
	unsigned	 rcpts;			/* pending recipients in msg/ */
	unsigned	 total[QS_NBUCKETS];	/* ... by age */
	struct qs_domain *domains;		/* most recipients first */
	size_t		 ndomains;
	unsigned	 waits[QS_NWAITS];	/* messages in msg/ by wait */
	/* The oldest message in msg/ (have_oldest 0: none). */
	int		 have_oldest;
	char		 oldest_id[QUEUE_ID_MAX];
	long long	 oldest_queued_at;
	char		*oldest_account;	/* NULL: none configured */
	char		*oldest_rcpt;		/* its first pending recipient */
	enum qs_wait	 oldest_wait;
	char		*oldest_why;		/* one line */
	long long	 oldest_until;		/* its next attempt; 0 none */
};

/*
 * Scan q (its msg/ and failed/ areas) at now.  each_failed, when not NULL,
 * is called for every readable message in failed/ (the report reads their
 * last replies).  Errors: those of queue_list().  Free with qshape_free.
 */
int	qshape_scan(struct queue *, const struct conf *, long long now,
	    void (*each_failed)(void *arg, const struct qmsg *), void *arg,
	    struct qshape *, struct rq_err *);
void	qshape_free(struct qshape *);

/* "0-5m" ... "older"; "queued" ...; "due", "backoff", "host-down",
   "rate-limit", "warm-up", "held", "no-account" (stable: JSON, metrics). */
const char *qs_bucket_name(int);
const char *qs_state_name(int);
const char *qs_wait_name(int);

/* The state of m as mailq shows it. */
enum qs_state qs_state_of(const struct qmsg *);

#endif
