/*
 * rq-testsmtpd -- connection I/O with byte-exact recording.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every byte is recorded the moment it crosses the socket (decrypted once
 * TLS is up), before the protocol code looks at it, so the transcript shows
 * what the client really sent even when the session dies half-way.
 *
 *   conn-N.in, conn-N.out            everything, in order
 *   conn-N.in.plain, conn-N.out.plain   the part before the TLS handshake
 *   conn-N.in.tls, conn-N.out.tls       the part after it (decrypted)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd.h"

/* Recording stops here so that "endless" replies cannot fill the disk. */
#define REC_OUT_MAX	(64LL * 1024 * 1024)

static int
open_rec(const char *dir, int n, const char *suffix)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/conn-%d.%s", dir, n, suffix);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		sd_warn("%s: %s", path, strerror(errno));
	return fd;
}

void
conn_open_records(struct sd_conn *c, const char *dir, int n)
{
	c->outdir = dir;
	c->session = n;
	c->rec_in = open_rec(dir, n, "in");
	c->rec_out = open_rec(dir, n, "out");
	c->rec_in_part = open_rec(dir, n, "in.plain");
	c->rec_out_part = open_rec(dir, n, "out.plain");
}

void
conn_records_tls(struct sd_conn *c)
{
	if (c->rec_in_part >= 0)
		close(c->rec_in_part);
	if (c->rec_out_part >= 0)
		close(c->rec_out_part);
	c->rec_in_part = open_rec(c->outdir, c->session, "in.tls");
	c->rec_out_part = open_rec(c->outdir, c->session, "out.tls");
}

void
conn_close_records(struct sd_conn *c)
{
	int *fds[] = { &c->rec_in, &c->rec_out, &c->rec_in_part,
	    &c->rec_out_part };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

static void
record(int fd1, int fd2, const void *p, size_t n)
{
	if (fd1 >= 0)
		(void)sd_write_all(fd1, p, n);
	if (fd2 >= 0)
		(void)sd_write_all(fd2, p, n);
}

/* Refill the empty input buffer; returns 0 at EOF, timeout or error. */
static int
fill(struct sd_conn *c)
{
	ssize_t n;

	if (c->ipos < c->ilen)
		return 1;
	if (c->eof)
		return 0;
	c->ipos = c->ilen = 0;
	for (;;) {
		if (c->tls == NULL || gnutls_record_check_pending(c->tls) == 0) {
			struct pollfd pfd = { c->fd, POLLIN, 0 };
			int r = poll(&pfd, 1, (int)(c->read_timeout * 1000));

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				sd_log("read %s", r == 0 ? "timeout" :
				    strerror(errno));
				c->eof = 1;
				return 0;
			}
		}
		if (c->tls != NULL) {
			n = gnutls_record_recv(c->tls, c->ibuf, sizeof(c->ibuf));
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				continue;
			if (n < 0) {
				sd_log("tls read: %s", gnutls_strerror((int)n));
				c->eof = 1;
				return 0;
			}
		} else {
			n = read(c->fd, c->ibuf, sizeof(c->ibuf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				sd_log("read: %s", strerror(errno));
				c->eof = 1;
				return 0;
			}
		}
		break;
	}
	if (n == 0) {
		c->eof = 1;
		return 0;
	}
	c->ilen = (size_t)n;
	c->nin += n;
	record(c->rec_in, c->rec_in_part, c->ibuf, (size_t)n);
	return 1;
}

int
conn_getline(struct sd_conn *c, struct sbuf *out, size_t max)
{
	out->len = 0;
	if (out->data != NULL)
		out->data[0] = '\0';
	while (out->len < max) {
		char *lf;
		size_t avail, take;

		if (!fill(c))
			return 0;
		avail = c->ilen - c->ipos;
		lf = memchr(c->ibuf + c->ipos, '\n', avail);
		take = lf != NULL ? (size_t)(lf - (c->ibuf + c->ipos)) + 1 : avail;
		if (take > max - out->len)
			take = max - out->len;
		sbuf_add(out, c->ibuf + c->ipos, take);
		c->ipos += take;
		if (out->data[out->len - 1] == '\n')
			return 1;
	}
	return 2;
}

size_t
conn_read(struct sd_conn *c, struct sbuf *out, size_t n)
{
	size_t got = 0;

	while (got < n) {
		size_t take;

		if (!fill(c))
			break;
		take = c->ilen - c->ipos;
		if (take > n - got)
			take = n - got;
		sbuf_add(out, c->ibuf + c->ipos, take);
		c->ipos += take;
		got += take;
	}
	return got;
}

size_t
conn_pending(const struct sd_conn *c)
{
	return c->ilen - c->ipos;
}

size_t
conn_drop_pending(struct sd_conn *c)
{
	size_t n = c->ilen - c->ipos;

	c->ipos = c->ilen = 0;
	return n;
}

int
conn_write(struct sd_conn *c, const void *p, size_t n)
{
	const char *s = p;

	if (c->nout < REC_OUT_MAX) {
		size_t r = n;

		if ((long long)r > REC_OUT_MAX - c->nout)
			r = (size_t)(REC_OUT_MAX - c->nout);
		record(c->rec_out, c->rec_out_part, p, r);
	}
	c->nout += (long long)n;
	while (n > 0) {
		ssize_t w;

		if (c->tls != NULL) {
			w = gnutls_record_send(c->tls, s, n);
			if (w == GNUTLS_E_INTERRUPTED)
				continue;
			/*
			 * EAGAIN comes from SO_SNDTIMEO: a client that stopped
			 * reading.  Give it one more read timeout, then give up
			 * rather than spin.
			 */
			if (w == GNUTLS_E_AGAIN) {
				struct pollfd pfd = { c->fd, POLLOUT, 0 };

				if (poll(&pfd, 1, (int)(c->read_timeout * 1000)) > 0)
					continue;
				sd_log("tls write: timeout");
				c->eof = 1;
				return -1;
			}
			if (w < 0) {
				sd_log("tls write: %s", gnutls_strerror((int)w));
				c->eof = 1;
				return -1;
			}
		} else {
			w = write(c->fd, s, n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				sd_log("write: %s", strerror(errno));
				c->eof = 1;
				return -1;
			}
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

void
conn_drain(struct sd_conn *c)
{
	while (fill(c))
		c->ipos = c->ilen;
}
