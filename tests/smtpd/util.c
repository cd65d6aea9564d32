/*
 * rq-testsmtpd -- allocation, buffers, escapes and logging.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Small on purpose: these duplicate a few of src/util.c's services because
 * the test server must not link the code it is testing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd.h"

int	sd_verbose;
int	sd_session_no;

static void __attribute__((noreturn))
oom(void)
{
	static const char msg[] = "rq-testsmtpd: out of memory\n";

	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

void *
sd_malloc(size_t n)
{
	void *p;

	p = malloc(n ? n : 1);
	if (p == NULL)
		oom();
	return p;
}

void *
sd_realloc(void *p, size_t n)
{
	void *q;

	q = realloc(p, n ? n : 1);
	if (q == NULL)
		oom();
	return q;
}

char *
sd_strdup(const char *s)
{
	return sd_strndup(s, strlen(s));
}

char *
sd_strndup(const char *s, size_t n)
{
	char *p;

	p = sd_malloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void
sbuf_add(struct sbuf *b, const void *p, size_t n)
{
	size_t want;

	if (n > SIZE_MAX / 2 - b->len)
		oom();
	want = b->len + n + 1;
	if (want > b->cap) {
		size_t cap = b->cap ? b->cap : 64;

		while (cap < want)
			cap *= 2;
		b->data = sd_realloc(b->data, cap);
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
sbuf_addstr(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void
sbuf_addf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	char small[512];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		sbuf_add(b, small, (size_t)n);
		return;
	}
	{
		char *big = sd_malloc((size_t)n + 1);

		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		sbuf_add(b, big, (size_t)n);
		free(big);
	}
}

void
sbuf_free(struct sbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int
sd_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
sd_unescape(struct sbuf *out, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];
		int h, l;

		if (c != '\\') {
			sbuf_add(out, &c, 1);
			continue;
		}
		if (++i >= n)
			return -1;
		switch (s[i]) {
		case 'r': c = '\r'; break;
		case 'n': c = '\n'; break;
		case 't': c = '\t'; break;
		case '0': c = '\0'; break;
		case '\\': c = '\\'; break;
		case '"': c = '"'; break;
		case 'x':
			if (n - i < 3)
				return -1;
			h = hexval((unsigned char)s[i + 1]);
			l = hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = (char)(h * 16 + l);
			i += 2;
			break;
		default:
			return -1;
		}
		sbuf_add(out, &c, 1);
	}
	return 0;
}

void
sd_escape(struct sbuf *out, const void *p, size_t n, size_t max)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n && i < max; i++) {
		switch (c[i]) {
		case '\r': sbuf_addstr(out, "\\r"); break;
		case '\n': sbuf_addstr(out, "\\n"); break;
		case '\t': sbuf_addstr(out, "\\t"); break;
		case '\\': sbuf_addstr(out, "\\\\"); break;
		default:
			if (c[i] < 0x20 || c[i] >= 0x7f)
				sbuf_addf(out, "\\x%02x", c[i]);
			else
				sbuf_add(out, &c[i], 1);
		}
	}
	if (n > max)
		sbuf_addf(out, "...(%zu bytes)", n);
}

static void
vlog(const char *fmt, va_list ap)
{
	struct sbuf b = { 0 };
	char small[1024];

	if (sd_session_no > 0)
		sbuf_addf(&b, "rq-testsmtpd[%d]: ", sd_session_no);
	else
		sbuf_addstr(&b, "rq-testsmtpd: ");
	vsnprintf(small, sizeof(small), fmt, ap);
	sbuf_addstr(&b, small);
	sbuf_add(&b, "\n", 1);
	/* One write per line so that concurrent children do not interleave. */
	(void)sd_write_all(STDERR_FILENO, b.data, b.len);
	sbuf_free(&b);
}

void
sd_log(const char *fmt, ...)
{
	va_list ap;

	if (!sd_verbose)
		return;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void
sd_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void
sd_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
	exit(1);
}

double
sd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
sd_sleep(double secs)
{
	struct timespec ts;
	double end = sd_now() + secs;

	while (secs > 0) {
		ts.tv_sec = (time_t)secs;
		ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
		if (nanosleep(&ts, NULL) == 0)
			break;
		secs = end - sd_now();
	}
}
