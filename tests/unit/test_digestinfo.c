/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/digestinfo.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "digestinfo.h"

static const hash_alg ALL_HASHES[] = {HASH_SHA1,   HASH_SHA224,	  HASH_SHA256,	 HASH_SHA384,
				      HASH_SHA512, HASH_SHA3_256, HASH_SHA3_384, HASH_SHA3_512};

/* DigestInfo encoded by OpenSSL, with NULL (ptype V_ASN1_NULL) or absent
 * (V_ASN1_UNDEF) parameters. */
static size_t openssl_digestinfo(const hash_info *h, int ptype, const uint8_t *digest, size_t dlen,
				 uint8_t *out, size_t cap)
{
	X509_SIG *sig = X509_SIG_new();
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *os;
	unsigned char *der = NULL;
	int len;

	X509_SIG_getm(sig, &alg, &os);
	assert_int_equal(X509_ALGOR_set0(alg, OBJ_txt2obj(h->oid, 1), ptype, NULL), 1);
	assert_int_equal(ASN1_OCTET_STRING_set(os, digest, (int)dlen), 1);
	len = i2d_X509_SIG(sig, &der);
	assert_true(len > 0 && (size_t)len <= cap);
	memcpy(out, der, (size_t)len);
	OPENSSL_free(der);
	X509_SIG_free(sig);
	return (size_t)len;
}

static void test_build_parse_all(void **state)
{
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(ALL_HASHES) / sizeof(ALL_HASHES[0]); i++) {
		const hash_info *h = hash_by_id(ALL_HASHES[i]);
		uint8_t digest[HASH_MAX_LEN], out[128], ref[128];
		const uint8_t *d = NULL;
		size_t outlen = 0, reflen, dlen = 0;
		hash_alg alg = HASH_NONE;

		memset(digest, (int)i + 1, sizeof(digest));
		assert_int_equal(digestinfo_build(h->id, digest, h->len, out, sizeof(out), &outlen),
				 0);
		reflen = openssl_digestinfo(h, V_ASN1_NULL, digest, h->len, ref, sizeof(ref));
		assert_int_equal(outlen, reflen);
		assert_memory_equal(out, ref, reflen);
		assert_int_equal(digestinfo_parse(out, outlen, &alg, &d, &dlen), 0);
		assert_int_equal(alg, h->id);
		assert_int_equal(dlen, h->len);
		assert_ptr_equal(d, out + outlen - h->len);
		assert_memory_equal(d, digest, h->len);

		/* Absent parameters are accepted too. */
		reflen = openssl_digestinfo(h, V_ASN1_UNDEF, digest, h->len, ref, sizeof(ref));
		assert_int_equal(reflen, outlen - 2);
		assert_int_equal(digestinfo_parse(ref, reflen, &alg, &d, &dlen), 0);
		assert_int_equal(alg, h->id);
		assert_int_equal(dlen, h->len);
		assert_memory_equal(d, digest, h->len);

		/* Wrong digest length (encoded consistently) is refused. */
		reflen = openssl_digestinfo(h, V_ASN1_NULL, digest, h->len - 1, ref, sizeof(ref));
		assert_int_equal(digestinfo_parse(ref, reflen, &alg, &d, &dlen), -1);
		reflen = openssl_digestinfo(h, V_ASN1_NULL, digest, h->len == 64 ? 63 : h->len + 1,
					    ref, sizeof(ref));
		assert_int_equal(digestinfo_parse(ref, reflen, &alg, &d, &dlen), -1);

		/* Truncated, extended. */
		assert_int_equal(digestinfo_parse(out, outlen - 1, &alg, &d, &dlen), -1);
		out[outlen] = 0;
		assert_int_equal(digestinfo_parse(out, outlen + 1, &alg, &d, &dlen), -1);
	}
}

static void test_build_errors(void **state)
{
	uint8_t digest[32] = {0}, out[64];
	size_t outlen;
	(void)state;
	assert_int_equal(digestinfo_build(HASH_SHA256, digest, 31, out, sizeof(out), &outlen), -1);
	assert_int_equal(digestinfo_build(HASH_SHA256, digest, 33, out, sizeof(out), &outlen), -1);
	assert_int_equal(digestinfo_build(HASH_SHA256, digest, 32, out, 50, &outlen), -1);
	assert_int_equal(digestinfo_build(HASH_SHA256, digest, 32, out, 51, &outlen), 0);
	assert_int_equal(outlen, 51);
	assert_int_equal(digestinfo_build(HASH_NONE, digest, 32, out, sizeof(out), &outlen), -1);
	assert_int_equal(digestinfo_build((hash_alg)42, digest, 32, out, sizeof(out), &outlen), -1);
	assert_int_equal(digestinfo_build(HASH_SHA256, NULL, 32, out, sizeof(out), &outlen), -1);
	assert_int_equal(digestinfo_build(HASH_SHA256, digest, 32, NULL, sizeof(out), &outlen), -1);
}

static void test_parse_malformed(void **state)
{
	uint8_t good[51], bad[64], blob[36];
	uint8_t digest[32];
	const uint8_t *d;
	size_t glen, dlen;
	hash_alg alg;
	(void)state;
	memset(digest, 0x11, sizeof(digest));
	assert_int_equal(digestinfo_build(HASH_SHA256, digest, 32, good, sizeof(good), &glen), 0);
	assert_int_equal(digestinfo_parse(good, glen, &alg, &d, &dlen), 0);

	/* The 36-byte TLS MD5||SHA-1 blob, whatever its content. */
	memset(blob, 0x30, sizeof(blob));
	assert_int_equal(digestinfo_parse(blob, sizeof(blob), &alg, &d, &dlen), -1);
	memset(blob, 0, sizeof(blob));
	assert_int_equal(digestinfo_parse(blob, sizeof(blob), &alg, &d, &dlen), -1);
	/* A bare digest. */
	assert_int_equal(digestinfo_parse(digest, 32, &alg, &d, &dlen), -1);
	assert_int_equal(digestinfo_parse(good, 0, &alg, &d, &dlen), -1);

	/* Every single-byte change of the header is refused. */
	for (size_t i = 0; i < 19; i++) {
		memcpy(bad, good, glen);
		bad[i] ^= 0x01;
		assert_int_equal(digestinfo_parse(bad, glen, &alg, &d, &dlen), -1);
	}
	/* Long-form length (BER, not DER): 30 81 31 ... */
	bad[0] = 0x30;
	bad[1] = 0x81;
	memcpy(bad + 2, good + 1, glen - 1);
	assert_int_equal(digestinfo_parse(bad, glen + 1, &alg, &d, &dlen), -1);
	/* Parameters other than NULL: 05 00 replaced by 04 00 (empty OCTET STRING). */
	memcpy(bad, good, glen);
	bad[15] = 0x04;
	assert_int_equal(digestinfo_parse(bad, glen, &alg, &d, &dlen), -1);
	/* MD5 DigestInfo. */
	{
		static const uint8_t md5[] = {0x30, 0x20, 0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48,
					      0x86, 0xf7, 0x0d, 0x02, 0x05, 0x05, 0x00, 0x04, 0x10,
					      1,    2,	  3,	4,    5,    6,	  7,	8,    9,
					      10,   11,	  12,	13,   14,   15,	  16};
		assert_int_equal(digestinfo_parse(md5, sizeof(md5), &alg, &d, &dlen), -1);
	}
	assert_int_equal(digestinfo_parse(NULL, glen, &alg, &d, &dlen), -1);
	assert_int_equal(digestinfo_parse(good, glen, NULL, &d, &dlen), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_build_parse_all),
	    cmocka_unit_test(test_build_errors),
	    cmocka_unit_test(test_parse_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
