#!/bin/bash
# relayq -- the submit side of DKIM needs no key: relayq records the body
# hash of an account that signs without ever opening, or even looking at,
# the dkim_key file (strace), also when the file does not exist or sits in
# a directory the submitter cannot enter; the hash is the body's own, and
# an account that does not sign records none.  relayq does not link GnuTLS:
# it loads it for the hash of an account that signs, and a submission that
# does not sign never opens it (gtls.h).  (Under strace, so not in
# the sanitizer run: LeakSanitizer cannot work under ptrace.)
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later

. "$(dirname "$0")/../lib/harness.sh"
. "$TOP/tests/lib/dkim.sh"

command -v strace >/dev/null || bail "strace is needed (scripts/deps installs it)"
export RELAYQ_FLUSH=/bin/false
dkim_keys "$T/k"
mkdir -p "$T/locked" && cp "$T/k/rsa.key" "$T/locked/" && chmod 000 "$T/locked"
at_exit "chmod 700 '$T/locked'"

# trace_submit KEYFILE: submit under strace with an account that signs
# with KEYFILE; sets RC; the trace is $T/trace.
trace_submit() {
	write_config "account s" "host 127.0.0.1" "tls off" \
	    "from sender@example.org" "dkim_domain example.org" \
	    "dkim_selector sel" "dkim_key $1" "account default : s"
	printf 'From: sender@example.org\nSubject: s\n\nthe  body \n\n' |
	    strace -f -qq -o "$T/trace" \
	    -e trace=open,openat,open_by_handle_at,stat,lstat,newfstatat,statx,access,faccessat,faccessat2,readlink,readlinkat \
	    "$RQ" -odq r@example.net
	RC=$?
}

for key in "$T/k/rsa.key" "$T/k/missing.key" "$T/locked/rsa.key"; do
	trace_submit "$key"
	is "$RC" 0 "queued with dkim_key $(basename "$(dirname "$key")")/$(basename "$key")"
	ok "$([ -s "$T/trace" ] && grep -q 'openat' "$T/trace"; echo $?)" \
	    "... the trace saw relayq's file accesses"
	is "$(grep -c -F "$key" "$T/trace")" 0 "... and none of them names the key file"
	like "$(tail -c 120 "$(last_msg)")" 'dkim-bh=relaxed:' "... the body hash is recorded"
	is "$(grep -c 'libgnutls\.so' "$T/trace")" 1 "... with GnuTLS loaded for it, once"
done
# The control: the trace would show the key if relayq touched it.
printf 'From: a@b\n\nx\n' | strace -f -qq -o "$T/trace" -e trace=openat cat "$T/k/rsa.key" >/dev/null
is "$(grep -c -F "$T/k/rsa.key" "$T/trace")" 1 "(the control: a program that opens the key shows in the trace)"

# The hash recorded is the body's own: python's hashlib, relaxed by hand.
want=$(/usr/bin/python3 -c '
import base64, hashlib, re
body = b"the  body \r\n\r\n"
lines = [re.sub(rb"[ \t]+", b" ", l).rstrip(b" \t") for l in body.split(b"\r\n")]
while lines and lines[-1] == b"":
    lines.pop()
print(base64.b64encode(hashlib.sha256(b"".join(l + b"\r\n" for l in lines)).digest()).decode())')
is "$(tail -1 "$(last_msg)" | sed -n 's/.* dkim-bh=//p')" "relaxed:$want" \
    "the recorded hash is SHA-256 of the relaxed body, made here with hashlib"

write_config "account s" "host 127.0.0.1" "tls off" "from sender@example.org" \
    "dkim_selector sel" "dkim_key $T/k/rsa.key" "account default : s"
printf 'Subject: u\n\nx\n' | "$RQ" -odq r@example.net
unlike "$(tail -c 120 "$(last_msg)")" 'dkim-bh=' "an account without dkim_domain records no hash"

# Without signing, GnuTLS is never loaded: not linked, not opened.
command -v readelf >/dev/null || bail "readelf is needed (binutils, with the compiler)"
needed=$(readelf -d "$RQ" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
like "$needed" 'libc\.so' "relayq's needed libraries are listed ($needed)"
unlike "$needed" 'gnutls' "... and GnuTLS is not among them"
needed=$(readelf -d "$TOP/src/relayq-flush" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
like "$needed" 'libgnutls\.so' "(relayq-flush links it)"
printf 'Subject: u\n\nx\n' | strace -f -qq -o "$T/trace" -e trace=openat \
    "$RQ" -odq r@example.net
ok $? "a submission that does not sign, traced"
ok "$(grep -q 'openat' "$T/trace"; echo $?)" "... the trace saw its opens"
is "$(grep -c 'libgnutls' "$T/trace")" 0 "... and GnuTLS is not one of them"

done_testing
