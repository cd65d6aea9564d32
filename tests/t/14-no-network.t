#!/bin/bash
# Submitting never touches the network and never resolves a name: a broken
# resolver or a dead smart host must not make cron wait.
. "$(dirname "$0")/../lib/harness.sh"

command -v strace >/dev/null || bail "strace is needed (scripts/deps installs it)"
export RELAYQ_FLUSH=/bin/false
write_config "account test" "host smtp.unresolvable.invalid" "port 587" \
	"from sender@example.org" "qualify_domain example.org" \
	"account default : test"

printf 'Subject: x\n\nbody\n' >"$T/in"
strace -f -qq -o "$T/trace" -e trace=socket,connect,sendto,open,openat \
	"$RQ" -odq -i -oem root a@example.net <"$T/in"
is "$?" 0 "the message is queued"
is "$(grep -c 'socket(AF_INET\|socket(AF_INET6\|connect(' "$T/trace")" 0 "no socket is opened, nothing connects"
is "$(grep -c 'resolv.conf\|/etc/hosts\|nsswitch' "$T/trace" | tr -d ' ')" 0 "no resolver file is read"

# The same with -bs (an SMTP session on stdin) and -bv.
printf 'HELO x\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<a@example.net>\r\nDATA\r\nSubject: y\r\n\r\nz\r\n.\r\nQUIT\r\n' >"$T/smtp"
strace -f -qq -o "$T/trace2" -e trace=socket,connect "$RQ" -bs -odq <"$T/smtp" >/dev/null
is "$(grep -c 'socket(AF_INET\|connect(' "$T/trace2")" 0 "-bs opens no network socket"
strace -f -qq -o "$T/trace3" -e trace=socket,connect "$RQ" -bv a@example.net >/dev/null
is "$(grep -c 'socket(AF_INET\|connect(' "$T/trace3")" 0 "-bv opens no network socket"

done_testing
