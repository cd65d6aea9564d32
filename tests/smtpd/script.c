/*
 * rq-testsmtpd -- the script parser and rule lookup.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One directive per line; see README.md for the language.  Errors name the
 * file and line and end the program: a test with a broken script must fail
 * loudly rather than run against a server doing something else.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtpd.h"

/* Where a parse error is reported. */
struct where {
	const char	*file;
	int		 line;
};

static void __attribute__((noreturn, format(printf, 2, 3)))
perr(const struct where *w, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sd_die("%s:%d: %s", w->file, w->line, msg);
}

static const char *
skipsp(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/*
 * Next token: a bare word, or a double-quoted string (returned with its
 * escapes still encoded, *quoted set).  Returns NULL at end of line.
 */
static char *
token(const char **pp, int *quoted, const struct where *w)
{
	const char *p = skipsp(*pp), *s;

	if (quoted != NULL)
		*quoted = 0;
	if (*p == '\0')
		return NULL;
	if (*p == '"') {
		s = ++p;
		while (*p != '\0' && *p != '"') {
			if (*p == '\\' && p[1] != '\0')
				p++;
			p++;
		}
		if (*p != '"')
			perr(w, "unterminated string");
		*pp = p + 1;
		if (quoted != NULL)
			*quoted = 1;
		return sd_strndup(s, (size_t)(p - s));
	}
	s = p;
	while (*p != '\0' && *p != ' ' && *p != '\t')
		p++;
	*pp = p;
	return sd_strndup(s, (size_t)(p - s));
}

static long long
number(const char *s, long long min, long long max, const struct where *w)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		perr(w, "bad number '%s' (want %lld..%lld)", s, min, max);
	return v;
}

static double
seconds(const char *s, const struct where *w)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || !(v >= 0) ||
	    v > 1e6)
		perr(w, "bad number of seconds '%s'", s);
	return v;
}

/* "VERB", "VERB#N", optionally preceded by "session#N". */
static void
parse_match(const char **pp, struct sd_rule *r, const struct where *w)
{
	char *t, *hash;
	size_t i;

	t = token(pp, NULL, w);
	if (t == NULL)
		perr(w, "missing command name");
	if (strncasecmp(t, "session#", 8) == 0) {
		r->session = (int)number(t + 8, 1, INT_MAX, w);
		free(t);
		t = token(pp, NULL, w);
		if (t == NULL)
			perr(w, "missing command name after session#N");
	}
	hash = strchr(t, '#');
	if (hash != NULL) {
		*hash = '\0';
		r->nth = (int)number(hash + 1, 1, INT_MAX, w);
	}
	if (t[0] == '\0' || strlen(t) >= sizeof(r->verb))
		perr(w, "bad command name '%s'", t);
	for (i = 0; t[i] != '\0'; i++)
		r->verb[i] = (char)toupper((unsigned char)t[i]);
	r->verb[i] = '\0';
	free(t);
}

static void
add_item(struct sd_rule *r, const char *data, size_t len, long long count)
{
	r->items = sd_realloc(r->items, (r->nitems + 1) * sizeof(*r->items));
	r->items[r->nitems].data = sd_strndup(data, len);
	r->items[r->nitems].len = len;
	r->items[r->nitems].count = count;
	r->nitems++;
}

/* Items of raw: "STR", N*"STR", *"STR" (forever). */
static void
parse_items(const char *p, struct sd_rule *r, const struct where *w)
{
	for (;;) {
		long long count = 1;
		struct sbuf b = { 0 };
		char *star;
		int quoted;
		char *t;

		p = skipsp(p);
		if (*p == '\0')
			break;
		star = NULL;
		if (*p != '"') {
			const char *q = p;

			while (*q != '\0' && *q != '*' && *q != ' ')
				q++;
			if (*q != '*' || q[1] != '"')
				perr(w, "expected \"string\", N*\"string\" or "
				    "*\"string\"");
			if (q == p)
				count = -1;
			else {
				star = sd_strndup(p, (size_t)(q - p));
				count = number(star, 0, LLONG_MAX, w);
				free(star);
			}
			p = q + 1;
		}
		t = token(&p, &quoted, w);
		if (t == NULL || !quoted)
			perr(w, "expected a quoted string");
		if (sd_unescape(&b, t, strlen(t)) != 0)
			perr(w, "bad escape in \"%s\"", t);
		if (b.len == 0 && count == -1)
			perr(w, "an endless empty string");
		add_item(r, b.data ? b.data : "", b.len, count);
		sbuf_free(&b);
		free(t);
	}
	if (r->nitems == 0)
		perr(w, "nothing to send");
}

/* reply TEXT: escapes decoded, each LF-separated line sent with CRLF. */
static void
parse_reply_text(const char *p, struct sd_rule *r, const struct where *w)
{
	struct sbuf raw = { 0 }, out = { 0 };
	size_t i, start;

	p = skipsp(p);
	if (*p == '\0')
		perr(w, "missing reply text");
	if (sd_unescape(&raw, p, strlen(p)) != 0)
		perr(w, "bad escape in reply text");
	start = 0;
	for (i = 0; i <= raw.len; i++) {
		if (i == raw.len || raw.data[i] == '\n') {
			sbuf_add(&out, raw.data + start, i - start);
			sbuf_add(&out, "\r\n", 2);
			start = i + 1;
		}
	}
	add_item(r, out.data, out.len, 1);
	sbuf_free(&raw);
	sbuf_free(&out);
}

static int
is_keyword(const char *t)
{
	static const char *const kw[] = {
		"PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE", "DSN",
		"CHUNKING", "BINARYMIME", "STARTTLS", "AUTH",
		"ENHANCEDSTATUSCODES", "REQUIRETLS", "DELIVERBY", "ETRN",
		"VRFY", "EXPN", "HELP", "ATRN", "MT-PRIORITY", "FUTURERELEASE",
		"NO-SOLICITING", "LIMITS", "XCLIENT", "XFORWARD",
	};
	size_t i;

	for (i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
		if (strcasecmp(t, kw[i]) == 0)
			return 1;
	return 0;
}

/*
 * ehlo WORD...: a known keyword starts a capability line; other words are
 * arguments of the line before (so "SIZE 100 AUTH PLAIN LOGIN" is two
 * lines).  A quoted string is one whole line, sent as written.
 */
static void
parse_caps(const char *p, struct sd_caps *c, const struct where *w)
{
	char *t;
	int quoted;
	int open = 0;	/* the last line may take arguments */

	c->set = 1;
	for (;;) {
		t = token(&p, &quoted, w);
		if (t == NULL)
			break;
		if (quoted) {
			struct sbuf b = { 0 };

			if (sd_unescape(&b, t, strlen(t)) != 0)
				perr(w, "bad escape in \"%s\"", t);
			c->v = sd_realloc(c->v, (c->n + 1) * sizeof(*c->v));
			c->v[c->n++] = sd_strdup(b.data ? b.data : "");
			sbuf_free(&b);
			free(t);
			open = 0;
		} else if (is_keyword(t) || !open) {
			c->v = sd_realloc(c->v, (c->n + 1) * sizeof(*c->v));
			c->v[c->n++] = t;
			open = 1;
		} else {
			char *line = c->v[c->n - 1];
			size_t n = strlen(line), m = strlen(t);

			line = sd_realloc(line, n + 1 + m + 1);
			line[n] = ' ';
			memcpy(line + n + 1, t, m + 1);
			c->v[c->n - 1] = line;
			free(t);
		}
	}
}

static void
add_rule(struct sd_script *s, const struct sd_rule *r)
{
	s->rules = sd_realloc(s->rules, (s->nrules + 1) * sizeof(*s->rules));
	s->rules[s->nrules++] = *r;
}

/* key=value options of the tls directive. */
static void
parse_tls(struct sd_script *s, const char *p, const struct where *w)
{
	char *t;

	for (;;) {
		char *eq, **dst = NULL;

		t = token(&p, NULL, w);
		if (t == NULL)
			break;
		eq = strchr(t, '=');
		if (strcmp(t, "require-client-cert") == 0) {
			s->tls_require_client_cert = 1;
			free(t);
			continue;
		}
		if (eq == NULL)
			perr(w, "tls: expected key=value, got '%s'", t);
		*eq = '\0';
		if (strcmp(t, "cert") == 0)
			dst = &s->tls_cert;
		else if (strcmp(t, "key") == 0)
			dst = &s->tls_key;
		else if (strcmp(t, "ca") == 0)
			dst = &s->tls_ca;
		else if (strcmp(t, "priority") == 0)
			dst = &s->tls_priority;
		else
			perr(w, "tls: unknown option '%s'", t);
		free(*dst);
		*dst = sd_strdup(eq + 1);
		free(t);
	}
	if (s->tls_cert == NULL || s->tls_key == NULL)
		perr(w, "tls: cert= and key= are required");
}

static struct sd_user *
user_entry(struct sd_script *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nusers; i++)
		if (strcmp(s->users[i].name, name) == 0)
			return &s->users[i];
	s->users = sd_realloc(s->users, (s->nusers + 1) * sizeof(*s->users));
	memset(&s->users[s->nusers], 0, sizeof(s->users[0]));
	s->users[s->nusers].name = sd_strdup(name);
	return &s->users[s->nusers++];
}

static void
need_end(const char *p, const struct where *w)
{
	if (*skipsp(p) != '\0')
		perr(w, "unexpected text '%s'", skipsp(p));
}

void
script_line(struct sd_script *s, const char *line, const char *file,
    int lineno)
{
	struct where w = { file, lineno };
	struct sd_rule r;
	const char *p = line;
	char *dir, *a, *b;

	p = skipsp(p);
	if (*p == '#' || *p == '\0')
		return;
	dir = token(&p, NULL, &w);
	memset(&r, 0, sizeof(r));
	r.lineno = lineno;

	if (strcmp(dir, "ehlo") == 0) {
		parse_caps(p, &s->ehlo, &w);
	} else if (strcmp(dir, "ehlo-tls") == 0) {
		parse_caps(p, &s->ehlo_tls, &w);
	} else if (strcmp(dir, "hostname") == 0) {
		a = token(&p, NULL, &w);
		if (a == NULL)
			perr(&w, "hostname: missing name");
		need_end(p, &w);
		free(s->hostname);
		s->hostname = a;
	} else if (strcmp(dir, "tls") == 0) {
		parse_tls(s, p, &w);
	} else if (strcmp(dir, "implicit-tls") == 0) {
		need_end(p, &w);
		s->implicit_tls = 1;
	} else if (strcmp(dir, "user") == 0 || strcmp(dir, "oauth") == 0) {
		a = token(&p, NULL, &w);
		b = token(&p, NULL, &w);
		if (a == NULL || b == NULL)
			perr(&w, "%s: expected NAME %s", dir,
			    dir[0] == 'u' ? "PASSWORD" : "TOKEN");
		need_end(p, &w);
		if (dir[0] == 'u') {
			free(user_entry(s, a)->password);
			user_entry(s, a)->password = b;
		} else {
			free(user_entry(s, a)->token);
			user_entry(s, a)->token = b;
		}
		free(a);
	} else if (strcmp(dir, "reply") == 0) {
		parse_match(&p, &r, &w);
		r.kind = K_RESPOND;
		r.action = A_SEND;
		parse_reply_text(p, &r, &w);
		add_rule(s, &r);
	} else if (strcmp(dir, "raw") == 0) {
		parse_match(&p, &r, &w);
		r.kind = K_RESPOND;
		r.action = A_SEND;
		parse_items(p, &r, &w);
		add_rule(s, &r);
	} else if (strcmp(dir, "endless") == 0) {
		parse_match(&p, &r, &w);
		r.kind = K_RESPOND;
		r.action = A_SEND;
		if (*skipsp(p) == '\0')
			add_item(&r, "250-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			    "xxxxxxxxxxxxxxxxxxxx\r\n", 66, -1);
		else {
			parse_items(p, &r, &w);
			if (r.nitems != 1)
				perr(&w, "endless takes one string");
			r.items[0].count = -1;
		}
		add_rule(s, &r);
	} else if (strcmp(dir, "disconnect") == 0) {
		parse_match(&p, &r, &w);
		r.kind = K_RESPOND;
		r.action = A_CLOSE;
		if (strcmp(r.verb, "BODY") == 0) {
			a = token(&p, NULL, &w);
			if (a == NULL)
				perr(&w, "disconnect BODY: missing byte count");
			r.bytes = number(a, 0, LLONG_MAX, &w);
			free(a);
		}
		need_end(p, &w);
		add_rule(s, &r);
	} else if (strcmp(dir, "disconnect-after") == 0) {
		parse_match(&p, &r, &w);
		r.kind = K_AFTER;
		r.action = A_CLOSE;
		need_end(p, &w);
		add_rule(s, &r);
	} else if (strcmp(dir, "hang") == 0) {
		parse_match(&p, &r, &w);
		r.kind = K_RESPOND;
		r.action = A_HANG;
		need_end(p, &w);
		add_rule(s, &r);
	} else if (strcmp(dir, "delay") == 0) {
		parse_match(&p, &r, &w);
		r.kind = K_DELAY;
		a = token(&p, NULL, &w);
		if (a == NULL)
			perr(&w, "delay: missing seconds");
		r.delay = seconds(a, &w);
		free(a);
		need_end(p, &w);
		add_rule(s, &r);
	} else if (strcmp(dir, "max-sessions") == 0 ||
	    strcmp(dir, "idle-timeout") == 0 ||
	    strcmp(dir, "read-timeout") == 0) {
		a = token(&p, NULL, &w);
		if (a == NULL)
			perr(&w, "%s: missing value", dir);
		need_end(p, &w);
		if (dir[0] == 'm')
			s->max_sessions = (int)number(a, 0, INT_MAX, &w);
		else if (dir[0] == 'i')
			s->idle_timeout = seconds(a, &w);
		else
			s->read_timeout = seconds(a, &w);
		free(a);
	} else if (strcmp(dir, "limit") == 0) {
		a = token(&p, NULL, &w);
		b = token(&p, NULL, &w);
		if (a == NULL || b == NULL)
			perr(&w, "limit: expected line|message N");
		need_end(p, &w);
		if (strcmp(a, "line") == 0)
			s->max_line = (size_t)number(b, 16, 1 << 30, &w);
		else if (strcmp(a, "message") == 0)
			s->max_message = number(b, 0, LLONG_MAX, &w);
		else
			perr(&w, "limit: unknown limit '%s'", a);
		free(a);
		free(b);
	} else {
		perr(&w, "unknown directive '%s'", dir);
	}
	free(dir);
}

void
script_load(struct sd_script *s, const char *path)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0;

	fp = fopen(path, "r");
	if (fp == NULL)
		sd_die("%s: %s", path, strerror(errno));
	for (;;) {
		n = getline(&line, &cap, fp);
		if (n < 0)
			break;
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (strlen(line) != (size_t)n)
			sd_die("%s:%d: NUL byte in script", path, lineno);
		script_line(s, line, path, lineno);
	}
	free(line);
	fclose(fp);
}

static void
caps_add(struct sd_caps *c, const char *line)
{
	c->v = sd_realloc(c->v, (c->n + 1) * sizeof(*c->v));
	c->v[c->n++] = sd_strdup(line);
}

void
script_finish(struct sd_script *s)
{
	size_t i;

	if (s->hostname == NULL)
		s->hostname = sd_strdup("localhost");
	if (s->read_timeout <= 0)
		s->read_timeout = 300;
	if (s->max_line == 0)
		s->max_line = 4096;
	if (s->max_message == 0)
		s->max_message = 1LL << 30;
	if (!s->ehlo.set) {
		/* A plausible submission server when the script says nothing. */
		caps_add(&s->ehlo, "PIPELINING");
		caps_add(&s->ehlo, "8BITMIME");
		caps_add(&s->ehlo, "ENHANCEDSTATUSCODES");
		if (s->tls_cert != NULL && !s->implicit_tls)
			caps_add(&s->ehlo, "STARTTLS");
		if (s->nusers > 0)
			caps_add(&s->ehlo, "AUTH PLAIN LOGIN");
		s->ehlo.set = 1;
	}
	if (!s->ehlo_tls.set) {
		/* After STARTTLS: the same list without STARTTLS itself. */
		for (i = 0; i < s->ehlo.n; i++)
			if (strcasecmp(s->ehlo.v[i], "STARTTLS") != 0)
				caps_add(&s->ehlo_tls, s->ehlo.v[i]);
		s->ehlo_tls.set = 1;
	}
}

const struct sd_rule *
script_find(const struct sd_script *s, enum sd_kind kind, const char *verb,
    int session, int nth)
{
	const struct sd_rule *best = NULL;
	int bestscore = -1;
	size_t i;

	for (i = 0; i < s->nrules; i++) {
		const struct sd_rule *r = &s->rules[i];
		int score;

		if (r->kind != kind || strcmp(r->verb, verb) != 0)
			continue;
		if (r->session != 0 && r->session != session)
			continue;
		if (r->nth != 0 && r->nth != nth)
			continue;
		score = (r->nth != 0 ? 2 : 0) + (r->session != 0 ? 1 : 0);
		if (score >= bestscore) {
			best = r;
			bestscore = score;
		}
	}
	return best;
}
