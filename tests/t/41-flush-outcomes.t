#!/bin/bash
# relayq -- what each reply means for each recipient, against the
# scriptable test server: partial success (250/550/451 to the RCPTs of one
# message), a retry that sends only the deferred recipient, the bounce
# (null sender, to the sender) once everything is decided, no bounce for a
# null-sender message (failed/), "bounce off", expiry (4.4.7), and the
# server's SIZE limit (fails without a transaction).
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"

# --- partial success -------------------------------------------------------
srv_start "$T/s1" "ehlo PIPELINING 8BITMIME DSN ENHANCEDSTATUSCODES" \
    "reply RCPT#2 550 5.1.1 no such user" "reply RCPT#3 451 4.3.0 busy"
flush_config
printf 'Subject: partial\n\nbody\n' |
    "$RQ" -odq a@example.net b@example.net c@example.net d@example.net
"$RQF"
is "$?" 75 "one recipient deferred: exit 75"
is "$(json '" ".join(r["status"] for r in q[0]["recipients"])')" \
    "sent failed deferred sent" "each recipient has its own outcome"
is "$(grep -c '^RCPT TO' "$T/s1/msg-1.env")" 2 \
    "the server took the message for the two accepted recipients"
like "$("$RQ" -bp)" 'b@example\.net> failed: 550 5\.1\.1 no such user' \
    "the 550 is kept for the failed recipient"

# --- the retry sends only the deferred recipient, then bounces --------------
srv_start "$T/s2" "ehlo PIPELINING 8BITMIME ENHANCEDSTATUSCODES"
flush_config
"$RQF" --all
is "$?" 69 "a recipient failed for good: exit 69"
is "$(grep '^RCPT TO' "$T/s2/msg-1.env")" "RCPT TO:<c@example.net>" \
    "only the deferred recipient is sent again"
is "$(json 'len(q)')" 1 "the original is gone, a bounce is queued"
is "$(json 'q[0]["sender"]')" "" "the bounce has the null sender"
is "$(json 'q[0]["recipients"][0]["address"]')" sender@example.org \
    "the bounce goes to the envelope sender"
"$RQF"
is "$?" 0 "the bounce is relayed"
like "$(head -1 "$T/s2/msg-2.env")" '^MAIL FROM:<>' "MAIL FROM:<> on the wire"
b=$(cat "$T/s2/msg-2.eml")
like "$b" 'Content-Type: multipart/report; report-type=delivery-status' \
    "the bounce is a multipart/report"
like "$b" 'Final-Recipient: rfc822; b@example.net' "it names the failed recipient"
like "$b" 'Status: 5\.1\.1' "with the server's status"
unlike "$b" 'Final-Recipient: rfc822; [acd]@' "and no delivered recipient"

# --- a null-sender message that fails: failed/, never a bounce --------------
srv_start "$T/s3" "ehlo PIPELINING" "reply RCPT 550 5.1.1 gone"
flush_config
printf 'Subject: dsn\n\nbody\n' | "$RQ" -odq -f '<>' x@example.net
"$RQF"
is "$?" 69 "null sender, 550: exit 69"
is "$(queued)" 0 "nothing left in msg/: no bounce of a bounce"
is "$(ls "$T/queue/failed" | grep -vc '\.state$')" 1 "the message is in failed/"

# --- bounce off ----------------------------------------------------------------
flush_config "bounce off"
printf 'Subject: nob\n\nbody\n' | "$RQ" -odq y@example.net
"$RQF"
is "$?" 69 "bounce off: exit 69"
is "$(queued)" 0 "bounce off: no bounce queued"
is "$(ls "$T/queue/failed" | grep -vc '\.state$')" 2 "bounce off: kept in failed/"

# --- expiry: deferred past max_queue_time fails with 4.4.7 ------------------
srv_start "$T/s4" "ehlo PIPELINING" "reply RCPT 451 4.3.0 later"
flush_config "max_queue_time 1d"
printf 'Subject: old\n\nbody\n' | "$RQ" -odq z@example.net
"$RQF"
is "$?" 75 "451: deferred"
RELAYQ_FAKE_NOW=$(( $(date +%s) + 2 * 86400 )) "$RQF" --all
is "$?" 69 "two days later, past max_queue_time: failed"
id=$(json 'q[0]["id"]')
is "$(json 'q[0]["sender"]')" "" "a bounce is queued"
like "$(cat "$T/queue/msg/$id")" 'Status: 4\.4\.7' "with status 4.4.7"
like "$(cat "$T/queue/msg/$id")" 'Diagnostic-Code: smtp; 451 4\.3\.0 later' \
    "and the last reply"
"$RQ" --delete "$id" >/dev/null 2>&1

# --- NOTIFY=SUCCESS through a server without DSN: a "relayed" notice ----------
srv_start "$T/s6" "ehlo PIPELINING 8BITMIME"
flush_config
printf 'Subject: dsn\n\nbody\n' | "$RQ" -odq -N success,failure ok@example.net
"$RQF"
is "$?" 0 "delivered"
live='[m for m in q if m["state"] != "failed"]'
is "$(json "len($live)")" 1 "a notice is queued"
id=$(json "$live[0]['id']")
is "$(json "$live[0]['sender']")" "" "the notice has the null sender"
like "$(cat "$T/queue/msg/$id")" 'Action: relayed' "Action: relayed"
"$RQ" --delete "$id" >/dev/null 2>&1
srv_start "$T/s7" "ehlo PIPELINING 8BITMIME DSN"
flush_config
printf 'Subject: dsn\n\nbody\n' | "$RQ" -odq -N success ok@example.net
"$RQF"
is "$(queued)" 0 "a server with DSN: no notice of our own"
like "$(grep '^RCPT' "$T/s7/msg-1.env")" 'NOTIFY=SUCCESS' "NOTIFY goes to the server"

# --- the server's SIZE limit: a permanent failure, no transaction -----------
srv_start "$T/s5" "ehlo PIPELINING SIZE 100"
flush_config "bounce off"
printf 'Subject: big\n\n%0200d\n' 0 | "$RQ" -odq big@example.net
"$RQF"
is "$?" 69 "larger than SIZE: failed at once"
unlike "$(cat "$T/s5/conn-1.in")" 'MAIL FROM' "no MAIL was sent"
like "$(grep big@ "$T/log")" 'status=failed reply="5\.3\.4 message is [0-9]+ octets' \
    "the log says why (5.3.4)"

done_testing
