/*
 * relayq -- unit tests for the report's log parser: the logfile, journal
 * and syslog stamps, the attempt line's fields (with and without
 * account=, quotes inside the reply, the orphan and expiry lines), and
 * lines that are not relayq's or are broken.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "tap.h"
#include "util.h"

#define NOW	1795888800LL	/* 2026-11-28T18:00:00Z */

#define BODY "id=6B0B180C45A4BF5DE93A account=work from=<a@example.org> " \
	"to=<b@example.net> relay=mx.example.net[192.0.2.1]:25 tls=TLS1.3 " \
	"status=failed reply=\"550 5.1.1 \"b\" size=2 unknown\" size=120 " \
	"delay=3s attempts=1"

static const struct {
	const char	*line;
	long long	 time;
	int		 status;
	const char	*account, *rcpt, *relay, *reply;
} cases[] = {
	{ "2026-11-28T17:53:36Z relayq-flush[812]: " BODY,
	    NOW - 384, REV_FAILED, "work", "b@example.net",
	    "mx.example.net[192.0.2.1]:25", "550 5.1.1 \"b\" size=2 unknown" },
	{ "2026-11-28T17:53:36+0000 host relayq-flush[812]: " BODY,
	    NOW - 384, REV_FAILED, "work", NULL, NULL, NULL },
	{ "2026-11-28T18:53:36.123456+01:00 host relayq-flush[812]: " BODY,
	    NOW - 384, REV_FAILED, "work", NULL, NULL, NULL },
	{ "Nov 28 17:53:36 host relayq-flush[812]: " BODY, NOW - 384,
	    REV_FAILED, "work", NULL, NULL, NULL },
	{ "Nov  2 09:00:00 host relayq-flush: " BODY, 1793610000,
	    REV_FAILED, "work", NULL, NULL, NULL },
	/* A stamp a month ahead is last year's. */
	{ "Dec 28 18:00:00 host relayq-flush[1]: " BODY, 1766944800,
	    REV_FAILED, NULL, NULL, NULL, NULL },
	/* Before account= existed. */
	{ "2026-11-28T17:53:36Z relayq-flush[812]: id=6B0B180C45A4BF5DE93A "
	    "from=<a@example.org> to=<b@example.net> relay=none tls=none "
	    "status=deferred reply=\"cannot connect to mx: Connection "
	    "refused\" size=1 delay=0s attempts=2", NOW - 384,
	    REV_DEFERRED, "-", "b@example.net", "-",
	    "cannot connect to mx: Connection refused" },
	{ "2026-11-28T17:53:36Z relayq-flush[812]: id=6B0B180C45A4BF5DE93A "
	    "account=t from=<> to=<c@example.net> relay=mx tls=none "
	    "status=sent reply=\"250 ok\" size=1 delay=0s attempts=1",
	    NOW - 384, REV_SENT, "t", "c@example.net", "mx", "250 ok" },
	/* The orphan line: no recipient, the reply last. */
	{ "2026-11-28T17:53:36Z relayq-flush[812]: id=6B0B180C45A4BF5DE93A "
	    "from=<a@example.org> status=deferred reply=\"account x is not "
	    "in the configuration\"", NOW - 384, REV_DEFERRED, "-", "-",
	    "-", "account x is not in the configuration" },
	{ "2026-11-28T17:53:36Z relayq-flush[812]: id=6B0B180C45A4BF5DE93A: "
	    "expired after 432001 seconds in the queue", NOW - 384,
	    REV_EXPIRED, NULL, NULL, NULL, "" },
};

/* Lines that are no attempt line (or broken ones). */
static const char *const others[] = {
	"2026-11-28T17:53:36Z relayq-flush[812]: account t: rate limit 3 "
	    "per 3600s reached; 2 message(s) left for later",
	"Nov 28 17:53:36 host postfix/smtp[9]: 4F: to=<x@y>, status=sent",
	"Nov 28 17:53:36 host relayq[9]: " BODY,
	"2026-11-28T17:53:36 relayq-flush[812]: " BODY,	/* no zone */
	"2026-13-28T17:53:36Z relayq-flush[812]: " BODY,
	"Foo 28 17:53:36 host relayq-flush[812]: " BODY,
	"2026-11-28T17:53:36Z relayq-flush[812]: id=X from=<a> to=<b",
	"2026-11-28T17:53:36Z relayq-flush[812]: id=X from=<a> to=<b> "
	    "relay=r tls=none status=bounced reply=\"x\"",
	"2026-11-28T17:53:36Z relayq-flush[812]: id=X from=<a> to=<b> "
	    "relay=r",
	"",
	"2026",
	"Nov 28",
};

int
main(void)
{
	struct report_event ev;
	char *line;

	setenv("TZ", "UTC", 1);
	for (size_t i = 0; i < RQ_ARRAY_LEN(cases); i++) {
		line = xstrdup(cases[i].line);
		if (!is_int(report_parse_line(line, NOW, &ev), 1,
		    "line %zu: an event", i)) {
			free(line);
			continue;
		}
		is_int(ev.time, cases[i].time, "line %zu: time", i);
		is_int(ev.status, cases[i].status, "line %zu: status", i);
		/* NULL: not checked; "-": must be absent. */
		if (cases[i].account != NULL)
			is_str(ev.account != NULL ? ev.account : "-",
			    cases[i].account, "line %zu: account", i);
		if (cases[i].rcpt != NULL)
			is_str(ev.rcpt != NULL ? ev.rcpt : "-", cases[i].rcpt,
			    "line %zu: rcpt", i);
		if (cases[i].relay != NULL)
			is_str(ev.relay != NULL ? ev.relay : "-",
			    cases[i].relay, "line %zu: relay", i);
		if (cases[i].reply != NULL)
			is_str(ev.reply, cases[i].reply, "line %zu: reply", i);
		free(line);
	}
	for (size_t i = 0; i < RQ_ARRAY_LEN(others); i++) {
		line = xstrdup(others[i]);
		is_int(report_parse_line(line, NOW, &ev), 0, "not an event: "
		    "\"%.50s\"", others[i]);
		free(line);
	}
	return done_testing();
}
