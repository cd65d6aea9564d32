#!/bin/bash
# relayq -- a flush killed at every one of its queue file operations
# (tests/faultshim.so: FAULT_KILL_AFTER=N SIGKILLs the process right after
# the Nth write, fsync, close, rename, open or unlink under the queue), then
# flushed again: for every N, no recipient is lost (each got the message,
# or its sender got the bounce), at most one message (the one in flight:
# one connection) arrives twice, the queue stays readable, and it ends
# empty.  The run covers a partly deferred message, plain deliveries, and
# a failed recipient whose bounce is queued.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"

SHIM=$TOP/tests/faultshim.so
[ -f "$SHIM" ] || bail "tests/faultshim.so is not built (make tests)"

# server: a fresh test server whose first session defers a2 (the second
# RCPT) and refuses d (the sixth); later sessions accept everything.
server() {
	srv_next "ehlo PIPELINING 8BITMIME" \
	    "reply session#1 RCPT#2 451 4.3.0 later" \
	    "reply session#1 RCPT#6 550 5.1.1 unknown"
}

config() { flush_config "connections 1"; }

# The queue every run starts from, made once and copied.
server
config
printf 'Subject: A\n\nbody\n' | "$RQ" -odq a1@example.net a2@example.net a3@example.net
printf 'Subject: B\n\nbody\n' | "$RQ" -odq b@example.net
printf 'Subject: C\n\nbody\n' | "$RQ" -odq c@example.net
printf 'Subject: D\n\nbody\n' | "$RQ" -odq d@example.net
[ "$(queued)" = 4 ] || bail "cannot queue the four messages"
cp -a "$T/queue" "$T/pristine"

# Count the operations of an undisturbed run.
LD_PRELOAD=$SHIM FAULT_PATH=$T/queue FAULT_LOG=$T/ops "$RQF" --all >/dev/null 2>&1
is "$?" 75 "an undisturbed run: a2 deferred, exit 75"
total=$(wc -l <"$T/ops" | tr -d ' ')
ok "$([ "$total" -ge 20 ]; echo $?)" "the shim counted $total queue operations"
grep -q ' rename ' "$T/ops" && grep -q ' unlink ' "$T/ops" && grep -q ' fsync ' "$T/ops"
ok $? "... among them renames, unlinks and fsyncs"

# outcome DIR: checks over what the server stored, one "PASS/FAIL what"
# line each.
outcome() {
	python3 - "$1" <<'EOF'
import collections, glob, os, sys
d = sys.argv[1]
pairs = collections.Counter()
bounces = 0
for env in glob.glob(os.path.join(d, "msg-*.env")):
    lines = open(env, "rb").read().decode().splitlines()
    eml = open(env[:-4] + ".eml", "rb").read()
    rcpts = [l[9:-1] for l in lines if l.startswith("RCPT TO:<")]
    if lines and lines[0].startswith("MAIL FROM:<>"):
        if rcpts == ["sender@example.org"] and b"d@example.net" in eml:
            bounces += 1
        continue
    subj = [l for l in eml.split(b"\r\n") if l.startswith(b"Subject: ")]
    s = subj[0][9:].decode() if subj else "?"
    for r in rcpts:
        pairs[(s, r)] += 1
def res(ok, what):
    print(("PASS " if ok else "FAIL ") + what)
want = [("A", "a1@example.net"), ("A", "a2@example.net"),
        ("A", "a3@example.net"), ("B", "b@example.net"), ("C", "c@example.net")]
missing = [p for p in want if pairs[p] < 1]
if pairs[("D", "d@example.net")] < 1 and bounces < 1:
    missing.append(("D", "d (nor a bounce)"))
res(not missing, "no recipient lost %s" % (missing or ""))
duped = sorted({s for (s, r), c in pairs.items() if c > 1})
res(len(duped) <= 1, "at most one message twice (twice: %s)" % (" ".join(duped) or "none"))
res(all(c <= 2 for c in pairs.values()) and bounces <= 2,
    "nothing three times (bounces: %d)" % bounces)
EOF
}

for k in $(seq 1 $((total + 1))); do
	rm -rf "$T/queue"
	cp -a "$T/pristine" "$T/queue"
	server
	config
	{ LD_PRELOAD=$SHIM FAULT_PATH=$T/queue FAULT_KILL_AFTER=$k \
	    "$RQF" --all >"$T/k.out" 2>&1; } 2>/dev/null
	st=$?
	if [ "$k" -le "$total" ]; then
		what="killed after operation $k ($(sed -n "${k}p" "$T/ops" | cut -d' ' -f2-3 | sed "s|$T/||"))"
		is "$st" 137 "$what: the flush died"
	else
		what="not killed"
		is "$st" 75 "$what: the flush ends as usual"
	fi
	"$RQ" -bp --json >/dev/null 2>&1
	ok $? "$what: the queue is readable"
	for i in 1 2 3; do
		[ "$(queued)" = 0 ] && break
		"$RQF" --all >/dev/null 2>&1
	done
	is "$(queued)" 0 "$what: later flushes empty the queue"
	outcome "$DIR" >"$T/outcome"
	while read -r st rest; do
		[ "$st" = PASS ]
		ok $? "$what: $rest"
	done <"$T/outcome"
done

done_testing
