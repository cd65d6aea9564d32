/*
 * relayq -- the configuration: msmtp's file syntax plus relayq's own keys.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Syntax (msmtp's): "defaults", "account NAME", "account NAME : BASE[,BASE2]",
 * "account default : NAME", then "key value" lines, '#' comments, blank
 * lines (a '#' only starts a comment at the start of a line, so values may
 * hold it).  A value that begins and ends with '"' loses that one pair of
 * quotes and nothing else is special (msmtp's rule: backslashes are
 * literal).  Lines are at most 4096 octets.  Keys that follow "defaults"
 * are inherited by every account defined after it; "account X : B,C"
 * starts X with the defaults, then B's settings, then C's, then its own
 * lines.  Lines before the first section form the account "default", as
 * in msmtp (queue_dir there is global instead).  A key given twice in one
 * section: the later wins, with a warning.  An empty value switches a key
 * off or unsets it, except that on/off keys read it as "on" (msmtp).
 *
 * Search order (conf_find): -C FILE, $RELAYQ_CONFIG,
 * $XDG_CONFIG_HOME/relayq/config (~/.config/relayq/config), ~/.msmtprc,
 * SYSCONFDIR/relayq.conf.  All but the last count as "from the user".
 *
 * Where relayq's keys and defaults differ from msmtp's: doc/configuration.md
 * and relayq.conf(5).
 */
#ifndef RELAYQ_CONF_H
#define RELAYQ_CONF_H

#include <stddef.h>

#include "status.h"
#include "util.h"

/* The longest warm-up schedule ("warmup" key): days. */
#define WARMUP_DAYS_MAX	366

/* Tri-state header keys: msmtp's auto/on/off. */
enum hdr_mode {
	HDR_OFF = 0,
	HDR_ON = 1,
	HDR_AUTO = 2,
};

struct account {
	char		*name;
	char		*file;		/* where it was defined, for messages */
	int		 line;

	/* The smart host(s), in failover order ("host a b c" or "host a,b"). */
	struct strlist	 hosts;
	int		 port;		/* 0: 465 for implicit TLS, 587 for
					   STARTTLS, 25 with tls off */
	int		 tls;		/* default 1: TLS is on */
	int		 tls_starttls;	/* 1 STARTTLS, 0 implicit TLS; default:
					   0 when port is 465, else 1 */
	int		 tls_starttls_set; /* was tls_starttls written out? */
	char		*tls_trust_file; /* NULL: the system store; "": no CA
					   trusted (only with tls_fingerprint
					   or tls_certcheck off); else a path */
	char		*tls_crl_file;
	char		*tls_fingerprint; /* "AA:BB:..." SHA-256 (32 bytes),
					   upper case, always with colons */
	char		*tls_cert_file;	/* both set, or neither */
	char		*tls_key_file;
	int		 tls_certcheck;	/* default 1 */
	char		*tls_priorities;
	char		*tls_host_override;

	char		*auth;		/* NULL/"off", "on", or a mechanism name
					   in upper case ("SCRAM-SHA-256") */
	char		*user;
	char		*password;	/* secret: wiped by conf_free */
	char		*passwordeval;
	int		 auth_plaintext; /* relayq's allow_plaintext_auth key:
					   AUTH allowed without TLS */

	char		*from;		/* envelope sender; may hold wildcards
					   (*, ?) for account selection */
	char		*from_full_name;
	int		 allow_from_override; /* default 1 */
	char		*domain;	/* EHLO name and Message-ID domain;
					   default: gethostname(); never NULL
					   after conf_load */
	int		 timeout;	/* seconds per command (at most a
					   day); 0 ("off"): built-in RFC 5321
					   defaults */
	char		*source_ip;
	char		*logfile;
	char		*syslog;	/* NULL: on with LOG_MAIL; "off";
					   "on"; or a facility name, one of
					   "LOG_USER", "LOG_MAIL", "LOG_DAEMON",
					   "LOG_LOCAL0".."LOG_LOCAL7" */
	char		*aliases;
	char		*dsn_notify;	/* NULL (off), "never", or a list of
					   success,failure,delay (lower case,
					   no spaces, no duplicates) */
	char		*dsn_return;	/* NULL (off), "headers" or "full" */

	enum hdr_mode	 set_from_header;	/* default HDR_AUTO */
	enum hdr_mode	 set_date_header;	/* default HDR_AUTO */
	enum hdr_mode	 set_msgid_header;	/* default HDR_AUTO */
	int		 remove_bcc_headers;	/* default 1 */
	char		*undisclosed_recipients; /* msmtp's set_to_header /
					   undisclosed_recipients: NULL, or the
					   header value to add, which is
					   "undisclosed-recipients:;" */

	/* relayq's own keys. */
	char		*qualify_domain;
	int		 connections;		/* default 4, 1..64 */
	int		 max_messages_per_connection; /* 0: unlimited */
	int		 rate_limit_count;	/* 0: no limit */
	long long	 rate_limit_period;	/* seconds; "100/1h" */
	long long	 retry_min;		/* default 60 */
	long long	 retry_max;		/* default 3600 */
	long long	 max_queue_time;	/* default 5 days */
	int		 bounce;		/* default 1; "bounce off" keeps
						   failed mail in failed/ */
	char		*bounce_to;		/* "bounce ADDRESS": send bounces
						   there instead of the sender */
	long long	*warmup;		/* messages per day for day 1, 2,
						   ...; after the last, unlimited
						   (acctstate.h) */
	size_t		 nwarmup;		/* 0: no warm-up */

	/* DKIM signing at flush time (dkim.h): on with dkim_domain. */
	char		*dkim_domain;		/* d=; NULL: no signing */
	char		*dkim_selector;		/* s= */
	char		*dkim_key;		/* PEM file: only relayq-flush
						   opens it, never relayq */
	char		*dkim_headers;		/* NULL: dkim_default_headers() */
	int		 dkim_hcanon;		/* enum dkim_canon, default */
	int		 dkim_bcanon;		/*   relaxed/relaxed */
	long long	 dkim_expire;		/* x= after this; 0: none */
};

struct conf {
	char		 *path;		/* the file read; NULL when none */
	int		  from_user;	/* path was the user's (see above) */
	char		 *queue_dir;	/* global key, or the default */
	struct account	**accounts;	/* in file order.  "account default : X"
					   with no lines of its own is only a
					   name for X and is not listed; an
					   account "default" with settings of
					   its own is */
	size_t		  naccounts;
	char		 *default_account; /* name, or NULL */
	struct strlist	  warnings;	/* "FILE:LINE: KEY: what", for the
					   caller to print (obsolete or ignored
					   msmtp keys, keys set twice, unsafe
					   settings such as tls_certcheck off) */
};

/*
 * Find the configuration file.  cli is -C's argument or NULL.  When setgid
 * is set (a set-group-ID binary), cli and the environment are ignored and
 * only the system file is used.  On success *path is an allocated string
 * (or NULL when no file exists anywhere: not an error here) and *from_user
 * tells where it came from (0 for the system file and for none).  $HOME,
 * or the passwd entry when it is unset, locates ~; $XDG_CONFIG_HOME is used
 * when it is an absolute path.  Errors: -C or $RELAYQ_CONFIG naming a file
 * that does not exist, or a directory (EX_CONFIG).
 */
int	conf_find(const char *cli, int setgid, char **path, int *from_user,
	    struct rq_err *);
/*
 * What to say when conf_find() found no file, for both commands: which
 * file to create and where the installed example is (one line, no
 * trailing newline).
 */
#define CONF_MISSING_HINT \
	"no configuration file: create ~/.config/relayq/config (or " \
	SYSCONFDIR "/relayq.conf for the whole system); a commented " \
	"example is " DOCDIR "/relayq.conf.example, see relayq.conf(5)"

/*
 * Read and validate the file at path (NULL: no file, an empty
 * configuration with defaults).  Every key is checked now, including those
 * only relayq-flush uses; %U %H %C %M in from and domain and ~ in file
 * names are expanded now.  Refuses (EX_CONFIG) a file that holds a
 * "password" and has any group or other permission bit, or is not owned
 * by the caller (effective uid); and any file writable by everyone.
 * Error messages name "FILE:LINE: key: problem".  Unknown keys, and msmtp
 * keys unsafe to ignore (eval, proxy_host, socket, protocol lmtp, auth
 * ntlm), are errors; those safe to ignore become warnings.
 * The default queue_dir is $XDG_STATE_HOME/relayq/queue
 * (~/.local/state/relayq/queue) when from_user, else SPOOLDIR.
 * On success *out is owned by the caller (conf_free).
 */
int	conf_load(const char *path, int from_user, struct conf **out,
	    struct rq_err *);
void	conf_free(struct conf *);

/* The account named name ("default" also finds the aliased one), or NULL. */
struct account *conf_account(const struct conf *, const char *name);
/*
 * "account default : X" (X), else an account named "default" (from
 * "account default" with keys of its own, or lines before any section),
 * else the first account, else NULL.
 */
struct account *conf_default_account(const struct conf *);
/*
 * The first account whose "from" matches addr (case-insensitive domain,
 * shell wildcards * and ?), or NULL.
 */
struct account *conf_account_for_from(const struct conf *, const char *addr);

/*
 * The password: "password" if set, else the first line of passwordeval's
 * output (run with /bin/sh -c, stdin /dev/null, its exit status checked,
 * trailing CR/LF removed).  *pw is allocated; the caller frees it with
 * free_secret().  *pw is NULL when neither key is set.  Errors: EX_CONFIG.
 */
int	conf_password(const struct account *, char **pw, struct rq_err *);

/*
 * Is the account usable for relaying?  An account without a host is legal
 * in the file (it may serve only as a base for others), so this is checked
 * when an account is chosen.  Errors: EX_CONFIG "FILE:LINE: host: account
 * NAME has no host to relay to".
 */
int	conf_check_account(const struct account *, struct rq_err *);

/* The port actually used: explicit, else 465/587/25 as above. */
int	conf_port(const struct account *);
/*
 * Is this account's connection implicit TLS (SMTPS)?  tls on and either
 * tls_starttls off written out, or port 465 with tls_starttls not written.
 */
int	conf_implicit_tls(const struct account *);

#endif
