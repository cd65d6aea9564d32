#!/bin/bash
# relayq -- relayq --metrics: the output parses with Prometheus's own
# text-format parser (python3-prometheus-client), every documented family
# is there with its type, and every number matches the queue (messages and
# octets by state, pending recipients, the oldest message's age, messages
# by why they wait, compared with relayq -bp --json on the same clock) and
# what the flushes did per account (sent, deferred, failed, the last
# delivery, the warm-up); the systemd unit's command writes the file for
# node_exporter atomically and keeps the old one when relayq fails.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"
/usr/bin/python3 -c 'import prometheus_client.parser' 2>/dev/null ||
    bail "python3-prometheus-client is missing (scripts/deps)"

# The fresh machine: no queue yet.
write_config "account t" "host 127.0.0.1" "port 9" "tls off" \
    "from sender@example.org" "account default : t"
"$RQ" --metrics >"$T/empty.prom"
is "$?" 0 "no queue yet: exit 0"
like "$(cat "$T/empty.prom")" 'relayq_queue_messages\{state="queued"\} 0' \
    "no queue yet: zero messages"

# Account t: five messages, one deferred (session 2), one failed (3).
srv_start "$T/srv" "ehlo PIPELINING 8BITMIME ENHANCEDSTATUSCODES" \
    "reply session#2 RCPT 451 4.3.0 try again later" \
    "reply session#3 RCPT 550 5.1.1 no such user"
DOWN=$(free_port)
write_config "logfile $T/log" "bounce off" "from sender@example.org" \
    "tls off" "account t" "host 127.0.0.1" "port $PORT" "connections 1" \
    "max_messages_per_connection 1" "warmup 6 10" \
    "account u" "host 127.0.0.1" "port $DOWN" "account default : t"
F=1795888800
for i in 1 2 3 4 5; do
	printf 'Subject: %d\n\nbody %d\n' "$i" "$i" |
	    RELAYQ_FAKE_NOW=$F "$RQ" -odq -a t "r$i@example.net,x$i@example.org"
done
for i in 1 2; do
	printf 'Subject: u%d\n\nbody\n' "$i" | RELAYQ_FAKE_NOW=$F "$RQ" -odq -a u "u$i@example.com"
done
RELAYQ_FAKE_NOW=$((F + 30)) "$RQF" >/dev/null 2>&1
printf 'Subject: late\n\nbody\n' | RELAYQ_FAKE_NOW=$((F + 60)) "$RQ" -odq -a t late@example.net
printf 'Subject: held\n\nbody\n' | RELAYQ_FAKE_NOW=$((F + 70)) "$RQ" -odq -a t held@example.net
"$RQ" --hold "$(ls -t "$T/queue/msg" | head -1)"

NOW=$((F + 80))	# before the deferred ones are due again (F + 90)
RELAYQ_FAKE_NOW=$NOW "$RQ" --metrics >"$T/m.prom"
is "$?" 0 "--metrics: exit 0"
RELAYQ_FAKE_NOW=$NOW "$RQ" -bp --json >"$T/q.json"

# Parse with prometheus_client and compare with the queue and the runs.
/usr/bin/python3 - "$T/m.prom" "$T/q.json" "$NOW" "$F" "$TOP/doc/report.md" >"$T/checks" <<'EOF'
import calendar, json, re, sys, time
from prometheus_client.parser import text_string_to_metric_families
prom, qf, now, f, doc = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
fams = {m.name: m for m in text_string_to_metric_families(open(prom).read())}
def val(name, **labels):
    fam = fams.get(re.sub(r"_total$", "", name))
    for s in fam.samples if fam else []:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return int(s.value)
    return None
def check(desc, got, want):
    print("%s\t%s\t%s" % (desc, got, want))
q = json.load(open(qf))
t = lambda s: calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))
# Every family of doc/report.md's table, with its type.
for name, typ in re.findall(r"^\| `(relayq_[a-z_]+)` \| (gauge|counter) \|", open(doc).read(), re.M):
    fam = fams.get(re.sub(r"_total$", "", name))
    check("family %s is a %s" % (name, typ), fam.type if fam else None, typ)
for st in ("queued", "deferred", "held", "failed"):
    ms = [m for m in q if m["state"] == st]
    check("messages %s" % st, val("relayq_queue_messages", state=st), len(ms))
    check("bytes %s" % st, val("relayq_queue_bytes", state=st), sum(m["size"] for m in ms))
live = [m for m in q if m["state"] != "failed"]
check("recipients pending", val("relayq_queue_recipients_pending"),
      sum(1 for m in live for r in m["recipients"] if r["status"] in ("pending", "deferred")))
check("oldest age", val("relayq_queue_oldest_message_age_seconds"),
      now - min(t(m["queued_at"]) for m in live))
check("waiting adds up", sum(val("relayq_queue_waiting_messages", reason=r) for r in
      ("due", "backoff", "host-down", "rate-limit", "warm-up", "held", "no-account")), len(live))
check("waiting held", val("relayq_queue_waiting_messages", reason="held"), 1)
check("waiting host-down", val("relayq_queue_waiting_messages", reason="host-down"), 2)
check("waiting due", val("relayq_queue_waiting_messages", reason="due"), 1)
check("waiting backoff", val("relayq_queue_waiting_messages", reason="backoff"), 1)
check("unreadable", val("relayq_queue_unreadable_messages"), 0)
check("t sent", val("relayq_account_messages_sent_total", account="t"), 3)
check("t deferrals", val("relayq_account_deferrals_total", account="t"), 1)
check("t failed", val("relayq_account_messages_failed_total", account="t"), 1)
check("t last success", val("relayq_account_last_success_timestamp_seconds", account="t"), f + 30)
check("t warm-up day", val("relayq_account_warmup_day", account="t"), 1)
check("t warm-up allowance", val("relayq_account_warmup_allowance_messages", account="t"), 6)
check("t counted today", val("relayq_account_warmup_sent_today_messages", account="t"), 5)
check("u sent", val("relayq_account_messages_sent_total", account="u"), 0)
check("u deferrals", val("relayq_account_deferrals_total", account="u"), 2)
check("u failed", val("relayq_account_messages_failed_total", account="u"), 0)
check("u never delivered: no sample", val("relayq_account_last_success_timestamp_seconds", account="u"), None)
check("u has no warm-up: no sample", val("relayq_account_warmup_day", account="u"), None)
check("no state errors", len([s for s in fams["relayq_account_state_error"].samples]), 0)
EOF
[ -s "$T/checks" ] || bail "the metrics check did not run"
while IFS=$'\t' read -r desc got want; do
	is "$got" "$want" "$desc"
done <"$T/checks"
is "$(grep -E '^relayq_[a-z_]+(\{[^}]*\})? -?[0-9]+$' -vc "$T/m.prom" | tr -d ' ')" \
    "$(grep -c '^#' "$T/m.prom" | tr -d ' ')" "every line is a comment or a plain sample (no timestamps)"

# Two days later (day 3: past the two-day ramp) the allowance is gone.
RELAYQ_FAKE_NOW=$((F + 2 * 86400 + 100)) "$RQ" --metrics >"$T/m3.prom"
unlike "$(cat "$T/m3.prom")" 'relayq_account_warmup_allowance_messages\{' \
    "past the ramp: no allowance sample (unlimited)"
like "$(cat "$T/m3.prom")" 'relayq_account_warmup_day\{account="t"\} 3' \
    "past the ramp: day 3"

# The systemd unit's command, pointed at a directory of ours.
unit=$TOP/scripts/systemd/relayq-metrics.service
cmd=$(sed -n 's/^ExecStart=\/bin\/sh -c //p' "$unit" | sed "s/^'//; s/'\$//; s/\\\$\\\$/\$/g")
[ -n "$cmd" ] || bail "no ExecStart in $unit"
mkdir -p "$T/textfile" "$T/bin"
ln -s "$RQ" "$T/bin/relayq"
cmd=${cmd//\/var\/lib\/prometheus\/node-exporter/$T\/textfile}
cmd=${cmd//\/usr\/local\/sbin\/relayq/$T\/bin\/relayq}
RELAYQ_FAKE_NOW=$NOW sh -c "$cmd"
is "$?" 0 "the unit's command: exit 0"
is "$(cat "$T/textfile/relayq.prom")" "$(cat "$T/m.prom")" \
    "it wrote relayq.prom, the same as relayq --metrics"
is "$(ls -A "$T/textfile")" "relayq.prom" "and left no temporary file"
is "$(stat -c %a "$T/textfile/relayq.prom")" 644 "readable by the collector"
RELAYQ_CONFIG=$T/nonexistent sh -c "$cmd" 2>/dev/null
ok "$([ $? -ne 0 ]; echo $?)" "relayq failing: the command fails"
is "$(cat "$T/textfile/relayq.prom")" "$(cat "$T/m.prom")" \
    "and the old relayq.prom stays as it was"
is "$(ls -A "$T/textfile")" "relayq.prom" "with no temporary file left"

done_testing
