#!/bin/bash
# unattended-upgrades mails its report through relayq.
#
# Where the command line comes from: unattended-upgrades 2.9.1 (Debian
# 12), /usr/bin/unattended-upgrade, _send_mail_using_sendmail():
# subprocess.Popen([SENDMAIL_BINARY, "-oi", "-t"]) with SENDMAIL_BINARY
# "/usr/sbin/sendmail" and universal_newlines=True, writing msg.as_string()
# of an email.message.Message with Subject, From (Unattended-Upgrade::Sender,
# default "root"), To (Unattended-Upgrade::Mail), Auto-Submitted, and the
# body set with an utf-8 Charset whose body_encoding is quoted-printable;
# send_summary_mail() builds the Subject "unattended-upgrades result for
# HOST: SUCCESS".
#
# unattended-upgrade needs a real upgrade to report, so this is its exact
# argv and a message made the same way, by Python's email package.  The
# configuration is the README's ('from', aliases, no qualify_domain).
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"

caller_server
caller_aliases "root: admin@example.com"
caller_config "from alerts@example.com" "aliases $T/aliases"

cat >"$T/uu.py" <<'PY'
import email.charset, subprocess, sys
from email.message import Message

body = ("Unattended upgrade result: All upgrades installed\n\n"
        "Packages that were upgraded:\n libssl3 openssl\n\n"
        "Unattended-upgrades log:\n"
        "Starting unattended upgrades script\n"
        "Allowed origins are: origin=Debian,codename=bookworm,label=Debian-Security\n"
        "Paquets mis \u00e0 jour : libssl3 openssl\n")
m = Message()
m["Subject"] = "unattended-upgrades result for web1.example.net: SUCCESS"
m["From"] = "root"
m["To"] = "root"
m["Auto-Submitted"] = "auto-generated"
cs = email.charset.Charset("utf-8")
cs.body_encoding = email.charset.QP
m.set_payload(body, cs)
open(sys.argv[1], "w").write(m.as_string())	# what the test compares with
p = subprocess.Popen(["/usr/sbin/sendmail", "-oi", "-t"],
                     stdin=subprocess.PIPE, universal_newlines=True)
p.stdin.write(m.as_string())
p.stdin.close()
sys.exit(p.wait())
PY
in_ns -- /usr/bin/python3 "$T/uu.py" "$T/sent" 2>"$T/err"
is "$RC" 0 "the report was handed to sendmail, exit 0"
is "$(called_path)" /usr/sbin/sendmail "it ran /usr/sbin/sendmail"
is "$(called_args)" "-oi -t" "... with unattended-upgrade's argv"

deliver
is "$RC" 0 "the flush delivered it"
wire_checks 1 unattended-upgrades
is "$(env_sender 1)" alerts@example.com "no -f: the account's from"
is "$(env_rcpts 1)" admin@example.com "-t found To: root, the aliases file mapped it"
is "$(header 1 From)" root@example.com "its From arrives with root qualified"
is "$(header 1 Subject)" "unattended-upgrades result for web1.example.net: SUCCESS" \
    "... and its Subject"
is "$(header 1 Content-Type)" 'text/plain; charset="utf-8"' "... and its Content-Type"
is "$(header 1 Content-Transfer-Encoding)" quoted-printable "... and its encoding"
is "$(header 1 Auto-Submitted)" auto-generated "... and Auto-Submitted"
body_like 1 '\r\nPaquets mis =C3=A0 jour : libssl3 openssl\r\n\z' "the body is still quoted-printable"
body_as_sent 1 "$T/sent" "the quoted-printable body arrives byte for byte"

done_testing
