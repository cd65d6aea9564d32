/*
 * relayq -- the aliases file (/etc/aliases format) for bare local names.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The format of aliases(5) as sendmail and Postfix read it: "name: list",
 * a logical line continued by lines that start with white space, empty
 * lines and lines whose first non-blank character is '#' ignored.  As in
 * msmtp, a "default" entry stands for every name that has no entry.
 *
 * A target "\name" is the name itself, not aliased again.
 *
 * relayq only relays, so the local deliveries of aliases(5) (|command,
 * /file, :include:) cannot be honoured.  Such an entry does not stop the
 * file from loading, since the system's /etc/aliases often has one for a
 * name nobody mails from this host; it is an error only when a recipient
 * actually expands through it, so no mail for it is queued and lost.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "aliases.h"

#define ALIAS_DEPTH_MAX	16

struct alias {
	char		*name;
	unsigned	 line;
	struct strlist	 targets;	/* addresses and bare names */
	struct strlist	 local;		/* |cmd, /file, :include: targets */
};

struct aliases {
	char		*path;
	struct alias	*v;
	size_t		 n, cap;
	const struct alias *def;	/* the "default" entry, or NULL */
};

static const struct alias *
lookup(const struct aliases *a, const char *name)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (rq_strcasecmp(a->v[i].name, name) == 0)
			return &a->v[i];
	return NULL;
}

static char *
trim(char *s)
{
	size_t len;

	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		s[--len] = '\0';
	return s;
}

/* What kind of local delivery a target asks for, or NULL for an address. */
static const char *
local_kind(const char *t)
{
	if (*t == '"')
		t++;
	if (*t == '|')
		return "a pipe to a command";
	if (*t == '/')
		return "a file";
	if (rq_strncasecmp(t, ":include:", 9) == 0)
		return "an :include: file";
	return NULL;
}

/*
 * Split value at the commas that separate targets: not those inside
 * quotes (a "|command, with commas"), comments or angle brackets.
 * Local deliveries go to al->local, addresses to al->targets; on error
 * the caller frees both.
 */
static int
parse_targets(struct aliases *a, struct alias *al, char *value,
    struct rq_err *err)
{
	char *p = value, *start = value, *t;
	int quote = 0, paren = 0, angle = 0, last, rc;
	struct rq_err aerr;

	for (;; p++) {
		last = *p == '\0';
		if (!last) {
			if (quote) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				else if (*p == '"')
					quote = 0;
				continue;
			}
			if (*p == '"')
				quote = 1;
			else if (*p == '(')
				paren++;
			else if (*p == ')' && paren > 0)
				paren--;
			else if (*p == '<')
				angle = 1;
			else if (*p == '>')
				angle = 0;
			if (*p != ',' || paren > 0 || angle)
				continue;
		}
		*p = '\0';
		t = trim(start);
		rq_errclear(&aerr);
		rc = 0;
		if (local_kind(t) != NULL)
			strlist_add(&al->local, t);
		else if (t[0] == '\\') {
			/*
			 * "\name": the name itself, not aliased further
			 * (aliases(5)).  Kept with its backslash as the mark.
			 */
			rc = addr_check(t + 1, 1, "address", &aerr);
			if (rc == 0)
				strlist_add(&al->targets, t);
		} else if (*t != '\0')
			rc = addr_parse_list(t, strlen(t), &al->targets, &aerr);
		if (rc != 0)
			return rq_errf(err, EX_CONFIG, "%s:%u: alias \"%s\": %s",
			    a->path, al->line, al->name, aerr.msg);
		if (last)
			break;
		start = p + 1;
	}
	if (al->targets.n == 0 && al->local.n == 0)
		return rq_errf(err, EX_CONFIG, "%s:%u: alias \"%s\" has no "
		    "targets", a->path, al->line, al->name);
	return 0;
}

/* One logical line "name: targets" that started on line lineno. */
static int
parse_entry(struct aliases *a, char *text, unsigned lineno,
    struct rq_err *err)
{
	struct alias *al;
	char *colon, *name, *p;
	int rc;

	colon = strchr(text, ':');
	if (colon == NULL)
		return rq_errf(err, EX_CONFIG, "%s:%u: missing ':' after "
		    "the alias name", a->path, lineno);
	*colon = '\0';
	name = trim(text);
	if (*name == '\0')
		return rq_errf(err, EX_CONFIG, "%s:%u: empty alias name",
		    a->path, lineno);
	for (p = name; *p != '\0'; p++)
		if (*p == ' ' || *p == '\t' || *p == '"' || *p == '@' ||
		    *p == ',')
			return rq_errf(err, EX_CONFIG, "%s:%u: bad alias name "
			    "\"%.100s\"", a->path, lineno, name);
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->v = xreallocarray(a->v, a->cap, sizeof(*a->v));
	}
	al = &a->v[a->n];
	memset(al, 0, sizeof(*al));
	al->name = xstrdup(name);
	al->line = lineno;
	rc = parse_targets(a, al, colon + 1, err);
	/* The first entry for a name wins, as in Postfix. */
	if (rc != 0 || lookup(a, al->name) != NULL) {
		free(al->name);
		strlist_free(&al->targets);
		strlist_free(&al->local);
		return rc;
	}
	a->n++;
	return 0;
}

void
aliases_free(struct aliases *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < a->n; i++) {
		free(a->v[i].name);
		strlist_free(&a->v[i].targets);
		strlist_free(&a->v[i].local);
	}
	free(a->v);
	free(a->path);
	free(a);
}

int
aliases_load(const char *path, struct aliases **out, struct rq_err *err)
{
	struct aliases *a;
	struct buf logical = { 0 };
	FILE *fp;
	char *line = NULL;
	size_t cap = 0, len, i;
	ssize_t n;
	unsigned lineno = 0, start = 0;
	int rc = 0;

	*out = NULL;
	fp = fopen(path, "re");
	if (fp == NULL)
		return rq_errno(err, EX_NOINPUT, errno, "cannot open aliases "
		    "file %s", path);
	a = xcalloc(1, sizeof(*a));
	a->path = xstrdup(path);
	for (;;) {
		errno = 0;
		n = getline(&line, &cap, fp);
		if (n < 0)
			break;
		lineno++;
		len = (size_t)n;
		if (memchr(line, '\0', len) != NULL) {
			rc = rq_errf(err, EX_CONFIG, "%s:%u: NUL byte",
			    path, lineno);
			goto done;
		}
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			line[--len] = '\0';
		for (i = 0; line[i] == ' ' || line[i] == '\t'; i++)
			continue;
		if (line[i] == '\0' || line[i] == '#')
			continue;
		if (i > 0) {
			if (logical.len == 0) {
				rc = rq_errf(err, EX_CONFIG, "%s:%u: "
				    "continuation line without an entry",
				    path, lineno);
				goto done;
			}
			buf_addch(&logical, ' ');
			buf_addstr(&logical, line + i);
			continue;
		}
		if (logical.len > 0) {
			rc = parse_entry(a, logical.data, start, err);
			if (rc != 0)
				goto done;
		}
		buf_reset(&logical);
		buf_addstr(&logical, line);
		start = lineno;
	}
	if (ferror(fp)) {
		rc = rq_errno(err, EX_NOINPUT, errno ? errno : EIO,
		    "cannot read aliases file %s", path);
		goto done;
	}
	if (logical.len > 0)
		rc = parse_entry(a, logical.data, start, err);
	a->def = rc == 0 ? lookup(a, "default") : NULL;
done:
	fclose(fp);
	free(line);
	buf_free(&logical);
	if (rc != 0) {
		aliases_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

/* ---- expansion ----------------------------------------------------------- */

/*
 * The result list with a hash set beside it, so that removing duplicates
 * stays linear when -t brings thousands of Bcc recipients.  Two addresses
 * are the same when their local parts are equal and their domains equal
 * without regard to case; the key is the address with its domain
 * lowercased.
 */
struct uniq {
	struct strlist	*out;
	char		**keys;		/* open addressing; NULL: free slot */
	size_t		 cap, n;
};

static char *
uniq_key(const char *addr)
{
	char *k = xstrdup(addr);
	const char *d = addr_domain(addr);
	size_t i;

	for (i = d != NULL ? (size_t)(d - addr) : strlen(k); k[i] != '\0'; i++)
		k[i] = (char)rq_tolower((unsigned char)k[i]);
	return k;
}

static size_t
uniq_hash(const char *s)
{
	size_t h = 14695981039346656037ULL & SIZE_MAX;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL & SIZE_MAX;
	}
	return h;
}

/* Insert key (taking it); returns 0 when it was new, 1 when known. */
static int
uniq_insert(struct uniq *u, char *key)
{
	size_t i, j;

	if (2 * (u->n + 1) > u->cap) {
		struct uniq bigger = { u->out, NULL, u->cap ? 2 * u->cap : 64,
		    0 };

		bigger.keys = xcalloc(bigger.cap, sizeof(*bigger.keys));
		for (i = 0; i < u->cap; i++)
			if (u->keys[i] != NULL)
				(void)uniq_insert(&bigger, u->keys[i]);
		free(u->keys);
		*u = bigger;
	}
	for (j = uniq_hash(key) & (u->cap - 1); u->keys[j] != NULL;
	    j = (j + 1) & (u->cap - 1))
		if (strcmp(u->keys[j], key) == 0) {
			free(key);
			return 1;
		}
	u->keys[j] = key;
	u->n++;
	return 0;
}

static void
add_unique(struct uniq *u, const char *addr)
{
	if (uniq_insert(u, uniq_key(addr)) == 0)
		strlist_add(u->out, addr);
}

static void
uniq_free(struct uniq *u)
{
	size_t i;

	for (i = 0; i < u->cap; i++)
		free(u->keys[i]);
	free(u->keys);
}

struct chain {
	const struct alias *v[ALIAS_DEPTH_MAX];
	size_t n;
};

static void
chain_text(const struct chain *ch, const char *last, struct buf *b)
{
	size_t i;

	for (i = 0; i < ch->n; i++) {
		buf_addstr(b, ch->v[i]->name);
		buf_addstr(b, " -> ");
	}
	buf_addstr(b, last);
}

static int
expand_name(const struct aliases *a, const char *name, struct chain *ch,
    int via_default, struct uniq *out, struct rq_err *err)
{
	const struct alias *al;
	struct buf b = { 0 };
	size_t i;
	int rc;

	al = lookup(a, name);
	if (al == NULL) {
		/*
		 * A name the default entry produced is not sent through the
		 * default again: "default: admin" with no "admin" entry
		 * would otherwise loop.
		 */
		if (via_default || a->def == NULL) {
			add_unique(out, name);
			return 0;
		}
		al = a->def;
		via_default = 1;
	}
	for (i = 0; i < ch->n; i++)
		if (ch->v[i] == al) {
			chain_text(ch, name, &b);
			rc = rq_errf(err, EX_CONFIG, "%s: alias loop: %s",
			    a->path, b.data);
			buf_free(&b);
			return rc;
		}
	if (ch->n == ALIAS_DEPTH_MAX) {
		chain_text(ch, name, &b);
		rc = rq_errf(err, EX_CONFIG, "%s: aliases nested more than %d "
		    "deep: %s", a->path, ALIAS_DEPTH_MAX, b.data);
		buf_free(&b);
		return rc;
	}
	if (al->local.n > 0)
		return rq_errf(err, EX_CONFIG, "%s:%u: alias \"%s\" delivers "
		    "to %s (\"%.200s\"), which relayq cannot do; point it to "
		    "a mail address", a->path, al->line, al->name,
		    local_kind(al->local.v[0]), al->local.v[0]);
	ch->v[ch->n++] = al;
	for (i = 0; i < al->targets.n; i++) {
		const char *t = al->targets.v[i];

		/*
		 * "root: root, admin@example.org" means the name itself, as
		 * in sendmail and Postfix; it stays bare for the caller.
		 */
		if (t[0] == '\\')
			add_unique(out, t + 1);
		else if (addr_has_domain(t) || rq_strcasecmp(t, name) == 0)
			add_unique(out, t);
		else {
			rc = expand_name(a, t, ch, via_default, out, err);
			if (rc != 0)
				return rc;
		}
	}
	ch->n--;
	return 0;
}

int
aliases_expand(const struct aliases *a, struct strlist *rcpts,
    struct rq_err *err)
{
	struct strlist list = { 0 };
	struct uniq out = { &list, NULL, 0, 0 };
	struct chain ch;
	size_t i;
	int rc;

	for (i = 0; i < rcpts->n; i++) {
		const char *r = rcpts->v[i];

		if (a == NULL || addr_has_domain(r) || *r == '\0') {
			add_unique(&out, r);
			continue;
		}
		ch.n = 0;
		rc = expand_name(a, r, &ch, 0, &out, err);
		if (rc != 0) {
			uniq_free(&out);
			strlist_free(&list);
			return rc;
		}
	}
	uniq_free(&out);
	strlist_free(rcpts);
	*rcpts = list;
	return 0;
}
