#!/bin/bash
# relayq -- a delivered message's removal runs beside the next message's
# transaction, but is durable before that message's end of data leaves
# (SPEC 3: at most one duplicate per connection after a crash).  Through
# tests/ordershim.so every fsync of a queue directory takes 150 ms and is
# written down when it returns, and every end of data ("." or BDAT LAST)
# and QUIT when it is about to be sent: in each process, the queue update
# of every message before must have returned before an end of data, and
# of every message sent before QUIT.  Covered: DATA and BDAT, a session change
# (max_messages_per_connection), and a partly deferred message, whose
# state write is the update that must come first.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"

SHIM=$TOP/tests/ordershim.so
[ -f "$SHIM" ] || bail "tests/ordershim.so is not built (make tests)"

# check LOG: one "PASS/FAIL what" line per check of the order.
check() {
	python3 - "$1" <<'EOF'
import collections, sys
ev = collections.defaultdict(list)
for line in open(sys.argv[1]):
    pid, what = line.split()[:2]
    ev[pid].append(what)
# Each message here has one durable update, made with one directory
# fsync: its removal (msg/) or its state (state/).  So the k-th end of
# data of a process may leave only after k-1 of them returned, and QUIT
# only after as many as there were ends.
ends = syncs = 0
early = []
for pid, seq in ev.items():
    n_end = n_sync = 0
    for i, what in enumerate(seq):
        if what == "sync":
            n_sync += 1
        elif what == "end":
            n_end += 1
            if n_sync < n_end - 1:
                early.append("%s end %d after %d syncs" % (pid, n_end, n_sync))
        elif what == "quit" and n_sync < n_end:
            early.append("%s quit after %d ends, %d syncs" % (pid, n_end, n_sync))
    ends += n_end
    syncs += n_sync
def res(ok, what):
    print(("PASS " if ok else "FAIL ") + what)
res(ends >= 7, "the shim saw the ends of data (%d)" % ends)
res(syncs >= 7, "... and the queue's directory fsyncs (%d)" % syncs)
res(not early, "no end of data or QUIT before the update of the message "
    "before was durable%s" % (" (early: " + ", ".join(early) + ")"
                              if early else ""))
EOF
}

for mode in DATA BDAT; do
	caps="PIPELINING 8BITMIME"
	[ "$mode" = BDAT ] && caps="$caps CHUNKING"
	# The first message's second recipient is put off: its state file
	# is written, the other seven messages are removed.
	srv_next "ehlo $caps" "reply session#1 RCPT#2 451 4.3.0 later"
	flush_config "connections 1" "max_messages_per_connection 5"
	printf 'Subject: M1\n\nbody\n' | "$RQ" -odq a@example.net b@example.net
	for i in 2 3 4 5 6 7 8; do
		printf 'Subject: M%d\n\nbody %d\n' "$i" "$i" |
		    "$RQ" -odq "r$i@example.net"
	done
	is "$(queued)" 8 "$mode: eight messages queued"
	rm -f "$T/order"
	LD_PRELOAD=$SHIM ORDER_LOG=$T/order ORDER_PATH=$T/queue \
	    ORDER_DELAY_MS=150 "$RQF" >"$T/out" 2>&1
	is "$?" 75 "$mode: the flush ends with b@ deferred (75)"
	is "$(queued)" 1 "$mode: the seven others are removed"
	smtpd_wait_sessions 2
	is "$(ls "$DIR"/msg-*.env 2>/dev/null | wc -l | tr -d ' ')" 8 \
	    "$mode: eight messages reached the server over two sessions, once each"
	is "$(json 'q[0]["recipients"][1]["status"]')" deferred \
	    "$mode: b@ is recorded as deferred, a@ as sent" 
	check "$T/order" >"$T/result"
	while read -r st rest; do
		[ "$st" = PASS ]
		ok $? "$mode: $rest"
	done <"$T/result"
	rm -rf "$T/queue"
done

done_testing
