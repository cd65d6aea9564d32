#!/bin/bash
# relayq -- the private Postfix smart host of tests/lib/postfix.sh works:
# STARTTLS and implicit TLS with a verifiable certificate, Cyrus SASL,
# delivery to files the tests read, and the scripted refusals.  Every
# interoperability test relies on this, so it fails (never skips) when
# Postfix cannot be started.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/postfix.sh"

command -v swaks >/dev/null || bail "swaks is missing (run scripts/deps)"

postfix_start "$T/pf" || bail "cannot start the private Postfix"
ok 0 "private Postfix started"
. "$T/pf/env"

# swaks_run NAME ARGS...: one swaks session; sets SRC and SOUT.
swaks_run() {
	local name=$1
	shift
	swaks --server 127.0.0.1 --timeout 20 --from sender@example.org \
	    --helo client.example.org "$@" >"$T/$name.out" 2>&1
	SRC=$?
	SOUT=$(cat "$T/$name.out")
}

auth=(--auth-user "$PF_USER" --auth-password "$PF_PASS")
verify=(--tls-verify --tls-ca-path "$PF_CA" --tls-sni "$PF_HOST")

# --- what each port offers --------------------------------------------
swaks_run ehlo-plain --port "$PF_PORT" --quit-after EHLO
like "$SOUT" '250-STARTTLS' "submission port offers STARTTLS"
unlike "$SOUT" '250[- ]AUTH' "no AUTH offered before TLS"

swaks_run ehlo-tls --port "$PF_PORT" --tls "${verify[@]}" --quit-after EHLO
is "$SRC" 0 "STARTTLS handshake verifies against PF_CA for $PF_HOST"
for m in PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256; do
	like "$SOUT" "250[- ]AUTH .*\\b$m\\b" "AUTH $m offered after STARTTLS"
done

# --- the submission rules ----------------------------------------------
swaks_run notls --port "$PF_PORT" --to a@example.test
like "$SOUT" '530 5\.7\.0' "submission refuses MAIL without STARTTLS"

swaks_run noauth --port "$PF_PORT" --tls --to a@example.test
isnt_zero=$([ "$SRC" -ne 0 ] && echo 0 || echo 1)
ok "$isnt_zero" "submission refuses a client that did not authenticate"

swaks_run badpass --port "$PF_PORT" --tls --auth PLAIN \
    --auth-user "$PF_USER" --auth-password wrong --to a@example.test
like "$SOUT" '535 5\.7\.8' "a wrong password gets 535"

# --- deliveries ----------------------------------------------------------
tok1=starttls-$$-$RANDOM
swaks_run plain --port "$PF_PORT" --tls "${verify[@]}" --auth PLAIN "${auth[@]}" \
    --to alice@example.test --header "Subject: $tok1" --body "body $tok1"
is "$SRC" 0 "STARTTLS + AUTH PLAIN submission accepted"
like "$SOUT" '235 2\.7\.0' "AUTH PLAIN succeeded"

tok2=wrapper-$$-$RANDOM
swaks_run wrapper --port "$PF_TLS_PORT" --tlsc "${verify[@]}" --auth LOGIN \
    --auth-user "$PF_USER@$PF_REALM" --auth-password "$PF_PASS" \
    --to bob@other.example --header "Subject: $tok2"
is "$SRC" 0 "implicit TLS + AUTH LOGIN (user@realm) submission accepted"

swaks_run cram --port "$PF_TLS_PORT" --tlsc --auth CRAM-MD5 "${auth[@]}" \
    --to carol@example.test
is "$SRC" 0 "implicit TLS + AUTH CRAM-MD5 submission accepted"

postfix_wait_delivered "$T/pf" 3 30
ok $? "three deliveries arrive in the maildir"

f=$(postfix_messages "$T/pf" alice@example.test)
is "$(printf '%s\n' "$f" | grep -c .)" 1 "one message for alice"
like "$(cat "$f" 2>/dev/null)" "Subject: $tok1" "alice's message is the STARTTLS one"
like "$(head -1 "$f" 2>/dev/null)" '^Return-Path: <sender@example.org>' "envelope sender recorded"
like "$(cat "$f" 2>/dev/null)" 'using TLSv1\.[23]' "Received header shows TLS"
f=$(postfix_messages "$T/pf" BOB@other.example)
like "$(cat "$f" 2>/dev/null)" "Subject: $tok2" "bob's message (any domain, case-insensitive lookup)"
like "$(postfix_log "$T/pf")" 'sasl_method=CRAM-MD5, sasl_username=testuser' "the log records the SASL login"

# --- scripted refusals ---------------------------------------------------
before=$(postfix_delivered "$T/pf")
swaks_run reject --port "$PF_PLAIN_PORT" --to reject@example.test
like "$SOUT" '550 5\.1\.1 <reject@example\.test>' "reject@example.test gets 550 at RCPT"
isnt_zero=$([ "$SRC" -ne 0 ] && echo 0 || echo 1)
ok "$isnt_zero" "swaks reports the rejected recipient as a failure"
swaks_run defer --port "$PF_PLAIN_PORT" --to defer@example.test
like "$SOUT" '450 4\.2\.0 <defer@example\.test>' "defer@example.test gets 450 at RCPT"
swaks_run mixed --port "$PF_PLAIN_PORT" --to dave@example.test,reject@example.test
like "$SOUT" '250 2\.0\.0 Ok: queued' "a message with one good and one rejected recipient is accepted"
postfix_wait_delivered "$T/pf" $((before + 1)) 30
sleep 1
is "$(postfix_delivered "$T/pf")" $((before + 1)) "only the good recipient got it"
is "$(postfix_messages "$T/pf" reject@example.test | grep -c .)" 0 "nothing delivered to reject@"

# --- stopping ------------------------------------------------------------
pid=$(tr -dc 0-9 <"$T/pf/spool/pid/master.pid")
postfix_stop "$T/pf"
sleep 0.2
! kill -0 "$pid" 2>/dev/null
ok $? "postfix_stop ends this instance's master"
! (exec 3<>"/dev/tcp/127.0.0.1/$PF_PORT") 2>/dev/null
ok $? "nothing listens on the submission port any more"
ok "$([ -d "$T/pf/mail/inbox/new" ] && echo 0 || echo 1)" "delivered mail kept after stop"

done_testing
