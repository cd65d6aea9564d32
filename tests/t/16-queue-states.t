#!/bin/bash
# relayq -- every queue state reads as a state, not an error (the table in
# doc/queue-format.md, "Queue states"): each command that reads or
# administers the queue -- relayq -bp, -bp --json, mailq, --show, --delete,
# --hold, --release, --retry, --requeue, relayq-flush plain, --all, --id,
# --watch's start-up, relayq -q -- and a submission, run in every state:
#   (a) the queue does not exist (nor its parent),
#   (b) it exists, empty,
#   (c) half-created (some subdirectories; system mode with only the top),
#   (d) a queue with queued, held, deferred and failed messages,
#   (e) what an older or newer relayq, a crash or a person may leave:
#       files of another format version, stray and leftover files,
#   (f) unusable: a symbolic link (dangling too), a regular file, a
#       symlinked msg/, permission denied, writable by others, owned by
#       someone else.
# Each case asserts the exit status, the output, and what changed in the
# queue: nothing where nothing should be (the tree before and after are
# compared, file contents included).
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"

# Permission denied, another owner and system mode need a second user.
[ "$(id -u)" = 0 ] || bail "must run as root (make check does): the permission and system-mode states need another uid"
command -v setpriv >/dev/null || bail "setpriv is missing (util-linux)"
[ -x "$RQ" ] && [ -x "$RQF" ] || bail "src/relayq and src/relayq-flush are not built"

srv_start "$T/srv"		# accepts everything

# Binaries, configurations and the queue where the other user reaches
# them ($T itself is 0700).
chmod 0711 "$T"
P=$T/pub
B=$P/bin
install -d -m 0755 "$P" "$B"
install -m 0755 "$RQ" "$RQF" "$B/"
ln -s relayq "$B/mailq"
R=$B/relayq
F=$B/relayq-flush
MQ=$B/mailq
NOBODY=65534
SYSGID=4242
UNKNOWN=0123456789ABCDEF0123
BAD=not-an-id

# cfg QUEUE-DIR [nolog]: the configuration for a state (no secrets, so it
# may be world-readable; no logfile for runs as the other user).
cfg() {
	{
		echo "defaults"
		echo "queue_dir $1"
		[ "${2:-}" = nolog ] || echo "logfile $T/log"
		echo "account t"
		echo "host 127.0.0.1"
		echo "port $PORT"
		echo "tls off"
		echo "from sender@example.org"
		echo "domain client.example.org"
		echo "account default : t"
	} >"$P/config"
	chmod 0644 "$P/config"
	export RELAYQ_CONFIG=$P/config
}

# AS: how a command is run (empty: as root).
AS=()
x() {
	"${AS[@]}" "$@" </dev/null >"$T/.out" 2>"$T/.err"
	RC=$?
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
}

# snap [PATH]: the tree at PATH (the queue): types, modes, names, link
# targets and the content of every file.  "absent" when nothing is there.
snap() {
	local p=${1:-$Q}
	if [ ! -e "$p" ] && [ ! -L "$p" ]; then
		echo absent
		return
	fi
	find "$p" -printf '%y %m %P %l\n' | sort
	find "$p" -type f -exec md5sum {} + | sort
}
# paths: the names in the queue only (for what a command added or removed).
paths() { find "$Q" -printf '%y %P\n' 2>/dev/null | sort; }
added() { comm -13 <(printf '%s\n' "$1") <(paths) | tr '\n' ' ' | sed 's/ $//'; }
gone() { comm -23 <(printf '%s\n' "$1") <(paths) | tr '\n' ' ' | sed 's/ $//'; }

# err1 REGEX DESC: standard error is exactly one line matching REGEX.
err1() {
	like "$(printf '%s\n' "$ERR" | wc -l | tr -d ' '):$ERR" "^1:$1\$" "$2"
}
sent() { ls "$T/srv"/msg-*.eml 2>/dev/null | wc -l | tr -d ' '; }
complete() {
	[ -d "$Q/tmp" ] && [ -d "$Q/msg" ] && [ -d "$Q/state" ] && [ -d "$Q/failed" ]
}

# watch [CONDITION]: start relayq-flush --watch, let it start up (it logs
# "watching", and CONDITION holds; or it exits), then SIGTERM it; RC is its
# exit status.
watch() {
	local i
	rm -f "$T/log"
	"${AS[@]}" "$F" --watch </dev/null >"$T/.out" 2>"$T/.err" &
	wpid=$!
	for i in $(seq 1 500); do
		grep -q 'watching' "$T/log" 2>/dev/null && eval "${1:-true}" && break
		kill -0 "$wpid" 2>/dev/null || break
		sleep 0.01
	done
	kill -TERM "$wpid" 2>/dev/null
	wait "$wpid"
	RC=$?
	ERR=$(cat "$T/.err")
}

submit() {	# submit [SUBJECT]: a message, queued only
	printf 'Subject: %s\n\nbody\n' "${1:-states}" >"$T/.in"
	"${AS[@]}" "$R" -odq rcpt@example.net <"$T/.in" >"$T/.out" 2>"$T/.err"
	RC=$?
	ERR=$(cat "$T/.err")
}

# --- building the states ------------------------------------------------------

Q=$T/queue

# (d)'s messages, made once: queued Q1, held H1, deferred D1, failed F1.
TPL=$T/tpl
cfg "$TPL"
for s in queued held deferred failed; do
	submit "$s"
	[ "$RC" = 0 ] || bail "cannot queue the template's messages: $ERR"
done
ids=($(ls "$TPL/msg"))
[ "${#ids[@]}" = 4 ] || bail "the template has ${#ids[@]} messages, not 4"
Q1=${ids[0]} H1=${ids[1]} D1=${ids[2]} F1=${ids[3]}
"$R" --hold "$H1" || bail "cannot hold $H1"
later=$(( $(date +%s) + 3600 ))
printf 'relayq-state 1\nattempts 2\nlast-attempt %s\nnext-attempt %s\nheld 0\nlast-error 451 4.3.0 try again later\nrcpt 0 deferred 451 4.3.0 try again later\nend\n' \
    "$(date +%s)" "$later" >"$TPL/state/$D1"
mv "$TPL/msg/$F1" "$TPL/failed/$F1"
printf 'relayq-state 1\nattempts 1\nlast-attempt %s\nnext-attempt 0\nheld 0\nlast-error 550 5.1.1 unknown user\nrcpt 0 failed 550 5.1.1 unknown user\nend\n' \
    "$(date +%s)" >"$TPL/failed/$F1.state"
# One good message file to make the others from.
MSGFILE=$T/one.msg
cp "$TPL/msg/$Q1" "$MSGFILE"

# state NAME: a fresh queue in state NAME at $Q, its configuration, and how
# to run the commands (AS).
state() {
	rm -rf "$Q" "$T/real" "$T/nowhere" "$T/elsewhere" "$T/deep"
	AS=()
	Q=$T/queue
	case $1 in
	absent) ;;
	deep) Q=$T/deep/no/such/parent/queue ;;
	empty) install -d -m 0700 "$Q" ;;
	tmp-only) install -d -m 0700 "$Q" "$Q/tmp" ;;
	tmp-msg) install -d -m 0700 "$Q" "$Q/tmp" "$Q/msg" ;;
	state-failed) install -d -m 0700 "$Q" "$Q/state" "$Q/failed" ;;
	sys-top)	# doc/system-wide.md's install, but only the top directory
		install -d -o root -g "$SYSGID" -m 2770 "$Q"
		AS=(setpriv --reuid="$NOBODY" --regid="$NOBODY" --groups="$SYSGID" --)
		;;
	msg-only)	# a message, but no state/ or failed/
		install -d -m 0700 "$Q" "$Q/tmp" "$Q/msg"
		cp "$MSGFILE" "$Q/msg/$Q1"
		;;
	full) cp -a "$TPL" "$Q" ;;
	versions)	# a good message, one of format 2, one with a state of format 2
		cp -a "$TPL" "$Q"
		rm -f "$Q/msg/$H1" "$Q/state/$H1" "$Q/failed/$F1" "$Q/failed/$F1.state"
		sed -i '1s/^relayq-queue 1$/relayq-queue 2/' "$Q/msg/$D1"
		rm -f "$Q/state/$D1"
		cp "$MSGFILE" "$Q/msg/$H1"
		sed -i "s/^id $Q1\$/id $H1/" "$Q/msg/$H1"
		printf 'relayq-state 2\nsomething new\n' >"$Q/state/$H1"
		;;
	stray)		# no messages; everything else a person or a crash leaves
		install -d -m 0700 "$Q" "$Q/tmp" "$Q/msg" "$Q/state" "$Q/failed" "$Q/new"
		echo hello >"$Q/msg/README"
		echo x >"$Q/msg/.hidden"
		cp "$MSGFILE" "$Q/msg/$Q1.orig"
		echo x >"$Q/msg/0123ABC"
		printf 'relayq-state 1\nattempts 1\nlast-attempt 0\nnext-attempt 0\nheld 0\nrcpt 0 pending\nend\n' >"$Q/state/$UNKNOWN"
		cp "$TPL/failed/$F1.state" "$Q/failed/$F1.state"
		echo partial >"$Q/tmp/$Q1.m0A0B0C0D"
		touch -d '2 hours ago' "$Q/tmp/$Q1.m0A0B0C0D"
		echo partial >"$Q/tmp/$H1.m01020304"
		: >"$Q/flush.lock"
		: >"$Q/flush.again"
		printf 'garbage\n' >"$Q/rate.t"
		echo 'msmtpq' >"$Q/2026-01-01-00.00.00.mail"
		chmod 0600 "$Q"/msg/* "$Q"/state/* "$Q"/failed/* "$Q"/tmp/* "$Q"/*.* 2>/dev/null
		;;
	symlink)
		cp -a "$TPL" "$T/real"
		ln -s "$T/real" "$Q"
		;;
	dangling) ln -s "$T/nowhere" "$Q" ;;
	file) echo 'not a queue' >"$Q" ;;
	msg-symlink)
		install -d -m 0700 "$Q" "$Q/tmp" "$Q/state" "$Q/failed" "$T/elsewhere"
		cp "$MSGFILE" "$T/elsewhere/$Q1"
		ln -s "$T/elsewhere" "$Q/msg"
		;;
	denied)		# root's 0700 queue, the other user runs the commands
		cp -a "$TPL" "$Q"
		AS=(setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups --)
		;;
	world) cp -a "$TPL" "$Q"; chmod 0777 "$Q" ;;
	owner) cp -a "$TPL" "$Q"; chown -R 4321 "$Q" ;;
	*) bail "no state $1" ;;
	esac
	if [ "${#AS[@]}" -gt 0 ]; then cfg "$Q" nolog; else cfg "$Q"; fi
}

# --- (a), (b), (c): no messages: an empty queue, and nothing is created -------

# empty_state NAME: every command in a state that holds no message.
empty_state() {
	local n=$1 before p op
	state "$n"
	before=$(snap)
	for p in "$R -bp" "$MQ"; do
		x $p
		is "$RC:$OUT:$ERR" "0:Mail queue is empty:" "$n: ${p##*/}: \"Mail queue is empty\", exit 0"
		is "$(snap)" "$before" "$n: ${p##*/}: nothing created"
	done
	x "$R" -bp --json
	is "$RC:$OUT:$ERR" "0:[]:" "$n: -bp --json: [], exit 0"
	is "$(snap)" "$before" "$n: -bp --json: nothing created"
	for op in show delete hold release retry requeue; do
		x "$R" --$op "$UNKNOWN"
		is "$RC:$OUT" "66:" "$n: --$op of an unknown ID: exit 66"
		err1 "relayq: no message $UNKNOWN in (the failed area of )?queue $Q" \
		    "$n: --$op: one line naming the ID and the queue"
		is "$(snap)" "$before" "$n: --$op of an unknown ID: nothing created"
		x "$R" --$op "$BAD"
		is "$RC" 64 "$n: --$op of a malformed ID: exit 64"
		err1 "relayq: \"$BAD\" is not a queue ID .*" "$n: --$op of a malformed ID: says so"
	done
	is "$(snap)" "$before" "$n: malformed IDs: nothing created"
	before_paths=$(paths)
	x "$F"
	is "$RC:$ERR" "0:" "$n: relayq-flush: nothing was due, exit 0"
	if [ -d "$Q/msg" ]; then
		is "$(added "$before_paths")" "f flush.lock" "$n: relayq-flush: only its lock file is created (msg/ exists)"
	else
		is "$(snap)" "$before" "$n: relayq-flush: nothing created"
	fi
	state "$n"
	for p in "$F --all" "$R -q"; do
		x $p
		is "$RC:$ERR" "0:" "$n: ${p##*/}: exit 0"
		is "$(snap)" "$before" "$n: ${p##*/}: nothing created"
	done
	if [ ! -d "$Q/msg" ]; then
		x "$F" -v
		is "$RC:$ERR" "0:relayq-flush: the queue is empty; nothing was due" \
		    "$n: relayq-flush -v says nothing was due"
		is "$(snap)" "$before" "$n: relayq-flush -v: nothing created"
	fi
	x "$F" --id "$UNKNOWN"
	is "$RC" 66 "$n: relayq-flush --id of an unknown ID: exit 66"
	err1 "relayq-flush: no message $UNKNOWN in queue $Q" "$n: relayq-flush --id: one line naming the queue"
	x "$F" --id "$BAD"
	is "$RC" 64 "$n: relayq-flush --id of a malformed ID: exit 64"
	is "$(snap)" "$before" "$n: relayq-flush --id: nothing created"
	watch
	if [ "$n" = sys-top ]; then
		is "$RC" 73 "$n: --watch: a submitter-like user cannot make the subdirectories: exit 73"
		like "$ERR" "only the queue's owner or root makes it" "$n: --watch says who makes them"
		is "$(snap)" "$before" "$n: --watch: nothing created"
	else
		is "$RC:$ERR" "0:" "$n: --watch starts (and ends on SIGTERM with 0)"
		ok "$(complete; echo $?)" "$n: --watch makes the queue it watches"
	fi
	state "$n"
	submit
	if [ "$n" = sys-top ]; then
		is "$RC" 73 "$n: a submission: exit 73 (only root or the owner makes subdirectories)"
		err1 "relayq: queue directory $Q/tmp does not exist, and in system mode only the queue's owner or root makes it" \
		    "$n: a submission says why"
		is "$(snap)" "$before" "$n: a failed submission creates nothing"
	else
		is "$RC" 0 "$n: a submission creates the queue: exit 0"
		ok "$(complete && [ "$(ls "$Q/msg" | wc -l)" = 1 ]; echo $?)" "$n: ... with all four subdirectories and the message"
	fi
}

for n in absent deep empty tmp-only tmp-msg state-failed sys-top; do
	empty_state "$n"
done
# The deep one: no parent was made by any of the reading commands above.
state deep
x "$R" -bp
ok "$([ ! -e "$T/deep" ]; echo $?)" "deep: the missing parents are not made by a listing"

# --- (c) with a message: msg/ only, no state/ or failed/ ----------------------

state msg-only
before=$(snap)
x "$R" -bp
is "$RC" 0 "msg-only: -bp: exit 0"
like "$OUT" "$Q1 .*" "msg-only: -bp lists the message"
like "$OUT" 'queued, 0 attempts, next attempt now' "msg-only: ... queued, nothing tried (no state/ is no state)"
x "$R" -bp --json
is "$RC:$(printf '%s' "$OUT" | python3 -c 'import json,sys; print([(m["id"], m["state"]) for m in json.load(sys.stdin)])')" \
    "0:[('$Q1', 'queued')]" "msg-only: --json: the message, queued"
x "$R" --show "$Q1"
is "$RC" 0 "msg-only: --show: exit 0"
like "$OUT" "^id: $Q1" "msg-only: --show prints it"
is "$(snap)" "$before" "msg-only: listing and --show create nothing"
x "$R" --requeue "$Q1"
is "$RC" 66 "msg-only: --requeue of a queued message: exit 66"
err1 "relayq: no message $Q1 in the failed area of queue $Q" "msg-only: ... not in the failed area"
is "$(snap)" "$before" "msg-only: --requeue changed nothing"
x "$R" --delete "$Q1"
is "$RC:$ERR" "0:" "msg-only: --delete: exit 0"
is "$(paths | tr '\n' ' ')" "d  d msg d tmp " \
    "msg-only: --delete removes the message and creates nothing (no state/ to clean)"
for op in hold release retry; do
	state msg-only
	x "$R" --$op "$Q1"
	is "$RC:$ERR" "0:" "msg-only: --$op: exit 0"
	ok "$(complete && [ -f "$Q/state/$Q1" ]; echo $?)" "msg-only: --$op writes the state, making the subdirectories it needs"
done
like "$(cat "$Q/state/$Q1" 2>/dev/null)" 'next-attempt 0' "msg-only: --retry's state says due now"
state msg-only
x "$R" --hold "$Q1"
like "$(cat "$Q/state/$Q1" 2>/dev/null)" 'held 1' "msg-only: --hold's state says held"
for p in "$F" "$F --all" "$R -q" "$F --id $Q1"; do
	state msg-only
	s0=$(sent)
	x $p
	is "$RC:$(( $(sent) - s0 ))" "0:1" "msg-only: ${p##*/}: exit 0, the message is relayed"
	ok "$([ ! -e "$Q/msg/$Q1" ]; echo $?)" "msg-only: ${p##*/}: ... and leaves the queue"
done
state msg-only
watch
is "$RC" 0 "msg-only: --watch starts and ends with 0"
ok "$(complete; echo $?)" "msg-only: --watch completes the queue"

# --- (d) a queue in use: queued, held, deferred, failed --------------------------

state full
before=$(snap)
for p in "$R -bp" "$MQ"; do
	x $p
	is "$RC" 0 "full: ${p##*/}: exit 0"
	like "$OUT" "^ID +SIZE +AGE +SENDER / RECIPIENTS" "full: ${p##*/}: the header"
	for id in "$Q1" "$H1" "$D1" "$F1"; do
		like "$OUT" "^$id " "full: ${p##*/}: lists $id"
	done
	like "$OUT" '    queued, 0 attempts, next attempt now' "full: ${p##*/}: the queued one"
	like "$OUT" '    held, 0 attempts' "full: ${p##*/}: the held one"
	like "$OUT" '    deferred, 2 attempts, next attempt in [0-9]+m' "full: ${p##*/}: the deferred one"
	like "$OUT" '    last error: 451 4.3.0 try again later' "full: ${p##*/}: its last error"
	like "$OUT" '    failed, 1 attempt' "full: ${p##*/}: the failed one"
	like "$OUT" '-- 4 messages, [0-9]+ bytes, 1 deferred, 1 held, 1 failed$' "full: ${p##*/}: the summary"
	is "$(snap)" "$before" "full: ${p##*/}: nothing changed"
done
x "$R" -bp --json
is "$RC:$ERR" "0:" "full: --json: exit 0"
is "$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(" ".join(m["id"] + "=" + m["state"] for m in json.load(sys.stdin)))')" \
    "$Q1=queued $H1=held $D1=deferred $F1=failed" "full: --json: every message with its state, failed last"
is "$(snap)" "$before" "full: --json: nothing changed"
for pair in "$Q1=queued" "$H1=held" "$D1=deferred" "$F1=failed"; do
	x "$R" --show "${pair%%=*}"
	is "$RC" 0 "full: --show ${pair#*=}: exit 0"
	is "$(printf '%s\n' "$OUT" | sed -n 1,2p | tr '\n' ' ')" "id: ${pair%%=*} state: ${pair#*=} " \
	    "full: --show ${pair#*=}: the ID and the state first"
done
is "$(snap)" "$before" "full: --show: nothing changed"
for op in show delete hold release retry requeue; do
	x "$R" --$op "$UNKNOWN"
	is "$RC" 66 "full: --$op of an unknown ID: exit 66"
	err1 "relayq: no message $UNKNOWN in (the failed area of )?queue $Q" "full: --$op: one line naming the queue"
done
is "$(snap)" "$before" "full: unknown IDs: nothing changed"
x "$R" --hold "$F1"
is "$RC" 64 "full: --hold of a failed message: exit 64"
err1 "relayq: message $F1 has failed; requeue it instead" "full: ... says to requeue it"
x "$R" --requeue "$Q1"
is "$RC" 66 "full: --requeue of a message that has not failed: exit 66"
is "$(snap)" "$before" "full: refused operations changed nothing"

# op ID FILE REGEX DESC: run relayq --op ID on a fresh (d); FILE then matches.
op_check() {
	state full
	x "$R" --$1 "$2"
	is "$RC:$ERR" "0:" "full: --$1 ${5}: exit 0"
	like "$(cat "$Q/$3" 2>/dev/null)" "$4" "full: --$1 ${5}: $3 changed"
}
op_check hold "$Q1" "state/$Q1" 'held 1' "of the queued one"
op_check release "$H1" "state/$H1" 'held 0' "of the held one"
op_check retry "$D1" "state/$D1" 'next-attempt 0' "of the deferred one"
op_check requeue "$F1" "msg/$F1" '^relayq-queue 1' "of the failed one"
ok "$([ ! -e "$Q/failed/$F1" ] && [ ! -e "$Q/failed/$F1.state" ]; echo $?)" "full: --requeue: failed/ is empty again"
for id in "$Q1" "$F1"; do
	state full
	before_paths=$(paths)
	x "$R" --delete "$id"
	is "$RC:$ERR" "0:" "full: --delete $id: exit 0"
	like "$(gone "$before_paths")" "(msg|failed)/$id( |$)" "full: --delete $id: removed"
	is "$(added "$before_paths")" "" "full: --delete $id: nothing created"
done
state full
s0=$(sent)
x "$F"
is "$RC:$(( $(sent) - s0 ))" "0:1" "full: relayq-flush: exit 0, the one due message relayed"
is "$(ls "$Q/msg" | tr '\n' ' ')" "$(printf '%s\n' "$H1" "$D1" | sort | tr '\n' ' ')" "full: relayq-flush: the held and deferred ones wait"
ok "$([ -f "$Q/failed/$F1" ]; echo $?)" "full: relayq-flush: the failed one stays failed"
for p in "$F --all" "$R -q"; do
	state full
	s0=$(sent)
	x $p
	is "$RC:$(( $(sent) - s0 ))" "0:2" "full: ${p##*/}: exit 0, the queued and the deferred one relayed"
	is "$(ls "$Q/msg" | tr '\n' ' ')" "$H1 " "full: ${p##*/}: only the held one waits"
done
state full
s0=$(sent)
x "$F" --id "$D1"
is "$RC:$(( $(sent) - s0 ))" "0:1" "full: relayq-flush --id: exit 0, that message relayed"
ok "$([ ! -e "$Q/msg/$D1" ] && [ -e "$Q/msg/$Q1" ]; echo $?)" "full: relayq-flush --id: only that one"
x "$F" --id "$UNKNOWN"
is "$RC" 66 "full: relayq-flush --id of an unknown ID: exit 66"
x "$F" --id "$F1"
is "$RC" 66 "full: relayq-flush --id of a failed message: exit 66 (not in msg/)"
state full
watch
is "$RC:$ERR" "0:" "full: --watch starts and ends with 0"

# --- (e) other format versions, stray and leftover files -----------------------

state versions
before=$(snap)
x "$R" -bp
is "$RC" 0 "versions: -bp: exit 0"
like "$OUT" "$Q1 .*" "versions: -bp lists the readable message"
like "$OUT" "$D1 \(unreadable: queue file $D1 has format version \"2\"; this relayq reads version 1 only and leaves it alone\)" \
    "versions: a message file of format 2 is shown as unreadable, saying why"
like "$OUT" "$H1 \(unreadable: state file $H1 has format version \"2\"; this relayq reads version 1 only and leaves it alone\)" \
    "versions: so is a message whose state file is of format 2"
like "$OUT" '-- 3 messages, [0-9]+ bytes, 2 unreadable$' "versions: the summary counts them"
x "$R" -bp --json
is "$RC" 0 "versions: --json: exit 0"
is "$(printf '%s' "$OUT" | python3 -c 'import json,sys; print([m["id"] for m in json.load(sys.stdin)])')" "['$Q1']" \
    "versions: --json: valid JSON with the readable message only"
err1 "relayq: 2 unreadable messages left out of the JSON \(relayq -bp shows why\)" "versions: --json says what it left out"
for op in show hold release retry delete; do
	x "$R" --$op "$D1"
	is "$RC:$OUT" "65:" "versions: --$op of a format-2 message: exit 65"
	err1 "relayq: queue file $D1 has format version \"2\"; this relayq reads version 1 only and leaves it alone" \
	    "versions: --$op says why"
done
is "$(snap)" "$before" "versions: nothing read or refused changed anything"
x "$R" --requeue "$D1"
is "$RC" 66 "versions: --requeue (not failed): exit 66"
s0=$(sent)
rm -f "$T/log"
v0=$(md5sum <"$Q/msg/$D1"; cat "$Q/state/$H1")
x "$F" --all
is "$RC:$(( $(sent) - s0 ))" "0:1" "versions: relayq-flush --all: exit 0, the readable message relayed"
ok "$([ -f "$Q/msg/$D1" ] && [ -f "$Q/msg/$H1" ]; echo $?)" "versions: the other two stay where they are"
is "$(grep -c "format version \"2\".*; not sent" "$T/log")" 2 "versions: the flush logs each one it cannot read"
is "$(md5sum <"$Q/msg/$D1"; cat "$Q/state/$H1")" "$v0" "versions: ... and changes neither"
state versions
x "$F" --id "$D1"
is "$RC" 65 "versions: relayq-flush --id of a format-2 message: exit 65"
err1 "relayq-flush: queue file $D1 has format version \"2\"; this relayq reads version 1 only and leaves it alone" \
    "versions: relayq-flush --id says why"
for p in "$F" "$R -q"; do
	state versions
	x $p
	is "$RC" 0 "versions: ${p##*/}: exit 0"
done
state versions
watch
is "$RC" 0 "versions: --watch starts and ends with 0"

state stray
before=$(snap)
before_paths=$(paths)
for p in "$R -bp" "$MQ"; do
	x $p
	is "$RC:$OUT:$ERR" "0:Mail queue is empty:" "stray: ${p##*/}: stray files are no messages: empty, exit 0"
done
x "$R" -bp --json
is "$RC:$OUT:$ERR" "0:[]:" "stray: --json: []"
for op in show delete hold release retry requeue; do
	x "$R" --$op "$UNKNOWN"
	is "$RC" 66 "stray: --$op of the ID of a state file without a message: exit 66"
done
x "$R" --show "$F1"
is "$RC" 66 "stray: --show of the ID of a failed/ID.state without its message: exit 66"
is "$(snap)" "$before" "stray: reading commands change nothing"
rm -f "$T/log"
x "$F"
is "$RC:$ERR" "0:" "stray: relayq-flush: exit 0"
is "$(gone "$before_paths")" "f flush.again f tmp/$Q1.m0A0B0C0D" \
    "stray: relayq-flush consumes flush.again and sweeps the hour-old tmp/ file"
is "$(added "$before_paths")" "" "stray: relayq-flush creates nothing"
like "$(cat "$T/log")" "removed 1 file left in $Q/tmp by interrupted submissions" "stray: ... and logs the sweep"
ok "$([ -f "$Q/tmp/$H1.m01020304" ] && [ -f "$Q/state/$UNKNOWN" ] && [ -f "$Q/msg/README" ] && [ "$(cat "$Q/rate.t")" = garbage ]; echo $?)" \
    "stray: the fresh tmp/ file, the stray state, foreign and rate files are left alone"
state stray
x "$F" --all
is "$RC:$(gone "$before_paths"):$(added "$before_paths")" "0:f tmp/$Q1.m0A0B0C0D:" "stray: --all: exit 0, only the old tmp/ file swept"
state stray
x "$R" -q
is "$RC:$(gone "$before_paths")" "0:f tmp/$Q1.m0A0B0C0D" "stray: -q: exit 0, the same"
state stray
x "$F" --id "$UNKNOWN"
is "$RC" 66 "stray: relayq-flush --id of a stray state's ID: exit 66"
is "$(snap)" "$before" "stray: ... changing nothing"
state stray
watch '[ ! -e "$Q/flush.again" ] && [ ! -e "$Q/tmp/$Q1.m0A0B0C0D" ]'
is "$RC:$ERR" "0:" "stray: --watch starts and ends with 0"
is "$(gone "$before_paths")" "f flush.again f tmp/$Q1.m0A0B0C0D" "stray: --watch drops the note and sweeps tmp/"
state stray
submit
is "$RC" 0 "stray: a submission works beside the stray files"

# --- (f) unusable queues: errors, each with its own line and exit status ----------

# bad_state NAME EXIT REGEX [WHAT]: every command fails with EXIT and one
# line matching REGEX, and nothing changes (at WHAT too, e.g. a target).
bad_state() {
	local n=$1 code=$2 re=$3 what=${4:-} before b2 p op
	state "$n"
	before=$(snap)
	b2=$([ -n "$what" ] && snap "$what")
	for p in "$R -bp" "$R -bp --json" "$MQ" "$R --show $Q1" "$R --delete $Q1" \
	    "$R --hold $Q1" "$R --release $H1" "$R --retry $D1" "$R --requeue $F1" \
	    "$R --show $UNKNOWN"; do
		x $p
		is "$RC:$OUT" "$code:" "$n: ${p##*/}: exit $code"
		err1 "relayq: $re" "$n: ${p##*/}: one line saying why"
	done
	for p in "$F" "$F --all" "$F --id $Q1" "$R -q"; do
		x $p
		is "$RC" "$code" "$n: ${p##*/}: exit $code"
		err1 "relayq-flush: $re" "$n: ${p##*/}: one line saying why"
	done
	for op in show delete; do
		x "$R" --$op "$BAD"
		is "$RC" 64 "$n: --$op of a malformed ID is still a usage error (64)"
	done
	x "$F" --id "$BAD"
	is "$RC" 64 "$n: relayq-flush --id of a malformed ID: 64"
	watch
	is "$RC" "$code" "$n: --watch: exit $code"
	submit
	is "$RC" "$code" "$n: a submission: exit $code"
	is "$(snap)" "$before" "$n: nothing changed"
	[ -n "$what" ] && is "$(snap "$what")" "$b2" "$n: nothing changed at $what"
}

bad_state symlink 73 "queue directory $T/queue is a symbolic link; refusing it" "$T/real"
bad_state dangling 73 "queue directory $T/queue is a symbolic link; refusing it" "$T/nowhere"
bad_state file 73 "queue directory $T/queue is not a directory"
bad_state msg-symlink 73 "queue directory $T/queue/msg is a symbolic link; refusing it" "$T/elsewhere"
bad_state denied 73 "cannot open queue directory $T/queue: Permission denied"
bad_state world 78 "queue directory $T/queue is writable by others"
bad_state owner 78 "queue directory $T/queue belongs to uid 4321, not to you or root"

done_testing
