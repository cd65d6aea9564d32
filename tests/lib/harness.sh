# relayq -- shell test harness: TAP output, a fresh directory per test file.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Source it from a tests/t/*.t script (bash).  It sets:
#   TOP    the source tree;  RQ, RQF  the two binaries
#   T      a fresh temporary directory, removed at exit (kept with KEEP=1)
#   HOME, XDG_*  inside $T, so nothing of the real user is read
# and provides ok / is / like / unlike / done_testing, plus helpers to
# write a configuration and to run relayq capturing status and output.

set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RQ=$TOP/src/relayq
RQF=$TOP/src/relayq-flush
T=$(mktemp -d "${TMPDIR:-/tmp}/relayq-test.XXXXXX")
_tap_n=0
_tap_failed=0
_cleanups=()

_harness_exit() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_cleanups[$i]}" >/dev/null 2>&1 || true
	done
	if [ "${KEEP:-0}" = 1 ] || [ "$_tap_failed" -gt 0 -a "${KEEP_FAILED:-0}" = 1 ]; then
		echo "# kept $T" >&2
	else
		rm -rf "$T"
	fi
}
trap _harness_exit EXIT

# at_exit CMD: run CMD when the test ends (last registered runs first).
at_exit() { _cleanups+=("$*"); }

export HOME=$T/home XDG_CONFIG_HOME=$T/home/.config \
	XDG_STATE_HOME=$T/home/.local/state LC_ALL=C TZ=UTC
unset RELAYQ_CONFIG RELAYQ_FAKE_NOW
mkdir -p "$HOME"

ok() {	# ok STATUS DESCRIPTION  (STATUS 0 = pass, as from a command)
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		echo "not ok $_tap_n - $2"
		_tap_failed=$((_tap_failed + 1))
	fi
}

is() {	# is GOT WANT DESCRIPTION
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '#   got: %s\n#  want: %s\n' "$1" "$2"
	fi
}

like() {	# like TEXT EXTENDED-REGEX DESCRIPTION
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '#   got: %s\n#  want match: %s\n' "$(printf '%s' "$1" | head -5)" "$2"
	fi
}

unlike() {	# unlike TEXT EXTENDED-REGEX DESCRIPTION
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 1 "$3"
		printf '#   got: %s\n#  must not match: %s\n' "$(printf '%s' "$1" | head -5)" "$2"
	else
		ok 0 "$3"
	fi
}

diag() { printf '# %s\n' "$*"; }

# tap_results FILE PREFIX: each "PASS x" / "FAIL x" line of FILE (what a
# checker script printed) as one TAP line.
tap_results() {
	local st rest
	while read -r st rest; do
		[ "$st" = PASS ]
		ok $? "$2: $rest"
	done <"$1"
}

done_testing() {
	echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ]
}

# bail REASON: a test that cannot run its set-up fails loudly (never skips).
bail() {
	echo "Bail out! $*"
	exit 1
}

# write_config [EXTRA LINES...]: $T/config with a queue in $T/queue and an
# account "test" (host 127.0.0.1, tls off) unless lines override; sets
# RELAYQ_CONFIG.  Lines are written as given, after the defaults block.
write_config() {
	{
		echo "defaults"
		echo "queue_dir $T/queue"
		for l in "$@"; do
			printf '%s\n' "$l"
		done
	} >"$T/config"
	chmod 600 "$T/config"
	export RELAYQ_CONFIG=$T/config
}

# basic_config: a usable default configuration for submit tests.
basic_config() {
	write_config "account test" "host 127.0.0.1" "port ${1:-2525}" "tls off" \
		"from sender@example.org" "account default : test"
}

# rq ARGS...: run relayq with stdin from $RQ_IN (default /dev/null);
# sets RC, OUT, ERR.
rq() {
	local in=${RQ_IN:-/dev/null}
	"$RQ" "$@" <"$in" >"$T/.out" 2>"$T/.err"
	RC=$?
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
}

# rq_input TEXT ARGS...: run relayq with TEXT (printf %b) on stdin.
rq_input() {
	local text=$1
	shift
	printf '%b' "$text" >"$T/.in"
	RQ_IN=$T/.in rq "$@"
}

# queued: number of committed messages in $T/queue.
queued() {
	find "$T/queue/msg" -type f 2>/dev/null | wc -l | tr -d ' '
}

# tmp_left: number of files left in the queue's tmp/ directory.
tmp_left() {
	find "$T/queue/tmp" -type f 2>/dev/null | wc -l | tr -d ' '
}

# last_msg: path of the newest committed message file.
last_msg() {
	ls -t "$T"/queue/msg/* 2>/dev/null | head -1
}

# free_port: an unused TCP port on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
