#!/bin/bash
# scripts/migrate-msmtpq moves an msmtpq queue into relayq's queue: each
# ID.mail/ID.msmtp pair becomes one relayq message with the recovered
# sender and recipients, and the pair is removed only once relayq has it.
. "$(dirname "$0")/../lib/harness.sh"

export RELAYQ_FLUSH=/bin/false
basic_config
MQ=$T/msmtp.queue
mkdir -p "$MQ"
chmod 700 "$MQ"
# What msmtpq writes: the message, and `echo "$@"` of msmtp's arguments.
printf 'Subject: one\n\nfirst body\n' >"$MQ/2026-11-28-10.00.00-a.mail"
echo "-oi -f alice@example.org -- bob@example.net carol@example.net" >"$MQ/2026-11-28-10.00.00-a.msmtp"
printf 'To: dave@example.net\nSubject: two\n\nsecond body\n' >"$MQ/2026-11-28-10.00.01-b.mail"
echo "-t -f alice@example.org" >"$MQ/2026-11-28-10.00.01-b.msmtp"

"$TOP/scripts/migrate-msmtpq" --dry-run --queue "$MQ" --relayq "$RQ" >"$T/dry" 2>&1
is "$?" 0 "--dry-run exits 0"
is "$(queued)" 0 "--dry-run queues nothing"
is "$(ls "$MQ" | wc -l | tr -d ' ')" 4 "--dry-run leaves the msmtpq queue alone"

"$TOP/scripts/migrate-msmtpq" --queue "$MQ" --relayq "$RQ" >"$T/out" 2>&1
is "$?" 0 "the migration exits 0"
is "$(queued)" 2 "both messages are in relayq's queue"
is "$(ls "$MQ"/*.mail "$MQ"/*.msmtp 2>/dev/null | wc -l | tr -d ' ')" 0 "the msmtpq pairs are removed"
all=$(cat "$T"/queue/msg/*)
like "$all" 'rcpt bob@example.net' "recipients from the arguments"
like "$all" 'rcpt carol@example.net' "... all of them"
like "$all" 'rcpt dave@example.net' "-t recipients from the header"
is "$(grep -ah '^sender' "$T"/queue/msg/* | sort -u)" "sender alice@example.org" "the -f sender is kept"
like "$all" 'first body' "the first message's content"
like "$all" 'second body' "the second message's content"

# A pair relayq refuses stays where it is.
printf 'Subject: bad\n\nbody\n' >"$MQ/c.mail"
echo "-- not@@valid" >"$MQ/c.msmtp"
"$TOP/scripts/migrate-msmtpq" --queue "$MQ" --relayq "$RQ" >"$T/out" 2>&1
is "$?" 1 "a message relayq refuses: exit 1"
ok "$([ -e "$MQ/c.mail" ] && [ -e "$MQ/c.msmtp" ]; echo $?)" "... and its pair stays in the msmtpq queue"

done_testing
