/*
 * relayq -- the SMTP client: one session with the smart host.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * RFC 5321 (SMTP), RFC 3207 (STARTTLS), RFC 8314 (implicit TLS), RFC 4954
 * (AUTH), RFC 2920 (PIPELINING), RFC 1870 (SIZE), RFC 6152 (8BITMIME),
 * RFC 6531 (SMTPUTF8), RFC 3461 (DSN), RFC 3030 (CHUNKING).
 *
 * A session walks through these states; a trace with -v reads like them:
 *
 *	CONNECT -> [TLS handshake, implicit TLS]
 *	GREETING (220) -> EHLO (or HELO after 500/502)
 *	-> STARTTLS (220; nothing else buffered) -> TLS handshake
 *	   -> capabilities forgotten -> EHLO again
 *	-> AUTH (334 ... 235)
 *	-> READY, then per message:
 *	   [RSET] MAIL RCPT... DATA (one write with PIPELINING) -> content
 *	   -> "." -> 250, or MAIL RCPT... then BDAT chunks with CHUNKING
 *	-> QUIT
 *
 * Rules kept here because the wire is where they matter:
 *  - nothing but QUIT is sent in the clear when TLS is wanted and
 *    STARTTLS is missing, refused, or followed by bytes the server sent
 *    before our handshake (the response-injection attack);
 *  - AUTH only on TLS (unless allow_plaintext_auth), and chosen from the
 *    capabilities of the EHLO that followed TLS;
 *  - replies are matched to pipelined commands by counting, never by
 *    their codes;
 *  - the content is filtered on its way out (smtp_canon_feed) so that the
 *    wire never carries a bare CR or LF or an early end of data, whatever
 *    the queue file holds;
 *  - with DKIM, the message is signed before its transaction starts, over
 *    the content exactly as open_content() will send it (the same
 *    transform), and SIZE= counts the DKIM-Signature field;
 *  - every read has a timeout: the account's, or RFC 5321 section
 *    4.5.3.2's minimums.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "addr.h"
#include "auth.h"
#include "content.h"
#include "downgrade.h"
#include "idn.h"
#include "mime.h"
#include "net.h"
#include "reply.h"
#include "smtp.h"
#include "tls.h"

/* RFC 5321 section 4.5.3.2 timeouts, in seconds. */
#define TMO_CONNECT	60
#define TMO_GREETING	300
#define TMO_EHLO	300
#define TMO_TLS		120
#define TMO_AUTH	300
#define TMO_MAIL	300
#define TMO_RCPT	300
#define TMO_DATA	120
#define TMO_BLOCK	180
#define TMO_DOT		600
#define TMO_RSET	300
#define TMO_QUIT	10

/* How much of the queue file is read at once, and the size of a BDAT. */
#define READ_CHUNK	(256 * 1024)
#define BDAT_CHUNK	(1024 * 1024)
/* RFC 4954 section 4: an initial response must keep the line in 512. */
#define CMD_LINE_MAX	512
/* A SASL exchange that goes on longer than this is not a real one. */
#define AUTH_ROUNDS_MAX	16

struct smtp {
	const struct account	*acct;
	const struct dkim_signer *dkim;		/* NULL: no signing */
	char			*host;		/* as configured */
	char			*ahost;		/* A-label, for DNS and TLS */
	struct conn		*c;
	struct caps		 caps;
	int			 helo;		/* EHLO refused: no extensions */
	int			 dead;		/* no more commands possible */
	int			 need_rset;	/* a transaction may be open */
	int			 nmsgs;		/* transactions started */
	char			*greeting;
	const char		*mech;
	smtp_trace_fn		 trace;
	void			*trace_arg;
	void			(*before_end)(void *);	/* smtp_params */
	void			*before_end_arg;
	struct buf		 line;		/* a received line */
	struct buf		 cmd;		/* a command being built */
	struct buf		 out;		/* filtered content */
	char			*rbuf;		/* raw content from the file */
	/* The message being sent: its downgrade (NULL: as queued), and
	   the size that goes on the wire (at most). */
	struct dg_plan		*plan;
	long long		 send_size;
};

/* ---- the content filter ------------------------------------------------- */

void
smtp_canon_init(struct smtp_canon *cs, int stuff)
{
	cs->bol = 1;
	cs->cr = 0;
	cs->stuff = stuff;
}

void
smtp_canon_feed(struct smtp_canon *cs, const void *in, size_t n,
    struct buf *out)
{
	const unsigned char *p = in;
	size_t i, run;

	for (i = 0; i < n; ) {
		unsigned char ch = p[i];

		if (!cs->cr && cs->bol) {
			/*
			 * Whole lines that end in CRLF, hold no other CR or
			 * LF and (when stuffing) do not start with a dot
			 * need nothing: as many as there are go out in one
			 * piece, found with memchr.  The queue stores CRLF,
			 * so this is nearly every line.
			 */
			size_t j = i, k;
			const unsigned char *lf;

			while (j < n && !(cs->stuff && p[j] == '.')) {
				lf = memchr(p + j, '\n', n - j);
				if (lf == NULL)
					break;
				k = (size_t)(lf - p);
				if (k == j || p[k - 1] != '\r' ||
				    memchr(p + j, '\r', k - 1 - j) != NULL)
					break;
				j = k + 1;
			}
			if (j > i) {
				buf_add(out, p + i, j - i);
				i = j;
				continue;
			}
		}
		if (cs->cr) {
			/* A CR ends a line whether or not LF follows. */
			buf_add(out, "\r\n", 2);
			cs->cr = 0;
			cs->bol = 1;
			if (ch == '\n') {
				i++;
				continue;
			}
		}
		if (ch == '\r') {
			cs->cr = 1;
			i++;
			continue;
		}
		if (ch == '\n') {
			/* A bare LF. */
			buf_add(out, "\r\n", 2);
			cs->bol = 1;
			i++;
			continue;
		}
		if (cs->bol && ch == '.' && cs->stuff)
			buf_addch(out, '.');
		cs->bol = 0;
		/* Copy the rest of the line in one go, with its CRLF when it
		   has one (the queue stores CRLF: the usual case). */
		for (run = i + 1; run < n && p[run] != '\r' && p[run] != '\n';
		    run++)
			;
		if (run + 1 < n && p[run] == '\r' && p[run + 1] == '\n') {
			buf_add(out, p + i, run + 2 - i);
			cs->bol = 1;
			i = run + 2;
			continue;
		}
		buf_add(out, p + i, run - i);
		i = run;
	}
}

void
smtp_canon_end(struct smtp_canon *cs, struct buf *out)
{
	if (cs->cr || !cs->bol)
		buf_add(out, "\r\n", 2);
	cs->cr = 0;
	cs->bol = 1;
	if (cs->stuff)
		buf_add(out, ".\r\n", 3);
}

/* ---- small helpers -------------------------------------------------------- */

static int
tmo(const struct smtp *s, int def_sec)
{
	if (s->acct->timeout > 0)
		return s->acct->timeout * 1000;
	return def_sec * 1000;
}

static void
trace(struct smtp *s, const char *dir, const char *line)
{
	if (s->trace != NULL)
		s->trace(s->trace_arg, dir, line);
}

/*
 * Queue one command line (CRLF added) for output.  shown is what the
 * trace says instead of the line (for secrets), or NULL.
 */
static int
send_line(struct smtp *s, const char *line, const char *shown,
    struct rq_err *err)
{
	int rc;

	/* Whatever a queue file holds, one command stays one line. */
	if (strpbrk(line, "\r\n") != NULL) {
		s->dead = 1;
		return rq_errf(err, EX_SOFTWARE, "refusing to send a command "
		    "with a line break to %s", s->host);
	}
	trace(s, "-->", shown != NULL ? shown : line);
	rc = conn_write(s->c, line, strlen(line), err);
	if (rc == 0)
		rc = conn_write(s->c, "\r\n", 2, err);
	if (rc != 0)
		s->dead = 1;
	return rc;
}

static int
send_cmdf(struct smtp *s, struct rq_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
send_cmdf(struct smtp *s, struct rq_err *err, const char *fmt, ...)
{
	va_list ap;

	buf_reset(&s->cmd);
	va_start(ap, fmt);
	buf_vaddf(&s->cmd, fmt, ap);
	va_end(ap);
	return send_line(s, s->cmd.data, NULL, err);
}

/* The end of a message's data is about to leave (smtp_params). */
static void
before_end(struct smtp *s)
{
	if (s->before_end != NULL)
		s->before_end(s->before_end_arg);
}

static int
flush(struct smtp *s, int timeout_ms, struct rq_err *err)
{
	int rc;

	rc = conn_flush(s->c, timeout_ms, err);
	if (rc != 0)
		s->dead = 1;
	return rc;
}

/*
 * Read one reply into r (which is reset first).  With redact, the trace
 * shows only the code of 334 lines (SASL challenges).  A 421 ("service
 * not available, closing") marks the session dead but is returned as a
 * reply: the caller decides what it means for the command that got it.
 */
static int
get_reply(struct smtp *s, struct reply *r, int timeout_ms, int redact,
    struct rq_err *err)
{
	int rc;

	reply_free(r);
	reply_init(r);
	for (;;) {
		rc = conn_getline(s->c, &s->line, REPLY_LINE_MAX + 2,
		    timeout_ms, err);
		if (rc != 0)
			break;
		if (s->trace != NULL) {
			char *t, *e;

			if (redact && s->line.len >= 3 &&
			    memcmp(s->line.data, "334", 3) == 0) {
				t = xasprintf("%.3s ****", s->line.data);
			} else {
				t = xstrndup(s->line.data, s->line.len);
				e = strpbrk(t, "\r\n");
				if (e != NULL)
					*e = '\0';
			}
			trace(s, "<--", t);
			free(t);
		}
		rc = reply_feed(r, s->line.data, s->line.len, err);
		if (rc == 1) {
			if (r->code == 421)
				s->dead = 1;
			return 0;
		}
		if (rc != 0)
			break;
	}
	s->dead = 1;
	rq_errctx(err, "%s", s->host);
	return rc != 0 ? rc : EX_PROTOCOL;
}

/* "HOST rejected WHAT: CODE text" */
static int
fail_reply(struct rq_err *err, const struct reply *r, const char *host,
    const char *what)
{
	char *t = reply_oneline(r);

	rq_errf(err, EX_TEMPFAIL, "%s rejected %s: %s", host, what, t);
	free(t);
	return EX_TEMPFAIL;
}

/* ---- opening a session ---------------------------------------------------- */

static int
ehlo(struct smtp *s, const char *name, int allow_helo, struct rq_err *err)
{
	struct reply r;
	int rc;

	reply_init(&r);
	caps_free(&s->caps);	/* also after HELO: no extensions */
	s->helo = 0;
	rc = send_cmdf(s, err, "EHLO %s", name);
	if (rc == 0)
		rc = flush(s, tmo(s, TMO_EHLO), err);
	if (rc == 0)
		rc = get_reply(s, &r, tmo(s, TMO_EHLO), 0, err);
	if (rc != 0)
		goto out;
	if (r.code == 250) {
		caps_parse(&s->caps, &r);
		goto out;
	}
	if (!allow_helo || (r.code != 500 && r.code != 502)) {
		rc = fail_reply(err, &r, s->host, "EHLO");
		goto out;
	}
	/* An RFC 821 server: HELO, and no extensions at all. */
	rc = send_cmdf(s, err, "HELO %s", name);
	if (rc == 0)
		rc = flush(s, tmo(s, TMO_EHLO), err);
	if (rc == 0)
		rc = get_reply(s, &r, tmo(s, TMO_EHLO), 0, err);
	if (rc == 0 && r.code != 250)
		rc = fail_reply(err, &r, s->host, "HELO");
	if (rc == 0)
		s->helo = 1;
out:
	reply_free(&r);
	return rc;
}

static int
starttls(struct smtp *s, const struct smtp_params *p, const char *vname,
    struct rq_err *err)
{
	struct reply r;
	int rc;

	if (s->helo || !s->caps.starttls)
		return rq_errf(err, EX_TEMPFAIL, "%s does not offer STARTTLS "
		    "and the account requires TLS (not sending anything in "
		    "the clear)", s->host);
	reply_init(&r);
	rc = send_line(s, "STARTTLS", NULL, err);
	if (rc == 0)
		rc = flush(s, tmo(s, TMO_EHLO), err);
	if (rc == 0)
		rc = get_reply(s, &r, tmo(s, TMO_EHLO), 0, err);
	if (rc != 0)
		goto out;
	if (r.code != 220) {
		rc = fail_reply(err, &r, s->host, "STARTTLS");
		goto out;
	}
	/*
	 * Anything already received was sent before the handshake, in the
	 * clear, by whoever is on the path: believing it after TLS is the
	 * response-injection attack (CVE-2011-0411 and its client kin).
	 */
	if (conn_pending(s->c) > 0) {
		rc = rq_errf(err, EX_TEMPFAIL, "%s sent %zu unexpected octets "
		    "after its reply to STARTTLS (possible response "
		    "injection); session abandoned", s->host,
		    conn_pending(s->c));
		goto out;
	}
	rc = conn_starttls(s->c, p->tls, vname, tmo(s, TMO_TLS), err);
	if (rc != 0) {
		s->dead = 1;
		rq_errctx(err, "TLS with %s", s->host);
	}
out:
	reply_free(&r);
	return rc;
}

/* The SASL exchange of RFC 4954. */
static int
authenticate(struct smtp *s, const struct smtp_params *p, struct rq_err *err)
{
	const struct account *a = s->acct;
	struct auth_sess *as = NULL;
	struct buf cb, cb64;
	struct reply r;
	char *resp = NULL, *t;
	const char *mech;
	int rc, have_cb = 0, pending = 0, rounds, srv, plus;

	buf_init(&cb);
	buf_init(&cb64);
	reply_init(&r);
	if (conn_is_tls(s->c) && tls_exporter(conn_tls(s->c), &cb) == 0) {
		have_cb = 1;
		base64_encode(cb.data, cb.len, &cb64);
	}
	rc = auth_choose(a, &s->caps.auth, conn_is_tls(s->c), have_cb, &mech,
	    err);
	if (rc != 0) {
		rq_errctx(err, "cannot authenticate at %s", s->host);
		goto out;
	}
	/* The binding is for -PLUS mechanisms only: handed to plain SCRAM,
	   libgsasl would announce a binding the server cannot use. */
	plus = strlen(mech) > 5 && strcmp(mech + strlen(mech) - 5,
	    "-PLUS") == 0;
	rc = auth_begin(mech, a, p->password, have_cb && plus ? cb64.data :
	    NULL, s->ahost, &as, err);
	if (rc != 0) {
		rq_errctx(err, "cannot authenticate at %s", s->host);
		goto out;
	}

	buf_reset(&s->cmd);
	buf_addf(&s->cmd, "AUTH %s", mech);
	t = xasprintf("AUTH %s", mech);
	if (auth_has_initial(mech)) {
		rc = auth_step(as, NULL, &resp, err);
		if (rc != AUTH_STEP_DONE && rc != AUTH_STEP_MORE) {
			rq_errctx(err, "cannot authenticate at %s", s->host);
			goto out_t;
		}
		rc = 0;
		if (s->cmd.len + 1 + (resp[0] != '\0' ? strlen(resp) : 1) + 2
		    <= CMD_LINE_MAX) {
			buf_addch(&s->cmd, ' ');
			buf_addstr(&s->cmd, resp[0] != '\0' ? resp : "=");
			free(t);
			t = xasprintf("AUTH %s ****", mech);
			free_secret(resp);
			resp = NULL;
		} else {
			/* Too long: send it after the server's first 334. */
			pending = 1;
		}
	}
	rc = send_line(s, s->cmd.data, t, err);
	buf_wipe(&s->cmd);
	if (rc == 0)
		rc = flush(s, tmo(s, TMO_AUTH), err);
	for (rounds = 0; rc == 0; rounds++) {
		rc = get_reply(s, &r, tmo(s, TMO_AUTH), 1, err);
		if (rc != 0)
			break;
		srv = r.code;
		if (srv == 235 && !auth_complete(as)) {
			/* SCRAM: success before the server proved it knows
			   the password is no success. */
			rc = rq_errf(err, EX_TEMPFAIL, "authentication failed "
			    "at %s: it answered 235 before proving it knows "
			    "the password (mechanism %s)", s->host, mech);
			break;
		}
		if (srv == 235)
			break;
		if (srv != 334 || rounds >= AUTH_ROUNDS_MAX) {
			char *o = reply_oneline(&r);

			rc = rq_errf(err, EX_TEMPFAIL, "authentication failed "
			    "at %s: %s (mechanism %s, user %s)", s->host, o,
			    mech, a->user != NULL ? a->user : "(none)");
			free(o);
			if (srv == 334) {
				struct rq_err e2;

				/* Cancel the exchange (RFC 4954 section 4). */
				if (send_line(s, "*", NULL, &e2) == 0)
					(void)flush(s, tmo(s, TMO_AUTH), &e2);
			}
			break;
		}
		if (!pending) {
			free_secret(resp);
			resp = NULL;
			rc = auth_step(as, r.lines.n > 0 ? r.lines.v[0] : "",
			    &resp, err);
			if (rc != AUTH_STEP_DONE && rc != AUTH_STEP_MORE) {
				struct rq_err e2;

				rq_errctx(err, "authentication failed at %s",
				    s->host);
				if (send_line(s, "*", NULL, &e2) == 0)
					(void)flush(s, tmo(s, TMO_AUTH), &e2);
				break;
			}
		}
		pending = 0;
		rc = send_line(s, resp, "****", err);
		free_secret(resp);
		resp = NULL;
		if (rc == 0)
			rc = flush(s, tmo(s, TMO_AUTH), err);
	}
	if (rc == 0)
		s->mech = mech;
out_t:
	free(t);
out:
	free_secret(resp);
	auth_end(as);
	reply_free(&r);
	buf_wipe(&cb);
	buf_wipe(&cb64);
	return rc;
}

int
smtp_open(const struct smtp_params *p, struct smtp **out,
    enum smtp_stage *stage, struct rq_err *err)
{
	const struct account *a = p->acct;
	struct smtp *s;
	struct reply r;
	char *vname = NULL;
	int rc, implicit;

	*out = NULL;
	*stage = SMTP_STAGE_CONNECT;
	s = xcalloc(1, sizeof(*s));
	s->acct = a;
	s->dkim = p->dkim;
	s->host = xstrdup(p->host);
	s->trace = p->trace;
	s->trace_arg = p->trace_arg;
	s->before_end = p->before_end;
	s->before_end_arg = p->before_end_arg;
	caps_init(&s->caps);
	reply_init(&r);
	buf_init(&s->line);
	buf_init(&s->cmd);
	buf_init(&s->out);

	rc = idn_domain_to_ascii(p->host, &s->ahost, err);
	if (rc != 0)
		goto fail;
	/* The certificate is checked against the name as configured. */
	rc = idn_domain_to_ascii(a->tls_host_override != NULL ?
	    a->tls_host_override : p->host, &vname, err);
	if (rc != 0)
		goto fail;

	rc = conn_open(s->ahost, conf_port(a), a->source_ip,
	    tmo(s, TMO_CONNECT), &s->c, err);
	if (rc != 0)
		goto fail;
	trace(s, "---", conn_peer(s->c));
	implicit = a->tls && conf_implicit_tls(a);
	if (implicit) {
		rc = conn_starttls(s->c, p->tls, vname, tmo(s, TMO_TLS), err);
		if (rc != 0) {
			rq_errctx(err, "TLS with %s", s->host);
			s->dead = 1;
			goto fail;
		}
	}

	*stage = SMTP_STAGE_GREETING;
	rc = get_reply(s, &r, tmo(s, TMO_GREETING), 0, err);
	if (rc != 0)
		goto fail;
	s->greeting = reply_oneline(&r);
	if (r.code != 220) {
		rc = rq_errf(err, EX_TEMPFAIL, "%s did not greet us: %s",
		    s->host, s->greeting);
		goto fail;
	}

	*stage = SMTP_STAGE_EHLO;
	rc = ehlo(s, p->ehlo, !a->tls, err);
	if (rc != 0)
		goto fail;

	if (a->tls && !implicit) {
		*stage = SMTP_STAGE_STARTTLS;
		rc = starttls(s, p, vname, err);
		if (rc != 0)
			goto fail;
		/* RFC 3207 section 4.2: forget everything, ask again. */
		*stage = SMTP_STAGE_EHLO;
		rc = ehlo(s, p->ehlo, 0, err);
		if (rc != 0)
			goto fail;
	}

	*stage = SMTP_STAGE_AUTH;
	if (auth_wanted(a)) {
		rc = authenticate(s, p, err);
		if (rc != 0)
			goto fail;
	}
	*stage = SMTP_STAGE_READY;
	free(vname);
	reply_free(&r);
	*out = s;
	return 0;

fail:
	free(vname);
	reply_free(&r);
	if (p->check && *stage > SMTP_STAGE_CONNECT && s->c != NULL) {
		/* --check still wants to show what was learned. */
		*out = s;
		return rc;
	}
	smtp_close(s);
	return rc;
}

const char *
smtp_peer(const struct smtp *s)
{
	return s->c != NULL ? conn_peer(s->c) : s->host;
}

const char *
smtp_tls_version(const struct smtp *s)
{
	if (s->c == NULL || !conn_is_tls(s->c))
		return NULL;
	return tls_version(conn_tls(s->c));
}

const struct caps *
smtp_caps(const struct smtp *s)
{
	return &s->caps;
}

const char *
smtp_greeting(const struct smtp *s)
{
	return s->greeting != NULL ? s->greeting : "";
}

const char *
smtp_auth_mech(const struct smtp *s)
{
	return s->mech;
}

void
smtp_describe_tls(const struct smtp *s, struct buf *out)
{
	if (s->c != NULL && conn_is_tls(s->c))
		tls_describe(conn_tls(s->c), out);
}

/* ---- one message ---------------------------------------------------------- */

void
smtp_result_free(struct smtp_result *res)
{
	size_t i;

	if (res->r != NULL)
		for (i = 0; i < res->n; i++)
			free(res->r[i].reply);
	free(res->r);
	res->r = NULL;
	res->n = 0;
}

static void
set_result(struct smtp_rcpt_result *rr, enum outcome o, const char *text)
{
	free(rr->reply);
	rr->out = o;
	rr->reply = xstrdup(text);
}

/* Every tried recipient still undecided (accepted or not yet answered)
 * gets outcome o with text. */
static void
settle(struct smtp_result *res, const int *state, int which,
    enum outcome o, const char *text)
{
	size_t i;

	for (i = 0; i < res->n; i++)
		if (res->r[i].tried && state[i] == which)
			set_result(&res->r[i], o, text);
}

/* Recipient states inside one transaction. */
enum {
	RS_SKIP = 0,	/* not tried, or decided locally */
	RS_WAIT,	/* RCPT sent, reply not read */
	RS_OK,		/* accepted by RCPT */
	RS_DONE,	/* decided */
	RS_LATER,	/* for the next transaction of this message */
};

/* RFC 5321 section 4.5.3.1.8: servers must take 100 recipients. */
#define RCPT_BATCH	100

static const char *
dsn_ret(const struct smtp *s, const struct envelope *env)
{
	const char *r = s->acct->dsn_return;

	/* Only the two values RFC 3461 defines ever reach the wire. */
	if (env->dsn_ret != NULL)
		return rq_strcasecmp(env->dsn_ret, "HDRS") == 0 ? "HDRS" :
		    rq_strcasecmp(env->dsn_ret, "FULL") == 0 ? "FULL" : NULL;
	if (r == NULL || rq_strcasecmp(r, "off") == 0)
		return NULL;
	if (rq_strcasecmp(r, "headers") == 0 || rq_strcasecmp(r, "hdrs") == 0)
		return "HDRS";
	return "FULL";
}

static void
dsn_notify(const struct smtp *s, const struct envelope *env, struct buf *out)
{
	const char *n = env->dsn_notify;
	const char *p;

	if (n == NULL)
		n = s->acct->dsn_notify;
	if (n == NULL || rq_strcasecmp(n, "off") == 0)
		return;
	/* NEVER or a list of SUCCESS, FAILURE, DELAY: letters and commas. */
	for (p = n; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    *p == ','))
			return;
	buf_addstr(out, " NOTIFY=");
	for (p = n; *p != '\0'; p++)
		buf_addch(out, (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p));
}

/*
 * The transform m's content needs on this session, if any: 1 with *tr
 * filled, 0 for none (the content goes as queued).  The 8BITMIME
 * downgrade plugs in here; signing and sending both call this, each for
 * a fresh transform, so that DKIM signs what is sent.
 */
static int
content_transform_for(struct smtp *s, struct qmsg *m,
    struct content_transform *tr)
{
	(void)m;
	memset(tr, 0, sizeof(*tr));
	if (s->plan == NULL)
		return 0;
	/* downgrade() planned the conversion for this server. */
	dg_transform(s->plan, tr);
	return 1;
}

/*
 * The content pipeline for m on this session (content.h): the one place
 * that decides what goes on the wire instead of the file as queued.
 */
static int
open_content(struct smtp *s, struct qmsg *m, const char *prefix,
    struct content **out, struct rq_err *err)
{
	struct content_transform tr;

	return content_open(m, content_transform_for(s, m, &tr) ? &tr : NULL,
	    prefix, out, err);
}

/*
 * The DKIM-Signature field m gets on this session, or NULL (no signer,
 * or already signed for our domain), made from the pipeline that
 * open_content() will use.
 */
static int
sign_content(struct smtp *s, struct qmsg *m, char **field,
    struct rq_err *err)
{
	struct content_transform tr;

	*field = NULL;
	if (s->dkim == NULL)
		return 0;
	return content_dkim(m, content_transform_for(s, m, &tr) ? &tr : NULL,
	    s->dkim, (long long)rq_now(), field, err);
}

/*
 * Stream the content: DATA's dot-stuffed form ending in ".", or BDAT
 * chunks.  Returns 0, or an EX_ code with the session dead.
 */
static int
send_content(struct smtp *s, struct qmsg *m, const char *prefix, int bdat,
    struct reply *r, struct rq_err *err)
{
	struct smtp_canon cs;
	struct content *c = NULL;
	ssize_t got;
	int rc, end = 0;

	smtp_canon_init(&cs, !bdat);
	buf_reset(&s->out);
	if (s->rbuf == NULL)
		s->rbuf = xmalloc(READ_CHUNK);
	if (!bdat) {
		char t[64];

		(void)snprintf(t, sizeof(t), "[%lld octets of content%s]",
		    s->send_size + (long long)(prefix != NULL ?
		    strlen(prefix) : 0), s->plan != NULL ?
		    " at most, converted" : "");
		trace(s, "-->", t);
	}
	rc = open_content(s, m, prefix, &c, err);
	while (rc == 0) {
		got = content_read(c, s->rbuf, READ_CHUNK, err);
		if (got < 0) {
			rc = err->ex;
			break;
		}
		if (got > 0)
			smtp_canon_feed(&cs, s->rbuf, (size_t)got, &s->out);
		else {
			smtp_canon_end(&cs, &s->out);
			end = 1;
		}
		if (!bdat) {
			if (end)
				before_end(s);
			if (s->out.len >= READ_CHUNK || end) {
				rc = conn_write(s->c, s->out.data, s->out.len,
				    err);
				buf_reset(&s->out);
			}
			if (end)
				break;
			continue;
		}
		if (s->out.len < BDAT_CHUNK && !end)
			continue;
		/* One BDAT: the command, its octets, its reply. */
		if (end)
			before_end(s);
		buf_reset(&s->cmd);
		buf_addf(&s->cmd, "BDAT %zu%s", s->out.len,
		    end ? " LAST" : "");
		rc = send_line(s, s->cmd.data, NULL, err);
		if (rc == 0)
			rc = conn_write(s->c, s->out.data, s->out.len, err);
		buf_reset(&s->out);
		if (rc == 0)
			rc = flush(s, tmo(s, TMO_BLOCK), err);
		if (rc == 0)
			rc = get_reply(s, r, tmo(s, end ? TMO_DOT :
			    TMO_BLOCK), 0, err);
		if (rc != 0 || end || r->code / 100 != 2)
			break;
	}
	content_close(c);
	if (rc == 0 && !bdat) {
		/* The tail and the final dot leave in one segment. */
		rc = flush(s, tmo(s, TMO_BLOCK), err);
		if (rc == 0)
			rc = get_reply(s, r, tmo(s, TMO_DOT), 0, err);
	}
	if (rc != 0) {
		/* Mid-content, the only safe end is to hang up. */
		s->dead = 1;
		if (rc != EX_TEMPFAIL && rc != EX_PROTOCOL)
			rc = EX_TEMPFAIL;
	}
	return rc;
}

static int
has_ctl(const char *p)
{
	for (; *p != '\0'; p++)
		if (rq_iscntrl((unsigned char)*p))
			return 1;
	return 0;
}

/*
 * RFC 6152 section 3 and RFC 6531 3.2: for a server without 8BITMIME an
 * 8-bit message is converted to 7 bits, and for one without SMTPUTF8 its
 * 8-bit header fields are encoded (downgrade.h).  Plans the conversion
 * into s->plan (NULL: the message goes as queued) and s->send_size.
 * Returns 0, or -1 when the message cannot go (its recipients settled:
 * permanently when it cannot be converted, temporarily when the queue
 * file could not be read).
 */
static int
downgrade(struct smtp *s, struct qmsg *m, struct smtp_result *res,
    int *state)
{
	struct rq_err e;
	struct dg_plan *plan;
	unsigned flags = downgrade_flags(&m->env, s->caps.eightbitmime,
	    s->caps.smtputf8);
	char *t;
	int rc;

	dg_plan_free(s->plan);
	s->plan = NULL;
	s->send_size = m->env.size;
	if (flags == 0)
		return 0;
	rq_errclear(&e);
	rc = downgrade_plan(m, flags, &plan, &e);
	if (rc != 0) {
		if (rc == EX_DATAERR) {
			settle(res, state, RS_WAIT, OUT_PERM, e.msg);
			return -1;
		}
		t = xasprintf("4.3.0 %s", e.msg);
		settle(res, state, RS_WAIT, OUT_TEMP, t);
		free(t);
		return -1;
	}
	if (!dg_plan_changes(plan)) {
		dg_plan_free(plan);
		return 0;
	}
	s->plan = plan;
	s->send_size = dg_plan_size(plan);
	return 0;
}

/*
 * Local decisions made before anything is sent: a message that cannot go
 * to this server as it is fails now, clearly, without a transaction.
 * Fills the addresses to use on the wire; returns the number of
 * recipients left to try.
 */
static size_t
precheck(struct smtp *s, struct qmsg *m, struct smtp_result *res, int *state,
    int *use_utf8, char **sender, char **rcpts)
{
	const struct envelope *env = &m->env;
	struct rq_err e;
	size_t i, left = 0;
	int need_utf8;
	char *t;

	for (i = 0; i < res->n; i++)
		if (res->r[i].tried)
			left++;
	/* The queue is checked at submission; this is the last line. */
	if (has_ctl(env->sender)) {
		settle(res, state, RS_WAIT, OUT_PERM, "5.1.7 the sender "
		    "address has control characters");
		return 0;
	}
	for (i = 0; i < res->n; i++) {
		if (res->r[i].tried && has_ctl(env->rcpts.v[i])) {
			set_result(&res->r[i], OUT_PERM, "5.1.3 the recipient "
			    "address has control characters");
			state[i] = RS_DONE;
			left--;
		}
	}
	if (left == 0)
		return 0;
	if (downgrade(s, m, res, state) != 0)
		return 0;
	if (s->caps.size && s->caps.size_max > 0 &&
	    s->send_size > s->caps.size_max) {
		t = xasprintf("5.3.4 message is %lld octets%s and %s accepts "
		    "at most %lld (SIZE)", s->send_size, s->plan != NULL ?
		    " (at most, converted to 7 bits)" : "", s->host,
		    s->caps.size_max);
		settle(res, state, RS_WAIT, OUT_PERM, t);
		free(t);
		return 0;
	}
	need_utf8 = env->smtputf8 || addr_is_utf8(env->sender);
	for (i = 0; i < res->n; i++)
		if (res->r[i].tried && addr_is_utf8(env->rcpts.v[i]))
			need_utf8 = 1;
	*use_utf8 = need_utf8 && s->caps.smtputf8;
	if (*use_utf8 || !need_utf8) {
		*sender = xstrdup(env->sender);
		for (i = 0; i < res->n; i++)
			rcpts[i] = xstrdup(env->rcpts.v[i]);
		return left;
	}
	/* No SMTPUTF8: domains as A-labels; a UTF-8 local part cannot go. */
	if (idn_addr_to_ascii(env->sender, sender, &e) != 0) {
		t = xasprintf("5.6.7 sender <%s>: %s", env->sender, e.msg);
		settle(res, state, RS_WAIT, OUT_PERM, t);
		free(t);
		return 0;
	}
	for (i = 0; i < res->n; i++) {
		if (!res->r[i].tried)
			continue;
		if (idn_addr_to_ascii(env->rcpts.v[i], &rcpts[i], &e) != 0) {
			t = xasprintf("5.6.7 %s (server %s)", e.msg, s->host);
			set_result(&res->r[i], OUT_PERM, t);
			free(t);
			state[i] = RS_DONE;
			left--;
		}
	}
	return left;
}

/*
 * A message that could not be signed is not sent: its recipients get the
 * transform's own status (its message starts with one), else 5.6.0 for a
 * content that will never sign (EX_DATAERR), else 4.3.0, to try again.
 */
static void
sign_failed(struct smtp_result *res, int *state, const struct rq_err *e)
{
	const char *m = e->msg;
	enum outcome o;
	char *t;

	if ((m[0] == '4' || m[0] == '5') && m[1] == '.' &&
	    m[2] >= '0' && m[2] <= '9') {
		o = m[0] == '5' ? OUT_PERM : OUT_TEMP;
		t = xasprintf("%s", m);
	} else {
		o = e->ex == EX_DATAERR ? OUT_PERM : OUT_TEMP;
		t = xasprintf("%s cannot DKIM-sign the message: %s",
		    o == OUT_PERM ? "5.6.0" : "4.3.0", m);
	}
	settle(res, state, RS_WAIT, o, t);
	free(t);
}

/* One transaction's working state. */
struct txn {
	struct smtp		*s;
	struct qmsg		*m;
	struct smtp_result	*res;
	int			*state;		/* RS_* per recipient */
	char			**rcpts;	/* addresses as sent */
	char			*sender;
	int			 use_utf8;
	char			*dkim;		/* the DKIM-Signature, or NULL */
	struct reply		 r;
	size_t			 accepted;
	char			*mail_text;	/* MAIL's reply when it failed */
	int			 mail_code;
	int			 data_code;
};

/* settle(), and those recipients are decided for this message. */
static void
conclude(struct txn *x, int which, enum outcome o, const char *text)
{
	size_t i;

	settle(x->res, x->state, which, o, text);
	for (i = 0; i < x->res->n; i++)
		if (x->state[i] == which)
			x->state[i] = RS_DONE;
}

static void
mail_command(struct txn *x, struct buf *cmd)
{
	struct smtp *s = x->s;
	const struct envelope *env = &x->m->env;
	const char *ret;

	buf_reset(cmd);
	buf_addf(cmd, "MAIL FROM:<%s>", x->sender);
	if (s->caps.size)
		buf_addf(cmd, " SIZE=%lld", s->send_size + (long long)(x->dkim !=
		    NULL ? strlen(x->dkim) : 0));
	if ((env->eightbit || env->body_8bitmime) && s->caps.eightbitmime)
		buf_addstr(cmd, " BODY=8BITMIME");
	if (x->use_utf8)
		buf_addstr(cmd, " SMTPUTF8");
	if (s->caps.dsn) {
		ret = dsn_ret(s, env);
		if (ret != NULL)
			buf_addf(cmd, " RET=%s", ret);
		if (env->dsn_envid != NULL) {
			buf_addstr(cmd, " ENVID=");
			addr_xtext(env->dsn_envid, cmd);
		}
	}
}

static void
rcpt_command(struct txn *x, size_t i, struct buf *cmd)
{
	buf_reset(cmd);
	buf_addf(cmd, "RCPT TO:<%s>", x->rcpts[i]);
	if (x->s->caps.dsn) {
		dsn_notify(x->s, &x->m->env, cmd);
		buf_addstr(cmd, " ORCPT=rfc822;");
		addr_xtext(x->m->env.rcpts.v[i], cmd);
	}
}

/* What the reply in x->r says about recipient i. */
static void
rcpt_reply(struct txn *x, size_t i)
{
	char *t;

	if (x->r.code / 100 == 2) {
		x->state[i] = RS_OK;
		x->accepted++;
		return;
	}
	t = reply_oneline(&x->r);
	/* 452 (or the old 552) to RCPT is "too many recipients":
	   temporary, and worth the next transaction when some got in. */
	set_result(&x->res->r[i], x->r.code == 552 ? OUT_TEMP :
	    outcome_from_reply(x->r.code), t);
	x->state[i] = (x->r.code == 452 || x->r.code == 552) &&
	    x->accepted > 0 ? RS_LATER : RS_DONE;
	free(t);
}

/* Send a command and read its reply into x->r. */
static int
command(struct txn *x, const char *line, int def_tmo, struct rq_err *err)
{
	struct smtp *s = x->s;
	int rc;

	rc = send_line(s, line, NULL, err);
	if (rc == 0)
		rc = flush(s, tmo(s, def_tmo), err);
	if (rc == 0)
		rc = get_reply(s, &x->r, tmo(s, def_tmo), 0, err);
	return rc;
}

/* The MAIL reply was not 2xx: it decides for every recipient. */
static void
mail_failed(struct txn *x)
{
	conclude(x, RS_WAIT, outcome_from_reply(x->mail_code), x->mail_text);
	x->res->code = x->mail_code;
}

/*
 * The envelope, one command at a time (no PIPELINING).  Returns 0 with
 * x->accepted set (and, without CHUNKING, DATA answered in x->data_code),
 * or an EX_ code for a broken session.
 */
static int
envelope_serial(struct txn *x, struct buf *cmd, int bdat, struct rq_err *err)
{
	struct smtp *s = x->s;
	size_t i;
	int rc;

	if (s->need_rset) {
		rc = command(x, "RSET", TMO_RSET, err);
		if (rc != 0 || s->dead)
			return rc;
	}
	s->need_rset = 1;
	mail_command(x, cmd);
	rc = command(x, cmd->data, TMO_MAIL, err);
	if (rc != 0 || s->dead)
		return rc;
	x->mail_code = x->r.code;
	if (x->r.code / 100 != 2) {
		x->mail_text = reply_oneline(&x->r);
		return 0;
	}
	for (i = 0; i < x->res->n; i++) {
		if (x->state[i] != RS_WAIT)
			continue;
		rcpt_command(x, i, cmd);
		rc = command(x, cmd->data, TMO_RCPT, err);
		if (rc != 0 || s->dead)
			return rc;
		rcpt_reply(x, i);
	}
	if (x->accepted == 0 || bdat)
		return 0;
	rc = command(x, "DATA", TMO_DATA, err);
	if (rc == 0)
		x->data_code = x->r.code;
	return rc;
}

/*
 * The envelope as one group (RFC 2920): [RSET] MAIL RCPT... [DATA] in one
 * write, then every reply, matched to its command by position.
 */
static int
envelope_piped(struct txn *x, struct buf *cmd, int bdat, struct rq_err *err)
{
	struct smtp *s = x->s;
	size_t i;
	int rc, rset;

	/* RSET between messages costs nothing here. */
	rset = s->need_rset || s->nmsgs > 1;
	if (rset) {
		rc = send_line(s, "RSET", NULL, err);
		if (rc != 0)
			return rc;
	}
	s->need_rset = 1;
	mail_command(x, cmd);
	rc = send_line(s, cmd->data, NULL, err);
	for (i = 0; rc == 0 && i < x->res->n; i++) {
		if (x->state[i] != RS_WAIT)
			continue;
		rcpt_command(x, i, cmd);
		rc = send_line(s, cmd->data, NULL, err);
	}
	if (rc == 0 && !bdat)
		rc = send_line(s, "DATA", NULL, err);
	if (rc == 0)
		rc = flush(s, tmo(s, TMO_MAIL), err);
	if (rc == 0 && rset)
		rc = get_reply(s, &x->r, tmo(s, TMO_RSET), 0, err);
	if (rc != 0 || s->dead)
		return rc;
	rc = get_reply(s, &x->r, tmo(s, TMO_MAIL), 0, err);
	if (rc != 0 || s->dead)
		return rc;
	x->mail_code = x->r.code;
	if (x->r.code / 100 != 2)
		x->mail_text = reply_oneline(&x->r);
	for (i = 0; i < x->res->n; i++) {
		if (x->state[i] != RS_WAIT)
			continue;
		rc = get_reply(s, &x->r, tmo(s, TMO_RCPT), 0, err);
		if (rc != 0 || s->dead)
			return rc;
		/* After a failed MAIL the RCPT replies mean nothing. */
		if (x->mail_code / 100 == 2)
			rcpt_reply(x, i);
	}
	if (!bdat) {
		rc = get_reply(s, &x->r, tmo(s, TMO_DATA), 0, err);
		if (rc == 0)
			x->data_code = x->r.code;
	}
	return rc;
}

/*
 * One transaction for the recipients in state RS_WAIT.  Returns 0 (the
 * session may be dead after a 421: s->dead), or an EX_ code when the
 * session broke; x->r then holds the last reply.
 */
static int
transaction(struct txn *x, struct buf *cmd, int bdat, struct rq_err *err)
{
	struct smtp *s = x->s;
	struct smtp_result *res = x->res;
	char *t;
	int rc;

	x->accepted = 0;
	x->mail_code = 0;
	x->data_code = 0;
	free(x->mail_text);
	x->mail_text = NULL;
	s->nmsgs++;
	if (s->caps.pipelining)
		rc = envelope_piped(x, cmd, bdat, err);
	else
		rc = envelope_serial(x, cmd, bdat, err);
	if (rc != 0 || s->dead)
		return rc;

	if (x->mail_code / 100 != 2 || x->accepted == 0) {
		if (x->mail_code / 100 != 2)
			mail_failed(x);
		/* A 354 without recipients still needs its end of data. */
		if (x->data_code == 354) {
			before_end(s);
			rc = command(x, ".", TMO_DOT, err);
		}
		return rc;
	}
	if (!bdat && x->data_code != 354) {
		t = reply_oneline(&x->r);
		conclude(x, RS_OK, x->r.code / 100 == 5 ? OUT_PERM : OUT_TEMP,
		    t);
		free(t);
		res->code = x->r.code;
		if (x->data_code / 100 == 2 || x->data_code / 100 == 3) {
			/* Not a real answer to DATA: hang up, don't guess. */
			s->dead = 1;
			return rq_errf(err, EX_PROTOCOL, "%s answered DATA "
			    "with %d", s->host, x->data_code);
		}
		return 0;
	}

	rc = send_content(s, x->m, x->dkim, bdat, &x->r, err);
	if (rc != 0)
		return rc;
	t = reply_oneline(&x->r);
	res->code = x->r.code;
	conclude(x, RS_OK, outcome_from_reply(x->r.code), t);
	free(t);
	if (x->r.code / 100 == 2)
		s->need_rset = 0;
	return 0;
}

int
smtp_send(struct smtp *s, struct qmsg *m, struct smtp_result *res,
    struct rq_err *err)
{
	struct txn x;
	struct buf cmd;
	struct rq_err e;
	char *t;
	int bdat, rc = 0;
	size_t i, k, nalloc;

	memset(&x, 0, sizeof(x));
	x.s = s;
	x.m = m;
	x.res = res;
	reply_init(&x.r);
	buf_init(&cmd);
	nalloc = m->env.rcpts.n > 0 ? m->env.rcpts.n : 1;
	res->n = m->env.rcpts.n;
	res->r = xcalloc(nalloc, sizeof(*res->r));
	res->code = 0;
	x.state = xcalloc(nalloc, sizeof(*x.state));
	x.rcpts = xcalloc(nalloc, sizeof(*x.rcpts));
	for (i = 0; i < res->n; i++) {
		enum rcpt_status st = m->st.rstatus != NULL ?
		    m->st.rstatus[i] : RCPT_PENDING;

		if (st == RCPT_PENDING || st == RCPT_DEFERRED) {
			res->r[i].tried = 1;
			res->r[i].out = OUT_TEMP;
			x.state[i] = RS_WAIT;
		}
	}
	if (s->dead) {
		rc = rq_errf(err, EX_TEMPFAIL, "session with %s is closed",
		    s->host);
		goto broken;
	}
	if (precheck(s, m, res, x.state, &x.use_utf8, &x.sender,
	    x.rcpts) == 0)
		goto out;
	if (sign_content(s, m, &x.dkim, &e) != 0) {
		sign_failed(res, x.state, &e);
		goto out;
	}
	bdat = s->caps.chunking && !s->helo;

	/*
	 * RFC 5321 section 4.5.3.1.8: at most RCPT_BATCH recipients per
	 * transaction; the others, and those a server put off with "too
	 * many recipients", go in the next transaction of this session.
	 */
	for (;;) {
		for (i = 0, k = 0; i < res->n; i++) {
			if (x.state[i] == RS_LATER)
				x.state[i] = RS_WAIT;
			if (x.state[i] == RS_WAIT && ++k > RCPT_BATCH)
				x.state[i] = RS_LATER;
		}
		if (k == 0)
			break;
		rc = transaction(&x, &cmd, bdat, err);
		if (rc != 0)
			goto broken;
		if (s->dead)
			goto closed;
		/* Without progress the rest waits for another attempt. */
		if (x.accepted == 0)
			break;
	}
	goto out;

closed:
	/* A 421 somewhere: the server is going away. */
	t = reply_oneline(&x.r);
	settle(res, x.state, RS_WAIT, OUT_TEMP, t);
	settle(res, x.state, RS_OK, OUT_TEMP, t);
	rc = rq_errf(err, EX_TEMPFAIL, "%s closed the session: %s", s->host,
	    t);
	free(t);
	goto out;

broken:
	s->dead = 1;
	settle(res, x.state, RS_WAIT, OUT_TEMP, err->msg);
	settle(res, x.state, RS_OK, OUT_TEMP, err->msg);
	if (rc == 0)
		rc = EX_TEMPFAIL;

out:
	for (i = 0; i < res->n; i++) {
		if (res->r[i].tried && res->r[i].reply == NULL)
			set_result(&res->r[i], OUT_TEMP, "4.4.2 session "
			    "ended before this recipient was tried");
		free(x.rcpts[i]);
	}
	free(x.rcpts);
	free(x.state);
	free(x.sender);
	free(x.mail_text);
	free(x.dkim);
	buf_free(&cmd);
	reply_free(&x.r);
	dg_plan_free(s->plan);
	s->plan = NULL;
	return rc;
}

/* ---- the end of a session ----------------------------------------------- */

static void
smtp_free(struct smtp *s, int quiet)
{
	if (quiet)
		conn_discard(s->c);
	else
		conn_close(s->c);
	caps_free(&s->caps);
	buf_free(&s->line);
	buf_wipe(&s->cmd);
	buf_free(&s->out);
	free(s->rbuf);
	free(s->greeting);
	free(s->host);
	free(s->ahost);
	free(s);
}

void
smtp_close(struct smtp *s)
{
	struct rq_err e;
	struct reply r;
	int t;

	if (s == NULL)
		return;
	if (s->c != NULL && !s->dead) {
		/* Briefly: the account's timeout when it is shorter. */
		t = tmo(s, TMO_QUIT);
		if (t > TMO_QUIT * 1000)
			t = TMO_QUIT * 1000;
		reply_init(&r);
		if (send_line(s, "QUIT", NULL, &e) == 0 &&
		    flush(s, t, &e) == 0)
			(void)get_reply(s, &r, t, 0, &e);
		reply_free(&r);
	}
	smtp_free(s, 0);
}

void
smtp_abort(struct smtp *s)
{
	if (s != NULL)
		smtp_free(s, 0);
}

void
smtp_discard(struct smtp *s)
{
	if (s != NULL)
		smtp_free(s, 1);
}
