/*
 * relayq -- errors and exit status: the one table.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "status.h"
#include "util.h"

static const struct {
	int		 ex;
	const char	*name;
	const char	*meaning;
} ex_table[] = {
	{ EX_OK,	  "EX_OK",	    "queued (or delivered)" },
	{ EX_USAGE,	  "EX_USAGE",	    "bad command line" },
	{ EX_DATAERR,	  "EX_DATAERR",	    "bad message or address" },
	{ EX_NOINPUT,	  "EX_NOINPUT",	    "input file unreadable" },
	{ EX_NOUSER,	  "EX_NOUSER",	    "unknown local recipient" },
	{ EX_UNAVAILABLE, "EX_UNAVAILABLE", "a message failed permanently, or a service is missing" },
	{ EX_SOFTWARE,	  "EX_SOFTWARE",    "internal error" },
	{ EX_OSERR,	  "EX_OSERR",	    "system error (out of memory, fork)" },
	{ EX_CANTCREAT,	  "EX_CANTCREAT",   "cannot create in the queue" },
	{ EX_IOERR,	  "EX_IOERR",	    "input/output error" },
	{ EX_TEMPFAIL,	  "EX_TEMPFAIL",    "temporary failure (disk full, lock busy, deferred)" },
	{ EX_PROTOCOL,	  "EX_PROTOCOL",    "remote protocol error" },
	{ EX_NOPERM,	  "EX_NOPERM",	    "permission denied" },
	{ EX_CONFIG,	  "EX_CONFIG",	    "configuration error" },
};

static void
vset(struct rq_err *err, int ex, int errnum, const char *fmt, va_list ap)
{
	int n;

	if (err == NULL)
		return;
	err->ex = ex;
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (n < 0)
		err->msg[0] = '\0';
	if (errnum != 0) {
		size_t len = strlen(err->msg);
		snprintf(err->msg + len, sizeof(err->msg) - len, ": %s",
		    strerror(errnum));
	}
	/* One line, whatever the inputs held. */
	for (char *p = err->msg; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

int
rq_errf(struct rq_err *err, int ex, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(err, ex, 0, fmt, ap);
	va_end(ap);
	return ex;
}

int
rq_errno(struct rq_err *err, int ex, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(err, ex, errnum, fmt, ap);
	va_end(ap);
	return ex;
}

void
rq_errctx(struct rq_err *err, const char *fmt, ...)
{
	char ctx[RQ_ERR_MSG], old[RQ_ERR_MSG];
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	rq_strlcpy(old, err->msg, sizeof(old));
	/* Truncation is fine: the message stays one bounded line. */
	if (snprintf(err->msg, sizeof(err->msg), "%.400s: %.600s", ctx,
	    old) < 0)
		err->msg[0] = '\0';
}

void
rq_errclear(struct rq_err *err)
{
	err->ex = EX_OK;
	err->msg[0] = '\0';
}

int
ex_from_errno(int errnum)
{
	switch (errnum) {
	case ENOSPC:
	case EDQUOT:
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
	case ENOMEM:
	case EMFILE:
	case ENFILE:
	case EINTR:
		return EX_TEMPFAIL;
	case EIO:
	case EFBIG:
		return EX_IOERR;
	case EACCES:
	case EPERM:
	case EROFS:
	case ENOENT:
	case ENOTDIR:
	case ELOOP:
	case EEXIST:
		return EX_CANTCREAT;
	default:
		return EX_IOERR;
	}
}

const char *
ex_name(int ex)
{
	for (size_t i = 0; i < RQ_ARRAY_LEN(ex_table); i++)
		if (ex_table[i].ex == ex)
			return ex_table[i].name;
	return "EX_UNKNOWN";
}

const char *
ex_meaning(int ex)
{
	for (size_t i = 0; i < RQ_ARRAY_LEN(ex_table); i++)
		if (ex_table[i].ex == ex)
			return ex_table[i].meaning;
	return "unknown";
}

enum outcome
outcome_from_reply(int code)
{
	switch (code / 100) {
	case 2:
		return OUT_OK;
	case 5:
		return OUT_PERM;
	default:
		/*
		 * 4yz, a 3yz where a final answer was due, and anything
		 * malformed leave the message with us.
		 */
		return OUT_TEMP;
	}
}

const char *
outcome_name(enum outcome o)
{
	switch (o) {
	case OUT_OK:
		return "sent";
	case OUT_TEMP:
		return "deferred";
	case OUT_PERM:
		return "failed";
	}
	return "unknown";
}

int
ex_for_flush(unsigned delivered, unsigned deferred, unsigned failed)
{
	(void)delivered;
	if (deferred > 0)
		return EX_TEMPFAIL;
	if (failed > 0)
		return EX_UNAVAILABLE;
	return EX_OK;
}
