#!/bin/bash
# relayq -- the SMTP extensions and the data path, checked on the bytes the
# test server recorded: PIPELINING (MAIL, RCPTs and DATA in one segment;
# replies matched by position across messages) and its absence (one
# command at a time); many messages over one session with RSET between;
# BDAT when CHUNKING is offered, byte for byte, in chunks of at most 1 MiB;
# SMTPUTF8 (A-labels for a server without it, a clear failure for a UTF-8
# local part, the SMTPUTF8 parameter when offered); DSN parameters only
# when DSN is offered; BODY=8BITMIME for 8-bit content (and the 7-bit
# conversion, without it, for a server that lacks 8BITMIME); and the SMTP
# smuggling sequences, which must reach the wire as plain, stuffed lines
# with one end of data.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"

# server SCRIPT-LINES...: a fresh plain-text test server; sets DIR, PORT.
server() { srv_next "$@"; }

# config [EXTRA KEYS...]: a fresh queue; one session, so that the order of
# messages on the wire is the order of the queue.
config() {
	rm -rf "$T/queue" "$T/log"
	flush_config "connections 1" "$@"
}

# commands [N]: the command lines of session N (default 1), without the
# message content, CRs removed.
commands() {
	python3 - "$DIR/conn-${1:-1}.in" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
out, in_data = [], False
for line in data.split(b"\r\n"):
    if in_data:
        if line == b".":
            in_data = False
        continue
    out.append(line.decode("utf-8", "replace"))
    if line.upper() == b"DATA":
        in_data = True
print("\n".join(out).strip("\n"))
EOF
}

# --- PIPELINING: MAIL, every RCPT and DATA leave in one segment ---------------
# The server closes the connection on reading MAIL, without a reply: only
# what came in the same segment as MAIL is in its recording.
server "ehlo PIPELINING 8BITMIME" "disconnect session#1 MAIL"
config
printf 'Subject: p\n\nbody\n' | "$RQ" -odq a@example.net b@example.net c@example.net
flush
is "$RC" 75 "pipelining, dropped at MAIL: deferred"
is "$(commands)" "$(printf 'EHLO client.example.org\nMAIL FROM:<sender@example.org>\nRCPT TO:<a@example.net>\nRCPT TO:<b@example.net>\nRCPT TO:<c@example.net>\nDATA')" \
    "pipelining: MAIL, the three RCPTs and DATA arrived together, before any reply"

server "ehlo 8BITMIME" "disconnect session#1 MAIL"
config
printf 'Subject: np\n\nbody\n' | "$RQ" -odq a@example.net b@example.net
flush
is "$RC" 75 "no pipelining, dropped at MAIL: deferred"
is "$(commands)" "$(printf 'EHLO client.example.org\nMAIL FROM:<sender@example.org>')" \
    "no pipelining: nothing after MAIL until its reply"
flush --all
is "$RC" 0 "no pipelining: delivered on the retry"
is "$(commands 2 | grep -c '^RCPT TO')" 2 "no pipelining: both RCPTs, one at a time"

# --- replies matched by position across the messages of one session -----------
server "ehlo PIPELINING 8BITMIME" "reply RCPT#3 550 5.1.1 third is unknown" \
    "reply RCPT#6 450 4.2.1 sixth is busy"
config
for m in 1 2 3; do
	printf 'Subject: pos %d\n\nbody\n' "$m" |
	    "$RQ" -odq "m${m}a@example.net" "m${m}b@example.net"
done
flush
is "$RC" 75 "six recipients, one 550 and one 450: exit 75"
is "$(grep -c '^RCPT' "$DIR/conn-1.in")" 6 "one session carried the six RCPTs"
is "$(grep -o 'to=<[^>]*> .*status=[a-z]*' "$T/log" | sed 's/ .*status=/ /' | sort | tr '\n' ' ')" \
    "to=<m1a@example.net> sent to=<m1b@example.net> sent to=<m2a@example.net> failed to=<m2b@example.net> sent to=<m3a@example.net> sent to=<m3b@example.net> deferred " \
    "each reply went to its own recipient"
is "$(cat "$DIR"/msg-*.env | grep -c '^RCPT')" 4 "the server took four recipients"

# --- many messages over one session, RSET between ---------------------------------
server "ehlo PIPELINING 8BITMIME"
config
for m in 1 2 3 4 5; do
	printf 'Subject: many %d\n\nbody %d\n' "$m" "$m" | "$RQ" -odq "r$m@example.net"
done
flush
is "$RC.$(queued)" 0.0 "five messages delivered"
ok "$([ ! -e "$DIR/conn-2.in" ]; echo $?)" "over a single session"
is "$(commands | grep -E '^(MAIL|RSET|QUIT|EHLO)' | tr '\n' ' ')" \
    "EHLO client.example.org MAIL FROM:<sender@example.org> RSET MAIL FROM:<sender@example.org> RSET MAIL FROM:<sender@example.org> RSET MAIL FROM:<sender@example.org> RSET MAIL FROM:<sender@example.org> QUIT " \
    "one EHLO, RSET between the transactions, QUIT at the end"
for m in 1 2 3 4 5; do
	grep -q "^Subject: many $m" "$DIR/msg-$m.eml" 2>/dev/null || break
done
is "$m" 5 "the server stored the five messages in queue order"

# Without PIPELINING, RSET only after a transaction that did not complete.
server "ehlo 8BITMIME" "reply RCPT#2 550 5.1.1 no such user"
config "bounce off"
for m in 1 2 3; do
	printf 'Subject: seq %d\n\nbody %d\n' "$m" "$m" | "$RQ" -odq "q$m@example.net"
done
flush
is "$RC" 69 "no pipelining, three messages, the second refused: exit 69"
is "$(commands | grep -E '^(MAIL|RCPT|DATA|RSET|QUIT)' | tr '\n' ' ')" \
    "MAIL FROM:<sender@example.org> RCPT TO:<q1@example.net> DATA MAIL FROM:<sender@example.org> RCPT TO:<q2@example.net> RSET MAIL FROM:<sender@example.org> RCPT TO:<q3@example.net> DATA QUIT " \
    "no pipelining: RSET only after the refused transaction, one session"
is "$(ls "$DIR"/msg-*.env | wc -l | tr -d ' ')" 2 "no pipelining: the other two arrived"

# --- BDAT when CHUNKING is offered: the content byte for byte -------------------
server "ehlo PIPELINING 8BITMIME CHUNKING"
config
printf 'Subject: bdat\n\n.dot line\n..two dots\n.\nbody\r\nend\n' |
    "$RQ" -odq -i b@example.net
queue_content "$(last_msg)" >"$T/bdat.expected"
flush
is "$RC" 0 "BDAT: delivered"
unlike "$(commands)" '^DATA' "BDAT: no DATA command"
like "$(commands)" '^BDAT [0-9]+ LAST$' "BDAT: BDAT n LAST"
cmp -s "$T/bdat.expected" "$DIR/msg-1.eml"
ok $? "BDAT: the server received exactly the queued content (no dot-stuffing)"
is "$(($(commands | sed -n 's/^BDAT \([0-9]*\).*/\1/p' | paste -sd+)))" \
    "$(wc -c <"$T/bdat.expected" | tr -d ' ')" "BDAT: the chunk sizes add up to the content"

# A 3 MB message: chunks of at most 1 MiB, the last one with LAST, and
# together exactly the queued content.  The recording is parsed as a
# server must: after "BDAT n", n octets of data, then the next command.
server "ehlo PIPELINING 8BITMIME CHUNKING"
config
{
	printf 'Subject: big bdat\n\n'
	head -c 2400000 /dev/urandom | base64 -w 76
	printf '.a dot line at the end\n'
} | "$RQ" -odq big@example.net
queue_content "$(last_msg)" >"$T/bdat.expected"
flush
is "$RC" 0 "a 3 MB message over BDAT: delivered"
python3 - "$DIR/conn-1.in" "$T/bdat.expected" "$DIR/msg-1.eml" <<'EOF' >"$T/bdat.out"
import sys
w = open(sys.argv[1], "rb").read()
want = open(sys.argv[2], "rb").read()
stored = open(sys.argv[3], "rb").read()
pos, sizes, data, last = 0, [], b"", []
while pos < len(w):
    end = w.index(b"\r\n", pos)
    cmd = w[pos:end].decode("ascii", "replace")
    pos = end + 2
    if cmd.startswith("BDAT "):
        f = cmd.split()
        n = int(f[1])
        sizes.append(n)
        last.append(len(f) == 3 and f[2] == "LAST")
        data += w[pos:pos + n]
        pos += n
print("chunks", len(sizes))
print("max-ok", int(max(sizes) <= 1048576))
print("last-only-at-end", int(last[-1] and not any(last[:-1])))
print("same-as-queued", int(data == want))
print("stored-as-queued", int(stored == want))
EOF
ok "$([ "$(sed -n 's/^chunks //p' "$T/bdat.out")" -ge 3 ]; echo $?)" \
    "a 3 MB message over BDAT: in $(sed -n 's/^chunks //p' "$T/bdat.out") chunks"
is "$(grep -c ' 1$' "$T/bdat.out")" 4 \
    "each chunk at most 1 MiB, LAST only on the last, the chunks and the stored message are the queued content ($(grep ' 0$' "$T/bdat.out" | tr '\n' ' '))"

# The flush makes every line end CRLF for BDAT too (and counts the octets
# it really sends): a hand-written queue file with bare CR and LF.
server "ehlo PIPELINING 8BITMIME CHUNKING"
config
printf 'Subject: forged\n\nbody\n' | "$RQ" -odq forged@example.net
printf 'Subject: forged\r\n\r\nbefore\n.\nmiddle\r.\rafter\r\n.\n' |
    queue_forge "$(last_msg)"
flush --all
is "$RC" 0 "forged queue content over BDAT: delivered"
is "$(od -An -c "$DIR/msg-1.eml" | tr -s ' \n' ' ')" \
    "$(printf 'Subject: forged\r\n\r\nbefore\r\n.\r\nmiddle\r\n.\r\nafter\r\n.\r\n' | od -An -c | tr -s ' \n' ' ')" \
    "forged queue content over BDAT: every line end arrives as CRLF, BDAT sizes right"

# --- SMTPUTF8 -------------------------------------------------------------------
server "ehlo PIPELINING 8BITMIME"
config
printf 'Subject: idn\n\nbody\n' | "$RQ" -odq 'rcpt@bücher.example'
printf 'Subject: utf8 local\n\nbody\n' | "$RQ" -odq 'jörg@example.net'
flush
is "$RC" 69 "no SMTPUTF8: one message fails"
like "$(commands)" '^RCPT TO:<rcpt@xn--bcher-kva\.example>$' \
    "no SMTPUTF8: the UTF-8 domain goes out as its A-label"
unlike "$(commands)" 'SMTPUTF8|jörg|j.rg|bücher' "no SMTPUTF8: no UTF-8 and no SMTPUTF8 on the wire"
like "$(grep 'jörg' "$T/log")" 'status=failed reply="5\.6\.7 [^"]*not ASCII[^"]*SMTPUTF8' \
    "no SMTPUTF8: the UTF-8 local part fails with 5.6.7, saying why"
is "$(json '[r["address"] for m in q for r in m["recipients"]]')" "['sender@example.org']" \
    "no SMTPUTF8: the sender gets a bounce for it"

server "ehlo PIPELINING 8BITMIME SMTPUTF8"
config
printf 'Subject: utf8\n\nbody\n' | "$RQ" -odq 'rcpt@bücher.example' 'jörg@example.net'
flush
is "$RC" 0 "SMTPUTF8 offered: delivered"
like "$(commands)" '^MAIL FROM:<sender@example.org>.* SMTPUTF8' "SMTPUTF8 offered: MAIL carries SMTPUTF8"
like "$(commands)" '^RCPT TO:<jörg@example.net>' "SMTPUTF8 offered: the local part in UTF-8"

server "ehlo PIPELINING 8BITMIME SMTPUTF8"
config
printf 'Subject: ascii\n\nbody\n' | "$RQ" -odq 'plain@example.net'
flush
unlike "$(commands)" 'SMTPUTF8' "SMTPUTF8 offered, all ASCII: no SMTPUTF8 parameter"

# --- DSN ------------------------------------------------------------------------
dsn_submit() {
	printf 'Subject: dsn\n\nbody\n' |
	    "$RQ" -odq -N success,failure -R hdrs -V 'env+id=1' d1@example.net
	printf 'Subject: never\n\nbody\n' | "$RQ" -odq -N never d2@example.net
}
server "ehlo PIPELINING 8BITMIME DSN"
config
dsn_submit
flush
is "$RC" 0 "DSN offered: delivered"
is "$(commands | grep -E '^(MAIL|RCPT)' | tr '\n' '|')" \
    "MAIL FROM:<sender@example.org> RET=HDRS ENVID=env+2Bid+3D1|RCPT TO:<d1@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;d1@example.net|MAIL FROM:<sender@example.org>|RCPT TO:<d2@example.net> NOTIFY=NEVER ORCPT=rfc822;d2@example.net|" \
    "DSN offered: RET, ENVID (xtext), NOTIFY and ORCPT from -R, -V and -N"

server "ehlo PIPELINING 8BITMIME"
config
dsn_submit
flush
is "$RC" 0 "no DSN: delivered all the same"
unlike "$(commands)" 'RET=|ENVID=|NOTIFY=|ORCPT=' "no DSN: no DSN parameter on the wire"

# --- 8BITMIME ---------------------------------------------------------------------
server "ehlo PIPELINING 8BITMIME"
config
printf 'Subject: 8bit\n\ncaf\303\251\n' | "$RQ" -odq e1@example.net
printf 'Subject: 7bit\n\ncafe\n' | "$RQ" -odq e2@example.net
flush
is "$RC" 0 "8BITMIME: delivered"
is "$(commands | grep '^MAIL' | tr '\n' '|')" \
    "MAIL FROM:<sender@example.org> BODY=8BITMIME|MAIL FROM:<sender@example.org>|" \
    "BODY=8BITMIME for the 8-bit message only"
grep -q $'^caf\303\251\r$' "$DIR/msg-1.eml"
ok $? "the 8-bit octets arrive as they were"

server "ehlo PIPELINING SIZE 1000000"
config
printf 'Subject: 8bit\n\ncaf\303\251\n' | "$RQ" -odq e3@example.net
flush
is "$RC" 0 "8-bit content, server without 8BITMIME: converted and delivered"
like "$(commands | grep '^MAIL')" '^MAIL FROM:<sender@example.org> SIZE=[0-9]+$' \
    "no BODY=8BITMIME for the converted message, SIZE= of the converted size"
LC_ALL=C grep -q $'[\200-\377]' "$DIR/conn-1.in"
ok "$([ $? -ne 0 ]; echo $?)" "no 8-bit octet on the wire"
grep -q $'^caf=C3=A9\r$' "$DIR/msg-1.eml"
ok $? "the body arrives as quoted-printable"
like "$(cat "$DIR/msg-1.eml")" 'Content-Transfer-Encoding: quoted-printable' \
    "with its Content-Transfer-Encoding"
declared=$(commands | sed -n 's/^MAIL .*SIZE=\([0-9]*\).*/\1/p')
arrived=$(stat -c %s "$DIR/msg-1.eml")
ok "$([ "$declared" -ge "$arrived" ]; echo $?)" \
    "SIZE=$declared is not less than the $arrived octets that arrived"

# --- SMTP smuggling: the sequences inside bodies ------------------------------------
server "ehlo PIPELINING 8BITMIME"
config
seqs=('\n.\n' '\r.\r' '\r.\n' '\n.\r' '\n.\r\n' '\r\n.\n' '\r.\r\n' '\r\n.\r' '\r\n\0.\r\n')
mkdir -p "$T/smuggle"
i=0
for s in "${seqs[@]}"; do
	i=$((i + 1))
	# The injected commands would be a second message if any of these
	# sequences ended the data early on the server's side.
	printf "Subject: smuggle $i\n\nbefore${s}MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nevil\r\n${s}after\n.dot\n" \
	    >"$T/smuggle/in.$i"
	"$RQ" -odq -i "s$i@example.net" <"$T/smuggle/in.$i" ||
	    bail "cannot queue smuggling body $i"
	cp "$(last_msg)" "$T/smuggle/q.$i"
done
flush
is "$RC.$(queued)" 0.0 "smuggling bodies: all ${#seqs[@]} delivered"
is "$(ls "$DIR"/msg-*.env | wc -l | tr -d ' ')" "${#seqs[@]}" \
    "the server saw exactly ${#seqs[@]} messages"
unlike "$(cat "$DIR"/msg-*.env)" 'evil|victim' "no injected envelope reached the server"
python3 - "$DIR" "$T/smuggle" "${#seqs[@]}" >"$T/smuggle.out" <<'EOF'
import binascii, os, re, sys
srv, sm, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
wire = open(os.path.join(srv, "conn-1.in"), "rb").read()
def res(ok, what):
    print(("PASS " if ok else "FAIL ") + what)
# 1. no bare CR, no bare LF anywhere in the session
bare = [i for i, c in enumerate(wire) if
        (c == 13 and wire[i + 1:i + 2] != b"\n") or
        (c == 10 and (i == 0 or wire[i - 1] != 13))]
res(not bare, "no bare CR or LF on the wire (first at %s)" % (bare[:1],))
# 2. parse as the server must: commands, DATA, lines until "."
lines = wire.split(b"\r\n")
bodies, cmds, cur = [], [], None
for ln in lines:
    if cur is not None:
        if ln == b".":
            bodies.append(b"".join(cur))
            cur = None
        else:
            cur.append(ln + b"\r\n")
        continue
    cmds.append(ln)
    if ln.upper() == b"DATA":
        cur = []
res(cur is None, "every DATA ends with one end-of-data")
res(len(bodies) == count, "%d bodies on the wire (want %d)" % (len(bodies), count))
res(all(c.startswith((b"EHLO", b"MAIL FROM:<sender@", b"RCPT TO:<s", b"DATA",
                      b"RSET", b"QUIT")) or c == b"" for c in cmds),
    "no injected command outside the data")
# 3. a line starting with a dot is stuffed; un-stuffing gives the queued content
stuffed = all(not l.startswith(b".") or l.startswith(b"..")
              for b_ in bodies for l in b_.split(b"\r\n"))
res(stuffed, "every content line starting with a dot is stuffed")
for i in range(1, count + 1):
    q = open(os.path.join(sm, "q.%d" % i), "rb").read()
    content = q[q.index(b"\ndata\n") + 6:q.rindex(b"end size=")]
    body = bodies[i - 1] if i <= len(bodies) else b""
    unstuffed = b"".join(l[1:] + b"\r\n" if l.startswith(b".") else l + b"\r\n"
                         for l in body.split(b"\r\n")[:-1])
    res(unstuffed == content, "body %d: un-stuffed wire data == queued content" % i)
    eml = open(os.path.join(srv, "msg-%d.eml" % i), "rb").read()
    res(eml == content, "body %d: the server stored the queued content" % i)
    # 4. the queued content is the input with every CR, LF, CRLF made CRLF
    raw = open(os.path.join(sm, "in.%d" % i), "rb").read()
    want = re.sub(rb"\r\n|\r|\n", b"\r\n", raw.split(b"\n\n", 1)[1])
    got = content.split(b"\r\n\r\n", 1)[1]
    if b"quoted-printable" in content.split(b"\r\n\r\n", 1)[0]:
        got = binascii.a2b_qp(got)
    elif b"base64" in content.split(b"\r\n\r\n", 1)[0]:
        got = binascii.a2b_base64(got)
    res(got == want, "body %d: the content is the canonical input (decoded)" % i)
EOF
while read -r st rest; do
	[ "$st" = PASS ]
	ok $? "smuggling: $rest"
done <"$T/smuggle.out"
is "$(grep -c . "$T/smuggle.out")" $((5 + 3 * ${#seqs[@]})) "smuggling: every check ran"

# The flush does not rely on the submit side: a queue file whose content
# holds bare CR and LF (written by hand, with a correct trailer) is either
# refused as corrupt or sent with every line end made CRLF.
server "ehlo PIPELINING 8BITMIME"
config
printf 'Subject: forged\n\nbody\n' | "$RQ" -odq forged@example.net
printf '%b' 'Subject: forged\r\n\r\nbefore\n.\nMAIL FROM:<evil@example.com>\r\n' \
    'RCPT TO:<victim@example.com>\r\nDATA\r\nevil\r.\rafter\r\n.\n' |
    queue_forge "$(last_msg)"
flush --all
python3 - "$DIR/conn-1.in" <<'EOF'
import sys
w = open(sys.argv[1], "rb").read()
bad = [i for i, c in enumerate(w) if (c == 13 and w[i + 1:i + 2] != b"\n") or
       (c == 10 and (i == 0 or w[i - 1] != 13))]
sys.exit(1 if bad or w.count(b"\r\n.\r\n") > 1 else 0)
EOF
ok $? "forged queue content: no bare CR or LF and at most one end of data on the wire"
unlike "$(cat "$DIR"/msg-*.env 2>/dev/null)" 'evil|victim' \
    "forged queue content: no injected envelope reached the server"
ok "$([ "$(ls "$DIR"/msg-*.env 2>/dev/null | wc -l)" -le 1 ]; echo $?)" \
    "forged queue content: at most one message arrived"

done_testing
