/*
 * relayq -- logging: syslog (LOG_MAIL) by default, or a logfile.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * An account's "logfile" key sends lines to that file (opened O_APPEND,
 * each line one write(2), so the lines of parallel workers never mix;
 * "-" is standard output) instead of syslog; its "syslog" key turns
 * syslog off, on, or picks the facility.  Without log_setup(), lines go
 * to syslog as LOG_MAIL.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static char	ident[64] = "relayq";
static int	log_fd = -1;		/* logfile, or -1 */
static int	close_fd;		/* log_fd is ours to close */
static int	use_syslog = 1;
static int	syslog_open;
static int	syslog_absent;	/* no /dev/log when it was opened */
static int	facility = LOG_MAIL;

static const struct {
	const char	*name;
	int		 fac;
} facilities[] = {
	{ "mail", LOG_MAIL },	{ "user", LOG_USER },
	{ "daemon", LOG_DAEMON },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	{ "LOG_MAIL", LOG_MAIL }, { "LOG_USER", LOG_USER },
	{ "LOG_DAEMON", LOG_DAEMON },
	{ "LOG_LOCAL0", LOG_LOCAL0 }, { "LOG_LOCAL1", LOG_LOCAL1 },
	{ "LOG_LOCAL2", LOG_LOCAL2 }, { "LOG_LOCAL3", LOG_LOCAL3 },
	{ "LOG_LOCAL4", LOG_LOCAL4 }, { "LOG_LOCAL5", LOG_LOCAL5 },
	{ "LOG_LOCAL6", LOG_LOCAL6 }, { "LOG_LOCAL7", LOG_LOCAL7 },
};

void
log_setup(const char *id, const struct account *a)
{
	const char *s;
	size_t i;
	int on;

	log_close();
	rq_strlcpy(ident, id != NULL ? id : "relayq", sizeof(ident));
	use_syslog = 1;
	facility = LOG_MAIL;
	if (a != NULL && a->logfile != NULL && a->logfile[0] != '\0') {
		use_syslog = 0;
		if (strcmp(a->logfile, "-") == 0) {
			log_fd = STDOUT_FILENO;
		} else {
			log_fd = open(a->logfile, O_WRONLY | O_APPEND |
			    O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
			close_fd = log_fd >= 0;
			if (log_fd < 0)
				use_syslog = 1;	/* better than nothing */
		}
	}
	s = a != NULL ? a->syslog : NULL;
	if (s != NULL) {
		if (parse_onoff(s, &on) == 0) {
			use_syslog = on || log_fd < 0;
		} else {
			use_syslog = 1;
			for (i = 0; i < RQ_ARRAY_LEN(facilities); i++)
				if (strcmp(s, facilities[i].name) == 0)
					facility = facilities[i].fac;
		}
	}
}

void
log_line(int priority, const char *fmt, ...)
{
	char msg[2048], date[40], line[2200];
	va_list ap;
	size_t i;
	int n;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One event, one line, whatever a server put in its reply. */
	for (i = 0; msg[i] != '\0'; i++)
		if (rq_iscntrl((unsigned char)msg[i]))
			msg[i] = '?';
	if (use_syslog) {
		if (!syslog_open) {
			openlog(ident, LOG_PID, facility);
			syslog_open = 1;
			/*
			 * With no syslog daemon, glibc's syslog() tries to
			 * connect again on every call (socket, connect,
			 * close: a fifth of a flush's system calls per
			 * message).  The lines go nowhere either way; the
			 * next log_setup (the next run, or account) looks
			 * again.
			 */
			syslog_absent = access(_PATH_LOG, F_OK) != 0 &&
			    errno == ENOENT;
		}
		if (!syslog_absent)
			syslog(priority, "%s", msg);
	}
	if (log_fd >= 0) {
		rfc3339_date(date, sizeof(date), time(NULL));
		n = snprintf(line, sizeof(line), "%s %s[%ld]: %s\n", date,
		    ident, (long)getpid(), msg);
		if (n > 0) {
			if ((size_t)n >= sizeof(line)) {
				n = sizeof(line) - 1;
				line[n - 1] = '\n';
			}
			(void)write_all(log_fd, line, (size_t)n);
		}
	}
}

void
log_close(void)
{
	if (close_fd && log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	close_fd = 0;
	if (syslog_open)
		closelog();
	syslog_open = 0;
}
