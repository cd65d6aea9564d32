/*
 * relayq -- relayq --metrics: Prometheus text exposition.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every family has its HELP and TYPE lines even when it has no sample, so
 * a scrape always names the same series.  No sample has a timestamp (the
 * textfile collector refuses them).  The per-account totals come from the
 * account state files and are true counters: they only reset when such a
 * file is removed.  Label values are escaped as the format says (\\, \"
 * and \n).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acctstate.h"
#include "metrics.h"
#include "qshape.h"

static void
family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
label(FILE *out, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(out, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

static void
sample(FILE *out, const char *name, const char *key, const char *val,
    long long n)
{
	fputs(name, out);
	if (key != NULL) {
		fprintf(out, "{%s=\"", key);
		label(out, val);
		fputs("\"}", out);
	}
	fprintf(out, " %lld\n", n);
}

static void
queue_metrics(FILE *out, const struct qshape *s)
{
	int i;

	family(out, "relayq_queue_messages", "gauge", "Messages in the queue "
	    "by state (failed: kept in failed/).");
	for (i = 0; i < QS_NSTATES; i++)
		sample(out, "relayq_queue_messages", "state",
		    qs_state_name(i), s->msgs[i]);
	family(out, "relayq_queue_bytes", "gauge", "Content octets of the "
	    "messages in the queue by state.");
	for (i = 0; i < QS_NSTATES; i++)
		sample(out, "relayq_queue_bytes", "state", qs_state_name(i),
		    s->bytes[i]);
	family(out, "relayq_queue_recipients_pending", "gauge", "Recipients "
	    "not yet sent or failed, of the messages not in failed/.");
	sample(out, "relayq_queue_recipients_pending", NULL, NULL, s->rcpts);
	family(out, "relayq_queue_unreadable_messages", "gauge", "Message "
	    "files that could not be read (relayq -bp lists them).");
	sample(out, "relayq_queue_unreadable_messages", NULL, NULL,
	    s->unreadable);
	family(out, "relayq_queue_oldest_message_age_seconds", "gauge",
	    "Age of the oldest message not in failed/ (0: none).");
	sample(out, "relayq_queue_oldest_message_age_seconds", NULL, NULL,
	    s->have_oldest && s->now > s->oldest_queued_at ?
	    s->now - s->oldest_queued_at : 0);
	family(out, "relayq_queue_waiting_messages", "gauge", "Messages not "
	    "in failed/ by why they wait.");
	for (i = 0; i < QS_NWAITS; i++)
		sample(out, "relayq_queue_waiting_messages", "reason",
		    qs_wait_name(i), s->waits[i]);
}

enum { F_SENT, F_DEFERRED, F_FAILED, F_LAST, F_DAY, F_ALLOW, F_TODAY,
    F_BROKEN, NF };

static const struct {
	const char	*name, *type, *help;
} fams[NF] = {
	[F_SENT] = { "relayq_account_messages_sent_total", "counter",
	    "Messages the account delivered to all their recipients." },
	[F_DEFERRED] = { "relayq_account_deferrals_total", "counter",
	    "Delivery attempts through the account that left a message "
	    "deferred." },
	[F_FAILED] = { "relayq_account_messages_failed_total", "counter",
	    "Messages of the account that failed for good." },
	[F_LAST] = { "relayq_account_last_success_timestamp_seconds", "gauge",
	    "When the account last delivered a message (no sample: never)." },
	[F_DAY] = { "relayq_account_warmup_day", "gauge",
	    "The warm-up day the account is on (no sample: no warm-up or "
	    "not started)." },
	[F_ALLOW] = { "relayq_account_warmup_allowance_messages", "gauge",
	    "Today's warm-up allowance (no sample: unlimited)." },
	[F_TODAY] = { "relayq_account_warmup_sent_today_messages", "gauge",
	    "Messages counted against today's warm-up allowance." },
	[F_BROKEN] = { "relayq_account_state_error", "gauge",
	    "1 when the account's state file cannot be read (damaged)." },
};

static void
account_metrics(FILE *out, struct queue *q, const struct conf *c,
    long long now)
{
	struct acct_state *st = xcalloc(c->naccounts + 1, sizeof(*st));
	int *bad = xcalloc(c->naccounts + 1, sizeof(*bad));
	struct rq_err err;
	size_t i;
	int f;

	for (i = 0; q != NULL && i < c->naccounts; i++)
		bad[i] = acct_load(q, c->accounts[i]->name, &st[i], &err) != 0;
	for (f = 0; f < NF; f++) {
		family(out, fams[f].name, fams[f].type, fams[f].help);
		for (i = 0; i < c->naccounts; i++) {
			const struct account *a = c->accounts[i];
			long long day, v;

			if (bad[i] != (f == F_BROKEN))
				continue;
			day = acct_warmup_day(st[i].warmup_start, now);
			if (day < st[i].warmup_day)
				day = st[i].warmup_day;
			switch (f) {
			case F_SENT:
				v = st[i].sent;
				break;
			case F_DEFERRED:
				v = st[i].deferred;
				break;
			case F_FAILED:
				v = st[i].failed;
				break;
			case F_LAST:
				if (st[i].last_sent == 0)
					continue;
				v = st[i].last_sent;
				break;
			case F_DAY:
				if (a->nwarmup == 0 || st[i].warmup_start == 0)
					continue;
				v = day;
				break;
			case F_ALLOW:
				if (st[i].warmup_start == 0 ||
				    (v = acct_warmup_allowance(a, day)) < 0)
					continue;
				break;
			case F_TODAY:
				if (a->nwarmup == 0 || st[i].warmup_start == 0)
					continue;
				v = st[i].warmup_day == day ?
				    st[i].warmup_count : 0;
				break;
			default:
				v = 1;
				break;
			}
			sample(out, fams[f].name, "account", a->name, v);
		}
	}
	free(st);
	free(bad);
}

int
metrics_write(struct queue *q, const struct conf *c, long long now,
    FILE *out, struct rq_err *err)
{
	struct qshape s;
	int ex = 0;

	memset(&s, 0, sizeof(s));
	s.now = now;
	if (q != NULL && (ex = qshape_scan(q, c, now, NULL, NULL, &s,
	    err)) != 0)
		return ex;
	queue_metrics(out, &s);
	account_metrics(out, q, c, now);
	qshape_free(&s);
	if (fflush(out) != 0 || ferror(out))
		return rq_errno(err, EX_IOERR, errno,
		    "cannot write the metrics");
	return 0;
}
