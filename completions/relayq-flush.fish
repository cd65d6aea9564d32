# fish completion for relayq-flush
# SPDX-License-Identifier: GPL-3.0-or-later
complete -c relayq-flush -s C -r -F -d 'configuration file'
complete -c relayq-flush -s a -l account -r -d 'only this account'
complete -c relayq-flush -s q -l all -d 'every message, ignoring backoff'
complete -c relayq-flush -s v -l verbose -d 'print the SMTP dialogue'
complete -c relayq-flush -l check -d 'check connection, TLS and AUTH; send nothing'
complete -c relayq-flush -l watch -d 'stay running; send new mail at once'
complete -c relayq-flush -l id -r -d 'only this message'
complete -c relayq-flush -l queue-dir -r -F -d 'queue directory'
complete -c relayq-flush -l version -d 'print the version'
complete -c relayq-flush -l help -d 'show help'
