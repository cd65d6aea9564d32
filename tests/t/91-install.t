#!/bin/bash
# make install honours PREFIX and DESTDIR; make install-sendmail adds the
# sendmail links (/usr/sbin and /usr/lib: mdadm runs /usr/lib/sendmail),
# mailq and newaliases, and the installed links work.
. "$(dirname "$0")/../lib/harness.sh"

S=$T/stage
make -s -C "$TOP" install install-sendmail PREFIX=/usr DESTDIR="$S" >"$T/make.out" 2>&1
is "$?" 0 "make install install-sendmail PREFIX=/usr DESTDIR=..."
for f in usr/sbin/relayq usr/sbin/relayq-flush; do
	ok "$([ -x "$S/$f" ]; echo $?)" "$f installed and executable"
done
for f in usr/share/man/man8/relayq.8 usr/share/man/man8/relayq-flush.8 \
    usr/share/man/man5/relayq.conf.5 \
    usr/share/bash-completion/completions/relayq \
    usr/share/bash-completion/completions/relayq-flush \
    usr/share/zsh/site-functions/_relayq \
    usr/share/fish/vendor_completions.d/relayq.fish; do
	ok "$([ -s "$S/$f" ]; echo $?)" "$f installed"
done
for l in usr/sbin/sendmail usr/lib/sendmail usr/bin/mailq usr/bin/newaliases; do
	is "$(readlink "$S/$l")" /usr/sbin/relayq "$l links to /usr/sbin/relayq"
done
is "$(ls "$S")" usr "nothing is installed outside PREFIX=/usr"
# The installed binary answers as sendmail (argv[0]) when run through a link.
ln -s "$S/usr/sbin/relayq" "$T/newaliases"
"$T/newaliases"
is "$?" 0 "an installed newaliases link runs"

done_testing
