#!/bin/bash
# relayq -- relayq-flush against a server that fails at every stage:
# 4xx at each command -> deferred (exit 75, next attempt later, still
# queued); 5xx at MAIL, RCPT, DATA and the final dot -> failed (exit 69,
# a bounce to the sender); 5xx to the greeting, EHLO, STARTTLS or AUTH is a
# session problem and defers; a dropped connection at each stage ->
# deferred and resent (a duplicate at most, never a loss), except after the
# final reply -> delivered and never resent; a silent server -> deferred
# after the account's timeout; hostile replies -> the session ends cleanly
# and the message is deferred.  Every scenario then flushes again against a
# healthy session and checks the message (or its bounce) arrives.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"

# The test CA and a server certificate for localhost (tests/lib/certs.sh):
# every session here runs STARTTLS and AUTH, so that those two commands
# can fail too.
flush_certs

# Without PIPELINING by default, so that the transcript shows exactly where
# the client stopped; the pipelined paths have their own cases below.
EHLO_PLAIN="ehlo 8BITMIME ENHANCEDSTATUSCODES STARTTLS AUTH PLAIN LOGIN"
EHLO_TLS="ehlo-tls 8BITMIME ENHANCEDSTATUSCODES AUTH PLAIN LOGIN"

# server SCRIPT-LINES...: a fresh TLS+AUTH test server; sets DIR, PORT.
server() { srv_tls server "$@"; }

# config [EXTRA KEYS...]: a fresh queue and an account on $PORT.
config() {
	rm -rf "$T/queue"
	flush_config_tls starttls "tls_trust_file $PKI/ca.pem" "$@"
}

# summary: one line about the queue, for the assertions below: the number
# of messages, then for the first one its state, attempts, whether its
# next attempt lies in the future, sender and first recipient.
summary() {
	"$RQ" -bp --json | python3 -c '
import datetime, json, sys
q = json.load(sys.stdin)
if not q:
    print(0)
    sys.exit(0)
m = q[0]
t = datetime.datetime.fromisoformat(m["next_attempt"].replace("Z", "+00:00"))
later = "later" if t > datetime.datetime.now(datetime.timezone.utc) else "due"
print(len(q), m["state"], m["attempts"], later,
      "<%s>" % m["sender"], m["recipients"][0]["address"])'
}

# wire N: what the client sent in session N (decrypted), CRs removed.
wire() {
	tr -d '\r' <"$DIR/conn-$1.in" 2>/dev/null
}

# crashed: 0 when the flush died of a signal or a sanitizer spoke.
crashed() {
	[ "$RC" -ge 128 ] && return 0
	printf '%s' "$ERR" | grep -Eq 'Sanitizer|runtime error|Segmentation|core dumped|Aborted'
}

# Server messages whose envelope names a recipient: count.
received_for() {
	grep -l "^RCPT TO:<$1>" "$DIR"/msg-*.env 2>/dev/null | wc -l | tr -d ' '
}

# check NAME OUTCOME MUST MUSTNOT SCRIPT-LINES...
#   OUTCOME  deferred | failed | delivered: what the first flush must do
#   MUST     an extended regex the first session's client bytes must match
#            ("" for none); MUSTNOT one they must not match ("" for none)
# The script's rules should name session#1 so that the second flush, run
# with --all, finds a healthy server: then a deferred message must arrive,
# a failed one's bounce must arrive, and a delivered one must not be sent
# again.
check() {
	local name=$1 outcome=$2 must=$3 mustnot=$4
	shift 4
	server "$EHLO_PLAIN" "$EHLO_TLS" "$@"
	config ${CFG_EXTRA:+"$CFG_EXTRA"}
	printf 'Subject: %s\n\nbody of %s\n' "$name" "$name" |
	    "$RQ" -odq rcpt@example.net || bail "$name: cannot queue"
	flush
	ok "$(crashed; [ $? -ne 0 ]; echo $?)" "$name: the flush ends cleanly (exit $RC)"
	case $outcome in
	deferred)
		is "$RC" 75 "$name: exit 75"
		sum=$(summary)
		is "$(queued)" 1 "$name: the message is still queued"
		like "$sum" '^1 deferred 1 ' "$name: state deferred after one attempt"
		like "$sum" '^1 deferred 1 later ' "$name: the next attempt is later"
		;;
	failed)
		is "$RC" 69 "$name: exit 69"
		sum=$(summary)
		like "$sum" '^1 ' "$name: the original is gone, one bounce queued"
		like "$sum" ' <> sender@example\.org$' "$name: the bounce goes to the sender"
		;;
	delivered)
		is "$RC" 0 "$name: exit 0"
		is "$(queued)" 0 "$name: the message is removed"
		is "$(received_for rcpt@example.net)" 1 "$name: the server has it"
		;;
	esac
	[ -n "$must" ] && like "$(wire 1)" "$must" "$name: on the wire: $must"
	[ -n "$mustnot" ] && unlike "$(wire 1)" "$mustnot" "$name: not on the wire: $mustnot"

	flush --all
	case $outcome in
	deferred)
		is "$RC.$(queued)" 0.0 "$name: the retry delivers it"
		is "$(received_for rcpt@example.net)" 1 "$name: the server has it once"
		grep -lq "^Subject: $name" "$DIR"/msg-*.eml 2>/dev/null
		ok $? "$name: with its content"
		;;
	failed)
		is "$RC.$(queued)" 0.0 "$name: the bounce is relayed"
		is "$(received_for sender@example.org)" 1 "$name: the sender gets the bounce"
		is "$(received_for rcpt@example.net)" 0 "$name: the failed message never arrived"
		;;
	delivered)
		is "$RC" 0 "$name: nothing left to do"
		ok "$([ ! -e "$DIR/conn-2.in" ]; echo $?)" "$name: no new session, never resent"
		;;
	esac
}

S=session#1

# --- 4xx at each command: deferred ---------------------------------------------
check "greeting 421" deferred '' 'EHLO' "reply $S GREETING 421 4.3.2 not now"
check "greeting 450" deferred '' 'EHLO' "reply $S GREETING 450 4.3.2 busy"
check "EHLO 451" deferred 'EHLO' 'STARTTLS|AUTH|MAIL' "reply $S EHLO#1 451 4.3.0 later"
check "EHLO after TLS 451" deferred 'EHLO' 'AUTH|MAIL' "reply $S EHLO#2 451 4.3.0 later"
check "STARTTLS 454" deferred 'STARTTLS' 'AUTH|MAIL' "reply $S STARTTLS 454 4.7.0 TLS not available"
check "AUTH 454" deferred 'AUTH' 'MAIL' "reply $S AUTH 454 4.7.0 temporary authentication failure"
check "MAIL 451" deferred 'MAIL FROM' 'RCPT|DATA' "reply $S MAIL 451 4.3.0 later"
check "RCPT 450" deferred 'RCPT TO' 'DATA' "reply $S RCPT 450 4.2.1 mailbox busy"
check "DATA 451" deferred 'DATA' 'Subject' "reply $S DATA 451 4.3.0 later"
check "end of data 452" deferred '^\.$' '' \
    "reply $S DOT 452 4.3.1 insufficient storage"

# --- 5xx: MAIL, RCPT, DATA, end of data fail; session-level 5xx defers ------------
check "MAIL 550" failed 'MAIL FROM' 'RCPT|DATA' "reply $S MAIL 550 5.7.1 sender rejected"
check "RCPT 550" failed 'RCPT TO' 'DATA' "reply $S RCPT 550 5.1.1 no such user"
check "DATA 554" failed 'DATA' 'Subject' "reply $S DATA 554 5.5.1 no valid recipients"
check "end of data 554" failed '^\.$' '' "reply $S DOT 554 5.7.1 spam"
check "greeting 554" deferred '' 'EHLO' "reply $S GREETING 554 5.3.2 no service"
check "EHLO 554" deferred 'EHLO' 'HELO|STARTTLS|MAIL' "reply $S EHLO#1 554 5.7.1 go away"
# HELO is the fallback for 500/502 only when TLS is not required: here
# it would mean a session without STARTTLS.
check "EHLO 500 with TLS required" deferred 'EHLO' 'HELO|STARTTLS|MAIL' \
    "reply $S EHLO#1 500 5.5.1 unknown"
check "STARTTLS 554" deferred 'STARTTLS' 'AUTH|MAIL' "reply $S STARTTLS 554 5.7.0 no TLS for you"
check "AUTH 535" deferred 'AUTH' 'MAIL' "reply $S AUTH 535 5.7.8 bad credentials"
check "AUTH 504" deferred 'AUTH' 'MAIL' "reply $S AUTH 504 5.5.4 mechanism unknown"

# --- the same with PIPELINING: the replies are matched by position -------------
EHLO_PLAIN="ehlo PIPELINING 8BITMIME ENHANCEDSTATUSCODES STARTTLS AUTH PLAIN LOGIN"
EHLO_TLS="ehlo-tls PIPELINING 8BITMIME ENHANCEDSTATUSCODES AUTH PLAIN LOGIN"
check "pipelined MAIL 451" deferred 'MAIL FROM' 'Subject' "reply $S MAIL 451 4.3.0 later"
check "pipelined RCPT 550" failed 'RCPT TO' 'Subject' "reply $S RCPT 550 5.1.1 unknown"
check "pipelined DATA 451" deferred 'DATA' 'Subject' "reply $S DATA 451 4.3.0 later"
check "pipelined MAIL 550" failed 'MAIL FROM' 'Subject' "reply $S MAIL 550 5.7.1 no"
EHLO_PLAIN="ehlo 8BITMIME ENHANCEDSTATUSCODES STARTTLS AUTH PLAIN LOGIN"
EHLO_TLS="ehlo-tls 8BITMIME ENHANCEDSTATUSCODES AUTH PLAIN LOGIN"

# --- the connection drops at each stage ------------------------------------------
check "drop at greeting" deferred '' 'EHLO' "disconnect $S GREETING"
check "drop after EHLO" deferred 'EHLO' 'STARTTLS|MAIL' "disconnect-after $S EHLO#1"
check "drop at STARTTLS" deferred 'STARTTLS' 'AUTH|MAIL' "disconnect $S STARTTLS"
check "drop after STARTTLS 220" deferred 'STARTTLS' 'AUTH|MAIL' "disconnect-after $S STARTTLS"
check "drop at AUTH" deferred 'AUTH' 'MAIL' "disconnect $S AUTH"
check "drop after AUTH 235" deferred 'AUTH' 'MAIL' "disconnect-after $S AUTH"
check "drop at MAIL" deferred 'MAIL' 'RCPT' "disconnect $S MAIL"
check "drop at RCPT" deferred 'RCPT' 'DATA' "disconnect $S RCPT"
check "drop at DATA" deferred 'DATA' 'Subject' "disconnect $S DATA"
check "drop mid-body" deferred 'DATA' '' "disconnect $S BODY 20"
# Cut after the final dot, before the reply: the server stored nothing,
# the client cannot know; it must send the whole message again.
check "drop before the reply to the dot" deferred '^\.$' '' \
    "disconnect $S DOT"
ok "$(wire 2 | grep -c '^\.$' | grep -qx 1; echo $?)" \
    "drop before the reply to the dot: the whole message went again"
# Cut right after the 250: delivered, and never sent again.
check "drop after the reply to the dot" delivered '^\.$' '' \
    "disconnect-after $S DOT"

# --- between and after the messages of one session: RSET and QUIT -------------
# two RULE WANT-RC WANT-STORED: two messages over one pipelining session.
two() {
	local rule=$1 rc=$2 stored=$3
	server "ehlo PIPELINING 8BITMIME ENHANCEDSTATUSCODES STARTTLS AUTH PLAIN LOGIN" \
	    "ehlo-tls PIPELINING 8BITMIME ENHANCEDSTATUSCODES AUTH PLAIN LOGIN" "$rule"
	config "connections 1"
	printf 'Subject: first\n\nbody\n' | "$RQ" -odq one@example.net
	printf 'Subject: second\n\nbody\n' | "$RQ" -odq two@example.net
	flush
	ok "$(crashed; [ $? -ne 0 ]; echo $?)" "$rule: the flush ends cleanly"
	is "$RC.$(ls "$DIR"/msg-*.env 2>/dev/null | wc -l | tr -d ' ')" "$rc.$stored" \
	    "$rule: exit $rc, $stored of 2 stored"
	is "$(queued)" $((2 - stored)) "$rule: what was not stored is still queued"
	flush --all
	is "$RC.$(queued)" 0.0 "$rule: the retry finishes"
	is "$(received_for one@example.net).$(received_for two@example.net)" 1.1 \
	    "$rule: each message arrived once"
}
# A refused RSET does not undo a transaction that was completed; the
# next one is judged by its own replies.
two "reply $S RSET 451 4.3.0 not now" 0 2
two "reply $S RSET 554 5.5.1 no" 0 2
two "disconnect $S RSET" 75 1
# Whatever happens to QUIT, what was delivered stays delivered.
two "reply $S QUIT 554 5.0.0 no" 0 2
two "disconnect $S QUIT" 0 2

# --- a silent server: deferred after `timeout` ----------------------------------
CFG_EXTRA="timeout 2s"
for stage in GREETING MAIL DOT; do
	start=$(date +%s)
	check "silence at $stage" deferred '' '' "hang $S $stage"
	took=$(($(date +%s) - start))
	ok "$([ "$took" -lt 15 ]; echo $?)" "silence at $stage: gave up in time (${took}s)"
done
CFG_EXTRA=

# The server has stored the message but its final reply comes too late:
# the client must assume nothing arrived and send it again.  The result
# is a duplicate, never a loss.
server "$EHLO_PLAIN" "$EHLO_TLS" "delay $S DOT 4"
config "timeout 2s"
printf 'Subject: late reply\n\nbody\n' | "$RQ" -odq rcpt@example.net
flush
is "$RC.$(queued)" 75.1 "final reply too late: deferred, still queued"
is "$(received_for rcpt@example.net)" 1 "final reply too late: the server had stored it"
flush --all
is "$RC.$(queued)" 0.0 "final reply too late: the retry delivers it"
is "$(received_for rcpt@example.net)" 2 "final reply too late: one duplicate, no loss"

# --- hostile replies: the session ends, the message is deferred ----------------
check "1 MB greeting without CRLF" deferred '' 'MAIL' \
    "raw $S GREETING 1048576*\"x\""
check "1 MB line at MAIL" deferred 'MAIL' 'RCPT' \
    "raw $S MAIL \"250 \" 1048576*\"x\" \"\\r\\n\""
check "100000 continuation lines" deferred 'EHLO' 'MAIL' \
    "raw $S EHLO#1 100000*\"250-x\\r\\n\" \"250 ok\\r\\n\""
check "endless reply" deferred 'EHLO' 'MAIL' "endless $S EHLO#1"
check "endless reply in TLS" deferred 'MAIL' 'RCPT' "endless $S MAIL"
check "code mismatch 250-a 251 b" deferred 'MAIL' 'RCPT' \
    "raw $S MAIL \"250-a\\r\\n251 b\\r\\n\""
check "short code 25" deferred 'RCPT' 'DATA' "raw $S RCPT \"25\\r\\n\""
check "long code 2500 x" deferred 'MAIL' 'RCPT' "raw $S MAIL \"2500 x\\r\\n\""
check "NUL in the greeting" deferred '' 'MAIL' \
    "raw $S GREETING \"220 hello\\0world\\r\\n\""
check "NUL in a reply" deferred 'MAIL' 'RCPT' "raw $S MAIL \"250 o\\0k\\r\\n\""
check "bare CR inside a reply line" deferred 'MAIL' 'RCPT' \
    "raw $S MAIL \"250 o\\rk\\r\\n\""
check "bare CR inside the greeting" deferred '' 'MAIL' \
    "raw $S GREETING \"220 hello\\r220 again\\r\\n\""
# A reply line ended by a bare LF is accepted as a line end (src/reply.h
# says so, as Postfix's client does): it must lead to the same session as
# CRLF, not to a crash or a confused parser.
check "bare LF line ends" delivered 'MAIL' '' \
    "raw $S EHLO#1 \"250-localhost\\n250-STARTTLS\\n250 AUTH PLAIN\\n\"" \
    "raw $S GREETING \"220 hi\\n\"" "raw $S MAIL \"250 ok\\n\""

done_testing
