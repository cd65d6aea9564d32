/*
 * relayq -- unit tests for the per-account state: the two-slot file, the
 * warm-up days and allowances, counting under concurrency, torn and
 * damaged files, the totals, and the read-only helpers.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acctstate.h"
#include "queue.h"
#include "tap.h"
#include "util.h"

#define T0	1795888800LL	/* 2026-11-28T18:00:00Z */

static char base[64];
static int qn;

static struct queue *
fresh_queue(void)
{
	struct queue *q = NULL;
	struct rq_err err = { 0 };
	char path[128];

	snprintf(path, sizeof(path), "%s/q%d", base, ++qn);
	if (queue_open(path, 1, &q, &err) != 0) {
		diag("queue_open %s: %s", path, err.msg);
		exit(1);
	}
	return q;
}

static struct account *
account(const char *name, const long long *days, size_t n)
{
	struct account *a = xcalloc(1, sizeof(*a));

	a->name = xstrdup(name);
	if (n > 0) {
		a->warmup = xcalloc(n, sizeof(*a->warmup));
		memcpy(a->warmup, days, n * sizeof(*days));
	}
	a->nwarmup = n;
	return a;
}

static void
account_drop(struct account *a)
{
	free(a->name);
	free(a->warmup);
	free(a);
}

static char *
file_of(struct queue *q, const char *name)
{
	return xasprintf("%s/account.%s", queue_path(q), name);
}

static struct acct_state
load(struct queue *q, const char *name)
{
	struct acct_state st;
	struct rq_err err = { 0 };

	if (acct_load(q, name, &st, &err) != 0)
		diag("acct_load: %s", err.msg);
	return st;
}

/* ---- days and allowances --------------------------------------------------- */

static void
test_days(void)
{
	static const struct {
		long long start, now, day;
	} cases[] = {
		{ 0, T0, 1 },			/* not started */
		{ T0, T0, 1 },
		{ T0, T0 + 86399, 1 },
		{ T0, T0 + 86400, 2 },		/* exactly 24 h later */
		{ T0, T0 + 5 * 86400 + 1, 6 },
		{ T0, T0 - 3600, 1 },		/* clock behind the start */
	};
	static const long long sched[] = { 50, 100, 500 };
	struct account *a = account("a", sched, 3), *none = account("n",
	    NULL, 0);

	for (size_t i = 0; i < RQ_ARRAY_LEN(cases); i++)
		is_int(acct_warmup_day(cases[i].start, cases[i].now),
		    cases[i].day, "day of %lld from %lld", cases[i].now,
		    cases[i].start);
	is_int(acct_warmup_allowance(a, 1), 50, "day 1 allowance");
	is_int(acct_warmup_allowance(a, 3), 500, "day 3 allowance");
	is_int(acct_warmup_allowance(a, 4), -1, "past the ramp: unlimited");
	is_int(acct_warmup_allowance(none, 1), -1, "no schedule: unlimited");
	account_drop(a);
	account_drop(none);
}

/* ---- the warm-up count ------------------------------------------------------- */

static void
test_take(void)
{
	static const long long sched[] = { 2, 3 };
	struct queue *q = fresh_queue();
	struct account *a = account("work", sched, 2);
	struct warmup_verdict v;
	struct acct_state st;
	struct stat sb;
	char *path = file_of(q, "work");
	int n;

	ok(acct_warmup_take(q, a, T0, &v) == 1 && v.day == 1 &&
	    v.count == 1 && v.allowance == 2, "day 1: the first goes");
	st = load(q, "work");
	is_int(st.warmup_start, T0, "the start is recorded at the first send");
	ok(acct_warmup_take(q, a, T0 + 60, &v) == 1 && v.count == 2,
	    "day 1: the second goes");
	ok(acct_warmup_take(q, a, T0 + 120, &v) == 0, "day 1: the third "
	    "waits");
	is_int(v.until, T0 + 86400, "until the next day starts");
	is_str(v.reason, "warm-up: allowance of 2 for day 1 used; next day "
	    "starts at 2026-11-29T18:00:00Z", "the reason for mailq");
	st = load(q, "work");
	is_int(st.warmup_count, 2, "a refusal counts nothing");
	ok(acct_warmup_peek(q, a, T0 + 130, &v) == 0 && v.until == T0 + 86400,
	    "peek: the same verdict");
	ok(acct_warmup_peek(q, a, T0 + 86400, &v) == 1 && v.day == 2 &&
	    v.count == 0, "peek on day 2: room");
	is_int(load(q, "work").seq, st.seq, "peeking writes nothing");

	for (n = 0; acct_warmup_take(q, a, T0 + 86400 + n, &v); n++)
		;
	is_int(n, 3, "day 2: exactly its allowance of 3");
	is_int(v.day, 2, "refused on day 2");
	/* A clock set back a day must not give day 1 a fresh count. */
	ok(acct_warmup_take(q, a, T0 + 100, &v) == 0 && v.day == 2,
	    "clock set back: still day 2, still used up");

	st = load(q, "work");
	for (n = 0; n < 50 && acct_warmup_take(q, a, T0 + 2 * 86400 + n,
	    &v); n++)
		;
	is_int(n, 50, "day 3, past the ramp: unlimited");
	is_int(load(q, "work").seq, st.seq, "past the ramp nothing is "
	    "written");

	ok(stat(path, &sb) == 0 && sb.st_size == 1024 &&
	    (sb.st_mode & 0777) == 0600, "the file: 1024 octets, mode 0600");
	free(path);
	account_drop(a);
	queue_close(q);
}

/* No schedule: nothing counted, no file. */
static void
test_no_warmup(void)
{
	struct queue *q = fresh_queue();
	struct account *a = account("plain", NULL, 0);
	struct warmup_verdict v;
	char *path = file_of(q, "plain");

	ok(acct_warmup_take(q, a, T0, &v) == 1 && v.day == 0,
	    "no warm-up: always goes");
	ok(access(path, F_OK) != 0, "no warm-up: no file written");
	a->warmup = xcalloc(1, sizeof(*a->warmup));
	a->warmup[0] = 1;
	a->nwarmup = 1;
	ok(acct_warmup_peek(q, a, T0, &v) == 1 && access(path, F_OK) != 0,
	    "peek before the first send: room, and still no file");
	free(path);
	account_drop(a);
	queue_close(q);
}

/* Many processes at once never count more than the allowance. */
static void
test_concurrent(void)
{
	static const long long sched[] = { 37 };
	struct queue *q = fresh_queue();
	struct account *a = account("busy", sched, 1);
	int fds[2], status, total = 0, kids = 8, each = 10;
	char c;

	if (pipe(fds) != 0)
		exit(1);
	for (int k = 0; k < kids; k++) {
		pid_t pid = fork();

		if (pid == 0) {
			struct warmup_verdict v;

			close(fds[0]);
			for (int i = 0; i < each; i++)
				if (acct_warmup_take(q, a, T0 + i, &v))
					(void)write(fds[1], "x", 1);
			_exit(0);
		}
	}
	close(fds[1]);
	while (read(fds[0], &c, 1) == 1)
		total++;
	close(fds[0]);
	while (wait(&status) > 0)
		;
	is_int(total, 37, "%d processes x %d tries: exactly 37 go", kids,
	    each);
	is_int(load(q, "busy").warmup_count, 37, "and 37 are counted");
	account_drop(a);
	queue_close(q);
}

/* ---- the file: slots, torn writes, damage ------------------------------------- */

static void
corrupt(const char *path, off_t off)
{
	int fd = open(path, O_WRONLY);

	(void)pwrite(fd, "#", 1, off);
	close(fd);
}

static void
test_slots(void)
{
	static const long long sched[] = { 5 };
	struct queue *q = fresh_queue();
	struct account *a = account("s", sched, 1);
	struct warmup_verdict v;
	struct acct_state st;
	struct rq_err err = { 0 };
	char *path = file_of(q, "s"), buf[1024];
	int fd, n, newer;

	acct_warmup_take(q, a, T0, &v);		/* seq 1, slot 0 */
	acct_warmup_take(q, a, T0 + 1, &v);	/* seq 2, slot 1 */
	acct_warmup_take(q, a, T0 + 2, &v);	/* seq 3, slot 0 */
	fd = open(path, O_RDONLY);
	n = (int)read(fd, buf, sizeof(buf));
	close(fd);
	ok(n == 1024 && memcmp(buf, "relayq-account 1\nseq 3\n", 23) == 0 &&
	    memcmp(buf + 512, "relayq-account 1\nseq 2\n", 23) == 0 &&
	    buf[511] == '\n' && buf[1023] == '\n',
	    "two text slots, the writes alternating");
	ok(strstr(buf, "warmup-count 3\n") != NULL &&
	    strstr(buf + 512, "warmup-count 2\n") != NULL,
	    "the older slot holds the previous record");

	/* A torn write of the newer slot: the older one is read. */
	newer = 0;
	corrupt(path, newer + 100);
	st = load(q, "s");
	is_int(st.seq, 2, "a damaged slot is passed over");
	is_int(st.warmup_count, 2, "the previous count is read");
	/* The next write goes over the damaged slot, not the good one. */
	ok(acct_warmup_take(q, a, T0 + 3, &v) == 1 && v.count == 3,
	    "counting goes on from the good slot");
	is_int(load(q, "s").seq, 3, "and rewrites the damaged one");

	/* Both slots damaged: load says so; the warm-up restarts used up. */
	corrupt(path, 20);
	corrupt(path, 512 + 20);
	ok(acct_load(q, "s", &st, &err) == EX_DATAERR &&
	    strstr(err.msg, "damaged") != NULL, "both damaged: EX_DATAERR");
	ok(acct_warmup_take(q, a, T0 + 4, &v) == 0 && v.day == 1,
	    "both damaged: nothing more goes that day");
	st = load(q, "s");
	is_int(st.warmup_start, T0 + 4, "the warm-up starts again");
	is_int(st.warmup_count, 5, "with the first day taken as used");
	ok(acct_warmup_take(q, a, T0 + 4 + 86400, &v) == 1 &&
	    v.allowance == -1, "a day later the one-day ramp is over");

	/* A short file (a crash before the first write was complete). */
	fd = open(path, O_WRONLY | O_TRUNC);
	(void)write(fd, "relayq-acc", 10);
	close(fd);
	ok(acct_load(q, "s", &st, &err) == EX_DATAERR, "a short file is "
	    "damaged, not empty");
	free(path);
	account_drop(a);
	queue_close(q);
}

/* ---- totals --------------------------------------------------------------------- */

static void
test_totals(void)
{
	struct queue *q = fresh_queue();
	struct account *a = account("t/x", NULL, 0);
	struct acct_state st;
	struct acct_counts c;
	char *path = xasprintf("%s/account.t_x", queue_path(q));
	int i, due = 0;

	st = load(q, "t/x");
	ok(st.sent == 0 && st.last_sent == 0, "no file: all zero");
	/* One at a time, as a batch of one each. */
	memset(&c, 0, sizeof(c));
	acct_count(&c, OUT_OK, T0);
	acct_record(q, a, &c, T0);
	ok(c.sent == 0 && c.last_sent == 0, "a written batch is cleared");
	acct_count(&c, OUT_OK, T0 + 5);
	acct_record(q, a, &c, T0 + 5);
	acct_count(&c, OUT_TEMP, T0 + 6);
	acct_record(q, a, &c, T0 + 6);
	/* Two in one batch, an hour apart: the clock does not matter. */
	ok(!acct_count(&c, OUT_PERM, T0 + 7), "one outcome: not yet due");
	ok(!acct_count(&c, OUT_TEMP, T0 + 3607), "an hour later: not yet due");
	acct_record(q, a, &c, T0 + 3607);
	acct_record(q, a, &c, T0 + 9);		/* empty: nothing */
	st = load(q, "t/x");
	is_int(st.sent, 2, "sent");
	is_int(st.deferred, 2, "deferred");
	is_int(st.failed, 1, "failed");
	is_int(st.last_sent, T0 + 5, "last delivery");
	/* ACCT_BATCH outcomes make a batch due. */
	for (i = 0; i < ACCT_BATCH - 1; i++)
		due |= acct_count(&c, OUT_OK, T0 + 10);
	ok(!due, "63 outcomes: not due");
	ok(acct_count(&c, OUT_OK, T0 + 10), "the 64th: due");
	acct_record(q, a, &c, T0 + 10);
	st = load(q, "t/x");
	is_int(st.sent, 66, "a batch of 64 added at once");
	is_int(st.last_sent, T0 + 10, "... with its latest delivery time");
	ok(access(path, F_OK) == 0, "a '/' in the name becomes '_'");
	free(path);
	account_drop(a);
	queue_close(q);
}

/* ---- deferring a message for the warm-up ----------------------------------------- */

static void
test_defer(void)
{
	struct queue *q = fresh_queue();
	struct envelope env;
	struct qwriter *w;
	struct qmsg *m;
	struct warmup_verdict v;
	struct rq_err err = { 0 };
	char id[QUEUE_ID_MAX];

	memset(&env, 0, sizeof(env));
	env.sender = xstrdup("a@example.org");
	strlist_add(&env.rcpts, "b@example.net");
	if (queue_writer_open(q, &env, &w, &err) != 0 ||
	    queue_writer_write(w, "x\r\n", 3, &err) != 0 ||
	    queue_writer_commit(w, &env, &err) != 0) {
		diag("queue: %s", err.msg);
		exit(1);
	}
	rq_strlcpy(id, env.id, sizeof(id));
	envelope_free(&env);
	memset(&v, 0, sizeof(v));
	v.until = T0 + 86400;
	rq_strlcpy(v.reason, "warm-up: allowance of 2 for day 1 used",
	    sizeof(v.reason));
	ok(queue_msg_open(q, id, QO_LOCK, &m, &err) == 0 &&
	    acct_warmup_defer(q, m, &v, &err) == 0, "deferred for the warm-up");
	queue_msg_close(m);
	ok(queue_msg_open(q, id, 0, &m, &err) == 0, "reopened");
	is_int(m->st.next_attempt, T0 + 86400, "next attempt: the next day");
	is_int(m->st.attempts, 0, "not an attempt");
	is_str(m->st.last_error, v.reason, "the reason is its last error");
	ok(m->st.rstatus[0] == RCPT_PENDING, "the recipient stays pending");
	queue_msg_close(m);
	queue_close(q);
}

/* ---- rate_limit, read-only ---------------------------------------------------------- */

static void
test_rate(void)
{
	struct queue *q = fresh_queue();
	struct account *a = account("r", NULL, 0);
	long long until = 0;
	char *path = xasprintf("%s/rate.r", queue_path(q));
	FILE *f;

	a->rate_limit_count = 2;
	a->rate_limit_period = 3600;
	ok(acct_rate_full(q, a, T0, &until) == 0, "no file: not full");
	f = fopen(path, "w");
	fprintf(f, "%lld\n%lld\n%lld\n", T0 - 7200, T0 - 600, T0 - 300);
	fclose(f);
	ok(acct_rate_full(q, a, T0, &until) == 1, "two sends in the hour: "
	    "full");
	is_int(until, T0 - 600 + 3600, "a slot frees when the oldest ages "
	    "out");
	ok(acct_rate_full(q, a, T0 + 3000, &until) == 0, "later: not full");
	a->rate_limit_count = 0;
	ok(acct_rate_full(q, a, T0, &until) == 0, "no rate_limit: never "
	    "full");
	free(path);
	account_drop(a);
	queue_close(q);
}

int
main(void)
{
	snprintf(base, sizeof(base), "/tmp/t_acctstate.%ld", (long)getpid());
	if (mkdir(base, 0700) != 0)
		return 1;
	test_days();
	test_take();
	test_no_warmup();
	test_concurrent();
	test_slots();
	test_totals();
	test_defer();
	test_rate();
	rm_tree(base);
	return done_testing();
}
