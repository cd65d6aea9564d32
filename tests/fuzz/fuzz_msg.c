/*
 * relayq -- libFuzzer harness for msg.c.
 * Copyright (C) 2026 the relayq developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The first two input octets choose the options (dot handling, -t, Bcc
 * removal, which fields are added, -F, the null sender) and the size of
 * each read(2); the rest is the message.  Besides "does not crash",
 * checks what the wire relies on: whatever came in, a message that was
 * accepted has no bare CR, no bare LF and no line over 998 octets, and
 * env->size is what was written.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_output(int fd, long long size)
{
	static char buf[65536];
	long long total = 0;
	size_t linelen = 0, i;
	char prev = '\0';
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < (size_t)n; i++) {
			char c = buf[i];

			/* A CR must be followed by LF, an LF follow a CR. */
			if (prev == '\r' && c != '\n')
				abort();
			if (c == '\n' && prev != '\r')
				abort();
			if (c == '\r' || c == '\n')
				linelen = 0;
			else if (++linelen > MSG_LINE_MAX)
				abort();
			prev = c;
		}
		total += n;
	}
	if (n < 0 || prev == '\r' || total != size)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *names[] = { NULL, "J\xc3\xb6rg M\xc3\xbcller",
	    "Cron Daemon", "Doe, John" };
	struct msg_opts o;
	struct rq_err err = { 0 };
	struct envelope env;
	struct input in;
	struct msg *m = NULL;
	unsigned a, b;
	int ifd, ofd, rc;

	if (size < 2)
		return 0;
	a = data[0];
	b = data[1];
	data += 2;
	size -= 2;

	memset(&o, 0, sizeof(o));
	o.dot_ends = a & 1;
	o.unstuff = (a >> 1) & 1;
	o.extract = (a >> 2) & 1;
	o.remove_bcc = (a >> 3) & 1;
	o.set_from_header = (enum hdr_mode)((a >> 4) % 3);
	o.set_date_header = (a >> 6) & 1 ? HDR_AUTO : HDR_OFF;
	o.set_msgid_header = (a >> 7) & 1 ? HDR_AUTO : HDR_OFF;
	o.undisclosed = b & 1 ? "undisclosed-recipients:;" : NULL;
	o.full_name = names[(b >> 1) & 3];
	o.sender = (b >> 3) & 1 ? "" : "fuzz@example.org";
	o.msgid_domain = "example.org";
	o.now = 1795888416;

	ifd = memfd_create("fuzz_msg_in", MFD_CLOEXEC);
	ofd = memfd_create("fuzz_msg_out", MFD_CLOEXEC);
	if (ifd < 0 || ofd < 0)
		abort();
	if (write_all(ifd, data, size) != 0 || lseek(ifd, 0, SEEK_SET) != 0)
		abort();
	input_init(&in, ifd);
	in.max_read = b >> 4;		/* 0: whole buffers */

	memset(&env, 0, sizeof(env));
	rc = msg_read_headers(&in, &o, &m, &err);
	if (rc == 0) {
		rc = msg_write_fd(m, ofd, &env, &err);
		if (rc == 0)
			check_output(ofd, env.size);
		msg_free(m);
	}
	if (rc != 0 && (err.ex != rc || err.msg[0] == '\0' ||
	    strpbrk(err.msg, "\r\n") != NULL))
		abort();
	input_free(&in);
	close(ifd);
	close(ofd);
	return 0;
}
