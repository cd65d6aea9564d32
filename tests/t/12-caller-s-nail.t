#!/bin/bash
# s-nail (the real program) submits through relayq.
#
# Where the command line comes from: s-nail 14.9 (Debian 12), s-nail(1),
# variable *mta* (default /usr/sbin/sendmail): s-nail runs it as `MTA -i
# [-f FROM] -- RECIPIENTS` (-f from -r, or *from* with *r-option-implicit*),
# every recipient on the command line (Bcc ones only there), waiting for it
# with *sendwait*.
#
# s-nail runs here for real, -:/ (no configuration files), *mta* set to
# the path it has by default; that path is relayq inside a private mount
# namespace.  The configuration is the README's ('from', aliases, no
# qualify_domain).
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"

caller_server
caller_aliases "root: admin@example.com"
caller_config "from alerts@example.com" "aliases $T/aliases"

text=$'hello from s-nail\nd\xc3\xa9j\xc3\xa0 vu\n'
printf '%s' "$text" >"$T/text"
LC_ALL=C.UTF-8 in_ns -- s-nail -:/ -S mta=/usr/sbin/sendmail -S sendwait \
    -r ops@example.org -s 'snail subject' -c cc@example.net \
    -b bcc@example.net root <"$T/text" >"$T/out" 2>&1
is "$RC" 0 "s-nail submitted through relayq"
is "$(called_args)" "-i -f ops@example.org -- root cc@example.net bcc@example.net" \
    "s-nail's argv: -i, -f from -r, --, every recipient"

deliver
is "$RC" 0 "the flush delivered it"
wire_checks 1 s-nail
is "$(env_sender 1)" ops@example.org "-f is the envelope sender"
is "$(env_rcpts 1 | sort | paste -sd ' ' -)" \
    "admin@example.com bcc@example.net cc@example.net" \
    "the argument recipients; root went through the aliases file"
is "$(header 1 Subject)" "snail subject" "s-nail's Subject arrives"
is "$(header 1 From)" ops@example.org "... and its From"
is "$(header 1 To)" root@example.com "... and its To, qualified"
is "$(header 1 Cc)" cc@example.net "... and its Cc"
like "$(header 1 Message-ID)" '@example\.org>$' "... and its Message-ID"
like "$(header 1 User-Agent)" '^s-nail v' "... and its User-Agent"
is "$(header 1 Content-Transfer-Encoding)" quoted-printable \
    "s-nail encodes 8-bit text as quoted-printable (its *mime-encoding*)"
body_is 1 $'hello from s-nail\nd=C3=A9j=C3=A0 vu\n' "... and that arrives byte for byte"

done_testing
