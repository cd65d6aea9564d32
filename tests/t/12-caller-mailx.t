#!/bin/bash
# mail(1) from bsd-mailx (the real program) submits through relayq.
#
# Where the command line comes from: bsd-mailx 8.1.2-0.20220412cvs (Debian
# 12) always runs /usr/sbin/sendmail (its send.c hands the message to the
# sendmail path it was built with), as `sendmail -i -t`, with To, Subject,
# Cc and Bcc in the header it writes, and MIME headers for the locale's
# charset; mail(1) has no option to choose another program.
#
# bsd-mailx runs here for real; /usr/sbin/sendmail is relayq inside a
# private mount namespace.  The configuration is the README's ('from',
# aliases, no qualify_domain).
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"

caller_server
caller_aliases "root: admin@example.com"
caller_config "from alerts@example.com" "aliases $T/aliases"

text=$'Disk almost full on web1: 97 %\nNettoyage n\xc3\xa9cessaire.\n.\nA line holding a single dot, and after it more.\n'
printf '%s' "$text" >"$T/text"
LC_ALL=C.UTF-8 in_ns -- /usr/bin/bsd-mailx -s 'disk alert' -c cc@example.net \
    -b bcc@example.net someone@example.net root <"$T/text" 2>"$T/err"
is "$RC" 0 "bsd-mailx ran through relayq"
is "$(called_path)" /usr/sbin/sendmail "it ran /usr/sbin/sendmail"
is "$(called_args)" "-i -t" "... with -i -t"

deliver
is "$RC" 0 "the flush delivered it"
wire_checks 1 bsd-mailx
is "$(env_sender 1)" alerts@example.com "no -f: the account's from"
is "$(env_rcpts 1 | sort | paste -sd ' ' -)" \
    "admin@example.com bcc@example.net cc@example.net someone@example.net" \
    "-t found To, Cc and Bcc; root went through the aliases file"
is "$(header 1 Subject)" "disk alert" "mail(1)'s Subject arrives"
is "$(header 1 To)" "root@example.com, someone@example.net" "... and its To (as mail(1) orders it, root qualified)"
is "$(header 1 Cc)" cc@example.net "... and its Cc"
is "$(header 1 From)" alerts@example.com "a From is added from the envelope sender"
is "$(header 1 Content-Type)" 'text/plain; charset="UTF-8"' "... mail(1)'s Content-Type arrives"
body_is 1 "$text" "the UTF-8 text arrives byte for byte, the dot line kept (-i)"

done_testing
