#!/bin/bash
# Durability: a crash at any point of a submission leaves either no message
# or a whole one, never a partial one a reader would take; a full disk or a
# failing write, fsync, close, rename or create gives a non-zero exit and
# leaves no file behind; the next submission works.
. "$(dirname "$0")/../lib/harness.sh"

export RELAYQ_FLUSH=/bin/false
SHIM=$TOP/tests/faultshim.so
basic_config

# A message big enough to need several writes (about 300 KB).
python3 - "$T/in" <<'PY'
import sys
with open(sys.argv[1], 'w') as f:
    f.write('Subject: durability\n\n')
    for i in range(6000):
        f.write('line %05d of the durability test message, fifty chars\n' % i)
    f.write('LAST LINE\n')
PY

# Queue directories exist before counting, so counts are of the message.
"$RQ" -odq r@example.net <"$T/in" 2>/dev/null || bail "cannot queue at all"
rm -f "$T"/queue/msg/* "$T"/queue/tmp/*

# Count the file system calls a submission makes on the queue.
LD_PRELOAD=$SHIM FAULT_PATH=$T/queue FAULT_LOG=$T/calls "$RQ" -odq r@example.net <"$T/in"
is "$?" 0 "a submission under the shim succeeds"
total=$(wc -l <"$T/calls" | tr -d ' ')
diag "a submission makes $total counted calls: $(awk '{print $2}' "$T/calls" | sort | uniq -c | tr '\n' ' ')"
ok "$([ "$total" -ge 6 ]; echo $?)" "the shim sees the queue's writes, fsyncs and rename"
rm -f "$T"/queue/msg/*

# SIGKILL after each counted call in turn.
partial=0 whole=0 none=0 exit0_without_msg=0
for k in $(seq 1 "$total"); do
	rm -f "$T"/queue/msg/* "$T"/queue/tmp/*
	# (in a subshell, so that bash does not report each kill)
	rc=$( (LD_PRELOAD=$SHIM FAULT_PATH=$T/queue FAULT_KILL_AFTER=$k "$RQ" -odq r@example.net <"$T/in" 2>/dev/null; echo $?) 2>/dev/null)
	n=$(queued)
	json=$("$RQ" -bp --json 2>/dev/null)
	listed=$(printf '%s' "$json" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo bad)
	if [ "$n" = 0 ]; then
		none=$((none + 1))
		[ "$rc" = 0 ] && exit0_without_msg=$((exit0_without_msg + 1))
		[ "$listed" = 0 ] || partial=$((partial + 1))
	elif [ "$n" = 1 ] && [ "$listed" = 1 ] && grep -aq 'LAST LINE' "$(last_msg)"; then
		whole=$((whole + 1))
	elif [ "$n" = 1 ] && [ "$listed" = 0 ]; then
		# A file the reader refuses is not "taken"; but a committed
		# file should never be torn: count it as a failure too.
		partial=$((partial + 1))
	else
		partial=$((partial + 1))
	fi
done
diag "kill points: $total; none: $none; whole: $whole; partial: $partial"
is "$partial" 0 "no kill point leaves a partial message"
is "$exit0_without_msg" 0 "relayq never exited 0 without a message"
ok "$([ "$none" -gt 0 ] && [ "$whole" -gt 0 ]; echo $?)" "kills before the commit leave nothing, kills after leave the whole message"

# After all that, a normal submission works.
rm -f "$T"/queue/msg/*
"$RQ" -odq r@example.net <"$T/in"
is "$?" 0 "the next submission after the crashes works"
is "$(queued)" 1 "... and is queued"
rm -f "$T"/queue/msg/* "$T"/queue/tmp/*

# Each failing call, with each errno, in turn.  A close only matters for
# the file being written (in tmp/); closing a directory or a read-only
# descriptor may fail harmlessly.
for op in open write fsync close rename; do
	path=$T/queue
	[ "$op" = close ] && path=$T/queue/tmp/
	# how many such calls a submission makes (those under $path)
	n=$(awk -v op="$op" -v p="$path" '$2 == op && (op != "close" || index($3, p) == 1)' "$T/calls" | wc -l | tr -d ' ')
	[ "$n" -gt 0 ] || n=1
	for e in ENOSPC EIO EDQUOT; do
		for nth in $(seq 1 "$n"); do
			LD_PRELOAD=$SHIM FAULT_PATH=$path FAULT_OP=$op FAULT_NTH=$nth FAULT_ERRNO=$e \
				"$RQ" -odq r@example.net <"$T/in" 2>"$T/err"
			rc=$?
			ok "$([ "$rc" != 0 ] && [ "$(queued)" = 0 ] && [ "$(tmp_left)" = 0 ]; echo $?)" \
				"$op #$nth failing with $e: exit $rc (non-zero), no file left"
			rm -f "$T"/queue/msg/* "$T"/queue/tmp/*
		done
	done
done
LD_PRELOAD=$SHIM FAULT_PATH=$T/queue FAULT_OP=write FAULT_ERRNO=ENOSPC "$RQ" -odq r@example.net <"$T/in" 2>"$T/err"
is "$?" 75 "ENOSPC on write is a temporary failure (75)"
is "$(wc -l <"$T/err" | tr -d ' ')" 1 "... reported on one line"
"$RQ" -odq r@example.net <"$T/in"
is "$?" 0 "the next submission after the failures works"

# A real full disk: a 256 KiB tmpfs.
mkdir -p "$T/small"
if mount -t tmpfs -o size=256k tmpfs "$T/small" 2>/dev/null; then
	at_exit "umount '$T/small'"
	write_config "account test" "host 127.0.0.1" "tls off" "from s@example.org"
	sed -i "s|^queue_dir .*|queue_dir $T/small/queue|" "$T/config"
	python3 -c 'import sys; sys.stdout.write("Subject: big\n\n" + ("x" * 70 + "\n") * 8000)' >"$T/big"
	"$RQ" -odq r@example.net <"$T/big" 2>"$T/err"
	is "$?" 75 "a message larger than the free space: 75"
	like "$(cat "$T/err")" 'No space left' "... saying the disk is full"
	is "$(find "$T/small/queue" -type f | wc -l | tr -d ' ')" 0 "... and leaves no file on the full disk"
	printf 'Subject: small\n\nfits\n' | "$RQ" -odq r@example.net
	is "$?" 0 "a small message still fits afterwards"
else
	bail "cannot mount a tmpfs (need root)"
fi

done_testing
