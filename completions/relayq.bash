# bash completion for relayq (also sendmail, mailq, newaliases)
# SPDX-License-Identifier: GPL-3.0-or-later

_relayq_ids()
{
	relayq -bp --json 2>/dev/null | tr ',' '\n' | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p'
}

_relayq()
{
	local cur prev
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	case $prev in
	-C|--message-file|-X|--log)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	-a|--account)
		COMPREPLY=($(compgen -W "$(sed -n 's/^account[[:space:]]\{1,\}\([^[:space:]:]*\).*/\1/p' \
			"${RELAYQ_CONFIG:-${XDG_CONFIG_HOME:-$HOME/.config}/relayq/config}" ~/.msmtprc /etc/relayq.conf 2>/dev/null)" -- "$cur"))
		return ;;
	-B)
		COMPREPLY=($(compgen -W "7BIT 8BITMIME" -- "$cur")); return ;;
	-R)
		COMPREPLY=($(compgen -W "full hdrs" -- "$cur")); return ;;
	-N)
		COMPREPLY=($(compgen -W "never success failure delay success,failure success,failure,delay" -- "$cur")); return ;;
	--show|--delete|--hold|--release|--retry|--requeue)
		COMPREPLY=($(compgen -W "$(_relayq_ids)" -- "$cur")); return ;;
	--since)
		COMPREPLY=($(compgen -W "1h 12h 1d 7d 30d" -- "$cur")); return ;;
	-f|-r|-F|-V|-h|-L|-O|-A|-e|-o|-b|-q)
		return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "-t -i -f -r -F -N -R -V -B -C -a --account
			-bm -bp -bs -bi -bv -q -odq -odb -odi -oi -v -e -A -G -h -L -m -n -U -X -O
			--message-file --read-envelope-from --json --show --delete
			--hold --release --retry --requeue --report --since --log
			--metrics --version --help" -- "$cur"))
	fi
}
complete -F _relayq relayq sendmail mailq newaliases
