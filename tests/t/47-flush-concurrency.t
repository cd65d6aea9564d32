#!/bin/bash
# relayq -- concurrent flushes and flushes killed with SIGKILL: 200 queued
# messages and two plain flushes started together (they coalesce), 500 and
# two --all flushes (they work side by side) -> every message arrives
# exactly once, by Message-ID; a flush killed while the server holds back
# its reply to MAIL, RCPT, DATA, the final dot or the greeting, followed by
# a new flush -> nothing lost, a duplicate only for a message whose final
# reply was still outstanding (at most one per open connection); a
# recipient the server accepted in a partly successful transaction is
# never sent again, even when the flush dies right after.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"
command -v setsid >/dev/null || bail "setsid is missing (util-linux)"

# received DIR...: "SUBJECT COUNT" lines over the messages the servers in
# DIRs stored, plus "total N" and "dups N" (copies beyond the first).
received() {
	python3 - "$@" <<'EOF'
import collections, glob, os, sys
c = collections.Counter()
for d in sys.argv[1:]:
    for f in glob.glob(os.path.join(d, "msg-*.eml")):
        for line in open(f, "rb").read().split(b"\r\n"):
            if line.lower().startswith(b"subject: "):
                c[line[9:].decode()] += 1
                break
for s in sorted(c):
    print(s, c[s])
print("total", sum(c.values()))
print("dups", sum(v - 1 for v in c.values()))
EOF
}

# queue_msgs PREFIX COUNT: queue COUNT messages "Subject: PREFIX i", one
# relayq run (--message-file) so that setting up stays fast.
queue_msgs() {
	local prefix=$1 count=$2 i args=()
	mkdir -p "$T/in"
	for i in $(seq 1 "$count"); do
		printf 'Subject: %s %d\n\nbody %d\n' "$prefix" "$i" "$i" >"$T/in/$prefix.$i"
		args+=(--message-file "$T/in/$prefix.$i")
	done
	"$RQ" -odq "${args[@]}" rcpt@example.net || bail "cannot queue $prefix"
}

# wait_stored DIR N: until the server in DIR has stored N messages (20 s).
wait_stored() {
	local i
	for i in $(seq 1 400); do
		[ "$(ls "$1" | grep -c '^msg-.*\.env$')" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# kill_group PID: SIGKILL the process group PID leads (the flush and its
# workers); returns the leader's wait status.  (bash's "Killed" notice
# for the job goes to /dev/null with the rest of this function's errors.)
kill_group() {
	kill -9 -- "-$1"
	wait "$1"
} 2>/dev/null

# wait_wire DIR REGEX N: until the client has sent N lines matching REGEX
# (CR removed) to the server in DIR, over all its sessions (20 s).  The
# server records bytes as they arrive, before it answers.
wait_wire() {
	local i
	for i in $(seq 1 1000); do
		[ "$(cat "$1"/conn-*.in 2>/dev/null | tr -d '\r' | grep -Ec "$2")" -ge "$3" ] &&
		    return 0
		sleep 0.02
	done
	return 1
}

# --- two flushes started together ----------------------------------------------
# together WHAT PREFIX COUNT [ARGS...]: COUNT messages queued, then two
# flushes with ARGS started at once (output in $T/f1.out and $T/f2.out);
# every message must arrive exactly once.
together() {
	local what=$1 prefix=$2 count=$3 p1 p2 r1 r2 r
	shift 3
	srv_next "ehlo PIPELINING 8BITMIME"
	flush_config "connections 4"
	queue_msgs "$prefix" "$count"
	is "$(queued)" "$count" "$count messages queued"
	"$RQF" "$@" -v >"$T/f1.out" 2>&1 &
	p1=$!
	"$RQF" "$@" -v >"$T/f2.out" 2>&1 &
	p2=$!
	wait $p1
	r1=$?
	wait $p2
	r2=$?
	is "$r1.$r2" 0.0 "$what: both exit 0"
	is "$(queued)" 0 "$what: the queue is empty"
	r=$(received "$DIR")
	is "$(echo "$r" | grep '^total')" "total $count" "$what: the server stored $count messages"
	is "$(echo "$r" | grep '^dups')" "dups 0" "$what: no duplicate"
	is "$(echo "$r" | grep -c "^$prefix [0-9]* 1\$")" "$count" "$what: each of the $count exactly once"
	is "$(cat "$DIR"/msg-*.eml | tr -d '\r' | grep -i '^Message-ID:' | sort -u | wc -l | tr -d ' ')" \
	    "$count" "$what: $count distinct Message-IDs"
}

# Plain runs coalesce: one runs, the other leaves a note and exits 0.
together "two plain flushes" c 200

# --all runs never coalesce: both work, side by side, on different messages.
together "two --all flushes" d 500 --all
s1=$(grep -c -- '--> MAIL FROM' "$T/f1.out")
s2=$(grep -c -- '--> MAIL FROM' "$T/f2.out")
is "$((s1 + s2))" 500 "two --all flushes: 500 transactions between them"
diag "first flush sent $s1, second $s2"
ok "$([ "$s1" -gt 0 ] && [ "$s2" -gt 0 ]; echo $?)" \
    "two --all flushes: both really worked ($s1 + $s2)"

# --- SIGKILL at several points, then a new flush ------------------------------------
# killed NAME CONNS STORED DUPS WAIT SCRIPT-LINES...
#   A server that holds back one reply (the script's delay) 1 s; the
#   flush (own process group, every worker) gets SIGKILL as soon as WAIT
#   (a command) says the held-back command has arrived, so the kill lands
#   inside the delay, when the server has stored STORED messages.  Then a
#   fast server and a new flush.  DUPS: the exact number of duplicates,
#   or "<=N".
killed() {
	local name=$1 conns=$2 stored=$3 dups=$4 wait=$5 slow fast pid st r
	shift 5
	rm -rf "$T/queue" "$T/log"
	srv_next "ehlo PIPELINING 8BITMIME" "$@"
	slow=$DIR
	flush_config "connections $conns"
	queue_msgs k 8
	setsid "$RQF" --all >"$T/k.out" 2>&1 &
	pid=$!
	$wait "$slow" || diag "$name: the moment to kill never came ($wait)"
	kill_group "$pid"
	st=$?
	is "$st" 137 "$name: the flush died of SIGKILL"
	sleep 0.1
	# Zombies do not count: they are dead, waiting for PID 1 to reap them.
	left=$(for p in $(pgrep -g "$pid"); do
		awk '$3 != "Z" { print $1 }' "/proc/$p/stat" 2>/dev/null
	done)
	is "$left" "" "$name: no worker of it survived"
	had=$(received "$slow" | sed -n 's/^total //p')
	if [ "$conns" = 1 ]; then
		is "$had" "$stored" "$name: the server had stored $stored when the flush died"
	else
		ok "$([ "$had" -ge "$stored" ]; echo $?)" \
		    "$name: the server had stored $had (>= $stored) when the flush died"
	fi

	srv_next "ehlo PIPELINING 8BITMIME"
	fast=$DIR
	flush_config "connections $conns"
	"$RQF" --all >"$T/k2.out" 2>&1
	is "$?.$(queued)" 0.0 "$name: a new flush delivers the rest"
	r=$(received "$slow" "$fast")
	is "$(echo "$r" | grep -c '^k [0-9]* [12]$')" 8 "$name: every message arrived (no loss)"
	case $dups in
	'<='*)
		ok "$([ "$(echo "$r" | sed -n 's/^dups //p')" -le "${dups#<=}" ]; echo $?)" \
		    "$name: at most ${dups#<=} duplicates ($(echo "$r" | grep '^dups'))"
		;;
	*)
		is "$(echo "$r" | grep '^dups')" "dups $dups" "$name: $dups duplicates"
		;;
	esac
	DUPED=$(echo "$r" | sed -n 's/^\(k [0-9]*\) 2$/\1/p' | tr '\n' ' ')
}

# Waiting for the reply to MAIL, RCPT or DATA of the next message: the
# stored ones are recorded as sent, nothing is sent twice.
# (The flush records an outcome durably before it starts the next
# message, so once the third MAIL is on the wire the first two are safe.)
third() { wait_wire "$1" "^$2" 3; }
third_mail() { third "$1" 'MAIL FROM'; }
third_rcpt() { third "$1" 'RCPT TO'; }
third_data() { third "$1" 'DATA$'; }
session() {
	local i
	for i in $(seq 1 1000); do
		[ -e "$1/conn-1.in" ] && return 0
		sleep 0.02
	done
	return 1
}
two_stored() { wait_stored "$1" 2; }
three_stored() { wait_stored "$1" 3; }
killed "kill while MAIL waits" 1 2 0 third_mail "delay MAIL#3 1"
killed "kill while RCPT waits" 1 2 0 third_rcpt "delay RCPT#3 1"
killed "kill while DATA waits" 1 2 0 third_data "delay DATA#3 1"
killed "kill while the greeting waits" 1 0 0 session "delay GREETING 1"
# Waiting for the reply to the final dot: the server has the message, the
# client cannot know; it is sent again, once, and only that one.
killed "kill while the final reply waits" 1 2 1 two_stored "delay DOT#2 1"
is "$DUPED" "k 2 " "kill while the final reply waits: the duplicate is the message in flight"
# Three connections, each waiting for its final reply: one in flight each.
killed "kill with three connections in flight" 3 3 '<=3' three_stored "delay DOT 1"

# --- a partly successful transaction, then SIGKILL ------------------------------------
rm -rf "$T/queue" "$T/log"
srv_next "ehlo PIPELINING 8BITMIME" "reply RCPT#2 451 4.3.0 try later" "delay MAIL#2 1"
slow=$DIR
flush_config "connections 1"
printf 'Subject: partial\n\nbody\n' | "$RQ" -odq a@example.net b@example.net c@example.net
printf 'Subject: next\n\nbody\n' | "$RQ" -odq d@example.net
setsid "$RQF" --all >"$T/p.out" 2>&1 &
pid=$!
wait_wire "$slow" '^MAIL FROM' 2 || diag "partial: the second MAIL never came"
kill_group "$pid"
is "$?" 137 "partial: the flush died of SIGKILL while MAIL of the next message waited"
is "$(cat "$slow/msg-1.env" | grep '^RCPT' | tr '\n' ' ')" \
    "RCPT TO:<a@example.net> RCPT TO:<c@example.net> " "partial: the server took a and c"
is "$(json '[" ".join(r["status"] for r in m["recipients"]) for m in q]')" \
    "['sent deferred sent', 'pending']" "partial: a and c are recorded as sent before the kill"
srv_next "ehlo PIPELINING 8BITMIME"
flush_config "connections 1"
"$RQF" --all >"$T/p2.out" 2>&1
is "$?.$(queued)" 0.0 "partial: the next flush finishes the work"
is "$(cat "$DIR"/msg-*.env | grep '^RCPT' | sort | tr '\n' ' ')" \
    "RCPT TO:<b@example.net> RCPT TO:<d@example.net> " \
    "partial: only b (deferred) and d (never tried) are sent; a and c never again"

done_testing
