#!/bin/bash
# apticron's report goes through mail(1) (the real bsd-mailx) and relayq.
#
# Where the command line comes from: apticron 1.2.5+nmu1 (Debian 12),
# /usr/sbin/apticron: the report is piped to its Mailx() function, which
# for bsd-mailx (readlink -e /usr/bin/mailx) runs
#   /usr/bin/mailx -a "MIME-Version: 1.0" \
#     -a "Content-type: text/plain; charset=UTF-8" \
#     -a "Content-transfer-encoding: 8bit" -s "$MAILX_SUBJECT" $EMAIL
# with the Subject "N Debian package update(s) for HOST" and EMAIL from
# apticron.conf (default "root"); bsd-mailx then runs
# `/usr/sbin/sendmail -i -t`.
#
# apticron needs apt to find pending upgrades, so this is its exact mailx
# command, run with the real bsd-mailx, on a report shaped as apticron's
# here-document writes it.  The configuration is the README's ('from',
# aliases, no qualify_domain).
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"

[ "$(readlink -e /usr/bin/mailx)" = /usr/bin/bsd-mailx ] ||
    bail "/usr/bin/mailx is not bsd-mailx (apticron's Mailx() would take another branch)"

caller_server
caller_aliases "root: admin@example.com"
caller_config "from alerts@example.com" "aliases $T/aliases"

report=$'apticron report [Mon, 05 Jan 2026 06:25:01 +0000]
========================================================================

apticron has detected that some packages need upgrading on:

\tweb1.example.net [ 192.0.2.10 ]

The following packages are currently pending an upgrade:

\tlibssl3 3.0.17-1~deb12u3
\topenssl 3.0.17-1~deb12u3

========================================================================

Package Details:

Reading changelogs...
--- Changes for openssl (libssl3 openssl) ---
openssl (3.0.17-1~deb12u3) bookworm-security; urgency=medium

  * Fix CVE-2026-0001 (thanks to J\xc3\xa9r\xc3\xb4me).

========================================================================

You can perform the upgrade by issuing the command:

\tapt full-upgrade

as root on web1.example.net

--
apticron
'
printf '%s' "$report" >"$T/report"
in_ns -- /usr/bin/mailx -a "MIME-Version: 1.0" \
    -a "Content-type: text/plain; charset=UTF-8" \
    -a "Content-transfer-encoding: 8bit" \
    -s "2 Debian package update(s) for web1.example.net" root \
    <"$T/report" 2>"$T/err"
is "$RC" 0 "apticron's mailx command exits 0"
is "$(called_args)" "-i -t" "bsd-mailx ran sendmail -i -t"

deliver
is "$RC" 0 "the flush delivered it"
wire_checks 1 apticron
is "$(env_sender 1)" alerts@example.com "no -f: the account's from"
is "$(env_rcpts 1)" admin@example.com "-t found To: root, the aliases file mapped it"
is "$(header 1 Subject)" "2 Debian package update(s) for web1.example.net" "apticron's Subject arrives"
is "$(header 1 MIME-Version)" "1.0" "... and the MIME-Version it adds with -a"
is "$(header 1 Content-type)" "text/plain; charset=UTF-8" "... and its Content-type"
is "$(header 1 Content-transfer-encoding)" 8bit "... and its Content-transfer-encoding"
is "$(env_mail 1)" "MAIL FROM:<alerts@example.com> BODY=8BITMIME" "8-bit text goes as BODY=8BITMIME"
body_is 1 "$report" "the report, tabs and UTF-8 included, arrives byte for byte"

done_testing
