/*
 * relayq -- libFuzzer harness for addr.c.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Besides "does not crash", checks the promises the rest of relayq relies
 * on: every address addr_parse_list returns passes addr_check (so has no
 * control character and no leading '-'), parsing is idempotent (the
 * addresses found, written out again as a list, parse to themselves), an
 * error leaves the list untouched and has a one-line message, every
 * address matches itself as a pattern when it holds no wildcard, and
 * qualifying a header's bare names only inserts domains, idempotently.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

static void
check_one(const char *a)
{
	struct rq_err err = { 0 };
	struct buf x = { 0 };
	const char *d;

	if (addr_check(a, 1, "address", &err) != 0)
		abort();
	if (a[0] == '-' || strpbrk(a, "\r\n\t") != NULL)
		abort();
	d = addr_domain(a);
	if (d != NULL && (d <= a || d[-1] != '@'))
		abort();
	if (addr_has_domain(a) != (d != NULL))
		abort();
	if (strpbrk(a, "*?") == NULL && !addr_match(a, a))
		abort();
	/* xtext is printable ASCII without '=' (RFC 3461 section 4). */
	addr_xtext(a, &x);
	for (size_t i = 0; i < x.len; i++)
		if (x.data[i] < 0x21 || x.data[i] > 0x7e || x.data[i] == '=')
			abort();
	buf_free(&x);
}

/*
 * addr_qualify_header only inserts "@DOMAIN" (the output is the input
 * plus n of them), copies what it leaves alone, and is idempotent: a
 * second pass finds nothing bare.
 */
static void
check_qualify(const char *in, size_t size)
{
	static const char dom[] = "q.example";
	struct buf once = { 0 }, twice = { 0 };
	size_t n;

	buf_add(&once, "", 0);
	buf_add(&twice, "", 0);
	n = addr_qualify_header(in, size, dom, &once);
	if (once.len != size + n * (sizeof(dom)))
		abort();
	if (n == 0 && memcmp(once.data, in, size) != 0)
		abort();
	if (addr_qualify_header(once.data, once.len, dom, &twice) != 0)
		abort();
	buf_free(&once);
	buf_free(&twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strlist l = { 0 }, again = { 0 };
	struct rq_err err = { 0 };
	struct buf joined = { 0 };
	char *s, *env;
	size_t i;
	int rc;

	strlist_add(&l, "sentinel@example.org");
	rc = addr_parse_list((const char *)data, size, &l, &err);
	if (rc != 0) {
		if (l.n != 1 || err.ex != EX_DATAERR ||
		    strchr(err.msg, '\n') != NULL || err.msg[0] == '\0')
			abort();
	} else {
		for (i = 1; i < l.n; i++) {
			check_one(l.v[i]);
			if (i > 1)
				buf_addstr(&joined, ", ");
			buf_addstr(&joined, l.v[i]);
		}
		rc = addr_parse_list(joined.data ? joined.data : "",
		    joined.len, &again, &err);
		if (rc != 0 || again.n != l.n - 1)
			abort();
		for (i = 0; i < again.n; i++)
			if (strcmp(again.v[i], l.v[i + 1]) != 0)
				abort();
	}

	/* The raw input as one address, and as an envelope argument. */
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (addr_check(s, 0, "recipient", &err) == 0) {
		if (!addr_has_domain(s))
			abort();
		check_one(s);
	} else if (strchr(err.msg, '\n') != NULL ||
	    strchr(err.msg, '\r') != NULL)
		abort();
	env = addr_envelope(s);
	free(env);
	addr_match(s, "user@example.org");
	addr_match("*@*.ORG", s);
	addr_is_utf8(s);
	addr_local_is_utf8(s);
	free(s);

	check_qualify((const char *)data, size);

	strlist_free(&l);
	strlist_free(&again);
	buf_free(&joined);
	return 0;
}
