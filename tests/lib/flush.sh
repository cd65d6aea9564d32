# relayq -- shell helpers shared by the relayq-flush tests (tests/t/4*.t).
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Source it (bash) after tests/lib/harness.sh:
#	. "$(dirname "$0")/../lib/harness.sh"
#	. "$TOP/tests/lib/flush.sh"
# It sources tests/lib/smtpd.sh, which starts the scriptable test server
# (tests/smtpd/rq-testsmtpd); srv_start bails out when that is not built.
#
# The test server
#   srv_start DIR SCRIPT-LINES...  a fresh server in DIR with these script
#                                  lines; sets DIR and PORT; stopped when
#                                  the test ends; bails if it cannot start
#   srv_next SCRIPT-LINES...       the same in the next $T/srvN
#   srv_tls CERT SCRIPT-LINES...   srv_next with TLS (CERT.pem/CERT.key from
#                                  $PKI, options from $SRV_TLS) and the user
#                                  $FLUSH_USER first
# Certificates
#   flush_certs                    the certificates of tests/lib/certs.sh in
#                                  $PKI ($T/pki); bails without certtool
# The configuration (write_config: $T/config, queue $T/queue, log $T/log)
#   flush_config [KEY-LINES...]    account "t", the default: $HOST
#                                  (127.0.0.1):$PORT, tls off, sender
#                                  sender@example.org, EHLO
#                                  client.example.org, then the lines
#   flush_config_tls MODE [KEY-LINES...]
#                                  the same with TLS (MODE starttls or
#                                  implicit) to $HOST (localhost), and AUTH
#                                  as $FLUSH_USER; no trust setting of its
#                                  own: pass one
# Running and reading
#   flush [ARGS...]                run relayq-flush; sets RC, ERR (stdout in
#                                  $T/.out)
#   json PYTHON-EXPRESSION         print it, evaluated over the queue as
#                                  relayq -bp --json gives it (q)
#   queue_content FILE             the message content of queue file FILE
#   queue_forge FILE               replace FILE's content by standard input
#                                  (the trailer made to match), as nothing
#                                  but a hand-edited queue would have it

# shellcheck disable=SC2034  # read by smtpd.sh
RQ_TOP=$TOP
# Quiet servers, as the tests always ran them (the log is $DIR.log).
: "${SMTPD_VERBOSE:=0}"
# shellcheck source=smtpd.sh
. "$TOP/tests/lib/smtpd.sh"

FLUSH_USER=alice
FLUSH_PASS=s3cret-Pa55
PKI=$T/pki
_srv_n=0

srv_start() {
	DIR=$1
	shift
	[ -x "$SMTPD_BIN" ] ||
	    bail "tests/smtpd/rq-testsmtpd is not built (make tests)"
	SMTPD_DIR=$DIR
	# Not from a pipe: smtpd_start must run in this shell, to set
	# SMTPD_PID and SMTPD_PORT here.
	smtpd_start - -t 120 < <(printf '%s\n' "$@") ||
	    bail "the test server did not start: $(cat "$DIR.log" 2>/dev/null)"
	at_exit "kill $SMTPD_PID 2>/dev/null"
	PORT=$SMTPD_PORT
}

srv_next() {
	_srv_n=$((_srv_n + 1))
	srv_start "$T/srv$_srv_n" "$@"
}

srv_tls() {
	local crt=$1
	shift
	srv_next "tls cert=$PKI/$crt.pem key=$PKI/$crt.key${SRV_TLS:+ $SRV_TLS}" \
	    "user $FLUSH_USER $FLUSH_PASS" "$@"
}

flush_certs() {
	command -v certtool >/dev/null || bail "certtool is missing (gnutls-bin)"
	sh "$TOP/tests/lib/certs.sh" "$PKI" >/dev/null ||
	    bail "tests/lib/certs.sh failed"
}

flush_config() {
	write_config "logfile $T/log" "account t" "host ${HOST:-127.0.0.1}" \
	    "port $PORT" "tls off" "from sender@example.org" \
	    "domain client.example.org" "$@" "account default : t"
}

flush_config_tls() {
	local starttls=on
	[ "$1" = implicit ] && starttls=off
	shift
	write_config "logfile $T/log" "account t" "host ${HOST:-localhost}" \
	    "port $PORT" "tls on" "tls_starttls $starttls" "auth on" \
	    "user $FLUSH_USER" "password $FLUSH_PASS" \
	    "from sender@example.org" "domain client.example.org" "$@" \
	    "account default : t"
}

flush() {
	"$RQF" "$@" >"$T/.out" 2>"$T/.err"
	RC=$?
	ERR=$(cat "$T/.err")
}

json() {
	"$RQ" -bp --json |
	    python3 -c "import json,sys; q=json.load(sys.stdin); print($1)"
}

# The queue file: envelope lines, "data", the content, "end size=N ...".
queue_content() {
	python3 - "$1" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(d[d.index(b"\ndata\n") + 6:d.rindex(b"end size=")])
EOF
}

# (The new content comes on standard input: no here-document for python.)
queue_forge() {
	python3 -c '
import sys
p = sys.argv[1]
d = open(p, "rb").read()
env = d[:d.index(b"\ndata\n") + 6]
c = sys.stdin.buffer.read()
open(p, "wb").write(env + c + b"end size=%d eightbit=0 smtputf8=0\n" % len(c))' "$1"
}
