#!/bin/bash
# Submitting: a message on stdin or from files lands in the queue, with the
# headers a message must have, and relayq's modes and options do what
# SPEC section 2 says.
. "$(dirname "$0")/../lib/harness.sh"

basic_config
export RELAYQ_FLUSH=/bin/false	# no background flush in these tests

# --- plain submission -------------------------------------------------------
rq_input 'Subject: hello\n\nbody line\n' -odq rcpt@example.net
is "$RC" 0 "a simple message is queued (exit 0)"
is "$(queued)" 1 "one message file in the queue"
f=$(last_msg)
like "$(cat "$f")" '^relayq-queue 1' "queue file starts with its version line"
like "$(grep -a '^rcpt' "$f")" 'rcpt@example.net' "recipient recorded in the envelope"
like "$(grep -a '^sender' "$f")" 'sender@example.org' "sender is the account's from"
content=$(sed -n '/^data$/,$p' "$f")
like "$content" $'Date: [A-Z][a-z]{2}, [0-9]+ [A-Z][a-z]{2} [0-9]{4} ' "Date header added"
like "$content" 'Message-ID: <[^>]+@example.org>' "Message-ID added with the sender's domain"
like "$content" 'From: sender@example.org' "From header added from the envelope sender"
like "$content" $'body line\r$' "body stored with CRLF line ends"
is "$(sed -n '/^data$/,$p' "$f" | tr -d '\r' | grep -c '^Subject: hello$')" 1 "Subject kept once"

# --- an existing Date, Message-ID and From are kept ---------------------------
rm -rf "$T/queue"
rq_input 'From: Someone <x@example.com>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <keep@me>\n\nb\n' -odq r@example.net
f=$(last_msg)
is "$(grep -ac '^Message-ID:' "$f")" 1 "no second Message-ID"
like "$(cat "$f")" 'Message-ID: <keep@me>' "original Message-ID kept"
is "$(grep -ac '^From:' "$f")" 1 "no second From"

# --- -F full name, RFC 2047 when needed -----------------------------------
rm -rf "$T/queue"
rq_input 'Subject: x\n\nb\n' -odq -F 'Jörg Müller' r@example.net
like "$(cat "$(last_msg)")" 'From: =\?(UTF|utf)-8\?[BbQq]\?[^ ]+\?= <sender@example.org>' "-F name with 8-bit characters is RFC 2047-encoded"
rm -rf "$T/queue"
rq_input 'Subject: x\n\nb\n' -odq -FCronDaemon r@example.net
like "$(cat "$(last_msg)")" 'From: CronDaemon <sender@example.org>' "-FCronDaemon (attached argument) names the sender"

# --- -f / -r and the null sender ----------------------------------------------
rm -rf "$T/queue"
rq_input 'Subject: x\n\nb\n' -odq -f other@example.com r@example.net
like "$(grep -a '^sender' "$(last_msg)")" 'other@example.com' "-f sets the envelope sender"
rm -rf "$T/queue"
rq_input 'Subject: x\n\nb\n' -odq -r '<>' r@example.net
is "$RC" 0 "-r '<>' is accepted"
is "$(grep -a '^sender' "$(last_msg)" | tr -d ' ')" "sender" "-r '<>' gives the null sender"

# --- -t: recipients from the headers, Bcc removed ------------------------------
rm -rf "$T/queue"
rq_input 'To: A <a@example.net>, "b c"@example.net\nCc: team: c@example.net, d@example.net;\nBcc: hidden@example.net (secret)\nSubject: t\n\nbody\n' -odq -t
is "$RC" 0 "-t message queued"
f=$(last_msg)
is "$(grep -a '^rcpt' "$f" | wc -l | tr -d ' ')" 5 "-t found To, quoted local part, group members and Bcc"
like "$(grep -a '^rcpt' "$f")" 'hidden@example.net' "Bcc recipient kept in the envelope"
unlike "$(sed -n '/^data$/,$p' "$f")" '^Bcc:' "Bcc header removed"
rm -rf "$T/queue"
rq_input 'To: a@example.net\nSubject: t\n\nbody\n' -odq -t extra@example.net
is "$(grep -a '^rcpt' "$(last_msg)" | wc -l | tr -d ' ')" 2 "-t adds header recipients to the arguments"
rm -rf "$T/queue"
rq_input 'Resent-To: new@example.net\nResent-Date: Mon, 1 Jan 2024 00:00:00 +0000\nTo: old@example.net\nSubject: t\n\nbody\n' -odq -t
like "$(grep -a '^rcpt' "$(last_msg)")" 'new@example.net' "-t with Resent- headers uses the Resent- block"
unlike "$(grep -a '^rcpt' "$(last_msg)")" 'old@example.net' "... and not the original To"

# --- several recipients in one argument ----------------------------------------
rm -rf "$T/queue"
rq_input 'Subject: x\n\nb\n' -odq 'a@example.net,b@example.net' c@example.net
is "$(grep -a '^rcpt' "$(last_msg)" | wc -l | tr -d ' ')" 3 "comma-separated recipients in one argument"

# --- lone dot with and without -i ------------------------------------------------
rm -rf "$T/queue"
rq_input 'Subject: x\n\nbefore\n.\nafter\n' -odq r@example.net
unlike "$(cat "$(last_msg)")" 'after' "without -i a lone dot ends the message"
rm -rf "$T/queue"
rq_input 'Subject: x\n\nbefore\n.\nafter\n' -odq -i r@example.net
like "$(cat "$(last_msg)")" 'after' "with -i a lone dot is content"
rm -rf "$T/queue"
rq_input 'Subject: x\n\nbefore\n.\nafter\n' -odq -oi r@example.net
like "$(cat "$(last_msg)")" 'after' "with -oi a lone dot is content"

# --- messages from files ------------------------------------------------------
rm -rf "$T/queue"
printf 'Subject: one\n\n1\n' >"$T/m1"
printf 'Subject: two\n\n2\n' >"$T/m2"
rq -odq --message-file "$T/m1" --message-file "$T/m2" r@example.net
is "$RC" 0 "two --message-file messages queued"
is "$(queued)" 2 "each file is one message"
rm -rf "$T/queue"
rq -odq --message-file "$T/m1" --message-file "$T/nonexistent" r@example.net
is "$RC" 66 "an unreadable file gives 66"
is "$(queued)" 1 "... and the readable one is still queued"
like "$ERR" 'nonexistent' "... and the error names the file"

# --- DSN and body type are recorded -------------------------------------------
rm -rf "$T/queue"
rq_input 'Subject: x\n\nb\n' -odq -N success,failure -R hdrs -V env-42 -B8BITMIME r@example.net
f=$(last_msg)
like "$(cat "$f")" 'SUCCESS,FAILURE' "-N recorded"
like "$(cat "$f")" 'HDRS' "-R recorded"
like "$(cat "$f")" 'env-42' "-V recorded"
rq_input 'Subject: x\n\nb\n' -odq -N sometimes r@example.net
is "$RC" 64 "-N with an unknown word is a usage error"
rq_input 'Subject: x\n\nb\n' -odq -B 9BIT r@example.net
is "$RC" 64 "-B with an unknown type is a usage error"

# --- accepted and ignored options ---------------------------------------------------
rm -rf "$T/queue"
rq_input 'Subject: x\n\nb\n' -odq -oem -em -ep -eq -h 5 -L tag -m -n -U -G -Am -O Opt=1 -X "$T/xlog" -oX r@example.net
is "$RC" 0 "ignored sendmail options are accepted"
ok "$([ ! -e "$T/xlog" ]; echo $?)" "-X never opens its file"

# --- modes ----------------------------------------------------------------------
rq -bi
is "$RC" 0 "-bi (newaliases) exits 0"
rq --version
like "$OUT" '^relayq [0-9]' "--version prints the version"
rq --help
is "$RC" 0 "--help exits 0"
like "$OUT" 'message-file' "--help lists the options"
rq -bz
is "$RC" 64 "an unknown -b mode is a usage error"
rq --no-such-option
is "$RC" 64 "an unknown option is a usage error"

rq -bv good@example.net
is "$RC" 0 "-bv with a good recipient exits 0"
like "$OUT" 'good@example.net' "-bv reports the recipient"
rq -bv 'bad@@example.net'
is "$RC" 65 "-bv with a malformed recipient exits 65"

# argv[0] dispatch
mkdir -p "$T/bin"
for n in sendmail mailq newaliases; do ln -sf "$RQ" "$T/bin/$n"; done
"$T/bin/newaliases" >/dev/null 2>&1
is "$?" 0 "newaliases via argv[0]"
rm -rf "$T/queue"
printf 'Subject: via sendmail\n\nb\n' | "$T/bin/sendmail" -odq r@example.net
is "$?" 0 "sendmail via argv[0] submits"
out=$("$T/bin/mailq" 2>&1)
like "$out" 'r@example.net' "mailq via argv[0] lists the queue"

# --- listing ----------------------------------------------------------------------
rq -bp
like "$OUT" 'r@example.net' "-bp lists the queued message's recipient"
rq -bp --json
is "$RC" 0 "-bp --json exits 0"
json=$OUT
is "$(printf '%s' "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d), d[0]["state"], d[0]["recipients"][0]["status"], d[0]["sender"])')" "1 queued pending sender@example.org" "JSON listing has the message, its state and recipients"
rm -rf "$T/queue"
rq -bp --json
is "$OUT" "[]" "an empty queue is []"


# --- account selection: -a, and the envelope sender matched against from ------------
write_config "account work" "host 127.0.0.1" "tls off" "from *@work.example" \
	"account home" "host 127.0.0.2" "tls off" "from me@home.example" \
	"account default : home"
rm -rf "$T/queue"
rq_input 'Subject: x\n\nb\n' -odq -f boss@work.example r@example.net
like "$(grep -a '^account' "$(last_msg)")" 'work' "-f matching a from wildcard selects that account"
rm -rf "$T/queue"
rq_input 'Subject: x\n\nb\n' -odq r@example.net
like "$(grep -a '^account' "$(last_msg)")" 'home' "without -f the default account is used"
like "$(grep -a '^sender' "$(last_msg)")" 'me@home.example' "... with its from"
rm -rf "$T/queue"
rq_input 'Subject: x\n\nb\n' -odq -a work -f x@work.example r@example.net
like "$(grep -a '^account' "$(last_msg)")" 'work' "-a picks the account"
rm -rf "$T/queue"
rq_input 'From: Real Sender <real@home.example>\nSubject: x\n\nb\n' -odq --read-envelope-from r@example.net
like "$(grep -a '^sender' "$(last_msg)")" 'real@home.example' "--read-envelope-from takes the sender from From"
rq_input 'Subject: x\n\nb\n' -odq --read-envelope-from r@example.net
is "$RC" 65 "--read-envelope-from without a From header is refused"
write_config "account locked" "host 127.0.0.1" "tls off" "from fixed@example.org" \
	"allow_from_override off"
rm -rf "$T/queue"
rq_input 'Subject: x\n\nb\n' -odq -f other@example.org r@example.net
like "$(grep -a '^sender' "$(last_msg)")" 'fixed@example.org' "allow_from_override off keeps the account's from"
basic_config

# --- a bare sender is qualified, never refused (cronie's -f USER) ---------------
# The order: qualify_domain, else the domain of the account's from, else the
# machine's name (gethostname, else /etc/mailname); never the resolver.
sender_of() { grep -a '^sender' "$(last_msg)" | cut -d' ' -f2-; }
me=$(id -un)
write_config "account test" "host 127.0.0.1" "tls off" \
	"from cron@from.example" "qualify_domain qualify.example" \
	"account default : test"
rm -rf "$T/queue"
rq_input 'Subject: x\n\nb\n' -odq -f alice r@example.net
is "$RC" 0 "-f alice (a bare name) is accepted"
is "$(sender_of)" "alice@qualify.example" "... and qualified with qualify_domain first"
write_config "account test" "host 127.0.0.1" "tls off" \
	"from cron@from.example" "account default : test"
rm -rf "$T/queue"
rq_input 'Subject: x\n\nb\n' -odq -f www-data r@example.net
is "$RC" 0 "-f www-data without qualify_domain is accepted"
is "$(sender_of)" "www-data@from.example" "... and gets the domain of the account's from"
write_config "account test" "host 127.0.0.1" "tls off" \
	"from *@wild.example" "account default : test"
rm -rf "$T/queue"
rq_input 'Subject: x\n\nb\n' -odq -f root r@example.net
is "$(sender_of)" "root@wild.example" "a from with a wildcard local part still gives its domain"
write_config "account test" "host 127.0.0.1" "tls off" \
	"from *@*.wild.example" "account default : test"
rm -rf "$T/queue"
rq_input 'Subject: x\n\nb\n' -odq -f root r@example.net
host=$(hostname)
is "$RC" 0 "-f root with neither qualify_domain nor a usable from is accepted"
case $host in
*.*) want=$host ;;
*) want=$(head -n1 /etc/mailname 2>/dev/null || true); [ -n "$want" ] || want=$host ;;
esac
is "$(sender_of)" "root@$want" "... and gets the machine's name"
write_config "account test" "host 127.0.0.1" "tls off" "account default : test"
rm -rf "$T/queue"
rq_input 'Subject: x\n\nb\n' -odq r@example.net
is "$RC" 0 "no -f and no from: the login name is the sender"
is "$(sender_of)" "$me@$want" "... qualified with the machine's name"
like "$(cat "$(last_msg)")" "From: $me@$want" "... and the added From header says the same"
basic_config

# --- bare names in address fields get the same domain --------------------------
write_config "account test" "host 127.0.0.1" "tls off" \
	"from cron@from.example" "account default : test"
rm -rf "$T/queue"
rq_input 'From: root (Cron Daemon)\nTo: ops, "A, B" <ab@x.example>\nCc: team: dba, <web>;\nReply-To: undisclosed-recipients:;\nX-Note: root\nSubject: x\n\nroot\n' -odq r@example.net
is "$RC" 0 "a message with bare names in its address fields is queued"
f=$(last_msg)
like "$(cat "$f")" $'From: root@from.example \\(Cron Daemon\\)\r' "From: root (Cron Daemon) gets the sender's domain, the comment kept"
like "$(cat "$f")" $'To: ops@from.example, "A, B" <ab@x.example>\r' "To: a bare name is qualified, a full address left as it is"
like "$(cat "$f")" $'Cc: team: dba@from.example, <web@from.example>;\r' "Cc: inside a group, bare and bracketed"
like "$(cat "$f")" $'Reply-To: undisclosed-recipients:;\r' "an empty group is left alone"
like "$(cat "$f")" $'X-Note: root\r' "a field that is not an address field is left alone"
like "$(cat "$f")" $'\r\n\r\nroot\r' "... and so is the body"
basic_config

# --- -odi and -odb start relayq-flush; -odq does not; -q runs it ----------------------
cat >"$T/fakeflush" <<EOS
#!/bin/sh
echo "\$@" >>"$T/flush-calls"
echo "fake flush outcome" >&2
EOS
chmod +x "$T/fakeflush"
export RELAYQ_FLUSH=$T/fakeflush
rm -f "$T/flush-calls"
rq_input 'Subject: x\n\nb\n' -odq r@example.net
ok "$([ ! -e "$T/flush-calls" ]; echo $?)" "-odq does not start a flush"
rq_input 'Subject: x\n\nb\n' -odi r@example.net
is "$RC" 0 "-odi exits 0 (queued)"
like "$(cat "$T/flush-calls")" '--id [0-9A-F]+' "-odi runs relayq-flush for that message"
like "$(cat "$T/flush-calls")" "--queue-dir $T/queue " "... in the queue it was written to"
like "$ERR" 'fake flush outcome' "-odi shows the outcome on standard error"
rm -f "$T/flush-calls"
rq_input 'Subject: x\n\nb\n' r@example.net
for i in 1 2 3 4 5 6 7 8 9 10; do [ -e "$T/flush-calls" ] && break; sleep 0.1; done
like "$(cat "$T/flush-calls" 2>/dev/null)" '-C' "the default (-odb) starts a detached flush"
rm -f "$T/flush-calls"
rq -q
like "$(cat "$T/flush-calls" 2>/dev/null)" '--all' "-q runs relayq-flush --all"

done_testing
