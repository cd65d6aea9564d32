#!/bin/bash
# A 200 MB message is queued with constant memory: peak RSS under 8 MiB
# (nullmailer, dma and Postfix stay between 3 and 7 MB).
. "$(dirname "$0")/../lib/harness.sh"

export RELAYQ_FLUSH=/bin/false
basic_config
python3 - "$T/big" <<'PY'
import sys
line = b'0123456789' * 7 + b'\n'          # 71 octets
with open(sys.argv[1], 'wb') as f:
    f.write(b'Subject: big\n\n')
    chunk = line * 14000                     # ~1 MB
    for i in range(200):
        f.write(chunk)
    f.write(b'THE END\n')
PY
size=$(stat -c %s "$T/big")
# GNU time forks a small process, so its peak RSS is relayq's own.
start=$(date +%s.%N)
/usr/bin/time -o "$T/rss" -f '%M' "$RQ" -odq r@example.net <"$T/big"
rc=$?
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" "BEGIN { printf \"%.2f\", b - a }")
rss=$(tail -1 "$T/rss")
diag "200 MB message ($size octets): exit $rc, peak RSS ${rss} KiB, ${secs}s"
is "$rc" 0 "a 200 MB message is queued"
ok "$([ "$rss" -lt 8192 ]; echo $?)" "peak RSS ${rss} KiB is under 8 MiB"
f=$(last_msg)
qsize=$(stat -c %s "$f")
ok "$([ "$qsize" -gt "$size" ]; echo $?)" "the queue file holds the whole message (CRLF: $qsize > $size)"
is "$(tail -c 200 "$f" | grep -ac 'THE END')" 1 "the last line is in the queue file"

done_testing
