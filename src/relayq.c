/*
 * relayq -- the sendmail-compatible submit command (also sendmail, mailq,
 * newaliases by argv[0]).
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * This face only ever writes the local queue: it never opens a network
 * connection and never resolves a name, so a broken resolver or a dead
 * smart host cannot make cron or a web application wait.  Delivery is
 * relayq-flush's job; this program starts it (detached) after queueing.
 */
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <popt.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "aliases.h"
#include "conf.h"
#include "metrics.h"
#include "msg.h"
#include "queue.h"
#include "report.h"
#include "status.h"
#include "util.h"

#ifndef SBINDIR
#define SBINDIR "/usr/local/sbin"
#endif

static const char *progname = "relayq";

enum mode {
	MODE_SUBMIT,		/* -bm */
	MODE_LIST,		/* -bp, mailq */
	MODE_SMTP,		/* -bs */
	MODE_ALIASES,		/* -bi, newaliases */
	MODE_VERSION,		/* --version */
	MODE_VERIFY,		/* -bv */
	MODE_FLUSH,		/* -q */
	MODE_ADMIN,		/* --show, --delete, ... */
	MODE_REPORT,		/* --report */
	MODE_METRICS,		/* --metrics */
};

enum delivery {
	DELIVER_BACKGROUND,	/* -odb (default): queue, detached flush */
	DELIVER_QUEUE,		/* -odq: queue only */
	DELIVER_INTERACTIVE,	/* -odi: queue, then try it now */
};

struct options {
	enum mode	 mode;
	enum delivery	 delivery;
	int		 extract;	/* -t */
	int		 ignore_dots;	/* -i, -oi */
	int		 verbose;	/* -v */
	int		 json;		/* --json */
	int		 read_envelope_from;
	char		*from;		/* -f, -r */
	char		*full_name;	/* -F */
	char		*dsn_notify;	/* -N */
	char		*dsn_ret;	/* -R */
	char		*dsn_envid;	/* -V */
	char		*body;		/* -B */
	char		*conf;		/* -C */
	char		*account;	/* -a */
	char		*admin_id;	/* --show etc. */
	enum qadmin_op	 admin_op;
	int		 admin_show;
	struct strlist	 files;		/* --message-file */
	struct strlist	 logs;		/* --log */
	char		*since;		/* --since */
	struct strlist	 rcpts;		/* arguments */
	int		 setgid;	/* running set-group-ID */
};

/* Everything one submission needs after the options are read. */
struct ctx {
	struct options	*o;
	struct conf	*conf;
	struct account	*acct;		/* may be NULL without a config */
	struct aliases	*aliases;
	char		*sender;	/* envelope sender ("" null) */
	char		*msgid_domain;
	char		*header_domain;	/* for bare names in From:, To:, ... */
	struct queue	*q;
};

static void
die(int ex, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

static void
die(int ex, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(ex);
}

static void
report(const struct rq_err *err)
{
	fprintf(stderr, "%s: %s\n", progname, err->msg);
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

/* ---- options ------------------------------------------------------------- */

enum {
	OPT_B = 1, OPT_O, OPT_Q, OPT_V, OPT_E, OPT_IGNORED, OPT_MSGFILE,
	OPT_SHOW, OPT_DELETE, OPT_HOLD, OPT_RELEASE, OPT_RETRY, OPT_REQUEUE,
	OPT_VERSION, OPT_HELP, OPT_FROM, OPT_FULLNAME, OPT_NOTIFY, OPT_RET,
	OPT_ENVID, OPT_BODY, OPT_CONF, OPT_ACCOUNT, OPT_REPORT, OPT_METRICS,
	OPT_SINCE, OPT_LOG,
};

/* A repeated option replaces the earlier value; *val is taken. */
static void
take(char **dst, char **val)
{
	free(*dst);
	*dst = *val;
	*val = NULL;
}

static void
usage_help(poptContext pc)
{
	poptPrintHelp(pc, stdout, 0);
	fputs("\nExit status: 0 queued; 64 usage; 65 bad message or address; "
	    "66 input file\nunreadable; 67 unknown local recipient; 73 cannot "
	    "create in queue; 74 I/O\nerror; 75 temporary failure; 78 "
	    "configuration error.\n", stdout);
}

/* -b MODE */
static void
set_b(struct options *o, const char *arg)
{
	static const struct {
		const char	*arg;
		enum mode	 mode;
	} modes[] = {
		{ "m", MODE_SUBMIT }, { "p", MODE_LIST }, { "s", MODE_SMTP },
		{ "i", MODE_ALIASES }, { "v", MODE_VERIFY },
	};

	for (size_t i = 0; i < RQ_ARRAY_LEN(modes); i++) {
		if (strcmp(arg, modes[i].arg) == 0) {
			o->mode = modes[i].mode;
			return;
		}
	}
	die(EX_USAGE, "unsupported mode -b%s (relayq knows -bm -bp -bs -bi "
	    "-bv)", arg);
}

/* -o X: -oi, -odq/-odb/-odi matter; every other -o is ignored. */
static void
set_o(struct options *o, const char *arg)
{
	if (strcmp(arg, "i") == 0)
		o->ignore_dots = 1;
	else if (strcmp(arg, "dq") == 0)
		o->delivery = DELIVER_QUEUE;
	else if (strcmp(arg, "db") == 0 || strcmp(arg, "d") == 0)
		o->delivery = DELIVER_BACKGROUND;
	else if (strcmp(arg, "di") == 0)
		o->delivery = DELIVER_INTERACTIVE;
}

static void
parse_options(struct options *o, int argc, const char **argv)
{
	struct poptOption table[] = {
		{ NULL, 't', POPT_ARG_NONE, &o->extract, 0,
		  "read recipients from To, Cc, Bcc (or the last Resent- "
		  "block) as well", NULL },
		{ NULL, 'i', POPT_ARG_NONE, &o->ignore_dots, 0,
		  "a line with a single dot does not end the message", NULL },
		{ NULL, 'f', POPT_ARG_STRING, NULL, OPT_FROM,
		  "envelope sender (<> for the null sender)", "ADDR" },
		{ NULL, 'r', POPT_ARG_STRING, NULL, OPT_FROM,
		  "same as -f", "ADDR" },
		{ NULL, 'F', POPT_ARG_STRING, NULL, OPT_FULLNAME,
		  "full name for an added From header", "NAME" },
		{ NULL, 'N', POPT_ARG_STRING, NULL, OPT_NOTIFY,
		  "DSN NOTIFY: never, or success,failure,delay", "LIST" },
		{ NULL, 'R', POPT_ARG_STRING, NULL, OPT_RET,
		  "DSN RET: full or hdrs", "RET" },
		{ NULL, 'V', POPT_ARG_STRING, NULL, OPT_ENVID,
		  "DSN ENVID", "ENVID" },
		{ NULL, 'B', POPT_ARG_STRING, NULL, OPT_BODY,
		  "body type: 7BIT or 8BITMIME", "TYPE" },
		{ NULL, 'C', POPT_ARG_STRING, NULL, OPT_CONF,
		  "configuration file", "FILE" },
		{ "account", 'a', POPT_ARG_STRING, NULL, OPT_ACCOUNT,
		  "account to relay through", "ACCOUNT" },
		{ NULL, 'b', POPT_ARG_STRING, NULL, OPT_B,
		  "mode: m submit, p list the queue, s SMTP on stdin, "
		  "i newaliases, v verify recipients", "MODE" },
		{ NULL, 'o', POPT_ARG_STRING, NULL, OPT_O,
		  "-oi: as -i; -odq queue only, -odb queue and flush in the "
		  "background, -odi try delivery now; others ignored", "X" },
		{ NULL, 'q', POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL, NULL,
		  OPT_Q, "flush the queue now (runs relayq-flush)", "TIME" },
		{ NULL, 'v', POPT_ARG_NONE, NULL, OPT_V, "verbose", NULL },
		{ "message-file", '\0', POPT_ARG_STRING, NULL, OPT_MSGFILE,
		  "read a message from FILE (repeatable: one message each)",
		  "FILE" },
		{ "read-envelope-from", '\0', POPT_ARG_NONE,
		  &o->read_envelope_from, 0,
		  "take the envelope sender from the From header", NULL },
		{ "json", '\0', POPT_ARG_NONE, &o->json, 0,
		  "with -bp or --report: print JSON", NULL },
		{ "report", '\0', POPT_ARG_NONE, NULL, OPT_REPORT,
		  "report bounces and deferrals by cause, and the queue's "
		  "shape", NULL },
		{ "since", '\0', POPT_ARG_STRING, NULL, OPT_SINCE,
		  "with --report: only events of the last DURATION (1h, 2d)",
		  "DURATION" },
		{ "log", '\0', POPT_ARG_STRING, NULL, OPT_LOG,
		  "with --report: read this log (repeatable; - is stdin) "
		  "instead of the logfiles", "FILE" },
		{ "metrics", '\0', POPT_ARG_NONE, NULL, OPT_METRICS,
		  "print the queue and account metrics for Prometheus", NULL },
		{ "show", '\0', POPT_ARG_STRING, NULL, OPT_SHOW,
		  "show one queued message", "ID" },
		{ "delete", '\0', POPT_ARG_STRING, NULL, OPT_DELETE,
		  "delete one queued message", "ID" },
		{ "hold", '\0', POPT_ARG_STRING, NULL, OPT_HOLD,
		  "hold a message (no delivery until released)", "ID" },
		{ "release", '\0', POPT_ARG_STRING, NULL, OPT_RELEASE,
		  "release a held message", "ID" },
		{ "retry", '\0', POPT_ARG_STRING, NULL, OPT_RETRY,
		  "make a deferred message due now", "ID" },
		{ "requeue", '\0', POPT_ARG_STRING, NULL, OPT_REQUEUE,
		  "move a failed message back into the queue", "ID" },
		/* sendmail options accepted and ignored. */
		{ NULL, 'e', POPT_ARG_STRING, NULL, OPT_IGNORED,
		  "-em -ep -eq: ignored", "X" },
		{ NULL, 'A', POPT_ARG_STRING, NULL, OPT_IGNORED,
		  "ignored", "X" },
		{ NULL, 'G', POPT_ARG_NONE, NULL, OPT_IGNORED, "ignored", NULL },
		{ NULL, 'h', POPT_ARG_STRING, NULL, OPT_IGNORED,
		  "ignored", "N" },
		{ NULL, 'L', POPT_ARG_STRING, NULL, OPT_IGNORED,
		  "ignored", "TAG" },
		{ NULL, 'm', POPT_ARG_NONE, NULL, OPT_IGNORED, "ignored", NULL },
		{ NULL, 'n', POPT_ARG_NONE, NULL, OPT_IGNORED, "ignored", NULL },
		{ NULL, 'U', POPT_ARG_NONE, NULL, OPT_IGNORED, "ignored", NULL },
		{ NULL, 'X', POPT_ARG_STRING, NULL, OPT_IGNORED,
		  "ignored (never opens the file)", "FILE" },
		{ NULL, 'O', POPT_ARG_STRING, NULL, OPT_IGNORED,
		  "ignored", "OPTION" },
		{ "version", '\0', POPT_ARG_NONE, NULL, OPT_VERSION,
		  "print the version", NULL },
		{ "help", '\0', POPT_ARG_NONE, NULL, OPT_HELP,
		  "show this help", NULL },
		POPT_TABLEEND
	};
	poptContext pc;
	const char *arg;
	int rc;

	pc = poptGetContext(progname, argc, argv, table, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...] [RECIPIENT...]");
	for (rc = poptGetNextOpt(pc); rc > 0; rc = poptGetNextOpt(pc)) {
		char *val = poptGetOptArg(pc);

		switch (rc) {
		case OPT_FROM:
			take(&o->from, &val);
			break;
		case OPT_FULLNAME:
			take(&o->full_name, &val);
			break;
		case OPT_NOTIFY:
			take(&o->dsn_notify, &val);
			break;
		case OPT_RET:
			take(&o->dsn_ret, &val);
			break;
		case OPT_ENVID:
			take(&o->dsn_envid, &val);
			break;
		case OPT_BODY:
			take(&o->body, &val);
			break;
		case OPT_CONF:
			take(&o->conf, &val);
			break;
		case OPT_ACCOUNT:
			take(&o->account, &val);
			break;
		case OPT_B:
			set_b(o, val);
			break;
		case OPT_O:
			set_o(o, val);
			break;
		case OPT_Q:
			o->mode = MODE_FLUSH;
			break;
		case OPT_V:
			o->verbose++;
			break;
		case OPT_MSGFILE:
			strlist_add(&o->files, val);
			break;
		case OPT_REPORT:
		case OPT_METRICS:
			if (o->mode == MODE_REPORT || o->mode == MODE_METRICS)
				die(EX_USAGE, "give --report or --metrics, "
				    "not both");
			o->mode = rc == OPT_REPORT ? MODE_REPORT :
			    MODE_METRICS;
			break;
		case OPT_SINCE:
			take(&o->since, &val);
			break;
		case OPT_LOG:
			strlist_add(&o->logs, val);
			break;
		case OPT_SHOW:
		case OPT_DELETE:
		case OPT_HOLD:
		case OPT_RELEASE:
		case OPT_RETRY:
		case OPT_REQUEUE:
			if (o->mode == MODE_ADMIN)
				die(EX_USAGE, "give one of --show, --delete, "
				    "--hold, --release, --retry, --requeue");
			o->mode = MODE_ADMIN;
			free(o->admin_id);
			o->admin_id = xstrdup(val);
			o->admin_show = rc == OPT_SHOW;
			o->admin_op = rc == OPT_DELETE ? QADMIN_DELETE :
			    rc == OPT_HOLD ? QADMIN_HOLD :
			    rc == OPT_RELEASE ? QADMIN_RELEASE :
			    rc == OPT_RETRY ? QADMIN_RETRY : QADMIN_REQUEUE;
			break;
		case OPT_VERSION:
			/* After the other options: -C changes the answer. */
			o->mode = MODE_VERSION;
			break;
		case OPT_HELP:
			usage_help(pc);
			exit(EX_OK);
		default:
			break;
		}
		free(val);
	}
	if (rc < -1)
		die(EX_USAGE, "%s: %s (see --help)",
		    poptBadOption(pc, POPT_BADOPTION_NOALIAS), poptStrerror(rc));
	for (arg = poptGetArg(pc); arg != NULL; arg = poptGetArg(pc))
		strlist_add(&o->rcpts, arg);
	poptFreeContext(pc);

	if (o->body != NULL && rq_strcasecmp(o->body, "7BIT") != 0 &&
	    rq_strcasecmp(o->body, "8BITMIME") != 0)
		die(EX_USAGE, "-B takes 7BIT or 8BITMIME, not '%s'", o->body);
	if (o->dsn_ret != NULL) {
		if (rq_strcasecmp(o->dsn_ret, "full") == 0)
			rq_strlcpy(o->dsn_ret, "FULL", strlen(o->dsn_ret) + 1);
		else if (rq_strcasecmp(o->dsn_ret, "hdrs") == 0)
			rq_strlcpy(o->dsn_ret, "HDRS", strlen(o->dsn_ret) + 1);
		else
			die(EX_USAGE, "-R takes full or hdrs, not '%s'",
			    o->dsn_ret);
	}
	if ((o->since != NULL || o->logs.n > 0) && o->mode != MODE_REPORT)
		die(EX_USAGE, "--since and --log go with --report");
	if ((o->mode == MODE_REPORT || o->mode == MODE_METRICS) &&
	    o->rcpts.n > 0)
		die(EX_USAGE, "--%s takes no recipients",
		    o->mode == MODE_REPORT ? "report" : "metrics");
	if (o->dsn_envid != NULL) {
		size_t n = strlen(o->dsn_envid);

		if (n == 0 || n > 100)
			die(EX_USAGE, "-V: the envelope id must be 1 to 100 "
			    "characters");
		for (const char *p = o->dsn_envid; *p != '\0'; p++)
			if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
				die(EX_USAGE, "-V: the envelope id must be "
				    "printable ASCII without spaces");
	}
}

/* "never" or a list of success, failure, delay -> "NEVER" / "SUCCESS,...". */
static char *
normalise_notify(const char *in, const char *what)
{
	struct buf b = { 0 };
	char *copy = xstrdup(in), *save = NULL;
	int never = 0, n = 0;

	for (char *w = strtok_r(copy, ", ", &save); w != NULL;
	    w = strtok_r(NULL, ", ", &save)) {
		if (rq_strcasecmp(w, "never") == 0)
			never = 1;
		else if (rq_strcasecmp(w, "success") != 0 &&
		    rq_strcasecmp(w, "failure") != 0 &&
		    rq_strcasecmp(w, "delay") != 0)
			die(EX_USAGE, "%s: unknown DSN notification '%s' "
			    "(never, success, failure, delay)", what, w);
		for (char *p = w; *p != '\0'; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		buf_addf(&b, "%s%s", n++ ? "," : "", w);
	}
	free(copy);
	if (n == 0 || (never && n > 1))
		die(EX_USAGE, "%s: 'never' stands alone; otherwise list "
		    "success, failure, delay", what);
	return buf_steal(&b);
}

/* ---- configuration, sender, recipients ----------------------------------- */

static char *
login_name(void)
{
	struct passwd *pw = getpwuid(getuid());

	if (pw != NULL && pw->pw_name != NULL && *pw->pw_name != '\0')
		return xstrdup(pw->pw_name);
	return xasprintf("uid%lu", (unsigned long)getuid());
}

static char *
host_name(void)
{
	char name[HOST_NAME_MAX + 1];

	if (gethostname(name, sizeof(name)) != 0 || name[0] == '\0')
		return xstrdup("localhost");
	name[sizeof(name) - 1] = '\0';
	return xstrdup(name);
}

static int
has_wildcard(const char *s)
{
	return strpbrk(s, "*?") != NULL;
}

/*
 * The machine's fully qualified name without asking the resolver
 * (submitting never touches the network, and a dead DNS must not make
 * cron wait): gethostname(2) when it has a dot, else the first line of
 * /etc/mailname (Debian's mail name), else the host name as it is.
 */
static char *
fq_host_name(void)
{
	char *h = host_name(), *probe, line[256];
	struct rq_err err = { 0 };
	FILE *f;

	if (strchr(h, '.') != NULL)
		return h;
	f = fopen(SYSCONFDIR "/mailname", "re");
	if (f == NULL)
		return h;
	if (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, " \t\r\n")] = '\0';
		probe = xasprintf("postmaster@%s", line);
		if (line[0] != '\0' && addr_check(probe, 0, "mail name",
		    &err) == 0) {
			free(h);
			h = xstrdup(line);
		}
		free(probe);
	}
	fclose(f);
	return h;
}

/*
 * The domain a bare sender name (-f root, cronie's -f USER, the login
 * name) gets: qualify_domain, else the domain of the account's from (when
 * it names one without wildcards), else the machine's name.  Never NULL;
 * the caller frees it.
 */
static char *
sender_domain(const struct account *a)
{
	const char *d;

	if (a != NULL && a->qualify_domain != NULL)
		return xstrdup(a->qualify_domain);
	if (a != NULL && a->from != NULL && (d = addr_domain(a->from)) != NULL &&
	    !has_wildcard(d))
		return xstrdup(d);
	return fq_host_name();
}

/*
 * Load the configuration and pick the account.  need_conf: refuse to go on
 * without any configuration file.
 */
static void
load_config(struct ctx *c, int need_conf)
{
	struct options *o = c->o;
	struct rq_err err = { 0 };
	char *path = NULL;
	int from_user = 0;

	if (conf_find(o->conf, o->setgid, &path, &from_user, &err) != 0) {
		report(&err);
		exit(err.ex);
	}
	if (path == NULL && need_conf)
		die(EX_CONFIG, "%s", CONF_MISSING_HINT);
	if (conf_load(path, from_user, &c->conf, &err) != 0) {
		report(&err);
		exit(err.ex);
	}
	free(path);
	for (size_t i = 0; i < c->conf->warnings.n; i++)
		if (o->verbose)
			fprintf(stderr, "%s: warning: %s\n", progname,
			    c->conf->warnings.v[i]);
}

static void
choose_account(struct ctx *c, const char *sender_arg)
{
	struct options *o = c->o;

	if (o->account != NULL) {
		c->acct = conf_account(c->conf, o->account);
		if (c->acct == NULL)
			die(EX_CONFIG, "account '%s' is not defined in %s",
			    o->account, c->conf->path ? c->conf->path :
			    "the configuration");
		return;
	}
	if (sender_arg != NULL && *sender_arg != '\0')
		c->acct = conf_account_for_from(c->conf, sender_arg);
	if (c->acct == NULL)
		c->acct = conf_default_account(c->conf);
	if (c->acct == NULL && c->conf->path != NULL)
		die(EX_CONFIG, "%s defines no account: add 'account NAME' with "
		    "at least 'host'", c->conf->path);
}

/*
 * The envelope sender: -f/-r (unless the account forbids overriding its
 * from), else the account's from, else the login name; a name without a
 * domain is qualified with sender_domain().
 */
static void
choose_sender(struct ctx *c, const char *given)
{
	struct account *a = c->acct;
	struct rq_err err = { 0 };
	char *s = NULL;

	free(c->sender);
	c->sender = NULL;
	if (given != NULL && (a == NULL || a->allow_from_override ||
	    a->from == NULL || has_wildcard(a->from)))
		s = addr_envelope(given);
	else if (a != NULL && a->from != NULL && !has_wildcard(a->from))
		s = xstrdup(a->from);
	else
		s = login_name();

	if (*s != '\0') {
		/* A bare name (-f root, the login name) is qualified, never
		 * refused: cron's mail must not be thrown away. */
		if (!addr_has_domain(s)) {
			char *d = sender_domain(a);
			char *q = xasprintf("%s@%s", s, d);

			free(d);
			free(s);
			s = q;
		}
		if (addr_check(s, 0, "sender", &err) != 0) {
			report(&err);
			exit(err.ex);
		}
	}
	c->sender = s;
}

static void
choose_msgid_domain(struct ctx *c)
{
	const struct account *a = c->acct;
	const char *d = NULL;

	/* A dotless name (the default "localhost", or a bare host name) is
	 * no good right side for a Message-ID: prefer a real domain. */
	if (a != NULL && a->domain != NULL && strchr(a->domain, '.') != NULL)
		d = a->domain;
	else if (a != NULL && a->qualify_domain != NULL)
		d = a->qualify_domain;
	else if (c->sender != NULL && addr_domain(c->sender) != NULL)
		d = addr_domain(c->sender);
	free(c->msgid_domain);
	c->msgid_domain = d != NULL ? xstrdup(d) : host_name();
	free(c->header_domain);
	c->header_domain = sender_domain(a);
}

/*
 * Recipients from the arguments (each may hold several, comma-separated,
 * in address-list syntax) and, with -t, from the headers; then aliases,
 * qualification and RFC 5321 checks.  Exits on any bad address: nothing
 * is queued unless every recipient is good.
 */
static void
collect_rcpts(struct ctx *c, const struct strlist *from_headers,
    struct strlist *out)
{
	struct options *o = c->o;
	struct strlist raw = { 0 };
	struct rq_err err = { 0 };
	const char *qd = c->acct != NULL ? c->acct->qualify_domain : NULL;

	for (size_t i = 0; i < o->rcpts.n; i++) {
		const char *arg = o->rcpts.v[i];

		/* Checked before parsing, so that '-' never hides in a list. */
		if (arg[0] == '-')
			die(EX_DATAERR, "recipient '%s' starts with '-': "
			    "refusing it (it looks like an option)", arg);
		if (addr_parse_list(arg, strlen(arg), &raw, &err) != 0) {
			rq_errctx(&err, "recipient argument");
			report(&err);
			exit(err.ex);
		}
	}
	if (from_headers != NULL)
		for (size_t i = 0; i < from_headers->n; i++)
			strlist_add(&raw, from_headers->v[i]);

	/* Validate before aliasing so that hostile input never reaches it. */
	for (size_t i = 0; i < raw.n; i++)
		if (addr_check(raw.v[i], 1, "recipient", &err) != 0) {
			report(&err);
			exit(err.ex);
		}
	if (aliases_expand(c->aliases, &raw, &err) != 0) {
		report(&err);
		exit(err.ex);
	}
	for (size_t i = 0; i < raw.n; i++) {
		char *r = raw.v[i];

		raw.v[i] = NULL;
		if (!addr_has_domain(r)) {
			char *q;

			if (qd == NULL)
				die(EX_NOUSER, "recipient '%s' has no domain "
				    "and is not an alias: add '%s: "
				    "you@example.org' to the aliases file "
				    "(key 'aliases'), or set 'qualify_domain'",
				    r, r);
			q = xasprintf("%s@%s", r, qd);
			free(r);
			r = q;
		}
		if (addr_check(r, 0, "recipient", &err) != 0) {
			report(&err);
			exit(err.ex);
		}
		if (!strlist_contains(out, r))
			strlist_take(out, r);
		else
			free(r);
	}
	strlist_free(&raw);
}

static void
load_aliases(struct ctx *c)
{
	struct rq_err err = { 0 };

	if (c->acct == NULL || c->acct->aliases == NULL)
		return;
	if (aliases_load(c->acct->aliases, &c->aliases, &err) != 0) {
		report(&err);
		exit(err.ex);
	}
}

static void
open_queue(struct ctx *c)
{
	struct rq_err err = { 0 };

	if (c->q != NULL)
		return;
	if (queue_open(c->conf->queue_dir, QUEUE_CREATE, &c->q, &err) != 0) {
		report(&err);
		exit(err.ex);
	}
}

static void
fill_msg_opts(const struct ctx *c, struct msg_opts *mo, int dot_ends,
    int unstuff)
{
	const struct account *a = c->acct;

	memset(mo, 0, sizeof(*mo));
	mo->dot_ends = dot_ends;
	mo->unstuff = unstuff;
	mo->extract = c->o->extract;
	mo->sender = c->sender;
	mo->full_name = c->o->full_name != NULL ? c->o->full_name :
	    a != NULL ? a->from_full_name : NULL;
	mo->set_from_header = a != NULL ? a->set_from_header : HDR_AUTO;
	mo->set_date_header = a != NULL ? a->set_date_header : HDR_AUTO;
	mo->set_msgid_header = a != NULL ? a->set_msgid_header : HDR_AUTO;
	mo->remove_bcc = a != NULL ? a->remove_bcc_headers : 1;
	mo->undisclosed = a != NULL ? a->undisclosed_recipients : NULL;
	mo->msgid_domain = c->msgid_domain;
	mo->header_domain = c->header_domain;
	mo->now = rq_now();
}

static void
fill_envelope(const struct ctx *c, struct envelope *env)
{
	const struct options *o = c->o;
	const struct account *a = c->acct;

	memset(env, 0, sizeof(*env));
	env->sender = xstrdup(c->sender);
	if (a != NULL && a->name != NULL)
		env->account = xstrdup(a->name);
	if (o->dsn_notify != NULL)
		env->dsn_notify = normalise_notify(o->dsn_notify, "-N");
	else if (a != NULL && a->dsn_notify != NULL &&
	    rq_strcasecmp(a->dsn_notify, "off") != 0)
		env->dsn_notify = normalise_notify(a->dsn_notify,
		    "dsn_notify");
	if (o->dsn_ret != NULL)
		env->dsn_ret = xstrdup(o->dsn_ret);
	else if (a != NULL && a->dsn_return != NULL &&
	    rq_strcasecmp(a->dsn_return, "off") != 0)
		env->dsn_ret = xstrdup(rq_strcasecmp(a->dsn_return,
		    "headers") == 0 ? "HDRS" : "FULL");
	if (o->dsn_envid != NULL)
		env->dsn_envid = xstrdup(o->dsn_envid);
	env->body_8bitmime = o->body != NULL &&
	    rq_strcasecmp(o->body, "8BITMIME") == 0;
	/*
	 * An account that signs gets its body hash now, while the content
	 * streams into the queue: the flush then signs without reading a
	 * big body a second time.  Only the canonicalisation is needed,
	 * never the key (which this binary must not be able to read).
	 */
	if (a != NULL && a->dkim_domain != NULL)
		env->dkim_canon = a->dkim_bcanon;
}

/* ---- starting the flush ---------------------------------------------------- */

/* relayq-flush beside this binary, else in SBINDIR. */
static char *
flush_path(const struct options *o)
{
	char self[PATH_MAX];
	ssize_t n;
	const char *env = o->setgid ? NULL : getenv("RELAYQ_FLUSH");

	if (env != NULL && *env != '\0')
		return xstrdup(env);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash, *p;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			p = xasprintf("%s/relayq-flush", self);
			if (access(p, X_OK) == 0)
				return p;
			free(p);
		}
	}
	return xstrdup(SBINDIR "/relayq-flush");
}

static void
flush_argv(const struct ctx *c, struct strlist *av, const char *path)
{
	strlist_add(av, path);
	if (c->conf != NULL && c->conf->path != NULL) {
		strlist_add(av, "-C");
		strlist_add(av, c->conf->path);
	}
	/*
	 * And the queue we wrote: with -C, the flush would take the file
	 * for the user's own and default to the user's queue, while the
	 * system file without queue_dir means /var/spool/relayq.
	 */
	if (c->conf != NULL && c->conf->queue_dir != NULL) {
		strlist_add(av, "--queue-dir");
		strlist_add(av, c->conf->queue_dir);
	}
}

/*
 * Run relayq-flush with the configuration we used, plus extra arguments
 * (NULL-terminated).  Detached: its own session, standard streams on
 * /dev/null, and not our child (double fork), so that cron and PHP, which
 * wait for every descendant holding their pipes, never wait for delivery.
 * Otherwise it runs in the foreground with its output on our standard
 * error, and we wait for it.
 *
 * A set-group-ID submit never runs it: the flush needs the relay
 * credentials, which only the relayq user may read; in system mode the
 * systemd path unit (or the watcher) starts delivery.
 */
static void
run_flush(const struct ctx *c, int detached, const char *extra, ...)
{
	struct strlist av = { 0 };
	char *path;
	const char *arg;
	va_list ap;
	pid_t pid;

	if (c->o->setgid)
		return;
	path = flush_path(c->o);
	if (access(path, X_OK) != 0) {
		if (c->o->verbose)
			fprintf(stderr, "%s: %s not found; the message waits "
			    "in the queue\n", progname, path);
		free(path);
		return;
	}
	flush_argv(c, &av, path);
	va_start(ap, extra);
	for (arg = extra; arg != NULL; arg = va_arg(ap, const char *))
		strlist_add(&av, arg);
	va_end(ap);
	if (!detached && c->o->verbose)
		strlist_add(&av, "-v");

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (fd < 0)
			_exit(1);
		dup2(fd, STDIN_FILENO);
		if (detached) {
			if (setsid() < 0)
				_exit(1);
			if (fork() != 0)
				_exit(0);
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		} else {
			dup2(STDERR_FILENO, STDOUT_FILENO);
		}
		execv(path, av.v);
		_exit(127);
	}
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			continue;
	strlist_free(&av);
	free(path);
}

/* ---- submitting ------------------------------------------------------------ */

/*
 * Read one message from in, queue it.  Returns EX_OK with id filled, or an
 * exit code after printing the error.  Nothing is left in the queue on
 * error.
 */
static int
submit_one(struct ctx *c, struct input *in, int dot_ends, int unstuff,
    const struct strlist *extra_rcpts, char *id, size_t idsize)
{
	struct msg_opts mo;
	struct envelope env;
	struct msg *m = NULL;
	struct qwriter *w = NULL;
	struct strlist rcpts = { 0 };
	struct rq_err err = { 0 };
	int ex;

	fill_msg_opts(c, &mo, dot_ends, unstuff);
	if ((ex = msg_read_headers(in, &mo, &m, &err)) != 0) {
		report(&err);
		return ex;
	}
	if (c->sender == NULL) {
		/* --read-envelope-from: the sender comes from the headers. */
		if (msg_header_from(m) == NULL) {
			msg_free(m);
			die(EX_DATAERR, "--read-envelope-from: the message has "
			    "no From header with an address");
		}
		choose_sender(c, msg_header_from(m));
		choose_msgid_domain(c);
		/* msg_read_headers keeps a pointer to mo: refresh it. */
		fill_msg_opts(c, &mo, dot_ends, unstuff);
	}
	if (extra_rcpts != NULL)
		for (size_t i = 0; i < extra_rcpts->n; i++)
			strlist_add(&rcpts, extra_rcpts->v[i]);
	else
		collect_rcpts(c, c->o->extract ? msg_header_rcpts(m) : NULL,
		    &rcpts);
	if (rcpts.n == 0) {
		msg_free(m);
		die(EX_USAGE, "no recipients: give them as arguments, or use "
		    "-t to read them from the headers");
	}
	fill_envelope(c, &env);
	for (size_t i = 0; i < rcpts.n; i++)
		strlist_add(&env.rcpts, rcpts.v[i]);
	strlist_free(&rcpts);
	open_queue(c);
	if ((ex = msg_spool(m, c->q, &env, &w, &err)) != 0) {
		report(&err);
		goto out;
	}
	if ((ex = queue_writer_commit(w, &env, &err)) != 0) {
		report(&err);
		goto out;
	}
	rq_strlcpy(id, env.id, idsize);
	if (c->o->verbose)
		fprintf(stderr, "%s: queued as %s (%lld octets, %zu "
		    "recipient%s)\n", progname, env.id, env.size, env.rcpts.n,
		    env.rcpts.n == 1 ? "" : "s");
out:
	envelope_free(&env);
	msg_free(m);
	return ex;
}

/*
 * Open a message file with the caller's own group, not ours: a set-group-ID
 * relayq must not read the queue (or anything else of group relayq) on a
 * user's behalf.  The saved set-group-ID lets us switch back.
 */
static int
open_as_caller(const struct options *o, const char *path)
{
	gid_t egid = getegid();
	int fd, saved;

	if (o->setgid && setegid(getgid()) != 0)
		die(EX_OSERR, "cannot drop the group privilege: %s",
		    strerror(errno));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	saved = errno;
	if (o->setgid && setegid(egid) != 0)
		die(EX_OSERR, "cannot restore the group privilege: %s",
		    strerror(errno));
	errno = saved;
	return fd;
}

static int
submit(struct ctx *c)
{
	struct options *o = c->o;
	struct strlist ids = { 0 };
	char id[QUEUE_ID_MAX];
	int worst = EX_OK, ex;
	int dot_ends = !o->ignore_dots;

	load_config(c, 1);
	choose_account(c, o->from);
	load_aliases(c);
	if (o->from != NULL || !o->read_envelope_from) {
		choose_sender(c, o->from);
		choose_msgid_domain(c);
	}

	if (o->files.n == 0) {
		struct input in;

		input_init(&in, STDIN_FILENO);
		ex = submit_one(c, &in, dot_ends, 0, NULL, id, sizeof(id));
		input_free(&in);
		if (ex != EX_OK)
			return ex;
		strlist_add(&ids, id);
	} else {
		for (size_t i = 0; i < o->files.n; i++) {
			struct input in;
			int fd = open_as_caller(o, o->files.v[i]);

			if (fd < 0) {
				fprintf(stderr, "%s: cannot read %s: %s\n",
				    progname, o->files.v[i], strerror(errno));
				if (worst == EX_OK)
					worst = EX_NOINPUT;
				continue;
			}
			input_init(&in, fd);
			ex = submit_one(c, &in, dot_ends, 0, NULL, id,
			    sizeof(id));
			input_free(&in);
			close(fd);
			if (ex != EX_OK) {
				fprintf(stderr, "%s: %s: not queued\n",
				    progname, o->files.v[i]);
				if (worst == EX_OK)
					worst = ex;
				continue;
			}
			strlist_add(&ids, id);
		}
	}

	if (ids.n > 0) {
		if (o->delivery == DELIVER_INTERACTIVE)
			for (size_t i = 0; i < ids.n; i++)
				run_flush(c, 0, "--id", ids.v[i], NULL);
		else if (o->delivery == DELIVER_BACKGROUND)
			run_flush(c, 1, NULL);
	}
	strlist_free(&ids);
	return worst;
}

/* ---- -bs: SMTP on standard input and output -------------------------------- */

static void
bs_reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
bs_reply(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputs("\r\n", stdout);
	fflush(stdout);
}

/* The address inside "FROM:<addr> params" / "TO:<addr>", or NULL. */
static char *
bs_path(const char *arg, const char *keyword)
{
	size_t kl = strlen(keyword);
	const char *p, *e;

	if (rq_strncasecmp(arg, keyword, kl) != 0)
		return NULL;
	p = arg + kl;
	while (*p == ' ')
		p++;
	if (*p != '<')
		return NULL;
	e = strrchr(p, '>');
	if (e == NULL)
		return NULL;
	return xstrndup(p + 1, (size_t)(e - p - 1));
}

/*
 * A minimal RFC 5321 server on stdin/stdout for programs that submit with
 * "sendmail -bs": each accepted DATA is queued like a -bm submission.
 */
static int
smtp_mode(struct ctx *c)
{
	struct input in;
	struct buf line = { 0 };
	struct strlist rcpts = { 0 };
	struct rq_err err = { 0 };
	char *host = host_name();
	int have_mail = 0, queued = 0;

	load_config(c, 1);
	choose_account(c, NULL);
	load_aliases(c);
	input_init(&in, STDIN_FILENO);
	bs_reply("220 %s ESMTP relayq", host);
	for (;;) {
		ssize_t n;
		char *cmd, *arg;

		buf_reset(&line);
		n = input_getline(&in, &line, 4096);
		if (n <= 0)
			break;
		while (line.len > 0 && (line.data[line.len - 1] == '\n' ||
		    line.data[line.len - 1] == '\r'))
			line.data[--line.len] = '\0';
		cmd = line.data;
		arg = strchr(cmd, ' ');
		if (arg != NULL)
			*arg++ = '\0';
		else
			arg = cmd + strlen(cmd);

		if (!rq_strcasecmp(cmd, "EHLO")) {
			bs_reply("250-%s\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
			    "250 SMTPUTF8", host);
		} else if (!rq_strcasecmp(cmd, "HELO")) {
			bs_reply("250 %s", host);
		} else if (!rq_strcasecmp(cmd, "MAIL")) {
			char *s = bs_path(arg, "FROM:");

			if (have_mail) {
				bs_reply("503 5.5.1 nested MAIL command");
			} else if (s == NULL) {
				bs_reply("501 5.5.4 syntax: MAIL FROM:<address>");
			} else if (*s != '\0' &&
			    addr_check(s, 0, "sender", &err) != 0) {
				bs_reply("553 5.1.7 %s", err.msg);
			} else {
				choose_sender(c, s);
				choose_msgid_domain(c);
				have_mail = 1;
				bs_reply("250 2.1.0 ok");
			}
			free(s);
		} else if (!rq_strcasecmp(cmd, "RCPT")) {
			char *r = bs_path(arg, "TO:");

			if (!have_mail) {
				bs_reply("503 5.5.1 need MAIL first");
			} else if (r == NULL) {
				bs_reply("501 5.5.4 syntax: RCPT TO:<address>");
			} else if (addr_check(r, 1, "recipient", &err) != 0) {
				bs_reply("553 5.1.3 %s", err.msg);
			} else {
				struct strlist one = { 0 };

				strlist_add(&one, r);
				if (aliases_expand(c->aliases, &one, &err) != 0) {
					bs_reply("550 5.1.1 %s", err.msg);
				} else {
					int bad = 0;

					for (size_t i = 0; i < one.n && !bad; i++)
						if (!addr_has_domain(one.v[i]) &&
						    (c->acct == NULL ||
						    c->acct->qualify_domain == NULL))
							bad = 1;
					if (bad) {
						bs_reply("550 5.1.1 <%s>: no domain "
						    "and no alias", r);
					} else {
						for (size_t i = 0; i < one.n; i++) {
							char *q = addr_has_domain(one.v[i]) ?
							    xstrdup(one.v[i]) :
							    xasprintf("%s@%s", one.v[i],
							    c->acct->qualify_domain);

							if (!strlist_contains(&rcpts, q))
								strlist_take(&rcpts, q);
							else
								free(q);
						}
						bs_reply("250 2.1.5 ok");
					}
				}
				strlist_free(&one);
			}
			free(r);
		} else if (!rq_strcasecmp(cmd, "DATA")) {
			char id[QUEUE_ID_MAX];
			int ex;

			if (!have_mail || rcpts.n == 0) {
				bs_reply("503 5.5.1 need MAIL and RCPT first");
				continue;
			}
			bs_reply("354 end data with <CR><LF>.<CR><LF>");
			ex = submit_one(c, &in, 1, 1, &rcpts, id, sizeof(id));
			if (ex == EX_OK) {
				bs_reply("250 2.0.0 queued as %s", id);
				queued++;
			} else if (ex == EX_TEMPFAIL) {
				bs_reply("451 4.3.0 not queued, try again later");
			} else {
				bs_reply("554 5.6.0 not queued (%s)",
				    ex_meaning(ex));
			}
			strlist_free(&rcpts);
			have_mail = 0;
		} else if (!rq_strcasecmp(cmd, "RSET")) {
			strlist_free(&rcpts);
			have_mail = 0;
			bs_reply("250 2.0.0 ok");
		} else if (!rq_strcasecmp(cmd, "NOOP")) {
			bs_reply("250 2.0.0 ok");
		} else if (!rq_strcasecmp(cmd, "VRFY")) {
			bs_reply("252 2.1.5 cannot verify, will try");
		} else if (!rq_strcasecmp(cmd, "QUIT")) {
			bs_reply("221 2.0.0 bye");
			break;
		} else {
			bs_reply("502 5.5.2 command not recognised");
		}
	}
	input_free(&in);
	buf_free(&line);
	strlist_free(&rcpts);
	free(host);
	if (queued > 0 && c->o->delivery == DELIVER_BACKGROUND)
		run_flush(c, 1, NULL);
	return EX_OK;
}

/* ---- -bv, -bp, -q, admin --------------------------------------------------- */

static int
verify_mode(struct ctx *c)
{
	struct options *o = c->o;
	struct strlist rcpts = { 0 };

	load_config(c, 1);
	choose_account(c, o->from);
	load_aliases(c);
	if (o->rcpts.n == 0)
		die(EX_USAGE, "-bv: name the recipients to check");
	/* collect_rcpts exits on the first bad one, with its reason. */
	collect_rcpts(c, NULL, &rcpts);
	for (size_t i = 0; i < rcpts.n; i++)
		printf("%s: deliverable via account %s (%s)\n", rcpts.v[i],
		    c->acct != NULL ? c->acct->name : "(none)",
		    c->acct != NULL && c->acct->hosts.n > 0 ?
		    c->acct->hosts.v[0] : "no host");
	strlist_free(&rcpts);
	return EX_OK;
}

/*
 * The queue for a command that only reads, or changes only a message it
 * finds: nothing is created, and a queue (or part of one) that does not
 * exist yet is an empty one (queue.h, QUEUE_READ).
 */
static int
open_queue_read(struct ctx *c, struct rq_err *err)
{
	load_config(c, 0);
	return queue_open(c->conf->queue_dir, QUEUE_READ, &c->q, err);
}

static int
list_mode(struct ctx *c)
{
	struct rq_err err = { 0 };
	unsigned bad = 0;

	if (open_queue_read(c, &err) != 0 ||
	    queue_print_list(c->q, c->o->json, stdout, &bad, &err) != 0) {
		report(&err);
		return err.ex;
	}
	/* JSON leaves them out; without a word a stuck message would hide. */
	if (c->o->json && bad > 0)
		fprintf(stderr, "%s: %u unreadable message%s left out of the "
		    "JSON (relayq -bp shows why)\n", progname, bad,
		    bad == 1 ? "" : "s");
	return fflush(stdout) == 0 ? EX_OK : EX_IOERR;
}

static int
admin_mode(struct ctx *c)
{
	struct rq_err err = { 0 };
	int ex;

	if (!queue_id_valid(c->o->admin_id))
		die(EX_USAGE, "\"%.40s\" is not a queue ID (20 hexadecimal "
		    "digits, as relayq -bp shows them)", c->o->admin_id);
	if (open_queue_read(c, &err) != 0) {
		report(&err);
		return err.ex;
	}
	if (c->o->admin_show)
		ex = queue_print_msg(c->q, c->o->admin_id, stdout, &err);
	else
		ex = queue_admin(c->q, c->o->admin_id, c->o->admin_op, &err);
	if (ex != 0)
		report(&err);
	return ex;
}

static int
report_mode(struct ctx *c)
{
	struct options *o = c->o;
	struct report_opts ro;
	struct strlist logs = { 0 };
	struct rq_err err = { 0 };
	long long since = 0;
	int ex;

	load_config(c, 0);
	if (o->since != NULL && (parse_duration(o->since, &since) != 0 ||
	    since <= 0))
		die(EX_USAGE, "--since takes a duration such as 30m, 12h or "
		    "7d, not '%s'", o->since);
	memset(&ro, 0, sizeof(ro));
	ro.conf = c->conf;
	ro.now = (long long)rq_now();
	ro.since = since > 0 ? ro.now - since : 0;
	ro.json = o->json;
	if (o->logs.n > 0) {
		ro.logs = &o->logs;
	} else {
		/* Every account's logfile, once; "-" is nobody's file. */
		for (size_t i = 0; i < c->conf->naccounts; i++) {
			const char *f = c->conf->accounts[i]->logfile;

			if (f != NULL && *f != '\0' && strcmp(f, "-") != 0 &&
			    !strlist_contains(&logs, f))
				strlist_add(&logs, f);
		}
		if (logs.n == 0)
			fprintf(stderr, "%s: the accounts log to syslog: give "
			    "--log /var/log/mail.log, or --log - with "
			    "journalctl -t relayq-flush -o short-iso on "
			    "standard input\n", progname);
		ro.logs = &logs;
		ro.logs_optional = 1;
	}
	/* A queue that does not exist yet is empty; nothing is made. */
	ex = queue_open(c->conf->queue_dir, QUEUE_READ, &c->q, &err);
	if (ex == 0) {
		ro.q = c->q;
		ex = report_run(&ro, stdout, &err);
	}
	if (ex != 0)
		report(&err);
	strlist_free(&logs);
	return ex;
}

static int
metrics_mode(struct ctx *c)
{
	struct rq_err err = { 0 };
	int ex;

	ex = open_queue_read(c, &err);
	if (ex == 0)
		ex = metrics_write(c->q, c->conf, (long long)rq_now(), stdout,
		    &err);
	if (ex != 0)
		report(&err);
	return ex;
}

static int
flush_mode(struct ctx *c)
{
	struct strlist av = { 0 };
	char *path;

	if (c->o->setgid)
		die(EX_NOPERM, "-q: the queue is flushed by the relayq service "
		    "in system mode (systemctl start relayq-flush)");
	load_config(c, 0);
	path = flush_path(c->o);
	flush_argv(c, &av, path);
	strlist_add(&av, "--all");
	for (int i = 0; i < c->o->verbose; i++)
		strlist_add(&av, "-v");
	fflush(NULL);
	execv(path, av.v);
	die(EX_UNAVAILABLE, "cannot run %s: %s", path, strerror(errno));
}

/* ---- main ---------------------------------------------------------------- */

/*
 * Set-group-ID: the environment belongs to the caller, so nothing in it is
 * trusted: no RELAYQ_*, no locale, a fixed PATH and umask.
 */
static void
sanitise_privileged(struct options *o)
{
	if (!getauxval(AT_SECURE) && getegid() == getgid())
		return;
	o->setgid = 1;
	if (clearenv() != 0)
		die(EX_OSERR, "cannot clear the environment");
	setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
	umask(027);
}

/*
 * --version: the version, and what this invocation would use: the
 * configuration file (or which one to create), the queue, the flush.
 * Never creates anything; a configuration with an error is named with it.
 */
static int
version_mode(struct ctx *c)
{
	struct options *o = c->o;
	struct rq_err err = { 0 };
	char *path = NULL, *fpath;
	int from_user = 0;

	printf("relayq %s\n", RELAYQ_VERSION);
	if (conf_find(o->conf, o->setgid, &path, &from_user, &err) != 0) {
		printf("configuration: %s\n", err.msg);
		return EX_OK;
	}
	if (path == NULL) {
		printf("configuration: none (%s)\n", CONF_MISSING_HINT);
		printf("queue: none until there is a configuration\n");
	} else if (conf_load(path, from_user, &c->conf, &err) != 0) {
		printf("configuration: %s (with an error: %s)\n", path,
		    err.msg);
	} else {
		printf("configuration: %s\n", path);
		printf("queue: %s\n", c->conf->queue_dir);
	}
	fpath = flush_path(o);
	printf("flush: %s\n", fpath);
	free(fpath);
	free(path);
	return EX_OK;
}

int
main(int argc, char **argv)
{
	struct options o = { 0 };
	struct ctx c = { 0 };
	const char *name = argc > 0 ? base_name(argv[0]) : "relayq";
	int ex;

	signal(SIGPIPE, SIG_IGN);
	umask(077);
	if (strcmp(name, "sendmail") == 0)
		progname = "sendmail";
	sanitise_privileged(&o);
	if (strcmp(name, "mailq") == 0)
		o.mode = MODE_LIST;
	else if (strcmp(name, "newaliases") == 0)
		o.mode = MODE_ALIASES;
	parse_options(&o, argc, (const char **)(void *)argv);
	if (o.setgid && o.conf != NULL)
		die(EX_USAGE, "-C is refused when running set-group-ID");
	/* Through the set-group-ID binary a user could touch others' mail. */
	if (o.setgid && o.mode == MODE_ADMIN && getuid() != 0)
		die(EX_NOPERM, "--show, --delete, --hold, --release, --retry "
		    "and --requeue are for root or the relayq user");
	/* The log and the failed area name everybody's correspondents. */
	if (o.setgid && o.mode == MODE_REPORT && getuid() != 0)
		die(EX_NOPERM, "--report is for root or the relayq user");
	c.o = &o;

	switch (o.mode) {
	case MODE_ALIASES:
		/* The aliases file is read as text: nothing to rebuild. */
		ex = EX_OK;
		break;
	case MODE_VERSION:
		ex = version_mode(&c);
		break;
	case MODE_LIST:
		ex = list_mode(&c);
		break;
	case MODE_ADMIN:
		ex = admin_mode(&c);
		break;
	case MODE_REPORT:
		ex = report_mode(&c);
		break;
	case MODE_METRICS:
		ex = metrics_mode(&c);
		break;
	case MODE_FLUSH:
		ex = flush_mode(&c);
		break;
	case MODE_VERIFY:
		ex = verify_mode(&c);
		break;
	case MODE_SMTP:
		ex = smtp_mode(&c);
		break;
	case MODE_SUBMIT:
	default:
		ex = submit(&c);
		break;
	}

	if (fflush(stdout) != 0 && ex == EX_OK)
		ex = EX_IOERR;
	queue_close(c.q);
	aliases_free(c.aliases);
	conf_free(c.conf);
	free(c.sender);
	free(c.msgid_domain);
	free(c.header_domain);
	strlist_free(&o.files);
	strlist_free(&o.logs);
	free(o.since);
	strlist_free(&o.rcpts);
	free(o.admin_id);
	free(o.from);
	free(o.full_name);
	free(o.dsn_notify);
	free(o.dsn_ret);
	free(o.dsn_envid);
	free(o.body);
	free(o.conf);
	free(o.account);
	return ex;
}
