/*
 * relayq -- connections: connect with failover, buffered I/O, timeouts, TLS.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A struct conn is a TCP connection to the smart host, plain or TLS (via
 * tls.h; only tls.c uses GnuTLS for TLS).  Output is collected in a buffer and
 * goes out in as few write(2)s as possible when conn_flush() is called, with
 * TCP_NODELAY set, so a pipelined command group or the end of a message is
 * one segment and never waits for Nagle or a delayed ACK.  Input is read
 * into a buffer; lines are bounded.  Every wait has a timeout (poll(2)).
 * Nothing here prints or exits.
 */
#ifndef RELAYQ_NET_H
#define RELAYQ_NET_H

#include <stddef.h>

#include "status.h"
#include "util.h"

struct conn;
struct tls_ctx;

/*
 * Connect to host:port (a name or an address literal, already in A-label
 * form), trying every address getaddrinfo returns in order, bound to
 * source_ip when not NULL (addresses of the other family are skipped).
 * timeout_ms bounds each connect attempt.  For implicit TLS (port 465),
 * call conn_starttls() right after this: the handshake is the same.
 * Timeouts everywhere in this file: negative means no limit.
 * Errors: EX_TEMPFAIL (refused, unreachable, timeout, DNS temporary),
 * EX_NOHOST (name does not exist), EX_CONFIG (bad port or source_ip).
 */
int	conn_open(const char *host, int port, const char *source_ip,
	    int timeout_ms, struct conn **out, struct rq_err *);

/* Queue n bytes for output (no system call until conn_flush or a full
 * 64 KiB buffer, which is then flushed with the last conn_flush's
 * timeout, or conn_open's). */
int	conn_write(struct conn *, const void *, size_t, struct rq_err *);
int	conn_printf(struct conn *, struct rq_err *, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Send everything buffered (and wipe it: it may hold AUTH data); the
 * whole flush takes at most timeout_ms.  Errors: EX_TEMPFAIL. */
int	conn_flush(struct conn *, int timeout_ms, struct rq_err *);

/*
 * Read one line (up to and including LF) into line (reset first), at most
 * max octets; a longer line is an error (EX_PROTOCOL), as is EOF
 * (EX_TEMPFAIL "connection closed") and a timeout (EX_TEMPFAIL).
 */
int	conn_getline(struct conn *, struct buf *line, size_t max,
	    int timeout_ms, struct rq_err *);
/* Octets already received and not yet consumed: our buffer, GnuTLS's,
 * and on a plain connection what the kernel holds (STARTTLS injection
 * check). */
size_t	conn_pending(const struct conn *);

/*
 * Switch to TLS (after a 220 to STARTTLS, or at once for implicit TLS):
 * handshake with ctx, SNI and certificate verification for verify_name
 * (unless the account disabled it), then all further I/O is encrypted.
 * The read buffer must be empty (callers check conn_pending first; this
 * refuses too, with EX_PROTOCOL, as it does a second TLS start).
 * Errors: EX_TEMPFAIL from tls_handshake (its message as is: the caller
 * adds the context).
 */
int	conn_starttls(struct conn *, struct tls_ctx *, const char *verify_name,
	    int timeout_ms, struct rq_err *);
int	conn_is_tls(const struct conn *);
struct tls_sess *conn_tls(const struct conn *);	/* NULL when plain */
/* "host[addr]:port" of the peer, for logs. */
const char *conn_peer(const struct conn *);

/* Close (TLS bye without waiting), free.  NULL is fine. */
void	conn_close(struct conn *);
/* Free and close our descriptor, sending nothing (see tls_discard). */
void	conn_discard(struct conn *);

#endif
