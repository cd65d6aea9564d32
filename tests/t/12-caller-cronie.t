#!/bin/bash
# cronie mails a job's output through relayq: its -f USER is qualified, -t
# finds the recipient, and -odi delivers before sendmail returns.
#
# Where the command line comes from: cronie, configure.ac MAILARG
# "/usr/sbin/sendmail" and MAILFMT "%s -FCronDaemon -i -odi -oem -oi -t
# -f %s" (the user's name, or MAILFROM), used in src/do_command.c
# child_process(); cron_popen() (src/popen.c) splits it at white space and
# execvpe()s it with the job's environment.  The mail, from the same
# function: From: "(Cron Daemon)" <USER>, To: MAILTO, Subject: Cron
# <USER@HOST> COMMAND, MIME-Version, Content-Type text/plain with the
# locale's charset, Content-Transfer-Encoding 8bit, Auto-Submitted,
# Precedence, one X-Cron-Env per variable, then the output.
#
# crond cannot run in a test (it waits for the minute): this is its exact
# argv and a message shaped as do_command.c writes it.  The configuration is
# the README's (an account with 'from', an aliases file, no
# 'qualify_domain'), so -f root gets the domain of the account's from.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"

caller_server
caller_aliases "root: admin@example.com"
caller_config "from alerts@example.com" "aliases $T/aliases"

printf '%s\n' 'From: "(Cron Daemon)" <root>' 'To: root' \
    'Subject: Cron <root@web1> run-parts /etc/cron.hourly' 'MIME-Version: 1.0' \
    'Content-Type: text/plain; charset=UTF-8' \
    'Content-Transfer-Encoding: 8bit' 'Auto-Submitted: auto-generated' \
    'Precedence: bulk' 'X-Cron-Env: <SHELL=/bin/sh>' \
    'X-Cron-Env: <MAILTO=root>' '' >"$T/mail"
out=$'backup: 3 fichiers copi\xc3\xa9s\n.\nend\n'
printf '%s' "$out" >>"$T/mail"

# -odi: the real relayq-flush (beside relayq) tries the message before
# relayq returns, so it must already be at the server afterwards.
RELAYQ_FLUSH='' in_ns -- /usr/sbin/sendmail -FCronDaemon -i -odi -oem -oi -t \
    -f root <"$T/mail" 2>"$T/err"
is "$RC" 0 "cronie's sendmail call exits 0"
is "$(called_args)" "-FCronDaemon -i -odi -oem -oi -t -f root" "... with cronie's argv"
ok "$([ -s "$DIR/msg-1.eml" ]; echo $?)" \
    "-odi: the message reached the server before sendmail returned"
is "$(queued)" 0 "... and left the queue"

deliver
is "$MSG" 1 "a later flush finds nothing more to send"
wire_checks 1 cronie
is "$(env_sender 1)" root@example.com \
    "-f root, no qualify_domain: the domain of the account's from"
is "$(env_rcpts 1)" admin@example.com "-t found To: root, and the aliases file mapped it"
is "$(header 1 From)" '"(Cron Daemon)" <root@example.com>' "cronie's From arrives with root qualified inside the brackets"
is "$(header 1 To)" root@example.com "... and its To, qualified"
is "$(header 1 Subject)" "Cron <root@web1> run-parts /etc/cron.hourly" "... and its Subject"
is "$(header 1 Auto-Submitted)" auto-generated "... and Auto-Submitted"
is "$(header 1 Precedence)" bulk "... and Precedence"
body_is 1 "$out" "the output arrives byte for byte, the dot line kept (-i, -oi)"

# With qualify_domain as well, qualify_domain wins over the from's domain,
# for the sender and for the bare To.
caller_config "from alerts@example.com" "qualify_domain example.org"
in_ns -- /usr/sbin/sendmail -FCronDaemon -i -odi -oem -oi -t -f root \
    <"$T/mail" 2>"$T/err"
is "$RC" 0 "cronie's call with qualify_domain set exits 0"
deliver
is "$(env_sender 2)" root@example.org "-f root gets qualify_domain before the from's domain"
is "$(env_rcpts 2)" root@example.org "To: root (no aliases) gets qualify_domain"
body_is 2 "$out" "the output arrives byte for byte"

done_testing
