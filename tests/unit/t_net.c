/*
 * relayq -- unit tests for connections (net.c) over loopback.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each case forks a tiny server on 127.0.0.1, port 0, that plays one
 * script, and checks what conn_* make of it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "reply.h"
#include "tap.h"
#include "util.h"

struct server {
	pid_t	pid;
	int	port;
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fork a server that accepts one connection and runs script on it. */
static struct server
serve(void (*script)(int))
{
	struct server s;
	int lfd = listen_loopback(&s.port);

	s.pid = fork();
	if (s.pid < 0) {
		perror("fork");
		exit(1);
	}
	if (s.pid == 0) {
		int fd = accept(lfd, NULL, NULL);

		close(lfd);
		if (fd >= 0)
			script(fd);
		_exit(0);
	}
	close(lfd);
	return s;
}

static void
say(int fd, const char *s)
{
	(void)!write(fd, s, strlen(s));
}

/* Read until EOF; return the count of octets read. */
static size_t
drain(int fd)
{
	char b[4096];
	size_t total = 0;
	ssize_t n;

	while ((n = read(fd, b, sizeof(b))) > 0)
		total += (size_t)n;
	return total;
}

static void
s_lines(int fd)
{
	say(fd, "220 hi\r\n250-a\r\n250 b\nlast");
	drain(fd);
}

static void
s_long(int fd)
{
	char b[5000];

	memset(b, 'x', sizeof(b));
	(void)!write(fd, b, sizeof(b));
	drain(fd);
}

static void
s_exact(int fd)
{
	char b[100];

	/* 98 octets then CRLF: exactly 100 */
	memset(b, 'y', sizeof(b));
	b[98] = '\r';
	b[99] = '\n';
	(void)!write(fd, b, sizeof(b));
	(void)!write(fd, b, sizeof(b) - 2);
	(void)!write(fd, "z\r\n", 3);
	drain(fd);
}

static void
s_close(int fd)
{
	say(fd, "220 bye");
	close(fd);
}

static void
s_silent(int fd)
{
	drain(fd);
}

static void
s_inject(int fd)
{
	say(fd, "220 Ready\r\n250-x\r\n250 AUTH PLAIN\r\n");
	drain(fd);
}

/* Counts what it receives until EOF; the exit status says if it was all. */
static void
s_count(int fd)
{
	_exit(drain(fd) == 1000000 + 20 ? 0 : 1);
}

/* One read after a pause: a flushed group arrives whole. */
static void
s_group(int fd)
{
	char b[4096];
	ssize_t n;

	usleep(200000);
	n = read(fd, b, sizeof(b));
	_exit(n == 53 ? 0 : 1);
}

static void
s_reset(int fd)
{
	close(fd);
}

static void
test_lines(void)
{
	struct server s = serve(s_lines);
	struct conn *c = NULL;
	struct rq_err err = { 0 };
	struct buf line = { 0 };
	static const char *want[] = { "220 hi\r\n", "250-a\r\n", "250 b\n" };

	is_int(conn_open("127.0.0.1", s.port, NULL, 2000, &c, &err), 0,
	    "connect to 127.0.0.1:%d", s.port);
	ok(c != NULL && strstr(conn_peer(c), "127.0.0.1[127.0.0.1]:") != NULL,
	    "peer name %s", c ? conn_peer(c) : "(none)");
	ok(c != NULL && !conn_is_tls(c) && conn_tls(c) == NULL, "plain");
	for (size_t i = 0; i < RQ_ARRAY_LEN(want); i++) {
		is_int(conn_getline(c, &line, REPLY_LINE_MAX, 2000, &err), 0,
		    "line %zu read", i);
		is_str(line.data, want[i], "line %zu content", i);
	}
	/* "last" has no LF and the server keeps the connection open. */
	is_int(conn_getline(c, &line, REPLY_LINE_MAX, 200, &err), EX_TEMPFAIL,
	    "partial line then silence: timeout");
	ok(strstr(err.msg, "timeout") != NULL, "says timeout: %s", err.msg);
	conn_close(c);
	buf_free(&line);
	stop_child(s.pid);
}

static void
test_bounds(void)
{
	struct server s = serve(s_long);
	struct conn *c = NULL;
	struct rq_err err = { 0 };
	struct buf line = { 0 };

	conn_open("127.0.0.1", s.port, NULL, 2000, &c, &err);
	is_int(conn_getline(c, &line, REPLY_LINE_MAX, 2000, &err),
	    EX_PROTOCOL, "5000 octets without LF: refused");
	ok(strstr(err.msg, "longer than 4096") != NULL, "says why: %s",
	    err.msg);
	ok(line.len <= REPLY_LINE_MAX, "no more than max kept (%zu)",
	    line.len);
	conn_close(c);
	stop_child(s.pid);

	s = serve(s_exact);
	conn_open("127.0.0.1", s.port, NULL, 2000, &c, &err);
	is_int(conn_getline(c, &line, 100, 2000, &err), 0,
	    "line of exactly max octets accepted");
	is_int((long long)line.len, 100, "its length");
	is_int(conn_getline(c, &line, 100, 2000, &err), EX_PROTOCOL,
	    "line of max+1 octets (split across reads) refused");
	conn_close(c);
	buf_free(&line);
	stop_child(s.pid);
}

static void
test_eof(void)
{
	struct server s = serve(s_close);
	struct conn *c = NULL;
	struct rq_err err = { 0 };
	struct buf line = { 0 };

	conn_open("127.0.0.1", s.port, NULL, 2000, &c, &err);
	is_int(conn_getline(c, &line, REPLY_LINE_MAX, 2000, &err),
	    EX_TEMPFAIL, "EOF in a line: temporary failure");
	ok(strstr(err.msg, "connection closed") != NULL, "says closed: %s",
	    err.msg);
	conn_close(c);
	buf_free(&line);
	stop_child(s.pid);
}

static void
test_timeout(void)
{
	struct server s = serve(s_silent);
	struct conn *c = NULL;
	struct rq_err err = { 0 };
	struct buf line = { 0 };
	long long t0, dt;

	conn_open("127.0.0.1", s.port, NULL, 2000, &c, &err);
	t0 = now_ms();
	is_int(conn_getline(c, &line, REPLY_LINE_MAX, 300, &err),
	    EX_TEMPFAIL, "silent server: temporary failure");
	dt = now_ms() - t0;
	ok(dt >= 250 && dt < 1500, "after about 300 ms (%lld)", dt);
	ok(strstr(err.msg, "timeout while reading from 127.0.0.1") != NULL,
	    "says timeout: %s", err.msg);
	conn_close(c);
	buf_free(&line);
	stop_child(s.pid);
}

static void
test_pending(void)
{
	struct server s = serve(s_inject);
	struct conn *c = NULL;
	struct rq_err err = { 0 };
	struct buf line = { 0 };

	conn_open("127.0.0.1", s.port, NULL, 2000, &c, &err);
	usleep(100000);
	is_int(conn_pending(c), 34, "all 34 octets pending before reading");
	is_int(conn_getline(c, &line, REPLY_LINE_MAX, 2000, &err), 0,
	    "220 read");
	is_int(conn_pending(c), 23, "23 injected octets still pending");
	is_int(conn_starttls(c, NULL, "localhost", 1000, &err), EX_PROTOCOL,
	    "conn_starttls refuses with pending input");
	ok(strstr(err.msg, "injection") != NULL, "says why: %s", err.msg);
	conn_close(c);
	buf_free(&line);
	stop_child(s.pid);
}

static void
test_write(void)
{
	struct server s;
	struct conn *c = NULL;
	struct rq_err err = { 0 };
	char *big = xmalloc(1000000);
	int st;

	/* 1 MB through the 64 KiB buffer, then a tail, all arrive. */
	memset(big, 'm', 1000000);
	s = serve(s_count);
	conn_open("127.0.0.1", s.port, NULL, 2000, &c, &err);
	is_int(conn_write(c, big, 1000000, &err), 0, "write 1 MB");
	is_int(conn_printf(c, &err, "%s", "tail of the message\n"), 0,
	    "printf a tail");
	is_int(conn_flush(c, 5000, &err), 0, "flush");
	conn_close(c);
	waitpid(s.pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "server received exactly 1000020 octets");

	/* A pipelined group goes out as one piece. */
	s = serve(s_group);
	conn_open("127.0.0.1", s.port, NULL, 2000, &c, &err);
	conn_printf(c, &err, "MAIL FROM:<a@b>\r\n");
	conn_printf(c, &err, "RCPT TO:<c@d>\r\n");
	conn_printf(c, &err, "RCPT TO:<e@f>\r\nDATA\r\n");
	is_int(conn_flush(c, 2000, &err), 0, "flush a group");
	waitpid(s.pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "the server read the 53-octet group in one read");
	conn_close(c);

	/* A peer that went away: EPIPE/ECONNRESET, not SIGPIPE. */
	s = serve(s_reset);
	conn_open("127.0.0.1", s.port, NULL, 2000, &c, &err);
	waitpid(s.pid, &st, 0);
	usleep(50000);
	{
		int rc = 0;

		for (int i = 0; i < 50 && rc == 0; i++) {
			rc = conn_write(c, big, 100000, &err);
			if (rc == 0)
				rc = conn_flush(c, 2000, &err);
		}
		is_int(rc, EX_TEMPFAIL, "writing to a closed peer fails "
		    "(and we are still alive)");
		ok(strstr(err.msg, "cannot write to") != NULL, "says: %s",
		    err.msg);
	}
	conn_close(c);
	free(big);
}

static void
test_connect_errors(void)
{
	struct conn *c = NULL;
	struct rq_err err = { 0 };
	struct server s;
	int port, lfd, rc;

	lfd = listen_loopback(&port);
	close(lfd);
	is_int(conn_open("127.0.0.1", port, NULL, 2000, &c, &err),
	    EX_TEMPFAIL, "closed port: temporary failure");
	ok(strstr(err.msg, "refused") != NULL, "says refused: %s", err.msg);
	ok(c == NULL, "no connection returned");

	is_int(conn_open("127.0.0.1", 0, NULL, 2000, &c, &err), EX_CONFIG,
	    "port 0: configuration error");
	is_int(conn_open("127.0.0.1", 70000, NULL, 2000, &c, &err), EX_CONFIG,
	    "port 70000: configuration error");
	is_int(conn_open("127.0.0.1", port, "not-an-ip", 2000, &c, &err),
	    EX_CONFIG, "source_ip that is not an address");
	is_int(conn_open("127.0.0.1", port, "::1", 2000, &c, &err),
	    EX_TEMPFAIL, "source_ip of the other family");
	ok(strstr(err.msg, "family") != NULL, "says family: %s", err.msg);

	/*
	 * A listener that never accepts, its queue full: Linux drops the
	 * next SYN, so connect hangs until our timeout.
	 */
	{
		struct conn *fill[4] = { NULL };
		long long t0;
		size_t i;

		lfd = listen_loopback(&port);
		listen(lfd, 0);
		for (i = 0; i < RQ_ARRAY_LEN(fill); i++)
			if (conn_open("127.0.0.1", port, NULL, 300, &fill[i],
			    &err) != 0)
				break;
		t0 = now_ms();
		rc = i < RQ_ARRAY_LEN(fill) ? EX_TEMPFAIL :
		    conn_open("127.0.0.1", port, NULL, 300, &c, &err);
		is_int(rc, EX_TEMPFAIL, "full listen queue: connect fails");
		ok(strstr(err.msg, "timeout while connecting to") != NULL,
		    "says timeout: %s", err.msg);
		ok(now_ms() - t0 < 1500, "within about the timeout");
		for (i = 0; i < RQ_ARRAY_LEN(fill); i++)
			conn_close(fill[i]);
		close(lfd);
	}

	rc = conn_open("no-such-host.invalid", 25, NULL, 2000, &c, &err);
	ok(rc == EX_NOHOST || rc == EX_TEMPFAIL,
	    "unknown host: no host or temporary (%d: %s)", rc, err.msg);

	s = serve(s_silent);
	is_int(conn_open("127.0.0.1", s.port, "127.0.0.1", 2000, &c, &err), 0,
	    "source_ip 127.0.0.1 binds and connects");
	conn_close(c);
	stop_child(s.pid);

	s = serve(s_silent);
	is_int(conn_open("[127.0.0.1]", s.port, NULL, 2000, &c, &err), 0,
	    "address literal [127.0.0.1] connects");
	conn_close(c);
	stop_child(s.pid);

	/* "localhost" may resolve to ::1 first; failover reaches the v4. */
	s = serve(s_silent);
	rc = conn_open("localhost", s.port, NULL, 2000, &c, &err);
	is_int(rc, 0, "localhost: some address works (%s)",
	    rc ? err.msg : "ok");
	conn_close(c);
	stop_child(s.pid);
	conn_close(NULL);
}

int
main(void)
{
	test_lines();
	test_bounds();
	test_eof();
	test_timeout();
	test_pending();
	test_write();
	test_connect_errors();
	return done_testing();
}
