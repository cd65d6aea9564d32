/*
 * relayq -- unit tests for bounces (RFC 3464): structure, required
 * fields, Status codes, the original or its header, the null sender.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounce.h"
#include "queue.h"
#include "tap.h"

static int
buf_sink(void *arg, const void *p, size_t n, struct rq_err *err)
{
	(void)err;
	buf_add(arg, p, n);
	return 0;
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;
	const char *p = hay;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

/* The boundary parameter of the top-level Content-Type. */
static char *
boundary(const char *msg)
{
	const char *p = strstr(msg, "boundary=\"");
	const char *e;

	if (p == NULL)
		return NULL;
	p += 10;
	e = strchr(p, '"');
	return e != NULL ? xstrndup(p, (size_t)(e - p)) : NULL;
}

/* Queue a message with content and return it opened and locked. */
static struct qmsg *
make_msg(struct queue *q, const char *content, size_t len, const char *ret,
    const char *const *rcpts, size_t nr)
{
	struct envelope env;
	struct qwriter *w;
	struct qmsg *m = NULL;
	struct rq_err err;
	size_t i;

	memset(&env, 0, sizeof(env));
	env.sender = xstrdup("sender@example.org");
	for (i = 0; i < nr; i++)
		strlist_add(&env.rcpts, rcpts[i]);
	env.dsn_ret = ret != NULL ? xstrdup(ret) : NULL;
	env.dsn_envid = xstrdup("env-42");
	if (queue_writer_open(q, &env, &w, &err) != 0 ||
	    queue_writer_write(w, content, len, &err) != 0) {
		diag("queue: %s", err.msg);
		envelope_free(&env);
		return NULL;
	}
	env.size = queue_writer_size(w);
	if (queue_writer_commit(w, &env, &err) != 0 ||
	    queue_msg_open(q, env.id, QO_LOCK, &m, &err) != 0)
		diag("queue: %s", err.msg);
	envelope_free(&env);
	return m;
}

static const struct {
	const char	*reason;
	const char	*status;
} status_cases[] = {
	{ "550 5.1.1 <a@example.net>: no such user", "5.1.1" },
	{ "550-5.7.1 policy", "5.7.1" },
	{ "552 5.3.4 message too big", "5.3.4" },
	{ "550 no enhanced code here", "5.0.0" },
	{ "554 4.1.1 class does not match the reply", "5.0.0" },
	{ "550 5.1 too short", "5.0.0" },
	{ "550 5.1.1234 too long", "5.0.0" },
	{ "4.4.7 delivery time expired", "4.4.7" },
	{ "5.3.4 message is 10 octets and x accepts at most 5", "5.3.4" },
	{ "5.6.7 local part is not ASCII", "5.6.7" },
	{ "connection refused", "5.0.0" },
	{ "", "5.0.0" },
	{ "550", "5.0.0" },
};

int
main(void)
{
	static const char *const rcpts[] = {
		"a@example.net", "b@example.net", "c@example.net",
	};
	static const char content[] =
	    "Subject: hello\r\nFrom: sender@example.org\r\n\r\n"
	    "body line one\r\n.dot line\r\n";
	char dir[] = "/tmp/t_bounce.XXXXXX", st[16], id[QUEUE_ID_MAX];
	struct bounce_params bp;
	struct queue *q = NULL;
	struct qmsg *m, *bm;
	struct envelope env;
	struct rq_err err;
	struct buf out;
	char *bnd, *delim, *big;
	const char *part;
	size_t i, hl;
	int eightbit = -1;

	for (i = 0; i < RQ_ARRAY_LEN(status_cases); i++) {
		bounce_status(status_cases[i].reason, st, sizeof(st));
		is_str(st, status_cases[i].status, "status of \"%s\"",
		    status_cases[i].reason);
	}

	if (mkdtemp(dir) == NULL || queue_open(dir, 1, &q, &err) != 0) {
		ok(0, "a scratch queue");
		return done_testing();
	}
	m = make_msg(q, content, sizeof(content) - 1, NULL, rcpts, 3);
	ok(m != NULL, "original queued and opened");
	if (m == NULL)
		return done_testing();
	m->st.rstatus[0] = RCPT_FAILED;
	m->st.rreply[0] = xstrdup("550 5.1.1 <a@example.net>: no such user");
	m->st.rstatus[1] = RCPT_SENT;
	m->st.rstatus[2] = RCPT_FAILED;
	m->st.rreply[2] = xstrdup("4.4.7 delivery time expired: still "
	    "undelivered after 5 days in the queue; last reply: 451 4.3.0 "
	    "busy");

	memset(&bp, 0, sizeof(bp));
	bp.to = "sender@example.org";
	bp.domain = "client.example.com";
	bp.remote_mta = "smtp.example.com[192.0.2.1]:587";
	bp.account = "work";
	bp.now = 1800000000;

	/* The envelope of a bounce: null sender, one recipient. */
	bounce_envelope(&bp, &env);
	is_str(env.sender, "", "bounce envelope: null sender");
	is_int((long long)env.rcpts.n, 1, "bounce envelope: one recipient");
	is_str(env.rcpts.n > 0 ? env.rcpts.v[0] : "", "sender@example.org",
	    "bounce envelope: to the original sender");
	is_str(env.account, "work", "bounce envelope: the same account");
	envelope_free(&env);

	/* The full report. */
	buf_init(&out);
	is_int(bounce_write(m, &bp, buf_sink, &out, &eightbit, &err), 0,
	    "bounce_write");
	ok(crlf_canonical(out.data, out.len), "CRLF line ends only");
	ok(strstr(out.data, "Content-Type: multipart/report; "
	    "report-type=delivery-status;") != NULL,
	    "multipart/report with report-type=delivery-status");
	ok(strstr(out.data, "\r\nFrom: Mail Delivery System "
	    "<MAILER-DAEMON@client.example.com>\r\n") != NULL ||
	    strncmp(out.data, "From: Mail Delivery System "
	    "<MAILER-DAEMON@client.example.com>\r\n", 56) == 0,
	    "From MAILER-DAEMON at our domain");
	ok(strstr(out.data, "\r\nTo: <sender@example.org>\r\n") != NULL,
	    "To the sender");
	ok(strstr(out.data, "\r\nAuto-Submitted: auto-replied\r\n") != NULL,
	    "Auto-Submitted");
	bnd = boundary(out.data);
	ok(bnd != NULL, "a boundary");
	if (bnd == NULL)
		bnd = xstrdup("none");
	ok(strstr(content, bnd) == NULL, "boundary not in the original");
	delim = xasprintf("\r\n--%s\r\n", bnd);
	is_int((long long)count(out.data, delim), 3, "three parts");
	free(delim);
	delim = xasprintf("\r\n--%s--\r\n", bnd);
	hl = strlen(delim);
	ok(out.len >= hl && memcmp(out.data + out.len - hl, delim, hl) == 0,
	    "ends with the closing delimiter");
	free(delim);

	part = strstr(out.data, "Content-Type: text/plain");
	ok(part != NULL, "part 1: text/plain");
	ok(part != NULL && strstr(part, "<a@example.net>") != NULL &&
	    strstr(part, "no such user") != NULL,
	    "part 1 names the failed recipient and why");
	part = strstr(out.data, "Content-Type: message/delivery-status"
	    "\r\n\r\n");
	ok(part != NULL, "part 2: message/delivery-status");
	if (part == NULL)
		part = "";
	ok(strstr(part, "\r\nReporting-MTA: dns; client.example.com\r\n") !=
	    NULL, "Reporting-MTA");
	ok(strstr(part, "\r\nArrival-Date: ") != NULL, "Arrival-Date");
	ok(strstr(part, "\r\nOriginal-Envelope-Id: env-42\r\n") != NULL,
	    "Original-Envelope-Id");
	ok(strstr(part, "\r\nFinal-Recipient: rfc822; a@example.net\r\n"
	    "Action: failed\r\nStatus: 5.1.1\r\n"
	    "Remote-MTA: dns; smtp.example.com\r\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 <a@example.net>: no such "
	    "user\r\n") != NULL, "the 5xx recipient: all its fields");
	ok(strstr(part, "\r\nFinal-Recipient: rfc822; c@example.net\r\n"
	    "Action: failed\r\nStatus: 4.4.7\r\n") != NULL,
	    "the expired recipient: Status 4.4.7");
	ok(strstr(part, "\r\nDiagnostic-Code: smtp; 451 4.3.0 busy\r\n") !=
	    NULL, "the expired recipient: the last reply as Diagnostic-Code");
	ok(strstr(part, "b@example.net") == NULL,
	    "the delivered recipient is not reported");
	is_int((long long)count(part, "Action: failed"), 2,
	    "one Action per failed recipient");
	part = strstr(out.data, "Content-Type: message/rfc822\r\n\r\n"
	    "Subject: hello\r\n");
	ok(part != NULL, "part 3: the original as message/rfc822");
	ok(part != NULL && strstr(part, "body line one\r\n.dot line\r\n")
	    != NULL, "the original's body is returned");
	is_int(eightbit, 0, "7-bit original: 7-bit bounce");
	free(bnd);

	/* RET=HDRS: only the header section comes back. */
	queue_msg_close(m);
	m = make_msg(q, content, sizeof(content) - 1, "HDRS", rcpts, 3);
	if (m != NULL) {
		m->st.rstatus[1] = RCPT_FAILED;
		m->st.rreply[1] = xstrdup("550 rejected");
		buf_reset(&out);
		is_int(bounce_write(m, &bp, buf_sink, &out, NULL, &err), 0,
		    "bounce_write (RET=HDRS)");
		ok(strstr(out.data, "Content-Type: text/rfc822-headers\r\n"
		    "\r\nSubject: hello\r\nFrom: sender@example.org\r\n\r\n--")
		    != NULL, "RET=HDRS: text/rfc822-headers, header only");
		ok(strstr(out.data, "body line one") == NULL,
		    "RET=HDRS: no body");
		ok(strstr(out.data, "Status: 5.0.0\r\n") != NULL,
		    "no enhanced code: 5.0.0");
		ok(crlf_canonical(out.data, out.len), "RET=HDRS: CRLF only");
	} else {
		ok(0, "HDRS message queued");
	}

	/*
	 * A large original: headers only, and the empty line's CR falls
	 * on the last octet of the first 64 KiB read.
	 */
	queue_msg_close(m);
	big = xmalloc(BOUNCE_FULL_MAX + 70000);
	memset(big, 'x', BOUNCE_FULL_MAX + 70000);
	hl = 65535;
	for (i = 78; i < hl; i += 80) {
		big[i] = '\r';
		big[i + 1] = '\n';
	}
	memcpy(big, "Subject: big", 12);
	memcpy(big + hl - 2, "\r\n\r\n", 4);
	memcpy(big + BOUNCE_FULL_MAX + 70000 - 2, "\r\n", 2);
	for (i = hl + 2; i + 80 < BOUNCE_FULL_MAX + 70000; i += 80) {
		big[i + 78] = '\r';
		big[i + 79] = '\n';
	}
	m = make_msg(q, big, BOUNCE_FULL_MAX + 70000, NULL, rcpts, 1);
	if (m != NULL) {
		m->st.rstatus[0] = RCPT_FAILED;
		buf_reset(&out);
		is_int(bounce_write(m, &bp, buf_sink, &out, NULL, &err), 0,
		    "bounce_write (large)");
		part = strstr(out.data, "Content-Type: text/rfc822-headers"
		    "\r\n\r\n");
		ok(part != NULL, "large original: headers only");
		if (part != NULL) {
			part += strlen("Content-Type: text/rfc822-headers"
			    "\r\n\r\n");
			ok(memcmp(part, big, hl) == 0 &&
			    strncmp(part + hl, "\r\n--", 4) == 0,
			    "large original: the header exactly, across the "
			    "read boundary");
		}
		ok(out.len < 200000, "large original: the bounce is small");
		ok(crlf_canonical(out.data, out.len), "large: CRLF only");
	} else {
		ok(0, "large message queued");
	}
	free(big);

	/* A "relayed" notice (NOTIFY=SUCCESS, smart host without DSN). */
	queue_msg_close(m);
	m = make_msg(q, content, sizeof(content) - 1, NULL, rcpts, 3);
	if (m != NULL) {
		static const unsigned char pick[] = { 0, 1, 0 };

		m->st.rstatus[1] = RCPT_SENT;
		m->st.rreply[1] = xstrdup("250 2.0.0 Ok: queued as 4711");
		bp.relayed = pick;
		buf_reset(&out);
		is_int(bounce_write(m, &bp, buf_sink, &out, NULL, &err), 0,
		    "bounce_write (relayed)");
		ok(strstr(out.data, "\r\nFinal-Recipient: rfc822; "
		    "b@example.net\r\nAction: relayed\r\nStatus: 2.0.0\r\n")
		    != NULL, "relayed: Action relayed, Status 2.0.0");
		ok(strstr(out.data, "Diagnostic-Code: smtp; 250 2.0.0 Ok: "
		    "queued as 4711\r\n") != NULL, "relayed: the 250 reply");
		is_int((long long)count(out.data, "Final-Recipient:"), 1,
		    "relayed: only the picked recipient");
		ok(strstr(out.data, "Content-Type: text/rfc822-headers") !=
		    NULL && strstr(out.data, "body line one") == NULL,
		    "relayed: the header only");
		ok(strstr(out.data, "Subject: Delivery Status Notification "
		    "(Relayed)\r\n") != NULL, "relayed: its own subject");
		ok(crlf_canonical(out.data, out.len), "relayed: CRLF only");
		bp.relayed = NULL;
	} else {
		ok(0, "relayed message queued");
	}

	/* Queued: a new message, null sender, the report as content. */
	queue_msg_close(m);
	m = make_msg(q, content, sizeof(content) - 1, NULL, rcpts, 2);
	if (m != NULL) {
		m->st.rstatus[0] = RCPT_FAILED;
		m->st.rreply[0] = xstrdup("550 5.1.1 nope");
		is_int(bounce_queue(q, m, &bp, id, &err), 0, "bounce_queue");
		bm = NULL;
		is_int(queue_msg_open(q, id, 0, &bm, &err), 0,
		    "the bounce is in the queue");
		if (bm != NULL) {
			is_str(bm->env.sender, "", "queued bounce: null sender");
			is_str(bm->env.rcpts.n > 0 ? bm->env.rcpts.v[0] : "",
			    "sender@example.org", "queued bounce: recipient");
			ok(bm->env.size > 500, "queued bounce: has content");
			queue_msg_close(bm);
		}
	}
	queue_msg_close(m);

	queue_close(q);
	buf_free(&out);
	rm_tree(dir);
	return done_testing();
}
