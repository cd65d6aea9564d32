#!/bin/bash
# PHP's mail() (the real php-cli) submits through relayq.
#
# Where the command line comes from: PHP 8.2 (Debian 12's php-cli),
# php.ini "sendmail_path" (compiled-in default "/usr/sbin/sendmail -t -i",
# php -i shows it) and ext/standard/mail.c php_mail(): popen() of
# sendmail_path, followed by " " and mail()'s fifth argument (passed
# through escapeshellcmd()) when there is one; PHP writes "To: TO",
# "Subject: SUBJECT", the additional headers, an empty line, the message.
#
# php runs here for real (php -n: no php.ini, the compiled-in
# sendmail_path); that path
# is relayq inside a private mount namespace.  The web application's
# common fifth argument, -fwww-data, is a bare name: with the README's
# configuration ('from', aliases, no qualify_domain) it gets the domain of
# the account's from.
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/callers.sh"
command -v php >/dev/null || bail "php is missing (php-cli)"
like "$(php -n -r 'echo ini_get("sendmail_path");')" '^/usr/sbin/sendmail -t -i$' \
    "php's sendmail_path is the default"

caller_server
caller_aliases "root: admin@example.com"
caller_config "from alerts@example.com" "aliases $T/aliases"

cat >"$T/mail.php" <<'PHP'
<?php
$body = "Bonjour,\n\nVotre commande n\u{00b0} 1042 est exp\u{00e9}di\u{00e9}e.\n.\nMerci.\n";
file_put_contents($argv[1], $body);
$ok = mail("Client <client@example.net>", "Order 1042 shipped", $body,
    ["From" => "Web Shop <shop@example.com>", "Cc" => "sales@example.com",
     "Bcc" => "archive@example.com", "MIME-Version" => "1.0",
     "Content-Type" => "text/plain; charset=UTF-8",
     "Content-Transfer-Encoding" => "8bit"],
    "-fwww-data");
exit($ok ? 0 : 1);
PHP
in_ns -- php -n "$T/mail.php" \
    "$T/body" >"$T/out" 2>&1
is "$RC" 0 "mail() returned true"
is "$(called_args)" "-t -i -fwww-data" "sendmail_path and the fifth argument"

deliver
is "$RC" 0 "the flush delivered it"
wire_checks 1 "PHP mail()"
is "$(env_sender 1)" www-data@example.com \
    "-fwww-data, no qualify_domain: the domain of the account's from"
is "$(env_rcpts 1 | sort | paste -sd ' ' -)" \
    "archive@example.com client@example.net sales@example.com" \
    "-t found To, Cc and Bcc"
is "$(header 1 To)" "Client <client@example.net>" "PHP's To arrives"
is "$(header 1 Subject)" "Order 1042 shipped" "... and its Subject"
is "$(header 1 From)" "Web Shop <shop@example.com>" "... and the application's From"
is "$(header 1 Cc)" sales@example.com "... and its Cc"
# PHP writes its header lines with CRLF, the message as given (LF), and a
# CRLF after it: on the wire every line ends in CRLF, that last one too.
t=$(cat "$T/body"; echo .)
body_is 1 "${t%.}"$'\n' "the UTF-8 body arrives byte for byte, the dot line kept (-i)"
done_testing
