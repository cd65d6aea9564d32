/*
 * relayq -- unit tests for the causes table: codes and enhanced codes
 * found where relayq's replies and own messages put them, the rule order
 * (a named block list before a bare 5.7.1, throttling before "spam", a
 * full mailbox before SES's "quota exceeded"), and relayq's own texts.
 * The real replies of the providers are tested end to end in
 * tests/t/51-report.t, with their sources.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "cause.h"
#include "tap.h"
#include "util.h"

static const struct {
	const char	*reply;
	int		 code;
	const char	*enh;
	const char	*cause;
	const char	*detail;
} cases[] = {
	/* Where the codes are. */
	{ "550 5.1.1 no such user", 550, "5.1.1", "unknown-user", "" },
	{ "550-5.1.1 first line 5.1.1 second", 550, "5.1.1", "unknown-user",
	    "" },
	{ "421 closing", 421, "", "other", "" },
	{ "smtp.example.com rejected MAIL: 530 5.7.0 Must issue a STARTTLS "
	    "command first.", 530, "5.7.0", "tls-required", "" },
	{ "authentication failed at smtp.example.com: 535 5.7.8 "
	    "Authentication credentials invalid (mechanism PLAIN, user a)",
	    535, "5.7.8", "auth", "" },
	{ "5.3.4 message is 2000000 octets, more than the 1000000 that "
	    "mx.example.com accepts (SIZE)", 0, "5.3.4", "too-large", "" },
	{ "552 message too big", 552, "", "too-large", "" },
	{ "250 2.0.0 ok", 250, "2.0.0", "other", "" },
	{ "550 version 5.7.1.2 is not a code", 550, "", "other", "" },
	{ "", 0, "", "other", "" },
	/* relayq's own texts, without a code. */
	{ "cannot connect to mx.example.com port 587: Connection refused", 0,
	    "", "host-down", "" },
	{ "connecting to mx.example.com port 587: timed out after 30 s", 0,
	    "", "host-down", "" },
	{ "host smtp.nowhere.example not found", 0, "", "host-down", "" },
	{ "mx.example.com does not offer STARTTLS; not sending in the clear",
	    0, "", "tls-failed", "" },
	{ "TLS handshake with mx.example.com failed: certificate is not "
	    "trusted", 0, "", "tls-failed", "" },
	{ "4.4.7 delivery time expired: still undelivered after 5 days in "
	    "the queue; last reply: 451 4.7.1 blocked using zen.spamhaus.org",
	    0, "4.4.7", "expired", "blocklist" },
	{ "4.4.7 delivery time expired: still undelivered after 5 days in "
	    "the queue; last reply: none", 0, "4.4.7", "expired", "" },
	/* Order. */
	{ "550 5.7.1 Service unavailable; client host [192.0.2.1] blocked "
	    "using zen.spamhaus.org", 550, "5.7.1", "blocklist", "Spamhaus" },
	{ "550 5.7.1 refused", 550, "5.7.1", "spam-policy", "" },
	{ "550 5.7.606 Access denied", 550, "5.7.606", "blocklist",
	    "Microsoft" },
	{ "550 5.7.650 no", 550, "5.7.650", "other", "" },
	{ "421 4.7.0 unusual rate of unsolicited mail; to protect our users "
	    "from spam it has been rate limited", 421, "4.7.0",
	    "rate-limited", "" },
	{ "452 4.2.2 mailbox quota exceeded", 452, "4.2.2", "mailbox-full",
	    "" },
	{ "454 Throttling failure: Daily message quota exceeded.", 454, "",
	    "rate-limited", "" },
	{ "554 5.7.1 <a@b.example>: Relay access denied", 554, "5.7.1",
	    "relay-denied", "" },
	{ "550 5.7.26 fails to pass SPF checks", 550, "5.7.26",
	    "spf-dkim-dmarc", "SPF" },
	{ "550 5.7.26 Unauthenticated email is not accepted due to "
	    "domain's DMARC policy", 550, "5.7.26", "spf-dkim-dmarc",
	    "DMARC" },
	{ "550 5.7.20 no passing signature", 550, "5.7.20", "spf-dkim-dmarc",
	    "DKIM" },
	{ "550 5.7.26 not authenticated with SPF or DKIM", 550, "5.7.26",
	    "spf-dkim-dmarc", "SPF/DKIM" },
	{ "550 5.1.1 unknown user; see our spam policy", 550, "5.1.1",
	    "unknown-user", "" },
	{ "530 5.7.0 Authentication Required", 530, "5.7.0", "auth", "" },
	{ "554 Message rejected: Email address is not verified.", 554, "",
	    "sender-rejected", "" },
	{ "451 4.7.1 Greylisted, please try again", 451, "4.7.1", "other",
	    "" },
};

int
main(void)
{
	struct cause_match m;
	const struct cause *all;
	size_t n, i, k;
	int dup = 0;

	for (i = 0; i < RQ_ARRAY_LEN(cases); i++) {
		cause_classify(cases[i].reply, &m);
		is_int(m.code, cases[i].code, "code of \"%.40s\"",
		    cases[i].reply);
		is_str(m.enhanced, cases[i].enh, "enhanced code of \"%.40s\"",
		    cases[i].reply);
		is_str(m.cause->name, cases[i].cause, "cause of \"%.50s\"",
		    cases[i].reply);
		is_str(m.detail, cases[i].detail, "detail of \"%.50s\"",
		    cases[i].reply);
	}
	cause_classify("554 5.7.1 blocked using b.barracudacentral.org", &m);
	ok(strstr(m.advice, "barracudacentral.org/lookups") != NULL,
	    "a named list's advice says where to look the IP up");
	cause_classify(NULL, &m);
	is_str(m.cause->name, "other", "NULL is other");

	all = cause_all(&n);
	for (i = 0; i < n; i++) {
		ok(all[i].name != NULL && all[i].advice != NULL &&
		    strlen(all[i].advice) < 150, "cause %s: a name and one "
		    "short line of advice", all[i].name);
		for (k = 0; k < i; k++)
			dup += strcmp(all[i].name, all[k].name) == 0;
	}
	is_int(dup, 0, "cause names are unique");
	return done_testing();
}
