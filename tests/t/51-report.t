#!/bin/bash
# relayq -- relayq --report over a log and a failed area made by real
# flushes: the test server answers each message with a real reply of a
# receiver or relay service (tests/t/51-report-replies.tab, one per cause,
# each with its source), plus an AUTH refusal and a smart host that is
# down.  Every case is classified as expected (status, cause, list or
# check named, code, enhanced code) in the JSON and in the human output;
# the JSON has the shape doc/report.md documents (checked against the
# schema there); human lines fit 80 columns; the journal and syslog
# exports give the same groups as the logfile; --since keeps only recent
# events; without a log the failed area still tells the failures; and the
# queue's shape says why the oldest message waits.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"

TAB=$TOP/tests/t/51-report-replies.tab
grep -v '^#' "$TAB" >"$T/cases"
N=$(wc -l <"$T/cases" | tr -d ' ')
[ "$N" -ge 20 ] || bail "too few cases in $TAB"

# The server: case n is answered in session n (one message a session).
{
	echo "ehlo PIPELINING 8BITMIME ENHANCEDSTATUSCODES"
	n=0
	while IFS=$'\t' read -r stage cause detail enh reply; do
		n=$((n + 1))
		echo "reply session#$n $stage $reply"
	done <"$T/cases"
} >"$T/script"
mapfile -t lines <"$T/script"
srv_start "$T/srv" "${lines[@]}"
MAIN=$PORT
srv_next "ehlo PIPELINING AUTH PLAIN" "user alice s3cret" \
    'reply AUTH 535-5.7.8 Username and Password not accepted. Learn more at\n535 5.7.8 https://support.google.com/mail/?p=BadCredentials t66sm6271302pjb.45 - gsmtp'
AUTHP=$PORT
DOWN=$(free_port)

write_config "logfile $T/log" "bounce off" "from sender@example.org" \
    "domain client.example.org" "tls off" \
    "account t" "host 127.0.0.1" "port $MAIN" "connections 1" \
    "max_messages_per_connection 1" \
    "account a" "host 127.0.0.1" "port $AUTHP" "auth on" "user alice" \
    "password wrong" "allow_plaintext_auth on" \
    "account d" "host 127.0.0.1" "port $DOWN" \
    "account default : t"

for n in $(seq 1 "$N"); do
	printf 'Subject: case %d\n\nbody\n' "$n" |
	    "$RQ" -odq -a t "r@case$n.example" || bail "cannot queue case $n"
done
printf 'Subject: auth\n\nbody\n' | "$RQ" -odq -a a r@auth.example
printf 'Subject: down\n\nbody\n' | "$RQ" -odq -a d r@down.example
flushed=$(date +%s)
"$RQF" >/dev/null 2>&1
# Reports on relayq's clock just after the flush: backoff still running.
export RELAYQ_FAKE_NOW=$((flushed + 5))
ok "$([ "$(ls "$T"/srv/conn-*.info 2>/dev/null | wc -l)" -ge "$N" ]; echo $?)" \
    "the server saw one session per case"

# The expected outcome of each case, from the table.
n=0
while IFS=$'\t' read -r stage cause detail enh reply; do
	n=$((n + 1))
	st=failed
	[ "${reply:0:1}" = 4 ] && st=deferred
	# RFC 5321 4.5.3.1.10: a 552 to RCPT is taken as 452.
	[ "$stage ${reply:0:3}" = "RCPT 552" ] && st=deferred
	printf 'case%d.example %s %s %s %s %s\n' "$n" "$st" "$cause" \
	    "$detail" "${reply:0:3}" "$enh"
done <"$T/cases" >"$T/want"
echo "auth.example deferred auth - 535 5.7.8" >>"$T/want"
echo "down.example deferred host-down - - -" >>"$T/want"

# groups FILE: "DOMAIN STATUS CAUSE DETAIL CODE ENHANCED" per group.
groups() {
	/usr/bin/python3 - "$1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
for g in r["groups"]:
    print(g["domain"], g["status"], g["cause"], g["detail"] or "-",
          g["code"] or "-", g["enhanced"] or "-")
EOF
}

"$RQ" --report --json >"$T/report.json"
is "$?" 0 "--report --json: exit 0"
groups "$T/report.json" >"$T/got"
while read -r dom want; do
	is "$(grep "^$dom " "$T/got" | cut -d' ' -f2-)" "$want" \
	    "$dom: ${want}"
done <"$T/want"
is "$(wc -l <"$T/got" | tr -d ' ')" "$((N + 2))" "one group per case"

# The JSON has the documented shape: the schema in doc/report.md.
schema_check() {
	/usr/bin/python3 - "$TOP/doc/report.md" "$1" "$2" <<'EOF'
import json, re, sys
doc = open(sys.argv[1]).read()
m = re.search(r"<!-- schema: %s -->\s*```json\n(.*?)```" % sys.argv[3], doc, re.S)
if not m:
    print("no schema %s in doc/report.md" % sys.argv[3]); sys.exit(1)
schema = json.loads(m.group(1))
types = {"object": dict, "array": list, "string": str, "null": type(None),
         "boolean": bool}
errors = []
def check(v, s, path):
    t = s.get("type")
    if t is not None:
        ts = t if isinstance(t, list) else [t]
        good = any((x == "integer" and isinstance(v, int) and not isinstance(v, bool))
                   or (x in types and isinstance(v, types[x])) for x in ts)
        if not good:
            errors.append("%s: %r is not %s" % (path, v, t)); return
    if "enum" in s and v not in s["enum"]:
        errors.append("%s: %r not in %s" % (path, v, s["enum"]))
    if "minimum" in s and isinstance(v, int) and v < s["minimum"]:
        errors.append("%s: %r < %s" % (path, v, s["minimum"]))
    if "pattern" in s and isinstance(v, str) and not re.search(s["pattern"], v):
        errors.append("%s: %r does not match %s" % (path, v, s["pattern"]))
    if isinstance(v, dict):
        for k in s.get("required", []):
            if k not in v: errors.append("%s: %s missing" % (path, k))
        props = s.get("properties", {})
        for k, x in v.items():
            if k in props: check(x, props[k], path + "." + k)
            elif s.get("additionalProperties") is False:
                errors.append("%s: %s not documented" % (path, k))
    if isinstance(v, list) and "items" in s:
        for i, x in enumerate(v): check(x, s["items"], "%s[%d]" % (path, i))
check(json.load(open(sys.argv[2])), schema, "$")
print("\n".join(errors[:10]) if errors else "ok")
EOF
}
is "$(schema_check "$T/report.json" report)" ok \
    "--report --json matches the schema in doc/report.md"

# The human report: each case's group names its cause, lines fit 80.
"$RQ" --report >"$T/report.txt"
is "$?" 0 "--report: exit 0"
is "$(awk 'length > 80' "$T/report.txt")" "" "every line fits 80 columns"
is "$(LC_ALL=C grep -c '[[:cntrl:]]' "$T/report.txt")" 0 \
    "no control characters reach the terminal"
/usr/bin/python3 - "$T/report.json" "$T/report.txt" >"$T/human" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
title = {c["cause"]: c["title"] for c in r["causes"]}
text = open(sys.argv[2]).read().split("\n")
for g in r["groups"]:
    want = title[g["cause"]] + (" (%s)" % g["detail"] if g["detail"] else "")
    heads = [i for i, l in enumerate(text) if " %s " % g["domain"] in l
             and l.split()[1] == g["status"]]
    got = text[heads[0] + 1].strip() if heads else "(no group)"
    print(g["domain"], "ok" if got == want else "got %r want %r" % (got, want))
EOF
while read -r dom verdict; do
	is "$verdict" ok "human output, $dom: the cause named under its group"
done <"$T/human"
is "$(/usr/bin/python3 -c 'import json,sys
r=json.load(open(sys.argv[1]))
print(sorted(set(g["cause"] for g in r["groups"]) - set(c["cause"] for c in r["causes"] if len(c["advice"]) > 20)))' "$T/report.json")" \
    "[]" "every cause found has its line of advice"
like "$(cat "$T/report.txt")" "look the sending IP up at https://check.spamhaus.org" \
    "the advice for Spamhaus says where to look the IP up"
like "$(cat "$T/report.txt")" "blocklisted IP or domain \\(Microsoft\\) +2 +0" \
    "the causes table counts Microsoft's two block-list replies"

# Journal and syslog exports give the same groups.
/usr/bin/python3 - "$T/log" "$T/journal" "$T/syslog" <<'EOF'
import sys, time, calendar
src, jf, sf = sys.argv[1:]
j, s = open(jf, "w"), open(sf, "w")
s.write("Dec  1 00:00:00 host postfix/smtp[77]: 4F: to=<x@y>, status=bounced (550 5.1.1 no)\n")
s.write("garbage without a stamp\n")
s.write("Dec  1 00:00:00 host relayq-flush[1]: id=" + "A" * 20000 + "\n")
for line in open(src):
    stamp, rest = line.split(" ", 1)
    t = calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
    j.write(time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(t)) + " host " + rest)
    s.write(time.strftime("%b %e %H:%M:%S", time.gmtime(t)) + " host " + rest)
EOF
"$RQ" --report --json --log - <"$T/journal" >"$T/j.json"
is "$(groups "$T/j.json" | sort)" "$(sort "$T/got")" \
    "journalctl -o short-iso on stdin: the same groups"
"$RQ" --report --json --log "$T/syslog" >"$T/s.json"
is "$(groups "$T/s.json" | sort)" "$(sort "$T/got")" \
    "a mail.log in syslog's format: the same groups"
skipped() {
	/usr/bin/python3 -c 'import json,sys; l=json.load(open(sys.argv[1]))["sources"]["logs"][0]; print(l["lines"] - l["events"])' "$1"
}
is "$(skipped "$T/s.json")" "$(( $(skipped "$T/report.json") + 2 ))" \
    "other programs' lines and garbage are read and skipped (the over-long one is not even a line)"

# --since: the clock two hours on, the last hour has nothing.
later=$((flushed + 7200))
RELAYQ_FAKE_NOW=$later "$RQ" --report --json --since 1h >"$T/since.json"
is "$(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(len(r["groups"]), sum(r["totals"].values()))' "$T/since.json")" \
    "0 0" "--since 1h, two hours later: no events"
RELAYQ_FAKE_NOW=$later "$RQ" --report --json --since 3h >"$T/since3.json"
is "$(groups "$T/since3.json" | sort)" "$(sort "$T/got")" \
    "--since 3h: all of them"
"$RQ" --report --since soon >/dev/null 2>"$T/err"
is "$?" 64 "--since with a bad duration: exit 64"
like "$(cat "$T/err")" "--since takes a duration" "and says what it takes"
"$RQ" --since 1h >/dev/null 2>&1
is "$?" 64 "--since without --report: exit 64"

# Without the log, the failed area still tells the failures.
"$RQ" --report --json --log /dev/null >"$T/fa.json"
is "$(groups "$T/fa.json" | awk '{print $1, $2, $3, $4}' | sort)" \
    "$(awk '$2 == "failed" {print $1, $2, $3, $4}' "$T/want" | sort)" \
    "log lost: the failed area's recipients, classified the same"
is "$(schema_check "$T/fa.json" report)" ok "that report matches the schema too"
is "$(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["sources"]["failed_area"]; print(r["messages"] == r["added"] > 0)' "$T/fa.json")" \
    True "every failed message was added from the failed area"
is "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sources"]["failed_area"]["added"])' "$T/report.json")" \
    0 "with the log, the failed area adds nothing twice"

# The queue's shape and why the oldest waits.
D=$(grep -c ' deferred ' "$T/want")
is "$(/usr/bin/python3 -c 'import json,sys
q=json.load(open(sys.argv[1]))["queue"]
print(q["messages"]["deferred"] + q["messages"]["queued"], q["recipients_pending"], q["by_age"][0])' "$T/report.json")" \
    "$D $D $D" "the queue: the deferred cases wait, all in the 0-5m bucket"
is "$(/usr/bin/python3 -c 'import json,sys
q=json.load(open(sys.argv[1]))["queue"]
print(q["messages"]["failed"], q["waiting"]["backoff"], q["waiting"]["host-down"])' "$T/report.json")" \
    "$((N + 2 - D)) $((D - 1)) 1" "failed/ holds the rest; the host that is down is told apart from backoff"
like "$(cat "$T/report.txt")" "Oldest: [0-9A-F]{20}, [0-9]+s old, account t, to <r@case[0-9]+\\.example>" \
    "the oldest message is named"
like "$(cat "$T/report.txt")" "backoff after 1 attempt; next attempt at " \
    "and why it waits (backoff)"
RELAYQ_FAKE_NOW=$((flushed + 3600)) "$RQ" --report --json --log /dev/null >"$T/late.json"
is "$(/usr/bin/python3 -c 'import json,sys
q=json.load(open(sys.argv[1]))["queue"]
print(q["by_age"][4] == q["recipients_pending"], q["oldest"]["waits"], q["waiting"]["due"] == q["recipients_pending"])' "$T/late.json")" \
    "True due True" "an hour later: all in the 40-80m bucket, and due"
"$RQ" --hold "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["queue"]["oldest"]["id"])' "$T/report.json")"
"$RQ" --report --json --log /dev/null >"$T/held.json"
is "$(/usr/bin/python3 -c 'import json,sys
q=json.load(open(sys.argv[1]))["queue"]
print(q["messages"]["held"], q["waiting"]["held"], q["oldest"]["waits"], q["oldest"]["why"].startswith("held by an operator"))' "$T/held.json")" \
    "1 1 held True" "a held oldest message: held, and it says how to release it"

# relayq -bp --json (held, deferred and failed messages now) has its
# documented shape too.
"$RQ" -bp --json >"$T/bp.json"
is "$(/usr/bin/python3 -c 'import json,sys; print(sorted(set(m["state"] for m in json.load(open(sys.argv[1])))))' "$T/bp.json")" \
    "['deferred', 'failed', 'held']" "-bp --json lists held, deferred and failed messages"
is "$(schema_check "$T/bp.json" bp)" ok "-bp --json matches the schema in doc/report.md"

done_testing
