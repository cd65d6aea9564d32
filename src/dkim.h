/*
 * relayq -- DKIM signing: canonicalisation, the body hash, the
 * DKIM-Signature header field, the key (dkim.c is the one module that
 * includes GnuTLS for this; tls.c keeps TLS).
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * RFC 6376 (DKIM), RFC 8301 (rsa-sha256 only, keys of 1024 bits or more),
 * RFC 8463 (ed25519-sha256).
 *
 * Where the work happens, so that neither side reads a big body twice and
 * submitters never need the key:
 *  - submit (relayq): when the account signs, the queue writer feeds every
 *    content octet to a dkim_bh, which skips the header section and hashes
 *    the body with the account's body canonicalisation; the result goes
 *    into the message file's trailer ("dkim-bh=relaxed:BASE64",
 *    doc/queue-format.md).  Only the configuration is read, never the key;
 *  - flush (relayq-flush): deliver.c loads the key once per account and
 *    run (dkim_signer_new).  For each message content.c feeds the content
 *    as it will go on the wire to a dkim_msg: the header section is kept,
 *    and the body is hashed unless the recorded hash applies (same body
 *    canonicalisation, content sent unchanged), in which case reading
 *    stops after the header section.  dkim_msg_sign makes the
 *    DKIM-Signature field that goes first on the wire.
 *
 * Line ends: the content is read the way the wire filter (smtp_canon)
 * writes it: CRLF, a bare LF and a bare CR each end a line, and a last
 * line without an end gets one.  So what is hashed is what the server
 * receives, whatever a queue file holds.
 *
 * Ownership: objects returned through ** belong to the caller, who frees
 * them with the matching _free.  The private key never leaves dkim.c; its
 * file's bytes are wiped once imported.
 */
#ifndef RELAYQ_DKIM_H
#define RELAYQ_DKIM_H

#include <stddef.h>

#include "status.h"
#include "util.h"

enum dkim_canon {
	DKIM_CANON_NONE = 0,	/* in an envelope: no body hash wanted */
	DKIM_CANON_SIMPLE,
	DKIM_CANON_RELAXED,
};

/* "relaxed:" and a base64 SHA-256 (44), and a NUL. */
#define DKIM_BH_MAX		64
/* The header section kept for signing: msg.c's limit, with room. */
#define DKIM_HEADER_MAX		(2 * 1024 * 1024)
#define DKIM_FIELDS_MAX		10000
/* RFC 8301 section 3.2: verifiers ignore smaller RSA keys. */
#define DKIM_RSA_MIN_BITS	1024

/* ---- configuration values (conf.c checks them as the file is read) ------ */

/*
 * dkim_canon: "HEADER/BODY" with each "simple" or "relaxed", or one word
 * for the header alone, the body then "simple" (RFC 6376 section 3.5,
 * c=).  Returns 0, or -1 for anything else.
 */
int	dkim_parse_canon(const char *, enum dkim_canon *hdr,
	    enum dkim_canon *body);
const char *dkim_canon_name(enum dkim_canon);	/* "simple", "relaxed" */

/*
 * dkim_headers: field names separated by ':' (and optional spaces or
 * commas), each optionally preceded by '+' to oversign it (sign it once
 * more than the message has it, so that adding one breaks the signature).
 * From must be there; no name twice.  Returns 0, or -1 with *why set to
 * a static reason.
 */
int	dkim_check_headers(const char *list, const char **why);
/* The default list, in dkim_headers syntax (RFC 6376 section 5.4.1). */
const char *dkim_default_headers(void);
/* A selector: dot-separated labels of letters, digits and '-'. */
int	dkim_check_selector(const char *);

/* ---- the body hash ------------------------------------------------------ */

struct dkim_bh;

/*
 * A body hash with canonicalisation canon.  With skip_headers, the input
 * is a whole message and everything up to and including the first empty
 * line is skipped (no empty line: the body is empty); otherwise the input
 * is the body.
 */
struct dkim_bh *dkim_bh_new(enum dkim_canon canon, int skip_headers);
void	dkim_bh_feed(struct dkim_bh *, const void *, size_t);
/* For tests: a copy of the canonical body also goes to copy. */
void	dkim_bh_tap(struct dkim_bh *, struct buf *copy);
/*
 * The end: out gets "CANON:BASE64" (e.g. "relaxed:47DEQpj8..."), the
 * form kept in the queue trailer.  The object is freed.
 */
void	dkim_bh_end(struct dkim_bh *, char out[DKIM_BH_MAX]);
void	dkim_bh_free(struct dkim_bh *);		/* without ending; NULL ok */
/* Is s a well-formed "CANON:BASE64" (as read back from a queue file)? */
int	dkim_bh_valid(const char *s);

/* ---- canonicalisation of one header field (also for tests) -------------- */

/*
 * Append field (its name, ':', value and folded lines, with or without
 * the final CRLF) to out in canonical form, ending in CRLF (RFC 6376
 * section 3.4.1 and 3.4.2).
 */
void	dkim_canon_field(enum dkim_canon, const char *field, size_t len,
	    struct buf *out);

/* ---- signing ------------------------------------------------------------ */

struct dkim_signer_params {
	const char	*domain;	/* d=; a U-label is converted */
	const char	*selector;	/* s= */
	const char	*key_file;	/* PEM, PKCS#1 or PKCS#8, unencrypted */
	const char	*headers;	/* dkim_headers syntax; NULL: default */
	enum dkim_canon	 hcanon, bcanon;	/* NONE: relaxed */
	long long	 expire;	/* seconds for x=; 0: no x= */
};

struct dkim_signer;

/*
 * Load the key and get ready to sign.  The key file must be a regular
 * file owned by the caller (effective uid) with no group or other
 * permission bits, like a configuration file holding a password: in
 * system mode the submit binary runs with the queue's group, and a key
 * that group could read would be a key any local user could steal
 * through a flaw in it.  RSA keys (at least 1024 bits) sign rsa-sha256,
 * Ed25519 keys ed25519-sha256.  Errors: EX_CONFIG, naming the file.
 */
int	dkim_signer_new(const struct dkim_signer_params *,
	    struct dkim_signer **, struct rq_err *);
void	dkim_signer_free(struct dkim_signer *);	/* NULL is fine */

/* What --check shows. */
const char *dkim_signer_domain(const struct dkim_signer *);	/* A-label */
const char *dkim_signer_selector(const struct dkim_signer *);
const char *dkim_signer_algorithm(const struct dkim_signer *); /* a= */
unsigned dkim_signer_bits(const struct dkim_signer *);
enum dkim_canon dkim_signer_body_canon(const struct dkim_signer *);
/* The h= list as configured, for display ("+from:to:..."). */
const char *dkim_signer_headers(const struct dkim_signer *);
/*
 * The DNS record to publish: *name "SELECTOR._domainkey.DOMAIN" and
 * *value "v=DKIM1; k=rsa; p=BASE64" (for RSA, p= is the
 * SubjectPublicKeyInfo; for Ed25519 the raw 32-octet key, RFC 8463
 * section 4.2).  Both allocated.  Errors: EX_SOFTWARE.
 */
int	dkim_signer_txt(const struct dkim_signer *, char **name,
	    char **value, struct rq_err *);
/*
 * Sign a fixed test text with the private key and verify the signature
 * with the public key derived from it (the key works, and is the one the
 * TXT record publishes).  Errors: EX_CONFIG.
 */
int	dkim_signer_selftest(const struct dkim_signer *, struct rq_err *);
/*
 * The signature (base64) over data as the algorithm defines it: SHA-256
 * of data, signed with RSASSA-PKCS1-v1_5 (rsa-sha256), or that digest
 * signed with PureEdDSA (ed25519-sha256, RFC 8463 section 3).  data is
 * the canonical header data of RFC 6376 section 3.7.  For tests and
 * dkim_msg_sign; *b64 allocated.  Errors: EX_SOFTWARE.
 */
int	dkim_sign_data(const struct dkim_signer *, const void *data,
	    size_t n, char **b64, struct rq_err *);

/* ---- signing one message ------------------------------------------------ */

struct dkim_msg;

/*
 * Start on one message.  known_bh is the body hash recorded at submit
 * ("CANON:BASE64") when the content goes out as queued, else NULL; it is
 * used when its canonicalisation is the signer's.
 */
struct dkim_msg *dkim_msg_new(const struct dkim_signer *,
	    const char *known_bh);
/*
 * The content as it goes on the wire, in pieces.  Returns 0 (more
 * wanted), 1 (enough: the header section is complete and the body hash
 * is known, or the message is already signed for our domain; the caller
 * may stop reading), or EX_DATAERR with err set (a header section over
 * DKIM_HEADER_MAX octets or DKIM_FIELDS_MAX fields).
 */
int	dkim_msg_feed(struct dkim_msg *, const void *, size_t,
	    struct rq_err *);
/*
 * After the last piece (or a 1 from dkim_msg_feed): the DKIM-Signature
 * field, ending in CRLF, folded, with t=now, in *field (allocated).
 * *field is NULL when the message already has a DKIM-Signature with our
 * d= (sent as it is: not signed twice).  Errors: EX_SOFTWARE (GnuTLS).
 */
int	dkim_msg_sign(struct dkim_msg *, long long now, char **field,
	    struct rq_err *);
void	dkim_msg_free(struct dkim_msg *);	/* NULL is fine */

#endif
