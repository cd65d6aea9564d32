#!/bin/bash
# relayq -- hostile and broken servers: endless or malformed replies, a
# hang (timeout), a drop before or after the final dot, 421 at the
# greeting with failover to the next host.  Each ends the session
# cleanly, the message stays queued (a drop after the dot may cause a
# duplicate later, never a loss), and the reason is logged.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"

server() {	# server SCRIPT-LINES...: sets PORT, DIR
	srv_next "ehlo PIPELINING 8BITMIME" "$@"
}

config() {	# config HOSTS
	HOST=$1 flush_config "timeout 2"
}

printf 'Subject: h\n\nbody\n' >"$T/msg"
case_() {	# case_ NAME REGEX SCRIPT-LINES...
	local name=$1 re=$2
	shift 2
	server "$@"
	config 127.0.0.1
	: >"$T/log"
	[ "$(queued)" = 1 ] || "$RQ" -odq victim@example.net <"$T/msg"
	timeout 30 "$RQF" --all
	is "$?" 75 "$name: deferred (75)"
	is "$(queued)" 1 "$name: the message stays queued"
	like "$(cat "$T/log")" "$re" "$name: the log says why"
}

case_ "endless reply" 'more than 1000 lines|too long|too large' 'endless EHLO'
case_ "a line of 1 MB" 'too long|line' \
    'raw MAIL 1048576*"x"'
case_ "two digits" 'three-digit' 'raw MAIL "25\r\n"'
case_ "four digits" 'three-digit|malformed|code' 'raw MAIL "2500 x\r\n"'
case_ "code changes" 'changes its code' 'raw RCPT "250-a\r\n251 b\r\n"'
case_ "a hang at the dot" 'timeout' 'hang DOT'
case_ "a drop before the dot reply" 'closed' 'disconnect DOT'
case_ "a drop in the middle of DATA" 'closed|reset' 'disconnect BODY 5'
case_ "421 after MAIL" '421' 'reply MAIL 421 4.3.2 shutting down'

# 421 at the greeting: the next host is tried.
server 'reply session#1 GREETING 421 4.3.2 busy'
config "127.0.0.1 localhost"
timeout 30 "$RQF" --all
is "$?" 0 "421 at the greeting: the second host takes the message"
is "$(queued)" 0 "421 at the greeting: delivered"
like "$(cat "$T/log")" 'did not greet us: 421' "the 421 is logged"

done_testing
