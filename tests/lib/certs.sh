#!/bin/sh
# relayq test suite -- make the test certificates with certtool.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later
#
# usage: tests/lib/certs.sh DIR
#
# Writes into DIR (created if missing; nothing is redone when DIR/.complete
# exists, so tests can share one set):
#   ca.pem ca.key                 the test CA
#   server.pem server.key         localhost, 127.0.0.1, ::1, signed by the CA
#   server-chain.pem              server.pem followed by ca.pem
#   expired.pem expired.key       localhost, signed by the CA, expired in 2021
#   wronghost.pem wronghost.key   wrong.example only, signed by the CA
#   selfsigned.pem selfsigned.key localhost, self-signed
#   ca2.pem ca2.key               a second CA nobody trusts
#   unknownca.pem unknownca.key   localhost, signed by ca2
#   client.pem client.key         a TLS client certificate signed by the CA
#   server.fp                     SHA-256 fingerprint of server.pem, AA:BB:...
#   selfsigned.fp                 the same for selfsigned.pem
# The fingerprint of server.pem is also printed on standard output.
#
# Keys are ECDSA P-256: quick to make, and any TLS 1.2/1.3 peer takes them.
set -eu

dir=${1:?usage: certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
# Tests run in parallel and may share DIR: one maker at a time.
exec 9>.lock
flock 9
if [ -f .complete ] && [ -f server.fp ]; then
	cat server.fp
	exit 0
fi

key() {
	certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 \
	    --outfile "$1" 2>/dev/null
	chmod 600 "$1"
}

# tmpl NAME LINES...: a certtool template file NAME.tmpl
tmpl() {
	name=$1
	shift
	: >"$name.tmpl"
	for l in "$@"; do
		printf '%s\n' "$l" >>"$name.tmpl"
	done
}

# selfsign NAME: a self-signed certificate from NAME.key and NAME.tmpl
selfsign() {
	certtool --generate-self-signed --load-privkey "$1.key" \
	    --template "$1.tmpl" --outfile "$1.pem" 2>/dev/null
}

# sign NAME CA: a certificate for NAME.key signed by CA.pem/CA.key
sign() {
	certtool --generate-certificate --load-privkey "$1.key" \
	    --load-ca-certificate "$2.pem" --load-ca-privkey "$2.key" \
	    --template "$1.tmpl" --outfile "$1.pem" 2>/dev/null
}

# fingerprint FILE: SHA-256 of the DER certificate as AA:BB:...
fingerprint() {
	certtool --certificate-info --infile "$1" --outder 2>/dev/null |
	    sha256sum | cut -d' ' -f1 | tr a-f A-F | sed 's/../&:/g; s/:$//'
}

# server_ext NAME: the extensions of a server certificate for localhost.
server_ext() {
	printf '%s\n' 'dns_name = "localhost"' 'ip_address = "127.0.0.1"' \
	    'ip_address = "::1"' tls_www_server signing_key encryption_key \
	    >>"$1.tmpl"
}

for n in ca ca2 server expired wronghost selfsigned unknownca client; do
	key "$n.key"
done

tmpl ca 'cn = "relayq test CA"' 'organization = "relayq tests"' ca \
    cert_signing_key crl_signing_key 'expiration_days = 3650'
selfsign ca
tmpl ca2 'cn = "relayq unknown CA"' 'organization = "nobody"' ca \
    cert_signing_key crl_signing_key 'expiration_days = 3650'
selfsign ca2

tmpl server 'cn = "localhost"' 'expiration_days = 3650'
server_ext server
sign server ca
tmpl expired 'cn = "localhost"' \
    'activation_date = "2020-01-01 00:00:00 UTC"' \
    'expiration_date = "2021-01-01 00:00:00 UTC"'
server_ext expired
sign expired ca
tmpl selfsigned 'cn = "localhost"' 'expiration_days = 3650'
server_ext selfsigned
selfsign selfsigned
tmpl unknownca 'cn = "localhost"' 'expiration_days = 3650'
server_ext unknownca
sign unknownca ca2
tmpl wronghost 'cn = "wrong.example"' 'dns_name = "wrong.example"' \
    'expiration_days = 3650' tls_www_server signing_key encryption_key
sign wronghost ca
tmpl client 'cn = "relayq test client"' 'email = "client@example.org"' \
    'expiration_days = 3650' tls_www_client signing_key encryption_key
sign client ca

cat server.pem ca.pem >server-chain.pem
fingerprint server.pem >server.fp
fingerprint selfsigned.pem >selfsigned.fp
rm -f ./*.tmpl
: >.complete
cat server.fp
