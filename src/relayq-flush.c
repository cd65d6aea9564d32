/*
 * relayq-flush -- relay the queue to the smart host(s).
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The face of the delivery side: options, configuration, the queue, then
 * one run (deliver.c), a --check of an account, or --watch (inotify on
 * msg/ for new mail, a timer for retries).  Exit status over the messages
 * a run attempted: 0 all delivered or nothing due, 75 at least one
 * deferred, else 69 at least one failed, 78 configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <popt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "conf.h"
#include "deliver.h"
#include "dkim.h"
#include "log.h"
#include "queue.h"
#include "reply.h"
#include "smtp.h"
#include "status.h"
#include "tls.h"
#include "util.h"

#ifndef RELAYQ_VERSION
#define RELAYQ_VERSION "unknown"
#endif

/* The longest --watch sleeps without looking at the queue again. */
#define WATCH_MAX_SLEEP	300
/* Age of a tmp/ file no writer holds before a flush removes it. */
#define SWEEP_AGE	3600

static volatile sig_atomic_t	stop_flag;
static volatile sig_atomic_t	reload_flag;
/* Self-pipe: a signal that comes just before poll(2) still wakes it. */
static int			sig_pipe[2] = { -1, -1 };

static void
wake(void)
{
	int saved = errno;

	if (sig_pipe[1] >= 0)
		(void)write(sig_pipe[1], "x", 1);
	errno = saved;
}

static void
on_term(int sig)
{
	stop_flag = 1;
	deliver_signal_workers(sig);
	wake();
}

static void
on_hup(int sig)
{
	(void)sig;
	reload_flag = 1;
	wake();
}

/* One write per line, so the lines of parallel sessions do not mix. */
static void
trace_stderr(void *arg, const char *dir, const char *line)
{
	struct buf b;

	(void)arg;
	buf_init(&b);
	buf_addf(&b, "[%ld] %s %s\n", (long)getpid(), dir, line);
	(void)write_all(STDERR_FILENO, b.data, b.len);
	buf_free(&b);
}

static void
trace_stdout(void *arg, const char *dir, const char *line)
{
	(void)arg;
	printf("  %s %s\n", dir, line);
}

static void
notice_stderr(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "relayq-flush: %s\n", line);
}

static void
set_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a wait in poll(2) ends so the loop can look. */
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static int
load_conf(const char *cli, struct conf **out, int verbose, struct rq_err *err)
{
	char *path = NULL;
	int from_user = 0, rc;
	size_t i;

	rc = conf_find(cli, 0, &path, &from_user, err);
	if (rc != 0)
		return rc;
	if (path == NULL)
		return rq_errf(err, EX_CONFIG, "%s", CONF_MISSING_HINT);
	rc = conf_load(path, from_user, out, err);
	free(path);
	if (rc != 0)
		return rc;
	if (verbose)
		for (i = 0; i < (*out)->warnings.n; i++)
			fprintf(stderr, "relayq-flush: warning: %s\n",
			    (*out)->warnings.v[i]);
	return 0;
}

/* ---- --check ------------------------------------------------------------ */

static void
caps_line(const struct caps *c, struct buf *b)
{
	size_t i;

	if (c->pipelining)
		buf_addstr(b, " PIPELINING");
	if (c->starttls)
		buf_addstr(b, " STARTTLS");
	if (c->size) {
		if (c->size_max > 0)
			buf_addf(b, " SIZE=%lld", c->size_max);
		else
			buf_addstr(b, " SIZE");
	}
	if (c->eightbitmime)
		buf_addstr(b, " 8BITMIME");
	if (c->smtputf8)
		buf_addstr(b, " SMTPUTF8");
	if (c->dsn)
		buf_addstr(b, " DSN");
	if (c->chunking)
		buf_addstr(b, " CHUNKING");
	if (c->enhancedstatuscodes)
		buf_addstr(b, " ENHANCEDSTATUSCODES");
	if (c->auth.n > 0) {
		buf_addstr(b, " AUTH");
		for (i = 0; i < c->auth.n; i++)
			buf_addf(b, " %s", c->auth.v[i]);
	}
	if (b->len == 0)
		buf_addstr(b, " (none)");
}

static const char *
check_hint(enum smtp_stage stage, const char *msg)
{
	/* Implicit TLS fails at CONNECT, STARTTLS at its own stage. */
	if ((stage == SMTP_STAGE_CONNECT || stage == SMTP_STAGE_STARTTLS) &&
	    (strstr(msg, "certificate") != NULL ||
	    strstr(msg, "fingerprint") != NULL))
		return "the server's certificate was not accepted; if it "
		    "comes from a private CA, name it with tls_trust_file, "
		    "or pin it with tls_fingerprint";
	switch (stage) {
	case SMTP_STAGE_CONNECT:
		if (strstr(msg, "TLS") != NULL ||
		    strstr(msg, "handshake") != NULL)
			return "the TLS handshake failed: is this port "
			    "implicit TLS (465, tls_starttls off) or "
			    "STARTTLS (587, tls_starttls on)?";
		return "no connection: check host and port, DNS, and any "
		    "firewall in between";
	case SMTP_STAGE_GREETING:
		return "the server does not accept our connection now";
	case SMTP_STAGE_EHLO:
		return "the server rejected our greeting; check the "
		    "\"domain\" key";
	case SMTP_STAGE_STARTTLS:
		if (strstr(msg, "does not offer") != NULL)
			return "this port does not offer STARTTLS; for "
			    "implicit TLS use port 465 with tls_starttls "
			    "off; \"tls off\" only on a trusted network";
		if (strstr(msg, "injection") != NULL)
			return "data arrived that the server should not have "
			    "sent: someone between us and the server may be "
			    "tampering with the connection";
		return "TLS could not be started";
	case SMTP_STAGE_AUTH:
		return "check user and password (or passwordeval), and the "
		    "auth mechanism";
	case SMTP_STAGE_READY:
		break;
	}
	return "";
}

/*
 * The TXT record as a zone file line: character-strings of at most 255
 * octets (RFC 1035 section 3.3), which an RSA-2048 record exceeds.
 */
static void
zone_line(const char *name, const char *value, struct buf *b)
{
	size_t n = strlen(value), i;

	buf_addf(b, "%s. IN TXT (", name);
	for (i = 0; i < n; i += 250)
		buf_addf(b, " \"%.*s\"", (int)(n - i < 250 ? n - i : 250),
		    value + i);
	buf_addstr(b, " )");
}

/* --check's DKIM part: the key, a signature made and verified, the TXT. */
static int
check_dkim(const struct account *a)
{
	struct dkim_signer *ds = NULL;
	struct rq_err err;
	struct buf b;
	char *name = NULL, *value = NULL;

	if (deliver_dkim_signer(a, &ds, &err) != 0) {
		printf("DKIM problem: %s\n", err.msg);
		printf("hint: the key must be a PEM file made for example "
		    "with certtool --generate-privkey --key-type=ed25519 (or "
		    "rsa --bits=2048), owned by the user relayq-flush runs "
		    "as, mode 600; until it loads, this account's mail stays "
		    "queued\n");
		return EX_CONFIG;
	}
	printf("DKIM: signing as d=%s s=%s with %s (", dkim_signer_domain(ds),
	    dkim_signer_selector(ds), dkim_signer_algorithm(ds));
	if (strcmp(dkim_signer_algorithm(ds), "rsa-sha256") == 0)
		printf("%u-bit RSA", dkim_signer_bits(ds));
	else
		printf("Ed25519");
	printf(" key %s)\n", a->dkim_key);
	printf("DKIM: c=%s/%s, ",
	    dkim_canon_name((enum dkim_canon)a->dkim_hcanon),
	    dkim_canon_name((enum dkim_canon)a->dkim_bcanon));
	if (a->dkim_expire > 0)
		printf("signatures expire %llds after signing (x=)\n",
		    a->dkim_expire);
	else
		printf("signatures do not expire (no x=)\n");
	printf("DKIM: fields signed (+: oversigned): %s\n",
	    dkim_signer_headers(ds));
	if (dkim_signer_selftest(ds, &err) != 0) {
		printf("DKIM problem: %s\n", err.msg);
		dkim_signer_free(ds);
		return EX_CONFIG;
	}
	printf("DKIM: key ok: a test signature verifies with its public "
	    "key\n");
	if (dkim_signer_txt(ds, &name, &value, &err) != 0) {
		printf("DKIM problem: %s\n", err.msg);
		dkim_signer_free(ds);
		return EX_CONFIG;
	}
	printf("DKIM: publish this TXT record (receivers look it up to "
	    "verify):\n");
	printf("  name:  %s\n", name);
	printf("  value: %s\n", value);
	buf_init(&b);
	zone_line(name, value, &b);
	printf("  zone file: %s\n", b.data);
	if (strcmp(dkim_signer_algorithm(ds), "ed25519-sha256") == 0)
		printf("hint: not every receiver verifies ed25519-sha256 "
		    "yet (RFC 8463); an RSA key is the safe choice for a "
		    "single signature\n");
	else if (dkim_signer_bits(ds) < 2048)
		printf("hint: RFC 8301 recommends RSA keys of 2048 bits\n");
	buf_free(&b);
	free(name);
	free(value);
	dkim_signer_free(ds);
	return EX_OK;
}

static int
check_account(const struct conf *conf, const char *name, int verbose)
{
	const struct account *a;
	struct smtp_params p;
	struct smtp *s = NULL;
	struct tls_ctx *tls = NULL;
	enum smtp_stage stage;
	struct rq_err err;
	struct buf b;
	char *pw = NULL, *ehlo;
	size_t h;
	int rc, worst = EX_OK;

	a = name != NULL ? conf_account(conf, name) :
	    conf_default_account(conf);
	if (a == NULL) {
		if (name != NULL)
			fprintf(stderr, "relayq-flush: no account %s in %s\n",
			    name, conf->path != NULL ? conf->path :
			    "the configuration");
		else
			fprintf(stderr, "relayq-flush: no account in %s\n",
			    conf->path != NULL ? conf->path :
			    "the configuration (none was found)");
		return EX_CONFIG;
	}
	printf("account %s (%s:%d)\n", a->name, a->file != NULL ? a->file :
	    "?", a->line);
	if (a->dkim_domain != NULL)
		worst = check_dkim(a);
	if (a->hosts.n == 0) {
		printf("problem: the account has no host\n");
		return EX_CONFIG;
	}
	if (a->tls && tls_ctx_new(a, &tls, &err) != 0) {
		printf("problem: %s\n", err.msg);
		return EX_CONFIG;
	}
	if (auth_wanted(a) && conf_password(a, &pw, &err) != 0) {
		printf("problem: %s\n", err.msg);
		tls_ctx_free(tls);
		return EX_CONFIG;
	}
	ehlo = deliver_our_name(a);
	buf_init(&b);
	for (h = 0; h < a->hosts.n; h++) {
		memset(&p, 0, sizeof(p));
		p.acct = a;
		p.host = a->hosts.v[h];
		p.tls = tls;
		p.ehlo = ehlo;
		p.password = pw;
		p.check = 1;
		if (verbose)
			p.trace = trace_stdout;
		printf("\nhost %s port %d, %s\n", p.host, conf_port(a),
		    !a->tls ? "no TLS (tls off)" : conf_implicit_tls(a) ?
		    "implicit TLS" : "STARTTLS");
		rc = smtp_open(&p, &s, &stage, &err);
		if (s != NULL) {
			printf("connected: %s\n", smtp_peer(s));
			printf("greeting: %s\n", smtp_greeting(s));
			buf_reset(&b);
			caps_line(smtp_caps(s), &b);
			printf("capabilities:%s\n", b.data);
			if (smtp_tls_version(s) != NULL) {
				buf_reset(&b);
				smtp_describe_tls(s, &b);
				printf("TLS:\n%s", b.data);
				if (b.len > 0 && b.data[b.len - 1] != '\n')
					printf("\n");
			}
		}
		if (rc == 0) {
			if (smtp_auth_mech(s) != NULL)
				printf("authentication: ok (%s as %s)\n",
				    smtp_auth_mech(s), a->user != NULL ?
				    a->user : "?");
			else
				printf("authentication: not configured\n");
			printf("result: ok, %s is ready to relay mail\n",
			    p.host);
			smtp_close(s);
			s = NULL;
			continue;
		}
		printf("problem: %s\n", err.msg);
		printf("hint: %s\n", check_hint(stage, err.msg));
		if (s != NULL) {
			smtp_close(s);
			s = NULL;
		}
		if (worst == EX_OK)
			worst = stage == SMTP_STAGE_AUTH ? EX_CONFIG :
			    EX_TEMPFAIL;
	}
	buf_free(&b);
	free(ehlo);
	free_secret(pw);
	tls_ctx_free(tls);
	return worst;
}

/* ---- coalescing plain runs ------------------------------------------------- */

/*
 * relayq starts a plain relayq-flush after every submission, so a burst
 * of cron jobs would start a burst of flushes, each opening sessions.
 * Plain runs coalesce instead: one holds QUEUE/flush.lock and runs again
 * as long as QUEUE/flush.again appears; a run that finds the lock taken
 * leaves that note and exits 0.  (Per-message locks, not this, are what
 * keeps two flushes from sending one message; --all, --id, -a and
 * --watch runs never leave a note in place of running.)
 */
static void
add_stats(struct deliver_stats *tot, const struct deliver_stats *st)
{
	tot->sent += st->sent;
	tot->deferred += st->deferred;
	tot->failed += st->failed;
	tot->queued += st->queued;
	tot->config_error |= st->config_error;
	if (st->next_due != 0 && (tot->next_due == 0 ||
	    st->next_due < tot->next_due))
		tot->next_due = st->next_due;
}

static void
touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);

	if (fd >= 0)
		close(fd);
}

/*
 * Did a message arrive while the last pass ran (an ID in the queue now that
 * was not there before it)?  A flush started by systemd's path unit is the
 * only one for the system queue: the unit does not start a second while it
 * runs, so this pass must pick up what came in meanwhile.  The bounces
 * and relayed notices the pass queued itself (own) are new IDs too but
 * not arrivals: they wait for the next run, as they always have.  Both
 * lists are sorted, so one merge walk counts.
 */
static int
arrived_since(struct queue *q, const struct strlist *before, unsigned own)
{
	struct strlist now = { 0 };
	struct rq_err e;
	size_t i = 0, k = 0, fresh = 0;

	if (queue_list(q, 0, &now, &e) != 0)
		return 0;
	while (k < now.n) {
		int c = i < before->n ? strcmp(before->v[i], now.v[k]) : 1;

		if (c <= 0)
			i++;
		if (c >= 0) {
			fresh += c > 0;
			k++;
		}
	}
	strlist_free(&now);
	return fresh > own;
}

static int
run_coalesced(struct queue *q, const struct deliver_opts *o,
    struct deliver_stats *tot, struct rq_err *err)
{
	struct deliver_stats st;
	char *lockpath, *again;
	int lfd, rc = 0, more;

	memset(tot, 0, sizeof(*tot));
	lockpath = xasprintf("%s/flush.lock", queue_path(q));
	again = xasprintf("%s/flush.again", queue_path(q));
	lfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0) {
		/* No coalescing possible: just run. */
		rc = deliver_run(q, o, tot, err);
		goto out;
	}
	for (;;) {
		if (flock(lfd, LOCK_EX | LOCK_NB) != 0) {
			touch(again);
			/* Taken again after the note: the holder may have
			   let go just before it; else it will see the note. */
			if (flock(lfd, LOCK_EX | LOCK_NB) != 0)
				break;
		}
		do {
			struct strlist before = { 0 };
			struct rq_err e;

			(void)unlink(again);
			if (queue_list(q, 0, &before, &e) != 0)
				strlist_free(&before);
			rc = deliver_run(q, o, &st, err);
			add_stats(tot, &st);
			more = rc == 0 && !stop_flag &&
			    (access(again, F_OK) == 0 ||
			    arrived_since(q, &before, st.queued));
			strlist_free(&before);
		} while (more);
		(void)flock(lfd, LOCK_UN);
		/* A note left between our last look and the unlock. */
		if (rc != 0 || stop_flag || access(again, F_OK) != 0)
			break;
	}
	close(lfd);
out:
	free(lockpath);
	free(again);
	return rc;
}

/*
 * What a crashed submission left in tmp/ is never read; remove it once no
 * writer holds it and it is an hour old (queue_sweep).  A failure here
 * stops no delivery.
 */
static void
sweep_tmp(struct queue *q)
{
	struct rq_err err;
	int removed;

	if (queue_sweep(q, SWEEP_AGE, &removed, &err) != 0)
		log_line(LOG_WARNING, "%s", err.msg);
	else if (removed > 0)
		log_line(LOG_INFO, "removed %d file%s left in %s/tmp by "
		    "interrupted submissions", removed, removed == 1 ? "" : "s",
		    queue_path(q));
}

/* ---- --watch ------------------------------------------------------------ */

static int
watch(struct conf **confp, const char *cfgfile, struct queue *q,
    struct deliver_opts *o, int verbose)
{
	struct deliver_stats st;
	struct rq_err err;
	struct pollfd pfd[2];
	char *dir, *lock, *again, evbuf[4096] __attribute__((aligned(8)));
	long long wait, next_sweep = 0;
	int ifd, lfd, rc, ms;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		sig_pipe[0] = sig_pipe[1] = -1;
	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0) {
		fprintf(stderr, "relayq-flush: inotify: %s\n",
		    strerror(errno));
		return EX_OSERR;
	}
	dir = xasprintf("%s/msg", queue_path(q));
	if (inotify_add_watch(ifd, dir, IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		fprintf(stderr, "relayq-flush: watching %s: %s\n", dir,
		    strerror(errno));
		free(dir);
		close(ifd);
		return EX_OSERR;
	}
	free(dir);
	/* Plain runs leave notes instead of running beside us. */
	lock = xasprintf("%s/flush.lock", queue_path(q));
	again = xasprintf("%s/flush.again", queue_path(q));
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(lock);
	if (lfd >= 0)
		while (flock(lfd, LOCK_EX) != 0 && errno == EINTR &&
		    !stop_flag)
			;
	log_line(LOG_INFO, "watching %s", queue_path(q));
	while (!stop_flag) {
		if (reload_flag) {
			struct conf *nc = NULL;

			reload_flag = 0;
			if (load_conf(cfgfile, &nc, verbose, &err) != 0) {
				log_line(LOG_ERR, "SIGHUP: keeping the old "
				    "configuration: %s", err.msg);
			} else {
				conf_free(*confp);
				*confp = nc;
				o->conf = nc;
				log_line(LOG_INFO, "configuration reread");
			}
		}
		if (rq_now() >= next_sweep) {
			sweep_tmp(q);
			next_sweep = rq_now() + SWEEP_AGE;
		}
		/* Notes of plain runs are moot: inotify told us. */
		(void)unlink(again);
		rc = deliver_run(q, o, &st, &err);
		if (rc != 0)
			log_line(LOG_ERR, "%s", err.msg);
		if (stop_flag)
			break;
		wait = WATCH_MAX_SLEEP;
		if (st.next_due != 0) {
			wait = st.next_due - rq_now();
			if (wait < 0)
				wait = 0;
			if (wait > WATCH_MAX_SLEEP)
				wait = WATCH_MAX_SLEEP;
		}
		ms = (int)wait * 1000;
		if (ms == 0)
			ms = 1000;	/* due now but locked elsewhere */
		pfd[0].fd = ifd;
		pfd[0].events = POLLIN;
		pfd[1].fd = sig_pipe[0];
		pfd[1].events = POLLIN;
		rc = poll(pfd, sig_pipe[0] >= 0 ? 2 : 1, ms);
		if (rc > 0) {
			/* Drain; the next run looks at the whole queue. */
			while (read(ifd, evbuf, sizeof(evbuf)) > 0)
				;
			while (sig_pipe[0] >= 0 &&
			    read(sig_pipe[0], evbuf, sizeof(evbuf)) > 0)
				;
		}
	}
	close(ifd);
	if (lfd >= 0)
		close(lfd);
	free(again);
	log_line(LOG_INFO, "stopping on signal");
	return EX_OK;
}

/* ---- the queue ------------------------------------------------------------ */

/*
 * A run only reads until it finds work, so it creates nothing in a queue
 * that does not exist yet (or lacks msg/): there, nothing can be due, and
 * *out is NULL with 0 returned.  Writes (state, failed/) make what they
 * need (queue.h, QUEUE_READ).  --watch must watch msg/, so it makes the
 * queue, as a submission would.  --id names a message that must be there.
 */
static int
open_queue(const char *dir, int dowatch, const char *id, struct queue **out,
    struct rq_err *err)
{
	struct qmsg *m;
	int ex;

	ex = queue_open(dir, dowatch ? QUEUE_CREATE : QUEUE_READ, out, err);
	if (ex == 0 && id != NULL) {
		ex = queue_msg_open(*out, id, 0, &m, err);
		queue_msg_close(m);
	}
	if (ex == 0 && id == NULL && !dowatch && queue_absent(*out)) {
		queue_close(*out);
		*out = NULL;
	}
	return ex;
}

/* ---- main ----------------------------------------------------------------- */

int
main(int argc, const char **argv)
{
	char *cfgfile = NULL, *account = NULL, *check = NULL, *id = NULL;
	char *qdir = NULL;
	int all = 0, verbose = 0, dowatch = 0, version = 0, docheck = 0;
	int rc, ex;
	struct conf *conf = NULL;
	struct queue *q = NULL;
	struct deliver_opts o;
	struct deliver_stats st;
	struct rq_err err;
	poptContext pc;
	struct poptOption opts[] = {
		{ NULL, 'C', POPT_ARG_STRING, &cfgfile, 0,
		  "read the configuration from FILE", "FILE" },
		{ "account", 'a', POPT_ARG_STRING, &account, 0,
		  "relay only the messages of account NAME", "NAME" },
		{ "all", 'q', POPT_ARG_NONE, &all, 0,
		  "relay every message now, ignoring retry backoff", NULL },
		{ "verbose", 'v', POPT_ARG_NONE, &verbose, 0,
		  "show the SMTP dialogue (AUTH data redacted) and each "
		  "outcome on standard error", NULL },
		{ "check", '\0', POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL,
		  &check, 'c', "test the connection, TLS and AUTH of "
		  "ACCOUNT (default: the default account); send nothing",
		  "ACCOUNT" },
		{ "watch", '\0', POPT_ARG_NONE, &dowatch, 0,
		  "stay running: relay new mail at once, retry on schedule",
		  NULL },
		{ "id", '\0', POPT_ARG_STRING, &id, 0,
		  "relay only message ID, ignoring backoff", "ID" },
		{ "queue-dir", '\0', POPT_ARG_STRING, &qdir, 0,
		  "use the queue in DIR instead of the configured one",
		  "DIR" },
		{ "version", '\0', POPT_ARG_NONE, &version, 0,
		  "print the version and exit", NULL },
		POPT_AUTOHELP
		POPT_TABLEEND
	};

	umask(077);
	pc = poptGetContext("relayq-flush", argc, argv, opts, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...]");
	while ((rc = poptGetNextOpt(pc)) > 0) {
		if (rc == 'c')
			docheck = 1;
	}
	ex = EX_OK;
	if (rc < -1) {
		fprintf(stderr, "relayq-flush: %s: %s\n",
		    poptBadOption(pc, POPT_BADOPTION_NOALIAS),
		    poptStrerror(rc));
		ex = EX_USAGE;
	} else if (poptPeekArg(pc) != NULL) {
		fprintf(stderr, "relayq-flush: unexpected argument: %s\n",
		    poptPeekArg(pc));
		ex = EX_USAGE;
	}
	poptFreeContext(pc);
	if (ex != EX_OK)
		goto out;
	if (version) {
		printf("relayq-flush %s\n", RELAYQ_VERSION);
		goto out;
	}
	if (id != NULL && !queue_id_valid(id)) {
		fprintf(stderr, "relayq-flush: \"%.40s\" is not a queue ID "
		    "(20 hexadecimal digits, as relayq -bp shows them)\n", id);
		ex = EX_USAGE;
		goto out;
	}

	ex = load_conf(cfgfile, &conf, verbose || docheck, &err);
	if (ex != 0) {
		fprintf(stderr, "relayq-flush: %s\n", err.msg);
		goto out;
	}
	if (docheck) {
		ex = check_account(conf, check != NULL ? check : account,
		    verbose);
		goto out;
	}
	if (account != NULL && conf_account(conf, account) == NULL) {
		fprintf(stderr, "relayq-flush: no account %s in %s\n",
		    account, conf->path != NULL ? conf->path :
		    "the configuration");
		ex = EX_CONFIG;
		goto out;
	}
	ex = open_queue(qdir != NULL ? qdir : conf->queue_dir, dowatch, id,
	    &q, &err);
	if (ex != 0) {
		fprintf(stderr, "relayq-flush: %s\n", err.msg);
		goto out;
	}
	if (q == NULL) {
		if (verbose)
			fprintf(stderr, "relayq-flush: the queue is empty; "
			    "nothing was due\n");
		goto out;
	}

	set_signals();
	memset(&o, 0, sizeof(o));
	o.conf = conf;
	o.account = account;
	o.only_id = id;
	o.all = all;
	o.verbose = verbose;
	o.notice = notice_stderr;
	o.stop = &stop_flag;
	if (verbose)
		o.trace = trace_stderr;

	log_setup("relayq-flush", conf_default_account(conf));
	if (dowatch) {
		ex = watch(&conf, cfgfile, q, &o, verbose);
	} else {
		sweep_tmp(q);
		if (!all && id == NULL && account == NULL)
			rc = run_coalesced(q, &o, &st, &err);
		else
			rc = deliver_run(q, &o, &st, &err);
		if (rc != 0) {
			fprintf(stderr, "relayq-flush: %s\n", err.msg);
			ex = rc;
		} else if (st.config_error) {
			ex = EX_CONFIG;
		} else {
			ex = ex_for_flush(st.sent, st.deferred, st.failed);
		}
		if (verbose)
			fprintf(stderr, "relayq-flush: %u sent, %u deferred, "
			    "%u failed\n", st.sent, st.deferred, st.failed);
	}
	log_close();
out:
	if (q != NULL)
		queue_close(q);
	if (conf != NULL)
		conf_free(conf);
	/* popt's copies of the option arguments. */
	free(cfgfile);
	free(account);
	free(check);
	free(id);
	free(qdir);
	return ex;
}
