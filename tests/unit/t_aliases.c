/*
 * relayq -- unit tests for aliases.c, with fixture files written to a
 * fresh temporary directory.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aliases.h"
#include "tap.h"

static char tmpdir[] = "/tmp/t_aliases.XXXXXX";
static struct strlist made;

/* Write a fixture; returns its path (kept in made, removed at the end). */
static const char *
fixture(const char *name, const char *text, size_t len)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fwrite(text, 1, len, fp) != len || fclose(fp) != 0) {
		diag("cannot write %s", path);
		exit(1);
	}
	strlist_take(&made, path);
	return path;
}

/* Split "a|b|c" into a list; "" is the empty list. */
static void
split(const char *s, struct strlist *out)
{
	const char *bar;

	while (*s != '\0') {
		bar = strchr(s, '|');
		if (bar == NULL) {
			strlist_add(out, s);
			break;
		}
		strlist_take(out, xstrndup(s, (size_t)(bar - s)));
		s = bar + 1;
	}
}

struct exp_case {
	const char *in;		/* '|'-separated recipients */
	const char *want;	/* '|'-separated result, or NULL: an error */
	const char *err;	/* substring of the message */
};

static void
run_cases(const struct aliases *a, const char *label,
    const struct exp_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct exp_case *c = &cases[i];
		struct strlist l = { 0 };
		struct rq_err err = { 0 };
		char *got;
		int rc;

		split(c->in, &l);
		rc = aliases_expand(a, &l, &err);
		got = joined(&l);
		if (c->want != NULL) {
			if (!is_int(rc, 0, "%s: expand %s", label, c->in))
				diag("error: %s", err.msg);
			is_str(got, c->want, "%s: %s expands right", label,
			    c->in);
		} else {
			is_int(rc, EX_CONFIG, "%s: expand %s fails", label,
			    c->in);
			if (!ok(strstr(err.msg, c->err) != NULL,
			    "%s: message says \"%s\"", label, c->err))
				diag("message: %s", err.msg);
			is_str(got, c->in, "%s: list unchanged on error",
			    label);
		}
		free(got);
		strlist_free(&l);
	}
}

static const char main_file[] =
    "# The system aliases, with the features of aliases(5).\n"
    "\n"
    "root: admin\n"
    "admin: alice@example.org,\n"
    "\tbob@example.org\n"
    "Postmaster: root\n"
    "ops: admin, carol@example.org, \"Dave D\" <dave@example.org>\n"
    "self: self, self@example.org\n"
    "team: ops,\n"
    "  # a comment inside a continued entry\n"
    "\n"
    "  eve@example.org   \n"
    "pipe: |/usr/bin/procmail\n"
    "qpipe: \"|/usr/bin/logger -t mail, or so\"\n"
    "file: /var/mail/archive\n"
    "inc: :include:/etc/mail/list\n"
    "usespipe: admin, pipe\n"
    "loop1: loop2\n"
    "loop2: loop3\n"
    "loop3: LOOP1\n"
    "d1: d2\nd2: d3\nd3: d4\nd4: d5\nd5: d6\nd6: d7\nd7: d8\nd8: d9\n"
    "d9: d10\nd10: d11\nd11: d12\nd12: d13\nd13: d14\nd14: d15\n"
    "d15: d16\nd16: d17\nd17: deep@example.org\n"
    "dup: alice@example.org, alice@EXAMPLE.ORG, admin\n"
    "Root: ignored@example.org\n"
    "crlf: crlf@example.org\r\n"
    "spaced :  spaced@example.org , (comment) other@example.org\n"
    "unknown: nosuchname\n"
    "keep: \\root, \\admin@example.org, keep2@example.org\n";

static const struct exp_case main_cases[] = {
	{ "root", "alice@example.org|bob@example.org", NULL },
	{ "ROOT", "alice@example.org|bob@example.org", NULL },
	{ "postmaster", "alice@example.org|bob@example.org", NULL },
	{ "ops", "alice@example.org|bob@example.org|carol@example.org|"
	    "dave@example.org", NULL },
	{ "team", "alice@example.org|bob@example.org|carol@example.org|"
	    "dave@example.org|eve@example.org", NULL },
	{ "self", "self|self@example.org", NULL },
	{ "x@y.org|root|alice@example.org",
	    "x@y.org|alice@example.org|bob@example.org", NULL },
	{ "root|admin|postmaster", "alice@example.org|bob@example.org", NULL },
	{ "nobody", "nobody", NULL },
	{ "nobody|root", "nobody|alice@example.org|bob@example.org", NULL },
	{ "unknown", "nosuchname", NULL },
	{ "root@example.org", "root@example.org", NULL },
	{ "a@x.org|A@X.ORG|a@X.org", "a@x.org|A@X.ORG", NULL },
	{ "d2", "deep@example.org", NULL },
	{ "dup", "alice@example.org|bob@example.org", NULL },
	{ "crlf", "crlf@example.org", NULL },
	{ "spaced", "spaced@example.org|other@example.org", NULL },
	{ "", "", NULL },
	{ "keep", "root|admin@example.org|keep2@example.org", NULL },
	{ "pipe", NULL, "a pipe to a command" },
	{ "pipe", NULL, "\"|/usr/bin/procmail\"" },
	{ "qpipe", NULL, "logger -t mail, or so" },
	{ "file", NULL, "a file" },
	{ "inc", NULL, "an :include: file" },
	{ "usespipe", NULL, "alias \"pipe\"" },
	{ "root|x@y.org|usespipe", NULL, "pipe to a command" },
	{ "loop1", NULL, "alias loop: loop1 -> loop2 -> loop3 -> LOOP1" },
	{ "loop2", NULL, "alias loop" },
	{ "d1", NULL, "nested more than 16 deep" },
};

static const struct exp_case default_cases[] = {
	{ "nobody", "catchall@example.org", NULL },
	{ "root", "catchall@example.org", NULL },
	{ "listed", "listed@example.org", NULL },
	{ "a|b|listed", "catchall@example.org|listed@example.org", NULL },
	{ "x@y.org", "x@y.org", NULL },
};

static const struct exp_case default_bare_cases[] = {
	/* default: admin, and no "admin" entry: admin stays bare. */
	{ "nobody", "admin", NULL },
	{ "admin", "admin", NULL },
	{ "nobody|other", "admin", NULL },
	{ "boss", "boss@example.org", NULL },
};

static const struct exp_case default_chain_cases[] = {
	{ "nobody", "boss@example.org", NULL },
	{ "admin", "boss@example.org", NULL },
};

struct load_case {
	const char *text;
	int ex;
	const char *err;
};

static const struct load_case load_cases[] = {
	{ "noseparator here\n", EX_CONFIG, ":1: missing ':'" },
	{ "  cont: x@y.org\n", EX_CONFIG, ":1: continuation line without" },
	{ "a: b@c.org\nbad: \"unterminated\n", EX_CONFIG, ":2: alias \"bad\"" },
	{ "a: b@c.org\n\n# c\nempty:\n", EX_CONFIG, ":4: alias \"empty\" has "
	    "no targets" },
	{ "a: b@c.org\nb: -x@y.org\n", EX_CONFIG, ":2: alias \"b\": address "
	    "\"-x@y.org\": address starts with '-'" },
	{ "a b: c@d.org\n", EX_CONFIG, ":1: bad alias name" },
	{ ": c@d.org\n", EX_CONFIG, ":1: empty alias name" },
	{ "a: b@c.org,\n  x@y..org\n", EX_CONFIG, ":1: alias \"a\"" },
	{ "a: <b@c.org\n", EX_CONFIG, "unbalanced angle" },
	{ "a: \\-x\n", EX_CONFIG, ":1: alias \"a\": address \"-x\": address "
	    "starts with '-'" },
	{ "", 0, NULL },
	{ "# only comments\n\n   \n", 0, NULL },
	{ "a: b@c.org", 0, NULL },
};

static void
test_load(void)
{
	struct aliases *a = NULL;
	struct rq_err err;
	const char *path;
	size_t i;
	char name[32];
	int rc;

	for (i = 0; i < RQ_ARRAY_LEN(load_cases); i++) {
		const struct load_case *c = &load_cases[i];

		snprintf(name, sizeof(name), "load%zu", i);
		path = fixture(name, c->text, strlen(c->text));
		rq_errclear(&err);
		rc = aliases_load(path, &a, &err);
		is_int(rc, c->ex, "load case %zu", i);
		if (c->err != NULL) {
			if (!ok(strstr(err.msg, c->err) != NULL &&
			    strncmp(err.msg, path, strlen(path)) == 0,
			    "load case %zu names FILE:LINE and \"%s\"", i,
			    c->err))
				diag("message: %s", err.msg);
			ok(a == NULL, "nothing returned on error");
		}
		aliases_free(a);
		a = NULL;
	}

	path = fixture("nul", "a: b@c.org\nx\0y: z@c.org\n", 24);
	is_int(aliases_load(path, &a, &err), EX_CONFIG, "NUL byte refused");
	ok(strstr(err.msg, ":2: NUL") != NULL, "%s", err.msg);

	rc = aliases_load("/nonexistent/aliases", &a, &err);
	is_int(rc, EX_NOINPUT, "missing file is EX_NOINPUT");
	ok(strstr(err.msg, "/nonexistent/aliases") != NULL &&
	    strstr(err.msg, "No such file") != NULL, "%s", err.msg);
}

static void
load_and_run(const char *name, const char *text, const char *label,
    const struct exp_case *cases, size_t n)
{
	struct aliases *a = NULL;
	struct rq_err err;
	const char *path = fixture(name, text, strlen(text));

	if (!is_int(aliases_load(path, &a, &err), 0, "load %s", label))
		diag("error: %s", err.msg);
	run_cases(a, label, cases, n);
	aliases_free(a);
}

static void
test_no_file(void)
{
	static const struct exp_case cases[] = {
		{ "root", "root", NULL },
		{ "root|a@b.org|root|a@B.ORG", "root|a@b.org", NULL },
	};

	struct strlist l = { 0 };
	struct rq_err err;
	int i, bad = 0;

	run_cases(NULL, "no aliases file", cases, RQ_ARRAY_LEN(cases));

	/* Many recipients, each twice (the second time in upper case). */
	for (i = 0; i < 3000; i++)
		strlist_take(&l, xasprintf("u%d@example.org", i));
	for (i = 0; i < 3000; i++)
		strlist_take(&l, xasprintf("u%d@EXAMPLE.ORG", i));
	strlist_add(&l, "U1@example.org");
	is_int(aliases_expand(NULL, &l, &err), 0, "6001 recipients");
	is_int(l.n, 3001, "duplicates removed, order kept");
	for (i = 0; i < 3000 && (size_t)i < l.n; i++) {
		char want[32];

		snprintf(want, sizeof(want), "u%d@example.org", i);
		if (strcmp(l.v[i], want) != 0)
			bad++;
	}
	is_int(bad, 0, "first spelling kept in input order");
	ok(l.n == 3001 && strcmp(l.v[3000], "U1@example.org") == 0,
	    "a different local part is a different address");
	strlist_free(&l);
}

int
main(void)
{
	size_t i;

	if (mkdtemp(tmpdir) == NULL) {
		diag("mkdtemp failed");
		return 1;
	}
	load_and_run("main", main_file, "aliases", main_cases,
	    RQ_ARRAY_LEN(main_cases));
	load_and_run("default", "# catch-all\ndefault: catchall@example.org\n"
	    "listed: listed@example.org\n", "default", default_cases,
	    RQ_ARRAY_LEN(default_cases));
	load_and_run("default-bare", "DEFAULT: admin\nboss: "
	    "boss@example.org\n", "default to a bare name", default_bare_cases,
	    RQ_ARRAY_LEN(default_bare_cases));
	load_and_run("default-chain", "default: admin\nadmin: boss\n"
	    "boss: boss@example.org\n", "default through entries",
	    default_chain_cases, RQ_ARRAY_LEN(default_chain_cases));
	test_load();
	test_no_file();

	for (i = 0; i < made.n; i++)
		unlink(made.v[i]);
	strlist_free(&made);
	rmdir(tmpdir);
	return done_testing();
}
