#!/bin/bash
# fail2ban's sendmail action mails a ban through relayq, with a bare -f.
#
# Where the command line comes from: fail2ban, config/action.d/sendmail.conf
# actionban (and sendmail-common.conf's actionstart/actionstop):
#   printf %%b "Subject: [Fail2Ban] <name>: banned <ip> from <fq-hostname>
#               Date: `LC_ALL=C date +"%%a, %%d %%h %%Y %%T %%z"`
#               From: <sendername> <<sender>>
#               To: <dest>\n
#               Hi,\n ..." | <mailcmd>
# with, in sendmail-common.conf [Init], mailcmd = /usr/sbin/sendmail -f
# "<sender>" "<dest>", dest = root, sender = fail2ban, sendername =
# Fail2Ban.  fail2ban's configuration reader joins the continuation lines
# with newlines (leading blanks dropped) and turns %% into %, and the action
# runs with /bin/sh -c.
#
# fail2ban-server needs logs to watch and a firewall, so this is the action
# command exactly as fail2ban runs it for `action = sendmail[name=sshd]`,
# through sh, printf and date.  -f fail2ban has no domain: with the
# README's configuration ('from', aliases, no qualify_domain) it gets the
# domain of the account's from.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"

caller_server
caller_aliases "root: security@example.com"
caller_config "from alerts@example.com" "aliases $T/aliases"

cat >"$T/actionban" <<'EOF2'
printf %b "Subject: [Fail2Ban] sshd: banned 192.0.2.99 from gw1.example.net
Date: `LC_ALL=C date +"%a, %d %h %Y %T %z"`
From: Fail2Ban <fail2ban>
To: root\n
Hi,\n
The IP 192.0.2.99 has just been banned by Fail2Ban after
5 attempts against sshd.\n
Regards,\n
Fail2Ban" | /usr/sbin/sendmail -f "fail2ban" "root"
EOF2
in_ns -- sh -c "$(cat "$T/actionban")" 2>"$T/err"
is "$RC" 0 "fail2ban's actionban exits 0"
is "$(called_args)" "-f fail2ban root" "... with its mailcmd's argv"

deliver
is "$RC" 0 "the flush delivered it"
wire_checks 1 fail2ban
is "$(env_sender 1)" fail2ban@example.com \
    "-f fail2ban, no qualify_domain: the domain of the account's from"
is "$(env_rcpts 1)" security@example.com "root went through the aliases file"
is "$(header 1 Subject)" "[Fail2Ban] sshd: banned 192.0.2.99 from gw1.example.net" \
    "fail2ban's Subject arrives"
is "$(header 1 From)" "Fail2Ban <fail2ban@example.com>" "... and its From, the bare name qualified"
is "$(header 1 To)" root@example.com "... and its To, qualified"
like "$(header 1 Date)" '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} [-+][0-9]{4}$' \
    "... and the Date it made with date(1)"
body_is 1 "Hi,

The IP 192.0.2.99 has just been banned by Fail2Ban after
5 attempts against sshd.

Regards,

Fail2Ban" "the body arrives, its unterminated last line ended with CRLF"

done_testing
