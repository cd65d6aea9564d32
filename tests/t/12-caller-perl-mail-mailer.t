#!/bin/bash
# Perl's Mail::Mailer (MailTools, the real module) sends through relayq.
#
# Where the command line comes from: MailTools 2.21 (Debian 12's
# libmailtools-perl): Mail/Mailer.pm finds the "sendmail" mailer at the
# first of /usr/sbin/sendmail, /usr/lib/sendmail, /usr/ucblib/sendmail;
# Mail/Mailer/sendmail.pm exec() runs exec($exe, '-t', @args) (no
# recipients on the command line: -t reads them, Bcc included); open()
# writes the headers it was given, then the caller prints the body.
#
# The module runs here for real; /usr/sbin/sendmail is relayq inside a
# private mount namespace.  The configuration has qualify_domain and no
# 'from': the login name gets qualify_domain, and so does a bare Cc.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"
perl -MMail::Mailer -e 1 2>/dev/null || bail "Mail::Mailer is missing (libmailtools-perl)"

caller_server
caller_config "qualify_domain example.org"

cat >"$T/send.pl" <<'PL'
use strict;
use warnings;
use Mail::Mailer;

my $m = Mail::Mailer->new('sendmail');
$m->open({
    From => 'Backup <backup@example.org>',
    To => ['ops@example.net'],
    Cc => 'dba',
    Bcc => 'archive@example.org',
    Subject => 'Backup report',
}) or die "open: $!";
print $m "All 12 databases dumped.\n.\nNext run: 02:00.\n";
$m->close or die "close: $!";
PL
in_ns -- perl "$T/send.pl" >"$T/out" 2>&1
is "$RC" 0 "Mail::Mailer sent it"
is "$(called_path)" /usr/sbin/sendmail "it found /usr/sbin/sendmail"
is "$(called_args)" "-t" "... and ran it with -t"

deliver
is "$RC" 0 "the flush delivered it"
wire_checks 1 "Mail::Mailer"
is "$(env_sender 1)" root@example.org "no -f, no from: the login name gets qualify_domain"
is "$(env_rcpts 1 | sort | paste -sd ' ' -)" \
    "archive@example.org dba@example.org ops@example.net" \
    "-t found To, Cc and Bcc; the bare Cc got qualify_domain"
is "$(header 1 From)" "Backup <backup@example.org>" "its From arrives"
is "$(header 1 To)" ops@example.net "... and its To"
is "$(header 1 Cc)" dba@example.org "... and its Cc, qualified"
is "$(header 1 Subject)" "Backup report" "... and its Subject"
# Mail::Mailer passes no -i: as with sendmail and Postfix, the line holding
# a single dot ends the message there.
body_is 1 $'All 12 databases dumped.\n' \
    "the body arrives byte for byte, up to the dot line (no -i)"

done_testing
