/*
 * relayq -- unit tests for the configuration reader (msmtp syntax).
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every file is written into a fresh temporary directory; HOME and the
 * XDG variables point into it, so nothing outside is read or written
 * (except the system file's existence, which conf_find may report).
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "tap.h"
#include "util.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef SPOOLDIR
#define SPOOLDIR "/var/spool/relayq"
#endif

#define DATADIR "tests/unit/data/conf"

static char tmpdir[PATH_MAX];
static int nfile;

static char *
write_file(const char *name, const char *text, mode_t mode)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		diag("cannot write %s: %s", path, strerror(errno));
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

/* Load text as a configuration file of mode 0600 (a fresh name each time). */
static int
load_text(const char *text, struct conf **c, struct rq_err *err)
{
	char name[32];
	char *path;
	int rc;

	(void)snprintf(name, sizeof(name), "conf%d", ++nfile);
	path = write_file(name, text, 0600);
	rq_errclear(err);
	rc = conf_load(path, 1, c, err);
	free(path);
	return rc;
}

static const char *
hdr(enum hdr_mode m)
{
	return m == HDR_ON ? "on" : m == HDR_OFF ? "off" : "auto";
}

static const char *
nul(const char *s)
{
	return s != NULL ? s : "(null)";
}

/* One field of an account, as text, so that tables can name fields. */
static char *
field(const struct account *a, const char *f)
{
	struct buf b = { 0 };

	if (strcmp(f, "hosts") == 0) {
		for (size_t i = 0; i < a->hosts.n; i++)
			buf_addf(&b, "%s%s", i ? "|" : "", a->hosts.v[i]);
	} else if (strcmp(f, "port") == 0)
		buf_addf(&b, "%d", a->port);
	else if (strcmp(f, "conf_port") == 0)
		buf_addf(&b, "%d", conf_port(a));
	else if (strcmp(f, "implicit") == 0)
		buf_addf(&b, "%d", conf_implicit_tls(a));
	else if (strcmp(f, "tls") == 0)
		buf_addf(&b, "%d", a->tls);
	else if (strcmp(f, "tls_starttls") == 0)
		buf_addf(&b, "%d/%d", a->tls_starttls, a->tls_starttls_set);
	else if (strcmp(f, "tls_certcheck") == 0)
		buf_addf(&b, "%d", a->tls_certcheck);
	else if (strcmp(f, "tls_trust_file") == 0)
		buf_addstr(&b, nul(a->tls_trust_file));
	else if (strcmp(f, "tls_crl_file") == 0)
		buf_addstr(&b, nul(a->tls_crl_file));
	else if (strcmp(f, "tls_fingerprint") == 0)
		buf_addstr(&b, nul(a->tls_fingerprint));
	else if (strcmp(f, "tls_cert_file") == 0)
		buf_addf(&b, "%s|%s", nul(a->tls_cert_file),
		    nul(a->tls_key_file));
	else if (strcmp(f, "tls_priorities") == 0)
		buf_addstr(&b, nul(a->tls_priorities));
	else if (strcmp(f, "tls_host_override") == 0)
		buf_addstr(&b, nul(a->tls_host_override));
	else if (strcmp(f, "auth") == 0)
		buf_addstr(&b, nul(a->auth));
	else if (strcmp(f, "user") == 0)
		buf_addstr(&b, nul(a->user));
	else if (strcmp(f, "password") == 0)
		buf_addstr(&b, nul(a->password));
	else if (strcmp(f, "passwordeval") == 0)
		buf_addstr(&b, nul(a->passwordeval));
	else if (strcmp(f, "auth_plaintext") == 0)
		buf_addf(&b, "%d", a->auth_plaintext);
	else if (strcmp(f, "from") == 0)
		buf_addstr(&b, nul(a->from));
	else if (strcmp(f, "from_full_name") == 0)
		buf_addstr(&b, nul(a->from_full_name));
	else if (strcmp(f, "allow_from_override") == 0)
		buf_addf(&b, "%d", a->allow_from_override);
	else if (strcmp(f, "domain") == 0)
		buf_addstr(&b, nul(a->domain));
	else if (strcmp(f, "timeout") == 0)
		buf_addf(&b, "%d", a->timeout);
	else if (strcmp(f, "source_ip") == 0)
		buf_addstr(&b, nul(a->source_ip));
	else if (strcmp(f, "logfile") == 0)
		buf_addstr(&b, nul(a->logfile));
	else if (strcmp(f, "syslog") == 0)
		buf_addstr(&b, nul(a->syslog));
	else if (strcmp(f, "aliases") == 0)
		buf_addstr(&b, nul(a->aliases));
	else if (strcmp(f, "dsn_notify") == 0)
		buf_addstr(&b, nul(a->dsn_notify));
	else if (strcmp(f, "dsn_return") == 0)
		buf_addstr(&b, nul(a->dsn_return));
	else if (strcmp(f, "set_from_header") == 0)
		buf_addstr(&b, hdr(a->set_from_header));
	else if (strcmp(f, "set_date_header") == 0)
		buf_addstr(&b, hdr(a->set_date_header));
	else if (strcmp(f, "set_msgid_header") == 0)
		buf_addstr(&b, hdr(a->set_msgid_header));
	else if (strcmp(f, "remove_bcc_headers") == 0)
		buf_addf(&b, "%d", a->remove_bcc_headers);
	else if (strcmp(f, "undisclosed") == 0)
		buf_addstr(&b, nul(a->undisclosed_recipients));
	else if (strcmp(f, "qualify_domain") == 0)
		buf_addstr(&b, nul(a->qualify_domain));
	else if (strcmp(f, "connections") == 0)
		buf_addf(&b, "%d", a->connections);
	else if (strcmp(f, "max_messages") == 0)
		buf_addf(&b, "%d", a->max_messages_per_connection);
	else if (strcmp(f, "rate_limit") == 0)
		buf_addf(&b, "%d/%lld", a->rate_limit_count,
		    a->rate_limit_period);
	else if (strcmp(f, "retry") == 0)
		buf_addf(&b, "%lld-%lld", a->retry_min, a->retry_max);
	else if (strcmp(f, "max_queue_time") == 0)
		buf_addf(&b, "%lld", a->max_queue_time);
	else if (strcmp(f, "bounce") == 0)
		buf_addf(&b, "%d|%s", a->bounce, nul(a->bounce_to));
	else if (strcmp(f, "warmup") == 0)
		for (size_t i = 0; i < a->nwarmup; i++)
			buf_addf(&b, "%s%lld", i > 0 ? "," : "",
			    a->warmup[i]);
	else if (strcmp(f, "dkim") == 0)
		buf_addf(&b, "%s|%s|%s", nul(a->dkim_domain),
		    nul(a->dkim_selector), nul(a->dkim_key));
	else if (strcmp(f, "dkim_headers") == 0)
		buf_addstr(&b, nul(a->dkim_headers));
	else if (strcmp(f, "dkim_canon") == 0)
		buf_addf(&b, "%d/%d", a->dkim_hcanon, a->dkim_bcanon);
	else if (strcmp(f, "dkim_expire") == 0)
		buf_addf(&b, "%lld", a->dkim_expire);
	else
		buf_addf(&b, "?unknown field %s", f);
	return buf_steal(&b);
}

/* ---- every key: valid values ------------------------------------------ */

static const struct {
	const char	*lines;		/* after "account a\nhost h.example\n" */
	const char	*field;
	const char	*want;		/* "$H" is replaced by the test HOME */
} valid[] = {
	{ "", "hosts", "h.example" },
	{ "host a.example b.example", "hosts", "a.example|b.example" },
	{ "host a.example,b.example, c.example", "hosts",
	    "a.example|b.example|c.example" },
	{ "host [::1]", "hosts", "::1" },
	{ "host 127.0.0.1", "hosts", "127.0.0.1" },
	{ "host 2001:db8::25", "hosts", "2001:db8::25" },
	{ "port 2525", "port", "2525" },
	{ "port 1", "port", "1" },
	{ "port 65535", "port", "65535" },
	{ "port", "port", "0" },
	{ "tls off", "tls", "0" },
	{ "tls", "tls", "1" },
	{ "tls no", "tls", "0" },
	{ "tls_starttls off", "tls_starttls", "0/1" },
	{ "tls_starttls on", "tls_starttls", "1/1" },
	{ "", "tls_starttls", "1/0" },
	{ "port 465", "tls_starttls", "0/0" },
	{ "tls_certcheck off", "tls_certcheck", "0" },
	{ "", "tls_certcheck", "1" },
	{ "", "tls_trust_file", "(null)" },
	{ "tls_trust_file system", "tls_trust_file", "(null)" },
	{ "tls_trust_file /etc/ssl/certs/ca-certificates.crt",
	    "tls_trust_file", "/etc/ssl/certs/ca-certificates.crt" },
	{ "tls_trust_file ~/ca.pem", "tls_trust_file", "$H/ca.pem" },
	{ "tls_trust_file\ntls_fingerprint " "00:11:22:33:44:55:66:77:88:99:"
	    "aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff",
	    "tls_trust_file", "" },
	{ "tls_trust_file\ntls_certcheck off", "tls_trust_file", "" },
	{ "tls_crl_file /etc/crl.pem", "tls_crl_file", "/etc/crl.pem" },
	{ "tls_crl_file", "tls_crl_file", "(null)" },
	{ "tls_fingerprint 00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
	    "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff",
	    "tls_fingerprint", "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:"
	    "FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF" },
	{ "tls_fingerprint 00112233445566778899aabbccddeeff"
	    "00112233445566778899AABBCCDDEEFF",
	    "tls_fingerprint", "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:"
	    "FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF" },
	{ "tls_fingerprint", "tls_fingerprint", "(null)" },
	{ "tls_cert_file /c.pem\ntls_key_file /k.pem", "tls_cert_file",
	    "/c.pem|/k.pem" },
	{ "tls_cert_file ~/c\ntls_key_file ~/k", "tls_cert_file", "$H/c|$H/k" },
	{ "tls_cert_file pkcs11:object=x\ntls_key_file pkcs11:object=y",
	    "tls_cert_file", "pkcs11:object=x|pkcs11:object=y" },
	{ "tls_priorities NORMAL:-VERS-TLS1.2", "tls_priorities",
	    "NORMAL:-VERS-TLS1.2" },
	{ "tls_priorities", "tls_priorities", "(null)" },
	{ "tls_host_override mx.example", "tls_host_override", "mx.example" },
	{ "", "auth", "(null)" },
	{ "auth on", "auth", "on" },
	{ "auth", "auth", "on" },
	{ "auth off", "auth", "(null)" },
	{ "auth plain", "auth", "PLAIN" },
	{ "auth LOGIN", "auth", "LOGIN" },
	{ "auth cram-md5", "auth", "CRAM-MD5" },
	{ "auth digest-md5", "auth", "DIGEST-MD5" },
	{ "auth scram-sha-1", "auth", "SCRAM-SHA-1" },
	{ "auth scram-sha-1-plus", "auth", "SCRAM-SHA-1-PLUS" },
	{ "auth scram-sha-256", "auth", "SCRAM-SHA-256" },
	{ "auth Scram-Sha-256-Plus", "auth", "SCRAM-SHA-256-PLUS" },
	{ "auth gssapi", "auth", "GSSAPI" },
	{ "auth external", "auth", "EXTERNAL" },
	{ "auth oauthbearer", "auth", "OAUTHBEARER" },
	{ "auth xoauth2", "auth", "XOAUTH2" },
	{ "auth xoauth2\nauth on", "auth", "on" },
	{ "user joe@example.org", "user", "joe@example.org" },
	{ "user joe\nuser", "user", "(null)" },
	{ "password s3cret", "password", "s3cret" },
	{ "password \"with spaces \"", "password", "with spaces " },
	{ "password \"a\\\"b\\\\c\"", "password", "a\\\"b\\\\c" },
	{ "password #not-a-comment", "password", "#not-a-comment" },
	{ "password a\"b", "password", "a\"b" },
	{ "password \"", "password", "\"" },
	{ "passwordeval pass show mail", "passwordeval", "pass show mail" },
	{ "passwordeval \"gpg -d ~/x.gpg\"", "passwordeval", "gpg -d ~/x.gpg" },
	{ "from joe@example.org", "from", "joe@example.org" },
	{ "from *@example.org", "from", "*@example.org" },
	{ "from joe+?@example.org", "from", "joe+?@example.org" },
	{ "from \"joe@example.org\"", "from", "joe@example.org" },
	{ "from", "from", "(null)" },
	{ "from_full_name Joe Q. Public", "from_full_name", "Joe Q. Public" },
	{ "from_full_name \"  Joe  \"", "from_full_name", "  Joe  " },
	{ "", "allow_from_override", "1" },
	{ "allow_from_override off", "allow_from_override", "0" },
	{ "domain mail.example.org", "domain", "mail.example.org" },
	{ "domain [192.0.2.1]", "domain", "[192.0.2.1]" },
	{ "domain b\xc3\xbc" "cher.example", "domain",
	    "b\xc3\xbc" "cher.example" },
	{ "", "timeout", "0" },
	{ "timeout 30", "timeout", "30" },
	{ "timeout 2m", "timeout", "120" },
	{ "timeout off", "timeout", "0" },
	{ "connect_timeout 15", "timeout", "15" },
	{ "source_ip 192.0.2.7", "source_ip", "192.0.2.7" },
	{ "source_ip 2001:db8::1", "source_ip", "2001:db8::1" },
	{ "source_ip", "source_ip", "(null)" },
	{ "logfile ~/.msmtp.log", "logfile", "$H/.msmtp.log" },
	{ "logfile -", "logfile", "-" },
	{ "logfile", "logfile", "(null)" },
	{ "", "syslog", "(null)" },
	{ "syslog", "syslog", "on" },
	{ "syslog on", "syslog", "on" },
	{ "syslog off", "syslog", "off" },
	{ "syslog LOG_MAIL", "syslog", "LOG_MAIL" },
	{ "syslog log_user", "syslog", "LOG_USER" },
	{ "syslog LOG_LOCAL7", "syslog", "LOG_LOCAL7" },
	{ "syslog local3", "syslog", "LOG_LOCAL3" },
	{ "syslog daemon", "syslog", "LOG_DAEMON" },
	{ "aliases /etc/aliases", "aliases", "/etc/aliases" },
	{ "aliases ~/.aliases", "aliases", "$H/.aliases" },
	{ "aliases", "aliases", "(null)" },
	{ "dsn_notify off", "dsn_notify", "(null)" },
	{ "dsn_notify never", "dsn_notify", "never" },
	{ "dsn_notify failure", "dsn_notify", "failure" },
	{ "dsn_notify success,failure,delay", "dsn_notify",
	    "success,failure,delay" },
	{ "dsn_notify Delay, Failure", "dsn_notify", "delay,failure" },
	{ "dsn_return off", "dsn_return", "(null)" },
	{ "dsn_return headers", "dsn_return", "headers" },
	{ "dsn_return hdrs", "dsn_return", "headers" },
	{ "dsn_return full", "dsn_return", "full" },
	{ "", "set_from_header", "auto" },
	{ "set_from_header on", "set_from_header", "on" },
	{ "set_from_header off", "set_from_header", "off" },
	{ "set_from_header auto", "set_from_header", "auto" },
	{ "set_from_header", "set_from_header", "on" },
	{ "", "set_date_header", "auto" },
	{ "set_date_header off", "set_date_header", "off" },
	{ "set_date_header", "set_date_header", "auto" },
	{ "set_msgid_header off", "set_msgid_header", "off" },
	{ "set_msgid_header auto", "set_msgid_header", "auto" },
	{ "add_missing_from_header off", "set_from_header", "off" },
	{ "add_missing_date_header on", "set_date_header", "auto" },
	{ "", "remove_bcc_headers", "1" },
	{ "remove_bcc_headers off", "remove_bcc_headers", "0" },
	{ "keepbcc on", "remove_bcc_headers", "0" },
	{ "keepbcc off", "remove_bcc_headers", "1" },
	{ "", "undisclosed", "(null)" },
	{ "set_to_header on", "undisclosed", "undisclosed-recipients:;" },
	{ "set_to_header undisclosed_recipients", "undisclosed",
	    "undisclosed-recipients:;" },
	{ "set_to_header off", "undisclosed", "(null)" },
	{ "undisclosed_recipients", "undisclosed",
	    "undisclosed-recipients:;" },
	{ "undisclosed_recipients off", "undisclosed", "(null)" },
	{ "", "auth_plaintext", "0" },
	{ "allow_plaintext_auth on", "auth_plaintext", "1" },
	{ "qualify_domain example.org", "qualify_domain", "example.org" },
	{ "", "connections", "4" },
	{ "connections 1", "connections", "1" },
	{ "connections 64", "connections", "64" },
	{ "", "max_messages", "0" },
	{ "max_messages_per_connection 100", "max_messages", "100" },
	{ "max_messages_per_connection off", "max_messages", "0" },
	{ "", "rate_limit", "0/0" },
	{ "rate_limit 100/1h", "rate_limit", "100/3600" },
	{ "rate_limit 10/m", "rate_limit", "10/60" },
	{ "rate_limit 5/30s", "rate_limit", "5/30" },
	{ "rate_limit 100/1h\nrate_limit off", "rate_limit", "0/0" },
	{ "", "retry", "60-3600" },
	{ "retry_min 30s\nretry_max 2h", "retry", "30-7200" },
	{ "retry_min 5m\nretry_max 5m", "retry", "300-300" },
	{ "", "max_queue_time", "432000" },
	{ "max_queue_time 1d", "max_queue_time", "86400" },
	{ "max_queue_time 2w", "max_queue_time", "1209600" },
	{ "", "bounce", "1|(null)" },
	{ "", "warmup", "" },
	{ "warmup 50 100 500 1000 5000", "warmup", "50,100,500,1000,5000" },
	{ "warmup 20,40, 80", "warmup", "20,40,80" },
	{ "warmup 10\nwarmup off", "warmup", "" },
	{ "bounce off", "bounce", "0|(null)" },
	{ "bounce on", "bounce", "1|(null)" },
	{ "bounce postmaster@example.org", "bounce",
	    "1|postmaster@example.org" },
	{ "", "dkim", "(null)|(null)|(null)" },
	{ "dkim_domain example.org\ndkim_selector mail\n"
	    "dkim_key ~/dkim.key", "dkim", "example.org|mail|$H/dkim.key" },
	{ "dkim_selector mail\ndkim_key /k", "dkim", "(null)|mail|/k" },
	{ "dkim_domain b\303\274cher.example\ndkim_selector s\ndkim_key /k",
	    "dkim", "b\303\274cher.example|s|/k" },
	{ "dkim_domain example.org\ndkim_selector s\ndkim_key /k\n"
	    "dkim_domain", "dkim", "(null)|s|/k" },
	{ "", "dkim_headers", "(null)" },
	{ "dkim_headers +from:to:subject", "dkim_headers", "+from:to:subject" },
	{ "", "dkim_canon", "2/2" },
	{ "dkim_canon simple/simple", "dkim_canon", "1/1" },
	{ "dkim_canon relaxed/simple", "dkim_canon", "2/1" },
	{ "dkim_canon relaxed", "dkim_canon", "2/1" },
	{ "dkim_canon simple\ndkim_canon", "dkim_canon", "2/2" },
	{ "", "dkim_expire", "0" },
	{ "dkim_expire 7d", "dkim_expire", "604800" },
	{ "dkim_expire 7d\ndkim_expire off", "dkim_expire", "0" },
	{ "protocol smtp", "hosts", "h.example" },
	{ "proxy_host", "hosts", "h.example" },
	{ "socket", "hosts", "h.example" },
	{ "tls_nocertcheck", "tls_certcheck", "0" },
	{ "tls_nostarttls", "tls_starttls", "0/1" },
	{ "logfile_time_format %Y", "hosts", "h.example" },
	{ "tls_min_dh_prime_bits 512", "hosts", "h.example" },
	{ "  port\t2525  ", "port", "2525" },
	{ "# port 1\nport 2", "port", "2" },
	{ "   # indented comment\n\nport 3", "port", "3" },
};

/* Replace each "$H" in want by the test's HOME. */
static char *
want_path(const char *want)
{
	struct buf b = { 0 };

	for (; *want != '\0'; want++) {
		if (want[0] == '$' && want[1] == 'H') {
			buf_addstr(&b, tmpdir);
			want++;
		} else
			buf_addch(&b, *want);
	}
	return buf_steal(&b);
}

/* A case's lines as one TAP-safe line: newlines become " / ". */
static const char *
one(const char *s)
{
	static char out[4][512];
	static int slot;
	char *o = out[slot++ % 4];
	size_t n = 0;

	for (; *s != '\0' && n + 4 < sizeof(out[0]); s++) {
		if (*s == '\n' || *s == '\r') {
			memcpy(o + n, " / ", 3);
			n += 3;
		} else {
			o[n++] = *s;
		}
	}
	o[n] = '\0';
	return o;
}

static void
test_valid(void)
{
	for (size_t i = 0; i < RQ_ARRAY_LEN(valid); i++) {
		struct rq_err err;
		struct conf *c = NULL;
		char *text = xasprintf("account a\nhost h.example\n%s\n",
		    valid[i].lines);
		int rc = load_text(text, &c, &err);

		if (!is_int(rc, 0, "valid: \"%s\" loads", one(valid[i].lines))) {
			diag("error: %s", err.msg);
		} else {
			struct account *a = conf_account(c, "a");
			char *got = a != NULL ? field(a, valid[i].field) :
			    xstrdup("(no account)");
			char *want = want_path(valid[i].want);

			is_str(got, want, "valid: \"%s\" -> %s",
			    one(valid[i].lines), valid[i].field);
			free(got);
			free(want);
		}
		conf_free(c);
		free(text);
	}
}

/* ---- every key: invalid values, and where the error points ------------- */

static const struct {
	const char	*lines;		/* after "account a\nhost h.example\n" */
	int		 line;		/* expected line in the message */
	const char	*key;		/* expected key in the message */
	const char	*problem;	/* a substring of the problem */
} invalid[] = {
	{ "frobnicate yes", 3, "frobnicate", "unknown key" },
	{ "Host x", 3, "Host", "unknown key" },
	{ "host", 3, "host", "needs a host name" },
	{ "host a@b", 3, "host", "not a host name" },
	{ "host -oProxyCommand", 3, "host", "not a host name" },
	{ "host smtp.gmail.com:587", 3, "host", "with the port key" },
	{ "host a.example b.example:25", 3, "host", "with the port key" },
	{ "port 0", 3, "port", "1 to 65535" },
	{ "port 65536", 3, "port", "1 to 65535" },
	{ "port smtp", 3, "port", "1 to 65535" },
	{ "port -1", 3, "port", "1 to 65535" },
	{ "tls maybe", 3, "tls", "expected on or off" },
	{ "tls_starttls 2", 3, "tls_starttls", "expected on or off" },
	{ "tls_certcheck nope", 3, "tls_certcheck", "expected on or off" },
	{ "tls_trust_file", 3, "tls_trust_file", "no certificate authority" },
	{ "tls_fingerprint 00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
	    "00:11:22:33", 3, "tls_fingerprint", "SHA-1 fingerprint" },
	{ "tls_fingerprint 00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff",
	    3, "tls_fingerprint", "MD5 fingerprint" },
	{ "tls_fingerprint 00:11:22", 3, "tls_fingerprint", "SHA-256" },
	{ "tls_fingerprint zz:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
	    "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff", 3,
	    "tls_fingerprint", "SHA-256" },
	{ "tls_fingerprint 00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
	    "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:", 3,
	    "tls_fingerprint", "SHA-256" },
	{ "tls_fingerprint 0:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
	    "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff", 3,
	    "tls_fingerprint", "SHA-256" },
	{ "tls_cert_file /c.pem", 3, "tls_cert_file", "set together" },
	{ "port 25\ntls_key_file /k.pem", 4, "tls_key_file", "set together" },
	{ "tls_host_override a b", 3, "tls_host_override", "not a host" },
	{ "auth ntlm", 3, "auth", "not supported" },
	{ "auth kerberos", 3, "auth", "mechanism name" },
	{ "from joe @example.org", 3, "from", "not an address" },
	{ "from <joe@example.org>", 3, "from", "not an address" },
	{ "from -joe@example.org", 3, "from", "not an address" },
	{ "allow_from_override sometimes", 3, "allow_from_override",
	    "on or off" },
	{ "domain a b", 3, "domain", "not a domain" },
	{ "domain a..b", 3, "domain", "not a domain" },
	{ "domain a/b", 3, "domain", "not a domain" },
	{ "timeout 30x", 3, "timeout", "duration" },
	{ "timeout 2d", 3, "timeout", "duration" },
	{ "timeout -5", 3, "timeout", "duration" },
	{ "source_ip example.org", 3, "source_ip", "IPv4 or IPv6" },
	{ "source_ip 300.1.1.1", 3, "source_ip", "IPv4 or IPv6" },
	{ "syslog LOG_KERN", 3, "syslog", "facility" },
	{ "syslog yes please", 3, "syslog", "facility" },
	{ "dsn_notify", 3, "dsn_notify", "needs" },
	{ "dsn_notify sometimes", 3, "dsn_notify", "success, failure" },
	{ "dsn_notify success,success", 3, "dsn_notify", "success, failure" },
	{ "dsn_notify never,success", 3, "dsn_notify", "success, failure" },
	{ "dsn_notify success,", 3, "dsn_notify", "success, failure" },
	{ "dsn_return some", 3, "dsn_return", "headers or full" },
	{ "dsn_return", 3, "dsn_return", "headers or full" },
	{ "set_from_header maybe", 3, "set_from_header", "auto, on or off" },
	{ "set_date_header on", 3, "set_date_header", "auto or off" },
	{ "set_msgid_header on", 3, "set_msgid_header", "auto or off" },
	{ "remove_bcc_headers 2", 3, "remove_bcc_headers", "on or off" },
	{ "set_to_header always", 3, "set_to_header", "undisclosed" },
	{ "undisclosed_recipients x", 3, "undisclosed_recipients", "on or" },
	{ "allow_plaintext_auth x", 3, "allow_plaintext_auth", "on or off" },
	{ "qualify_domain @example.org", 3, "qualify_domain", "not a domain" },
	{ "connections 0", 3, "connections", "1 to 64" },
	{ "connections 65", 3, "connections", "1 to 64" },
	{ "connections four", 3, "connections", "1 to 64" },
	{ "max_messages_per_connection -1", 3, "max_messages_per_connection",
	    "number" },
	{ "rate_limit 100", 3, "rate_limit", "100/1h" },
	{ "warmup 50 0 100", 3, "warmup", "daily message counts" },
	{ "warmup 50 lots", 3, "warmup", "daily message counts" },
	{ "warmup -5", 3, "warmup", "daily message counts" },
	{ "warmup ,", 3, "warmup", "daily message counts" },
	{ "rate_limit 0/1h", 3, "rate_limit", "100/1h" },
	{ "rate_limit 100/0s", 3, "rate_limit", "100/1h" },
	{ "rate_limit 100/1y", 3, "rate_limit", "100/1h" },
	{ "rate_limit /1h", 3, "rate_limit", "100/1h" },
	{ "retry_min 0", 3, "retry_min", "duration" },
	{ "retry_min soon", 3, "retry_min", "duration" },
	{ "retry_max", 3, "retry_max", "duration" },
	{ "max_queue_time forever", 3, "max_queue_time", "duration" },
	{ "retry_min 2h\nretry_max 1h", 4, "retry_max", "larger than" },
	{ "retry_max 1h\nretry_min 2h", 4, "retry_min", "larger than" },
	{ "retry_min 2h", 3, "retry_min", "larger than" },
	{ "bounce maybe", 3, "bounce", "an address" },
	{ "bounce a@b c@d", 3, "bounce", "an address" },
	{ "dkim_domain a b", 3, "dkim_domain", "not a domain" },
	{ "dkim_domain [127.0.0.1]", 3, "dkim_domain", "address literal" },
	{ "dkim_domain example.org", 3, "dkim_domain",
	    "needs dkim_selector and dkim_key" },
	{ "dkim_domain example.org\ndkim_selector s", 3, "dkim_domain",
	    "needs dkim_selector and dkim_key" },
	{ "dkim_selector a..b", 3, "dkim_selector", "not a selector" },
	{ "dkim_selector a;b", 3, "dkim_selector", "not a selector" },
	{ "dkim_headers to:subject", 3, "dkim_headers", "From must be" },
	{ "dkim_headers from:from", 3, "dkim_headers", "listed twice" },
	{ "dkim_headers from:t\303\266", 3, "dkim_headers",
	    "separated by ':'" },
	{ "dkim_canon relaxed/strict", 3, "dkim_canon", "simple or relaxed" },
	{ "dkim_canon nofws", 3, "dkim_canon", "simple or relaxed" },
	{ "dkim_expire soon", 3, "dkim_expire", "duration" },
	{ "queue_dir /var/q", 3, "queue_dir", "global key" },
	{ "protocol lmtp", 3, "protocol", "LMTP is not supported" },
	{ "protocol http", 3, "protocol", "expected smtp" },
	{ "proxy_host 127.0.0.1", 3, "proxy_host", "SOCKS" },
	{ "proxy_port 9050", 3, "proxy_port", "SOCKS" },
	{ "socket /run/smtp.sock", 3, "socket", "not supported" },
	{ "eval echo port 26", 3, "eval", "does not run commands" },
	{ "tls_nocertcheck yes", 3, "tls_nocertcheck", "takes no value" },
	{ "auto_from maybe", 3, "auto_from", "on or off" },
	{ "maildomain a b", 3, "maildomain", "not a domain" },
	{ "account a", 3, "account", "already defined" },
	{ "account b : nosuch", 3, "account", "not defined above" },
	{ "account b :", 3, "account", "no account after" },
	{ "account", 3, "account", "needs a name" },
	{ "account x y", 3, "account", "needs a name" },
	{ "defaults now", 3, "defaults", "takes no value" },
	{ "port 25\n\n# c\nport x", 6, "port", "1 to 65535" },
};

static int
contains(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

static void
test_invalid(void)
{
	for (size_t i = 0; i < RQ_ARRAY_LEN(invalid); i++) {
		struct rq_err err;
		struct conf *c = NULL;
		char *text = xasprintf("account a\nhost h.example\n%s\n",
		    invalid[i].lines);
		char *where;
		int rc = load_text(text, &c, &err);

		where = xasprintf("/conf%d:%d: %s: ", nfile, invalid[i].line,
		    invalid[i].key);
		is_int(rc, EX_CONFIG, "invalid: \"%s\" refused",
		    one(invalid[i].lines));
		ok(c == NULL, "invalid: \"%s\": no configuration returned",
		    one(invalid[i].lines));
		if (!ok(contains(err.msg, where) &&
		    contains(err.msg, invalid[i].problem),
		    "invalid: \"%s\": message names %s and \"%s\"",
		    one(invalid[i].lines), where, invalid[i].problem))
			diag("got: %s", err.msg);
		conf_free(c);
		free(where);
		free(text);
	}
}

/* ---- warnings ---------------------------------------------------------- */

static const struct {
	const char	*lines;
	const char	*warning;	/* "" : none expected */
} warnings[] = {
	{ "port 25", "" },
	{ "logfile_time_format %H", ":3: logfile_time_format: ignored" },
	{ "tls_min_dh_prime_bits 512", ":3: tls_min_dh_prime_bits: ignored" },
	{ "tls_force_sslv3", ":3: tls_force_sslv3: ignored" },
	{ "ntlmdomain CORP", ":3: ntlmdomain: ignored" },
	{ "keepbcc on", ":3: keepbcc: obsolete; read as remove_bcc_headers "
	    "off" },
	{ "add_missing_from_header on", ":3: add_missing_from_header: "
	    "obsolete" },
	{ "tls_nostarttls", ":3: tls_nostarttls: obsolete" },
	{ "tls_nocertcheck", ":3: tls_nocertcheck: obsolete" },
	{ "tls_certcheck off", ":3: tls_certcheck: certificate checks are "
	    "off" },
	{ "allow_plaintext_auth on", ":3: allow_plaintext_auth: passwords" },
	{ "port 25\nport 26", ":4: port: also set on line 3" },
	{ "auth xoauth2\nauth on", ":4: auth: also set on line 3" },
	{ "auto_from on", ":3: auto_from: obsolete" },
};

static void
test_warnings(void)
{
	for (size_t i = 0; i < RQ_ARRAY_LEN(warnings); i++) {
		struct rq_err err;
		struct conf *c = NULL;
		char *text = xasprintf("account a\nhost h.example\n%s\n",
		    warnings[i].lines);
		int rc = load_text(text, &c, &err);
		int found = 0;

		if (!is_int(rc, 0, "warning: \"%s\" loads", one(warnings[i].lines)))
			diag("error: %s", err.msg);
		if (rc == 0 && warnings[i].warning[0] == '\0') {
			is_int((long long)c->warnings.n, 0, "warning: \"%s\" "
			    "gives none", one(warnings[i].lines));
		} else if (rc == 0) {
			for (size_t j = 0; j < c->warnings.n; j++)
				if (contains(c->warnings.v[j],
				    warnings[i].warning))
					found = 1;
			if (!ok(found, "warning: \"%s\" -> \"%s\"",
			    one(warnings[i].lines), warnings[i].warning))
				for (size_t j = 0; j < c->warnings.n; j++)
					diag("got: %s", c->warnings.v[j]);
		}
		conf_free(c);
		free(text);
	}
}

/* ---- sections, inheritance, account default ----------------------------- */

static const struct {
	const char	*name;
	const char	*text;
	const char	*account;	/* looked up with conf_account */
	const char	*field;
	const char	*want;
} inherit[] = {
	{ "defaults fill accounts",
	  "defaults\nport 2525\nauth on\naccount a\nhost x\n",
	  "a", "port", "2525" },
	{ "account overrides defaults",
	  "defaults\nport 2525\naccount a\nhost x\nport 26\n",
	  "a", "port", "26" },
	{ "defaults apply only to later accounts",
	  "account a\nhost x\ndefaults\nport 2525\naccount b\nhost y\n",
	  "a", "port", "0" },
	{ "later defaults reach later accounts",
	  "account a\nhost x\ndefaults\nport 2525\naccount b\nhost y\n",
	  "b", "port", "2525" },
	{ "defaults accumulate",
	  "defaults\nport 1\ndefaults\nuser u\naccount a\nhost x\n",
	  "a", "port", "1" },
	{ "base copied",
	  "account a\nhost x\nuser ua\naccount b : a\n", "b", "user", "ua" },
	{ "base then own lines",
	  "account a\nhost x\nuser ua\naccount b : a\nuser ub\n",
	  "b", "user", "ub" },
	{ "base not changed by heir",
	  "account a\nhost x\nuser ua\naccount b : a\nuser ub\n",
	  "a", "user", "ua" },
	{ "chain of three",
	  "account a\nhost x\nport 1\naccount b : a\nuser ub\n"
	  "account c : b\nfrom c@x.org\n", "c", "port", "1" },
	{ "chain keeps middle",
	  "account a\nhost x\nport 1\naccount b : a\nuser ub\n"
	  "account c : b\nfrom c@x.org\n", "c", "user", "ub" },
	{ "two bases: later wins",
	  "account a\nhost x\nport 1\naccount b\nhost y\nport 2\n"
	  "account c : a,b\n", "c", "port", "2" },
	{ "two bases: later wins (reversed)",
	  "account a\nhost x\nport 1\naccount b\nhost y\nport 2\n"
	  "account c : b, a\n", "c", "port", "1" },
	{ "two bases: union of keys",
	  "account a\nhost x\nuser ua\naccount b\nhost y\nport 2\n"
	  "account c : a,b\n", "c", "user", "ua" },
	{ "base account without host",
	  "account common\ntls_starttls off\naccount a : common\nhost x\n",
	  "a", "tls_starttls", "0/1" },
	{ "inherited cert pair complete",
	  "defaults\ntls_cert_file /c\naccount a\nhost x\ntls_key_file /k\n",
	  "a", "tls_cert_file", "/c|/k" },
	{ "account default : X is X",
	  "account a\nhost x\naccount b\nhost y\naccount default : b\n",
	  "default", "hosts", "y" },
	{ "account default with own keys",
	  "account a\nhost x\nport 1\naccount default : a\nport 2\n",
	  "default", "port", "2" },
	{ "top of file is account default",
	  "host top.example\nport 2\naccount a\nhost x\n",
	  "default", "hosts", "top.example" },
	{ "top of file does not reach other accounts",
	  "host top.example\nport 2\naccount a\nhost x\n",
	  "a", "port", "0" },
	{ "quoted account values",
	  "account a\nhost \"x.example\"\n", "a", "hosts", "x.example" },
	{ "CRLF line ends",
	  "account a\r\nhost x.example\r\nuser u\r\n", "a", "user", "u" },
	{ "byte order mark",
	  "\xEF\xBB\xBF" "account a\nhost x\nport 9\n", "a", "port", "9" },
	{ "no final newline",
	  "account a\nhost x\nport 9", "a", "port", "9" },
};

static void
test_inherit(void)
{
	for (size_t i = 0; i < RQ_ARRAY_LEN(inherit); i++) {
		struct rq_err err;
		struct conf *c = NULL;
		struct account *a;
		char *got;

		if (!is_int(load_text(inherit[i].text, &c, &err), 0,
		    "inherit: %s: loads", inherit[i].name)) {
			diag("error: %s", err.msg);
			continue;
		}
		a = conf_account(c, inherit[i].account);
		got = a != NULL ? field(a, inherit[i].field) :
		    xstrdup("(no account)");
		is_str(got, inherit[i].want, "inherit: %s", inherit[i].name);
		free(got);
		conf_free(c);
	}
}

/* Default account and the account list. */
static const struct {
	const char	*text;
	const char	*dflt;		/* conf_default_account's name */
	const char	*names;		/* conf->accounts, joined by '|' */
} dflt[] = {
	{ "", "(none)", "" },
	{ "defaults\nport 1\n", "(none)", "" },
	{ "account a\nhost x\naccount b\nhost y\n", "a", "a|b" },
	{ "account a\nhost x\naccount b\nhost y\naccount default : b\n",
	  "b", "a|b" },
	{ "account a\nhost x\naccount default : a\nport 2\n", "default",
	  "a|default" },
	{ "host t\naccount a\nhost x\n", "default", "default|a" },
	{ "queue_dir /q\naccount a\nhost x\n", "a", "a" },
};

static void
test_default(void)
{
	for (size_t i = 0; i < RQ_ARRAY_LEN(dflt); i++) {
		struct rq_err err;
		struct conf *c = NULL;
		struct account *a;
		struct buf b = { 0 };

		if (!is_int(load_text(dflt[i].text, &c, &err), 0,
		    "default %zu: loads", i)) {
			diag("error: %s", err.msg);
			continue;
		}
		a = conf_default_account(c);
		is_str(a != NULL ? a->name : "(none)", dflt[i].dflt,
		    "default %zu: default account", i);
		for (size_t j = 0; j < c->naccounts; j++)
			buf_addf(&b, "%s%s", j ? "|" : "",
			    c->accounts[j]->name);
		is_str(b.data != NULL ? b.data : "", dflt[i].names,
		    "default %zu: accounts listed", i);
		buf_free(&b);
		conf_free(c);
	}
}

/* ---- defaults, ports, implicit TLS -------------------------------------- */

static const struct {
	const char	*lines;
	int		 port;
	int		 implicit;
} ports[] = {
	{ "", 587, 0 },
	{ "tls off", 25, 0 },
	{ "tls_starttls off", 465, 1 },
	{ "tls_starttls on", 587, 0 },
	{ "port 465", 465, 1 },
	{ "port 465\ntls_starttls on", 465, 0 },
	{ "port 2525", 2525, 0 },
	{ "port 2525\ntls_starttls off", 2525, 1 },
	{ "tls off\nport 465", 465, 0 },
	{ "tls off\ntls_starttls off", 25, 0 },
	{ "port 25", 25, 0 },
};

static void
test_ports(void)
{
	for (size_t i = 0; i < RQ_ARRAY_LEN(ports); i++) {
		struct rq_err err;
		struct conf *c = NULL;
		char *text = xasprintf("account a\nhost h\n%s\n",
		    ports[i].lines);

		if (is_int(load_text(text, &c, &err), 0, "ports: \"%s\" loads",
		    one(ports[i].lines))) {
			struct account *a = conf_account(c, "a");

			is_int(conf_port(a), ports[i].port, "ports: \"%s\" "
			    "-> port", one(ports[i].lines));
			is_int(conf_implicit_tls(a), ports[i].implicit,
			    "ports: \"%s\" -> implicit TLS", one(ports[i].lines));
		}
		conf_free(c);
		free(text);
	}
}

static void
test_safe_defaults(void)
{
	struct rq_err err;
	struct conf *c = NULL;
	struct account *a;
	char host[256];

	if (!is_int(load_text("account a\nhost h\n", &c, &err), 0,
	    "defaults: loads"))
		return;
	a = conf_account(c, "a");
	is_int(a->tls, 1, "defaults: tls on");
	is_int(a->tls_certcheck, 1, "defaults: certificates checked");
	ok(a->tls_trust_file == NULL, "defaults: system trust store");
	ok(a->auth == NULL, "defaults: auth off");
	is_int(a->auth_plaintext, 0, "defaults: no AUTH in the clear");
	is_int(a->connections, 4, "defaults: 4 connections");
	is_int(a->bounce, 1, "defaults: bounces on");
	ok(a->syslog == NULL, "defaults: syslog left to log.c (LOG_MAIL)");
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	is_str(a->domain, host, "defaults: domain is the host name");
	is_int((long long)c->warnings.n, 0, "defaults: no warnings");
	is_int(conf_check_account(a, &err), 0, "defaults: account usable");
	conf_free(c);

	/* No file at all: an empty configuration, not an error. */
	rq_errclear(&err);
	is_int(conf_load(NULL, 0, &c, &err), 0, "no file: loads");
	if (c != NULL) {
		is_int((long long)c->naccounts, 0, "no file: no accounts");
		ok(conf_default_account(c) == NULL, "no file: no default");
		is_str(c->queue_dir, SPOOLDIR, "no file: system spool");
		ok(c->path == NULL, "no file: no path");
		conf_free(c);
	}

	/* A base account without a host is legal, and unusable. */
	if (is_int(load_text("account base\nport 2\n", &c, &err), 0,
	    "hostless account loads")) {
		rq_errclear(&err);
		is_int(conf_check_account(conf_account(c, "base"), &err),
		    EX_CONFIG, "hostless account: conf_check_account refuses");
		ok(contains(err.msg, ":1: host: account base has no host"),
		    "hostless account: message names file:line: host");
		conf_free(c);
	}
}

/* ---- % and ~ expansion -------------------------------------------------- */

static void
test_expansion(void)
{
	struct rq_err err;
	struct conf *c = NULL;
	struct passwd *pw = getpwuid(getuid());
	char host[256], *want, line[256];
	FILE *f;

	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	if (is_int(load_text("account a\nhost h\nfrom %U@%H\n"
	    "domain %H\n", &c, &err), 0, "expand: %%U %%H load")) {
		want = xasprintf("%s@%s", pw->pw_name, host);
		is_str(conf_account(c, "a")->from, want, "expand: from %%U@%%H");
		is_str(conf_account(c, "a")->domain, host, "expand: domain %%H");
		free(want);
		conf_free(c);
	}
	/* %U is the passwd name even when $USER says otherwise. */
	setenv("USER", "mallory", 1);
	if (is_int(load_text("account a\nhost h\nfrom %U@x.org\n", &c, &err),
	    0, "expand: %%U with a false $USER")) {
		want = xasprintf("%s@x.org", pw->pw_name);
		is_str(conf_account(c, "a")->from, want,
		    "expand: %%U ignores $USER");
		free(want);
		conf_free(c);
	}
	unsetenv("USER");
	if (is_int(load_text("account a\nhost h\nfrom 100%@x.org\n", &c,
	    &err), 0, "expand: a lone %% stays"))
		is_str(conf_account(c, "a")->from, "100%@x.org",
		    "expand: 100%%@x.org unchanged");
	conf_free(c);
	c = NULL;

	f = fopen(SYSCONFDIR "/mailname", "r");
	if (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n \t")] = '\0';
		if (is_int(load_text("account a\nhost h\nfrom root@%M\n", &c,
		    &err), 0, "expand: %%M loads")) {
			want = xasprintf("root@%s", line);
			is_str(conf_account(c, "a")->from, want,
			    "expand: %%M is /etc/mailname");
			free(want);
		}
	} else {
		is_int(load_text("account a\nhost h\nfrom root@%M\n", &c,
		    &err), EX_CONFIG, "expand: %%M without /etc/mailname");
		ok(contains(err.msg, "from: %M"), "expand: %%M error names it");
	}
	if (f != NULL)
		fclose(f);
	conf_free(c);
	c = NULL;

	/* %C: the canonical host name, the same in every heir of defaults. */
	if (is_int(load_text("defaults\nfrom x@%C\naccount a\nhost h\n"
	    "account b\nhost h\n", &c, &err), 0, "expand: %%C loads")) {
		const char *fa = conf_account(c, "a")->from;
		const char *fb = conf_account(c, "b")->from;

		ok(strncmp(fa, "x@", 2) == 0 && fa[2] != '\0' &&
		    strchr(fa, '%') == NULL, "expand: %%C gives a name (%s)",
		    fa);
		is_str(fb, fa, "expand: %%C the same in both accounts");
		conf_free(c);
		c = NULL;
	}

	/* auto_from (obsolete) builds from with maildomain. */
	if (is_int(load_text("account a\nhost h\nauto_from on\n"
	    "maildomain example.net\n", &c, &err), 0, "auto_from loads")) {
		want = xasprintf("%s@example.net", pw->pw_name);
		is_str(conf_account(c, "a")->from, want,
		    "auto_from + maildomain -> from");
		free(want);
		conf_free(c);
	}
}

/* ---- queue_dir ---------------------------------------------------------- */

static void
test_queue_dir(void)
{
	struct rq_err err;
	struct conf *c = NULL;
	char *path, *want;

	if (is_int(load_text("queue_dir /srv/q\naccount a\nhost h\n", &c,
	    &err), 0, "queue_dir at top"))
		is_str(c->queue_dir, "/srv/q", "queue_dir at top: value");
	conf_free(c);
	c = NULL;
	if (is_int(load_text("defaults\nqueue_dir ~/q\naccount a\nhost h\n",
	    &c, &err), 0, "queue_dir in defaults")) {
		want = xasprintf("%s/q", tmpdir);
		is_str(c->queue_dir, want, "queue_dir in defaults: ~ expanded");
		free(want);
	}
	conf_free(c);
	c = NULL;
	is_int(load_text("queue_dir q\n", &c, &err), EX_CONFIG,
	    "queue_dir relative refused");
	ok(contains(err.msg, ":1: queue_dir: must be an absolute path"),
	    "queue_dir relative: message");

	setenv("XDG_STATE_HOME", "/xdg/state", 1);
	if (is_int(load_text("account a\nhost h\n", &c, &err), 0,
	    "default queue_dir with XDG_STATE_HOME"))
		is_str(c->queue_dir, "/xdg/state/relayq/queue",
		    "default queue_dir: $XDG_STATE_HOME/relayq/queue");
	conf_free(c);
	c = NULL;
	setenv("XDG_STATE_HOME", "relative/ignored", 1);
	if (is_int(load_text("account a\nhost h\n", &c, &err), 0,
	    "default queue_dir with a relative XDG_STATE_HOME")) {
		want = xasprintf("%s/.local/state/relayq/queue", tmpdir);
		is_str(c->queue_dir, want, "default queue_dir: ~/.local/state");
		free(want);
	}
	conf_free(c);
	c = NULL;
	unsetenv("XDG_STATE_HOME");
	path = write_file("sys.conf", "account a\nhost h\n", 0644);
	if (is_int(conf_load(path, 0, &c, &err), 0, "system file loads"))
		is_str(c->queue_dir, SPOOLDIR, "system file: SPOOLDIR");
	conf_free(c);
	free(path);
}

/* ---- long lines --------------------------------------------------------- */

static void
test_long_lines(void)
{
	struct rq_err err;
	struct conf *c = NULL;
	struct buf b = { 0 };
	size_t i;

	/* "user " + value = exactly 4096 octets: accepted. */
	buf_addstr(&b, "account a\nhost h\nuser ");
	for (i = 5; i < 4096; i++)
		buf_addch(&b, 'u');
	buf_addch(&b, '\n');
	if (is_int(load_text(b.data, &c, &err), 0, "4096-octet line loads"))
		is_int((long long)strlen(conf_account(c, "a")->user), 4091,
		    "4096-octet line: value kept whole");
	conf_free(c);
	c = NULL;
	buf_reset(&b);
	buf_addstr(&b, "account a\nhost h\nuser ");
	for (i = 5; i < 4097; i++)
		buf_addch(&b, 'u');
	buf_addch(&b, '\n');
	is_int(load_text(b.data, &c, &err), EX_CONFIG, "4097-octet line "
	    "refused");
	ok(contains(err.msg, ":3: line longer than 4096"), "long line: "
	    "message names the line (%s)", err.msg);
	buf_free(&b);
}

/* ---- file permissions --------------------------------------------------- */

static const struct {
	const char	*text;
	mode_t		 mode;
	int		 rc;
	const char	*msg;
} perms[] = {
	{ "account a\nhost h\npassword pw\n", 0600, 0, "" },
	{ "account a\nhost h\npassword pw\n", 0400, 0, "" },
	{ "account a\nhost h\npassword pw\n", 0644, EX_CONFIG,
	  "holds a password but is readable by others; chmod 600 it" },
	{ "account a\nhost h\npassword pw\n", 0640, EX_CONFIG,
	  "holds a password but is readable by others" },
	{ "account a\nhost h\npassword pw\n", 0604, EX_CONFIG,
	  "holds a password but is readable by others" },
	{ "account a\nhost h\npassword pw\n", 0610, EX_CONFIG,
	  "holds a password but is readable by others" },
	{ "defaults\npassword pw\naccount a\nhost h\n", 0644, EX_CONFIG,
	  "holds a password but is readable by others" },
	{ "account a\nhost h\npassword\n", 0644, 0, "" },
	{ "account a\nhost h\npasswordeval pass x\n", 0644, 0, "" },
	{ "account a\nhost h\n", 0644, 0, "" },
	{ "account a\nhost h\n", 0666, EX_CONFIG, "is writable by everyone; chmod o-w it" },
};

static void
test_perms(void)
{
	for (size_t i = 0; i < RQ_ARRAY_LEN(perms); i++) {
		struct rq_err err;
		struct conf *c = NULL;
		char name[32], *path;
		int rc;

		(void)snprintf(name, sizeof(name), "perm%zu", i);
		path = write_file(name, perms[i].text, perms[i].mode);
		rq_errclear(&err);
		rc = conf_load(path, 1, &c, &err);
		is_int(rc, perms[i].rc, "perms %zu (mode %03o): status", i,
		    (unsigned)perms[i].mode);
		if (perms[i].rc != 0) {
			char *want = xasprintf("%s: %s", path, perms[i].msg);

			if (!ok(contains(err.msg, want), "perms %zu: message",
			    i))
				diag("got: %s", err.msg);
			ok(!contains(err.msg, "pw\n") &&
			    strstr(err.msg, " pw") == NULL,
			    "perms %zu: no secret in the message", i);
			free(want);
		}
		conf_free(c);
		free(path);
	}
	/* Owned by someone else (testable only as root, who can chown). */
	if (geteuid() == 0) {
		struct rq_err err;
		struct conf *c = NULL;
		char *path = write_file("perm-owner", "account a\nhost h\n"
		    "password pw\n", 0600);

		if (chown(path, 65534, 65534) == 0) {
			is_int(conf_load(path, 1, &c, &err), EX_CONFIG,
			    "perms: owned by another user refused");
			ok(contains(err.msg, "owned by uid 65534, not by you"),
			    "perms: owner message (%s)", err.msg);
			conf_free(c);
		}
		free(path);
	}
}

/* ---- passwords ---------------------------------------------------------- */

static const struct {
	const char	*lines;
	int		 rc;
	const char	*want;		/* the password, or an error substring */
} pwcases[] = {
	{ "password direct", 0, "direct" },
	{ "password direct\npasswordeval echo other", 0, "direct" },
	{ "passwordeval printf 'sekret\\n'", 0, "sekret" },
	{ "passwordeval printf 'sekret\\r\\nsecond line\\n'", 0, "sekret" },
	{ "passwordeval printf 'no newline'", 0, "no newline" },
	{ "passwordeval \"echo 'quoted cmd'\"", 0, "quoted cmd" },
	{ "passwordeval cat", EX_CONFIG, "printed no password" },
	{ "passwordeval true", EX_CONFIG, "failed (exit 0)" },
	{ "passwordeval printf '\\n\\nlater'", EX_CONFIG, "printed no" },
	{ "passwordeval exit 3", EX_CONFIG, "passwordeval failed (exit 3)" },
	{ "passwordeval echo topsecret; exit 1", EX_CONFIG,
	  "passwordeval failed (exit 1)" },
	{ "passwordeval kill -9 $$", EX_CONFIG, "killed by signal 9" },
	{ "passwordeval /nonexistent/helper 2>/dev/null", EX_CONFIG,
	  "(exit 127)" },
	{ "passwordeval yes longpasswordline | head -c 200000", 0,
	  "longpasswordline" },
};

static void
test_passwords(void)
{
	struct rq_err err;
	struct conf *c = NULL;
	char *pw;

	for (size_t i = 0; i < RQ_ARRAY_LEN(pwcases); i++) {
		char *text = xasprintf("account a\nhost h\n%s\n",
		    pwcases[i].lines);
		int rc;

		if (!is_int(load_text(text, &c, &err), 0, "password: \"%s\" "
		    "loads", one(pwcases[i].lines))) {
			diag("error: %s", err.msg);
			free(text);
			continue;
		}
		rq_errclear(&err);
		pw = NULL;
		rc = conf_password(conf_account(c, "a"), &pw, &err);
		is_int(rc, pwcases[i].rc, "password: \"%s\": status",
		    one(pwcases[i].lines));
		if (pwcases[i].rc == 0) {
			is_str(pw, pwcases[i].want, "password: \"%s\": value",
			    one(pwcases[i].lines));
		} else {
			ok(pw == NULL, "password: \"%s\": none returned",
			    one(pwcases[i].lines));
			if (!ok(contains(err.msg, pwcases[i].want),
			    "password: \"%s\": message", one(pwcases[i].lines)))
				diag("got: %s", err.msg);
			ok(!contains(err.msg, "topsecret"), "password: \"%s\": "
			    "output not in the message", one(pwcases[i].lines));
			ok(contains(err.msg, "account a"), "password: \"%s\": "
			    "message names the account", one(pwcases[i].lines));
		}
		free_secret(pw);
		conf_free(c);
		c = NULL;
		free(text);
	}
	/* Neither key: no password, no error. */
	if (is_int(load_text("account a\nhost h\n", &c, &err), 0,
	    "password: none set loads")) {
		static char dummy[] = "stale";

		pw = dummy;
		is_int(conf_password(conf_account(c, "a"), &pw, &err), 0,
		    "password: none set: ok");
		ok(pw == NULL, "password: none set: NULL");
		conf_free(c);
	}
}

/* ---- the real-world ~/.msmtprc ------------------------------------------ */

static void
test_realistic(void)
{
	struct rq_err err;
	struct conf *c = NULL;
	struct account *a;
	char *path, *text, *want;
	struct buf b = { 0 };
	FILE *f = fopen(DATADIR "/msmtprc-realistic", "r");
	char chunk[4096];
	size_t n;

	if (!ok(f != NULL, "realistic: fixture found (run from the top "
	    "directory)"))
		return;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	text = buf_steal(&b);

	/* As it is usually kept: mode 0644 with a password: refused. */
	path = write_file(".msmtprc", text, 0644);
	rq_errclear(&err);
	is_int(conf_load(path, 1, &c, &err), EX_CONFIG,
	    "realistic: mode 644 refused (it holds a password)");
	ok(!contains(err.msg, "c0rp"), "realistic: password not echoed");
	chmod(path, 0600);
	rq_errclear(&err);
	if (!is_int(conf_load(path, 1, &c, &err), 0, "realistic: mode 600 "
	    "loads")) {
		diag("error: %s", err.msg);
		goto out;
	}
	is_int((long long)c->naccounts, 4, "realistic: four accounts");
	is_int((long long)c->warnings.n, 0, "realistic: no warnings");
	a = conf_default_account(c);
	is_str(a != NULL ? a->name : "", "gmail", "realistic: default gmail");

	a = conf_account(c, "gmail");
	is_str(a->hosts.v[0], "smtp.gmail.com", "realistic: gmail host");
	is_int(conf_port(a), 587, "realistic: gmail port");
	is_int(conf_implicit_tls(a), 0, "realistic: gmail STARTTLS");
	is_str(a->auth, "on", "realistic: gmail auth on (from defaults)");
	is_str(a->from_full_name, "Jane Doe", "realistic: quoted full name");
	is_str(a->passwordeval, "gpg -q --for-your-eyes-only --no-tty -d "
	    "~/.msmtp-password.gpg", "realistic: passwordeval verbatim");
	is_str(a->tls_trust_file, "/etc/ssl/certs/ca-certificates.crt",
	    "realistic: trust file from defaults");
	want = xasprintf("%s/.msmtp.log", tmpdir);
	is_str(a->logfile, want, "realistic: logfile ~ expanded");
	free(want);
	want = xasprintf("%s/.msmtp-aliases", tmpdir);
	is_str(a->aliases, want, "realistic: aliases ~ expanded");
	free(want);
	is_int(a->timeout, 30, "realistic: timeout from defaults");

	a = conf_account(c, "fastmail");
	is_int(conf_port(a), 465, "realistic: fastmail port");
	is_int(conf_implicit_tls(a), 1, "realistic: fastmail implicit TLS");
	is_str(a->passwordeval, "pass show mail/fastmail",
	    "realistic: fastmail passwordeval");

	a = conf_account(c, "fastmail-alias");
	is_str(a->hosts.v[0], "smtp.fastmail.com", "realistic: alias host");
	is_int(conf_implicit_tls(a), 1, "realistic: alias inherits TLS mode");
	is_str(a->from, "*@jane.example", "realistic: alias from");

	a = conf_account(c, "work");
	is_int((long long)a->hosts.n, 2, "realistic: work has two hosts");
	is_str(a->hosts.v[1], "mail2.corp.example", "realistic: failover");
	is_str(a->password, "c0rp p@ss#word", "realistic: quoted password");
	is_int(a->allow_from_override, 0, "realistic: from pinned");
	is_str(a->tls_fingerprint, "3A:4B:5C:6D:7E:8F:90:A1:B2:C3:D4:E5:F6:"
	    "07:18:29:3A:4B:5C:6D:7E:8F:90:A1:B2:C3:D4:E5:F6:07:18:29",
	    "realistic: fingerprint");
	want = xasprintf("%s/.certs/jdoe.key", tmpdir);
	is_str(a->tls_key_file, want, "realistic: key file");
	free(want);
	is_str(a->dsn_notify, "failure,delay", "realistic: dsn_notify");
	is_str(a->dsn_return, "headers", "realistic: dsn_return");
	is_str(a->syslog, "LOG_MAIL", "realistic: syslog");
	is_str(a->domain, "laptop.corp.example", "realistic: domain");

	/* Picking an account from the envelope sender. */
	a = conf_account_for_from(c, "jane.doe@corp.example");
	is_str(a != NULL ? a->name : "", "work", "realistic: from -> work");
	a = conf_account_for_from(c, "anything@jane.example");
	is_str(a != NULL ? a->name : "", "fastmail-alias",
	    "realistic: wildcard from -> fastmail-alias");
	a = conf_account_for_from(c, "stranger@example.org");
	ok(a == NULL, "realistic: unknown sender -> no account");
out:
	conf_free(c);
	free(path);
	free(text);
}

static void
test_system_fixture(void)
{
	struct rq_err err;
	struct conf *c = NULL;
	struct account *a;

	rq_errclear(&err);
	if (!is_int(conf_load(DATADIR "/system-relayq.conf", 0, &c, &err), 0,
	    "system fixture loads")) {
		diag("error: %s", err.msg);
		return;
	}
	is_str(c->queue_dir, "/var/spool/relayq", "system: queue_dir");
	a = conf_default_account(c);
	is_str(a->name, "relay", "system: the one account is the default");
	is_str(a->auth, "PLAIN", "system: auth plain");
	is_int(a->connections, 8, "system: connections");
	is_int(a->max_messages_per_connection, 100, "system: max messages");
	is_int(a->rate_limit_count, 500, "system: rate count");
	is_int(a->rate_limit_period, 3600, "system: rate period");
	is_int(a->retry_min, 30, "system: retry_min");
	is_int(a->retry_max, 1800, "system: retry_max");
	is_int(a->max_queue_time, 3 * 86400, "system: max_queue_time");
	is_str(a->bounce_to, "postmaster@example.net", "system: bounce");
	is_str(a->qualify_domain, "web01.example.net",
	    "system: qualify_domain from defaults");
	conf_free(c);
}

/* ---- account selection by from ------------------------------------------ */

static const struct {
	const char	*addr;
	const char	*account;
} froms[] = {
	{ "alice@corp.example", "alice" },
	{ "Alice@corp.example", "corp" },	/* local part is exact */
	{ "alice@Corp.Example", "alice" },	/* domain is not */
	{ "bob@corp.example", "corp" },
	{ "bob+lists@x.org", "plus" },
	{ "bob+a@x.org", "plus" },
	{ "bob@x.org", "(none)" },
	{ "carol@one.example", "one" },
	{ "caro@one.example", "(none)" },
	{ "", "(none)" },
};

static void
test_from(void)
{
	struct rq_err err;
	struct conf *c = NULL;

	if (!is_int(load_text(
	    "account alice\nhost h\nfrom alice@corp.example\n"
	    "account corp\nhost h\nfrom *@corp.example\n"
	    "account plus\nhost h\nfrom bob+*@x.org\n"
	    "account one\nhost h\nfrom ?arol@one.example\n"
	    "account none\nhost h\n", &c, &err), 0, "from: loads"))
		return;
	for (size_t i = 0; i < RQ_ARRAY_LEN(froms); i++) {
		struct account *a = conf_account_for_from(c, froms[i].addr);

		is_str(a != NULL ? a->name : "(none)", froms[i].account,
		    "from: \"%s\"", froms[i].addr);
	}
	conf_free(c);
}

/* ---- conf_find ---------------------------------------------------------- */

static void
expect_find(const char *cli, int setgid, const char *want, int want_user,
    int want_rc, const char *name)
{
	struct rq_err err;
	char *path = NULL;
	int from_user = -1, rc;
	char *w = want != NULL && want[0] == '~' ?
	    xasprintf("%s%s", tmpdir, want + 1) :
	    want != NULL ? xstrdup(want) : NULL;

	rq_errclear(&err);
	rc = conf_find(cli, setgid, &path, &from_user, &err);
	is_int(rc, want_rc, "find: %s: status", name);
	if (want_rc == 0) {
		is_str(path != NULL ? path : "(null)", w != NULL ? w : "(null)",
		    "find: %s: path", name);
		is_int(from_user, want_user, "find: %s: from_user", name);
	} else {
		ok(contains(err.msg, want), "find: %s: message (%s)", name,
		    err.msg);
	}
	free(path);
	free(w);
}

static void
test_find(void)
{
	struct stat st;
	const char *sys = stat(SYSCONFDIR "/relayq.conf", &st) == 0 ?
	    SYSCONFDIR "/relayq.conf" : NULL;
	char *p, *xdg, *msmtprc, *other;

	unsetenv("RELAYQ_CONFIG");
	unsetenv("XDG_CONFIG_HOME");
	p = xasprintf("%s/.msmtprc", tmpdir);
	unlink(p);		/* left by test_realistic */
	free(p);
	expect_find(NULL, 0, sys, 0, 0, "nothing: the system file or none");
	msmtprc = write_file(".msmtprc", "account a\nhost h\n", 0600);
	expect_find(NULL, 0, "~/.msmtprc", 1, 0, "~/.msmtprc");
	p = xasprintf("%s/.config", tmpdir);
	mkdir(p, 0700);
	free(p);
	p = xasprintf("%s/.config/relayq", tmpdir);
	mkdir(p, 0700);
	free(p);
	free(write_file(".config/relayq/config", "", 0600));
	expect_find(NULL, 0, "~/.config/relayq/config", 1, 0,
	    "XDG default before ~/.msmtprc");
	setenv("XDG_CONFIG_HOME", tmpdir, 1);
	expect_find(NULL, 0, "~/.msmtprc", 1, 0,
	    "$XDG_CONFIG_HOME without relayq/config");
	p = xasprintf("%s/relayq", tmpdir);
	mkdir(p, 0700);
	free(p);
	xdg = write_file("relayq/config", "", 0600);
	expect_find(NULL, 0, "~/relayq/config", 1, 0, "$XDG_CONFIG_HOME");
	other = write_file("other.conf", "", 0600);
	setenv("RELAYQ_CONFIG", other, 1);
	expect_find(NULL, 0, other, 1, 0, "$RELAYQ_CONFIG first");
	expect_find(msmtprc, 0, msmtprc, 1, 0, "-C before everything");
	expect_find("/nonexistent/x.conf", 0, "-C /nonexistent/x.conf", 0,
	    EX_CONFIG, "-C missing");
	expect_find("", 0, "-C: empty", 0, EX_CONFIG, "-C empty");
	expect_find(tmpdir, 0, "is a directory", 0, EX_CONFIG,
	    "-C a directory");
	expect_find(msmtprc, 1, sys, 0, 0, "setgid ignores -C");
	expect_find(NULL, 1, sys, 0, 0, "setgid ignores the environment");
	setenv("RELAYQ_CONFIG", "/nonexistent/env.conf", 1);
	expect_find(NULL, 0, "RELAYQ_CONFIG /nonexistent/env.conf", 0,
	    EX_CONFIG, "$RELAYQ_CONFIG missing");
	setenv("RELAYQ_CONFIG", "", 1);
	expect_find(NULL, 0, "~/relayq/config", 1, 0, "empty $RELAYQ_CONFIG "
	    "is unset");
	unsetenv("RELAYQ_CONFIG");
	setenv("XDG_CONFIG_HOME", "not/absolute", 1);
	expect_find(NULL, 0, "~/.config/relayq/config", 1, 0,
	    "relative $XDG_CONFIG_HOME ignored");
	unsetenv("XDG_CONFIG_HOME");

	/* Without $HOME, the passwd entry's home is used. */
	unsetenv("HOME");
	{
		struct rq_err err;
		char *path = NULL;
		int fu = -1;
		struct passwd *pw = getpwuid(getuid());

		rq_errclear(&err);
		is_int(conf_find(NULL, 0, &path, &fu, &err), 0,
		    "find: no $HOME: status");
		ok(path == NULL || (pw != NULL && strncmp(path, pw->pw_dir,
		    strlen(pw->pw_dir)) == 0) || (sys != NULL &&
		    strcmp(path, sys) == 0), "find: no $HOME: passwd home "
		    "(%s)", path != NULL ? path : "none");
		free(path);
	}
	setenv("HOME", tmpdir, 1);
	free(xdg);
	free(other);
	free(msmtprc);
}

int
main(void)
{
	const char *t = getenv("TMPDIR");

	(void)snprintf(tmpdir, sizeof(tmpdir), "%s/t_conf.XXXXXX",
	    t != NULL && t[0] == '/' ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		diag("mkdtemp: %s", strerror(errno));
		return 1;
	}
	setenv("HOME", tmpdir, 1);
	unsetenv("XDG_STATE_HOME");
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("RELAYQ_CONFIG");

	test_valid();
	test_invalid();
	test_warnings();
	test_inherit();
	test_default();
	test_ports();
	test_safe_defaults();
	test_expansion();
	test_queue_dir();
	test_long_lines();
	test_perms();
	test_passwords();
	test_realistic();
	test_system_fixture();
	test_from();
	test_find();
	rm_tree(tmpdir);
	return done_testing();
}
