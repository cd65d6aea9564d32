/*
 * relayq -- bench-sink: the receiver of scripts/bench's TLS drains.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Postfix's smtp-sink cannot do TLS, and a real Postfix as the receiver
 * spends more on its own queue than the clients spend on TLS, so the TLS
 * drains would measure Postfix.  This is a sink in the manner of
 * smtp-sink (accept everything, keep nothing), one forked process per
 * connection so the receiver's decryption may use every core, that speaks
 * the same dialogue plain, with STARTTLS (RFC 3207) or with implicit TLS
 * (RFC 8314), and takes AUTH PLAIN (RFC 4616) for one user.  Plain and TLS
 * runs against it differ only in TLS, which is what the ratio is for.
 *
 * usage: bench-sink -p PORTFILE [-m plain|starttls|implicit]
 *        [-c CERT -k KEY] [-u USER -w PASSWORD]
 *
 * It listens on 127.0.0.1 port 0, writes the port to PORTFILE, and writes
 * one line to standard output per accepted message ("m") and per ended
 * session ("s"): lines of two octets into a pipe are atomic, so the
 * sessions' lines never mix.  SIGTERM ends it.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

enum { PLAIN, STARTTLS, IMPLICIT };

static int mode = PLAIN;
static const char *user, *pass;
static gnutls_certificate_credentials_t cred;
static gnutls_priority_t prio;
static gnutls_datum_t ticket_key;

struct sess {
	int		 fd;
	gnutls_session_t tls;
	char		 in[65536];
	size_t		 start, end;
	char		 out[4096];
	size_t		 olen;
};

static void
die(const char *what)
{
	fprintf(stderr, "bench-sink: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
tell(const char *line)
{
	(void)!write(1, line, strlen(line));
}

static int
sess_read(struct sess *s)
{
	ssize_t n;

	if (s->start > 0) {
		memmove(s->in, s->in + s->start, s->end - s->start);
		s->end -= s->start;
		s->start = 0;
	}
	if (s->end == sizeof(s->in))
		return -1;
	do {
		if (s->tls != NULL)
			n = gnutls_record_recv(s->tls, s->in + s->end,
			    sizeof(s->in) - s->end);
		else
			n = read(s->fd, s->in + s->end,
			    sizeof(s->in) - s->end);
	} while ((s->tls != NULL && (n == GNUTLS_E_AGAIN ||
	    n == GNUTLS_E_INTERRUPTED)) || (n < 0 && errno == EINTR));
	if (n <= 0)
		return -1;
	s->end += (size_t)n;
	return 0;
}

/* Replies collect until the client's input runs dry (PIPELINING). */
static int
sess_flush(struct sess *s)
{
	size_t off = 0;
	ssize_t n;

	while (off < s->olen) {
		if (s->tls != NULL)
			n = gnutls_record_send(s->tls, s->out + off,
			    s->olen - off);
		else
			n = write(s->fd, s->out + off, s->olen - off);
		if (n < 0 && (errno == EINTR || n == GNUTLS_E_AGAIN ||
		    n == GNUTLS_E_INTERRUPTED))
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	s->olen = 0;
	return 0;
}

static int
reply(struct sess *s, const char *text)
{
	size_t n = strlen(text);

	if (s->olen + n > sizeof(s->out) && sess_flush(s) != 0)
		return -1;
	memcpy(s->out + s->olen, text, n);
	s->olen += n;
	return 0;
}

static size_t
buffered(struct sess *s)
{
	return s->end - s->start + (s->tls != NULL ?
	    gnutls_record_check_pending(s->tls) : 0);
}

/* The next line (without CRLF), or NULL at the end of the session. */
static char *
getline_(struct sess *s)
{
	char *lf, *line;

	for (;;) {
		lf = memchr(s->in + s->start, '\n', s->end - s->start);
		if (lf != NULL)
			break;
		if (s->olen > 0 && sess_flush(s) != 0)
			return NULL;
		if (sess_read(s) != 0)
			return NULL;
	}
	line = s->in + s->start;
	s->start = (size_t)(lf - s->in) + 1;
	*lf = '\0';
	if (lf > line && lf[-1] == '\r')
		lf[-1] = '\0';
	return line;
}

/* Skip the message up to and including CRLF.CRLF. */
static int
data(struct sess *s)
{
	int st = 2;	/* just after CRLF */

	for (;;) {
		while (s->start < s->end) {
			char c = s->in[s->start++];

			switch (st) {
			case 0: st = c == '\r' ? 1 : 0; break;
			case 1: st = c == '\n' ? 2 : c == '\r' ? 1 : 0; break;
			case 2: st = c == '.' ? 3 : c == '\r' ? 1 : 0; break;
			case 3: st = c == '\r' ? 4 : 0; break;
			case 4:
				if (c == '\n')
					return 0;
				st = c == '\r' ? 1 : 0;
				break;
			}
		}
		if (s->olen > 0 && sess_flush(s) != 0)
			return -1;
		if (sess_read(s) != 0)
			return -1;
	}
}

static int
handshake(struct sess *s)
{
	int r;

	if (gnutls_init(&s->tls, GNUTLS_SERVER) < 0 ||
	    gnutls_priority_set(s->tls, prio) < 0 ||
	    gnutls_credentials_set(s->tls, GNUTLS_CRD_CERTIFICATE, cred) < 0 ||
	    gnutls_session_ticket_enable_server(s->tls, &ticket_key) < 0)
		return -1;
	gnutls_transport_set_int(s->tls, s->fd);
	do
		r = gnutls_handshake(s->tls);
	while (r < 0 && !gnutls_error_is_fatal(r));
	s->start = s->end = 0;
	return r < 0 ? -1 : 0;
}

static int
auth_plain(const char *b64)
{
	gnutls_datum_t in, out = { NULL, 0 };
	char want[512];
	int n, ok;

	in.data = (unsigned char *)(uintptr_t)b64;
	in.size = (unsigned)strlen(b64);
	if (gnutls_base64_decode2(&in, &out) < 0)
		return 0;
	/* authzid NUL authcid NUL passwd; an empty authzid only. */
	n = snprintf(want, sizeof(want), "%c%s%c%s", 0, user, 0, pass);
	ok = n > 0 && (unsigned)n == out.size &&
	    memcmp(out.data, want, out.size) == 0;
	gnutls_free(out.data);
	return ok;
}

static void
session(int fd)
{
	static struct sess s;
	char caps[256], *line;
	int tls_done = 0, authed = user == NULL;

	s.fd = fd;
	if (mode == IMPLICIT) {
		if (handshake(&s) != 0)
			return;
		tls_done = 1;
	}
	reply(&s, "220 bench-sink ESMTP\r\n");
	while ((line = getline_(&s)) != NULL) {
		if (strncasecmp(line, "EHLO", 4) == 0) {
			snprintf(caps, sizeof(caps), "250-bench-sink\r\n"
			    "250-PIPELINING\r\n250-SIZE 1073741824\r\n"
			    "250-8BITMIME\r\n%s%s250 ENHANCEDSTATUSCODES\r\n",
			    mode == STARTTLS && !tls_done ?
			    "250-STARTTLS\r\n" : "",
			    user != NULL && (tls_done || mode == PLAIN) ?
			    "250-AUTH PLAIN\r\n" : "");
			reply(&s, caps);
		} else if (strncasecmp(line, "STARTTLS", 8) == 0 &&
		    mode == STARTTLS && !tls_done) {
			reply(&s, "220 2.0.0 go ahead\r\n");
			if (sess_flush(&s) != 0 || buffered(&s) > 0 ||
			    handshake(&s) != 0)
				return;
			tls_done = 1;
		} else if (strncasecmp(line, "AUTH PLAIN ", 11) == 0 &&
		    user != NULL) {
			authed = auth_plain(line + 11);
			reply(&s, authed ? "235 2.7.0 ok\r\n" :
			    "535 5.7.8 no\r\n");
		} else if (strncasecmp(line, "MAIL", 4) == 0) {
			reply(&s, authed ? "250 2.1.0 ok\r\n" :
			    "530 5.7.0 authentication required\r\n");
		} else if (strncasecmp(line, "RCPT", 4) == 0) {
			reply(&s, "250 2.1.5 ok\r\n");
		} else if (strncasecmp(line, "DATA", 4) == 0) {
			reply(&s, "354 go ahead\r\n");
			if (data(&s) != 0)
				return;
			reply(&s, "250 2.0.0 ok\r\n");
			tell("m\n");
		} else if (strncasecmp(line, "QUIT", 4) == 0) {
			reply(&s, "221 2.0.0 bye\r\n");
			(void)sess_flush(&s);
			if (s.tls != NULL)
				(void)gnutls_bye(s.tls, GNUTLS_SHUT_WR);
			return;
		} else if (strncasecmp(line, "RSET", 4) == 0 ||
		    strncasecmp(line, "NOOP", 4) == 0 ||
		    strncasecmp(line, "HELO", 4) == 0) {
			reply(&s, "250 2.0.0 ok\r\n");
		} else {
			reply(&s, "502 5.5.2 no\r\n");
		}
	}
}

static void
reap(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int
main(int argc, char **argv)
{
	const char *portfile = NULL, *cert = NULL, *key = NULL;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int ch, lfd, fd, one = 1;
	FILE *f;

	while ((ch = getopt(argc, argv, "c:k:m:p:u:w:")) != -1) {
		switch (ch) {
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'm':
			mode = strcmp(optarg, "starttls") == 0 ? STARTTLS :
			    strcmp(optarg, "implicit") == 0 ? IMPLICIT : PLAIN;
			break;
		case 'p': portfile = optarg; break;
		case 'u': user = optarg; break;
		case 'w': pass = optarg; break;
		default:
			fprintf(stderr, "usage: bench-sink -p PORTFILE [-m "
			    "plain|starttls|implicit] [-c CERT -k KEY] "
			    "[-u USER -w PASSWORD]\n");
			return 64;
		}
	}
	if (portfile == NULL || (mode != PLAIN && (cert == NULL ||
	    key == NULL)) || (user != NULL) != (pass != NULL)) {
		fprintf(stderr, "bench-sink: -p is required; TLS needs -c "
		    "and -k; -u and -w go together\n");
		return 64;
	}
	if (mode != PLAIN) {
		if (gnutls_certificate_allocate_credentials(&cred) < 0 ||
		    gnutls_certificate_set_x509_key_file(cred, cert, key,
		    GNUTLS_X509_FMT_PEM) < 0 ||
		    gnutls_priority_init(&prio, "NORMAL", NULL) < 0 ||
		    gnutls_session_ticket_key_generate(&ticket_key) < 0) {
			fprintf(stderr, "bench-sink: cannot set up TLS\n");
			return 1;
		}
	}
	signal(SIGCHLD, reap);
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, 256) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) != 0)
		die("listen");
	f = fopen(portfile, "w");
	if (f == NULL || fprintf(f, "%d\n", ntohs(sin.sin_port)) < 0 ||
	    fclose(f) != 0)
		die(portfile);
	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			die("accept");
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		switch (fork()) {
		case -1:
			close(fd);
			break;
		case 0:
			close(lfd);
			signal(SIGCHLD, SIG_DFL);
			session(fd);
			tell("s\n");
			_exit(0);
		default:
			close(fd);
		}
	}
}
