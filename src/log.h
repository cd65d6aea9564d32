/*
 * relayq -- logging: syslog (LOG_MAIL) by default, or a logfile.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef RELAYQ_LOG_H
#define RELAYQ_LOG_H

#include <syslog.h>	/* LOG_ERR, LOG_INFO, ... for log_line */

#include "conf.h"

/* Where log lines go for this account (its logfile/syslog keys). */
void	log_setup(const char *ident, const struct account *);
/*
 * One line at a syslog(3) priority; control characters are replaced so a
 * line stays one line.  Without log_setup(): syslog, LOG_MAIL.
 */
void	log_line(int priority, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_close(void);

#endif
