/*
 * relayq -- delivery: which messages go over which connection, and what
 * an outcome means for the queue.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One run takes the due messages of the queue, groups them per account,
 * and hands each group to up to `connections` worker processes (fork),
 * each with its own SMTP session carrying many messages.  Workers claim
 * messages from a shared counter and lock each one (flock, non-blocking)
 * before sending, so neither two workers nor two concurrent flushes ever
 * send the same message.  After every transaction the message's
 * per-recipient state is written durably (or the message removed, or
 * failed and bounced) before the next one starts.
 *
 * This module neither prints nor exits; it logs (log.h) and reports
 * notable events through the notice callback.
 */
#ifndef RELAYQ_DELIVER_H
#define RELAYQ_DELIVER_H

#include <signal.h>

#include "conf.h"
#include "queue.h"
#include "smtp.h"
#include "status.h"

struct deliver_opts {
	const struct conf	*conf;
	const char		*account;	/* -a: only this account */
	const char		*only_id;	/* --id: only this message
						   (backoff ignored) */
	int			 all;		/* --all/-q: ignore backoff */
	smtp_trace_fn		 trace;		/* -v: the dialogue, or NULL */
	void			*trace_arg;
	/* Lines for the operator's terminal: authentication failures,
	   and with --id or -v each message's outcome.  May be NULL. */
	void			(*notice)(void *arg, const char *line);
	void			*notice_arg;
	int			 verbose;	/* every outcome to notice */
	/* Set asynchronously (SIGTERM): finish the current transaction,
	   then stop. */
	volatile sig_atomic_t	*stop;
};

struct deliver_stats {
	unsigned	sent;		/* messages now fully delivered */
	unsigned	deferred;	/* attempted and left for later, or left
					   due because of a rate limit */
	unsigned	failed;		/* failed for good (bounced/failed/) */
	unsigned	queued;		/* bounces and relayed notices the run
					   queued (left for the next run) */
	int		config_error;	/* an account could not be used */
	long long	next_due;	/* earliest time something in the
					   queue is due again; 0: nothing */
};

/*
 * One flush run over q.  Returns 0 (the outcomes are in *stats), or an
 * EX_ code with err set when the run could not start (EX_CONFIG for an
 * unknown -a account or no account at all; queue errors).  Problems of
 * one account (unreadable TLS files, a failing passwordeval) are logged,
 * set stats->config_error, and the other accounts still run.
 */
int	deliver_run(struct queue *q, const struct deliver_opts *,
	    struct deliver_stats *stats, struct rq_err *);

/*
 * Forward sig to the worker processes of the running account (for the
 * caller's SIGTERM handler: async-signal-safe).
 */
void	deliver_signal_workers(int sig);

/*
 * The retry delay after the n-th failed attempt (n >= 1): retry_min
 * doubled n-1 times, at most retry_max.
 */
long long deliver_backoff(const struct account *, int attempts);

/*
 * The account's DKIM signer (dkim_signer_new with its dkim_* keys), for
 * a run and for --check.  Errors: EX_CONFIG.
 */
int	deliver_dkim_signer(const struct account *, struct dkim_signer **,
	    struct rq_err *);

/* Our name for EHLO and Reporting-MTA: the account's domain (by default
 * the host name), its canonical name when that is bare and the resolver
 * knows a fully qualified one, as an A-label; allocated. */
char	*deliver_our_name(const struct account *);

#endif
