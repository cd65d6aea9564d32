# relayq test suite -- shell helpers around the scripted test SMTP server.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Source this file from a test (POSIX sh).  It needs the repository's top
# directory: set RQ_TOP before sourcing, or run the test as tests/t/NAME.t
# (RQ_TOP is then derived from $0).
#
#   smtpd_start SCRIPT [ARGS...]   start rq-testsmtpd with the script file
#                                  (SCRIPT "-": read it from stdin); extra
#                                  ARGS go to the server (-e LINE, -n N,
#                                  -6, ...).  Sets SMTPD_PORT, SMTPD_PID,
#                                  SMTPD_DIR (where conn-N.*, msg-N.* go).
#   smtpd_stop                     SIGTERM, then wait; returns its status
#   smtpd_wait_sessions N [SECS]   wait until N sessions have ended
#                                  (conn-N.info written); 1 on timeout
#   smtpd_wait_exit [SECS]         wait for a server started with -n/-t
#   smtpd_file NAME                print $SMTPD_DIR/NAME
#   smtpd_show FILE                print a file with \r, \n and other
#                                  controls escaped, one line per CRLF/LF
#   smtpd_dump                     every transcript and message, escaped,
#                                  as TAP comments ("# ..."), plus the log
#   smtpd_info N KEY               a value from conn-N.info ("" if absent)
#
# SMTPD_DIR defaults to a fresh directory under ${RQ_TMP:-$TMPDIR or /tmp};
# set it before smtpd_start to choose.  SMTPD_VERBOSE=0 turns off -v (the
# log goes to $SMTPD_DIR.log either way).  The server is stopped by
# smtpd_stop; call it from a trap in the test:  trap smtpd_stop EXIT

: "${RQ_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${SMTPD_BIN:=$RQ_TOP/tests/smtpd/rq-testsmtpd}"
SMTPD_PID=
SMTPD_PORT=

smtpd_start() {
	_sd_script=$1
	shift
	if [ -z "${SMTPD_DIR:-}" ]; then
		SMTPD_DIR=$(mktemp -d "${RQ_TMP:-${TMPDIR:-/tmp}}/smtpd.XXXXXX")
	fi
	mkdir -p "$SMTPD_DIR"
	if [ "$_sd_script" = - ]; then
		cat >"$SMTPD_DIR.script"
		_sd_script=$SMTPD_DIR.script
	fi
	if [ ! -x "$SMTPD_BIN" ]; then
		echo "smtpd_start: $SMTPD_BIN is not built" >&2
		return 1
	fi
	rm -f "$SMTPD_DIR/port"
	_sd_v=-v
	[ "${SMTPD_VERBOSE:-1}" = 0 ] && _sd_v=
	# shellcheck disable=SC2086
	"$SMTPD_BIN" $_sd_v -o "$SMTPD_DIR" -s "$_sd_script" "$@" \
	    2>>"$SMTPD_DIR.log" &
	SMTPD_PID=$!
	_sd_i=0
	while [ ! -s "$SMTPD_DIR/port" ]; do
		if ! kill -0 "$SMTPD_PID" 2>/dev/null; then
			echo "smtpd_start: the server exited:" >&2
			cat "$SMTPD_DIR.log" >&2
			SMTPD_PID=
			return 1
		fi
		_sd_i=$((_sd_i + 1))
		if [ "$_sd_i" -gt 500 ]; then
			echo "smtpd_start: no port file after 10s" >&2
			return 1
		fi
		sleep 0.02
	done
	SMTPD_PORT=$(cat "$SMTPD_DIR/port")
	export SMTPD_PORT SMTPD_PID SMTPD_DIR
}

smtpd_stop() {
	_sd_rc=0
	if [ -n "${SMTPD_PID:-}" ]; then
		kill -TERM "$SMTPD_PID" 2>/dev/null
		wait "$SMTPD_PID" 2>/dev/null || _sd_rc=$?
		SMTPD_PID=
	fi
	return $_sd_rc
}

smtpd_wait_exit() {
	_sd_end=$(( $(date +%s) + ${1:-10} ))
	while kill -0 "$SMTPD_PID" 2>/dev/null; do
		[ "$(date +%s)" -gt "$_sd_end" ] && return 1
		sleep 0.05
	done
	_sd_rc=0
	wait "$SMTPD_PID" 2>/dev/null || _sd_rc=$?
	SMTPD_PID=
	return $_sd_rc
}

smtpd_wait_sessions() {
	_sd_end=$(( $(date +%s) + ${2:-10} ))
	while :; do
		_sd_n=$(find "$SMTPD_DIR" -maxdepth 1 -name 'conn-*.info' |
		    wc -l)
		[ "$_sd_n" -ge "$1" ] && return 0
		[ "$(date +%s)" -gt "$_sd_end" ] && return 1
		sleep 0.02
	done
}

smtpd_file() {
	printf '%s/%s\n' "$SMTPD_DIR" "$1"
}

smtpd_info() {
	sed -n "s/^$2=//p" "$SMTPD_DIR/conn-$1.info" 2>/dev/null | tail -n 1
}

# Escapes every byte that is not printable ASCII; a line break follows
# each \n so the output stays readable.
smtpd_show() {
	od -An -v -tu1 "$1" | tr -s ' ' '\n' | awk '
	    $0 == "" { next }
	    $1 == 13 { printf "\\r"; next }
	    $1 == 10 { printf "\\n\n"; next }
	    $1 == 9 { printf "\\t"; next }
	    $1 == 92 { printf "\\\\"; next }
	    $1 < 32 || $1 > 126 { printf "\\x%02x", $1; next }
	    { printf "%c", $1 }
	    END { printf "\n" }'
}

smtpd_dump() {
	for _sd_f in "$SMTPD_DIR"/conn-*.in "$SMTPD_DIR"/conn-*.out \
	    "$SMTPD_DIR"/conn-*.info "$SMTPD_DIR"/msg-*.env \
	    "$SMTPD_DIR"/msg-*.eml; do
		[ -f "$_sd_f" ] || continue
		echo "# --- ${_sd_f##*/}"
		smtpd_show "$_sd_f" | head -n 200 | sed 's/^/# /'
	done
	if [ -f "$SMTPD_DIR.log" ]; then
		echo "# --- server log"
		tail -n 100 "$SMTPD_DIR.log" | sed 's/^/# /'
	fi
}
