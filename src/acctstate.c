/*
 * relayq -- per-account state in the queue directory: the warm-up ramp
 * and the delivery totals.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * FILE FORMAT (version 1).  QUEUE/account.NAME is 1024 octets: two slots
 * of 512, each a complete record, text up to a CRC line, then spaces, and
 * a LF as its last octet:
 *
 *	relayq-account 1
 *	seq 42				the newer slot has the higher seq
 *	warmup-start 1795888740		first counted send; 0: not started
 *	warmup-day 3			the day warmup-count is for
 *	warmup-count 120		messages counted on that day
 *	sent 4567			messages delivered to all recipients
 *	deferred 12			attempts that ended deferred
 *	failed 3			messages that failed for good
 *	last-sent 1795889000		last delivery; 0: never
 *	crc 1a2b3c4d			CRC-32 (IEEE) of the lines above
 *
 * WHY IN PLACE, AND WHY TWO SLOTS.  An update locks the file itself
 * (flock), reads both slots, takes the valid one with the higher seq and
 * writes seq + 1 over the other with one pwrite.  Replacing the file by
 * rename instead would move the inode from under a process waiting for
 * the lock, need a lock file beside it and temporary files to sweep, and
 * cost an fsync of the directory as well as of the file.  A write torn by
 * a power cut damages only the slot being written (it then fails its
 * CRC); the other still holds the previous record, which is the last one
 * that was synced.
 *
 * DURABILITY.  While a warm-up is running (the account has a schedule and
 * today is within it, or it has not started), every write is followed by
 * fdatasync before the function returns, and a message is counted before
 * it goes: after a crash the count is at least what was sent (at worst one
 * more per message then in flight, an under-used day, never an overrun).
 * Outside a warm-up the totals are written without a sync: a crash may
 * lose the last increments of a counter, which metrics tolerate, and a
 * delivery costs no extra disk flush.
 *
 * A file whose slots both fail (never seen short of a damaged disk) is
 * rebuilt: totals from zero, and, for an account with a warm-up schedule,
 * a warm-up started again now with the first day's allowance taken as
 * used, so the damage can only slow the ramp, never exceed it.  It is
 * logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acctstate.h"
#include "log.h"

#define SLOT		512
#define FILE_SIZE	(2 * SLOT)
#define MAGIC		"relayq-account 1\n"

static const char *const keys[] = {
	"seq", "warmup-start", "warmup-day", "warmup-count", "sent",
	"deferred", "failed", "last-sent",
};

static long long *
field(struct acct_state *st, size_t i)
{
	long long *f[] = {
		&st->seq, &st->warmup_start, &st->warmup_day,
		&st->warmup_count, &st->sent, &st->deferred, &st->failed,
		&st->last_sent,
	};

	return f[i];
}

static uint32_t
crc32(const char *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n-- > 0) {
		c ^= (unsigned char)*p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return ~c;
}

/* One slot's 512 octets for st. */
static void
slot_format(char *slot, const struct acct_state *st)
{
	struct acct_state s = *st;
	size_t n;

	n = (size_t)snprintf(slot, SLOT, MAGIC);
	for (size_t i = 0; i < RQ_ARRAY_LEN(keys); i++)
		n += (size_t)snprintf(slot + n, SLOT - n, "%s %lld\n", keys[i],
		    *field(&s, i));
	n += (size_t)snprintf(slot + n, SLOT - n, "crc %08x\n",
	    (unsigned)crc32(slot, n));
	memset(slot + n, ' ', SLOT - 1 - n);
	slot[SLOT - 1] = '\n';
}

/* Parse one slot; 0 when it checks out. */
static int
slot_parse(const char *slot, size_t len, struct acct_state *st)
{
	const char *p = slot, *end = slot + len, *crcline;
	char line[64];
	unsigned long long crc;
	long long v;

	memset(st, 0, sizeof(*st));
	if (len != SLOT || slot[SLOT - 1] != '\n' ||
	    memcmp(p, MAGIC, strlen(MAGIC)) != 0)
		return -1;
	p += strlen(MAGIC);
	for (size_t i = 0; i <= RQ_ARRAY_LEN(keys); i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl == NULL ? 0 : (size_t)(nl - p);
		const char *key = i < RQ_ARRAY_LEN(keys) ? keys[i] : "crc";
		size_t kl = strlen(key);

		if (nl == NULL || n >= sizeof(line) || n <= kl + 1 ||
		    memcmp(p, key, kl) != 0 || p[kl] != ' ')
			return -1;
		memcpy(line, p + kl + 1, n - kl - 1);
		line[n - kl - 1] = '\0';
		if (i == RQ_ARRAY_LEN(keys)) {
			char *e;

			crcline = p;
			errno = 0;
			crc = strtoull(line, &e, 16);
			if (errno != 0 || *e != '\0' || n - kl - 1 != 8 ||
			    crc != crc32(slot, (size_t)(crcline - slot)))
				return -1;
		} else {
			if (parse_uint(line, 0, LLONG_MAX, &v) != 0)
				return -1;
			*field(st, i) = v;
		}
		p = nl + 1;
	}
	for (; p < end - 1; p++)
		if (*p != ' ')
			return -1;
	return 0;
}

/*
 * The newest valid slot of the file's first len octets in buf.  Returns
 * 0 (st set; *slot the index of that slot, -1 for an empty file) or -1
 * when the file has content but no valid slot.
 */
static int
state_parse(const char *buf, size_t len, struct acct_state *st, int *slot)
{
	struct acct_state s[2];
	int ok0, ok1;

	memset(st, 0, sizeof(*st));
	*slot = -1;
	if (len == 0)
		return 0;
	ok0 = len >= SLOT && slot_parse(buf, SLOT, &s[0]) == 0;
	ok1 = len >= FILE_SIZE && slot_parse(buf + SLOT, SLOT, &s[1]) == 0;
	if (!ok0 && !ok1)
		return -1;
	*slot = ok0 && (!ok1 || s[0].seq >= s[1].seq) ? 0 : 1;
	*st = s[*slot];
	return 0;
}

static char *
state_path(struct queue *q, const char *prefix, const char *name)
{
	char *path = xasprintf("%s/%s.%s", queue_path(q), prefix, name);

	for (char *p = path + strlen(queue_path(q)) + 1; *p != '\0'; p++)
		if (*p == '/')
			*p = '_';
	return path;
}

/*
 * Open (creating it when missing) and lock the state file of account
 * name.  Files are created 0600, or 0640 in a system queue (its directory
 * grants its group rwx), as the queue's own files are.
 */
static int
state_open(struct queue *q, const char *name, struct rq_err *err)
{
	char *path = state_path(q, "account", name);
	struct stat sb;
	mode_t mode = 0600;
	int fd;

	fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (stat(queue_path(q), &sb) == 0 &&
		    (sb.st_mode & S_IRWXG) == S_IRWXG)
			mode = 0640;
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		    mode);
		if (fd >= 0 && mode == 0640)
			(void)fchmod(fd, mode);
	}
	if (fd < 0) {
		rq_errno(err, EX_IOERR, errno, "cannot open %s", path);
		free(path);
		return -1;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			rq_errno(err, EX_IOERR, errno, "cannot lock %s", path);
			close(fd);
			free(path);
			return -1;
		}
	}
	free(path);
	return fd;
}

/* Read the locked file: 0, 1 when damaged (st zeroed), -1 on error. */
static int
state_read(int fd, struct acct_state *st, int *slot, struct rq_err *err)
{
	char buf[FILE_SIZE];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);

	if (n < 0)
		return rq_errno(err, EX_IOERR, errno,
		    "cannot read an account state file"), -1;
	if (state_parse(buf, (size_t)n, st, slot) != 0) {
		memset(st, 0, sizeof(*st));
		*slot = -1;
		return 1;
	}
	return 0;
}

/* Write st over the slot that is not cur (the newer one stays). */
static int
state_write(int fd, struct acct_state *st, int cur, int sync,
    struct rq_err *err)
{
	char slot[SLOT];
	int dst = cur == 0 ? 1 : 0;

	st->seq++;
	slot_format(slot, st);
	if (pwrite(fd, slot, SLOT, (off_t)dst * SLOT) != SLOT ||
	    (sync && fdatasync(fd) != 0))
		return rq_errno(err, EX_IOERR, errno,
		    "cannot write an account state file"), -1;
	return 0;
}

long long
acct_warmup_day(long long start, long long now)
{
	if (start <= 0 || now < start)
		return 1;
	return (now - start) / ACCT_DAY + 1;
}

long long
acct_warmup_allowance(const struct account *a, long long day)
{
	if (a->nwarmup == 0 || day < 1 || day > (long long)a->nwarmup)
		return -1;
	return a->warmup[day - 1];
}

/* Is a warm-up running for a (then every write is synced)? */
static int
warming(const struct account *a, const struct acct_state *st, long long now)
{
	if (a->nwarmup == 0)
		return 0;
	return st->warmup_start == 0 ||
	    acct_warmup_day(st->warmup_start, now) <= (long long)a->nwarmup;
}

static void
refuse_error(struct warmup_verdict *v, long long now, const char *why)
{
	v->ok = 0;
	v->until = now + 60;
	snprintf(v->reason, sizeof(v->reason), "warm-up: cannot keep the "
	    "day's count (%.160s); retrying in a minute", why);
}

/*
 * Today's warm-up day for st at now (st updated: the start recorded, a
 * new day's count at 0), and whether one more message fits.  Returns 1
 * when st changed.
 */
static int
judge(const struct account *a, struct acct_state *st, long long now,
    struct warmup_verdict *v)
{
	char date[64];
	long long day, allow;
	int dirty = 0;

	if (st->warmup_start == 0) {
		st->warmup_start = now;
		st->warmup_day = 1;
		st->warmup_count = 0;
		dirty = 1;
	}
	day = acct_warmup_day(st->warmup_start, now);
	/* A clock set back must not reopen an earlier, emptier day. */
	if (day < st->warmup_day)
		day = st->warmup_day;
	allow = acct_warmup_allowance(a, day);
	v->ok = 1;
	v->day = day;
	v->allowance = allow;
	v->count = st->warmup_count;
	if (allow < 0)
		return dirty;
	if (st->warmup_day != day) {
		st->warmup_day = day;
		st->warmup_count = 0;
		v->count = 0;
		dirty = 1;
	}
	if (st->warmup_count >= allow) {
		v->ok = 0;
		v->until = st->warmup_start + day * ACCT_DAY;
		rfc3339_date(date, sizeof(date), (time_t)v->until);
		snprintf(v->reason, sizeof(v->reason), "warm-up: allowance of "
		    "%lld for day %lld used; next day starts at %s", allow,
		    day, date);
	}
	return dirty;
}

/* A damaged file: slow the ramp down rather than risk running over it. */
static void
rebuild(const struct account *a, struct acct_state *st, long long now)
{
	log_line(LOG_ERR, "account %s: the account state file is damaged; "
	    "the warm-up starts again now with today's allowance taken as "
	    "used", a->name);
	st->warmup_start = now;
	st->warmup_day = 1;
	st->warmup_count = acct_warmup_allowance(a, 1);
}

int
acct_warmup_take(struct queue *q, const struct account *a, long long now,
    struct warmup_verdict *v)
{
	struct acct_state st;
	struct rq_err err;
	int fd, slot, r, dirty = 0;

	memset(v, 0, sizeof(*v));
	v->ok = 1;
	v->allowance = -1;
	if (a->nwarmup == 0)
		return 1;
	fd = state_open(q, a->name, &err);
	if (fd < 0) {
		log_line(LOG_ERR, "account %s: %s", a->name, err.msg);
		refuse_error(v, now, err.msg);
		return 0;
	}
	r = state_read(fd, &st, &slot, &err);
	if (r < 0) {
		log_line(LOG_ERR, "account %s: %s", a->name, err.msg);
		refuse_error(v, now, err.msg);
		close(fd);
		return 0;
	}
	if (r == 1) {
		rebuild(a, &st, now);
		dirty = 1;
	}
	dirty |= judge(a, &st, now, v);
	if (v->ok && v->allowance >= 0) {
		st.warmup_count++;
		v->count = st.warmup_count;
		dirty = 1;
	}
	if (dirty && state_write(fd, &st, slot, 1, &err) != 0) {
		log_line(LOG_ERR, "account %s: %s", a->name, err.msg);
		refuse_error(v, now, err.msg);
	}
	close(fd);
	return v->ok;
}

int
acct_warmup_peek(struct queue *q, const struct account *a, long long now,
    struct warmup_verdict *v)
{
	struct acct_state st;
	struct rq_err err;

	memset(v, 0, sizeof(*v));
	v->ok = 1;
	v->allowance = -1;
	if (a->nwarmup == 0)
		return 1;
	/* Unreadable or damaged: acct_warmup_take() decides (and says). */
	if (acct_load(q, a->name, &st, &err) != 0)
		return 1;
	(void)judge(a, &st, now, v);
	return v->ok;
}

int
acct_warmup_defer(struct queue *q, struct qmsg *m,
    const struct warmup_verdict *v, struct rq_err *err)
{
	m->st.next_attempt = v->until;
	free(m->st.last_error);
	m->st.last_error = xstrdup(v->reason);
	return queue_msg_save_state(q, m, err);
}

int
acct_count(struct acct_counts *c, enum outcome out, long long now)
{
	switch (out) {
	case OUT_OK:
		c->sent++;
		if (now > c->last_sent)
			c->last_sent = now;
		break;
	case OUT_TEMP:
		c->deferred++;
		break;
	case OUT_PERM:
		c->failed++;
		break;
	}
	return c->sent + c->deferred + c->failed >= ACCT_BATCH;
}

void
acct_record(struct queue *q, const struct account *a, struct acct_counts *c,
    long long now)
{
	struct acct_state st;
	struct rq_err err;
	int fd, slot, r;

	if (c->sent + c->deferred + c->failed == 0)
		return;
	fd = state_open(q, a->name, &err);
	if (fd < 0) {
		log_line(LOG_ERR, "account %s: %s", a->name, err.msg);
		return;
	}
	r = state_read(fd, &st, &slot, &err);
	if (r < 0) {
		log_line(LOG_ERR, "account %s: %s", a->name, err.msg);
		close(fd);
		return;
	}
	if (r == 1 && a->nwarmup > 0)
		rebuild(a, &st, now);	/* never a fresh allowance */
	st.sent += c->sent;
	st.deferred += c->deferred;
	st.failed += c->failed;
	if (c->last_sent > st.last_sent)
		st.last_sent = c->last_sent;
	if (state_write(fd, &st, slot, warming(a, &st, now), &err) != 0)
		log_line(LOG_ERR, "account %s: %s", a->name, err.msg);
	close(fd);
	memset(c, 0, sizeof(*c));
}

int
acct_load(struct queue *q, const char *name, struct acct_state *st,
    struct rq_err *err)
{
	char *path = state_path(q, "account", name);
	char buf[FILE_SIZE];
	ssize_t n;
	int fd, slot, ex = 0;

	memset(st, 0, sizeof(*st));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			ex = rq_errno(err, EX_IOERR, errno, "cannot open %s",
			    path);
		free(path);
		return ex;
	}
	while (flock(fd, LOCK_SH) != 0 && errno == EINTR)
		;
	n = pread(fd, buf, sizeof(buf), 0);
	if (n < 0)
		ex = rq_errno(err, EX_IOERR, errno, "cannot read %s", path);
	else if (state_parse(buf, (size_t)n, st, &slot) != 0)
		ex = rq_errf(err, EX_DATAERR, "%s is damaged (no slot "
		    "checks out)", path);
	close(fd);
	free(path);
	return ex;
}

int
acct_rate_full(struct queue *q, const struct account *a, long long now,
    long long *until)
{
	char *path, buf[64], *e;
	long long t, oldest = 0;
	size_t len = 0;
	int n = 0, c;
	FILE *f;

	if (a->rate_limit_count <= 0 || a->rate_limit_period <= 0)
		return 0;
	path = state_path(q, "rate", a->name);
	f = fopen(path, "re");
	free(path);
	if (f == NULL)
		return 0;
	/* One send time per line, as deliver.c's rate_take() keeps them. */
	while ((c = getc(f)) != EOF) {
		if (c != '\n') {
			if (len < sizeof(buf) - 1)
				buf[len++] = (char)c;
			continue;
		}
		buf[len] = '\0';
		len = 0;
		t = strtoll(buf, &e, 10);
		if (e == buf || t <= now - a->rate_limit_period ||
		    t > now + ACCT_DAY)
			continue;
		if (n == 0 || t < oldest)
			oldest = t;
		n++;
	}
	fclose(f);
	if (n < a->rate_limit_count)
		return 0;
	*until = oldest + a->rate_limit_period;
	return 1;
}

const struct account *
acct_of_message(const struct conf *c, const struct envelope *env)
{
	const struct account *a;

	if (env->account != NULL)
		return conf_account(c, env->account);
	a = conf_account_for_from(c, env->sender);
	return a != NULL ? a : conf_default_account(c);
}
