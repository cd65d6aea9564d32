#!/bin/bash
# git send-email (the real program) sends a patch through relayq.
#
# Where the command line comes from: git 2.39 (Debian 12),
# git-send-email(1) --sendmail-cmd / sendemail.sendmailcmd, and
# git-send-email.perl send_message(): it runs
#   sh -c '$sendmail_cmd "$@"' - -f ENVELOPE-SENDER -i RECIPIENTS...
# (-f only with --envelope-sender; every To, Cc and Bcc address as an
# argument), and prints the header it made (From, To, Cc, Subject, Date,
# Message-ID, X-Mailer, MIME headers) and the patch.
#
# git send-email runs here for real on a patch made by git format-patch,
# with --sendmail-cmd=/usr/sbin/sendmail, which is relayq inside a private
# mount namespace.  The configuration is the README's ('from', aliases, no
# qualify_domain).
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"
git send-email --help >/dev/null 2>&1 || [ -x "$(git --exec-path)/git-send-email" ] ||
    bail "git send-email is missing (git-email)"

caller_server
caller_aliases "root: admin@example.com"
caller_config "from alerts@example.com" "aliases $T/aliases"

export GIT_AUTHOR_NAME=$'J\xc3\xa9r\xc3\xb4me Exemple' GIT_AUTHOR_EMAIL=jerome@example.org
export GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
export GIT_AUTHOR_DATE='2026-01-05T10:00:00+0000' GIT_COMMITTER_DATE='2026-01-05T10:00:00+0000'
git init -q "$T/repo" && cd "$T/repo" || bail "git init failed"
printf 'line one\n' >README
git add README && git commit -q -m 'Add README' || bail "git commit failed"
printf 'line one\n.\nr\xc3\xa9sum\xc3\xa9\n' >README
git commit -q -a -m $'Document the r\xc3\xa9sum\xc3\xa9' || bail "git commit failed"
git format-patch -q -1 -o "$T/patches" || bail "git format-patch failed"
patch=$(ls "$T"/patches/*.patch)

in_ns -- git send-email --sendmail-cmd=/usr/sbin/sendmail --confirm=never \
    --quiet --suppress-cc=all --envelope-sender=auto \
    --to='Maintainer <maint@example.net>' --cc=list@example.net \
    --bcc=archive@example.net "$patch" >"$T/out" 2>&1
is "$RC" 0 "git send-email sent the patch through relayq"
is "$(called_path)" /usr/sbin/sendmail "it ran the --sendmail-cmd"
is "$(called_args)" "-f jerome@example.org -i maint@example.net list@example.net archive@example.net" \
    "... with -f (--envelope-sender=auto), -i and every recipient"

deliver
is "$RC" 0 "the flush delivered it"
wire_checks 1 "git send-email"
is "$(env_sender 1)" jerome@example.org "-f is the envelope sender"
is "$(env_rcpts 1 | paste -sd ' ' -)" \
    "maint@example.net list@example.net archive@example.net" "every recipient, Bcc included"
is "$(header 1 Subject)" "[PATCH] =?UTF-8?q?Document=20the=20r=C3=A9sum=C3=A9?=" \
    "git's Subject arrives"
is "$(header 1 From)" "=?UTF-8?q?J=C3=A9r=C3=B4me=20Exemple?= <jerome@example.org>" \
    "... and its From"
is "$(header 1 To)" "Maintainer <maint@example.net>" "... and its To"
is "$(header 1 Cc)" list@example.net "... and its Cc"
like "$(header 1 Message-ID)" '^<[^>]+@example\.org>$' "... and its own Message-ID"
like "$(header 1 X-Mailer)" '^git-send-email ' "... and its X-Mailer"
body_like 1 $'\r\n line one\r\n\\+\\.\r\n\\+r\xc3\xa9sum\xc3\xa9\r\n' \
    "the diff arrives, 8-bit line included"

done_testing
