/*
 * relayq -- TLS with GnuTLS (tls.c is the only TLS user of GnuTLS; dkim.c
 * uses its crypto for DKIM).
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * RFC 3207 (STARTTLS), RFC 8314 (implicit TLS), RFC 8996/8997 (TLS 1.2 at
 * least).  A tls_ctx lives for one flush run and one account: the trust
 * store (system by default, or tls_trust_file), an optional client
 * certificate, the priority string (default "NORMAL:-VERS-ALL:+VERS-TLS1.3:
 * +VERS-TLS1.2", or tls_priorities), an optional SHA-256 pin, and the last
 * session's resumption data so later connections of the run resume.
 */
#ifndef RELAYQ_TLS_H
#define RELAYQ_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include "conf.h"
#include "status.h"
#include "util.h"

struct tls_ctx;
struct tls_sess;

/*
 * Errors: EX_CONFIG (unreadable trust/cert/key file, bad fingerprint or
 * priority string).  A tls_ctx is not thread-safe: sessions made from it
 * write the resumption data back into it; use one per thread (a forked
 * process has its own copy anyway).
 * Whatever tls_priorities says, a session that negotiates less than
 * TLS 1.2 is refused after the handshake (RFC 8996).
 */
int	tls_ctx_new(const struct account *, struct tls_ctx **, struct rq_err *);
void	tls_ctx_free(struct tls_ctx *);

/*
 * Handshake on the connected socket fd (non-blocking; waits at most
 * timeout_ms, negative: no limit).  verify_name is the A-label of the
 * name to check: tls_host_override when set (the caller applies it), else
 * the configured host.  SNI is set to that name when it is a name
 * (not an address literal: "1.2.3.4", "::1", "[...]" are verified
 * against the certificate's IP addresses).  Resumption data from an
 * earlier session of this ctx with the same name is offered.
 * Verification: with a pin, the SHA-256 of the server's certificate must
 * equal it (and no CA is needed); otherwise the chain must verify against
 * the trust store (and CRL) for verify_name, unless tls_certcheck is off
 * (then nothing is checked: saying so loudly is the caller's job).
 * Errors: EX_TEMPFAIL with a message that says what failed ("certificate
 * has expired", "certificate is not for HOST", "certificate signer is
 * unknown", "self-signed certificate", "certificate has been revoked",
 * "certificate fingerprint does not match tls_fingerprint (the server's
 * is AA:BB:...)", "timeout in TLS handshake", "server negotiated TLS1.1;
 * TLS 1.2 or later is required"); several reasons are joined by "; ".
 * On failure the fd is left as it was (the caller closes it).
 */
int	tls_handshake(struct tls_ctx *, int fd, const char *verify_name,
	    int timeout_ms, struct tls_sess **out, struct rq_err *);
/*
 * Like read(2)/write(2) on a non-blocking fd: -1 with errno EAGAIN when
 * it would block (then wait for the direction tls_wants_write says),
 * EINTR (call again at once), or another errno for a failure (the text is
 * in tls_error); 0 at EOF.  After EAGAIN, tls_write must be called again
 * with the same data (GnuTLS's rule); it sends at most 16 KiB a call.
 */
ssize_t	tls_read(struct tls_sess *, void *, size_t);
ssize_t	tls_write(struct tls_sess *, const void *, size_t);
/* The last failure of tls_read/tls_write in words ("" when none). */
const char *tls_error(struct tls_sess *);
/* Decrypted octets buffered inside GnuTLS. */
size_t	tls_pending(struct tls_sess *);
/* Which direction a would-block operation waits for: 0 read, 1 write. */
int	tls_wants_write(struct tls_sess *);
/* "TLS1.3" etc. */
const char *tls_version(struct tls_sess *);
/* Was this session resumed from an earlier one in the run? */
int	tls_resumed(struct tls_sess *);
/* RFC 9266 tls-exporter channel binding (32 octets appended to out):
 * 0, or -1 when the session cannot give one (TLS 1.2 without extended
 * master secret). */
int	tls_exporter(struct tls_sess *, struct buf *out);
/* For relayq-flush --check: version, cipher, each certificate of the chain
 * (subject, issuer, validity, SHA-256) and the verification result. */
void	tls_describe(struct tls_sess *, struct buf *out);
/* Send close_notify without waiting, free.  NULL is fine. */
void	tls_close(struct tls_sess *);
/*
 * Free without a word on the wire: a copy of a session that another
 * process (the parent, after fork) goes on using.  NULL is fine.
 */
void	tls_discard(struct tls_sess *);

#endif
