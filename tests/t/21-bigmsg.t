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
read -r rc rss secs < <(python3 - "$RQ" "$T/big" <<'PY'
import resource, subprocess, sys, time
t = time.time()
with open(sys.argv[2], 'rb') as f:
    rc = subprocess.call([sys.argv[1], '-odq', 'r@example.net'], stdin=f)
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, '%.2f' % (time.time() - t))
PY
)
diag "200 MB message ($size octets): exit $rc, peak RSS ${rss} KiB, ${secs}s"
is "$rc" 0 "a 200 MB message is queued"
ok "$([ "$rss" -lt 8192 ]; echo $?)" "peak RSS ${rss} KiB is under 8 MiB"
f=$(last_msg)
qsize=$(stat -c %s "$f")
ok "$([ "$qsize" -gt "$size" ]; echo $?)" "the queue file holds the whole message (CRLF: $qsize > $size)"
is "$(tail -c 200 "$f" | grep -ac 'THE END')" 1 "the last line is in the queue file"

done_testing
