#!/bin/bash
# Real callers, with their exact command lines: Debian cron, cronie, mail(1)
# from bsd-mailx (which always runs /usr/sbin/sendmail: we bind-mount relayq
# there inside a private mount namespace), s-nail, and an SMTP client on
# relayq -bs.
. "$(dirname "$0")/../lib/harness.sh"

cat >"$T/fakeflush" <<EOS
#!/bin/sh
echo "\$@" >>"$T/flush-calls"
EOS
chmod +x "$T/fakeflush"
export RELAYQ_FLUSH=$T/fakeflush
write_config "account cron" "host 127.0.0.1" "tls off" \
	"from cron@example.org" "qualify_domain example.org" \
	"account default : cron"

cron_mail='From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host> /usr/local/bin/job\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\nX-Cron-Env: <SHELL=/bin/sh>\n\njob output \xc3\xa9\n'

# Debian cron (cron 3.0pl1): sendmail -FCronDaemon -i -B8BITMIME -oem ADDRESS
rq_input "$cron_mail" -FCronDaemon -i -B8BITMIME -oem root
is "$RC" 0 "Debian cron's call is accepted"
f=$(last_msg)
like "$(grep -a '^rcpt' "$f")" 'root@example.org' "root is qualified with qualify_domain"
like "$(cat "$f")" 'job output' "the job output is queued"
for i in 1 2 3 4 5 6 7 8 9 10; do [ -e "$T/flush-calls" ] && break; sleep 0.1; done
ok "$([ -e "$T/flush-calls" ]; echo $?)" "a background flush was started"
rm -rf "$T/queue" "$T/flush-calls"

# cronie: sendmail -FCronDaemon -i -odi -oem -oi -t -f USER
rq_input "$cron_mail" -FCronDaemon -i -odi -oem -oi -t -f root
is "$RC" 0 "cronie's call is accepted"
f=$(last_msg)
like "$(grep -a '^sender' "$f")" 'root@example.org' "-f root is qualified"
like "$(grep -a '^rcpt' "$f")" 'root@example.org' "-t found To: root"
like "$(cat "$T/flush-calls")" '--id' "-odi tried the delivery in the foreground"
rm -rf "$T/queue" "$T/flush-calls"

# mail(1) from bsd-mailx: it always runs /usr/sbin/sendmail.
cat >"$T/mailx.sh" <<EOS
#!/bin/sh
set -e
touch /usr/sbin/sendmail 2>/dev/null || true
mount --bind "$RQ" /usr/sbin/sendmail
printf 'hello from mailx\n' | /usr/bin/bsd-mailx -s 'mailx subject' someone@example.net
EOS
chmod +x "$T/mailx.sh"
if [ -e /usr/sbin/sendmail ]; then
	unshare -m "$T/mailx.sh" >"$T/mailx.out" 2>&1
	rc=$?
else
	# No MTA installed: make a file to mount over, inside the namespace only.
	unshare -m sh -c "mount -t tmpfs tmpfs /usr/sbin 2>/dev/null; cp -a /proc/1/root/usr/sbin/. /usr/sbin/ 2>/dev/null; touch /usr/sbin/sendmail; '$T/mailx.sh'" >"$T/mailx.out" 2>&1
	rc=$?
fi
is "$rc" 0 "bsd-mailx ran through relayq"
f=$(last_msg)
like "$(cat "$f" 2>/dev/null)" 'Subject: mailx subject' "bsd-mailx's message is queued with its Subject"
like "$(grep -a '^rcpt' "$f" 2>/dev/null)" 'someone@example.net' "... and its recipient"
rm -rf "$T/queue"

# s-nail with its mta variable
printf 'hello from s-nail\n' | s-nail -:/ -S "mta=$RQ" -S sendwait -s 'snail subject' other@example.net >"$T/snail.out" 2>&1
is "$?" 0 "s-nail submitted through relayq"
like "$(cat "$(last_msg)" 2>/dev/null)" 'Subject: snail subject' "s-nail's message is queued"
rm -rf "$T/queue"

# An SMTP client talking to relayq -bs (swaks over a pipe)
swaks --pipe "$RQ -bs -odq" --from s@example.org --to a@example.net,b@example.net \
	--header 'Subject: via -bs' --body $'line one\n.leading dot\n' >"$T/swaks.out" 2>&1
is "$?" 0 "swaks completed an SMTP session on relayq -bs"
like "$(cat "$T/swaks.out")" '250 2.0.0 queued as' "relayq -bs answered the final dot with the queue id"
f=$(last_msg)
is "$(grep -a '^rcpt' "$f" | wc -l | tr -d ' ')" 2 "both RCPT TO recipients are in the envelope"
is "$(grep -ac $'^\\.leading dot\r$' "$f")" 1 "the dot-stuffed line was un-stuffed"
unlike "$(cat "$f")" '\.\.leading' "... exactly once"

done_testing
