/*
 * relayq -- an LD_PRELOAD shim that makes file system calls fail, or kills
 * the process, at a chosen call.  For the durability tests.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Environment:
 *   FAULT_PATH=SUBSTR   only calls on paths (or fds whose path) contain
 *                       SUBSTR count; default: every call counts
 *   FAULT_OP=NAME       fail calls of NAME: write, fsync, close, rename,
 *                       open (with O_CREAT), unlink
 *   FAULT_NTH=N         fail the Nth counted call of FAULT_OP (default 1)
 *   FAULT_ALL=1         ... and every later one too
 *   FAULT_ERRNO=NAME    ENOSPC (default), EIO, EDQUOT, EFBIG, EROFS
 *   FAULT_KILL_AFTER=N  SIGKILL the process right after the Nth counted
 *                       call of any intercepted kind (deterministic crash
 *                       points)
 *   FAULT_LOG=FILE      append one line per counted call (for choosing N)
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long counted_all;
static long counted_op;

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

static int
fault_errno(void)
{
	const char *e = env("FAULT_ERRNO");

	if (e == NULL || strcmp(e, "ENOSPC") == 0)
		return ENOSPC;
	if (strcmp(e, "EIO") == 0)
		return EIO;
	if (strcmp(e, "EDQUOT") == 0)
		return EDQUOT;
	if (strcmp(e, "EFBIG") == 0)
		return EFBIG;
	if (strcmp(e, "EROFS") == 0)
		return EROFS;
	return ENOSPC;
}

static int
path_matches(const char *path)
{
	const char *want = env("FAULT_PATH");

	if (want == NULL)
		return 1;
	return path != NULL && strstr(path, want) != NULL;
}

static int
fd_matches(int fd)
{
	char link[64], target[4096];
	ssize_t n;

	if (env("FAULT_PATH") == NULL)
		return 1;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return 0;
	target[n] = '\0';
	return path_matches(target);
}

static const char *
fd_path(int fd, char *buf, size_t size)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, size - 1);
	if (n < 0)
		return "";
	buf[n] = '\0';
	return buf;
}

static void
log_call(const char *op, const char *what)
{
	const char *file = env("FAULT_LOG");
	FILE *f;

	if (file == NULL)
		return;
	f = fopen(file, "a");
	if (f == NULL)
		return;
	fprintf(f, "%ld %s %s\n", counted_all, op, what ? what : "");
	fclose(f);
}

/*
 * Called before a counted call.  Returns 1 when this call must fail.
 */
static int
before(const char *op, const char *what)
{
	const char *fop = env("FAULT_OP");
	long nth = env("FAULT_NTH") ? atol(env("FAULT_NTH")) : 1;

	counted_all++;
	log_call(op, what);
	if (fop == NULL || strcmp(fop, op) != 0)
		return 0;
	counted_op++;
	if (counted_op == nth)
		return 1;
	return counted_op > nth && env("FAULT_ALL") != NULL;
}

/* Called after a counted call that was performed. */
static void
after(void)
{
	const char *k = env("FAULT_KILL_AFTER");

	if (k != NULL && counted_all == atol(k))
		kill(getpid(), SIGKILL);
}

#define REAL(type, name, args) \
	static type (*real_##name) args; \
	if (real_##name == NULL) \
		real_##name = (type (*) args)dlsym(RTLD_NEXT, #name)

ssize_t
write(int fd, const void *buf, size_t n)
{
	REAL(ssize_t, write, (int, const void *, size_t));
	char pb[4096];
	ssize_t r;

	if (fd <= 2 || !fd_matches(fd))
		return real_write(fd, buf, n);
	if (before("write", fd_path(fd, pb, sizeof(pb)))) {
		errno = fault_errno();
		return -1;
	}
	r = real_write(fd, buf, n);
	after();
	return r;
}

/* fsync and fdatasync: one counted kind, "fsync". */
static int
sync_common(int fd, int (*real)(int))
{
	char pb[4096];
	int r;

	if (!fd_matches(fd))
		return real(fd);
	if (before("fsync", fd_path(fd, pb, sizeof(pb)))) {
		errno = fault_errno();
		return -1;
	}
	r = real(fd);
	after();
	return r;
}

int
fsync(int fd)
{
	REAL(int, fsync, (int));

	return sync_common(fd, real_fsync);
}

int
fdatasync(int fd)
{
	REAL(int, fdatasync, (int));

	return sync_common(fd, real_fdatasync);
}

int
close(int fd)
{
	REAL(int, close, (int));
	char pb[4096];
	int r;

	if (fd <= 2 || !fd_matches(fd))
		return real_close(fd);
	if (before("close", fd_path(fd, pb, sizeof(pb)))) {
		/* The descriptor is closed all the same, as Linux does. */
		real_close(fd);
		errno = fault_errno();
		return -1;
	}
	r = real_close(fd);
	after();
	return r;
}

static int
do_rename(const char *op, const char *from, const char *to, int (*fn)(void *),
    void *arg, int matched)
{
	int r;

	if (!matched && !path_matches(from) && !path_matches(to))
		return fn(arg);
	if (before(op, to)) {
		errno = fault_errno();
		return -1;
	}
	r = fn(arg);
	after();
	return r;
}

struct rename_args {
	int		 olddir, newdir;
	const char	*from, *to;
	unsigned	 flags;
	int		 kind;
};

static int
call_rename(void *p)
{
	struct rename_args *a = p;
	REAL(int, rename, (const char *, const char *));
	REAL(int, renameat, (int, const char *, int, const char *));
	REAL(int, renameat2, (int, const char *, int, const char *, unsigned));

	if (a->kind == 0)
		return real_rename(a->from, a->to);
	if (a->kind == 1)
		return real_renameat(a->olddir, a->from, a->newdir, a->to);
	return real_renameat2(a->olddir, a->from, a->newdir, a->to, a->flags);
}

int
rename(const char *from, const char *to)
{
	struct rename_args a = { 0, 0, from, to, 0, 0 };

	return do_rename("rename", from, to, call_rename, &a, 0);
}

/* Relative names: match on the directories' paths instead. */
static int
relative_matches(int olddir, int newdir, const char *from)
{
	return env("FAULT_PATH") != NULL && from[0] != '/' &&
	    (fd_matches(olddir) || fd_matches(newdir));
}

int
renameat(int olddir, const char *from, int newdir, const char *to)
{
	struct rename_args a = { olddir, newdir, from, to, 0, 1 };

	return do_rename("rename", from, to, call_rename, &a,
	    relative_matches(olddir, newdir, from));
}

int
renameat2(int olddir, const char *from, int newdir, const char *to,
    unsigned flags)
{
	struct rename_args a = { olddir, newdir, from, to, flags, 2 };

	return do_rename("rename", from, to, call_rename, &a,
	    relative_matches(olddir, newdir, from));
}

static int
open_common(int dirfd, const char *path, int flags, mode_t mode, int at)
{
	REAL(int, open, (const char *, int, ...));
	REAL(int, openat, (int, const char *, int, ...));
	int counted, r;

	counted = (flags & O_CREAT) && (path_matches(path) ||
	    (at && path[0] != '/' && env("FAULT_PATH") != NULL &&
	    fd_matches(dirfd)));
	if (counted && before("open", path)) {
		errno = fault_errno();
		return -1;
	}
	r = at ? real_openat(dirfd, path, flags, mode) :
	    real_open(path, flags, mode);
	if (counted)
		after();
	return r;
}

int
open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (flags & (O_CREAT | __O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return open_common(AT_FDCWD, path, flags, mode, 0);
}

int open64(const char *, int, ...) __attribute__((alias("open")));

int
openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (flags & (O_CREAT | __O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return open_common(dirfd, path, flags, mode, 1);
}

int openat64(int, const char *, int, ...) __attribute__((alias("openat")));

int
unlinkat(int dirfd, const char *path, int flags)
{
	REAL(int, unlinkat, (int, const char *, int));
	int counted = path_matches(path) || (path[0] != '/' &&
	    env("FAULT_PATH") != NULL && fd_matches(dirfd));
	int r;

	if (counted && before("unlink", path)) {
		errno = fault_errno();
		return -1;
	}
	r = real_unlinkat(dirfd, path, flags);
	if (counted)
		after();
	return r;
}

int
unlink(const char *path)
{
	return unlinkat(AT_FDCWD, path, 0);
}
