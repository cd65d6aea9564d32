#!/bin/bash
# relayq and relayq-flush run under valgrind (memcheck) without a memory
# error and without a definite or indirect leak, in every process they
# start (relayq-flush forks one worker per connection; each worker gets
# its own log, and every log is read): a plain submit, cron's -t call with
# headers, a 2000-octet line re-encoded as quoted-printable, an SMTP
# session on stdin (-bs), the queue listing as JSON, and flushes to the
# test SMTP server: plain delivery, STARTTLS with SCRAM-SHA-256, a
# recipient refused with 5xx (a bounce is queued), a message deferred with
# 4xx (a state file is written and listed), DKIM signing (the body hash at
# submit, the signature at flush, --check).  Without tests/smtpd/rq-testsmtpd
# the plain delivery goes to Postfix's smtp-sink and the others fail.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later
. "$(dirname "$0")/../lib/harness.sh"

command -v valgrind >/dev/null 2>&1 || bail "valgrind is missing (scripts/deps)"
{ [ -x "$RQ" ] && [ -x "$RQF" ]; } || bail "src/relayq and src/relayq-flush are not built"
export RELAYQ_FLUSH=/bin/false	# submission never starts a flush here
mkdir -p "$T/vg"

# vg NAME PROGRAM ARGS...: run under memcheck with stdin from $VG_IN
# (default /dev/null); sets RC, OUT, ERR; logs go to $T/vg/NAME.PID.
# relayq's own children only fork and exec (the detached flush, whose
# middle process _exits with the parent's heap still allocated, which
# memcheck counts as lost): they are not checked.  relayq-flush's children
# are its delivery workers and are checked like the parent.
vg() {
	local name=$1 silent=""
	shift
	[ "$1" = "$RQ" ] && silent=--child-silent-after-fork=yes
	valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
	    --error-exitcode=99 --track-fds=no --num-callers=30 $silent \
	    --log-file="$T/vg/$name.%p" "$@" <"${VG_IN:-/dev/null}" \
	    >"$T/.out" 2>"$T/.err"
	RC=$?
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
}

# vg_clean NAME DESCRIPTION: every log of NAME ends with no error (leaks
# of the kinds above count as errors) and no definite or indirect loss.
# A log that stops after valgrind's banner belongs to a child that called
# exec (the detached flush): valgrind leaves it there, nothing to check.
vg_clean() {
	local name=$1 f bad="" n=0
	for f in "$T/vg/$name".*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		if ! grep -q 'ERROR SUMMARY' "$f" &&
		    ! sed '1,/Parent PID:/d' "$f" | grep -q '^==[0-9]*== .'; then
			continue
		fi
		if ! grep -q 'ERROR SUMMARY: 0 errors' "$f" ||
		    grep -Eq '(definitely|indirectly) lost: [1-9]' "$f"; then
			bad="$bad $f"
		fi
	done
	if [ "$n" -gt 0 ] && [ -z "$bad" ] && [ "$RC" != 99 ]; then
		ok 0 "$2: no valgrind error, no definite or indirect leak"
		return
	fi
	ok 1 "$2: no valgrind error, no definite or indirect leak"
	[ "$n" = 0 ] && diag "no valgrind log for $name"
	[ "$RC" = 99 ] && diag "valgrind's error exit status (99)"
	for f in $bad; do
		diag "--- ${f##*/}"
		# The reports, without valgrind's banner.
		sed -n '/^==[0-9]*== [^ ]/,$p' "$f" | sed 's/^==[0-9]*== //' |
		    grep -v -E '^(Memcheck|Copyright|Using Valgrind|Command:|Parent PID:|$)' |
		    head -60 | sed 's/^/#   /'
	done
}

# vg_input NAME TEXT ARGS...: relayq with TEXT (printf %b) on stdin.
vg_input() {
	local name=$1 text=$2
	shift 2
	printf '%b' "$text" >"$T/.in"
	VG_IN=$T/.in vg "$name" "$RQ" "$@"
}

basic_config

# --- submission --------------------------------------------------------------
vg_input submit 'Subject: plain\n\nbody line\n' -odq rcpt@example.net
is "$RC" 0 "a plain submit under valgrind is queued (exit 0)"
vg_clean submit "plain submit"

# cronie's exact command line, and headers to take recipients from.
vg_input cron 'To: Alice <a@example.net>, b@example.net\nCc: c@example.net\nBcc: hidden@example.net\nSubject: cron\n\nout\n' \
	-FCronDaemon -i -oem -oi -t -f sender@example.org -odq
is "$RC" 0 "cron's -t call with To, Cc and Bcc is queued"
f=$(last_msg)
is "$(grep -ac '^rcpt ' "$f")" 4 "... with the four header recipients"
is "$(grep -ac '^Bcc:' "$f")" 0 "... and no Bcc header"
vg_clean cron "-t with headers (cron's command line)"

long=$(head -c 2000 /dev/zero | tr '\0' 'x')
vg_input qp "Subject: long\n\n$long\nshort\n" -odq rcpt@example.net
is "$RC" 0 "a 2000-octet line is queued"
f=$(last_msg)
like "$(grep -a 'Content-Transfer-Encoding' "$f")" 'quoted-printable' \
	"... re-encoded as quoted-printable"
ok "$(sed -n '/^data$/,$p' "$f" | awk 'length > 999 { bad = 1 } END { print bad + 0 }')" \
	"... with no line over 998 octets"
vg_clean qp "quoted-printable re-encoding of a long line"

vg_input bs 'EHLO client.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<r@example.net>\r\nDATA\r\nSubject: bs\r\n\r\n..dot\r\nhello\r\n.\r\nQUIT\r\n' -bs
is "$RC" 0 "-bs: a scripted SMTP session ends with exit 0"
like "$OUT" '^354' "... DATA is answered with 354"
like "$(printf '%s' "$OUT" | tail -1)" '^221' "... and QUIT with 221"
vg_clean bs "-bs session on stdin"
is "$(queued)" 4 "four messages in the queue"

vg json "$RQ" -bp --json
is "$RC" 0 "-bp --json exits 0"
is "$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>&1)" 4 \
	"... and lists the four messages as JSON"
vg_clean json "-bp --json"

# --- relaying ---------------------------------------------------------------------
SRV=$TOP/tests/smtpd/rq-testsmtpd
if [ -x "$SRV" ]; then
	# shellcheck disable=SC2034  # read by smtpd.sh
	RQ_TOP=$TOP
	# shellcheck source=../lib/smtpd.sh
	. "$TOP/tests/lib/smtpd.sh"
	at_exit smtpd_stop
	# shellcheck disable=SC2034  # read by smtpd.sh
	SMTPD_VERBOSE=0
fi

# server NAME SCRIPT-LINES...: a fresh test server (sets SMTPD_PORT).
server() {
	local name=$1
	shift
	smtpd_stop
	SMTPD_DIR=$T/srv-$name
	printf '%s\n' "$@" >"$T/$name.script"
	smtpd_start "$T/$name.script" -t 120 ||
		bail "rq-testsmtpd does not start"
}

flush_config() {	# flush_config PORT [EXTRA KEYS...]
	local port=$1
	shift
	# "test" as in basic_config: the queued messages name their account.
	write_config "logfile $T/log" "account test" "port $port" \
	    "from sender@example.org" "domain client.example.org" "$@" \
	    "account default : test"
}

if [ -x "$SRV" ]; then
	server plain "ehlo PIPELINING 8BITMIME SIZE 10000000 ENHANCEDSTATUSCODES"
	flush_config "$SMTPD_PORT" "host 127.0.0.1" "tls off" "connections 2"
	vg flush "$RQF" --all
	is "$RC" 0 "flush to the test server delivers everything (exit 0)"
	[ "$RC" = 0 ] || diag "$ERR"
	is "$(queued)" 0 "... the queue is empty"
	is "$(ls "$SMTPD_DIR"/msg-*.eml 2>/dev/null | wc -l | tr -d ' ')" 4 \
	    "... and the server received four messages"
	vg_clean flush "flush over plain SMTP, two connections"
else
	SINK=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
	[ -x "$SINK" ] || bail "neither rq-testsmtpd nor smtp-sink is available"
	port=$(free_port)
	"$SINK" 127.0.0.1:"$port" 100 >"$T/sink.out" 2>&1 &
	at_exit "kill $! 2>/dev/null"
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.05
	done
	flush_config "$port" "host 127.0.0.1" "tls off" "connections 2"
	vg flush "$RQF" --all
	is "$RC" 0 "flush to smtp-sink delivers everything (exit 0)"
	is "$(queued)" 0 "... the queue is empty"
	vg_clean flush "flush over plain SMTP to smtp-sink, two connections"
	ok 1 "STARTTLS, 5xx and 4xx flushes need tests/smtpd/rq-testsmtpd (make tests)"
	done_testing
	exit
fi

# STARTTLS, certificate verification and SCRAM-SHA-256.
"$TOP/tests/lib/certs.sh" "$T/pki" >/dev/null 2>&1 || bail "tests/lib/certs.sh failed"
server tls "ehlo PIPELINING STARTTLS" \
	"ehlo-tls PIPELINING 8BITMIME AUTH PLAIN SCRAM-SHA-256" \
	"tls cert=$T/pki/server.pem key=$T/pki/server.key" \
	"user alice s3cret-Pa55"
flush_config "$SMTPD_PORT" "host localhost" "tls on" "tls_starttls on" \
	"tls_trust_file $T/pki/ca.pem" "auth scram-sha-256" "user alice" \
	"password s3cret-Pa55" "connections 1"
vg_input tls-submit 'Subject: tls\n\nover TLS\n' -odq rcpt@example.net
vg flush-tls "$RQF"
is "$RC" 0 "flush over STARTTLS with SCRAM-SHA-256 delivers (exit 0)"
is "$(smtpd_info 1 auth_mech)" SCRAM-SHA-256 "... after SCRAM-SHA-256"
like "$(smtpd_info 1 tls_version)" 'TLS1\.[23]' "... over TLS 1.2 or 1.3"
vg_clean flush-tls "flush over STARTTLS with SCRAM-SHA-256"

# A recipient refused for good: the other is delivered, a bounce queued.
server fail "ehlo PIPELINING 8BITMIME ENHANCEDSTATUSCODES" \
	"reply RCPT#2 550 5.1.1 no such user"
flush_config "$SMTPD_PORT" "host 127.0.0.1" "tls off"
VG_IN=/dev/null
vg_input fail-submit 'Subject: half\n\nbody\n' -odq good@example.net bad@example.net
vg flush-5xx "$RQF"
is "$RC" 69 "a 550 recipient fails the message for good (exit 69)"
is "$(queued)" 1 "... and one message is queued: the bounce"
like "$(grep -a '^sender' "$(last_msg)")" '^sender$' "... from the null sender"
vg_clean flush-5xx "flush with a 550 recipient and a bounce"
rm -rf "$T/queue"

# A deferral: the message stays, with its state, and the listing shows it.
server defer "ehlo PIPELINING 8BITMIME ENHANCEDSTATUSCODES" \
	"reply DOT 451 4.3.0 try again later"
flush_config "$SMTPD_PORT" "host 127.0.0.1" "tls off"
vg_input defer-submit 'Subject: later\n\nbody\n' -odq r@example.net
vg flush-4xx "$RQF"
is "$RC" 75 "a 451 defers the message (exit 75)"
is "$(queued)" 1 "... which stays queued"
vg_clean flush-4xx "flush with a 451 deferral"
vg json-deferred "$RQ" -bp --json
like "$OUT" '"state": *"deferred"' "-bp --json shows the deferred message"
like "$OUT" '451 4\.3\.0' "... with its last error"
vg_clean json-deferred "-bp --json with a state file"
rm -rf "$T/queue"

# DKIM: the body hash at submit; signing at flush, with the recorded hash
# and (queued before DKIM was on) with one made at flush; --check.
. "$TOP/tests/lib/dkim.sh"
dkim_keys "$T/k"
server dkim "ehlo PIPELINING 8BITMIME ENHANCEDSTATUSCODES"
flush_config "$SMTPD_PORT" "host 127.0.0.1" "tls off" "connections 1"
vg_input dkim-plain-submit 'Subject: before DKIM

body
' -odq r@example.net
flush_config "$SMTPD_PORT" "host 127.0.0.1" "tls off" "connections 1" \
    "dkim_domain example.org" "dkim_selector sel" "dkim_key $T/k/rsa.key"
vg_input dkim-submit 'From: a@example.org
Subject: signed

body
' -odq r@example.net
like "$(tail -c 100 "$(last_msg)")" 'dkim-bh=relaxed:' "DKIM: the body hash is recorded at submit"
vg_clean dkim-submit "submit with the DKIM body hash"
vg flush-dkim "$RQF"
is "$RC" 0 "DKIM: both messages signed and delivered"
is "$(dkim_py "$T/k/rsa.txt" "$SMTPD_DIR"/msg-1.eml "$SMTPD_DIR"/msg-2.eml | tr '\n' ' ')" \
    "pass pass " "... and both verify"
vg_clean flush-dkim "flush signing with RSA (hash recorded, and made at flush)"
vg check-dkim "$RQF" --check
is "$RC" 0 "DKIM: --check with the key"
vg_clean check-dkim "--check with DKIM"

done_testing
