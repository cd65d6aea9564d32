# relayq -- shell helpers for the real-caller tests (tests/t/12-caller-*.t).
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Each caller test submits through relayq with the program's exact command
# line and input, flushes to the test server (rq-testsmtpd) and asserts
# what arrived there.  Source it (bash) after tests/lib/harness.sh:
#	. "$(dirname "$0")/../lib/harness.sh"
#	. "$TOP/tests/lib/callers.sh"
#
# Set-up
#   caller_server [SCRIPT-LINES...]  a test server in $T/srv (PORT, DIR)
#   caller_config [KEY-LINES...]     $T/config: queue $T/queue, log $T/log,
#                                    account "relay" (the server, tls off,
#                                    EHLO client.example.org) with these
#                                    lines, the default account.  Sets
#                                    RELAYQ_CONFIG, and RELAYQ_FLUSH to
#                                    $T/fakeflush, which only records its
#                                    arguments in $T/flush-calls: the test
#                                    flushes itself, so nothing races it
#   caller_aliases LINES...          $T/aliases (key "aliases $T/aliases")
# Running a program that calls /usr/sbin/sendmail or /usr/lib/sendmail
#   in_ns [OPTIONS] [--] CMD...      CMD in a private mount namespace
#                                    where both paths are the shim
#                                    $T/shim/sendmail, which records its
#                                    path and arguments and execs relayq
#                                    (argv[0] kept); the system's files are
#                                    never touched.  Sets RC.  Options:
#     --wrapper                      the shim sets RELAYQ_CONFIG and
#                                    RELAYQ_FLUSH itself (for programs that
#                                    clean the environment); without it
#                                    relayq gets only what the program
#                                    passes on
#     --hostname NAME                also a private UTS namespace with this
#                                    host name, and NAME in a private
#                                    /etc/hosts
#     --bind SRC DST                 one more bind mount (repeatable)
#   SHIM                             the shim's path, for programs told
#                                    where sendmail is
#   calls                            how many times the shim ran
#   called_path [N]                  the path the N-th call ran as (default:
#                                    the last)
#   called_args [N]                  its arguments, separated by spaces
# Waiting and delivering
#   wait_queued N [SECS]             until N messages are queued (mailers
#                                    that detach: sudo, atd); 1 on timeout
#   deliver                          relayq-flush; sets RC and MSG (the
#                                    number of messages the server holds)
# What arrived (message N at the server: msg-N.env, msg-N.eml)
#   env_sender N                     the address in MAIL FROM:<...>
#   env_mail N                       the whole MAIL FROM line
#   env_rcpts N                      the RCPT TO addresses, one a line
#   headers N                        the header section, unfolded, no CR
#   header N NAME                    the value(s) of field NAME, one a line
#   header_count N NAME              how many NAME fields
#   body N                           the body, as bytes
#   body_is N TEXT DESCRIPTION       the body is TEXT (printf %s, LF line
#                                    ends) with CRLF line ends, byte for
#                                    byte
#   body_like N PERL-REGEX DESCRIPTION
#                                    the whole body (bytes, CRLF line
#                                    ends) matches; like's grep would
#                                    take each line of a pattern apart
#   body_as_sent N FILE DESCRIPTION  the body is FILE's (a message as the
#                                    program wrote it: after its first
#                                    empty line), CRLF line ends
#   wire_checks N WHAT               the checks every arrival gets: CRLF
#                                    only, one From, Date and Message-ID,
#                                    no Bcc (WHAT names the program)

# shellcheck source=flush.sh
. "$TOP/tests/lib/flush.sh"

SHIM=$T/shim/sendmail
[ "$(id -u)" -eq 0 ] || bail "the caller tests need root (mount namespaces)"
command -v unshare >/dev/null || bail "unshare is missing (util-linux)"

caller_server() {
	srv_start "$T/srv" "$@"
}

caller_config() {
	[ -n "${PORT:-}" ] || bail "caller_config before caller_server"
	write_config "logfile $T/log" "account relay" "host 127.0.0.1" \
	    "port $PORT" "tls off" "domain client.example.org" "$@" \
	    "account default : relay"
	cat >"$T/fakeflush" <<EOF
#!/bin/sh
echo "\$@" >>"$T/flush-calls"
EOF
	chmod +x "$T/fakeflush"
	export RELAYQ_FLUSH=$T/fakeflush
}

caller_aliases() {
	printf '%s\n' "$@" >"$T/aliases"
}

# The shim: one file per call in $T/calls (path and arguments, NUL after
# each), then relayq under the name it was called by.
_caller_shim() {
	mkdir -p "$T/shim" "$T/calls"
	{
		echo '#!/bin/bash'
		echo "f=\$(mktemp '$T/calls/XXXXXX' 2>/dev/null) &&"
		echo "    printf '%s\\0' \"\$0\" \"\$@\" >\"\$f\" &&"
		echo "    mv \"\$f\" '$T/calls/'\"\$(date +%s%N).\$\$\" || true"
		if [ "$1" = 1 ]; then
			echo "export RELAYQ_CONFIG='$T/config'"
			echo "export RELAYQ_FLUSH='$T/fakeflush'"
		fi
		echo "exec -a \"\$0\" '$RQ' \"\$@\""
	} >"$SHIM"
	chmod 755 "$SHIM"
}

in_ns() {
	local wrapper=0 host='' binds=() i
	while [ $# -gt 0 ]; do
		case $1 in
		--wrapper) wrapper=1; shift ;;
		--hostname) host=$2; shift 2 ;;
		--bind) binds+=("$2" "$3"); shift 3 ;;
		--) shift; break ;;
		*) break ;;
		esac
	done
	_caller_shim "$wrapper"
	binds=("$SHIM" /usr/sbin/sendmail "$SHIM" /usr/lib/sendmail "${binds[@]}")
	if [ -n "$host" ]; then
		{ cat /etc/hosts; echo "127.0.1.1 $host ${host%%.*}"; } >"$T/hosts"
		binds+=("$T/hosts" /etc/hosts)
	fi
	{
		echo 'set -e'
		echo "exec 3>&2 2>'$T/ns.err'"
		# A file that does not exist gets an overlay over its
		# directory, inside the namespace only, to mount over.  All
		# of them first: an overlay would hide earlier mounts.
		echo 'ensure() {'
		echo '	[ -e "$1" ] && return 0'
		echo "	o=\$(mktemp -d '$T/ov.XXXXXX')"
		echo '	mount -t tmpfs tmpfs "$o"'
		echo '	mkdir "$o/u" "$o/w"'
		echo '	mount -t overlay overlay -o "lowerdir=${1%/*},upperdir=$o/u,workdir=$o/w" "${1%/*}"'
		echo '	rm -f "$1"; : >"$1"'
		echo '}'
		for ((i = 0; i < ${#binds[@]}; i += 2)); do
			echo "ensure '${binds[i + 1]}'"
		done
		for ((i = 0; i < ${#binds[@]}; i += 2)); do
			echo "mount --bind '${binds[i]}' '${binds[i + 1]}'"
		done
		[ -n "$host" ] && echo "hostname '$host'"
		echo "exec 2>&3 3>&-; : >'$T/ns.ready'"
		echo 'set +e'
		echo 'exec "$@"'
	} >"$T/ns.sh"
	rm -f "$T/ns.ready"
	unshare -m ${host:+-u} bash "$T/ns.sh" "$@"
	RC=$?
	[ -e "$T/ns.ready" ] ||
	    bail "in_ns: no private mount namespace: $(cat "$T/ns.err" 2>/dev/null)"
}

calls() {
	find "$T/calls" -type f 2>/dev/null | wc -l | tr -d ' '
}

_call_file() {
	local n=${1:-0}
	if [ "$n" -eq 0 ]; then
		find "$T/calls" -type f 2>/dev/null | sort | tail -n 1
	else
		find "$T/calls" -type f 2>/dev/null | sort | sed -n "${n}p"
	fi
}

called_path() {
	local f
	f=$(_call_file "${1:-0}")
	[ -n "$f" ] && tr '\0' '\n' <"$f" | head -n 1
}

called_args() {
	local f
	f=$(_call_file "${1:-0}")
	[ -n "$f" ] && tr '\0' '\n' <"$f" | tail -n +2 | paste -sd ' ' -
}

wait_queued() {
	local i
	for ((i = 0; i < ${2:-10} * 20; i++)); do
		[ "$(queued)" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

deliver() {
	flush
	# shellcheck disable=SC2034  # read by the tests
	MSG=$(find "$DIR" -maxdepth 1 -name 'msg-*.eml' | wc -l | tr -d ' ')
	[ "$RC" -eq 0 ] || diag "relayq-flush: exit $RC: $ERR"
}

env_mail() {
	grep -a '^MAIL FROM:' "$DIR/msg-$1.env" 2>/dev/null
}

env_sender() {
	env_mail "$1" | sed 's/^MAIL FROM:<\([^>]*\)>.*/\1/'
}

env_rcpts() {
	grep -a '^RCPT TO:' "$DIR/msg-$1.env" 2>/dev/null |
	    sed 's/^RCPT TO:<\([^>]*\)>.*/\1/'
}

headers() {
	perl -0777 -ne '(my $h = $_) =~ s/\r\n\r\n.*//s; $h =~ s/\r\n(?=[ \t])//g;
	    $h =~ s/\r\n/\n/g; print "$h\n"' "$DIR/msg-$1.eml" 2>/dev/null
}

header() {
	headers "$1" | awk -v n="$2" '
	    { i = index($0, ":") }
	    i > 0 && tolower(substr($0, 1, i - 1)) == tolower(n) {
		v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v }'
}

header_count() {
	header "$1" "$2" | wc -l | tr -d ' '
}

# body N: everything after the first empty line, as bytes.
body() {
	perl -0777 -ne 'print $1 if /\r\n\r\n(.*)\z/s' "$DIR/msg-$1.eml"
}

body_is() {
	body "$1" >"$T/.body.got"
	# A last line without a line end gets one on the way: so here.
	printf '%s' "$2" | perl -0777 -pe 's/\n/\r\n/g;
	    $_ .= "\r\n" if length && !/\r\n\z/' >"$T/.body.want"
	if cmp -s "$T/.body.got" "$T/.body.want"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "#   got:"
		smtpd_show "$T/.body.got" | head -n 20 | sed 's/^/#     /'
		echo "#   want:"
		smtpd_show "$T/.body.want" | head -n 20 | sed 's/^/#     /'
	fi
}

body_like() {
	if body "$1" | RE=$2 perl -0777 -ne 'exit(/$ENV{RE}/ ? 0 : 1)'; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "#   want match: $2"
		body "$1" >"$T/.body.got"
		smtpd_show "$T/.body.got" | head -n 20 | sed 's/^/#     /'
	fi
}

body_as_sent() {
	local t
	# (The dot keeps the trailing line ends from $(...).)
	t=$(perl -0777 -ne 'print $1 if /\n\n(.*)\z/s' "$2"; echo .)
	body_is "$1" "${t%.}" "$3"
}

wire_checks() {
	local f=$DIR/msg-$1.eml
	ok "$([ -s "$f" ]; echo $?)" "$2: the message arrived"
	ok "$(perl -0777 -ne 'exit(/(?<!\r)\n|\r(?!\n)/ ? 1 : 0)' "$f"; echo $?)" \
	    "$2: CRLF line ends only on the wire"
	is "$(header_count "$1" From)" 1 "$2: one From field"
	is "$(header_count "$1" Date)" 1 "$2: one Date field"
	is "$(header_count "$1" Message-ID)" 1 "$2: one Message-ID field"
	is "$(header_count "$1" Bcc)" 0 "$2: no Bcc field on the wire"
}
