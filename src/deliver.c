/*
 * relayq -- delivery: which messages go over which connection, and what
 * an outcome means for the queue.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A run:
 *  1. lists the queue and keeps the messages that are due (next attempt
 *     reached, not held; all of them with --all), each with its account:
 *     the one its envelope names, else the one whose "from" matches the
 *     sender, else the default.  "Due" comes from the state files alone,
 *     and the envelope is read only when there are several accounts to
 *     choose from, so that each message is opened and parsed once per
 *     run, by the worker that sends it;
 *  2. per account, loads what it needs once (TLS files, the password,
 *     the DKIM key), opens the first session itself (hosts in failover
 *     order); when that works, forks min(connections, messages) - 1
 *     workers and is the last worker itself.  The workers share, in an
 *     anonymous shared mapping, the index of the next message to take,
 *     the counters and the first session error;
 *  3. a worker takes messages one by one: lock (non-blocking; a message
 *     busy in another flush is skipped), check it is still due, take a
 *     rate_limit slot and a warm-up count (acctstate.h: counted on disk
 *     before it goes), send, record the outcome durably and in the
 *     account's totals, next.  A delivered message's removal waits for
 *     the disk beside the next message's transaction, in a thread of the
 *     worker, and is durable before that message's end of data leaves
 *     ("removals off the critical path" below).  After
 *     max_messages_per_connection messages, or a broken session, it
 *     opens a new one;
 *  4. messages no worker could take because no session could be opened
 *     are deferred by the parent with that error; messages left because
 *     of a rate limit stay due and untouched; those over the day's
 *     warm-up allowance wait for the next day with that reason as their
 *     last error (not an attempt: no backoff).
 *
 * Outcomes (status.h): 2xx sent; 4xx, timeouts, connection and TLS
 * failures deferred with backoff (retry_min doubling up to retry_max);
 * 5xx failed.  A message still deferred max_queue_time after it was
 * queued fails with status 4.4.7.  A message whose recipients are all
 * decided is removed (all sent), or bounced and removed, or moved to
 * failed/ (null sender, "bounce off", or the bounce could not be queued).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "acctstate.h"
#include "auth.h"
#include "bounce.h"
#include "conf.h"
#include "deliver.h"
#include "idn.h"
#include "log.h"
#include "queue.h"
#include "smtp.h"
#include "tls.h"

/* What the workers of one account share across fork(). */
struct shared {
	unsigned	next;		/* index of the next message to take */
	unsigned	sent, deferred, failed;
	unsigned	queued;		/* bounces and notices queued */
	unsigned	rate_limited;	/* a worker stopped at the rate limit */
	unsigned	rate_left;	/* claimed, then left due at the limit */
	unsigned	sessions;	/* sessions opened successfully */
	unsigned	warmup_left;	/* put off to the next warm-up day */
	int		warmup_full;	/* a worker found the day used up */
	struct warmup_verdict wu;	/* ... and why (the first one) */
	long long	next_due;	/* earliest next attempt set; 0 none */
	int		err_set;
	int		auth_failed;
	int		config_error;	/* a worker met an orphan */
	char		err[RQ_ERR_MSG];	/* the first session error */
	pthread_mutex_t	claim;		/* a warm-up's claim (claim()) */
};

/* One account's work. */
struct job {
	struct queue			*q;
	const struct deliver_opts	*o;
	const struct account		*a;
	struct strlist			 ids;
	struct tls_ctx			*tls;
	struct dkim_signer		*dkim;	/* NULL: no DKIM signing */
	char				*password;
	char				*name;	/* EHLO, Reporting-MTA */
	struct shared			*sh;
	struct acct_counts		 counts; /* outcomes not yet in the
						   account's totals */
	struct removal			*rm;	/* this worker's; NULL: each
						   removal is made in line */
};

/* Worker processes of the running job, for forwarding SIGTERM. */
static pid_t		 workers[64];
static volatile int	 nworkers;

static void
notice(const struct deliver_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
notice(const struct deliver_opts *o, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	if (o->notice == NULL)
		return;
	buf_init(&b);
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	o->notice(o->notice_arg, b.data);
	buf_free(&b);
}

static void
shared_min_due(struct shared *sh, long long t)
{
	long long cur = __atomic_load_n(&sh->next_due, __ATOMIC_SEQ_CST);

	while ((cur == 0 || t < cur) &&
	    !__atomic_compare_exchange_n(&sh->next_due, &cur, t, 0,
	    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
}

/*
 * The claim lock lives in the shared page: robust, so that a worker
 * killed while it holds it does not stop the others.
 */
static void
shared_init(struct shared *sh)
{
	pthread_mutexattr_t ma;

	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&sh->claim, &ma);
	pthread_mutexattr_destroy(&ma);
}

static void
shared_err(struct shared *sh, const struct rq_err *err, int auth)
{
	if (__atomic_exchange_n(&sh->err_set, 1, __ATOMIC_SEQ_CST) == 0) {
		rq_strlcpy(sh->err, err->msg, sizeof(sh->err));
		sh->auth_failed = auth;
	}
}

long long
deliver_backoff(const struct account *a, int attempts)
{
	long long d = a->retry_min > 0 ? a->retry_min : 60;
	long long max = a->retry_max > 0 ? a->retry_max : 3600;
	int i;

	for (i = 1; i < attempts && d < max; i++)
		d *= 2;
	return d < max ? d : max;
}

int
deliver_dkim_signer(const struct account *a, struct dkim_signer **out,
    struct rq_err *err)
{
	struct dkim_signer_params p;

	memset(&p, 0, sizeof(p));
	p.domain = a->dkim_domain;
	p.selector = a->dkim_selector;
	p.key_file = a->dkim_key;
	p.headers = a->dkim_headers;
	p.hcanon = (enum dkim_canon)a->dkim_hcanon;
	p.bcanon = (enum dkim_canon)a->dkim_bcanon;
	p.expire = a->dkim_expire;
	return dkim_signer_new(&p, out, err);
}

char *
deliver_our_name(const struct account *a)
{
	char host[256], *out = NULL;
	struct rq_err e;

	/* domain defaults to the host name (conf.c), which may be bare. */
	rq_strlcpy(host, a->domain != NULL && a->domain[0] != '\0' ?
	    a->domain : "localhost", sizeof(host));
	if (strchr(host, '.') == NULL && host[0] != '[') {
		/* EHLO wants a fully qualified name (RFC 5321 4.1.4). */
		struct addrinfo hints, *ai = NULL;

		memset(&hints, 0, sizeof(hints));
		hints.ai_flags = AI_CANONNAME;
		if (getaddrinfo(host, NULL, &hints, &ai) == 0 && ai != NULL &&
		    ai->ai_canonname != NULL &&
		    strchr(ai->ai_canonname, '.') != NULL)
			rq_strlcpy(host, ai->ai_canonname, sizeof(host));
		if (ai != NULL)
			freeaddrinfo(ai);
	}
	if (idn_domain_to_ascii(host, &out, &e) == 0)
		return out;
	return xstrdup(host);
}

/* ---- rate limits ---------------------------------------------------------- */

/*
 * rate_limit N/PERIOD, shared by every flush of the queue: the file
 * rate.ACCOUNT in the queue directory holds the times of the last sends,
 * one per line, under flock.  Returns 1 when a message may go now (and,
 * with record, records it), 0 when the limit is reached (*until: when a
 * slot frees).
 */
static int
rate_take(struct job *j, long long now, int record, long long *until)
{
	const struct account *a = j->a;
	char *path, *p, *e, *data = NULL;
	long long *ts = NULL, t, oldest = 0;
	size_t n = 0, cap = 0, i;
	struct buf out;
	struct stat sb;
	int fd, ok = 1;

	if (a->rate_limit_count <= 0 || a->rate_limit_period <= 0)
		return 1;
	path = xasprintf("%s/rate.%s", queue_path(j->q), a->name);
	for (p = path + strlen(queue_path(j->q)) + 1; *p != '\0'; p++)
		if (*p == '/')
			*p = '_';
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	free(path);
	if (fd < 0)
		return 1;	/* no record possible: do not block mail */
	if (flock(fd, LOCK_EX) != 0 || fstat(fd, &sb) != 0)
		goto out;
	data = xmalloc((size_t)sb.st_size + 1);
	if (read_full(fd, data, (size_t)sb.st_size) != (ssize_t)sb.st_size)
		goto out;
	data[sb.st_size] = '\0';
	for (p = data; *p != '\0'; p = e) {
		t = strtoll(p, &e, 10);
		if (e == p)
			break;
		while (*e == '\n')
			e++;
		if (t <= now - a->rate_limit_period || t > now + 86400)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ts = xreallocarray(ts, cap, sizeof(*ts));
		}
		ts[n++] = t;
	}
	if (n >= (size_t)a->rate_limit_count) {
		oldest = ts[0];
		for (i = 1; i < n; i++)
			if (ts[i] < oldest)
				oldest = ts[i];
		*until = oldest + a->rate_limit_period;
		ok = 0;
		goto out;
	}
	if (!record)
		goto out;
	buf_init(&out);
	for (i = 0; i < n; i++)
		buf_addf(&out, "%lld\n", ts[i]);
	buf_addf(&out, "%lld\n", now);
	if (ftruncate(fd, 0) == 0)
		(void)pwrite(fd, out.data, out.len, 0);
	buf_free(&out);
out:
	free(data);
	free(ts);
	close(fd);
	return ok;
}

/* ---- the account's totals --------------------------------------------------- */

/*
 * Outcomes go to the account's totals (acctstate.h) in batches of at
 * most ACCT_BATCH, and whatever is left when a session ends, the worker
 * ends, or the parent forks or finishes (a --watch flush runs anew for
 * each change, so nothing waits longer than one run).  The totals are written
 * without a sync outside a warm-up anyway (doc/queue-format.md), so a
 * crash could already lose the last increments; a batch saves each
 * delivery an open, lock, read, write and close of account.NAME.
 */
static void
counts_write(struct job *j)
{
	acct_record(j->q, j->a, &j->counts, rq_now());
}

static void
counted(struct job *j, enum outcome out, long long now)
{
	if (acct_count(&j->counts, out, now))
		counts_write(j);
}

/* ---- removals off the critical path --------------------------------------- */

/*
 * After the server's 250 for a message delivered to every recipient, the
 * worker unlinks it and hands the rest of the removal's waiting to a
 * thread of its own: the fsync of msg/ that makes the unlink durable,
 * then the close of the file (where ext4 frees its blocks and, mounted
 * with discard, waits for the device).  Meanwhile the worker takes the
 * next message and sends its envelope and content.  SPEC 3 is kept by
 * removal_wait(), which smtp.c calls just before that message's end of
 * data leaves (smtp_params.before_end), and which the worker calls
 * before QUIT and before it ends: it waits for the fsync, then finishes
 * the removal (the state file, the account's totals; or, when the fsync
 * failed, the state that says everyone has the message).  So a
 * connection still has at most one message between its 250 and its
 * durable removal, and a crash still costs at most one duplicate per
 * connection.  Everything else record() writes (a deferral's state, a
 * bounce, a move to failed/) stays in line, before the next message is
 * even opened.
 *
 * The thread does nothing but that fsync and that close; everything that
 * logs, counts or writes state stays in the worker.
 */
struct removal {
	pthread_t	 th;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct queue	*q;
	struct qmsg	*m;	/* unlinked, its removal under way; NULL: none */
	long long	 now;	/* when its outcome was recorded */
	int		 fd;	/* m's file, for the thread to close */
	int		 go;	/* the thread has m to sync */
	int		 done;	/* ... and did: rc, e */
	int		 quit;
	int		 rc;
	struct rq_err	 e;
};

static void *
removal_thread(void *arg)
{
	struct removal *r = arg;
	struct rq_err e;
	int fd, rc;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->go && !r->quit)
			pthread_cond_wait(&r->cv, &r->mu);
		if (!r->go)
			break;
		r->go = 0;
		fd = r->fd;
		r->fd = -1;
		pthread_mutex_unlock(&r->mu);
		rc = queue_msg_sync_removal(r->q, r->m, &e);
		pthread_mutex_lock(&r->mu);
		r->rc = rc;
		r->e = e;
		r->done = 1;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		/* Durability does not wait for the blocks to be freed. */
		close(fd);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* A removal thread for this worker, or NULL (then removals stay in line). */
static struct removal *
removal_new(struct queue *q)
{
	struct removal *r = xcalloc(1, sizeof(*r));
	sigset_t all, old;
	int rc;

	r->q = q;
	r->fd = -1;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	/* Signals (SIGTERM: stop after this message) are the worker's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&r->th, NULL, removal_thread, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_line(LOG_WARNING, "pthread_create: %s; removals are made "
		    "in line", strerror(rc));
		pthread_cond_destroy(&r->cv);
		pthread_mutex_destroy(&r->mu);
		free(r);
		return NULL;
	}
	return r;
}

/* A removal that failed: keep the record that everyone got it. */
static void
removal_failed(struct job *j, struct qmsg *m, int rc, struct rq_err *e)
{
	if (rc == 0)
		return;
	log_line(LOG_ERR, "id=%s: cannot remove: %s", m->env.id, e->msg);
	(void)queue_msg_save_state(j->q, m, e);
}

/*
 * Wait until the removal under way, if any, is durable, and finish it.
 * smtp.c's before_end hook: arg is the job.
 */
static void
removal_wait(void *arg)
{
	struct job *j = arg;
	struct removal *r = j->rm;
	struct qmsg *m;
	int rc;

	if (r == NULL || r->m == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	while (!r->done)
		pthread_cond_wait(&r->cv, &r->mu);
	r->done = 0;
	pthread_mutex_unlock(&r->mu);
	m = r->m;
	r->m = NULL;
	rc = r->rc;
	if (rc == 0)
		rc = queue_msg_unlink_state(j->q, m, &r->e);
	removal_failed(j, m, rc, &r->e);
	counted(j, OUT_OK, r->now);
	queue_msg_close(m);
}

/*
 * m, delivered to every recipient, goes: unlinked here, made durable by
 * the thread, finished by removal_wait().  m is ours from here on.
 */
static void
removal_start(struct job *j, struct qmsg *m, long long now)
{
	struct removal *r = j->rm;
	struct rq_err e;
	int rc;

	removal_wait(j);	/* one at a time */
	rc = queue_msg_unlink(j->q, m, &e);
	if (rc != 0) {
		removal_failed(j, m, rc, &e);
		counted(j, OUT_OK, now);
		queue_msg_close(m);
		return;
	}
	pthread_mutex_lock(&r->mu);
	r->m = m;
	r->now = now;
	r->fd = m->fd;		/* the thread closes it, and so unlocks */
	m->fd = -1;
	r->go = 1;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* Wait for what is under way, stop the thread. */
static void
removal_free(struct job *j)
{
	struct removal *r = j->rm;

	if (r == NULL)
		return;
	removal_wait(j);
	pthread_mutex_lock(&r->mu);
	r->quit = 1;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->th, NULL);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
	j->rm = NULL;
}

/* ---- recording an outcome ------------------------------------------------- */

static int
pending(enum rcpt_status st)
{
	return st == RCPT_PENDING || st == RCPT_DEFERRED;
}

static void
log_attempt(struct job *j, const struct qmsg *m, size_t i,
    const struct smtp_rcpt_result *rr, const char *relay, const char *tlsv,
    long long now)
{
	const char *status = rr->out == OUT_OK ? "sent" :
	    rr->out == OUT_TEMP ? "deferred" : "failed";

	log_line(rr->out == OUT_OK ? LOG_INFO : LOG_NOTICE,
	    "id=%s account=%s from=<%s> to=<%s> relay=%s tls=%s%s status=%s "
	    "reply=\"%s\" size=%lld delay=%llds attempts=%d", m->env.id,
	    j->a->name, m->env.sender, m->env.rcpts.v[i], relay != NULL ? relay : "none",
	    tlsv != NULL ? tlsv : "none",
	    /* Every line says so when nothing was verified. */
	    tlsv != NULL && !j->a->tls_certcheck ? ",unverified" : "", status,
	    rr->reply != NULL ? rr->reply : "", m->env.size,
	    now - m->env.queued_at, m->st.attempts);
}

/* A report about m from this job's account to `to`. */
static void
report_params(const struct job *j, const char *to, const char *relay,
    struct bounce_params *bp)
{
	memset(bp, 0, sizeof(*bp));
	bp->to = to;
	bp->domain = j->name;
	bp->remote_mta = relay;
	bp->account = j->a->name;
	bp->now = rq_now();
}

/* Every recipient decided, some failed: bounce, or keep in failed/. */
static void
finish_failed(struct job *j, struct qmsg *m, const char *relay)
{
	struct bounce_params bp;
	struct rq_err e;
	char bid[QUEUE_ID_MAX];

	if (m->env.sender[0] == '\0' || !j->a->bounce) {
		/* Never a bounce about a bounce; "bounce off" keeps it. */
		if (queue_msg_fail(j->q, m, &e) != 0)
			log_line(LOG_ERR, "id=%s: cannot move to failed/: %s",
			    m->env.id, e.msg);
		else
			log_line(LOG_NOTICE, "id=%s: moved to failed/%s",
			    m->env.id, m->env.sender[0] == '\0' ?
			    " (null sender: no bounce)" : " (bounce off)");
		return;
	}
	report_params(j, j->a->bounce_to != NULL ? j->a->bounce_to :
	    m->env.sender, relay, &bp);
	if (bounce_queue(j->q, m, &bp, bid, &e) != 0) {
		log_line(LOG_ERR, "id=%s: cannot queue a bounce to <%s>: %s; "
		    "keeping the message in failed/", m->env.id, bp.to, e.msg);
		if (queue_msg_fail(j->q, m, &e) != 0)
			log_line(LOG_ERR, "id=%s: cannot move to failed/: %s",
			    m->env.id, e.msg);
		return;
	}
	log_line(LOG_NOTICE, "id=%s: bounce id=%s queued to <%s>", m->env.id,
	    bid, bp.to);
	__atomic_fetch_add(&j->sh->queued, 1, __ATOMIC_SEQ_CST);
	if (queue_msg_remove(j->q, m, &e) != 0)
		log_line(LOG_ERR, "id=%s: cannot remove after bouncing: %s",
		    m->env.id, e.msg);
}

/*
 * RFC 3461 section 4.3: a recipient that asked for NOTIFY=SUCCESS and was
 * handed to a smart host without DSN gets a "relayed" notice from us, as
 * nobody further on will send one.
 */
static void
notify_relayed(struct job *j, struct qmsg *m, const struct smtp_result *res,
    const char *relay)
{
	const char *notify = m->env.dsn_notify != NULL ? m->env.dsn_notify :
	    j->a->dsn_notify;
	struct bounce_params bp;
	unsigned char *pick;
	struct rq_err e;
	char id[QUEUE_ID_MAX];
	size_t i, n = 0;

	if (notify == NULL || strcasestr(notify, "SUCCESS") == NULL ||
	    m->env.sender[0] == '\0' || !j->a->bounce)
		return;
	pick = xcalloc(res->n > 0 ? res->n : 1, 1);
	for (i = 0; i < res->n; i++)
		if (res->r[i].tried && res->r[i].out == OUT_OK) {
			pick[i] = 1;
			n++;
		}
	if (n > 0) {
		report_params(j, m->env.sender, relay, &bp);
		bp.relayed = pick;
		if (bounce_queue(j->q, m, &bp, id, &e) != 0)
			log_line(LOG_ERR, "id=%s: cannot queue a relayed "
			    "notice: %s", m->env.id, e.msg);
		else {
			log_line(LOG_INFO, "id=%s: relayed notice id=%s "
			    "queued to <%s>", m->env.id, id, bp.to);
			__atomic_fetch_add(&j->sh->queued, 1,
			    __ATOMIC_SEQ_CST);
		}
	}
	free(pick);
}

static void
set_reply(struct qmsg *m, size_t i, const char *text)
{
	if (m->st.rreply == NULL)
		return;
	free(m->st.rreply[i]);
	m->st.rreply[i] = text != NULL ? xstrdup(text) : NULL;
}

/*
 * The outcome of one attempt at m (res per recipient; relay and tlsv
 * for the log, NULL without a session): per-recipient state, attempts,
 * backoff or expiry, then removal, bounce or a durable state update.
 * Returns 1 when m was handed to the worker's removal thread (the
 * caller must not close it), else 0.
 */
static int
record(struct job *j, struct qmsg *m, const struct smtp_result *res,
    const char *relay, const char *tlsv, int srv_dsn)
{
	const struct account *a = j->a;
	struct qstate *st = &m->st;
	long long now = rq_now(), qtime;
	const char *temp_reason = NULL;
	struct rq_err e;
	size_t i, n = m->env.rcpts.n;
	int ndefer = 0, nfail = 0, msgout;
	char *t;

	if (st->rstatus == NULL) {
		st->rstatus = xcalloc(n > 0 ? n : 1, sizeof(*st->rstatus));
		st->rreply = xcalloc(n > 0 ? n : 1, sizeof(*st->rreply));
	}
	st->attempts++;
	st->last_attempt = now;
	for (i = 0; i < n && i < res->n; i++) {
		const struct smtp_rcpt_result *rr = &res->r[i];

		if (!rr->tried)
			continue;
		switch (rr->out) {
		case OUT_OK:
			st->rstatus[i] = RCPT_SENT;
			break;
		case OUT_TEMP:
			st->rstatus[i] = RCPT_DEFERRED;
			if (temp_reason == NULL)
				temp_reason = rr->reply;
			break;
		case OUT_PERM:
			st->rstatus[i] = RCPT_FAILED;
			break;
		}
		set_reply(m, i, rr->reply);
		log_attempt(j, m, i, rr, relay, tlsv, now);
	}
	for (i = 0; i < n; i++) {
		if (pending(st->rstatus[i]))
			ndefer++;
		else if (st->rstatus[i] == RCPT_FAILED)
			nfail++;
	}

	if (relay != NULL && !srv_dsn)
		notify_relayed(j, m, res, relay);

	qtime = a->max_queue_time > 0 ? a->max_queue_time : 5 * 86400;
	if (ndefer > 0 && now - m->env.queued_at >= qtime) {
		/* Given up: what is still deferred fails (RFC 3463 4.4.7). */
		for (i = 0; i < n; i++) {
			if (!pending(st->rstatus[i]))
				continue;
			t = xasprintf("4.4.7 delivery time expired: still "
			    "undelivered after %lld days in the queue; last "
			    "reply: %s", (now - m->env.queued_at) / 86400,
			    st->rreply != NULL && st->rreply[i] != NULL ?
			    st->rreply[i] : "none");
			st->rstatus[i] = RCPT_FAILED;
			set_reply(m, i, t);
			free(t);
		}
		log_line(LOG_NOTICE, "id=%s: expired after %lld seconds in "
		    "the queue", m->env.id, now - m->env.queued_at);
		nfail += ndefer;
		ndefer = 0;
	}

	if (ndefer > 0) {
		msgout = OUT_TEMP;
		st->next_attempt = now + deliver_backoff(a, st->attempts);
		free(st->last_error);
		st->last_error = temp_reason == NULL ? NULL :
		    relay != NULL ? xasprintf("%s: %s", relay, temp_reason) :
		    xstrdup(temp_reason);
		if (queue_msg_save_state(j->q, m, &e) != 0)
			log_line(LOG_ERR, "id=%s: cannot save state: %s",
			    m->env.id, e.msg);
		shared_min_due(j->sh, st->next_attempt);
		__atomic_fetch_add(&j->sh->deferred, 1, __ATOMIC_SEQ_CST);
	} else if (nfail > 0) {
		msgout = OUT_PERM;
		/* The decision is on disk before a bounce goes out. */
		if (queue_msg_save_state(j->q, m, &e) != 0)
			log_line(LOG_ERR, "id=%s: cannot save state: %s",
			    m->env.id, e.msg);
		finish_failed(j, m, relay);
		__atomic_fetch_add(&j->sh->failed, 1, __ATOMIC_SEQ_CST);
	} else {
		msgout = OUT_OK;
		__atomic_fetch_add(&j->sh->sent, 1, __ATOMIC_SEQ_CST);
		if (j->rm != NULL) {
			/* Finished and counted once durable (removal_wait);
			   never with -v or --id, which say so at once. */
			removal_start(j, m, now);
			return 1;
		}
		removal_failed(j, m, queue_msg_remove(j->q, m, &e), &e);
	}
	counted(j, (enum outcome)msgout, now);

	/* -v and --id (relayq -odi) show each outcome on the terminal. */
	if (j->o->verbose || j->o->only_id != NULL) {
		if (msgout == OUT_OK)
			notice(j->o, "%s: sent via %s", m->env.id,
			    relay != NULL ? relay : "?");
		for (i = 0; i < n && i < res->n; i++)
			if (res->r[i].tried && res->r[i].out != OUT_OK)
				notice(j->o, "%s: <%s>: %s: %s", m->env.id,
				    m->env.rcpts.v[i],
				    outcome_name(res->r[i].out),
				    res->r[i].reply);
	}
	return 0;
}

/* A deferral without a transaction (no session could be opened). */
static void
record_session_failure(struct job *j, struct qmsg *m, const char *why)
{
	struct smtp_result res;
	size_t i;

	res.n = m->env.rcpts.n;
	res.code = 0;
	res.r = xcalloc(res.n > 0 ? res.n : 1, sizeof(*res.r));
	for (i = 0; i < res.n; i++) {
		if (m->st.rstatus != NULL && !pending(m->st.rstatus[i]))
			continue;
		res.r[i].tried = 1;
		res.r[i].out = OUT_TEMP;
		res.r[i].reply = xstrdup(why);
	}
	/* Only after the workers: no removal thread to take m. */
	(void)record(j, m, &res, NULL, NULL, 0);
	smtp_result_free(&res);
}

/* ---- sessions and workers ------------------------------------------------- */

static int
is_due(const struct deliver_opts *o, const struct qmsg *m, long long now)
{
	if (o->only_id != NULL)
		return strcmp(m->env.id, o->only_id) == 0;
	if (m->st.held)
		return 0;
	return o->all || m->st.next_attempt <= now;
}

/*
 * A message whose account is not in the configuration (removed or renamed
 * since it was queued): said loudly on every attempt (relayq-flush exits
 * 78), retried with the default account's backoff so that a fixed
 * configuration sends it, and moved to failed/ once older than that
 * account's max_queue_time, so that it neither vanishes nor stays forever.
 * No bounce: nothing went wrong with the message, and the operator can
 * requeue it.  m is open and locked; returns 1 deferred, 2 failed, 0
 * neither (the state could not be saved).
 */
static int
orphan(struct queue *q, const struct deliver_opts *o, struct qmsg *m,
    long long now)
{
	const struct account *def = conf_default_account(o->conf);
	struct account fallback;
	struct rq_err e;

	if (def == NULL) {
		/* Defaults of an empty account: 1 minute .. 1 hour, 5 days. */
		memset(&fallback, 0, sizeof(fallback));
		fallback.retry_min = 60;
		fallback.retry_max = 3600;
		fallback.max_queue_time = 5 * 86400;
		def = &fallback;
	}
	free(m->st.last_error);
	m->st.last_error = xasprintf("account %s is not in the configuration",
	    m->env.account != NULL ? m->env.account : "(default)");
	log_line(LOG_ERR, "id=%s from=<%s> status=deferred reply=\"%s\"",
	    m->env.id, m->env.sender, m->st.last_error);
	notice(o, "%s: %s", m->env.id, m->st.last_error);
	m->st.attempts++;
	m->st.last_attempt = now;
	if (now - m->env.queued_at >= def->max_queue_time) {
		if (queue_msg_save_state(q, m, &e) == 0 &&
		    queue_msg_fail(q, m, &e) == 0) {
			log_line(LOG_ERR, "id=%s: moved to failed/ after "
			    "max_queue_time", m->env.id);
			return 2;
		}
		return 0;
	}
	m->st.next_attempt = now + deliver_backoff(def, m->st.attempts);
	return queue_msg_save_state(q, m, &e) == 0 ? 1 : 0;
}

/* An orphan met by a worker: counted in the job's shared counters. */
static void
orphan_in_job(struct job *j, struct qmsg *m)
{
	int r = orphan(j->q, j->o, m, rq_now());

	j->sh->config_error = 1;
	if (r == 1)
		__atomic_fetch_add(&j->sh->deferred, 1, __ATOMIC_SEQ_CST);
	else if (r == 2)
		__atomic_fetch_add(&j->sh->failed, 1, __ATOMIC_SEQ_CST);
}

/*
 * Is m this job's?  The listing may have left the account open (one
 * account in the configuration: nothing else to choose); an orphan is
 * dealt with here, a message of another account is left alone.
 */
static int
ours(struct job *j, struct qmsg *m)
{
	const struct account *a = acct_of_message(j->o->conf, &m->env);

	if (a == j->a)
		return 1;
	if (a == NULL)
		orphan_in_job(j, m);
	return 0;
}

/* Open a session, trying the hosts in order. */
static struct smtp *
open_session(struct job *j, struct rq_err *err)
{
	const struct account *a = j->a;
	struct smtp_params p;
	struct smtp *s = NULL;
	enum smtp_stage stage;
	size_t h;

	memset(&p, 0, sizeof(p));
	p.acct = a;
	p.tls = j->tls;
	p.ehlo = j->name;
	p.password = j->password;
	p.dkim = j->dkim;
	p.trace = j->o->trace;
	p.trace_arg = j->o->trace_arg;
	p.before_end = removal_wait;
	p.before_end_arg = j;
	for (h = 0; h < a->hosts.n; h++) {
		p.host = a->hosts.v[h];
		if (smtp_open(&p, &s, &stage, err) == 0)
			return s;
		log_line(LOG_WARNING, "account %s: %s", a->name, err->msg);
		if (stage == SMTP_STAGE_AUTH) {
			/* Wrong credentials are wrong at every host. */
			notice(j->o, "%s", err->msg);
			shared_err(j->sh, err, 1);
			return NULL;
		}
	}
	if (a->hosts.n == 0)
		rq_errf(err, EX_CONFIG, "account %s has no host", a->name);
	shared_err(j->sh, err, 0);
	return NULL;
}

static void
rate_limited(struct job *j, long long until)
{
	__atomic_fetch_add(&j->sh->rate_limited, 1, __ATOMIC_SEQ_CST);
	shared_min_due(j->sh, until);
}

/* No session only to find the day's warm-up allowance used. */
static int
warmup_room(struct job *j)
{
	struct warmup_verdict wu;

	if (acct_warmup_peek(j->q, j->a, rq_now(), &wu))
		return 1;
	if (__atomic_exchange_n(&j->sh->warmup_full, 1, __ATOMIC_SEQ_CST) == 0)
		j->sh->wu = wu;
	shared_min_due(j->sh, wu.until);
	return 0;
}

/* The warm-up day is used up: m waits for the next (not an attempt). */
static void
warmup_wait(struct job *j, struct qmsg *m, const struct warmup_verdict *wu)
{
	struct rq_err e;

	if (__atomic_exchange_n(&j->sh->warmup_full, 1, __ATOMIC_SEQ_CST) == 0)
		j->sh->wu = *wu;
	if (acct_warmup_defer(j->q, m, wu, &e) != 0)
		log_line(LOG_ERR, "id=%s: cannot save state: %s", m->env.id,
		    e.msg);
	__atomic_fetch_add(&j->sh->warmup_left, 1, __ATOMIC_SEQ_CST);
	shared_min_due(j->sh, wu->until);
}

/*
 * The next message to send, with its rate slot and warm-up count taken:
 * 1 (the message, locked, in *mp), 0 (none this time: try the next), or
 * -1 (stop).
 */
static int
claim_locked(struct job *j, struct qmsg **mp)
{
	struct rq_err err;
	struct warmup_verdict wu;
	long long until;
	unsigned idx;
	int rc;

	idx = __atomic_fetch_add(&j->sh->next, 1, __ATOMIC_SEQ_CST);
	if (idx >= j->ids.n)
		return -1;
	rc = queue_msg_open(j->q, j->ids.v[idx], QO_LOCK | QO_NOWAIT,
	    mp, &err);
	if (rc != 0) {
		/* Busy in another flush, or gone: not ours.  A
		   corrupt one (the listing did not open it) is said
		   as the listing would say it. */
		if (rc != EX_TEMPFAIL && rc != EX_NOINPUT)
			log_line(LOG_ERR, "%s; not sent", err.msg);
		return 0;
	}
	if (!is_due(j->o, *mp, rq_now()) || !ours(j, *mp)) {
		queue_msg_close(*mp);
		return 0;
	}
	/* Only a message that really goes takes a slot. */
	if (!rate_take(j, rq_now(), 1, &until)) {
		queue_msg_close(*mp);
		__atomic_fetch_add(&j->sh->rate_left, 1,
		    __ATOMIC_SEQ_CST);
		rate_limited(j, until);
		return -1;
	}
	/* Counted (durably) before it goes, or put off. */
	if (!acct_warmup_take(j->q, j->a, rq_now(), &wu)) {
		warmup_wait(j, *mp, &wu);
		queue_msg_close(*mp);
		return -1;
	}
	return 1;
}

/*
 * claim_locked(), under a warm-up with the other workers held off from
 * the claim to the count: the day's allowance then goes to the messages
 * in queue order (a worker that claimed the next message cannot lose the
 * last slot to one that claimed the message after it).
 */
static int
claim(struct job *j, struct qmsg **mp)
{
	int warm = j->a->nwarmup > 0, rc;

	if (warm && pthread_mutex_lock(&j->sh->claim) == EOWNERDEAD)
		pthread_mutex_consistent(&j->sh->claim);
	rc = claim_locked(j, mp);
	if (warm)
		pthread_mutex_unlock(&j->sh->claim);
	return rc;
}

/*
 * Send messages over s (opened by the caller, or NULL), opening sessions
 * as needed, until no message is left, the rate limit is reached, no
 * session can be opened, or SIGTERM.
 */
static void
worker(struct job *j, struct smtp *s)
{
	const struct deliver_opts *o = j->o;
	struct smtp_result res;
	struct qmsg *m;
	struct rq_err err;
	unsigned nconn = 0;
	long long until;
	int rc;

	/* -v and --id say "sent" at once, so their removals stay in line. */
	if (!o->verbose && o->only_id == NULL)
		j->rm = removal_new(j->q);
	for (;;) {
		if (o->stop != NULL && *o->stop)
			break;
		if (__atomic_load_n(&j->sh->next, __ATOMIC_SEQ_CST) >=
		    j->ids.n)
			break;
		if (s == NULL) {
			/* No session anywhere and one failed: the host is
			   down for all of us. */
			if (j->sh->err_set && j->sh->sessions == 0)
				break;
			/* No session only to find the limit reached. */
			if (!warmup_room(j))
				break;
			if (!rate_take(j, rq_now(), 0, &until)) {
				rate_limited(j, until);
				break;
			}
			s = open_session(j, &err);
			if (s == NULL)
				break;
			__atomic_fetch_add(&j->sh->sessions, 1,
			    __ATOMIC_SEQ_CST);
			nconn = 0;
		}
		rc = claim(j, &m);
		if (rc < 0)
			break;
		if (rc == 0)
			continue;
		memset(&res, 0, sizeof(res));
		rc = smtp_send(s, m, &res, &err);
		if (!record(j, m, &res, smtp_peer(s), smtp_tls_version(s),
		    smtp_caps(s)->dsn))
			queue_msg_close(m);
		smtp_result_free(&res);
		nconn++;
		if (rc != 0) {
			log_line(LOG_WARNING, "account %s: %s", j->a->name,
			    err.msg);
			smtp_abort(s);
			s = NULL;
		} else if (j->a->max_messages_per_connection > 0 &&
		    nconn >= (unsigned)j->a->max_messages_per_connection) {
			removal_wait(j);
			counts_write(j);
			smtp_close(s);
			s = NULL;
		}
	}
	removal_free(j);
	counts_write(j);
	smtp_close(s);
}

/* fn for each due message that no worker took, locked. */
static void
each_rest(struct job *j, void (*fn)(struct job *, struct qmsg *))
{
	struct qmsg *m;
	struct rq_err err;
	unsigned idx;

	for (idx = j->sh->next; idx < j->ids.n; idx++) {
		if (queue_msg_open(j->q, j->ids.v[idx], QO_LOCK | QO_NOWAIT,
		    &m, &err) != 0)
			continue;
		if (is_due(j->o, m, rq_now()))
			fn(j, m);
		queue_msg_close(m);
	}
}

static void
defer_one(struct job *j, struct qmsg *m)
{
	if (ours(j, m))
		record_session_failure(j, m, j->sh->err);
}

static void
warmup_one(struct job *j, struct qmsg *m)
{
	warmup_wait(j, m, &j->sh->wu);
}

/* Messages nobody could take because no session opened: defer them. */
static void
defer_rest(struct job *j)
{
	each_rest(j, defer_one);
}

/* The day's warm-up allowance is used: the messages nobody took wait. */
static void
warmup_rest(struct job *j)
{
	each_rest(j, warmup_one);
	j->sh->next = (unsigned)j->ids.n;
	log_line(LOG_NOTICE, "account %s: %s; %u message(s) wait", j->a->name,
	    j->sh->wu.reason, j->sh->warmup_left);
}

static int
run_job(struct job *j, struct deliver_stats *stats)
{
	const struct account *a = j->a;
	struct rq_err err;
	struct smtp *s0;
	unsigned n, i, left;
	int status;
	pid_t pid;

	log_setup("relayq-flush", a);
	if (a->tls && tls_ctx_new(a, &j->tls, &err) != 0) {
		log_line(LOG_ERR, "account %s: %s", a->name, err.msg);
		notice(j->o, "account %s: %s", a->name, err.msg);
		stats->config_error = 1;
		return 0;
	}
	if (auth_wanted(a) && conf_password(a, &j->password, &err) != 0) {
		log_line(LOG_ERR, "account %s: %s", a->name, err.msg);
		notice(j->o, "account %s: %s", a->name, err.msg);
		stats->config_error = 1;
		return 0;
	}
	if (a->dkim_domain != NULL &&
	    deliver_dkim_signer(a, &j->dkim, &err) != 0) {
		/* Unsigned mail could be refused (DMARC): it waits. */
		log_line(LOG_ERR, "account %s: %s", a->name, err.msg);
		notice(j->o, "account %s: %s", a->name, err.msg);
		stats->config_error = 1;
		return 0;
	}
	j->name = deliver_our_name(a);

	/*
	 * The first session is opened here, before any worker exists: a
	 * wrong password then costs one failed login, not one per
	 * connection (relay services lock accounts for less), a dead host
	 * one timeout, and the workers inherit the TLS resumption data.
	 */
	s0 = warmup_room(j) ? open_session(j, &err) : NULL;
	if (s0 != NULL) {
		struct queue_group *gc = queue_group_new();

		queue_set_group(j->q, gc);
		j->sh->sessions = 1;
		n = a->connections > 0 ? (unsigned)a->connections : 4;
		if (n > RQ_ARRAY_LEN(workers))
			n = RQ_ARRAY_LEN(workers);
		if (n > j->ids.n)
			n = (unsigned)j->ids.n;
		nworkers = 0;
		counts_write(j);	/* the workers start with none */
		for (i = 1; i < n; i++) {
			pid = fork();
			if (pid < 0) {
				log_line(LOG_WARNING, "fork: %s",
				    strerror(errno));
				break;
			}
			if (pid == 0) {
				/* s0 is the parent's: free our copy without
				   a word on its connection. */
				smtp_discard(s0);
				nworkers = 0;
				worker(j, NULL);
				log_close();
				_exit(0);
			}
			workers[nworkers++] = pid;
		}
		worker(j, s0);
		for (i = 0; i < (unsigned)nworkers; i++)
			while (waitpid(workers[i], &status, 0) < 0 &&
			    errno == EINTR)
				;
		nworkers = 0;
		queue_set_group(j->q, NULL);
		queue_group_free(gc);
	}
	if (j->sh->next < j->ids.n && j->sh->err_set &&
	    !(j->o->stop != NULL && *j->o->stop))
		defer_rest(j);
	if (j->sh->warmup_full && !(j->o->stop != NULL && *j->o->stop))
		warmup_rest(j);
	counts_write(j);
	left = j->sh->rate_left + (j->sh->next < j->ids.n ?
	    (unsigned)j->ids.n - j->sh->next : 0);
	if (j->sh->rate_limited && left > 0) {
		log_line(LOG_NOTICE, "account %s: rate limit %d per %llds "
		    "reached; %u message(s) left for later", a->name,
		    a->rate_limit_count, a->rate_limit_period, left);
		stats->deferred += left;
	}
	stats->sent += j->sh->sent;
	stats->deferred += j->sh->deferred + j->sh->warmup_left;
	stats->failed += j->sh->failed;
	stats->queued += j->sh->queued;
	if (j->sh->config_error)
		stats->config_error = 1;
	if (j->sh->next_due != 0 &&
	    (stats->next_due == 0 || j->sh->next_due < stats->next_due))
		stats->next_due = j->sh->next_due;
	return 0;
}

void
deliver_signal_workers(int sig)
{
	int i;

	for (i = 0; i < nworkers; i++)
		(void)kill(workers[i], sig);
}

/* ---- the run -------------------------------------------------------------- */

int
deliver_run(struct queue *q, const struct deliver_opts *o,
    struct deliver_stats *stats, struct rq_err *err)
{
	const struct conf *c = o->conf;
	const struct account *a, *only = NULL;
	struct strlist ids;
	struct job *jobs = NULL;
	struct qdue *due = NULL;
	struct qmsg *m;
	struct rq_err e;
	size_t njobs = 0, i, k;
	long long now = rq_now();
	int rc, r;

	memset(stats, 0, sizeof(*stats));
	memset(&ids, 0, sizeof(ids));
	log_setup("relayq-flush", conf_default_account(c));
	if (o->account != NULL) {
		only = conf_account(c, o->account);
		if (only == NULL)
			return rq_errf(err, EX_CONFIG, "no account %s in %s",
			    o->account, c->path != NULL ? c->path :
			    "the configuration");
	}
	/*
	 * Each message is opened and parsed once per run, by the worker that
	 * sends it: the listing decides "due" from the state files alone
	 * (most messages have none), and reads a message's envelope only
	 * when the configuration has several accounts to choose from.  The
	 * worker checks both again under the lock.
	 */
	rc = queue_list_due(q, &ids, &due, err);
	if (rc != 0)
		return rc;

	for (i = 0; i < ids.n; i++) {
		if (o->only_id != NULL && strcmp(ids.v[i], o->only_id) != 0)
			continue;
		if (due[i].known && o->only_id == NULL) {
			if (due[i].held)
				continue;
			if (!o->all && due[i].next_attempt > now) {
				if (stats->next_due == 0 ||
				    due[i].next_attempt < stats->next_due)
					stats->next_due = due[i].next_attempt;
				continue;
			}
		}
		if (due[i].known && o->only_id == NULL && c->naccounts == 1) {
			a = c->accounts[0];
			goto take;
		}
		if (queue_msg_open(q, ids.v[i], 0, &m, &e) != 0) {
			/* Corrupt, or another format version: never sent,
			   never changed, but never silently either. */
			if (e.ex != EX_NOINPUT)
				log_line(LOG_ERR, "%s; not sent", e.msg);
			continue;
		}
		if (!is_due(o, m, now)) {
			if (!m->st.held && (stats->next_due == 0 ||
			    m->st.next_attempt < stats->next_due))
				stats->next_due = m->st.next_attempt;
			queue_msg_close(m);
			continue;
		}
		a = acct_of_message(c, &m->env);
		queue_msg_close(m);
		if (a == NULL) {
			stats->config_error = 1;
			if (queue_msg_open(q, ids.v[i], QO_LOCK | QO_NOWAIT, &m,
			    &e) != 0)
				continue;
			r = orphan(q, o, m, now);
			if (r == 1)
				stats->deferred++;
			else if (r == 2)
				stats->failed++;
			queue_msg_close(m);
			continue;
		}
take:
		if (only != NULL && a != only)
			continue;
		for (k = 0; k < njobs; k++)
			if (jobs[k].a == a)
				break;
		if (k == njobs) {
			jobs = xreallocarray(jobs, njobs + 1, sizeof(*jobs));
			memset(&jobs[njobs], 0, sizeof(*jobs));
			jobs[njobs].q = q;
			jobs[njobs].o = o;
			jobs[njobs].a = a;
			njobs++;
		}
		strlist_add(&jobs[k].ids, ids.v[i]);
	}
	strlist_free(&ids);
	free(due);

	for (k = 0; k < njobs; k++) {
		struct job *j = &jobs[k];

		if (o->stop != NULL && *o->stop)
			break;
		j->sh = mmap(NULL, sizeof(*j->sh), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (j->sh == MAP_FAILED) {
			j->sh = NULL;
			rc = rq_errno(err, EX_OSERR, errno, "mmap");
			break;
		}
		memset(j->sh, 0, sizeof(*j->sh));
		shared_init(j->sh);
		run_job(j, stats);
	}
	for (k = 0; k < njobs; k++) {
		struct job *j = &jobs[k];

		if (j->sh != NULL)
			munmap(j->sh, sizeof(*j->sh));
		if (j->tls != NULL)
			tls_ctx_free(j->tls);
		dkim_signer_free(j->dkim);
		free_secret(j->password);
		free(j->name);
		strlist_free(&j->ids);
	}
	free(jobs);
	/* Lines between runs (--watch) go where the default account says. */
	log_setup("relayq-flush", conf_default_account(c));
	return rc;
}
