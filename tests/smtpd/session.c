/*
 * rq-testsmtpd -- one SMTP session: RFC 5321 server side, as scripted.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Implements just enough of RFC 5321 (EHLO/HELO, MAIL, RCPT, DATA, RSET,
 * NOOP, VRFY, HELP, QUIT), RFC 3207 STARTTLS, RFC 4954 AUTH, RFC 3030 BDAT,
 * RFC 1870 SIZE and RFC 2920 pipelining (commands are read from a buffer as
 * they come and answered in order) to be a believable peer, and lets the
 * script replace any reply.  The default replies check state so that a
 * client which skips a step is told so, as a real server would.
 *
 * Every response goes through respond(): a "delay" rule first, then the
 * scripted response (reply/raw/endless/disconnect/hang) or the default,
 * then a "disconnect-after" rule.  State changes follow the code that was
 * actually sent, so "reply MAIL 250 ok" before EHLO opens a transaction.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "smtpd.h"

unsigned int *sd_msg_counter;

#define MAX_VERBS	64
#define BODY_CHUNK	65536
#define ENV_MAX		(16 * 1024 * 1024)	/* msg-N.env stops growing here */

struct verbcount {
	char	verb[32];
	int	n;
};

struct sess {
	struct sd_conn			 c;
	const struct sd_script		*s;
	const char			*outdir;
	int				 n;		/* session number */
	int				 helo;		/* EHLO/HELO accepted */
	int				 tls;
	int				 authed;
	int				 in_mail;
	int				 nrcpt;
	int				 bdat;		/* a BDAT transaction is open */
	int				 msgs;		/* bodies started (BODY#n) */
	int				 dots;		/* bodies ended (DOT#n) */
	int				 accepted;
	int				 pipelined;	/* commands with more input behind */
	int				 tmpfd;
	char				 tmppath[4200];
	long long			 bodylen;	/* stored bytes of this body */
	long long			 bodyraw;	/* raw bytes of this body */
	long long			 body_limit;	/* disconnect BODY n; -1 none */
	struct sbuf			 env;
	struct sbuf			 info;
	const char			*end;
	struct verbcount		 counts[MAX_VERBS];
	size_t				 ncounts;
};

/* Returned by the handlers: keep going, or the session is over. */
enum { GO = 0, STOP = -1 };

static int
count_verb(struct sess *ss, const char *verb)
{
	size_t i;

	for (i = 0; i < ss->ncounts; i++)
		if (strcmp(ss->counts[i].verb, verb) == 0)
			return ++ss->counts[i].n;
	if (ss->ncounts == MAX_VERBS)
		return 0;	/* a client spraying junk verbs: stop counting */
	snprintf(ss->counts[ss->ncounts].verb, sizeof(ss->counts[0].verb),
	    "%s", verb);
	ss->counts[ss->ncounts].n = 1;
	return ss->counts[ss->ncounts++].n;
}

static void
log_bytes(const char *dir, const void *p, size_t n)
{
	struct sbuf b = { 0 };

	if (!sd_verbose)
		return;
	sd_escape(&b, p, n, 300);
	sd_log("%s %s", dir, b.data ? b.data : "");
	sbuf_free(&b);
}

/* Write one item count times, batching small strings; -1 when gone. */
static int
send_item(struct sess *ss, const struct sd_item *it)
{
	struct sbuf chunk = { 0 };
	long long left = it->count, per;
	int rc = 0;

	if (it->len == 0 || it->count == 0)
		return 0;
	if (it->count == 1)
		return conn_write(&ss->c, it->data, it->len);
	per = it->len >= BODY_CHUNK ? 1 : (long long)(BODY_CHUNK / it->len);
	if (it->count > 0 && per > it->count)
		per = it->count;
	for (long long i = 0; i < per; i++)
		sbuf_add(&chunk, it->data, it->len);
	while (it->count < 0 || left > 0) {
		long long k = per;

		if (it->count > 0 && k > left)
			k = left;
		if (conn_write(&ss->c, chunk.data, (size_t)k * it->len) != 0) {
			rc = -1;
			break;
		}
		if (it->count > 0)
			left -= k;
	}
	sbuf_free(&chunk);
	return rc;
}

/*
 * The code the response to verb would start with: the first three bytes
 * of the scripted items or of deflt; "" when the script closes or hangs.
 */
static void
planned_code(struct sess *ss, const char *verb, int nth, const char *deflt,
    char code[4])
{
	const struct sd_rule *r;
	const char *p = deflt;
	size_t n = strlen(deflt);

	r = script_find(ss->s, K_RESPOND, verb, ss->n, nth);
	if (r != NULL && r->action != A_SEND) {
		code[0] = '\0';
		return;
	}
	if (r != NULL) {
		p = r->items[0].data;
		n = r->items[0].len;
	}
	if (n > 3)
		n = 3;
	memcpy(code, p, n);
	code[n] = '\0';
}

/*
 * Answer verb (its nth occurrence in this session).  deflt is the default
 * reply including CRLF.  code receives the first three bytes sent ("" if
 * nothing).  Returns GO, or STOP when the connection is to end.
 */
static int
respond(struct sess *ss, const char *verb, int nth, const char *deflt,
    char code[4])
{
	const struct sd_rule *r;
	char dummy[4];

	if (code == NULL)
		code = dummy;
	code[0] = '\0';
	r = script_find(ss->s, K_DELAY, verb, ss->n, nth);
	if (r != NULL) {
		sd_log("delay %s %.3fs", verb, r->delay);
		sd_sleep(r->delay);
	}
	r = script_find(ss->s, K_RESPOND, verb, ss->n, nth);
	if (r != NULL && r->action == A_CLOSE) {
		sd_log("script: disconnect at %s", verb);
		ss->end = "script";
		return STOP;
	}
	if (r != NULL && r->action == A_HANG) {
		sd_log("script: hang at %s", verb);
		conn_drain(&ss->c);
		ss->end = "script-hang";
		return STOP;
	}
	if (r != NULL) {
		size_t i;

		planned_code(ss, verb, nth, deflt, code);
		for (i = 0; i < r->nitems; i++) {
			log_bytes("S:", r->items[i].data, r->items[i].len);
			if (r->items[i].count != 1)
				sd_log("   (%lld times; -1: forever)",
				    r->items[i].count);
			if (send_item(ss, &r->items[i]) != 0) {
				ss->end = "write-error";
				return STOP;
			}
		}
	} else if (deflt != NULL) {
		planned_code(ss, verb, nth, deflt, code);
		log_bytes("S:", deflt, strlen(deflt));
		if (conn_write(&ss->c, deflt, strlen(deflt)) != 0) {
			ss->end = "write-error";
			return STOP;
		}
	}
	r = script_find(ss->s, K_AFTER, verb, ss->n, nth);
	if (r != NULL) {
		sd_log("script: disconnect after %s", verb);
		ss->end = "script-after";
		return STOP;
	}
	return GO;
}

static void
reset_transaction(struct sess *ss)
{
	ss->in_mail = 0;
	ss->nrcpt = 0;
	ss->bdat = 0;
	ss->env.len = 0;
	if (ss->tmpfd >= 0) {
		close(ss->tmpfd);
		unlink(ss->tmppath);
		ss->tmpfd = -1;
	}
}

static const struct sd_caps *
caps(struct sess *ss)
{
	return ss->tls ? &ss->s->ehlo_tls : &ss->s->ehlo;
}

/* The capability line starting with word, or NULL. */
static const char *
cap_find(struct sess *ss, const char *word)
{
	const struct sd_caps *c = caps(ss);
	size_t i, n = strlen(word);

	for (i = 0; i < c->n; i++)
		if (strncasecmp(c->v[i], word, n) == 0 &&
		    (c->v[i][n] == '\0' || c->v[i][n] == ' '))
			return c->v[i];
	return NULL;
}

/* SIZE limit advertised now, or -1. */
static long long
size_limit(struct sess *ss)
{
	const char *c = cap_find(ss, "SIZE");
	long long v;

	if (c == NULL || c[4] != ' ')
		return -1;
	v = strtoll(c + 5, NULL, 10);
	return v > 0 ? v : -1;
}

static int
do_ehlo(struct sess *ss, const char *verb, int nth, const char *arg)
{
	struct sbuf b = { 0 };
	const struct sd_caps *c = caps(ss);
	char code[4];
	size_t i;
	int rc;

	if (*arg == '\0')
		sbuf_addf(&b, "501 5.5.4 %s needs a domain\r\n", verb);
	else if (strcmp(verb, "HELO") == 0)
		sbuf_addf(&b, "250 %s\r\n", ss->s->hostname);
	else if (c->n == 0)
		sbuf_addf(&b, "250 %s greets %s\r\n", ss->s->hostname, arg);
	else {
		sbuf_addf(&b, "250-%s greets %s\r\n", ss->s->hostname, arg);
		for (i = 0; i < c->n; i++)
			sbuf_addf(&b, "250%c%s\r\n", i + 1 == c->n ? ' ' : '-',
			    c->v[i]);
	}
	rc = respond(ss, verb, nth, b.data, code);
	sbuf_free(&b);
	if (code[0] == '2') {
		ss->helo = 1;
		reset_transaction(ss);
	}
	return rc;
}

/* MAIL FROM:<path> params / RCPT TO:<path> params: the prefix and a <. */
static int
path_ok(const char *arg, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncasecmp(arg, prefix, n) != 0)
		return 0;
	arg += n;
	while (*arg == ' ')
		arg++;
	return *arg == '<' && strchr(arg, '>') != NULL;
}

static int
do_mail(struct sess *ss, int nth, const char *line, const char *arg)
{
	const char *deflt = "250 2.1.0 Ok\r\n";
	const char *sz = strcasestr(arg, " SIZE=");
	long long lim = size_limit(ss);
	char code[4];
	int rc;

	if (!ss->helo)
		deflt = "503 5.5.1 Send EHLO first\r\n";
	else if (ss->in_mail)
		deflt = "503 5.5.1 Nested MAIL command\r\n";
	else if (!path_ok(arg, "FROM:"))
		deflt = "501 5.5.4 Syntax: MAIL FROM:<address>\r\n";
	else if (lim > 0 && sz != NULL && strtoll(sz + 6, NULL, 10) > lim)
		deflt = "552 5.3.4 Message size exceeds fixed limit\r\n";
	rc = respond(ss, "MAIL", nth, deflt, code);
	if (code[0] == '2') {
		reset_transaction(ss);
		ss->in_mail = 1;
		sbuf_addstr(&ss->env, line);
		sbuf_add(&ss->env, "\n", 1);
	}
	return rc;
}

static int
do_rcpt(struct sess *ss, int nth, const char *line, const char *arg)
{
	const char *deflt = "250 2.1.5 Ok\r\n";
	char code[4];
	int rc;

	if (!ss->in_mail)
		deflt = "503 5.5.1 Need MAIL before RCPT\r\n";
	else if (!path_ok(arg, "TO:"))
		deflt = "501 5.5.4 Syntax: RCPT TO:<address>\r\n";
	rc = respond(ss, "RCPT", nth, deflt, code);
	if (code[0] == '2') {
		ss->nrcpt++;
		if (ss->env.len < ENV_MAX) {
			sbuf_addstr(&ss->env, line);
			sbuf_add(&ss->env, "\n", 1);
		}
	}
	return rc;
}

static int
open_body(struct sess *ss)
{
	const struct sd_rule *r;

	ss->msgs++;
	ss->bodylen = ss->bodyraw = 0;
	r = script_find(ss->s, K_RESPOND, "BODY", ss->n, ss->msgs);
	ss->body_limit = r != NULL && r->action == A_CLOSE ? r->bytes : -1;
	snprintf(ss->tmppath, sizeof(ss->tmppath), "%s/.tmp-%d-%d",
	    ss->outdir, ss->n, ss->msgs);
	ss->tmpfd = open(ss->tmppath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644);
	if (ss->tmpfd < 0) {
		sd_warn("%s: %s", ss->tmppath, strerror(errno));
		return -1;
	}
	return 0;
}

static void
store_body(struct sess *ss, const char *p, size_t n)
{
	if (ss->bodylen + (long long)n > ss->s->max_message) {
		/* Keep counting so the final reply can say "too big". */
		ss->bodylen += (long long)n;
		return;
	}
	if (ss->tmpfd >= 0 && sd_write_all(ss->tmpfd, p, n) != 0)
		sd_warn("write %s: %s", ss->tmppath, strerror(errno));
	ss->bodylen += (long long)n;
}

/* Rename the body into place as msg-N.eml with msg-N.env beside it. */
static void
accept_message(struct sess *ss)
{
	char path[4200];
	unsigned int id;
	int fd;

	id = __atomic_add_fetch(sd_msg_counter, 1, __ATOMIC_SEQ_CST);
	snprintf(path, sizeof(path), "%s/msg-%u.env", ss->outdir, id);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || sd_write_all(fd, ss->env.data ? ss->env.data : "",
	    ss->env.len) != 0)
		sd_warn("%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (ss->tmpfd >= 0) {
		close(ss->tmpfd);
		ss->tmpfd = -1;
		snprintf(path, sizeof(path), "%s/msg-%u.eml", ss->outdir, id);
		if (rename(ss->tmppath, path) != 0)
			sd_warn("rename %s: %s", path, strerror(errno));
	}
	ss->accepted++;
	sd_log("accepted message %u (%lld bytes)", id, ss->bodylen);
}

/*
 * The final reply to a body (end of DATA, or BDAT LAST), under verb:
 * the message is stored only if that reply is a 2xx.
 */
static int
finish_body(struct sess *ss, const char *verb, int nth)
{
	struct sbuf b = { 0 };
	long long lim = size_limit(ss);
	char code[4];
	int rc;

	if (ss->bodylen > ss->s->max_message || (lim > 0 && ss->bodylen > lim))
		sbuf_addstr(&b, "552 5.3.4 Message size exceeds fixed limit\r\n");
	else
		sbuf_addf(&b, "250 2.0.0 Ok: %lld bytes queued as %d.%d\r\n",
		    ss->bodylen, ss->n, ss->msgs);
	planned_code(ss, verb, nth, b.data, code);
	if (code[0] == '2')
		accept_message(ss);
	rc = respond(ss, verb, nth, b.data, NULL);
	sbuf_free(&b);
	reset_transaction(ss);
	return rc;
}

/* Count raw body bytes against "disconnect BODY n"; 1 when reached. */
static int
body_cut(struct sess *ss)
{
	if (ss->body_limit >= 0 && ss->bodyraw >= ss->body_limit) {
		sd_log("script: disconnect after %lld body bytes", ss->bodyraw);
		ss->end = "script-body";
		return 1;
	}
	return 0;
}

/*
 * DATA's body: lines end with CRLF only; a line "." ends it and a leading
 * dot is removed (RFC 5321 4.5.2).  Bare CR and LF are data, kept as they
 * came, so the transcript and the stored message show any smuggling.
 */
static int
read_data(struct sess *ss)
{
	struct sbuf seg = { 0 };
	int bol = 1;		/* the previous bytes ended with CRLF */
	char last = '\0';	/* last byte of the previous segment */
	int rc = STOP;

	if (open_body(ss) != 0)
		ss->tmpfd = -1;
	for (;;) {
		size_t max = BODY_CHUNK;
		int r;

		if (body_cut(ss))
			goto out;
		if (ss->body_limit >= 0 &&
		    (long long)max > ss->body_limit - ss->bodyraw)
			max = (size_t)(ss->body_limit - ss->bodyraw);
		r = conn_getline(&ss->c, &seg, max);
		if (r == 0) {
			ss->end = "client-closed-in-data";
			goto out;
		}
		ss->bodyraw += (long long)seg.len;
		if (bol && seg.len == 3 && memcmp(seg.data, ".\r\n", 3) == 0)
			break;
		if (bol && seg.data[0] == '.')
			store_body(ss, seg.data + 1, seg.len - 1);
		else
			store_body(ss, seg.data, seg.len);
		if (seg.len >= 2)
			bol = seg.data[seg.len - 1] == '\n' &&
			    seg.data[seg.len - 2] == '\r';
		else
			bol = seg.data[0] == '\n' && last == '\r';
		last = seg.data[seg.len - 1];
	}
	rc = finish_body(ss, "DOT", ++ss->dots);
out:
	sbuf_free(&seg);
	return rc;
}

static int
do_data(struct sess *ss, int nth)
{
	const char *deflt = "354 End data with <CR><LF>.<CR><LF>\r\n";
	char code[4];
	int rc;

	if (ss->bdat)
		deflt = "503 5.5.1 DATA after BDAT\r\n";
	else if (!ss->in_mail)
		deflt = "503 5.5.1 Need MAIL command\r\n";
	else if (ss->nrcpt == 0)
		deflt = "554 5.5.1 No valid recipients\r\n";
	rc = respond(ss, "DATA", nth, deflt, code);
	if (rc != GO || strcmp(code, "354") != 0)
		return rc;
	return read_data(ss);
}

/* Whether the script has any rule for verb at this occurrence. */
static int
has_rule(struct sess *ss, const char *verb, int nth)
{
	return script_find(ss->s, K_RESPOND, verb, ss->n, nth) != NULL ||
	    script_find(ss->s, K_DELAY, verb, ss->n, nth) != NULL ||
	    script_find(ss->s, K_AFTER, verb, ss->n, nth) != NULL;
}

/*
 * BDAT n [LAST]: the n octets always follow the command, whatever the
 * reply, so they are read (and stored when a transaction is open) first.
 */
static int
do_bdat(struct sess *ss, int nth, const char *arg)
{
	struct sbuf chunk = { 0 };
	const char *deflt = NULL;
	char *end;
	long long n, left;
	int last = 0;

	errno = 0;
	n = strtoll(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || errno != 0 || n < 0 ||
	    (*end != '\0' && *end != ' '))
		return respond(ss, "BDAT", nth,
		    "501 5.5.4 Syntax: BDAT size [LAST]\r\n", NULL);
	while (*end == ' ')
		end++;
	if (strcasecmp(end, "LAST") == 0)
		last = 1;
	else if (*end != '\0')
		return respond(ss, "BDAT", nth,
		    "501 5.5.4 Syntax: BDAT size [LAST]\r\n", NULL);

	if (!ss->in_mail || ss->nrcpt == 0)
		deflt = !ss->in_mail ? "503 5.5.1 Need MAIL command\r\n" :
		    "554 5.5.1 No valid recipients\r\n";
	else if (!ss->bdat) {
		ss->bdat = 1;
		if (open_body(ss) != 0)
			ss->tmpfd = -1;
	}
	for (left = n; left > 0; ) {
		size_t want = left > BODY_CHUNK ? BODY_CHUNK : (size_t)left;
		size_t got;

		if (ss->bdat) {
			if (body_cut(ss)) {
				sbuf_free(&chunk);
				return STOP;
			}
			if (ss->body_limit >= 0 &&
			    (long long)want > ss->body_limit - ss->bodyraw)
				want = (size_t)(ss->body_limit - ss->bodyraw);
		}
		chunk.len = 0;
		got = conn_read(&ss->c, &chunk, want);
		if (got == 0) {
			sbuf_free(&chunk);
			ss->end = "client-closed-in-bdat";
			return STOP;
		}
		if (ss->bdat) {
			ss->bodyraw += (long long)got;
			store_body(ss, chunk.data, got);
		}
		left -= (long long)got;
	}
	sbuf_free(&chunk);
	if (ss->bdat && body_cut(ss))
		return STOP;
	if (deflt != NULL)
		return respond(ss, "BDAT", nth, deflt, NULL);
	if (last) {
		int dot = ++ss->dots;

		if (has_rule(ss, "BDAT", nth))
			return finish_body(ss, "BDAT", nth);
		return finish_body(ss, "DOT", dot);
	}
	{
		char msg[128];

		snprintf(msg, sizeof(msg), "250 2.0.0 %lld octets received\r\n",
		    n);
		return respond(ss, "BDAT", nth, msg, NULL);
	}
}

static int
do_starttls(struct sess *ss, int nth)
{
	const char *deflt = "220 2.0.0 Ready to start TLS\r\n";
	int possible = ss->s->tls_cert != NULL && !ss->tls;
	char code[4];
	size_t early;
	int rc;

	if (ss->tls)
		deflt = "503 5.5.1 TLS already active\r\n";
	else if (ss->s->tls_cert == NULL)
		deflt = "454 4.7.0 TLS not available\r\n";
	rc = respond(ss, "STARTTLS", nth, deflt, code);
	if (rc != GO || !possible || strcmp(code, "220") != 0)
		return rc;
	/*
	 * Whatever the client sent after STARTTLS in the clear must not be
	 * read as if it came over TLS (CVE-2011-0411); it is in the .plain
	 * transcript, and counted here for the tests.
	 */
	early = conn_drop_pending(&ss->c);
	sbuf_addf(&ss->info, "starttls_pipelined=%zu\n", early);
	conn_records_tls(&ss->c);
	if (tls_start(&ss->c, ss->s, &ss->info) != 0) {
		ss->end = "tls-failed";
		return STOP;
	}
	sbuf_addstr(&ss->info, "tls=starttls\n");
	ss->tls = 1;
	ss->helo = 0;
	ss->authed = 0;
	reset_transaction(ss);
	return respond(ss, "TLS", 1, NULL, NULL);
}

static int
do_auth(struct sess *ss, int nth, const char *arg)
{
	const char *mechs = cap_find(ss, "AUTH");
	char mech[64], *sp;
	const char *initial = NULL;
	const struct sd_rule *r;
	size_t i;
	int found = 0, res;

	snprintf(mech, sizeof(mech), "%s", arg);
	sp = strchr(mech, ' ');
	if (sp != NULL) {
		*sp = '\0';
		initial = arg + (sp - mech) + 1;
	}
	for (i = 0; mech[i] != '\0'; i++)
		if (mech[i] >= 'a' && mech[i] <= 'z')
			mech[i] = (char)(mech[i] - 'a' + 'A');
	r = script_find(ss->s, K_RESPOND, "AUTH", ss->n, nth);
	if (r != NULL || !ss->helo || ss->authed || mech[0] == '\0') {
		char code[4];
		int rc;

		rc = respond(ss, "AUTH", nth,
		    !ss->helo ? "503 5.5.1 Send EHLO first\r\n" :
		    ss->authed ? "503 5.5.1 Already authenticated\r\n" :
		    "501 5.5.4 Syntax: AUTH mechanism\r\n", code);
		/* A scripted 235 counts as a login, without any exchange. */
		if (r != NULL && code[0] == '2')
			ss->authed = 1;
		return rc;
	}
	/* Only what the current EHLO advertised may be used. */
	if (mechs != NULL) {
		const char *p = mechs + 4;
		size_t n = strlen(mech);

		for (;;) {
			p = strcasestr(p, mech);
			if (p == NULL)
				break;
			if (p[-1] == ' ' && (p[n] == ' ' || p[n] == '\0'))
				found = 1;
			p += n;
		}
	}
	if (!found || !auth_supported(mech))
		return respond(ss, "AUTH", nth,
		    "504 5.5.4 Unrecognized authentication type\r\n", NULL);
	r = script_find(ss->s, K_DELAY, "AUTH", ss->n, nth);
	if (r != NULL)
		sd_sleep(r->delay);
	res = auth_run(&ss->c, ss->s, mech, initial, &ss->info);
	if (res < 0) {
		ss->end = "client-closed-in-auth";
		return STOP;
	}
	if (res > 0)
		ss->authed = 1;
	if (script_find(ss->s, K_AFTER, "AUTH", ss->n, nth) != NULL) {
		ss->end = "script-after";
		return STOP;
	}
	return GO;
}

/* One command line (CRLF removed); returns GO or STOP. */
static int
command(struct sess *ss, const char *line)
{
	char verb[32];
	const char *arg;
	size_t i;
	int nth;

	for (i = 0; line[i] != '\0' && line[i] != ' ' &&
	    i + 1 < sizeof(verb); i++)
		verb[i] = (char)(line[i] >= 'a' && line[i] <= 'z' ?
		    line[i] - 'a' + 'A' : line[i]);
	verb[i] = '\0';
	arg = line + strcspn(line, " ");
	while (*arg == ' ')
		arg++;
	nth = count_verb(ss, verb);

	if (strcmp(verb, "EHLO") == 0 || strcmp(verb, "HELO") == 0)
		return do_ehlo(ss, verb, nth, arg);
	if (strcmp(verb, "MAIL") == 0)
		return do_mail(ss, nth, line, arg);
	if (strcmp(verb, "RCPT") == 0)
		return do_rcpt(ss, nth, line, arg);
	if (strcmp(verb, "DATA") == 0)
		return do_data(ss, nth);
	if (strcmp(verb, "BDAT") == 0)
		return do_bdat(ss, nth, arg);
	if (strcmp(verb, "STARTTLS") == 0)
		return do_starttls(ss, nth);
	if (strcmp(verb, "AUTH") == 0)
		return do_auth(ss, nth, arg);
	if (strcmp(verb, "RSET") == 0) {
		reset_transaction(ss);
		return respond(ss, verb, nth, "250 2.0.0 Ok\r\n", NULL);
	}
	if (strcmp(verb, "NOOP") == 0)
		return respond(ss, verb, nth, "250 2.0.0 Ok\r\n", NULL);
	if (strcmp(verb, "VRFY") == 0)
		return respond(ss, verb, nth,
		    "252 2.5.2 Cannot VRFY user\r\n", NULL);
	if (strcmp(verb, "HELP") == 0)
		return respond(ss, verb, nth, "214 2.0.0 See RFC 5321\r\n",
		    NULL);
	if (strcmp(verb, "QUIT") == 0) {
		if (respond(ss, verb, nth, "221 2.0.0 Bye\r\n", NULL) == GO)
			ss->end = "quit";
		return STOP;
	}
	return respond(ss, verb[0] != '\0' ? verb : "EMPTY", nth,
	    "500 5.5.2 Command unrecognized\r\n", NULL);
}

static void
write_info(struct sess *ss)
{
	char path[4200], tmp[4200];
	int fd;

	sbuf_addf(&ss->info, "messages=%d\npipelined=%d\nin_bytes=%lld\n"
	    "out_bytes=%lld\nend=%s\n", ss->accepted, ss->pipelined, ss->c.nin,
	    ss->c.nout,
	    ss->end != NULL ? ss->end : "client-closed");
	snprintf(tmp, sizeof(tmp), "%s/.conn-%d.info", ss->outdir, ss->n);
	snprintf(path, sizeof(path), "%s/conn-%d.info", ss->outdir, ss->n);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || sd_write_all(fd, ss->info.data, ss->info.len) != 0 ||
	    close(fd) != 0 || rename(tmp, path) != 0)
		sd_warn("%s: %s", path, strerror(errno));
}

void
session_run(int fd, int n, const struct sd_script *s, const char *outdir)
{
	struct sess ss;
	struct sbuf line = { 0 };
	char greet[512];

	memset(&ss, 0, sizeof(ss));
	ss.c.fd = fd;
	ss.c.read_timeout = s->read_timeout;
	ss.s = s;
	ss.n = n;
	ss.outdir = outdir;
	ss.tmpfd = -1;
	sd_session_no = n;
	conn_open_records(&ss.c, outdir, n);
	sbuf_addf(&ss.info, "session=%d\n", n);
	sd_log("connection");

	if (s->implicit_tls) {
		conn_records_tls(&ss.c);
		if (tls_start(&ss.c, s, &ss.info) != 0) {
			ss.end = "tls-failed";
			goto out;
		}
		sbuf_addstr(&ss.info, "tls=implicit\n");
		ss.tls = 1;
		if (respond(&ss, "TLS", 1, NULL, NULL) != GO)
			goto out;
	}
	snprintf(greet, sizeof(greet), "220 %s ESMTP rq-testsmtpd\r\n",
	    s->hostname);
	if (respond(&ss, "GREETING", 1, greet, NULL) != GO)
		goto out;

	for (;;) {
		int r = conn_getline(&ss.c, &line, s->max_line);

		if (r == 0) {
			if (line.len > 0)
				log_bytes("C: (partial)", line.data,
				    line.len);
			ss.end = "client-closed";
			break;
		}
		if (r == 2) {
			/* Overlong: skip to the end of the line, then refuse. */
			do
				r = conn_getline(&ss.c, &line, s->max_line);
			while (r == 2);
			if (r == 0) {
				ss.end = "client-closed";
				break;
			}
			if (respond(&ss, "LONGLINE", 1,
			    "500 5.5.2 Line too long\r\n", NULL) != GO)
				break;
			continue;
		}
		log_bytes("C:", line.data, line.len);
		/*
		 * More bytes already here means the client did not wait for
		 * this reply: it pipelines (RFC 2920), or misbehaves.
		 */
		if (conn_pending(&ss.c) > 0)
			ss.pipelined++;
		line.data[--line.len] = '\0';
		if (line.len > 0 && line.data[line.len - 1] == '\r')
			line.data[--line.len] = '\0';
		if (command(&ss, line.data) != GO)
			break;
	}
out:
	reset_transaction(&ss);
	sd_log("end: %s", ss.end != NULL ? ss.end : "client-closed");
	write_info(&ss);
	tls_end(&ss.c);
	close(fd);
	conn_close_records(&ss.c);
	sbuf_free(&line);
	sbuf_free(&ss.env);
	sbuf_free(&ss.info);
}
