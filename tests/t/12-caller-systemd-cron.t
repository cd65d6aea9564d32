#!/bin/bash
# systemd-cron mails a failed (or chatty) job's journal through relayq.
#
# Where the command lines come from (systemd-cron, github.com/systemd-cron):
# - v1.15.19 (Debian 12), src/bin/mail_on_failure.py: subprocess.run(
#   ['sendmail', '-i', '-B8BITMIME', mailto]) with an
#   email.mime.text.MIMEText of `systemctl status UNIT` and the headers
#   Date, From "root (systemd-cron)", To, Subject "[HOST] job UNIT failed",
#   Auto-Submitted;
# - current releases, src/bin/mail_for_job.sh: `"$sendmail" -i -B 8BITMIME
#   "$mailto"` (-B and its value as two arguments), the message printed by
#   printf: Content-Type text/plain; charset="utf-8", MIME-Version,
#   Content-Transfer-Encoding binary, Date, From "MAILFROM (systemd-cron)",
#   To, Subject "[HOST] Failure: SOURCE", X-Mailer, Auto-Submitted, then the
#   journal as raw UTF-8.
# The helpers need systemd and a failed unit, so this is their exact argv and
# messages shaped as they make them (the MIMEText one by Python's email
# package, as the script does).  The configuration is the README's ('from',
# aliases, no qualify_domain).
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"

caller_server
caller_aliases "root: admin@example.com"
caller_config "from alerts@example.com" "aliases $T/aliases"

# --- the current shell helper: -i -B 8BITMIME ADDRESS ------------------------
journal=$'\xe2\x97\x8f cron-backup.service - [Cron] "0 3 * * * /usr/local/bin/backup"\n     Active: failed (Result: exit-code)\n2026-01-05T03:00:01+0000 web1 backup[812]: r\xc3\xa9pertoire introuvable\n.\n'
{
	printf '%s: %s\n' 'Content-Type' 'text/plain; charset="utf-8"' \
	    'MIME-Version' '1.0' 'Content-Transfer-Encoding' 'binary' \
	    'Date' 'Mon, 05 Jan 2026 03:00:02 +0000' \
	    'From' 'root (systemd-cron)' 'To' 'ops@example.org' \
	    'Subject' '[web1] Failure: /etc/crontab "0 3 * * * /usr/local/bin/backup"' \
	    'X-Mailer' 'systemd-cron 2.5.0' 'Auto-Submitted' 'auto-generated'
	echo
	printf '%s' "$journal"
} >"$T/mail"
in_ns -- /usr/sbin/sendmail -i -B 8BITMIME ops@example.org <"$T/mail" 2>"$T/err"
is "$RC" 0 "mail_for_job's sendmail call exits 0"
is "$(called_args)" "-i -B 8BITMIME ops@example.org" "... with its argv"
deliver
wire_checks 1 "systemd-cron"
is "$(env_mail 1)" "MAIL FROM:<alerts@example.com> BODY=8BITMIME" \
    "no -f: the account's from; -B 8BITMIME gives BODY=8BITMIME"
is "$(env_rcpts 1)" ops@example.org "the recipient argument"
is "$(header 1 Date)" "Mon, 05 Jan 2026 03:00:02 +0000" "its own Date is kept"
is "$(header 1 From)" "root@example.com (systemd-cron)" "its From arrives with root qualified"
is "$(header 1 Subject)" '[web1] Failure: /etc/crontab "0 3 * * * /usr/local/bin/backup"' \
    "... and its Subject"
is "$(header 1 Content-Transfer-Encoding)" binary "... and its Content-Transfer-Encoding"
body_is 1 "$journal" "the raw UTF-8 journal arrives byte for byte, the dot line kept"

# --- Debian 12's Python helper: -i -B8BITMIME ADDRESS --------------------------
/usr/bin/python3 - "$T/mail2" <<'PY' || bail "python3 could not build the message"
import email.mime.text, email.utils, sys
status = ("\u25cf cron-root-1.service - [Cron] \"*/5 * * * * /usr/local/bin/poll\"\n"
          "     Active: failed (Result: exit-code)\n")
m = email.mime.text.MIMEText(_text=status)
m["Date"] = email.utils.formatdate()
m["From"] = "root (systemd-cron)"
m["To"] = "root"
m["Subject"] = "[web1] job cron-root-1.service failed"
m["Auto-Submitted"] = "auto-generated"
open(sys.argv[1], "wb").write(m.as_bytes())
PY
in_ns -- /usr/sbin/sendmail -i -B8BITMIME root <"$T/mail2" 2>"$T/err"
is "$RC" 0 "mail_on_failure.py's sendmail call exits 0"
is "$(called_args)" "-i -B8BITMIME root" "... with its argv"
deliver
wire_checks 2 "systemd-cron (Python)"
is "$(env_rcpts 2)" admin@example.com "root went through the aliases file"
is "$(header 2 Subject)" "[web1] job cron-root-1.service failed" "its Subject arrives"
is "$(header 2 Content-Transfer-Encoding)" base64 "MIMEText's base64 part is left alone"
is "$(body 2 |
    tr -d '\r' | base64 -d | head -n 1)" \
    $'\xe2\x97\x8f cron-root-1.service - [Cron] "*/5 * * * * /usr/local/bin/poll"' \
    "... and decodes to systemctl's status"

done_testing
