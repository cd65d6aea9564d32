/*
 * relayq -- a tiny TAP producer for the C unit tests.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "tap.h"
#include "util.h"

static int ntests, nfailed;

static int
report(int cond, const char *fmt, va_list ap)
{
	ntests++;
	if (!cond)
		nfailed++;
	printf("%sok %d - ", cond ? "" : "not ", ntests);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	return cond;
}

int
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(cond, fmt, ap);
	va_end(ap);
	return cond;
}

int
is_int(long long got, long long want, const char *fmt, ...)
{
	va_list ap;
	int cond = got == want;

	va_start(ap, fmt);
	report(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		printf("#   got: %lld\n#  want: %lld\n", got, want);
	return cond;
}

int
is_str(const char *got, const char *want, const char *fmt, ...)
{
	va_list ap;
	int cond;

	if (got == NULL || want == NULL)
		cond = got == want;
	else
		cond = strcmp(got, want) == 0;
	va_start(ap, fmt);
	report(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		printf("#   got: '%s'\n#  want: '%s'\n", got ? got : "(null)",
		    want ? want : "(null)");
	return cond;
}

static void
escaped(const char *label, const unsigned char *p, size_t n)
{
	printf("# %s (%zu): '", label, n);
	for (size_t i = 0; i < n && i < 400; i++) {
		if (p[i] == '\r')
			fputs("\\r", stdout);
		else if (p[i] == '\n')
			fputs("\\n", stdout);
		else if (p[i] < 0x20 || p[i] >= 0x7f)
			printf("\\x%02x", p[i]);
		else
			putchar(p[i]);
	}
	puts(n > 400 ? "'..." : "'");
}

int
is_mem(const void *got, size_t gotlen, const void *want, size_t wantlen,
    const char *fmt, ...)
{
	va_list ap;
	int cond = gotlen == wantlen &&
	    (gotlen == 0 || memcmp(got, want, gotlen) == 0);

	va_start(ap, fmt);
	report(cond, fmt, ap);
	va_end(ap);
	if (!cond) {
		escaped("got", got, gotlen);
		escaped("want", want, wantlen);
	}
	return cond;
}

size_t
longest_line(const char *p, size_t n)
{
	size_t i, len = 0, max = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r' || p[i] == '\n') {
			len = 0;
			continue;
		}
		if (++len > max)
			max = len;
	}
	return max;
}

int
crlf_canonical(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r' && (i + 1 == n || p[i + 1] != '\n'))
			return 0;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return 0;
	}
	return 1;
}

char *
joined(const struct strlist *l)
{
	struct buf b = { 0 };
	size_t i;

	buf_addstr(&b, "");
	for (i = 0; i < l->n; i++) {
		if (i > 0)
			buf_addch(&b, '|');
		buf_addstr(&b, l->v[i]);
	}
	return buf_steal(&b);
}

int
listen_loopback(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 8) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		perror("listen");
		exit(1);
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0)
		diag("could not remove %s", path);
	return 0;
}

void
rm_tree(const char *dir)
{
	/* Depth first, and symbolic links removed, not followed. */
	(void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void
stop_child(pid_t pid)
{
	int st;

	(void)kill(pid, SIGTERM);
	(void)waitpid(pid, &st, 0);
}

void
diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

int
done_testing(void)
{
	printf("1..%d\n", ntests);
	return nfailed == 0 ? 0 : 1;
}
