#!/bin/bash
# Hostile arguments and input are refused with a clear error and nothing
# queued; nothing injected reaches the envelope or the headers.
. "$(dirname "$0")/../lib/harness.sh"

export RELAYQ_FLUSH=/bin/false
basic_config
msg='Subject: x\n\nbody\n'

check_refused() {	# ARGS... ; expects exit 64/65 and nothing queued
	local desc=$1
	shift
	rq_input "$msg" -odq "$@"
	ok "$([ "$RC" = 65 ] || [ "$RC" = 64 ]; echo $?)" "$desc is refused (exit $RC)"
	is "$(queued)" 0 "... and nothing is queued"
	is "$(printf '%s\n' "$ERR" | wc -l | tr -d ' ')" 1 "... with a one-line error"
}

check_refused "CR LF inside a recipient" $'a@example.net\r\nRCPT TO:<x@evil.example>'
check_refused "LF inside a recipient" $'a@example.net\nDATA'
check_refused "a recipient starting with -" -- '-X/tmp/x'
check_refused "a recipient -oQ/tmp after --" -- '-oQ/tmp/'
check_refused "a 65-octet local part" "$(printf 'a%.0s' $(seq 65))@example.net"
check_refused "a 300-octet path" "a@$(printf 'b%.0s' $(seq 63)).$(printf 'c%.0s' $(seq 63)).$(printf 'd%.0s' $(seq 63)).$(printf 'e%.0s' $(seq 63)).$(printf 'f%.0s' $(seq 40)).net"
check_refused "a NUL-free control character in a recipient" $'a\x01b@example.net'
check_refused "CR LF inside the sender" -f $'s@example.org\r\nRCPT TO:<x@evil.example>' r@example.net
check_refused "a sender starting with -" -f '-oQ/tmp' r@example.net
check_refused "an unbalanced quote" '"abc@example.net'

# -F with a line break must not inject a header
rq_input "$msg" -odq -F $'Name\r\nBcc: evil@example.net' r@example.net
if [ "$RC" = 0 ]; then
	is "$(grep -ac '^Bcc: evil' "$(last_msg)")" 0 "-F with CR LF cannot inject a header"
	unlike "$(grep -a '^rcpt' "$(last_msg)")" 'evil' "... nor a recipient"
else
	ok "$([ "$RC" = 64 ] || [ "$RC" = 65 ]; echo $?)" "-F with CR LF is refused (exit $RC)"
	is "$(queued)" 0 "... and nothing is queued"
fi
rm -rf "$T/queue"

# Header injection through a -t header does not add recipients beyond the list
rq_input 'To: a@example.net\nSubject: x\n\nBcc: notaheader@example.net\n' -odq -t
is "$RC" 0 "a Bcc line in the body is body"
is "$(grep -a '^rcpt' "$(last_msg)" | wc -l | tr -d ' ')" 1 "... and adds no recipient"
rm -rf "$T/queue"

# Binary garbage on stdin never crashes relayq
for i in 1 2 3 4 5; do
	head -c 20000 /dev/urandom >"$T/garbage"
	"$RQ" -odq -i r@example.net <"$T/garbage" >/dev/null 2>"$T/err"
	rc=$?
	ok "$([ "$rc" -lt 128 ]; echo $?)" "random input $i: relayq exits normally (status $rc)"
done
# whatever was queued has no bare CR or LF in its content
bad=0
for f in "$T"/queue/msg/*; do
	[ -e "$f" ] || continue
	python3 - "$f" <<'PY' || bad=1
import sys,re
d=open(sys.argv[1],'rb').read()
start=d.index(b'\ndata\n')+6
end=d.rindex(b'end ')
c=d[start:end]
sys.exit(1 if re.search(rb'\r(?!\n)|(?<!\r)\n', c) else 0)
PY
done
is "$bad" 0 "queued random input has no bare CR or LF"

done_testing
