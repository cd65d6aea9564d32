#!/bin/bash
# anacron (the real program) mails a job's output through relayq.
#
# Where the command line comes from: anacron 2.3 (Debian 12's 2.3-36),
# runjob.c launch_mailer(): execl(SENDMAIL, SENDMAIL, "-FAnacron", "-odi",
# mailto, NULL) with SENDMAIL /usr/sbin/sendmail; the mail header written by
# launch_job(): "From: Anacron <USER>", "To: MAILTO", "Subject: Anacron job
# 'JOB' on HOST", Content-Type text/plain with the locale's charset.
#
# anacron runs here for real: `anacron -d -f -n -t TAB -S SPOOL` runs the
# tab's job now and mails its output.  It passes its environment on to the
# mailer, so RELAYQ_CONFIG reaches relayq that way (on a host started by
# systemd, /etc/relayq.conf is what relayq finds).  The configuration has
# qualify_domain and no 'from': the login name and a bare MAILTO that is no
# alias both get qualify_domain.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"

caller_server
caller_aliases "root: admin@example.com"
caller_config "aliases $T/aliases" "qualify_domain example.org"

mkdir -p "$T/anacron"
out=$'r\xc3\xa9sum\xc3\xa9 du jour\n.\nfin\n'
printf '#!/bin/sh\nprintf %%s "%s"\n' "$out" >"$T/report"
chmod +x "$T/report"
printf '%s\n' 'SHELL=/bin/sh' 'MAILTO=ops' "1	0	daily-report	$T/report" \
    >"$T/anacrontab"
LC_ALL=C.UTF-8 in_ns --hostname batch1.example.net -- \
    /usr/sbin/anacron -d -f -n -t "$T/anacrontab" -S "$T/anacron" \
    >"$T/anacron.out" 2>&1
is "$RC" 0 "anacron ran its job"
like "$(cat "$T/anacron.out")" "Job .daily-report. terminated \(mailing output\)" \
    "... and mailed its output"
is "$(calls)" 1 "anacron ran sendmail once"
is "$(called_path)" /usr/sbin/sendmail "... as /usr/sbin/sendmail"
is "$(called_args)" "-FAnacron -odi ops" "... with launch_mailer()'s argv"
like "$(cat "$T/flush-calls" 2>/dev/null)" "--id" "-odi tried the delivery at once"

deliver
is "$RC" 0 "the flush delivered it"
wire_checks 1 anacron
is "$(env_sender 1)" root@example.org "no -f, no from: the login name gets qualify_domain"
is "$(env_rcpts 1)" ops@example.org "a bare MAILTO that is no alias gets qualify_domain"
is "$(header 1 From)" "Anacron <root@example.org>" "anacron's From arrives with its bare name qualified"
is "$(header 1 To)" ops@example.org "... and its To, qualified too"
is "$(header 1 Subject)" "Anacron job 'daily-report' on batch1.example.net" "... and its Subject"
is "$(header 1 Content-Type)" "text/plain; charset=UTF-8" "... and its Content-Type"
# anacron passes no -i: as with sendmail and Postfix, the line holding a
# single dot ends the message there.
body_is 1 $'r\xc3\xa9sum\xc3\xa9 du jour\n' \
    "the UTF-8 output arrives byte for byte, up to the dot line (no -i)"

done_testing
