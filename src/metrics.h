/*
 * relayq -- relayq --metrics: the queue and the accounts in Prometheus's
 * text exposition format (version 0.0.4, as node_exporter's textfile
 * collector reads it): queue size and octets by state, pending recipients,
 * the oldest message's age, messages by why they wait, and per account the
 * sent, deferred and failed totals, the last delivery and the warm-up.
 * Metric names and labels: doc/report.md.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef RELAYQ_METRICS_H
#define RELAYQ_METRICS_H

#include <stdio.h>

#include "conf.h"
#include "queue.h"
#include "status.h"

/*
 * Write the metrics for q (NULL: no queue yet, all zero) and the accounts
 * of c at now.  Errors: queue errors from qshape_scan(), EX_IOERR when
 * out cannot be written.
 */
int	metrics_write(struct queue *q, const struct conf *c, long long now,
	    FILE *out, struct rq_err *);

#endif
