/*
 * relayq -- per-account state in the queue directory: the warm-up ramp
 * and the delivery totals, shared by every flush of the queue.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * QUEUE/account.NAME (a '/' in NAME becomes '_') is one small file per
 * account: two fixed 512-octet slots, each a complete text record with a
 * sequence number and a CRC (format: acctstate.c and doc/queue-format.md).
 * Updates take flock(LOCK_EX) on the file and rewrite the older slot in
 * place; readers take the newest slot that checks out.
 *
 * Warm-up ("warmup 50 100 500 ..."): day 1 starts at the first message the
 * account sends (the instant is recorded); day N is the N-th period of 24
 * hours from then, whatever the time zone or the daylight saving rules.
 * A message is counted, durably, before it goes, so a crash may lose one
 * slot of the day's allowance but never sends over it.
 *
 * Nothing here prints or exits; the warm-up and totals updates log their
 * own failures (log.h), because the flush carries on without them.
 */
#ifndef RELAYQ_ACCTSTATE_H
#define RELAYQ_ACCTSTATE_H

#include "conf.h"
#include "queue.h"
#include "status.h"

#define ACCT_DAY	86400LL

struct acct_state {
	long long	seq;		/* which slot is newer */
	long long	warmup_start;	/* first counted send; 0: not started */
	long long	warmup_day;	/* the day warmup_count is for (1 = the
					   first); never goes back */
	long long	warmup_count;	/* messages counted on that day */
	long long	sent;		/* messages delivered to all recipients */
	long long	deferred;	/* attempts that left a message deferred */
	long long	failed;		/* messages that failed for good */
	long long	last_sent;	/* time of the last delivery; 0: never */
};

/* The verdict of acct_warmup_take(). */
struct warmup_verdict {
	int		ok;		/* 1: the message may go (it is counted) */
	long long	day;		/* the warm-up day (0: no warm-up) */
	long long	allowance;	/* that day's allowance; -1 unlimited */
	long long	count;		/* counted that day, this one included */
	long long	until;		/* refused: when to try again (the next
					   day's start, or a minute on error) */
	char		reason[256];	/* refused: one line for last_error,
					   "warm-up: ..." */
};

/*
 * The warm-up day for now, counting from start (1 when start is 0 or in
 * the future), and the allowance of a day: the schedule's entry, or -1
 * (unlimited) without a schedule or past its end.
 */
long long acct_warmup_day(long long start, long long now);
long long acct_warmup_allowance(const struct account *, long long day);

/*
 * May one more message of account a go now?  Without a warm-up schedule,
 * or past its end, always (and nothing is written).  Otherwise, under the
 * file's lock: the first call records the start; a new day starts a new
 * count; a message within the day's allowance is counted and the record
 * is on disk (fdatasync) before this returns 1.  Returns 0 with v->until
 * and v->reason when the allowance is used, or when the count cannot be
 * kept (then v->until is a minute away): never more than the allowance.
 */
int	acct_warmup_take(struct queue *, const struct account *a,
	    long long now, struct warmup_verdict *v);

/*
 * Would acct_warmup_take() refuse now?  The same verdict, read-only (a
 * shared lock, nothing counted or written): for not opening a session
 * only to find the day used up.  Returns 1 when a message may go.
 */
int	acct_warmup_peek(struct queue *, const struct account *a,
	    long long now, struct warmup_verdict *v);

/*
 * Put message m (locked by the caller) off until v->until for the
 * warm-up, with v->reason as its last error.  Not an attempt: attempts
 * and the backoff stay as they were.  Errors: those of
 * queue_msg_save_state().
 */
int	acct_warmup_defer(struct queue *, struct qmsg *m,
	    const struct warmup_verdict *v, struct rq_err *);

/* Outcomes counted but not yet written (acct_count, acct_record). */
struct acct_counts {
	long long	sent, deferred, failed;
	long long	last_sent;	/* the latest delivery's time; 0: none */
};

/*
 * At most this many outcomes wait to be written.  A count, not a time:
 * what a flush writes must not depend on the clock, so that a run's
 * operations can be replayed (tests/t/48-flush-crashpoints.t).
 */
#define ACCT_BATCH	64

/*
 * Count the outcome of one attempt at a message of account a in c: OUT_OK
 * a delivery (and its time), OUT_TEMP a deferral, OUT_PERM a failure.
 * Returns 1 when c should be written now (ACCT_BATCH outcomes), else 0.
 */
int	acct_count(struct acct_counts *c, enum outcome out, long long now);

/*
 * Add c to account a's totals on disk (one read and write under the
 * lock, whatever c holds) and clear it; nothing when c is empty.
 * Failures to record are logged, not returned: the mail matters more.
 */
void	acct_record(struct queue *, const struct account *a,
	    struct acct_counts *c, long long now);

/*
 * Read the state of the account named name (for --report and --metrics;
 * a shared lock, nothing written).  No file: all zero, 0.  Errors:
 * EX_DATAERR when neither slot checks out, EX_IOERR when unreadable.
 */
int	acct_load(struct queue *, const char *name, struct acct_state *,
	    struct rq_err *);

/*
 * rate_limit as the flush sees it (the rate.NAME file, read-only): 1 when
 * the account's window is full now (*until: when a slot frees), else 0.
 */
int	acct_rate_full(struct queue *, const struct account *a,
	    long long now, long long *until);

/*
 * The account a message goes through: the one its envelope names (NULL
 * when that is no longer configured), else the one whose "from" matches
 * its sender, else the default.
 */
const struct account *acct_of_message(const struct conf *,
	    const struct envelope *);

#endif
