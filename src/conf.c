/*
 * relayq -- the configuration: msmtp's file syntax plus relayq's own keys.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * How a file becomes accounts.  Every section ("defaults", each "account",
 * and the implicit account "default" that msmtp makes of lines before the
 * first section) keeps the list of assignments that produced it, in order.
 * A new account is built by replaying the current defaults' list, then each
 * base's list, then its own lines.  Replaying raw "key value" pairs through
 * the same handlers that validated them the first time is what makes
 * inheritance exactly "as if those lines had been written here", and it
 * needs no per-field copy code.  Cross-key rules (certificate and key as a
 * pair, retry_min <= retry_max, ...) are checked once the file is read.
 *
 * See doc/configuration.md for where relayq deliberately differs from msmtp.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "dkim.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef SPOOLDIR
#define SPOOLDIR "/var/spool/relayq"
#endif

/*
 * msmtp stops at 500 octets, which OAuth tokens written with "password"
 * overflow (msmtp issue #68); 4096 leaves room for those and still bounds
 * what a hostile or corrupt file can make us hold per line.
 */
#define CONF_LINE_MAX	4096
/* passwordeval output kept: far above any password or OAuth token. */
#define PWEVAL_MAX	(64 * 1024)
/* The most keys a section can record a line number for (see keys[]). */
#define KEY_MAX		96

#define UNDISCLOSED	"undisclosed-recipients:;"

/* One "key value" line, kept so that it can be replayed into heirs. */
struct asg {
	int	 key;		/* index into keys[] */
	char	*value;		/* may be a password: wiped when freed */
	int	 line;
};

/* A section while the file is read. */
struct sec {
	struct account	*a;
	struct asg	*asg;		/* the effective assignments, in order */
	size_t		 nasg, asgcap;
	int		 setline[KEY_MAX]; /* line where each key took its value */
	int		 ownline[KEY_MAX]; /* ... in this section's own lines */
	int		 nown;		/* own "key value" lines */
	int		 is_defaults;
	char		*alias_of;	/* "account default : X" */
	/* msmtp's obsolete auto_from/maildomain, resolved at the end. */
	int		 auto_from;
	char		*maildomain;
};

/* Parsing state for one file. */
struct pctx {
	const char	*file;
	int		 line;
	const char	*key;
	const char	*vshow;		/* the value, printable, for messages */
	int		 replay;	/* replaying into an heir: no warnings */
	struct conf	*conf;
	struct buf	 prob;		/* the problem found by a handler */
	/*
	 * %C, looked up once per file: replaying defaults into each account
	 * expands "from %U@%C" again, and each expansion would otherwise be
	 * a resolver query on every submission.
	 */
	char		*canon_host;
};

typedef int (*key_fn)(struct pctx *, struct sec *, const char *);

#define KF_GLOBAL	0x01	/* queue_dir: not an account key */
#define KF_SECRET	0x02	/* never echo the value */

struct key {
	const char	*name;
	key_fn		 fn;
	int		 flags;
};

/* ---- small helpers ------------------------------------------------------ */

static int __attribute__((format(printf, 2, 3)))
perr(struct pctx *p, const char *fmt, ...)
{
	va_list ap;

	buf_reset(&p->prob);
	va_start(ap, fmt);
	buf_vaddf(&p->prob, fmt, ap);
	va_end(ap);
	return -1;
}

static void __attribute__((format(printf, 2, 3)))
pwarn(struct pctx *p, const char *fmt, ...)
{
	struct buf b = { 0 };
	va_list ap;

	if (p->replay)
		return;
	buf_addf(&b, "%s:%d: %s: ", p->file, p->line, p->key);
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	strlist_take(&p->conf->warnings, buf_steal(&b));
}

/* A copy of s fit for a one-line message: controls become '?', cut at 64. */
static char *
printable(const char *s)
{
	struct buf b = { 0 };
	size_t i;

	for (i = 0; s[i] != '\0' && i < 64; i++) {
		unsigned char c = (unsigned char)s[i];

		buf_addch(&b, rq_iscntrl(c) ? '?' : (char)c);
	}
	if (s[i] != '\0')
		buf_addstr(&b, "...");
	return buf_steal(&b);
}

static void
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = *v == '\0' ? NULL : xstrdup(v);
}

/*
 * msmtp: "If a command accepts the argument on, it also accepts an empty
 * argument and treats that as if it was on."
 */
static int
onoff(struct pctx *p, const char *v, int *out)
{
	if (*v == '\0') {
		*out = 1;
		return 0;
	}
	if (parse_onoff(v, out) == 0)
		return 0;
	return perr(p, "expected on or off, not \"%s\"", p->vshow);
}

static int
is_word(const char *v, const char *w)
{
	return rq_strcasecmp(v, w) == 0;
}

/* The caller's home: $HOME when it is an absolute path, else the passwd one. */
static char *
home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h != NULL && h[0] == '/')
		return xstrdup(h);
	pw = getpwuid(getuid());
	if (pw != NULL && pw->pw_dir != NULL && pw->pw_dir[0] == '/')
		return xstrdup(pw->pw_dir);
	return NULL;
}

/* "~" and "~/x" become the home directory; everything else is kept. */
static int
expand_tilde(struct pctx *p, const char *v, char **out)
{
	char *home;

	if (v[0] != '~' || (v[1] != '\0' && v[1] != '/')) {
		*out = xstrdup(v);
		return 0;
	}
	home = home_dir();
	if (home == NULL)
		return perr(p, "cannot expand ~: no home directory");
	*out = xasprintf("%s%s", home, v + 1);
	free(home);
	return 0;
}

/*
 * %U: the login name.  The passwd entry of the real uid comes first, not
 * $USER as in msmtp: "from %U@example.org" with allow_from_override off is
 * how a system file pins each user's sender, and the environment must not
 * be able to choose another name.
 */
static char *
user_name(void)
{
	struct passwd *pw = getpwuid(getuid());
	const char *e;

	if (pw != NULL && pw->pw_name != NULL && pw->pw_name[0] != '\0')
		return xstrdup(pw->pw_name);
	e = getenv("USER");
	if (e == NULL || *e == '\0')
		e = getenv("LOGNAME");
	if (e != NULL && *e != '\0')
		return xstrdup(e);
	return NULL;
}

/* %H: gethostname(2) (not $HOSTNAME, for the same reason as above). */
static char *
host_name(void)
{
	char h[256];

	if (gethostname(h, sizeof(h)) != 0 || h[0] == '\0')
		return xstrdup("localhost");
	h[sizeof(h) - 1] = '\0';
	return xstrdup(h);
}

/* %C: the canonical name of %H, or %H when the resolver has none. */
static char *
canon_host_name(void)
{
	struct addrinfo hints, *res = NULL;
	char *h = host_name(), *c;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_flags = AI_CANONNAME;
	if (getaddrinfo(h, NULL, &hints, &res) != 0 || res == NULL)
		return h;
	if (res->ai_canonname != NULL && res->ai_canonname[0] != '\0') {
		c = xstrdup(res->ai_canonname);
		free(h);
		h = c;
	}
	freeaddrinfo(res);
	return h;
}

/* %M: the first line of /etc/mailname (Debian's mail name). */
static char *
mail_name(void)
{
	FILE *f = fopen(SYSCONFDIR "/mailname", "re");
	char line[512];
	size_t n;

	if (f == NULL)
		return NULL;
	if (fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	n = strcspn(line, "\r\n \t");
	if (n == 0)
		return NULL;
	return xstrndup(line, n);
}

/* msmtp's substitutions in from and domain: %U %H %C %M.  Others stay. */
static int
expand_pct(struct pctx *p, const char *v, char **out)
{
	struct buf b = { 0 };
	char *s;

	for (; *v != '\0'; v++) {
		if (*v != '%' || v[1] == '\0') {
			buf_addch(&b, *v);
			continue;
		}
		switch (v[1]) {
		case 'U':
			s = user_name();
			if (s == NULL) {
				buf_free(&b);
				return perr(p, "%%U: cannot find the login "
				    "name");
			}
			break;
		case 'H':
			s = host_name();
			break;
		case 'C':
			if (p->canon_host == NULL)
				p->canon_host = canon_host_name();
			s = xstrdup(p->canon_host);
			break;
		case 'M':
			s = mail_name();
			if (s == NULL) {
				buf_free(&b);
				return perr(p, "%%M: cannot read a mail name "
				    "from %s", SYSCONFDIR "/mailname");
			}
			break;
		default:
			buf_addch(&b, *v);
			continue;
		}
		buf_addstr(&b, s);
		free(s);
		v++;
	}
	*out = buf_steal(&b);
	return 0;
}

static int
has_space_or_ctl(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c == 0x7f)
			return 1;
	}
	return 0;
}

/*
 * A domain or host name as written by an administrator: letters, digits,
 * '-', '.', '_' (seen in internal names), UTF-8 for IDNs (converted later
 * by idn.c), or an address literal in brackets.  This catches typos and
 * injection (spaces, '@', control characters), not every DNS rule.
 */
static int
check_domain(const char *d)
{
	size_t len = strlen(d);

	if (len == 0 || len > ADDR_DOMAIN_MAX)
		return -1;
	if (d[0] == '[')
		return d[len - 1] == ']' && !has_space_or_ctl(d) ? 0 : -1;
	if (d[0] == '.' || d[0] == '-' || strstr(d, "..") != NULL)
		return -1;
	for (; *d != '\0'; d++) {
		unsigned char c = (unsigned char)*d;

		if (c >= 0x80 || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_')
			continue;
		return -1;
	}
	return 0;
}

/* ---- accounts ----------------------------------------------------------- */

static struct account *
account_new(const char *name, const char *file, int line)
{
	struct account *a = xcalloc(1, sizeof(*a));

	a->name = xstrdup(name);
	a->file = xstrdup(file != NULL ? file : "");
	a->line = line;
	/* Safe where msmtp's are not: TLS on, certificates checked. */
	a->tls = 1;
	a->tls_starttls = 1;
	a->tls_certcheck = 1;
	a->allow_from_override = 1;
	a->set_from_header = HDR_AUTO;
	a->set_date_header = HDR_AUTO;
	a->set_msgid_header = HDR_AUTO;
	a->remove_bcc_headers = 1;
	a->connections = 4;
	a->retry_min = 60;
	a->retry_max = 3600;
	a->max_queue_time = 5 * 86400;
	a->bounce = 1;
	a->dkim_hcanon = DKIM_CANON_RELAXED;
	a->dkim_bcanon = DKIM_CANON_RELAXED;
	return a;
}

static void
account_free(struct account *a)
{
	if (a == NULL)
		return;
	free(a->name);
	free(a->file);
	strlist_free(&a->hosts);
	free(a->tls_trust_file);
	free(a->tls_crl_file);
	free(a->tls_fingerprint);
	free(a->tls_cert_file);
	free(a->tls_key_file);
	free(a->tls_priorities);
	free(a->tls_host_override);
	free(a->auth);
	free(a->user);
	free_secret(a->password);
	free(a->passwordeval);
	free(a->from);
	free(a->from_full_name);
	free(a->domain);
	free(a->source_ip);
	free(a->logfile);
	free(a->syslog);
	free(a->aliases);
	free(a->dsn_notify);
	free(a->dsn_return);
	free(a->undisclosed_recipients);
	free(a->qualify_domain);
	free(a->bounce_to);
	free(a->warmup);
	free(a->dkim_domain);
	free(a->dkim_selector);
	free(a->dkim_key);
	free(a->dkim_headers);
	free(a);
}

static struct sec *
sec_new(const char *name, const char *file, int line)
{
	struct sec *s = xcalloc(1, sizeof(*s));

	s->a = account_new(name, file, line);
	return s;
}

static void
sec_free(struct sec *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nasg; i++)
		free_secret(s->asg[i].value);
	free(s->asg);
	free(s->alias_of);
	free(s->maildomain);
	account_free(s->a);
	free(s);
}

static void
sec_record(struct sec *s, int key, const char *value, int line)
{
	if (s->nasg == s->asgcap) {
		s->asgcap = s->asgcap ? s->asgcap * 2 : 16;
		s->asg = xreallocarray(s->asg, s->asgcap, sizeof(*s->asg));
	}
	s->asg[s->nasg].key = key;
	s->asg[s->nasg].value = xstrdup(value);
	s->asg[s->nasg].line = line;
	s->nasg++;
	s->setline[key] = line;
}

/* ---- key handlers ------------------------------------------------------- */

static int
k_host(struct pctx *p, struct sec *s, const char *v)
{
	struct strlist hosts = { 0 };
	const char *q = v;

	while (*q != '\0') {
		size_t n;
		char *h;

		q += strspn(q, " \t,");
		n = strcspn(q, " \t,");
		if (n == 0)
			break;
		if (q[0] == '[' && q[n - 1] == ']' && n > 2)
			h = xstrndup(q + 1, n - 2);	/* "[::1]" */
		else
			h = xstrndup(q, n);
		q += n;
		if (strlen(h) > ADDR_DOMAIN_MAX || strpbrk(h, "@/\"'\\") ||
		    has_space_or_ctl(h) || h[0] == '-') {
			free(h);
			strlist_free(&hosts);
			return perr(p, "not a host name or address: \"%s\"",
			    p->vshow);
		}
		if (strchr(h, ':') != NULL && strchr(h, ':') == strrchr(h, ':')) {
			/* One colon: "host:port", not an IPv6 address. */
			free(h);
			strlist_free(&hosts);
			return perr(p, "\"%s\": write the port with the port "
			    "key, not after the host name", p->vshow);
		}
		strlist_take(&hosts, h);
	}
	if (hosts.n == 0)
		return perr(p, "needs a host name");
	strlist_free(&s->a->hosts);
	s->a->hosts = hosts;
	return 0;
}

static int
k_port(struct pctx *p, struct sec *s, const char *v)
{
	long long n;

	if (*v == '\0') {
		s->a->port = 0;
		return 0;
	}
	if (parse_uint(v, 1, 65535, &n) != 0)
		return perr(p, "expected a port number from 1 to 65535, "
		    "not \"%s\"", p->vshow);
	s->a->port = (int)n;
	return 0;
}

static int
k_tls(struct pctx *p, struct sec *s, const char *v)
{
	return onoff(p, v, &s->a->tls);
}

static int
k_tls_starttls(struct pctx *p, struct sec *s, const char *v)
{
	if (onoff(p, v, &s->a->tls_starttls) != 0)
		return -1;
	s->a->tls_starttls_set = 1;
	return 0;
}

static int
k_tls_certcheck(struct pctx *p, struct sec *s, const char *v)
{
	if (onoff(p, v, &s->a->tls_certcheck) != 0)
		return -1;
	if (!s->a->tls_certcheck)
		pwarn(p, "certificate checks are off: anyone on the path can "
		    "read this account's mail and password");
	return 0;
}

/* A file key: empty unsets it; "~" is expanded as msmtp does. */
static int
file_key(struct pctx *p, char **dst, const char *v)
{
	char *f;

	if (*v == '\0') {
		free(*dst);
		*dst = NULL;
		return 0;
	}
	if (expand_tilde(p, v, &f) != 0)
		return -1;
	free(*dst);
	*dst = f;
	return 0;
}

static int
k_tls_trust_file(struct pctx *p, struct sec *s, const char *v)
{
	/*
	 * NULL is the system store; "" (msmtp's empty argument) trusts no
	 * CA at all, which only makes sense with a fingerprint (checked at
	 * the end).
	 */
	if (*v == '\0') {
		free(s->a->tls_trust_file);
		s->a->tls_trust_file = xstrdup("");
		return 0;
	}
	if (is_word(v, "system")) {
		free(s->a->tls_trust_file);
		s->a->tls_trust_file = NULL;
		return 0;
	}
	return file_key(p, &s->a->tls_trust_file, v);
}

static int
k_tls_crl_file(struct pctx *p, struct sec *s, const char *v)
{
	return file_key(p, &s->a->tls_crl_file, v);
}

static int
k_tls_cert_file(struct pctx *p, struct sec *s, const char *v)
{
	return file_key(p, &s->a->tls_cert_file, v);
}

static int
k_tls_key_file(struct pctx *p, struct sec *s, const char *v)
{
	return file_key(p, &s->a->tls_key_file, v);
}

/*
 * "AB:CD:..." (as gnutls-cli and msmtp --serverinfo print it), or the 64
 * hex digits without colons.  Stored as upper-case pairs with colons.
 */
static int
k_tls_fingerprint(struct pctx *p, struct sec *s, const char *v)
{
	unsigned char d[64];
	size_t n = 0, len = strlen(v);
	int colons = strchr(v, ':') != NULL;
	struct buf b = { 0 };

	if (*v == '\0') {
		free(s->a->tls_fingerprint);
		s->a->tls_fingerprint = NULL;
		return 0;
	}
	for (size_t i = 0; i < len;) {
		int hi = rq_hexval((unsigned char)v[i]);
		int lo = i + 1 < len ? rq_hexval((unsigned char)v[i + 1]) : -1;

		if (hi < 0 || lo < 0 || n == sizeof(d))
			goto bad;
		d[n++] = (unsigned char)(hi << 4 | lo);
		i += 2;
		if (colons && i < len) {
			if (v[i] != ':' || i + 1 == len)
				goto bad;
			i++;
		}
	}
	if (n == 20 || n == 16)
		return perr(p, "this is a %s fingerprint; relayq pins SHA-256 "
		    "only: write the certificate's SHA-256 fingerprint "
		    "(32 hex pairs)", n == 20 ? "SHA-1" : "MD5");
	if (n != 32)
		goto bad;
	for (size_t i = 0; i < n; i++)
		buf_addf(&b, "%s%02X", i ? ":" : "", d[i]);
	free(s->a->tls_fingerprint);
	s->a->tls_fingerprint = buf_steal(&b);
	return 0;
bad:
	return perr(p, "expected a SHA-256 fingerprint (32 hex pairs "
	    "separated by colons), not \"%s\"", p->vshow);
}

static int
k_tls_priorities(struct pctx *p, struct sec *s, const char *v)
{
	set_str(&s->a->tls_priorities, v);
	return 0;
}

static int
k_tls_host_override(struct pctx *p, struct sec *s, const char *v)
{
	if (*v != '\0' && check_domain(v) != 0)
		return perr(p, "not a host name: \"%s\"", p->vshow);
	set_str(&s->a->tls_host_override, v);
	return 0;
}

static int
k_auth(struct pctx *p, struct sec *s, const char *v)
{
	static const char *mechs[] = {
		"plain", "login", "cram-md5", "digest-md5", "scram-sha-1",
		"scram-sha-1-plus", "scram-sha-256", "scram-sha-256-plus",
		"gssapi", "external", "oauthbearer", "xoauth2",
	};
	int on;
	char *up;

	free(s->a->auth);
	s->a->auth = NULL;
	if (*v == '\0' || parse_onoff(v, &on) == 0) {
		if (*v == '\0' || on)
			s->a->auth = xstrdup("on");
		return 0;
	}
	if (is_word(v, "ntlm"))
		return perr(p, "NTLM is not supported (it is broken); use "
		    "another mechanism, or auth on");
	for (size_t i = 0; i < RQ_ARRAY_LEN(mechs); i++) {
		if (!is_word(v, mechs[i]))
			continue;
		up = xstrdup(mechs[i]);
		for (char *c = up; *c != '\0'; c++)
			if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - 'a' + 'A');
		s->a->auth = up;
		return 0;
	}
	return perr(p, "expected on, off or a mechanism name (plain, login, "
	    "scram-sha-256, xoauth2, ...), not \"%s\"", p->vshow);
}

static int
k_user(struct pctx *p, struct sec *s, const char *v)
{
	set_str(&s->a->user, v);
	return 0;
}

static int
k_password(struct pctx *p, struct sec *s, const char *v)
{
	free_secret(s->a->password);
	s->a->password = *v == '\0' ? NULL : xstrdup(v);
	return 0;
}

static int
k_passwordeval(struct pctx *p, struct sec *s, const char *v)
{
	set_str(&s->a->passwordeval, v);
	return 0;
}

static int
k_from(struct pctx *p, struct sec *s, const char *v)
{
	char *f;

	if (*v == '\0') {
		free(s->a->from);
		s->a->from = NULL;
		return 0;
	}
	if (expand_pct(p, v, &f) != 0)
		return -1;
	if (has_space_or_ctl(f) || strlen(f) > ADDR_PATH_MAX || f[0] == '-' ||
	    strpbrk(f, "<>") != NULL) {
		free(f);
		return perr(p, "not an address or address pattern: \"%s\"",
		    p->vshow);
	}
	free(s->a->from);
	s->a->from = f;
	return 0;
}

static int
k_from_full_name(struct pctx *p, struct sec *s, const char *v)
{
	set_str(&s->a->from_full_name, v);
	return 0;
}

static int
k_allow_from_override(struct pctx *p, struct sec *s, const char *v)
{
	return onoff(p, v, &s->a->allow_from_override);
}

static int
domain_key(struct pctx *p, char **dst, const char *v)
{
	char *d;

	if (*v == '\0') {
		free(*dst);
		*dst = NULL;
		return 0;
	}
	if (expand_pct(p, v, &d) != 0)
		return -1;
	if (check_domain(d) != 0) {
		free(d);
		return perr(p, "not a domain name: \"%s\"", p->vshow);
	}
	free(*dst);
	*dst = d;
	return 0;
}

static int
k_domain(struct pctx *p, struct sec *s, const char *v)
{
	return domain_key(p, &s->a->domain, v);
}

static int
k_timeout(struct pctx *p, struct sec *s, const char *v)
{
	long long t;

	if (*v == '\0' || is_word(v, "off")) {
		s->a->timeout = 0;
		return 0;
	}
	if (parse_duration(v, &t) != 0 || t > 86400)
		return perr(p, "expected off or a duration up to a day "
		    "(30, 30s, 5m), not \"%s\"", p->vshow);
	s->a->timeout = (int)t;
	return 0;
}

static int
k_source_ip(struct pctx *p, struct sec *s, const char *v)
{
	unsigned char sa[16];

	if (*v != '\0' && inet_pton(AF_INET, v, sa) != 1 &&
	    inet_pton(AF_INET6, v, sa) != 1)
		return perr(p, "not an IPv4 or IPv6 address: \"%s\"",
		    p->vshow);
	set_str(&s->a->source_ip, v);
	return 0;
}

static int
k_logfile(struct pctx *p, struct sec *s, const char *v)
{
	return file_key(p, &s->a->logfile, v);
}

static int
k_syslog(struct pctx *p, struct sec *s, const char *v)
{
	static const char *fac[] = {
		"LOG_USER", "LOG_MAIL", "LOG_DAEMON", "LOG_LOCAL0",
		"LOG_LOCAL1", "LOG_LOCAL2", "LOG_LOCAL3", "LOG_LOCAL4",
		"LOG_LOCAL5", "LOG_LOCAL6", "LOG_LOCAL7",
	};
	int on;

	free(s->a->syslog);
	s->a->syslog = NULL;
	if (*v == '\0' || parse_onoff(v, &on) == 0) {
		s->a->syslog = xstrdup(*v == '\0' || on ? "on" : "off");
		return 0;
	}
	for (size_t i = 0; i < RQ_ARRAY_LEN(fac); i++) {
		/* "LOG_MAIL", or "mail" as syslog.conf spells it. */
		if (is_word(v, fac[i]) || is_word(v, fac[i] + 4)) {
			s->a->syslog = xstrdup(fac[i]);
			return 0;
		}
	}
	return perr(p, "expected on, off or a facility (LOG_MAIL, LOG_USER, "
	    "LOG_LOCAL0 ... LOG_LOCAL7), not \"%s\"", p->vshow);
}

static int
k_aliases(struct pctx *p, struct sec *s, const char *v)
{
	return file_key(p, &s->a->aliases, v);
}

static int
k_dsn_notify(struct pctx *p, struct sec *s, const char *v)
{
	static const char *conds[] = { "success", "failure", "delay" };
	struct buf b = { 0 };
	int seen[3] = { 0, 0, 0 };
	const char *q = v;

	if (*v == '\0')
		return perr(p, "needs off, never, or a list of success, "
		    "failure, delay");
	free(s->a->dsn_notify);
	s->a->dsn_notify = NULL;
	if (is_word(v, "off"))
		return 0;
	if (is_word(v, "never")) {
		s->a->dsn_notify = xstrdup("never");
		return 0;
	}
	while (*q != '\0') {
		size_t n, i;

		q += strspn(q, " \t");
		n = strcspn(q, ",");
		while (n > 0 && (q[n - 1] == ' ' || q[n - 1] == '\t'))
			n--;
		for (i = 0; i < RQ_ARRAY_LEN(conds); i++)
			if (n == strlen(conds[i]) &&
			    rq_strncasecmp(q, conds[i], n) == 0)
				break;
		if (i == RQ_ARRAY_LEN(conds) || seen[i])
			goto bad;
		seen[i] = 1;
		buf_addf(&b, "%s%s", b.len ? "," : "", conds[i]);
		q += strcspn(q, ",");
		if (*q == '\0')
			break;
		q++;
		if (q[strspn(q, " \t")] == '\0')
			goto bad;	/* a trailing comma */
	}
	s->a->dsn_notify = buf_steal(&b);
	return 0;
bad:
	buf_free(&b);
	return perr(p, "expected off, never, or a comma-separated list of "
	    "success, failure, delay, not \"%s\"", p->vshow);
}

static int
k_dsn_return(struct pctx *p, struct sec *s, const char *v)
{
	free(s->a->dsn_return);
	s->a->dsn_return = NULL;
	if (is_word(v, "off"))
		return 0;
	if (is_word(v, "headers") || is_word(v, "hdrs")) {
		s->a->dsn_return = xstrdup("headers");
		return 0;
	}
	if (is_word(v, "full")) {
		s->a->dsn_return = xstrdup("full");
		return 0;
	}
	return perr(p, "expected off, headers or full, not \"%s\"", p->vshow);
}

static int
hdr_mode(struct pctx *p, const char *v, int allow_on, enum hdr_mode *out)
{
	int on;

	if (*v == '\0' || is_word(v, "auto")) {
		/* msmtp: the empty argument means "on", which for the
		   keys without "on" is their default, auto. */
		*out = allow_on && *v == '\0' ? HDR_ON : HDR_AUTO;
		return 0;
	}
	if (parse_onoff(v, &on) == 0 && (!on || allow_on)) {
		*out = on ? HDR_ON : HDR_OFF;
		return 0;
	}
	return perr(p, "expected auto%s or off, not \"%s\"",
	    allow_on ? ", on" : "", p->vshow);
}

static int
k_set_from_header(struct pctx *p, struct sec *s, const char *v)
{
	return hdr_mode(p, v, 1, &s->a->set_from_header);
}

static int
k_set_date_header(struct pctx *p, struct sec *s, const char *v)
{
	return hdr_mode(p, v, 0, &s->a->set_date_header);
}

static int
k_set_msgid_header(struct pctx *p, struct sec *s, const char *v)
{
	return hdr_mode(p, v, 0, &s->a->set_msgid_header);
}

/* add_missing_*_header on|off: msmtp's old spelling of auto|off. */
static int
add_missing(struct pctx *p, const char *v, const char *now,
    enum hdr_mode *out)
{
	int on;

	if (onoff(p, v, &on) != 0)
		return -1;
	*out = on ? HDR_AUTO : HDR_OFF;
	pwarn(p, "obsolete; read as %s %s", now, on ? "auto" : "off");
	return 0;
}

static int
k_add_missing_from(struct pctx *p, struct sec *s, const char *v)
{
	return add_missing(p, v, "set_from_header", &s->a->set_from_header);
}

static int
k_add_missing_date(struct pctx *p, struct sec *s, const char *v)
{
	return add_missing(p, v, "set_date_header", &s->a->set_date_header);
}

static int
k_remove_bcc_headers(struct pctx *p, struct sec *s, const char *v)
{
	return onoff(p, v, &s->a->remove_bcc_headers);
}

/*
 * keepbcc is not ignored: ignoring it would remove headers the user asked
 * to keep.  It is msmtp's old spelling of remove_bcc_headers off.
 */
static int
k_keepbcc(struct pctx *p, struct sec *s, const char *v)
{
	int on;

	if (onoff(p, v, &on) != 0)
		return -1;
	s->a->remove_bcc_headers = !on;
	pwarn(p, "obsolete; read as remove_bcc_headers %s", on ? "off" : "on");
	return 0;
}

static int
k_set_to_header(struct pctx *p, struct sec *s, const char *v)
{
	int on;

	free(s->a->undisclosed_recipients);
	s->a->undisclosed_recipients = NULL;
	if (is_word(v, "undisclosed_recipients") ||
	    is_word(v, "undisclosed-recipients")) {
		on = 1;
	} else if (*v == '\0' || parse_onoff(v, &on) == 0) {
		on = *v == '\0' ? 1 : on;
	} else {
		return perr(p, "expected off, on or undisclosed_recipients, "
		    "not \"%s\"", p->vshow);
	}
	if (on)
		s->a->undisclosed_recipients = xstrdup(UNDISCLOSED);
	return 0;
}

static int
k_undisclosed_recipients(struct pctx *p, struct sec *s, const char *v)
{
	int on;

	if (onoff(p, v, &on) != 0)
		return -1;
	free(s->a->undisclosed_recipients);
	s->a->undisclosed_recipients = on ? xstrdup(UNDISCLOSED) : NULL;
	return 0;
}

static int
k_allow_plaintext_auth(struct pctx *p, struct sec *s, const char *v)
{
	if (onoff(p, v, &s->a->auth_plaintext) != 0)
		return -1;
	if (s->a->auth_plaintext)
		pwarn(p, "passwords may be sent without TLS");
	return 0;
}

static int
k_qualify_domain(struct pctx *p, struct sec *s, const char *v)
{
	return domain_key(p, &s->a->qualify_domain, v);
}

static int
k_connections(struct pctx *p, struct sec *s, const char *v)
{
	long long n;

	if (parse_uint(v, 1, 64, &n) != 0)
		return perr(p, "expected a number from 1 to 64, not \"%s\"",
		    p->vshow);
	s->a->connections = (int)n;
	return 0;
}

static int
k_max_messages(struct pctx *p, struct sec *s, const char *v)
{
	long long n;

	if (is_word(v, "off") || is_word(v, "unlimited")) {
		s->a->max_messages_per_connection = 0;
		return 0;
	}
	if (parse_uint(v, 0, 1000000, &n) != 0)
		return perr(p, "expected off or a number up to 1000000, not "
		    "\"%s\"", p->vshow);
	s->a->max_messages_per_connection = (int)n;
	return 0;
}

/* "100/1h", "10/m" (a bare unit means one of it), "off" or "0". */
static int
k_rate_limit(struct pctx *p, struct sec *s, const char *v)
{
	char num[32], per[32];
	const char *slash = strchr(v, '/');
	long long n, t;
	size_t len;

	if (is_word(v, "off") || strcmp(v, "0") == 0) {
		s->a->rate_limit_count = 0;
		s->a->rate_limit_period = 0;
		return 0;
	}
	if (slash == NULL || (size_t)(slash - v) >= sizeof(num) ||
	    strlen(slash + 1) + 2 >= sizeof(per))
		goto bad;
	len = (size_t)(slash - v);
	memcpy(num, v, len);
	num[len] = '\0';
	if (slash[1] >= '0' && slash[1] <= '9')
		rq_strlcpy(per, slash + 1, sizeof(per));
	else
		(void)snprintf(per, sizeof(per), "1%s", slash + 1);
	if (parse_uint(num, 1, 1000000, &n) != 0 ||
	    parse_duration(per, &t) != 0 || t < 1 || t > 7 * 86400)
		goto bad;
	s->a->rate_limit_count = (int)n;
	s->a->rate_limit_period = t;
	return 0;
bad:
	return perr(p, "expected off or MESSAGES/DURATION such as 100/1h, "
	    "not \"%s\"", p->vshow);
}

/*
 * "warmup 50 100 500 1000 5000": messages per day for day 1, 2, ... of a
 * new sending IP or account, then unlimited; "off" or empty: none.
 */
static int
k_warmup(struct pctx *p, struct sec *s, const char *v)
{
	long long *days = NULL, n;
	size_t nd = 0, len;
	char word[32];

	free(s->a->warmup);
	s->a->warmup = NULL;
	s->a->nwarmup = 0;
	if (*v == '\0' || is_word(v, "off"))
		return 0;
	while (*v != '\0') {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (*v == '\0')
			break;
		len = strcspn(v, " \t,");
		if (len >= sizeof(word) || nd >= WARMUP_DAYS_MAX)
			goto bad;
		memcpy(word, v, len);
		word[len] = '\0';
		if (parse_uint(word, 1, 100000000, &n) != 0)
			goto bad;
		days = xreallocarray(days, nd + 1, sizeof(*days));
		days[nd++] = n;
		v += len;
	}
	if (nd == 0)
		goto bad;
	s->a->warmup = days;
	s->a->nwarmup = nd;
	return 0;
bad:
	free(days);
	return perr(p, "expected off or up to %d daily message counts such "
	    "as \"50 100 500 1000 5000\", not \"%s\"", WARMUP_DAYS_MAX,
	    p->vshow);
}

static int
duration_key(struct pctx *p, const char *v, long long max, long long *out)
{
	long long t;

	if (parse_duration(v, &t) != 0 || t < 1 || t > max)
		return perr(p, "expected a duration such as 30s, 5m, 1h or "
		    "5d, not \"%s\"", p->vshow);
	*out = t;
	return 0;
}

static int
k_retry_min(struct pctx *p, struct sec *s, const char *v)
{
	return duration_key(p, v, 7 * 86400, &s->a->retry_min);
}

static int
k_retry_max(struct pctx *p, struct sec *s, const char *v)
{
	return duration_key(p, v, 7 * 86400, &s->a->retry_max);
}

static int
k_max_queue_time(struct pctx *p, struct sec *s, const char *v)
{
	return duration_key(p, v, 365 * 86400, &s->a->max_queue_time);
}

static int
k_bounce(struct pctx *p, struct sec *s, const char *v)
{
	int on;

	free(s->a->bounce_to);
	s->a->bounce_to = NULL;
	if (*v == '\0' || parse_onoff(v, &on) == 0) {
		s->a->bounce = *v == '\0' ? 1 : on;
		return 0;
	}
	if (strchr(v, '@') == NULL || has_space_or_ctl(v) || v[0] == '-' ||
	    strlen(v) > ADDR_PATH_MAX || strpbrk(v, "<>,") != NULL)
		return perr(p, "expected on, off or an address, not \"%s\"",
		    p->vshow);
	s->a->bounce = 1;
	s->a->bounce_to = xstrdup(v);
	return 0;
}

static int
k_dkim_domain(struct pctx *p, struct sec *s, const char *v)
{
	if (*v == '[')
		return perr(p, "a domain name, not an address literal");
	return domain_key(p, &s->a->dkim_domain, v);
}

static int
k_dkim_selector(struct pctx *p, struct sec *s, const char *v)
{
	if (*v != '\0' && dkim_check_selector(v) != 0)
		return perr(p, "not a selector (labels of letters, digits and "
		    "'-', separated by dots): \"%s\"", p->vshow);
	set_str(&s->a->dkim_selector, v);
	return 0;
}

/* Only the path: relayq (set-group-ID in system mode) never opens it. */
static int
k_dkim_key(struct pctx *p, struct sec *s, const char *v)
{
	return file_key(p, &s->a->dkim_key, v);
}

static int
k_dkim_headers(struct pctx *p, struct sec *s, const char *v)
{
	const char *why;

	if (*v != '\0' && dkim_check_headers(v, &why) != 0)
		return perr(p, "%s", why);
	set_str(&s->a->dkim_headers, v);
	return 0;
}

static int
k_dkim_canon(struct pctx *p, struct sec *s, const char *v)
{
	enum dkim_canon h, b;

	if (*v == '\0') {
		h = b = DKIM_CANON_RELAXED;
	} else if (dkim_parse_canon(v, &h, &b) != 0) {
		return perr(p, "expected HEADER/BODY with each simple or "
		    "relaxed (e.g. relaxed/relaxed), not \"%s\"", p->vshow);
	}
	s->a->dkim_hcanon = (int)h;
	s->a->dkim_bcanon = (int)b;
	return 0;
}

static int
k_dkim_expire(struct pctx *p, struct sec *s, const char *v)
{
	int on;

	if (*v == '\0' || (parse_onoff(v, &on) == 0 && !on)) {
		s->a->dkim_expire = 0;
		return 0;
	}
	return duration_key(p, v, 365 * 86400, &s->a->dkim_expire);
}

static int
k_queue_dir(struct pctx *p, struct sec *s, const char *v)
{
	char *d;

	if (*v == '\0')
		return perr(p, "needs a directory");
	if (expand_tilde(p, v, &d) != 0)
		return -1;
	if (d[0] != '/') {
		free(d);
		return perr(p, "must be an absolute path, not \"%s\"",
		    p->vshow);
	}
	free(p->conf->queue_dir);
	p->conf->queue_dir = d;
	return 0;
}

static int
k_protocol(struct pctx *p, struct sec *s, const char *v)
{
	if (*v == '\0' || is_word(v, "smtp"))
		return 0;
	if (is_word(v, "lmtp"))
		return perr(p, "LMTP is not supported: relayq relays to an "
		    "SMTP smart host");
	return perr(p, "expected smtp, not \"%s\"", p->vshow);
}

/*
 * Keys that change where or how the connection goes.  Ignoring them would
 * connect somewhere the user did not intend (directly instead of through
 * a proxy, to TCP instead of a socket): errors, unless the value is empty
 * (msmtp's way of switching them off), which is harmless.
 */
static int
k_unsafe(struct pctx *p, struct sec *s, const char *v)
{
	if (*v == '\0')
		return 0;
	if (strncmp(p->key, "proxy_", 6) == 0)
		return perr(p, "SOCKS proxies are not supported; relayq would "
		    "connect directly, so it refuses");
	return perr(p, "not supported by relayq");
}

/*
 * eval runs a command whenever the file is read: for relayq that is every
 * submission, from cron and PHP included, and in the set-group-ID binary.
 * Too surprising to run, unsafe to ignore (the line it stands for would be
 * missing): an error pointing to passwordeval, which runs only when needed.
 */
static int
k_eval(struct pctx *p, struct sec *s, const char *v)
{
	return perr(p, "not supported: relayq does not run commands while "
	    "reading its configuration; write the value, or use passwordeval "
	    "for a secret");
}

static int
k_tls_nocertcheck(struct pctx *p, struct sec *s, const char *v)
{
	if (*v != '\0')
		return perr(p, "takes no value");
	s->a->tls_certcheck = 0;
	pwarn(p, "obsolete; read as tls_certcheck off (certificate checks "
	    "are off)");
	return 0;
}

static int
k_tls_nostarttls(struct pctx *p, struct sec *s, const char *v)
{
	if (*v != '\0')
		return perr(p, "takes no value");
	s->a->tls_starttls = 0;
	s->a->tls_starttls_set = 1;
	pwarn(p, "obsolete; read as tls_starttls off");
	return 0;
}

static int
k_auto_from(struct pctx *p, struct sec *s, const char *v)
{
	if (onoff(p, v, &s->auto_from) != 0)
		return -1;
	pwarn(p, "obsolete; use from %%U@DOMAIN");
	return 0;
}

static int
k_maildomain(struct pctx *p, struct sec *s, const char *v)
{
	if (*v != '\0' && check_domain(v) != 0)
		return perr(p, "not a domain name: \"%s\"", p->vshow);
	set_str(&s->maildomain, v);
	pwarn(p, "obsolete; use from %%U@DOMAIN");
	return 0;
}

/* msmtp keys whose absence changes nothing that matters: a warning. */
static int
k_ignored(struct pctx *p, struct sec *s, const char *v)
{
	pwarn(p, "ignored: not used by relayq");
	return 0;
}

/* Every key, msmtp's and relayq's.  Order does not matter. */
static const struct key keys[] = {
	{ "host",			k_host,			0 },
	{ "port",			k_port,			0 },
	{ "tls",			k_tls,			0 },
	{ "tls_starttls",		k_tls_starttls,		0 },
	{ "tls_certcheck",		k_tls_certcheck,	0 },
	{ "tls_trust_file",		k_tls_trust_file,	0 },
	{ "tls_crl_file",		k_tls_crl_file,		0 },
	{ "tls_fingerprint",		k_tls_fingerprint,	0 },
	{ "tls_cert_file",		k_tls_cert_file,	0 },
	{ "tls_key_file",		k_tls_key_file,		0 },
	{ "tls_priorities",		k_tls_priorities,	0 },
	{ "tls_host_override",		k_tls_host_override,	0 },
	{ "auth",			k_auth,			0 },
	{ "user",			k_user,			0 },
	{ "password",			k_password,		KF_SECRET },
	{ "passwordeval",		k_passwordeval,		0 },
	{ "from",			k_from,			0 },
	{ "from_full_name",		k_from_full_name,	0 },
	{ "allow_from_override",	k_allow_from_override,	0 },
	{ "domain",			k_domain,		0 },
	{ "timeout",			k_timeout,		0 },
	{ "connect_timeout",		k_timeout,		0 },
	{ "source_ip",			k_source_ip,		0 },
	{ "logfile",			k_logfile,		0 },
	{ "syslog",			k_syslog,		0 },
	{ "aliases",			k_aliases,		0 },
	{ "dsn_notify",			k_dsn_notify,		0 },
	{ "dsn_return",			k_dsn_return,		0 },
	{ "set_from_header",		k_set_from_header,	0 },
	{ "set_date_header",		k_set_date_header,	0 },
	{ "set_msgid_header",		k_set_msgid_header,	0 },
	{ "remove_bcc_headers",		k_remove_bcc_headers,	0 },
	{ "set_to_header",		k_set_to_header,	0 },
	{ "undisclosed_recipients",	k_undisclosed_recipients, 0 },
	{ "allow_plaintext_auth",	k_allow_plaintext_auth,	0 },
	{ "qualify_domain",		k_qualify_domain,	0 },
	{ "connections",		k_connections,		0 },
	{ "max_messages_per_connection", k_max_messages,	0 },
	{ "rate_limit",			k_rate_limit,		0 },
	{ "retry_min",			k_retry_min,		0 },
	{ "retry_max",			k_retry_max,		0 },
	{ "max_queue_time",		k_max_queue_time,	0 },
	{ "bounce",			k_bounce,		0 },
	{ "warmup",			k_warmup,		0 },
	{ "dkim_domain",		k_dkim_domain,		0 },
	{ "dkim_selector",		k_dkim_selector,	0 },
	{ "dkim_key",			k_dkim_key,		0 },
	{ "dkim_headers",		k_dkim_headers,		0 },
	{ "dkim_canon",			k_dkim_canon,		0 },
	{ "dkim_expire",		k_dkim_expire,		0 },
	{ "queue_dir",			k_queue_dir,		KF_GLOBAL },
	/* msmtp keys with a relayq meaning of their own. */
	{ "keepbcc",			k_keepbcc,		0 },
	{ "add_missing_from_header",	k_add_missing_from,	0 },
	{ "add_missing_date_header",	k_add_missing_date,	0 },
	{ "tls_nocertcheck",		k_tls_nocertcheck,	0 },
	{ "tls_nostarttls",		k_tls_nostarttls,	0 },
	{ "auto_from",			k_auto_from,		0 },
	{ "maildomain",			k_maildomain,		0 },
	{ "protocol",			k_protocol,		0 },
	/* Unsafe to ignore: errors. */
	{ "proxy_host",			k_unsafe,		0 },
	{ "proxy_port",			k_unsafe,		0 },
	{ "socket",			k_unsafe,		0 },
	{ "eval",			k_eval,			0 },
	/* Safe to ignore: warnings. */
	{ "logfile_time_format",	k_ignored,		0 },
	{ "tls_min_dh_prime_bits",	k_ignored,		0 },
	{ "tls_force_sslv3",		k_ignored,		0 },
	{ "ntlmdomain",			k_ignored,		0 },
};
static const size_t nkeys = RQ_ARRAY_LEN(keys);

_Static_assert(RQ_ARRAY_LEN(keys) <= KEY_MAX, "raise KEY_MAX");

static int
key_index(const char *name)
{
	for (size_t i = 0; i < nkeys; i++)
		if (strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* ---- the reader --------------------------------------------------------- */

struct reader {
	struct pctx	 p;
	struct rq_err	*err;
	struct sec	*defaults;	/* always present */
	struct sec	*cur;		/* NULL: top of file, before sections */
	struct sec	**secs;		/* accounts, in file order */
	size_t		 nsecs;
	int		 top;		/* still before the first section */
};

static int
rerr(struct reader *r, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "FILE:LINE: KEY: problem" (or "FILE:LINE: problem" without a key). */
static int
rerr(struct reader *r, const char *key, const char *fmt, ...)
{
	struct buf b = { 0 };
	va_list ap;

	buf_addf(&b, "%s:%d: ", r->p.file, r->p.line);
	if (key != NULL)
		buf_addf(&b, "%s: ", key);
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	rq_errf(r->err, EX_CONFIG, "%s", b.data);
	buf_free(&b);
	return EX_CONFIG;
}

static struct sec *
find_sec(struct reader *r, const char *name)
{
	for (size_t i = 0; i < r->nsecs; i++)
		if (strcmp(r->secs[i]->a->name, name) == 0)
			return r->secs[i];
	return NULL;
}

/* Apply one recorded assignment to dst (inheritance). */
static void
replay(struct reader *r, struct sec *dst, const struct sec *src)
{
	int saved_line = r->p.line;

	r->p.replay = 1;
	for (size_t i = 0; i < src->nasg; i++) {
		const struct asg *g = &src->asg[i];

		r->p.key = keys[g->key].name;
		r->p.vshow = "";
		r->p.line = g->line;
		/* Validated when first read: this cannot fail. */
		(void)keys[g->key].fn(&r->p, dst, g->value);
		sec_record(dst, g->key, g->value, g->line);
	}
	r->p.replay = 0;
	r->p.line = saved_line;
	/* The obsolete auto_from pair lives outside struct account. */
	if (src->auto_from)
		dst->auto_from = src->auto_from;
	if (src->maildomain != NULL) {
		free(dst->maildomain);
		dst->maildomain = xstrdup(src->maildomain);
	}
}

static int
valid_name(const char *n)
{
	return *n != '\0' && !has_space_or_ctl(n) && strpbrk(n, ":,#") == NULL;
}

static void
add_sec(struct reader *r, struct sec *s)
{
	r->secs = xreallocarray(r->secs, r->nsecs + 1, sizeof(*r->secs));
	r->secs[r->nsecs++] = s;
}

/* "account NAME [: BASE[,BASE...]]" */
static int
start_account(struct reader *r, const char *v)
{
	const char *colon = strchr(v, ':');
	size_t n = colon != NULL ? (size_t)(colon - v) : strlen(v);
	struct strlist bases = { 0 };
	struct sec *s;
	char *name;
	int rc = 0;

	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	name = xstrndup(v, n);
	if (!valid_name(name)) {
		rc = rerr(r, "account", "needs a name (no spaces, ':' or "
		    "',')");
		goto out;
	}
	if (find_sec(r, name) != NULL) {
		rc = rerr(r, "account", "%s is already defined", name);
		goto out;
	}
	if (colon != NULL) {
		const char *q = colon + 1;

		while (*q != '\0') {
			q += strspn(q, " \t,");
			n = strcspn(q, " \t,");
			if (n == 0)
				break;
			strlist_take(&bases, xstrndup(q, n));
			q += n;
		}
		if (bases.n == 0) {
			rc = rerr(r, "account", "%s: no account after ':'",
			    name);
			goto out;
		}
	}
	for (size_t i = 0; i < bases.n; i++) {
		if (find_sec(r, bases.v[i]) == NULL) {
			rc = rerr(r, "account", "%s: base account %s is not "
			    "defined above", name, bases.v[i]);
			goto out;
		}
	}
	s = sec_new(name, r->p.file, r->p.line);
	replay(r, s, r->defaults);
	for (size_t i = 0; i < bases.n; i++)
		replay(r, s, find_sec(r, bases.v[i]));
	if (strcmp(name, "default") == 0 && bases.n == 1)
		s->alias_of = xstrdup(bases.v[0]);
	add_sec(r, s);
	r->cur = s;
	r->top = 0;
out:
	strlist_free(&bases);
	free(name);
	return rc;
}

/* One "key value" line. */
static int
do_key(struct reader *r, const char *key, const char *v)
{
	int k = key_index(key);
	struct sec *s;
	char *shown;
	int rc;

	if (k < 0)
		return rerr(r, key, "unknown key");
	if (keys[k].flags & KF_GLOBAL) {
		if (!r->top && r->cur != r->defaults)
			return rerr(r, key, "a global key: set it at the top "
			    "of the file or under defaults, not in an account");
		s = r->defaults;
	} else {
		if (r->top && r->cur == NULL) {
			/*
			 * msmtp reads lines before any section as the
			 * account "default".
			 */
			if (find_sec(r, "default") != NULL)
				return rerr(r, key, "outside any account");
			r->cur = sec_new("default", r->p.file, r->p.line);
			replay(r, r->cur, r->defaults);
			add_sec(r, r->cur);
		}
		s = r->cur;
	}
	shown = (keys[k].flags & KF_SECRET) ? xstrdup("(hidden)") :
	    printable(v);
	r->p.key = keys[k].name;
	r->p.vshow = shown;
	rc = keys[k].fn(&r->p, s, v);
	r->p.vshow = "";
	free(shown);
	if (rc != 0)
		return rerr(r, key, "%s", r->p.prob.data);
	if (keys[k].flags & KF_GLOBAL)
		return 0;
	if (s->ownline[k] != 0)
		pwarn(&r->p, "also set on line %d; this later value wins",
		    s->ownline[k]);
	s->ownline[k] = r->p.line;
	s->nown++;
	sec_record(s, k, v, r->p.line);
	return 0;
}

/* Split one line into key and value and act on it. */
static int
do_line(struct reader *r, char *line)
{
	char *key, *v, *end;
	size_t n;

	line += strspn(line, " \t");
	if (*line == '\0' || *line == '#')
		return 0;
	key = line;
	n = strcspn(line, " \t");
	v = line + n;
	if (*v != '\0') {
		*v++ = '\0';
		v += strspn(v, " \t");
	}
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	/*
	 * A value that starts and ends with '"' loses that pair, and
	 * nothing else is special: this is what msmtp does (a backslash is
	 * an ordinary character), so passwords in existing files keep
	 * their meaning.
	 */
	if (end - v >= 2 && v[0] == '"' && end[-1] == '"') {
		end[-1] = '\0';
		v++;
	}
	if (strcmp(key, "defaults") == 0) {
		if (*v != '\0')
			return rerr(r, "defaults", "takes no value");
		r->cur = r->defaults;
		r->top = 0;
		return 0;
	}
	if (strcmp(key, "account") == 0)
		return start_account(r, v);
	return do_key(r, key, v);
}

/* Lines before the first section land in the implicit account default. */
static int
read_lines(struct reader *r, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;

	r->p.line = 0;
	for (;;) {
		errno = 0;
		len = getline(&line, &cap, f);
		if (len < 0) {
			if (errno != 0 && ferror(f))
				rc = rq_errno(r->err, EX_CONFIG, errno,
				    "%s: read", r->p.file);
			break;
		}
		r->p.line++;
		if (memchr(line, '\0', (size_t)len) != NULL) {
			rc = rerr(r, NULL, "NUL byte in line");
			break;
		}
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len > CONF_LINE_MAX) {
			rc = rerr(r, NULL, "line longer than %d octets",
			    CONF_LINE_MAX);
			break;
		}
		/* A UTF-8 byte order mark from a Windows editor. */
		if (r->p.line == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
			memmove(line, line + 3, (size_t)len - 2);
		rc = do_line(r, line);
		if (rc != 0)
			break;
	}
	if (line != NULL) {
		wipe(line, cap);	/* it may have held a password */
		free(line);
	}
	return rc;
}

/* ---- the checks once the whole file is read ----------------------------- */

static int
final_err(struct reader *r, const struct sec *s, int k, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

/* An error about key k of s, at the line that set it (or the account's). */
static int
final_err(struct reader *r, const struct sec *s, int k, const char *fmt,
    ...)
{
	struct buf b = { 0 };
	va_list ap;

	buf_addf(&b, "%s:%d: %s: account %s: ", r->p.file,
	    s->setline[k] ? s->setline[k] : s->a->line, keys[k].name,
	    s->a->name);
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	rq_errf(r->err, EX_CONFIG, "%s", b.data);
	buf_free(&b);
	return EX_CONFIG;
}

static int
finish_account(struct reader *r, struct sec *s)
{
	struct account *a = s->a;

	if (s->auto_from) {
		/* msmtp: auto_from replaces from with user@maildomain. */
		char *u = user_name();

		if (u != NULL) {
			free(a->from);
			a->from = s->maildomain != NULL ?
			    xasprintf("%s@%s", u, s->maildomain) : xstrdup(u);
			free(u);
		}
	}
	if (a->domain == NULL)
		a->domain = host_name();
	if (!a->tls_starttls_set && a->port == 465)
		a->tls_starttls = 0;

	if ((a->tls_cert_file == NULL) != (a->tls_key_file == NULL)) {
		int k = key_index(a->tls_cert_file != NULL ? "tls_cert_file" :
		    "tls_key_file");

		return final_err(r, s, k, "tls_cert_file and tls_key_file "
		    "must be set together");
	}
	if (a->tls && a->tls_certcheck && a->tls_trust_file != NULL &&
	    a->tls_trust_file[0] == '\0' && a->tls_fingerprint == NULL)
		return final_err(r, s, key_index("tls_trust_file"),
		    "empty, so no certificate authority is trusted: set "
		    "tls_fingerprint, or remove this line to use the system "
		    "trust store");
	/* dkim_domain turns signing on; selector and key may come from
	   defaults shared by accounts of several domains. */
	if (a->dkim_domain != NULL &&
	    (a->dkim_selector == NULL || a->dkim_key == NULL))
		return final_err(r, s, key_index("dkim_domain"), "signing "
		    "for %s needs dkim_selector and dkim_key as well",
		    a->dkim_domain);
	if (a->retry_min > a->retry_max)
		return final_err(r, s, key_index(s->setline[key_index(
		    "retry_min")] > s->setline[key_index("retry_max")] ?
		    "retry_min" : "retry_max"),
		    "retry_min (%llds) is larger than retry_max (%llds)",
		    a->retry_min, a->retry_max);
	return 0;
}

/* Does any section hold a password (the file must then be private)? */
static int
holds_password(const struct reader *r)
{
	if (r->defaults->a->password != NULL)
		return 1;
	for (size_t i = 0; i < r->nsecs; i++)
		if (r->secs[i]->a->password != NULL)
			return 1;
	return 0;
}

static int
check_file(struct reader *r, const struct stat *st)
{
	/*
	 * Anyone who can write this file can make relayq-flush run any
	 * command (passwordeval) and read the mail: refuse that always.
	 */
	if (st->st_mode & S_IWOTH)
		return rq_errf(r->err, EX_CONFIG, "%s: is writable by "
		    "everyone; chmod o-w it", r->p.file);
	if (!holds_password(r))
		return 0;
	if (st->st_uid != geteuid())
		return rq_errf(r->err, EX_CONFIG, "%s: holds a password but "
		    "is owned by uid %lu, not by you (uid %lu)", r->p.file,
		    (unsigned long)st->st_uid, (unsigned long)geteuid());
	if (st->st_mode & 077)
		return rq_errf(r->err, EX_CONFIG, "%s: holds a password but "
		    "is readable by others; chmod 600 it", r->p.file);
	return 0;
}

static char *
default_queue_dir(int from_user, struct rq_err *err)
{
	const char *x;
	char *home, *d;

	if (!from_user)
		return xstrdup(SPOOLDIR);
	x = getenv("XDG_STATE_HOME");
	if (x != NULL && x[0] == '/')
		return xasprintf("%s/relayq/queue", x);
	home = home_dir();
	if (home == NULL) {
		rq_errf(err, EX_CONFIG, "no home directory for the default "
		    "queue_dir; set queue_dir");
		return NULL;
	}
	d = xasprintf("%s/.local/state/relayq/queue", home);
	free(home);
	return d;
}

/* ---- the interface ------------------------------------------------------ */

/* Does path name something?  Any stat(2) failure counts as "no". */
static int
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static int
named_file(const char *path, const char *how, char **out, int *from_user,
    struct rq_err *err)
{
	struct stat st;

	if (*path == '\0')
		return rq_errf(err, EX_CONFIG, "%s: empty file name", how);
	if (stat(path, &st) != 0)
		return rq_errno(err, EX_CONFIG, errno, "%s %s", how, path);
	if (S_ISDIR(st.st_mode))
		return rq_errf(err, EX_CONFIG, "%s %s: is a directory", how,
		    path);
	*out = xstrdup(path);
	*from_user = 1;
	return 0;
}

int
conf_find(const char *cli, int setgid, char **path, int *from_user,
    struct rq_err *err)
{
	const char *env, *xdg;
	char *home, *p;

	*path = NULL;
	*from_user = 0;
	if (!setgid) {
		if (cli != NULL)
			return named_file(cli, "-C", path, from_user, err);
		env = getenv("RELAYQ_CONFIG");
		if (env != NULL && *env != '\0')
			return named_file(env, "RELAYQ_CONFIG", path,
			    from_user, err);
		home = home_dir();
		xdg = getenv("XDG_CONFIG_HOME");
		p = NULL;
		if (xdg != NULL && xdg[0] == '/')
			p = xasprintf("%s/relayq/config", xdg);
		else if (home != NULL)
			p = xasprintf("%s/.config/relayq/config", home);
		if (p != NULL && exists(p)) {
			free(home);
			*path = p;
			*from_user = 1;
			return 0;
		}
		free(p);
		if (home != NULL) {
			p = xasprintf("%s/.msmtprc", home);
			free(home);
			if (exists(p)) {
				*path = p;
				*from_user = 1;
				return 0;
			}
			free(p);
		}
	}
	if (exists(SYSCONFDIR "/relayq.conf"))
		*path = xstrdup(SYSCONFDIR "/relayq.conf");
	return 0;
}

static void
reader_free(struct reader *r)
{
	sec_free(r->defaults);
	for (size_t i = 0; i < r->nsecs; i++)
		sec_free(r->secs[i]);
	free(r->secs);
	buf_free(&r->p.prob);
	free(r->p.canon_host);
}

int
conf_load(const char *path, int from_user, struct conf **out,
    struct rq_err *err)
{
	struct conf *c = xcalloc(1, sizeof(*c));
	struct reader r;
	struct stat st;
	FILE *f = NULL;
	int rc = 0;

	*out = NULL;
	memset(&r, 0, sizeof(r));
	r.err = err;
	r.p.conf = c;
	r.p.file = path != NULL ? path : "(none)";
	r.p.vshow = "";
	r.p.key = "";
	r.defaults = sec_new("defaults", path, 0);
	r.defaults->is_defaults = 1;
	r.top = 1;
	c->from_user = from_user;
	if (path != NULL) {
		c->path = xstrdup(path);
		f = fopen(path, "re");
		if (f == NULL) {
			rc = rq_errno(err, EX_CONFIG, errno, "%s", path);
			goto fail;
		}
		if (fstat(fileno(f), &st) != 0) {
			rc = rq_errno(err, EX_CONFIG, errno, "%s", path);
			goto fail;
		}
		rc = read_lines(&r, f);
		if (rc != 0)
			goto fail;
		rc = check_file(&r, &st);
		if (rc != 0)
			goto fail;
	}
	for (size_t i = 0; i < r.nsecs; i++) {
		struct sec *s = r.secs[i];

		/* "account default : X" alone is a name for X. */
		if (s->alias_of != NULL && s->nown == 0) {
			free(c->default_account);
			c->default_account = xstrdup(s->alias_of);
			continue;
		}
		rc = finish_account(&r, s);
		if (rc != 0)
			goto fail;
		if (strcmp(s->a->name, "default") == 0) {
			free(c->default_account);
			c->default_account = xstrdup("default");
		}
		c->accounts = xreallocarray(c->accounts, c->naccounts + 1,
		    sizeof(*c->accounts));
		c->accounts[c->naccounts++] = s->a;
		s->a = NULL;
	}
	if (c->queue_dir == NULL) {
		c->queue_dir = default_queue_dir(from_user, err);
		if (c->queue_dir == NULL) {
			rc = EX_CONFIG;
			goto fail;
		}
	}
	if (f != NULL)
		fclose(f);
	reader_free(&r);
	*out = c;
	return 0;
fail:
	if (f != NULL)
		fclose(f);
	reader_free(&r);
	conf_free(c);
	return rc;
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->naccounts; i++)
		account_free(c->accounts[i]);
	free(c->accounts);
	free(c->path);
	free(c->queue_dir);
	free(c->default_account);
	strlist_free(&c->warnings);
	free(c);
}

struct account *
conf_account(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->naccounts; i++)
		if (strcmp(c->accounts[i]->name, name) == 0)
			return c->accounts[i];
	/* "account default : X" makes "-a default" mean X. */
	if (strcmp(name, "default") == 0 && c->default_account != NULL &&
	    strcmp(c->default_account, "default") != 0)
		return conf_account(c, c->default_account);
	return NULL;
}

struct account *
conf_default_account(const struct conf *c)
{
	if (c->default_account != NULL)
		return conf_account(c, c->default_account);
	return c->naccounts > 0 ? c->accounts[0] : NULL;
}

struct account *
conf_account_for_from(const struct conf *c, const char *addr)
{
	if (addr == NULL || *addr == '\0')
		return NULL;
	for (size_t i = 0; i < c->naccounts; i++) {
		const char *pat = c->accounts[i]->from;

		if (pat != NULL && addr_match(pat, addr))
			return c->accounts[i];
	}
	return NULL;
}

int
conf_check_account(const struct account *a, struct rq_err *err)
{
	if (a->hosts.n == 0)
		return rq_errf(err, EX_CONFIG, "%s:%d: host: account %s has "
		    "no host to relay to", a->file, a->line, a->name);
	return 0;
}

/*
 * Run passwordeval: /bin/sh -c CMD, standard input /dev/null, standard
 * error inherited (gpg's and pass's prompts and complaints stay visible).
 * fork and exec rather than popen, so that the exit status is ours to see.
 */
static int
run_eval(const struct account *a, char **pw, struct rq_err *err)
{
	struct buf out = { 0 };
	char chunk[512];
	int fds[2], status, devnull;
	pid_t pid;
	ssize_t n;
	size_t len;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return rq_errno(err, EX_CONFIG, errno, "account %s: "
		    "passwordeval: pipe", a->name);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return rq_errno(err, EX_CONFIG, errno, "account %s: "
		    "passwordeval: fork", a->name);
	}
	if (pid == 0) {
		devnull = open("/dev/null", O_RDONLY);
		if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 ||
		    dup2(fds[1], STDOUT_FILENO) < 0)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", a->passwordeval, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		n = read(fds[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		/* Keep a bounded amount; read the rest so the child ends. */
		if (out.len < PWEVAL_MAX)
			buf_add(&out, chunk, (size_t)n);
	}
	wipe(chunk, sizeof(chunk));
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			buf_wipe(&out);
			return rq_errno(err, EX_CONFIG, errno, "account %s: "
			    "passwordeval: waitpid", a->name);
		}
	}
	if (WIFSIGNALED(status)) {
		buf_wipe(&out);
		return rq_errf(err, EX_CONFIG, "account %s: passwordeval "
		    "failed (killed by signal %d)", a->name, WTERMSIG(status));
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		buf_wipe(&out);
		return rq_errf(err, EX_CONFIG, "account %s: passwordeval "
		    "failed (exit %d)", a->name, WEXITSTATUS(status));
	}
	/* The first line, without its CR/LF. */
	len = out.data != NULL ? strcspn(out.data, "\r\n") : 0;
	if (len == 0) {
		buf_wipe(&out);
		return rq_errf(err, EX_CONFIG, "account %s: passwordeval "
		    "failed (exit 0): it printed no password", a->name);
	}
	*pw = xstrndup(out.data, len);
	buf_wipe(&out);
	return 0;
}

int
conf_password(const struct account *a, char **pw, struct rq_err *err)
{
	*pw = NULL;
	if (a->password != NULL) {
		*pw = xstrdup(a->password);
		return 0;
	}
	if (a->passwordeval == NULL)
		return 0;
	return run_eval(a, pw, err);
}

int
conf_port(const struct account *a)
{
	if (a->port != 0)
		return a->port;
	if (!a->tls)
		return 25;
	return conf_implicit_tls(a) ? 465 : 587;
}

int
conf_implicit_tls(const struct account *a)
{
	if (!a->tls)
		return 0;
	if (a->tls_starttls_set)
		return !a->tls_starttls;
	return a->port == 465;
}
