/*
 * relayq -- mail addresses: RFC 5322 address lists and RFC 5321 mailboxes.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Implements the address-list grammar of RFC 5322 section 3.4 with the
 * obsolete forms of section 4.4 (empty list elements, routes, CFWS around
 * dots), UTF-8 in atoms and quoted strings (RFC 6532), and the Mailbox
 * syntax and limits of RFC 5321 sections 4.1.2, 4.1.3 and 4.5.3.1 with the
 * RFC 6531 extension to UTF-8.
 *
 * Addresses come from the command line, from headers (-t) and from the
 * configuration, and end up in the queue file and in MAIL and RCPT
 * commands.  Everything that could break a line or an argument vector
 * (CR, LF, NUL, other controls, a leading '-') is refused here, once, with
 * a message that is itself one line.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "mime.h"

/* How much of a hostile input an error message may quote. */
#define ESC_MAX	160

/*
 * Append s[0..len) to out for an error message: printable, one line,
 * quotes and backslashes escaped, valid UTF-8 kept, the rest as \xNN,
 * shortened to about ESC_MAX octets.
 */
static void
esc_append(struct buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, start = out->len;

	while (i < len) {
		unsigned char c = p[i];
		size_t n;

		if (out->len - start >= ESC_MAX) {
			buf_addstr(out, "...");
			return;
		}
		if (c == '\r')
			buf_addstr(out, "\\r");
		else if (c == '\n')
			buf_addstr(out, "\\n");
		else if (c == '\t')
			buf_addstr(out, "\\t");
		else if (c == '"' || c == '\\') {
			buf_addch(out, '\\');
			buf_addch(out, (char)c);
		} else if (rq_iscntrl(c))
			buf_addf(out, "\\x%02x", c);
		else if (c < 0x80)
			buf_addch(out, (char)c);
		else {
			n = utf8_char_len(p + i, len - i);
			if (n == 0)
				buf_addf(out, "\\x%02x", c);
			else {
				buf_add(out, p + i, n);
				i += n;
				continue;
			}
		}
		i++;
	}
}

/* err := "WHAT \"ESCAPED\": WHY" with ex. */
static int
addr_err(struct rq_err *err, int ex, const char *what, const char *s,
    size_t len, const char *why)
{
	struct buf b = { 0 };

	esc_append(&b, s, len);
	rq_errf(err, ex, "%s \"%s\": %s", what, b.data ? b.data : "", why);
	buf_free(&b);
	return ex;
}

/* ---- RFC 5321 Mailbox checks --------------------------------------------- */

/* Dot-string (RFC 5321) with UTF-8 atext (RFC 6531): no empty atoms. */
static int
is_dot_string(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (s[i + 1] == '.')
				return 0;
		} else if (!rfc5322_is_atext(c) && c < 0x80)
			return 0;
	}
	return 1;
}

/*
 * Check the local part s[0..len) (quoted or not); on error *why says what
 * is wrong.
 */
static int
check_local(const char *s, size_t len, const char **why)
{
	size_t i;

	if (len == 0) {
		*why = "empty local part";
		return -1;
	}
	if (len > ADDR_LOCAL_MAX) {
		*why = "local part longer than 64 octets";
		return -1;
	}
	if (s[0] == '"') {
		/* Quoted-string: qtextSMTP and quoted-pairSMTP. */
		if (len == 2) {
			*why = "empty local part";
			return -1;
		}
		for (i = 1; i < len - 1; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c == '\\') {
				i++;
				if (i >= len - 1) {
					*why = "unterminated quoted local part";
					return -1;
				}
				c = (unsigned char)s[i];
				if (c < 0x20 || c > 0x7e) {
					*why = "invalid quoted pair in "
					    "local part";
					return -1;
				}
			} else if (c == '"') {
				*why = "misplaced quote in local part";
				return -1;
			}
		}
		return 0;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c != '.' && !rfc5322_is_atext(c) && c < 0x80) {
			*why = c == ' ' ? "space in local part" :
			    "invalid character in local part (quote it)";
			return -1;
		}
	}
	if (!is_dot_string(s, len)) {
		*why = "misplaced dot in local part";
		return -1;
	}
	return 0;
}

/* RFC 5321 IPv4-address-literal: four Snum of 1 to 3 digits, 0-255. */
static int
is_ipv4_literal(const char *s, size_t len)
{
	size_t i = 0;
	int part;

	for (part = 0; part < 4; part++) {
		unsigned v = 0, digits = 0;

		if (part > 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
		while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(s[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0 || digits > 3 || v > 255)
			return 0;
	}
	return i == len;
}

static int
check_literal(const char *s, size_t len, const char **why)
{
	char tmp[64];
	unsigned char a6[16];
	size_t i;

	/* s includes the brackets. */
	if (len < 3 || s[len - 1] != ']') {
		*why = "malformed address literal";
		return -1;
	}
	s++;
	len -= 2;
	if (len > 5 && rq_strncasecmp(s, "IPv6:", 5) == 0) {
		s += 5;
		len -= 5;
		if (len >= sizeof(tmp)) {
			*why = "malformed IPv6 address literal";
			return -1;
		}
		for (i = 0; i < len; i++)
			if (!strchr("0123456789abcdefABCDEF:.", s[i])) {
				*why = "malformed IPv6 address literal";
				return -1;
			}
		memcpy(tmp, s, len);
		tmp[len] = '\0';
		if (inet_pton(AF_INET6, tmp, a6) != 1) {
			*why = "malformed IPv6 address literal";
			return -1;
		}
		return 0;
	}
	if (is_ipv4_literal(s, len))
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] == ':') {
			*why = "unsupported address literal (only IPv4 "
			    "and IPv6: are known)";
			return -1;
		}
	*why = "malformed IPv4 address literal";
	return -1;
}

static int
check_domain(const char *s, size_t len, const char **why)
{
	size_t i, lab = 0;

	if (len == 0) {
		*why = "empty domain";
		return -1;
	}
	if (len > ADDR_DOMAIN_MAX) {
		*why = "domain longer than 255 octets";
		return -1;
	}
	if (s[0] == '[')
		return check_literal(s, len, why);
	for (i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)s[i] : '.';

		if (c == '.') {
			if (lab == 0) {
				*why = i == len ? "domain ends with a dot" :
				    "empty label in domain";
				return -1;
			}
			if (s[i - 1] == '-' || s[i - lab] == '-') {
				*why = "domain label starts or ends with '-'";
				return -1;
			}
			lab = 0;
			continue;
		}
		if (!(c >= 0x80 || c == '-' || (c >= '0' && c <= '9') ||
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
			*why = c == ' ' ? "space in domain" :
			    "invalid character in domain";
			return -1;
		}
		if (++lab > 63) {
			*why = "domain label longer than 63 octets";
			return -1;
		}
	}
	return 0;
}

/*
 * Length of the local part of addr: a leading quoted string through its
 * closing quote, else everything up to the first '@'.
 */
static size_t
local_len(const char *addr)
{
	size_t i = 0;

	if (addr[0] == '"') {
		for (i = 1; addr[i] != '\0'; i++) {
			if (addr[i] == '\\' && addr[i + 1] != '\0')
				i++;
			else if (addr[i] == '"')
				return i + 1;
		}
		return i;
	}
	while (addr[i] != '\0' && addr[i] != '@')
		i++;
	return i;
}

int
addr_check(const char *addr, int allow_bare, const char *what,
    struct rq_err *err)
{
	const char *why = NULL;
	size_t len = strlen(addr), i, ll;

	if (what == NULL)
		what = "address";
	if (len == 0)
		return addr_err(err, EX_DATAERR, what, addr, len,
		    "empty address");
	for (i = 0; i < len; i++)
		if (rq_iscntrl((unsigned char)addr[i]))
			return addr_err(err, EX_DATAERR, what, addr, len,
			    "control character in address");
	for (i = 0; i < len; ) {
		size_t n = utf8_char_len(addr + i, len - i);

		if (n == 0)
			return addr_err(err, EX_DATAERR, what, addr, len,
			    "invalid UTF-8 in address");
		i += n;
	}
	if (addr[0] == '-')
		return addr_err(err, EX_DATAERR, what, addr, len,
		    "address starts with '-'");
	ll = local_len(addr);
	if (addr[0] == '"' && (ll < 2 || addr[ll - 1] != '"'))
		return addr_err(err, EX_DATAERR, what, addr, len,
		    "unterminated quoted local part");
	if (check_local(addr, ll, &why) != 0)
		return addr_err(err, EX_DATAERR, what, addr, len, why);
	if (addr[ll] == '\0') {
		if (!allow_bare)
			return addr_err(err, EX_DATAERR, what, addr, len,
			    "no domain in address");
		return 0;
	}
	if (addr[ll] != '@')
		return addr_err(err, EX_DATAERR, what, addr, len,
		    "text after the quoted local part");
	if (check_domain(addr + ll + 1, len - ll - 1, &why) != 0)
		return addr_err(err, EX_DATAERR, what, addr, len, why);
	if (len > ADDR_PATH_MAX)
		return addr_err(err, EX_DATAERR, what, addr, len,
		    "address longer than 254 octets");
	return 0;
}

const char *
addr_domain(const char *addr)
{
	size_t ll = local_len(addr);

	return addr[ll] == '@' ? addr + ll + 1 : NULL;
}

int
addr_has_domain(const char *addr)
{
	return addr_domain(addr) != NULL;
}

int
addr_is_utf8(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

int
addr_local_is_utf8(const char *addr)
{
	size_t i, ll = local_len(addr);

	for (i = 0; i < ll; i++)
		if ((unsigned char)addr[i] >= 0x80)
			return 1;
	return 0;
}

char *
addr_envelope(const char *arg)
{
	size_t len;

	while (*arg == ' ' || *arg == '\t')
		arg++;
	len = strlen(arg);
	while (len > 0 && (arg[len - 1] == ' ' || arg[len - 1] == '\t'))
		len--;
	if (len >= 2 && arg[0] == '<' && arg[len - 1] == '>') {
		arg++;
		len -= 2;
	} else if (memchr(arg, '<', len) != NULL) {
		/* "Name <addr>", as some scripts pass -f: the one mailbox. */
		struct strlist l = { 0 };
		char *one = NULL;

		if (addr_parse_list(arg, len, &l, NULL) == 0 && l.n == 1) {
			one = l.v[0];
			l.v[0] = NULL;
		}
		strlist_free(&l);
		if (one != NULL)
			return one;
	}
	return xstrndup(arg, len);
}

void
addr_xtext(const char *in, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)in;

	/* xchar is "!" to "~" except "+" and "="; the rest is +HH. */
	for (; *p != '\0'; p++) {
		if (*p >= 0x21 && *p <= 0x7e && *p != '+' && *p != '=')
			buf_addch(out, (char)*p);
		else
			buf_addf(out, "+%02X", *p);
	}
}

/* Length of one character of s at i for '?': a UTF-8 character or an octet. */
static size_t
char_at(const char *s, size_t i, size_t len)
{
	size_t n = utf8_char_len(s + i, len - i);

	return n == 0 ? 1 : n;
}

int
addr_match(const char *pattern, const char *addr)
{
	const char *p = pattern, *star_p = NULL, *dom;
	size_t i = 0, star_i = 0, len = strlen(addr), ci_from;

	/* Octets of the domain compare case-insensitively. */
	dom = addr_domain(addr);
	ci_from = dom != NULL ? (size_t)(dom - addr) : len;
	while (i < len) {
		if (*p == '*') {
			star_p = ++p;
			star_i = i;
			continue;
		}
		if (*p == '?') {
			p++;
			i += char_at(addr, i, len);
			continue;
		}
		if (*p != '\0' && (*p == addr[i] || (i >= ci_from &&
		    rq_tolower((unsigned char)*p) ==
		    rq_tolower((unsigned char)addr[i])))) {
			p++;
			i++;
			continue;
		}
		if (star_p == NULL)
			return 0;
		/* Let the last '*' swallow one more character and retry. */
		star_i += char_at(addr, star_i, len);
		p = star_p;
		i = star_i;
	}
	while (*p == '*')
		p++;
	return *p == '\0' && i == len;
}

/* ---- RFC 5322 address lists ---------------------------------------------- */

enum tok_type {
	T_END,
	T_ATOM,		/* atext (and UTF-8) run, or an encoded word */
	T_QSTR,		/* quoted string, quotes included */
	T_DLIT,		/* domain literal, brackets included */
	T_SPECIAL,	/* one of < > @ , ; : . */
	T_ERR
};

struct tok {
	enum tok_type	 type;
	char		 ch;		/* T_SPECIAL */
	const char	*p;		/* raw text */
	size_t		 len;
};

struct parser {
	const char	*p, *end;	/* what is left of the input */
	const char	*why;		/* set with T_ERR */
	struct tok	 look;
	int		 have_look;
	struct buf	 scratch;
};

/*
 * Folding white space: CRLF (or a bare LF, as in files read without
 * canonicalisation) followed by SP or HTAB.  Returns the length of the
 * line break to drop, 0 when p does not start a fold.
 */
static size_t
fold_len(const char *p, const char *end)
{
	if (p < end && *p == '\r' && p + 2 < end && p[1] == '\n' &&
	    (p[2] == ' ' || p[2] == '\t'))
		return 2;
	if (p < end && *p == '\n' && p + 1 < end &&
	    (p[1] == ' ' || p[1] == '\t'))
		return 1;
	return 0;
}

/*
 * Take one character of a comment, quoted string or domain literal at
 * ps->p into *c: folds are skipped, and a quoted pair gives the character
 * it quotes with *quoted set.  -1 with why set at the end of the input
 * (unterminated) or on a control character other than HTAB.
 */
static int
delim_char(struct parser *ps, const char *unterminated, unsigned char *c,
    int *quoted)
{
	size_t f;

	for (f = fold_len(ps->p, ps->end); f > 0;
	    f = fold_len(ps->p, ps->end))
		ps->p += f;
	*quoted = ps->p < ps->end && *ps->p == '\\';
	if (*quoted)
		ps->p++;
	if (ps->p >= ps->end) {
		ps->why = unterminated;
		return -1;
	}
	*c = (unsigned char)*ps->p++;
	if (rq_iscntrl(*c) && *c != '\t') {
		ps->why = "control character in address list";
		return -1;
	}
	return 0;
}

/* Skip white space, folds and (nested) comments; 0 or -1 with why set. */
static int
skip_cfws(struct parser *ps)
{
	unsigned char c;
	size_t f;
	int depth, quoted;

	for (;;) {
		if (ps->p >= ps->end)
			return 0;
		if (*ps->p == ' ' || *ps->p == '\t') {
			ps->p++;
			continue;
		}
		f = fold_len(ps->p, ps->end);
		if (f > 0) {
			ps->p += f;
			continue;
		}
		if (*ps->p != '(')
			return 0;
		/* A comment; depth instead of recursion, so nesting is free. */
		depth = 1;
		ps->p++;
		while (depth > 0) {
			if (delim_char(ps, "unbalanced parenthesis: comment "
			    "not closed", &c, &quoted) != 0)
				return -1;
			if (quoted)
				continue;
			if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
		}
	}
}

/*
 * Scan a quoted string or domain literal starting at ps->p (on the
 * opening delimiter) through close.  Folds and quoted pairs are allowed,
 * other control characters are not.
 */
static int
scan_delimited(struct parser *ps, char close, const char *unterminated)
{
	unsigned char c;
	int quoted;

	ps->p++;
	for (;;) {
		if (delim_char(ps, unterminated, &c, &quoted) != 0)
			return -1;
		if (quoted)
			continue;
		if (c == (unsigned char)close)
			return 0;
		if (close == ']' && c == '[') {
			ps->why = "'[' inside a domain literal";
			return -1;
		}
	}
}

/*
 * If an RFC 2047 encoded word starts at p, its length, else 0.  Mailers
 * put ',' and other specials into the text of encoded words in display
 * names although RFC 2047 section 5 forbids it; reading such a word as one
 * atom keeps "=?UTF-8?Q?Doe,_J?= <j@example.org>" one mailbox.
 */
static size_t
encoded_word_len(const char *p, const char *end)
{
	const char *q = p + 2;
	int field = 0;

	if (end - p < 8 || p[0] != '=' || p[1] != '?')
		return 0;
	for (; q < end && q - p < 76; q++) {
		unsigned char c = (unsigned char)*q;

		if (c == '?') {
			if (field == 2) {
				if (q + 1 < end && q[1] == '=')
					return (size_t)(q + 2 - p);
				return 0;
			}
			field++;
			continue;
		}
		if (c <= ' ' || c >= 0x7f)
			return 0;
	}
	return 0;
}

static enum tok_type
lex(struct parser *ps, struct tok *t)
{
	unsigned char c;
	size_t n;

	t->ch = '\0';
	if (skip_cfws(ps) != 0)
		return t->type = T_ERR;
	t->p = ps->p;
	t->len = 0;
	if (ps->p >= ps->end)
		return t->type = T_END;
	c = (unsigned char)*ps->p;
	switch (c) {
	case '"':
		if (scan_delimited(ps, '"', "unbalanced quotes: quoted string "
		    "not closed") != 0)
			return t->type = T_ERR;
		t->type = T_QSTR;
		break;
	case '[':
		if (scan_delimited(ps, ']', "unbalanced brackets: domain "
		    "literal not closed") != 0)
			return t->type = T_ERR;
		t->type = T_DLIT;
		break;
	case ')':
		ps->why = "unbalanced parenthesis: ')' without '('";
		return t->type = T_ERR;
	case ']':
		ps->why = "unbalanced brackets: ']' without '['";
		return t->type = T_ERR;
	case '\\':
		ps->why = "backslash outside a quoted string";
		return t->type = T_ERR;
	case '<': case '>': case '@': case ',': case ';': case ':': case '.':
		ps->p++;
		t->type = T_SPECIAL;
		t->ch = (char)c;
		break;
	default:
		if (rq_iscntrl(c)) {
			ps->why = "control character in address list";
			return t->type = T_ERR;
		}
		n = encoded_word_len(ps->p, ps->end);
		ps->p += n;
		while (ps->p < ps->end && (rfc5322_is_atext((unsigned char)*ps->p) ||
		    (unsigned char)*ps->p >= 0x80))
			ps->p++;
		t->type = T_ATOM;
		break;
	}
	t->len = (size_t)(ps->p - t->p);
	return t->type;
}

static struct tok *
peek(struct parser *ps)
{
	if (!ps->have_look) {
		lex(ps, &ps->look);
		ps->have_look = 1;
	}
	return &ps->look;
}

static void
advance(struct parser *ps)
{
	ps->have_look = 0;
}

static int
is_special(const struct tok *t, char ch)
{
	return t->type == T_SPECIAL && t->ch == ch;
}

/* Append the content of a quoted string (quotes, folds, pairs removed). */
static void
unquote(const struct tok *t, struct buf *out)
{
	const char *p = t->p + 1, *end = t->p + t->len - 1;
	size_t f;

	while (p < end) {
		f = fold_len(p, end);
		if (f > 0) {
			p += f;
			continue;
		}
		if (*p == '\\')
			p++;
		buf_addch(out, *p);
		p++;
	}
}

/* A domain literal without folds (white space is left for addr_check). */
static void
add_literal(const struct tok *t, struct buf *out)
{
	const char *p = t->p, *end = t->p + t->len;
	size_t f;

	while (p < end) {
		f = fold_len(p, end);
		if (f > 0) {
			p += f;
			continue;
		}
		buf_addch(out, *p++);
	}
}

/*
 * The tokens of one address before a '<', ':' or separator.  Kept in a
 * growable array; a header may hold thousands of words.
 */
struct toks {
	struct tok	*v;
	size_t		 n, cap;
};

static void
toks_add(struct toks *ts, const struct tok *t)
{
	if (ts->n == ts->cap) {
		ts->cap = ts->cap ? ts->cap * 2 : 16;
		ts->v = xreallocarray(ts->v, ts->cap, sizeof(*ts->v));
	}
	ts->v[ts->n++] = *t;
}

/* Collect words, dots, '@' and literals; stops at any other token. */
static int
collect(struct parser *ps, struct toks *ts)
{
	struct tok *t;

	ts->n = 0;
	for (;;) {
		t = peek(ps);
		if (t->type == T_ERR)
			return -1;
		if (t->type == T_END || (t->type == T_SPECIAL &&
		    t->ch != '.' && t->ch != '@'))
			return 0;
		toks_add(ts, t);
		advance(ps);
	}
}

/*
 * Turn the tokens of an addr-spec into RFC 5321 form: words joined by
 * their dots with comments and white space gone; a local part with
 * quoted words is unquoted and, when the result is not a dot-string,
 * quoted again as one quoted-string (RFC 5322 3.4.1 says both forms are
 * the same address).
 */
static int
addr_spec(struct parser *ps, const struct tok *v, size_t n, struct buf *out)
{
	struct buf local = { 0 };
	size_t i = 0, j;
	int quoted = 0, prev_word = 0;

	buf_reset(out);
	if (n == 0) {
		ps->why = "empty address";
		return -1;
	}
	for (; i < n && !is_special(&v[i], '@'); i++) {
		if (v[i].type == T_DLIT) {
			ps->why = "domain literal in a local part";
			goto fail;
		}
		if (v[i].type == T_SPECIAL) {
			buf_addch(&local, '.');
			prev_word = 0;
			continue;
		}
		if (prev_word) {
			ps->why = "words without an address (missing '<' "
			    "or ',')";
			goto fail;
		}
		prev_word = 1;
		if (v[i].type == T_QSTR) {
			quoted = 1;
			unquote(&v[i], &local);
		} else
			buf_add(&local, v[i].p, v[i].len);
	}
	if (!quoted || (local.len > 0 && is_dot_string(local.data, local.len)))
		buf_add(out, local.data, local.len);
	else {
		buf_addch(out, '"');
		for (j = 0; j < local.len; j++) {
			if (local.data[j] == '"' || local.data[j] == '\\')
				buf_addch(out, '\\');
			buf_addch(out, local.data[j]);
		}
		buf_addch(out, '"');
	}
	buf_free(&local);
	if (i == n)
		return 0;
	buf_addch(out, '@');
	prev_word = 0;
	for (i++; i < n; i++) {
		if (v[i].type == T_SPECIAL && v[i].ch == '@') {
			ps->why = "more than one '@' in an address";
			return -1;
		}
		if (v[i].type == T_SPECIAL) {
			buf_addch(out, '.');
			prev_word = 0;
			continue;
		}
		if (v[i].type == T_QSTR) {
			ps->why = "quoted string in a domain";
			return -1;
		}
		if (prev_word) {
			ps->why = "white space in a domain";
			return -1;
		}
		prev_word = 1;
		if (v[i].type == T_DLIT)
			add_literal(&v[i], out);
		else
			buf_add(out, v[i].p, v[i].len);
	}
	return 0;
fail:
	buf_free(&local);
	return -1;
}

/* Check a mailbox found in a list and append it to out. */
static int
emit(struct buf *b, struct strlist *out, struct rq_err *err)
{
	if (addr_check(b->data ? b->data : "", 1, "address", err) != 0)
		return -1;
	strlist_add(out, b->data);
	return 0;
}

/* After '<': [obs-route] addr-spec '>'. */
static int
angle_addr(struct parser *ps, struct toks *ts, struct strlist *out,
    struct rq_err *err)
{
	struct tok *t;

	t = peek(ps);
	if (is_special(t, '>')) {
		ps->why = "empty address <>";
		return -1;
	}
	if (is_special(t, '@') || is_special(t, ',')) {
		/* obs-route: "@a,@b:" before the address; dropped. */
		for (;;) {
			t = peek(ps);
			if (t->type == T_ERR)
				return -1;
			if (is_special(t, ':')) {
				advance(ps);
				break;
			}
			if (t->type == T_END || is_special(t, '>') ||
			    is_special(t, '<') || is_special(t, ';')) {
				ps->why = "bad route in an angle address";
				return -1;
			}
			advance(ps);
		}
	}
	if (collect(ps, ts) != 0)
		return -1;
	t = peek(ps);
	if (t->type == T_END) {
		ps->why = "unbalanced angle brackets: '<' without '>'";
		return -1;
	}
	if (!is_special(t, '>')) {
		ps->why = t->ch == '<' ? "'<' inside an angle address" :
		    "unexpected special character in an angle address";
		return -1;
	}
	advance(ps);
	if (addr_spec(ps, ts->v, ts->n, &ps->scratch) != 0)
		return -1;
	return emit(&ps->scratch, out, err);
}

/* One address: mailbox or (outside a group) group. */
static int
address(struct parser *ps, int in_group, struct toks *ts, struct strlist *out,
    struct rq_err *err)
{
	struct tok *t;

	if (collect(ps, ts) != 0)
		return -1;
	t = peek(ps);
	if (is_special(t, '<')) {
		/* The display name (ts) is dropped: envelopes have none. */
		advance(ps);
		return angle_addr(ps, ts, out, err);
	}
	if (is_special(t, ':')) {
		if (in_group) {
			ps->why = "group inside a group";
			return -1;
		}
		if (ts->n == 0) {
			ps->why = "group without a name";
			return -1;
		}
		advance(ps);
		for (;;) {
			t = peek(ps);
			if (t->type == T_ERR)
				return -1;
			if (is_special(t, ';')) {
				advance(ps);
				return 0;
			}
			/* Tolerate "undisclosed-recipients:" without ';'. */
			if (t->type == T_END)
				return 0;
			if (is_special(t, ',')) {
				advance(ps);
				continue;
			}
			if (address(ps, 1, ts, out, err) != 0)
				return -1;
			t = peek(ps);
			if (t->type == T_ERR)
				return -1;
			if (!is_special(t, ',') && !is_special(t, ';') &&
			    t->type != T_END) {
				ps->why = "expected ',' or ';' after an "
				    "address in a group";
				return -1;
			}
		}
	}
	if (is_special(t, '>')) {
		ps->why = "unbalanced angle brackets: '>' without '<'";
		return -1;
	}
	if (addr_spec(ps, ts->v, ts->n, &ps->scratch) != 0)
		return -1;
	return emit(&ps->scratch, out, err);
}

int
addr_parse_list(const char *text, size_t len, struct strlist *out,
    struct rq_err *err)
{
	struct parser ps;
	struct toks ts = { 0 };
	struct strlist found = { 0 };
	struct tok *t;
	size_t i;
	int rc = -1;

	memset(&ps, 0, sizeof(ps));
	ps.p = text;
	ps.end = text + len;
	if (err != NULL)
		rq_errclear(err);
	for (;;) {
		t = peek(&ps);
		if (t->type == T_ERR)
			goto done;
		if (t->type == T_END)
			break;
		if (is_special(t, ',')) {
			advance(&ps);
			continue;
		}
		if (address(&ps, 0, &ts, &found, err) != 0)
			goto done;
		t = peek(&ps);
		if (t->type == T_ERR || t->type == T_END)
			continue;
		if (is_special(t, ';')) {
			ps.why = "';' outside a group";
			goto done;
		}
		if (!is_special(t, ',')) {
			ps.why = "expected ',' between addresses";
			goto done;
		}
	}
	for (i = 0; i < found.n; i++) {
		strlist_take(out, found.v[i]);
		found.v[i] = NULL;
	}
	found.n = 0;
	rc = 0;
done:
	if (rc != 0 && ps.why != NULL)
		addr_err(err, EX_DATAERR, "bad address list", text, len,
		    ps.why);
	else if (rc != 0 && err != NULL && err->ex == EX_OK)
		rq_errf(err, EX_DATAERR, "bad address list");
	strlist_free(&found);
	free(ts.v);
	buf_free(&ps.scratch);
	return rc == 0 ? 0 : EX_DATAERR;
}

/* ---- qualifying header addresses ------------------------------------------ */

/*
 * Skip a comment (nested), quoted string or domain literal that opens at
 * p[i]; returns the index after it.  *closed is 0 when it runs to len
 * without closing.
 */
static size_t
skip_delimited(const char *p, size_t i, size_t len, int *closed)
{
	char open = p[i];
	char close = open == '(' ? ')' : open == '[' ? ']' : '"';
	int depth = 1;

	*closed = 1;
	for (i++; i < len; i++) {
		if (p[i] == '\\')
			i++;
		else if (open == '(' && p[i] == '(')
			depth++;
		else if (p[i] == close && --depth == 0)
			return i + 1;
	}
	*closed = 0;
	return len;
}

/*
 * One mailbox of a header value, p[start, end): qualify it when it is a
 * bare name.  With an angle address, the name inside the brackets; else
 * the addr-spec, which is everything but comments and white space.
 */
static size_t
qualify_mailbox(const char *p, size_t start, size_t end, const char *domain,
    struct buf *out)
{
	size_t i, lt = end, gt = end, last = end, first = end;
	int has_at = 0, has_text = 0, closed;

	for (i = start; i < end; i++) {
		if (p[i] == '(' || p[i] == '"' || p[i] == '[') {
			size_t j = skip_delimited(p, i, end, &closed);

			if (p[i] != '(') {
				if (first == end)
					first = i;
				last = j;
				has_text = 1;
			}
			i = j - 1;
			continue;
		}
		if (p[i] == '<' && lt == end) {
			lt = i;
			continue;
		}
		if (p[i] == '>' && lt != end && gt == end) {
			gt = i;
			continue;
		}
		if (p[i] == '@')
			has_at = 1;
		if (!(p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
		    p[i] == '\n')) {
			if (first == end)
				first = i;
			last = i + 1;
			has_text = 1;
		}
	}
	if (lt != end) {
		/* Name <local> : only what is between the brackets counts. */
		int inner_text = 0, inner_at = 0;

		if (gt == end)
			goto copy;
		for (i = lt + 1; i < gt; i++) {
			if (p[i] == '@')
				inner_at = 1;
			else if (p[i] != ' ' && p[i] != '\t')
				inner_text = 1;
		}
		if (inner_at || !inner_text)
			goto copy;
		buf_add(out, p + start, gt - start);
		buf_addf(out, "@%s", domain);
		buf_add(out, p + gt, end - gt);
		return 1;
	}
	if (!has_text || has_at)
		goto copy;
	/* A bare addr-spec is one word; "John Smith" without brackets is
	 * a broken mailbox, not ours to guess at. */
	for (i = first; i < last; i++) {
		if (p[i] == '(' || p[i] == '"' || p[i] == '[')
			i = skip_delimited(p, i, last, &closed) - 1;
		else if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r')
			goto copy;
	}
	buf_add(out, p + start, last - start);
	buf_addf(out, "@%s", domain);
	buf_add(out, p + last, end - last);
	return 1;
copy:
	buf_add(out, p + start, end - start);
	return 0;
}

size_t
addr_qualify_header(const char *p, size_t len, const char *domain,
    struct buf *out)
{
	size_t i, start = 0, n = 0, mark = out->len;
	int angle = 0, closed;

	for (i = 0; i < len; i++) {
		if (p[i] == '(' || p[i] == '"' || p[i] == '[') {
			size_t j = skip_delimited(p, i, len, &closed);

			if (!closed)
				goto unchanged;
			i = j - 1;
			continue;
		}
		if (p[i] == '<')
			angle++;
		else if (p[i] == '>' && angle > 0)
			angle--;
		else if (angle == 0 && (p[i] == ',' || p[i] == ';')) {
			n += qualify_mailbox(p, start, i, domain, out);
			buf_addch(out, p[i]);
			start = i + 1;
		} else if (angle == 0 && p[i] == ':') {
			/* A group's display name: copied, not an address. */
			buf_add(out, p + start, i + 1 - start);
			start = i + 1;
		}
	}
	if (angle != 0)
		goto unchanged;
	n += qualify_mailbox(p, start, len, domain, out);
	return n;
unchanged:
	out->len = mark;
	buf_add(out, p, len);
	return 0;
}
