#!/bin/bash
# mdadm --monitor's alert mail goes through relayq, by /usr/lib/sendmail.
#
# Where the command line comes from: mdadm 4.2 (Debian 12), mdadm.h
# defines Sendmail as "/usr/lib/sendmail -t" and Monitor.c alert() runs
# popen(Sendmail, "w") (with MAILFROM: "/usr/lib/sendmail -t -fADDR"), so
# sh -c runs /usr/lib/sendmail -t.  The mail: "From: mdadm monitoring
# <root>" (or MAILFROM), "To: MAILADDR", "Subject: EVENT event on DEV:HOST",
# an empty line, "This is an automatically generated mail message from
# mdadm", "running on HOST", "A EVENT event had been detected on md device
# DEV.", "It could be related to component device DISC.", "Faithfully
# yours, etc.", then /proc/mdstat after a "P.S." line.
#
# mdadm --monitor needs a degraded array, so this is its exact command
# (through sh -c, as popen runs it) and a message shaped as alert() writes
# it.  /usr/lib/sendmail is the old path: `make install-sendmail` installs
# it too (tests/t/91-install.t).  The configuration is the README's
# ('from', aliases, no qualify_domain).
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"

caller_server
caller_aliases "root: storage@example.com"
caller_config "from alerts@example.com" "aliases $T/aliases"

mdstat='Personalities : [raid1] [linear] [multipath] [raid0] [raid6] [raid5] [raid4] [raid10]
md0 : active raid1 sdb1[1](F) sda1[0]
      976630464 blocks super 1.2 [2/1] [U_]
      bitmap: 2/8 pages [8KB], 65536KB chunk

unused devices: <none>
'
body="This is an automatically generated mail message from mdadm
running on nas1

A Fail event had been detected on md device /dev/md0.

It could be related to component device /dev/sdb1.

Faithfully yours, etc.

P.S. The /proc/mdstat file currently contains the following:

$mdstat"
printf 'From: mdadm monitoring <root>\nTo: root\nSubject: Fail event on /dev/md0:nas1\n\n%s' \
    "$body" >"$T/mail"
in_ns -- sh -c '/usr/lib/sendmail -t' <"$T/mail" 2>"$T/err"
is "$RC" 0 "mdadm's popen() command exits 0"
is "$(called_path)" /usr/lib/sendmail "it ran /usr/lib/sendmail"
is "$(called_args)" "-t" "... with mdadm's argv"

deliver
is "$RC" 0 "the flush delivered it"
wire_checks 1 mdadm
is "$(env_sender 1)" alerts@example.com "no -f: the account's from"
is "$(env_rcpts 1)" storage@example.com "-t found To: root, the aliases file mapped it"
is "$(header 1 From)" "mdadm monitoring <root@example.com>" "mdadm's From arrives with root qualified"
is "$(header 1 Subject)" "Fail event on /dev/md0:nas1" "... and its Subject"
body_is 1 "$body" "the alert and /proc/mdstat arrive byte for byte"

done_testing
