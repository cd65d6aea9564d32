#!/bin/bash
# relayq -- relayq-flush drains a queue into Postfix's smtp-sink: many
# messages per connection over at most `connections` sessions, every
# message removed, one log line per recipient, exit 0.  An unreachable
# host defers everything (75) with backoff; --all ignores the backoff.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"

SINK=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
[ -x "$SINK" ] || bail "smtp-sink is missing (postfix package)"

wait_port() {	# wait_port PORT: until something listens there
	local i
	for i in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

port=$(free_port)
# smtp-sink writes as nobody, who cannot enter $T (0700).
DUMP=$(mktemp -d /tmp/relayq-sink.XXXXXX)
chmod 777 "$DUMP"
at_exit "rm -rf '$DUMP'"
"$SINK" -u nobody -d "$DUMP/%H%M%S." 127.0.0.1:"$port" 100 \
    >"$T/sink.out" 2>&1 &
at_exit "kill $! 2>/dev/null"
wait_port "$port" || bail "smtp-sink did not start"

write_config "logfile $T/log" "account sink" "host 127.0.0.1" \
    "port $port" "tls off" "connections 3" "from sender@example.org" \
    "domain client.example.org" "account default : sink"

for i in $(seq 1 60); do
	printf 'Subject: message %d\n\n.leading dot %d\nbody\n' "$i" "$i" |
	    "$RQ" -odq "r$i@example.net" "s$i@example.net" || break
done
is "$(queued)" 60 "60 messages queued"

"$RQF"
is "$?" 0 "flush exits 0 when everything was delivered"
is "$(queued)" 0 "every delivered message is removed"
is "$(find "$T/queue/state" -type f | wc -l | tr -d ' ')" 0 \
    "no state file left behind"
is "$(grep -c 'status=sent' "$T/log")" 120 "one log line per recipient"
is "$(grep -c 'status=deferred\|status=failed' "$T/log")" 0 \
    "no deferral, no failure"
pids=$(grep -o 'relayq-flush\[[0-9]*\]: id=' "$T/log" | sort -u | wc -l)
ok "$([ "$pids" -ge 1 ] && [ "$pids" -le 3 ]; echo $?)" \
    "at most 'connections' (3) sessions carried 60 messages ($pids)"
is "$(ls "$DUMP" | wc -l | tr -d ' ')" 60 "smtp-sink received 60 messages"
f=$(grep -l 'Subject: message 7$' "$DUMP"/* | head -1)
like "$(cat "$f")" $'\n\\.leading dot 7\n' "dot-stuffing undone by the server: the line is intact"
like "$(grep -c '^X-Rcpt-Args' "$f")" '^2$' "both recipients in one transaction"

# Nothing due: exit 0, nothing sent.
"$RQF"
is "$?" 0 "an empty queue: exit 0"

# An unreachable host: deferred with backoff, retried only when due.
dead=$(free_port)
write_config "logfile $T/log2" "account sink" "host 127.0.0.1" \
    "port $dead" "tls off" "from sender@example.org" \
    "retry_min 10m" "account default : sink"
printf 'Subject: x\n\nbody\n' | "$RQ" -odq late@example.net
"$RQF"
is "$?" 75 "unreachable host: exit 75"
is "$(queued)" 1 "the message stays queued"
is "$(json 'q[0]["state"]')" deferred "state deferred"
is "$(json 'q[0]["attempts"]')" 1 "one attempt recorded"
like "$(json 'q[0]["last_error"]')" 'cannot connect|refused' \
    "last_error says why"
"$RQF"
is "$?" 0 "not due yet: nothing attempted, exit 0"
is "$(json 'q[0]["attempts"]')" 1 "still one attempt"
"$RQF" --all
is "$?" 75 "--all retries at once"
is "$(json 'q[0]["attempts"]')" 2 "two attempts"

done_testing
