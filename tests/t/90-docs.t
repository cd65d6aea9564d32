#!/bin/bash
# The man pages and the bash, zsh and fish completions are kept in step with
# the option tables: every option that --help lists appears in each of them.
# The man pages are clean under mandoc -Tlint.
. "$(dirname "$0")/../lib/harness.sh"

for page in "$TOP"/doc/*.[58]; do
	out=$(mandoc -Tlint -W warning "$page" 2>&1)
	is "$out" "" "mandoc -Tlint is clean for $(basename "$page")"
done

# options_of BINARY: one option per line (-x or --long) from popt's --help.
options_of() {
	"$1" --help 2>/dev/null | python3 -c '
import re, sys
seen = []
for line in sys.stdin:
    if not line.startswith("  -"):
        continue
    head = line.strip().split("  ")[0]
    for tok in re.findall(r"(?<![\w-])(--?[A-Za-z?][\w-]*)", head):
        if tok in ("-?", "--usage"):
            continue
        if tok not in seen:
            seen.append(tok)
print("\n".join(seen))'
}

check_binary() {	# BINARY MANPAGE BASH FISH
	local bin=$1 man=$2 bashc=$3 fishc=$4 opts missing o
	opts=$(options_of "$bin")
	ok "$([ "$(printf '%s\n' "$opts" | wc -l)" -gt 3 ]; echo $?)" "$(basename "$bin") --help lists its options"
	for where in man bash zsh fish; do
		missing=""
		for o in $opts; do
			case $where in
			man)
				if [[ $o == --* ]]; then pat="Fl -${o#--}"; else pat="Fl ${o#-}"; fi
				grep -q -- "$pat" "$man" || grep -q -- "Fl [A-Za-z ,]*${o#-}" "$man" || missing="$missing $o" ;;
			bash)
				grep -qw -- "$o" "$bashc" || missing="$missing $o" ;;
			zsh)
				grep -q -- "'$o\[\|'$o'\|}'\[.*$o\|{[^}]*$o[,}]\|$o\[" "$TOP/completions/_relayq" || missing="$missing $o" ;;
			fish)
				if [[ $o == --* ]]; then pat="-l ${o#--}\b"; else pat="-s ${o#-}\b"; fi
				grep -q -- "$pat" "$fishc" || missing="$missing $o" ;;
			esac
		done
		is "$missing" "" "$(basename "$bin"): every option is in the $where documentation"
	done
}

check_binary "$RQ" "$TOP/doc/relayq.8" "$TOP/completions/relayq.bash" "$TOP/completions/relayq.fish"
check_binary "$RQF" "$TOP/doc/relayq-flush.8" "$TOP/completions/relayq-flush.bash" "$TOP/completions/relayq-flush.fish"

for f in "$TOP"/completions/*.bash; do
	bash -n "$f"
	ok $? "$(basename "$f") is valid bash"
done

done_testing
