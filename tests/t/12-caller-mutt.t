#!/bin/bash
# mutt (the real program) sends through relayq with `set sendmail`.
#
# Where the command line comes from: mutt 2.2 (Debian 12), muttrc(5)
# "sendmail" (default "/usr/sbin/sendmail -oem -oi"): mutt runs that
# command with, after its words, "-f FROM" when use_envelope_from is set,
# "--", then every recipient (To, Cc and Bcc; Bcc is not written into the
# message, write_bcc being off), the message on standard input.
#
# mutt runs here for real in batch mode (-s SUBJECT ... < FILE), with
# `set sendmail` written out as its default; that path is relayq inside a
# private mount namespace.  The configuration is the README's ('from',
# aliases, no qualify_domain).
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"
MUA=${MUA:-mutt}
command -v "$MUA" >/dev/null || bail "$MUA is missing"

caller_server
caller_aliases "root: admin@example.com"
caller_config "from alerts@example.com" "aliases $T/aliases"

mkdir -p "$HOME/Mail"
cat >"$T/muttrc" <<EOF
set sendmail="/usr/sbin/sendmail -oem -oi"
set from="Alice Example <alice@example.org>"
set use_envelope_from=yes
set hostname="example.org"
set charset="utf-8"
set send_charset="us-ascii:utf-8"
set record=""
set folder="$HOME/Mail"
set spoolfile="$HOME/Mail/inbox"
EOF
text=$'Bonjour,\n\nle rapport est pr\xc3\xaat.\n.\nfin\n'
printf '%s' "$text" >"$T/text"
LC_ALL=C.UTF-8 in_ns -- "$MUA" -n -F "$T/muttrc" -s $'Rapport pr\xc3\xaat' \
    -c cc@example.net -b bcc@example.net -- 'Bob <bob@example.net>' \
    <"$T/text" >"$T/out" 2>&1
is "$RC" 0 "$MUA sent the message through relayq"
is "$(called_args)" \
    "-oem -oi -f alice@example.org -- bob@example.net cc@example.net bcc@example.net" \
    "$MUA's argv: its sendmail words, -f, --, every recipient"

deliver
is "$RC" 0 "the flush delivered it"
wire_checks 1 "$MUA"
is "$(env_sender 1)" alice@example.org "-f (use_envelope_from) is the envelope sender"
is "$(env_rcpts 1 | paste -sd ' ' -)" \
    "bob@example.net cc@example.net bcc@example.net" "every recipient, Bcc included"
is "$(header 1 From)" "Alice Example <alice@example.org>" "$MUA's From arrives"
is "$(header 1 To)" "Bob <bob@example.net>" "... and its To"
is "$(header 1 Cc)" cc@example.net "... and its Cc"
is "$(header 1 Subject)" "Rapport =?utf-8?B?cHLDqnQ=?=" "... and its RFC 2047 Subject"
like "$(header 1 Message-ID)" '@example\.org>$' "... and its own Message-ID"
is "$(header 1 Content-Transfer-Encoding)" 8bit "... and its Content-Transfer-Encoding"
body_is 1 "$text" "the UTF-8 text arrives byte for byte, the dot line kept (-oi)"

done_testing
