/*
 * relayq -- SMTP replies (RFC 5321 section 4.2) and EHLO capabilities.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * RFC 5321 4.2 (reply syntax), 4.2.1 (multiline replies, same code on every
 * line), 4.5.3.1.5 (reply line length); RFC 1869/5321 4.1.1.1 (EHLO
 * keywords); RFC 1870 (SIZE); RFC 4954 (AUTH, and the pre-standard
 * "AUTH=" form still sent by old servers).
 *
 * Everything the server sends is hostile until parsed: the three digits
 * are checked one by one (never strtol on a buffer that may not end),
 * every limit is checked before anything is stored, and a NUL byte is an
 * error rather than something that silently shortens a line.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "util.h"

/* RFC 4422 3.1: a SASL mechanism name is 1 to 20 characters. */
#define SASL_MECH_MAX	20

void
reply_init(struct reply *r)
{
	memset(r, 0, sizeof(*r));
}

void
reply_free(struct reply *r)
{
	strlist_free(&r->lines);
	reply_init(r);
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int
reply_feed(struct reply *r, const char *line, size_t len, struct rq_err *err)
{
	size_t textlen;
	int code, last;

	/* A finished reply is the start of the next one. */
	if (r->done)
		reply_free(r);

	if (r->lines.n >= REPLY_LINES_MAX)
		return rq_errf(err, EX_PROTOCOL,
		    "reply of more than %d lines", REPLY_LINES_MAX);
	if (len > REPLY_SIZE_MAX - r->size)
		return rq_errf(err, EX_PROTOCOL,
		    "reply larger than %d octets", REPLY_SIZE_MAX);
	r->size += len;

	/* CRLF or a bare LF ends the line; the terminator is not text. */
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > REPLY_LINE_MAX)
		return rq_errf(err, EX_PROTOCOL,
		    "reply line longer than %d octets", REPLY_LINE_MAX);
	if (memchr(line, '\0', len) != NULL)
		return rq_errf(err, EX_PROTOCOL, "reply contains a NUL byte");
	if (memchr(line, '\n', len) != NULL || memchr(line, '\r', len) != NULL)
		return rq_errf(err, EX_PROTOCOL,
		    "reply contains a bare CR or LF");

	if (len < 3 || !is_digit(line[0]) || !is_digit(line[1]) ||
	    !is_digit(line[2]))
		return rq_errf(err, EX_PROTOCOL,
		    "reply does not start with a three-digit code");
	if (line[0] < '2' || line[0] > '5')
		return rq_errf(err, EX_PROTOCOL,
		    "reply code %.3s is outside 2xx-5xx", line);
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');

	if (len == 3) {
		last = 1;
		textlen = 0;
	} else if (line[3] == ' ' || line[3] == '-') {
		last = line[3] == ' ';
		textlen = len - 4;
	} else
		return rq_errf(err, EX_PROTOCOL,
		    "reply code %.3s is not followed by a space or a hyphen",
		    line);

	if (r->lines.n > 0 && code != r->code)
		return rq_errf(err, EX_PROTOCOL,
		    "multiline reply changes its code from %d to %d",
		    r->code, code);
	r->code = code;
	strlist_take(&r->lines, xstrndup(line + len - textlen, textlen));
	if (last)
		r->done = 1;
	return last;
}

char *
reply_oneline(const struct reply *r)
{
	struct buf b = { 0 };
	size_t cut;

	buf_addf(&b, "%03d", r->code);
	for (size_t i = 0; i < r->lines.n && b.len < 512; i++) {
		if (r->lines.v[i][0] == '\0')
			continue;
		buf_addch(&b, ' ');
		buf_addstr(&b, r->lines.v[i]);
	}
	for (size_t i = 0; i < b.len; i++) {
		unsigned char c = (unsigned char)b.data[i];

		if (rq_iscntrl(c))
			b.data[i] = '?';
	}
	if (b.len > 512) {
		/* Do not leave half a UTF-8 sequence at the end. */
		cut = 512;
		while (cut > 0 && ((unsigned char)b.data[cut] & 0xc0) == 0x80)
			cut--;
		b.len = cut;
		b.data[cut] = '\0';
	}
	return buf_steal(&b);
}

void
caps_init(struct caps *c)
{
	memset(c, 0, sizeof(*c));
}

void
caps_free(struct caps *c)
{
	strlist_free(&c->auth);
	caps_init(c);
}

/* Split s at spaces (and tabs) into words, at most max of them. */
static size_t
split_words(char *s, char **w, size_t max)
{
	size_t n = 0;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || n == max)
			return n;
		w[n++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t')
			s++;
		if (*s == '\0')
			return n;
		*s++ = '\0';
	}
}

/* Add a SASL mechanism name in upper case, if it is a valid name. */
static void
add_mech(struct caps *c, const char *m)
{
	char up[SASL_MECH_MAX + 1];
	size_t len = strlen(m);

	if (len == 0 || len > SASL_MECH_MAX)
		return;
	for (size_t i = 0; i < len; i++) {
		char ch = m[i];

		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		if (!((ch >= 'A' && ch <= 'Z') || is_digit(ch) || ch == '-' ||
		    ch == '_'))
			return;
		up[i] = ch;
	}
	up[len] = '\0';
	if (!strlist_contains(&c->auth, up))
		strlist_add(&c->auth, up);
}

static void
parse_size(struct caps *c, char **w, size_t n)
{
	long long v;

	c->size = 1;
	c->size_max = 0;
	/* RFC 1870: "SIZE" alone or "SIZE 0" means no fixed limit. */
	if (n >= 2 && parse_uint(w[1], 0, (long long)1 << 62, &v) == 0)
		c->size_max = v;
}

void
caps_parse(struct caps *c, const struct reply *r)
{
	static const struct {
		const char	*kw;
		size_t		 off;
	} flags[] = {
		{ "PIPELINING", offsetof(struct caps, pipelining) },
		{ "STARTTLS", offsetof(struct caps, starttls) },
		{ "8BITMIME", offsetof(struct caps, eightbitmime) },
		{ "SMTPUTF8", offsetof(struct caps, smtputf8) },
		{ "DSN", offsetof(struct caps, dsn) },
		{ "CHUNKING", offsetof(struct caps, chunking) },
		{ "ENHANCEDSTATUSCODES",
		    offsetof(struct caps, enhancedstatuscodes) },
	};
	char *w[64];

	caps_free(c);
	/* The first line is the server's name and greeting, not a keyword. */
	for (size_t i = 1; i < r->lines.n; i++) {
		char *copy = xstrdup(r->lines.v[i]);
		size_t n = split_words(copy, w, RQ_ARRAY_LEN(w));

		if (n == 0) {
			free(copy);
			continue;
		}
		for (size_t f = 0; f < RQ_ARRAY_LEN(flags); f++)
			if (rq_strcasecmp(w[0], flags[f].kw) == 0)
				*(int *)(void *)((char *)c + flags[f].off) = 1;
		if (rq_strcasecmp(w[0], "SIZE") == 0)
			parse_size(c, w, n);
		else if (rq_strcasecmp(w[0], "AUTH") == 0) {
			for (size_t k = 1; k < n; k++)
				add_mech(c, w[k]);
		} else if (rq_strncasecmp(w[0], "AUTH=", 5) == 0) {
			add_mech(c, w[0] + 5);
			for (size_t k = 1; k < n; k++)
				add_mech(c, w[k]);
		}
		free(copy);
	}
}
