/*
 * relayq -- libFuzzer harness for conf.c: conf_load on arbitrary content.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * conf_load reads a path, so the input is written to one file created at
 * start-up (mode 0600, owned by us, so the password-file checks pass and
 * the parser itself is what gets exercised) and rewritten in place for
 * each run.  Besides "does not crash, does not leak", checks what the
 * header promises the callers: an error is EX_CONFIG-like with a one-line
 * message; an accepted configuration has a queue_dir, every account a
 * domain, connections within 1..64, a client certificate and key either
 * both set or neither, a pin in the documented "AA:BB:..." form, and the
 * account lookups return accounts of this configuration.
 *
 * passwordeval is never run: the input is arbitrary and it is a shell
 * command.  conf_password is only called for accounts without it.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char path[128];
static int fd = -1;

static void
cleanup(void)
{
	if (fd >= 0)
		close(fd);
	unlink(path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "%s/fuzz_conf.XXXXXX", tmp);
	/* mkstemp creates the file 0600 with O_EXCL. */
	fd = mkstemp(path);
	if (fd < 0)
		abort();
	atexit(cleanup);
	/* Keep the user's real files and environment out of the runs. */
	setenv("HOME", tmp, 1);
	setenv("XDG_STATE_HOME", tmp, 1);
	unsetenv("RELAYQ_CONFIG");
	return 0;
}

static int
one_line(const char *s)
{
	return s[0] != '\0' && strpbrk(s, "\r\n") == NULL;
}

/* "AA:BB:...:FF", 32 upper-case hex octets. */
static int
good_pin(const char *s)
{
	size_t i;

	if (strlen(s) != 32 * 3 - 1)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i % 3 == 2) {
			if (s[i] != ':')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]) ||
		    islower((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

static int
listed(const struct conf *c, const struct account *a)
{
	size_t i;

	for (i = 0; i < c->naccounts; i++)
		if (c->accounts[i] == a)
			return 1;
	return 0;
}

static void
check_account(const struct conf *c, const struct account *a)
{
	struct rq_err err = { 0 };
	struct account *b;
	char *pw = NULL;
	int port;

	if (a->name == NULL || a->domain == NULL)
		abort();
	if (a->connections < 1 || a->connections > 64)
		abort();
	if ((a->tls_cert_file == NULL) != (a->tls_key_file == NULL))
		abort();
	if (a->tls_fingerprint != NULL && !good_pin(a->tls_fingerprint))
		abort();
	if (a->dsn_return != NULL && strcmp(a->dsn_return, "headers") != 0 &&
	    strcmp(a->dsn_return, "full") != 0)
		abort();
	if (a->timeout < 0 || a->timeout > 86400)
		abort();
	if (a->port < 0 || a->port > 65535)
		abort();
	port = conf_port(a);
	if (port < 1 || port > 65535)
		abort();
	(void)conf_implicit_tls(a);

	/* Every listed account is found again by its own name. */
	b = conf_account(c, a->name);
	if (b == NULL || !listed(c, b))
		abort();
	if (a->from != NULL) {
		b = conf_account_for_from(c, a->from);
		if (b != NULL && !listed(c, b))
			abort();
	}

	if (conf_check_account(a, &err) != 0) {
		if (err.ex != EX_CONFIG || !one_line(err.msg))
			abort();
		if (a->hosts.n != 0)
			abort();
	}
	if (a->passwordeval == NULL) {
		memset(&err, 0, sizeof(err));
		if (conf_password(a, &pw, &err) != 0)
			abort();
		if ((pw == NULL) != (a->password == NULL))
			abort();
		free_secret(pw);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rq_err err = { 0 };
	struct conf *c = NULL;
	struct account *d;
	size_t i;
	int rc;

	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();

	rc = conf_load(path, 1, &c, &err);
	if (rc != 0) {
		if (c != NULL || err.ex != rc || !one_line(err.msg))
			abort();
		return 0;
	}
	if (c == NULL || c->queue_dir == NULL || c->path == NULL)
		abort();
	for (i = 0; i < c->warnings.n; i++)
		if (!one_line(c->warnings.v[i]))
			abort();
	for (i = 0; i < c->naccounts; i++)
		check_account(c, c->accounts[i]);
	d = conf_default_account(c);
	if ((d == NULL) != (c->naccounts == 0) || (d != NULL && !listed(c, d)))
		abort();
	(void)conf_account_for_from(c, "someone@example.org");
	(void)conf_account(c, "default");
	conf_free(c);
	return 0;
}
