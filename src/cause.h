/*
 * relayq -- why mail was refused or delayed: the reply code, the enhanced
 * status code (RFC 3463) and the common causes recognised from the reply
 * text, each with one line of advice.  The one table of causes, for
 * relayq --report and the queue's "why it waits".
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef RELAYQ_CAUSE_H
#define RELAYQ_CAUSE_H

#include <stddef.h>

struct cause {
	const char	*name;		/* stable, in --report --json */
	const char	*title;		/* a few words for people */
	const char	*advice;	/* one line: what to do */
};

struct cause_match {
	const struct cause *cause;	/* never NULL ("other" at worst) */
	char		 detail[32];	/* the list named ("Spamhaus"), the
					   check ("DMARC"), or "" */
	char		 advice[256];	/* the advice, with the list's
					   lookup page when one is known */
	int		 code;		/* the reply code; 0 when none */
	char		 enhanced[16];	/* "5.7.1"; "" when none */
};

/*
 * Classify one reply as relayq logged or stored it: "CODE [X.Y.Z] text",
 * or one of relayq's own messages ("authentication failed at HOST: 535
 * 5.7.8 ...", "cannot connect to HOST: Connection refused", "5.3.4
 * message is N octets ...").  Never fails: an unknown text is "other".
 */
void	cause_classify(const char *reply, struct cause_match *);

/* Every cause, in the order --report lists them; *n is their number. */
const struct cause *cause_all(size_t *n);

#endif
