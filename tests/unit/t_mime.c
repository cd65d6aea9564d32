/*
 * relayq -- unit tests for mime.c: UTF-8 lengths, RFC 2047 phrases,
 * streaming quoted-printable, base64.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "tap.h"

/* A deterministic generator, so failures reproduce. */
static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;

static unsigned
rng(unsigned n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)((rng_state >> 33) % n);
}

/* ---- utf8_char_len ------------------------------------------------------- */

static void
test_utf8(void)
{
	static const struct {
		const char *s;
		size_t n, want;
	} cases[] = {
		{ "a", 1, 1 },
		{ "\0", 1, 1 },
		{ "", 0, 0 },
		{ "\xc3\xb6", 2, 2 },
		{ "\xc3\xb6", 1, 0 },		/* truncated */
		{ "\xc3(", 2, 0 },		/* bad continuation */
		{ "\xc0\xaf", 2, 0 },		/* overlong '/' */
		{ "\xc1\xbf", 2, 0 },		/* overlong */
		{ "\xe2\x82\xac", 3, 3 },	/* EURO SIGN */
		{ "\xe0\x80\xaf", 3, 0 },	/* overlong */
		{ "\xe0\xa0\x80", 3, 3 },	/* U+0800 */
		{ "\xed\x9f\xbf", 3, 3 },	/* U+D7FF */
		{ "\xed\xa0\x80", 3, 0 },	/* surrogate */
		{ "\xef\xbf\xbd", 3, 3 },	/* U+FFFD */
		{ "\xf0\x9f\x98\x80", 4, 4 },	/* emoji */
		{ "\xf0\x8f\xbf\xbf", 4, 0 },	/* overlong */
		{ "\xf4\x8f\xbf\xbf", 4, 4 },	/* U+10FFFF */
		{ "\xf4\x90\x80\x80", 4, 0 },	/* above U+10FFFF */
		{ "\xf5\x80\x80\x80", 4, 0 },
		{ "\xff", 1, 0 },
		{ "\x80", 1, 0 },
	};
	size_t i;

	for (i = 0; i < RQ_ARRAY_LEN(cases); i++)
		is_int(utf8_char_len(cases[i].s, cases[i].n), cases[i].want,
		    "utf8_char_len case %zu", i);
}

/* ---- RFC 2047 phrases ---------------------------------------------------- */

static const char jugemu[] = "寿限無寿限無五劫の擦り切れ海砂利水魚の水行末"
    "雲来末風来末食う寝る処に住む処やぶら小路の藪柑子";

static const struct {
	const char *in, *want;
} phrase_cases[] = {
	{ "John Doe", "John Doe" },
	{ "CronDaemon", "CronDaemon" },
	{ "root", "root" },
	{ "O'Brien", "O'Brien" },
	{ "", "" },
	{ "Doe, John", "\"Doe, John\"" },
	{ "J. Smith", "\"J. Smith\"" },
	{ "a\"b\\c", "\"a\\\"b\\\\c\"" },
	{ " lead", "\" lead\"" },
	{ "trail ", "\"trail \"" },
	{ "two  spaces", "\"two  spaces\"" },
	{ "Mail <x@y>", "\"Mail <x@y>\"" },
	{ "(comment)", "\"(comment)\"" },
	{ "=?UTF-8?B?Zm9v?=", "\"=?UTF-8?B?Zm9v?=\"" },
	{ "Foo\r\nBcc: x@y", "\"Foo  Bcc: x@y\"" },
	{ "Tab\there", "Tab here" },
	{ "J\xc3\xb6rg M\xc3\xbcller", "=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=" },
	{ "Andr\xc3\xa9 (ops)", "=?UTF-8?Q?Andr=C3=A9_=28ops=29?=" },
	{ "caf\xc3\xa9=_?", "=?UTF-8?Q?caf=C3=A9=3D=5F=3F?=" },
	{ "\xe5\xb1\xb1\xe7\x94\xb0\xe5\xa4\xaa\xe9\x83\x8e",
	    "=?UTF-8?B?5bGx55Sw5aSq6YOO?=" },
	{ "a\xff" "b", "=?UTF-8?Q?a=EF=BF=BDb?=" },
	{ "\xc3\xb6\r\n", "=?UTF-8?Q?=C3=B6__?=" },
	{ jugemu,
	    "=?UTF-8?B?5a+/6ZmQ54Sh5a+/6ZmQ54Sh5LqU5Yqr44Gu5pOm44KK5YiH44KM5rW356CC?= "
	    "=?UTF-8?B?5Yip5rC06a2a44Gu5rC06KGM5pyr6Zuy5p2l5pyr6aKo5p2l5pyr6aOf44GG?= "
	    "=?UTF-8?B?5a+d44KL5Yem44Gr5L2P44KA5Yem44KE44G244KJ5bCP6Lev44Gu6Jeq5p+R?= "
	    "=?UTF-8?B?5a2Q?=" },
};

/* Decode one encoded word of ours; returns 0, or -1 when malformed. */
static int
decode_word(const char *w, size_t len, struct buf *out)
{
	size_t i;

	if (len < 12 || strncmp(w, "=?UTF-8?", 8) != 0 ||
	    w[9] != '?' || w[len - 2] != '?' || w[len - 1] != '=')
		return -1;
	if (w[8] == 'B')
		return base64_decode(w + 10, len - 12, out);
	if (w[8] != 'Q')
		return -1;
	for (i = 10; i < len - 2; i++) {
		unsigned v;

		if (w[i] == '_')
			buf_addch(out, ' ');
		else if (w[i] == '=') {
			if (i + 2 >= len - 2 || sscanf(w + i + 1, "%2X", &v) != 1)
				return -1;
			buf_addch(out, (char)v);
			i += 2;
		} else if (strchr("!*+-/", w[i]) != NULL ||
		    (w[i] >= 'a' && w[i] <= 'z') ||
		    (w[i] >= 'A' && w[i] <= 'Z') ||
		    (w[i] >= '0' && w[i] <= '9'))
			buf_addch(out, w[i]);
		else
			return -1;
	}
	return 0;
}

static int
valid_utf8(const char *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		n = utf8_char_len(s + i, len - i);
		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}

/*
 * The properties of an encoded phrase: words of at most 75 octets, each
 * decoding on its own to whole UTF-8 characters, together the input.
 */
static void
check_words(const char *name, const char *label, int several)
{
	struct buf enc = { 0 }, all = { 0 }, one = { 0 };
	const char *p, *sp;
	int words = 0, bad_len = 0, bad_word = 0;

	mime_encode_phrase(name, &enc);
	for (p = enc.data; p != NULL && *p != '\0'; p = sp ? sp + 1 : NULL) {
		size_t len;

		sp = strchr(p, ' ');
		len = sp ? (size_t)(sp - p) : strlen(p);
		words++;
		if (len > 75)
			bad_len++;
		buf_reset(&one);
		if (decode_word(p, len, &one) != 0 ||
		    !valid_utf8(one.data ? one.data : "", one.len))
			bad_word++;
		buf_add(&all, one.data ? one.data : "", one.len);
	}
	if (several)
		ok(words > 1, "%s: several encoded words (%d)", label, words);
	is_int(bad_len, 0, "%s: every word at most 75 octets", label);
	is_int(bad_word, 0, "%s: every word whole UTF-8 characters", label);
	is_mem(all.data, all.len, name, strlen(name), "%s: decodes back",
	    label);
	ok(strchr(enc.data, '\r') == NULL && strchr(enc.data, '\n') == NULL,
	    "%s: one line", label);
	buf_free(&enc);
	buf_free(&all);
	buf_free(&one);
}

static void
test_phrase(void)
{
	struct buf b = { 0 };
	size_t i;
	int k;

	for (i = 0; i < RQ_ARRAY_LEN(phrase_cases); i++) {
		buf_reset(&b);
		buf_addstr(&b, "");
		mime_encode_phrase(phrase_cases[i].in, &b);
		is_str(b.data, phrase_cases[i].want, "phrase case %zu", i);
	}
	buf_free(&b);

	check_words(jugemu, "long Japanese name", 1);
	check_words("J\xc3\xb6rg M\xc3\xbcller-L\xc3\xbc" "denscheidt von "
	    "W\xc3\xbcrttemberg-Hohenzollern und \xc3\x96sterreich-Ungarn",
	    "long German name", 1);
	check_words("\xf0\x9f\x98\x80\xf0\x9f\x98\x81\xf0\x9f\x98\x82"
	    "\xf0\x9f\x98\x83\xf0\x9f\x98\x84\xf0\x9f\x98\x85\xf0\x9f\x98\x86"
	    "\xf0\x9f\x98\x87\xf0\x9f\x98\x88\xf0\x9f\x98\x89\xf0\x9f\x98\x8a"
	    "\xf0\x9f\x98\x8b\xf0\x9f\x98\x8c", "four-octet characters", 1);
	/* Random mixes of 1- to 4-octet characters. */
	for (k = 0; k < 50; k++) {
		static const char *const chars[] = { "a", " ", "=", "_", "?",
		    "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\"" };
		struct buf n = { 0 };
		char label[32];

		for (i = 0; i < 30 + (size_t)rng(60); i++)
			buf_addstr(&n, chars[rng(RQ_ARRAY_LEN(chars))]);
		buf_addstr(&n, "\xc3\xa9");
		snprintf(label, sizeof(label), "random name %d", k);
		check_words(n.data, label, 0);
		buf_free(&n);
	}
}

/* ---- quoted-printable ---------------------------------------------------- */

static void
qp_all(const void *in, size_t len, size_t chunk, struct buf *out)
{
	struct qp_enc q;
	size_t off = 0, n;

	qp_init(&q);
	buf_reset(out);
	buf_addstr(out, "");
	while (off < len) {
		n = chunk == 0 ? len - off : chunk;
		if (n > len - off)
			n = len - off;
		qp_feed(&q, (const char *)in + off, n, out);
		off += n;
	}
	qp_finish(&q, out);
}

/* Test-only decoder: "=\r\n" vanishes, "=HH" is an octet, rest literal. */
static int
qp_decode(const char *s, size_t len, struct buf *out)
{
	size_t i;
	unsigned v;
	char hex[3];

	for (i = 0; i < len; i++) {
		if (s[i] != '=') {
			buf_addch(out, s[i]);
			continue;
		}
		if (i + 2 < len && s[i + 1] == '\r' && s[i + 2] == '\n') {
			i += 2;
			continue;
		}
		if (i + 2 >= len)
			return -1;
		hex[0] = s[i + 1];
		hex[1] = s[i + 2];
		hex[2] = '\0';
		if (strspn(hex, "0123456789ABCDEF") != 2 ||
		    sscanf(hex, "%2X", &v) != 1)
			return -1;
		buf_addch(out, (char)v);
		i += 2;
	}
	return 0;
}

/* The shape rules of our output; returns NULL or what is wrong. */
static const char *
qp_shape(const char *s, size_t len)
{
	size_t i, col = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (col == 0 && (c == '.' || (len - i >= 5 &&
		    memcmp(s + i, "From ", 5) == 0)))
			return "line starts with '.' or \"From \"";
		if (c == '\r') {
			if (i + 1 >= len || s[i + 1] != '\n')
				return "bare CR";
			if (i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t'))
				return "trailing white space";
			i++;
			col = 0;
			continue;
		}
		if (c == '\n')
			return "bare LF";
		if ((c < 0x20 && c != '\t') || c >= 0x7f)
			return "unencoded octet";
		if (++col > 76)
			return "line longer than 76";
	}
	if (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		return "trailing white space at the end";
	return NULL;
}

struct qp_case {
	const char *in;
	size_t len;		/* 0: strlen */
	const char *want;
};

static const struct qp_case qp_cases[] = {
	{ "hello\r\n", 0, "hello\r\n" },
	{ "", 0, "" },
	{ "a=b", 0, "a=3Db" },
	{ "trailing \r\n", 0, "trailing=20\r\n" },
	{ "tab\t\r\n", 0, "tab=09\r\n" },
	{ "two  \r\nx", 0, "two =20\r\nx" },
	{ "end ", 0, "end=20" },
	{ "end\t", 0, "end=09" },
	{ "in the middle", 0, "in the middle" },
	{ "a\tb", 0, "a\tb" },
	{ ".dot\r\n..\r\n", 0, "=2Edot\r\n=2E.\r\n" },
	{ "a.\r\n.", 0, "a.\r\n=2E" },
	{ "From me\r\n", 0, "=46rom me\r\n" },
	{ "x\r\nFrom y", 0, "x\r\n=46rom y" },
	{ "x From y", 0, "x From y" },
	{ "bare\nlf", 0, "bare=0Alf" },
	{ "bare\rcr", 0, "bare=0Dcr" },
	{ "cr at end\r", 0, "cr at end=0D" },
	{ "sp cr \rx", 0, "sp cr =0Dx" },
	{ "sp cr \r", 0, "sp cr =0D" },
	{ "\r\r\n", 0, "=0D\r\n" },
	{ "\r\n\r\n", 0, "\r\n\r\n" },
	{ "caf\xc3\xa9", 0, "caf=C3=A9" },
	{ "nul\0byte", 8, "nul=00byte" },
	{ "del\x7f", 0, "del=7F" },
	{ "esc\x1b[0m", 0, "esc=1B[0m" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaa", 0,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaa=\r\naaaaa" },
	/* 74 octets, then "=" must go to the next line whole. */
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaa=", 0,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaa=\r\n=3D" },
	/* A '.' that lands at the start of a line after a soft break. */
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaa.", 0,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaa=\r\n=2E" },
};

static void
test_qp_table(void)
{
	struct buf out = { 0 }, dec = { 0 };
	size_t i, len;

	for (i = 0; i < RQ_ARRAY_LEN(qp_cases); i++) {
		const struct qp_case *c = &qp_cases[i];

		len = c->len ? c->len : strlen(c->in);
		qp_all(c->in, len, 0, &out);
		is_mem(out.data, out.len, c->want, strlen(c->want),
		    "qp case %zu", i);
		qp_all(c->in, len, 1, &out);
		is_mem(out.data, out.len, c->want, strlen(c->want),
		    "qp case %zu in 1-octet chunks", i);
		buf_reset(&dec);
		buf_addstr(&dec, "");
		ok(qp_decode(out.data, out.len, &dec) == 0 &&
		    dec.len == len && memcmp(dec.data, c->in, len) == 0,
		    "qp case %zu decodes back", i);
	}
	buf_free(&out);
	buf_free(&dec);
}

/*
 * Random inputs rich in the octets that matter (white space, CR, LF, '=',
 * '.', "From ", NUL, 8-bit) with long and short lines: the output must not
 * depend on how the input is cut, must decode back, and must keep the
 * shape rules.
 */
static void
test_qp_random(void)
{
	static const char *const pieces[] = { "a", "b", " ", "\t", "\r\n",
	    "\r", "\n", "=", ".", "From ", "F", "\0", "\xff", "\xc3\xa9",
	    "xyzzy", "  ", "\r\n.\r\n", "\r\nFrom x" };
	static const size_t plen[] = { 1, 1, 1, 1, 2, 1, 1, 1, 1, 5, 1, 1, 1,
	    2, 5, 2, 5, 8 };
	struct buf in = { 0 }, once = { 0 }, split = { 0 }, dec = { 0 };
	int k, same1 = 0, samer = 0, round = 0, shape = 0;
	const char *why, *first_why = NULL;
	size_t i, n, off;

	for (k = 0; k < 400; k++) {
		struct qp_enc q;

		buf_reset(&in);
		n = 1 + rng(k < 200 ? 50 : 1500);
		for (i = 0; i < n; i++) {
			size_t p = rng(RQ_ARRAY_LEN(pieces));

			/* Long runs of 'a' make lines that must wrap. */
			if (rng(10) == 0) {
				size_t r = rng(200);

				while (r-- > 0)
					buf_addch(&in, 'a');
			}
			buf_add(&in, pieces[p], plen[p]);
		}
		qp_all(in.data, in.len, 0, &once);
		qp_all(in.data, in.len, 1, &split);
		if (once.len == split.len &&
		    memcmp(once.data, split.data, once.len) == 0)
			same1++;
		/* Random cuts. */
		qp_init(&q);
		buf_reset(&split);
		for (off = 0; off < in.len; off += n) {
			n = 1 + rng(40);
			if (n > in.len - off)
				n = in.len - off;
			qp_feed(&q, in.data + off, n, &split);
		}
		qp_finish(&q, &split);
		if (once.len == split.len &&
		    memcmp(once.data, split.data, once.len) == 0)
			samer++;
		buf_reset(&dec);
		if (qp_decode(once.data, once.len, &dec) == 0 &&
		    dec.len == in.len && memcmp(dec.data, in.data, in.len) == 0)
			round++;
		why = qp_shape(once.data, once.len);
		if (why == NULL)
			shape++;
		else if (first_why == NULL)
			first_why = why;
	}
	is_int(same1, 400, "1-octet chunks give the same output (400 inputs)");
	is_int(samer, 400, "random chunks give the same output (400 inputs)");
	is_int(round, 400, "output decodes to the input (400 inputs)");
	if (!is_int(shape, 400, "output keeps the line rules (400 inputs)"))
		diag("first problem: %s", first_why);
	buf_free(&in);
	buf_free(&once);
	buf_free(&split);
	buf_free(&dec);
}

/* A long line with no spaces, the case the encoder exists for. */
static void
test_qp_long_line(void)
{
	struct buf in = { 0 }, out = { 0 }, dec = { 0 };
	size_t i;

	for (i = 0; i < 5000; i++)
		buf_addch(&in, (char)('a' + i % 26));
	buf_addstr(&in, "\r\n");
	qp_all(in.data, in.len, 7, &out);
	ok(qp_shape(out.data, out.len) == NULL, "5000-octet line wrapped");
	ok(out.len >= 2 && memcmp(out.data + out.len - 2, "\r\n", 2) == 0,
	    "hard line end kept");
	qp_decode(out.data, out.len, &dec);
	is_mem(dec.data, dec.len, in.data, in.len, "long line decodes back");
	buf_free(&in);
	buf_free(&out);
	buf_free(&dec);
}

/* ---- base64 -------------------------------------------------------------- */

static void
test_base64(void)
{
	/* RFC 4648 section 10. */
	static const struct {
		const char *raw, *enc;
	} vec[] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	static const char *const bad[] = {
		"Zg=", "Zg", "Z", "Z===", "====", "Zm9v!", "Zm=v", "Zm9vYg==Zm9v",
		" Zg==", "Zg==\r\n", "Zm9v\n", "Zg=a", "Zm9-", "Zm9_",
	};
	struct buf b = { 0 };
	unsigned char all[256];
	size_t i;

	for (i = 0; i < RQ_ARRAY_LEN(vec); i++) {
		buf_reset(&b);
		buf_addstr(&b, "");
		base64_encode(vec[i].raw, strlen(vec[i].raw), &b);
		is_str(b.data, vec[i].enc, "base64(\"%s\")", vec[i].raw);
		buf_reset(&b);
		is_int(base64_decode(vec[i].enc, strlen(vec[i].enc), &b), 0,
		    "decode \"%s\"", vec[i].enc);
		is_mem(b.data, b.len, vec[i].raw, strlen(vec[i].raw),
		    "decode \"%s\" gives \"%s\"", vec[i].enc, vec[i].raw);
	}
	for (i = 0; i < RQ_ARRAY_LEN(bad); i++) {
		buf_reset(&b);
		buf_addstr(&b, "kept");
		is_int(base64_decode(bad[i], strlen(bad[i]), &b), -1,
		    "malformed base64 case %zu refused", i);
		is_str(b.data, "kept", "output untouched on error %zu", i);
	}
	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)i;
	for (i = 0; i <= sizeof(all); i += 37) {
		struct buf e = { 0 };

		buf_reset(&b);
		base64_encode(all, sizeof(all) - i, &e);
		ok(base64_decode(e.data, e.len, &b) == 0 &&
		    b.len == sizeof(all) - i &&
		    memcmp(b.data, all, b.len) == 0,
		    "binary round trip of %zu octets", sizeof(all) - i);
		buf_free(&e);
	}
	buf_free(&b);
}

int
main(void)
{
	test_utf8();
	test_phrase();
	test_qp_table();
	test_qp_random();
	test_qp_long_line();
	test_base64();
	return done_testing();
}
