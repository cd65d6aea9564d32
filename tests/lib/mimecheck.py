#!/usr/bin/python3
# relayq -- the MIME corpus and the property of issue 8, checked with
# Python's email package (an independent MIME parser).
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later
#
#   mimecheck.py gen DIR            write the corpus: DIR/NAME.eml, raw bytes
#   mimecheck.py compare SENT GOT   the property: GOT (what arrived) says what
#                                   SENT (what was submitted) said
#   mimecheck.py ripmime SENT DIR   every file ripmime took out of what
#                                   arrived is a part that was sent
#   mimecheck.py wire FILE [7bit|ascii-headers]
#                                   the wire rules: no line over 998
#                                   octets, no bare CR, LF or NUL; 7bit: no
#                                   octet >= 0x80; ascii-headers: none in the
#                                   message's header section
#   mimecheck.py big FILE MB        a multipart message with an MB-megabyte
#                                   8-bit text attachment (and a long line)
#   mimecheck.py bigcheck SENT GOT  the same property for it, streaming
#
# compare prints one line per check, "PASS what" or "FAIL what: why", so
# that the shell test turns each into a TAP line.
#
# The property: both are parsed by email.message_from_bytes (compat32);
# walking both gives the same parts in the same order, with the same
# content type and the same decoded body (Content-Transfer-Encoding
# undone); every header field of the sent part is in the arrived one, the
# same after unfolding and decoding: RFC 2047 words for text, display
# names and addresses for address fields, RFC 2231 parameters for
# Content-Type and Content-Disposition.  The sent message is first given
# CRLF line ends, as relayq's submission does (SPEC section 2).
import base64
import binascii
import email
import email.header
import email.policy
import email.utils
import hashlib
import os
import re
import sys

ADDR = {"from", "to", "cc", "reply-to", "sender", "bcc"}
PARAM = {"content-type", "content-disposition"}
SKIP = {"content-transfer-encoding", "mime-version"}


def crlf(b):
    return re.sub(rb"\r\n|\r|\n", b"\r\n", b)


def raw(s):
    """A header string from compat32 back to its octets."""
    if not isinstance(s, str):
        return s
    try:
        return s.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return s.encode("latin-1", "surrogateescape")


def unfold(v):
    return re.sub(r"\r?\n(?=[ \t])", "", v)


def dec_text(v):
    # Latin-1 characters stand for the raw octets: decode_header gives
    # unencoded text back with raw-unicode-escape, octet for octet.
    v = raw(unfold(v)).decode("latin-1")
    out = b""
    for b, cs in email.header.decode_header(v):
        out += raw(b) if isinstance(b, str) else b
    return out


def dec_addrs(v):
    return [(dec_text(n), a) for n, a in email.utils.getaddresses([unfold(v)])]


def dec_params(msg, name):
    """Parameters of the raw field, RFC 2231 continuations joined, as octets."""
    v = next((val for k, val in msg.raw_items() if k.lower() == name), None)
    if v is None:
        return []
    pl = []
    for p in email.message._parseparam(unfold(v))[1:]:
        if "=" in p:
            k, val = p.split("=", 1)
            pl.append((k.strip().lower(), val.strip()))
    out = []
    for k, val in email.utils.decode_params([("", "")] + pl)[1:]:
        if isinstance(val, tuple):
            val = email.utils.unquote(val[2]).encode("latin-1")
        else:
            val = raw(email.utils.unquote(val))
        out.append((k, val))
    return out


def fields(msg):
    return [(k.lower(), v) for k, v in msg.raw_items()]


def compare(sent_b, got_b):
    res = []
    sent = email.message_from_bytes(crlf(sent_b))
    got = email.message_from_bytes(got_b)
    sp, gp = list(sent.walk()), list(got.walk())
    res.append((len(sp) == len(gp), "same number of parts (%d, %d)" % (len(sp), len(gp))))
    for i, (a, b) in enumerate(zip(sp, gp)):
        res.append((a.get_content_type() == b.get_content_type(),
                    "part %d: type %s == %s" % (i, a.get_content_type(), b.get_content_type())))
        if not a.is_multipart():
            pa, pb = a.get_payload(decode=True), b.get_payload(decode=True)
            res.append((pa == pb, "part %d: decoded body (%d == %d octets)" %
                        (i, len(pa or b""), len(pb or b""))))
        gfields = fields(b)
        seen = {}
        for k, v in fields(a):
            if k in SKIP:
                continue
            n = seen.get(k, 0)
            seen[k] = n + 1
            cand = [gv for gk, gv in gfields if gk == k]
            if n >= len(cand):
                res.append((False, "part %d: field %s #%d arrived" % (i, k, n)))
                continue
            gv = cand[n]
            if k in ADDR:
                ok, what = dec_addrs(v) == dec_addrs(gv), "addresses"
            elif k in PARAM:
                pa = [p for p in dec_params(a, k) if p[0] != "charset" or
                      a.get_param("charset", header=k) is not None]
                pb = [p for p in dec_params(b, k) if p[0] != "charset" or
                      a.get_param("charset", header=k) is not None]
                ok, what = pa == pb, "parameters"
            else:
                ok, what = dec_text(v) == dec_text(gv), "decoded text"
            res.append((ok, "part %d: %s %s equal (%r vs %r)" %
                        (i, k, what, unfold(v)[:60], unfold(gv)[:60])))
    return res


def ripmime_check(sent_b, d):
    """Files ripmime took out of what arrived, against the sent parts."""
    sent = email.message_from_bytes(crlf(sent_b))
    want = [p.get_payload(decode=True) or b"" for p in sent.walk()
            if not p.is_multipart()]
    # ripmime also saves a preamble as a text file.
    want += [raw(p.preamble) for p in sent.walk() if p.preamble]
    res = []
    names = sorted(os.listdir(d))
    for f in names:
        data = open(os.path.join(d, f), "rb").read()
        # ripmime keeps the line end before a delimiter in parts that
        # are not encoded (that one is not content), and drops the one
        # of a preamble.
        hit = any(data.rstrip(b"\r\n") == w.rstrip(b"\r\n") for w in want)
        res.append((hit, "ripmime's %s (%d octets) is a part that was sent" %
                    (f, len(data))))
    for p in sent.walk():
        fn = p.get_filename()
        if fn is not None and not p.is_multipart():
            res.append((len(names) > 0, "ripmime found the attachments"))
            break
    return res


def wire(data, mode):
    res = []
    lines = data.split(b"\r\n")
    res.append((max(len(l) for l in lines) <= 998, "no line over 998 octets"))
    bare = re.search(rb"\r(?!\n)|(?<!\r)\n", data)
    res.append((bare is None, "no bare CR or LF"))
    res.append((b"\0" not in data, "no NUL"))
    if mode == "7bit":
        res.append((re.search(rb"[\x80-\xff]", data) is None, "no 8-bit octet"))
    if mode in ("7bit", "ascii-headers"):
        head = data.split(b"\r\n\r\n", 1)[0]
        res.append((re.search(rb"[\x80-\xff]", head) is None,
                    "the header section is ASCII"))
    return res


# ---- the corpus ---------------------------------------------------------------

LONG = ("Ligne tr\u00e8s longue d'un rapport cron: " + "0123456789abcdef " * 200).encode()
LATIN1 = "R\u00e9sum\u00e9 du jour: caf\u00e9, na\u00efve, \u00e0 bient\u00f4t\n".encode("latin-1")
UTF8 = "J\u00f6rg M\u00fcller \u20ac 100, \u65e5\u672c\u8a9e\n".encode()


def mp(boundary, parts, sub="mixed", pre=b"This is a multi-part message in MIME format.\n",
       epi=b"", head=b""):
    out = head + b"Content-Type: multipart/" + sub.encode() + b'; boundary="' + \
        boundary.encode() + b'"\nMIME-Version: 1.0\n\n' + pre
    for p in parts:
        out += b"--" + boundary.encode() + b"\n" + p + b"\n"
    out += b"--" + boundary.encode() + b"--\n" + epi
    return out


def corpus():
    c = {}
    c["mixed-longline"] = mp("b1", [
        b"Content-Type: text/plain; charset=utf-8\n\nshort line\n" + LONG + b"\nafter\n",
        b"Content-Type: text/plain\n\nsecond part, fine\n"],
        head=b"Subject: mixed with a long line\n")
    binary = bytes(range(256)) * 4 + b"\0\0\0 end"
    binary = binary.replace(b"\n", b"N").replace(b"\r", b"R")
    c["nul-part"] = mp("b2", [
        b"Content-Type: text/plain\n\nsee the attachment\n",
        b"Content-Type: application/octet-stream; name=data.bin\n"
        b"Content-Transfer-Encoding: binary\n"
        b"Content-Disposition: attachment; filename=data.bin\n\n" + binary],
        head=b"Subject: a NUL-carrying part\n")
    att = base64.encodebytes(b"%PDF-1.4 pretend pdf\n" * 50)
    alt = mp("alt-b", [
        b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + UTF8,
        b"Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n<p>" +
        UTF8 + b"</p>\n"], sub="alternative", pre=b"")
    c["nested-alternative"] = mp("outer-b", [
        alt.replace(b"MIME-Version: 1.0\n", b""),
        b"Content-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: base64\n"
        b"Content-Disposition: attachment; filename=a.pdf\n\n" + att],
        head=b"Subject: alternative inside mixed\n")
    inner = b"From: Inner <inner@example.org>\nSubject: =?UTF-8?Q?inner_f=C3=BCr?=\n" \
        b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + \
        UTF8 + LONG + b"\n"
    c["rfc822"] = mp("b4", [
        b"Content-Type: text/plain\n\nforwarded below\n",
        b"Content-Type: message/rfc822\nContent-Disposition: inline\n\n" + inner],
        head=b"Subject: a message/rfc822 attachment\n")
    c["latin1"] = (b"Subject: latin-1 body\nMIME-Version: 1.0\n"
                   b"Content-Type: text/plain; charset=iso-8859-1\n"
                   b"Content-Transfer-Encoding: 8bit\n\n" + LATIN1 * 3)
    c["utf8-cron"] = b"Subject: Cron <root@host> run-parts\n\n" + UTF8 * 5
    c["headers8"] = ("Subject: R\u00e9sultat de la sauvegarde \u2014 ok\n"
                     "From: J\u00f6rg M\u00fcller <joerg@example.org>\n"
                     "To: \"M\u00fcller, J\u00f6rg\" <j2@example.org>, plain@example.org\n"
                     "Cc: bob@example.org (Bob B\u00e9b\u00e9)\n"
                     "X-Note: caf\u00e9 =?UTF-8?Q?d=C3=A9j=C3=A0?= fin\n"
                     "\nbody ascii\n").encode()
    c["headers-latin1"] = b"Subject: caf\xe9 na\xefve\nContent-Description: r\xe9sum\xe9\n\nbody\n"
    c["no-cte"] = mp("b5", [
        b"Content-Type: text/plain; charset=utf-8\n\n" + UTF8,
        b"\n" + LATIN1],
        head=b"Subject: parts without Content-Transfer-Encoding\n")
    bnd = mp("xyz", [
        b"Content-Type: text/plain\n\n--xyzz not a boundary\n -- xyz neither\n"
        b"text --xyz inside\n--xy\n" + LONG + b"\n",
        b"Content-Type: text/plain\n\nlast\n"],
        head=b"Subject: boundaries in bodies\n")
    c["boundary-in-body"] = bnd
    c["filename8"] = mp("b7", [
        b"Content-Type: text/plain\n\nsee attached\n",
        "Content-Type: application/octet-stream; name=\"r\u00e9sum\u00e9 \u00e9t\u00e9.txt\"\n"
        "Content-Disposition: attachment; filename=\"r\u00e9sum\u00e9 \u00e9t\u00e9 "
        "avec un nom de fichier tr\u00e8s long pour les continuations.txt\"\n"
        "Content-Description: le r\u00e9sum\u00e9\n"
        "Content-Transfer-Encoding: base64\n\n".encode() + base64.encodebytes(UTF8 * 3)],
        head=b"Subject: an 8-bit file name\n")
    c["encoded-long"] = mp("b8", [
        b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n" +
        b"caf=C3=A9 " * 400 + b"\n",
        b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" +
        base64.b64encode(os.urandom(3000)) + b"\n"],
        head=b"Subject: encoded parts with long lines\n")
    c["digest"] = mp("dg", [
        b"\nSubject: one\n\nfirst caf\xc3\xa9\n",
        b"\nSubject: two\n\n" + LONG + b"\n"], sub="digest",
        head=b"Subject: a digest\n")
    c["crlf-input"] = crlf(c["mixed-longline"].replace(b"Subject: mixed", b"Subject: crlf mixed"))
    return c


def gen(d):
    os.makedirs(d, exist_ok=True)
    for name, data in corpus().items():
        with open(os.path.join(d, name + ".eml"), "wb") as f:
            f.write(b"X-Corpus: " + name.encode() + b"\n" if not data.startswith(b"\r") and
                    b"\r\n" not in data else b"X-Corpus: " + name.encode() + b"\r\n")
            f.write(data)


# ---- the big one, streamed -------------------------------------------------------

def big(path, mb):
    line = "Z\u00fcrich, M\u00fcnchen, S\u00e3o Paulo: 0123456789 abcdefghij\n".encode("latin-1")
    with open(path, "wb") as f:
        f.write(b"Subject: a big 8-bit attachment\nMIME-Version: 1.0\n"
                b'Content-Type: multipart/mixed; boundary="big-b"\n\n--big-b\n'
                b"Content-Type: text/plain; charset=utf-8\n\nsee the log; and a long line:\n" +
                b"x" * 2000 + b"\n--big-b\n"
                b"Content-Type: text/plain; charset=iso-8859-1; name=log.txt\n"
                b"Content-Transfer-Encoding: 8bit\n"
                b"Content-Disposition: attachment; filename=log.txt\n\n")
        chunk = line * (1024 * 1024 // len(line))
        for _ in range(mb):
            f.write(chunk)
        f.write(b"THE END\n--big-b--\n")


def bigcheck(sent, got):
    """The attachment of both, decoded, streamed through SHA-256."""
    def digest(path, crlf_in):
        h = hashlib.sha256()
        state, cte, qp, prev = 0, b"", b"", b""
        with open(path, "rb") as f:
            for ln in f:
                if crlf_in:
                    ln = ln.rstrip(b"\r\n") + b"\r\n"
                if state < 2:
                    if ln.startswith(b"Content-Disposition: attachment"):
                        state = 1
                    if state == 1 and ln.lower().startswith(b"content-transfer-encoding:"):
                        cte = ln.split(b":", 1)[1].strip().lower()
                    if state == 1 and ln == b"\r\n":
                        state = 2
                    continue
                if ln.startswith(b"--big-b--"):
                    break
                if cte == b"quoted-printable":
                    qp += ln
                    if ln.endswith(b"=\r\n"):
                        continue
                    ln, qp = binascii.a2b_qp(qp), b""
                # The line end before the delimiter is not content.
                h.update(prev)
                prev = ln
        h.update(prev[:-2] if prev.endswith(b"\r\n") else prev)
        return h.hexdigest()
    a, b = digest(sent, True), digest(got, False)
    return [(a == b, "the attachment decodes to what was sent (%s...)" % a[:16])]


def main():
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(sys.argv[2])
        return 0
    if cmd == "big":
        big(sys.argv[2], int(sys.argv[3]))
        return 0
    if cmd == "compare":
        res = compare(open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read())
    elif cmd == "ripmime":
        res = ripmime_check(open(sys.argv[2], "rb").read(), sys.argv[3])
    elif cmd == "wire":
        res = wire(open(sys.argv[2], "rb").read(), sys.argv[3] if len(sys.argv) > 3 else "")
    elif cmd == "bigcheck":
        res = bigcheck(sys.argv[2], sys.argv[3])
    else:
        print("usage: mimecheck.py gen|compare|wire|big|bigcheck ...", file=sys.stderr)
        return 64
    bad = 0
    for ok, what in res:
        print(("PASS " if ok else "FAIL ") + what)
        bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
