#!/bin/bash
# relayq -- DKIM signing end to end with the test server: messages signed
# with RSA-2048 and Ed25519 keys made by certtool (folded headers, 8-bit
# bodies, a body without a final newline, fields in an unusual order),
# verified by three verifiers from Debian (python3-dkim's library, its
# dkimverify command and OpenDKIM's opendkim-testmsg, the last two reading
# the key from a test DNS zone); a tampered body fails all three.  Also:
# BDAT, simple/simple, x=, a chosen field list, messages queued before DKIM
# was configured or with another canonicalisation (hashed again at flush),
# a message already signed for the domain (not signed twice), SIZE=, a key
# the flush refuses (the mail waits), and --check's TXT record equal to the
# one made from certtool's public key.  (53-dkim-submit.t: relayq never
# opens the key.)
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"
. "$TOP/tests/lib/dkim.sh"

dkim_keys "$T/k"
for alg in rsa ed25519; do
	echo "sel._domainkey.example.org $T/k/$alg.txt" >"$T/zone.$alg"
done

# verdicts TXT ZONE FILE...: "PY/OPENDKIM/CLI" per file, one line each;
# the verifiers' reasons go to the TAP output (fd 3, the test's standard
# output, since verdicts runs inside $(...)) as comments.
exec 3>&1
verdicts() {
	local txt=$1 zone=$2
	shift 2
	dkim_py "$txt" "$@" >"$T/v.py"
	dkim_opendkim "$zone" "$@" >"$T/v.od"
	dkim_cli "$zone" "$@" >"$T/v.cli"
	grep -h '^fail' "$T/v.py" "$T/v.od" "$T/v.cli" | sed 's/^/# verifier: /' >&3
	paste -d/ <(cut -c1-4 "$T/v.py") <(cut -c1-4 "$T/v.od") \
	    <(cut -c1-4 "$T/v.cli")
}

# sig N: the DKIM-Signature field of received message N, without its
# white space (the folding).
sig() {
	python3 - "$DIR/msg-$1.eml" <<'EOF'
import re, sys
m = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
f = re.search(r"^DKIM-Signature:(.*?)\r\n(?![ \t])", m, re.S | re.M)
print(re.sub(r"\s+", "", f.group(1)) if f else "")
EOF
}

dkim_messages "$T/in"
inputs=("$T"/in/*)
n=${#inputs[@]}

for alg in rsa ed25519; do
	a=$([ $alg = rsa ] && echo rsa-sha256 || echo ed25519-sha256)
	srv_next "ehlo PIPELINING 8BITMIME SIZE"
	dkim_config $alg
	for f in "${inputs[@]}"; do
		"$RQ" -odq bob@example.net <"$f" || bail "cannot queue $f"
	done
	is "$(cat "$T"/queue/msg/* | grep -ac 'dkim-bh=relaxed:')" "$n" \
	    "$alg: relayq recorded the body hash of each message at submit"
	like "$("$RQ" --show "$(basename "$(last_msg)")")" \
	    '^dkim-body-hash: relaxed:[A-Za-z0-9+/]{43}=$' \
	    "$alg: relayq --show shows it"
	flush
	is "$RC" 0 "$alg: $n signed messages relayed"
	got=()
	for i in $(seq 1 $n); do got+=("$DIR/msg-$i.eml"); done
	v=$(verdicts "$T/k/$alg.txt" "$T/zone.$alg" "${got[@]}")
	i=0
	while IFS= read -r line; do
		name=$(basename "${inputs[$i]}")
		is "$line" "pass/pass/pass" "$alg, $name: python3-dkim, opendkim-testmsg and dkimverify verify it"
		i=$((i + 1))
	done <<<"$v"
	is "$i" "$n" "$alg: a verdict for each message"
	s=$(sig 1)
	like "$s" "^v=1;a=$a;c=relaxed/relaxed;d=example\.org;s=sel;t=[0-9]+;h=from:from:reply-to:subject:subject:date:date:to:to:cc:message-id:message-id:" \
	    "$alg: v, a=$a, c, d, s, t, then h= with From, Subject, To... oversigned"
	unlike "$s" "x=|l=|i=" "$alg: no x=, l= or i= by default"
	is "$(grep -c '^DKIM-Signature:' "$DIR/msg-1.eml")" 1 "$alg: one signature, first in the message"
	is "$(head -c 15 "$DIR/msg-1.eml")" "DKIM-Signature:" "$alg: ... at the very top"
	awk 'length > 78 { bad = 1 } END { exit bad }' <(sed -n '1,/^From:/p' "$DIR/msg-1.eml" | tr -d '\r')
	ok $? "$alg: the signature field is folded to lines of at most 78"
	size=$(stat -c %s "$DIR/msg-1.eml")
	like "$(head -1 "$DIR/msg-1.env")" " SIZE=$size( |\$)" \
	    "$alg: SIZE= counts the signature ($size octets received)"

	# The proof that each verifier can fail: one body octet changed.
	sed 's/Hello Bob/Hello B0b/' "$DIR/msg-1.eml" >"$T/tampered.eml"
	is "$(verdicts "$T/k/$alg.txt" "$T/zone.$alg" "$T/tampered.eml")" \
	    "fail/fail/fail" "$alg: a tampered body fails all three verifiers"
	sed 's/^Subject: plain/Subject: p1ain/' "$DIR/msg-1.eml" >"$T/tampered.eml"
	is "$(dkim_py "$T/k/$alg.txt" "$T/tampered.eml" | cut -c1-4)" fail \
	    "$alg: a tampered Subject fails"
	python3 - "$DIR/msg-5.eml" "$T/reordered.eml" <<'EOF'
import sys
m = open(sys.argv[1], "rb").read()
head, body = m.split(b"\r\n\r\n", 1)
lines, fields = head.split(b"\r\n"), []
for l in lines:
    if l[:1] in (b" ", b"\t"):
        fields[-1] += b"\r\n" + l
    else:
        fields.append(l)
# The signature stays first; the others in reverse order.
out = [fields[0]] + fields[1:][::-1]
open(sys.argv[2], "wb").write(b"\r\n".join(out) + b"\r\n\r\n" + body)
EOF
	is "$(verdicts "$T/k/$alg.txt" "$T/zone.$alg" "$T/reordered.eml")" \
	    "pass/pass/pass" "$alg: fields of different names reordered in transit still verify"
done

# --- BDAT (CHUNKING): the signature goes in the first chunk ------------------
srv_next "ehlo PIPELINING 8BITMIME CHUNKING SIZE"
dkim_config rsa
"$RQ" -odq bob@example.net <"$T/in/2-folded"
flush
is "$RC" 0 "CHUNKING: relayed"
like "$(cat "$DIR/conn-1.in")" "BDAT [0-9]+ LAST" "... with BDAT"
is "$(dkim_py "$T/k/rsa.txt" "$DIR/msg-1.eml")" pass "... and it verifies"

# --- simple/simple, x=, a chosen list of fields -------------------------------
srv_next "ehlo PIPELINING 8BITMIME"
dkim_config ed25519 "dkim_canon simple/simple" "dkim_expire 2d" "dkim_headers from:subject:+date"
"$RQ" -odq bob@example.net <"$T/in/5-order"
flush
s=$(sig 1)
like "$s" "c=simple/simple;.*x=[0-9]+;h=from:subject:date:date;" \
    "simple/simple, x=, h= as dkim_headers says (Date oversigned)"
t=$(printf '%s' "$s" | sed -n 's/.*;t=\([0-9]*\);.*/\1/p')
x=$(printf '%s' "$s" | sed -n 's/.*;x=\([0-9]*\);.*/\1/p')
is "$((x - t))" 172800 "x= is t= plus dkim_expire (2d)"
is "$(dkim_py "$T/k/ed25519.txt" "$DIR/msg-1.eml")" pass "simple/simple verifies"
# Signed three days ago with a two-day expiry: the verifier must refuse it.
srv_next "ehlo PIPELINING 8BITMIME"
dkim_config ed25519 "dkim_expire 2d"
"$RQ" -odq bob@example.net <"$T/in/1-plain"
RELAYQ_FAKE_NOW=$(( $(date +%s) - 3 * 86400 )) flush
like "$(dkim_py "$T/k/ed25519.txt" "$DIR/msg-1.eml")" "^fail: .*(x=|expire)" \
    "a signature past its x= fails"

# --- hashed again at flush: queued before DKIM, or another canonicalisation ----
srv_next "ehlo PIPELINING 8BITMIME"
rm -rf "$T/queue" "$T/log"
flush_config "connections 1"
"$RQ" -odq bob@example.net <"$T/in/3-8bit"
"$RQ" -odq bob@example.net <"$T/in/5-order"
is "$(cat "$T"/queue/msg/* | grep -ac 'dkim-bh=')" 0 \
    "without DKIM at submit, no body hash in the queue"
flush_config "connections 1" "dkim_domain example.org" "dkim_selector sel" \
    "dkim_key $T/k/rsa.key"
flush
is "$RC" 0 "queued before DKIM was configured: relayed"
is "$(dkim_py "$T/k/rsa.txt" "$DIR/msg-1.eml" "$DIR/msg-2.eml" | tr '\n' ' ')" \
    "pass pass " "... signed after hashing the body at flush: both verify"
srv_next "ehlo PIPELINING 8BITMIME"
dkim_config rsa
"$RQ" -odq bob@example.net <"$T/in/5-order"
flush_config "connections 1" "dkim_domain example.org" "dkim_selector sel" \
    "dkim_key $T/k/rsa.key" "dkim_canon relaxed/simple"
flush
like "$(sig 1)" "c=relaxed/simple" "queued with a relaxed hash, flushed with relaxed/simple"
is "$(dkim_py "$T/k/rsa.txt" "$DIR/msg-1.eml")" pass "... hashed again with simple: verifies"

# --- not signed twice ---------------------------------------------------------
srv_next "ehlo PIPELINING 8BITMIME"
dkim_config rsa
{ printf 'DKIM-Signature: v=1; a=rsa-sha256; d=Example.ORG; s=other;\n h=from; bh=AAAA; b=AAAA\n'; cat "$T/in/1-plain"; } |
    "$RQ" -odq bob@example.net
{ printf 'DKIM-Signature: v=1; a=rsa-sha256; d=list.example.net; s=x;\n h=from; bh=AAAA; b=AAAA\n'; cat "$T/in/1-plain"; } |
    "$RQ" -odq bob@example.net
flush
is "$(grep -c '^DKIM-Signature:' "$DIR/msg-1.eml")" 1 \
    "a message already signed for example.org is sent as it is"
like "$(grep '^DKIM-Signature:' "$DIR/msg-1.eml")" "s=other" "... with its own signature"
is "$(grep -c '^DKIM-Signature:' "$DIR/msg-2.eml")" 2 \
    "a message signed by another domain gets ours as well"
like "$(head -1 "$DIR/msg-2.eml")" "d=example\.org; s=sel;" "... ours on top"

# --- a key the flush refuses: the account's mail waits ------------------------
srv_next "ehlo PIPELINING 8BITMIME"
dkim_config rsa
chmod 640 "$T/k/rsa.key"
"$RQ" -odq bob@example.net <"$T/in/1-plain"
is "$?" 0 "relayq queues although the key is group-readable (it never reads it)"
flush
is "$RC" 78 "relayq-flush refuses a group-readable key: exit 78"
like "$ERR$(cat "$T/log")" "dkim_key $T/k/rsa.key: .*chmod 600" "... saying which file and what to do"
is "$(queued)" 1 "... and the message stays queued, unsigned mail never sent"
is "$(ls "$DIR" | grep -c '^msg-')" 0 "... nothing reached the server"
chmod 600 "$T/k/rsa.key"
flush
is "$RC" 0 "with the key fixed it goes"
is "$(dkim_py "$T/k/rsa.txt" "$DIR/msg-1.eml")" pass "... signed"

# --- --check: the key, and the record to publish ------------------------------
srv_next "ehlo PIPELINING 8BITMIME"
for alg in rsa ed25519; do
	dkim_config $alg
	"$RQF" --check >"$T/check" 2>&1
	is "$?" 0 "--check with the $alg key: ok"
	c=$(cat "$T/check")
	like "$c" "DKIM: key ok" "... the key signs and verifies"
	is "$(sed -n 's/^  name:  //p' "$T/check")" "sel._domainkey.example.org" "... the TXT record's name"
	is "$(sed -n 's/^  value: //p' "$T/check")" "$(cat "$T/k/$alg.txt")" \
	    "... its value is the one made from certtool's public key"
	zone=$(sed -n 's/^  zone file: //p' "$T/check")
	like "$zone" '^sel\._domainkey\.example\.org\. IN TXT \( "v=DKIM1; k=' "... and a zone file line"
	is "$(printf '%s' "$zone" | python3 -c '
import re, sys
print(max(len(s) for s in re.findall(r"\"([^\"]*)\"", sys.stdin.read())) <= 255)')" True \
	    "... in strings of at most 255 octets"
done
like "$c" "ed25519-sha256" "--check names the algorithm"
chmod 644 "$T/k/ed25519.key"
"$RQF" --check >"$T/check" 2>&1
is "$?" 78 "--check with a world-readable key: exit 78"
like "$(cat "$T/check")" "DKIM problem: dkim_key .*chmod 600" "... and says why"
chmod 600 "$T/k/ed25519.key"

done_testing
