#!/bin/bash
# relayq -- interoperability with a real Postfix smart host (tests/lib/
# postfix.sh): STARTTLS + AUTH on the submission port and implicit TLS,
# per-recipient outcomes from Postfix's own 550 and 450, every message
# delivered exactly once, --check against the real server.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/postfix.sh"

postfix_start "$T/pf" || bail "cannot start the private Postfix"
. "$T/pf/env"

json() {
	"$RQ" -bp --json | python3 -c "import json,sys; q=json.load(sys.stdin); print($1)"
}

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
like "$(cat "$f")" $'\n\\.dot line\n' "a dot line arrives intact"
like "$(cat "$T/log")" 'to=<tls465@example.test> relay=localhost\[127\.0\.0\.1\]:'"$PF_TLS_PORT"' tls=TLS1\.[23] status=sent' \
    "implicit TLS on the second port"

"$RQF" --all
"$RQF" --all
is "$(postfix_delivered "$T/pf")" 22 "retries never send an accepted recipient again"

"$RQF" --check >"$T/check" 2>&1
is "$?" 0 "--check: ok against Postfix"
like "$(cat "$T/check")" 'verification: ok' "--check shows the verification"
like "$(cat "$T/check")" 'authentication: ok' "--check shows AUTH works"

done_testing
