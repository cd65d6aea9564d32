#!/bin/bash
# relayq -- AUTH end to end against the project's test server: "auth on"
# picks the strongest mechanism offered (SCRAM-SHA-256-PLUS with
# tls-exporter binding first), a configured mechanism is never replaced by
# a weaker one, XOAUTH2 and OAUTHBEARER take their token from
# passwordeval, EXTERNAL rides on a client certificate, AUTH without TLS
# needs allow_plaintext_auth, and no secret reaches the log.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
RQ_TOP=$TOP
. "$TOP/tests/lib/smtpd.sh"

[ -x "$TOP/tests/smtpd/rq-testsmtpd" ] || bail "tests/smtpd/rq-testsmtpd is not built (make tests)"
PKI=$T/pki
"$TOP/tests/lib/certs.sh" "$PKI" >/dev/null || bail "cannot make the test certificates"

PASS='s3cret-Pa55'
TOKEN='ya29.token-Very-Secret'
printf '%s\n' "$TOKEN" >"$T/token"
chmod 600 "$T/token"

n=0
# serve SCRIPT-LINES...: a fresh server with TLS and the accounts.
serve() {
	n=$((n + 1))
	[ -n "${SMTPD_PID:-}" ] && smtpd_stop >/dev/null 2>&1
	SMTPD_DIR=$T/srv$n
	{
		echo "tls cert=$PKI/server.pem key=$PKI/server.key ca=$PKI/ca.pem"
		echo "user alice $PASS"
		echo "oauth alice $TOKEN"
		printf '%s\n' "$@"
	} >"$T/srv$n.script"
	smtpd_start "$T/srv$n.script" -t 60 || bail "cannot start the test server"
	at_exit "kill $SMTPD_PID"
}

# account KEYS...: a STARTTLS account on the current server.
account() {
	write_config "logfile $T/log" "account t" "host localhost" \
	    "port $SMTPD_PORT" "tls on" "tls_starttls on" \
	    "tls_trust_file $PKI/ca.pem" "user alice" \
	    "from sender@example.org" "$@" "account default : t"
}

# send: queue one message and flush; sets RC and ERR.
send() {
	printf 'Subject: auth\n\nbody\n' | "$RQ" -odq rcpt@example.net
	"$RQF" >"$T/out" 2>"$T/err"
	RC=$?
	ERR=$(cat "$T/err")
	smtpd_wait_sessions 1 10 >/dev/null 2>&1
}

all='AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 SCRAM-SHA-256-PLUS'

# --- auth on: the strongest offered -----------------------------------------------
serve "ehlo PIPELINING 8BITMIME STARTTLS $all"
account "auth on" "password $PASS"
send
is "$RC" 0 "auth on, everything offered: delivered"
is "$(smtpd_info 1 auth_mech)" SCRAM-SHA-256-PLUS "auth on picks SCRAM-SHA-256-PLUS"
is "$(smtpd_info 1 auth_cb)" tls-exporter "... bound to the TLS session with tls-exporter"

serve "ehlo PIPELINING STARTTLS AUTH CRAM-MD5 LOGIN PLAIN SCRAM-SHA-1"
account "auth on" "password $PASS"
send
is "$RC" 0 "auth on, no SCRAM-SHA-256: delivered"
is "$(smtpd_info 1 auth_mech)" SCRAM-SHA-1 "... with SCRAM-SHA-1, the strongest left"

serve "ehlo PIPELINING STARTTLS AUTH CRAM-MD5 LOGIN PLAIN"
account "auth on" "password $PASS"
send
is "$(smtpd_info 1 auth_mech)" PLAIN "without SCRAM: PLAIN (inside TLS)"

# --- a configured mechanism is never downgraded ------------------------------------
serve "ehlo PIPELINING STARTTLS AUTH PLAIN LOGIN"
account "auth scram-sha-256" "password $PASS"
send
is "$RC" 75 "auth scram-sha-256 but only PLAIN LOGIN offered: deferred"
is "$(queued)" 1 "... the message stays queued"
like "$ERR" 'SCRAM-SHA-256' "... and the error names the missing mechanism"
unlike "$(cat "$SMTPD_DIR"/conn-*.in)" '^AUTH' "... no AUTH was tried with a weaker mechanism"
"$RQ" --delete "$("$RQ" -bp --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')" >/dev/null

# --- OAuth 2.0 bearer tokens from passwordeval -------------------------------------
for mech in XOAUTH2 OAUTHBEARER; do
	lc=$(echo "$mech" | tr 'A-Z' 'a-z')
	serve "ehlo PIPELINING STARTTLS AUTH PLAIN $mech"
	account "auth $lc" "passwordeval cat $T/token"
	send
	is "$RC" 0 "$mech with the token from passwordeval: delivered"
	is "$(smtpd_info 1 auth_mech)" "$mech" "... the server saw $mech"
	printf '%s\n' "wrong-token" >"$T/token.bad"
	account "auth $lc" "passwordeval cat $T/token.bad"
	send
	is "$RC" 75 "$mech with a wrong token: deferred, not bounced"
	like "$ERR" 'authentication failed' "... and said loudly"
	"$RQ" --delete "$("$RQ" -bp --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')" >/dev/null
done
account "auth xoauth2" "passwordeval false"
send
is "$RC" 78 "a failing passwordeval is a configuration error (78)"
like "$ERR" 'passwordeval' "... and the error says so"
"$RQ" --delete "$("$RQ" -bp --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')" >/dev/null

# --- EXTERNAL with a client certificate --------------------------------------------
serve "ehlo PIPELINING STARTTLS AUTH EXTERNAL PLAIN"
account "auth external" "tls_cert_file $PKI/client.pem" "tls_key_file $PKI/client.key"
send
is "$RC" 0 "EXTERNAL with a client certificate: delivered"
is "$(smtpd_info 1 client_cert_verified)" yes "... the server verified the client certificate"
is "$(smtpd_info 1 auth_mech)" EXTERNAL "... and authenticated it with EXTERNAL"

# --- without TLS: only with allow_plaintext_auth -------------------------------------
serve "ehlo PIPELINING AUTH PLAIN LOGIN"
write_config "logfile $T/log" "account t" "host localhost" "port $SMTPD_PORT" \
    "tls off" "auth on" "user alice" "password $PASS" "from sender@example.org"
send
is "$RC" 75 "auth on with tls off: deferred"
like "$ERR" 'without TLS' "... refusing to authenticate in the clear"
unlike "$(cat "$SMTPD_DIR"/conn-*.in)" 'AUTH' "... no AUTH on the wire"
write_config "logfile $T/log" "account t" "host localhost" "port $SMTPD_PORT" \
    "tls off" "auth plain" "user alice" "password $PASS" \
    "from sender@example.org" "allow_plaintext_auth on"
"$RQF" --all >/dev/null 2>&1
is "$?" 0 "allow_plaintext_auth on: AUTH PLAIN in the clear works when asked for"

# --- no secret in the log -------------------------------------------------------------
b64=$(printf '\0alice\0%s' "$PASS" | base64)
unlike "$(cat "$T/log")" "$PASS|$TOKEN|$b64" "neither the password nor the token is in the log"

done_testing
