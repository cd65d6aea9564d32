#!/bin/bash
# relayq -- the warm-up schedule ("warmup 3 5 8"), observed at the test
# server over days that pass on relayq's clock hook (RELAYQ_FAKE_NOW):
# exactly the day's allowance arrives each day, oldest first; the rest
# waits, deferred and never failed, not counted as an attempt, and mailq
# says why; a message queued later never overtakes one that waited; past
# the last day sending is unlimited.  It combines with rate_limit and
# max_messages_per_connection; two --all flushes at once never exceed the
# allowance; and a flush killed with SIGKILL loses no count: the day's
# total at the server stays within the allowance.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"

D=86400
T0=1795888800	# 2026-11-28T18:00:00Z: the first send, day 1

# subjects DIR [FROM]: the Subject numbers the server in DIR stored, in the
# order it stored them, from message FROM (1-based) on, space-separated.
subjects() {
	python3 - "$1" "${2:-1}" <<'EOF'
import glob, os, re, sys
d, first = sys.argv[1], int(sys.argv[2])
files = sorted(glob.glob(os.path.join(d, "msg-*.eml")),
               key=lambda f: int(re.search(r"msg-(\d+)\.eml", f).group(1)))
out = []
for f in files[first - 1:]:
    for line in open(f, "rb").read().split(b"\r\n"):
        if line.startswith(b"Subject: "):
            out.append(line[9:].decode())
            break
print(" ".join(out))
EOF
}
received() { ls "$1"/msg-*.eml 2>/dev/null | wc -l | tr -d ' '; }
# sorted_set "a b c": the numbers sorted, for comparing what a day sent.
sorted_set() { tr ' ' '\n' <<<"$1" | sort -n | tr '\n' ' ' | sed 's/ $//'; }

# queue_n FROM TO [NOW]: messages "Subject: i" for i in FROM..TO, queued at
# NOW, one relayq run, in that order (IDs sort by submission).
queue_n() {
	local i args=()
	mkdir -p "$T/in"
	for i in $(seq "$1" "$2"); do
		printf 'Subject: %d\n\nbody %d\n' "$i" "$i" >"$T/in/$i"
		args+=(--message-file "$T/in/$i")
	done
	RELAYQ_FAKE_NOW=${3:-$T0} "$RQ" -odq "${args[@]}" "rcpt@example.net" ||
	    bail "cannot queue $1..$2"
}

# at NOW ARGS...: relayq-flush on relayq's clock at NOW; sets RC.
at() {
	local now=$1
	shift
	RELAYQ_FAKE_NOW=$now "$RQF" "$@" >"$T/.out" 2>"$T/.err"
	RC=$?
}

# acct_field FILE KEY: KEY from the newer valid slot of an account file.
acct_field() {
	python3 - "$1" "$2" <<'EOF'
import sys, zlib
d = open(sys.argv[1], "rb").read()
best = None
for s in (d[0:512], d[512:1024]):
    if len(s) != 512 or not s.startswith(b"relayq-account 1\n"):
        continue
    text, _, rest = s.partition(b"crc ")
    if int(rest[:8], 16) != zlib.crc32(text):
        continue
    kv = dict(l.split(b" ", 1) for l in text.split(b"\n")[1:] if l)
    if best is None or int(kv[b"seq"]) > int(best[b"seq"]):
        best = kv
print(int(best[sys.argv[2].encode()]) if best else "none")
EOF
}

# ---- days pass: 3, 5, 8, then unlimited; 21 messages -------------------------

srv_start "$T/srv" "ehlo PIPELINING 8BITMIME"
flush_config "warmup 3 5 8" "connections 2"
queue_n 1 20

at "$T0"
is "$RC" 75 "day 1: exit 75 (mail left for later)"
is "$(received "$T/srv")" 3 "day 1: exactly 3 arrive"
is "$(sorted_set "$(subjects "$T/srv")")" "1 2 3" "day 1: the three oldest"
is "$(json 'len(q)')" 17 "17 wait in the queue"
is "$(json 'sorted(set(m["state"] for m in q))')" "['queued']" \
    "they are queued, not deferred or failed"
is "$(json 'sum(m["attempts"] for m in q)')" 0 "a warm-up wait is no attempt"
is "$(json 'sorted(set(m["last_error"] for m in q))')" \
    "['warm-up: allowance of 3 for day 1 used; next day starts at 2026-11-29T18:00:00Z']" \
    "-bp --json says why each one waits"
is "$(json 'sorted(set(m["next_attempt"] for m in q))')" \
    "['2026-11-29T18:00:00Z']" "their next attempt is the start of day 2"
mq=$(RELAYQ_FAKE_NOW=$((T0 + 60)) "$RQ" -bp)
like "$mq" "last error: warm-up: allowance of 3 for day 1 used; next day starts at 2026-11-29T18:00:00Z" \
    "mailq says why"
like "$mq" "next attempt in 23h" "mailq: next attempt at the next day"
like "$(cat "$T/log")" "account t: warm-up: allowance of 3 for day 1 used;.*17 message\\(s\\) wait" \
    "the log says so once per run"
like "$(cat "$T/log")" "id=[0-9A-F]+ account=t from=<sender@example.org> to=<rcpt@example.net> relay=" \
    "attempt lines name the account"
is "$(ls "$T/queue/failed" | wc -l | tr -d ' ')" 0 "nothing failed"

at $((T0 + 3600))
is "$(received "$T/srv")" 3 "day 1, an hour later: nothing more"
at $((T0 + 7200)) --all
is "$(received "$T/srv")" 3 "day 1, --all (ignores backoff): still nothing"
is "$RC" 75 "--all over the allowance: exit 75"

# A message queued later that day waits behind the others.
queue_n 21 21 $((T0 + 8000))
at $((T0 + 8000))
is "$(received "$T/srv")" 3 "day 1: a new message waits too"
is "$(json 'len(q)')" 18 "18 wait"

at $((T0 + D))
is "$(received "$T/srv")" 8 "day 2 (24 h after the first send): 5 more"
is "$(sorted_set "$(subjects "$T/srv" 4)")" "4 5 6 7 8" \
    "day 2: the next five in queue order"
is "$(json 'sorted(set(m["last_error"] for m in q))')" \
    "['warm-up: allowance of 5 for day 2 used; next day starts at 2026-11-30T18:00:00Z']" \
    "the rest waits for day 3"

at $((T0 + 2 * D + 1))
is "$(received "$T/srv")" 16 "day 3: 8 more"
is "$(sorted_set "$(subjects "$T/srv" 9)")" "9 10 11 12 13 14 15 16" \
    "day 3: the next eight in queue order"

at $((T0 + 3 * D + 5))
is "$RC" 0 "day 4, past the schedule: exit 0"
is "$(received "$T/srv")" 21 "day 4: unlimited, the last five"
is "$(sorted_set "$(subjects "$T/srv" 17)")" "17 18 19 20 21" \
    "day 4: the rest, the late message last"
is "$(queued)" 0 "the queue is empty"
is "$(ls "$T/queue/failed" | wc -l | tr -d ' ')" 0 "nothing failed, ever"
is "$(subjects "$T/srv" | tr ' ' '\n' | sort -n | uniq -d)" "" \
    "no message arrived twice"
is "$(acct_field "$T/queue/account.t" warmup-start)" "$T0" \
    "the start is the first send"
is "$(acct_field "$T/queue/account.t" sent)" 21 "the account counts 21 sent"

# ---- with rate_limit and max_messages_per_connection ---------------------------

rm -rf "$T/queue"
srv_next "ehlo PIPELINING 8BITMIME"
flush_config "warmup 4 6" "rate_limit 2/1h" "max_messages_per_connection 1" \
    "connections 1"
queue_n 101 110
at "$T0"
is "$(received "$DIR")" 2 "rate_limit 2/1h: the first hour sends 2 of day 1's 4"
is "$(json 'sorted(set(str(m["last_error"]) for m in q))')" "['None']" \
    "left by the rate limit: due, untouched"
at $((T0 + 3601))
is "$(received "$DIR")" 4 "the next hour: 2 more, day 1's allowance used"
is "$(json 'len([m for m in q if (m["last_error"] or "").startswith("warm-up: allowance of 4 for day 1")])')" \
    6 "the other six wait for day 2"
at $((T0 + 7202))
is "$(received "$DIR")" 4 "a third hour: nothing (warm-up), although the rate allows"
is "$(ls "$DIR"/conn-*.info | wc -l | tr -d ' ')" 4 \
    "max_messages_per_connection 1: one session per message"
at $((T0 + D))
is "$(received "$DIR")" 6 "day 2: the rate limit caps the hour at 2"
at $((T0 + D + 3601))
is "$(received "$DIR")" 8 "day 2, next hour: 2 more"
at $((T0 + D + 7202))
is "$(received "$DIR")" 10 "day 2, third hour: the last 2 (6 on day 2)"
is "$(sorted_set "$(subjects "$DIR")")" \
    "101 102 103 104 105 106 107 108 109 110" "all ten, once each"

# ---- two --all flushes at once never exceed the allowance ------------------------

rm -rf "$T/queue"
srv_next "ehlo PIPELINING 8BITMIME" "delay DOT 0.02"
S=$DIR
flush_config "warmup 10 15" "connections 4"
queue_n 201 260
for day in 0 1; do
	now=$((T0 + day * D + 30))
	RELAYQ_FAKE_NOW=$now "$RQF" --all >/dev/null 2>&1 &
	p1=$!
	RELAYQ_FAKE_NOW=$now "$RQF" --all >/dev/null 2>&1 &
	p2=$!
	RELAYQ_FAKE_NOW=$now "$RQF" --all >/dev/null 2>&1 &
	p3=$!
	wait "$p1" "$p2" "$p3"
	want=$(( day == 0 ? 10 : 25 ))
	is "$(received "$S")" "$want" "day $((day + 1)): three concurrent --all flushes send exactly the allowance in total"
done
is "$(subjects "$S" | tr ' ' '\n' | sort -n | uniq -d)" "" \
    "concurrent flushes: no duplicates"
is "$(sorted_set "$(subjects "$S")")" "$(seq -s ' ' 201 225)" \
    "concurrent flushes: the 25 oldest, none skipped"

# ---- a flush killed with SIGKILL keeps its count -----------------------------------

rm -rf "$T/queue"
srv_next "ehlo PIPELINING 8BITMIME" "delay DOT 0.6"
K=$DIR
flush_config "warmup 6" "connections 1"
queue_n 301 320
RELAYQ_FAKE_NOW=$T0 "$RQF" >/dev/null 2>&1 &
fp=$!
for i in $(seq 1 200); do
	[ "$(received "$K")" -ge 2 ] && break
	sleep 0.05
done
sleep 0.3
kill -9 "$fp"
wait "$fp" 2>/dev/null
got=$(received "$K")
counted=$(acct_field "$T/queue/account.t" warmup-count)
ok "$([ "$got" -ge 2 ] && [ "$counted" -ge "$got" ]; echo $?)" \
    "killed after $got arrived: the count on disk ($counted) covers them"
at $((T0 + 600))
total=$(received "$K")
ok "$([ "$total" -le 6 ] && [ "$total" -ge 5 ]; echo $?)" \
    "after the kill and a new flush, the day's total at the server is $total, within the allowance of 6"
is "$(acct_field "$T/queue/account.t" warmup-count)" 6 "the day's count is 6"
is "$RC" 75 "the rest waits (exit 75)"
at $((T0 + D))
is "$(sorted_set "$(subjects "$K" | tr ' ' '\n' | sort -un | tr '\n' ' ' | sed 's/ $//')")" \
    "$(seq -s ' ' 301 320)" "day 2 (past the one-day ramp): the rest, none lost"
is "$(queued)" 0 "the queue is empty"

done_testing
