#!/bin/bash
# relayq -- relayq-flush --watch: a message submitted while it runs is
# relayed at once (inotify), SIGHUP rereads the configuration (and keeps
# the old one when the new one is broken), SIGTERM ends it cleanly.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"

srv_start "$T/srv" "ehlo PIPELINING 8BITMIME"
flush_config

# wait_log REGEX SECONDS: until the log has a line matching
wait_log() {
	local i
	for i in $(seq 1 $(($2 * 100))); do
		grep -Eq "$1" "$T/log" 2>/dev/null && return 0
		sleep 0.01
	done
	return 1
}

# wait_for FILE-PATTERN SECONDS: until the glob matches
wait_for() {
	local i
	for i in $(seq 1 $(($2 * 100))); do
		compgen -G "$1" >/dev/null && return 0
		sleep 0.01
	done
	return 1
}

"$RQF" --watch 2>"$T/watch.err" &
wpid=$!
at_exit "kill $wpid 2>/dev/null"
wait_log 'watching' 10

start=$(date +%s%N)
printf 'Subject: one\n\nbody\n' | "$RQ" -odq one@example.net
wait_for "$T/srv/msg-1.eml" 5
ok $? "a new message is relayed while --watch runs"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
ok "$([ "$ms" -lt 2000 ]; echo $?)" "within moments of its arrival (${ms} ms)"
sleep 0.2
is "$(queued)" 0 "and removed from the queue"

# SIGHUP with a broken file: the old configuration stays in force.
cp "$T/config" "$T/config.good"
echo "no_such_key 1" >>"$T/config"
kill -HUP "$wpid"
wait_log 'keeping the old configuration' 10
ok $? "SIGHUP with a broken file keeps the old configuration"
printf 'Subject: two\n\nbody\n' | "$RQ" -C "$T/config.good" -odq two@example.net
wait_for "$T/srv/msg-2.eml" 5
ok $? "and mail still flows"

cp "$T/config.good" "$T/config"
kill -HUP "$wpid"
wait_log 'configuration reread' 10
ok $? "SIGHUP rereads a good file"

kill -TERM "$wpid"
for i in $(seq 1 300); do
	kill -0 "$wpid" 2>/dev/null || break
	sleep 0.01
done
wait "$wpid"
is "$?" 0 "SIGTERM: a clean exit, status 0"

done_testing
