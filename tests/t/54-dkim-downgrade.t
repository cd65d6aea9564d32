#!/bin/bash
# relayq -- DKIM signs what goes on the wire (issue 8, item 2): an 8-bit
# multipart message (a UTF-8 text part, a Latin-1 text part, a UTF-8
# Subject), queued by an account with dkim_* set (so relayq records the
# body hash of the 8-bit content at submit), is relayed with RSA-2048 and
# Ed25519 keys made by certtool to a server without 8BITMIME (the body is
# converted to quoted-printable and the Subject to an encoded word: what
# arrives is 7-bit), to one with 8BITMIME but not SMTPUTF8 (the body goes
# 8-bit, the Subject is encoded) and to one with both (as queued).  Each
# arrival carries one DKIM-Signature that python3-dkim and OpenDKIM's
# opendkim-testmsg verify, and says what was sent (tests/lib/mimecheck.py);
# a tampered copy fails, and the signature of the converted message does
# not fit the message as queued (it was made over the converted one).
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"
. "$TOP/tests/lib/dkim.sh"

PY=/usr/bin/python3
CHECK="$PY $TOP/tests/lib/mimecheck.py"
$PY -c 'import email' 2>/dev/null || bail "Debian's python3 with the email package is needed"

dkim_keys "$T/k"
for alg in rsa ed25519; do
	echo "sel._domainkey.example.org $T/k/$alg.txt" >"$T/zone.$alg"
done

# The message, as a submitter writes it (LF): 8-bit in the Subject, in a
# UTF-8 part and in a Latin-1 part, both labelled 8bit.
printf '%s\n' \
    'From: Alice <alice@example.org>' \
    'To: bob@example.net' \
    'Subject: Bericht f'$'\303\274''r J'$'\303\266''rg' \
    'Date: Fri, 1 Jan 2027 10:00:00 +0000' \
    'Message-ID: <dg@example.org>' \
    'MIME-Version: 1.0' \
    'Content-Type: multipart/mixed; boundary="b1"' \
    '' \
    'This is a multi-part message in MIME format.' \
    '' \
    '--b1' \
    'Content-Type: text/plain; charset=utf-8' \
    'Content-Transfer-Encoding: 8bit' \
    '' \
    'Hello Bob,' \
    'J'$'\303\266''rg M'$'\303\274''ller pays 10 '$'\342\202\254''.' \
    '' \
    '--b1' \
    'Content-Type: text/plain; charset=iso-8859-1' \
    'Content-Transfer-Encoding: 8bit' \
    'Content-Disposition: attachment; filename="latin1.txt"' \
    '' \
    'Gr'$'\374\337''e aus K'$'\366''ln, '$'\347''a va '$'\340'' la plage.' \
    '--b1--' >"$T/in.eml"
grep -q $'\374' "$T/in.eml" || bail "the test message has no Latin-1 octet"

# high FILE: the number of octets >= 0x80 in FILE.
high() {
	LC_ALL=C tr -d '\000-\177' <"$1" | wc -c | tr -d ' '
}

# field NAME FILE: the first NAME field of FILE's header, unfolded.
field() {
	$PY - "$1" "$2" <<'EOF'
import re, sys
m = open(sys.argv[2], "rb").read()
head = m.split(b"\r\n\r\n", 1)[0]
f = re.search(rb"^" + sys.argv[1].encode() + rb":(.*?)\r\n(?![ \t])",
              head + b"\r\n", re.S | re.M | re.I)
sys.stdout.buffer.write((re.sub(rb"\r\n(?=[ \t])", b"", f.group(1)).strip() if f else b"") + b"\n")
EOF
}

for alg in rsa ed25519; do
	for kind in 7bit 8bit full; do
		case $kind in
		7bit) caps="ehlo PIPELINING SIZE 100000000 ENHANCEDSTATUSCODES" ;;
		8bit) caps="ehlo PIPELINING 8BITMIME SIZE 100000000 ENHANCEDSTATUSCODES" ;;
		full) caps="ehlo PIPELINING 8BITMIME SMTPUTF8 SIZE 100000000 ENHANCEDSTATUSCODES" ;;
		esac
		p="$alg, $kind"
		srv_next "$caps"
		dkim_config $alg
		"$RQ" -odq bob@example.net <"$T/in.eml" || bail "cannot queue the message"
		is "$(cat "$T"/queue/msg/* | grep -ac 'dkim-bh=relaxed:')" 1 \
		    "$p: relayq recorded the body hash of the 8-bit content at submit"
		qbh=$(cat "$T"/queue/msg/* | grep -ao 'dkim-bh=relaxed:[A-Za-z0-9+/=]*' |
		    sed 's/.*relaxed://')
		flush
		is "$RC" 0 "$p: relayed"
		got=$DIR/msg-1.eml
		[ -f "$got" ] || { ok 1 "$p: the server got the message"; continue; }
		cp "$got" "$T/got.$alg.$kind"
		is "$(grep -c '^DKIM-Signature:' "$got")" 1 "$p: one DKIM-Signature"
		is "$(head -c 15 "$got")" "DKIM-Signature:" "$p: ... at the very top"
		like "$(field DKIM-Signature "$got" | tr -d ' \t')" \
		    "^v=1;a=$([ $alg = rsa ] && echo rsa || echo ed25519)-sha256;c=relaxed/relaxed;d=example\.org;s=sel;" \
		    "$p: ... for example.org, selector sel"
		case $kind in
		7bit)
			is "$(high "$got")" 0 "$p: what arrived is 7-bit (no octet >= 0x80)"
			unlike "$(head -1 "$DIR/msg-1.env")" "BODY=8BITMIME" \
			    "$p: ... and MAIL FROM does not say BODY=8BITMIME"
			is "$(grep -aci '^Content-Transfer-Encoding: quoted-printable' "$got")" 2 \
			    "$p: both text parts went as quoted-printable"
			;;
		8bit)
			like "$(head -1 "$DIR/msg-1.env")" "BODY=8BITMIME" \
			    "$p: MAIL FROM says BODY=8BITMIME"
			is "$(grep -aci '^Content-Transfer-Encoding: 8bit' "$got")" 2 \
			    "$p: both text parts went 8-bit, as queued"
			;;
		full)
			like "$(head -1 "$DIR/msg-1.env")" "BODY=8BITMIME" \
			    "$p: MAIL FROM says BODY=8BITMIME"
			is "$(tail -c +$(( $(head -1 "$got" | wc -c) + 1 )) "$got" |
			    sed -n '/^[^ \t]/,$p' | tr -d '\r' | md5sum)" \
			    "$(tr -d '\r' <"$T/in.eml" | md5sum)" \
			    "$p: below the signature, the message as it was submitted"
			;;
		esac
		case $kind in
		full) is "$(field Subject "$got")" "$(sed -n 's/^Subject: //p' "$T/in.eml")" \
			    "$p: the Subject went as UTF-8" ;;
		*) like "$(field Subject "$got")" '^=\?[uU][tT][fF]-8\?[qQbB]\?.*\?=$' \
			    "$p: the Subject became an encoded word" ;;
		esac
		bh=$(field DKIM-Signature "$got" | tr -d ' \t' | sed -n 's/.*;bh=\([^;]*\);.*/\1/p')
		case $kind in
		7bit) ok "$([ -n "$bh" ] && [ "$bh" != "$qbh" ]; echo $?)" \
			    "$p: bh= is not the hash made at submit (the body was converted)" ;;
		*) is "$bh" "$qbh" "$p: bh= is the hash made at submit (the body went as queued)" ;;
		esac
		size=$(stat -c %s "$got")
		declared=$(sed -n 's/^MAIL .*SIZE=\([0-9]*\).*/\1/p' "$DIR/msg-1.env")
		ok "$([ "${declared:-0}" -ge "$size" ]; echo $?)" \
		    "$p: SIZE=$declared covers the $size octets that arrived, signature included"
		$CHECK compare "$T/in.eml" "$got" >"$T/cmp"
		tap_results "$T/cmp" "$p"

		is "$(dkim_py "$T/k/$alg.txt" "$got")" pass "$p: python3-dkim verifies it"
		is "$(dkim_opendkim "$T/zone.$alg" "$got")" pass \
		    "$p: opendkim-testmsg verifies it"

		# The proofs that the verifiers can fail here: one octet of
		# the (converted) text part, one of the Subject.
		sed 's/^Hello Bob,/Hello B0b,/' "$got" >"$T/tampered.eml"
		cmp -s "$got" "$T/tampered.eml" && bail "the tampering changed nothing"
		like "$(dkim_py "$T/k/$alg.txt" "$T/tampered.eml")" "^fail" \
		    "$p: a tampered body fails python3-dkim"
		like "$(dkim_opendkim "$T/zone.$alg" "$T/tampered.eml")" "^fail" \
		    "$p: ... and opendkim-testmsg"
		sed '/^Subject:/s/Bericht/Bericbt/' "$got" >"$T/tampered.eml"
		cmp -s "$got" "$T/tampered.eml" && bail "the tampering changed nothing"
		like "$(dkim_py "$T/k/$alg.txt" "$T/tampered.eml")" "^fail" \
		    "$p: a tampered Subject fails python3-dkim"
	done

	# The converted message's signature over the message as queued: the
	# body hash cannot match (it was taken over the quoted-printable).
	$PY - "$T/got.$alg.7bit" "$T/in.eml" "$T/moved.eml" <<'EOF'
import re, sys
got = open(sys.argv[1], "rb").read()
sig = re.match(rb"DKIM-Signature:.*?\r\n(?![ \t])", got, re.S).group(0)
sent = re.sub(rb"\r?\n", b"\r\n", open(sys.argv[2], "rb").read())
open(sys.argv[3], "wb").write(sig + sent)
EOF
	like "$(dkim_py "$T/k/$alg.txt" "$T/moved.eml")" "^fail: .*(body hash|bh)" \
	    "$alg: the 7-bit arrival's signature does not fit the 8-bit message as queued"
	bh7=$(field DKIM-Signature "$T/got.$alg.7bit" | tr -d ' \t' | sed -n 's/.*;bh=\([^;]*\);.*/\1/p')
	bh8=$(field DKIM-Signature "$T/got.$alg.full" | tr -d ' \t' | sed -n 's/.*;bh=\([^;]*\);.*/\1/p')
	ok "$([ -n "$bh7" ] && [ -n "$bh8" ] && [ "$bh7" != "$bh8" ]; echo $?)" \
	    "$alg: the body hashes of the 7-bit and the 8-bit arrival differ"
done

# --- simple/simple (every octet counts), and BDAT (CHUNKING) ---------------
for c in "simple/simple PIPELINING" "relaxed/relaxed PIPELINING CHUNKING"; do
	canon=${c%% *}
	srv_next "ehlo ${c#* } SIZE 100000000"
	dkim_config ed25519 "dkim_canon $canon"
	"$RQ" -odq bob@example.net <"$T/in.eml" || bail "cannot queue the message"
	flush
	is "$RC" 0 "$canon, ${c#* }: relayed"
	got=$DIR/msg-1.eml
	is "$(high "$got")" 0 "$canon, ${c#* }: what arrived is 7-bit"
	like "$(field DKIM-Signature "$got" | tr -d ' \t')" "c=$canon;" \
	    "$canon, ${c#* }: signed with c=$canon"
	is "$(dkim_py "$T/k/ed25519.txt" "$got")" pass "$canon, ${c#* }: python3-dkim verifies it"
	sed 's/^Hello Bob,/Hello B0b,/' "$got" >"$T/tampered.eml"
	like "$(dkim_py "$T/k/ed25519.txt" "$T/tampered.eml")" "^fail" \
	    "$canon, ${c#* }: a tampered copy fails"
done
like "$(cat "$DIR/conn-1.in")" "BDAT [0-9]+ LAST" "the last one went with BDAT"

done_testing
