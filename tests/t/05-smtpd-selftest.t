#!/bin/bash
# relayq -- the test SMTP server itself works: scripted and default replies,
# per-occurrence and per-session rules, recording (byte-exact transcripts,
# messages, envelopes), DATA un-stuffing, BDAT, disconnects, hostile replies,
# delays, STARTTLS (and the injection case), implicit TLS, client
# certificates, every AUTH mechanism, limits, and clean exits.  Every other
# flush test trusts this server; this file is why.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
RQ_TOP=$TOP
RQ_TMP=$T
. "$TOP/tests/lib/smtpd.sh"

[ -x "$SMTPD_BIN" ] || bail "tests/smtpd/rq-testsmtpd is not built (make tests)"
for tool in swaks gnutls-cli certtool msmtp gsasl timeout; do
	command -v $tool >/dev/null || bail "$tool is missing (scripts/deps)"
done
CERTS=$T/certs
"$TOP/tests/lib/certs.sh" "$CERTS" >/dev/null || bail "certs.sh failed"
at_exit smtpd_stop

# new_server: a fresh output directory for the next smtpd_start.
new_server() {
	smtpd_stop
	SMTPD_DIR=$T/srv$1
}

# chat BYTES [SECS]: connect, send BYTES (printf escapes: \r \n \0NNN) in one
# write, keep reading until the server closes (or SECS, default 15); the
# replies go to $T/reply.
chat() {
	printf "$1" >"$T/send"
	timeout "${2:-15}" bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
	    cat "$2" >&3; cat <&3' chat "$SMTPD_PORT" "$T/send" >"$T/reply" \
	    2>"$T/chat.err"
}

# same FILE EXPECTED-PRINTF DESCRIPTION: FILE holds exactly these bytes.
same() {
	printf "$2" >"$T/want"
	if cmp -s "$1" "$T/want"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "#   got:"; smtpd_show "$1" 2>&1 | head -20 | sed 's/^/#     /'
		echo "#  want:"; smtpd_show "$T/want" | head -20 | sed 's/^/#     /'
	fi
}

# ---- 0. the certificates are what certs.sh says they are ---------------------

# verify NAME: certtool's verdict on NAME.pem for "localhost" against ca.pem
verify() {
	certtool --verify --load-ca-certificate "$CERTS/ca.pem" \
	    --verify-hostname localhost --infile "$CERTS/$1.pem" 2>/dev/null |
	    grep -i 'verification output'
}
while read -r name want; do
	like "$(verify "$name")" "$want" "certs.sh: $name.pem -> $want"
done <<'EOF'
server Verified\. The certificate is trusted
expired expired certificate
wronghost name in the certificate does not match
selfsigned issuer is unknown
unknownca issuer is unknown
EOF
like "$(certtool -i --infile "$CERTS/server.pem")" 'IPAddress: ::1' "certs.sh: server.pem names ::1"
like "$(certtool -i --infile "$CERTS/client.pem")" 'TLS WWW Client' "certs.sh: client.pem is a client certificate"
fp=$(certtool --fingerprint --hash sha256 --infile "$CERTS/server.pem" |
    tr a-f A-F | sed 's/../&:/g; s/:$//')
is "$(cat "$CERTS/server.fp")" "$fp" "certs.sh: server.fp is the SHA-256 fingerprint as AA:BB:..."
is "$("$TOP/tests/lib/certs.sh" "$CERTS")" "$fp" "certs.sh: a second run reuses the set and prints the fingerprint"

# ---- 1. a whole transaction, pipelined, recorded byte for byte --------------

new_server 1
smtpd_start - <<'EOF' || bail "server 1 did not start"
ehlo PIPELINING 8BITMIME SIZE 1000000 CHUNKING ENHANCEDSTATUSCODES
reply RCPT#2 550 5.1.1 no such user
reply session#3 EHLO 421 4.3.2 go away\n
reply session#2 MAIL#2 452 4.3.1 second MAIL of session 2
EOF
like "$SMTPD_PORT" '^[0-9]+$' "the port file holds a number"

sent='EHLO client.example\r\nMAIL FROM:<a@example.org> SIZE=42 BODY=8BITMIME\r\nRCPT TO:<b@example.org> NOTIFY=NEVER\r\nRCPT TO:<c@example.org>\r\nRCPT TO:<d@example.org>\r\nDATA\r\nSubject: t\r\n\r\n..leading dot\r\nbare\nLF and bare\rCR\r\n..\r\n.\r\nQUIT\r\n'
chat "$sent"
smtpd_wait_sessions 1 || diag "session 1 did not end"
same "$SMTPD_DIR/conn-1.in" "$sent" "conn-1.in holds exactly the bytes the client sent"
expect='220 localhost ESMTP rq-testsmtpd\r\n250-localhost greets client.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 1000000\r\n250-CHUNKING\r\n250 ENHANCEDSTATUSCODES\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no such user\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: 52 bytes queued as 1.1\r\n221 2.0.0 Bye\r\n'
same "$T/reply" "$expect" "pipelined commands get their replies in order; RCPT#2 is scripted"
same "$SMTPD_DIR/conn-1.out" "$expect" "conn-1.out records what was sent"
same "$SMTPD_DIR/conn-1.in.plain" "$sent" "without TLS, .in.plain is everything"
ok "$([ ! -e "$SMTPD_DIR/conn-1.in.tls" ]; echo $?)" "no .in.tls without TLS"
same "$SMTPD_DIR/msg-1.eml" 'Subject: t\r\n\r\n.leading dot\r\nbare\nLF and bare\rCR\r\n.\r\n' \
    "msg-1.eml: un-stuffed, bare CR/LF kept as data, terminator removed"
same "$SMTPD_DIR/msg-1.env" 'MAIL FROM:<a@example.org> SIZE=42 BODY=8BITMIME\nRCPT TO:<b@example.org> NOTIFY=NEVER\nRCPT TO:<d@example.org>\n' \
    "msg-1.env: MAIL and the accepted RCPT lines with their parameters"
is "$(smtpd_info 1 end)" quit "conn-1.info: ended by QUIT"
is "$(smtpd_info 1 messages)" 1 "conn-1.info: one message"
is "$(smtpd_info 1 pipelined)" 6 "conn-1.info: six commands came with more input behind them"

# Session 2: BDAT chunks, second MAIL scripted for this session only.
sent='EHLO c\r\nMAIL FROM:<x@example.org>\r\nRCPT TO:<y@example.org>\r\nBDAT 7\r\nchunk1\nBDAT 0\r\nBDAT 9 LAST\r\n.\r\nchunk2MAIL FROM:<z@example.org>\r\nRSET\r\nQUIT\r\n'
chat "$sent"
smtpd_wait_sessions 2
expect='220 localhost ESMTP rq-testsmtpd\r\n250-localhost greets c\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 1000000\r\n250-CHUNKING\r\n250 ENHANCEDSTATUSCODES\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 7 octets received\r\n250 2.0.0 0 octets received\r\n250 2.0.0 Ok: 16 bytes queued as 2.1\r\n452 4.3.1 second MAIL of session 2\r\n250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n'
same "$T/reply" "$expect" "BDAT chunks and LAST; session#2 MAIL#2 rule"
same "$SMTPD_DIR/msg-2.eml" 'chunk1\n.\r\nchunk2' "msg-2.eml: BDAT chunks concatenated, no un-stuffing"
same "$SMTPD_DIR/msg-2.env" 'MAIL FROM:<x@example.org>\nRCPT TO:<y@example.org>\n' "msg-2.env"

# Session 3: the session#3 rule; the reply text's \n makes two lines.
chat 'EHLO c\r\nQUIT\r\n'
same "$T/reply" '220 localhost ESMTP rq-testsmtpd\r\n421 4.3.2 go away\r\n\r\n221 2.0.0 Bye\r\n' \
    "session#3 EHLO rule applies to the third connection only"

# Session 4: default checks of a careless client; odd input does not kill it.
chat 'MAIL FROM:<a@b>\r\nHELO\r\nHELO h\r\nRCPT TO:<a@b>\r\nMAIL FROM:broken\r\nMAIL FROM:<a@b> SIZE=2000000\r\nMAIL FROM:<a@b>\r\nMAIL FROM:<a@b>\r\nDATA\r\nBDAT x\r\nbogus\0command\r\n\r\nNOOP\r\nQUIT\r\n'
same "$T/reply" '220 localhost ESMTP rq-testsmtpd\r\n503 5.5.1 Send EHLO first\r\n501 5.5.4 HELO needs a domain\r\n250 localhost\r\n503 5.5.1 Need MAIL before RCPT\r\n501 5.5.4 Syntax: MAIL FROM:<address>\r\n552 5.3.4 Message size exceeds fixed limit\r\n250 2.1.0 Ok\r\n503 5.5.1 Nested MAIL command\r\n554 5.5.1 No valid recipients\r\n501 5.5.4 Syntax: BDAT size [LAST]\r\n500 5.5.2 Command unrecognized\r\n500 5.5.2 Command unrecognized\r\n250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n' \
    "default replies check state, syntax and SIZE; junk gets 500"

# Session 5: an overlong command line is refused, the session goes on.
long=$(head -c 5000 /dev/zero | tr '\0' x)
chat "NOOP $long\r\nNOOP\r\nQUIT\r\n"
same "$T/reply" '220 localhost ESMTP rq-testsmtpd\r\n500 5.5.2 Line too long\r\n250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n' \
    "an overlong line gets 500 and does not end the session"
smtpd_stop
is "$?" 0 "SIGTERM ends the server with status 0"

# ---- 2. disconnects at each stage ----------------------------------------------

n=2
for stage in 'disconnect GREETING' 'disconnect-after EHLO' 'disconnect MAIL' \
    'disconnect RCPT#2' 'disconnect DATA' 'disconnect BODY 10' \
    'disconnect DOT' 'disconnect-after DOT' 'hang MAIL'; do
	new_server $n
	n=$((n + 1))
	smtpd_start - -e "$stage" -e "read-timeout 5" </dev/null ||
	    bail "server for $stage did not start"
	start=$(date +%s)
	chat 'EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\n0123456789abcdef\r\n.\r\n'
	smtpd_wait_sessions 1 10
	case $stage in
	*GREETING) want='' ;;
	*EHLO) want='220 localhost ESMTP rq-testsmtpd\r\n250-localhost greets c\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n' ;;
	*MAIL) want='220 localhost ESMTP rq-testsmtpd\r\n250-localhost greets c\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n' ;;
	*RCPT#2) want='220 localhost ESMTP rq-testsmtpd\r\n250-localhost greets c\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n' ;;
	*) want='220 localhost ESMTP rq-testsmtpd\r\n250-localhost greets c\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n' ;;
	esac
	case $stage in
	*after\ DOT) want="${want}354 End data with <CR><LF>.<CR><LF>\\r\\n250 2.0.0 Ok: 18 bytes queued as 1.1\\r\\n" ;;
	*BODY*|*' DOT') want="${want}354 End data with <CR><LF>.<CR><LF>\\r\\n" ;;
	esac
	same "$SMTPD_DIR/conn-1.out" "$want" "$stage: the server stops exactly there"
	case $stage in
	*after\ DOT) ok "$([ -s "$SMTPD_DIR/msg-1.eml" ]; echo $?)" "$stage: the message was accepted" ;;
	*) ok "$([ ! -e "$SMTPD_DIR/msg-1.eml" ]; echo $?)" "$stage: no message stored" ;;
	esac
	case $stage in
	*BODY*) is "$(smtpd_info 1 end)" script-body "$stage: conn-1.info says why" ;;
	hang*) is "$(smtpd_info 1 end)" script-hang "$stage: conn-1.info says why" ;;
	esac
done
# What was received before the cut is recorded, all of it.
same "$T/srv7/conn-1.in" 'EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\n0123456789abcdef\r\n.\r\n' \
    "disconnect BODY: the bytes received are all in conn-1.in"

# ---- 3. hostile replies: huge, endless, raw bytes; delays ------------------------

new_server 20
smtpd_start - <<'EOF' || bail "server 20 did not start"
raw session#1 EHLO "250-" 1048576*"x" "\r\n250 ok\r\n"
raw session#2 EHLO 100000*"250-x\r\n" "250 end\r\n"
endless session#3 EHLO
raw session#4 EHLO "250 ok\x00nul\r\n" "25\n" "250-a\r\n251 b\r\n"
delay session#5 GREETING 1.5
EOF
chat 'EHLO c\r\nQUIT\r\n'
is "$(wc -c <"$T/reply")" $((34 + 4 + 1048576 + 10 + 15)) "a 1 MiB reply line"
chat 'EHLO c\r\nQUIT\r\n'
is "$(grep -c '^250-x' "$T/reply")" 100000 "100000 continuation lines"
timeout 15 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; printf "EHLO c\r\n" >&3;
    head -c 5000000 <&3' x "$SMTPD_PORT" >"$T/reply"
is "$(wc -c <"$T/reply")" 5000000 "endless: 5 MB and still going"
smtpd_wait_sessions 3 10
is "$(smtpd_info 3 end)" write-error "endless ends when the client goes away"
chat 'EHLO c\r\nQUIT\r\n'
same "$T/reply" '220 localhost ESMTP rq-testsmtpd\r\n250 ok\0nul\r\n25\n250-a\r\n251 b\r\n221 2.0.0 Bye\r\n' \
    "raw bytes (NUL, bare LF, inconsistent codes) go out as written"
start=$(date +%s.%N)
chat 'QUIT\r\n'
ok "$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { exit !(e - s >= 1.4) }'; echo $?)" \
    "delay GREETING 1.5 waits before the greeting"

# ---- 4. STARTTLS, injection, implicit TLS, client certificates --------------------

new_server 30
smtpd_start - <<EOF || bail "server 30 did not start"
ehlo PIPELINING STARTTLS
ehlo-tls PIPELINING AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 SCRAM-SHA-256-PLUS XOAUTH2 OAUTHBEARER
tls cert=$CERTS/server.pem key=$CERTS/server.key ca=$CERTS/ca.pem
user alice s3cret
oauth alice tok-123
raw session#2 STARTTLS "220 ready\r\n250 injected\r\n"
EOF
swaks -s 127.0.0.1 -p "$SMTPD_PORT" --helo client.example --tls --tls-ca-path "$CERTS/ca.pem" \
    --tls-verify --tls-cert "$CERTS/client.pem" --tls-key "$CERTS/client.key" \
    -t r@example.org -f s@example.org --auth PLAIN --auth-user alice \
    --auth-password s3cret --body 'tls body' -S >"$T/swaks.out" 2>&1
ok $? "swaks: STARTTLS, verified certificate, AUTH PLAIN, a message"
smtpd_wait_sessions 1
same "$SMTPD_DIR/conn-1.in.plain" 'EHLO client.example\r\nSTARTTLS\r\n' \
    ".in.plain: only EHLO and STARTTLS before TLS"
is "$(head -n 2 "$SMTPD_DIR/conn-1.in.tls" | cut -c 1-11 | tr -d '\r' | tr '\n' /)" \
    "EHLO client/AUTH PLAIN /" ".in.tls: EHLO, then AUTH, after TLS"
cat "$SMTPD_DIR/conn-1.in.plain" "$SMTPD_DIR/conn-1.in.tls" >"$T/joined"
ok "$(cmp -s "$T/joined" "$SMTPD_DIR/conn-1.in"; echo $?)" ".in.plain + .in.tls = .in"
is "$(smtpd_info 1 tls)" starttls "info: tls=starttls"
like "$(smtpd_info 1 tls_version)" '^TLS1\.[23]$' "info: the TLS version"
is "$(smtpd_info 1 sni)" "" "info: swaks sent no SNI for an address"
is "$(smtpd_info 1 client_cert_verified)" yes "info: the client certificate verified"
is "$(smtpd_info 1 auth_mech)/$(smtpd_info 1 auth_user)" PLAIN/alice "info: AUTH PLAIN as alice"
like "$(cat "$SMTPD_DIR/msg-1.eml")" 'tls body' "the message arrived over TLS"
is "$(smtpd_info 1 pipelined)" 0 "info: swaks waits for each reply (pipelined=0)"

# Session 2: the injection reply, in one segment, before the handshake.
chat 'EHLO c\r\nSTARTTLS\r\nMAIL FROM:<x@y>\r\n' 1
smtpd_wait_sessions 2
same "$T/reply" '220 localhost ESMTP rq-testsmtpd\r\n250-localhost greets c\r\n250-PIPELINING\r\n250 STARTTLS\r\n220 ready\r\n250 injected\r\n' \
    "raw STARTTLS sends the injected line with the 220"
is "$(smtpd_info 2 starttls_pipelined)" 17 "bytes pipelined after STARTTLS are counted and dropped"
is "$(smtpd_info 2 end)" tls-failed "a client that does not handshake ends the session"

# AUTH mechanisms, each in its own session (3, 4, ...).
auth_gsasl() {	# auth_gsasl MECH PASSWORD [--no-cb]
	timeout 15 gsasl --client --smtp --connect="127.0.0.1:$SMTPD_PORT" \
	    --starttls --x509-ca-file="$CERTS/ca.pem" --mechanism="$1" \
	    -a alice -p "$2" --hostname=localhost ${3:-} </dev/null >"$T/gsasl.out" 2>&1
	grep -q '^235 ' "$T/gsasl.out"
}
sess=2
for mech in LOGIN CRAM-MD5 SCRAM-SHA-256-PLUS; do
	auth_gsasl "$mech" s3cret
	ok $? "AUTH $mech succeeds with the right password"
	sess=$((sess + 1))
	smtpd_wait_sessions $sess
	is "$(smtpd_info $sess auth_mech)" "$mech" "info: auth_mech=$mech"
done
is "$(smtpd_info $sess auth_cb)" tls-exporter "SCRAM-SHA-256-PLUS used tls-exporter channel binding"
for mech in SCRAM-SHA-1 SCRAM-SHA-256; do
	auth_gsasl "$mech" s3cret --no-cb
	ok $? "AUTH $mech succeeds with the right password"
	sess=$((sess + 1))
done
auth_gsasl SCRAM-SHA-256 wrong --no-cb
ok "$([ $? -ne 0 ] && grep -q '^535 5.7.8' "$T/gsasl.out"; echo $?)" "a wrong SCRAM password gets 535"
sess=$((sess + 1))
for mech in xoauth2 oauthbearer; do
	for tok in tok-123 bad; do
		printf 'Subject: o\n\nx\n' | timeout 15 msmtp --host=localhost \
		    --port="$SMTPD_PORT" --tls=on --tls-starttls=on \
		    --tls-trust-file="$CERTS/ca.pem" --auth=$mech --user=alice \
		    --passwordeval="echo $tok" --from=a@example.org \
		    r@example.org >"$T/msmtp.out" 2>&1
		rc=$?
		sess=$((sess + 1))
		if [ $tok = bad ]; then
			ok "$([ $rc -ne 0 ] && grep -q '535 5.7.8' "$T/msmtp.out"; echo $?)" \
			    "$mech with a wrong token gets 535"
		else
			ok $rc "$mech with the right token"
		fi
	done
done
chat 'EHLO c\r\nAUTH PLAIN AGFsaWNlAHMzY3JldA==\r\nQUIT\r\n'
like "$(cat "$T/reply")" '504 5.5.4' "AUTH not advertised before TLS is refused"

new_server 31
smtpd_start - <<EOF || bail "server 31 did not start"
implicit-tls
tls cert=$CERTS/server.pem key=$CERTS/server.key
user alice s3cret
EOF
swaks -s 127.0.0.1 -p "$SMTPD_PORT" --tls-on-connect --tls-ca-path "$CERTS/ca.pem" \
    --tls-verify -t r@example.org -f s@example.org --auth LOGIN \
    --auth-user alice --auth-password s3cret >"$T/swaks.out" 2>&1
ok $? "implicit TLS with AUTH LOGIN (swaks --tls-on-connect)"
smtpd_wait_sessions 1
is "$(smtpd_info 1 tls)" implicit "info: tls=implicit"
ok "$([ ! -s "$SMTPD_DIR/conn-1.in.plain" ]; echo $?)" "implicit TLS: nothing in the clear"

# Session tickets are shared by all sessions of a server: a client can resume.
( sleep 1; printf 'QUIT\r\n'; sleep 1 ) | timeout 10 gnutls-cli \
    --x509cafile="$CERTS/ca.pem" --resume -p "$SMTPD_PORT" localhost \
    >"$T/cli.out" 2>&1
smtpd_wait_sessions 3
is "$(smtpd_info 2 tls_resumed)/$(smtpd_info 3 tls_resumed)" no/yes \
    "the second connection resumed the first one's TLS session"
is "$(smtpd_info 2 sni)" localhost "info: the SNI the client sent"

# A chosen protocol version; a required client certificate.
new_server 32
smtpd_start - <<EOF || bail "server 32 did not start"
ehlo STARTTLS AUTH SCRAM-SHA-256-PLUS
tls cert=$CERTS/server.pem key=$CERTS/server.key ca=$CERTS/ca.pem require-client-cert priority=NORMAL:-VERS-ALL:+VERS-TLS1.2
user alice s3cret
EOF
swaks -s 127.0.0.1 -p "$SMTPD_PORT" --helo c --tls --tls-cert "$CERTS/client.pem" \
    --tls-key "$CERTS/client.key" -q ehlo >"$T/swaks.out" 2>&1
ok $? "require-client-cert: a client with a certificate gets in"
smtpd_wait_sessions 1
is "$(smtpd_info 1 tls_version)" TLS1.2 "priority= limits the TLS version"
like "$(smtpd_info 1 client_cert_dn)" 'CN=relayq test client' "info: the client certificate's DN"
swaks -s 127.0.0.1 -p "$SMTPD_PORT" --helo c --tls -q ehlo >"$T/swaks.out" 2>&1
ok "$([ $? -ne 0 ]; echo $?)" "require-client-cert: a client without one is refused"
smtpd_wait_sessions 2
is "$(smtpd_info 2 end)" tls-failed "info: end=tls-failed"
like "$(smtpd_info 2 tls_error)" '.' "info: tls_error says why"

# smtpd_dump shows transcripts as TAP comments.
dump=$(smtpd_dump)
like "$dump" '^# --- conn-1.in$' "smtpd_dump names each file"
like "$dump" '^# EHLO c\\r\\n$' "smtpd_dump escapes CR and LF"
unlike "$dump" '^[^#]' "smtpd_dump prints only comments"

# ---- 5. exits, limits, bad scripts, IPv6 ----------------------------------------

new_server 40
smtpd_start - -n 2 </dev/null
chat 'QUIT\r\n'
chat 'QUIT\r\n'
smtpd_wait_exit 10
ok $? "-n 2: the server exits after two sessions, status 0"
new_server 41
smtpd_start - -t 0.5 </dev/null
smtpd_wait_exit 10
ok $? "-t 0.5: the server exits when idle"
printf 'ehlo PIPELINING\nreply MAIL\n' >"$T/bad.script"
err=$("$SMTPD_BIN" -o "$T/srv42" -s "$T/bad.script" 2>&1)
ok "$([ $? -eq 1 ]; echo $?)" "a bad script: exit status 1"
like "$err" 'bad\.script:2: missing reply text' "the error names file and line"
for bad in 'raw MAIL x' 'delay MAIL -1' 'disconnect BODY' 'reply RCPT#0 250 x' \
    'tls cert=/nonexistent' 'frobnicate' 'endless EHLO *""'; do
	"$SMTPD_BIN" -o "$T/srv42" -e "$bad" >/dev/null 2>&1
	is $? 1 "refused: $bad"
done
# ::1 is on every machine this project runs on; no IPv6 is a failure here,
# not a skip.
new_server 43
smtpd_start - -6 </dev/null
timeout 10 bash -c 'exec 3<>"/dev/tcp/::1/$1"; printf "QUIT\r\n" >&3; cat <&3' x \
    "$SMTPD_PORT" >"$T/reply"
like "$(head -n 1 "$T/reply")" '^220 localhost' "-6 listens on ::1"
smtpd_stop

done_testing
