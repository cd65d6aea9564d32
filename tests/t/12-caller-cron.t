#!/bin/bash
# Debian cron mails a job's output through relayq, and it arrives as cron
# wrote it.
#
# Where the command line comes from: cron 3.0pl1-162 (Debian 12),
# do_command.c child_process(): MAILCMD /usr/sbin/sendmail with MAILARGS
# "%s -FCronDaemon -i -B8BITMIME -oem  %s" (the format string is in the
# package's /usr/sbin/cron); cron_popen() splits it at white space and execs
# it, so the argv is exactly "-FCronDaemon -i -B8BITMIME -oem MAILTO".  The
# mail is "From: root (Cron Daemon)", "To: MAILTO", "Subject: Cron
# <USER@HOST> COMMAND", MIME-Version, Content-Type text/plain with the
# locale's charset, Content-Transfer-Encoding 8bit, one X-Cron-Env per
# variable, then the job's output as it came.
#
# cron itself cannot run in a test (it waits for the minute to turn): this
# is its exact argv and a message shaped as do_command.c writes it.  The
# configuration is the smallest one a cron host has: a relay and an
# aliases file, no 'from', no 'qualify_domain', so the login name (root)
# is qualified with the machine's name (a private UTS namespace names it).
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"

caller_server
caller_aliases "root: admin@example.com"
caller_config "aliases $T/aliases"

printf '%s\n' 'From: root (Cron Daemon)' 'To: root' \
    'Subject: Cron <root@web1> /usr/local/bin/report' 'MIME-Version: 1.0' \
    'Content-Type: text/plain; charset=UTF-8' \
    'Content-Transfer-Encoding: 8bit' 'X-Cron-Env: <SHELL=/bin/sh>' \
    'X-Cron-Env: <HOME=/root>' 'X-Cron-Env: <LOGNAME=root>' '' >"$T/mail"
out=$'Disk usage r\xc3\xa9sum\xc3\xa9: 93 % \xe2\x80\x94 /var\n.\nthe line above is a single dot\n'
printf '%s' "$out" >>"$T/mail"

in_ns --hostname web1.example.net -- /usr/sbin/sendmail -FCronDaemon -i \
    -B8BITMIME -oem root <"$T/mail" 2>"$T/err"
is "$RC" 0 "cron's sendmail call exits 0"
is "$(called_args)" "-FCronDaemon -i -B8BITMIME -oem root" "... with cron's argv"
for i in $(seq 1 50); do [ -s "$T/flush-calls" ] && break; sleep 0.05; done
unlike "$(cat "$T/flush-calls" 2>/dev/null)" '--id' \
    "without -od, a background flush of the whole queue was started"
like "$(cat "$T/flush-calls" 2>/dev/null)" "^-C $T/config( |\$)" \
    "... with the configuration relayq used"

deliver
is "$RC" 0 "the flush delivered it"
wire_checks 1 cron
is "$(env_sender 1)" root@web1.example.net \
    "no -f, no from, no qualify_domain: the login name gets the machine's name"
is "$(env_mail 1)" "MAIL FROM:<root@web1.example.net> BODY=8BITMIME" \
    "-B8BITMIME is passed on as BODY=8BITMIME"
is "$(env_rcpts 1)" admin@example.com "root went through the aliases file"
is "$(header 1 From)" "root@web1.example.net (Cron Daemon)" "cron's From arrives with root qualified (a receiver refuses a From without a domain)"
is "$(header 1 To)" root@web1.example.net "... and its To, qualified the same way"
is "$(header 1 Subject)" "Cron <root@web1> /usr/local/bin/report" "... and its Subject"
is "$(header 1 X-Cron-Env | paste -sd ' ' -)" \
    "<SHELL=/bin/sh> <HOME=/root> <LOGNAME=root>" "... and every X-Cron-Env, in order"
is "$(header 1 Content-Type)" "text/plain; charset=UTF-8" "... and its Content-Type"
body_is 1 "$out" "the UTF-8 output arrives byte for byte, the dot line kept (-i)"

done_testing
