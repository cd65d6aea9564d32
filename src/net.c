/*
 * relayq -- connections: connect with failover, buffered I/O, timeouts, TLS.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The socket is non-blocking from the start; every wait is a poll(2) with
 * a deadline, so no server can hold us longer than the timeout the caller
 * chose, whether it stops reading, stops writing or trickles one byte at
 * a time.  Writes use send(MSG_NOSIGNAL) (and GnuTLS is told the same),
 * so a peer that resets the connection gives EPIPE, never SIGPIPE.
 *
 * RFC 3207 section 4.2 and the NO STARTTLS study: after the 220 reply to
 * STARTTLS nothing may be left unread.  conn_pending() counts our buffer,
 * GnuTLS's buffer, and (for a plain connection) what the kernel holds, and
 * conn_starttls() refuses to start while anything is pending.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "net.h"
#include "tls.h"

#define CONN_IN_SIZE	16384
#define CONN_OUT_MAX	65536

struct conn {
	int		 fd;
	struct tls_sess	*tls;
	char		*peer;		/* "host[addr]:port" */
	struct buf	 out;
	char		*in;		/* CONN_IN_SIZE octets */
	size_t		 in_start;	/* first unconsumed octet */
	size_t		 in_end;
	int		 timeout_ms;	/* for flushes conn_write must do */
};

/* Milliseconds on the monotonic clock. */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A deadline timeout_ms from now; -1 (none) for a negative timeout. */
static long long
deadline_in(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

static int
ms_left(long long deadline)
{
	long long left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	return left < 0 ? 0 : (int)left;
}

/*
 * Wait until fd is ready for events or the deadline passes.  Returns 0, or
 * EX_TEMPFAIL with err set ("timeout ... while WHAT").
 */
static int
wait_fd(int fd, short events, long long deadline, const char *what,
    const char *peer, struct rq_err *err)
{
	struct pollfd pfd;
	int n;

	for (;;) {
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, ms_left(deadline));
		if (n > 0)
			return 0;	/* errors show up at the next I/O */
		if (n == 0)
			return rq_errf(err, EX_TEMPFAIL,
			    "timeout while %s %s", what, peer);
		if (errno != EINTR)
			return rq_errno(err, EX_TEMPFAIL, errno,
			    "poll while %s %s", what, peer);
	}
}

/* "host[addr]:port" for messages. */
static char *
peer_name(const char *host, const struct sockaddr *sa, socklen_t salen,
    int port)
{
	char addr[NI_MAXHOST];

	if (getnameinfo(sa, salen, addr, sizeof(addr), NULL, 0,
	    NI_NUMERICHOST) != 0)
		rq_strlcpy(addr, "?", sizeof(addr));
	return xasprintf("%s[%s]:%d", host, addr, port);
}

/* The address inside an SMTP address literal ("[192.0.2.1]",
 * "[IPv6:2001:db8::1]"), allocated, or NULL when host is not one. */
static char *
literal_addr(const char *host)
{
	size_t len = strlen(host);

	if (len < 2 || host[0] != '[' || host[len - 1] != ']')
		return NULL;
	host++;
	len -= 2;
	if (len >= 5 && rq_strncasecmp(host, "IPv6:", 5) == 0) {
		host += 5;
		len -= 5;
	}
	return xstrndup(host, len);
}

/*
 * One connect attempt to one address.  Returns the connected fd, or -1
 * with err set.
 */
static int
try_connect(const struct addrinfo *ai, const struct addrinfo *src,
    const char *peer, int timeout_ms, struct rq_err *err)
{
	int fd, soerr, one = 1;
	socklen_t len = sizeof(soerr);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		rq_errno(err, EX_TEMPFAIL, errno,
		    "cannot create a socket for %s", peer);
		return -1;
	}
	if (src != NULL && bind(fd, src->ai_addr, src->ai_addrlen) != 0) {
		rq_errno(err, EX_TEMPFAIL, errno,
		    "cannot bind to source_ip for %s", peer);
		goto fail;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS && errno != EINTR) {
			rq_errno(err, EX_TEMPFAIL, errno,
			    "cannot connect to %s", peer);
			goto fail;
		}
		if (wait_fd(fd, POLLOUT, deadline_in(timeout_ms),
		    "connecting to", peer, err) != 0)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
			soerr = errno;
		if (soerr != 0) {
			rq_errno(err, EX_TEMPFAIL, soerr,
			    "cannot connect to %s", peer);
			goto fail;
		}
	}
	/* Pipelined groups and message tails must not wait for Nagle. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
fail:
	close(fd);
	return -1;
}

int
conn_open(const char *host, int port, const char *source_ip, int timeout_ms,
    struct conn **out, struct rq_err *err)
{
	struct addrinfo hints, *res = NULL, *src = NULL, *ai;
	char portstr[16];
	struct conn *c;
	char *peer = NULL, *lookup;
	int rc, fd = -1, tried = 0;

	*out = NULL;
	if (port <= 0 || port > 65535)
		return rq_errf(err, EX_CONFIG, "bad port %d for %s", port,
		    host);
	snprintf(portstr, sizeof(portstr), "%d", port);

	if (source_ip != NULL && *source_ip != '\0') {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
		if (getaddrinfo(source_ip, NULL, &hints, &src) != 0)
			return rq_errf(err, EX_CONFIG,
			    "source_ip %s is not an IP address", source_ip);
	}

	/*
	 * No AI_ADDRCONFIG: it hides ::1 and 127.0.0.1 on a host whose only
	 * interface is loopback, and the kernel refuses an unusable family
	 * quickly anyway.
	 */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	lookup = literal_addr(host);
	rc = getaddrinfo(lookup != NULL ? lookup : host, portstr, &hints, &res);
	free(lookup);
	if (rc != 0) {
		if (src != NULL)
			freeaddrinfo(src);
		switch (rc) {
		case EAI_NONAME:
#ifdef EAI_NODATA
		case EAI_NODATA:
#endif
			return rq_errf(err, EX_NOHOST, "host %s not found",
			    host);
		case EAI_SYSTEM:
			return rq_errno(err, EX_TEMPFAIL, errno,
			    "cannot resolve %s", host);
		default:
			return rq_errf(err, EX_TEMPFAIL,
			    "cannot resolve %s: %s", host, gai_strerror(rc));
		}
	}

	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (src != NULL && src->ai_family != ai->ai_family)
			continue;
		free(peer);
		peer = peer_name(host, ai->ai_addr, ai->ai_addrlen, port);
		tried++;
		fd = try_connect(ai, src, peer, timeout_ms, err);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	if (src != NULL)
		freeaddrinfo(src);
	if (fd < 0) {
		free(peer);
		if (tried == 0)
			return rq_errf(err, EX_TEMPFAIL,
			    "%s has no address of source_ip %s's family",
			    host, source_ip);
		if (tried > 1)
			rq_errctx(err, "all %d addresses failed, last",
			    tried);
		return err != NULL ? err->ex : EX_TEMPFAIL;
	}

	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->peer = peer;
	c->in = xmalloc(CONN_IN_SIZE);
	c->timeout_ms = timeout_ms;
	*out = c;
	return 0;
}

/*
 * Read what is available into the input buffer (after moving unconsumed
 * octets to its start), waiting until the deadline.  Returns 0 when at
 * least one octet arrived, else an EX_ code.
 */
static int
conn_fill(struct conn *c, long long deadline, struct rq_err *err)
{
	ssize_t n;
	int rc;

	if (c->in_start > 0) {
		memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
		c->in_end -= c->in_start;
		c->in_start = 0;
	}
	for (;;) {
		if (c->tls != NULL)
			n = tls_read(c->tls, c->in + c->in_end,
			    CONN_IN_SIZE - c->in_end);
		else
			n = recv(c->fd, c->in + c->in_end,
			    CONN_IN_SIZE - c->in_end, 0);
		if (n > 0) {
			c->in_end += (size_t)n;
			return 0;
		}
		if (n == 0)
			return rq_errf(err, EX_TEMPFAIL,
			    "connection closed by %s", c->peer);
		/* EINTR also stands for TLS records that carried no data
		 * (alerts): a stream of them must not outlast the deadline. */
		if (errno == EINTR) {
			if (deadline >= 0 && ms_left(deadline) == 0)
				return rq_errf(err, EX_TEMPFAIL,
				    "timeout while reading from %s", c->peer);
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			if (c->tls != NULL)
				return rq_errf(err, EX_TEMPFAIL,
				    "cannot read from %s: %s", c->peer,
				    tls_error(c->tls));
			return rq_errno(err, EX_TEMPFAIL, errno,
			    "cannot read from %s", c->peer);
		}
		rc = wait_fd(c->fd, c->tls != NULL && tls_wants_write(c->tls) ?
		    POLLOUT : POLLIN, deadline, "reading from", c->peer, err);
		if (rc != 0)
			return rc;
	}
}

int
conn_getline(struct conn *c, struct buf *line, size_t max, int timeout_ms,
    struct rq_err *err)
{
	long long deadline = deadline_in(timeout_ms);
	int rc;

	buf_reset(line);
	for (;;) {
		const char *p = c->in + c->in_start;
		size_t avail = c->in_end - c->in_start;
		const char *lf = memchr(p, '\n', avail);
		size_t n = lf != NULL ? (size_t)(lf - p) + 1 : avail;

		if (n > max - line->len || (lf == NULL && line->len + n == max))
			return rq_errf(err, EX_PROTOCOL,
			    "line from %s longer than %zu octets", c->peer,
			    max);
		buf_add(line, p, n);
		c->in_start += n;
		if (lf != NULL)
			return 0;
		rc = conn_fill(c, deadline, err);
		if (rc != 0)
			return rc;
	}
}

size_t
conn_pending(const struct conn *c)
{
	size_t n = c->in_end - c->in_start;
	int k = 0;

	if (c->tls != NULL)
		return n + tls_pending(c->tls);
	/* Also what has arrived but we have not read yet. */
	if (ioctl(c->fd, FIONREAD, &k) == 0 && k > 0)
		n += (size_t)k;
	return n;
}

static int send_all(struct conn *, const char *, size_t, int,
    struct rq_err *);

int
conn_write(struct conn *c, const void *p, size_t n, struct rq_err *err)
{
	/* A large piece with nothing before it goes out as it is: a copy
	   into the buffer would only be sent the same way. */
	if (c->out.len == 0 && n >= CONN_OUT_MAX)
		return send_all(c, p, n, c->timeout_ms, err);
	buf_add(&c->out, p, n);
	if (c->out.len >= CONN_OUT_MAX)
		return conn_flush(c, c->timeout_ms, err);
	return 0;
}

int
conn_printf(struct conn *c, struct rq_err *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&c->out, fmt, ap);
	va_end(ap);
	if (c->out.len >= CONN_OUT_MAX)
		return conn_flush(c, c->timeout_ms, err);
	return 0;
}

/* Send len octets from p within timeout_ms. */
static int
send_all(struct conn *c, const char *p, size_t len, int timeout_ms,
    struct rq_err *err)
{
	long long deadline = deadline_in(timeout_ms);
	size_t off = 0;
	ssize_t n;
	int rc = 0;

	while (off < len) {
		if (c->tls != NULL)
			n = tls_write(c->tls, p + off, len - off);
		else
			n = send(c->fd, p + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR) {
			if (deadline >= 0 && ms_left(deadline) == 0) {
				rc = rq_errf(err, EX_TEMPFAIL,
				    "timeout while writing to %s", c->peer);
				break;
			}
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			rc = wait_fd(c->fd, c->tls != NULL &&
			    !tls_wants_write(c->tls) ? POLLIN : POLLOUT,
			    deadline, "writing to", c->peer, err);
			if (rc != 0)
				break;
			continue;
		}
		if (c->tls != NULL)
			rc = rq_errf(err, EX_TEMPFAIL, "cannot write to %s: %s",
			    c->peer, tls_error(c->tls));
		else
			rc = rq_errno(err, EX_TEMPFAIL, n < 0 ? errno : EIO,
			    "cannot write to %s", c->peer);
		break;
	}
	return rc;
}

int
conn_flush(struct conn *c, int timeout_ms, struct rq_err *err)
{
	int rc;

	c->timeout_ms = timeout_ms;
	rc = send_all(c, c->out.data, c->out.len, timeout_ms, err);
	/* What went out may have been an AUTH line. */
	wipe(c->out.data, c->out.len);
	buf_reset(&c->out);
	return rc;
}

int
conn_starttls(struct conn *c, struct tls_ctx *ctx, const char *verify_name,
    int timeout_ms, struct rq_err *err)
{
	size_t pending;
	int rc;

	/* RFC 3207 4.2: TLS is never started twice on one connection. */
	if (c->tls != NULL)
		return rq_errf(err, EX_PROTOCOL,
		    "TLS is already active with %s", c->peer);
	pending = conn_pending(c);
	if (pending > 0)
		return rq_errf(err, EX_PROTOCOL,
		    "%s sent %zu octets before the TLS handshake "
		    "(STARTTLS response injection?)", c->peer, pending);
	if (c->out.len > 0)
		return rq_errf(err, EX_SOFTWARE,
		    "unsent plaintext output before the TLS handshake");
	rc = tls_handshake(ctx, c->fd, verify_name, timeout_ms, &c->tls, err);
	c->in_start = c->in_end = 0;
	return rc;
}

int
conn_is_tls(const struct conn *c)
{
	return c->tls != NULL;
}

struct tls_sess *
conn_tls(const struct conn *c)
{
	return c->tls;
}

const char *
conn_peer(const struct conn *c)
{
	return c->peer;
}

void
conn_close(struct conn *c)
{
	if (c == NULL)
		return;
	tls_close(c->tls);
	c->tls = NULL;
	conn_discard(c);
}

void
conn_discard(struct conn *c)
{
	if (c == NULL)
		return;
	tls_discard(c->tls);
	if (c->fd >= 0)
		close(c->fd);
	buf_wipe(&c->out);
	wipe(c->in, CONN_IN_SIZE);
	free(c->in);
	free(c->peer);
	free(c);
}
