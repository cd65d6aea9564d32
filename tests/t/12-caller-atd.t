#!/bin/bash
# at(1) and atd (the real programs) mail a job's output through relayq.
#
# Where the command line comes from: at 3.2.5 (Debian 12), atd.c
# run_file(): the output file starts "Subject: Output from your job
# NUMBER", "To: USER", an empty line; after the job, atd runs
# execl(SENDMAIL, "sendmail", "-i", mailname, NULL) (SENDMAIL is
# /usr/sbin/sendmail, mailname the user from the job's "# mail" line) with
# the output as standard input, as the job's user.
#
# at and atd run here for real, on a private spool: /var/spool/cron/atjobs
# and atspool are bind-mounted from $T inside the namespace.  `at now`
# queues the job, `atd -s` runs the queue once (the job and its mail run
# in a child that outlives atd, so the test waits for the queue).  atd
# passes its environment on to sendmail (RELAYQ_CONFIG reaches relayq that
# way; a host's atd, started by systemd, finds /etc/relayq.conf).  The
# configuration has neither 'from' nor 'qualify_domain', and the host name
# has no dot: the login name is qualified with Debian's /etc/mailname (a
# private one).
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"

caller_server
caller_aliases "root: admin@example.com"
caller_config "aliases $T/aliases"

mkdir -p "$T/atjobs" "$T/atspool"
printf '0\n' >"$T/atjobs/.SEQ"
chown daemon:daemon "$T/atjobs" "$T/atspool" "$T/atjobs/.SEQ"
chmod 1770 "$T/atjobs" "$T/atspool"
chmod 600 "$T/atjobs/.SEQ"
echo mail.example.net >"$T/mailname"
out=$'nightly import: 1204 rows\nr\xc3\xa9sultat: ok\n'
printf '%s' "$out" >"$T/output"

in_ns --hostname batch --bind "$T/mailname" /etc/mailname \
    --bind "$T/atjobs" /var/spool/cron/atjobs \
    --bind "$T/atspool" /var/spool/cron/atspool -- \
    sh -c "echo 'cat $T/output' | at now && /usr/sbin/atd -s" \
    >"$T/at.out" 2>&1
is "$RC" 0 "at queued the job and atd ran the queue"
wait_queued 1 10
is "$(queued)" 1 "the job's output was queued through sendmail"
is "$(called_path)" /usr/sbin/sendmail "atd ran /usr/sbin/sendmail"
is "$(called_args)" "-i root" "... with run_file()'s argv"

deliver
is "$RC" 0 "the flush delivered it"
wire_checks 1 atd
is "$(env_sender 1)" root@mail.example.net \
    "no -f, no from, no qualify_domain, a dotless host name: /etc/mailname"
is "$(env_rcpts 1)" admin@example.com "root went through the aliases file"
like "$(header 1 Subject)" '^Output from your job +1$' "atd's Subject arrives"
is "$(header 1 To)" root@mail.example.net "... and its To, qualified like the sender"
is "$(header 1 From)" root@mail.example.net "a From is added from the envelope sender"
body_is 1 "$out" "the job's output arrives byte for byte"

done_testing
