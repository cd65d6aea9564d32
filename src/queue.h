/*
 * relayq -- the queue: one file per message, committed with fsync and rename.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Layout of a queue directory (details and the file formats: queue.c's
 * opening comment and doc/queue-format.md):
 *
 *	tmp/		files being written; never read by a flush
 *	msg/ID		committed messages: envelope, "data", content, trailer
 *	state/ID	per-message delivery state (absent: nothing tried yet)
 *	failed/ID, failed/ID.state	messages that failed for good
 *
 * A message is committed by rename(tmp/ID, msg/ID) after fsync of the file
 * and followed by fsync of msg/.  A reader takes a message only
 * when the trailer checks out (version line, "data" line, trailer with the
 * content size matching the file size), so a torn file is never sent.
 *
 * Locking: a flush holds flock(LOCK_EX) on msg/ID while it works on the
 * message; removal and state updates happen under that lock; after taking
 * the lock, a reader checks that the file is still linked.
 *
 * Ownership: functions returning objects through a ** hand them to the
 * caller, who releases them with the matching _free/_close/_abort.
 */
#ifndef RELAYQ_QUEUE_H
#define RELAYQ_QUEUE_H

#include <stdio.h>
#include <sys/types.h>

#include "dkim.h"
#include "status.h"
#include "util.h"

#define QUEUE_VERSION	1
#define QUEUE_ID_MAX	32

struct queue;

/* How queue_open treats a queue or subdirectory that does not exist. */
enum queue_mode {
	QUEUE_EXISTING = 0,	/* an error (EX_CANTCREAT) */
	QUEUE_CREATE = 1,	/* made: mode 0700 (2770 in system mode),
				   parents too; for writers */
	/*
	 * Nothing is made: a missing queue directory or subdirectory is
	 * empty (queue_list finds nothing, queue_msg_open EX_NOINPUT).  For
	 * commands that only read, and for those that write only into a
	 * message found there: a write (a state update, a move to failed/,
	 * a new message) first makes what it needs, by QUEUE_CREATE's rules
	 * (queue_complete).
	 */
	QUEUE_READ = 2,
};

/*
 * Open the queue directory dir (mode: enum queue_mode).  Refuses a queue
 * directory that is a symlink or not a directory (EX_CANTCREAT), or that
 * is writable by others or owned by someone other than the caller or
 * root (EX_CONFIG); the same for each subdirectory that exists.  These
 * checks are the same in every mode.  Other errors from ex_from_errno()
 * (permission denied: EX_CANTCREAT).
 *
 * System mode: when the queue directory grants its group rwx (2770,
 * group relayq), files are created 0640 so the flush user can read them,
 * subdirectories are created 2770 and only by the queue's owner or root,
 * and a subdirectory owned by anyone else is refused (EX_CONFIG).  A queue
 * owned by another user is accepted there when the caller is in its group.
 */
int	queue_open(const char *dir, int mode, struct queue **out,
	    struct rq_err *);
/*
 * Make and open the subdirectories still missing (a queue opened
 * QUEUE_READ), as QUEUE_CREATE would have.  EX_CANTCREAT when the queue
 * directory itself does not exist, or when this caller may not make them
 * (a submitter in system mode).  The write functions below call it.
 */
int	queue_complete(struct queue *, struct rq_err *);
/*
 * 1 when the queue has no msg/ directory (QUEUE_READ of a queue that
 * does not exist yet, or was never completed): nothing was ever
 * committed to it, so nothing can be due.
 */
int	queue_absent(const struct queue *);
/* 1 when s has the form of a queue ID (20 upper-case hex digits). */
int	queue_id_valid(const char *s);
void	queue_close(struct queue *);
const char *queue_path(const struct queue *);

/* The envelope: what the message file says before its content. */
struct envelope {
	char		id[QUEUE_ID_MAX];	/* set by the writer / reader */
	long long	queued_at;		/* seconds since the epoch */
	char	       *sender;			/* "" is the null sender */
	char	       *account;		/* NULL: select at flush time */
	struct strlist	rcpts;			/* RFC 5321 addresses */
	char	       *dsn_notify;		/* NULL, "NEVER" or e.g.
						   "SUCCESS,FAILURE" */
	char	       *dsn_ret;		/* NULL, "FULL" or "HDRS" */
	char	       *dsn_envid;		/* NULL or the raw ENVID */
	int		body_8bitmime;		/* -B 8BITMIME was given */
	/* Learned while the content was written; stored in the trailer. */
	long long	size;			/* content octets */
	int		eightbit;		/* content has octets >= 0x80 */
	int		smtputf8;		/* UTF-8 in headers or envelope */
	/*
	 * DKIM (dkim.h): a writer given dkim_canon (not DKIM_CANON_NONE)
	 * hashes the body as it is written and stores "CANON:BASE64" in
	 * the trailer; a reader puts it in dkim_bh ("" when the file has
	 * none), for the flush to sign without reading the body again.
	 */
	int		dkim_canon;		/* enum dkim_canon */
	char		dkim_bh[DKIM_BH_MAX];
};

void	envelope_free(struct envelope *);	/* frees members, not env */

/* ---- writing (relayq) ---------------------------------------------------- */

struct qwriter;

/*
 * Create tmp/ID.mXXXXXXXX (O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0600) and
 * write the envelope.  env->id and env->queued_at are filled in when
 * empty/zero; a caller-given env->id may be open in several writers at
 * once (msg.c re-encoding), but one already committed in msg/ is refused
 * (EX_CANTCREAT).  Errors: EX_DATAERR for an envelope that cannot be
 * stored (control characters, no recipients, bad DSN values); otherwise
 * exit codes from ex_from_errno().
 */
int	queue_writer_open(struct queue *, struct envelope *env,
	    struct qwriter **out, struct rq_err *);
/*
 * Append content (through a 64 KiB buffer).  Errors as above; after an
 * error the temporary file is already gone and every later call fails:
 * the caller only has to queue_writer_abort().
 */
int	queue_writer_write(struct qwriter *, const void *, size_t,
	    struct rq_err *);
/*
 * Read back n content octets at content offset off (for re-encoding what
 * was already written; flushes the write buffer first).  Returns octets
 * read (0 at or past the end), or -1 with err set.
 */
ssize_t	queue_writer_pread(struct qwriter *, void *, size_t n, long long off,
	    struct rq_err *);
long long queue_writer_size(const struct qwriter *);	/* content so far */
/*
 * Finish: trailer (size, eightbit, smtputf8 from env; the body hash when
 * the writer was opened with env->dkim_canon), fsync, checked
 * close, rename into msg/, fsync of msg/.  Only a 0 return means
 * the message is on stable storage.  On error the temporary file is gone.
 * Frees w either way.
 */
int	queue_writer_commit(struct qwriter *w, const struct envelope *env,
	    struct rq_err *);
/* Give up: close and unlink the temporary file, free w.  NULL is fine. */
void	queue_writer_abort(struct qwriter *w);

/* ---- reading and delivery state (relayq-flush, mailq) ---------------------- */

enum rcpt_status {
	RCPT_PENDING = 0,
	RCPT_DEFERRED,
	RCPT_SENT,
	RCPT_FAILED,
};
const char *rcpt_status_name(enum rcpt_status);

struct qstate {
	int		 attempts;
	long long	 last_attempt;	/* 0: never */
	long long	 next_attempt;	/* 0: due now */
	int		 held;
	char		*last_error;	/* NULL or one line */
	enum rcpt_status *rstatus;	/* one per envelope recipient */
	char		**rreply;	/* one per recipient: NULL or the
					   server's last reply for it */
};

struct qmsg {
	struct envelope	 env;
	struct qstate	 st;
	int		 failed;	/* lives in failed/ */
	int		 fd;		/* the message file, open */
	long long	 data_off;	/* where the content starts in fd */
};

enum {
	QO_LOCK	    = 1 << 0,	/* take flock(LOCK_EX) */
	QO_NOWAIT   = 1 << 1,	/* with QO_LOCK: EX_TEMPFAIL when busy */
	QO_FAILED   = 1 << 2,	/* look in failed/ instead of msg/ */
};

/*
 * IDs of committed messages (or of failed ones), oldest first.
 */
int	queue_list(struct queue *, int failed, struct strlist *ids,
	    struct rq_err *);
/*
 * What deciding whether a message is due needs, taken from the first lines
 * of state/ID only (no message file is opened, no lock is taken; a
 * message without a state file costs no system call at all).  known is 0
 * when the state file could not be read that way: then the caller opens
 * the message to decide.  queue_msg_open, under the lock, has the last
 * word.
 */
struct qdue {
	long long	next_attempt;	/* 0: due now */
	int		held;
	int		known;
};
/* IDs as queue_list (msg/ only) and, in *due (the caller frees it), one
 * qdue per ID. */
int	queue_list_due(struct queue *, struct strlist *ids, struct qdue **due,
	    struct rq_err *);
/*
 * Open message id and its state.  Errors: EX_USAGE when id is not an ID,
 * EX_NOINPUT when it does not exist ("no message ID in queue DIR"; or it
 * was removed while we waited for the lock), EX_TEMPFAIL when locked
 * and QO_NOWAIT, EX_DATAERR for a corrupt file (bad version, missing or
 * inconsistent trailer: never delivered).
 */
int	queue_msg_open(struct queue *, const char *id, int flags,
	    struct qmsg **out, struct rq_err *);
void	queue_msg_close(struct qmsg *);	/* unlocks; NULL is fine */

/* Rewrite state/ID atomically (tmp, fsync, rename, fsync dir). */
int	queue_msg_save_state(struct queue *, struct qmsg *, struct rq_err *);
/*
 * Delivered (or deleted): unlink msg/ID, fsync msg/, then unlink state/ID
 * (in that order: a crash between leaves only a stray state file, never a
 * message whose sent recipients are forgotten).  Works in failed/ too.
 */
int	queue_msg_remove(struct queue *, struct qmsg *, struct rq_err *);
/*
 * The same in its three steps, for a caller that does other work while
 * the disk makes the unlink durable (deliver.c): queue_msg_unlink, then
 * queue_msg_sync_removal (the fsync, through the group commit below),
 * then, once that succeeded, queue_msg_unlink_state.  The sync reads
 * only what never changes while the queue is open, so it may run in
 * another thread of the process while this one goes on with other
 * messages of the same queue; m must stay untouched until it returns.
 */
int	queue_msg_unlink(struct queue *, struct qmsg *, struct rq_err *);
int	queue_msg_sync_removal(struct queue *, const struct qmsg *,
	    struct rq_err *);
int	queue_msg_unlink_state(struct queue *, struct qmsg *, struct rq_err *);
/*
 * Group commit for the processes of one flush (forked after
 * queue_set_group): each queue_msg_remove still returns only once its
 * unlink is on disk, but one fsync of msg/ serves every removal made
 * before it started, so N workers finishing at once cost one directory
 * write, not N.  Nothing is acknowledged earlier than before: the
 * removal follows the server's 250 as it did, and a connection has at
 * most one message between its 250 and its durable removal.
 * queue_group_new returns NULL when no shared mapping can be made (then
 * every removal fsyncs alone, as without a group).
 */
struct queue_group;
struct queue_group *queue_group_new(void);
void	queue_group_free(struct queue_group *);	/* NULL is fine */
void	queue_set_group(struct queue *, struct queue_group *);
/*
 * Failed for good: move msg/ID to failed/ID, then state/ID to
 * failed/ID.state, fsyncing the directories.  m->failed becomes 1.
 */
int	queue_msg_fail(struct queue *, struct qmsg *, struct rq_err *);
/*
 * Back from failed/ (operator's requeue): a fresh state (attempts 0, due
 * now, not held) in which recipients already marked sent stay sent, then
 * failed/ID moves back to msg/ID.  m->failed becomes 0.
 */
int	queue_msg_requeue(struct queue *, struct qmsg *, struct rq_err *);

/*
 * Remove leftovers in tmp/ older than max_age seconds that no writer holds
 * (crashed submissions).  *removed counts them.  For relayq-flush.
 */
int	queue_sweep(struct queue *, long long max_age, int *removed,
	    struct rq_err *);

/* Where a content stream of env.size octets starts: m->fd at m->data_off. */

/* ---- operator commands (mailq, relayq --show/--delete/...) ----------------- */

/*
 * mailq: the human listing, or --json (one array; "[]" when empty).  A
 * message that cannot be read (corrupt, another format version) is a line
 * of the listing, but JSON has no word for it and leaves it out; either
 * way *unreadable (NULL: not wanted) counts them, for the caller to say.
 */
int	queue_print_list(struct queue *, int json, FILE *out,
	    unsigned *unreadable, struct rq_err *);
/* Envelope, state and content of one message. */
int	queue_print_msg(struct queue *, const char *id, FILE *out,
	    struct rq_err *);

enum qadmin_op {
	QADMIN_DELETE,
	QADMIN_HOLD,
	QADMIN_RELEASE,
	QADMIN_RETRY,		/* due now */
	QADMIN_REQUEUE,		/* failed -> queued */
};
int	queue_admin(struct queue *, const char *id, enum qadmin_op,
	    struct rq_err *);

#endif
