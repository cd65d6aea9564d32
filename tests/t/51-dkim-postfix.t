#!/bin/bash
# relayq -- DKIM through a real Postfix smart host (tests/lib/postfix.sh):
# the test messages signed with RSA-2048 and Ed25519 keys made by
# certtool, relayed over STARTTLS with AUTH to Postfix, which adds its own
# Received, Return-Path and Delivered-To fields and delivers them to a
# maildir; what Postfix delivered is verified by python3-dkim, dkimverify
# and opendkim-testmsg (the key from a test DNS zone for the last two), and
# a tampered copy fails all three.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"
. "$TOP/tests/lib/postfix.sh"
. "$TOP/tests/lib/dkim.sh"

postfix_start "$T/pf" || bail "cannot start the private Postfix"
. "$T/pf/env"
dkim_keys "$T/k"
dkim_messages "$T/in"
inputs=("$T"/in/*)

for alg in rsa ed25519; do
	echo "sel._domainkey.example.org $T/k/$alg.txt" >"$T/zone.$alg"
	write_config "logfile $T/log" \
	    "account pf" "host localhost" \
	    "port $PF_PORT" "tls on" "tls_trust_file $PF_CA" "auth on" \
	    "user $PF_USER" "password $PF_PASS" "from sender@example.org" \
	    "domain client.example.org" "dkim_domain example.org" \
	    "dkim_selector sel" "dkim_key $T/k/$alg.key" \
	    "account default : pf"
	before=$(postfix_delivered "$T/pf")
	for f in "${inputs[@]}"; do
		"$RQ" -odq "$alg-$(basename "$f")@example.test" <"$f" ||
		    bail "cannot queue $f"
	done
	"$RQF"
	is "$?" 0 "$alg: ${#inputs[@]} signed messages relayed to Postfix"
	postfix_wait_delivered "$T/pf" $((before + ${#inputs[@]})) 30
	got=()
	for f in "${inputs[@]}"; do
		m=$(postfix_messages "$T/pf" "$alg-$(basename "$f")@example.test" | head -1)
		[ -n "$m" ] || bail "Postfix did not deliver $alg-$(basename "$f")"
		got+=("$m")
	done
	# (perl -0777: the pattern spans lines, which grep -E cannot.)
	sed -n '1,/^$/p' "${got[0]}" | perl -0777 -ne \
	    'exit(/^Delivered-To: .*\nReceived: from client\.example\.org .*\n(?:[ \t].*\n)*DKIM-Signature: v=1; a=/m ? 0 : 1)'
	ok $? "$alg: Postfix put its Delivered-To and Received right above our signature"
	py=$(dkim_py "$T/k/$alg.txt" "${got[@]}")
	od=$(dkim_opendkim "$T/zone.$alg" "${got[@]}")
	cli=$(dkim_cli "$T/zone.$alg" "${got[@]}")
	for i in "${!inputs[@]}"; do
		name=$(basename "${inputs[$i]}")
		v="$(sed -n "$((i + 1))p" <<<"$py" | cut -c1-4)/$(sed -n "$((i + 1))p" <<<"$od" | cut -c1-4)/$(sed -n "$((i + 1))p" <<<"$cli" | cut -c1-4)"
		is "$v" "pass/pass/pass" "$alg, $name as Postfix delivered it: python3-dkim, opendkim-testmsg and dkimverify verify it"
		[ "$v" = pass/pass/pass ] || diag "$(sed -n "$((i + 1))p" <<<"$py") | $(sed -n "$((i + 1))p" <<<"$od")"
	done
	sed 's/Hello Bob/Hello Bob!/' "${got[0]}" >"$T/tampered"
	v="$(dkim_py "$T/k/$alg.txt" "$T/tampered" | cut -c1-4)/$(dkim_opendkim "$T/zone.$alg" "$T/tampered" | cut -c1-4)/$(dkim_cli "$T/zone.$alg" "$T/tampered" | cut -c1-4)"
	is "$v" "fail/fail/fail" "$alg: a tampered body fails all three"
done
like "$(postfix_log "$T/pf")" "sasl_method=[A-Z0-9-]+, sasl_username=$PF_USER" \
    "the messages went in over AUTH"

done_testing
