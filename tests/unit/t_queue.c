/*
 * relayq -- unit tests for the queue: codec, commit, locking, state,
 * listing and operator commands.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "queue.h"
#include "tap.h"
#include "util.h"

static char base[64];
static int qn;

/* A fresh queue directory (two levels that do not exist yet: mkdir -p). */
static struct queue *
fresh_queue(char *path, size_t size)
{
	struct queue *q = NULL;
	struct rq_err err = { 0 };

	snprintf(path, size, "%s/q%d/spool/relayq", base, ++qn);
	if (queue_open(path, 1, &q, &err) != 0) {
		diag("queue_open %s: %s", path, err.msg);
		exit(1);
	}
	return q;
}

static void
env_init(struct envelope *env, const char *sender, const char *rcpts)
{
	memset(env, 0, sizeof(*env));
	env->sender = xstrdup(sender);
	for (const char *p = rcpts; *p != '\0'; ) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);

		strlist_take(&env->rcpts, xstrndup(p, n));
		p += n + (c ? 1 : 0);
	}
}

/* Write content in chunks of chunk octets and commit; returns the exit code. */
static int
put_msg(struct queue *q, struct envelope *env, const char *content,
    size_t len, size_t chunk, struct rq_err *err)
{
	struct qwriter *w;
	int ex;

	ex = queue_writer_open(q, env, &w, err);
	if (ex != 0)
		return ex;
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		ex = queue_writer_write(w, content + off, n, err);
		if (ex != 0) {
			queue_writer_abort(w);
			return ex;
		}
	}
	env->size = queue_writer_size(w);
	return queue_writer_commit(w, env, err);
}

static char *
read_content(struct qmsg *m, size_t *len)
{
	char *p = xmalloc((size_t)m->env.size + 1);
	ssize_t r = pread(m->fd, p, (size_t)m->env.size, (off_t)m->data_off);

	*len = r < 0 ? 0 : (size_t)r;
	return p;
}

static int
count_files(const char *qdir, const char *sub)
{
	char path[512];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", qdir, sub);
	d = opendir(path);
	if (d == NULL)
		return -1;
	for (;;) {
		de = readdir(d);
		if (de == NULL)
			break;
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

static char *
slurp(const char *path, size_t *len)
{
	struct buf b = { 0 };
	char chunk[4096];
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (fd < 0)
		return NULL;
	for (;;) {
		r = read(fd, chunk, sizeof(chunk));
		if (r <= 0)
			break;
		buf_add(&b, chunk, (size_t)r);
	}
	close(fd);
	*len = b.len;
	if (b.data == NULL)
		buf_add(&b, "", 0);
	return buf_steal(&b);
}

static void
spit(const char *path, const char *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write_all(fd, p, len) != 0) {
		diag("cannot write %s", path);
		exit(1);
	}
	close(fd);
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return (mode_t)-1;
	return st.st_mode & 07777;
}

/* The listing (mailq, or --json), its exit code and unreadable count. */
static char *
capture(struct queue *q, int json, unsigned *bad, int *ex)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct rq_err err = { 0 };

	*ex = queue_print_list(q, json, f, bad, &err);
	fclose(f);
	return text;
}

/* ---- opening ---------------------------------------------------------------- */

static void
test_open(void)
{
	char qd[256], path[512];
	struct queue *q = fresh_queue(qd, sizeof(qd));
	struct rq_err err = { 0 };
	struct queue *q2;
	static const char *subs[] = { "", "/tmp", "/msg", "/state",
	    "/failed" };

	for (size_t i = 0; i < RQ_ARRAY_LEN(subs); i++) {
		snprintf(path, sizeof(path), "%s%s", qd, subs[i]);
		is_int(mode_of(path), 0700, "open: %s created 0700",
		    *subs[i] ? subs[i] : "queue dir");
	}
	is_str(queue_path(q), qd, "open: queue_path");
	queue_close(q);

	/* Reopening an existing queue, with and without create. */
	ok(queue_open(qd, 0, &q2, &err) == 0, "open: existing, no create");
	queue_close(q2);

	snprintf(path, sizeof(path), "%s/missing", base);
	is_int(queue_open(path, 0, &q2, &err), EX_CANTCREAT,
	    "open: missing without create is EX_CANTCREAT");

	snprintf(path, sizeof(path), "%s/link", base);
	if (symlink(qd, path) != 0)
		diag("symlink: %s", strerror(errno));
	is_int(queue_open(path, 1, &q2, &err), EX_CANTCREAT,
	    "open: symlinked queue dir refused");
	ok(strstr(err.msg, "symbolic link") != NULL, "open: says symlink: %s",
	    err.msg);

	snprintf(path, sizeof(path), "%s/plainfile", base);
	spit(path, "x", 1);
	is_int(queue_open(path, 0, &q2, &err), EX_CANTCREAT,
	    "open: a regular file is not a queue");

	snprintf(path, sizeof(path), "%s/worldw", base);
	mkdir(path, 0700);
	chmod(path, 0777);
	is_int(queue_open(path, 1, &q2, &err), EX_CONFIG,
	    "open: world-writable queue dir refused");

	/* A symlinked subdirectory is refused too. */
	snprintf(path, sizeof(path), "%s/subl", base);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/subl/msg", base);
	if (symlink("/tmp", path) != 0)
		diag("symlink: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/subl", base);
	is_int(queue_open(path, 1, &q2, &err), EX_CANTCREAT,
	    "open: symlinked msg/ refused");
}

/* ---- QUEUE_READ: a queue that is not there (yet) is an empty one ------------ */

/* Entries in dir (without . and ..), or -1 when it is not there. */
static int
entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* A queue in the shape it has after a crash or a person: only these. */
static void
make_dirs(const char *qd, const char *const *subs)
{
	char path[512];

	mkdir(qd, 0700);
	for (; *subs != NULL; subs++) {
		snprintf(path, sizeof(path), "%s/%s", qd, *subs);
		mkdir(path, 0700);
	}
}

/* Take these subdirectories away again (and what is in them). */
static void
strip_dirs(const char *qd, const char *const *subs)
{
	char path[512];

	for (; *subs != NULL; subs++) {
		snprintf(path, sizeof(path), "%s/%s", qd, *subs);
		rm_tree(path);
	}
}

/* Everything a reader does on q finds nothing, and q stays as it is. */
static void
reads_as_empty(struct queue *q, const char *qd, const char *name)
{
	struct strlist ids = { 0 };
	struct rq_err err = { 0 };
	struct qmsg *m;
	char want[512], *text;
	unsigned bad = 7;
	int removed = 7, ex, before = entries(qd);

	is_int(queue_list(q, 0, &ids, &err), 0, "read %s: list msg/: ok", name);
	is_int(queue_list(q, 1, &ids, &err), 0, "read %s: list failed/: ok",
	    name);
	is_int((long long)ids.n, 0, "read %s: no IDs", name);
	is_int(queue_msg_open(q, "0123456789ABCDEF0123", 0, &m, &err),
	    EX_NOINPUT, "read %s: an unknown ID is EX_NOINPUT", name);
	snprintf(want, sizeof(want), "no message 0123456789ABCDEF0123 in "
	    "queue %s", qd);
	is_str(err.msg, want, "read %s: ... naming the queue", name);
	is_int(queue_msg_open(q, "0123456789ABCDEF0123", QO_FAILED | QO_LOCK,
	    &m, &err), EX_NOINPUT, "read %s: not in failed/ either", name);
	is_int(queue_msg_open(q, "not-an-id", 0, &m, &err), EX_USAGE,
	    "read %s: a malformed ID is EX_USAGE", name);
	is_int(queue_admin(q, "0123456789ABCDEF0123", QADMIN_HOLD, &err),
	    EX_NOINPUT, "read %s: hold of an unknown ID: EX_NOINPUT", name);
	is_int(queue_sweep(q, 0, &removed, &err), 0, "read %s: sweep: ok",
	    name);
	is_int(removed, 0, "read %s: sweep: nothing", name);
	text = capture(q, 0, &bad, &ex);
	is_str(text, "Mail queue is empty\n", "read %s: mailq", name);
	free(text);
	text = capture(q, 1, &bad, &ex);
	is_str(text, "[]\n", "read %s: --json", name);
	is_int(ex, 0, "read %s: listing exit 0", name);
	is_int(bad, 0, "read %s: nothing unreadable", name);
	free(text);
	is_int(entries(qd), before, "read %s: nothing was created", name);
}

/* (a) missing, (b) empty, (c) half-made without a message. */
static void
test_read_open(void)
{
	static const char *const none[] = { NULL };
	static const char *const tmp_only[] = { "tmp", NULL };
	static const char *const state_failed[] = { "state", "failed", NULL };
	char qd[256], path[512];
	struct queue *q;
	struct rq_err err = { 0 };

	/* (a) missing, parents too. */
	snprintf(qd, sizeof(qd), "%s/ro1/spool/relayq", base);
	is_int(queue_open(qd, QUEUE_READ, &q, &err), 0,
	    "read missing: opens");
	if (q != NULL) {
		is_int(queue_absent(q), 1, "read missing: absent");
		is_str(queue_path(q), qd, "read missing: queue_path");
		reads_as_empty(q, qd, "missing");
		is_int(queue_complete(q, &err), EX_CANTCREAT,
		    "read missing: queue_complete cannot make it");
		queue_close(q);
	}
	snprintf(path, sizeof(path), "%s/ro1", base);
	is_int(entries(path), -1, "read missing: not even the parent made");

	/* (b) an empty directory, (c) two half-made ones. */
	{
		static const struct {
			const char		*name;
			const char *const	*subs;
		} cases[] = {
			{ "empty", none }, { "tmp only", tmp_only },
			{ "state and failed", state_failed },
		};

		for (size_t i = 0; i < RQ_ARRAY_LEN(cases); i++) {
			snprintf(qd, sizeof(qd), "%s/ro2-%zu", base, i);
			make_dirs(qd, cases[i].subs);
			if (queue_open(qd, QUEUE_READ, &q, &err) != 0) {
				ok(0, "read %s: open: %s", cases[i].name,
				    err.msg);
				continue;
			}
			is_int(queue_absent(q), 1, "read %s: absent",
			    cases[i].name);
			reads_as_empty(q, qd, cases[i].name);
			queue_close(q);
			is_int(queue_open(qd, QUEUE_EXISTING, &q, &err),
			    EX_CANTCREAT, "existing %s: still an error",
			    cases[i].name);
		}
	}

}

/* A message in msg/ and nothing else: read it, write into it. */
static void
test_read_half(void)
{
	static const char *const all_but_msg[] = { "tmp", "state", "failed",
	    NULL };
	char qd[256], path[512];
	struct queue *q, *w;
	struct envelope env;
	struct rq_err err = { 0 };
	struct qmsg *m;

	q = fresh_queue(qd, sizeof(qd));
	env_init(&env, "a@b.c", "d@e.f");
	put_msg(q, &env, "x\r\n", 3, 3, &err);
	queue_close(q);
	strip_dirs(qd, all_but_msg);
	if (queue_open(qd, QUEUE_READ, &q, &err) != 0) {
		ok(0, "read msg only: open: %s", err.msg);
		envelope_free(&env);
		return;
	}
	is_int(queue_absent(q), 0, "read msg only: not absent");
	is_int(count_files(qd, "state"), -1, "read msg only: no state/ made");
	if (queue_msg_open(q, env.id, 0, &m, &err) == 0) {
		is_int(m->st.attempts, 0, "read msg only: no state/ is no state");
		queue_msg_close(m);
	} else
		ok(0, "read msg only: open message: %s", err.msg);

	/*
	 * state/ made meanwhile (by a submission) with a recipient marked
	 * sent: the reader must see it, not "all pending".
	 */
	if (queue_open(qd, QUEUE_CREATE, &w, &err) == 0) {
		if (queue_msg_open(w, env.id, QO_LOCK, &m, &err) == 0) {
			m->st.attempts = 1;
			m->st.rstatus[0] = RCPT_SENT;
			queue_msg_save_state(w, m, &err);
			queue_msg_close(m);
		}
		queue_close(w);
	}
	snprintf(path, sizeof(path), "%s/state", qd);
	if (queue_msg_open(q, env.id, 0, &m, &err) == 0) {
		is_int(m->st.rstatus[0], RCPT_SENT,
		    "read: a state/ made after the open is read, not taken "
		    "for none");
		queue_msg_close(m);
	} else
		ok(0, "read: open after state/ appeared: %s", err.msg);
	queue_close(q);

	/* A write on a READ queue makes what it needs, and only then. */
	strip_dirs(qd, all_but_msg);
	if (queue_open(qd, QUEUE_READ, &q, &err) == 0) {
		is_int(queue_admin(q, env.id, QADMIN_HOLD, &err), 0,
		    "read: hold in a half-made queue");
		snprintf(path, sizeof(path), "%s/state", qd);
		is_int(mode_of(path), 0700, "read: the write made state/ 0700");
		snprintf(path, sizeof(path), "%s/failed", qd);
		is_int(mode_of(path), 0700, "read: ... and failed/");
		is_int(count_files(qd, "state"), 1, "read: the state is written");
		queue_close(q);
	}
	strip_dirs(qd, all_but_msg);
	if (queue_open(qd, QUEUE_READ, &q, &err) == 0) {
		is_int(queue_admin(q, env.id, QADMIN_DELETE, &err), 0,
		    "read: delete in a half-made queue");
		is_int(count_files(qd, "msg"), 0, "read: ... the message is gone");
		is_int(count_files(qd, "state"), -1,
		    "read: ... and a removal made no state/");
		queue_close(q);
	}
	envelope_free(&env);
}

/*
 * (f): what is refused, and with which code, is the same in every mode
 * (QUEUE_CREATE last: it must not make what the others then find).
 */
static void
test_read_refusals(void)
{
	static const char *const four[] = { "tmp", "msg", "state", "failed",
	    NULL };
	static const char *const tmp_only[] = { "tmp", NULL };
	static const struct {
		const char	*name;	/* below base */
		int		 ex;
		const char	*says;
	} bad[] = {
		{ "ro-link", EX_CANTCREAT, "is a symbolic link" },
		{ "ro-dangling", EX_CANTCREAT, "is a symbolic link" },
		{ "ro-file", EX_CANTCREAT, "is not a directory" },
		{ "ro-file/queue", EX_CANTCREAT, "ro-file/queue" },
		{ "ro-world", EX_CONFIG, "is writable by others" },
		{ "ro-subl", EX_CANTCREAT, "ro-subl/msg is a symbolic link" },
		{ "ro-subw", EX_CONFIG, "ro-subw/state is writable by others" },
	};
	static const int modes[] = { QUEUE_READ, QUEUE_EXISTING, QUEUE_CREATE };
	static const char *const mname[] = { "existing", "create", "read" };
	char qd[256], path[512];
	struct queue *q;
	struct rq_err err = { 0 };

	snprintf(qd, sizeof(qd), "%s/ro-target", base);
	make_dirs(qd, four);
	snprintf(path, sizeof(path), "%s/ro-link", base);
	if (symlink(qd, path) != 0)
		diag("symlink: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/ro-dangling", base);
	if (symlink("/nonexistent/relayq", path) != 0)
		diag("symlink: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/ro-file", base);
	spit(path, "x", 1);
	snprintf(path, sizeof(path), "%s/ro-world", base);
	make_dirs(path, four);
	chmod(path, 0777);
	snprintf(path, sizeof(path), "%s/ro-subl", base);
	make_dirs(path, tmp_only);
	snprintf(path, sizeof(path), "%s/ro-subl/msg", base);
	if (symlink("/tmp", path) != 0)
		diag("symlink: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/ro-subw", base);
	make_dirs(path, four);
	strcat(path, "/state");
	chmod(path, 0777);
	for (size_t k = 0; k < RQ_ARRAY_LEN(modes); k++) {
		for (size_t i = 0; i < RQ_ARRAY_LEN(bad); i++) {
			snprintf(path, sizeof(path), "%s/%s", base,
			    bad[i].name);
			q = NULL;
			is_int(queue_open(path, modes[k], &q, &err), bad[i].ex,
			    "refused (%s): %s", mname[modes[k]], bad[i].name);
			ok(strstr(err.msg, bad[i].says) != NULL,
			    "refused (%s): %s: says so: %s", mname[modes[k]],
			    bad[i].name, err.msg);
			queue_close(q);
		}
	}
	is_int(mode_of("/nonexistent/relayq"), (mode_t)-1,
	    "refused: nothing made at a dangling link's target");
}

/*
 * System mode with only the top directory (an administrator made that
 * much): a submitter lists it as empty but makes nothing, and a write
 * says who may.
 */
static void
test_read_system(void)
{
	char qd[256];
	pid_t pid;
	int st;

	if (geteuid() != 0) {
		diag("skipping the system-mode read cases: not root");
		return;
	}
	chmod(base, 0711);
	snprintf(qd, sizeof(qd), "%s/sysro", base);
	mkdir(qd, 0700);
	chown(qd, 0, 4242);
	chmod(qd, 02770);
	pid = fork();
	if (pid == 0) {
		struct queue *q;
		struct rq_err err = { 0 };
		struct strlist ids = { 0 };

		if (setgroups(0, NULL) != 0 || setgid(4242) != 0 ||
		    setuid(4243) != 0)
			_exit(100);
		if (queue_open(qd, QUEUE_READ, &q, &err) != 0)
			_exit(101);
		if (!queue_absent(q) || queue_list(q, 0, &ids, &err) != 0 ||
		    ids.n != 0)
			_exit(102);
		if (queue_complete(q, &err) != EX_CANTCREAT ||
		    strstr(err.msg, "only the queue's owner or root") == NULL)
			_exit(103);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	is_int(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0,
	    "system read: a submitter reads the bare queue as empty, and a "
	    "write is told who makes the subdirectories");
	is_int(entries(qd), 0, "system read: nothing was made");
}

/* ---- round trips ------------------------------------------------------------ */

static const struct {
	const char	*name;
	const char	*content;
	size_t		 len;		/* 0: strlen */
	size_t		 chunk;
	const char	*sender;
	const char	*rcpts;
	const char	*account, *notify, *ret, *envid;
	int		 b8, eightbit, smtputf8;
} rt_cases[] = {
	{ "plain", "Subject: hi\r\n\r\nhello\r\n", 0, 1000,
	    "alice@example.org", "bob@example.net", NULL, NULL, NULL, NULL,
	    0, 0, 0 },
	{ "null sender, empty content", "", 0, 1, "", "bob@example.net",
	    NULL, NULL, NULL, NULL, 0, 0, 0 },
	{ "byte by byte, several rcpts",
	    "A: b\r\n\r\nline\r\n.\r\n..\r\nend size=3 eightbit=0 smtputf8=0\r\n",
	    0, 1, "a@b.c", "x@y.z,\"quoted name\"@y.z,u@v.w", NULL, NULL,
	    NULL, NULL, 0, 0, 0 },
	{ "8-bit and NUL octets", "S: \xc3\xa9t\xc3\xa9\r\n\r\n\xff\x00\x80\r\n",
	    17, 3, "a@b.c", "d@e.f", "work", "SUCCESS,FAILURE", "HDRS",
	    "id with spaces+and=signs", 1, 1, 0 },
	{ "no final line end", "X: y\r\n\r\nno newline", 0, 5, "a@b.c",
	    "d@e.f", NULL, "NEVER", "FULL", "x", 0, 0, 1 },
	{ "UTF-8 addresses", "X: y\r\n\r\nz\r\n", 0, 4096,
	    "j\xc3\xb6rg@b\xc3\xbc" "cher.example", "\xe7\x94\xa8@\xe4\xbe\x8b.jp",
	    NULL, NULL, NULL, NULL, 0, 1, 1 },
};

static void
test_roundtrip(void)
{
	char qd[256];
	struct queue *q = fresh_queue(qd, sizeof(qd));

	for (size_t i = 0; i < RQ_ARRAY_LEN(rt_cases); i++) {
		const char *name = rt_cases[i].name;
		size_t len = rt_cases[i].len ? rt_cases[i].len :
		    strlen(rt_cases[i].content);
		struct envelope env;
		struct rq_err err = { 0 };
		struct qmsg *m = NULL;
		char *got;
		size_t glen;
		int ex;

		env_init(&env, rt_cases[i].sender, rt_cases[i].rcpts);
		if (rt_cases[i].account)
			env.account = xstrdup(rt_cases[i].account);
		if (rt_cases[i].notify)
			env.dsn_notify = xstrdup(rt_cases[i].notify);
		if (rt_cases[i].ret)
			env.dsn_ret = xstrdup(rt_cases[i].ret);
		if (rt_cases[i].envid)
			env.dsn_envid = xstrdup(rt_cases[i].envid);
		env.body_8bitmime = rt_cases[i].b8;
		env.eightbit = rt_cases[i].eightbit;
		env.smtputf8 = rt_cases[i].smtputf8;
		ex = put_msg(q, &env, rt_cases[i].content, len,
		    rt_cases[i].chunk, &err);
		if (!is_int(ex, 0, "roundtrip %s: commit", name)) {
			diag("%s", err.msg);
			envelope_free(&env);
			continue;
		}
		if (env.dsn_envid != NULL &&
		    strcmp(env.dsn_envid, "id with spaces+and=signs") == 0) {
			char path[512], *text;
			size_t tlen;

			snprintf(path, sizeof(path), "%s/msg/%s", qd, env.id);
			text = slurp(path, &tlen);
			ok(text != NULL && strstr(text, "\nenvid "
			    "id+20with+20spaces+2Band+3Dsigns\n") != NULL,
			    "roundtrip %s: envid stored as xtext", name);
			free(text);
		}
		ex = queue_msg_open(q, env.id, QO_LOCK, &m, &err);
		if (!is_int(ex, 0, "roundtrip %s: open", name)) {
			diag("%s", err.msg);
			envelope_free(&env);
			continue;
		}
		got = read_content(m, &glen);
		is_mem(got, glen, rt_cases[i].content, len,
		    "roundtrip %s: content", name);
		free(got);
		is_int(m->env.size, (long long)len, "roundtrip %s: size", name);
		is_str(m->env.sender, env.sender, "roundtrip %s: sender", name);
		is_int((long long)m->env.rcpts.n, (long long)env.rcpts.n,
		    "roundtrip %s: rcpt count", name);
		for (size_t r = 0; r < env.rcpts.n && r < m->env.rcpts.n; r++)
			is_str(m->env.rcpts.v[r], env.rcpts.v[r],
			    "roundtrip %s: rcpt %zu", name, r);
		is_str(m->env.account, env.account, "roundtrip %s: account",
		    name);
		is_str(m->env.dsn_notify, env.dsn_notify,
		    "roundtrip %s: notify", name);
		is_str(m->env.dsn_ret, env.dsn_ret, "roundtrip %s: ret", name);
		is_str(m->env.dsn_envid, env.dsn_envid, "roundtrip %s: envid",
		    name);
		is_int(m->env.queued_at, env.queued_at,
		    "roundtrip %s: queued-at", name);
		is_int(m->env.body_8bitmime, env.body_8bitmime,
		    "roundtrip %s: body-8bitmime", name);
		is_int(m->env.eightbit, env.eightbit,
		    "roundtrip %s: eightbit", name);
		is_int(m->env.smtputf8, env.smtputf8,
		    "roundtrip %s: smtputf8", name);
		is_int(m->st.attempts, 0, "roundtrip %s: no state = 0 attempts",
		    name);
		ok(m->env.rcpts.n > 0 && m->st.rstatus[0] == RCPT_PENDING,
		    "roundtrip %s: no state = pending", name);
		queue_msg_close(m);
		envelope_free(&env);
	}
	is_int(count_files(qd, "tmp"), 0, "roundtrip: tmp/ is empty");
	queue_close(q);
}

static void
test_large(void)
{
	static const size_t chunks[] = { 1, 7, 4093, 65536, 65537, 300001 };
	size_t len = 3 * 1024 * 1024 + 17;
	char *content = xmalloc(len), qd[256];
	struct queue *q = fresh_queue(qd, sizeof(qd));

	for (size_t i = 0; i < len; i++)
		content[i] = (char)((i * 2654435761u) >> 13);
	for (size_t c = 0; c < RQ_ARRAY_LEN(chunks); c++) {
		struct envelope env;
		struct rq_err err = { 0 };
		struct qmsg *m;
		size_t n = chunks[c] == 1 ? len / 8 : len, glen;
		char *got;

		env_init(&env, "a@b.c", "d@e.f");
		if (!is_int(put_msg(q, &env, content, n, chunks[c], &err), 0,
		    "large %zu octets in chunks of %zu: commit", n, chunks[c]))
			diag("%s", err.msg);
		if (queue_msg_open(q, env.id, 0, &m, &err) != 0) {
			ok(0, "large: open: %s", err.msg);
			envelope_free(&env);
			continue;
		}
		got = read_content(m, &glen);
		ok(glen == n && memcmp(got, content, n) == 0,
		    "large %zu in chunks of %zu: identical", n, chunks[c]);
		free(got);
		queue_msg_close(m);
		envelope_free(&env);
	}
	free(content);
	queue_close(q);
}

static void
test_pread(void)
{
	char qd[256], rb[256];
	struct queue *q = fresh_queue(qd, sizeof(qd));
	struct envelope env;
	struct rq_err err = { 0 };
	struct qwriter *w;
	static const char part1[] = "Subject: x\r\n\r\n0123456789";
	static const char part2[] = "abcdefghij\r\n";
	static const struct {
		long long	off;
		size_t		n;
		const char	*want;
	} reads[] = {
		{ 0, 10, "Subject: x" },
		{ 14, 5, "01234" },
		{ 20, 100, "6789abcdefghij\r\n" },
		{ 36, 10, "" },
		{ 1000, 10, "" },
	};

	env_init(&env, "a@b.c", "d@e.f");
	if (queue_writer_open(q, &env, &w, &err) != 0) {
		ok(0, "pread: writer_open: %s", err.msg);
		return;
	}
	queue_writer_write(w, part1, strlen(part1), &err);
	/* Reading back while the data still sits in the write buffer. */
	is_int(queue_writer_pread(w, rb, 4, 14, &err), 4,
	    "pread: buffered data is flushed and read");
	is_mem(rb, 4, "0123", 4, "pread: buffered content");
	queue_writer_write(w, part2, strlen(part2), &err);
	is_int(queue_writer_size(w), 36, "pread: size so far");
	for (size_t i = 0; i < RQ_ARRAY_LEN(reads); i++) {
		ssize_t r = queue_writer_pread(w, rb, reads[i].n, reads[i].off,
		    &err);

		is_mem(rb, r < 0 ? 0 : (size_t)r, reads[i].want,
		    strlen(reads[i].want), "pread: off %lld n %zu",
		    reads[i].off, reads[i].n);
	}
	is_int(queue_writer_pread(w, rb, 1, -1, &err), -1,
	    "pread: negative offset refused");
	is_int(queue_writer_commit(w, &env, &err), 0, "pread: commit after");
	envelope_free(&env);
	queue_close(q);
}

static void
test_abort_and_checks(void)
{
	char qd[256];
	struct queue *q = fresh_queue(qd, sizeof(qd));
	struct envelope env, env2;
	struct rq_err err = { 0 };
	struct qwriter *w, *w2;
	static const struct {
		const char	*name;
		const char	*sender;
		const char	*rcpts;
		const char	*notify, *ret;
	} bad[] = {
		{ "CR in sender", "a\r@b.c", "d@e.f", NULL, NULL },
		{ "LF in rcpt", "a@b.c", "d@e.f,x\n@y.z", NULL, NULL },
		{ "empty rcpt", "a@b.c", ",d@e.f", NULL, NULL },
		{ "no rcpts", "a@b.c", "", NULL, NULL },
		{ "bad notify", "a@b.c", "d@e.f", "SUCCESS\nrcpt x", NULL },
		{ "bad ret", "a@b.c", "d@e.f", NULL, "ALL" },
	};

	env_init(&env, "a@b.c", "d@e.f");
	ok(queue_writer_open(q, &env, &w, &err) == 0, "abort: open");
	queue_writer_write(w, "hello\r\n", 7, &err);
	is_int(count_files(qd, "tmp"), 1, "abort: one file in tmp/");
	queue_writer_abort(w);
	is_int(count_files(qd, "tmp"), 0, "abort: tmp/ empty after abort");
	is_int(count_files(qd, "msg"), 0, "abort: msg/ empty after abort");
	queue_writer_abort(NULL);

	/*
	 * msg.c re-encodes by opening a second writer for the same envelope
	 * (same ID) while reading back from the first.
	 */
	ok(queue_writer_open(q, &env, &w, &err) == 0, "same id: first");
	ok(queue_writer_open(q, &env, &w2, &err) == 0,
	    "same id: second writer while the first is open");
	queue_writer_write(w, "one", 3, &err);
	queue_writer_write(w2, "two", 3, &err);
	queue_writer_abort(w);
	is_int(queue_writer_commit(w2, &env, &err), 0, "same id: commit");
	ok(queue_writer_open(q, &env, &w, &err) == EX_CANTCREAT,
	    "same id: a committed ID is not reused: %s", err.msg);
	is_int(count_files(qd, "tmp"), 0, "same id: tmp/ empty");
	is_int(count_files(qd, "msg"), 1, "same id: one message");
	envelope_free(&env);

	for (size_t i = 0; i < RQ_ARRAY_LEN(bad); i++) {
		env_init(&env2, bad[i].sender, bad[i].rcpts);
		if (bad[i].notify)
			env2.dsn_notify = xstrdup(bad[i].notify);
		if (bad[i].ret)
			env2.dsn_ret = xstrdup(bad[i].ret);
		is_int(queue_writer_open(q, &env2, &w, &err), EX_DATAERR,
		    "envelope check: %s", bad[i].name);
		envelope_free(&env2);
	}
	is_int(count_files(qd, "tmp"), 0, "envelope check: nothing left");
	queue_close(q);
}

static void
test_ids_and_perms(void)
{
	char qd[256], path[512];
	struct queue *q = fresh_queue(qd, sizeof(qd));
	struct strlist ids = { 0 }, made = { 0 };
	struct rq_err err = { 0 };
	int good = 1;

	for (int i = 0; i < 20; i++) {
		struct envelope env;

		env_init(&env, "a@b.c", "d@e.f");
		put_msg(q, &env, "x\r\n", 3, 3, &err);
		strlist_add(&made, env.id);
		for (const char *p = env.id; *p; p++)
			if (!((*p >= '0' && *p <= '9') ||
			    (*p >= 'A' && *p <= 'F')))
				good = 0;
		if (strlen(env.id) != 20)
			good = 0;
		envelope_free(&env);
	}
	ok(good, "ids: 20 upper-case hex digits");
	/* Noise that is not an ID must be ignored by the listing. */
	snprintf(path, sizeof(path), "%s/msg/README", qd);
	spit(path, "x", 1);
	snprintf(path, sizeof(path), "%s/msg/%s.x", qd, made.v[0]);
	spit(path, "x", 1);
	is_int(queue_list(q, 0, &ids, &err), 0, "ids: list");
	is_int((long long)ids.n, 20, "ids: 20 listed, noise ignored");
	good = ids.n == made.n;
	for (size_t i = 0; good && i < ids.n; i++)
		good = strcmp(ids.v[i], made.v[i]) == 0;
	ok(good, "ids: listed oldest first, in creation order");
	snprintf(path, sizeof(path), "%s/msg/%s", qd, made.v[0]);
	is_int(mode_of(path), 0600, "perms: message file 0600");
	strlist_free(&ids);
	strlist_free(&made);
	queue_close(q);
}

static void
test_group_mode(void)
{
	char qd[256], path[512];
	struct queue *q;
	struct envelope env;
	struct qmsg *m;
	struct rq_err err = { 0 };
	mode_t old;

	snprintf(qd, sizeof(qd), "%s/sysq", base);
	mkdir(qd, 0700);
	chmod(qd, 02770);
	old = umask(077);
	ok(queue_open(qd, 1, &q, &err) == 0, "group: open");
	snprintf(path, sizeof(path), "%s/msg", qd);
	is_int(mode_of(path), 02770, "group: msg/ 2770 despite umask 077");
	env_init(&env, "a@b.c", "d@e.f");
	put_msg(q, &env, "x\r\n", 3, 3, &err);
	snprintf(path, sizeof(path), "%s/msg/%s", qd, env.id);
	is_int(mode_of(path), 0640, "group: message file 0640");
	if (queue_msg_open(q, env.id, QO_LOCK, &m, &err) == 0) {
		queue_msg_save_state(q, m, &err);
		queue_msg_close(m);
	}
	snprintf(path, sizeof(path), "%s/state/%s", qd, env.id);
	is_int(mode_of(path), 0640, "group: state file 0640");
	umask(old);
	envelope_free(&env);
	queue_close(q);
}

/*
 * System mode as root sees it: a 2770 queue of group G owned by root; a
 * submitter is some other uid with egid G (the set-group-ID binary).
 */
static int
as_submitter(const char *qd, int write_msg)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		struct queue *q;
		struct envelope env;
		struct rq_err err = { 0 };
		int ex;

		if (setgroups(0, NULL) != 0 || setgid(4242) != 0 ||
		    setuid(4243) != 0)
			_exit(100);
		umask(077);
		ex = queue_open(qd, 1, &q, &err);
		if (ex != 0 || !write_msg)
			_exit(ex);
		env_init(&env, "a@b.c", "d@e.f");
		ex = put_msg(q, &env, "x\r\n", 3, 3, &err);
		_exit(ex);
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_system_mode(void)
{
	static const char *const subs[] = { "tmp", "msg", "state", "failed" };
	char qd[256], path[512];
	struct strlist ids = { 0 };
	struct rq_err err = { 0 };
	struct queue *q;
	struct stat st;

	if (geteuid() != 0) {
		diag("skipping system-mode cases: not root");
		return;
	}
	chmod(base, 0711);	/* the submitter must reach the queue */
	snprintf(qd, sizeof(qd), "%s/spool", base);
	mkdir(qd, 0700);
	chown(qd, 0, 4242);
	chmod(qd, 02770);
	is_int(as_submitter(qd, 0), EX_CANTCREAT,
	    "system: a submitter does not create the subdirectories");
	snprintf(path, sizeof(path), "%s/msg", qd);
	ok(lstat(path, &st) != 0, "system: and none was made");
	for (size_t i = 0; i < RQ_ARRAY_LEN(subs); i++) {
		snprintf(path, sizeof(path), "%s/%s", qd, subs[i]);
		mkdir(path, 0700);
		chown(path, 0, 4242);
		chmod(path, 02770);
	}
	is_int(as_submitter(qd, 1), 0, "system: a submitter queues a message");
	if (queue_open(qd, 0, &q, &err) == 0) {
		queue_list(q, 0, &ids, &err);
		if (is_int((long long)ids.n, 1, "system: one message")) {
			snprintf(path, sizeof(path), "%s/msg/%s", qd,
			    ids.v[0]);
			lstat(path, &st);
			is_int(st.st_mode & 07777, 0640,
			    "system: file 0640 for the flush user's group");
			is_int(st.st_gid, 4242, "system: file in the group");
		}
		strlist_free(&ids);
		queue_close(q);
	} else
		ok(0, "system: open as root: %s", err.msg);
	snprintf(path, sizeof(path), "%s/state", qd);
	chown(path, 4243, 4242);
	is_int(as_submitter(qd, 0), EX_CONFIG,
	    "system: a subdirectory owned by a submitter is refused");
}

/* ---- corrupt message files ------------------------------------------------- */

static char *
replace(const char *s, size_t len, const char *from, const char *to,
    size_t *outlen)
{
	const char *p = memmem(s, len, from, strlen(from));
	struct buf b = { 0 };

	if (p == NULL) {
		diag("replace: '%s' not found", from);
		exit(1);
	}
	buf_add(&b, s, (size_t)(p - s));
	buf_addstr(&b, to);
	buf_add(&b, p + strlen(from), len - (size_t)(p - s) - strlen(from));
	*outlen = b.len;
	return buf_steal(&b);
}

static void
test_corrupt(void)
{
	char qd[256], path[512], id[QUEUE_ID_MAX];
	struct queue *q = fresh_queue(qd, sizeof(qd));
	struct envelope env;
	struct rq_err err = { 0 };
	struct qmsg *m;
	char *orig, *bad, *got;
	size_t olen, blen, glen;
	int misread = 0, accepted = 0;
	static const char content[] = "Subject: t\r\n\r\nbody\r\n";
	static const struct {
		const char	*name;
		const char	*from, *to;
	} muts[] = {
		{ "wrong version", "relayq-queue 1\n", "relayq-queue 2\n" },
		{ "no version line", "relayq-queue 1\n", "" },
		{ "other magic", "relayq-queue 1\n", "mailqueue 1\n" },
		{ "size too small", "end size=20 ", "end size=19 " },
		{ "size too large", "end size=20 ", "end size=21 " },
		{ "size with leading zero", "end size=20 ", "end size=020 " },
		{ "size negative", "end size=20 ", "end size=-20 " },
		{ "trailer missing", "end size=20 eightbit=0 smtputf8=0\n", "" },
		{ "trailer without LF", "smtputf8=0\n", "smtputf8=0" },
		{ "junk after trailer", "smtputf8=0\n", "smtputf8=0\nx" },
		{ "bad eightbit", "eightbit=0", "eightbit=2" },
		{ "CR in sender", "sender a@b.c\n", "sender a@b.c\r\n" },
		{ "ESC in rcpt", "rcpt d@e.f\n", "rcpt d\x1b@e.f\n" },
		{ "NUL in envelope", "rcpt d@e.f\n", "rcpt d\0" },
		{ "TAB in rcpt", "rcpt d@e.f\n", "rcpt d@e.f\t\n" },
		{ "unknown key", "body-8bitmime 0\n",
		    "body-8bitmime 0\nprio 1\n" },
		{ "duplicate sender", "body-8bitmime 0\n",
		    "body-8bitmime 0\nsender x@y.z\n" },
		{ "no rcpt", "rcpt d@e.f\n", "" },
		{ "empty rcpt", "rcpt d@e.f\n", "rcpt \n" },
		{ "no sender", "sender a@b.c\n", "" },
		{ "bad queued-at", "queued-at ", "queued-at x" },
		{ "bad body-8bitmime", "body-8bitmime 0", "body-8bitmime yes" },
		{ "bad envid xtext", "body-8bitmime 0\n",
		    "envid a+2\nbody-8bitmime 0\n" },
		{ "envid NUL escape", "body-8bitmime 0\n",
		    "envid a+00\nbody-8bitmime 0\n" },
		{ "bad notify", "body-8bitmime 0\n",
		    "notify ALL;DROP\nbody-8bitmime 0\n" },
		{ "no data line", "data\n", "" },
	};

	env_init(&env, "a@b.c", "d@e.f");
	env.queued_at = 1795888416;
	if (put_msg(q, &env, content, strlen(content), 7, &err) != 0) {
		ok(0, "corrupt: setup: %s", err.msg);
		return;
	}
	rq_strlcpy(id, env.id, sizeof(id));
	snprintf(path, sizeof(path), "%s/msg/%s", qd, id);
	orig = slurp(path, &olen);

	/* Truncated at every offset: rejected, or else identical. */
	for (size_t cut = 0; cut <= olen; cut++) {
		spit(path, orig, cut);
		if (queue_msg_open(q, id, 0, &m, &err) != 0) {
			if (err.ex != EX_DATAERR)
				misread++;
			continue;
		}
		accepted++;
		got = read_content(m, &glen);
		if (cut != olen || glen != strlen(content) ||
		    memcmp(got, content, glen) != 0)
			misread++;
		free(got);
		queue_msg_close(m);
	}
	is_int(misread, 0, "corrupt: no truncation of %zu octets misread",
	    olen);
	is_int(accepted, 1, "corrupt: only the whole file is accepted");

	for (size_t i = 0; i < RQ_ARRAY_LEN(muts); i++) {
		int ex;

		bad = replace(orig, olen, muts[i].from, muts[i].to, &blen);
		if (strcmp(muts[i].name, "NUL in envelope") == 0)
			blen++;	/* the replacement's NUL is itself the point */
		spit(path, bad, blen);
		ex = queue_msg_open(q, id, QO_LOCK, &m, &err);
		is_int(ex, EX_DATAERR, "corrupt: %s rejected", muts[i].name);
		if (ex == 0)
			queue_msg_close(m);
		else if (strcmp(muts[i].name, "wrong version") == 0)
			ok(strstr(err.msg, "version") != NULL,
			    "corrupt: message names the version: %s", err.msg);
		free(bad);
	}

	/* The ID line must match the file's name. */
	spit(path, orig, olen);
	snprintf(path, sizeof(path), "%s/msg/0000000000000000000A", qd);
	spit(path, orig, olen);
	is_int(queue_msg_open(q, "0000000000000000000A", 0, &m, &err),
	    EX_DATAERR, "corrupt: ID line not matching the file name");
	is_int(queue_msg_open(q, "../../etc/passwd", 0, &m, &err), EX_USAGE,
	    "open: a path is not an ID (a usage error)");
	is_int(queue_msg_open(q, "0000000000000000000B", 0, &m, &err),
	    EX_NOINPUT, "open: missing message is EX_NOINPUT");
	free(orig);
	envelope_free(&env);
	queue_close(q);
}

/*
 * The DKIM body hash in the trailer: written when the envelope asks for
 * it, equal to the body's own hash, read back; absent in files without
 * it; a malformed one makes the file corrupt, never a wrong signature.
 */
static void
test_dkim_bh(void)
{
	char qd[256], path[512], id[QUEUE_ID_MAX], want[DKIM_BH_MAX];
	struct queue *q = fresh_queue(qd, sizeof(qd));
	struct envelope env;
	struct rq_err err = { 0 };
	struct dkim_bh *h;
	struct qmsg *m;
	char *orig, *bad;
	size_t olen, blen;
	int accepted = 0, misread = 0;
	static const char content[] = "Subject: t\r\nX: folded\r\n  more\r\n"
	    "\r\nbody  with   spaces \r\n\r\nlast\r\n\r\n\r\n";
	static const char body[] = "body  with   spaces \r\n\r\nlast\r\n"
	    "\r\n\r\n";
	static const struct {
		const char	*name, *from, *to;
	} muts[] = {
		{ "unknown canonicalisation", "dkim-bh=relaxed:",
		    "dkim-bh=nofws:" },
		{ "short hash", "=\n", "\n" },
		{ "junk in the hash", "dkim-bh=relaxed:", "dkim-bh=relaxed:*" },
		{ "empty value", "dkim-bh=relaxed:", "dkim-bh=\nrelaxed:" },
		{ "two spaces", " dkim-bh=", "  dkim-bh=" },
		{ "unknown field", " dkim-bh=", " dkim-xx=" },
	};

	for (int c = DKIM_CANON_SIMPLE; c <= DKIM_CANON_RELAXED; c++) {
		h = dkim_bh_new((enum dkim_canon)c, 0);
		dkim_bh_feed(h, body, strlen(body));
		dkim_bh_end(h, want);
		env_init(&env, "a@b.c", "d@e.f");
		env.dkim_canon = c;
		if (put_msg(q, &env, content, strlen(content), 7, &err) != 0) {
			ok(0, "dkim-bh: put: %s", err.msg);
			return;
		}
		snprintf(path, sizeof(path), "%s/msg/%s", qd, env.id);
		orig = slurp(path, &olen);
		ok(strstr(orig, "smtputf8=0 dkim-bh=") != NULL &&
		    strstr(orig, want) != NULL, "dkim-bh: the %s body hash is "
		    "in the trailer", dkim_canon_name((enum dkim_canon)c));
		free(orig);
		if (queue_msg_open(q, env.id, 0, &m, &err) != 0) {
			ok(0, "dkim-bh: open: %s", err.msg);
			return;
		}
		is_str(m->env.dkim_bh, want, "dkim-bh: read back (%s)",
		    dkim_canon_name((enum dkim_canon)c));
		is_int(m->env.size, (long long)strlen(content),
		    "dkim-bh: the size is still the content's");
		queue_msg_close(m);
		envelope_free(&env);
	}

	/* Without dkim_canon: no field, and an empty hash on reading. */
	env_init(&env, "a@b.c", "d@e.f");
	put_msg(q, &env, content, strlen(content), 64, &err);
	snprintf(path, sizeof(path), "%s/msg/%s", qd, env.id);
	orig = slurp(path, &olen);
	ok(strstr(orig, "dkim-bh") == NULL &&
	    strstr(orig, "smtputf8=0\n") != NULL,
	    "dkim-bh: none without dkim_canon (the old trailer)");
	free(orig);
	if (queue_msg_open(q, env.id, 0, &m, &err) == 0) {
		is_str(m->env.dkim_bh, "", "dkim-bh: reads as none");
		queue_msg_close(m);
	}
	envelope_free(&env);

	/* Every cut and every mutation of a file with the field. */
	env_init(&env, "a@b.c", "d@e.f");
	env.dkim_canon = DKIM_CANON_RELAXED;
	put_msg(q, &env, content, strlen(content), 3, &err);
	rq_strlcpy(id, env.id, sizeof(id));
	snprintf(path, sizeof(path), "%s/msg/%s", qd, id);
	orig = slurp(path, &olen);
	for (size_t cut = 0; cut <= olen; cut++) {
		spit(path, orig, cut);
		if (queue_msg_open(q, id, 0, &m, &err) != 0) {
			if (err.ex != EX_DATAERR)
				misread++;
			continue;
		}
		accepted++;
		if (cut != olen || !dkim_bh_valid(m->env.dkim_bh))
			misread++;
		queue_msg_close(m);
	}
	is_int(misread, 0, "dkim-bh: no truncation misread");
	is_int(accepted, 1, "dkim-bh: only the whole file is accepted");
	for (size_t i = 0; i < RQ_ARRAY_LEN(muts); i++) {
		bad = replace(orig, olen, muts[i].from, muts[i].to, &blen);
		spit(path, bad, blen);
		is_int(queue_msg_open(q, id, 0, &m, &err), EX_DATAERR,
		    "dkim-bh: %s rejected", muts[i].name);
		free(bad);
	}
	free(orig);
	envelope_free(&env);
	queue_close(q);
}

/* ---- state files ---------------------------------------------------------- */

static void
test_state(void)
{
	char qd[256], path[512];
	struct queue *q = fresh_queue(qd, sizeof(qd));
	struct envelope env;
	struct rq_err err = { 0 };
	struct qmsg *m;
	char *orig, *bad;
	size_t olen, blen;
	int misread = 0, accepted = 0;
	static const struct {
		const char	*name;
		const char	*from, *to;
	} muts[] = {
		{ "wrong version", "relayq-state 1", "relayq-state 9" },
		{ "missing rcpt line", "rcpt 2 pending\n", "" },
		{ "extra rcpt line", "end\n", "rcpt 3 pending\nend\n" },
		{ "rcpt out of order", "rcpt 1 ", "rcpt 7 " },
		{ "rcpt index leading zero", "rcpt 1 ", "rcpt 01 " },
		{ "unknown status", "rcpt 2 pending", "rcpt 2 maybe" },
		{ "no end", "end\n", "" },
		{ "text after end", "end\n", "end\nx\n" },
		{ "bad attempts", "attempts 3", "attempts three" },
		{ "negative attempts", "attempts 3", "attempts -3" },
		{ "duplicate held", "held 0\n", "held 0\nheld 1\n" },
		{ "missing next-attempt", "next-attempt 1795888600\n", "" },
		{ "control char", "last-error 451", "last-error \x01" "451" },
		{ "unknown key", "held 0\n", "held 0\ncolour blue\n" },
	};

	env_init(&env, "a@b.c", "r0@x.y,r1@x.y,r2@x.y");
	put_msg(q, &env, "x\r\n", 3, 3, &err);
	if (queue_msg_open(q, env.id, QO_LOCK, &m, &err) != 0) {
		ok(0, "state: open: %s", err.msg);
		return;
	}
	m->st.attempts = 3;
	m->st.last_attempt = 1795888500;
	m->st.next_attempt = 1795888600;
	m->st.last_error = xstrdup("451 4.3.0 try\r\nagain");
	m->st.rstatus[0] = RCPT_SENT;
	m->st.rreply[0] = xstrdup("250 2.0.0 ok");
	m->st.rstatus[1] = RCPT_FAILED;
	m->st.rreply[1] = xstrdup("550 5.1.1 no such user");
	is_int(queue_msg_save_state(q, m, &err), 0, "state: save");
	queue_msg_close(m);
	snprintf(path, sizeof(path), "%s/state/%s", qd, env.id);
	is_int(mode_of(path), 0600, "state: file 0600");
	is_int(count_files(qd, "tmp"), 0, "state: nothing left in tmp/");

	if (queue_msg_open(q, env.id, QO_LOCK, &m, &err) != 0) {
		ok(0, "state: reopen: %s", err.msg);
		return;
	}
	is_int(m->st.attempts, 3, "state: attempts");
	is_int(m->st.last_attempt, 1795888500, "state: last-attempt");
	is_int(m->st.next_attempt, 1795888600, "state: next-attempt");
	is_int(m->st.held, 0, "state: held");
	is_str(m->st.last_error, "451 4.3.0 try  again",
	    "state: last error, control characters made spaces");
	is_int(m->st.rstatus[0], RCPT_SENT, "state: rcpt 0 sent");
	is_str(m->st.rreply[0], "250 2.0.0 ok", "state: rcpt 0 reply");
	is_int(m->st.rstatus[1], RCPT_FAILED, "state: rcpt 1 failed");
	is_str(m->st.rreply[1], "550 5.1.1 no such user",
	    "state: rcpt 1 reply");
	is_int(m->st.rstatus[2], RCPT_PENDING, "state: rcpt 2 pending");
	ok(m->st.rreply[2] == NULL, "state: rcpt 2 no reply");
	queue_msg_close(m);

	orig = slurp(path, &olen);
	for (size_t cut = 0; cut <= olen; cut++) {
		spit(path, orig, cut);
		if (queue_msg_open(q, env.id, 0, &m, &err) != 0) {
			if (err.ex != EX_DATAERR)
				misread++;
			continue;
		}
		accepted++;
		if (cut != olen || m->st.rstatus[0] != RCPT_SENT)
			misread++;
		queue_msg_close(m);
	}
	is_int(misread, 0, "state: no truncation of %zu octets misread",
	    olen);
	is_int(accepted, 1, "state: only the whole file is accepted");
	for (size_t i = 0; i < RQ_ARRAY_LEN(muts); i++) {
		int ex;

		bad = replace(orig, olen, muts[i].from, muts[i].to, &blen);
		spit(path, bad, blen);
		ex = queue_msg_open(q, env.id, 0, &m, &err);
		is_int(ex, EX_DATAERR, "state: %s rejected", muts[i].name);
		if (ex == 0)
			queue_msg_close(m);
		free(bad);
	}
	spit(path, orig, olen);
	free(orig);
	envelope_free(&env);
	queue_close(q);
}

/* ---- locking ----------------------------------------------------------------- */

enum { HOLD_ONLY, HOLD_REMOVE, HOLD_FAIL };

/*
 * A child that opens id locked, says so on a pipe, waits for a byte, then
 * (after a pause, so that the parent is blocked in flock) removes or fails
 * the message or just exits.
 */
static pid_t
locker(struct queue *q, const char *id, int what, int *go)
{
	int up[2], down[2];
	char c;
	pid_t pid;

	if (pipe(up) != 0 || pipe(down) != 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		struct qmsg *m;
		struct rq_err err;

		close(up[0]);
		close(down[1]);
		if (queue_msg_open(q, id, QO_LOCK, &m, &err) != 0)
			_exit(2);
		(void)!write(up[1], "L", 1);
		(void)!read(down[0], &c, 1);
		usleep(200000);
		if (what == HOLD_REMOVE)
			queue_msg_remove(q, m, &err);
		else if (what == HOLD_FAIL)
			queue_msg_fail(q, m, &err);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	if (read(up[0], &c, 1) != 1)
		diag("locker did not start");
	close(up[0]);
	*go = down[1];
	return pid;
}

static void
test_locking(void)
{
	char qd[256];
	struct queue *q = fresh_queue(qd, sizeof(qd));
	struct envelope env;
	struct rq_err err = { 0 };
	struct qmsg *m;
	int go, st, ex;
	pid_t pid;

	env_init(&env, "a@b.c", "d@e.f");
	put_msg(q, &env, "x\r\n", 3, 3, &err);

	pid = locker(q, env.id, HOLD_ONLY, &go);
	is_int(queue_msg_open(q, env.id, QO_LOCK | QO_NOWAIT, &m, &err),
	    EX_TEMPFAIL, "lock: busy with QO_NOWAIT is EX_TEMPFAIL");
	ok(strstr(err.msg, "being delivered; try again") != NULL,
	    "lock: says so: %s", err.msg);
	is_int(queue_admin(q, env.id, QADMIN_DELETE, &err), EX_TEMPFAIL,
	    "lock: delete of a busy message is EX_TEMPFAIL");
	ok(queue_msg_open(q, env.id, 0, &m, &err) == 0,
	    "lock: reading without the lock works (mailq)");
	queue_msg_close(m);
	(void)!write(go, "g", 1);
	close(go);
	waitpid(pid, &st, 0);
	ex = queue_msg_open(q, env.id, QO_LOCK | QO_NOWAIT, &m, &err);
	is_int(ex, 0, "lock: free again after the holder exits");
	if (ex == 0)
		queue_msg_close(m);

	/* Waiting for the lock while the holder delivers the message. */
	pid = locker(q, env.id, HOLD_REMOVE, &go);
	(void)!write(go, "g", 1);
	close(go);
	is_int(queue_msg_open(q, env.id, QO_LOCK, &m, &err), EX_NOINPUT,
	    "lock: removed while we waited is EX_NOINPUT");
	waitpid(pid, &st, 0);
	is_int(count_files(qd, "msg"), 0, "lock: holder removed it");

	/* ... or fails it (renamed: still linked, but not at msg/ID). */
	envelope_free(&env);
	env_init(&env, "a@b.c", "d@e.f");
	put_msg(q, &env, "x\r\n", 3, 3, &err);
	pid = locker(q, env.id, HOLD_FAIL, &go);
	(void)!write(go, "g", 1);
	close(go);
	is_int(queue_msg_open(q, env.id, QO_LOCK, &m, &err), EX_NOINPUT,
	    "lock: failed while we waited is EX_NOINPUT");
	waitpid(pid, &st, 0);
	is_int(count_files(qd, "failed"), 1, "lock: holder failed it");
	envelope_free(&env);
	queue_close(q);
}

/* ---- remove, fail, requeue, admin -------------------------------------------- */

static void
test_lifecycle(void)
{
	char qd[256], path[512];
	struct queue *q = fresh_queue(qd, sizeof(qd));
	struct envelope env;
	struct rq_err err = { 0 };
	struct strlist ids = { 0 };
	struct qmsg *m;

	env_init(&env, "a@b.c", "r0@x.y,r1@x.y");
	put_msg(q, &env, "x\r\n", 3, 3, &err);
	queue_msg_open(q, env.id, QO_LOCK, &m, &err);
	m->st.attempts = 2;
	m->st.rstatus[0] = RCPT_SENT;
	m->st.rreply[0] = xstrdup("250 ok");
	m->st.rstatus[1] = RCPT_FAILED;
	m->st.rreply[1] = xstrdup("550 no");
	m->st.last_error = xstrdup("550 no");
	queue_msg_save_state(q, m, &err);
	is_int(queue_msg_fail(q, m, &err), 0, "fail: ok");
	is_int(m->failed, 1, "fail: marked failed");
	queue_msg_close(m);
	is_int(count_files(qd, "msg"), 0, "fail: msg/ empty");
	is_int(count_files(qd, "state"), 0, "fail: state/ empty");
	is_int(count_files(qd, "failed"), 2, "fail: message and state in "
	    "failed/");
	queue_list(q, 1, &ids, &err);
	ok(ids.n == 1 && strcmp(ids.v[0], env.id) == 0,
	    "fail: listed in failed/ (the .state file is not an ID)");
	strlist_free(&ids);
	is_int(queue_msg_open(q, env.id, 0, &m, &err), EX_NOINPUT,
	    "fail: gone from msg/");
	if (queue_msg_open(q, env.id, QO_FAILED | QO_LOCK, &m, &err) == 0) {
		is_int(m->st.attempts, 2, "fail: state kept");
		queue_msg_close(m);
	} else
		ok(0, "fail: open in failed/: %s", err.msg);
	is_int(queue_admin(q, env.id, QADMIN_HOLD, &err), EX_USAGE,
	    "admin: hold of a failed message is refused");

	is_int(queue_admin(q, env.id, QADMIN_REQUEUE, &err), 0,
	    "requeue: ok");
	is_int(count_files(qd, "failed"), 0, "requeue: failed/ empty");
	if (queue_msg_open(q, env.id, QO_LOCK, &m, &err) == 0) {
		is_int(m->st.attempts, 0, "requeue: attempts reset");
		is_int(m->st.rstatus[0], RCPT_SENT,
		    "requeue: a sent recipient stays sent");
		is_int(m->st.rstatus[1], RCPT_PENDING,
		    "requeue: a failed recipient is pending again");
		ok(m->st.last_error == NULL, "requeue: last error cleared");
		queue_msg_close(m);
	} else
		ok(0, "requeue: open: %s", err.msg);
	is_int(queue_admin(q, env.id, QADMIN_REQUEUE, &err), EX_NOINPUT,
	    "requeue: twice is EX_NOINPUT");

	is_int(queue_admin(q, env.id, QADMIN_HOLD, &err), 0, "admin: hold");
	queue_msg_open(q, env.id, 0, &m, &err);
	is_int(m->st.held, 1, "admin: held");
	queue_msg_close(m);
	is_int(queue_admin(q, env.id, QADMIN_RELEASE, &err), 0,
	    "admin: release");
	queue_msg_open(q, env.id, 0, &m, &err);
	is_int(m->st.held, 0, "admin: released");
	m->st.next_attempt = 99999999999LL;
	queue_msg_save_state(q, m, &err);
	queue_msg_close(m);
	is_int(queue_admin(q, env.id, QADMIN_RETRY, &err), 0, "admin: retry");
	queue_msg_open(q, env.id, 0, &m, &err);
	is_int(m->st.next_attempt, 0, "admin: retry makes it due now");
	queue_msg_close(m);

	is_int(queue_admin(q, env.id, QADMIN_DELETE, &err), 0,
	    "admin: delete");
	is_int(count_files(qd, "msg"), 0, "delete: msg/ empty");
	is_int(count_files(qd, "state"), 0, "delete: state/ empty");
	is_int(queue_admin(q, env.id, QADMIN_DELETE, &err), EX_NOINPUT,
	    "delete: twice is EX_NOINPUT");
	is_int(queue_admin(q, "nonsense", QADMIN_DELETE, &err), EX_USAGE,
	    "delete: not an ID is a usage error");

	/* Deleting a failed message. */
	envelope_free(&env);
	env_init(&env, "a@b.c", "r0@x.y");
	put_msg(q, &env, "x\r\n", 3, 3, &err);
	queue_msg_open(q, env.id, QO_LOCK, &m, &err);
	queue_msg_save_state(q, m, &err);
	queue_msg_fail(q, m, &err);
	queue_msg_close(m);
	is_int(queue_admin(q, env.id, QADMIN_DELETE, &err), 0,
	    "delete: a failed message");
	is_int(count_files(qd, "failed"), 0, "delete: failed/ empty");
	snprintf(path, sizeof(path), "%s/tmp", qd);
	is_int(count_files(qd, "tmp"), 0, "lifecycle: tmp/ empty");
	envelope_free(&env);
	queue_close(q);
}

/* ---- listing ---------------------------------------------------------------- */

static void
test_listing(void)
{
	char qd[256], ids[3][QUEUE_ID_MAX], *got, *want;
	struct queue *q = fresh_queue(qd, sizeof(qd));
	struct rq_err err = { 0 };
	struct qmsg *m;
	int ex;

	setenv("RELAYQ_FAKE_NOW", "1795888800", 1);
	got = capture(q, 0, NULL, &ex);
	is_str(got, "Mail queue is empty\n", "list: empty queue, text");
	free(got);
	got = capture(q, 1, NULL, &ex);
	is_str(got, "[]\n", "list: empty queue, JSON");
	free(got);

	/* 1: fresh; 2: deferred with odd bytes; 3: failed. */
	{
		struct envelope env;

		env_init(&env, "alice@example.org", "bob@example.net");
		env.queued_at = 1795888740;		/* 1 minute ago */
		put_msg(q, &env, "0123456789", 10, 10, &err);
		rq_strlcpy(ids[0], env.id, sizeof(ids[0]));
		envelope_free(&env);

		env_init(&env, "q\"uo\\te@example.org",
		    "ok@example.net,bad\xff" "byte@example.net");
		env.queued_at = 1795881600;		/* 2 hours ago */
		put_msg(q, &env, "abc", 3, 3, &err);
		rq_strlcpy(ids[1], env.id, sizeof(ids[1]));
		queue_msg_open(q, env.id, QO_LOCK, &m, &err);
		m->st.attempts = 2;
		m->st.last_attempt = 1795888700;
		m->st.next_attempt = 1795889100;	/* in 5 minutes */
		m->st.last_error = xstrdup("451 4.3.0 \"busy\"\ttry later");
		m->st.rstatus[0] = RCPT_SENT;
		m->st.rreply[0] = xstrdup("250 ok");
		m->st.rstatus[1] = RCPT_DEFERRED;
		m->st.rreply[1] = xstrdup("451 busy");
		queue_msg_save_state(q, m, &err);
		queue_msg_close(m);
		envelope_free(&env);

		env_init(&env, "", "gone@example.net");
		env.queued_at = 1795456800;		/* 5 days ago */
		put_msg(q, &env, "", 0, 1, &err);
		rq_strlcpy(ids[2], env.id, sizeof(ids[2]));
		queue_msg_open(q, env.id, QO_LOCK, &m, &err);
		m->st.attempts = 1;
		m->st.rstatus[0] = RCPT_FAILED;
		m->st.rreply[0] = xstrdup("550 5.1.1 unknown");
		m->st.last_error = xstrdup("550 5.1.1 unknown");
		queue_msg_save_state(q, m, &err);
		queue_msg_fail(q, m, &err);
		queue_msg_close(m);
		envelope_free(&env);
	}

	want = xasprintf("[\n"
	    "{\"id\":\"%s\",\"size\":10,\"queued_at\":\"2026-11-28T17:59:00Z\","
	    "\"next_attempt\":\"2026-11-28T17:59:00Z\","
	    "\"sender\":\"alice@example.org\",\"state\":\"queued\","
	    "\"attempts\":0,\"last_error\":null,\"recipients\":["
	    "{\"address\":\"bob@example.net\",\"status\":\"pending\"}]},\n"
	    "{\"id\":\"%s\",\"size\":3,\"queued_at\":\"2026-11-28T16:00:00Z\","
	    "\"next_attempt\":\"2026-11-28T18:05:00Z\","
	    "\"sender\":\"q\\\"uo\\\\te@example.org\",\"state\":\"deferred\","
	    "\"attempts\":2,"
	    "\"last_error\":\"451 4.3.0 \\\"busy\\\" try later\","
	    "\"recipients\":["
	    "{\"address\":\"ok@example.net\",\"status\":\"sent\"},"
	    "{\"address\":\"bad\\ufffdbyte@example.net\","
	    "\"status\":\"deferred\"}]},\n"
	    "{\"id\":\"%s\",\"size\":0,\"queued_at\":\"2026-11-23T18:00:00Z\","
	    "\"next_attempt\":null,\"sender\":\"\",\"state\":\"failed\","
	    "\"attempts\":1,\"last_error\":\"550 5.1.1 unknown\","
	    "\"recipients\":["
	    "{\"address\":\"gone@example.net\",\"status\":\"failed\"}]}\n"
	    "]\n", ids[0], ids[1], ids[2]);
	got = capture(q, 1, NULL, &ex);
	is_int(ex, 0, "list: JSON ok");
	is_str(got, want, "list: JSON of a fixed queue");
	free(got);
	free(want);

	want = xasprintf(
	    "ID                         SIZE   AGE  SENDER / RECIPIENTS\n"
	    "%s         10    1m  <alice@example.org>\n"
	    "    queued, 0 attempts, next attempt now\n"
	    "    to <bob@example.net> pending\n"
	    "%s          3    2h  <q\"uo\\te@example.org>\n"
	    "    deferred, 2 attempts, next attempt in 5m "
	    "(2026-11-28T18:05:00Z)\n"
	    "    last error: 451 4.3.0 \"busy\" try later\n"
	    "    to <ok@example.net> sent: 250 ok\n"
	    "    to <bad\xff" "byte@example.net> deferred: 451 busy\n"
	    "%s          0    5d  <>\n"
	    "    failed, 1 attempt\n"
	    "    last error: 550 5.1.1 unknown\n"
	    "    to <gone@example.net> failed: 550 5.1.1 unknown\n"
	    "-- 3 messages, 13 bytes, 1 deferred, 1 failed\n",
	    ids[0], ids[1], ids[2]);
	got = capture(q, 0, NULL, &ex);
	is_int(ex, 0, "list: text ok");
	is_str(got, want, "list: text of a fixed queue");
	free(got);
	free(want);

	/* An unreadable message shows in the text, not in the JSON. */
	{
		char path[512], *text;
		unsigned bad = 0;

		snprintf(path, sizeof(path), "%s/msg/00000000000000000001", qd);
		spit(path, "relayq-queue 7\n", 15);
		text = capture(q, 0, NULL, &ex);
		ok(text != NULL && strncmp(text, "ID ", 3) == 0 &&
		    strstr(text, "\n00000000000000000001 (unreadable: queue "
		    "file 00000000000000000001 has format version \"7\"; "
		    "this relayq reads version 1 only and leaves it alone)\n")
		    != NULL, "list: unreadable message shown");
		ok(text != NULL && strstr(text, ", 1 unreadable\n") != NULL,
		    "list: the summary counts it");
		free(text);
		text = capture(q, 1, &bad, &ex);
		ok(text != NULL && strstr(text, "00000000000000000001") == NULL &&
		    strncmp(text, "[\n{\"id\"", 7) == 0,
		    "list: unreadable message left out of the JSON");
		is_int(bad, 1, "list: ... and counted for the caller to say");
		free(text);
		unlink(path);
	}

	{
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		ex = queue_print_msg(q, ids[1], f, &err);
		fclose(f);
		is_int(ex, 0, "show: ok");
		ok(text != NULL && strstr(text, "sender: <q\"uo\\te@example.org>\n")
		    != NULL && strstr(text, "\n\nabc") != NULL,
		    "show: envelope and content");
		free(text);
	}
	unsetenv("RELAYQ_FAKE_NOW");
	queue_close(q);
}

/* ---- sweep and a full disk -------------------------------------------------- */

static void
test_sweep(void)
{
	char qd[256], path[1024];
	struct queue *q = fresh_queue(qd, sizeof(qd));
	struct envelope env;
	struct rq_err err = { 0 };
	struct qwriter *w;
	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };
	struct dirent *de;
	DIR *d;
	int removed = -1;

	snprintf(path, sizeof(path), "%s/tmp/0123456789ABCDEF0123.mDEADBEEF",
	    qd);
	spit(path, "partial", 7);
	utimensat(AT_FDCWD, path, old, 0);
	snprintf(path, sizeof(path), "%s/tmp/young", qd);
	spit(path, "partial", 7);
	env_init(&env, "a@b.c", "d@e.f");
	queue_writer_open(q, &env, &w, &err);
	/* Make the live writer's file look old too: its lock must save it. */
	snprintf(path, sizeof(path), "%s/tmp", qd);
	d = opendir(path);
	for (;;) {
		de = readdir(d);
		if (de == NULL)
			break;
		if (strncmp(de->d_name, env.id, 20) == 0) {
			snprintf(path, sizeof(path), "%s/tmp/%s", qd,
			    de->d_name);
			utimensat(AT_FDCWD, path, old, 0);
		}
	}
	closedir(d);
	is_int(queue_sweep(q, 3600, &removed, &err), 0, "sweep: ok");
	is_int(removed, 1, "sweep: one stale file removed");
	is_int(count_files(qd, "tmp"), 2,
	    "sweep: the young file and the locked one stay");
	is_int(queue_writer_commit(w, &env, &err), 0,
	    "sweep: the writer still commits");
	envelope_free(&env);
	queue_close(q);
}

static void
test_full_disk(void)
{
	char qd[512], mnt[256];
	struct queue *q;
	struct envelope env;
	struct rq_err err = { 0 };
	char *big;
	int ex;

	snprintf(mnt, sizeof(mnt), "%s/tiny", base);
	mkdir(mnt, 0700);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k,mode=0700") != 0) {
		diag("skipping the full-disk case: cannot mount a tmpfs (%s); "
		    "the shell durability tests cover it with a shim",
		    strerror(errno));
		return;
	}
	snprintf(qd, sizeof(qd), "%s/queue", mnt);
	if (queue_open(qd, 1, &q, &err) != 0) {
		ok(0, "full disk: open: %s", err.msg);
		umount(mnt);
		return;
	}
	big = xcalloc(1, 512 * 1024);
	memset(big, 'x', 512 * 1024);
	env_init(&env, "a@b.c", "d@e.f");
	ex = put_msg(q, &env, big, 512 * 1024, 10000, &err);
	is_int(ex, EX_TEMPFAIL, "full disk: EX_TEMPFAIL");
	ok(strstr(err.msg, "cannot write to queue") != NULL &&
	    strstr(err.msg, "No space left on device") != NULL,
	    "full disk: one-line message: %s", err.msg);
	is_int(count_files(qd, "tmp"), 0, "full disk: tmp/ empty");
	is_int(count_files(qd, "msg"), 0, "full disk: msg/ empty");
	/* And a small message still goes in afterwards. */
	envelope_free(&env);
	env_init(&env, "a@b.c", "d@e.f");
	is_int(put_msg(q, &env, "x\r\n", 3, 3, &err), 0,
	    "full disk: space is back after the failed write");
	envelope_free(&env);
	free(big);
	queue_close(q);
	umount(mnt);
}

/* queue_list_due: the due facts from state/ alone, as the full read has them. */
static void
test_list_due(void)
{
	char qd[256], ids[4][QUEUE_ID_MAX], path[512];
	struct queue *q = fresh_queue(qd, sizeof(qd));
	struct rq_err err = { 0 };
	struct strlist list = { 0 };
	struct qdue *due = NULL;
	struct qmsg *m;
	FILE *f;

	for (int i = 0; i < 4; i++) {
		struct envelope env;

		env_init(&env, "alice@example.org",
		    "bob@example.net,carol@example.net");
		put_msg(q, &env, "x\r\n", 3, 3, &err);
		rq_strlcpy(ids[i], env.id, sizeof(ids[i]));
		envelope_free(&env);
	}
	/* 0: never tried; 1: deferred; 2: held; 3: a state of version 2. */
	queue_msg_open(q, ids[1], QO_LOCK, &m, &err);
	m->st.attempts = 1;
	m->st.next_attempt = 1795889100;
	m->st.rstatus[0] = RCPT_SENT;
	queue_msg_save_state(q, m, &err);
	queue_msg_close(m);
	queue_msg_open(q, ids[2], QO_LOCK, &m, &err);
	m->st.held = 1;
	queue_msg_save_state(q, m, &err);
	queue_msg_close(m);
	snprintf(path, sizeof(path), "%s/state/%s", qd, ids[3]);
	f = fopen(path, "w");
	fputs("relayq-state 2\nnext-attempt 5\nheld 0\nend\n", f);
	fclose(f);

	is_int(queue_list_due(q, &list, &due, &err), 0, "list_due: lists");
	is_int((int)list.n, 4, "list_due: every message");
	for (size_t i = 0; i < list.n && i < 4; i++)
		is_str(list.v[i], ids[i], "list_due: oldest first");
	ok(due[0].known && due[0].next_attempt == 0 && !due[0].held,
	    "list_due: no state file: due now, no system call needed");
	ok(due[1].known && due[1].next_attempt == 1795889100 &&
	    !due[1].held, "list_due: deferred: its next attempt");
	ok(due[2].known && due[2].held, "list_due: held");
	ok(!due[3].known, "list_due: a state it cannot read that way: the "
	    "caller reads the message");
	free(due);
	strlist_free(&list);
	queue_close(q);
}

/*
 * Group commit: processes sharing one group remove messages at once; every
 * removal returns 0 and every message is gone.
 */
static void
test_group_commit(void)
{
	enum { NPROC = 4, EACH = 25 };
	char qd[256], ids[NPROC * EACH][QUEUE_ID_MAX];
	struct queue *q = fresh_queue(qd, sizeof(qd));
	struct queue_group *g;
	struct rq_err err = { 0 };
	struct strlist left = { 0 };
	int bad = 0, st;
	pid_t pids[NPROC];

	for (int i = 0; i < NPROC * EACH; i++) {
		struct envelope env;

		env_init(&env, "alice@example.org", "bob@example.net");
		put_msg(q, &env, "x\r\n", 3, 3, &err);
		rq_strlcpy(ids[i], env.id, sizeof(ids[i]));
		envelope_free(&env);
	}
	g = queue_group_new();
	ok(g != NULL, "group: a shared mapping");
	queue_set_group(q, g);
	for (int p = 0; p < NPROC; p++) {
		pids[p] = fork();
		if (pids[p] == 0) {
			int fails = 0;

			for (int i = p; i < NPROC * EACH; i += NPROC) {
				struct qmsg *m;
				struct rq_err e;

				if (queue_msg_open(q, ids[i], QO_LOCK, &m,
				    &e) != 0 || queue_msg_remove(q, m, &e) != 0)
					fails++;
				queue_msg_close(m);
			}
			_exit(fails > 0);
		}
	}
	for (int p = 0; p < NPROC; p++)
		if (waitpid(pids[p], &st, 0) != pids[p] || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			bad++;
	is_int(bad, 0, "group: every removal of four processes at once "
	    "returned 0");
	queue_set_group(q, NULL);
	queue_group_free(g);
	queue_list(q, 0, &left, &err);
	is_int((int)left.n, 0, "group: every message is gone");
	strlist_free(&left);
	queue_close(q);
}

int
main(void)
{
	snprintf(base, sizeof(base), "/tmp/t_queue.XXXXXX");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	test_open();
	test_read_open();
	test_read_half();
	test_read_refusals();
	test_read_system();
	test_roundtrip();
	test_large();
	test_pread();
	test_abort_and_checks();
	test_ids_and_perms();
	test_group_mode();
	test_system_mode();
	test_corrupt();
	test_dkim_bh();
	test_state();
	test_locking();
	test_lifecycle();
	test_listing();
	test_list_due();
	test_group_commit();
	test_sweep();
	test_full_disk();
	rm_tree(base);
	return done_testing();
}
