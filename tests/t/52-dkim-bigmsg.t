#!/bin/bash
# relayq -- a 200 MB message DKIM-signed in constant memory, and read once:
# queued by an account that signs, its body is hashed while it streams into
# the queue; the flush reads the header section, signs, and sends, with a
# peak RSS under 8 MiB and the queue file read once in all.  Queued before
# DKIM was configured, the flush hashes it in one streaming pass first
# (read twice, still under 8 MiB).  OpenDKIM verifies both as received.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"
. "$TOP/tests/lib/dkim.sh"

command -v strace >/dev/null || bail "strace is needed (scripts/deps installs it)"
[ -x /usr/bin/time ] || bail "/usr/bin/time is needed (the time package)"
export RELAYQ_FLUSH=/bin/false
dkim_keys "$T/k"
echo "sel._domainkey.example.org $T/k/rsa.txt" >"$T/zone"
python3 - "$T/big" <<'PY'
import sys
line = b'0123456789' * 7 + b'\n'          # 71 octets
with open(sys.argv[1], 'wb') as f:
    f.write(b'From: big@example.org\nSubject: big\n\n')
    chunk = line * 14000                     # ~1 MB
    for i in range(200):
        f.write(chunk)
    f.write(b'THE END\n')
PY
size=$(stat -c %s "$T/big")

signing=("dkim_domain example.org" "dkim_selector sel" "dkim_key $T/k/rsa.key")

# secs_since START: seconds since date +%s.%N gave START.
secs_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

# run_flush LABEL: relayq-flush under GNU time (peak RSS) and strace
# (what it read with pread from the queue file); sets RSS, READ, SECS.
run_flush() {
	local start
	start=$(date +%s.%N)
	/usr/bin/time -o "$T/rss" -f '%M' strace -f -qq --seccomp-bpf \
	    -e trace=pread64 -o "$T/trace" "$RQF" >"$T/.out" 2>&1
	RC=$?
	SECS=$(secs_since "$start")
	RSS=$(tail -1 "$T/rss")
	READ=$(python3 - "$T/trace" "$T/queue/msg" <<'EOF'
import re, sys
total = 0
for line in open(sys.argv[1]):
    m = re.search(r"pread64\((\d+), .*\) = (\d+)$", line)
    if m:
        total += int(m.group(2))
print(total)
EOF
)
}

# --- queued by an account that signs: hashed on the way in ------------------
srv_next "ehlo PIPELINING 8BITMIME SIZE"
flush_config "connections 1" "${signing[@]}"
start=$(date +%s.%N)
/usr/bin/time -o "$T/rss" -f '%M' "$RQ" -odq r@example.net <"$T/big"
rc=$?
secs=$(secs_since "$start")
rss=$(tail -1 "$T/rss")
diag "submit with the body hash: exit $rc, peak RSS $rss KiB, ${secs}s"
is "$rc" 0 "a 200 MB message is queued by an account that signs"
ok "$([ "$rss" -lt 8192 ]; echo $?)" "... peak RSS $rss KiB is under 8 MiB"
qf=$(last_msg)
like "$(tail -c 120 "$qf")" "dkim-bh=relaxed:" "... with its body hash in the trailer"

run_flush
diag "flush, signed with the recorded hash: exit $RC, peak RSS $RSS KiB, ${SECS}s, $READ octets read"
is "$RC" 0 "the flush signs and relays it"
ok "$([ "$RSS" -lt 8192 ]; echo $?)" "... peak RSS $RSS KiB (flush and strace) is under 8 MiB"
ok "$([ "$READ" -lt $((size * 11 / 10)) ] && [ "$READ" -ge "$size" ]; echo $?)" \
    "... the body was read once: $READ octets for a $size-octet message"
is "$(dkim_opendkim "$T/zone" "$DIR/msg-1.eml")" pass "... and opendkim-testmsg verifies it"

# --- queued before DKIM was configured: one hashing pass at flush -------------
srv_next "ehlo PIPELINING 8BITMIME SIZE"
flush_config "connections 1"
"$RQ" -odq r@example.net <"$T/big" || bail "cannot queue"
unlike "$(tail -c 120 "$(last_msg)")" "dkim-bh=" "queued without DKIM: no body hash"
flush_config "connections 1" "${signing[@]}"
run_flush
diag "flush, hashing first: exit $RC, peak RSS $RSS KiB, ${SECS}s, $READ octets read"
is "$RC" 0 "the flush hashes, signs and relays it"
ok "$([ "$RSS" -lt 8192 ]; echo $?)" "... peak RSS $RSS KiB is under 8 MiB"
ok "$([ "$READ" -ge $((size * 2)) ] && [ "$READ" -lt $((size * 22 / 10)) ]; echo $?)" \
    "... reading it twice, no more: $READ octets"
is "$(dkim_opendkim "$T/zone" "$DIR/msg-1.eml")" pass "... and opendkim-testmsg verifies it"
is "$(tail -c 9 "$DIR/msg-1.eml" | tr -d '\r\n')" "THE END" "... whole, to the last line"

done_testing
