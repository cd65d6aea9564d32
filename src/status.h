/*
 * relayq -- errors and exit status: the one table.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every module reports failure through a struct rq_err: a sysexits(3) code
 * and a one-line message that says what is wrong, lowercase, problem first.
 * Modules never print or exit; the two main()s print err.msg and exit with
 * err.ex.  The mapping from causes (errno values, SMTP outcomes) to exit
 * codes lives in status.c and nowhere else.
 */
#ifndef RELAYQ_STATUS_H
#define RELAYQ_STATUS_H

#include <sysexits.h>

#define RQ_ERR_MSG 1024

struct rq_err {
	int	ex;			/* EX_OK when no error was recorded */
	char	msg[RQ_ERR_MSG];	/* one line, no trailing newline */
};

/* Record an error; returns ex so that "return rq_errf(err, ...)" reads well. */
int	 rq_errf(struct rq_err *, int ex, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Same, appending ": strerror(errnum)". */
int	 rq_errno(struct rq_err *, int ex, int errnum, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
/* Prefix an existing message with context: "CONTEXT: old message". */
void	 rq_errctx(struct rq_err *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 rq_errclear(struct rq_err *);

/*
 * errno -> exit status for a failure while writing the queue:
 * ENOSPC, EDQUOT, EAGAIN, EWOULDBLOCK, ENOMEM, EMFILE, ENFILE, EINTR -> 75;
 * EIO, EFBIG -> 74; EACCES, EPERM, EROFS, ENOENT, ENOTDIR, ELOOP, EEXIST -> 73;
 * anything else -> 74.
 */
int	 ex_from_errno(int errnum);

/* "EX_TEMPFAIL" etc., and a short meaning, for the tables in --help and docs. */
const char *ex_name(int ex);
const char *ex_meaning(int ex);

/*
 * Delivery outcomes: one vocabulary for the flush side.  The first digit of
 * a final SMTP reply decides (2 ok, 5 permanent, anything else temporary);
 * connection, TLS and timeout failures are temporary.
 */
enum outcome {
	OUT_OK = 0,
	OUT_TEMP,
	OUT_PERM,
};

enum outcome outcome_from_reply(int code);
const char  *outcome_name(enum outcome);

/*
 * Exit status of relayq-flush over the messages a run attempted:
 * 0 all delivered or nothing due; 75 at least one deferred; else 69 at
 * least one failed permanently.  (78 for configuration errors is decided
 * before any delivery.)
 */
int	 ex_for_flush(unsigned delivered, unsigned deferred, unsigned failed);

#endif
