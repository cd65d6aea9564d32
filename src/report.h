/*
 * relayq -- the operator's report (relayq --report): bounces and
 * deferrals from relayq-flush's log lines and the queue's failed area,
 * grouped by status, cause, reply code, enhanced status code, recipient
 * domain, smart host and account, with counts, first and last seen and an
 * example reply, each cause with one line of advice (cause.h); and the
 * queue's shape (qshape.h).  Human output fits 80 columns; --json is one
 * object whose shape doc/report.md documents.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Log formats read (each line on its own; anything else is skipped):
 *	2026-11-28T17:53:36Z relayq-flush[812]: id=...	 (logfile)
 *	2026-11-28T17:53:36+0000 host relayq-flush[812]: id=...
 *		(journalctl -t relayq-flush -o short-iso; also
 *		short-iso-precise, and rsyslog's RFC 3339 stamps)
 *	Nov 28 17:53:36 host relayq-flush[812]: id=...
 *		(/var/log/mail.log; journalctl -o short; local time, the
 *		year the latest that is not in the future)
 */
#ifndef RELAYQ_REPORT_H
#define RELAYQ_REPORT_H

#include <stdio.h>

#include "conf.h"
#include "queue.h"
#include "status.h"

struct report_opts {
	const struct conf	*conf;
	struct queue		*q;		/* NULL: no queue yet */
	const struct strlist	*logs;		/* files; "-" is stdin */
	int			 logs_optional;	/* a missing file is empty
						   (the configured logfiles) */
	long long		 since;		/* older events left out; 0
						   keeps all */
	long long		 now;
	int			 json;
};

/*
 * Write the report to out.  Errors: EX_NOINPUT for a log that cannot be
 * opened (unless logs_optional and it does not exist), EX_IOERR for a
 * read or write error, queue errors from qshape_scan().
 */
int	report_run(const struct report_opts *, FILE *out, struct rq_err *);

/* One attempt line of relayq-flush's log, as report_parse_line() finds. */
enum { REV_SENT, REV_DEFERRED, REV_FAILED, REV_EXPIRED };

struct report_event {
	long long	 time;		/* seconds since the epoch */
	int		 status;	/* REV_* */
	const char	*id;		/* these point into the line */
	const char	*account;	/* NULL: the line names none */
	const char	*rcpt;		/* NULL: none */
	const char	*relay;		/* NULL: none ("relay=none") */
	const char	*reply;		/* "" when empty */
};

/*
 * Parse one line (NUL-terminated, no newline; modified in place).  now
 * decides the year of a syslog stamp without one.  Returns 1 and fills ev
 * for an attempt line (or an expiry line), 0 for any other line.
 */
int	report_parse_line(char *line, long long now, struct report_event *ev);

#endif
