/*
 * relayq -- an LD_PRELOAD shim that makes the queue's directory fsyncs slow
 * and writes down, in order, when each one returned and when each end of
 * a message's data was about to go to the server.  For the test that a
 * removal is durable before the next message's end of data leaves.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Environment:
 *   ORDER_LOG=FILE      append one line per event (required):
 *                         PID sync DIR      an fsync of directory DIR
 *                                           returned (after the delay)
 *                         PID end           an end of data is about to be
 *                                           sent: a write that ends in
 *                                           CRLF "." CRLF, or is "." CRLF,
 *                                           or a "BDAT n LAST" command
 *                         PID quit          "QUIT" is about to be sent
 *   ORDER_PATH=DIR      only directories under DIR count (the queue)
 *   ORDER_DELAY_MS=N    sleep N ms after each such fsync (default 50)
 *
 * The events of one process are written by it in the order they happen
 * (a sync line after the fsync returned, an end line before the bytes
 * are handed to the kernel), each with one O_APPEND write.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define REAL(type, name, args) \
	static type (*real_##name) args; \
	if (real_##name == NULL) \
		real_##name = (type (*) args)dlsym(RTLD_NEXT, #name)

static void
note(const char *what, const char *arg)
{
	REAL(ssize_t, write, (int, const void *, size_t));
	const char *file = getenv("ORDER_LOG");
	char line[4200];
	int fd, n, e = errno;

	if (file == NULL || *file == '\0')
		return;
	n = snprintf(line, sizeof(line), "%ld %s%s%s\n", (long)getpid(), what,
	    arg != NULL ? " " : "", arg != NULL ? arg : "");
	fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (n > 0 && (size_t)n < sizeof(line))
			(void)real_write(fd, line, (size_t)n);
		close(fd);
	}
	errno = e;
}

/* The directory fd refers to, when it lies under ORDER_PATH. */
static int
queue_dir(int fd, char *path, size_t size)
{
	const char *want = getenv("ORDER_PATH");
	char link[64];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode))
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, size - 1);
	if (n < 0)
		return 0;
	path[n] = '\0';
	return want == NULL || strncmp(path, want, strlen(want)) == 0;
}

static int
synced(int fd, int r)
{
	const char *d = getenv("ORDER_DELAY_MS");
	long ms = d != NULL && *d != '\0' ? atol(d) : 50;
	char path[4096];
	struct timespec ts;
	int e = errno;

	if (!queue_dir(fd, path, sizeof(path)))
		return r;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	note("sync", path);
	errno = e;
	return r;
}

int
fsync(int fd)
{
	REAL(int, fsync, (int));

	return synced(fd, real_fsync(fd));
}

int
fdatasync(int fd)
{
	REAL(int, fdatasync, (int));

	return synced(fd, real_fdatasync(fd));
}

/* What a write of p[0..n) to a socket means. */
static void
outgoing(int fd, const char *p, size_t n)
{
	struct stat st;
	const char *eol;

	if (n == 0 || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
		return;
	if ((n == 3 && memcmp(p, ".\r\n", 3) == 0) ||
	    (n >= 5 && memcmp(p + n - 5, "\r\n.\r\n", 5) == 0))
		note("end", NULL);
	else if (n >= 5 && memcmp(p, "BDAT ", 5) == 0 &&
	    (eol = memchr(p, '\r', n)) != NULL && eol - p >= 10 &&
	    memcmp(eol - 5, " LAST", 5) == 0)
		note("end", NULL);
	else if (n == 6 && memcmp(p, "QUIT\r\n", 6) == 0)
		note("quit", NULL);
}

ssize_t
send(int fd, const void *p, size_t n, int flags)
{
	REAL(ssize_t, send, (int, const void *, size_t, int));

	outgoing(fd, p, n);
	return real_send(fd, p, n, flags);
}

ssize_t
sendto(int fd, const void *p, size_t n, int flags,
    const struct sockaddr *to, socklen_t tolen)
{
	REAL(ssize_t, sendto, (int, const void *, size_t, int,
	    const struct sockaddr *, socklen_t));

	outgoing(fd, p, n);
	return real_sendto(fd, p, n, flags, to, tolen);
}

ssize_t
write(int fd, const void *p, size_t n)
{
	REAL(ssize_t, write, (int, const void *, size_t));

	outgoing(fd, p, n);
	return real_write(fd, p, n);
}
