/*
 * relayq -- the SMTP client: one session with the smart host.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * RFC 5321 (SMTP), RFC 3207 (STARTTLS), RFC 8314 (implicit TLS), RFC 4954
 * (AUTH), RFC 2920 (PIPELINING), RFC 1870 (SIZE), RFC 6152 (8BITMIME),
 * RFC 6531 (SMTPUTF8), RFC 3461 (DSN), RFC 3030 (CHUNKING).
 *
 * A session is opened with smtp_open() (connect, greeting, EHLO, STARTTLS,
 * EHLO again, AUTH), carries any number of messages with smtp_send(), and
 * ends with smtp_close() (QUIT).  This module decides what the wire says
 * and what each reply means for each recipient; it does not touch the
 * queue's state, choose hosts, schedule, print or exit: deliver.c does.
 */
#ifndef RELAYQ_SMTP_H
#define RELAYQ_SMTP_H

#include <stddef.h>

#include "conf.h"
#include "dkim.h"
#include "queue.h"
#include "reply.h"
#include "status.h"
#include "util.h"

struct smtp;
struct tls_ctx;

/*
 * The dialogue, for -v and --check.  dir is "<--" for what the server said
 * and "-->" for what we sent; line has no CRLF.  AUTH commands, 334
 * challenges and the responses to them arrive already redacted; message
 * content is never traced, only a summary line.
 */
typedef void (*smtp_trace_fn)(void *arg, const char *dir, const char *line);

struct smtp_params {
	const struct account	*acct;
	const char		*host;	/* as configured; A-label made here */
	struct tls_ctx		*tls;	/* NULL: the account has tls off */
	const char		*ehlo;	/* our name, an A-label or literal */
	const char		*password; /* NULL: no AUTH even if configured */
	const struct dkim_signer *dkim;	/* NULL: messages go unsigned */
	smtp_trace_fn		 trace;	/* NULL: no trace */
	void			*trace_arg;
	int			 check;	/* --check: describe, keep going
					   after failures to say more */
	/*
	 * Called just before the end of a message's data leaves (the final
	 * "." of DATA, "BDAT ... LAST", the "." after a DATA that no
	 * recipient got), as the server's 250 may follow at once: the
	 * caller's queue update for the message before must be durable by
	 * the time it returns (SPEC 3).  NULL: nothing to wait for.
	 */
	void			(*before_end)(void *arg);
	void			*before_end_arg;
};

/* Where smtp_open() stopped: decides whether the next host is worth it. */
enum smtp_stage {
	SMTP_STAGE_CONNECT = 0,	/* DNS, TCP, implicit TLS handshake */
	SMTP_STAGE_GREETING,
	SMTP_STAGE_EHLO,
	SMTP_STAGE_STARTTLS,	/* not offered, refused, injection, handshake */
	SMTP_STAGE_AUTH,	/* a configuration problem: no failover */
	SMTP_STAGE_READY,
};

/*
 * Open a session with p->host.  Returns 0 and *out, or an EX_ code with
 * err saying what went wrong (err names the host) and *stage telling how
 * far it got.  Every failure here is temporary for the messages: the
 * caller defers them.  A failed AUTH is reported with *stage
 * SMTP_STAGE_AUTH and a message starting "authentication failed at HOST".
 * With p->check, a session that got past the connection is handed back
 * in *out even on failure (for --check to show what it learned); the
 * caller closes it.
 */
int	smtp_open(const struct smtp_params *, struct smtp **out,
	    enum smtp_stage *stage, struct rq_err *);

/* After smtp_open: what the server is and offered (for logs, --check). */
const char *smtp_peer(const struct smtp *);	/* "host[addr]:port" */
const char *smtp_tls_version(const struct smtp *); /* NULL when plain */
const struct caps *smtp_caps(const struct smtp *);
const char *smtp_greeting(const struct smtp *);	/* one line */
const char *smtp_auth_mech(const struct smtp *); /* NULL: no AUTH done */
/* --check: the TLS session's description (tls_describe), or "" */
void	smtp_describe_tls(const struct smtp *, struct buf *out);

/* The result of one message's transaction, per envelope recipient. */
struct smtp_rcpt_result {
	int		 tried;		/* was this recipient in the attempt */
	enum outcome	 out;		/* OUT_OK, OUT_TEMP, OUT_PERM */
	char		*reply;		/* "250 2.0.0 Ok" or a local reason
					   starting with an enhanced code
					   ("5.3.4 message is ..."); owned */
};

struct smtp_result {
	size_t			 n;	/* = env.rcpts.n */
	struct smtp_rcpt_result	*r;
	int			 code;	/* the reply that decided the message
					   (final dot, MAIL, ...), 0 if local */
};

void	smtp_result_free(struct smtp_result *);

/*
 * Send message m (its content is read from m->fd at m->data_off, env.size
 * octets) to the recipients whose state is RCPT_PENDING or RCPT_DEFERRED.
 * With a DKIM signer, the content is signed before the transaction, as
 * it will go on this session, and the DKIM-Signature field goes first; a
 * message that cannot be signed is not sent (5.x.x when it never can be,
 * 4.x.x otherwise).
 * res is filled for every envelope recipient (tried 0 for the others).
 * Returns 0 when the session can carry another message, or an EX_ code
 * with err set when the session is unusable (connection lost, timeout,
 * malformed reply, 421); the recipients then not decided are OUT_TEMP.
 */
int	smtp_send(struct smtp *, struct qmsg *m, struct smtp_result *res,
	    struct rq_err *);

/* QUIT (waiting briefly for its reply), close, free.  NULL is fine. */
void	smtp_close(struct smtp *);
/* Close without QUIT (a session already broken).  NULL is fine. */
void	smtp_abort(struct smtp *);
/*
 * Free a copy of a session that another process goes on using (a forked
 * worker's copy of the parent's): nothing is sent, not even TLS's
 * close_notify, which would end the other's session.  NULL is fine.
 */
void	smtp_discard(struct smtp *);

/*
 * The content filter between the queue file and the wire, a pure function
 * so that it can be tested on its own.  Whatever the input holds, the
 * output has only CRLF line ends (a bare CR or LF becomes CRLF) and, with
 * stuff set (DATA), a dot at the start of a line is doubled, so that the
 * only CRLF "." CRLF on the wire is the terminator.  With stuff clear
 * (BDAT) lines are left as they are apart from line ends.
 */
struct smtp_canon {
	int	bol;		/* at the start of a line */
	int	cr;		/* a CR was seen, its LF not yet */
	int	stuff;		/* dot-stuffing (DATA) */
};

void	smtp_canon_init(struct smtp_canon *, int stuff);
/* Transform n octets of in, appending to out. */
void	smtp_canon_feed(struct smtp_canon *, const void *in, size_t n,
	    struct buf *out);
/*
 * The end: a CRLF when the content did not end with one (never a second
 * one), then, with stuff, the terminator ".\r\n".
 */
void	smtp_canon_end(struct smtp_canon *, struct buf *out);

#endif
