#!/bin/bash
# relayq -- certificate verification, over STARTTLS and implicit TLS: a
# self-signed certificate, an expired one, one for another host and one
# from an unknown CA are refused (deferred, the reason logged), and the
# client sends nothing but EHLO and STARTTLS (no AUTH, no MAIL, not even
# over the refused TLS session); the good chain with tls_trust_file is
# delivered; tls_fingerprint pins a certificate (right pin: delivered even
# self-signed; wrong pin: deferred); tls_certcheck off delivers, loudly.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"

SRV=$TOP/tests/smtpd/rq-testsmtpd
[ -x "$SRV" ] || bail "tests/smtpd/rq-testsmtpd is not built (make tests)"
command -v certtool >/dev/null || bail "certtool is missing (gnutls-bin)"

# --- the certificates ---------------------------------------------------------
pki=$T/pki
mkdir -p "$pki"
leaf='tls_www_server\nencryption_key\nsigning_key\n'
# cert NAME TEMPLATE [CA]: NAME.key and NAME.pem, signed by CA (else self).
cert() {
	local name=$1 tmpl=$2 ca=${3:-}
	printf "$tmpl" >"$pki/$name.tmpl"
	certtool --generate-privkey --key-type=ecdsa \
	    --outfile "$pki/$name.key" >/dev/null 2>&1 || return 1
	if [ -z "$ca" ]; then
		certtool --generate-self-signed --load-privkey "$pki/$name.key" \
		    --template "$pki/$name.tmpl" --outfile "$pki/$name.pem"
	else
		certtool --generate-certificate --load-privkey "$pki/$name.key" \
		    --load-ca-certificate "$pki/$ca.pem" \
		    --load-ca-privkey "$pki/$ca.key" \
		    --template "$pki/$name.tmpl" --outfile "$pki/$name.pem"
	fi >/dev/null 2>&1
}
{
	cert ca 'cn = "relayq test CA"\nca\ncert_signing_key\nexpiration_days = 30\n' &&
	cert other 'cn = "some other CA"\nca\ncert_signing_key\nexpiration_days = 30\n' &&
	cert good "cn = \"localhost\"\ndns_name = \"localhost\"\n${leaf}expiration_days = 30\n" ca &&
	cert self "cn = \"localhost\"\ndns_name = \"localhost\"\n${leaf}expiration_days = 30\n" &&
	cert expired "cn = \"localhost\"\ndns_name = \"localhost\"\n${leaf}activation_date = \"2020-01-01 00:00:00 UTC\"\nexpiration_date = \"2021-01-01 00:00:00 UTC\"\n" ca &&
	cert wronghost "cn = \"mail.example.com\"\ndns_name = \"mail.example.com\"\n${leaf}expiration_days = 30\n" ca &&
	cert unknownca "cn = \"localhost\"\ndns_name = \"localhost\"\n${leaf}expiration_days = 30\n" other
} || bail "certtool failed"

# pin NAME: the SHA-256 fingerprint of NAME.pem as AA:BB:...
pin() {
	certtool --fingerprint --hash sha256 --infile "$pki/$1.pem" 2>/dev/null |
	    tr 'a-f' 'A-F' | sed 's/../&:/g; s/:$//'
}
[ "$(pin good | wc -c)" -eq 96 ] || bail "cannot compute a fingerprint"

n=0
# server CERT MODE: a test server with CERT, MODE starttls or implicit;
# sets DIR, PORT.
server() {
	local i
	n=$((n + 1))
	DIR=$T/srv$n
	mkdir -p "$DIR"
	{
		echo "tls cert=$pki/$1.pem key=$pki/$1.key"
		echo "user alice s3cret-Pa55"
		[ "$2" = implicit ] && echo "implicit-tls"
	} >"$DIR.script"
	"$SRV" -o "$DIR" -s "$DIR.script" -t 120 2>"$DIR.stderr" &
	at_exit "kill $! 2>/dev/null"
	for i in $(seq 1 200); do
		[ -s "$DIR/port" ] && break
		sleep 0.05
	done
	[ -s "$DIR/port" ] || bail "the test server did not start: $(cat "$DIR.stderr")"
	PORT=$(cat "$DIR/port")
}

# config MODE [EXTRA KEYS...]: a fresh queue, TLS and AUTH on $PORT.
config() {
	local starttls=on
	[ "$1" = implicit ] && starttls=off
	shift
	rm -rf "$T/queue" "$T/log"
	write_config "logfile $T/log" "account t" "host localhost" \
	    "port $PORT" "tls on" "tls_starttls $starttls" "auth on" \
	    "user alice" "password s3cret-Pa55" "from sender@example.org" \
	    "domain client.example.org" "$@" "account default : t"
}

flush() {	# flush ARGS...: sets RC, ERR
	"$RQF" "$@" >"$T/.out" 2>"$T/.err"
	RC=$?
	ERR=$(cat "$T/.err")
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
	like "$(cat "$T/log")" 'tls=TLS1\.[23] status=sent' "$name ($mode): over TLS 1.2 or later"
	like "$(cat "$DIR/conn-1.info")" "tls=$mode" "$name ($mode): the server saw $mode TLS"
	if [ "$mode" = starttls ]; then
		unlike "$(cat "$DIR/conn-1.in.plain")" 'AUTH|MAIL' \
		    "$name ($mode): no AUTH or MAIL before the handshake"
		like "$(cat "$DIR/conn-1.in.tls")" 'AUTH PLAIN' "$name ($mode): AUTH inside TLS"
	fi
}

for mode in starttls implicit; do
	trust="tls_trust_file $pki/ca.pem"
	delivered "the good chain with tls_trust_file" good "$mode" "$trust"
	refused "self-signed" self "$mode" 'self-signed' "$trust"
	refused "expired" expired "$mode" 'expired' "$trust"
	refused "wrong host" wronghost "$mode" 'not for localhost' "$trust"
	refused "unknown CA" unknownca "$mode" 'signer is unknown' "$trust"
	refused "the system trust store" good "$mode" 'signer is unknown'

	delivered "right pin, self-signed" self "$mode" "tls_fingerprint $(pin self)"
	refused "wrong pin" self "$mode" 'fingerprint does not match' \
	    "tls_fingerprint $(pin good)"
	refused "wrong pin, chain valid" good "$mode" 'fingerprint does not match' \
	    "$trust" "tls_fingerprint $(pin self)"

	# Said with -v and by --check; a plain run's log line does not say
	# that nothing was verified (see doc/testing.md).
	FLUSH_ARGS=-v delivered "tls_certcheck off" self "$mode" "tls_certcheck off"
	like "$ERR" 'warning: .*tls_certcheck: certificate checks are off' \
	    "tls_certcheck off ($mode): -v warns on standard error"
	"$RQF" --check >"$T/check" 2>&1
	like "$(cat "$T/check")" 'verification: FAILED: self-signed certificate \(ignored because tls_certcheck is off\)' \
	    "tls_certcheck off ($mode): --check says the check failed and was ignored"
done

done_testing
