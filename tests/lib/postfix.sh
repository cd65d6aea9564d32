# relayq -- a private Postfix instance as the smart host for tests and
# the benchmark.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Source it from bash (a tests/t/*.t script, scripts/bench).  Needs root
# (Postfix's master must start as root) and the Debian packages postfix,
# sasl2-bin, libsasl2-modules and gnutls-bin.
#
# Everything lives under the directory given to postfix_start: its own
# config_directory, queue_directory, data_directory, SASL database, log
# file and mailboxes.  It never reads or writes /etc/postfix, never
# listens on port 25 and never talks to a system Postfix, so it runs on a
# machine where postfix was installed with "No configuration" as well as
# beside a running system instance, and several instances run side by side
# (prove -j).
#
#   postfix_start DIR [NAME=VALUE...]
#       Starts an instance; NAME=VALUE lines are appended to its main.cf
#       (e.g. message_size_limit=20000).  On success it sets, and writes
#       to DIR/env for later sourcing:
#         PF_DIR        DIR
#         PF_PORT       submission: STARTTLS required, AUTH required
#         PF_TLS_PORT   implicit TLS (smtpd_tls_wrappermode), AUTH required
#         PF_PLAIN_PORT STARTTLS offered, AUTH offered after TLS, neither
#                       required (a plain relay for loopback)
#         PF_USER, PF_PASS   the SASL account (user name without realm;
#                       PF_USER@PF_REALM is accepted too)
#         PF_REALM      the SASL realm
#         PF_CA         the CA certificate that signed the server's one
#         PF_HOST       a name in the server's certificate to verify it by
#                       (localhost with tests/lib/certs.sh's certificate,
#                       else mx.example.test; 127.0.0.1 is in it as well)
#         PF_MECHS      the SASL mechanisms offered
#       Every recipient in every domain is accepted and delivered to one
#       maildir, DIR/mail/inbox/new/: one file per recipient, whose first
#       line is "Return-Path: <SENDER>", then "Delivered-To: RECIPIENT"
#       (Postfix's virtual agent adds both), except:
#         reject@example.test   refused with 550 at RCPT
#         defer@example.test    refused with 450 at RCPT
#       Returns non-zero, after printing why on stderr, if it cannot start.
#       When the caller has at_exit (tests/lib/harness.sh), the instance is
#       stopped when the test ends, whatever happens.
#   postfix_stop DIR
#       Stops the instance and removes its queue and data directories;
#       mailboxes and the log stay for inspection.
#   postfix_delivered DIR
#       Prints the number of deliveries so far (one per recipient).
#   postfix_wait_delivered DIR N [TIMEOUT]
#       Waits until at least N messages are delivered (default 30 s);
#       non-zero on timeout.
#   postfix_messages DIR [ADDRESS]
#       Prints the paths of the delivered message files, oldest first;
#       with ADDRESS, only those delivered to it (case-insensitive).
#   postfix_log DIR
#       Prints the instance's log (DIR/maillog).
#   postfix_free_ports N
#       Prints N distinct unused TCP ports on 127.0.0.1, one a line.
#
# Why the set-up looks as it does:
# - chroot is off for every service: the SASL database, the certificates
#   and the mailboxes are under DIR, outside any chroot.
# - smtpd runs as the postfix user and the virtual delivery agent as
#   "nobody", so DIR and its ancestors must be searchable by them: an
#   ancestor owned by us that is not (mktemp -d makes 0700 directories)
#   gets o+x, nothing more.
# - Logging goes to DIR/maillog through postlogd (maillog_file), not to
#   syslog, so a test can read what the server saw.

PF_TOP=${PF_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PF_SBIN=${PF_SBIN:-/usr/sbin}
PF_USER=testuser
PF_PASS='Test-Pass-4711'
PF_REALM=example.test
PF_HOST=mx.example.test
PF_MECHS='PLAIN LOGIN SCRAM-SHA-1 SCRAM-SHA-256 CRAM-MD5'

_pf_err() { echo "postfix.sh: $*" >&2; }

postfix_free_ports() {
	# Binds all N at once so that they are distinct, then releases them;
	# the window until Postfix binds them is covered by a retry in
	# postfix_start.
	python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
EOF
}

# _pf_searchable DIR: make DIR and its ancestors searchable by other users
# (o+x only), where we own them and they are not already.
_pf_searchable() {
	local d=$1 me
	me=$(id -u)
	while [ -n "$d" ] && [ "$d" != / ]; do
		if [ -d "$d" ] && [ "$(stat -c %u "$d")" = "$me" ] &&
		    [ $(( 0$(stat -c %a "$d") & 1 )) -eq 0 ]; then
			chmod o+x "$d" || return 1
		fi
		d=$(dirname "$d")
	done
}

# _pf_certs DIR: a CA and a server certificate in DIR/certs (ca.pem,
# server.pem, server.key) and the name to verify it by in DIR/certs/host.
# tests/lib/certs.sh, when present and usable, is the one source of test
# certificates (its server certificate names localhost, 127.0.0.1 and ::1);
# otherwise they are made here with certtool, for mx.example.test,
# localhost and 127.0.0.1.
_pf_certs() {
	local c=$1/certs f
	mkdir -p "$c" || return 1
	if [ -x "$PF_TOP/tests/lib/certs.sh" ] || [ -f "$PF_TOP/tests/lib/certs.sh" ]; then
		if bash "$PF_TOP/tests/lib/certs.sh" "$c/shared" >/dev/null 2>&1; then
			# Accept the names an engineer is likely to use.
			for f in ca.pem ca.crt ca-cert.pem cacert.pem; do
				[ -f "$c/shared/$f" ] && cp "$c/shared/$f" "$c/ca.pem" && break
			done
			for f in server.pem server.crt server-cert.pem; do
				[ -f "$c/shared/$f" ] && cp "$c/shared/$f" "$c/server.pem" && break
			done
			for f in server.key server-key.pem; do
				[ -f "$c/shared/$f" ] && cp "$c/shared/$f" "$c/server.key" && break
			done
			if [ -s "$c/ca.pem" ] && [ -s "$c/server.pem" ] && [ -s "$c/server.key" ] &&
			    certtool --verify --load-ca-certificate "$c/ca.pem" \
			    --infile "$c/server.pem" >/dev/null 2>&1; then
				chmod 0644 "$c/ca.pem" "$c/server.pem"
				chmod 0600 "$c/server.key"
				echo localhost >"$c/host"
				return 0
			fi
			rm -f "$c/ca.pem" "$c/server.pem" "$c/server.key"
		fi
	fi
	cat >"$c/ca.tmpl" <<'EOF'
cn = "relayq test CA"
organization = "relayq tests"
ca
cert_signing_key
expiration_days = 3650
EOF
	cat >"$c/server.tmpl" <<'EOF'
cn = "mx.example.test"
organization = "relayq tests"
dns_name = "mx.example.test"
dns_name = "localhost"
ip_address = "127.0.0.1"
ip_address = "::1"
tls_www_server
signing_key
encryption_key
expiration_days = 3650
EOF
	certtool --generate-privkey --key-type=ecdsa --outfile "$c/ca.key" \
	    >/dev/null 2>&1 &&
	certtool --generate-self-signed --load-privkey "$c/ca.key" \
	    --template "$c/ca.tmpl" --outfile "$c/ca.pem" >/dev/null 2>&1 &&
	certtool --generate-privkey --key-type=ecdsa --outfile "$c/server.key" \
	    >/dev/null 2>&1 &&
	certtool --generate-certificate --load-privkey "$c/server.key" \
	    --load-ca-certificate "$c/ca.pem" --load-ca-privkey "$c/ca.key" \
	    --template "$c/server.tmpl" --outfile "$c/server.pem" >/dev/null 2>&1 ||
	    { _pf_err "certtool failed to make test certificates in $c"; return 1; }
	chmod 0600 "$c/ca.key" "$c/server.key"
	echo mx.example.test >"$c/host"
}

# _pf_write_config DIR PORT TLS_PORT PLAIN_PORT [NAME=VALUE...]
_pf_write_config() {
	local dir=$1 port=$2 tport=$3 pport=$4 kv
	shift 4
	cat >"$dir/etc/main.cf" <<EOF
# Private Postfix instance for relayq's tests; written by tests/lib/postfix.sh.
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/data
daemon_directory = $(_pf_default daemon_directory)
shlib_directory = $(_pf_default shlib_directory)
meta_directory = $(_pf_default meta_directory)
command_directory = $PF_SBIN
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-relayqtest
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.example.test
mydomain = example.test
myorigin = \$myhostname
mydestination =
mynetworks = 127.0.0.0/8
relayhost =
alias_maps =
alias_database =
local_recipient_maps =
biff = no
append_dot_mydomain = no
smtputf8_enable = yes
message_size_limit = 0
mailbox_size_limit = 0
virtual_mailbox_limit = 0
# A short queue run so that a deferred test message does not linger.
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 30s
delay_warning_time = 0
# Every domain is ours; each recipient gets a maildir of its own.
virtual_mailbox_domains = static:all
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
virtual_minimum_uid = 1
virtual_transport = virtual
smtpd_banner = \$myhostname ESMTP relayq-test
smtpd_tls_cert_file = $dir/certs/server.pem
smtpd_tls_key_file = $dir/certs/server.key
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $dir/etc/sasl
smtpd_sasl_local_domain = $PF_REALM
smtpd_sasl_security_options = noanonymous
smtpd_sasl_authenticated_header = yes
broken_sasl_auth_clients = no
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access regexp:$dir/etc/rcpt_access
EOF
	# Overrides replace the line they override: Postfix would warn about
	# each duplicate in every process it starts.
	for kv in "$@"; do
		sed -i "/^${kv%%=*} =\\( \\|\$\\)/d" "$dir/etc/main.cf" &&
		printf '%s = %s\n' "${kv%%=*}" "${kv#*=}" >>"$dir/etc/main.cf" ||
		    return 1
	done
	cat >"$dir/etc/rcpt_access" <<'EOF'
/^reject@example\.test$/	550 5.1.1 <reject@example.test>: recipient rejected by test server
/^defer@example\.test$/	450 4.2.0 <defer@example.test>: try again later
EOF
	# Submission ports: like a relay service's 587 and 465, nothing
	# happens before AUTH.
	local sub="-o smtpd_client_restrictions=permit_sasl_authenticated,reject -o smtpd_relay_restrictions=permit_sasl_authenticated,reject"
	cat >"$dir/etc/master.cf" <<EOF
# Private Postfix instance for relayq's tests; written by tests/lib/postfix.sh.
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:$port inet n - n - - smtpd -o smtpd_tls_security_level=encrypt $sub
127.0.0.1:$tport inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt $sub
127.0.0.1:$pport inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	mkdir -p "$dir/etc/sasl" || return 1
	cat >"$dir/etc/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $dir/sasldb2
mech_list: $PF_MECHS
log_level: 3
EOF
}

# _pf_default NAME: Postfix's compiled-in default for NAME.  postconf -d
# still wants a main.cf, so it reads an empty one of ours.
_pf_default() {
	local d
	d=$(mktemp -d "${TMPDIR:-/tmp}/pfdef.XXXXXX") || return 1
	: >"$d/main.cf"
	: >"$d/master.cf"
	postconf -c "$d" -dh "$1"
	rm -rf "$d"
}

_pf_port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

postfix_start() {
	local dir=$1 try ports port tport pport i
	shift
	if [ -z "$dir" ]; then
		_pf_err "usage: postfix_start DIR [NAME=VALUE...]"
		return 64
	fi
	if [ "$(id -u)" -ne 0 ]; then
		_pf_err "a private Postfix needs root (its master starts as root)"
		return 77
	fi
	for i in postfix postconf saslpasswd2 certtool python3; do
		if ! command -v "$i" >/dev/null 2>&1 && ! [ -x "$PF_SBIN/$i" ]; then
			_pf_err "$i is missing (run scripts/deps)"
			return 69
		fi
	done
	if ! getent passwd postfix >/dev/null || ! getent group postdrop >/dev/null; then
		_pf_err "the postfix user or postdrop group is missing (install postfix)"
		return 69
	fi
	mkdir -p "$dir" || return 73
	dir=$(cd "$dir" && pwd) || return 73
	# What is removed below must be ours: DIR is empty, or was made by an
	# earlier postfix_start (the marker).  postfix_start / must never
	# touch /etc.
	if [ -n "$(ls -A "$dir")" ] && ! [ -f "$dir/.relayq-postfix" ]; then
		_pf_err "$dir is not empty and not a private Postfix's directory"
		return 73
	fi
	: >"$dir/.relayq-postfix" || return 73
	if [ -f "$dir/spool/pid/master.pid" ]; then
		postfix_stop "$dir"
	fi
	rm -rf "${dir:?}/etc" "${dir:?}/spool" "${dir:?}/data"
	mkdir -p "$dir/etc" "$dir/spool" "$dir/data" "$dir/mail" || return 73
	chmod 0755 "$dir" "$dir/etc" "$dir/spool"
	chown postfix "$dir/data" && chmod 0700 "$dir/data" || return 73
	chown nobody "$dir/mail" || return 73
	: >"$dir/maillog"
	_pf_searchable "$dir" || { _pf_err "cannot make $dir searchable"; return 73; }
	if ! [ -s "$dir/certs/server.pem" ] || ! [ -s "$dir/certs/host" ]; then
		_pf_certs "$dir" || return 1
	fi
	PF_CA=$dir/certs/ca.pem
	PF_HOST=$(cat "$dir/certs/host")

	# The SASL database: the user in our realm, readable by smtpd, which
	# runs as postfix.  saslpasswd2 also stores the SCRAM and CRAM
	# secrets, because it computes them for every plugin it loads.
	rm -f "$dir/sasldb2"
	if ! printf '%s' "$PF_PASS" | saslpasswd2 -f "$dir/sasldb2" -p -c \
	    -u "$PF_REALM" "$PF_USER" 2>"$dir/saslpasswd2.err"; then
		_pf_err "saslpasswd2 failed: $(cat "$dir/saslpasswd2.err")"
		return 1
	fi
	chown root:postfix "$dir/sasldb2" && chmod 0640 "$dir/sasldb2" || return 1

	for try in 1 2 3; do
		ports=$(postfix_free_ports 3) || { _pf_err "cannot pick ports"; return 1; }
		port=$(echo "$ports" | sed -n 1p)
		tport=$(echo "$ports" | sed -n 2p)
		pport=$(echo "$ports" | sed -n 3p)
		_pf_write_config "$dir" "$port" "$tport" "$pport" "$@" || return 1
		# create-missing makes the queue's subdirectories with the
		# owners and modes of postfix-files; it touches nothing outside
		# the instance's own directories.
		if ! postfix -c "$dir/etc" check >"$dir/check.out" 2>&1; then
			_pf_err "postfix check failed: $(cat "$dir/check.out")"
			return 1
		fi
		if postfix -c "$dir/etc" start >"$dir/start.out" 2>&1; then
			break
		fi
		if [ "$try" -eq 3 ]; then
			_pf_err "postfix start failed: $(cat "$dir/start.out"; tail -5 "$dir/maillog")"
			return 1
		fi
		# Most likely one of the ports was taken meanwhile.
		sleep 0.2
	done
	if type at_exit >/dev/null 2>&1; then
		at_exit postfix_stop "$dir"
	fi
	# master binds the listeners before "start" returns; wait for each
	# to accept all the same, in case a slow machine lags.
	for i in $(seq 1 100); do
		if _pf_port_open "$port" && _pf_port_open "$tport" &&
		    _pf_port_open "$pport"; then
			break
		fi
		sleep 0.1
	done
	if ! _pf_port_open "$port"; then
		_pf_err "Postfix is not listening on 127.0.0.1:$port: $(tail -5 "$dir/maillog")"
		postfix_stop "$dir"
		return 1
	fi
	# shellcheck disable=SC2034  # for the caller
	PF_DIR=$dir PF_PORT=$port PF_TLS_PORT=$tport PF_PLAIN_PORT=$pport
	cat >"$dir/env" <<EOF
PF_DIR='$dir'
PF_PORT=$port
PF_TLS_PORT=$tport
PF_PLAIN_PORT=$pport
PF_USER='$PF_USER'
PF_PASS='$PF_PASS'
PF_REALM='$PF_REALM'
PF_CA='$PF_CA'
PF_HOST='$PF_HOST'
PF_MECHS='$PF_MECHS'
EOF
	return 0
}

postfix_stop() {
	local dir=$1 pid i
	[ -d "$dir/etc" ] && [ -f "$dir/.relayq-postfix" ] || return 0
	# "|| ..." throughout: a caller under set -e must not die here.
	pid=$(tr -dc 0-9 2>/dev/null <"$dir/spool/pid/master.pid") || pid=
	postfix -c "$dir/etc" stop >/dev/null 2>&1 || :
	if [ -n "$pid" ]; then
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		# Only this instance's master, by its own pid file.
		if kill -0 "$pid" 2>/dev/null &&
		    grep -q master "/proc/$pid/comm" 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null || :
		fi
	fi
	rm -rf "${dir:?}/spool" "${dir:?}/data" || :
	return 0
}

postfix_messages() {
	local f
	find "$1/mail" -path '*/new/*' -type f -printf '%T@ %p\n' 2>/dev/null |
	    sort -n | cut -d' ' -f2- | while IFS= read -r f; do
		if [ $# -lt 2 ] || sed -n '1,5p' "$f" | tr -d '\r' |
		    grep -qixF "Delivered-To: $2"; then
			printf '%s\n' "$f"
		fi
	done
}

postfix_delivered() {
	find "$1/mail" -path '*/new/*' -type f 2>/dev/null | wc -l | tr -d ' '
}

postfix_wait_delivered() {
	local dir=$1 n=$2 timeout=${3:-30} end
	end=$(( $(date +%s) + timeout ))
	while [ "$(postfix_delivered "$dir")" -lt "$n" ]; do
		if [ "$(date +%s)" -ge "$end" ]; then
			_pf_err "timeout: $(postfix_delivered "$dir") of $n messages delivered in ${timeout}s"
			return 1
		fi
		sleep 0.1
	done
	return 0
}

postfix_log() {
	cat "$1/maillog"
}
