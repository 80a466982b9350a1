#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Extract the last PDF signature: pdfcms.py SIGNED.pdf OUT.p7s OUT.data
OUT.p7s gets the (BER/DER) CMS from /Contents (without the zero padding),
OUT.data the bytes covered by /ByteRange. Checks that the ByteRange covers
the whole file except the /Contents hex string."""
import re
import sys

pdf = open(sys.argv[1], "rb").read()
ranges = re.findall(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
if not ranges:
    sys.exit("no /ByteRange")
a, b, c, d = (int(x) for x in ranges[-1])
if a != 0 or c + d != len(pdf) or not 0 < b < c:
    sys.exit("ByteRange %r does not cover the file (%d bytes)" % ((a, b, c, d), len(pdf)))
hole = pdf[b:c]
if not (hole.startswith(b"<") and hole.endswith(b">")):
    sys.exit("the ByteRange gap is not a hex string")
der = bytes.fromhex(hole[1:-1].decode("ascii"))


def tlv_end(buf, i):
    """End offset of the BER TLV at i (definite or indefinite length)."""
    if i + 2 > len(buf):
        raise ValueError("truncated")
    tag = buf[i]
    i += 1
    if tag & 0x1F == 0x1F:
        while buf[i] & 0x80:
            i += 1
        i += 1
    first = buf[i]
    i += 1
    if first == 0x80:  # indefinite: contents up to the end-of-contents octets
        if not tag & 0x20:
            raise ValueError("indefinite length on a primitive")
        while buf[i:i + 2] != b"\0\0":
            i = tlv_end(buf, i)
        return i + 2
    if first < 0x80:
        n = first
    else:
        k = first & 0x7F
        if k == 0 or k > 4:
            raise ValueError("bad length")
        n = int.from_bytes(buf[i:i + k], "big")
        i += k
    if i + n > len(buf):
        raise ValueError("truncated")
    return i + n


if der[0] != 0x30:
    sys.exit("/Contents is not a DER SEQUENCE")
try:
    n = tlv_end(der, 0)
except (ValueError, IndexError) as e:
    sys.exit("bad BER in /Contents: %s" % e)
if any(der[n:]):
    sys.exit("garbage after the CMS in /Contents")
open(sys.argv[2], "wb").write(der[:n])
open(sys.argv[3], "wb").write(pdf[a:a + b] + pdf[c:c + d])
