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
 *    dot is removed and "." ends the message.  Without unstuff a dot line
 *    counts only when the line before it ended in LF or CRLF (or it is
 *    the first line) and it ends in LF, CRLF or the end of the input; a
 *    bare CR never starts or ends one (sendmail's rule: a CR not followed
 *    by LF is an ordinary character there).  With unstuff only
 *    <CRLF>.<CRLF> ends the data and only a dot after CRLF is removed
 *    (RFC 5321 4.1.1.4; anything looser is SMTP smuggling).  The content
 *    kept is NOT dot-stuffed: the flush stuffs on the wire;
 *  - the header section ends at the first empty line, or at the first line
 *    that is not a header field (that line starts the body, and the empty
 *    separator line is inserted); when the first line is not a header the
 *    whole input is body.  A first line "From " (an mbox separator) is
 *    dropped, as Postfix's sendmail does (not with unstuff);
 *  - the header section is kept in memory (at most MSG_HEADER_MAX octets
 *    and MSG_FIELDS_MAX fields, else EX_DATAERR); the body is streamed, so memory does not grow with
 *    the message;
 *  - Date, Message-ID and From are added when missing (per the account's
 *    set_*_header keys), From from the envelope sender and -F (RFC 2047
 *    encoded when needed); with HDR_ON every From is replaced.  With the
 *    null sender no From is added or replaced (there is no address to put
 *    in it).  Added fields go at the end of the header section.  Bcc and
 *    Resent-Bcc are removed when remove_bcc is set (with or without -t);
 *  - with -t, recipients come from To, Cc and Bcc, or, when Resent-
 *    headers are present, from the last (topmost) Resent- block only: the
 *    topmost run of Resent-* fields that holds a Resent-To, -Cc or -Bcc (a
 *    run ends at a non-Resent field or where Resent-Date, -From, -Sender or
 *    -Message-ID repeats);
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
#define MSG_FIELDS_MAX	10000	/* bounds the memory per field, too */
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
	size_t	 max_read;	/* 0, or at most this many octets per read(2):
				   lets tests put read boundaries anywhere */
};

/* Start reading fd (which stays the caller's); allocates on first read. */
void	input_init(struct input *, int fd);
/* Free the buffer (and what was read ahead); does not close fd. */
void	input_free(struct input *);
/*
 * One line including its LF (if any) appended to line; at most max octets
 * (max > 0; a longer line is returned in pieces).  Returns octets appended,
 * 0 at EOF, -1 on a read error (errno set).
 */
ssize_t	input_getline(struct input *, struct buf *line, size_t max);

struct msg_opts {
	int		 dot_ends;	/* no -i/-oi */
	int		 unstuff;	/* SMTP DATA stream (implies dot_ends) */
	int		 extract;	/* -t */
	const char	*sender;	/* envelope sender ("": null) */
	const char	*full_name;	/* -F or from_full_name, or NULL */
	enum hdr_mode	 set_from_header;	/* ON: replace any From */
	enum hdr_mode	 set_date_header;	/* ON means AUTO */
	enum hdr_mode	 set_msgid_header;	/* ON means AUTO */
	int		 remove_bcc;
	const char	*undisclosed;	/* NULL, or a To value to add when the
					   message has no To/Cc */
	const char	*msgid_domain;	/* right side of an added Message-ID */
	const char	*header_domain;	/* qualifies bare names in address
					   fields ("From: root"), or NULL */
	time_t		 now;
};

struct msg;

/*
 * Read the header section from in and parse it.  Errors: EX_DATAERR (bad
 * header section, too large, NUL, a header line over 998 octets without
 * white space to fold at, with extract an address list addr_parse_list
 * refuses), EX_IOERR (read error).  An empty input is NOT an error (an
 * empty message gets the added headers).  opts (and the strings it points
 * to) and in must stay valid until msg_spool/msg_write_fd has returned:
 * the body is read from in then, and the added fields (From, To, Date,
 * Message-ID) are decided then from opts as they are at that time, so a
 * caller may set sender and msgid_domain after reading the headers
 * (--read-envelope-from).  dot_ends, unstuff, extract and remove_bcc are
 * used here.  With unstuff, after a content error (EX_DATAERR) the rest of
 * the DATA stream up to its "." line has been read and discarded, so the
 * next read of in is the next SMTP command.  *out is the caller's
 * (msg_free).
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
 * one, under a new env->id).  env->sender and env->rcpts must be final
 * (they count for env->smtputf8).  On success *w is ready for
 * queue_writer_commit() and env->size, env->eightbit and env->smtputf8
 * are set.  On error *w is NULL and nothing is left in the queue.
 * Errors: EX_DATAERR (a line over 998 octets or a NUL byte in a message
 * that cannot be re-encoded; with unstuff, input that ends before the "."
 * line), EX_IOERR (read error), the queue writer's codes.  The body can
 * be consumed once: call msg_spool or msg_write_fd once per message.
 * With unstuff, a content error drains the DATA stream as above.
 */
int	msg_spool(struct msg *, struct queue *q, struct envelope *env,
	    struct qwriter **w, struct rq_err *);

/*
 * The same transformation without a queue: write the result to fd
 * (used by the unit tests and by relayq -bv to show what would be queued).
 * The content goes through an unlinked temporary file ($TMPDIR or /tmp)
 * and is copied to fd at the end, so fd may be a pipe.  env may be NULL;
 * otherwise size, eightbit and smtputf8 are set as by msg_spool.
 */
int	msg_write_fd(struct msg *, int fd, struct envelope *env,
	    struct rq_err *);

void	msg_free(struct msg *);

#endif
