#!/bin/bash
# logwatch (the real program) mails its report through relayq.
#
# Where the command line comes from: logwatch 7.7, /usr/sbin/logwatch
# opens "|$Config{'mailer'}" with mailer "/usr/sbin/sendmail -t"
# (/usr/share/logwatch/default.conf/logwatch.conf and Debian's
# dist.conf/logwatch.conf), and prints one "To:" per MailTo address,
# "From: MailFrom" (Debian's dist.conf: root), "Subject: Logwatch for HOST
# (Linux)", Auto-Submitted, Precedence, MIME-Version,
# Content-Transfer-Encoding 8bit, Content-Type text/plain; charset="UTF-8".
#
# logwatch runs here for real on a private log directory holding today's
# sshd lines.  The configuration is where relayq looks for a user's own
# ($XDG_CONFIG_HOME/relayq/config, inside $T), not in RELAYQ_CONFIG: that
# is the third way a caller's relayq finds it.  It is the README's ('from',
# aliases, no qualify_domain).
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"

caller_server
caller_aliases "root: admin@example.com"
caller_config "from alerts@example.com" "aliases $T/aliases"
mkdir -p "$XDG_CONFIG_HOME/relayq"
mv "$T/config" "$XDG_CONFIG_HOME/relayq/config"
unset RELAYQ_CONFIG

mkdir -p "$T/log"
now=$(date '+%b %e %H:%M:%S')
printf '%s logs1 sshd[4711]: Failed password for root from 192.0.2.7 port 50122 ssh2\n' \
    "$now" >"$T/log/auth.log"
in_ns --hostname logs1.example.net -- logwatch --output mail \
    --mailto "root ops@example.org" --range today --service sshd \
    --logdir "$T/log" >"$T/lw.out" 2>&1
is "$RC" 0 "logwatch ran"
is "$(called_path)" /usr/sbin/sendmail "logwatch ran its mailer"
is "$(called_args)" "-t" "... with its argv"

deliver
is "$RC" 0 "the flush delivered it"
wire_checks 1 logwatch
is "$(env_sender 1)" alerts@example.com "no -f: the account's from"
is "$(env_rcpts 1 | sort | paste -sd ' ' -)" "admin@example.com ops@example.org" \
    "-t found both To fields; root went through the aliases file"
is "$(header 1 To | paste -sd ' ' -)" "root@example.com ops@example.org" "logwatch's two To fields arrive, root qualified"
is "$(header 1 From)" root@example.com "... and its From, qualified"
is "$(header 1 Subject)" "Logwatch for logs1.example.net (Linux)" "... and its Subject"
is "$(header 1 Content-Type)" 'text/plain; charset="UTF-8"' "... and its Content-Type"
is "$(header 1 Precedence)" bulk "... and Precedence"
body_like 1 '-+ SSHD Begin -+ \r\n' "the report arrives"
body_like 1 '\r\n Failed logins from:\r\n +192\.0\.2\.7: 1 Time\r\n' \
    "... with what it found in the log"

done_testing
