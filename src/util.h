/*
 * relayq -- allocation, growable buffers, string lists and small helpers.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Allocation failure is the one error that exits from inside a module: the
 * x*() functions print "out of memory" and exit with EX_OSERR (71).  A
 * process that cannot allocate a few bytes cannot report anything useful.
 */
#ifndef RELAYQ_UTIL_H
#define RELAYQ_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define RQ_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

/* Overwrite n bytes at p in a way the compiler cannot drop. */
void	 wipe(void *p, size_t n);
/* wipe() a NUL-terminated string, then free it; NULL is fine. */
void	 free_secret(char *);

/*
 * A growable byte buffer.  data is always NUL-terminated (the NUL is not
 * counted in len), so buf.data can be used as a C string when the content
 * has no NUL of its own.  A zeroed struct buf is a valid empty buffer.
 */
struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

void	 buf_init(struct buf *);
/* Room for more octets (and the NUL) after len; writing there is the caller's. */
void	 buf_grow(struct buf *, size_t more);
void	 buf_add(struct buf *, const void *, size_t);
void	 buf_addstr(struct buf *, const char *);
void	 buf_addch(struct buf *, char);
void	 buf_addf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_vaddf(struct buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
void	 buf_reset(struct buf *);		/* len = 0, keeps memory */
void	 buf_free(struct buf *);
void	 buf_wipe(struct buf *);		/* wipe contents, then free */
/* Hands the string to the caller (who frees it); the buffer is left empty. */
char	*buf_steal(struct buf *);

/* A growable array of owned strings.  A zeroed struct is a valid empty list. */
struct strlist {
	char	**v;
	size_t	  n;
	size_t	  cap;
};

void	 strlist_add(struct strlist *, const char *);	/* copies */
void	 strlist_take(struct strlist *, char *);	/* takes ownership */
int	 strlist_contains(const struct strlist *, const char *);
void	 strlist_free(struct strlist *);

/*
 * Write all n bytes, retrying on EINTR and short writes.
 * Returns 0, or -1 with errno set.
 */
int	 write_all(int fd, const void *, size_t n);
/* Read until n bytes or EOF; returns bytes read or -1 with errno set. */
ssize_t	 read_full(int fd, void *, size_t n);

/* Bounded copy that always terminates dst (when size > 0); returns strlen(src). */
size_t	 rq_strlcpy(char *dst, const char *src, size_t size);

/* ASCII-only, locale-independent helpers. */
int	 rq_strcasecmp(const char *, const char *);
int	 rq_strncasecmp(const char *, const char *, size_t);
int	 rq_tolower(int);
/* An ASCII control character (below 0x20, or DEL)? */
int	 rq_iscntrl(unsigned char);
/* The value of a hex digit (either case), or -1. */
int	 rq_hexval(int c);
/* Does p hold an octet >= 0x80? */
int	 rq_has_8bit(const char *p, size_t n);

/*
 * "30", "30s", "5m", "1h", "5d", "1w" -> seconds.  Returns 0, or -1 for
 * anything else (empty, negative, trailing junk, overflow).
 */
int	 parse_duration(const char *, long long *secs);
/* Non-negative decimal integer in [min, max]; returns 0 or -1. */
int	 parse_uint(const char *, long long min, long long max, long long *out);
/* "on"/"off" (msmtp's words; also yes/no, true/false, 1/0); returns 0 or -1. */
int	 parse_onoff(const char *, int *out);

/* RFC 5322 date of t in local time, e.g. "Sat, 28 Nov 2026 17:53:36 +0000". */
void	 rfc5322_date(char *dst, size_t size, time_t t);
/* RFC 3339 UTC, e.g. "2026-11-28T17:53:36Z". */
void	 rfc3339_date(char *dst, size_t size, time_t t);
/* "45s", "12m", "3h", "5d": a duration, roughly (negative: "0s"). */
void	 fmt_span(char *dst, size_t size, long long secs);

/* Fill n bytes from getrandom(2) (falls back to /dev/urandom). */
void	 random_bytes(void *, size_t n);

/* Current time; honours RELAYQ_FAKE_NOW (seconds since the epoch) for tests. */
time_t	 rq_now(void);

#endif
