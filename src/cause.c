/*
 * relayq -- why mail was refused or delayed: reply code, enhanced status
 * code and the common causes, each with one line of advice.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The texts come from what the receivers and relay services publish as
 * their replies (Gmail's and Microsoft 365's lists of SMTP errors, Amazon
 * SES's sending-quota errors, Yahoo's postmaster codes, Postfix's reject
 * texts, the block lists' own bounce formats); tests/t/51-report.t holds a
 * table of real replies, one per cause, with the source of each.
 *
 * First a block list named in the text; then the enhanced status codes
 * that say exactly what went wrong (5.1.1, 5.7.8, 5.7.26, ...); then the
 * phrases (ASCII case-insensitive, anywhere in the reply), rule by rule in
 * order, so that the more specific come first: a throttling text beats the
 * "spam" that Gmail's rate-limit reply also mentions, a full mailbox beats
 * SES's "quota exceeded"; last the catch-all codes (5.7.1 is "delivery not
 * authorized" for every reason a receiver has).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cause.h"
#include "util.h"

enum {
	C_EXPIRED, C_BLOCKLIST, C_RATE, C_TLSREQ, C_TLSFAIL, C_AUTH, C_RELAY,
	C_SENDER, C_AUTHN, C_FULL, C_UNKNOWN, C_SIZE, C_SPAM, C_HOSTDOWN,
	C_OTHER, NCAUSES
};

static const struct cause causes[NCAUSES] = {
	[C_EXPIRED] = { "expired", "given up after max_queue_time",
	    "the last reply says why delivery kept failing; raise "
	    "max_queue_time only to ride out a long outage" },
	[C_BLOCKLIST] = { "blocklist", "blocklisted IP or domain",
	    "look the sending IP up at the list, fix what got it listed "
	    "(a hacked account or form, bad lists), then ask for removal" },
	[C_RATE] = { "rate-limited", "rate-limited by the provider",
	    "send slower: rate_limit to the provider's cap, fewer "
	    "connections, a warmup for a new IP or account" },
	[C_TLSREQ] = { "tls-required", "TLS required",
	    "turn TLS on: tls on, with tls_starttls on for port 587 or off "
	    "for port 465" },
	[C_TLSFAIL] = { "tls-failed", "TLS failure",
	    "relayq-flush --check ACCOUNT shows the certificate chain and "
	    "what fails; fix it, or set tls_trust_file or tls_fingerprint" },
	[C_AUTH] = { "auth", "authentication refused",
	    "check user and password or passwordeval (app passwords for "
	    "Gmail and Microsoft 365, user apikey for SendGrid); "
	    "relayq-flush --check tries it" },
	[C_RELAY] = { "relay-denied", "relay access denied",
	    "the smart host does not relay for this client: auth with an "
	    "account it knows, its submission port, or allow this IP there" },
	[C_SENDER] = { "sender-rejected", "sender address not allowed",
	    "send from an address or domain the provider has verified "
	    "(SES identities, SendGrid Sender Identity): set from" },
	[C_AUTHN] = { "spf-dkim-dmarc", "SPF, DKIM or DMARC failure",
	    "publish SPF that includes the smart host, sign with DKIM for "
	    "the From domain, and align both with it for DMARC" },
	[C_FULL] = { "mailbox-full", "recipient's mailbox full",
	    "nothing to fix here: relayq retries a 4xx; reach the "
	    "recipient another way if it lasts" },
	[C_UNKNOWN] = { "unknown-user", "unknown recipient",
	    "remove or correct the address: mail to unknown users hurts "
	    "the sender's reputation" },
	[C_SIZE] = { "too-large", "message too large",
	    "send less (a link instead of an attachment) or ask the "
	    "receiver for a higher limit" },
	[C_SPAM] = { "spam-policy", "refused as spam or by policy",
	    "review content and links, authenticate (SPF, DKIM, DMARC), "
	    "and mail only people who asked for it" },
	[C_HOSTDOWN] = { "host-down", "smart host unreachable",
	    "check host, port, DNS and the network; relayq-flush --check "
	    "ACCOUNT connects and says what fails" },
	[C_OTHER] = { "other", "other",
	    "read the example reply; relayq-flush -v shows the whole "
	    "dialogue" },
};

/* Block lists: how their rejections name them, and where to look up. */
static const struct {
	const char	*name;
	const char	*pat[4];
	const char	*lookup;
} lists[] = {
	{ "Spamhaus", { "spamhaus" }, "https://check.spamhaus.org" },
	{ "SpamCop", { "spamcop" }, "https://www.spamcop.net/bl.shtml" },
	{ "Barracuda", { "barracuda" },
	    "https://www.barracudacentral.org/lookups" },
	{ "Microsoft", { "s3150", "s3140", "banned sending ip",
	    "sender.office.com" }, "https://sender.office.com" },
	{ "SORBS", { "sorbs" }, NULL },
	{ "UCEPROTECT", { "uceprotect" }, "https://www.uceprotect.net" },
	{ "SpamRATS", { "spamrats" }, "https://www.spamrats.com" },
	{ "Proofpoint", { "proofpoint", "pphosted" },
	    "https://ipcheck.proofpoint.com" },
	{ "Cloudmark", { "cloudmark" }, "https://csi.cloudmark.com" },
	{ "Mailspike", { "mailspike" }, NULL },
	{ "PSBL", { "psbl.surriel" }, NULL },
	{ "Abusix", { "abusix" }, NULL },
};

struct rule {
	int		 cause;
	int		 own;		/* only relayq's own texts (no code) */
	int		 weak;		/* its codes are catch-alls: last */
	const char	*enh[8];	/* enhanced codes, exact */
	const char	*text[16];	/* phrases, lower case */
};

static const struct rule rules[] = {
	{ C_RATE, 0, 0, { "4.7.28" }, { "throttl", "rate limit",
	    "rate-limit", "ratelimit", "sending rate", "message quota",
	    "daily quota", "credits exceeded", "unexpected volume",
	    "unusual rate", "too many connections", "too many messages",
	    "concurrent connections", "server busy", "try again later from",
	    "sending limit" } },
	{ C_TLSREQ, 0, 0, { "5.7.10", "5.7.11" }, {
	    "must issue a starttls", "starttls first", "tls required",
	    "requires tls", "encryption required", "encryption needed",
	    "must use tls", "tls is required" } },
	{ C_TLSFAIL, 1, 0, { NULL }, { "starttls", "tls", "certificate",
	    "handshake", "unexpected octets" } },
	{ C_AUTH, 0, 0, { "5.7.8", "4.7.8", "5.7.139", "5.7.3", "5.7.57",
	    "5.7.9", "4.7.12" }, { "authentication failed",
	    "authentication unsuccessful", "authentication required",
	    "authentication credentials", "username and password",
	    "invalid credentials", "bad credentials", "not authenticated",
	    "auth failed", "login failed", "authentication is required" } },
	{ C_RELAY, 0, 0, { NULL }, { "relay access denied",
	    "relaying denied", "relay not permitted", "not permitted to relay",
	    "unable to relay", "relay denied", "relaying not allowed",
	    "relay not allowed", "relaying is not allowed" } },
	{ C_SENDER, 0, 0, { "5.7.60" }, { "not verified",
	    "sender identity", "sender address rejected", "not owned by",
	    "sender not allowed", "from address does not match",
	    "sendasdenied", "not allowed to send as", "sender rejected" } },
	{ C_AUTHN, 0, 0, { "5.7.20", "5.7.21", "5.7.22", "5.7.23",
	    "5.7.24", "5.7.25", "5.7.26", "5.7.27" }, { "dmarc", "dkim",
	    "spf", "unauthenticated", "sender policy framework" } },
	{ C_FULL, 0, 0, { "5.2.2", "4.2.2" }, { "mailbox full",
	    "mailbox is full", "over quota", "mailbox quota",
	    "out of storage", "quota exceeded for", "exceeded storage",
	    "inbox is full", "user is over" } },
	/* After C_FULL: SES says "Daily message quota exceeded". */
	{ C_RATE, 0, 0, { NULL }, { "quota exceeded", "too many" } },
	{ C_BLOCKLIST, 0, 0, { NULL }, { "blocklist", "blacklist",
	    "block list", "black list", "blocked using", "dnsbl", "rbl ",
	    " rbl", "listed in", "listed at", "listed on", "low reputation",
	    "poor reputation", "bad reputation", "banned" } },
	{ C_UNKNOWN, 0, 0, { "5.1.1", "5.1.10", "5.1.6", "4.1.1" }, {
	    "user unknown", "unknown user", "no such user", "does not exist",
	    "recipient not found", "unknown recipient", "invalid recipient",
	    "no mailbox", "address not found", "recipnotfound",
	    "no such recipient", "unknown address" } },
	{ C_SIZE, 0, 0, { "5.3.4", "5.2.3", "4.3.4" }, { "too large",
	    "too big", "size exceeds", "exceeds size", "size limit",
	    "message size", "exceeded the maximum" } },
	{ C_SPAM, 0, 1, { "5.7.1", "5.7.0", "5.7.7", "5.7.350" }, {
	    "spam", "suspicious", "virus", "malware",
	    "policy", "unsolicited", "content" } },
	{ C_HOSTDOWN, 1, 0, { NULL }, { "cannot connect", "refused",
	    "timed out", "timeout", "not found", "unreachable", "no route",
	    "closed the session", "did not greet", "session with",
	    "reset by peer", "broken pipe", "name resolution",
	    "no address" } },
};

/* ASCII lower-case copy of s, at most size - 1 octets. */
static void
lower(char *dst, size_t size, const char *s)
{
	size_t i;

	for (i = 0; i + 1 < size && s[i] != '\0'; i++)
		dst[i] = (char)rq_tolower((unsigned char)s[i]);
	dst[i] = '\0';
}

static int
isdig(char c)
{
	return c >= '0' && c <= '9';
}

/* "X.Y.Z" at p (class 2, 4 or 5): its length, or 0. */
static size_t
enhanced_at(const char *p)
{
	size_t n = 0, part, d;

	if (p[0] != '2' && p[0] != '4' && p[0] != '5')
		return 0;
	if (p[1] != '.')
		return 0;
	n = 2;
	for (part = 0; part < 2; part++) {
		for (d = 0; isdig(p[n]) && d < 3; d++)
			n++;
		if (d == 0)
			return 0;
		if (part == 0) {
			if (p[n] != '.')
				return 0;
			n++;
		}
	}
	if (isdig(p[n]) || (p[n] == '.' && isdig(p[n + 1])))
		return 0;
	return n;
}

/* A reply code "[2-5]DD" followed by ' ', '-' or the end, at p. */
static int
code_at(const char *p)
{
	if (p[0] < '2' || p[0] > '5' || !isdig(p[1]) || !isdig(p[2]) ||
	    (p[3] != ' ' && p[3] != '-' && p[3] != '\0'))
		return 0;
	return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

/*
 * The code and the enhanced code: at the start ("550 5.7.1 ...",
 * "550-5.7.1 ..."), after relayq's "...: " prefix, or (the enhanced code
 * alone, as in relayq's own "5.3.4 message is ...") anywhere.
 */
static void
codes(const char *r, struct cause_match *m)
{
	const char *p = r, *q;
	size_t n;

	while (*p == ' ')
		p++;
	/* relayq's own "5.3.4 message is ...", "4.4.7 delivery time ...". */
	if ((n = enhanced_at(p)) != 0 && n < sizeof(m->enhanced)) {
		memcpy(m->enhanced, p, n);
		m->enhanced[n] = '\0';
		return;
	}
	m->code = code_at(p);
	for (q = strstr(r, ": "); m->code == 0 && q != NULL;
	    q = strstr(q + 1, ": ")) {
		m->code = code_at(q + 2);
		if (m->code != 0)
			p = q + 2;
	}
	if (m->code != 0) {
		p += 3;
		while (*p == ' ' || *p == '-')
			p++;
		if ((n = enhanced_at(p)) != 0 && n < sizeof(m->enhanced)) {
			memcpy(m->enhanced, p, n);
			m->enhanced[n] = '\0';
			return;
		}
	}
	for (p = r; *p != '\0'; p++) {
		if (p != r && (isdig(p[-1]) || p[-1] == '.'))
			continue;
		if ((n = enhanced_at(p)) != 0 && n < sizeof(m->enhanced)) {
			memcpy(m->enhanced, p, n);
			m->enhanced[n] = '\0';
			return;
		}
	}
}

/* Microsoft's block list codes: 5.7.606 to 5.7.649, 5.7.511, 5.7.708. */
static int
microsoft_block(const char *enh)
{
	long d;

	if (strncmp(enh, "5.7.", 4) != 0 || !isdig(enh[4]))
		return 0;
	d = strtol(enh + 4, NULL, 10);
	return (d >= 606 && d <= 649) || d == 511 || d == 708;
}

static void
set(struct cause_match *m, int c, const char *detail)
{
	m->cause = &causes[c];
	rq_strlcpy(m->detail, detail != NULL ? detail : "", sizeof(m->detail));
	rq_strlcpy(m->advice, causes[c].advice, sizeof(m->advice));
}

/* Pass 0: exact codes; 1: phrases; 2: catch-all codes. */
static int
rule_matches(const struct rule *ru, int pass, const char *low,
    const struct cause_match *m)
{
	size_t i;

	if (ru->own && m->code != 0)
		return 0;
	if (pass == 1) {
		for (i = 0; i < RQ_ARRAY_LEN(ru->text) && ru->text[i] != NULL;
		    i++)
			if (strstr(low, ru->text[i]) != NULL)
				return 1;
		return 0;
	}
	if (ru->weak != (pass == 2) || m->enhanced[0] == '\0')
		return 0;
	for (i = 0; i < RQ_ARRAY_LEN(ru->enh) && ru->enh[i] != NULL; i++)
		if (strcmp(ru->enh[i], m->enhanced) == 0)
			return 1;
	return 0;
}

/* Which of SPF, DKIM, DMARC the reply names (RFC 7372's codes else). */
static const char *
authn_detail(const char *low, const char *enh)
{
	int spf = strstr(low, "spf") != NULL ||
	    strstr(low, "sender policy framework") != NULL;
	int dkim = strstr(low, "dkim") != NULL;
	long d = strncmp(enh, "5.7.", 4) == 0 ? strtol(enh + 4, NULL, 10) : 0;

	if (strstr(low, "dmarc") != NULL)
		return "DMARC";
	if (spf && dkim)
		return "SPF/DKIM";
	if (spf || d == 23 || d == 24)
		return "SPF";
	if (dkim || (d >= 20 && d <= 22))
		return "DKIM";
	if (d == 25)
		return "reverse DNS";
	return "SPF/DKIM";
}

void
cause_classify(const char *reply, struct cause_match *m)
{
	char low[1024];
	const char *last;
	size_t i, k;

	memset(m, 0, sizeof(*m));
	if (reply == NULL)
		reply = "";
	lower(low, sizeof(low), reply);
	codes(reply, m);

	/* relayq's own expiry: the cause of the last reply as detail. */
	if (strcmp(m->enhanced, "4.4.7") == 0 ||
	    strstr(low, "delivery time expired") != NULL) {
		struct cause_match inner;

		last = strstr(reply, "last reply: ");
		cause_classify(last != NULL ? last + 12 : "", &inner);
		set(m, C_EXPIRED, inner.cause == &causes[C_OTHER] ? "" :
		    inner.cause->name);
		return;
	}

	/* A block list named in the text, or Microsoft's codes for its own. */
	for (i = 0; i < RQ_ARRAY_LEN(lists); i++) {
		int hit = strcmp(lists[i].name, "Microsoft") == 0 &&
		    microsoft_block(m->enhanced);

		for (k = 0; !hit && k < RQ_ARRAY_LEN(lists[i].pat) &&
		    lists[i].pat[k] != NULL; k++)
			hit = strstr(low, lists[i].pat[k]) != NULL;
		if (!hit)
			continue;
		set(m, C_BLOCKLIST, lists[i].name);
		if (lists[i].lookup != NULL)
			snprintf(m->advice, sizeof(m->advice), "look the "
			    "sending IP up at %s, fix what got it listed (a "
			    "hacked account or form, bad lists), then ask "
			    "for removal", lists[i].lookup);
		return;
	}

	for (int pass = 0; pass < 3; pass++) {
		for (i = 0; i < RQ_ARRAY_LEN(rules); i++) {
			if (!rule_matches(&rules[i], pass, low, m))
				continue;
			set(m, rules[i].cause, rules[i].cause == C_AUTHN ?
			    authn_detail(low, m->enhanced) : NULL);
			return;
		}
	}
	set(m, C_OTHER, NULL);
}

const struct cause *
cause_all(size_t *n)
{
	*n = NCAUSES;
	return causes;
}
