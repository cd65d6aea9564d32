#!/bin/bash
# sudo (the real program) mails its security notices through relayq.
#
# Where the command line comes from: sudo 1.9 (Debian 12: 1.9.13p3),
# lib/eventlog/eventlog.c exec_mailer(): argv[0] is the basename of
# mailerpath (default /usr/sbin/sendmail), then mailerflags split at white
# space (default "-t", sudoers(5) "mailerflags"), run with execve() and a
# fixed environment (HOME=/, PATH, LOGNAME and USER of the mailer user);
# send_mail() writes "To: MAILTO", "From: MAILFROM or the user's name",
# "Auto-Submitted: auto-generated", "Subject: " mailsub ("*** SECURITY
# information for %h ***"), then the log line.  send_mail() detaches (two
# forks), so sudo returns before the mail is handed over.
#
# sudo runs here for real, with a private /etc/sudoers (bind-mounted in the
# namespace) saying "Defaults mail_always": every run mails twice (the
# command, then its exit status).  sudo's mailer never sees our
# environment, so the shim at /usr/sbin/sendmail is a wrapper that sets
# RELAYQ_CONFIG (--wrapper).  The configuration has neither 'from' nor
# 'qualify_domain': the login name (root) gets the machine's name, here a
# fully qualified one (a private UTS namespace).
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"

caller_server
caller_aliases "root: security@example.com"
caller_config "aliases $T/aliases"

printf '%s\n' 'Defaults mail_always' 'root ALL=(ALL:ALL) ALL' >"$T/sudoers"
chmod 440 "$T/sudoers"
in_ns --wrapper --hostname bastion.example.net \
    --bind "$T/sudoers" /etc/sudoers -- \
    sudo -n /usr/bin/true >"$T/sudo.out" 2>&1
is "$RC" 0 "sudo ran the command"
wait_queued 2 10
is "$(queued)" 2 "sudo's two notices were queued"
is "$(called_path 1)" /usr/sbin/sendmail "sudo ran its mailerpath"
is "$(called_args 1)" "-t" "... with its mailerflags"
is "$(called_args 2)" "-t" "... both times"

deliver
is "$RC" 0 "the flush delivered them"
is "$MSG" 2 "both arrived"
for n in 1 2; do
	wire_checks $n "sudo notice $n"
	is "$(env_sender $n)" root@bastion.example.net \
	    "notice $n: the login name, qualified with the machine's name"
	is "$(env_rcpts $n)" security@example.com \
	    "notice $n: -t found To: root, the aliases file mapped it"
	is "$(header $n From)" root@bastion.example.net "notice $n: sudo's From arrives with root qualified"
	is "$(header $n Subject)" "*** SECURITY information for bastion.example.net ***" \
	    "notice $n: ... and its Subject"
	is "$(header $n Auto-Submitted)" auto-generated "notice $n: ... and Auto-Submitted"
	body_like $n '\Abastion\.example\.net : [^\r\n]+ : root : PWD=[^;\r\n]* ; USER=root ; COMMAND=/usr/bin/true( ; EXIT=0)?\r\n\r\n\z' \
	    "notice $n: sudo's log line arrives"
done
# The two notices may arrive in either order.
is "$({ body 1; body 2; } | grep -c 'COMMAND=/usr/bin/true ; EXIT=0')" 1 \
    "one notice is the command's exit status"

done_testing
