#!/usr/bin/python3
# relayq -- verify a DKIM signature with python3-dkim (an independent
# verifier from Debian), the key record given as a file instead of a DNS
# lookup.
# Copyright (C) 2026 the relayq developers
# SPDX-License-Identifier: GPL-3.0-or-later
#
# usage: dkim-verify.py TXT-FILE MESSAGE-FILE... [-n NAME]
#   TXT-FILE holds the record's value ("v=DKIM1; k=...; p=..."), served
#   only for NAME (default sel._domainkey.example.org).  Prints, for each
#   message, "pass" or "fail: REASON" on a line; exit status 0 when all
#   pass, 1 otherwise.
import io
import logging
import sys

import dkim

args = sys.argv[1:]
name = "sel._domainkey.example.org"
if "-n" in args:
    i = args.index("-n")
    name = args[i + 1]
    del args[i:i + 2]
txt = open(args[0], "rb").read().strip()
want = name.encode().rstrip(b".") + b"."


def dns(qname, timeout=5):
    return txt if qname == want else None


def verify(path):
    msg = open(path, "rb").read()
    log = io.StringIO()
    logger = logging.getLogger("dkim-verify." + path)
    logger.addHandler(logging.StreamHandler(log))
    logger.setLevel(logging.DEBUG)
    d = dkim.DKIM(msg, logger=logger)
    try:
        if d.verify(dnsfunc=dns):
            return "pass"
    except Exception as e:
        return "fail: %s: %s" % (type(e).__name__, e)
    why = [line for line in log.getvalue().splitlines() if line.strip()]
    return "fail: %s" % (why[-1] if why else "the signature does not verify")


bad = 0
for path in args[1:]:
    r = verify(path)
    print(r.replace("\n", " "))
    bad += r != "pass"
sys.exit(1 if bad else 0)
