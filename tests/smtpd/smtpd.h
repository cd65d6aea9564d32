/*
 * rq-testsmtpd -- the scriptable SMTP test server of relayq's test suite.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * This program is deliberately separate from src/: it must not share code
 * with the client it tests, so that a bug in a shared helper cannot hide
 * itself on both sides of the wire.  Everything it needs lives in
 * tests/smtpd/.  The script language is documented in tests/smtpd/README.md.
 *
 * Process model: the parent listens and forks one child per connection;
 * counters that must be global (message numbers) live in a shared mapping.
 */
#ifndef RQ_TESTSMTPD_H
#define RQ_TESTSMTPD_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#include <gnutls/gnutls.h>

/* ---- util.c: allocation, buffers, logging ------------------------------ */

void	*sd_malloc(size_t);
void	*sd_realloc(void *, size_t);
char	*sd_strdup(const char *);
char	*sd_strndup(const char *, size_t);

/* A growable byte buffer; data stays NUL-terminated.  Zeroed = empty. */
struct sbuf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

void	 sbuf_add(struct sbuf *, const void *, size_t);
void	 sbuf_addstr(struct sbuf *, const char *);
void	 sbuf_addf(struct sbuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 sbuf_free(struct sbuf *);

/* Write all bytes, retrying on EINTR; returns 0 or -1 with errno set. */
int	 sd_write_all(int fd, const void *, size_t);

/*
 * Decode the escapes \r \n \t \0 \\ \" \xHH of s[0..n) into out (appended).
 * Returns 0, or -1 for a malformed escape.
 */
int	 sd_unescape(struct sbuf *out, const char *s, size_t n);

/* Append a printable rendering of bytes (escapes for controls) to out. */
void	 sd_escape(struct sbuf *out, const void *, size_t, size_t max);

/* Verbosity (-v) and the session number used as a log prefix. */
extern int	sd_verbose;
extern int	sd_session_no;

/* Logging to stderr; sd_log prints only with -v.  sd_die exits 1. */
void	 sd_log(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 sd_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 sd_die(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/* Seconds (fractional) since an arbitrary origin, from CLOCK_MONOTONIC. */
double	 sd_now(void);
/* Sleep for a fractional number of seconds, resuming after signals. */
void	 sd_sleep(double);

/* ---- script.c: the test script ------------------------------------------- */

/* One piece of a raw response: data written count times (-1: forever). */
struct sd_item {
	char		*data;
	size_t		 len;
	long long	 count;
};

enum sd_kind {
	K_RESPOND,		/* reply / raw / endless / disconnect / hang */
	K_DELAY,		/* delay before responding */
	K_AFTER			/* disconnect-after: close once the reply is out */
};

enum sd_action {
	A_SEND,			/* write items */
	A_CLOSE,		/* close the connection instead of replying */
	A_HANG			/* never reply; read until the client leaves */
};

struct sd_rule {
	enum sd_kind	 kind;
	enum sd_action	 action;
	char		 verb[32];	/* upper case; GREETING, DOT, BODY, ... */
	int		 session;	/* 0: every session */
	int		 nth;		/* 0: every occurrence */
	struct sd_item	*items;
	size_t		 nitems;
	double		 delay;
	long long	 bytes;		/* disconnect BODY n */
	int		 lineno;
};

/* One EHLO capability line, e.g. "SIZE 10485760" or "AUTH PLAIN LOGIN". */
struct sd_caps {
	char	**v;
	size_t	  n;
	int	  set;		/* an ehlo directive was given */
};

struct sd_user {
	char	*name;
	char	*password;	/* NULL for an OAuth-only entry */
	char	*token;		/* XOAUTH2 / OAUTHBEARER bearer token */
};

struct sd_script {
	char		*hostname;
	struct sd_caps	 ehlo;
	struct sd_caps	 ehlo_tls;
	char		*tls_cert;
	char		*tls_key;
	char		*tls_ca;	/* request client certificates */
	char		*tls_priority;
	int		 tls_require_client_cert;
	int		 implicit_tls;
	struct sd_user	*users;
	size_t		 nusers;
	struct sd_rule	*rules;
	size_t		 nrules;
	int		 max_sessions;	/* 0: unlimited */
	double		 idle_timeout;	/* server exits when idle; 0: never */
	double		 read_timeout;	/* per connection */
	size_t		 max_line;
	long long	 max_message;
};

/* Parse a script file; exits with a message naming file:line on error. */
void	 script_load(struct sd_script *, const char *path);

/* Parse one script line (used by script_load and by -e). */
void	 script_line(struct sd_script *, const char *line, const char *file,
	    int lineno);

/* Fill defaults that depend on the whole script (e.g. EHLO capabilities). */
void	 script_finish(struct sd_script *);

/*
 * The rule of the given kind for this verb, session and occurrence, or
 * NULL.  More specific rules (with #N, with session#N) win; among equals,
 * the last one in the script.
 */
const struct sd_rule *script_find(const struct sd_script *, enum sd_kind,
	    const char *verb, int session, int nth);

/* ---- io.c: one connection, plain or TLS, with recording ---------------------- */

struct sd_conn {
	int			 fd;
	gnutls_session_t	 tls;		/* NULL in plain text */
	int			 eof;		/* the client closed or an error */
	char			 ibuf[16384];
	size_t			 ipos;
	size_t			 ilen;
	/* Recording: conn-N.in/.out (all), .in.plain/.in.tls, .out.plain/.out.tls */
	int			 rec_in;
	int			 rec_out;
	int			 rec_in_part;
	int			 rec_out_part;
	const char		*outdir;
	int			 session;
	long long		 nin;
	long long		 nout;
	double			 read_timeout;
};

/* Open the recording files of session n in dir. */
void	 conn_open_records(struct sd_conn *, const char *dir, int n);
/* Switch the .plain recording files to .tls ones (called at handshake). */
void	 conn_records_tls(struct sd_conn *);
void	 conn_close_records(struct sd_conn *);

/*
 * Read one line into out (reset first), up to and including LF, at most max
 * bytes.  Returns 1 for a complete line, 2 for a line cut at max bytes (the
 * rest follows in the next calls), 0 at EOF/timeout with nothing read.
 */
int	 conn_getline(struct sd_conn *, struct sbuf *out, size_t max);
/* Read exactly n bytes (fewer at EOF) into out (appended); returns bytes read. */
size_t	 conn_read(struct sd_conn *, struct sbuf *out, size_t n);
/* Bytes already received but not yet consumed. */
size_t	 conn_pending(const struct sd_conn *);
/* Drop what is buffered (after STARTTLS: plaintext must not leak into TLS). */
size_t	 conn_drop_pending(struct sd_conn *);
/* Write and record; returns 0 or -1 (the client went away). */
int	 conn_write(struct sd_conn *, const void *, size_t);
/* Read and discard until EOF (used by "hang"). */
void	 conn_drain(struct sd_conn *);

/* ---- tls.c -------------------------------------------------------------------- */

/* Load credentials once in the parent; exits on error. */
void	 tls_setup(const struct sd_script *);
/*
 * Handshake as a server on conn (buffer must be empty).  Appends details
 * ("tls_version=...") to info.  Returns 0 or -1.
 */
int	 tls_start(struct sd_conn *, const struct sd_script *, struct sbuf *info);
/*
 * Append the raw channel binding of the TLS session (tls-exporter, RFC
 * 9266, or tls-unique when exporter is 0) to out; returns 0 or -1.
 */
int	 tls_channel_binding(struct sd_conn *, int exporter, struct sbuf *out);
/* Whether the client presented a certificate that verified against ca=. */
int	 tls_client_verified(struct sd_conn *);
/* Send close_notify (best effort) and free the session. */
void	 tls_end(struct sd_conn *);

/* ---- auth.c ------------------------------------------------------------------- */

void	 auth_setup(void);
/*
 * Run an AUTH exchange for mech (upper case) with an optional initial
 * response; writes 334 challenges and the final 235/535/5xx reply.
 * Returns 1 on success, 0 on failure, -1 when the connection is gone.
 * Appends "auth_mech=", "auth_user=" to info on success.
 */
int	 auth_run(struct sd_conn *, const struct sd_script *, const char *mech,
	    const char *initial, struct sbuf *info);
/* Whether mech is one this server can run (gsasl or the OAuth ones). */
int	 auth_supported(const char *mech);

/* ---- session.c ----------------------------------------------------------------- */

/* Shared, cross-process counter of accepted messages. */
extern unsigned int *sd_msg_counter;

/* Serve one accepted connection as session number n; returns at the end. */
void	 session_run(int fd, int n, const struct sd_script *, const char *outdir);

#endif
