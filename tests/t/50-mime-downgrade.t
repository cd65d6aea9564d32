#!/bin/bash
# relayq -- every message arrives intact on every path (issue 8): a corpus
# of real-world MIME shapes (tests/lib/mimecheck.py gen) is submitted and
# relayed to a server that offers 8BITMIME and SMTPUTF8, one that offers
# 8BITMIME only, and one that offers neither; what arrives is compared
# with what was submitted by Python's email package (same parts, same
# decoded bodies, the same header fields after unfolding and RFC 2047 /
# RFC 2231 decoding), every file ripmime takes out of what arrived is a
# part that was sent (as Python decodes it), and the
# wire rules hold: no line over 998 octets, no bare CR, LF or NUL, and,
# without 8BITMIME, no 8-bit octet (without SMTPUTF8, an ASCII header).
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"

PY=/usr/bin/python3
CHECK="$PY $TOP/tests/lib/mimecheck.py"
$PY -c 'import email' 2>/dev/null || bail "Debian's python3 with the email package is needed"
# munpack is not used: its quoted-printable decoder mangles soft line
# breaks in CRLF files ("abc=\r\ndef" comes out as "abc\377def").
command -v ripmime >/dev/null || bail "ripmime is missing: run scripts/deps"

$CHECK gen "$T/corpus" || bail "cannot generate the corpus"
names=$(cd "$T/corpus" && ls | sed 's/\.eml$//')
n=$(echo "$names" | wc -w)

for kind in full 8bit 7bit; do
	case $kind in
	full) caps="ehlo PIPELINING 8BITMIME SMTPUTF8 SIZE 100000000 ENHANCEDSTATUSCODES"; mode= ;;
	8bit) caps="ehlo PIPELINING 8BITMIME SIZE 100000000 ENHANCEDSTATUSCODES"; mode=ascii-headers ;;
	7bit) caps="ehlo PIPELINING SIZE 100000000 ENHANCEDSTATUSCODES"; mode=7bit ;;
	esac
	srv_next "$caps"
	rm -rf "$T/queue" "$T/log"
	flush_config "connections 1"
	for name in $names; do
		"$RQ" -odq -i "$name@example.net" <"$T/corpus/$name.eml" ||
		    diag "$kind: $name was refused at submission"
	done
	is "$(json 'len(q)')" "$n" "$kind: all $n corpus messages are queued"
	flush
	is "$RC" 0 "$kind: relayq-flush delivered them all"
	is "$(ls "$DIR"/msg-*.eml 2>/dev/null | wc -l | tr -d ' ')" "$n" \
	    "$kind: the server got $n messages"
	for got in "$DIR"/msg-*.eml; do
		name=$(sed -n 's/^X-Corpus: //p' "$got" | tr -d '\r' | head -1)
		sent=$T/corpus/$name.eml
		[ -f "$sent" ] || { ok 1 "$kind: $got has a known X-Corpus"; continue; }
		$CHECK compare "$sent" "$got" >"$T/cmp"
		tap_results "$T/cmp" "$kind $name"
		$CHECK wire "$got" $mode >"$T/wire"
		tap_results "$T/wire" "$kind $name wire"
		# SIZE= is an upper bound of what arrived.
		m=${got##*/msg-}
		m=${m%.eml}
		declared=$(sed -n 's/^MAIL .*SIZE=\([0-9]*\).*/\1/p' "$DIR/msg-$m.env")
		ok "$([ "${declared:-0}" -ge "$(stat -c %s "$got")" ]; echo $?)" \
		    "$kind $name: SIZE=$declared covers the $(stat -c %s "$got") octets that arrived"
		rm -rf "$T/rip"
		mkdir -p "$T/rip"
		ripmime -i "$got" -d "$T/rip" >/dev/null 2>&1 ||
		    ok 1 "$kind $name: ripmime reads what arrived"
		$CHECK ripmime "$sent" "$T/rip" >"$T/rip.out"
		tap_results "$T/rip.out" "$kind $name"
	done
done

done_testing
