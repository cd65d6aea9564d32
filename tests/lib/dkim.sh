# relayq -- shell helpers for the DKIM tests (tests/t/5*-dkim*.t): keys made
# with certtool, their DNS records derived from certtool's own public key
# (not from relayq), and two independent verifiers from Debian.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Source it (bash) after tests/lib/harness.sh.
#
#   dkim_keys DIR          DIR/rsa.key (RSA-2048) and DIR/ed25519.key,
#                          mode 0600, and DIR/rsa.txt, DIR/ed25519.txt: the TXT
#                          record values ("v=DKIM1; k=...; p=...") made
#                          from certtool --pubkey-info; bails without
#                          certtool
#   dkim_messages DIR      the test messages, one file each: 1-plain,
#                          2-folded (folded From, To and Subject), 3-8bit
#                          (UTF-8 body, 8bit), 4-nonl (no final newline),
#                          5-order (fields in an unusual order, trailing
#                          white space and empty lines)
#   dkim_py TXT FILE...    python3-dkim's dkim.verify() on each message
#                          FILE, the key record (the value in file TXT)
#                          handed to it for sel._domainkey.example.org
#                          (tests/lib/dkim-verify.py): one line each,
#                          "pass" or "fail: " and the verifier's reason;
#                          status 0 when all pass
#   dkim_dns ZONE CMD...   runs CMD in a private network and mount
#                          namespace whose resolver asks a test DNS server
#                          on 127.0.0.1:53 answering TXT from ZONE (lines
#                          "NAME VALUE-FILE"); for verifiers that only
#                          look keys up in the DNS (opendkim-testmsg,
#                          python3-dkim's dkimverify); needs root and
#                          unshare; bails when the namespace cannot be made
#   dkim_opendkim ZONE FILE...
#                          OpenDKIM's opendkim-testmsg verifying each FILE
#                          through dkim_dns: one line each, "pass" or
#                          "fail: " and its complaint (it says nothing
#                          and exits 0 only for a good signature)
#   dkim_cli ZONE FILE...  python3-dkim's dkimverify command the same way
#   dkim_config KEY [EXTRA KEYS...]
#                          a fresh queue ($T/queue, $T/log) and a flush
#                          configuration with one session, signing as
#                          sel._domainkey.example.org with $T/k/KEY.key

DKIM_PY=/usr/bin/python3

dkim_keys() {
	local d=$1 t
	command -v certtool >/dev/null || bail "certtool is missing (gnutls-bin)"
	mkdir -p "$d"
	certtool --generate-privkey --key-type=rsa --bits=2048 \
	    --outfile "$d/rsa.key" >/dev/null 2>&1 || bail "certtool rsa"
	certtool --generate-privkey --key-type=ed25519 \
	    --outfile "$d/ed25519.key" >/dev/null 2>&1 || bail "certtool ed25519"
	chmod 600 "$d/rsa.key" "$d/ed25519.key"
	for t in rsa ed25519; do
		certtool --load-privkey "$d/$t.key" --pubkey-info --outder \
		    --outfile "$d/$t.spki" >/dev/null 2>&1 ||
		    bail "certtool --pubkey-info $t"
	done
	# RFC 6376: p= is the SubjectPublicKeyInfo for RSA; RFC 8463 4.2:
	# the raw 32 octets for Ed25519 (the end of its SPKI).
	"$DKIM_PY" - "$d" <<'EOF' || bail "cannot write the TXT records"
import base64, sys
d = sys.argv[1]
rsa = open(d + "/rsa.spki", "rb").read()
edk = open(d + "/ed25519.spki", "rb").read()
assert len(edk) == 44 and edk[:12] == bytes.fromhex("302a300506032b6570032100")
open(d + "/rsa.txt", "w").write("v=DKIM1; k=rsa; p=%s\n" % base64.b64encode(rsa).decode())
open(d + "/ed25519.txt", "w").write("v=DKIM1; k=ed25519; p=%s\n" % base64.b64encode(edk[12:]).decode())
EOF
}

# The messages the issue names, as a submitter would write them (LF).
dkim_messages() {
	local d=$1
	mkdir -p "$d"
	printf 'From: Alice <alice@example.org>\nTo: bob@example.net\nSubject: plain\n\nHello Bob.\n' >"$d/1-plain"
	printf 'From: Alice\n  <alice@example.org>\nTo: bob@example.net,\n\tcarol@example.net,\n dave@example.net\nSubject: a long subject\n  folded over\n\tthree lines\n\nbody\n' >"$d/2-folded"
	printf 'From: alice@example.org\nSubject: 8-bit\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nJ\303\266rg M\303\274ller pays 10 \342\202\254.\n\303\247a va \303\240 la plage\n' >"$d/3-8bit"
	printf 'From: alice@example.org\nSubject: no newline at the end\n\nfirst line\nlast line without an end' >"$d/4-nonl"
	printf 'Date: Fri, 1 Jan 2027 10:00:00 +0000\nTo: first@example.net\nX-Mailer: order\nSubject: fields in an unusual order\nCc: second@example.net\nFrom: alice@example.org\nMessage-ID: <order@example.org>\n\n  body  with   spaces  \n\n\n' >"$d/5-order"
}

dkim_py() {
	"$DKIM_PY" "$TOP/tests/lib/dkim-verify.py" "$@"
}

# The DNS server: TXT answers from the zone, NXDOMAIN for anything else.
_dkim_dnsd() {
	exec "$DKIM_PY" - "$1" "$2" <<'EOF'
import socket, sys
import dns.message, dns.rcode, dns.rdatatype, dns.rrset, dns.flags
zone = {}
for line in open(sys.argv[1]):
    if line.strip():
        name, f = line.split()
        zone[name.rstrip(".").lower() + "."] = open(f).read().strip()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
open(sys.argv[2], "w").write("ready\n")
while True:
    data, peer = s.recvfrom(4096)
    try:
        q = dns.message.from_wire(data)
    except Exception:
        continue
    r = dns.message.make_response(q)
    qn = q.question[0].name.to_text().lower()
    v = zone.get(qn)
    if v is not None and q.question[0].rdtype == dns.rdatatype.TXT:
        b = v.encode()
        parts = " ".join('"%s"' % b[i:i + 250].decode() for i in range(0, len(b), 250))
        r.answer.append(dns.rrset.from_text(qn, 60, "IN", "TXT", parts))
    else:
        r.set_rcode(dns.rcode.NXDOMAIN)
    s.sendto(r.to_wire(), peer)
EOF
}

dkim_dns() {
	local zone=$1
	shift
	command -v unshare >/dev/null || bail "unshare is missing (util-linux)"
	printf 'nameserver 127.0.0.1\noptions attempts:1 timeout:2\n' >"$T/resolv.conf"
	rm -f "$T/dnsd.ready"
	DKIM_ZONE=$zone DKIM_T=$T DKIM_PY=$DKIM_PY \
	unshare --mount --net bash -c '
		ip link set lo up || exit 97
		mount --bind "$DKIM_T/resolv.conf" /etc/resolv.conf || exit 97
		'"$(declare -f _dkim_dnsd)"'
		_dkim_dnsd "$DKIM_ZONE" "$DKIM_T/dnsd.ready" \
		    </dev/null >/dev/null 2>"$DKIM_T/dnsd.err" &
		dnsd=$!
		for i in $(seq 1 100); do
			[ -s "$DKIM_T/dnsd.ready" ] && break
			sleep 0.05
		done
		[ -s "$DKIM_T/dnsd.ready" ] || { kill $dnsd; exit 98; }
		"$@"
		rc=$?
		kill $dnsd
		wait $dnsd 2>/dev/null
		exit $rc' dkim_dns "$@"
	local rc=$?
	[ "$rc" = 97 ] && bail "cannot make a private network namespace for the test DNS"
	[ "$rc" = 98 ] && bail "the test DNS server did not start: $(cat "$T/dnsd.err")"
	return "$rc"
}

# Inside dkim_dns: each file through one verifier, "pass" or "fail: WHY".
_dkim_each() {
	local how=$1 f out
	shift
	for f in "$@"; do
		case $how in
		opendkim) out=$(opendkim-testmsg <"$f" 2>&1) ;;
		cli) out=$(/usr/bin/dkimverify <"$f" 2>&1) ;;
		esac
		if [ $? = 0 ]; then
			echo pass
		else
			echo "fail: $(printf '%s' "$out" | tail -1)"
		fi
	done
}

dkim_opendkim() {
	local zone=$1
	shift
	command -v opendkim-testmsg >/dev/null ||
	    bail "opendkim-testmsg is missing (opendkim-tools)"
	dkim_dns "$zone" bash -c "$(declare -f _dkim_each)"'; _dkim_each "$@"' \
	    _ opendkim "$@"
}

dkim_cli() {
	local zone=$1
	shift
	[ -x /usr/bin/dkimverify ] || bail "dkimverify is missing (python3-dkim)"
	dkim_dns "$zone" bash -c "$(declare -f _dkim_each)"'; _dkim_each "$@"' \
	    _ cli "$@"
}

dkim_config() {
	local key=$1
	shift
	rm -rf "$T/queue" "$T/log"
	flush_config "connections 1" "dkim_domain example.org" \
	    "dkim_selector sel" "dkim_key $T/k/$key.key" "$@"
}
