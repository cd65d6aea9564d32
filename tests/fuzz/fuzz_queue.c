/*
 * relayq -- libFuzzer harness for the queue-file and state-file readers.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Build and run (from the top of the tree):
 *	clang -g -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *	    tests/fuzz/fuzz_queue.c src/queue.c src/qadmin.c src/util.c \
 *	    src/status.c src/dkim.c src/idn.c $(pkg-config --libs gnutls \
 *	    libidn2) -o fuzz_queue && ./fuzz_queue -max_total_time=20
 *
 * The first input byte picks what the rest is:
 *	0: a whole message file;
 *	1: a message file after a valid version and id line (to get past them);
 *	2: the state file of a valid three-recipient message.
 * Beyond "no crash, no leak", whatever the reader accepts must be
 * self-consistent, and must survive a write and a re-read unchanged
 * (envelope through the writer; state through queue_msg_save_state).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue.h"

#define FID	"0123456789ABCDEF0123"

static struct queue *q;
static char qdir[128], msgpath[256], statepath[256];

static const char valid_msg[] =
    "relayq-queue 1\n"
    "id " FID "\n"
    "queued-at 1795888416\n"
    "sender a@b.example\n"
    "body-8bitmime 0\n"
    "rcpt x@y.example\n"
    "rcpt z@w.example\n"
    "rcpt v@u.example\n"
    "data\n"
    "Subject: x\r\n\r\nhi\r\n"
    "end size=19 eightbit=0 smtputf8=0\n";

static void
put(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write_all(fd, p, n) != 0)
		abort();
	close(fd);
}

static int
same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
check_envelope_roundtrip(const struct qmsg *m)
{
	struct envelope env;
	struct qwriter *w;
	struct qmsg *m2;
	struct rq_err err;
	char *content = malloc((size_t)m->env.size + 1);

	if (pread(m->fd, content, (size_t)m->env.size, (off_t)m->data_off) !=
	    (ssize_t)m->env.size)
		abort();
	memset(&env, 0, sizeof(env));
	env.queued_at = m->env.queued_at;
	env.sender = xstrdup(m->env.sender);
	env.account = m->env.account ? xstrdup(m->env.account) : NULL;
	env.dsn_notify = m->env.dsn_notify ? xstrdup(m->env.dsn_notify) : NULL;
	env.dsn_ret = m->env.dsn_ret ? xstrdup(m->env.dsn_ret) : NULL;
	env.dsn_envid = m->env.dsn_envid ? xstrdup(m->env.dsn_envid) : NULL;
	env.body_8bitmime = m->env.body_8bitmime;
	env.eightbit = m->env.eightbit;
	env.smtputf8 = m->env.smtputf8;
	for (size_t i = 0; i < m->env.rcpts.n; i++)
		strlist_add(&env.rcpts, m->env.rcpts.v[i]);
	/* The writer may be stricter than the reader (ENVID length). */
	if (queue_writer_open(q, &env, &w, &err) != 0)
		goto out;
	if (queue_writer_write(w, content, (size_t)m->env.size, &err) != 0) {
		queue_writer_abort(w);
		goto out;
	}
	if (queue_writer_commit(w, &env, &err) != 0)
		abort();
	if (queue_msg_open(q, env.id, 0, &m2, &err) != 0)
		abort();
	if (m2->env.size != m->env.size || m2->env.queued_at != env.queued_at ||
	    !same(m2->env.sender, env.sender) ||
	    !same(m2->env.account, env.account) ||
	    !same(m2->env.dsn_notify, env.dsn_notify) ||
	    !same(m2->env.dsn_ret, env.dsn_ret) ||
	    !same(m2->env.dsn_envid, env.dsn_envid) ||
	    m2->env.body_8bitmime != env.body_8bitmime ||
	    m2->env.eightbit != env.eightbit ||
	    m2->env.smtputf8 != env.smtputf8 ||
	    m2->env.rcpts.n != env.rcpts.n)
		abort();
	for (size_t i = 0; i < env.rcpts.n; i++)
		if (strcmp(m2->env.rcpts.v[i], env.rcpts.v[i]) != 0)
			abort();
	queue_msg_remove(q, m2, &err);
	queue_msg_close(m2);
out:
	envelope_free(&env);
	free(content);
}

static void
check_state_roundtrip(struct qmsg *m)
{
	struct qmsg *m2;
	struct rq_err err;

	if (queue_msg_save_state(q, m, &err) != 0)
		abort();
	if (queue_msg_open(q, FID, 0, &m2, &err) != 0)
		abort();
	if (m2->st.attempts != m->st.attempts ||
	    m2->st.last_attempt != m->st.last_attempt ||
	    m2->st.next_attempt != m->st.next_attempt ||
	    m2->st.held != m->st.held ||
	    !same(m2->st.last_error, m->st.last_error))
		abort();
	for (size_t i = 0; i < m->env.rcpts.n; i++)
		if (m2->st.rstatus[i] != m->st.rstatus[i] ||
		    !same(m2->st.rreply[i], m->st.rreply[i]))
			abort();
	queue_msg_close(m2);
}

/* Leave nothing behind in /dev/shm. */
static void
cleanup(void)
{
	static const char *const subs[] = { "tmp", "msg", "state", "failed" };
	char path[256];

	unlink(msgpath);
	unlink(statepath);
	for (size_t i = 0; i < RQ_ARRAY_LEN(subs); i++) {
		snprintf(path, sizeof(path), "%s/%s", qdir, subs[i]);
		rmdir(path);
	}
	rmdir(qdir);
}

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rq_err err;
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	(void)argc;
	(void)argv;
	snprintf(qdir, sizeof(qdir), "%s/fuzz_queue.XXXXXX", tmp);
	if (mkdtemp(qdir) == NULL || queue_open(qdir, QUEUE_CREATE, &q, &err) != 0)
		abort();
	snprintf(msgpath, sizeof(msgpath), "%s/msg/%s", qdir, FID);
	snprintf(statepath, sizeof(statepath), "%s/state/%s", qdir, FID);
	atexit(cleanup);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmsg *m;
	struct rq_err err;
	struct stat st;
	struct buf b = { 0 };
	int mode;

	if (size == 0)
		return 0;
	mode = data[0] % 3;
	data++;
	size--;
	unlink(statepath);
	if (mode == 0) {
		put(msgpath, data, size);
	} else if (mode == 1) {
		buf_addstr(&b, "relayq-queue 1\nid " FID "\n");
		buf_add(&b, data, size);
		put(msgpath, b.data, b.len);
	} else {
		put(msgpath, valid_msg, sizeof(valid_msg) - 1);
		put(statepath, data, size);
	}
	buf_free(&b);
	if (queue_msg_open(q, FID, QO_LOCK, &m, &err) != 0) {
		if (mode == 2 && err.ex != EX_DATAERR)
			abort();	/* a state never breaks the reader */
		return 0;
	}
	/* What was accepted must fit the file exactly. */
	if (fstat(m->fd, &st) != 0 || m->data_off + m->env.size >
	    (long long)st.st_size || m->env.rcpts.n == 0 ||
	    strcmp(m->env.id, FID) != 0)
		abort();
	{
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		unsigned bad = 0;

		queue_print_list(q, 1, f, &bad, &err);
		if (bad != 0)
			abort();	/* the reader took it: so must mailq */
		queue_print_list(q, 0, f, NULL, &err);
		fclose(f);
		free(text);
	}
	if (mode == 2)
		check_state_roundtrip(m);
	else
		check_envelope_roundtrip(m);
	queue_msg_close(m);
	return 0;
}
