#!/bin/bash
# The README's first section, run as written: from the clone to a message
# delivered through a smart host.  The one step a person does by hand
# (editing the configuration) is a sed that sets what the example says to
# change; the smart host is the project's test server with STARTTLS and
# AUTH, its CA added to the system's trust store the way an administrator
# adds a company CA.  Everything happens in a private mount namespace with
# /usr and /etc as overlays and /var/spool a tmpfs, so `make install
# install-sendmail`, /etc/relayq.conf and the system queue change nothing
# outside this test.  (It found that -odi's flush, started with -C
# /etc/relayq.conf, looked in the user's queue instead of the system's.)
. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/flush.sh"

command -v unshare >/dev/null || bail "unshare is missing (util-linux)"
[ "$(id -u)" -eq 0 ] || bail "needs root (mount namespaces, make install)"
flush_certs

# The commands of the README's first section: the indented lines of the
# block after "From a clone to a delivered message", comments stripped.
awk '/^From a clone to a delivered message/ { s = 1; next }
    s && /^The two commands/ { exit }
    s && /^    [^ ]/ { sub(/^    /, ""); sub(/[ \t]+#.*$/, ""); print }' \
    "$TOP/README" >"$T/readme.cmds"
n=$(wc -l <"$T/readme.cmds" | tr -d ' ')
like "$n" '^[5-9]$|^1[0-2]$' "the README's first section has a handful of commands ($n)"
like "$(cat "$T/readme.cmds")" 'make install install-sendmail' "... among them make install"
like "$(cat "$T/readme.cmds")" 'relayq-flush --check' "... a check of the smart host"
like "$(cat "$T/readme.cmds")" '\| *sendmail ' "... and a message sent through sendmail"

srv_tls server "ehlo PIPELINING STARTTLS AUTH PLAIN LOGIN" \
	"ehlo-tls PIPELINING 8BITMIME AUTH PLAIN LOGIN"

# The hand edit: what the example's comments say to change.
printf '%s\n' "sed -i -e 's/^host .*/host localhost/' -e 's/^port .*/port $PORT/' \\" \
	"    -e 's/^user .*/user $FLUSH_USER/' -e 's/^passwordeval .*/password $FLUSH_PASS/' \\" \
	"    -e 's/^from .*/from me@example.org/' \\" \
	"    -e 's|^#logfile .*|logfile $T/relayq.log|' /etc/relayq.conf" >"$T/edit.sh"

# The script the namespace runs: overlays, the CA, then the README.
{
	echo 'set -e'
	echo "mkdir -p $T/ov/usr.u $T/ov/usr.w $T/ov/etc.u $T/ov/etc.w"
	echo "mount -t overlay overlay -o lowerdir=/usr,upperdir=$T/ov/usr.u,workdir=$T/ov/usr.w /usr"
	echo "mount -t overlay overlay -o lowerdir=/etc,upperdir=$T/ov/etc.u,workdir=$T/ov/etc.w /etc"
	echo "mount -t tmpfs tmpfs /var/spool"
	echo "cat $PKI/ca.pem >>/etc/ssl/certs/ca-certificates.crt"
	echo "cd $TOP"
	echo 'export HOME=/root'
	# A root login's PATH on Debian (login.defs ENV_SUPATH): make install
	# puts relayq-flush in /usr/local/sbin.
	echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
	echo 'unset RELAYQ_CONFIG XDG_CONFIG_HOME XDG_STATE_HOME'
	while IFS= read -r cmd; do
		case $cmd in
		vi\ * | "\$EDITOR"*) echo "sh $T/edit.sh" ;;
		*)
			printf 'echo %q\n' "+ $cmd"
			printf '%s\n' "$cmd"
			;;
		esac
	done <"$T/readme.cmds"
	echo 'echo "+ mailq"; mailq'
} >"$T/readme.sh"
unshare -m bash "$T/readme.sh" >"$T/readme.out" 2>&1
rc=$?
is "$rc" 0 "the README's commands all succeed"
[ "$rc" -eq 0 ] || tail -n 40 "$T/readme.out" | sed 's/^/# /'
like "$(cat "$T/readme.out")" '\+ relayq-flush --check' "the check ran"
like "$(cat "$T/readme.out")" 'Mail queue is empty' "mailq afterwards: nothing left waiting"

smtpd_wait_sessions 2 10
eml=$(ls "$DIR"/msg-*.eml 2>/dev/null | head -1)
ok "$([ -n "$eml" ]; echo $?)" "the test message reached the smart host"
like "$(cat "$eml" 2>/dev/null)" 'Subject: test' "... with its Subject"
like "$(cat "$eml" 2>/dev/null)" 'it works' "... and its body"
like "$(cat "$DIR"/msg-*.env 2>/dev/null)" 'you@example.org' "... to the README's recipient"
like "$(cat "$DIR"/msg-*.env 2>/dev/null)" 'me@example.org' "... from the configured sender"
like "$(cat "$T/relayq.log" 2>/dev/null)" 'status=sent' "the log says sent"
like "$(cat "$T/relayq.log" 2>/dev/null)" 'tls=TLS1\.[23] ' "... over verified TLS"
ok "$([ ! -e "$T/ov/etc.u/relayq.conf" ] || [ ! -e /etc/relayq.conf ]; echo $?)" \
	"/etc/relayq.conf was written in the overlay only"

done_testing
