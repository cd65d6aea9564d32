#!/bin/bash
# relayq -- rate_limit N/PERIOD holds an account to N messages per period
# across runs: the rest stay due and untouched (no attempt counted) until
# the period has moved on; max_messages_per_connection opens new sessions.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"

srv_start "$T/srv" "ehlo PIPELINING 8BITMIME"

received() { ls "$T"/srv/msg-*.eml 2>/dev/null | wc -l | tr -d ' '; }
sessions() { ls "$T"/srv/conn-*.info 2>/dev/null | wc -l | tr -d ' '; }

flush_config "rate_limit 3/1h"
for i in 1 2 3 4 5; do
	printf 'Subject: %d\n\nbody\n' "$i" | "$RQ" -odq "r$i@example.net"
done

"$RQF"
is "$?" 75 "limit reached with mail left: exit 75"
is "$(received)" 3 "three messages sent"
is "$(json 'len(q)')" 2 "two left in the queue"
is "$(json 'sum(m["attempts"] for m in q)')" 0 "the two left were not attempted"
like "$(cat "$T/log")" 'rate limit 3 per 3600s reached' "the log says why"

"$RQF"
is "$(received)" 3 "a second run within the hour sends nothing"

RELAYQ_FAKE_NOW=$(( $(date +%s) + 3601 )) "$RQF"
is "$?" 0 "an hour later the rest goes"
is "$(received)" 5 "all five sent"
is "$(queued)" 0 "the queue is empty"

# max_messages_per_connection: 6 messages, 2 per session, 1 connection.
flush_config "connections 1" "max_messages_per_connection 2"
before=$(sessions)
for i in 1 2 3 4 5 6; do
	printf 'Subject: %d\n\nbody\n' "$i" | "$RQ" -odq "m$i@example.net"
done
"$RQF"
is "$?" 0 "max_messages_per_connection: all delivered"
# The server writes a session's info file as the session ends.
for i in $(seq 1 200); do
	[ "$(( $(sessions) - before ))" -ge 3 ] && break
	sleep 0.02
done
sleep 0.2
is "$(( $(sessions) - before ))" 3 "in three sessions of two messages"

# A message another flush holds takes no slot: with 2/1h and three
# messages, the first locked elsewhere, the other two still go.
srv_start "$T/srv2" "ehlo PIPELINING 8BITMIME"
received2() { ls "$T"/srv2/msg-*.eml 2>/dev/null | wc -l | tr -d ' '; }
rm -f "$T"/queue/rate.*
flush_config "rate_limit 2/1h" "connections 1"
for i in 1 2 3; do
	printf 'Subject: %d\n\nbody\n' "$i" | "$RQ" -odq "l$i@example.net"
done
f="$T/queue/msg/$(ls "$T/queue/msg" | head -1)"
python3 -c 'import fcntl,os,sys,time
fd=os.open(sys.argv[1],os.O_RDONLY); fcntl.flock(fd,fcntl.LOCK_EX)
open(sys.argv[2],"w").close(); time.sleep(30)' "$f" "$T/locked" &
lp=$!
at_exit "kill $lp"
while [ ! -e "$T/locked" ]; do sleep 0.05; done
"$RQF"
is "$(received2)" 2 "a message busy elsewhere takes no rate_limit slot: the other two go"
kill "$lp" 2>/dev/null

done_testing
