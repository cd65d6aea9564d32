#!/bin/bash
# Perl's Email::Sender::Transport::Sendmail (the real module) sends
# through relayq, with a bare -f and "--".
#
# Where the command line comes from: Email-Sender 2.600 (Debian 12's
# libemail-sender-perl), Email/Sender/Transport/Sendmail.pm:
# _find_sendmail() takes the first "sendmail" in $PATH, then /usr/sbin and
# /usr/lib; _sendmail_pipe() opens "|-" on PROG, "-i", "-f", FROM, "--",
# TO...; send_email() writes the message with LF line ends.
#
# The module runs here for real through Email::Sender::Simple, with the
# envelope a web application gives it (from www-data, a bare name);
# /usr/sbin/sendmail is relayq inside a private mount namespace.  With the
# README's configuration ('from', aliases, no qualify_domain) www-data gets
# the domain of the account's from.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"
perl -MEmail::Sender::Simple -MEmail::Simple -e 1 2>/dev/null ||
    bail "Email::Sender is missing (libemail-sender-perl)"

caller_server
caller_aliases "root: admin@example.com"
caller_config "from alerts@example.com" "aliases $T/aliases"

cat >"$T/send.pl" <<'PL'
use strict;
use warnings;
use Email::Simple;
use Email::Sender::Simple qw(sendmail);
use Email::Sender::Transport::Sendmail;

my $email = Email::Simple->create(
    header => [
	From => 'Web App <www-data>',
	To => 'Ops <ops@example.net>',
	Subject => 'Nightly export finished',
    ],
    body => "Export: 1204 rows.\n.\nDone.\n",
);
open(my $fh, '>', $ARGV[0]) or die; print $fh $email->as_string; close $fh;
sendmail($email, {
    transport => Email::Sender::Transport::Sendmail->new,
    from => 'www-data',
    to => ['ops@example.net', 'root'],
});
PL
PATH=/usr/sbin:/usr/bin:/sbin:/bin in_ns -- perl "$T/send.pl" "$T/sent" \
    >"$T/out" 2>&1
is "$RC" 0 "Email::Sender sent it"
is "$(called_path)" /usr/sbin/sendmail "_find_sendmail() found /usr/sbin/sendmail"
is "$(called_args)" "-i -f www-data -- ops@example.net root" \
    "... and ran it with -i -f FROM -- TO..."

deliver
is "$RC" 0 "the flush delivered it"
wire_checks 1 "Email::Sender"
is "$(env_sender 1)" www-data@example.com \
    "-f www-data, no qualify_domain: the domain of the account's from"
is "$(env_rcpts 1 | paste -sd ' ' -)" "ops@example.net admin@example.com" \
    "the recipients after --; root went through the aliases file"
is "$(header 1 From)" "Web App <www-data@example.com>" "the application's From arrives with www-data qualified"
is "$(header 1 To)" "Ops <ops@example.net>" "... and its To"
is "$(header 1 Subject)" "Nightly export finished" "... and its Subject"
t=$(tr -d '\r' <"$T/sent"; echo .)
printf '%s' "${t%.}" >"$T/sent.lf"
body_as_sent 1 "$T/sent.lf" "the body arrives byte for byte, the dot line kept (-i)"

done_testing
