/*
 * relayq -- allocation, growable buffers, string lists and small helpers.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* The few failures nothing can recover from; write(2) needs no memory. */
static void __attribute__((noreturn))
fatal(const char *msg)
{
	(void)!write(STDERR_FILENO, msg, strlen(msg));
	_exit(EX_OSERR);
}

static void __attribute__((noreturn))
oom(void)
{
	fatal("relayq: out of memory\n");
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		oom();
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		oom();
	return xrealloc(p, n * size);
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	struct buf b = { 0 };
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return buf_steal(&b);
}

void
wipe(void *p, size_t n)
{
	if (p != NULL)
		explicit_bzero(p, n);
}

void
free_secret(char *s)
{
	if (s == NULL)
		return;
	wipe(s, strlen(s));
	free(s);
}

void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_grow(struct buf *b, size_t more)
{
	size_t need, cap;

	if (more > SIZE_MAX - b->len - 1)
		oom();
	need = b->len + more + 1;
	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_addstr(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_addch(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

void
buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	size_t room;
	int n;

	/* Format in place; only an output longer than the room left is
	 * formatted twice. */
	buf_grow(b, 64);
	room = b->cap - b->len;
	va_copy(ap2, ap);
	n = vsnprintf(b->data + b->len, room, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		b->data[b->len] = '\0';
		return;
	}
	if ((size_t)n >= room) {
		buf_grow(b, (size_t)n);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	}
	b->len += (size_t)n;
}

void
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void
buf_wipe(struct buf *b)
{
	wipe(b->data, b->cap);
	buf_free(b);
}

char *
buf_steal(struct buf *b)
{
	char *s;

	if (b->data == NULL)
		return xstrdup("");
	s = b->data;
	buf_init(b);
	return s;
}

void
strlist_add(struct strlist *l, const char *s)
{
	strlist_take(l, xstrdup(s));
}

void
strlist_take(struct strlist *l, char *s)
{
	if (l->n + 1 >= l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = s;
	l->v[l->n] = NULL;
}

int
strlist_contains(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

void
strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

int
write_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t
read_full(int fd, void *p, size_t n)
{
	char *s = p;
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, s + got, n - got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

size_t
rq_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

int
rq_tolower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

int
rq_iscntrl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

int
rq_hexval(int c)
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
rq_has_8bit(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

int
rq_strncasecmp(const char *a, const char *b, size_t n)
{
	for (; n > 0; a++, b++, n--) {
		int ca = rq_tolower((unsigned char)*a);
		int cb = rq_tolower((unsigned char)*b);

		if (ca != cb)
			return ca - cb;
		if (ca == '\0')
			return 0;
	}
	return 0;
}

int
rq_strcasecmp(const char *a, const char *b)
{
	return rq_strncasecmp(a, b, SIZE_MAX);
}

int
parse_uint(const char *s, long long min, long long max, long long *out)
{
	long long v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (LLONG_MAX - (*s - '0')) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
parse_duration(const char *s, long long *secs)
{
	static const struct {
		char		unit;
		long long	mult;
	} units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
		{ 'w', 604800 },
	};
	char num[32];
	size_t len;
	long long v, mult = 1;

	if (s == NULL || (len = strlen(s)) == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, s, len + 1);
	for (size_t i = 0; i < RQ_ARRAY_LEN(units); i++) {
		if (num[len - 1] == units[i].unit) {
			mult = units[i].mult;
			num[--len] = '\0';
			break;
		}
	}
	if (parse_uint(num, 0, LLONG_MAX, &v) != 0 || v > LLONG_MAX / mult)
		return -1;
	*secs = v * mult;
	return 0;
}

int
parse_onoff(const char *s, int *out)
{
	static const char *on[] = { "on", "yes", "true", "1" };
	static const char *off[] = { "off", "no", "false", "0" };

	for (size_t i = 0; i < RQ_ARRAY_LEN(on); i++) {
		if (rq_strcasecmp(s, on[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (rq_strcasecmp(s, off[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

void
rfc5322_date(char *dst, size_t size, time_t t)
{
	static const char *days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri",
	    "Sat" };
	static const char *months[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	long off;

	/* Built by hand: strftime's %a/%b follow the locale. */
	localtime_r(&t, &tm);
	off = tm.tm_gmtoff / 60;
	snprintf(dst, size, "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
	    labs(off) / 60, labs(off) % 60);
}

void
rfc3339_date(char *dst, size_t size, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(dst, size, "%04d-%02d-%02dT%02d:%02d:%02dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

void
fmt_span(char *dst, size_t size, long long secs)
{
	if (secs < 0)
		secs = 0;
	if (secs < 60)
		snprintf(dst, size, "%llds", secs);
	else if (secs < 3600)
		snprintf(dst, size, "%lldm", secs / 60);
	else if (secs < 86400)
		snprintf(dst, size, "%lldh", secs / 3600);
	else
		snprintf(dst, size, "%lldd", secs / 86400);
}

void
random_bytes(void *p, size_t n)
{
	char *s = p;

	while (n > 0) {
		ssize_t r = getrandom(s, n, 0);

		if (r < 0) {
			int fd;

			if (errno == EINTR)
				continue;
			fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
			if (fd < 0 || read_full(fd, s, n) != (ssize_t)n)
				fatal("relayq: no randomness: getrandom(2) "
				    "and /dev/urandom both failed\n");
			close(fd);
			return;
		}
		s += r;
		n -= (size_t)r;
	}
}

time_t
rq_now(void)
{
	const char *fake = getenv("RELAYQ_FAKE_NOW");
	long long v;

	if (fake != NULL && parse_uint(fake, 0, LLONG_MAX, &v) == 0)
		return (time_t)v;
	return time(NULL);
}
