/*
 * relayq -- the queue: one file per message, committed with fsync and rename.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * This comment is the reference for the on-disk format; doc/queue-format.md
 * says the same at more length, with the reasons.
 *
 * DIRECTORIES (all below the queue directory, all on one filesystem):
 *
 *	tmp/	files being written: tmp/ID.mXXXXXXXX (a message, flock'ed by
 *		its writer) and tmp/ID.sXXXXXXXX (a state file); never read
 *	msg/ID	committed messages
 *	state/ID	delivery state of msg/ID (absent: nothing tried yet)
 *	failed/ID, failed/ID.state	messages that failed for good
 *
 * A submission makes them all (QUEUE_CREATE).  Readers create nothing
 * (QUEUE_READ): a queue or subdirectory that is missing is empty, so
 * mailq before the first message, or in a queue of which an administrator
 * made only the top, says "empty"; a write makes what it needs first.
 * Names in msg/ and failed/ that are not IDs are never read.
 *
 * IDs are 20 upper-case hex digits: 8 of seconds, 5 of microseconds and 7
 * random ones, so that their byte order is their age order.
 *
 * MESSAGE FILE, version 1.  Envelope lines are "key value" (or "key" alone
 * for an empty value), LF-terminated, free of control characters:
 *
 *	relayq-queue 1
 *	id 5F3A2B1C0A1B2C3D4E5F
 *	queued-at 1795888416			seconds since the epoch
 *	sender alice@example.org		"sender" alone: null sender
 *	account work				optional
 *	notify SUCCESS,FAILURE			optional (DSN NOTIFY)
 *	ret HDRS				optional (DSN RET)
 *	envid abc+2Bdef				optional, xtext (RFC 3461)
 *	body-8bitmime 0				1 when -B 8BITMIME was given
 *	rcpt bob@example.net			one per recipient, at least one
 *	data
 *	<content: exactly N octets, CRLF line ends, as the writer got them>
 *	end size=N eightbit=0 smtputf8=0 [dkim-bh=relaxed:BASE64]
 *
 * The trailer line is the end marker and must end the file exactly: a file
 * is accepted only if the trailer parses and N equals the file size minus
 * the envelope and the trailer.  Content lines end in CRLF, so no content
 * line can pass for the LF-terminated trailer.  dkim-bh (optional: only
 * when the submitting account signs) is the DKIM body hash of the content
 * with that body canonicalisation (dkim.h); files without it read as
 * before.
 *
 * STATE FILE, version 1 (rewritten whole, atomically, under the lock):
 *
 *	relayq-state 1
 *	attempts 2
 *	last-attempt 1795888476			0: never
 *	next-attempt 1795888596			0: due now
 *	held 0
 *	last-error 451 4.3.0 try again later	optional
 *	rcpt 0 sent 250 2.0.0 ok		index, status, last reply (opt.)
 *	rcpt 1 deferred 451 4.3.0 try again later
 *	end
 *
 * There is one rcpt line per envelope recipient, in order.  A state file
 * that does not parse makes the message unreadable (EX_DATAERR), never
 * "all pending": a recipient marked sent must not be sent to again.
 *
 * Unknown versions, unknown or repeated keys, and control characters are
 * all rejected: queue files are input too.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "queue.h"

#define QVERSION_LINE	"relayq-queue 1"
#define QVERSION_PREFIX	"relayq-queue "
#define SVERSION_LINE	"relayq-state 1"
#define SVERSION_PREFIX	"relayq-state "
#define ID_LEN		20
#define WBUF_SIZE	(64 * 1024)
#define LINE_MAX_ENV	8192		/* one envelope or state line */
#define ENV_MAX		(16 * 1024 * 1024) /* a whole envelope */
#define STATE_MAX	(16 * 1024 * 1024)
#define TRAILER_MAX	160		/* with dkim-bh= (about 110) */

enum { D_TMP, D_MSG, D_STATE, D_FAILED, NSUB };

static const char *const subname[NSUB] = { "tmp", "msg", "state", "failed" };

struct queue {
	char	*path;
	int	 dirfd;
	int	 sub[NSUB];	/* -1: missing (only with QUEUE_READ) */
	int	 group;		/* system mode: group rwx on the queue */
	mode_t	 fmode;		/* 0600, or 0640 in system mode */
	uid_t	 owner;		/* of the queue directory */
	int	 may_create;	/* we may make missing subdirectories */
	struct queue_group *gc;	/* shared group commit, or NULL */
};

/*
 * Group commit of removals (queue.h), in a shared anonymous mapping: every
 * process of a flush that unlinked msg/ID takes a ticket, and an fsync of
 * msg/ that started after ticket t was taken makes t durable when it ends.
 * A process whose unlink is covered by an fsync already under way (one
 * that started after its ticket) waits for that one, which ends sooner
 * than its own would; otherwise it starts its own at once, beside any
 * other under way, so nobody waits longer than one fsync.  Waits are
 * bounded: a process killed in the middle of its fsync (the crash-point
 * tests do that) leaves the others to fsync for themselves.
 */
struct queue_group {
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	unsigned long long	 ticket;	/* unlinks made so far */
	unsigned long long	 started;	/* highest ticket an fsync under
						   way covers */
	unsigned long long	 synced;	/* tickets up to here durable */
	unsigned long long	 failed_to;	/* up to here: an fsync failed */
	int			 err;		/* its errno */
	int			 busy;		/* fsyncs under way */
};

#define GC_WAIT_MS	200

struct qwriter {
	struct queue	*q;
	int		 fd;		/* tmp file (flock'ed); -1 once closed */
	char		 id[QUEUE_ID_MAX];
	char		 tmpname[QUEUE_ID_MAX + 16];
	char		*buf;
	size_t		 blen;
	long long	 data_off;	/* where the content starts */
	long long	 size;		/* content octets accepted */
	int		 dead_ex;	/* set when an error removed the file */
	struct dkim_bh	*bh;		/* the DKIM body hash, or NULL */
};

/* ---- small helpers -------------------------------------------------------- */

static int
is_id(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= ID_LEN)
			return 0;
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	}
	return i == ID_LEN;
}

static void
make_id(char *id, size_t size)
{
	struct timeval tv;
	unsigned char r[4];
	uint32_t rnd;

	gettimeofday(&tv, NULL);
	random_bytes(r, sizeof(r));
	rnd = ((uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 |
	    (uint32_t)r[2] << 8 | r[3]) & 0x0fffffff;
	snprintf(id, size, "%08" PRIX32 "%05" PRIX32 "%07" PRIX32,
	    (uint32_t)tv.tv_sec, (uint32_t)tv.tv_usec & 0xfffff, rnd);
}

/* A name in tmp/ that nothing else will pick: ID.<tag><8 random hex>. */
static void
make_tmpname(char *dst, size_t size, const char *id, char tag)
{
	unsigned char r[4];

	random_bytes(r, sizeof(r));
	snprintf(dst, size, "%s.%c%02X%02X%02X%02X", id, tag, r[0], r[1],
	    r[2], r[3]);
}

/* No octet below 0x20 and no DEL: a line stays one line. */
static int
is_clean(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (rq_iscntrl(c))
			return 0;
	}
	return 1;
}

static int
is_clean_str(const char *s)
{
	return is_clean(s, strlen(s));
}

/* Untrusted text (server replies) on one line: control octets -> space. */
static void
buf_add_sanitized(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		buf_addch(b, rq_iscntrl(c) ? ' ' : *s);
	}
}

static int
xfsync(int fd)
{
	while (fsync(fd) != 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

static int
valid_notify(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    *s == ','))
			return 0;
	return 1;
}

static int
valid_ret(const char *s)
{
	return rq_strcasecmp(s, "FULL") == 0 || rq_strcasecmp(s, "HDRS") == 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The inverse of addr_xtext (RFC 3461): the decoded string, or NULL for
 * malformed xtext (or a NUL).
 */
static char *
xtext_decode(const char *s)
{
	struct buf b = { 0 };

	if (*s == '\0')
		return NULL;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '+') {
			int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				buf_free(&b);
				return NULL;
			}
			buf_addch(&b, (char)(hi << 4 | lo));
			s += 2;
		} else if (c >= '!' && c <= '~' && c != '=') {
			buf_addch(&b, (char)c);
		} else {
			buf_free(&b);
			return NULL;
		}
	}
	return buf_steal(&b);
}

const char *
rcpt_status_name(enum rcpt_status s)
{
	switch (s) {
	case RCPT_PENDING:
		return "pending";
	case RCPT_DEFERRED:
		return "deferred";
	case RCPT_SENT:
		return "sent";
	case RCPT_FAILED:
		return "failed";
	}
	return "unknown";
}

static int
rcpt_status_parse(const char *s, size_t n, enum rcpt_status *out)
{
	static const enum rcpt_status all[] = { RCPT_PENDING, RCPT_DEFERRED,
	    RCPT_SENT, RCPT_FAILED };

	for (size_t i = 0; i < RQ_ARRAY_LEN(all); i++) {
		const char *name = rcpt_status_name(all[i]);

		if (strlen(name) == n && memcmp(name, s, n) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -1;
}

void
envelope_free(struct envelope *env)
{
	if (env == NULL)
		return;
	free(env->sender);
	free(env->account);
	strlist_free(&env->rcpts);
	free(env->dsn_notify);
	free(env->dsn_ret);
	free(env->dsn_envid);
	env->sender = env->account = NULL;
	env->dsn_notify = env->dsn_ret = env->dsn_envid = NULL;
}

/* ---- opening the queue ---------------------------------------------------- */

/* mkdir -p for the parents of dir, and dir itself; all 0700. */
static int
mkdir_parents(const char *dir, struct rq_err *err)
{
	char *p = xstrdup(dir);
	int ex = 0;

	for (char *s = p + 1; ; s++) {
		int last = *s == '\0';

		if (*s != '/' && !last)
			continue;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			ex = rq_errno(err, EX_CANTCREAT, errno,
			    "cannot create queue directory %s", p);
			break;
		}
		if (last)
			break;
		*s = '/';
		while (s[1] == '/')
			s++;
		if (s[1] == '\0')
			break;
	}
	free(p);
	return ex;
}

static int
in_group(gid_t gid)
{
	gid_t groups[256];
	int n;

	if (gid == getegid())
		return 1;
	n = getgroups((int)RQ_ARRAY_LEN(groups), groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

/*
 * One line for a queue directory (or subdirectory) that cannot be opened.
 * The same condition gets the same message and code in every mode; only a
 * missing one under QUEUE_READ is no error, and never comes here.
 */
static int
open_dir_error(const char *what, int errnum, struct rq_err *err)
{
	struct stat st;

	/* O_NOFOLLOW|O_DIRECTORY on a symlink may say ENOTDIR or ELOOP. */
	if ((errnum == ENOTDIR || errnum == ELOOP) && lstat(what, &st) == 0 &&
	    S_ISLNK(st.st_mode))
		errnum = ELOOP;
	if (errnum == ELOOP)
		return rq_errf(err, EX_CANTCREAT,
		    "queue directory %s is a symbolic link; refusing it", what);
	if (errnum == ENOTDIR)
		return rq_errf(err, EX_CANTCREAT,
		    "queue directory %s is not a directory", what);
	if (errnum == ENOENT)
		return rq_errf(err, EX_CANTCREAT,
		    "queue directory %s does not exist", what);
	return rq_errno(err, ex_from_errno(errnum), errnum,
	    "cannot open queue directory %s", what);
}

/*
 * Open the queue directory itself and check who owns it and who may write
 * it.  With QUEUE_READ a missing one is fine: q->dirfd stays -1.
 */
static int
open_top(struct queue *q, int mode, struct rq_err *err)
{
	struct stat st;

	q->dirfd = open(q->path,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (q->dirfd < 0) {
		if (errno == ENOENT && mode == QUEUE_READ)
			return 0;
		return open_dir_error(q->path, errno, err);
	}
	if (fstat(q->dirfd, &st) != 0)
		return rq_errno(err, EX_IOERR, errno, "cannot stat %s",
		    q->path);
	q->group = (st.st_mode & S_IRWXG) == S_IRWXG;
	q->fmode = q->group ? 0640 : 0600;
	q->owner = st.st_uid;
	if (st.st_uid != geteuid() && st.st_uid != 0 &&
	    !(q->group && in_group(st.st_gid)))
		return rq_errf(err, EX_CONFIG,
		    "queue directory %s belongs to uid %lu, not to you or root",
		    q->path, (unsigned long)st.st_uid);
	if (st.st_mode & S_IWOTH)
		return rq_errf(err, EX_CONFIG,
		    "queue directory %s is writable by others", q->path);
	/*
	 * In system mode a submitter (any user, through the set-group-ID
	 * binary) must not own a queue directory: an owner can chmod it open
	 * and then remove other people's mail.  So only the queue's owner or
	 * root creates the subdirectories, and they must belong to one of
	 * them.
	 */
	q->may_create = !q->group || geteuid() == q->owner || geteuid() == 0;
	return 0;
}

/* How open_sub treats a missing subdirectory. */
enum { SUB_MUST, SUB_MAKE, SUB_MAYBE };

/*
 * Open subdirectory i, with the checks of queue_open.  SUB_MAKE makes it
 * first (when this caller may: q->may_create); a missing one is then
 * EX_CANTCREAT, except with SUB_MAYBE: no error, q->sub[i] stays -1.
 */
static int
open_sub(struct queue *q, int i, int how, struct rq_err *err)
{
	mode_t dmode = q->group ? 02770 : 0700;
	struct stat st;
	char *what;
	int made = 0, ex = 0, e;

	q->sub[i] = openat(q->dirfd, subname[i],
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (q->sub[i] < 0 && errno == ENOENT && how == SUB_MAKE &&
	    q->may_create) {
		if (mkdirat(q->dirfd, subname[i], dmode) == 0)
			made = 1;
		else if (errno != EEXIST)
			return rq_errno(err, EX_CANTCREAT, errno,
			    "cannot create %s/%s", q->path, subname[i]);
		q->sub[i] = openat(q->dirfd, subname[i],
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	e = errno;
	if (q->sub[i] < 0 && e == ENOENT && how == SUB_MAYBE)
		return 0;
	what = xasprintf("%s/%s", q->path, subname[i]);
	if (q->sub[i] < 0 && e == ENOENT && how == SUB_MAKE && !q->may_create)
		ex = rq_errf(err, EX_CANTCREAT, "queue directory %s does not "
		    "exist, and in system mode only the queue's owner or root "
		    "makes it", what);
	else if (q->sub[i] < 0)
		ex = open_dir_error(what, e, err);
	/* The creator's umask must not take the group's access away. */
	else if (made && q->group && fchmod(q->sub[i], dmode) != 0)
		ex = rq_errno(err, EX_CANTCREAT, errno,
		    "cannot set the mode of %s", what);
	else if (fstat(q->sub[i], &st) != 0 || (st.st_mode & S_IWOTH))
		ex = rq_errf(err, EX_CONFIG,
		    "queue directory %s is writable by others", what);
	else if (st.st_uid != q->owner && st.st_uid != 0)
		ex = rq_errf(err, EX_CONFIG,
		    "queue directory %s belongs to uid %lu, not to the "
		    "queue's owner or root", what, (unsigned long)st.st_uid);
	free(what);
	if (ex != 0 && q->sub[i] >= 0) {
		close(q->sub[i]);
		q->sub[i] = -1;
	}
	return ex;
}

int
queue_open(const char *dir, int mode, struct queue **out,
    struct rq_err *err)
{
	struct queue *q;
	int ex;

	*out = NULL;
	if (dir == NULL || *dir == '\0')
		return rq_errf(err, EX_CONFIG, "no queue directory is set");
	/* Directories are made only when missing: every submission opens
	   the queue, and mkdir calls that fail with EEXIST are path walks
	   for nothing (five here, four in open_sub). */
	if (mode == QUEUE_CREATE && access(dir, F_OK) != 0 &&
	    errno == ENOENT) {
		ex = mkdir_parents(dir, err);
		if (ex != 0)
			return ex;
	}
	q = xcalloc(1, sizeof(*q));
	q->path = xstrdup(dir);
	q->dirfd = -1;
	for (int i = 0; i < NSUB; i++)
		q->sub[i] = -1;
	ex = open_top(q, mode, err);
	for (int i = 0; ex == 0 && q->dirfd >= 0 && i < NSUB; i++)
		ex = open_sub(q, i, mode == QUEUE_CREATE ? SUB_MAKE :
		    mode == QUEUE_READ ? SUB_MAYBE : SUB_MUST, err);
	if (ex != 0) {
		queue_close(q);
		return ex;
	}
	*out = q;
	return 0;
}

int
queue_complete(struct queue *q, struct rq_err *err)
{
	int ex = 0;

	if (q->dirfd < 0)
		return rq_errf(err, EX_CANTCREAT,
		    "queue directory %s does not exist", q->path);
	for (int i = 0; ex == 0 && i < NSUB; i++)
		if (q->sub[i] < 0)
			ex = open_sub(q, i, SUB_MAKE, err);
	return ex;
}

int
queue_absent(const struct queue *q)
{
	return q->sub[D_MSG] < 0;
}

int
queue_id_valid(const char *s)
{
	return is_id(s);
}

/*
 * Subdirectory i for reading, in *fd: -1 when it does not exist.  A queue
 * opened QUEUE_READ may lack some, and a submission may make them while
 * we run: one missing so far is looked for again, so that (say) a state
 * file written meanwhile is never taken for an absent one.
 */
static int
sub_for_read(struct queue *q, int i, int *fd, struct rq_err *err)
{
	int ex = 0;

	if (q->sub[i] < 0 && q->dirfd >= 0)
		ex = open_sub(q, i, SUB_MAYBE, err);
	*fd = q->sub[i];
	return ex;
}

/* Before any write: every subdirectory is there (queue_complete). */
static int
need_dirs(struct queue *q, struct rq_err *err)
{
	for (int i = 0; i < NSUB; i++)
		if (q->sub[i] < 0)
			return queue_complete(q, err);
	return 0;
}

void
queue_close(struct queue *q)
{
	if (q == NULL)
		return;
	for (int i = 0; i < NSUB; i++)
		if (q->sub[i] >= 0)
			close(q->sub[i]);
	if (q->dirfd >= 0)
		close(q->dirfd);
	free(q->path);
	free(q);
}

const char *
queue_path(const struct queue *q)
{
	return q->path;
}

/* ---- writing -------------------------------------------------------------- */

static int
check_envelope(const struct envelope *env, struct rq_err *err)
{
	if (env->sender == NULL || !is_clean_str(env->sender) ||
	    strlen(env->sender) > LINE_MAX_ENV - 16)
		return rq_errf(err, EX_DATAERR,
		    "invalid envelope sender for the queue");
	if (env->rcpts.n == 0)
		return rq_errf(err, EX_DATAERR, "no recipients");
	for (size_t i = 0; i < env->rcpts.n; i++) {
		const char *r = env->rcpts.v[i];

		if (*r == '\0' || !is_clean_str(r) ||
		    strlen(r) > LINE_MAX_ENV - 16)
			return rq_errf(err, EX_DATAERR,
			    "invalid recipient address for the queue");
	}
	if (env->account != NULL && (*env->account == '\0' ||
	    !is_clean_str(env->account) ||
	    strlen(env->account) > LINE_MAX_ENV - 16))
		return rq_errf(err, EX_DATAERR, "invalid account name");
	if (env->dsn_notify != NULL && !valid_notify(env->dsn_notify))
		return rq_errf(err, EX_DATAERR, "invalid DSN NOTIFY value");
	if (env->dsn_ret != NULL && !valid_ret(env->dsn_ret))
		return rq_errf(err, EX_DATAERR, "invalid DSN RET value");
	if (env->dsn_envid != NULL && (*env->dsn_envid == '\0' ||
	    strlen(env->dsn_envid) > 100))
		return rq_errf(err, EX_DATAERR, "invalid DSN ENVID value");
	return 0;
}

static void
envelope_format(struct buf *b, const struct envelope *env)
{
	buf_addstr(b, QVERSION_LINE "\n");
	buf_addf(b, "id %s\n", env->id);
	buf_addf(b, "queued-at %lld\n", env->queued_at);
	if (*env->sender == '\0')
		buf_addstr(b, "sender\n");
	else
		buf_addf(b, "sender %s\n", env->sender);
	if (env->account != NULL)
		buf_addf(b, "account %s\n", env->account);
	if (env->dsn_notify != NULL)
		buf_addf(b, "notify %s\n", env->dsn_notify);
	if (env->dsn_ret != NULL)
		buf_addf(b, "ret %s\n", env->dsn_ret);
	if (env->dsn_envid != NULL) {
		buf_addstr(b, "envid ");
		addr_xtext(env->dsn_envid, b);
		buf_addch(b, '\n');
	}
	buf_addf(b, "body-8bitmime %d\n", env->body_8bitmime ? 1 : 0);
	for (size_t i = 0; i < env->rcpts.n; i++)
		buf_addf(b, "rcpt %s\n", env->rcpts.v[i]);
	buf_addstr(b, "data\n");
}

static void
writer_close_fds(struct qwriter *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

/*
 * Every error path of the writer ends here: the temporary file goes, the
 * writer is dead, and the caller gets ex_from_errno() with one line.
 */
static int
writer_fail(struct qwriter *w, int errnum, struct rq_err *err)
{
	if (w->dead_ex == 0)
		unlinkat(w->q->sub[D_TMP], w->tmpname, 0);
	writer_close_fds(w);
	w->blen = 0;
	w->dead_ex = ex_from_errno(errnum);
	return rq_errno(err, w->dead_ex, errnum, "cannot write to queue %s",
	    w->q->path);
}

static int
writer_dead(struct qwriter *w, struct rq_err *err)
{
	return rq_errf(err, w->dead_ex,
	    "cannot write to queue %s: an earlier error removed the message",
	    w->q->path);
}

static int
writer_flush(struct qwriter *w, struct rq_err *err)
{
	if (w->blen == 0)
		return 0;
	if (write_all(w->fd, w->buf, w->blen) != 0)
		return writer_fail(w, errno, err);
	w->blen = 0;
	return 0;
}

static int
writer_put(struct qwriter *w, const void *p, size_t n, struct rq_err *err)
{
	const char *s = p;

	while (n > 0) {
		size_t room = WBUF_SIZE - w->blen;
		int ex;

		if (w->blen == 0 && n >= WBUF_SIZE) {
			/* Large pieces go straight to the file. */
			if (write_all(w->fd, s, n) != 0)
				return writer_fail(w, errno, err);
			return 0;
		}
		if (room > n)
			room = n;
		memcpy(w->buf + w->blen, s, room);
		w->blen += room;
		s += room;
		n -= room;
		if (w->blen == WBUF_SIZE) {
			ex = writer_flush(w, err);
			if (ex != 0)
				return ex;
		}
	}
	return 0;
}

int
queue_writer_open(struct queue *q, struct envelope *env,
    struct qwriter **out, struct rq_err *err)
{
	struct qwriter *w;
	struct buf b = { 0 };
	struct stat st;
	int ex, own_id = env->id[0] == '\0';

	*out = NULL;
	ex = check_envelope(env, err);
	if (ex == 0)
		ex = need_dirs(q, err);
	if (ex != 0)
		return ex;
	if (!own_id && !is_id(env->id))
		return rq_errf(err, EX_SOFTWARE, "invalid queue ID %.40s",
		    env->id);
	if (env->queued_at == 0)
		env->queued_at = (long long)rq_now();

	w = xcalloc(1, sizeof(*w));
	w->q = q;
	w->fd = -1;
	for (int tries = 0; ; tries++) {
		if (own_id)
			make_id(env->id, sizeof(env->id));
		/* An ID already committed must not be reused. */
		if (fstatat(q->sub[D_MSG], env->id, &st,
		    AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
			break;
		if (!own_id || tries > 100) {
			free(w);
			return rq_errf(err, EX_CANTCREAT,
			    "queue ID %s is already in use", env->id);
		}
	}
	rq_strlcpy(w->id, env->id, sizeof(w->id));
	make_tmpname(w->tmpname, sizeof(w->tmpname), w->id, 'm');
	w->fd = openat(q->sub[D_TMP], w->tmpname,
	    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, q->fmode);
	if (w->fd < 0) {
		ex = rq_errno(err, ex_from_errno(errno), errno,
		    "cannot create a file in queue %s", q->path);
		free(w);
		return ex;
	}
	w->buf = xmalloc(WBUF_SIZE);
	/* The lock tells a tmp/ sweeper that this file is in use. */
	if (flock(w->fd, LOCK_EX | LOCK_NB) != 0 ||
	    (q->group && fchmod(w->fd, q->fmode) != 0)) {
		ex = writer_fail(w, errno, err);
		queue_writer_abort(w);
		return ex;
	}
	envelope_format(&b, env);
	w->data_off = (long long)b.len;
	/* Without a hash (GnuTLS out of memory) the flush makes one. */
	if (env->dkim_canon != DKIM_CANON_NONE)
		w->bh = dkim_bh_new((enum dkim_canon)env->dkim_canon, 1);
	ex = writer_put(w, b.data, b.len, err);
	buf_free(&b);
	if (ex != 0) {
		queue_writer_abort(w);
		return ex;
	}
	*out = w;
	return 0;
}

int
queue_writer_write(struct qwriter *w, const void *p, size_t n,
    struct rq_err *err)
{
	int ex;

	if (w->dead_ex != 0)
		return writer_dead(w, err);
	ex = writer_put(w, p, n, err);
	if (ex != 0)
		return ex;
	w->size += (long long)n;
	if (w->bh != NULL)
		dkim_bh_feed(w->bh, p, n);
	return 0;
}

ssize_t
queue_writer_pread(struct qwriter *w, void *p, size_t n, long long off,
    struct rq_err *err)
{
	char *s = p;
	size_t got = 0;

	if (w->dead_ex != 0) {
		writer_dead(w, err);
		return -1;
	}
	if (off < 0) {
		rq_errf(err, EX_SOFTWARE, "negative queue read offset");
		return -1;
	}
	if (writer_flush(w, err) != 0)
		return -1;
	if (off >= w->size)
		return 0;
	if ((long long)n > w->size - off)
		n = (size_t)(w->size - off);
	while (got < n) {
		ssize_t r = pread(w->fd, s + got, n - got,
		    (off_t)(w->data_off + off + (long long)got));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			rq_errno(err, EX_IOERR, errno,
			    "cannot read back from queue %s", w->q->path);
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

long long
queue_writer_size(const struct qwriter *w)
{
	return w->size;
}

int
queue_writer_commit(struct qwriter *w, const struct envelope *env,
    struct rq_err *err)
{
	struct queue *q;
	char trailer[TRAILER_MAX], bh[DKIM_BH_MAX];
	int ex, n, fd, e;

	if (w == NULL)
		return rq_errf(err, EX_SOFTWARE, "no queue writer to commit");
	q = w->q;
	if (w->dead_ex != 0) {
		ex = writer_dead(w, err);
		goto out;
	}
	bh[0] = '\0';
	if (w->bh != NULL) {
		dkim_bh_end(w->bh, bh);
		w->bh = NULL;
	}
	n = snprintf(trailer, sizeof(trailer),
	    "end size=%lld eightbit=%d smtputf8=%d%s%s\n", w->size,
	    env->eightbit ? 1 : 0, env->smtputf8 ? 1 : 0,
	    bh[0] != '\0' ? " dkim-bh=" : "", bh);
	ex = writer_put(w, trailer, (size_t)n, err);
	if (ex == 0)
		ex = writer_flush(w, err);
	if (ex != 0)
		goto out;
	if (xfsync(w->fd) != 0) {
		ex = writer_fail(w, errno, err);
		goto out;
	}
	/*
	 * close() may report what write() did not (NFS, quotas).  It also
	 * drops our flock before the file is visible in msg/: a flush woken
	 * by the rename (--watch) must find the message free, not busy.
	 */
	fd = w->fd;
	w->fd = -1;
	if (close(fd) != 0) {
		ex = writer_fail(w, errno, err);
		goto out;
	}
	if (renameat2(q->sub[D_TMP], w->tmpname, q->sub[D_MSG], w->id,
	    RENAME_NOREPLACE) != 0) {
		ex = writer_fail(w, errno, err);
		goto out;
	}
	/*
	 * Now the file is msg/ID: that is what an error must remove.  A
	 * flush may have taken it meanwhile; then it is sent although we
	 * report failure, and a resubmission makes a duplicate, never a
	 * loss (and only after an I/O error on the directory).
	 *
	 * tmp/ is not fsynced: on a journalled file system the rename is
	 * one transaction, which fsync(msg/) commits whole; without a
	 * journal a tmp/ entry that comes back after a crash is a second
	 * name of the committed file, garbage for queue_sweep (which
	 * unlinks only that name), never a message.  One directory write
	 * per submission, as the floor (write, fsync, rename, fsync dir).
	 */
	if (xfsync(q->sub[D_MSG]) != 0) {
		e = errno;
		unlinkat(q->sub[D_MSG], w->id, 0);
		(void)xfsync(q->sub[D_MSG]);
		w->dead_ex = -1;	/* nothing left in tmp/ to unlink */
		ex = writer_fail(w, e, err);
		goto out;
	}
	ex = 0;
out:
	writer_close_fds(w);
	dkim_bh_free(w->bh);
	free(w->buf);
	free(w);
	return ex;
}

void
queue_writer_abort(struct qwriter *w)
{
	if (w == NULL)
		return;
	if (w->dead_ex == 0)
		unlinkat(w->q->sub[D_TMP], w->tmpname, 0);
	writer_close_fds(w);
	dkim_bh_free(w->bh);
	free(w->buf);
	free(w);
}

/* ---- reading: a line reader over pread ------------------------------------ */

struct lreader {
	int		 fd;
	long long	 off;		/* file offset of buf[0] */
	char		 buf[8192];
	size_t		 pos, len;
	int		 eof;
};

enum { LR_LINE = 1, LR_EOF = 0, LR_IOERR = -1, LR_LONG = -2, LR_PARTIAL = -3 };

/*
 * The next line without its LF in line.  LR_PARTIAL: text without a final
 * LF before EOF.  lr_tell() is the offset after the last line returned.
 */
static int
lr_getline(struct lreader *lr, struct buf *line, size_t max)
{
	buf_reset(line);
	for (;;) {
		char *nl;
		size_t avail = lr->len - lr->pos, take;
		ssize_t r;

		nl = memchr(lr->buf + lr->pos, '\n', avail);
		take = nl != NULL ? (size_t)(nl - (lr->buf + lr->pos)) : avail;
		if (line->len + take > max)
			return LR_LONG;
		buf_add(line, lr->buf + lr->pos, take);
		lr->pos += take;
		if (nl != NULL) {
			lr->pos++;
			return LR_LINE;
		}
		if (lr->eof)
			return line->len > 0 ? LR_PARTIAL : LR_EOF;
		lr->off += (long long)lr->len;
		lr->pos = lr->len = 0;
		for (;;) {
			r = pread(lr->fd, lr->buf, sizeof(lr->buf),
			    (off_t)lr->off);
			if (r >= 0 || errno != EINTR)
				break;
		}
		if (r < 0)
			return LR_IOERR;
		if (r == 0)
			lr->eof = 1;
		lr->len = (size_t)r;
	}
}

static long long
lr_tell(const struct lreader *lr)
{
	return lr->off + (long long)lr->pos;
}

/* Split "key value" / "key"; value is "" when absent. */
static void
split_kv(char *line, const char **key, const char **value)
{
	char *sp = strchr(line, ' ');

	*key = line;
	if (sp == NULL) {
		*value = "";
	} else {
		*sp = '\0';
		*value = sp + 1;
	}
}

static int
corrupt(struct rq_err *err, const char *id, const char *what, long line,
    const char *why)
{
	if (line > 0)
		return rq_errf(err, EX_DATAERR,
		    "%s %s is corrupt: line %ld: %s", what, id, line, why);
	return rq_errf(err, EX_DATAERR, "%s %s is corrupt: %s", what, id, why);
}

/*
 * A file of another format version: written by a newer relayq (or one
 * edited by hand).  It is never guessed at, and never changed: the message
 * stays where it is, unsent, for the relayq that wrote it.
 */
static int
other_version(struct rq_err *err, const char *what, const char *id,
    const char *version, const char *ours)
{
	return rq_errf(err, EX_DATAERR, "%s %s has format version \"%.20s\"; "
	    "this relayq reads version %s only and leaves it alone", what, id,
	    version, ours);
}

/*
 * Parse the envelope of the message file fd (named id) into env and find
 * where the content starts.
 */
static int
read_envelope(int fd, const char *id, struct envelope *env,
    long long *data_off, struct rq_err *err)
{
	static const char what[] = "queue file";
	struct lreader *lr = xcalloc(1, sizeof(*lr));
	struct buf line = { 0 };
	long lineno = 0;
	int seen_id = 0, seen_at = 0, seen_8bit = 0, ex = 0, r;

	lr->fd = fd;
	memset(env, 0, sizeof(*env));
	for (;;) {
		const char *key, *val;

		r = lr_getline(lr, &line, LINE_MAX_ENV);
		lineno++;
		if (r == LR_IOERR) {
			ex = rq_errno(err, EX_IOERR, errno,
			    "cannot read queue file %s", id);
			goto out;
		}
		if (r == LR_LONG) {
			ex = corrupt(err, id, what, lineno, "line too long");
			goto out;
		}
		if (r != LR_LINE) {
			ex = corrupt(err, id, what, 0,
			    lineno == 1 ? "empty or not a queue file" :
			    "envelope ends early (no \"data\" line)");
			goto out;
		}
		if (lr_tell(lr) > ENV_MAX) {
			ex = corrupt(err, id, what, 0, "envelope too large");
			goto out;
		}
		if (memchr(line.data, '\0', line.len) != NULL ||
		    !is_clean(line.data, line.len)) {
			ex = corrupt(err, id, what, lineno,
			    "control character");
			goto out;
		}
		if (lineno == 1) {
			if (strcmp(line.data, QVERSION_LINE) == 0)
				continue;
			if (strncmp(line.data, QVERSION_PREFIX,
			    strlen(QVERSION_PREFIX)) == 0)
				ex = other_version(err, what, id,
				    line.data + strlen(QVERSION_PREFIX),
				    QVERSION_LINE + strlen(QVERSION_PREFIX));
			else
				ex = corrupt(err, id, what, 0,
				    "not a relayq queue file");
			goto out;
		}
		if (strcmp(line.data, "data") == 0)
			break;
		split_kv(line.data, &key, &val);
		if (strcmp(key, "rcpt") == 0) {
			if (*val == '\0') {
				ex = corrupt(err, id, what, lineno,
				    "empty recipient");
				goto out;
			}
			strlist_add(&env->rcpts, val);
		} else if (strcmp(key, "id") == 0 && !seen_id) {
			if (strcmp(val, id) != 0) {
				ex = corrupt(err, id, what, lineno,
				    "ID does not match the file name");
				goto out;
			}
			rq_strlcpy(env->id, val, sizeof(env->id));
			seen_id = 1;
		} else if (strcmp(key, "queued-at") == 0 && !seen_at) {
			if (parse_uint(val, 0, LLONG_MAX, &env->queued_at)
			    != 0) {
				ex = corrupt(err, id, what, lineno,
				    "bad queued-at time");
				goto out;
			}
			seen_at = 1;
		} else if (strcmp(key, "sender") == 0 && env->sender == NULL) {
			env->sender = xstrdup(val);
		} else if (strcmp(key, "account") == 0 &&
		    env->account == NULL && *val != '\0') {
			env->account = xstrdup(val);
		} else if (strcmp(key, "notify") == 0 &&
		    env->dsn_notify == NULL && valid_notify(val)) {
			env->dsn_notify = xstrdup(val);
		} else if (strcmp(key, "ret") == 0 && env->dsn_ret == NULL &&
		    valid_ret(val)) {
			env->dsn_ret = xstrdup(val);
		} else if (strcmp(key, "envid") == 0 &&
		    env->dsn_envid == NULL) {
			env->dsn_envid = xtext_decode(val);
			if (env->dsn_envid == NULL) {
				ex = corrupt(err, id, what, lineno,
				    "bad envid");
				goto out;
			}
		} else if (strcmp(key, "body-8bitmime") == 0 && !seen_8bit &&
		    (strcmp(val, "0") == 0 || strcmp(val, "1") == 0)) {
			env->body_8bitmime = val[0] == '1';
			seen_8bit = 1;
		} else {
			ex = corrupt(err, id, what, lineno,
			    "unknown, repeated or malformed line");
			goto out;
		}
	}
	if (!seen_id || !seen_at || !seen_8bit || env->sender == NULL ||
	    env->rcpts.n == 0) {
		ex = corrupt(err, id, what, 0,
		    "envelope lacks id, queued-at, sender, body-8bitmime or "
		    "rcpt");
		goto out;
	}
	*data_off = lr_tell(lr);
out:
	buf_free(&line);
	free(lr);
	if (ex != 0)
		envelope_free(env);
	return ex;
}

/* "0" or a decimal without leading zeros, at most 18 digits. */
static const char *
parse_trailer_num(const char *s, long long *out)
{
	long long v = 0;
	int n = 0;

	if (*s == '0') {
		*out = 0;
		return s + 1;
	}
	while (*s >= '0' && *s <= '9' && n < 18) {
		v = v * 10 + (*s - '0');
		s++;
		n++;
	}
	if (n == 0 || (*s >= '0' && *s <= '9'))
		return NULL;
	*out = v;
	return s;
}

static const char *
expect(const char *s, const char *lit)
{
	size_t n = strlen(lit);

	return strncmp(s, lit, n) == 0 ? s + n : NULL;
}

/*
 * Parse a complete trailer line "end size=N eightbit=B smtputf8=U\n",
 * optionally with " dkim-bh=CANON:BASE64" before the LF, that must fill t
 * exactly.  bh gets the hash, or "".
 */
static int
parse_trailer(const char *t, long long *size, int *eightbit, int *smtputf8,
    char bh[DKIM_BH_MAX])
{
	const char *nl;

	const char *s = expect(t, "end size=");

	if (s != NULL)
		s = parse_trailer_num(s, size);
	if (s != NULL)
		s = expect(s, " eightbit=");
	if (s == NULL || (*s != '0' && *s != '1'))
		return -1;
	*eightbit = *s++ == '1';
	s = expect(s, " smtputf8=");
	if (s == NULL || (*s != '0' && *s != '1'))
		return -1;
	*smtputf8 = *s++ == '1';
	bh[0] = '\0';
	if (strcmp(s, "\n") == 0)
		return 0;
	s = expect(s, " dkim-bh=");
	if (s == NULL || (nl = strchr(s, '\n')) == NULL || nl[1] != '\0' ||
	    (size_t)(nl - s) >= DKIM_BH_MAX)
		return -1;
	memcpy(bh, s, (size_t)(nl - s));
	bh[nl - s] = '\0';
	if (!dkim_bh_valid(bh)) {
		bh[0] = '\0';
		return -1;
	}
	return 0;
}

static int
read_trailer(int fd, const char *id, long long data_off, long long fsize,
    struct envelope *env, struct rq_err *err)
{
	static const char what[] = "queue file";
	char tail[TRAILER_MAX + 1], *p, *cand = NULL;
	long long avail = fsize - data_off, tlen, size;
	ssize_t r;
	int eb, u8;

	tlen = avail < TRAILER_MAX ? avail : TRAILER_MAX;
	if (tlen <= 0)
		return corrupt(err, id, what, 0, "no end marker");
	r = pread(fd, tail, (size_t)tlen, (off_t)(fsize - tlen));
	if (r != (ssize_t)tlen)
		return r < 0 ? rq_errno(err, EX_IOERR, errno,
		    "cannot read queue file %s", id) :
		    corrupt(err, id, what, 0, "file shrank while read");
	tail[tlen] = '\0';
	/* A NUL would hide the rest from the string functions. */
	if (memchr(tail, '\0', (size_t)tlen) != NULL) {
		p = memrchr(tail, '\0', (size_t)tlen);
		memmove(tail, p + 1, (size_t)(tail + tlen - p));
		tlen = (long long)strlen(tail);
	}
	/* The last "end size=" is the only one a valid trailer can be. */
	for (p = tail; ; p++) {
		p = strstr(p, "end size=");
		if (p == NULL)
			break;
		cand = p;
	}
	if (cand == NULL || parse_trailer(cand, &size, &eb, &u8,
	    env->dkim_bh) != 0)
		return corrupt(err, id, what, 0, "no valid end marker");
	if (data_off + size != fsize - (long long)strlen(cand))
		return corrupt(err, id, what, 0,
		    "size in the end marker does not match the file");
	env->size = size;
	env->eightbit = eb;
	env->smtputf8 = u8;
	return 0;
}

/* ---- state files ---------------------------------------------------------- */

static void
state_free(struct qstate *st, size_t nrcpt)
{
	free(st->last_error);
	if (st->rreply != NULL)
		for (size_t i = 0; i < nrcpt; i++)
			free(st->rreply[i]);
	free(st->rreply);
	free(st->rstatus);
	memset(st, 0, sizeof(*st));
}

static void
state_init(struct qstate *st, size_t nrcpt)
{
	memset(st, 0, sizeof(*st));
	st->rstatus = xcalloc(nrcpt, sizeof(*st->rstatus));
	st->rreply = xcalloc(nrcpt, sizeof(*st->rreply));
}

static void
state_format(struct buf *b, const struct qstate *st, size_t nrcpt)
{
	buf_addstr(b, SVERSION_LINE "\n");
	buf_addf(b, "attempts %d\n", st->attempts < 0 ? 0 : st->attempts);
	buf_addf(b, "last-attempt %lld\n",
	    st->last_attempt < 0 ? 0 : st->last_attempt);
	buf_addf(b, "next-attempt %lld\n",
	    st->next_attempt < 0 ? 0 : st->next_attempt);
	buf_addf(b, "held %d\n", st->held ? 1 : 0);
	if (st->last_error != NULL && *st->last_error != '\0') {
		buf_addstr(b, "last-error ");
		buf_add_sanitized(b, st->last_error);
		buf_addch(b, '\n');
	}
	for (size_t i = 0; i < nrcpt; i++) {
		buf_addf(b, "rcpt %zu %s", i, rcpt_status_name(st->rstatus[i]));
		if (st->rreply[i] != NULL && *st->rreply[i] != '\0') {
			buf_addch(b, ' ');
			buf_add_sanitized(b, st->rreply[i]);
		}
		buf_addch(b, '\n');
	}
	buf_addstr(b, "end\n");
}

/* Parse a whole state file held in text (NUL-terminated, len octets). */
static int
state_parse(char *text, size_t len, const char *id, size_t nrcpt,
    struct qstate *st, struct rq_err *err)
{
	static const char what[] = "state file";
	char *line = text, *nl;
	long lineno = 0;
	size_t nr = 0;
	int seen_att = 0, seen_last = 0, seen_next = 0, seen_held = 0;
	int ended = 0;
	long long v;

	if (memchr(text, '\0', len) != NULL)
		return corrupt(err, id, what, 0, "NUL octet");
	if (len == 0 || text[len - 1] != '\n')
		return corrupt(err, id, what, 0, "truncated");
	for (; *line != '\0'; line = nl + 1) {
		const char *key, *val;

		nl = strchr(line, '\n');
		*nl = '\0';
		lineno++;
		if (ended)
			return corrupt(err, id, what, lineno,
			    "text after \"end\"");
		if (!is_clean(line, (size_t)(nl - line)))
			return corrupt(err, id, what, lineno,
			    "control character");
		if (lineno == 1) {
			if (strcmp(line, SVERSION_LINE) == 0)
				continue;
			if (strncmp(line, SVERSION_PREFIX,
			    strlen(SVERSION_PREFIX)) == 0)
				return other_version(err, what, id,
				    line + strlen(SVERSION_PREFIX),
				    SVERSION_LINE + strlen(SVERSION_PREFIX));
			return corrupt(err, id, what, 0,
			    "not a relayq state file");
		}
		if (strcmp(line, "end") == 0) {
			ended = 1;
			continue;
		}
		split_kv(line, &key, &val);
		if (strcmp(key, "rcpt") == 0) {
			const char *sp, *rest;
			char num[24];
			enum rcpt_status rs;
			size_t nlen;

			sp = strchr(val, ' ');
			nlen = sp == NULL ? 0 : (size_t)(sp - val);
			if (nlen == 0 || nlen >= sizeof(num))
				return corrupt(err, id, what, lineno,
				    "bad rcpt line");
			memcpy(num, val, nlen);
			num[nlen] = '\0';
			if (parse_uint(num, 0, LLONG_MAX, &v) != 0 ||
			    (nlen > 1 && num[0] == '0') ||
			    v != (long long)nr || nr >= nrcpt)
				return corrupt(err, id, what, lineno,
				    "recipient index out of order or range");
			val = sp + 1;
			sp = strchr(val, ' ');
			rest = sp == NULL ? val + strlen(val) : sp;
			if (rcpt_status_parse(val, (size_t)(rest - val), &rs)
			    != 0)
				return corrupt(err, id, what, lineno,
				    "unknown recipient status");
			st->rstatus[nr] = rs;
			if (sp != NULL) {
				if (sp[1] == '\0')
					return corrupt(err, id, what, lineno,
					    "bad rcpt line");
				st->rreply[nr] = xstrdup(sp + 1);
			}
			nr++;
		} else if (strcmp(key, "attempts") == 0 && !seen_att) {
			if (parse_uint(val, 0, INT_MAX, &v) != 0)
				return corrupt(err, id, what, lineno,
				    "bad attempts");
			st->attempts = (int)v;
			seen_att = 1;
		} else if (strcmp(key, "last-attempt") == 0 && !seen_last) {
			if (parse_uint(val, 0, LLONG_MAX, &st->last_attempt)
			    != 0)
				return corrupt(err, id, what, lineno,
				    "bad last-attempt");
			seen_last = 1;
		} else if (strcmp(key, "next-attempt") == 0 && !seen_next) {
			if (parse_uint(val, 0, LLONG_MAX, &st->next_attempt)
			    != 0)
				return corrupt(err, id, what, lineno,
				    "bad next-attempt");
			seen_next = 1;
		} else if (strcmp(key, "held") == 0 && !seen_held &&
		    (strcmp(val, "0") == 0 || strcmp(val, "1") == 0)) {
			st->held = val[0] == '1';
			seen_held = 1;
		} else if (strcmp(key, "last-error") == 0 &&
		    st->last_error == NULL && *val != '\0') {
			st->last_error = xstrdup(val);
		} else {
			return corrupt(err, id, what, lineno,
			    "unknown, repeated or malformed line");
		}
	}
	if (!ended || !seen_att || !seen_last || !seen_next || !seen_held)
		return corrupt(err, id, what, 0, "incomplete");
	if (nr != nrcpt)
		return corrupt(err, id, what, 0,
		    "recipient count does not match the message");
	return 0;
}

static void
state_name(char *dst, size_t size, const char *id, int failed)
{
	snprintf(dst, size, failed ? "%s.state" : "%s", id);
}

/* Load the state of message id (absent: all pending); st is initialised. */
static int
state_load(struct queue *q, const char *id, int failed, size_t nrcpt,
    struct qstate *st, struct rq_err *err)
{
	char name[QUEUE_ID_MAX + 8];
	struct buf b = { 0 };
	struct stat sb;
	char chunk[8192];
	int fd, ex;

	state_init(st, nrcpt);
	state_name(name, sizeof(name), id, failed);
	ex = sub_for_read(q, failed ? D_FAILED : D_STATE, &fd, err);
	if (ex != 0 || fd < 0)
		return ex;	/* no state/: nothing tried yet */
	fd = openat(fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		ex = rq_errno(err, EX_IOERR, errno,
		    "cannot open the state of message %s", id);
		goto out;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		ex = corrupt(err, id, "state file", 0, "not a regular file");
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ex = rq_errno(err, EX_IOERR, errno,
			    "cannot read the state of message %s", id);
			goto out;
		}
		if (r == 0)
			break;
		if (b.len + (size_t)r > STATE_MAX) {
			ex = corrupt(err, id, "state file", 0, "too large");
			goto out;
		}
		buf_add(&b, chunk, (size_t)r);
	}
	if (b.data == NULL)
		buf_add(&b, "", 0);
	ex = state_parse(b.data, b.len, id, nrcpt, st, err);
out:
	if (fd >= 0)
		close(fd);
	buf_free(&b);
	if (ex != 0) {
		state_free(st, nrcpt);
		state_init(st, nrcpt);
	}
	return ex;
}

/*
 * Write text to dir/name atomically: tmp file, fsync, checked close,
 * rename, fsync of dir.  (tmp/ is not fsynced: a tmp entry that comes back
 * after a crash is garbage for queue_sweep, never a message.)
 */
static int
atomic_write(struct queue *q, int dir, const char *name, const char *id,
    const struct buf *text, struct rq_err *err)
{
	char tmp[QUEUE_ID_MAX + 16];
	int fd, e;

	make_tmpname(tmp, sizeof(tmp), id, 's');
	fd = openat(q->sub[D_TMP], tmp,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, q->fmode);
	if (fd < 0) {
		e = errno;
		goto fail;
	}
	if ((q->group && fchmod(fd, q->fmode) != 0) ||
	    write_all(fd, text->data, text->len) != 0 || xfsync(fd) != 0) {
		e = errno;
		close(fd);
		unlinkat(q->sub[D_TMP], tmp, 0);
		goto fail;
	}
	if (close(fd) != 0 ||
	    renameat(q->sub[D_TMP], tmp, q->sub[dir], name) != 0) {
		e = errno;
		unlinkat(q->sub[D_TMP], tmp, 0);
		goto fail;
	}
	if (xfsync(q->sub[dir]) != 0) {
		e = errno;
		goto fail;
	}
	return 0;
fail:
	return rq_errno(err, ex_from_errno(e), e,
	    "cannot write the state of message %s in queue %s", id, q->path);
}

/* ---- reading messages ----------------------------------------------------- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The queue IDs in one of the directories, sorted (oldest first). */
static int
list_ids(struct queue *q, int dir, struct strlist *ids, struct rq_err *err)
{
	struct dirent *de;
	DIR *d;
	int fd, ex;

	ex = sub_for_read(q, dir, &fd, err);
	if (ex != 0 || fd < 0)
		return ex;	/* not there: nothing in it */
	fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return rq_errno(err, EX_IOERR, errno, "cannot list queue %s",
		    q->path);
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return rq_errno(err, EX_IOERR, errno, "cannot list queue %s",
		    q->path);
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL)
			break;
		if (is_id(de->d_name))
			strlist_add(ids, de->d_name);
	}
	if (errno != 0) {
		int e = errno;

		closedir(d);
		return rq_errno(err, EX_IOERR, e, "cannot list queue %s",
		    q->path);
	}
	closedir(d);
	if (ids->n > 1)
		qsort(ids->v, ids->n, sizeof(*ids->v), cmp_str);
	return 0;
}

int
queue_list(struct queue *q, int failed, struct strlist *ids,
    struct rq_err *err)
{
	return list_ids(q, failed ? D_FAILED : D_MSG, ids, err);
}

/*
 * The due facts of state/ID from its first lines (they precede the rcpt
 * lines): 0 when next-attempt and held were found, -1 otherwise (the
 * caller then reads the message the long way).
 */
static int
state_due(struct queue *q, const char *id, struct qdue *d)
{
	char text[4096], *line, *nl, *val;
	int fd, seen = 0, first = 1;
	ssize_t n;
	long long v;

	if (q->sub[D_STATE] < 0)
		return -1;
	fd = openat(q->sub[D_STATE], id,
	    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;	/* gone: nothing tried */
	do
		n = pread(fd, text, sizeof(text) - 1, 0);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return -1;
	text[n] = '\0';
	for (line = text; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		*nl = '\0';
		if (first) {
			if (strcmp(line, SVERSION_LINE) != 0)
				return -1;
			first = 0;
		} else if (strncmp(line, "next-attempt ", 13) == 0) {
			if (parse_uint(line + 13, 0, LLONG_MAX, &v) != 0)
				return -1;
			d->next_attempt = v;
			seen |= 1;
		} else if (strncmp(line, "held ", 5) == 0) {
			val = line + 5;
			if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
				return -1;
			d->held = val[0] == '1';
			seen |= 2;
		} else if (strncmp(line, "rcpt ", 5) == 0 ||
		    strcmp(line, "end") == 0) {
			break;
		}
	}
	return seen == 3 ? 0 : -1;
}

int
queue_list_due(struct queue *q, struct strlist *ids, struct qdue **out,
    struct rq_err *err)
{
	struct strlist st = { 0 };
	struct qdue *d;
	size_t i, k = 0;
	int ex, c;

	*out = NULL;
	ex = list_ids(q, D_MSG, ids, err);
	if (ex == 0)
		ex = list_ids(q, D_STATE, &st, err);
	if (ex != 0) {
		strlist_free(&st);
		return ex;
	}
	d = xcalloc(ids->n > 0 ? ids->n : 1, sizeof(*d));
	/* Both lists are sorted: one pass pairs each message with its
	   state file, and a message without one needs no system call. */
	for (i = 0; i < ids->n; i++) {
		d[i].known = 1;
		for (c = 1; k < st.n && (c = strcmp(st.v[k], ids->v[i])) < 0;
		    k++)
			;
		if (k < st.n && c == 0 && state_due(q, ids->v[i], &d[i]) != 0)
			d[i].known = 0;
	}
	strlist_free(&st);
	*out = d;
	return 0;
}

int
queue_msg_open(struct queue *q, const char *id, int flags,
    struct qmsg **out, struct rq_err *err)
{
	int failed = (flags & QO_FAILED) != 0, dir = failed ? D_FAILED : D_MSG;
	struct stat st, now;
	struct qmsg *m;
	int ex, dfd;

	*out = NULL;
	if (!is_id(id))
		return rq_errf(err, EX_USAGE, "\"%.40s\" is not a queue ID",
		    id);
	ex = sub_for_read(q, dir, &dfd, err);
	if (ex != 0)
		return ex;
	m = xcalloc(1, sizeof(*m));
	m->failed = failed;
	m->fd = dfd < 0 ? -1 : openat(dfd, id,
	    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (m->fd < 0) {
		if (dfd < 0 || errno == ENOENT)
			ex = rq_errf(err, EX_NOINPUT, "no message %s in %s%s",
			    id, failed ? "the failed area of queue " :
			    "queue ", q->path);
		else
			ex = rq_errno(err, EX_IOERR, errno,
			    "cannot open message %s", id);
		goto fail;
	}
	if (flags & QO_LOCK) {
		int op = LOCK_EX | ((flags & QO_NOWAIT) ? LOCK_NB : 0);

		while (flock(m->fd, op) != 0) {
			if (errno == EINTR)
				continue;
			if (errno == EWOULDBLOCK)
				ex = rq_errf(err, EX_TEMPFAIL,
				    "message %s is being delivered; try again",
				    id);
			else
				ex = rq_errno(err, EX_IOERR, errno,
				    "cannot lock message %s", id);
			goto fail;
		}
	}
	if (fstat(m->fd, &st) != 0) {
		ex = rq_errno(err, EX_IOERR, errno, "cannot stat message %s",
		    id);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		ex = corrupt(err, id, "queue file", 0, "not a regular file");
		goto fail;
	}
	/*
	 * While we waited for the lock, another flush may have delivered it
	 * (unlinked) or failed it (renamed): the name must still lead here.
	 * Without the lock (mailq) nothing was waited for, and what is read
	 * is as true as it was at the open.
	 */
	if ((flags & QO_LOCK) && (st.st_nlink == 0 || fstatat(dfd, id, &now,
	    AT_SYMLINK_NOFOLLOW) != 0 || now.st_ino != st.st_ino ||
	    now.st_dev != st.st_dev)) {
		ex = rq_errf(err, EX_NOINPUT,
		    "message %s was removed meanwhile", id);
		goto fail;
	}
	ex = read_envelope(m->fd, id, &m->env, &m->data_off, err);
	if (ex == 0)
		ex = read_trailer(m->fd, id, m->data_off, (long long)st.st_size,
		    &m->env, err);
	if (ex != 0)
		goto fail;
	ex = state_load(q, id, failed, m->env.rcpts.n, &m->st, err);
	if (ex != 0)
		goto fail;
	*out = m;
	return 0;
fail:
	queue_msg_close(m);
	return ex;
}

void
queue_msg_close(struct qmsg *m)
{
	if (m == NULL)
		return;
	if (m->fd >= 0)
		close(m->fd);
	state_free(&m->st, m->env.rcpts.n);
	envelope_free(&m->env);
	free(m);
}

static int
save_state_at(struct queue *q, struct qmsg *m, int failed,
    struct rq_err *err)
{
	char name[QUEUE_ID_MAX + 8];
	struct buf b = { 0 };
	int ex;

	ex = need_dirs(q, err);
	if (ex != 0)
		return ex;
	state_name(name, sizeof(name), m->env.id, failed);
	state_format(&b, &m->st, m->env.rcpts.n);
	ex = atomic_write(q, failed ? D_FAILED : D_STATE, name, m->env.id, &b,
	    err);
	buf_free(&b);
	return ex;
}

int
queue_msg_save_state(struct queue *q, struct qmsg *m, struct rq_err *err)
{
	return save_state_at(q, m, m->failed, err);
}

static int
q_errno(struct queue *q, struct qmsg *m, int errnum, const char *what,
    struct rq_err *err)
{
	return rq_errno(err, ex_from_errno(errnum), errnum,
	    "cannot %s message %s in queue %s", what, m->env.id, q->path);
}

struct queue_group *
queue_group_new(void)
{
	struct queue_group *g;
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;

	g = mmap(NULL, sizeof(*g), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g == MAP_FAILED)
		return NULL;
	memset(g, 0, sizeof(*g));
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	/* A process killed while holding it must not stop the others. */
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_mutex_init(&g->mu, &ma) != 0 ||
	    pthread_cond_init(&g->cv, &ca) != 0) {
		munmap(g, sizeof(*g));
		g = NULL;
	}
	pthread_mutexattr_destroy(&ma);
	pthread_condattr_destroy(&ca);
	return g;
}

void
queue_group_free(struct queue_group *g)
{
	if (g != NULL)
		munmap(g, sizeof(*g));
}

void
queue_set_group(struct queue *q, struct queue_group *g)
{
	q->gc = g;
}

static void
gc_lock(struct queue_group *g)
{
	if (pthread_mutex_lock(&g->mu) == EOWNERDEAD)
		pthread_mutex_consistent(&g->mu);
}

/* fsync(msg/) for an unlink that has been made: alone, or shared. */
static int
msgdir_sync(struct queue *q)
{
	struct queue_group *g = q->gc;
	unsigned long long t, target;
	struct timespec until;
	int rc, e;

	if (g == NULL)
		return xfsync(q->sub[D_MSG]);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += GC_WAIT_MS * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	gc_lock(g);
	t = ++g->ticket;
	while (g->synced < t && g->busy > 0 && g->started >= t) {
		rc = pthread_cond_timedwait(&g->cv, &g->mu, &until);
		if (rc == EOWNERDEAD)
			pthread_mutex_consistent(&g->mu);
		else if (rc == ETIMEDOUT)
			break;	/* the one syncing may be gone */
	}
	if (g->synced >= t) {
		pthread_mutex_unlock(&g->mu);
		return 0;
	}
	if (g->failed_to >= t) {
		/* One that covered t failed: a later success proves nothing
		   (after a failed fsync the kernel may have dropped what it
		   could not write). */
		e = g->err;
		pthread_mutex_unlock(&g->mu);
		errno = e;
		return -1;
	}
	/* Nothing under way covers t: an fsync of our own, now. */
	target = g->ticket;
	if (g->started < target)
		g->started = target;
	g->busy++;
	pthread_mutex_unlock(&g->mu);
	rc = xfsync(q->sub[D_MSG]);
	e = errno;
	gc_lock(g);
	g->busy--;
	if (rc == 0 && g->synced < target)
		g->synced = target;
	else if (rc != 0 && g->failed_to < target) {
		g->failed_to = target;
		g->err = e;
	}
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	errno = e;
	return rc;
}

int
queue_msg_unlink(struct queue *q, struct qmsg *m, struct rq_err *err)
{
	int dir = m->failed ? D_FAILED : D_MSG;

	if (unlinkat(q->sub[dir], m->env.id, 0) != 0 && errno != ENOENT)
		return q_errno(q, m, errno, "remove", err);
	return 0;
}

int
queue_msg_sync_removal(struct queue *q, const struct qmsg *m,
    struct rq_err *err)
{
	int dir = m->failed ? D_FAILED : D_MSG, e;

	/* Only sub[dir] and the group: nothing another thread changes. */
	if ((dir == D_MSG ? msgdir_sync(q) : xfsync(q->sub[dir])) == 0)
		return 0;
	e = errno;
	return rq_errno(err, ex_from_errno(e), e,
	    "cannot remove message %s in queue %s", m->env.id, q->path);
}

int
queue_msg_unlink_state(struct queue *q, struct qmsg *m, struct rq_err *err)
{
	char name[QUEUE_ID_MAX + 8];
	int sdir = m->failed ? D_FAILED : D_STATE;
	int ex, sfd;

	/* Nothing to create for a removal: no state/, no state file. */
	ex = sub_for_read(q, sdir, &sfd, err);
	if (ex != 0 || sfd < 0)
		return ex;
	state_name(name, sizeof(name), m->env.id, m->failed);
	if (unlinkat(sfd, name, 0) != 0 && errno != ENOENT)
		return q_errno(q, m, errno, "remove the state of", err);
	return 0;
}

int
queue_msg_remove(struct queue *q, struct qmsg *m, struct rq_err *err)
{
	int ex;

	/*
	 * The message goes first and for good (fsync) before its state: a
	 * crash in between leaves a state file without a message (garbage),
	 * never a message without the state that says who already has it.
	 */
	ex = queue_msg_unlink(q, m, err);
	if (ex == 0)
		ex = queue_msg_sync_removal(q, m, err);
	if (ex == 0)
		ex = queue_msg_unlink_state(q, m, err);
	return ex;
}

int
queue_msg_fail(struct queue *q, struct qmsg *m, struct rq_err *err)
{
	char name[QUEUE_ID_MAX + 8];
	int ex;

	if (m->failed)
		return 0;
	ex = need_dirs(q, err);
	if (ex != 0)
		return ex;
	/* Message first (same reasoning as in queue_msg_remove). */
	if (renameat(q->sub[D_MSG], m->env.id, q->sub[D_FAILED],
	    m->env.id) != 0)
		return q_errno(q, m, errno, "move to failed/", err);
	m->failed = 1;
	if (xfsync(q->sub[D_FAILED]) != 0 || xfsync(q->sub[D_MSG]) != 0)
		return q_errno(q, m, errno, "move to failed/", err);
	state_name(name, sizeof(name), m->env.id, 1);
	if (renameat(q->sub[D_STATE], m->env.id, q->sub[D_FAILED], name) != 0) {
		if (errno != ENOENT)
			return q_errno(q, m, errno,
			    "move to failed/ the state of", err);
		return 0;
	}
	if (xfsync(q->sub[D_FAILED]) != 0 || xfsync(q->sub[D_STATE]) != 0)
		return q_errno(q, m, errno, "move to failed/ the state of",
		    err);
	return 0;
}

int
queue_msg_requeue(struct queue *q, struct qmsg *m, struct rq_err *err)
{
	char name[QUEUE_ID_MAX + 8];
	int ex;

	if (!m->failed)
		return rq_errf(err, EX_USAGE,
		    "message %s is not in the failed area", m->env.id);
	/*
	 * A fresh state, except that recipients who have the message keep
	 * it: requeueing must not send to them again.  It is written before
	 * the message moves, so the message is never in msg/ without it.
	 */
	m->st.attempts = 0;
	m->st.last_attempt = m->st.next_attempt = 0;
	m->st.held = 0;
	free(m->st.last_error);
	m->st.last_error = NULL;
	for (size_t i = 0; i < m->env.rcpts.n; i++) {
		if (m->st.rstatus[i] == RCPT_SENT)
			continue;
		m->st.rstatus[i] = RCPT_PENDING;
		free(m->st.rreply[i]);
		m->st.rreply[i] = NULL;
	}
	ex = save_state_at(q, m, 0, err);
	if (ex != 0)
		return ex;
	if (renameat2(q->sub[D_FAILED], m->env.id, q->sub[D_MSG], m->env.id,
	    RENAME_NOREPLACE) != 0) {
		ex = q_errno(q, m, errno, "requeue", err);
		unlinkat(q->sub[D_STATE], m->env.id, 0);
		return ex;
	}
	m->failed = 0;
	if (xfsync(q->sub[D_MSG]) != 0 || xfsync(q->sub[D_FAILED]) != 0)
		return q_errno(q, m, errno, "requeue", err);
	state_name(name, sizeof(name), m->env.id, 1);
	if (unlinkat(q->sub[D_FAILED], name, 0) != 0 && errno != ENOENT)
		return q_errno(q, m, errno, "requeue", err);
	return 0;
}

int
queue_sweep(struct queue *q, long long max_age, int *removed,
    struct rq_err *err)
{
	struct dirent *de;
	struct stat st;
	long long now = (long long)time(NULL);
	DIR *d = NULL;
	int fd, ex;

	*removed = 0;
	ex = sub_for_read(q, D_TMP, &fd, err);
	if (ex != 0 || fd < 0)
		return ex;	/* no tmp/: nothing left over */
	fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		d = fdopendir(fd);
	if (d == NULL) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return rq_errno(err, EX_IOERR, e, "cannot list %s/tmp",
		    q->path);
	}
	for (;;) {
		int f;

		de = readdir(d);
		if (de == NULL)
			break;
		if (de->d_name[0] == '.')
			continue;
		f = openat(q->sub[D_TMP], de->d_name,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (f < 0)
			continue;
		/*
		 * A writer holds its lock from creation until the file has
		 * been renamed away; the age test covers the instant between
		 * its open and its flock, and the unlocked state files.
		 */
		if (fstat(f, &st) == 0 && S_ISREG(st.st_mode) &&
		    now - (long long)st.st_mtime >= max_age &&
		    flock(f, LOCK_EX | LOCK_NB) == 0 &&
		    unlinkat(q->sub[D_TMP], de->d_name, 0) == 0)
			(*removed)++;
		close(f);
	}
	closedir(d);
	return 0;
}
