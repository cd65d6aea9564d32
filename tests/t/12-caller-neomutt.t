#!/bin/bash
# neomutt (the real program) sends through relayq with `set sendmail`.
#
# Where the command line comes from: NeoMutt 20220429 (Debian 12),
# neomuttrc(5) "sendmail" (default "/usr/sbin/sendmail -oem -oi"), run as
# mutt does: its words, "-f FROM" with use_envelope_from, "--", every
# recipient.  The test is mutt's (12-caller-mutt.t) with MUA=neomutt.
MUA=neomutt exec "$(dirname "$0")/12-caller-mutt.t"
