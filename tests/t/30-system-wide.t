#!/bin/bash
# relayq -- system-wide mode (SPEC section 6, doc/system-wide.md): two
# ordinary users submit through a set-group-ID relayq into a 2770 queue;
# neither can read, list or delete the other's mail, nor read the relay
# credentials; the set-group-ID binary refuses -C and -q, ignores
# RELAYQ_CONFIG, the home configuration and the rest of the environment,
# and never starts a flush; the flush run as the relayq user delivers
# everything (AUTH with the secret only it can read) and empties the queue;
# with DKIM, the set-group-ID submit hashes the body and only the relayq
# user's flush, which alone reads the key, signs.
#
# Runs as root, in a private mount namespace: /etc is overlaid (the users,
# the group, /etc/relayq.conf and the secret exist only inside it) and
# everything else lives on a tmpfs under $T, so the real system is never
# changed.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

if [ "${RQ_SYSWIDE_NS:-}" != 1 ]; then
	# Before the harness: the harness's $T and its clean-up must live in
	# the namespace that holds the mounts.
	[ "$(id -u)" = 0 ] || { echo "Bail out! must run as root (make check does)"; exit 1; }
	for c in unshare setpriv mount umount; do
		command -v "$c" >/dev/null ||
		    { echo "Bail out! $c is missing (util-linux)"; exit 1; }
	done
	unshare -m --propagation private true 2>/dev/null ||
	    { echo "Bail out! cannot make a private mount namespace (unshare -m)"; exit 1; }
	RQ_SYSWIDE_NS=1 exec unshare -m --propagation private -- /bin/bash ${RQ_BASHX:+-x} "$0" "$@"
	echo "Bail out! cannot run unshare"
	exit 1
fi

. "$(dirname "$0")/../lib/harness.sh"

SRV=$TOP/tests/smtpd/rq-testsmtpd
[ -x "$SRV" ] || bail "tests/smtpd/rq-testsmtpd is not built (make tests)"
[ -x "$RQ" ] || bail "src/relayq is not built"
[ -x "$RQF" ] || bail "src/relayq-flush is not built"

# --- the scratch world -----------------------------------------------------------

# $S: a tmpfs (suid allowed, so the set-group-ID bit works) that the test
# users can reach: $T itself is 0700.
S=$T/sys
mkdir -p "$S"
chmod 0711 "$T"
mount -t tmpfs -o mode=0755 relayq-test "$S" || bail "cannot mount a tmpfs on $S"
at_exit "umount -l '$S'"

# /etc: an overlay whose upper layer is on the tmpfs; a copy bind-mounted
# when overlayfs is not available.
mkdir -p "$S/ovl/up" "$S/ovl/work"
chmod 0700 "$S/ovl"
if ! mount -t overlay relayq-etc \
    -o "lowerdir=/etc,upperdir=$S/ovl/up,workdir=$S/ovl/work" /etc 2>/dev/null; then
	cp -a /etc "$S/ovl/etc" || bail "cannot copy /etc"
	mount --bind "$S/ovl/etc" /etc || bail "cannot bind-mount a copy of /etc"
fi
at_exit "umount -l /etc"
# Only inside the namespace from here on: check that before changing /etc.
touch /etc/.relayq-test-probe || bail "/etc is not writable in the namespace"
rm -f /etc/.relayq-test-probe

# Free ids (in the real files, before ours are added).
used=" $(awk -F: '{ print $3 }' /etc/passwd /etc/group | tr '\n' ' ') "
next_id=60001
free_id() {	# free_id VAR: the next id no user or group has
	while case $used in *" $next_id "*) true ;; *) false ;; esac; do
		next_id=$((next_id + 1))
	done
	printf -v "$1" '%s' "$next_id"
	next_id=$((next_id + 1))
}
free_id UA		# rqalice
free_id UB		# rqbob
free_id UR		# relayq (user and group)

for f in passwd group shadow gshadow; do
	[ -f /etc/$f ] || continue
	grep -Ev '^(relayq|rqalice|rqbob):' /etc/$f >"$S/$f.new"
	cat "$S/$f.new" >/etc/$f
done
{
	echo "rqalice:x:$UA:$UA:test user A:$S/home/alice:/bin/sh"
	echo "rqbob:x:$UB:$UB:test user B:$S/home/bob:/bin/sh"
	echo "relayq:x:$UR:$UR:relayq flush:/nonexistent:/usr/sbin/nologin"
} >>/etc/passwd
{
	echo "rqalice:x:$UA:"
	echo "rqbob:x:$UB:"
	echo "relayq:x:$UR:"
} >>/etc/group
if [ -f /etc/shadow ]; then
	printf '%s:!:20000::::::\n' rqalice rqbob relayq >>/etc/shadow
fi
[ "$(id -u relayq)" = "$UR" ] && [ "$(id -g rqalice)" = "$UA" ] ||
    bail "the namespace's /etc/passwd is not what getpwnam sees (nscd? NSS?)"
# Local time UTC: a caller's TZ must not change the Date field (below).
rm -f /etc/localtime

# The test SMTP server: AUTH with the relay account, no TLS (loopback).
mkdir -p "$T/srv"
{
	echo "ehlo PIPELINING 8BITMIME ENHANCEDSTATUSCODES AUTH PLAIN LOGIN"
	echo "user relayuser s3cret-Pa55"
} >"$T/srv.script"
"$SRV" -o "$T/srv" -s "$T/srv.script" -t 60 2>"$T/srv.log" &
at_exit "kill $! 2>/dev/null"
for _ in $(seq 1 200); do
	[ -s "$T/srv/port" ] && break
	sleep 0.05
done
[ -s "$T/srv/port" ] || bail "the test SMTP server did not start: $(cat "$T/srv.log")"
PORT=$(cat "$T/srv/port")

# The installation, as doc/system-wide.md does it.
SP=$S/spool
install -d -o root -g relayq -m 2770 "$SP" "$SP/tmp" "$SP/msg" "$SP/state" \
    "$SP/failed" || bail "cannot make the queue"
install -d -o root -g root -m 0755 /etc/relayq
install -o relayq -g root -m 0400 /dev/null /etc/relayq/password
printf '%s\n' 's3cret-Pa55' >/etc/relayq/password
cat >/etc/relayq.conf <<EOF
# relayq test: read by every user; no secrets here.
defaults
queue_dir $SP
qualify_domain example.org

account relay
host 127.0.0.1
port $PORT
tls off
auth on
allow_plaintext_auth on
user relayuser
passwordeval cat /etc/relayq/password
from %U@example.org

account default : relay
EOF
chown root:root /etc/relayq.conf
chmod 0644 /etc/relayq.conf

# The binaries: the set-group-ID relayq with a fake relayq-flush beside it
# (it would run if the submit started a flush); a plain copy with its own
# fake, as the control that shows such a start is seen; the real flush.
MARKS=$S/marks
install -d -m 1777 "$MARKS"
install -d -m 0755 "$S/bin" "$S/ctl" "$S/sbin"
install -o root -g relayq -m 2755 "$RQ" "$S/bin/relayq"
install -o root -g root -m 0755 "$RQ" "$S/ctl/relayq"
install -o root -g root -m 0755 "$RQF" "$S/sbin/relayq-flush"
printf '#!/bin/sh\necho "$(id -u) $*" >>%s/beside-setgid\n' "$MARKS" >"$S/bin/relayq-flush"
printf '#!/bin/sh\necho "$(id -u) $*" >>%s/beside-ctl\n' "$MARKS" >"$S/ctl/relayq-flush"
chmod 0755 "$S/bin/relayq-flush" "$S/ctl/relayq-flush"
[ "$(stat -c '%a %G' "$S/bin/relayq")" = "2755 relayq" ] ||
    bail "cannot make the set-group-ID binary"

# Homes, and what user A controls: a configuration with a queue of her
# own, named by RELAYQ_CONFIG and also put where a personal relayq looks.
HA=$S/home/alice
HB=$S/home/bob
install -d -o rqalice -g rqalice -m 0700 "$HA" "$HA/.config/relayq" "$HA/bin"
install -d -o rqbob -g rqbob -m 0700 "$HB"
cat >"$HA/evil.conf" <<EOF
defaults
queue_dir $HA/evilq
account evil
host 127.0.0.1
port 9
tls off
from rqbob@example.org
account default : evil
EOF
cp "$HA/evil.conf" "$HA/.config/relayq/config"
cp "$HA/evil.conf" "$HA/.msmtprc"
printf '#!/bin/sh\necho "$(id -u) $*" >>%s/env-flush\n' "$MARKS" >"$HA/bin/flush"
chown rqalice:rqalice "$HA/evil.conf" "$HA/.config/relayq/config" \
    "$HA/.msmtprc" "$HA/bin/flush"
chmod 0600 "$HA/evil.conf" "$HA/.config/relayq/config" "$HA/.msmtprc"
chmod 0700 "$HA/bin/flush"

A_ENV=(HOME="$HA" USER=rqalice LOGNAME=rqalice)
B_ENV=(HOME="$HB" USER=rqbob LOGNAME=rqbob)
# Everything a caller could try to steer relayq with.
EVIL_ENV=(RELAYQ_CONFIG="$HA/evil.conf" XDG_CONFIG_HOME="$HA/.config"
    RELAYQ_FLUSH="$HA/bin/flush" RELAYQ_FAKE_NOW=1000000000 TZ=XYZ-5:30
    LC_ALL=C.UTF-8 LANG=C.UTF-8 LOCPATH="$HA/locale" NLSPATH="$HA/%N"
    TMPDIR="$HA" USER=rqbob LOGNAME=rqbob)

# as UID GID [VAR=VALUE...] CMD ARGS...: run as that user with only the
# given environment; stdin from $IN (default /dev/null); sets RC OUT ERR.
as() {
	local uid=$1 gid=$2
	shift 2
	setpriv --reuid="$uid" --regid="$gid" --clear-groups -- \
	    env -i PATH=/usr/bin:/bin "$@" <"${IN:-/dev/null}" >"$T/.out" 2>"$T/.err"
	RC=$?
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
}
alice() { as "$UA" "$UA" "${A_ENV[@]}" "$@"; }
bob() { as "$UB" "$UB" "${B_ENV[@]}" "$@"; }
flushuser() { as "$UR" "$UR" HOME=/nonexistent "$@"; }

ids() { ls "$SP/msg" 2>/dev/null | sort; }
nmsg() { ids | wc -l | tr -d ' '; }

# submit_as WHO BODY [ARGS...]: WHO submits through the set-group-ID
# binary, with the variables in SUBMIT_ENV added to the environment;
# NEWID is the message it added (empty if none or several).
SUBMIT_ENV=()
submit_as() {
	local who=$1 body=$2 before
	shift 2
	printf 'Subject: %s\n\n%s\n' "$body" "$body" >"$T/.in"
	before=$(ids)
	IN=$T/.in "$who" "${SUBMIT_ENV[@]}" "$S/bin/relayq" "$@" rcpt@example.net
	NEWID=$(comm -13 <(printf '%s\n' "$before") <(ids) | grep -v '^$')
	[ "$(printf '%s\n' "$NEWID" | grep -c .)" = 1 ] || NEWID=
}

# --- (1) two users submit through the set-group-ID binary -----------------------
submit_as alice "alice-body-1"
is "$RC" 0 "user A submits through the set-group-ID relayq: exit 0"
[ -z "$ERR" ] || diag "stderr: $ERR"
IDA=$NEWID
ok "$([ -n "$IDA" ]; echo $?)" "user A's message is in msg/"
submit_as bob "bob-body-1"
is "$RC" 0 "user B submits through the set-group-ID relayq: exit 0"
[ -z "$ERR" ] || diag "stderr: $ERR"
IDB=$NEWID
ok "$([ -n "$IDB" ]; echo $?)" "user B's message is in msg/"
is "$(stat -c '%a %U %G' "$SP/msg/$IDA" 2>&1)" "640 rqalice relayq" \
    "user A's queue file: 0640, owner A, group relayq"
is "$(stat -c '%a %U %G' "$SP/msg/$IDB" 2>&1)" "640 rqbob relayq" \
    "user B's queue file: 0640, owner B, group relayq"
is "$(sed -n 's/^sender //p' "$SP/msg/$IDA" 2>&1)" "rqalice@example.org" \
    "from %U is user A's login"
is "$(sed -n 's/^sender //p' "$SP/msg/$IDB" 2>&1)" "rqbob@example.org" \
    "from %U is user B's login"
is "$(find "$SP/tmp" -type f | wc -l)" 0 "nothing left in tmp/"
alice "$S/bin/relayq" -bp
is "$RC" 0 "A: mailq through the set-group-ID binary: exit 0 (any user may list)"
ok "$(printf '%s' "$OUT" | grep -q "$IDA" && printf '%s' "$OUT" | grep -q "$IDB"; echo $?)" \
    "A: mailq lists both messages"
unlike "$OUT" 'body-1' "A: mailq shows no message content"

# --- (2) A cannot read, list or delete B's message ---------------------------------
alice cat "$SP/msg/$IDB"
ok "$([ "$RC" -ne 0 ] && [ -z "$OUT" ]; echo $?)" "A: cat of B's queue file fails"
like "$ERR" 'Permission denied' "A: cat says Permission denied"
alice ls "$SP"
ok "$([ "$RC" -ne 0 ] && [ -z "$OUT" ]; echo $?)" "A: ls of the queue directory fails"
like "$ERR" 'Permission denied' "A: ls says Permission denied"
alice ls "$SP/msg"
ok "$([ "$RC" -ne 0 ] && [ -z "$OUT" ]; echo $?)" "A: ls of msg/ fails"
alice rm -f "$SP/msg/$IDB"
ok "$([ -f "$SP/msg/$IDB" ]; echo $?)" "A: rm of B's queue file leaves it"
alice "$S/bin/relayq" --show "$IDB"
ok "$([ "$RC" -ne 0 ]; echo $?)" "A: relayq --show B's message fails (exit $RC)"
unlike "$OUT" 'bob-body-1' "A: relayq --show prints nothing of B's message"
for op in hold retry; do
	before=$(cat "$SP/state/$IDB" 2>/dev/null)
	alice "$S/bin/relayq" --$op "$IDB"
	ok "$([ "$RC" -ne 0 ] && [ "$(cat "$SP/state/$IDB" 2>/dev/null)" = "$before" ]; echo $?)" \
	    "A: relayq --$op B's message fails and changes nothing (exit $RC)"
	# Undo a change, so that the flush below still delivers it.
	[ -z "$before" ] && rm -f "$SP/state/$IDB"
done
# The set-group-ID binary opens --message-file with the relayq group: it
# must not become a way to copy B's queue file into a message of A's.
before=$(nmsg)
alice "$S/bin/relayq" --message-file "$SP/msg/$IDB" rqalice@example.org
leak=0
for f in "$SP"/msg/*; do
	[ "$(stat -c %U "$f")" = rqalice ] && grep -q 'bob-body-1' "$f" && leak=1
done
ok "$leak" "A: relayq --message-file B's queue file does not queue B's mail for A (exit $RC)"
[ "$leak" = 1 ] && diag "A's new message holds B's message: $(comm -13 <(printf '%s\n' "$IDA" "$IDB" | sort) <(ids) | tr '\n' ' ')"
# Remove what that made, so the counts below hold either way.
for f in "$SP"/msg/*; do
	[ "$(stat -c %U "$f")" = rqalice ] && grep -q 'bob-body-1' "$f" && rm -f "$f"
done
alice "$S/bin/relayq" --delete "$IDB"
ok "$([ "$RC" -ne 0 ]; echo $?)" "A: relayq --delete B's message fails (exit $RC)"
[ -n "$ERR" ] && diag "stderr: $ERR"
ok "$([ -f "$SP/msg/$IDB" ]; echo $?)" "A: B's message is still queued after --delete"
if [ ! -f "$SP/msg/$IDB" ]; then
	# So that what follows still counts five messages.
	diag "A deleted B's message $IDB; B submits it again"
	submit_as bob "bob-body-1"
	IDB=$NEWID
fi
bob cat "$SP/msg/$IDA"
ok "$([ "$RC" -ne 0 ] && [ -z "$OUT" ]; echo $?)" "B: cat of A's queue file fails"

# --- (3) the relay credentials ---------------------------------------------------
is "$(stat -c '%a %U' /etc/relayq/password)" "400 relayq" "the secret is 0400 relayq"
alice cat /etc/relayq/password
ok "$([ "$RC" -ne 0 ] && [ -z "$OUT" ]; echo $?)" "A: cat of the secret fails"
like "$ERR" 'Permission denied' "A: cat of the secret says Permission denied"
alice "$S/bin/relayq" --message-file /etc/relayq/password rqalice@example.org
ok "$(grep -rl 's3cret-Pa55' "$SP" >/dev/null; [ $? -ne 0 ]; echo $?)" \
    "A: relayq --message-file cannot queue the secret"
as "$UA" "$UA" HOME=/nonexistent "$S/sbin/relayq-flush" --all
ok "$([ "$RC" -ne 0 ]; echo $?)" "A: relayq-flush as a user fails (exit $RC)"
ok "$(ls "$T/srv"/conn-* >/dev/null 2>&1; [ $? -ne 0 ]; echo $?)" \
    "A: relayq-flush as a user never reached the server"

# --- (4) -C refused, the environment ignored --------------------------------------
before=$(nmsg)
printf 'Subject: c\n\nc\n' >"$T/.in"
IN=$T/.in alice "$S/bin/relayq" -C "$HA/evil.conf" rcpt@example.net
is "$RC" 64 "-C is refused by the set-group-ID binary: exit 64"
like "$ERR" '-C' "-C: the error names -C"
is "$(nmsg)" "$before" "-C: nothing queued"
ok "$([ ! -e "$HA/evilq" ]; echo $?)" "-C: nothing in A's own queue"

SUBMIT_ENV=("${EVIL_ENV[@]}")
submit_as alice "alice-env-probe"
SUBMIT_ENV=()
is "$RC" 0 "set-group-ID with RELAYQ_CONFIG, XDG, TZ, locale, RELAYQ_FAKE_NOW set: exit 0"
[ -z "$ERR" ] || diag "stderr: $ERR"
IDE=$NEWID
ok "$([ -n "$IDE" ]; echo $?)" "the message went to the system queue (/etc/relayq.conf)"
ok "$([ ! -e "$HA/evilq" ]; echo $?)" "RELAYQ_CONFIG / ~/.config / ~/.msmtprc queue_dir not used"
is "$(sed -n 's/^sender //p' "$SP/msg/$IDE" 2>&1)" "rqalice@example.org" \
    "the sender comes from /etc/relayq.conf and the passwd entry, not USER"
q=$(sed -n 's/^queued-at //p' "$SP/msg/$IDE" 2>/dev/null)
ok "$([ -n "$q" ] && [ "$q" -gt $(( $(date +%s) - 600 )) ]; echo $?)" \
    "RELAYQ_FAKE_NOW ignored (queued-at $q)"
d=$(grep -a -m1 '^Date:' "$SP/msg/$IDE" 2>/dev/null | tr -d '\r')
like "$d" '\+0000$' "TZ ignored: the Date field is in the system's zone ($d)"

# The control: the same environment and the same binary without the
# set-group-ID bit obeys every one of those variables.
printf 'Subject: ctl\n\nctl\n' >"$T/.in"
IN=$T/.in as "$UA" "$UA" "${A_ENV[@]}" "${EVIL_ENV[@]}" "$S/ctl/relayq" rcpt@example.net
is "$RC" 0 "control (no set-group-ID bit): exit 0"
cf=$(ls "$HA/evilq/msg/"* 2>/dev/null | head -1)
ok "$([ -n "$cf" ]; echo $?)" "control: RELAYQ_CONFIG's queue is used"
is "$(sed -n 's/^queued-at //p' "$cf" 2>/dev/null)" 1000000000 \
    "control: RELAYQ_FAKE_NOW is used"
like "$(grep -a -m1 '^Date:' "$cf" 2>/dev/null | tr -d '\r')" '\+0530$' \
    "control: TZ is used"
for _ in $(seq 1 100); do
	[ -s "$MARKS/env-flush" ] && break
	sleep 0.05
done
ok "$([ -s "$MARKS/env-flush" ]; echo $?)" "control: RELAYQ_FLUSH's program was started"
IN=$T/.in as "$UA" "$UA" "${A_ENV[@]}" RELAYQ_CONFIG="$HA/evil.conf" "$S/ctl/relayq" rcpt@example.net
for _ in $(seq 1 100); do
	[ -s "$MARKS/beside-ctl" ] && break
	sleep 0.05
done
ok "$([ -s "$MARKS/beside-ctl" ]; echo $?)" "control: relayq-flush beside the binary was started"

# --- (6) the set-group-ID submit never starts a flush ------------------------------
submit_as bob "bob-body-odi" -odi
is "$RC" 0 "-odi through the set-group-ID binary: exit 0"
IDI=$NEWID
ok "$([ -n "$IDI" ]; echo $?)" "-odi: the message is queued"
submit_as bob "bob-body-odb" -odb
IDO=$NEWID
is "$RC$([ -n "$IDO" ] && echo ' queued')" "0 queued" "-odb: exit 0, queued"
sleep 1		# a detached flush would have run by now (the control did)
ok "$([ ! -e "$MARKS/beside-setgid" ]; echo $?)" \
    "no relayq-flush was started by a set-group-ID submit"
is "$(cat "$MARKS/env-flush" 2>/dev/null | wc -l | tr -d ' ')" 1 \
    "RELAYQ_FLUSH's program ran only for the control"
is "$(ls "$T/srv"/conn-*.info 2>/dev/null | wc -l | tr -d ' ')" 0 \
    "the server saw no session before the relayq user's flush"

# --- (5) -q refused for users; the relayq user's flush delivers ---------------------
alice "$S/bin/relayq" -q
is "$RC" 77 "-q as a user: exit 77"
like "$ERR" 'relayq-flush|system mode' "-q: the error says who flushes"
bob "$S/bin/relayq" -q
is "$RC" 77 "-q as user B: exit 77"

want=$(nmsg)
is "$want" 5 "five messages wait (A, B, A's probe, B's -odi and -odb)"
flushuser "$S/sbin/relayq-flush" --all
is "$RC" 0 "relayq-flush as the relayq user: exit 0"
[ "$RC" = 0 ] || diag "stderr: $ERR"
is "$(ls "$T/srv"/msg-*.eml 2>/dev/null | wc -l | tr -d ' ')" "$want" \
    "the server received every queued message"
is "$(nmsg)" 0 "msg/ is empty after the flush"
left=$(cd "$SP" && find state failed -type f)
is "$(printf '%s' "$left" | grep -c .)" 0 "no state or failed files left"
for f in $left; do
	diag "$f:"
	sed 's/^/#   /' "$SP/$f" | head -20
done
is "$(sed -n 's/^auth_user=//p' "$T/srv"/conn-1.info 2>/dev/null)" relayuser \
    "the flush authenticated with the secret only the relayq user reads"
all=$(cat "$T/srv"/msg-*.eml 2>/dev/null)
for b in alice-body-1 bob-body-1 alice-env-probe bob-body-odi bob-body-odb; do
	like "$all" "$b" "delivered: $b"
done
envs=$(cat "$T/srv"/msg-*.env 2>/dev/null)
is "$(printf '%s\n' "$envs" | grep -c '^MAIL FROM:<rqalice@example.org>')" 2 \
    "A's two messages have A's envelope sender"
is "$(printf '%s\n' "$envs" | grep -c '^MAIL FROM:<rqbob@example.org>')" 3 \
    "B's three messages have B's envelope sender"
# --- (7) DKIM: the key is the relayq user's alone; submitters hash, never sign --
. "$TOP/tests/lib/dkim.sh"
dkim_keys "$S/k"
install -o relayq -g root -m 0600 "$S/k/rsa.key" /etc/relayq/dkim.key
sed -i 's|^account default : relay$|dkim_domain example.org\ndkim_selector sel\ndkim_key /etc/relayq/dkim.key\n\naccount default : relay|' \
    /etc/relayq.conf
like "$(sed -n '/^account relay$/,/^account default/p' /etc/relayq.conf)" \
    '^dkim_key /etc/relayq/dkim.key$' \
    "DKIM: the relay account in /etc/relayq.conf names the key (the file stays world-readable)"
submit_as alice "alice-dkim"
is "$RC" 0 "DKIM: user A submits through the set-group-ID binary"
IDK=$NEWID
like "$(tail -c 120 "$SP/msg/$IDK" 2>/dev/null)" 'dkim-bh=relaxed:' \
    "DKIM: the set-group-ID submit recorded the body hash"
alice cat /etc/relayq/dkim.key
ok "$([ "$RC" -ne 0 ] && [ -z "$OUT" ]; echo $?)" "DKIM: A cannot read the key"
as "$UA" "$UR" cat /etc/relayq/dkim.key
ok "$([ "$RC" -ne 0 ] && [ -z "$OUT" ]; echo $?)" \
    "DKIM: nor can anyone with the queue's group (what the set-group-ID binary has)"
chgrp relayq /etc/relayq/dkim.key
chmod 0640 /etc/relayq/dkim.key
as "$UA" "$UR" cat /etc/relayq/dkim.key
like "$OUT" 'BEGIN [A-Z ]*PRIVATE KEY' "DKIM: (the control: made group-readable, the group can read it)"
flushuser "$S/sbin/relayq-flush" --all
is "$RC" 78 "DKIM: the flush refuses a key the queue's group can read: exit 78"
ok "$([ -f "$SP/msg/$IDK" ]; echo $?)" "DKIM: ... and the message waits in the queue"
chmod 0600 /etc/relayq/dkim.key
before=$(ls "$T/srv"/msg-*.eml | wc -l)
flushuser "$S/sbin/relayq-flush" --all
is "$RC" 0 "DKIM: with the key private again the relayq user's flush relays it"
got="$T/srv/msg-$((before + 1)).eml"
like "$(head -1 "$got" 2>/dev/null)" '^DKIM-Signature: v=1; a=rsa-sha256; ' \
    "DKIM: ... signed"
is "$(dkim_py "$S/k/rsa.txt" "$got")" pass "DKIM: ... and python3-dkim verifies it"

[ "$_tap_failed" -gt 0 ] && {
	diag "server log:"
	sed 's/^/#   /' "$T/srv.log" | tail -20
}

done_testing
