#!/bin/bash
# An SMTP client on relayq -bs (swaks over a pipe).  The programs that run
# sendmail (cron, mail(1), mutt, PHP, ...) each have their own test,
# tests/t/12-caller-PROGRAM.t, which submits with the program's exact
# command line and asserts what arrived at the test server.
. "$(dirname "$0")/../lib/harness.sh"

cat >"$T/fakeflush" <<EOS
#!/bin/sh
echo "\$@" >>"$T/flush-calls"
EOS
chmod +x "$T/fakeflush"
export RELAYQ_FLUSH=$T/fakeflush
write_config "account relay" "host 127.0.0.1" "tls off" \
	"from sender@example.org" "qualify_domain example.org" \
	"account default : relay"

swaks --pipe "$RQ -bs -odq" --from s@example.org --to a@example.net,b@example.net \
	--header 'Subject: via -bs' --body $'line one\n.leading dot\n' >"$T/swaks.out" 2>&1
is "$?" 0 "swaks completed an SMTP session on relayq -bs"
like "$(cat "$T/swaks.out")" '250 2.0.0 queued as' "relayq -bs answered the final dot with the queue id"
f=$(last_msg)
is "$(grep -a '^rcpt' "$f" | wc -l | tr -d ' ')" 2 "both RCPT TO recipients are in the envelope"
is "$(grep -ac $'^\\.leading dot\r$' "$f")" 1 "the dot-stuffed line was un-stuffed"
unlike "$(cat "$f")" '\.\.leading' "... exactly once"

done_testing
