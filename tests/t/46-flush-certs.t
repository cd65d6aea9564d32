#!/bin/bash
# relayq -- certificate verification, over STARTTLS and implicit TLS: a
# self-signed certificate, an expired one, one for another host and one
# from an unknown CA are refused (deferred, the reason logged), and the
# client sends nothing but EHLO and STARTTLS (no AUTH, no MAIL, not even
# over the refused TLS session); the good chain with tls_trust_file is
# delivered; tls_fingerprint pins a certificate (right pin: delivered even
# self-signed; wrong pin: deferred); tls_certcheck off delivers, loudly; a
# server with TLS 1.1 at most is refused; an address literal is checked
# against the certificate's IP addresses (and sent without SNI);
# tls_host_override; SNI; TLS sessions resumed across the connections of
# one flush.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"

# --- the certificates (tests/lib/certs.sh) ----------------------------------
# server (localhost, by the test CA), selfsigned, expired (2021), wronghost
# (wrong.example), unknownca (localhost, by a CA nobody trusts), with
# server.fp and selfsigned.fp, the SHA-256 pins.
flush_certs
pin() {	# pin NAME: the SHA-256 fingerprint of NAME.pem as AA:BB:...
	cat "$PKI/$1.fp"
}
# The pins are checked here against an independent computation, so that a
# wrong .fp file cannot make "wrong pin" pass for the wrong reason.
for c in server selfsigned; do
	want=$(certtool --fingerprint --hash sha256 --infile "$PKI/$c.pem" \
	    2>/dev/null | tr a-f A-F | sed 's/../&:/g; s/:$//')
	[ "$(pin "$c")" = "$want" ] || bail "$c.fp is not the SHA-256 of $c.pem"
done

# server CERT MODE: a test server with CERT, MODE starttls or implicit;
# sets DIR, PORT.
server() {
	if [ "$2" = implicit ]; then
		srv_tls "$1" implicit-tls
	else
		srv_tls "$1"
	fi
}

# config MODE [EXTRA KEYS...]: a fresh queue, TLS and AUTH on $PORT.
config() {
	rm -rf "$T/queue" "$T/log"
	flush_config_tls "$@"
}

submit() {
	printf 'Subject: certs\n\nbody\n' | "$RQ" -odq rcpt@example.net ||
	    bail "cannot queue"
}

# clear_only MODE: 0 when the client sent nothing but EHLO and STARTTLS
# (and QUIT), and nothing at all inside a refused implicit TLS session.
clear_only() {
	local got
	got=$(tr -d '\r' <"$DIR/conn-1.in" | grep -v '^QUIT$')
	if [ "$1" = implicit ]; then
		[ -z "$got" ]
	else
		[ "$got" = "$(printf 'EHLO client.example.org\nSTARTTLS')" ]
	fi
}

# refused NAME CERT MODE REASON [EXTRA KEYS...]
refused() {
	local name=$1 crt=$2 mode=$3 reason=$4
	shift 4
	server "$crt" "$mode"
	config "$mode" "$@"
	submit
	flush
	is "$RC" 75 "$name ($mode): deferred, exit 75"
	is "$(queued)" 1 "$name ($mode): the message stays queued"
	like "$(cat "$T/log")" "status=deferred reply=\"[^\"]*$reason" \
	    "$name ($mode): the log says: $reason"
	clear_only "$mode"
	ok $? "$name ($mode): only EHLO/STARTTLS on the wire ($(tr -d '\r' <"$DIR/conn-1.in" | tr '\n' ' '))"
	unlike "$(cat "$DIR/conn-1.in")" 'AUTH|MAIL' "$name ($mode): no AUTH, no MAIL"
	unlike "$(cat "$DIR/conn-1.info")" '^messages=[1-9]' "$name ($mode): nothing received"
}

# delivered NAME CERT MODE [EXTRA KEYS...]
delivered() {
	local name=$1 crt=$2 mode=$3
	shift 3
	server "$crt" "$mode"
	config "$mode" "$@"
	submit
	flush ${FLUSH_ARGS:-}
	is "$RC.$(queued)" 0.0 "$name ($mode): delivered"
	like "$(cat "$T/log")" 'tls=TLS1\.[23](,unverified)? status=sent' "$name ($mode): over TLS 1.2 or later"
	like "$(cat "$DIR/conn-1.info")" "tls=$mode" "$name ($mode): the server saw $mode TLS"
	# SNI: the name verified (tls_host_override, else the host), never
	# an address.
	local sni=${HOST:-localhost}
	case "$*" in *tls_host_override*) sni=wrong.example ;; esac
	case $sni in *[!0-9.]*) ;; *) sni= ;; esac
	is "$(sed -n 's/^sni=//p' "$DIR/conn-1.info")" "$sni" \
	    "$name ($mode): SNI '$sni'"
	if [ "$mode" = starttls ]; then
		unlike "$(cat "$DIR/conn-1.in.plain")" 'AUTH|MAIL' \
		    "$name ($mode): no AUTH or MAIL before the handshake"
		like "$(cat "$DIR/conn-1.in.tls")" 'AUTH PLAIN' "$name ($mode): AUTH inside TLS"
	fi
}

for mode in starttls implicit; do
	trust="tls_trust_file $PKI/ca.pem"
	delivered "the good chain with tls_trust_file" server "$mode" "$trust"
	refused "self-signed" selfsigned "$mode" 'self-signed' "$trust"
	refused "expired" expired "$mode" 'expired' "$trust"
	refused "wrong host" wronghost "$mode" 'not for localhost' "$trust"
	refused "unknown CA" unknownca "$mode" 'signer is unknown' "$trust"
	refused "the system trust store" server "$mode" 'signer is unknown'

	delivered "right pin, self-signed" selfsigned "$mode" \
	    "tls_fingerprint $(pin selfsigned)"
	refused "wrong pin" selfsigned "$mode" 'fingerprint does not match' \
	    "tls_fingerprint $(pin server)"
	refused "wrong pin, chain valid" server "$mode" \
	    'fingerprint does not match' "$trust" "tls_fingerprint $(pin selfsigned)"

	# Said with -v, by --check, and on every log line.
	FLUSH_ARGS=-v delivered "tls_certcheck off" selfsigned "$mode" \
	    "tls_certcheck off"
	like "$(tail -1 "$T/log")" 'tls=TLS1\.[23],unverified status=sent' \
	    "tls_certcheck off ($mode): the log line says it was not verified"
	like "$ERR" 'warning: .*tls_certcheck: certificate checks are off' \
	    "tls_certcheck off ($mode): -v warns on standard error"
	"$RQF" --check >"$T/check" 2>&1
	like "$(cat "$T/check")" 'verification: FAILED: self-signed certificate \(ignored because tls_certcheck is off\)' \
	    "tls_certcheck off ($mode): --check says the check failed and was ignored"

	# Session resumption across the connections of one flush: three
	# sessions (one message each), the second and third resumed, each
	# still authenticating inside TLS.
	server server "$mode"
	config "$mode" "$trust" "connections 1" "max_messages_per_connection 1"
	for i in 1 2 3; do
		printf 'Subject: r%d\n\nbody\n' "$i" | "$RQ" -odq "r$i@example.net"
	done
	flush
	is "$RC.$(queued)" 0.0 "resumption ($mode): three messages delivered"
	is "$(for i in 1 2 3; do sed -n 's/^tls_resumed=//p' "$DIR/conn-$i.info"; done | tr '\n' ' ')" \
	    "no yes yes " "resumption ($mode): sessions 2 and 3 resumed the first"
	is "$(cat "$DIR"/conn-*.in.tls | grep -c '^AUTH PLAIN')" 3 \
	    "resumption ($mode): AUTH in each session, inside TLS"

	# ... and across the workers of one flush: four connections at
	# once, the first made before the others fork, each of the others
	# resumes it (one full handshake per flush, not per worker).
	server server "$mode"
	config "$mode" "$trust" "connections 4"
	for i in 1 2 3 4 5 6 7 8; do
		printf 'Subject: w%d\n\nbody\n' "$i" | "$RQ" -odq "w$i@example.net"
	done
	flush
	is "$RC.$(queued)" 0.0 "resumption across workers ($mode): eight messages delivered"
	is "$(for i in 1 2 3 4; do sed -n 's/^tls_resumed=//p' "$DIR/conn-$i.info"; done | sort | tr '\n' ' ')" \
	    "no yes yes yes " "resumption across workers ($mode): one full handshake, three resumed"

	# TLS 1.0 and 1.1 are refused (RFC 8996), whatever the certificate.
	SRV_TLS="priority=NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0" \
	    refused "a server with TLS 1.1 at most" server "$mode" \
	    'handshake failed|TLS ?1\.[01]' "$trust"

	# An address literal is verified against the certificate's IP
	# addresses; tls_host_override names the certificate to expect.
	HOST=127.0.0.1 delivered "host 127.0.0.1, IP in the certificate" \
	    server "$mode" "$trust"
	HOST=127.0.0.1 refused "host 127.0.0.1, no IP in the certificate" \
	    wronghost "$mode" 'not for 127\.0\.0\.1' "$trust"
	HOST=127.0.0.1 delivered "tls_host_override" wronghost "$mode" \
	    "$trust" "tls_host_override wrong.example"
done

done_testing
