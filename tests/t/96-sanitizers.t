#!/bin/bash
# The whole project, built a second time with ASan and UBSan
# (make SANITIZE=address,undefined) in a scratch copy of the tree, runs the
# C unit tests and the most telling submit and flush scenarios without a
# memory error, undefined behaviour or leak in any process they start.
#
# The copy keeps the main build in src/ untouched (other tests use it at
# the same time).  The copied tests/lib/harness.sh finds the sanitized
# binaries by itself, since it takes them from the tree it lives in.
# Every sanitizer report goes to a log file (log_path), so a report from
# a process whose exit status a test does not look at (a background flush,
# an expected failure) still fails here.  The test SMTP server and the
# fault-injection shim are helpers, not the product: they are built
# without sanitizers (an LD_PRELOADed shim must not carry its own ASan).
. "$(dirname "$0")/../lib/harness.sh"

S=$T/tree
mkdir -p "$S" "$T/san"

# --- the sanitized build ---------------------------------------------------------
(cd "$TOP" && tar --exclude=./.git --exclude=./tests/fuzz/bin -cf - .) |
	(cd "$S" && tar -xf -) || bail "cannot copy the tree to $S"
make -C "$S" clean >/dev/null 2>&1
units=$(cd "$S" && ls tests/unit/t_*.c 2>/dev/null | sed 's/\.c$//')
helpers="tests/faultshim.so tests/ordershim.so"
[ -n "$(ls "$S"/tests/smtpd/*.c 2>/dev/null)" ] &&
	helpers="$helpers tests/smtpd/rq-testsmtpd"
# shellcheck disable=SC2086
if make -C "$S" -j2 $helpers >"$T/build.log" 2>&1 &&
    make -C "$S" -j2 SANITIZE=address,undefined CFLAGS='-O1 -g' \
	all $units >>"$T/build.log" 2>&1; then
	ok 0 "make SANITIZE=address,undefined builds relayq, relayq-flush and the unit tests"
else
	ok 1 "make SANITIZE=address,undefined builds relayq, relayq-flush and the unit tests"
	grep -E 'error|Error' "$T/build.log" | head -20 | sed 's/^/# /'
	bail "the sanitized build failed"
fi
nm "$S/src/relayq" 2>/dev/null | grep -q __asan_init
ok $? "... and the binaries really carry ASan"

# san_env NAME: sanitizer settings for one test; reports go to $T/san/NAME.
# abort_on_error turns a report into SIGABRT (status 134), which no test
# can mistake for a success.  fast_unwind_on_malloc=0 gives whole stacks
# through libraries built without frame pointers (popt, GnuTLS).
# verify_asan_link_order=0 lets the fault shim be preloaded.
san_env() {
	mkdir -p "$T/san/$1"
	export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0:verify_asan_link_order=0:log_path=$T/san/$1/asan"
	export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$T/san/$1/ubsan"
}

# san_reports NAME: the reports written while NAME ran ("" when none).
san_reports() {
	local f
	for f in "$T/san/$1"/*; do
		[ -s "$f" ] || continue
		echo "== $(basename "$f")"
		# The report itself, without the allocator's and libc's frames.
		grep -v -E 'libsanitizer|libc_start|_start \(' "$f" | head -25
	done
}

# check NAME DESCRIPTION: one TAP line from the status of the last command
# (in $rc), its output (in $T/NAME.out) and the sanitizer logs.
check() {
	local name=$1 desc=$2 reports notok
	reports=$(san_reports "$name")
	notok=$(grep -E '^not ok' "$T/$name.out" | head -5)
	if [ "$rc" = 0 ] && [ -z "$reports" ] && [ -z "$notok" ] &&
	    grep -Eq '^1\.\.[1-9]|^ok [0-9]' "$T/$name.out"; then
		ok 0 "$desc"
		return
	fi
	ok 1 "$desc"
	diag "exit status $rc"
	[ -n "$notok" ] && printf '%s\n' "$notok" | sed 's/^/#   /'
	[ -n "$reports" ] && printf '%s\n' "$reports" | head -60 | sed 's/^/#   /'
}

# --- the C unit tests --------------------------------------------------------------
for u in $units; do
	name=$(basename "$u")
	san_env "$name"
	(cd "$S" && "./$u") >"$T/$name.out" 2>&1
	rc=$?
	check "$name" "unit test $name: clean under ASan, UBSan and LSan"
done

# --- submit and flush scenarios ---------------------------------------------------
# Submission (options, exit statuses, real clients' command lines, hostile
# input), every flush test against the test server or smtp-sink, and DKIM
# signing with the test server.  Not
# here: 14-no-network (strace, and LSan cannot run under ptrace), the
# durability, big-message and Postfix tests (time).
scen=""
for t in 10-submit 11-exit-status 12-clients 13-hostile; do
	[ -f "$S/tests/t/$t.t" ] && scen="$scen $t"
done
for f in "$S"/tests/t/4*flush*.t "$S"/tests/t/50-dkim-sign.t; do
	[ -f "$f" ] && scen="$scen $(basename "$f" .t)"
done
for t in $scen; do
	san_env "$t"
	(cd "$S" && "./tests/t/$t.t") >"$T/$t.out" 2>&1
	rc=$?
	check "$t" "tests/t/$t.t passes with sanitized binaries, no report from any process"
done
unset ASAN_OPTIONS UBSAN_OPTIONS

done_testing
