/*
 * relayq -- the message on the way in: read, canonicalise, fix headers, spool.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What is done (SPEC section 2):
 *  - line ends become CRLF: a bare LF and a bare CR each become CRLF, and
 *    a final line without a line end gets one; no bare CR or LF survives;
 *  - without -i (dot_ends), a line holding a single "." ends the message;
 *    with unstuff (input from an SMTP DATA stream, relayq -bs) a leading
 *    dot is removed and "." ends the message;
 *  - the header section is kept in memory (at most MSG_HEADER_MAX octets,
 *    else EX_DATAERR); the body is streamed, so memory does not grow with
 *    the message;
 *  - Date, Message-ID and From are added when missing (per the account's
 *    set_*_header keys), From from the envelope sender and -F (RFC 2047
 *    encoded when needed); Bcc (and with -t Resent-Bcc) is removed;
 *  - with -t, recipients come from To, Cc and Bcc, or, when Resent-
 *    headers are present, from the last (topmost) Resent- block only;
 *  - header lines over 998 octets are folded at white space, or refused;
 *    NUL in the header section is refused;
 *  - a body with a line over 998 octets or a NUL byte is re-encoded as
 *    quoted-printable (adding MIME-Version, Content-Type when missing, and
 *    Content-Transfer-Encoding) when the message is not multipart and its
 *    transfer encoding is an identity one (7bit, 8bit, binary or none);
 *    a multipart message, or one already encoded, is refused with
 *    EX_DATAERR naming the line;
 *  - 8-bit octets are recorded (env->eightbit) for BODY=8BITMIME at flush;
 *    UTF-8 in the header section sets env->smtputf8.
 */
#ifndef RELAYQ_MSG_H
#define RELAYQ_MSG_H

#include <sys/types.h>
#include <time.h>

#include "conf.h"
#include "queue.h"
#include "status.h"
#include "util.h"

#define MSG_HEADER_MAX	(1024 * 1024)
#define MSG_LINE_MAX	998

/*
 * A buffered input: a file descriptor and what was read ahead.  With
 * dot_ends or unstuff, msg leaves the bytes after the terminating "." line
 * in it (relayq -bs reads its next command from there).
 */
struct input {
	int	 fd;
	char	*buf;
	size_t	 off, len, cap;
	int	 eof;
};

void	input_init(struct input *, int fd);
void	input_free(struct input *);
/*
 * One line including its LF (if any) appended to line; at most max octets
 * (a longer line is returned in pieces).  Returns octets appended, 0 at
 * EOF, -1 on a read error (errno set).
 */
ssize_t	input_getline(struct input *, struct buf *line, size_t max);

struct msg_opts {
	int		 dot_ends;	/* no -i/-oi */
	int		 unstuff;	/* SMTP DATA stream (implies dot_ends) */
	int		 extract;	/* -t */
	const char	*sender;	/* envelope sender ("": null) */
	const char	*full_name;	/* -F or from_full_name, or NULL */
	enum hdr_mode	 set_from_header;
	enum hdr_mode	 set_date_header;
	enum hdr_mode	 set_msgid_header;
	int		 remove_bcc;
	const char	*undisclosed;	/* NULL, or a To value to add when the
					   message has no To/Cc */
	const char	*msgid_domain;	/* right side of an added Message-ID */
	time_t		 now;
};

struct msg;

/*
 * Read the header section from in and parse it.  Errors: EX_DATAERR (bad
 * header section, too large, NUL), EX_IOERR (read error), EX_NOINPUT when
 * the input is empty and has no header at all is NOT an error (an empty
 * message gets the added headers).  *out is the caller's (msg_free).
 */
int	msg_read_headers(struct input *, const struct msg_opts *,
	    struct msg **out, struct rq_err *);
/*
 * With extract (-t): the recipients found in the headers, in order, as
 * RFC 5321 addresses (not yet validated, aliased or qualified).
 */
const struct strlist *msg_header_rcpts(const struct msg *);
/* The From header's first address, or NULL (for --read-envelope-from). */
const char *msg_header_from(const struct msg *);

/*
 * Write the message into the queue: opens a writer for env on q, writes
 * the (modified) header section and streams the rest of the body from the
 * input, re-encoding if needed (which may replace the writer with a fresh
 * one).  On success *w is ready for queue_writer_commit() and env->size,
 * env->eightbit and env->smtputf8 are set.  On error nothing is left in the
 * queue.
 */
int	msg_spool(struct msg *, struct queue *q, struct envelope *env,
	    struct qwriter **w, struct rq_err *);

/*
 * The same transformation without a queue: write the result to fd
 * (used by the unit tests and by relayq -bv to show what would be queued).
 */
int	msg_write_fd(struct msg *, int fd, struct envelope *env,
	    struct rq_err *);

void	msg_free(struct msg *);

#endif
