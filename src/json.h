/*
 * relayq -- writing JSON (RFC 8259): strings and times, for mailq --json
 * and relayq --report --json.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef RELAYQ_JSON_H
#define RELAYQ_JSON_H

#include <stdio.h>

/*
 * s as a JSON string: quotes, backslashes and control characters escaped;
 * bytes that are not UTF-8 become U+FFFD, so the output is valid JSON
 * whatever s holds.  NULL is null.
 */
void	json_str(FILE *, const char *s);
/* t as an RFC 3339 UTC string; t <= 0 is null. */
void	json_time(FILE *, long long t);

#endif
