/*
 * relayq -- the queue's shape, and why each message waits.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Counts are of recipients still pending or deferred, as Postfix's qshape
 * counts recipients, by the age of their message (now - queued-at).  The
 * reason a message waits comes from its state and its account's files:
 * held; its account gone; a next attempt in the future (the warm-up's own
 * last error, or a last error that was no session at all: the smart host
 * is down, or else backoff); due now but the warm-up day or the
 * rate_limit window of its account is full; else simply due.  Account
 * files are read once per account and scan.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acctstate.h"
#include "cause.h"
#include "qshape.h"
#include "strmap.h"

static const long long edges[QS_NBUCKETS - 1] = {
	5 * 60, 10 * 60, 20 * 60, 40 * 60, 80 * 60, 160 * 60,
};

const char *
qs_bucket_name(int b)
{
	static const char *const names[QS_NBUCKETS] = {
		"0-5m", "5-10m", "10-20m", "20-40m", "40-80m", "80-160m",
		"older",
	};

	return b >= 0 && b < QS_NBUCKETS ? names[b] : "?";
}

const char *
qs_state_name(int s)
{
	static const char *const names[QS_NSTATES] = {
		"queued", "deferred", "held", "failed",
	};

	return s >= 0 && s < QS_NSTATES ? names[s] : "?";
}

const char *
qs_wait_name(int w)
{
	static const char *const names[QS_NWAITS] = {
		"due", "backoff", "host-down", "rate-limit", "warm-up", "held",
		"no-account",
	};

	return w >= 0 && w < QS_NWAITS ? names[w] : "?";
}

enum qs_state
qs_state_of(const struct qmsg *m)
{
	if (m->failed)
		return QS_FAILED;
	if (m->st.held)
		return QS_HELD;
	return m->st.attempts > 0 ? QS_DEFERRED : QS_QUEUED;
}

static int
bucket(long long age)
{
	int b;

	for (b = 0; b < QS_NBUCKETS - 1; b++)
		if (age < edges[b])
			break;
	return b;
}

/* An account's warm-up and rate_limit, looked at once per scan. */
struct acct_look {
	const struct account	*a;
	struct warmup_verdict	 wu;
	int			 warm_ok;
	int			 rate_full;
	long long		 rate_until;
};

struct scan {
	struct queue		*q;
	const struct conf	*c;
	struct qshape		*s;
	struct strmap		 dmap;
	struct acct_look	*looks;
	size_t			 nlooks;
};

static const struct acct_look *
look(struct scan *sc, const struct account *a)
{
	struct acct_look *l;

	for (size_t i = 0; i < sc->nlooks; i++)
		if (sc->looks[i].a == a)
			return &sc->looks[i];
	sc->looks = xreallocarray(sc->looks, sc->nlooks + 1,
	    sizeof(*sc->looks));
	l = &sc->looks[sc->nlooks++];
	memset(l, 0, sizeof(*l));
	l->a = a;
	l->warm_ok = acct_warmup_peek(sc->q, a, sc->s->now, &l->wu);
	l->rate_full = acct_rate_full(sc->q, a, sc->s->now, &l->rate_until);
	return l;
}

/* Why m waits: the kind, and one line (allocated) saying it. */
static enum qs_wait
why_waits(struct scan *sc, const struct qmsg *m, char **why)
{
	const struct account *a = acct_of_message(sc->c, &m->env);
	const struct acct_look *l;
	const char *last = m->st.last_error;
	char when[64];
	struct cause_match cm;

	rfc3339_date(when, sizeof(when), (time_t)m->st.next_attempt);
	if (m->st.held) {
		*why = xasprintf("held by an operator (relayq --release %s)",
		    m->env.id);
		return QW_HELD;
	}
	if (a == NULL) {
		*why = xasprintf("account %s is not in the configuration",
		    m->env.account != NULL ? m->env.account : "(default)");
		return QW_NOACCOUNT;
	}
	if (m->st.next_attempt > sc->s->now) {
		if (last != NULL && strncmp(last, "warm-up:", 8) == 0) {
			*why = xstrdup(last);
			return QW_WARMUP;
		}
		cause_classify(last, &cm);
		if (last != NULL && (strcmp(cm.cause->name, "host-down") == 0 ||
		    strcmp(cm.cause->name, "tls-failed") == 0)) {
			*why = xasprintf("smart host down: %s; next attempt at "
			    "%s", last, when);
			return QW_HOSTDOWN;
		}
		*why = xasprintf("backoff after %d attempt%s; next attempt at "
		    "%s; last error: %s", m->st.attempts,
		    m->st.attempts == 1 ? "" : "s", when,
		    last != NULL ? last : "none");
		return QW_BACKOFF;
	}
	l = look(sc, a);
	if (!l->warm_ok) {
		*why = xstrdup(l->wu.reason);
		return QW_WARMUP;
	}
	if (l->rate_full) {
		rfc3339_date(when, sizeof(when), (time_t)l->rate_until);
		*why = xasprintf("rate limit %d per %llds of account %s "
		    "reached; a slot frees at %s", a->rate_limit_count,
		    a->rate_limit_period, a->name, when);
		return QW_RATE;
	}
	*why = xstrdup("due now: waits for the next relayq-flush run");
	return QW_DUE;
}

static void
count_rcpts(struct scan *sc, const struct qmsg *m, int b)
{
	struct qshape *s = sc->s;
	char dom[256];
	size_t k;

	for (size_t i = 0; i < m->env.rcpts.n; i++) {
		const char *r = m->env.rcpts.v[i], *at = strrchr(r, '@');
		size_t j;

		if (m->st.rstatus[i] != RCPT_PENDING &&
		    m->st.rstatus[i] != RCPT_DEFERRED)
			continue;
		rq_strlcpy(dom, at != NULL ? at + 1 : "(none)", sizeof(dom));
		for (j = 0; dom[j] != '\0'; j++)
			dom[j] = (char)rq_tolower((unsigned char)dom[j]);
		if (!strmap_get(&sc->dmap, dom, &k)) {
			k = s->ndomains;
			s->domains = xreallocarray(s->domains, k + 1,
			    sizeof(*s->domains));
			memset(&s->domains[k], 0, sizeof(s->domains[k]));
			s->domains[k].name = xstrdup(dom);
			s->ndomains++;
			strmap_put(&sc->dmap, dom, k);
		}
		s->domains[k].total++;
		s->domains[k].n[b]++;
		s->total[b]++;
		s->rcpts++;
	}
}

static void
take(struct scan *sc, const struct qmsg *m)
{
	struct qshape *s = sc->s;
	long long age = s->now - m->env.queued_at;
	enum qs_wait w;
	char *why = NULL;

	count_rcpts(sc, m, bucket(age < 0 ? 0 : age));
	w = why_waits(sc, m, &why);
	s->waits[w]++;
	if (s->have_oldest && m->env.queued_at >= s->oldest_queued_at) {
		free(why);
		return;
	}
	free(s->oldest_account);
	free(s->oldest_rcpt);
	free(s->oldest_why);
	s->have_oldest = 1;
	rq_strlcpy(s->oldest_id, m->env.id, sizeof(s->oldest_id));
	s->oldest_queued_at = m->env.queued_at;
	s->oldest_account = NULL;
	{
		const struct account *a = acct_of_message(sc->c, &m->env);

		if (a != NULL)
			s->oldest_account = xstrdup(a->name);
	}
	s->oldest_rcpt = NULL;
	for (size_t i = 0; i < m->env.rcpts.n; i++)
		if (m->st.rstatus[i] == RCPT_PENDING ||
		    m->st.rstatus[i] == RCPT_DEFERRED) {
			s->oldest_rcpt = xstrdup(m->env.rcpts.v[i]);
			break;
		}
	s->oldest_wait = w;
	s->oldest_why = why;
	s->oldest_until = m->st.held ? 0 : m->st.next_attempt;
}

static int
cmp_domain(const void *x, const void *y)
{
	const struct qs_domain *a = x, *b = y;

	if (a->total != b->total)
		return a->total > b->total ? -1 : 1;
	return strcmp(a->name, b->name);
}

int
qshape_scan(struct queue *q, const struct conf *c, long long now,
    void (*each_failed)(void *, const struct qmsg *), void *arg,
    struct qshape *s, struct rq_err *err)
{
	struct scan sc;
	int ex = 0;

	memset(s, 0, sizeof(*s));
	s->now = now;
	memset(&sc, 0, sizeof(sc));
	sc.q = q;
	sc.c = c;
	sc.s = s;
	for (int failed = 0; failed <= 1 && ex == 0; failed++) {
		struct strlist ids = { 0 };

		ex = queue_list(q, failed, &ids, err);
		for (size_t i = 0; ex == 0 && i < ids.n; i++) {
			struct rq_err merr;
			struct qmsg *m;
			int r = queue_msg_open(q, ids.v[i],
			    failed ? QO_FAILED : 0, &m, &merr);

			if (r == EX_NOINPUT)
				continue;	/* delivered meanwhile */
			if (r != 0) {
				s->unreadable++;
				continue;
			}
			s->msgs[qs_state_of(m)]++;
			s->bytes[qs_state_of(m)] += m->env.size;
			if (!failed)
				take(&sc, m);
			else if (each_failed != NULL)
				each_failed(arg, m);
			queue_msg_close(m);
		}
		strlist_free(&ids);
	}
	strmap_free(&sc.dmap);
	free(sc.looks);
	if (s->ndomains > 1)
		qsort(s->domains, s->ndomains, sizeof(*s->domains),
		    cmp_domain);
	return ex;
}

void
qshape_free(struct qshape *s)
{
	for (size_t i = 0; i < s->ndomains; i++)
		free(s->domains[i].name);
	free(s->domains);
	free(s->oldest_account);
	free(s->oldest_rcpt);
	free(s->oldest_why);
	memset(s, 0, sizeof(*s));
}
