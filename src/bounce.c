/*
 * relayq -- bounces: RFC 3464 delivery status notifications for mail that
 * failed for good.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * RFC 3464 (delivery status notifications), RFC 6522 (multipart/report),
 * RFC 3463 (enhanced status codes), RFC 3834 (Auto-Submitted), RFC 5321
 * section 4.5.5 and 6.1 (null reverse-path, to the envelope sender).
 *
 * The layout:
 *
 *	header (From MAILER-DAEMON, To, Subject, Date, Message-ID,
 *	        Auto-Submitted, MIME-Version, Content-Type multipart/report)
 *	--B  text/plain                 what failed and why, in words
 *	--B  message/delivery-status    Reporting-MTA, Arrival-Date, then per
 *	                                failed recipient Final-Recipient,
 *	                                Action, Status, Remote-MTA,
 *	                                Diagnostic-Code
 *	--B  message/rfc822             the original (streamed), or
 *	     text/rfc822-headers        its header only (RET=HDRS, or larger
 *	                                than BOUNCE_FULL_MAX)
 *	--B--
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "bounce.h"

#define READ_CHUNK	(64 * 1024)
/* A reason is cut to keep every line of the report far below 998. */
#define REASON_MAX	900

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Length of an RFC 3463 code "c.sss.ddd" at p (class any of 2/4/5), or 0. */
static size_t
enhanced_len(const char *p)
{
	size_t i = 0, n;
	int part;

	if (p[0] != '2' && p[0] != '4' && p[0] != '5')
		return 0;
	if (p[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (n = 0; n < 3 && is_digit(p[i]); n++)
			i++;
		if (n == 0)
			return 0;
		if (part == 0) {
			if (p[i] != '.')
				return 0;
			i++;
		}
	}
	if (p[i] != '\0' && p[i] != ' ' && p[i] != '\t')
		return 0;
	return i;
}

/* Is reason an SMTP reply ("550 ..." / "550-...")? */
static int
is_reply(const char *r)
{
	return is_digit(r[0]) && is_digit(r[1]) && is_digit(r[2]) &&
	    (r[3] == ' ' || r[3] == '-' || r[3] == '\0');
}

void
bounce_status(const char *reason, char *dst, size_t size)
{
	const char *p = reason != NULL ? reason : "";
	size_t n;

	if (is_reply(p)) {
		const char *t = p[3] != '\0' ? p + 4 : p + 3;

		n = enhanced_len(t);
		if (n > 0 && t[0] == p[0] && n < size) {
			memcpy(dst, t, n);
			dst[n] = '\0';
			return;
		}
		rq_strlcpy(dst, p[0] == '4' ? "4.0.0" : "5.0.0", size);
		return;
	}
	n = enhanced_len(p);
	if (n > 0 && n < size) {
		memcpy(dst, p, n);
		dst[n] = '\0';
		return;
	}
	rq_strlcpy(dst, "5.0.0", size);
}

void
bounce_envelope(const struct bounce_params *p, struct envelope *out)
{
	memset(out, 0, sizeof(*out));
	out->sender = xstrdup("");	/* RFC 5321 4.5.5: never bounced */
	out->account = p->account != NULL ? xstrdup(p->account) : NULL;
	strlist_add(&out->rcpts, p->to);
	/* A report needs no report about itself. */
	out->dsn_notify = xstrdup("NEVER");
	out->queued_at = p->now;
}

/* Output through the sink, remembering the first error. */
struct out {
	bounce_sink	 sink;
	void		*arg;
	struct buf	 b;
	int		 rc;
	struct rq_err	*err;
};

static void
out_flush(struct out *o)
{
	if (o->rc == 0 && o->b.len > 0)
		o->rc = o->sink(o->arg, o->b.data, o->b.len, o->err);
	buf_reset(&o->b);
}

static void
outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
outf(struct out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&o->b, fmt, ap);
	va_end(ap);
	if (o->b.len >= READ_CHUNK)
		out_flush(o);
}

/* A reason made safe for one header or text line. */
static char *
clean_reason(const char *r)
{
	char *s, *p;

	/* xstrndup copies exactly n octets: bound n by the string. */
	if (r == NULL)
		r = "";
	s = xstrndup(r, strnlen(r, REASON_MAX));

	for (p = s; *p != '\0'; p++)
		if (rq_iscntrl((unsigned char)*p))
			*p = ' ';
	return s;
}

/* "host[1.2.3.4]:587" -> "host" */
static char *
mta_name(const char *relay)
{
	size_t n = strcspn(relay, "[:");

	return xstrndup(relay, n > 0 ? n : strlen(relay));
}

/*
 * Copy the original: all of it, or up to the end of its header section
 * (the first empty line, which is not copied).
 */
static int
copy_original(const struct qmsg *m, int headers_only, struct out *o)
{
	long long left = m->env.size, off = m->data_off;
	char *buf;
	ssize_t got;
	size_t want, i, n;
	int state = 2;	/* CRLF seen before: the start is a line start */

	out_flush(o);
	if (o->rc != 0)
		return o->rc;
	buf = xmalloc(READ_CHUNK);
	while (left > 0) {
		want = left > READ_CHUNK ? READ_CHUNK : (size_t)left;
		got = pread(m->fd, buf, want, off);
		if (got <= 0) {
			o->rc = rq_errno(o->err, EX_IOERR, got < 0 ? errno :
			    EIO, "reading queued message %s", m->env.id);
			break;
		}
		n = (size_t)got;
		if (headers_only) {
			/* state: 0 in a line, 1 CR seen, 2 at a line start,
			   3 CR at a line start: the next LF ends the header */
			for (i = 0; i < n; i++) {
				char c = buf[i];

				if (state == 3 && c == '\n')
					break;
				if (c == '\r')
					state = state == 2 ? 3 : 1;
				else if (c == '\n')
					state = 2;
				else
					state = 0;
			}
			if (i < n) {
				/* Drop the CR of the empty line. */
				n = i > 0 ? i - 1 : 0;
				left = 0;
			} else if (state == 3) {
				/* Keep a CR that may start the empty line
				   for the next read. */
				if (left == 1)
					break;
				n--;
				got--;
				state = 2;
			}
		}
		if (n > 0) {
			o->rc = o->sink(o->arg, buf, n, o->err);
			if (o->rc != 0)
				break;
		}
		off += got;
		if (left > 0)
			left -= got;
		if (headers_only && left > 0 &&
		    off - m->data_off > 1024 * 1024)
			break;	/* a header that large: enough of it */
	}
	free(buf);
	return o->rc;
}

/* Is recipient i one the report is about? */
static int
picked(const struct qmsg *m, const struct bounce_params *p, size_t i)
{
	if (p->relayed != NULL)
		return p->relayed[i] != 0;
	return m->st.rstatus != NULL && m->st.rstatus[i] == RCPT_FAILED;
}

int
bounce_write(const struct qmsg *m, const struct bounce_params *p,
    bounce_sink sink, void *arg, int *eightbit, struct rq_err *err)
{
	const struct envelope *env = &m->env;
	unsigned char rnd[12];
	char bnd[64], date[64], arrival[64], status[16], *reason, *mta;
	const char *relay = p->remote_mta, *last;
	struct out o;
	size_t i, k, nfail = 0;
	int full, utf8 = 0;

	memset(&o, 0, sizeof(o));
	o.sink = sink;
	o.arg = arg;
	o.err = err;
	buf_init(&o.b);

	random_bytes(rnd, sizeof(rnd));
	k = (size_t)snprintf(bnd, sizeof(bnd), "=_relayq_");
	for (i = 0; i < sizeof(rnd) && k + 2 < sizeof(bnd); i++)
		k += (size_t)snprintf(bnd + k, sizeof(bnd) - k, "%02x",
		    rnd[i]);
	rfc5322_date(date, sizeof(date), (time_t)p->now);
	rfc5322_date(arrival, sizeof(arrival), (time_t)env->queued_at);
	/* A relay notice returns the header only (RFC 3461 4.3). */
	full = p->relayed == NULL && !(env->dsn_ret != NULL &&
	    rq_strcasecmp(env->dsn_ret, "HDRS") == 0) &&
	    env->size <= BOUNCE_FULL_MAX;
	for (i = 0; i < env->rcpts.n; i++) {
		if (!picked(m, p, i))
			continue;
		nfail++;
		if (addr_is_utf8(env->rcpts.v[i]))
			utf8 = 1;
	}
	mta = relay != NULL ? mta_name(relay) : NULL;

	outf(&o, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n",
	    p->domain);
	outf(&o, "To: <%s>\r\n", p->to);
	outf(&o, "Subject: %s\r\n", p->relayed != NULL ?
	    "Delivery Status Notification (Relayed)" :
	    "Undelivered Mail Returned to Sender");
	outf(&o, "Date: %s\r\n", date);
	outf(&o, "Message-ID: <bounce.%s.%s@%s>\r\n", env->id, bnd + 9,
	    p->domain);
	outf(&o, "Auto-Submitted: auto-replied\r\n");
	outf(&o, "MIME-Version: 1.0\r\n");
	outf(&o, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n", bnd);
	outf(&o, "\r\n");
	outf(&o, "This is a MIME-encapsulated message.\r\n\r\n");

	/* The part for people. */
	outf(&o, "--%s\r\n", bnd);
	outf(&o, "Content-Description: Notification\r\n");
	outf(&o, "Content-Type: text/plain; charset=%s\r\n\r\n",
	    utf8 ? "utf-8" : "us-ascii");
	outf(&o, "This is relayq-flush at %s.\r\n\r\n", p->domain);
	if (p->relayed != NULL) {
		outf(&o, "Your message was relayed to %s, which does not "
		    "offer delivery\r\nstatus notifications: this is the "
		    "last notice you will get about\r\n%s, as you asked "
		    "for notice of success.\r\n", mta != NULL ? mta :
		    "the smart host", nfail == 1 ? "this recipient" :
		    "these recipients");
		outf(&o, "It was queued on %s with the id %s.\r\n\r\n",
		    arrival, env->id);
	} else {
		outf(&o, "Your message could not be delivered to %s.\r\n",
		    nfail == 1 ? "one recipient" :
		    "some of its recipients");
		outf(&o, "It was queued on %s with the id %s", arrival,
		    env->id);
		if (mta != NULL)
			outf(&o, " and relayed through %s", mta);
		outf(&o, ".\r\nThis is a permanent failure: it will not "
		    "be tried again.\r\n\r\n");
	}
	for (i = 0; i < env->rcpts.n; i++) {
		if (!picked(m, p, i))
			continue;
		reason = clean_reason(m->st.rreply != NULL ?
		    m->st.rreply[i] : NULL);
		if (is_reply(reason))
			outf(&o, "<%s>:\r\n    the server answered: %s\r\n\r\n",
			    env->rcpts.v[i], reason);
		else
			outf(&o, "<%s>:\r\n    %s\r\n\r\n", env->rcpts.v[i],
			    reason[0] != '\0' ? reason : "failed");
		free(reason);
	}
	outf(&o, "The delivery report and %s are attached.\r\n\r\n",
	    full ? "your message" : "the header of your message");

	/* The part for programs (RFC 3464 section 2). */
	outf(&o, "--%s\r\n", bnd);
	outf(&o, "Content-Description: Delivery report\r\n");
	outf(&o, "Content-Type: message/delivery-status\r\n\r\n");
	outf(&o, "Reporting-MTA: dns; %s\r\n", p->domain);
	outf(&o, "X-Relayq-Queue-ID: %s\r\n", env->id);
	if (env->dsn_envid != NULL)
		outf(&o, "Original-Envelope-Id: %s\r\n", env->dsn_envid);
	outf(&o, "Arrival-Date: %s\r\n", arrival);
	for (i = 0; i < env->rcpts.n; i++) {
		if (!picked(m, p, i))
			continue;
		reason = clean_reason(m->st.rreply != NULL ?
		    m->st.rreply[i] : NULL);
		bounce_status(reason, status, sizeof(status));
		if (p->relayed != NULL && status[0] != '2')
			rq_strlcpy(status, "2.0.0", sizeof(status));
		outf(&o, "\r\n");
		outf(&o, "Final-Recipient: %s; %s\r\n",
		    addr_is_utf8(env->rcpts.v[i]) ? "utf-8" : "rfc822",
		    env->rcpts.v[i]);
		outf(&o, "Action: %s\r\n", p->relayed != NULL ? "relayed" :
		    "failed");
		outf(&o, "Status: %s\r\n", status);
		/* An expiry keeps the server's last word after "reply: ". */
		last = strstr(reason, "reply: ");
		last = last != NULL && is_reply(last + 7) ? last + 7 :
		    is_reply(reason) ? reason : NULL;
		if (last != NULL) {
			if (mta != NULL)
				outf(&o, "Remote-MTA: dns; %s\r\n", mta);
			outf(&o, "Diagnostic-Code: smtp; %s\r\n", last);
		}
		outf(&o, "Last-Attempt-Date: %s\r\n", date);
		free(reason);
	}
	outf(&o, "\r\n");

	/* The original. */
	outf(&o, "--%s\r\n", bnd);
	if (full) {
		outf(&o, "Content-Description: Undelivered Message\r\n");
		outf(&o, "Content-Type: message/rfc822\r\n\r\n");
	} else {
		outf(&o, "Content-Description: %s Message Headers\r\n",
		    p->relayed != NULL ? "Relayed" : "Undelivered");
		outf(&o, "Content-Type: text/rfc822-headers\r\n\r\n");
	}
	if (copy_original(m, !full, &o) == 0)
		outf(&o, "\r\n--%s--\r\n", bnd);
	out_flush(&o);
	buf_free(&o.b);
	free(mta);
	if (eightbit != NULL)
		*eightbit = utf8 || (full ? env->eightbit : env->smtputf8);
	return o.rc;
}

static int
writer_sink(void *arg, const void *p, size_t n, struct rq_err *err)
{
	return queue_writer_write(arg, p, n, err);
}

int
bounce_queue(struct queue *q, const struct qmsg *m,
    const struct bounce_params *p, char *id, struct rq_err *err)
{
	struct envelope env;
	struct qwriter *w = NULL;
	int rc, eightbit = 0;

	bounce_envelope(p, &env);
	rc = queue_writer_open(q, &env, &w, err);
	if (rc != 0)
		goto out;
	rc = bounce_write(m, p, writer_sink, w, &eightbit, err);
	if (rc != 0) {
		queue_writer_abort(w);
		goto out;
	}
	env.size = queue_writer_size(w);
	env.eightbit = eightbit;
	env.smtputf8 = m->env.smtputf8 || addr_is_utf8(p->to);
	rc = queue_writer_commit(w, &env, err);
	if (rc == 0 && id != NULL)
		rq_strlcpy(id, env.id, QUEUE_ID_MAX);
out:
	envelope_free(&env);
	return rc;
}
