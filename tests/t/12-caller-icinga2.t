#!/bin/bash
# Icinga 2's mail-host-notification.sh goes through mail(1) (the real
# bsd-mailx) and relayq.
#
# Where the command line comes from: Icinga 2 2.13.6 (Debian 12's
# icinga2-common), /etc/icinga2/scripts/mail-host-notification.sh: it
# builds SUBJECT="[$NOTIFICATIONTYPE] Host $HOSTDISPLAYNAME is $HOSTSTATE!"
# and a NOTIFICATION_MESSAGE from a here-document ("***** Host Monitoring
# on $ICINGA2HOST *****", the state, "Info:", "When:", "Host:", "IPv4:"),
# then, with -f MAILFROM on Debian (/etc/debian_version exists):
#   /usr/bin/printf "%b" "$NOTIFICATION_MESSAGE" |
#       $MAILBIN -a "From: $MAILFROM" -s "$SUBJECT" $USEREMAIL
# with MAILBIN="mail"; Debian's mail (bsd-mailx) runs
# `/usr/sbin/sendmail -i -t`.
#
# The Icinga 2 daemon needs hosts to watch, so this is the script's last
# command as it runs it, with the real printf and bsd-mailx, on a message
# shaped as its here-document makes it.  The configuration is the
# README's ('from', aliases, no qualify_domain).
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"

caller_server
caller_aliases "root: admin@example.com"
caller_config "from alerts@example.com" "aliases $T/aliases"

message=$'***** Host Monitoring on mon1.example.net *****

db1.example.net is DOWN!

Info:    CRITICAL - Host Unreachable (192.0.2.20)

When:    2026-01-05 03:00:00 +0000
Host:    db1
IPv4:\t 192.0.2.20'
export NOTIFICATION_MESSAGE=$message MAILFROM=icinga@example.com \
    SUBJECT='[PROBLEM] Host db1.example.net is DOWN!' USEREMAIL=oncall@example.com
in_ns -- sh -c '/usr/bin/printf "%b" "$NOTIFICATION_MESSAGE" | mail -a "From: $MAILFROM" -s "$SUBJECT" $USEREMAIL' \
    2>"$T/err"
is "$RC" 0 "the notification command exits 0"
is "$(called_args)" "-i -t" "bsd-mailx ran sendmail -i -t"

deliver
is "$RC" 0 "the flush delivered it"
wire_checks 1 icinga2
is "$(env_sender 1)" alerts@example.com "no -f: the account's from"
is "$(env_rcpts 1)" oncall@example.com "the user's address"
is "$(header 1 From)" icinga@example.com "the From given with mail -a arrives"
is "$(header 1 Subject)" "[PROBLEM] Host db1.example.net is DOWN!" "... and the Subject"
body_is 1 "$message" "the message (a tab, no last line end) arrives byte for byte"

done_testing
