# bash completion for relayq-flush
# SPDX-License-Identifier: GPL-3.0-or-later

_relayq_flush()
{
	local cur prev
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	case $prev in
	-C|--queue-dir)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	-a|--account|--check)
		COMPREPLY=($(compgen -W "$(sed -n 's/^account[[:space:]]\{1,\}\([^[:space:]:]*\).*/\1/p' \
			"${RELAYQ_CONFIG:-${XDG_CONFIG_HOME:-$HOME/.config}/relayq/config}" ~/.msmtprc /etc/relayq.conf 2>/dev/null)" -- "$cur"))
		return ;;
	--id)
		return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "-C -a --account --all -q -v --verbose --check --watch
			--id --queue-dir --version --help" -- "$cur"))
	fi
}
complete -F _relayq_flush relayq-flush
