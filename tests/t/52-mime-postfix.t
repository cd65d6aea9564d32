#!/bin/bash
# relayq -- the downgrade against a real Postfix that hides 8BITMIME and
# SMTPUTF8 (smtpd_discard_ehlo_keywords): the corpus of
# tests/lib/mimecheck.py is relayed; what Postfix delivers is 7-bit, keeps
# the wire rules, and says what was submitted (Python's email package).
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"
. "$TOP/tests/lib/postfix.sh"

PY=/usr/bin/python3
CHECK="$PY $TOP/tests/lib/mimecheck.py"

postfix_start "$T/pf" "smtpd_discard_ehlo_keywords=8bitmime,smtputf8" ||
    bail "cannot start the private Postfix"
. "$T/pf/env"

write_config "logfile $T/log" "account pf" "host localhost" \
    "port $PF_PORT" "tls on" "tls_trust_file $PF_CA" "auth on" \
    "user $PF_USER" "password $PF_PASS" "from sender@example.org" \
    "domain client.example.org" "connections 2" "account default : pf"

$CHECK gen "$T/corpus" || bail "cannot generate the corpus"
names=$(cd "$T/corpus" && ls | sed 's/\.eml$//')
n=$(echo "$names" | wc -w)
for name in $names; do
	"$RQ" -odq -i "$name@example.test" <"$T/corpus/$name.eml" ||
	    bail "$name was refused at submission"
done
"$RQF" -v >"$T/flush.out" 2>&1
is "$?" 0 "relayq-flush delivered the $n corpus messages to Postfix"
unlike "$(grep -- '--> MAIL' "$T/flush.out")" 'BODY=8BITMIME|SMTPUTF8' \
    "Postfix hid 8BITMIME and SMTPUTF8: no BODY=8BITMIME, no SMTPUTF8 sent"
postfix_wait_delivered "$T/pf" "$n" 60 || diag "$(tail -5 "$T/pf/maillog")"
for name in $names; do
	f=$(postfix_messages "$T/pf" "$name@example.test" | head -1)
	if [ -z "$f" ]; then
		ok 1 "$name: delivered by Postfix"
		continue
	fi
	# The maildir copy has LF line ends and Postfix's own fields on top.
	$PY -c 'import re,sys; d=open(sys.argv[1],"rb").read(); open(sys.argv[2],"wb").write(re.sub(rb"\r?\n", b"\r\n", d))' \
	    "$f" "$T/got.eml"
	$CHECK compare "$T/corpus/$name.eml" "$T/got.eml" >"$T/cmp"
	$CHECK wire "$T/got.eml" 7bit >>"$T/cmp"
	while read -r st rest; do
		[ "$st" = PASS ]
		ok $? "postfix $name: $rest"
	done <"$T/cmp"
done

done_testing
