/*
 * relayq -- a queued message's content as it goes on the wire (content.h).
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "content.h"

#define CHUNK	(64 * 1024)

struct content {
	struct qmsg		*m;
	struct content_transform tr;	/* tr.feed NULL: none */
	char			*prefix;
	size_t			 prefix_len, prefix_off;
	long long		 left;	/* of the queue file's content */
	long long		 off;	/* in m->fd */
	int			 ended;	/* tr.end() called */
	char			*raw;	/* CHUNK octets read from the file */
	struct buf		 out;	/* transformed, not yet handed out */
	size_t			 out_off;
};

int
content_open(struct qmsg *m, struct content_transform *transform,
    const char *prefix, struct content **out, struct rq_err *err)
{
	struct content *c = xcalloc(1, sizeof(*c));

	(void)err;
	c->m = m;
	if (transform != NULL) {
		c->tr = *transform;
		memset(transform, 0, sizeof(*transform));
	}
	if (prefix != NULL && *prefix != '\0') {
		c->prefix = xstrdup(prefix);
		c->prefix_len = strlen(prefix);
	}
	c->left = m->env.size;
	c->off = m->data_off;
	c->raw = xmalloc(CHUNK);
	buf_init(&c->out);
	*out = c;
	return 0;
}

/* Read the next piece of the queue file; 0 at its end, -1 on error. */
static ssize_t
read_raw(struct content *c, struct rq_err *err)
{
	size_t want = c->left > CHUNK ? CHUNK : (size_t)c->left;
	ssize_t got;

	if (want == 0)
		return 0;
	do
		got = pread(c->m->fd, c->raw, want, c->off);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		rq_errno(err, EX_IOERR, errno, "reading queued message %s",
		    c->m->env.id);
		return -1;
	}
	if (got == 0) {
		rq_errf(err, EX_DATAERR, "queued message %s is shorter than "
		    "its recorded size", c->m->env.id);
		return -1;
	}
	c->off += got;
	c->left -= got;
	return got;
}

ssize_t
content_read(struct content *c, void *buf, size_t n, struct rq_err *err)
{
	ssize_t got;
	size_t k;

	if (c->prefix_off < c->prefix_len) {
		k = c->prefix_len - c->prefix_off;
		if (k > n)
			k = n;
		memcpy(buf, c->prefix + c->prefix_off, k);
		c->prefix_off += k;
		return (ssize_t)k;
	}
	if (c->tr.feed == NULL) {
		/* As queued: straight from the file into the caller's buffer. */
		size_t want = c->left > (long long)n ? n : (size_t)c->left;

		if (want == 0)
			return 0;
		do
			got = pread(c->m->fd, buf, want, c->off);
		while (got < 0 && errno == EINTR);
		if (got < 0) {
			rq_errno(err, EX_IOERR, errno, "reading queued "
			    "message %s", c->m->env.id);
			return -1;
		}
		if (got == 0) {
			rq_errf(err, EX_DATAERR, "queued message %s is "
			    "shorter than its recorded size", c->m->env.id);
			return -1;
		}
		c->off += got;
		c->left -= got;
		return got;
	}
	while (c->out_off == c->out.len) {
		buf_reset(&c->out);
		c->out_off = 0;
		if (c->ended)
			return 0;
		got = read_raw(c, err);
		if (got < 0)
			return -1;
		if (got > 0) {
			if (c->tr.feed(c->tr.arg, c->raw, (size_t)got, &c->out,
			    err) != 0)
				return -1;
		} else {
			c->ended = 1;
			if (c->tr.end != NULL &&
			    c->tr.end(c->tr.arg, &c->out, err) != 0)
				return -1;
		}
	}
	k = c->out.len - c->out_off;
	if (k > n)
		k = n;
	memcpy(buf, c->out.data + c->out_off, k);
	c->out_off += k;
	return (ssize_t)k;
}

void
content_close(struct content *c)
{
	if (c == NULL)
		return;
	if (c->tr.free != NULL)
		c->tr.free(c->tr.arg);
	free(c->prefix);
	free(c->raw);
	buf_free(&c->out);
	free(c);
}

int
content_dkim(struct qmsg *m, struct content_transform *transform,
    const struct dkim_signer *signer, long long now, char **field,
    struct rq_err *err)
{
	struct content *c = NULL;
	struct dkim_msg *dm;
	char *piece;
	ssize_t got;
	int rc;

	*field = NULL;
	/* A transform changes the body: the hash made at submit is moot. */
	dm = dkim_msg_new(signer, transform == NULL &&
	    m->env.dkim_bh[0] != '\0' ? m->env.dkim_bh : NULL);
	rc = content_open(m, transform, NULL, &c, err);
	piece = xmalloc(CHUNK);
	while (rc == 0) {
		got = content_read(c, piece, CHUNK, err);
		if (got < 0) {
			rc = err->ex;
			break;
		}
		if (got == 0)
			break;
		rc = dkim_msg_feed(dm, piece, (size_t)got, err);
		if (rc == 1) {
			/* The header section is all that was still needed. */
			rc = 0;
			break;
		}
	}
	if (rc == 0)
		rc = dkim_msg_sign(dm, now, field, err);
	free(piece);
	content_close(c);
	dkim_msg_free(dm);
	return rc;
}
