#!/bin/bash
# relayq -- STARTTLS and AUTH as the security rules say: STARTTLS missing,
# refused, or followed by injected bytes -> deferred with nothing but QUIT
# in the clear; AUTH never before TLS; an unknown certificate -> deferred;
# a wrong password -> deferred, said loudly, never a bounce; -v never
# shows the credentials.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"

# The test CA and a server certificate for localhost (tests/lib/certs.sh).
flush_certs

# server SCRIPT-LINES...: a fresh test server with TLS; sets PORT, DIR.
server() { srv_tls server "$@"; }

config() {	# config [EXTRA KEYS...]
	flush_config_tls starttls "tls_trust_file $PKI/ca.pem" "$@"
}

submit() {
	printf 'Subject: s\n\nbody\n' | "$RQ" -odq rcpt@example.net
}

plain_ok="ehlo PIPELINING STARTTLS AUTH PLAIN LOGIN"
tls_ok="ehlo-tls PIPELINING 8BITMIME AUTH PLAIN LOGIN"

# deferred_clean WHAT: the message stayed, and the clear text carried
# nothing but EHLO, STARTTLS and QUIT.
deferred_clean() {
	is "$RC" 75 "$1: exit 75"
	is "$(queued)" 1 "$1: the message stays queued"
	unlike "$(cat "$DIR"/conn-*.in 2>/dev/null)" 'AUTH|MAIL|RCPT|DATA' \
	    "$1: no AUTH, MAIL, RCPT or DATA on the wire"
}

# --- STARTTLS not offered ------------------------------------------------------
server "ehlo PIPELINING AUTH PLAIN LOGIN" "$tls_ok"
config
submit
flush
deferred_clean "STARTTLS not offered"
like "$(cat "$T/log")" 'does not offer STARTTLS' "the log says STARTTLS is missing"

# --- STARTTLS refused ------------------------------------------------------------
server "$plain_ok" "$tls_ok" "reply STARTTLS 454 4.7.0 TLS not available"
config
flush --all
deferred_clean "STARTTLS refused"
like "$(tail -2 "$T/log")" 'rejected STARTTLS: 454' "the log has the 454"

# --- response injection after the 220 --------------------------------------------
server "$plain_ok" "$tls_ok" \
    'raw STARTTLS "220 Ready\r\n250-injected\r\n250 AUTH PLAIN\r\n"'
config
flush --all
deferred_clean "response injection"
like "$(tail -2 "$T/log")" 'injection' "the log names the injection"

# --- an unknown certificate ----------------------------------------------------
server "$plain_ok" "$tls_ok"
config
sed -i "s|^tls_trust_file .*|tls_trust_file system|" "$T/config"
flush --all
is "$RC" 75 "unknown CA: exit 75"
is "$(queued)" 1 "unknown CA: the message stays queued"
unlike "$(cat "$DIR"/conn-*.in 2>/dev/null)" 'AUTH|MAIL' \
    "unknown CA: no AUTH or MAIL sent"

# --- a wrong password: deferred, loudly, never a bounce ---------------------------
server "$plain_ok" "$tls_ok"
config
sed -i "s|^password .*|password wrong|" "$T/config"
flush --all
is "$RC" 75 "wrong password: exit 75 (deferred)"
like "$ERR" 'authentication failed at localhost: 535' \
    "wrong password: said on standard error"
is "$(queued)" 1 "wrong password: the message stays, no bounce"
unlike "$(cat "$DIR"/conn-*.in)" 'MAIL FROM' "wrong password: no MAIL"

# --- the good path, with -v ------------------------------------------------------
server "$plain_ok" "$tls_ok"
config
flush --all -v
is "$RC" 0 "STARTTLS + AUTH: delivered"
is "$(queued)" 0 "STARTTLS + AUTH: removed from the queue"
unlike "$(cat "$DIR"/conn-1.in.plain)" 'AUTH|MAIL' \
    "before TLS: no AUTH and no MAIL"
like "$(cat "$DIR"/conn-1.in.plain)" 'STARTTLS' "STARTTLS was sent in the clear"
like "$ERR" 'AUTH PLAIN \*\*\*\*' "-v: the AUTH line is redacted"
b64=$(printf '\0alice\0s3cret-Pa55' | base64)
unlike "$ERR" "s3cret|$b64" "-v: neither the password nor its base64"
like "$(cat "$T/log")" 'tls=TLS1\.[23] status=sent' "the log has the TLS version"

done_testing
