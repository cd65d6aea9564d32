#!/bin/bash
# relayq -- a queued message whose account has left the configuration is
# neither lost nor stuck: each flush says so (exit 78) and retries it with
# backoff, a fixed configuration sends it, and past max_queue_time it moves
# to failed/ with the reason, where --requeue brings it back.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
RQ_TOP=$TOP
. "$TOP/tests/lib/smtpd.sh"

SMTPD_DIR=$T/srv
smtpd_start - -t 60 </dev/null || bail "cannot start the test server"
at_exit "kill $SMTPD_PID"

acct() {	# acct NAME: a plain account on the test server, the default
	write_config "logfile $T/log" "account $1" "host 127.0.0.1" \
	    "port $SMTPD_PORT" "tls off" "from sender@example.org" \
	    "max_queue_time 1d" "account default : $1"
}
json() {
	"$RQ" -bp --json | python3 -c "import json,sys; q=json.load(sys.stdin); print($1)"
}

acct old
printf 'Subject: orphan\n\nbody\n' | "$RQ" -odq -a old rcpt@example.net
acct new
"$RQF" 2>"$T/err"
is "$?" 78 "a message for a removed account: exit 78"
like "$(cat "$T/err")" 'account old is not in the configuration' "... said on standard error"
like "$(cat "$T/log")" 'account old is not in the configuration' "... and in the log"
is "$(json 'q[0]["state"]')" deferred "... the message is kept, deferred"
like "$(json 'q[0]["last_error"]')" 'account old' "... with the reason as its last error"
"$RQF" 2>/dev/null
is "$(json 'q[0]["attempts"]')" 1 "... and not retried before its next attempt"

acct old
"$RQF" --all
is "$?" 0 "with the account back, it is delivered"
is "$(queued)" 0 "... and leaves the queue"

printf 'Subject: orphan 2\n\nbody\n' | "$RQ" -odq -a old rcpt@example.net
acct new
RELAYQ_FAKE_NOW=$(( $(date +%s) + 2 * 86400 )) "$RQF" --all 2>/dev/null
is "$?" 78 "two days later, still no account: exit 78"
is "$(queued)" 0 "... past max_queue_time it left the queue"
id=$(ls "$T/queue/failed" | grep -v '\.state$' | head -1)
ok "$([ -n "$id" ]; echo $?)" "... into failed/"
like "$(cat "$T/queue/failed/$id.state")" 'account old is not in the configuration' "... with the reason"
"$RQ" --requeue "$id"
is "$(queued)" 1 "--requeue brings it back"

done_testing
