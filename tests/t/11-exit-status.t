#!/bin/bash
# Every exit status of SPEC section 2 comes from the condition it names, and
# nothing reaches the queue when relayq does not exit 0.
. "$(dirname "$0")/../lib/harness.sh"

export RELAYQ_FLUSH=/bin/false
SHIM=$TOP/tests/faultshim.so
msg='Subject: x\n\nbody\n'

basic_config
rq_input "$msg" -odq r@example.net
is "$RC" 0 "0: queued"

rm -rf "$T/queue"
rq_input "$msg" -odq --bogus r@example.net
is "$RC" 64 "64: unknown option"
rq_input "$msg" -odq
is "$RC" 64 "64: no recipients at all"
is "$(queued)" 0 "nothing queued on a usage error"

rq_input "$msg" -odq 'a@b@c'
is "$RC" 65 "65: malformed recipient"
like "$ERR" '^relayq: .*a@b@c' "... with a one-line error naming it"
is "$(echo "$ERR" | wc -l | tr -d ' ')" 1 "... on exactly one line"

rq -odq --message-file "$T/missing" r@example.net
is "$RC" 66 "66: input file unreadable"

rq_input "$msg" -odq root
is "$RC" 67 "67: bare local name without alias or qualify_domain"
like "$ERR" 'alias' "... and the error says how to alias it"
is "$(queued)" 0 "nothing queued for an unknown local recipient"

write_config "account test" "host 127.0.0.1" "tls off" "from s@example.org" \
	"aliases $T/aliases"
printf 'root: admin@example.org\npostmaster: root\n' >"$T/aliases"
rq_input "$msg" -odq postmaster
is "$RC" 0 "an alias chain (postmaster -> root -> address) resolves"
like "$(grep -a '^rcpt' "$(last_msg)")" 'admin@example.org' "... to the final address"
rm -rf "$T/queue"
write_config "account test" "host 127.0.0.1" "tls off" "from s@example.org" \
	"qualify_domain example.org"
rq_input "$msg" -odq www-data
is "$RC" 0 "qualify_domain qualifies a bare name"
like "$(grep -a '^rcpt' "$(last_msg)")" 'www-data@example.org' "... to name@qualify_domain"

# 73: the queue cannot be created (a path through a regular file)
write_config "account test" "host 127.0.0.1" "tls off" "from s@example.org"
sed -i "s|^queue_dir .*|queue_dir /dev/null/queue|" "$T/config"
rq_input "$msg" -odq r@example.net
is "$RC" 73 "73: cannot create the queue"

# 74 and 75 from the fault shim
basic_config
rq_input "$msg" -odq r@example.net	# creates the queue directories
rm -f "$T"/queue/msg/*
RQ_IN=/dev/stdin
printf "$msg" >"$T/in"
LD_PRELOAD=$SHIM FAULT_PATH=$T/queue FAULT_OP=write FAULT_ERRNO=EIO "$RQ" -odq r@example.net <"$T/in" 2>"$T/err"
is "$?" 74 "74: an I/O error while writing the queue"
LD_PRELOAD=$SHIM FAULT_PATH=$T/queue FAULT_OP=write FAULT_ERRNO=ENOSPC "$RQ" -odq r@example.net <"$T/in" 2>"$T/err"
is "$?" 75 "75: disk full"
like "$(cat "$T/err")" 'No space left' "... and the error says the disk is full"
is "$(queued)" 0 "nothing queued after the failures"
is "$(tmp_left)" 0 "no temporary file left behind"

# 78: configuration
write_config "account test" "host 127.0.0.1" "tls maybe"
rq_input "$msg" -odq r@example.net
is "$RC" 78 "78: a bad value in the configuration"
like "$ERR" "$T/config:[0-9]+:.*tls" "... naming file, line and key"
write_config "account test" "host 127.0.0.1" "tls off" "no_such_key 1"
rq_input "$msg" -odq r@example.net
is "$RC" 78 "78: a key relayq does not know"
like "$ERR" "$T/config:[0-9]+: no_such_key" "... naming file, line and key"
write_config "account test" "host 127.0.0.1" "tls off" "from s@example.org" "password hunter2"
chmod 644 "$T/config"
rq_input "$msg" -odq r@example.net
is "$RC" 78 "78: a configuration holding a password readable by others"
unlike "$ERR" 'hunter2' "... without printing the password"
rq_input "$msg" -odq -a nosuch r@example.net
is "$RC" 78 "78: -a names an account that does not exist"
unset RELAYQ_CONFIG
rq_input "$msg" -odq r@example.net
is "$RC" 78 "78: no configuration file at all"

done_testing
