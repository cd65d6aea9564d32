/*
 * relayq -- unit tests: the exit status table and outcome mapping.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <string.h>

#include "status.h"
#include "tap.h"

static void
test_errno_map(void)
{
	static const struct {
		int		 errnum;
		int		 ex;
		const char	*name;
	} cases[] = {
		{ ENOSPC, EX_TEMPFAIL, "ENOSPC" },
		{ EDQUOT, EX_TEMPFAIL, "EDQUOT" },
		{ EAGAIN, EX_TEMPFAIL, "EAGAIN" },
		{ ENOMEM, EX_TEMPFAIL, "ENOMEM" },
		{ EMFILE, EX_TEMPFAIL, "EMFILE" },
		{ ENFILE, EX_TEMPFAIL, "ENFILE" },
		{ EINTR, EX_TEMPFAIL, "EINTR" },
		{ EIO, EX_IOERR, "EIO" },
		{ EFBIG, EX_IOERR, "EFBIG" },
		{ EACCES, EX_CANTCREAT, "EACCES" },
		{ EPERM, EX_CANTCREAT, "EPERM" },
		{ EROFS, EX_CANTCREAT, "EROFS" },
		{ ENOENT, EX_CANTCREAT, "ENOENT" },
		{ ENOTDIR, EX_CANTCREAT, "ENOTDIR" },
		{ ELOOP, EX_CANTCREAT, "ELOOP" },
		{ EEXIST, EX_CANTCREAT, "EEXIST" },
		{ EBADF, EX_IOERR, "EBADF (anything else)" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(ex_from_errno(cases[i].errnum), cases[i].ex,
		    "ex_from_errno(%s)", cases[i].name);
}

static void
test_names(void)
{
	static const struct {
		int		 ex;
		const char	*name;
	} cases[] = {
		{ EX_OK, "EX_OK" }, { EX_USAGE, "EX_USAGE" },
		{ EX_DATAERR, "EX_DATAERR" }, { EX_NOINPUT, "EX_NOINPUT" },
		{ EX_NOUSER, "EX_NOUSER" }, { EX_CANTCREAT, "EX_CANTCREAT" },
		{ EX_IOERR, "EX_IOERR" }, { EX_TEMPFAIL, "EX_TEMPFAIL" },
		{ EX_CONFIG, "EX_CONFIG" }, { EX_UNAVAILABLE, "EX_UNAVAILABLE" },
		{ 12345, "EX_UNKNOWN" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		is_str(ex_name(cases[i].ex), cases[i].name, "ex_name(%d)",
		    cases[i].ex);
		ok(ex_meaning(cases[i].ex) != NULL &&
		    *ex_meaning(cases[i].ex) != '\0', "ex_meaning(%d) says "
		    "something", cases[i].ex);
	}
	is_int(EX_USAGE, 64, "usage is 64");
	is_int(EX_DATAERR, 65, "bad message is 65");
	is_int(EX_NOINPUT, 66, "unreadable input is 66");
	is_int(EX_NOUSER, 67, "unknown local user is 67");
	is_int(EX_CANTCREAT, 73, "cannot create is 73");
	is_int(EX_IOERR, 74, "I/O error is 74");
	is_int(EX_TEMPFAIL, 75, "temporary failure is 75");
	is_int(EX_CONFIG, 78, "configuration error is 78");
}

static void
test_outcomes(void)
{
	static const struct {
		int		code;
		enum outcome	out;
	} cases[] = {
		{ 250, OUT_OK }, { 251, OUT_OK }, { 235, OUT_OK },
		{ 354, OUT_TEMP }, { 421, OUT_TEMP }, { 450, OUT_TEMP },
		{ 451, OUT_TEMP }, { 452, OUT_TEMP }, { 454, OUT_TEMP },
		{ 500, OUT_PERM }, { 535, OUT_PERM }, { 550, OUT_PERM },
		{ 552, OUT_PERM }, { 554, OUT_PERM }, { 0, OUT_TEMP },
		{ 199, OUT_TEMP }, { 600, OUT_TEMP }, { -1, OUT_TEMP },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(outcome_from_reply(cases[i].code), cases[i].out,
		    "reply %d is %s", cases[i].code,
		    outcome_name(cases[i].out));
}

static void
test_flush_exit(void)
{
	static const struct {
		unsigned	delivered, deferred, failed;
		int		ex;
	} cases[] = {
		{ 0, 0, 0, EX_OK },		/* nothing due */
		{ 5, 0, 0, EX_OK },
		{ 5, 1, 0, EX_TEMPFAIL },
		{ 0, 1, 1, EX_TEMPFAIL },	/* deferred wins: retry pending */
		{ 5, 0, 1, EX_UNAVAILABLE },
		{ 0, 0, 3, EX_UNAVAILABLE },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(ex_for_flush(cases[i].delivered, cases[i].deferred,
		    cases[i].failed), cases[i].ex,
		    "flush exit for %u sent, %u deferred, %u failed",
		    cases[i].delivered, cases[i].deferred, cases[i].failed);
}

static void
test_errf(void)
{
	struct rq_err err = { 0 };
	char long_text[3000];

	is_int(rq_errf(&err, EX_DATAERR, "bad %s", "thing"), EX_DATAERR,
	    "rq_errf returns its code");
	is_str(err.msg, "bad thing", "rq_errf formats the message");
	rq_errf(&err, EX_DATAERR, "line\r\nbreak");
	ok(strchr(err.msg, '\n') == NULL && strchr(err.msg, '\r') == NULL,
	    "a message stays on one line");
	rq_errno(&err, EX_IOERR, ENOSPC, "cannot write");
	is_str(err.msg, "cannot write: No space left on device",
	    "rq_errno appends strerror");
	rq_errctx(&err, "queue %s", "/q");
	is_str(err.msg, "queue /q: cannot write: No space left on device",
	    "rq_errctx prefixes context");
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	rq_errf(&err, EX_USAGE, "%s", long_text);
	is_int((long long)strlen(err.msg), RQ_ERR_MSG - 1,
	    "an over-long message is cut at the buffer");
	rq_errclear(&err);
	is_int(err.ex, EX_OK, "rq_errclear resets the code");
}

int
main(void)
{
	test_errno_map();
	test_names();
	test_outcomes();
	test_flush_exit();
	test_errf();
	return done_testing();
}
