#!/bin/bash
# A person's first minute: --version says which configuration and queue
# this invocation would use; without a configuration both commands say in
# one line which file to create and where the example is; the installed
# example is a valid configuration.
. "$(dirname "$0")/../lib/harness.sh"

# No configuration anywhere (HOME is a fresh directory; the system file
# is looked for under SYSCONFDIR, so skip the cases it would change).
[ -e /etc/relayq.conf ] && bail "/etc/relayq.conf exists on this machine: the no-configuration cases cannot run"
rq --version
is "$RC" 0 "--version without a configuration exits 0"
like "$OUT" '^relayq [0-9]+\.[0-9]+' "... prints the version first"
like "$OUT" 'configuration: none \(no configuration file: create ~/\.config/relayq/config' "... says which file to create"
like "$OUT" 'example is /[^ ]*/relayq\.conf\.example' "... and where the example is"
like "$OUT" 'queue: none' "... and that there is no queue yet"
ok "$([ ! -e "$HOME/.local" ]; echo $?)" "... and creates nothing"

RQ_IN=/dev/null rq root
is "$RC" 78 "submitting without a configuration: 78"
is "$(printf '%s\n' "$ERR" | wc -l | tr -d ' ')" 1 "... one line"
like "$ERR" 'create ~/\.config/relayq/config.*relayq\.conf\.example' "... naming the file to create and the example"

"$RQF" >"$T/f.out" 2>"$T/f.err"
is "$?" 78 "relayq-flush without a configuration: 78"
is "$(wc -l <"$T/f.err" | tr -d ' ')" 1 "... one line"
like "$(cat "$T/f.err")" '^relayq-flush: no configuration file: create ~/\.config/relayq/config.*relayq\.conf\.example' "... the same advice"

# With a configuration: the file, the queue it would write, the flush.
mkdir -p "$XDG_CONFIG_HOME/relayq"
printf 'account a\nhost smtp.example.org\nfrom me@example.org\naccount default : a\n' >"$XDG_CONFIG_HOME/relayq/config"
rq --version
is "$RC" 0 "--version with ~/.config/relayq/config"
like "$OUT" "configuration: $XDG_CONFIG_HOME/relayq/config\$" "... names that file"
like "$OUT" "queue: $XDG_STATE_HOME/relayq/queue\$" "... and the default queue under XDG_STATE_HOME"
like "$OUT" "flush: .*relayq-flush\$" "... and the relayq-flush it would start"
ok "$([ ! -e "$XDG_STATE_HOME/relayq" ]; echo $?)" "... without creating the queue"
write_config "account a" "host smtp.example.org" "from me@example.org"
rq --version -C "$T/config"
like "$OUT" "configuration: $T/config\$" "-C after --version still counts"
like "$OUT" "queue: $T/queue\$" "... and queue_dir is the queue"
printf 'account a\nhost smtp.example.org\ntls maybe\n' >"$T/bad"
rq -C "$T/bad" --version
is "$RC" 0 "--version with a broken configuration still answers"
like "$OUT" "configuration: $T/bad \(with an error: $T/bad:3: tls" "... naming the file and its error"

# The example configuration, installed beside the man pages, is valid.
S=$T/stage
make -s -C "$TOP" install PREFIX=/usr DESTDIR="$S" >"$T/make.out" 2>&1
is "$?" 0 "make install"
ex=$S/usr/share/doc/relayq/relayq.conf.example
ok "$([ -s "$ex" ]; echo $?)" "the example configuration is installed in share/doc/relayq"
like "$(cat "$ex")" '^# relayq\.conf -- an example' "... and is the commented example"
like "$(grep -c '^#' "$ex")" '^[0-9]{2,}$' "... with comments"
cp "$ex" "$T/example"
sed -i "1i queue_dir $T/exq" "$T/example"
rq -C "$T/example" --version
unlike "$OUT" 'with an error' "the example loads without an error"
rq_input 'Subject: first\n\nhello\n' -C "$T/example" -odq you@example.org
is "$RC" 0 "a message can be queued with the example as it is"
like "$(grep -a '^sender' "$T"/exq/msg/*)" 'alerts@example.org' "... from the example's account"

done_testing
