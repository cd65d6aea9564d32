#!/bin/bash
# Python's common way to send mail from a script or a web application
# (the real /usr/bin/python3) goes through relayq.
#
# Where the command line comes from: the Python Library FAQ, "How do I send
# mail from a Python script?" (docs.python.org/3/faq/library.html): a
# pipe to "/usr/sbin/sendmail -t -i" with the header and body written to
# it; the same argv as subprocess.run(["/usr/sbin/sendmail", "-t", "-i"],
# input=msg.as_bytes()) in the sendmail e-mail backends of web frameworks.
# Recipients come from the header (-t), Bcc included.
#
# The script runs here for real, with an email.message.EmailMessage (the
# standard library's default policy: RFC 2047 for a UTF-8 Subject, 8bit or
# quoted-printable for the body as it decides); /usr/sbin/sendmail is
# relayq inside a private mount namespace.  The configuration is the
# README's ('from', aliases, no qualify_domain).
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"

caller_server
caller_aliases "root: admin@example.com"
caller_config "from alerts@example.com" "aliases $T/aliases"

cat >"$T/send.py" <<'PY'
import subprocess, sys
from email.message import EmailMessage

m = EmailMessage()
m["From"] = "Web App <app@example.com>"
m["To"] = "Client <client@example.net>, root"
m["Cc"] = "support@example.com"
m["Bcc"] = "audit@example.com"
m["Subject"] = "Votre facture n\u00b0 2026-0042"
m.set_content("Bonjour,\n\nVoici votre facture.\n.\nCordialement,\nL'\u00e9quipe\n")
data = m.as_bytes()
open(sys.argv[1], "wb").write(data)		# what the test compares with
sys.exit(subprocess.run(["/usr/sbin/sendmail", "-t", "-i"], input=data).returncode)
PY
in_ns -- /usr/bin/python3 "$T/send.py" "$T/sent" >"$T/out" 2>&1
is "$RC" 0 "the script's sendmail exited 0"
is "$(called_args)" "-t -i" "... with -t -i"

deliver
is "$RC" 0 "the flush delivered it"
wire_checks 1 python
is "$(env_sender 1)" alerts@example.com "no -f: the account's from"
is "$(env_rcpts 1 | sort | paste -sd ' ' -)" \
    "admin@example.com audit@example.com client@example.net support@example.com" \
    "-t found To, Cc and Bcc; root went through the aliases file"
is "$(header 1 From)" "Web App <app@example.com>" "the script's From arrives"
is "$(header 1 To)" "Client <client@example.net>, root@example.com" "... and its To, root qualified"
is "$(header 1 Cc)" support@example.com "... and its Cc"
is "$(header 1 Subject)" "$(sed -n 's/^Subject: //p' "$T/sent" | tr -d '\r')" \
    "... and its Subject, as the email package encoded it"
like "$(header 1 Subject)" '^Votre facture =\?utf-8\?' "... (RFC 2047)"
body_as_sent 1 "$T/sent" "the body arrives byte for byte, the dot line kept (-i)"

done_testing
