#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Independent Authenticode check of a signed PE (not osslsigncode's code):
    authenticode.py SIGNED.exe SIGNER.pem [OUT.p7]
1. the PE image hash (SHA-256/384/512 as named in the signature; checksum
   field, certificate-table entry and the certificate table excluded)
   equals the digest in SpcIndirectDataContent;
2. the messageDigest signed attribute equals the hash of the
   SpcIndirectDataContent value;
3. the SignerInfo signature over the signed attributes verifies with
   SIGNER.pem's public key (RSA PKCS#1 v1.5 or ECDSA).
Writes the PKCS#7 to OUT.p7 when given. Exit 0 when all hold."""
import hashlib
import struct
import sys

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

OIDS = {
    "2.16.840.1.101.3.4.2.1": ("sha256", hashes.SHA256),
    "2.16.840.1.101.3.4.2.2": ("sha384", hashes.SHA384),
    "2.16.840.1.101.3.4.2.3": ("sha512", hashes.SHA512),
}
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SPC_INDIRECT = "1.3.6.1.4.1.311.2.1.4"


def die(msg):
    sys.exit("authenticode: " + msg)


def tlv(buf, i):
    """(tag, header length, value start, end) of the DER TLV at i."""
    tag = buf[i]
    j = i + 1
    first = buf[j]
    j += 1
    if first < 0x80:
        n = first
    else:
        k = first & 0x7F
        if k == 0 or k > 4:
            die("unsupported length encoding")
        n = int.from_bytes(buf[j:j + k], "big")
        j += k
    if j + n > len(buf):
        die("truncated DER")
    return tag, j - i, j, j + n


def children(buf, start, end):
    out, i = [], start
    while i < end:
        t = tlv(buf, i)
        out.append((i,) + t)
        i = t[3]
    return out  # (offset, tag, hlen, vstart, vend)


def oid_str(b):
    first = b[0]
    parts, v = [first // 40, first % 40], 0
    for c in b[1:]:
        v = (v << 7) | (c & 0x7F)
        if not c & 0x80:
            parts.append(v)
            v = 0
    return ".".join(str(p) for p in parts)


def pe_hash(pe, name):
    if pe[:2] != b"MZ":
        die("not a PE file")
    lfanew = struct.unpack_from("<I", pe, 0x3C)[0]
    if pe[lfanew:lfanew + 4] != b"PE\0\0":
        die("no PE signature")
    opt = lfanew + 24
    magic = struct.unpack_from("<H", pe, opt)[0]
    dirs = opt + (96 if magic == 0x10B else 112 if magic == 0x20B else die("bad magic"))
    checksum = opt + 64
    certdir = dirs + 4 * 8
    cert_off, cert_len = struct.unpack_from("<II", pe, certdir)
    if cert_off == 0 or cert_off + cert_len != len(pe):
        die("the certificate table is not at the end of the file")
    h = hashlib.new(name)
    h.update(pe[:checksum])
    h.update(pe[checksum + 4:certdir])
    h.update(pe[certdir + 8:cert_off])
    return h.digest(), pe[cert_off:cert_off + cert_len]


def main():
    pe = open(sys.argv[1], "rb").read()
    cert = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
    # WIN_CERTIFICATE: dwLength, wRevision 0x0200, wCertificateType 2 (PKCS#7)
    _, table = pe_hash(pe, "sha256")
    length, rev, ctype = struct.unpack_from("<IHH", table, 0)
    if rev != 0x0200 or ctype != 2:
        die("not a PKCS#7 WIN_CERTIFICATE")
    p7 = table[8:length]
    p7 = p7[:tlv(p7, 0)[3]]
    if len(sys.argv) > 3:
        open(sys.argv[3], "wb").write(p7)

    ci = children(p7, tlv(p7, 0)[2], tlv(p7, 0)[3])
    if oid_str(p7[ci[0][3]:ci[0][4]]) != "1.2.840.113549.1.7.2":
        die("not signedData")
    sd_seq = children(p7, ci[1][3], ci[1][4])[0]
    sd = children(p7, sd_seq[3], sd_seq[4])
    # version, digestAlgorithms, contentInfo, [0] certificates?, [1] crls?, signerInfos
    content_info = children(p7, sd[2][3], sd[2][4])
    if oid_str(p7[content_info[0][3]:content_info[0][4]]) != OID_SPC_INDIRECT:
        die("content is not SpcIndirectDataContent")
    spc = children(p7, content_info[1][3], content_info[1][4])[0]
    spc_value = p7[spc[3]:spc[4]]
    spc_parts = children(p7, spc[3], spc[4])
    digest_info = children(p7, spc_parts[1][3], spc_parts[1][4])
    alg = children(p7, digest_info[0][3], digest_info[0][4])
    hname, hcls = OIDS.get(oid_str(p7[alg[0][3]:alg[0][4]]), (None, None))
    if hname is None:
        die("unsupported image digest algorithm")
    image_digest = p7[digest_info[1][3]:digest_info[1][4]]
    computed, _ = pe_hash(pe, hname)
    if computed != image_digest:
        die("the PE image hash does not match the signed SpcIndirectDataContent")

    signer_infos = children(p7, sd[-1][3], sd[-1][4])
    if len(signer_infos) != 1:
        die("expected one SignerInfo")
    si = children(p7, signer_infos[0][3], signer_infos[0][4])
    attrs = [c for c in si if c[1] == 0xA0]
    if not attrs:
        die("no signed attributes")
    a = attrs[0]
    signed_attrs = b"\x31" + p7[a[0] + 1:a[4]]
    md = None
    for attr in children(p7, a[3], a[4]):
        parts = children(p7, attr[3], attr[4])
        if oid_str(p7[parts[0][3]:parts[0][4]]) == OID_MESSAGE_DIGEST:
            value = children(p7, parts[1][3], parts[1][4])[0]
            md = p7[value[3]:value[4]]
    if md is None:
        die("no messageDigest attribute")
    if md != hashlib.new(hname, spc_value).digest():
        die("messageDigest does not match SpcIndirectDataContent")
    sig = p7[si[-1][3]:si[-1][4]]
    if si[-1][1] != 0x04:
        sig = p7[si[-2][3]:si[-2][4]]  # unsigned attributes follow
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, signed_attrs, padding.PKCS1v15(), hcls())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, signed_attrs, ec.ECDSA(hcls()))
        else:
            die("unsupported key type")
    except InvalidSignature:
        die("the SignerInfo signature does not verify with %s" % sys.argv[2])
    print("authenticode: OK (%s, image hash %s)" % (hname, computed.hex()[:16]))


main()
