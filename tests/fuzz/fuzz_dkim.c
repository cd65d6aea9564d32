/*
 * relayq -- libFuzzer harness for DKIM (dkim.c): the header section and
 * body of a message as the flush signs it, the body hash, and the
 * configuration values.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The first input byte picks what the rest is:
 *	0: a message, fed to dkim_msg in pieces whose sizes come from the
 *	   second byte, then signed (relaxed/relaxed, Ed25519: RFC 8463's
 *	   key, written to a private file at start);
 *	1: the same with simple/simple;
 *	2: a "recorded" body hash up to the first LF, then a message;
 *	3: a dkim_headers, dkim_canon and selector value.
 * Beyond "no crash, no leak": the body hash does not depend on how the
 * input is cut; a signature field is one header field (CRLF only at its
 * line ends, every continuation line folded, ending in CRLF, b= last), or
 * there is none only when the message carries a signature for our d=.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dkim.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct dkim_signer *relaxed, *simple;

static const char key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct dkim_signer_params p;
	struct rq_err err;
	char path[] = "/tmp/fuzz_dkim.XXXXXX";
	int fd;

	(void)argc;
	(void)argv;
	fd = mkstemp(path);
	if (fd < 0 || write(fd, key, sizeof(key) - 1) !=
	    (ssize_t)(sizeof(key) - 1))
		abort();
	close(fd);
	memset(&p, 0, sizeof(p));
	p.domain = "example.org";
	p.selector = "fz";
	p.key_file = path;
	p.expire = 3600;
	if (dkim_signer_new(&p, &relaxed, &err) != 0)
		abort();
	p.hcanon = p.bcanon = DKIM_CANON_SIMPLE;
	p.headers = "+from:to:subject:+date:x-a:x-b";
	if (dkim_signer_new(&p, &simple, &err) != 0)
		abort();
	unlink(path);
	return 0;
}

/* One header field: every CR is followed by LF and that by WSP, but the last. */
static void
check_field(const char *f)
{
	size_t n = strlen(f), i;

	if (n < 2 || strncmp(f, "DKIM-Signature:", 15) != 0 ||
	    f[n - 2] != '\r' || f[n - 1] != '\n')
		abort();
	for (i = 0; i + 2 < n; i++) {
		if (f[i] == '\r' && (f[i + 1] != '\n' ||
		    (f[i + 2] != '\t' && f[i + 2] != ' ')))
			abort();
		if (f[i] == '\n' && (i == 0 || f[i - 1] != '\r'))
			abort();
	}
	if (strstr(f, "; b=") == NULL && strstr(f, ";\r\n\tb=") == NULL)
		abort();
}

static void
body_hash_cuts(const uint8_t *d, size_t n, size_t piece)
{
	char one[DKIM_BH_MAX], cut[DKIM_BH_MAX];
	struct dkim_bh *h;
	size_t i, k;

	h = dkim_bh_new(DKIM_CANON_RELAXED, 1);
	dkim_bh_feed(h, d, n);
	dkim_bh_end(h, one);
	h = dkim_bh_new(DKIM_CANON_RELAXED, 1);
	for (i = 0; i < n; i += k) {
		k = n - i < piece ? n - i : piece;
		dkim_bh_feed(h, d + i, k);
	}
	dkim_bh_end(h, cut);
	if (strcmp(one, cut) != 0 || !dkim_bh_valid(one))
		abort();
}

static void
sign(const struct dkim_signer *s, const char *known, const uint8_t *d,
    size_t n, size_t piece)
{
	struct dkim_msg *m = dkim_msg_new(s, known);
	struct rq_err err;
	char *field = NULL;
	size_t i, k;
	int r = 0;

	for (i = 0; i < n && r == 0; i += k) {
		k = n - i < piece ? n - i : piece;
		r = dkim_msg_feed(m, d + i, k, &err);
	}
	if (r == 0 || r == 1) {
		if (dkim_msg_sign(m, 1700000000, &field, &err) == 0 &&
		    field != NULL)
			check_field(field);
	} else if (r != EX_DATAERR) {
		abort();
	}
	free(field);
	dkim_msg_free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum dkim_canon h, b;
	const uint8_t *nl;
	const char *why;
	char *s, known[DKIM_BH_MAX];
	size_t piece;

	if (size < 2)
		return 0;
	piece = data[1] % 17 + 1;
	switch (data[0] % 4) {
	case 0:
		body_hash_cuts(data + 2, size - 2, piece);
		sign(relaxed, NULL, data + 2, size - 2, piece);
		break;
	case 1:
		sign(simple, NULL, data + 2, size - 2, piece);
		break;
	case 2:
		nl = memchr(data + 1, '\n', size - 1);
		if (nl == NULL || (size_t)(nl - (data + 1)) >= DKIM_BH_MAX)
			return 0;
		memcpy(known, data + 1, (size_t)(nl - (data + 1)));
		known[nl - (data + 1)] = '\0';
		sign(relaxed, known, nl + 1, size - (size_t)(nl + 1 - data), 64);
		break;
	case 3:
		s = malloc(size);
		memcpy(s, data + 1, size - 1);
		s[size - 1] = '\0';
		(void)dkim_check_headers(s, &why);
		(void)dkim_parse_canon(s, &h, &b);
		(void)dkim_check_selector(s);
		(void)dkim_bh_valid(s);
		free(s);
		break;
	}
	return 0;
}
