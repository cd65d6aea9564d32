/*
 * relayq -- the operator's report: what went wrong, grouped and explained,
 * and how the queue looks.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A run reads the log lines (report.h names the formats), keeps the
 * attempt lines since --since, and folds each deferral and failure into a
 * group keyed by status, cause, detail, code, enhanced code, recipient
 * domain, smart host and account.  An expiry line turns the deferrals of
 * that attempt just before it into failures ("expired", with the cause of
 * the last reply as detail).  Recipients in the failed area whose failure
 * the log does not show (a rotated or lost log) are added from their
 * state.  Then the queue is scanned (qshape.h) and everything is printed.
 *
 * Log files are input: lines are bounded (longer ones are skipped), every
 * field is found by its key, and nothing from a line reaches the terminal
 * with its control characters.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acctstate.h"
#include "cause.h"
#include "json.h"
#include "qshape.h"
#include "report.h"
#include "strmap.h"

#define LOG_LINE_MAX	16384	/* longer lines are not relayq's */
#define RING		256	/* recent deferrals, for expiry lines */
#define HUMAN_GROUPS	30	/* --json lists every group */
#define HUMAN_DOMAINS	15
#define WIDTH		80

/* ---- parsing a line -------------------------------------------------------- */

static int
isdig(char c)
{
	return c >= '0' && c <= '9';
}

/* Exactly n digits at p. */
static int
digits(const char *p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdig(p[i]))
			return 0;
		*v = *v * 10 + (p[i] - '0');
	}
	return 1;
}

static int
valid_tm(int mo, int d, int h, int mi, int s)
{
	return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 &&
	    mi < 60 && s <= 60;
}

/* "2026-11-28T17:53:36[.frac](Z|+hh:mm|+hhmm) ": the time, or -1. */
static long long
parse_iso(const char *p, const char **rest)
{
	int y, mo, d, h, mi, s, oh, om, sign;
	long long off = 0;
	struct tm tm;

	if (!digits(p, 4, &y) || p[4] != '-' || !digits(p + 5, 2, &mo) ||
	    p[7] != '-' || !digits(p + 8, 2, &d) || p[10] != 'T' ||
	    !digits(p + 11, 2, &h) || p[13] != ':' || !digits(p + 14, 2, &mi) ||
	    p[16] != ':' || !digits(p + 17, 2, &s) || !valid_tm(mo, d, h, mi, s))
		return -1;
	p += 19;
	if (*p == '.' || *p == ',')
		for (p++; isdig(*p); p++)
			;
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (!digits(p + 1, 2, &oh))
			return -1;
		p += 3;
		if (*p == ':')
			p++;
		if (!digits(p, 2, &om))
			return -1;
		p += 2;
		off = sign * (oh * 3600LL + om * 60LL);
	} else {
		return -1;
	}
	if (*p != ' ')
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	*rest = p + 1;
	return (long long)timegm(&tm) - off;
}

/*
 * "Nov 28 17:53:36 ": local time of a year the stamp does not give (the
 * latest that does not put it more than a day into the future).  mktime()
 * is asked once per hour of the log: daylight saving changes on the hour.
 */
static long long
parse_syslog(const char *p, long long now, const char **rest)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	static int c_year = -1, c_mon, c_day, c_hour;
	static long long c_base;
	const char *m;
	int mo, d, h, mi, s, year;
	struct tm tm;
	time_t tn = (time_t)now;
	long long t;

	if (strnlen(p, 16) < 16 || p[3] != ' ' || p[6] != ' ' ||
	    p[9] != ':' || p[12] != ':' ||
	    p[15] != ' ')
		return -1;
	for (m = months; *m != '\0'; m += 3)
		if (strncmp(m, p, 3) == 0)
			break;
	if (*m == '\0')
		return -1;
	mo = (int)((m - months) / 3) + 1;
	if (!(p[4] == ' ' ? digits(p + 5, 1, &d) : digits(p + 4, 2, &d)) ||
	    !digits(p + 7, 2, &h) || !digits(p + 10, 2, &mi) ||
	    !digits(p + 13, 2, &s) || !valid_tm(mo, d, h, mi, s))
		return -1;
	localtime_r(&tn, &tm);
	year = tm.tm_year + 1900;
	for (int tries = 0; tries < 2; tries++, year--) {
		if (c_year != year || c_mon != mo || c_day != d ||
		    c_hour != h) {
			memset(&tm, 0, sizeof(tm));
			tm.tm_year = year - 1900;
			tm.tm_mon = mo - 1;
			tm.tm_mday = d;
			tm.tm_hour = h;
			tm.tm_isdst = -1;
			c_base = (long long)mktime(&tm);
			c_year = year;
			c_mon = mo;
			c_day = d;
			c_hour = h;
		}
		t = c_base + mi * 60 + s;
		if (t <= now + 86400)
			break;
	}
	*rest = p + 16;
	return t;
}

/* The message after "relayq-flush[PID]: ", here or after a host name. */
static char *
message_of(char *p)
{
	for (int word = 0; word < 2 && p != NULL; word++) {
		if (strncmp(p, "relayq-flush", 12) == 0) {
			char *q = p + 12;

			if (*q == '[') {
				for (q++; isdig(*q); q++)
					;
				if (*q != ']')
					return NULL;
				q++;
			}
			return q[0] == ':' && q[1] == ' ' ? q + 2 : NULL;
		}
		p = strchr(p, ' ');
		if (p != NULL)
			p++;
	}
	return NULL;
}

/* The last occurrence of needle in s, or NULL. */
static char *
last_of(char *s, const char *needle)
{
	char *found = NULL, *p;

	for (p = strstr(s, needle); p != NULL; p = strstr(p + 1, needle))
		found = p;
	return found;
}

int
report_parse_line(char *line, long long now, struct report_event *ev)
{
	const char *rest;
	char *p, *e, *q, *s, *r;

	memset(ev, 0, sizeof(*ev));
	ev->time = parse_iso(line, &rest);
	if (ev->time < 0)
		ev->time = parse_syslog(line, now, &rest);
	if (ev->time < 0)
		return 0;
	p = message_of(line + (rest - line));
	if (p == NULL || strncmp(p, "id=", 3) != 0)
		return 0;
	ev->id = p + 3;
	e = p + 3 + strcspn(p + 3, " :");
	if (strncmp(e, ": expired after ", 16) == 0) {
		*e = '\0';
		ev->status = REV_EXPIRED;
		ev->reply = "";
		return 1;
	}
	if (*e != ' ')
		return 0;
	*e = '\0';
	p = e + 1;
	if (strncmp(p, "account=", 8) == 0) {
		ev->account = p + 8;
		if ((e = strchr(p, ' ')) == NULL)
			return 0;
		*e = '\0';
		p = e + 1;
	}
	if (strncmp(p, "from=<", 6) != 0)
		return 0;
	q = strstr(p, "> to=<");
	s = strstr(p, "> status=");
	if (q != NULL && (s == NULL || q < s)) {
		ev->rcpt = q + 6;
		if ((r = strstr(q + 6, "> relay=")) == NULL)
			return 0;
		*r = '\0';
		ev->relay = r + 8;
		if ((e = strchr(r + 8, ' ')) == NULL)
			return 0;
		*e = '\0';
		if (strcmp(ev->relay, "none") == 0)
			ev->relay = NULL;
		if ((s = strstr(e + 1, " status=")) == NULL)
			return 0;
		s += 8;
	} else if (s != NULL) {
		s += 9;		/* the orphan line: no recipient, no relay */
	} else {
		return 0;
	}
	if (strncmp(s, "sent ", 5) == 0)
		ev->status = REV_SENT;
	else if (strncmp(s, "deferred ", 9) == 0)
		ev->status = REV_DEFERRED;
	else if (strncmp(s, "failed ", 7) == 0)
		ev->status = REV_FAILED;
	else
		return 0;
	e = strchr(s, ' ');
	ev->reply = "";
	if (strncmp(e, " reply=\"", 8) == 0) {
		r = e + 8;
		if ((q = last_of(r, "\" size=")) == NULL)
			q = strrchr(r, '"');
		if (q != NULL) {
			*q = '\0';
			ev->reply = r;
		}
	}
	return 1;
}

/* ---- folding events into groups ------------------------------------------------ */

struct group {
	int			 status;	/* REV_DEFERRED, REV_FAILED */
	struct cause_match	 cm;
	char			*domain;	/* NULL: none */
	char			*relay;
	char			*account;
	unsigned long		 count;
	long long		 first, last;
	char			*example;	/* the latest reply */
};

struct recent {
	char		*id;		/* NULL: free */
	char		*account, *rcpt, *relay, *reply;
	long long	 time;
};

struct logsrc {
	char		*path;
	unsigned long	 lines, events;
};

struct rep {
	const struct report_opts *o;
	struct group	*groups;
	size_t		 ngroups;
	struct strmap	 gmap;
	struct strmap	 failed_seen;	/* "ID RCPT" failed in the log */
	struct recent	 ring[RING];
	size_t		 ring_next;
	unsigned long	 totals[3];	/* sent, deferred, failed */
	struct logsrc	*logs;
	size_t		 nlogs;
	unsigned	 fa_msgs, fa_rcpts, fa_added;
	int		 ex;
	struct rq_err	*err;
};

static char *
domain_of(const char *rcpt)
{
	const char *at;
	char *d;

	if (rcpt == NULL || (at = strrchr(rcpt, '@')) == NULL || at[1] == '\0')
		return NULL;
	d = xstrdup(at + 1);
	for (char *p = d; *p != '\0'; p++)
		*p = (char)rq_tolower((unsigned char)*p);
	return d;
}

static void
key_add(struct buf *b, const char *s)
{
	buf_addstr(b, s != NULL ? s : "\x02");
	buf_addch(b, '\x1f');
}

/* One deferral or failure. */
static void
fold(struct rep *r, int status, long long t, const char *account,
    const char *rcpt, const char *relay, const char *reply)
{
	struct cause_match cm;
	struct group *g;
	struct buf key;
	char *domain = domain_of(rcpt);
	size_t k;

	cause_classify(reply, &cm);
	buf_init(&key);
	buf_addf(&key, "%d\x1f%s\x1f%s\x1f%d\x1f%s\x1f", status,
	    cm.cause->name, cm.detail, cm.code, cm.enhanced);
	key_add(&key, domain);
	key_add(&key, relay);
	key_add(&key, account);
	if (!strmap_get(&r->gmap, key.data, &k)) {
		k = r->ngroups++;
		r->groups = xreallocarray(r->groups, r->ngroups,
		    sizeof(*r->groups));
		g = &r->groups[k];
		memset(g, 0, sizeof(*g));
		g->status = status;
		g->cm = cm;
		g->domain = domain;
		domain = NULL;
		g->relay = relay != NULL ? xstrdup(relay) : NULL;
		g->account = account != NULL ? xstrdup(account) : NULL;
		g->first = g->last = t;
		strmap_put(&r->gmap, key.data, k);
	}
	g = &r->groups[k];
	g->count++;
	if (t < g->first)
		g->first = t;
	if (t >= g->last || g->example == NULL) {
		g->last = t > g->last ? t : g->last;
		free(g->example);
		g->example = xstrdup(reply);
	}
	free(domain);
	buf_free(&key);
}

static void
seen_failed(struct rep *r, const char *id, const char *rcpt)
{
	char *k = xasprintf("%s %s", id, rcpt != NULL ? rcpt : "");

	strmap_put(&r->failed_seen, k, 0);
	free(k);
}

static void
recent_free(struct recent *e)
{
	free(e->id);
	free(e->account);
	free(e->rcpt);
	free(e->relay);
	free(e->reply);
	memset(e, 0, sizeof(*e));
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void
event(struct rep *r, const struct report_event *ev)
{
	struct recent *e;
	char *reply;

	if (ev->status == REV_EXPIRED) {
		/* The deferrals just logged for this id failed after all. */
		for (size_t i = 0; i < RING; i++) {
			e = &r->ring[i];
			if (e->id == NULL || strcmp(e->id, ev->id) != 0 ||
			    ev->time - e->time > 60 || ev->time < e->time)
				continue;
			if (ev->time >= r->o->since) {
				reply = xasprintf("4.4.7 delivery time "
				    "expired; last reply: %s", e->reply);
				fold(r, REV_FAILED, ev->time, e->account,
				    e->rcpt, e->relay, reply);
				free(reply);
				r->totals[REV_FAILED]++;
			}
			seen_failed(r, ev->id, e->rcpt);
			recent_free(e);
		}
		return;
	}
	if (ev->status == REV_DEFERRED) {
		e = &r->ring[r->ring_next];
		r->ring_next = (r->ring_next + 1) % RING;
		recent_free(e);
		e->id = xstrdup(ev->id);
		e->account = dup_or_null(ev->account);
		e->rcpt = dup_or_null(ev->rcpt);
		e->relay = dup_or_null(ev->relay);
		e->reply = xstrdup(ev->reply);
		e->time = ev->time;
	}
	if (ev->status == REV_FAILED)
		seen_failed(r, ev->id, ev->rcpt);
	if (ev->time < r->o->since)
		return;
	r->totals[ev->status]++;
	if (ev->status != REV_SENT)
		fold(r, ev->status, ev->time, ev->account, ev->rcpt, ev->relay,
		    ev->reply);
}

static int
read_log(struct rep *r, const char *path)
{
	struct report_event ev;
	struct logsrc *src;
	char *line = xmalloc(LOG_LINE_MAX);
	FILE *f;
	size_t len;
	int skipping = 0, ex = 0;

	if (strcmp(path, "-") == 0) {
		f = stdin;
	} else if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT && r->o->logs_optional) {
			free(line);
			return 0;
		}
		ex = rq_errno(r->err, EX_NOINPUT, errno, "cannot open %s",
		    path);
		free(line);
		return ex;
	}
	r->logs = xreallocarray(r->logs, r->nlogs + 1, sizeof(*r->logs));
	src = &r->logs[r->nlogs++];
	src->path = xstrdup(strcmp(path, "-") == 0 ? "(standard input)" :
	    path);
	src->lines = src->events = 0;
	while (fgets(line, LOG_LINE_MAX, f) != NULL) {
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n') {
			line[--len] = '\0';
			if (skipping) {
				skipping = 0;
				continue;
			}
		} else if (!feof(f)) {
			skipping = 1;	/* over-long: the rest goes too */
			continue;
		}
		src->lines++;
		if (report_parse_line(line, r->o->now, &ev)) {
			src->events++;
			event(r, &ev);
		}
	}
	if (ferror(f))
		ex = rq_errno(r->err, EX_IOERR, errno, "cannot read %s", path);
	if (f != stdin)
		fclose(f);
	free(line);
	return ex;
}

/* Failed-area recipients the log did not show failing. */
static void
failed_msg(void *arg, const struct qmsg *m)
{
	struct rep *r = arg;
	const struct account *a = acct_of_message(r->o->conf, &m->env);
	long long t = m->st.last_attempt > 0 ? m->st.last_attempt :
	    m->env.queued_at;
	size_t k;

	r->fa_msgs++;
	for (size_t i = 0; i < m->env.rcpts.n; i++) {
		char *key;
		int seen;

		if (m->st.rstatus[i] != RCPT_FAILED)
			continue;
		r->fa_rcpts++;
		key = xasprintf("%s %s", m->env.id, m->env.rcpts.v[i]);
		seen = strmap_get(&r->failed_seen, key, &k);
		free(key);
		if (seen || t < r->o->since)
			continue;
		r->fa_added++;
		r->totals[REV_FAILED]++;
		fold(r, REV_FAILED, t, a != NULL ? a->name : m->env.account,
		    m->env.rcpts.v[i], NULL, m->st.rreply[i] != NULL ?
		    m->st.rreply[i] : "");
	}
}

/* ---- ordering ---------------------------------------------------------------------- */

static int
cmp_group(const void *x, const void *y)
{
	const struct group *a = x, *b = y;
	int c;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if (a->last != b->last)
		return a->last > b->last ? -1 : 1;
	if ((c = strcmp(a->cm.cause->name, b->cm.cause->name)) != 0)
		return c;
	if (a->status != b->status)
		return a->status < b->status ? -1 : 1;
	if ((c = strcmp(a->domain != NULL ? a->domain : "",
	    b->domain != NULL ? b->domain : "")) != 0)
		return c;
	return strcmp(a->example, b->example);
}

struct causesum {
	const struct group	*g;	/* the first group of this cause */
	unsigned long		 n[3];	/* by status */
};

/* Causes by (name, detail), most events first. */
static struct causesum *
causes_of(const struct rep *r, size_t *n)
{
	struct causesum *c = NULL, t;
	size_t nc = 0, i, k;

	for (i = 0; i < r->ngroups; i++) {
		const struct group *g = &r->groups[i];

		for (k = 0; k < nc; k++)
			if (c[k].g->cm.cause == g->cm.cause &&
			    strcmp(c[k].g->cm.detail, g->cm.detail) == 0)
				break;
		if (k == nc) {
			c = xreallocarray(c, nc + 1, sizeof(*c));
			memset(&c[nc], 0, sizeof(*c));
			c[nc++].g = g;
		}
		c[k].n[g->status] += g->count;
	}
	/* Few causes: insertion sort, stable on the groups' order. */
	for (i = 1; i < nc; i++)
		for (k = i; k > 0 && c[k].n[1] + c[k].n[2] >
		    c[k - 1].n[1] + c[k - 1].n[2]; k--) {
			t = c[k];
			c[k] = c[k - 1];
			c[k - 1] = t;
		}
	*n = nc;
	return c;
}

static const char *
status_name(int s)
{
	return s == REV_SENT ? "sent" : s == REV_DEFERRED ? "deferred" :
	    "failed";
}

/* ---- JSON ------------------------------------------------------------------------------ */

static void
json_group(FILE *out, const struct group *g)
{
	fprintf(out, "{\"status\":\"%s\",\"cause\":", status_name(g->status));
	json_str(out, g->cm.cause->name);
	fputs(",\"detail\":", out);
	json_str(out, g->cm.detail[0] != '\0' ? g->cm.detail : NULL);
	if (g->cm.code != 0)
		fprintf(out, ",\"code\":%d", g->cm.code);
	else
		fputs(",\"code\":null", out);
	fputs(",\"enhanced\":", out);
	json_str(out, g->cm.enhanced[0] != '\0' ? g->cm.enhanced : NULL);
	fputs(",\"domain\":", out);
	json_str(out, g->domain);
	fputs(",\"relay\":", out);
	json_str(out, g->relay);
	fputs(",\"account\":", out);
	json_str(out, g->account);
	fprintf(out, ",\"count\":%lu,\"first_seen\":", g->count);
	json_time(out, g->first);
	fputs(",\"last_seen\":", out);
	json_time(out, g->last);
	fputs(",\"example\":", out);
	json_str(out, g->example);
	fputc('}', out);
}

static void
json_counts(FILE *out, const unsigned *n, int len)
{
	fputc('[', out);
	for (int i = 0; i < len; i++)
		fprintf(out, "%s%u", i > 0 ? "," : "", n[i]);
	fputc(']', out);
}

static void
json_queue(FILE *out, const struct qshape *s)
{
	int i;

	fputs("{\"messages\":{", out);
	for (i = 0; i < QS_NSTATES; i++)
		fprintf(out, "%s\"%s\":%u", i > 0 ? "," : "", qs_state_name(i),
		    s->msgs[i]);
	fputs("},\"bytes\":{", out);
	for (i = 0; i < QS_NSTATES; i++)
		fprintf(out, "%s\"%s\":%lld", i > 0 ? "," : "",
		    qs_state_name(i), s->bytes[i]);
	fprintf(out, "},\"unreadable\":%u,\"recipients_pending\":%u,"
	    "\"buckets\":[", s->unreadable, s->rcpts);
	for (i = 0; i < QS_NBUCKETS; i++)
		fprintf(out, "%s\"%s\"", i > 0 ? "," : "", qs_bucket_name(i));
	fputs("],\"by_age\":", out);
	json_counts(out, s->total, QS_NBUCKETS);
	fputs(",\"domains\":[", out);
	for (size_t d = 0; d < s->ndomains; d++) {
		fputs(d > 0 ? ",{\"domain\":" : "{\"domain\":", out);
		json_str(out, s->domains[d].name);
		fprintf(out, ",\"total\":%u,\"by_age\":", s->domains[d].total);
		json_counts(out, s->domains[d].n, QS_NBUCKETS);
		fputc('}', out);
	}
	fputs("],\"waiting\":{", out);
	for (i = 0; i < QS_NWAITS; i++)
		fprintf(out, "%s\"%s\":%u", i > 0 ? "," : "", qs_wait_name(i),
		    s->waits[i]);
	fputs("},\"oldest\":", out);
	if (!s->have_oldest) {
		fputs("null}", out);
		return;
	}
	fputs("{\"id\":", out);
	json_str(out, s->oldest_id);
	fputs(",\"queued_at\":", out);
	json_time(out, s->oldest_queued_at);
	fprintf(out, ",\"age_seconds\":%lld,\"account\":",
	    s->now > s->oldest_queued_at ? s->now - s->oldest_queued_at : 0);
	json_str(out, s->oldest_account);
	fputs(",\"recipient\":", out);
	json_str(out, s->oldest_rcpt);
	fprintf(out, ",\"waits\":\"%s\",\"why\":", qs_wait_name(s->oldest_wait));
	json_str(out, s->oldest_why);
	fputs(",\"next_attempt\":", out);
	json_time(out, s->oldest_until);
	fputs("}}", out);
}

static void
print_json(FILE *out, const struct rep *r, const struct qshape *s, int have_q)
{
	struct causesum *c;
	size_t nc, i;

	fputs("{\"version\":1,\"generated_at\":", out);
	json_time(out, r->o->now);
	fputs(",\"since\":", out);
	json_time(out, r->o->since);
	fputs(",\"sources\":{\"logs\":[", out);
	for (i = 0; i < r->nlogs; i++) {
		fputs(i > 0 ? ",{\"path\":" : "{\"path\":", out);
		json_str(out, r->logs[i].path);
		fprintf(out, ",\"lines\":%lu,\"events\":%lu}", r->logs[i].lines,
		    r->logs[i].events);
	}
	fprintf(out, "],\"failed_area\":{\"messages\":%u,\"recipients\":%u,"
	    "\"added\":%u}},", r->fa_msgs, r->fa_rcpts, r->fa_added);
	fprintf(out, "\"totals\":{\"sent\":%lu,\"deferred\":%lu,\"failed\":"
	    "%lu},\n\"causes\":[", r->totals[0], r->totals[1], r->totals[2]);
	c = causes_of(r, &nc);
	for (i = 0; i < nc; i++) {
		const struct cause_match *cm = &c[i].g->cm;

		fputs(i > 0 ? ",\n{\"cause\":" : "\n{\"cause\":", out);
		json_str(out, cm->cause->name);
		fputs(",\"detail\":", out);
		json_str(out, cm->detail[0] != '\0' ? cm->detail : NULL);
		fputs(",\"title\":", out);
		json_str(out, cm->cause->title);
		fputs(",\"advice\":", out);
		json_str(out, cm->advice);
		fprintf(out, ",\"deferred\":%lu,\"failed\":%lu}", c[i].n[1],
		    c[i].n[2]);
	}
	free(c);
	fputs("],\n\"groups\":[", out);
	for (i = 0; i < r->ngroups; i++) {
		fputs(i > 0 ? ",\n" : "\n", out);
		json_group(out, &r->groups[i]);
	}
	fputs("],\n\"queue\":", out);
	if (have_q)
		json_queue(out, s);
	else
		fputs("null", out);
	fputs("}\n", out);
}

/* ---- people ----------------------------------------------------------------------------- */

/*
 * At most width columns of s (octets; UTF-8 sequences are not split),
 * control characters shown as '?', "..." when cut.
 */
static void
put_cut(FILE *out, const char *s, size_t width)
{
	size_t n = strlen(s), i, cut;

	if (n > width) {
		cut = width > 3 ? width - 3 : 0;
		while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
			cut--;
	} else {
		cut = n;
	}
	for (i = 0; i < cut; i++)
		fputc(rq_iscntrl((unsigned char)s[i]) ? '?' : s[i], out);
	if (cut < n)
		fputs("...", out);
}

/* Words of s, wrapped to WIDTH with indent spaces before each line. */
static void
put_wrapped(FILE *out, const char *s, int indent)
{
	size_t col = 0, w;

	while (*s != '\0') {
		while (*s == ' ')
			s++;
		w = strcspn(s, " ");
		if (w == 0)
			break;
		if (col > 0 && col + 1 + w > WIDTH) {
			fputc('\n', out);
			col = 0;
		}
		if (col == 0) {
			fprintf(out, "%*s", indent, "");
			col = (size_t)indent;
		} else {
			fputc(' ', out);
			col++;
		}
		for (size_t i = 0; i < w; i++)
			fputc(rq_iscntrl((unsigned char)s[i]) ? '?' : s[i], out);
		col += w;
		s += w;
	}
	if (col > 0)
		fputc('\n', out);
}

static void
date(char *dst, size_t size, long long t)
{
	if (t <= 0)
		rq_strlcpy(dst, "-", size);
	else
		rfc3339_date(dst, size, (time_t)t);
}

static void
cause_title(char *dst, size_t size, const struct cause_match *cm)
{
	if (cm->detail[0] != '\0')
		snprintf(dst, size, "%s (%s)", cm->cause->title, cm->detail);
	else
		rq_strlcpy(dst, cm->cause->title, size);
}

static void
human_causes(FILE *out, const struct rep *r)
{
	struct causesum *c;
	char title[128];
	size_t nc, i;

	c = causes_of(r, &nc);
	if (nc == 0) {
		fputs("\nNo deferrals or failures.\n", out);
		free(c);
		return;
	}
	fprintf(out, "\n%-58s %9s %9s\n", "Causes", "failed", "deferred");
	for (i = 0; i < nc; i++) {
		/* Titles and details are the table's own words. */
		cause_title(title, sizeof(title), &c[i].g->cm);
		fprintf(out, "  %-56.56s %9lu %9lu\n", title, c[i].n[2],
		    c[i].n[1]);
		put_wrapped(out, c[i].g->cm.advice, 4);
	}
	free(c);
}

static void
human_groups(FILE *out, const struct rep *r)
{
	char first[64], last[64], title[128], head[160], code[8];
	size_t i, n = r->ngroups < HUMAN_GROUPS ? r->ngroups : HUMAN_GROUPS;

	if (r->ngroups == 0)
		return;
	fputs("\nGroups (most frequent first)\n", out);
	for (i = 0; i < n; i++) {
		const struct group *g = &r->groups[i];

		cause_title(title, sizeof(title), &g->cm);
		if (g->cm.code != 0)
			snprintf(code, sizeof(code), "%d", g->cm.code);
		else
			rq_strlcpy(code, "---", sizeof(code));
		snprintf(head, sizeof(head), "%6lu %-8s %s %s  %s  account %s",
		    g->count, status_name(g->status), code,
		    g->cm.enhanced[0] != '\0' ? g->cm.enhanced : "-",
		    g->domain != NULL ? g->domain : "(no recipient)",
		    g->account != NULL ? g->account : "-");
		put_cut(out, head, WIDTH);
		fputc('\n', out);
		fputs("       ", out);
		put_cut(out, title, WIDTH - 7);
		fputc('\n', out);
		date(first, sizeof(first), g->first);
		date(last, sizeof(last), g->last);
		fputs("       via ", out);
		put_cut(out, g->relay != NULL ? g->relay : "(no session)",
		    WIDTH - 11);
		if (g->first == g->last)
			fprintf(out, "\n       at %s\n       ", first);
		else
			fprintf(out, "\n       first %s, last %s\n       ",
			    first, last);
		put_cut(out, g->example, WIDTH - 7);
		fputc('\n', out);
	}
	if (r->ngroups > n)
		fprintf(out, "  ... %zu more group%s (--json lists all)\n",
		    r->ngroups - n, r->ngroups - n == 1 ? "" : "s");
}

static void
human_queue(FILE *out, const struct qshape *s)
{
	char age[32], name[32];
	size_t i, n;
	int b, w, any = 0;

	fprintf(out, "\nQueue: %u queued, %u deferred, %u held; %u in "
	    "failed/; %lld octets waiting\n", s->msgs[QS_QUEUED],
	    s->msgs[QS_DEFERRED], s->msgs[QS_HELD], s->msgs[QS_FAILED],
	    s->bytes[QS_QUEUED] + s->bytes[QS_DEFERRED] + s->bytes[QS_HELD]);
	if (s->unreadable > 0)
		fprintf(out, "  %u message file%s could not be read (relayq "
		    "-bp lists them)\n", s->unreadable,
		    s->unreadable == 1 ? "" : "s");
	if (s->rcpts == 0)
		return;
	fprintf(out, "Pending recipients by age of message:\n  %-20s %6s",
	    "DOMAIN", "TOTAL");
	for (b = 0; b < QS_NBUCKETS; b++)
		fprintf(out, " %6s", qs_bucket_name(b));
	fprintf(out, "\n  %-20s %6u", "(all)", s->rcpts);
	for (b = 0; b < QS_NBUCKETS; b++)
		fprintf(out, " %6u", s->total[b]);
	fputc('\n', out);
	n = s->ndomains < HUMAN_DOMAINS ? s->ndomains : HUMAN_DOMAINS;
	for (i = 0; i < n; i++) {
		fputs("  ", out);
		rq_strlcpy(name, s->domains[i].name, sizeof(name));
		if (strlen(s->domains[i].name) > 20)
			memcpy(name + 17, "...", 4);
		put_cut(out, name, 20);
		fprintf(out, "%*s %6u", (int)(20 - strlen(name)), "",
		    s->domains[i].total);
		for (b = 0; b < QS_NBUCKETS; b++)
			fprintf(out, " %6u", s->domains[i].n[b]);
		fputc('\n', out);
	}
	if (s->ndomains > n)
		fprintf(out, "  ... %zu more domains (--json lists all)\n",
		    s->ndomains - n);
	fputs("Waiting:", out);
	for (w = 0; w < QS_NWAITS; w++)
		if (s->waits[w] > 0) {
			fprintf(out, "%s %u %s", any ? "," : "", s->waits[w],
			    qs_wait_name(w));
			any = 1;
		}
	fputc('\n', out);
	if (s->have_oldest) {
		char head[200];

		fmt_span(age, sizeof(age), s->now - s->oldest_queued_at);
		snprintf(head, sizeof(head), "Oldest: %s, %s old, account %s, "
		    "to <%s>", s->oldest_id, age, s->oldest_account != NULL ?
		    s->oldest_account : "-", s->oldest_rcpt != NULL ?
		    s->oldest_rcpt : "");
		put_cut(out, head, WIDTH);
		fputc('\n', out);
		put_wrapped(out, s->oldest_why, 2);
	}
}

static void
print_human(FILE *out, const struct rep *r, const struct qshape *s, int have_q)
{
	char now[64], since[64];
	size_t i;

	date(now, sizeof(now), r->o->now);
	fprintf(out, "relayq report, %s", now);
	if (r->o->since > 0) {
		date(since, sizeof(since), r->o->since);
		fprintf(out, ", since %s", since);
	}
	fputc('\n', out);
	for (i = 0; i < r->nlogs; i++) {
		char line[WIDTH * 2];

		snprintf(line, sizeof(line), "Log %s: %lu lines, %lu attempts",
		    r->logs[i].path, r->logs[i].lines, r->logs[i].events);
		put_cut(out, line, WIDTH);
		fputc('\n', out);
	}
	if (r->nlogs == 0)
		fputs("Log: none read\n", out);
	if (r->fa_added > 0)
		fprintf(out, "Failed area: %u recipient%s not in the log "
		    "added\n", r->fa_added, r->fa_added == 1 ? "" : "s");
	fprintf(out, "Recipients: %lu sent, %lu deferred, %lu failed\n",
	    r->totals[0], r->totals[1], r->totals[2]);
	human_causes(out, r);
	human_groups(out, r);
	if (have_q)
		human_queue(out, s);
	else
		fputs("\nQueue: none yet\n", out);
}

/* ---- the run --------------------------------------------------------------------------- */

int
report_run(const struct report_opts *o, FILE *out, struct rq_err *err)
{
	struct rep r;
	struct qshape s;
	size_t i;
	int ex = 0;

	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	r.o = o;
	r.err = err;
	for (i = 0; ex == 0 && o->logs != NULL && i < o->logs->n; i++)
		ex = read_log(&r, o->logs->v[i]);
	if (ex == 0 && o->q != NULL)
		ex = qshape_scan(o->q, o->conf, o->now, failed_msg, &r, &s,
		    err);
	if (ex == 0) {
		if (r.ngroups > 1)
			qsort(r.groups, r.ngroups, sizeof(*r.groups),
			    cmp_group);
		if (o->json)
			print_json(out, &r, &s, o->q != NULL);
		else
			print_human(out, &r, &s, o->q != NULL);
		if (fflush(out) != 0 || ferror(out))
			ex = rq_errno(err, EX_IOERR, errno,
			    "cannot write the report");
	}
	qshape_free(&s);
	for (i = 0; i < r.ngroups; i++) {
		free(r.groups[i].domain);
		free(r.groups[i].relay);
		free(r.groups[i].account);
		free(r.groups[i].example);
	}
	free(r.groups);
	for (i = 0; i < RING; i++)
		recent_free(&r.ring[i]);
	for (i = 0; i < r.nlogs; i++)
		free(r.logs[i].path);
	free(r.logs);
	strmap_free(&r.gmap);
	strmap_free(&r.failed_seen);
	return ex;
}
