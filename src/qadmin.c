/*
 * relayq -- operator commands on the queue: mailq, --json, show, delete,
 * hold, release, retry now, requeue.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Built only on queue.h's reader API, so the locking rules are the flush's:
 * every change takes the message's lock without waiting, and a message being
 * delivered is EX_TEMPFAIL ("try again"), never a half-applied change.
 * Listings take no lock: state files are replaced atomically, so a reader
 * sees the old state or the new one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "queue.h"

enum mstate { MS_QUEUED, MS_DEFERRED, MS_HELD, MS_FAILED };

static enum mstate
msg_state(const struct qmsg *m)
{
	if (m->failed)
		return MS_FAILED;
	if (m->st.held)
		return MS_HELD;
	if (m->st.attempts > 0)
		return MS_DEFERRED;
	return MS_QUEUED;
}

static const char *
mstate_name(enum mstate s)
{
	static const char *const names[] = { "queued", "deferred", "held",
	    "failed" };

	return names[s];
}

/* ---- JSON ------------------------------------------------------------------ */

static void
json_msg(FILE *out, const struct qmsg *m)
{
	enum mstate s = msg_state(m);

	fputs("{\"id\":", out);
	json_str(out, m->env.id);
	fprintf(out, ",\"size\":%lld,\"queued_at\":", m->env.size);
	json_time(out, m->env.queued_at);
	fputs(",\"next_attempt\":", out);
	/* Held and failed messages have no next attempt; 0 means due now. */
	if (s == MS_HELD || s == MS_FAILED)
		fputs("null", out);
	else
		json_time(out, m->st.next_attempt != 0 ? m->st.next_attempt :
		    m->env.queued_at);
	fputs(",\"sender\":", out);
	json_str(out, m->env.sender);
	fprintf(out, ",\"state\":\"%s\",\"attempts\":%d,\"last_error\":",
	    mstate_name(s), m->st.attempts);
	json_str(out, m->st.last_error);
	fputs(",\"recipients\":[", out);
	for (size_t i = 0; i < m->env.rcpts.n; i++) {
		fputs(i > 0 ? ",{\"address\":" : "{\"address\":", out);
		json_str(out, m->env.rcpts.v[i]);
		fprintf(out, ",\"status\":\"%s\"}",
		    rcpt_status_name(m->st.rstatus[i]));
	}
	fputs("]}", out);
}

/* ---- the human listing ---------------------------------------------------- */

static void
text_msg(FILE *out, const struct qmsg *m, long long now)
{
	enum mstate s = msg_state(m);
	char age[32], when[64], span[32];

	fmt_span(age, sizeof(age), now - m->env.queued_at);
	fprintf(out, "%-20s %10lld %5s  <%s>\n", m->env.id, m->env.size, age,
	    m->env.sender);
	fprintf(out, "    %s, %d attempt%s", mstate_name(s), m->st.attempts,
	    m->st.attempts == 1 ? "" : "s");
	if (s == MS_QUEUED || s == MS_DEFERRED) {
		if (m->st.next_attempt <= now) {
			fputs(", next attempt now", out);
		} else {
			fmt_span(span, sizeof(span), m->st.next_attempt - now);
			rfc3339_date(when, sizeof(when),
			    (time_t)m->st.next_attempt);
			fprintf(out, ", next attempt in %s (%s)", span, when);
		}
	}
	fputc('\n', out);
	if (m->st.last_error != NULL)
		fprintf(out, "    last error: %s\n", m->st.last_error);
	for (size_t i = 0; i < m->env.rcpts.n; i++) {
		fprintf(out, "    to <%s> %s", m->env.rcpts.v[i],
		    rcpt_status_name(m->st.rstatus[i]));
		if (m->st.rreply[i] != NULL && m->st.rstatus[i] != RCPT_PENDING)
			fprintf(out, ": %s", m->st.rreply[i]);
		fputc('\n', out);
	}
}

int
queue_print_list(struct queue *q, int json, FILE *out, unsigned *unreadable,
    struct rq_err *err)
{
	long long now = (long long)rq_now(), bytes = 0;
	unsigned count = 0, nbad = 0, nstate[4] = { 0 };
	int ex = 0;

	for (int failed = 0; failed <= 1 && ex == 0; failed++) {
		struct strlist ids = { 0 };

		ex = queue_list(q, failed, &ids, err);
		for (size_t i = 0; ex == 0 && i < ids.n; i++) {
			struct rq_err merr;
			struct qmsg *m;
			int r;

			r = queue_msg_open(q, ids.v[i],
			    failed ? QO_FAILED : 0, &m, &merr);
			if (r == EX_NOINPUT)
				continue;	/* delivered meanwhile */
			if (r != 0)
				nbad++;
			if (r != 0 && json)
				continue;	/* JSON has no word for it */
			if (json)
				fputs(count == 0 ? "[\n" : ",\n", out);
			else if (count == 0)
				fprintf(out, "%-20s %10s %5s  %s\n", "ID",
				    "SIZE", "AGE", "SENDER / RECIPIENTS");
			if (r != 0) {
				fprintf(out, "%-20s (unreadable: %s)\n",
				    ids.v[i], merr.msg);
				count++;
				continue;
			}
			if (json)
				json_msg(out, m);
			else
				text_msg(out, m, now);
			count++;
			bytes += m->env.size;
			nstate[msg_state(m)]++;
			queue_msg_close(m);
		}
		strlist_free(&ids);
	}
	if (ex != 0)
		return ex;
	if (json) {
		fputs(count == 0 ? "[]\n" : "\n]\n", out);
	} else if (count == 0) {
		fputs("Mail queue is empty\n", out);
	} else {
		fprintf(out, "-- %u message%s, %lld bytes", count,
		    count == 1 ? "" : "s", bytes);
		for (int s = MS_DEFERRED; s <= MS_FAILED; s++)
			if (nstate[s] > 0)
				fprintf(out, ", %u %s", nstate[s],
				    mstate_name((enum mstate)s));
		if (nbad > 0)
			fprintf(out, ", %u unreadable", nbad);
		fputc('\n', out);
	}
	if (unreadable != NULL)
		*unreadable = nbad;
	if (fflush(out) != 0 || ferror(out))
		return rq_errno(err, EX_IOERR, errno,
		    "cannot write the queue listing");
	return 0;
}

/* Open id in msg/, or else in failed/. */
static int
open_any(struct queue *q, const char *id, int flags, struct qmsg **m,
    struct rq_err *err)
{
	int ex = queue_msg_open(q, id, flags, m, err);

	if (ex == EX_NOINPUT) {
		struct rq_err ferr;

		if (queue_msg_open(q, id, flags | QO_FAILED, m, &ferr) == 0)
			return 0;
		if (ferr.ex != EX_NOINPUT) {
			*err = ferr;
			return ferr.ex;
		}
	}
	return ex;
}

int
queue_print_msg(struct queue *q, const char *id, FILE *out,
    struct rq_err *err)
{
	struct qmsg *m;
	char date[64], buf[8192];
	long long left, off;
	int ex, cr = 0;

	ex = open_any(q, id, 0, &m, err);
	if (ex != 0)
		return ex;
	rfc3339_date(date, sizeof(date), (time_t)m->env.queued_at);
	fprintf(out, "id: %s\nstate: %s\nqueued-at: %s\nsize: %lld\n",
	    m->env.id, mstate_name(msg_state(m)), date, m->env.size);
	fprintf(out, "sender: <%s>\n", m->env.sender);
	if (m->env.account != NULL)
		fprintf(out, "account: %s\n", m->env.account);
	if (m->env.dsn_notify != NULL)
		fprintf(out, "dsn-notify: %s\n", m->env.dsn_notify);
	if (m->env.dsn_ret != NULL)
		fprintf(out, "dsn-ret: %s\n", m->env.dsn_ret);
	if (m->env.dsn_envid != NULL) {
		fputs("dsn-envid: ", out);
		json_str(out, m->env.dsn_envid);
		fputc('\n', out);
	}
	fprintf(out, "body: %s%s%s\n", m->env.body_8bitmime ? "8BITMIME" :
	    "7BIT", m->env.eightbit ? ", has 8-bit octets" : "",
	    m->env.smtputf8 ? ", needs SMTPUTF8" : "");
	if (m->env.dkim_bh[0] != '\0')
		fprintf(out, "dkim-body-hash: %s\n", m->env.dkim_bh);
	fprintf(out, "attempts: %d\n", m->st.attempts);
	if (m->st.last_attempt != 0) {
		rfc3339_date(date, sizeof(date), (time_t)m->st.last_attempt);
		fprintf(out, "last-attempt: %s\n", date);
	}
	if (m->st.next_attempt != 0) {
		rfc3339_date(date, sizeof(date), (time_t)m->st.next_attempt);
		fprintf(out, "next-attempt: %s\n", date);
	}
	if (m->st.last_error != NULL)
		fprintf(out, "last-error: %s\n", m->st.last_error);
	for (size_t i = 0; i < m->env.rcpts.n; i++) {
		fprintf(out, "recipient: <%s> %s", m->env.rcpts.v[i],
		    rcpt_status_name(m->st.rstatus[i]));
		if (m->st.rreply[i] != NULL)
			fprintf(out, ": %s", m->st.rreply[i]);
		fputc('\n', out);
	}
	fputc('\n', out);
	/* The content, with CRLF shown as the local LF. */
	for (off = m->data_off, left = m->env.size; left > 0; ) {
		size_t want = left < (long long)sizeof(buf) ? (size_t)left :
		    sizeof(buf);
		ssize_t r = pread(m->fd, buf, want, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ex = rq_errno(err, EX_IOERR, r < 0 ? errno : EIO,
			    "cannot read message %s", m->env.id);
			break;
		}
		for (ssize_t i = 0; i < r; i++) {
			if (cr && buf[i] != '\n')
				fputc('\r', out);
			cr = buf[i] == '\r';
			if (!cr)
				fputc(buf[i], out);
		}
		off += r;
		left -= r;
	}
	if (cr)
		fputc('\r', out);
	queue_msg_close(m);
	if (ex == 0 && (fflush(out) != 0 || ferror(out)))
		ex = rq_errno(err, EX_IOERR, errno, "cannot write message");
	return ex;
}

int
queue_admin(struct queue *q, const char *id, enum qadmin_op op,
    struct rq_err *err)
{
	const int lock = QO_LOCK | QO_NOWAIT;
	struct qmsg *m = NULL;
	int ex;

	switch (op) {
	case QADMIN_DELETE:
		ex = open_any(q, id, lock, &m, err);
		if (ex == 0)
			ex = queue_msg_remove(q, m, err);
		break;
	case QADMIN_REQUEUE:
		ex = queue_msg_open(q, id, lock | QO_FAILED, &m, err);
		if (ex == 0)
			ex = queue_msg_requeue(q, m, err);
		break;
	case QADMIN_HOLD:
	case QADMIN_RELEASE:
	case QADMIN_RETRY:
		ex = open_any(q, id, lock, &m, err);
		if (ex != 0)
			break;
		if (m->failed) {
			ex = rq_errf(err, EX_USAGE,
			    "message %s has failed; requeue it instead", id);
			break;
		}
		if (op == QADMIN_HOLD)
			m->st.held = 1;
		else if (op == QADMIN_RELEASE)
			m->st.held = 0;
		else
			m->st.next_attempt = 0;
		ex = queue_msg_save_state(q, m, err);
		break;
	default:
		ex = rq_errf(err, EX_SOFTWARE, "unknown queue operation");
		break;
	}
	queue_msg_close(m);
	return ex;
}
