/*
 * rq-testsmtpd -- command line, listener and the process per connection.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * usage: rq-testsmtpd -o OUTDIR [-s SCRIPT] [-e LINE]... [-p PORTFILE]
 *                     [-6] [-v] [-n MAX_SESSIONS] [-t IDLE_SECONDS]
 *
 * Listens on 127.0.0.1 (or ::1 with -6) on a port chosen by the kernel and
 * writes the port to PORTFILE (default OUTDIR/port) once it accepts
 * connections, so tests never race for a fixed port.  Each connection is
 * served by a forked child, so sessions run concurrently and one stuck
 * session cannot hold up the next.  SIGTERM ends the children and then the
 * server, with status 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <popt.h>

#include "smtpd.h"

#define MAX_CHILDREN	512

static volatile sig_atomic_t	stop_flag;

static void
on_term(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
on_chld(int sig)
{
	/* Only here to interrupt poll(2); children are reaped in the loop. */
	(void)sig;
}

static void
set_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_chld;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static void
child_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
}

static int
listen_on(int v6, int *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		sd_die("socket: %s", strerror(errno));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0)
		sd_die("bind: %s", strerror(errno));
	if (listen(fd, 128) != 0)
		sd_die("listen: %s", strerror(errno));
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		sd_die("getsockname: %s", strerror(errno));
	*port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* Write the port through a rename, so a reader never sees half a number. */
static void
write_port(const char *path, int port)
{
	struct sbuf tmp = { 0 };
	char num[32];
	int fd, n;

	sbuf_addf(&tmp, "%s.tmp", path);
	n = snprintf(num, sizeof(num), "%d\n", port);
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || sd_write_all(fd, num, (size_t)n) != 0 || close(fd) != 0 ||
	    rename(tmp.data, path) != 0)
		sd_die("%s: %s", path, strerror(errno));
	sbuf_free(&tmp);
}

struct children {
	pid_t	pid[MAX_CHILDREN];
	size_t	n;
};

static void
reap(struct children *ch, int block, double *last)
{
	pid_t pid;
	int st;
	size_t i;

	for (;;) {
		pid = waitpid(-1, &st, block ? 0 : WNOHANG);
		if (pid <= 0)
			break;
		for (i = 0; i < ch->n; i++)
			if (ch->pid[i] == pid) {
				ch->pid[i] = ch->pid[--ch->n];
				break;
			}
		if (WIFSIGNALED(st) && WTERMSIG(st) != SIGTERM)
			sd_warn("session process %ld died of signal %d",
			    (long)pid, WTERMSIG(st));
		*last = sd_now();
		if (block && ch->n == 0)
			break;
	}
}

int
main(int argc, const char **argv)
{
	static struct sd_script script;
	char *script_path = NULL, *outdir = NULL, *portfile = NULL;
	char *exec_line = NULL;
	struct sbuf pfbuf = { 0 };
	int v6 = 0, max_sessions = -1, lfd, port, opt, accepted = 0, elines = 0;
	double idle = -1, last;
	struct children ch = { .n = 0 };
	struct poptOption opts[] = {
		{ "script", 's', POPT_ARG_STRING, &script_path, 0,
		  "script file", "FILE" },
		{ "exec", 'e', POPT_ARG_STRING, &exec_line, 'e',
		  "one script line (repeatable, after the file)", "LINE" },
		{ "outdir", 'o', POPT_ARG_STRING, &outdir, 0,
		  "directory for transcripts and messages", "DIR" },
		{ "port-file", 'p', POPT_ARG_STRING, &portfile, 0,
		  "where to write the port (default OUTDIR/port)", "FILE" },
		{ "ipv6", '6', POPT_ARG_NONE, &v6, 0,
		  "listen on ::1 instead of 127.0.0.1", NULL },
		{ "verbose", 'v', POPT_ARG_NONE, NULL, 'v',
		  "log commands and replies to stderr", NULL },
		{ "max-sessions", 'n', POPT_ARG_INT, &max_sessions, 0,
		  "exit after N sessions have ended", "N" },
		{ "idle-timeout", 't', POPT_ARG_DOUBLE, &idle, 0,
		  "exit after SECS without any connection", "SECS" },
		POPT_AUTOHELP
		POPT_TABLEEND
	};
	poptContext pc;
	char **pending = NULL;
	int npending = 0, i;

	pc = poptGetContext("rq-testsmtpd", argc, argv, opts, 0);
	for (;;) {
		opt = poptGetNextOpt(pc);
		if (opt <= 0)
			break;
		if (opt == 'v')
			sd_verbose++;
		else if (opt == 'e') {
			pending = sd_realloc(pending,
			    (size_t)(npending + 1) * sizeof(*pending));
			pending[npending++] = exec_line;
			exec_line = NULL;
		}
	}
	if (opt < -1)
		sd_die("%s: %s", poptBadOption(pc, POPT_BADOPTION_NOALIAS),
		    poptStrerror(opt));
	if (poptPeekArg(pc) != NULL)
		sd_die("unexpected argument '%s'", poptPeekArg(pc));
	if (outdir == NULL)
		sd_die("-o OUTDIR is required");
	if (mkdir(outdir, 0755) != 0 && errno != EEXIST)
		sd_die("%s: %s", outdir, strerror(errno));

	if (script_path != NULL)
		script_load(&script, script_path);
	for (i = 0; i < npending; i++)
		script_line(&script, pending[i], "-e", ++elines);
	script_finish(&script);
	if (max_sessions >= 0)
		script.max_sessions = max_sessions;
	if (idle >= 0)
		script.idle_timeout = idle;

	tls_setup(&script);
	auth_setup();
	sd_msg_counter = mmap(NULL, sizeof(*sd_msg_counter),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sd_msg_counter == MAP_FAILED)
		sd_die("mmap: %s", strerror(errno));
	*sd_msg_counter = 0;

	set_signals();
	lfd = listen_on(v6, &port);
	if (portfile == NULL)
		sbuf_addf(&pfbuf, "%s/port", outdir);
	else
		sbuf_addstr(&pfbuf, portfile);
	write_port(pfbuf.data, port);
	sd_log("listening on %s port %d", v6 ? "::1" : "127.0.0.1", port);

	last = sd_now();
	while (!stop_flag) {
		struct pollfd pfd = { lfd, POLLIN, 0 };
		int timeout = 1000, r, fd;
		pid_t pid;

		reap(&ch, 0, &last);
		if (script.max_sessions > 0 && accepted >= script.max_sessions) {
			if (ch.n == 0)
				break;
			pfd.fd = -1;	/* stop accepting, wait for the rest */
		}
		if (script.idle_timeout > 0 && ch.n == 0) {
			double left = last + script.idle_timeout - sd_now();

			if (left <= 0) {
				sd_log("idle for %.1fs, exiting",
				    script.idle_timeout);
				break;
			}
			if (left * 1000 < timeout)
				timeout = (int)(left * 1000) + 1;
		}
		r = poll(&pfd, 1, timeout);
		if (r <= 0 || !(pfd.revents & POLLIN))
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (ch.n == MAX_CHILDREN) {
			sd_warn("too many sessions at once; closing one");
			close(fd);
			continue;
		}
		accepted++;
		last = sd_now();
		pid = fork();
		if (pid < 0) {
			sd_warn("fork: %s", strerror(errno));
			close(fd);
			continue;
		}
		if (pid == 0) {
			struct timeval tv;

			close(lfd);
			child_signals();
			/* A client that stops reading must not pin us forever. */
			tv.tv_sec = (time_t)script.read_timeout;
			tv.tv_usec = 0;
			(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
			    sizeof(tv));
			session_run(fd, accepted, &script, outdir);
			_exit(0);
		}
		ch.pid[ch.n++] = pid;
		close(fd);
	}
	close(lfd);
	if (stop_flag)
		for (size_t k = 0; k < ch.n; k++)
			kill(ch.pid[k], SIGTERM);
	if (ch.n > 0)
		reap(&ch, 1, &last);
	/* popt hands string arguments over to us. */
	for (i = 0; i < npending; i++)
		free(pending[i]);
	free(pending);
	free(script_path);
	free(outdir);
	free(portfile);
	sbuf_free(&pfbuf);
	poptFreeContext(pc);
	sd_log("exiting");
	return 0;
}
