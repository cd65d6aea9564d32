#!/bin/bash
# relayq -- interoperability with a real Postfix smart host (tests/lib/
# postfix.sh): STARTTLS + AUTH on the submission port and implicit TLS,
# per-recipient outcomes from Postfix's own 550 and 450, every message
# delivered exactly once, AUTH with each mechanism Cyrus SASL offers, 100
# messages over reused connections arriving as they were submitted,
# --check against the real server.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"
. "$TOP/tests/lib/postfix.sh"

postfix_start "$T/pf" || bail "cannot start the private Postfix"
. "$T/pf/env"

write_config "logfile $T/log" \
    "account pf" "host localhost" \
    "port $PF_PORT" "tls on" "tls_trust_file $PF_CA" "auth on" \
    "user $PF_USER" "password $PF_PASS" "from sender@example.org" \
    "domain client.example.org" \
    "account pftls : pf" "port $PF_TLS_PORT" "tls_starttls off" \
    "account default : pf"

for i in $(seq 1 20); do
	printf 'Subject: pf %d\n\n.dot line\nbody %d\n' "$i" "$i" |
	    "$RQ" -odq "user$i@example.test"
done
printf 'Subject: mixed\n\nbody\n' |
    "$RQ" -odq good@example.test reject@example.test defer@example.test
printf 'Subject: implicit\n\nbody\n' | "$RQ" -odq -a pftls tls465@example.test

"$RQF"
is "$?" 75 "one recipient deferred by Postfix: exit 75"
postfix_wait_delivered "$T/pf" 22 30
is "$(postfix_delivered "$T/pf")" 22 \
    "22 deliveries: 20 messages, the good recipient, the implicit-TLS one"
is "$(json 'len(q)')" 1 "only the message with the deferred recipient stays"
is "$(json '" ".join(r["status"] for r in q[0]["recipients"])')" \
    "sent failed deferred" "Postfix's 250, 550 and 450 per recipient"
f=$(postfix_messages "$T/pf" user7@example.test | head -1)
is "$(grep -c '^\.dot line$' "$f")" 1 "a dot line arrives intact"
like "$(cat "$T/log")" 'to=<tls465@example.test> relay=localhost\[127\.0\.0\.1\]:'"$PF_TLS_PORT"' tls=TLS1\.[23] status=sent' \
    "implicit TLS on the second port"

"$RQF" --all
"$RQF" --all
is "$(postfix_delivered "$T/pf")" 22 "retries never send an accepted recipient again"

# --- AUTH with each mechanism, named in the configuration -------------------
for mech in PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256; do
	lc=$(echo "$mech" | tr 'A-Z' 'a-z')
	write_config "logfile $T/log" "account pf" "host localhost" \
	    "port $PF_PORT" "tls on" "tls_trust_file $PF_CA" "auth $lc" \
	    "user $PF_USER" "password $PF_PASS" "from sender@example.org" \
	    "domain client.example.org"
	printf 'Subject: auth %s\n\nbody\n' "$mech" | "$RQ" -odq "auth-$lc@example.test"
	"$RQF"
	is "$?" 0 "AUTH $mech against Postfix's Cyrus SASL: delivered"
	like "$(postfix_log "$T/pf")" "sasl_method=$mech, sasl_username=$PF_USER" \
	    "... and Postfix logged sasl_method=$mech"
done

# --- 100 messages over reused connections, compared with what was submitted -
write_config "logfile $T/log" "account pf" "host localhost" \
    "port $PF_PORT" "tls on" "tls_trust_file $PF_CA" "auth on" \
    "user $PF_USER" "password $PF_PASS" "from sender@example.org" \
    "domain client.example.org" "connections 4"
mkdir -p "$T/sent"
for i in $(seq 1 100); do
	{
		printf 'Subject: batch %03d\nX-Batch: %d\n\n' "$i" "$i"
		printf 'line one of %d\n.starts with a dot\n..two dots\n' "$i"
		printf 'utf-8: J\303\266rg M\303\274ller \342\202\254 %d\n' "$i"
		printf '\n\ttab and trailing space \nlast line %d\n' "$i"
	} >"$T/sent/$i"
	"$RQ" -odq "batch$i@example.test" <"$T/sent/$i" || bail "cannot queue"
done
before=$(postfix_delivered "$T/pf")
connects=$(postfix_log "$T/pf" | grep -c 'smtpd.*: connect from')
"$RQF"
is "$?" 0 "100 messages: the flush succeeds"
postfix_wait_delivered "$T/pf" $((before + 100)) 60
is "$(( $(postfix_delivered "$T/pf") - before ))" 100 "all 100 delivered, each once"
used=$(( $(postfix_log "$T/pf" | grep -c 'smtpd.*: connect from') - connects ))
ok "$([ "$used" -ge 1 ] && [ "$used" -le 4 ]; echo $?)" "over at most 4 reused connections ($used)"
# Which file holds which recipient's copy (one pass over the maildir).
declare -A copy
while IFS= read -r f; do
	to=$(sed -n 's/^Delivered-To: //p;/^$/q' "$f" | tr -d '\r' | tr 'A-Z' 'a-z')
	copy[$to]=$f
done < <(postfix_messages "$T/pf")
bad=0
for i in $(seq 1 100); do
	f=${copy[batch$i@example.test]:-}
	# The body as delivered (maildir: LF line ends) is the body submitted.
	if [ -z "$f" ] || ! cmp -s <(sed '1,/^$/d' "$f") <(sed '1,/^$/d' "$T/sent/$i") ||
	    [ "$(grep -c "^Subject: batch $(printf %03d "$i")\$" "$f")" != 1 ] ||
	    [ "$(grep -c "^X-Batch: $i\$" "$f")" != 1 ] ||
	    [ "$(grep -c '^Message-ID: <' "$f")" != 1 ]; then
		bad=$((bad + 1))
		[ "$bad" -le 3 ] && diag "batch $i differs: $(diff <(sed '1,/^$/d' "$f") <(sed '1,/^$/d' "$T/sent/$i") | head -5)"
	fi
done
is "$bad" 0 "every received message equals the submitted one (body byte for byte, headers kept, Message-ID added)"

"$RQF" --check >"$T/check" 2>&1
is "$?" 0 "--check: ok against Postfix"
like "$(cat "$T/check")" 'verification: ok' "--check shows the verification"
like "$(cat "$T/check")" 'authentication: ok' "--check shows AUTH works"

done_testing
