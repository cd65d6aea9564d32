#!/bin/bash
# relayq -- mail that arrives while a flush runs goes out in that same run,
# even when nothing starts a second flush (systemd's path unit does not
# start a unit that is still running; a set-group-ID submit starts none).
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"

# The first message's final reply is held back for 2 seconds.
srv_start "$T/srv" "delay DOT#1 2"
flush_config
export RELAYQ_FLUSH=/bin/false	# the submits below start no flush

printf 'Subject: first\n\nbody\n' | "$RQ" -odq one@example.net
"$RQF" &
pid=$!
sleep 0.7
printf 'Subject: second\n\nbody\n' | "$RQ" -odq two@example.net
wait "$pid"
is "$?" 0 "the running flush exits 0"
is "$(queued)" 0 "the message queued during its pass went out in the same run"
smtpd_wait_sessions 1 10
is "$(ls "$DIR"/msg-*.eml 2>/dev/null | wc -l | tr -d ' ')" 2 "the server received both"

done_testing
