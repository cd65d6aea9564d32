/*
 * relayq -- libFuzzer harness for mime.c.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Quoted-printable: the output must not depend on how the input is cut
 * into chunks, must decode back to the input, and must keep the line
 * rules (CRLF only, at most 76 octets, no trailing white space, no line
 * starting with '.').  Phrases: one line, words of at most 75 octets.
 * Base64: what decodes re-encodes to the same text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
qp_check(const uint8_t *data, size_t size)
{
	struct qp_enc q;
	struct buf once = { 0 }, cut = { 0 }, dec = { 0 };
	size_t i, off, n, col = 0;
	/* Chunk sizes come from the input, so the fuzzer explores them. */
	size_t step = size > 0 ? 1 + data[0] % 7 : 1;

	qp_init(&q);
	qp_feed(&q, data, size, &once);
	qp_finish(&q, &once);
	qp_init(&q);
	for (off = 0; off < size; off += n) {
		n = step + (off % 3);
		if (n > size - off)
			n = size - off;
		qp_feed(&q, data + off, n, &cut);
	}
	qp_finish(&q, &cut);
	if (once.len != cut.len || (once.len > 0 &&
	    memcmp(once.data, cut.data, once.len) != 0))
		abort();

	for (i = 0; i < once.len; i++) {
		char c = once.data[i];

		if (col == 0 && c == '.')
			abort();
		if (c == '\r') {
			if (i + 1 >= once.len || once.data[i + 1] != '\n')
				abort();
			if (i > 0 && (once.data[i - 1] == ' ' ||
			    once.data[i - 1] == '\t'))
				abort();
			buf_add(&dec, "\r\n", 2);
			i++;
			col = 0;
			continue;
		}
		if (c == '\n' || ++col > 76)
			abort();
		if (c == '=') {
			if (i + 2 < once.len && once.data[i + 1] == '\r' &&
			    once.data[i + 2] == '\n') {
				i += 2;
				col = 0;
				continue;
			}
			if (i + 2 >= once.len || hexval(once.data[i + 1]) < 0 ||
			    hexval(once.data[i + 2]) < 0)
				abort();
			buf_addch(&dec, (char)(hexval(once.data[i + 1]) * 16 +
			    hexval(once.data[i + 2])));
			i += 2;
			col += 2;
			continue;
		}
		buf_addch(&dec, c);
	}
	if (dec.len != size || (size > 0 && memcmp(dec.data, data, size) != 0))
		abort();
	buf_free(&once);
	buf_free(&cut);
	buf_free(&dec);
}

static void
phrase_check(const uint8_t *data, size_t size)
{
	struct buf out = { 0 };
	char *s = malloc(size + 1);
	const char *p, *sp;

	if (s == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	mime_encode_phrase(s, &out);
	if (out.data != NULL) {
		if (strpbrk(out.data, "\r\n") != NULL)
			abort();
		if (strncmp(out.data, "=?", 2) == 0)
			for (p = out.data; p != NULL; p = sp ? sp + 1 : NULL) {
				sp = strchr(p, ' ');
				if ((sp ? (size_t)(sp - p) : strlen(p)) > 75)
					abort();
			}
	}
	buf_free(&out);
	free(s);
}

static void
base64_check(const uint8_t *data, size_t size)
{
	struct buf dec = { 0 }, enc = { 0 };

	if (base64_decode((const char *)data, size, &dec) == 0) {
		/* Pad bits may differ, the length may not. */
		base64_encode(dec.data, dec.len, &enc);
		if (enc.len != size)
			abort();
	}
	buf_reset(&enc);
	base64_encode(data, size, &enc);
	buf_reset(&dec);
	if (base64_decode(enc.data ? enc.data : "", enc.len, &dec) != 0 ||
	    dec.len != size || (size > 0 && memcmp(dec.data, data, size) != 0))
		abort();
	buf_free(&dec);
	buf_free(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i, n;

	qp_check(data, size);
	phrase_check(data, size);
	base64_check(data, size);
	for (i = 0; i < size; i += n) {
		n = utf8_char_len(data + i, size - i);
		if (n > 4 || n > size - i)
			abort();
		if (n == 0)
			n = 1;
	}
	return 0;
}
