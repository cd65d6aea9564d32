#!/bin/bash
# relayq -- a 100 MB 8-bit attachment through the downgrade path in
# constant memory: submitted (its multipart has a long line, so the whole
# message is re-encoded at submission) and flushed to a server without
# 8BITMIME (the attachment becomes quoted-printable on the way out), each
# with peak RSS under 8 MiB, and the attachment decodes to what was sent.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"

PY=/usr/bin/python3
CHECK="$PY $TOP/tests/lib/mimecheck.py"
[ -x /usr/bin/time ] || bail "/usr/bin/time is missing (package time)"

$CHECK big "$T/big" 100 || bail "cannot write the big message"
srv_next "ehlo PIPELINING SIZE 1000000000 ENHANCEDSTATUSCODES"
flush_config "connections 1"

# GNU time forks a small process, so its peak RSS is relayq's own.
/usr/bin/time -o "$T/rss.submit" -f '%M %e' "$RQ" -odq big@example.net <"$T/big"
is "$?" 0 "a 100 MB multipart message with a long line is queued"
read -r rss secs <"$T/rss.submit"
diag "submit: peak RSS $rss KiB, $secs s"
ok "$([ "$rss" -lt 8192 ]; echo $?)" "submit: peak RSS $rss KiB is under 8 MiB"
like "$(grep -a -m1 -i '^Content-Transfer-Encoding: quoted-printable' "$(last_msg)")" \
    'quoted-printable' "the part with the long line was re-encoded at submission"

/usr/bin/time -o "$T/rss.flush" -f '%M %e' "$RQF" >"$T/.out" 2>"$T/.err"
is "$?" 0 "flushed to a server without 8BITMIME"
read -r rss secs <"$T/rss.flush"
diag "flush with the downgrade: peak RSS $rss KiB, $secs s"
ok "$([ "$rss" -lt 8192 ]; echo $?)" "flush: peak RSS $rss KiB is under 8 MiB"
got=$DIR/msg-1.eml
[ -f "$got" ] || bail "nothing arrived"
LC_ALL=C grep -q -m1 $'[\200-\377]' "$got"
ok "$([ $? -ne 0 ]; echo $?)" "no 8-bit octet arrived"
$CHECK bigcheck "$T/big" "$got" >"$T/big.out"
while read -r st rest; do
	[ "$st" = PASS ]
	ok $? "$rest"
done <"$T/big.out"
declared=$(sed -n 's/^MAIL .*SIZE=\([0-9]*\).*/\1/p' "$DIR/msg-1.env")
ok "$([ "${declared:-0}" -ge "$(stat -c %s "$got")" ]; echo $?)" \
    "SIZE=$declared covers the $(stat -c %s "$got") octets that arrived"

done_testing
