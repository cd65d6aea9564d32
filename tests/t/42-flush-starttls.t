#!/bin/bash
# relayq -- STARTTLS and AUTH as the security rules say: STARTTLS missing,
# refused, or followed by injected bytes -> deferred with nothing but QUIT
# in the clear; AUTH never before TLS; an unknown certificate -> deferred;
# a wrong password -> deferred, said loudly, never a bounce; -v never
# shows the credentials.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"

SRV=$TOP/tests/smtpd/rq-testsmtpd
[ -x "$SRV" ] || bail "tests/smtpd/rq-testsmtpd is not built (make tests)"
command -v certtool >/dev/null || bail "certtool is missing (gnutls-bin)"

# A CA and a server certificate for localhost.
pki=$T/pki
mkdir -p "$pki"
printf 'cn = "relayq test CA"\nca\ncert_signing_key\nexpiration_days = 30\n' >"$pki/ca.tmpl"
printf 'cn = "localhost"\ndns_name = "localhost"\ntls_www_server\nencryption_key\nsigning_key\nexpiration_days = 30\n' >"$pki/srv.tmpl"
{
	certtool --generate-privkey --key-type=ecdsa --outfile "$pki/ca.key" &&
	certtool --generate-self-signed --load-privkey "$pki/ca.key" \
	    --template "$pki/ca.tmpl" --outfile "$pki/ca.pem" &&
	certtool --generate-privkey --key-type=ecdsa --outfile "$pki/srv.key" &&
	certtool --generate-certificate --load-privkey "$pki/srv.key" \
	    --load-ca-certificate "$pki/ca.pem" --load-ca-privkey "$pki/ca.key" \
	    --template "$pki/srv.tmpl" --outfile "$pki/srv.pem"
} >/dev/null 2>&1 || bail "certtool failed"

n=0
# server SCRIPT-LINES...: a fresh test server with TLS; sets PORT, DIR.
server() {
	local i
	n=$((n + 1))
	DIR=$T/srv$n
	mkdir -p "$DIR"
	{
		echo "tls cert=$pki/srv.pem key=$pki/srv.key"
		echo "user alice s3cret-Pa55"
		printf '%s\n' "$@"
	} >"$DIR.script"
	"$SRV" -o "$DIR" -s "$DIR.script" -t 60 &
	at_exit "kill $! 2>/dev/null"
	for i in $(seq 1 100); do
		[ -s "$DIR/port" ] && break
		sleep 0.05
	done
	PORT=$(cat "$DIR/port")
}

config() {	# config [EXTRA KEYS...]
	write_config "logfile $T/log" "account t" "host localhost" \
	    "port $PORT" "tls on" "tls_starttls on" \
	    "tls_trust_file $pki/ca.pem" "auth on" "user alice" \
	    "password s3cret-Pa55" "from sender@example.org" "$@" \
	    "account default : t"
}

flush() {	# flush ARGS...: sets RC, ERR
	"$RQF" "$@" >"$T/.out" 2>"$T/.err"
	RC=$?
	ERR=$(cat "$T/.err")
}

submit() {
	printf 'Subject: s\n\nbody\n' | "$RQ" -odq rcpt@example.net
}

plain_ok="ehlo PIPELINING STARTTLS AUTH PLAIN LOGIN"
tls_ok="ehlo-tls PIPELINING 8BITMIME AUTH PLAIN LOGIN"

# deferred_clean WHAT: the message stayed, and the clear text carried
# nothing but EHLO, STARTTLS and QUIT.
deferred_clean() {
	is "$RC" 75 "$1: exit 75"
	is "$(queued)" 1 "$1: the message stays queued"
	unlike "$(cat "$DIR"/conn-*.in 2>/dev/null)" 'AUTH|MAIL|RCPT|DATA' \
	    "$1: no AUTH, MAIL, RCPT or DATA on the wire"
}

# --- STARTTLS not offered ------------------------------------------------------
server "ehlo PIPELINING AUTH PLAIN LOGIN" "$tls_ok"
config
submit
flush
deferred_clean "STARTTLS not offered"
like "$(cat "$T/log")" 'does not offer STARTTLS' "the log says STARTTLS is missing"

# --- STARTTLS refused ------------------------------------------------------------
server "$plain_ok" "$tls_ok" "reply STARTTLS 454 4.7.0 TLS not available"
config
flush --all
deferred_clean "STARTTLS refused"
like "$(tail -2 "$T/log")" 'rejected STARTTLS: 454' "the log has the 454"

# --- response injection after the 220 --------------------------------------------
server "$plain_ok" "$tls_ok" \
    'raw STARTTLS "220 Ready\r\n250-injected\r\n250 AUTH PLAIN\r\n"'
config
flush --all
deferred_clean "response injection"
like "$(tail -2 "$T/log")" 'injection' "the log names the injection"

# --- an unknown certificate ----------------------------------------------------
server "$plain_ok" "$tls_ok"
config
sed -i "s|^tls_trust_file .*|tls_trust_file system|" "$T/config"
flush --all
is "$RC" 75 "unknown CA: exit 75"
is "$(queued)" 1 "unknown CA: the message stays queued"
unlike "$(cat "$DIR"/conn-*.in 2>/dev/null)" 'AUTH|MAIL' \
    "unknown CA: no AUTH or MAIL sent"

# --- a wrong password: deferred, loudly, never a bounce ---------------------------
server "$plain_ok" "$tls_ok"
config
sed -i "s|^password .*|password wrong|" "$T/config"
flush --all
is "$RC" 75 "wrong password: exit 75 (deferred)"
like "$ERR" 'authentication failed at localhost: 535' \
    "wrong password: said on standard error"
is "$(queued)" 1 "wrong password: the message stays, no bounce"
unlike "$(cat "$DIR"/conn-*.in)" 'MAIL FROM' "wrong password: no MAIL"

# --- the good path, with -v ------------------------------------------------------
server "$plain_ok" "$tls_ok"
config
flush --all -v
is "$RC" 0 "STARTTLS + AUTH: delivered"
is "$(queued)" 0 "STARTTLS + AUTH: removed from the queue"
unlike "$(cat "$DIR"/conn-1.in.plain)" 'AUTH|MAIL' \
    "before TLS: no AUTH and no MAIL"
like "$(cat "$DIR"/conn-1.in.plain)" 'STARTTLS' "STARTTLS was sent in the clear"
like "$ERR" 'AUTH PLAIN \*\*\*\*' "-v: the AUTH line is redacted"
b64=$(printf '\0alice\0s3cret-Pa55' | base64)
unlike "$ERR" "s3cret|$b64" "-v: neither the password nor its base64"
like "$(cat "$T/log")" 'tls=TLS1\.[23] status=sent' "the log has the TLS version"

done_testing
