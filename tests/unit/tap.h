/*
 * relayq -- a tiny TAP producer for the C unit tests.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Tests are tables of cases; each case is one ok()/is_str()/is_int().
 * done_testing() prints the plan and returns the exit status for main().
 */
#ifndef RELAYQ_TAP_H
#define RELAYQ_TAP_H

#include <stddef.h>
#include <sys/types.h>

int	ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int	is_int(long long got, long long want, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int	is_str(const char *got, const char *want, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Byte-exact comparison; prints both sides escaped on failure. */
int	is_mem(const void *got, size_t gotlen, const void *want, size_t wantlen,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* No CR without LF after it and no LF without CR before it (canonical text). */
int	crlf_canonical(const char *p, size_t n);
/* The longest line of p, CR and LF not counted. */
size_t	longest_line(const char *p, size_t n);
struct strlist;
/* The list's strings joined with '|' ("" for none), for compact tables. */
char   *joined(const struct strlist *l);
/* Remove dir and everything below it (a test's scratch directory). */
void	rm_tree(const char *dir);
/* A listening TCP socket on 127.0.0.1, port chosen by the kernel and
 * returned through *port; exits the test on failure. */
int	listen_loopback(int *port);
/* End a forked test server: SIGTERM, then wait for it. */
void	stop_child(pid_t pid);
void	diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int	done_testing(void);

#endif
