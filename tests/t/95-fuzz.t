#!/bin/bash
# Every libFuzzer harness (tests/fuzz/fuzz_*.c) builds and runs a few
# seconds under ASan, UBSan and LeakSanitizer without a finding, replaying
# the committed seeds (which include the inputs of bugs already fixed).
# First, scripts/fuzz itself is shown to fail on a crash and on a leak,
# so that a clean result means something.  Longer runs: make fuzz.
. "$(dirname "$0")/../lib/harness.sh"

command -v clang >/dev/null 2>&1 ||
	bail "clang is needed for the fuzz harnesses (scripts/deps installs it)"

# --- the runner catches what it must ------------------------------------------
cat >"$T/fuzz_selftest_crash.c" <<'EOF'
#include <stdint.h>
#include <stdlib.h>
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n > 0 && d[0] == 'x')
		abort();
	return 0;
}
EOF
cat >"$T/fuzz_selftest_leak.c" <<'EOF'
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
static char *volatile keep;
int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n > 1) {
		keep = malloc(n);
		memcpy(keep, d, n);
		keep = NULL;
	}
	return 0;
}
EOF
"$TOP/scripts/fuzz" 3 "$T/fuzz_selftest_crash.c" "$T/fuzz_selftest_leak.c" \
	>"$T/self.out" 2>&1
rc=$?
self=$(cat "$T/self.out")
ok $((rc == 0)) "scripts/fuzz exits non-zero when a harness fails"
like "$self" 'fuzz: selftest_crash FAIL \((crash|memory error)\)' \
	"a harness that aborts is reported as a crash"
like "$self" 'fuzz: selftest_leak FAIL \(leak\)' \
	"a harness that leaks is reported as a leak"
rm -rf "$TOP"/tests/fuzz/bin/fuzz_selftest_* "$TOP"/tests/fuzz/bin/corpus/selftest_* \
	"$TOP"/tests/fuzz/bin/artifacts/selftest_* "$TOP"/tests/fuzz/bin/log/selftest_*

# --- every harness ----------------------------------------------------------------
names=$(cd "$TOP/tests/fuzz" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')
n=$(echo "$names" | wc -w)
[ "$n" -gt 0 ] || bail "no harnesses in tests/fuzz"
# About 24 s of fuzzing in all, 3 to 5 s a harness (the build takes 20 s).
secs=$((24 / n))
[ "$secs" -gt 5 ] && secs=5
[ "$secs" -lt 3 ] && secs=3
MIN_RUNS=${MIN_RUNS:-500}

"$TOP/scripts/fuzz" "$secs" >"$T/fuzz.out" 2>&1
rc=$?
out=$(cat "$T/fuzz.out")
for name in $names; do
	line=$(grep "^fuzz: $name " "$T/fuzz.out" | tail -1)
	runs=$(printf '%s' "$line" | sed -n 's/.* ok runs=\([0-9]*\).*/\1/p')
	if [ -n "$runs" ] && [ "$runs" -gt "$MIN_RUNS" ]; then
		ok 0 "fuzz_$name: $runs runs in $secs s, no crash, leak or UB"
	else
		ok 1 "fuzz_$name: $secs s without a finding, more than $MIN_RUNS runs"
		diag "${line:-no result line for $name}"
		# The sanitizer report scripts/fuzz printed for this harness.
		awk -v n="$name" '$0 ~ "^fuzz: " n " " { p = 1; next }
		    /^fuzz: / { p = 0 } p' "$T/fuzz.out" | head -40 |
		    sed 's/^/#  /'
	fi
done
is "$rc" 0 "scripts/fuzz reports every harness clean"
[ "$rc" = 0 ] || printf '%s\n' "$out" | grep -E '^fuzz: (compiling|.*FAIL)|error:' |
	head -20 | sed 's/^/# /'

done_testing
