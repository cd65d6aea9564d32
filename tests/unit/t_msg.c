/*
 * relayq -- unit tests for msg.c: canonicalisation, dot lines, the header
 * section, -t, added fields, quoted-printable re-encoding, spooling.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "mime.h"
#include "msg.h"
#include "queue.h"
#include "tap.h"

/*
 * The streaming bound.  Under AddressSanitizer (tests/t/96-sanitizers.t)
 * shadow memory and the quarantine of freed blocks count in the RSS, so
 * the same code measures several MiB more: there the bound only catches
 * growth with the message size (48 MB here), which it still would.
 */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_LIMIT_KIB	(24 * 1024)
#else
#define RSS_LIMIT_KIB	(8 * 1024)
#endif

#define SENDER	"me@example.org"
#define NOW	((time_t)1795888416)

/* What one message run produced. */
struct run {
	int		 rc;
	struct buf	 out;
	struct envelope	 env;
	struct rq_err	 err;
	struct strlist	 rcpts;
	char		*hfrom;
	struct buf	 rest;		/* what the input still held */
};

static int
fd_with(const void *p, size_t n)
{
	int fd = memfd_create("t_msg", MFD_CLOEXEC);

	if (fd < 0 || write_all(fd, p, n) != 0 ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		perror("memfd");
		exit(1);
	}
	return fd;
}

static void
read_back(int fd, struct buf *out)
{
	char tmp[65536];
	ssize_t n;

	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_add(out, tmp, (size_t)n);
}

/* Options with nothing added or removed: the canonical text only. */
static struct msg_opts
plain_opts(void)
{
	struct msg_opts o;

	memset(&o, 0, sizeof(o));
	o.sender = SENDER;
	o.set_from_header = HDR_OFF;
	o.set_date_header = HDR_OFF;
	o.set_msgid_header = HDR_OFF;
	o.msgid_domain = "host.example.org";
	o.now = NOW;
	return o;
}

static void
run_free(struct run *r)
{
	buf_free(&r->out);
	buf_free(&r->rest);
	envelope_free(&r->env);
	strlist_free(&r->rcpts);
	free(r->hfrom);
}

static void
run(const void *in, size_t inlen, const struct msg_opts *o, size_t max_read,
    struct run *r)
{
	struct input input;
	struct msg *m = NULL;
	size_t i;
	int ifd, ofd;

	memset(r, 0, sizeof(*r));
	buf_add(&r->out, "", 0);	/* never NULL for is_mem */
	buf_add(&r->rest, "", 0);
	r->env.sender = xstrdup(o->sender);
	ifd = fd_with(in, inlen);
	input_init(&input, ifd);
	input.max_read = max_read;
	r->rc = msg_read_headers(&input, o, &m, &r->err);
	if (r->rc == 0) {
		for (i = 0; i < msg_header_rcpts(m)->n; i++)
			strlist_add(&r->rcpts, msg_header_rcpts(m)->v[i]);
		if (msg_header_from(m) != NULL)
			r->hfrom = xstrdup(msg_header_from(m));
		ofd = memfd_create("t_msg_out", MFD_CLOEXEC);
		r->rc = msg_write_fd(m, ofd, &r->env, &r->err);
		read_back(ofd, &r->out);
		close(ofd);
		msg_free(m);
	}
	while (input_getline(&input, &r->rest, 4096) > 0)
		continue;
	input_free(&input);
	close(ifd);
}

static void
run_str(const char *in, const struct msg_opts *o, struct run *r)
{
	run(in, strlen(in), o, 0, r);
}

/* Where the body starts (after the first empty line), or NULL. */
static const char *
body_of(const struct buf *b)
{
	const char *p;

	if (b->len >= 2 && memcmp(b->data, "\r\n", 2) == 0)
		return b->data + 2;
	p = memmem(b->data, b->len, "\r\n\r\n", 4);
	return p != NULL ? p + 4 : NULL;
}

/* The header section (up to and including its last CRLF). */
static char *
head_of(const struct buf *b)
{
	const char *body = body_of(b);

	if (body == NULL)
		return xstrndup(b->data, b->len);
	return xstrndup(b->data, (size_t)(body - b->data) - 2);
}

/* The unfolded value of the first field called name, or NULL. */
static char *
header_value(const struct buf *b, const char *name)
{
	char *head = head_of(b), *p, *res = NULL;
	size_t n = strlen(name);
	struct buf v;

	buf_init(&v);
	for (p = head; *p != '\0'; p = strstr(p, "\r\n") + 2) {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			for (;;) {
				char *e = strstr(p, "\r\n");

				buf_add(&v, p, (size_t)(e - p));
				p = e + 2;
				if (*p != ' ' && *p != '\t')
					break;
			}
			res = buf_steal(&v);
			break;
		}
	}
	buf_free(&v);
	free(head);
	return res;
}

static int
count_fields(const struct buf *b, const char *name)
{
	char *head = head_of(b), *p;
	size_t n = strlen(name);
	int c = 0;

	for (p = head; *p != '\0'; p = strstr(p, "\r\n") + 2)
		if (strncasecmp(p, name, n) == 0 && p[n] == ':')
			c++;
	free(head);
	return c;
}

/* RFC 2045 6.7 decoding, for checking what the encoder produced. */
static int
qp_decode(const char *p, size_t n, struct buf *out)
{
	size_t i;
	unsigned int x;
	char hex[3] = { 0 };

	for (i = 0; i < n; i++) {
		if (p[i] != '=') {
			buf_addch(out, p[i]);
			continue;
		}
		if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n') {
			i += 2;
			continue;
		}
		if (i + 2 >= n)
			return -1;
		hex[0] = p[i + 1];
		hex[1] = p[i + 2];
		if (sscanf(hex, "%2X", &x) != 1)
			return -1;
		buf_addch(out, (char)x);
		i += 2;
	}
	return 0;
}

/* Base64 body with line breaks, for checking what the encoder produced. */
static int
b64_decode_lines(const char *p, size_t n, struct buf *out)
{
	struct buf clean;
	size_t i;
	int rc;

	buf_init(&clean);
	buf_add(&clean, "", 0);
	for (i = 0; i < n; i++)
		if (p[i] != '\r' && p[i] != '\n')
			buf_addch(&clean, p[i]);
	rc = base64_decode(clean.data, clean.len, out);
	buf_free(&clean);
	return rc;
}

/* fmt with its one "%s" replaced by arg (formats in tables). */
static void
add_subst(struct buf *b, const char *fmt, const char *arg)
{
	const char *p = strstr(fmt, "%s");

	if (p == NULL) {
		buf_addstr(b, fmt);
		return;
	}
	buf_add(b, fmt, (size_t)(p - fmt));
	buf_addstr(b, arg);
	buf_addstr(b, p + 2);
}

static char *
join(const struct strlist *l)
{
	struct buf b;
	size_t i;

	buf_init(&b);
	for (i = 0; i < l->n; i++)
		buf_addf(&b, "%s%s", i ? "," : "", l->v[i]);
	return buf_steal(&b);
}

/* ---- canonicalisation ---------------------------------------------------- */

static void
test_canonical(void)
{
	/* A leading empty line: no header section, the rest is body. */
	static const struct {
		const char *in;
		size_t inlen;
		const char *want;
		size_t wantlen;
	} cases[] = {
#define C(i, w) { i, sizeof(i) - 1, w, sizeof(w) - 1 }
		C("", ""),
		C("\n", "\r\n"),
		C("\r\n", "\r\n"),
		C("\r", "\r\n"),
		C("\nabc", "\r\nabc\r\n"),
		C("\nabc\n", "\r\nabc\r\n"),
		C("\nabc\r\n", "\r\nabc\r\n"),
		C("\nabc\r", "\r\nabc\r\n"),
		C("\na\nb\n", "\r\na\r\nb\r\n"),
		C("\na\rb\r", "\r\na\r\nb\r\n"),
		C("\na\r\rb", "\r\na\r\n\r\nb\r\n"),
		C("\na\n\rb", "\r\na\r\n\r\nb\r\n"),
		C("\na\r\n\nb", "\r\na\r\n\r\nb\r\n"),
		C("\na\n\n\n", "\r\na\r\n\r\n\r\n"),
		C("\n\r\n\r\n", "\r\n\r\n\r\n"),
		C("\r\n\r\r", "\r\n\r\n\r\n"),
		C("\n..x\n.\n", "\r\n..x\r\n.\r\n"),
#undef C
	};
	struct msg_opts o = plain_opts();
	struct run r;
	size_t i, rd;

	for (i = 0; i < RQ_ARRAY_LEN(cases); i++) {
		for (rd = 0; rd <= 2; rd++) {
			run(cases[i].in, cases[i].inlen, &o, rd, &r);
			is_int(r.rc, 0, "canonical %zu (reads of %zu): ok",
			    i, rd);
			is_mem(r.out.data, r.out.len, cases[i].want,
			    cases[i].wantlen, "canonical %zu (reads of %zu)",
			    i, rd);
			is_int(r.env.size, (long long)cases[i].wantlen,
			    "canonical %zu: env size", i);
			run_free(&r);
		}
	}
}

/*
 * The SMTP smuggling sequences (research 2.C, hannob/smtpsmug) inside a
 * body, with -i and without, and as an SMTP DATA stream.
 */
static void
test_smuggling(void)
{
	static const struct {
		const char	*seq;
		size_t		 len;
		int		 ends;	/* without -i, is it the end? */
	} seqs[] = {
#define S(s, e) { s, sizeof(s) - 1, e }
		S("\n.\n", 1),
		S("\r.\r", 0),
		S("\r.\n", 0),
		S("\n.\r", 0),
		S("\n.\r\n", 1),
		S("\r\n.\n", 1),
		S("\r.\r\n", 0),
		S("\r\n.\r", 0),
		S("\r\n\0.\r\n", 0),
#undef S
	};
	static const char tail[] = "MAIL FROM:<evil@example.org>\r\n";
	static const char nulbody[] = "hello\r\n\0.\r\nMAIL FROM:<evil@"
	    "example.org>\r\n";
	struct msg_opts o = plain_opts();
	struct run r;
	struct buf in, dec;
	const char *body;
	size_t i;
	int mode;

	buf_init(&in);
	buf_init(&dec);
	for (i = 0; i < RQ_ARRAY_LEN(seqs); i++) {
		for (mode = 0; mode < 3; mode++) {
			o.dot_ends = mode >= 1;
			o.unstuff = mode == 2;
			buf_reset(&in);
			buf_addstr(&in, "Subject: s\n\nhello");
			buf_add(&in, seqs[i].seq, seqs[i].len);
			buf_addstr(&in, tail);
			if (mode == 2)
				buf_addstr(&in, ".\r\nQUIT\r\n");
			run(in.data, in.len, &o, 1, &r);
			is_int(r.rc, 0, "smuggling %zu mode %d: accepted", i,
			    mode);
			ok(crlf_canonical(r.out.data, r.out.len),
			    "smuggling %zu mode %d: no bare CR or LF out", i,
			    mode);
			body = body_of(&r.out);
			if (mode == 1 && seqs[i].ends) {
				is_str(body, "hello\r\n", "smuggling %zu: "
				    "ends the message without -i", i);
				is_mem(r.rest.data, r.rest.len, tail,
				    sizeof(tail) - 1, "smuggling %zu: the "
				    "rest stays in the input", i);
			} else if (i == 8) {
				/* The NUL forces base64. */
				buf_reset(&dec);
				ok(body != NULL && b64_decode_lines(body, r.out.len -
				    (size_t)(body - r.out.data), &dec) == 0,
				    "smuggling NUL mode %d: decodes", mode);
				is_mem(dec.data, dec.len, nulbody,
				    sizeof(nulbody) - 1, "smuggling NUL mode "
				    "%d: round trip", mode);
			} else if (mode != 1 || !seqs[i].ends) {
				/* Every line end is CRLF, the dot is data. */
				is_str(body, "hello\r\n.\r\nMAIL FROM:<evil@"
				    "example.org>\r\n", "smuggling %zu mode "
				    "%d: dot kept as a line", i, mode);
			}
			if (mode == 2)
				is_str(r.rest.data, "QUIT\r\n", "smuggling "
				    "%zu: after DATA comes the next command",
				    i);
			run_free(&r);
		}
	}
	buf_free(&in);
	buf_free(&dec);
}

/*
 * Random bytes, read in random chunk sizes: no bare CR or LF comes out,
 * the result does not depend on where reads end, and without CR the
 * output is the input with LF turned into CRLF.
 */
static void
test_property(void)
{
	static const char alphabet[] = "\r\n\r\n..a b\0\x80\xff";
	struct msg_opts o = plain_opts();
	struct buf in, want;
	struct run r, r1;
	unsigned seed = 20261128;
	int i, bad_canon = 0, bad_chunk = 0, bad_lf = 0, bad_rc = 0, nlf = 0;
	size_t n, j, rd;

	buf_init(&in);
	buf_init(&want);
	for (i = 0; i < 4000; i++) {
		int no_cr = i % 4 == 0;

		buf_reset(&in);
		buf_addch(&in, '\n');
		n = (size_t)(rand_r(&seed) % 200);
		for (j = 0; j < n; j++) {
			char c = alphabet[rand_r(&seed) %
			    (sizeof(alphabet) - 1)];

			if (no_cr && (c == '\r' || c == '\0'))
				c = 'x';
			buf_addch(&in, c);
		}
		o.dot_ends = i % 3 == 1;
		o.unstuff = 0;
		rd = 1 + (size_t)(rand_r(&seed) % 17);
		run(in.data, in.len, &o, 0, &r1);
		run(in.data, in.len, &o, rd, &r);
		if (r.rc != 0 || r1.rc != 0)
			bad_rc++;
		if (!crlf_canonical(r.out.data, r.out.len) ||
		    longest_line(r.out.data, r.out.len) > MSG_LINE_MAX)
			bad_canon++;
		if (r.out.len != r1.out.len ||
		    memcmp(r.out.data, r1.out.data, r.out.len) != 0)
			bad_chunk++;
		if (no_cr && !o.dot_ends) {
			nlf++;
			buf_reset(&want);
			for (j = 0; j < in.len; j++) {
				if (in.data[j] == '\n')
					buf_addch(&want, '\r');
				buf_addch(&want, in.data[j]);
			}
			if (in.data[in.len - 1] != '\n')
				buf_add(&want, "\r\n", 2);
			if (want.len != r.out.len ||
			    memcmp(want.data, r.out.data, want.len) != 0)
				bad_lf++;
		}
		run_free(&r);
		run_free(&r1);
	}
	is_int(bad_rc, 0, "property: every random input accepted");
	is_int(bad_canon, 0, "property: no bare CR/LF, no long line out");
	is_int(bad_chunk, 0, "property: read boundaries do not matter");
	ok(nlf > 500, "property: %d inputs without CR checked", nlf);
	is_int(bad_lf, 0, "property: without CR, output is LF -> CRLF");
	buf_free(&in);
	buf_free(&want);
}

/* ---- dot lines ----------------------------------------------------------- */

static void
test_dots(void)
{
	static const struct {
		int		 dot_ends, unstuff;
		const char	*in;
		int		 rc;
		const char	*want;
		const char	*rest;
	} cases[] = {
		{ 0, 0, "\na\n.\nb\n", 0, "\r\na\r\n.\r\nb\r\n", "" },
		{ 1, 0, "\na\n.\nb\n", 0, "\r\na\r\n", "b\n" },
		{ 1, 0, "\na\r\n.\r\nb\r\n", 0, "\r\na\r\n", "b\r\n" },
		{ 1, 0, "\na\n.", 0, "\r\na\r\n", "" },
		{ 1, 0, "\na\n..\n", 0, "\r\na\r\n..\r\n", "" },
		{ 1, 0, "\n..a\n", 0, "\r\n..a\r\n", "" },
		{ 1, 0, "\na\n. \nb", 0, "\r\na\r\n. \r\nb\r\n", "" },
		{ 1, 0, ".\n", 0, "", "" },
		{ 1, 0, "Subject: x\n.\nrest", 0, "Subject: x\r\n\r\n",
		    "rest" },
		{ 0, 1, "\na\r\n..b\r\n..\r\n.\r\nNOOP\r\n", 0,
		    "\r\na\r\n.b\r\n.\r\n", "NOOP\r\n" },
		{ 0, 1, "\na\n.\nQUIT\r\n.\r\n", 0,
		    "\r\na\r\n.\r\nQUIT\r\n", "" },
		{ 0, 1, "\r\na\n..b\r\n\r\n.\r\nQUIT\n", 0,
		    "\r\na\r\n..b\r\n\r\n", "QUIT\n" },
		{ 0, 1, "\na\r\n.", EX_DATAERR, NULL, "" },
		{ 0, 1, "\na\r\n", EX_DATAERR, NULL, "" },
		{ 0, 1, "", EX_DATAERR, NULL, "" },
		{ 0, 1, ".\r\n", 0, "", "" },
		{ 0, 1, "Subject: a\r\n..b: c\r\n\r\n.\r\n", 0,
		    "Subject: a\r\n.b: c\r\n\r\n", "" },
	};
	struct msg_opts o = plain_opts();
	struct run r;
	size_t i;

	for (i = 0; i < RQ_ARRAY_LEN(cases); i++) {
		o.dot_ends = cases[i].dot_ends;
		o.unstuff = cases[i].unstuff;
		run(cases[i].in, strlen(cases[i].in), &o, 2, &r);
		is_int(r.rc, cases[i].rc, "dots %zu: status", i);
		if (cases[i].want != NULL)
			is_mem(r.out.data, r.out.len, cases[i].want,
			    strlen(cases[i].want), "dots %zu: content", i);
		is_str(r.rest.len ? r.rest.data : "", cases[i].rest,
		    "dots %zu: left in the input", i);
		run_free(&r);
	}
}

/* A refused message in an SMTP DATA stream must not leave its body. */
static void
test_data_drain(void)
{
	/* NUL in a header */
	static const char nulhead[] = "Subject: a\0b\r\nX: y\r\n\r\n"
	    "body\r\n.\r\nQUIT\r\n";
	static const char *ins[] = {
		nulhead,
		/* long line in a multipart message */
		"Content-Type: multipart/mixed; boundary=x\r\n\r\n%s\r\n"
		    "MAIL FROM:<a@b>\r\n.\r\nQUIT\r\n",
	};
	struct msg_opts o = plain_opts();
	struct buf in;
	struct run r;
	char *longline = xmalloc(2001);
	size_t i;

	memset(longline, 'x', 2000);
	longline[2000] = '\0';
	o.unstuff = 1;
	buf_init(&in);
	for (i = 0; i < RQ_ARRAY_LEN(ins); i++) {
		buf_reset(&in);
		if (i == 0)
			buf_add(&in, nulhead, sizeof(nulhead) - 1);
		else
			add_subst(&in, ins[i], longline);
		run(in.data, in.len, &o, 0, &r);
		is_int(r.rc, EX_DATAERR, "drain %zu: refused", i);
		is_str(r.rest.data, "QUIT\r\n", "drain %zu: the rest of DATA "
		    "was read and dropped", i);
		run_free(&r);
	}
	buf_free(&in);
	free(longline);
}

/* ---- the header section -------------------------------------------------- */

static void
test_header_section(void)
{
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
		/* A first line that is no header: all is body. */
		{ "Hello world\nSubject: x\n",
		    "\r\nHello world\r\nSubject: x\r\n" },
		/* A non-header line ends the headers and starts the body. */
		{ "Subject: s\nthis is body\n",
		    "Subject: s\r\n\r\nthis is body\r\n" },
		{ "Subject: s\n folded\n\tmore\nX-A: 1\n\nb\n",
		    "Subject: s\r\n folded\r\n\tmore\r\nX-A: 1\r\n\r\nb\r\n" },
		{ "Subject: s", "Subject: s\r\n\r\n" },
		{ "Subject : obsolete\n\nb", "Subject : obsolete\r\n\r\nb\r\n" },
		/* An mbox separator is dropped. */
		{ "From me@x Sat Nov 28 17:00:00 2026\nSubject: s\n\nb\n",
		    "Subject: s\r\n\r\nb\r\n" },
		/* A continuation line with nothing to continue: body. */
		{ " indented\nSubject: s\n", "\r\n indented\r\nSubject: s\r\n" },
		{ "\nSubject: s\n", "\r\nSubject: s\r\n" },
		{ "Subject: caf\xc3\xa9\n\nb", "Subject: caf\xc3\xa9\r\n\r\nb\r\n" },
	};
	struct msg_opts o = plain_opts();
	struct run r;
	size_t i;

	for (i = 0; i < RQ_ARRAY_LEN(cases); i++) {
		run_str(cases[i].in, &o, &r);
		is_int(r.rc, 0, "headers %zu: ok", i);
		is_str(r.out.data, cases[i].want, "headers %zu", i);
		run_free(&r);
	}
	run("Subject: a\0b\n\nx", 16, &o, 0, &r);
	is_int(r.rc, EX_DATAERR, "NUL in a header is refused");
	ok(strstr(r.err.msg, "NUL") != NULL, "... saying so: %s", r.err.msg);
	run_free(&r);
}

static void
test_huge_header(void)
{
	struct msg_opts o = plain_opts();
	struct buf in;
	struct run r;
	int i;

	buf_init(&in);
	for (i = 0; i < 20000; i++)
		buf_addf(&in, "X-Filler-%d: %060d\n", i, i);
	buf_addstr(&in, "\nbody\n");
	run(in.data, in.len, &o, 0, &r);
	is_int(r.rc, EX_DATAERR, "a header section over 1 MiB is refused");
	run_free(&r);
	buf_reset(&in);
	for (i = 0; i < MSG_FIELDS_MAX + 1; i++)
		buf_addstr(&in, "a:\n");
	run(in.data, in.len, &o, 0, &r);
	is_int(r.rc, EX_DATAERR, "more than %d fields are refused",
	    MSG_FIELDS_MAX);
	run_free(&r);
	buf_reset(&in);
	for (i = 0; i < MSG_FIELDS_MAX; i++)
		buf_addstr(&in, "a:\n");
	run(in.data, in.len, &o, 0, &r);
	is_int(r.rc, 0, "%d fields are fine", MSG_FIELDS_MAX);
	run_free(&r);
	buf_free(&in);
}

static void
test_long_header(void)
{
	struct msg_opts o = plain_opts();
	struct buf in, subj;
	struct run r;
	char *v;
	int i;

	buf_init(&in);
	buf_init(&subj);
	for (i = 0; i < 400; i++)
		buf_addf(&subj, "%sword%d", i ? " " : "", i);
	buf_addf(&in, "Subject: %s\nTo: a@example.org\n\nbody\n", subj.data);
	run(in.data, in.len, &o, 0, &r);
	is_int(r.rc, 0, "long header: accepted");
	ok(subj.len > 2000, "long header: %zu octets in", subj.len);
	ok(longest_line(r.out.data, r.out.len) <= MSG_LINE_MAX,
	    "long header: folded to %zu octets a line",
	    longest_line(r.out.data, r.out.len));
	ok(count_fields(&r.out, "Subject") == 1, "long header: one field");
	v = header_value(&r.out, "Subject");
	is_str(v, subj.data, "long header: unfolds to the original");
	free(v);
	run_free(&r);

	/* No white space to fold at. */
	buf_reset(&in);
	buf_addstr(&in, "Subject: ");
	for (i = 0; i < 1200; i++)
		buf_addch(&in, 'x');
	buf_addstr(&in, "\n\nbody\n");
	run(in.data, in.len, &o, 0, &r);
	is_int(r.rc, EX_DATAERR, "unfoldable header line: refused");
	ok(strstr(r.err.msg, "header line 1") != NULL, "... naming it: %s",
	    r.err.msg);
	run_free(&r);

	/* Only blanks after the name: nowhere sensible to fold either. */
	buf_reset(&in);
	buf_addstr(&in, "X-Blank:");
	for (i = 0; i < 1200; i++)
		buf_addch(&in, ' ');
	buf_addstr(&in, "x\n\nbody\n");
	run(in.data, in.len, &o, 0, &r);
	ok(r.rc == EX_DATAERR || (r.rc == 0 &&
	    longest_line(r.out.data, r.out.len) <= MSG_LINE_MAX),
	    "blank header line: refused or folded safely");
	run_free(&r);
	buf_free(&in);
	buf_free(&subj);
}

/* ---- added and removed fields -------------------------------------------- */

static void
test_added(void)
{
	struct msg_opts o = plain_opts();
	struct run r;
	char date[64], *v;
	size_t i;

	o.set_from_header = HDR_AUTO;
	o.set_date_header = HDR_AUTO;
	o.set_msgid_header = HDR_AUTO;

	run_str("Subject: s\n\nbody\n", &o, &r);
	is_int(r.rc, 0, "added: ok");
	rfc5322_date(date, sizeof(date), NOW);
	v = header_value(&r.out, "Date");
	is_str(v, date, "added: Date from now");
	free(v);
	v = header_value(&r.out, "From");
	is_str(v, SENDER, "added: From is the sender");
	free(v);
	v = header_value(&r.out, "Message-ID");
	ok(v != NULL && v[0] == '<' && strstr(v, ".1795888416@"
	    "host.example.org>") != NULL && strlen(v) == 16 + 1 +
	    strlen(".1795888416@host.example.org>"),
	    "added: Message-ID %s", v != NULL ? v : "(none)");
	free(v);
	is_str(body_of(&r.out), "body\r\n", "added: body untouched");
	ok(strncmp(r.out.data, "Subject: s\r\n", 12) == 0,
	    "added: the author's fields come first");
	run_free(&r);

	/* Present: not added again. */
	run_str("From: Other <o@example.org>\nDate: Mon, 1 Jan 2024 00:00:00 "
	    "+0000\nMessage-ID: <x@y>\n\nb", &o, &r);
	is_int(count_fields(&r.out, "From"), 1, "present: one From");
	is_int(count_fields(&r.out, "Date"), 1, "present: one Date");
	is_int(count_fields(&r.out, "Message-ID"), 1, "present: one Message-ID");
	v = header_value(&r.out, "From");
	is_str(v, "Other <o@example.org>", "present: From kept (auto)");
	free(v);
	is_str(r.hfrom, "o@example.org", "msg_header_from");
	run_free(&r);

	/* HDR_ON replaces. */
	o.set_from_header = HDR_ON;
	run_str("from: Other <o@example.org>\nFROM: x@y.org\n\nb", &o, &r);
	is_int(count_fields(&r.out, "From"), 1, "on: one From left");
	v = header_value(&r.out, "From");
	is_str(v, SENDER, "on: From replaced");
	free(v);
	run_free(&r);

	/* The null sender gets no From. */
	o.sender = "";
	o.set_from_header = HDR_AUTO;
	run_str("Subject: s\n\nb", &o, &r);
	is_int(count_fields(&r.out, "From"), 0, "null sender: no From added");
	run_free(&r);
	o.sender = SENDER;

	/* Off: nothing. */
	o = plain_opts();
	run_str("Subject: s\n\nb", &o, &r);
	is_str(r.out.data, "Subject: s\r\n\r\nb\r\n", "off: nothing added");
	run_free(&r);

	/* An empty input gets the added fields and nothing else. */
	o.set_date_header = HDR_AUTO;
	run_str("", &o, &r);
	ok(strncmp(r.out.data, "Date: ", 6) == 0 &&
	    r.out.len > 8 && memcmp(r.out.data + r.out.len - 4, "\r\n\r\n",
	    4) == 0, "empty input: Date and the empty line");
	is_int(r.env.size, (long long)r.out.len, "empty input: size");
	run_free(&r);

	/* -F names. */
	{
		static const struct {
			const char *name;
			const char *want;	/* NULL: encoded word */
		} names[] = {
			{ "Cron Daemon", "Cron Daemon <" SENDER ">" },
			{ "Doe, John", "\"Doe, John\" <" SENDER ">" },
			{ "J\xc3\xb6rg M\xc3\xbcller", NULL },
			{ "", SENDER },
		};

		o = plain_opts();
		o.set_from_header = HDR_AUTO;
		for (i = 0; i < RQ_ARRAY_LEN(names); i++) {
			o.full_name = names[i].name;
			run_str("Subject: s\n\nb", &o, &r);
			v = header_value(&r.out, "From");
			if (names[i].want != NULL)
				is_str(v, names[i].want, "-F %zu", i);
			else {
				ok(v != NULL && rq_strncasecmp(v, "=?utf-8?",
				    8) == 0 && strstr(v, "?= <" SENDER ">") !=
				    NULL, "-F UTF-8: RFC 2047: %s", v);
				ok(!r.env.eightbit && !r.env.smtputf8,
				    "-F UTF-8: the header stays ASCII");
			}
			free(v);
			run_free(&r);
		}
	}

	/* undisclosed recipients. */
	o = plain_opts();
	o.undisclosed = "undisclosed-recipients:;";
	o.remove_bcc = 1;
	run_str("Bcc: a@example.org\nSubject: s\n\nb", &o, &r);
	v = header_value(&r.out, "To");
	is_str(v, "undisclosed-recipients:;", "undisclosed: To added");
	free(v);
	run_free(&r);
	run_str("cc: a@example.org\n\nb", &o, &r);
	is_int(count_fields(&r.out, "To"), 0, "undisclosed: not with a Cc");
	run_free(&r);
	o.undisclosed = "x:;\nBcc: evil@example.org";
	run_str("Subject: s\n\nb", &o, &r);
	is_int(r.rc, EX_DATAERR, "a value with a line break is refused");
	run_free(&r);
	o = plain_opts();
	o.set_from_header = HDR_AUTO;
	o.sender = "a@example.org\r\nBcc: evil@example.org";
	run_str("Subject: s\n\nb", &o, &r);
	is_int(r.rc, EX_DATAERR, "a sender with a line break is refused");
	run_free(&r);
}

static void
test_bcc(void)
{
	static const char in[] = "To: a@example.org\nBcc: b@example.org\n"
	    "bcc: c@example.org,\n d@example.org\nResent-Bcc: e@example.org\n"
	    "Subject: s\n\nBcc: in the body stays\n";
	struct msg_opts o = plain_opts();
	struct run r;

	o.remove_bcc = 1;
	run_str(in, &o, &r);
	is_str(r.out.data, "To: a@example.org\r\nSubject: s\r\n\r\n"
	    "Bcc: in the body stays\r\n", "Bcc and Resent-Bcc removed");
	run_free(&r);
	o.extract = 1;
	run_str(in, &o, &r);
	is_int(count_fields(&r.out, "Bcc"), 0, "-t: Bcc removed");
	run_free(&r);
	o.remove_bcc = 0;
	o.extract = 0;
	run_str(in, &o, &r);
	is_int(count_fields(&r.out, "Bcc"), 2, "remove_bcc off: Bcc kept");
	run_free(&r);
}

static void
test_extract(void)
{
	static const struct {
		const char *head;
		const char *want;
	} cases[] = {
		{ "To: a@x.org, B <b@x.org>\nCc: c@x.org\nBcc: d@x.org\n",
		    "a@x.org,b@x.org,c@x.org,d@x.org" },
		{ "tO: a@x.org\nCC: b@x.org\nbCc: c@x.org\n",
		    "a@x.org,b@x.org,c@x.org" },
		{ "To: team: a@x.org, b@x.org;, c@x.org\n",
		    "a@x.org,b@x.org,c@x.org" },
		{ "To: undisclosed-recipients:;\nBcc: z@x.org\n", "z@x.org" },
		{ "To: a@x.org (Alice), (the boss) b@x.org\n",
		    "a@x.org,b@x.org" },
		{ "To: \"john doe\"@x.org\n", "\"john doe\"@x.org" },
		{ "To: \"Doe, John\" <j@x.org>\n", "j@x.org" },
		{ "To: a@x.org,\n b@x.org\n", "a@x.org,b@x.org" },
		{ "To: =?UTF-8?B?SsO2cmc=?= <j@x.org>\n", "j@x.org" },
		{ "Subject: none\n", "" },
		/* Resent-: only the topmost block. */
		{ "Resent-Date: Sat, 28 Nov 2026 10:00:00 +0000\n"
		    "Resent-From: r@x.org\nResent-To: new@x.org\n"
		    "Received: from a by b\n"
		    "Resent-Date: Fri, 27 Nov 2026 10:00:00 +0000\n"
		    "Resent-To: old@x.org\nTo: orig@x.org\n", "new@x.org" },
		{ "Resent-Date: d1\nResent-From: r@x.org\nResent-To: r1@x.org\n"
		    "Resent-Cc: r2@x.org\nResent-Bcc: r3@x.org\n"
		    "Resent-Date: d2\nResent-To: old@x.org\nTo: o@x.org\n",
		    "r1@x.org,r2@x.org,r3@x.org" },
		{ "Resent-Date: d\nResent-From: r@x.org\nTo: t@x.org\n",
		    "t@x.org" },
	};
	struct msg_opts o = plain_opts();
	struct buf in;
	struct run r;
	char *got;
	size_t i;

	o.extract = 1;
	buf_init(&in);
	for (i = 0; i < RQ_ARRAY_LEN(cases); i++) {
		buf_reset(&in);
		buf_addf(&in, "%s\nbody\n", cases[i].head);
		run(in.data, in.len, &o, 3, &r);
		is_int(r.rc, 0, "-t %zu: ok", i);
		got = join(&r.rcpts);
		is_str(got, cases[i].want, "-t %zu", i);
		free(got);
		run_free(&r);
	}
	run_str("To: <unterminated@x.org\n\nb", &o, &r);
	is_int(r.rc, EX_DATAERR, "-t: a broken To is refused");
	run_free(&r);
	o.extract = 0;
	run_str("To: a@x.org\n\nb", &o, &r);
	is_int((long long)r.rcpts.n, 0, "without -t: no recipients taken");
	run_free(&r);
	buf_free(&in);
}

/* ---- long lines, NUL, 8-bit ----------------------------------------------- */

static void
test_reencode(void)
{
	static const struct {
		const char	*head;
		const char	*ct_want;	/* Content-Type after */
	} heads[] = {
		{ "Subject: s\n", "text/plain; charset=utf-8" },
		{ "Subject: s\nContent-Transfer-Encoding: 8bit\n"
		    "Content-Type: text/html; charset=iso-8859-1\n",
		    "text/html; charset=iso-8859-1" },
		{ "MIME-Version: 1.0\nContent-Transfer-Encoding: (c) BINARY\n",
		    "text/plain; charset=utf-8" },
		{ "", "text/plain; charset=utf-8" },
	};
	struct msg_opts o = plain_opts();
	struct buf in, body, dec;
	struct run r;
	const char *b;
	char *v;
	size_t i, rd;
	int j;

	buf_init(&in);
	buf_init(&body);
	buf_init(&dec);
	/* Many short lines first (so some body is re-read), then long ones. */
	for (j = 0; j < 3000; j++)
		buf_addf(&body, "line %d caf\xc3\xa9 =%s\r\n", j,
		    j % 7 ? "" : " trailing ");
	for (j = 0; j < 5000; j++)
		buf_addch(&body, (char)('a' + j % 26));
	buf_addstr(&body, "\r\n.\r\nFrom x\r\nnul = here\r\n");
	for (j = 0; j < 70000; j++)
		buf_addch(&body, j % 1000 == 999 ? ' ' : 'z');
	buf_add(&body, "\r\nend\r\n", 7);

	for (i = 0; i < RQ_ARRAY_LEN(heads); i++) {
		for (rd = 0; rd <= 7; rd += 7) {
			buf_reset(&in);
			buf_addf(&in, "%s\n", heads[i].head);
			buf_add(&in, body.data, body.len);
			run(in.data, in.len, &o, rd, &r);
			is_int(r.rc, 0, "QP %zu/%zu: accepted", i, rd);
			ok(crlf_canonical(r.out.data, r.out.len),
			    "QP %zu: canonical", i);
			ok(longest_line(r.out.data, r.out.len) <= 76 ||
			    longest_line(r.out.data, r.out.len) <= MSG_LINE_MAX,
			    "QP %zu: no line over 998", i);
			v = header_value(&r.out, "Content-Transfer-Encoding");
			is_str(v, "quoted-printable", "QP %zu: CTE", i);
			free(v);
			is_int(count_fields(&r.out,
			    "Content-Transfer-Encoding"), 1,
			    "QP %zu: one CTE", i);
			is_int(count_fields(&r.out, "MIME-Version"), 1,
			    "QP %zu: one MIME-Version", i);
			v = header_value(&r.out, "Content-Type");
			is_str(v, heads[i].ct_want, "QP %zu: Content-Type", i);
			free(v);
			b = body_of(&r.out);
			buf_reset(&dec);
			ok(b != NULL && qp_decode(b, r.out.len -
			    (size_t)(b - r.out.data), &dec) == 0,
			    "QP %zu: decodes", i);
			is_mem(dec.data, dec.len, body.data, body.len,
			    "QP %zu/%zu: decodes to the input", i, rd);
			is_int(r.env.eightbit, 0, "QP %zu: 7-bit now", i);
			is_int(r.env.size, (long long)r.out.len,
			    "QP %zu: size", i);
			run_free(&r);
		}
	}

	/* A NUL alone is enough; it makes the text base64. */
	run("Subject: s\n\na\0b\n", 16, &o, 0, &r);
	is_int(r.rc, 0, "NUL in body: accepted");
	is_str(body_of(&r.out), "YQBiDQo=\r\n", "NUL in body: base64");
	v = header_value(&r.out, "Content-Transfer-Encoding");
	is_str(v, "base64", "NUL in body: CTE");
	free(v);
	run_free(&r);

	/* Exactly 998 is fine; 999 is not. */
	buf_reset(&in);
	buf_addstr(&in, "Subject: s\n\n");
	for (j = 0; j < MSG_LINE_MAX; j++)
		buf_addch(&in, 'y');
	buf_addstr(&in, "\n");
	run(in.data, in.len, &o, 0, &r);
	is_int(count_fields(&r.out, "Content-Transfer-Encoding"), 0,
	    "998 octets: left alone");
	run_free(&r);
	buf_reset(&in);
	buf_addstr(&in, "Subject: s\n\n");
	for (j = 0; j < MSG_LINE_MAX + 1; j++)
		buf_addch(&in, 'y');
	run(in.data, in.len, &o, 0, &r);
	is_int(count_fields(&r.out, "Content-Transfer-Encoding"), 1,
	    "999 octets: re-encoded");
	run_free(&r);

	buf_free(&in);
	buf_free(&body);
	buf_free(&dec);
}

/* What cannot be made valid is refused, with the reason. */
static void
test_refused(void)
{
	static const struct {
		const char *head;
		const char *bodyfmt;
		const char *msg;
	} cases[] = {
		{ "Content-Type: multipart/mixed; boundary=b\n",
		    "pre %s\n--b\n\nshort\n--b--\n",
		    "the preamble of the message holds a line longer than 998" },
		{ "Content-Type: (x) Multipart/alternative; boundary=b\n",
		    "%s\n", "preamble of the message" },
		{ "Content-Type: multipart/mixed; boundary=b\n",
		    "--b\n\nshort\n--b--\nepi %s\n", "the epilogue of the message" },
		{ "Content-Type: multipart/mixed; boundary=b\n",
		    "--b\n\nshort\n--b\n\n%s\n",
		    "the message never reaches its closing boundary" },
		{ "Content-Type: multipart/mixed; boundary=b\n",
		    "--b\nContent-Transfer-Encoding: x-uuencode\n\n%s\n--b--\n",
		    "part 1 (text/plain) holds a line longer than 998 octets and "
		    "cannot be re-encoded: its transfer encoding" },
		{ "Content-Type: message/partial; id=x\n", "%s\n",
		    "may not be encoded" },
		{ "Content-Type: multipart/mixed; boundary=b\n",
		    "x\nnul\1%s\n", "the preamble of the message holds a NUL" },
		{ "Content-Type: multipart/mixed; boundary=b\n",
		    "--b\nX-Bad: a\1b\n\nx%s\n--b--\n",
		    "a header field of part 1 holds a NUL" },
	};
	struct msg_opts o = plain_opts();
	struct buf in, fill;
	struct run r;
	size_t i;
	char *p;
	int j;

	buf_init(&in);
	buf_init(&fill);
	for (j = 0; j < 1500; j++)
		buf_addch(&fill, 'q');
	for (i = 0; i < RQ_ARRAY_LEN(cases); i++) {
		buf_reset(&in);
		buf_addf(&in, "%s\n", cases[i].head);
		add_subst(&in, cases[i].bodyfmt,
		    strchr(cases[i].bodyfmt, '\1') ? "" : fill.data);
		/* \1 marks where a NUL goes. */
		p = memchr(in.data, '\1', in.len);
		if (p != NULL)
			*p = '\0';
		run(in.data, in.len, &o, 5, &r);
		is_int(r.rc, EX_DATAERR, "refused %zu: EX_DATAERR", i);
		ok(strstr(r.err.msg, cases[i].msg) != NULL,
		    "refused %zu: %s", i, r.err.msg);
		run_free(&r);
	}
	buf_free(&in);
	buf_free(&fill);
}

/*
 * What used to be refused is re-encoded part by part: the result has no
 * long line and no NUL, and every line that was fine is still there.
 */
static void
test_multipart(void)
{
	static const struct {
		const char *head;
		const char *bodyfmt;
		const char *want;	/* in the output */
	} cases[] = {
		{ "Content-Type: multipart/mixed; boundary=b\n",
		    "--b\n\nshort\n%s\n--b--\n",
		    "\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n"
		    "\r\nshort\r\nqqq" },
		{ "Content-Type: message/rfc822\n", "Subject: in\n\n%s\n",
		    "Subject: in\r\nContent-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n\r\nqqq" },
		{ "Content-Transfer-Encoding: base64\n", "a\n%s\n",
		    "\r\n\r\na\r\nqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"
		    "qqqqqqqqqqqqqqqqqqqqqqqq\r\nqqq" },
		{ "Content-Transfer-Encoding: Quoted-Printable\n", "%s\n",
		    "qqq=\r\nqqq" },
		{ "Content-Type: multipart/mixed; boundary=b\n",
		    "--b\nContent-Type: application/octet-stream\n\nx\1y%s\n--b--\n",
		    "Content-Type: application/octet-stream\r\n"
		    "Content-Transfer-Encoding: base64\r\n\r\neAB5cXFx" },
	};
	struct msg_opts o = plain_opts();
	struct buf in, fill;
	struct run r;
	size_t i;
	char *p;
	int j;

	buf_init(&in);
	buf_init(&fill);
	for (j = 0; j < 1500; j++)
		buf_addch(&fill, 'q');
	for (i = 0; i < RQ_ARRAY_LEN(cases); i++) {
		buf_reset(&in);
		buf_addf(&in, "%s\n", cases[i].head);
		add_subst(&in, cases[i].bodyfmt, fill.data);
		p = memchr(in.data, '\1', in.len);
		if (p != NULL)
			*p = '\0';
		run(in.data, in.len, &o, 5, &r);
		is_int(r.rc, 0, "multipart %zu: accepted (%s)", i, r.err.msg);
		ok(longest_line(r.out.data, r.out.len) <= MSG_LINE_MAX &&
		    memchr(r.out.data, '\0', r.out.len) == NULL,
		    "multipart %zu: no long line, no NUL", i);
		ok(crlf_canonical(r.out.data, r.out.len),
		    "multipart %zu: canonical", i);
		ok(strstr(r.out.data, cases[i].want) != NULL,
		    "multipart %zu: re-encoded as expected", i);
		is_int(r.env.size, (long long)r.out.len, "multipart %zu: size",
		    i);
		run_free(&r);
	}
	buf_free(&in);
	buf_free(&fill);
}

static void
test_8bit(void)
{
	static const struct {
		const char *in;
		int eightbit, smtputf8;
		const char *envrcpt;
	} cases[] = {
		{ "Subject: s\n\nplain\n", 0, 0, "a@x.org" },
		{ "Subject: s\n\ncaf\xc3\xa9\n", 1, 0, "a@x.org" },
		{ "Subject: caf\xc3\xa9\n\nplain\n", 1, 1, "a@x.org" },
		{ "Subject: s\n\nplain\n", 0, 1, "j\xc3\xb6rg@x.org" },
		{ "\xff no header\n", 1, 0, "a@x.org" },
	};
	struct msg_opts o = plain_opts();
	struct run r;
	struct input input;
	struct msg *m;
	int ifd, ofd;
	size_t i;

	for (i = 0; i < RQ_ARRAY_LEN(cases); i++) {
		memset(&r, 0, sizeof(r));
		r.env.sender = xstrdup(SENDER);
		strlist_add(&r.env.rcpts, cases[i].envrcpt);
		ifd = fd_with(cases[i].in, strlen(cases[i].in));
		input_init(&input, ifd);
		r.rc = msg_read_headers(&input, &o, &m, &r.err);
		if (r.rc == 0) {
			ofd = memfd_create("o", MFD_CLOEXEC);
			r.rc = msg_write_fd(m, ofd, &r.env, &r.err);
			close(ofd);
			msg_free(m);
		}
		is_int(r.rc, 0, "8bit %zu: ok", i);
		is_int(r.env.eightbit, cases[i].eightbit, "8bit %zu: eightbit",
		    i);
		is_int(r.env.smtputf8, cases[i].smtputf8, "8bit %zu: smtputf8",
		    i);
		input_free(&input);
		close(ifd);
		run_free(&r);
	}
}

/* ---- the queue ------------------------------------------------------------- */

static int
dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
test_spool(void)
{
	char dir[] = "/tmp/t_msg.XXXXXX";
	struct msg_opts o = plain_opts();
	struct queue *q = NULL;
	struct rq_err err = { 0 };
	struct buf in, got;
	struct qwriter *w;
	struct envelope env;
	struct input input;
	struct qmsg *qm;
	struct msg *m;
	char *path, *tmp;
	int ifd, rc, pass, j;
	ssize_t n;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	rc = queue_open(dir, 1, &q, &err);
	is_int(rc, 0, "spool: queue open %s", err.msg);
	if (rc != 0)
		return;
	buf_init(&in);
	buf_init(&got);
	for (pass = 0; pass < 2; pass++) {
		buf_reset(&in);
		buf_addstr(&in, "Subject: spool\n\nfirst\n");
		if (pass == 1)
			for (j = 0; j < 3000; j++)
				buf_addch(&in, 'L');
		buf_addstr(&in, "\nlast\n");
		ifd = fd_with(in.data, in.len);
		input_init(&input, ifd);
		memset(&env, 0, sizeof(env));
		env.sender = xstrdup(SENDER);
		strlist_add(&env.rcpts, "rcpt@example.org");
		rc = msg_read_headers(&input, &o, &m, &err);
		is_int(rc, 0, "spool %d: headers", pass);
		rc = msg_spool(m, q, &env, &w, &err);
		is_int(rc, 0, "spool %d: spooled %s", pass, err.msg);
		if (rc == 0)
			rc = queue_writer_commit(w, &env, &err);
		is_int(rc, 0, "spool %d: committed %s", pass, err.msg);
		msg_free(m);
		input_free(&input);
		close(ifd);

		path = xasprintf("%s/tmp", dir);
		is_int(dir_entries(path), 0, "spool %d: nothing left in tmp/",
		    pass);
		free(path);
		rc = queue_msg_open(q, env.id, 0, &qm, &err);
		is_int(rc, 0, "spool %d: reads back %s", pass, err.msg);
		if (rc == 0) {
			buf_reset(&got);
			tmp = xmalloc((size_t)qm->env.size + 1);
			n = pread(qm->fd, tmp, (size_t)qm->env.size,
			    (off_t)qm->data_off);
			if (n > 0)
				buf_add(&got, tmp, (size_t)n);
			free(tmp);
			is_int(qm->env.size, env.size, "spool %d: size", pass);
			if (pass == 0)
				is_str(got.data, "Subject: spool\r\n\r\n"
				    "first\r\n\r\nlast\r\n", "spool 0: content");
			else
				ok(strstr(got.data, "Content-Transfer-Encoding:"
				    " quoted-printable\r\n") != NULL &&
				    longest_line(got.data, got.len) <= 76,
				    "spool 1: re-encoded content");
			queue_msg_close(qm);
		}
		envelope_free(&env);
	}
	path = xasprintf("%s/msg", dir);
	is_int(dir_entries(path), 2, "spool: two messages, no leftovers");
	free(path);
	queue_close(q);
	buf_free(&in);
	buf_free(&got);
	rm_tree(dir);
}

/* ---- memory ---------------------------------------------------------------- */

/*
 * A 48 MB message through a pipe, with a long line in the middle (so the
 * re-encoding re-reads what was written): the process stays small.
 */
static void
test_memory(void)
{
	const long long total = 48LL * 1024 * 1024;
	struct rusage ru;
	pid_t gen, worker;
	int pfd[2], st = 0;

	/* Valgrind's own memory would be measured. */
	if (getenv("LD_PRELOAD") != NULL &&
	    strstr(getenv("LD_PRELOAD"), "vgpreload") != NULL) {
		ok(1, "# SKIP memory: under valgrind");
		return;
	}
	if (pipe(pfd) != 0) {
		ok(0, "pipe");
		return;
	}
	gen = fork();
	if (gen == 0) {
		static char chunk[65536];
		long long sent = 0;
		size_t i;

		close(pfd[0]);
		for (i = 0; i < sizeof(chunk); i++)
			chunk[i] = i % 72 == 71 ? '\n' : (char)('a' + i % 26);
		(void)!write_all(pfd[1], "Subject: big\n\n", 14);
		while (sent < total) {
			if (sent == total / 2) {
				memset(chunk, 'x', 5000);
				if (write_all(pfd[1], chunk, 5000) != 0)
					_exit(1);
			}
			if (write_all(pfd[1], chunk, sizeof(chunk)) != 0)
				_exit(1);
			sent += (long long)sizeof(chunk);
		}
		_exit(0);
	}
	close(pfd[1]);
	worker = fork();
	if (worker == 0) {
		struct msg_opts o = plain_opts();
		struct rq_err err = { 0 };
		struct input input;
		struct envelope env;
		struct msg *m;
		int out = open("/dev/null", O_WRONLY);

		memset(&env, 0, sizeof(env));
		input_init(&input, pfd[0]);
		if (msg_read_headers(&input, &o, &m, &err) != 0 ||
		    msg_write_fd(m, out, &env, &err) != 0)
			_exit(1);
		_exit(env.size > total && env.eightbit == 0 ? 0 : 2);
	}
	close(pfd[0]);
	if (wait4(worker, &st, 0, &ru) != worker)
		memset(&ru, 0, sizeof(ru));
	waitpid(gen, NULL, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "memory: 48 MB message re-encoded (status %d)", st);
	ok(ru.ru_maxrss > 0 && ru.ru_maxrss < RSS_LIMIT_KIB,
	    "memory: peak RSS %ld KiB < %d MiB", ru.ru_maxrss,
	    RSS_LIMIT_KIB / 1024);
}

int
main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	test_memory();
	test_canonical();
	test_smuggling();
	test_property();
	test_dots();
	test_data_drain();
	test_header_section();
	test_huge_header();
	test_long_header();
	test_added();
	test_bcc();
	test_extract();
	test_reencode();
	test_refused();
	test_multipart();
	test_8bit();
	test_spool();
	return done_testing();
}
