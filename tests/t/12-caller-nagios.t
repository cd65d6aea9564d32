#!/bin/bash
# Nagios's e-mail notifications go through mail(1) (the real bsd-mailx)
# and relayq.
#
# Where the command line comes from: Nagios 4.4.6 (Debian 12's
# nagios4-common), /etc/nagios4/objects/commands.cfg:
#   notify-host-by-email: /usr/bin/printf "%b" "***** Nagios *****\n\n
#     Notification Type: $NOTIFICATIONTYPE$\nHost: $HOSTNAME$\nState:
#     $HOSTSTATE$\nAddress: $HOSTADDRESS$\nInfo: $HOSTOUTPUT$\n\nDate/Time:
#     $LONGDATETIME$\n" | /usr/bin/mail -s "** $NOTIFICATIONTYPE$ Host
#     Alert: $HOSTNAME$ is $HOSTSTATE$ **" $CONTACTEMAIL$
#   notify-service-by-email: the same shape with the service's macros.
# Nagios substitutes the macros and runs the line with /bin/sh -c; Debian's
# mail (bsd-mailx) runs `/usr/sbin/sendmail -i -t`.
#
# The Nagios daemon needs hosts to watch, so this runs both command lines
# as Nagios runs them once the macros are substituted, with the real
# printf and bsd-mailx.  The configuration has qualify_domain and no
# 'from', and no aliases file: the login name gets qualify_domain.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"

caller_server
caller_config "qualify_domain example.org"

in_ns -- sh -c '/usr/bin/printf "%b" "***** Nagios *****\n\nNotification Type: PROBLEM\nHost: db1\nState: DOWN\nAddress: 192.0.2.20\nInfo: CRITICAL - Host Unreachable (192.0.2.20)\n\nDate/Time: Mon Jan 5 03:00:00 UTC 2026\n" | /usr/bin/mail -s "** PROBLEM Host Alert: db1 is DOWN **" oncall@example.com' \
    2>"$T/err"
is "$RC" 0 "notify-host-by-email exits 0"
is "$(called_args)" "-i -t" "bsd-mailx ran sendmail -i -t"
deliver
is "$RC" 0 "the flush delivered it"
wire_checks 1 "host notification"
is "$(env_sender 1)" root@example.org "no -f, no from: the login name gets qualify_domain"
is "$(env_rcpts 1)" oncall@example.com "the contact's address"
is "$(header 1 Subject)" "** PROBLEM Host Alert: db1 is DOWN **" "the Subject arrives"
is "$(header 1 To)" oncall@example.com "... and mail(1)'s To"
is "$(header 1 From)" root@example.org "a From is added from the envelope sender"
body_is 1 "***** Nagios *****

Notification Type: PROBLEM
Host: db1
State: DOWN
Address: 192.0.2.20
Info: CRITICAL - Host Unreachable (192.0.2.20)

Date/Time: Mon Jan 5 03:00:00 UTC 2026
" "the notification arrives byte for byte"

in_ns -- sh -c '/usr/bin/printf "%b" "***** Nagios *****\n\nNotification Type: PROBLEM\n\nService: Disk /var\nHost: db1\nAddress: 192.0.2.20\nState: CRITICAL\n\nDate/Time: Mon Jan 5 03:05:00 UTC 2026\n\nAdditional Info:\n\nDISK CRITICAL - free space: /var 312 MB (3% inode=88%):\n" | /usr/bin/mail -s "** PROBLEM Service Alert: db1/Disk /var is CRITICAL **" oncall@example.com dba@example.com' \
    2>"$T/err"
is "$RC" 0 "notify-service-by-email exits 0"
deliver
is "$(env_rcpts 2 | sort | paste -sd ' ' -)" "dba@example.com oncall@example.com" "both contacts"
is "$(header 2 Subject)" "** PROBLEM Service Alert: db1/Disk /var is CRITICAL **" "the Subject arrives"
body_like 2 '\r\nAdditional Info:\r\n\r\nDISK CRITICAL - free space: /var 312 MB \(3% inode=88%\):\r\n\z' \
    "the plugin's output arrives"

done_testing
