/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/pss.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "b64.h"
#include "pss.h"

static const char VECTOR_B64[] =
    "MDSgDzANBglghkgBZQMEAgEFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgEFAKIDAgEg";

/* Pieces of hand-made encodings. */
#define ALG_SHA256                                                                                 \
	0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00
#define ALG_SHA256_NOPARAM                                                                         \
	0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01
#define ALG_SHA1 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00
#define ALG_MD5 0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05, 0x05, 0x00
#define OID_MGF1 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08
#define OID_MGF2 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x09

static int decode(const uint8_t *der, size_t len, pss_params *p)
{
	memset(p, 0x7f, sizeof(*p));
	return pss_params_decode(der, len, p);
}

static void test_vector(void **state)
{
	uint8_t *der = NULL, *enc = NULL;
	size_t derlen = 0, enclen = 0;
	pss_params p;
	(void)state;
	assert_int_equal(b64_decode(VECTOR_B64, strlen(VECTOR_B64), 1000, &der, &derlen), 0);
	assert_int_equal(decode(der, derlen, &p), 0);
	assert_int_equal(p.hash, HASH_SHA256);
	assert_int_equal(p.mgf_hash, HASH_SHA256);
	assert_int_equal(p.salt_len, 32);
	assert_int_equal(pss_params_encode(&p, &enc, &enclen), 0);
	assert_int_equal(enclen, derlen);
	assert_memory_equal(enc, der, derlen);
	free(enc);
	free(der);
}

static void test_defaults(void **state)
{
	static const uint8_t empty[] = {0x30, 0x00};
	pss_params p, d = {HASH_SHA1, HASH_SHA1, 20};
	uint8_t *enc = NULL;
	size_t enclen;
	(void)state;
	assert_int_equal(decode(empty, sizeof(empty), &p), 0);
	assert_int_equal(p.hash, HASH_SHA1);
	assert_int_equal(p.mgf_hash, HASH_SHA1);
	assert_int_equal(p.salt_len, 20);
	/* DER omits values equal to their DEFAULT. */
	assert_int_equal(pss_params_encode(&d, &enc, &enclen), 0);
	assert_int_equal(enclen, 2);
	assert_memory_equal(enc, empty, 2);
	free(enc);
	/* Only the salt differs. */
	d.salt_len = 0;
	assert_int_equal(pss_params_encode(&d, &enc, &enclen), 0);
	assert_int_equal(enclen, 7);
	assert_memory_equal(enc, "\x30\x05\xa2\x03\x02\x01\x00", 7);
	free(enc);
	/* Hash SHA-256, MGF1 with the default SHA-1. */
	{
		static const uint8_t exp[] = {0x30, 0x11, 0xa0, 0x0f, ALG_SHA256};
		pss_params q = {HASH_SHA256, HASH_SHA1, 20};
		assert_int_equal(pss_params_encode(&q, &enc, &enclen), 0);
		assert_int_equal(enclen, sizeof(exp));
		assert_memory_equal(enc, exp, sizeof(exp));
		assert_int_equal(decode(enc, enclen, &p), 0);
		assert_int_equal(p.hash, HASH_SHA256);
		assert_int_equal(p.mgf_hash, HASH_SHA1);
		assert_int_equal(p.salt_len, 20);
		free(enc);
	}
}

static void test_roundtrip_all(void **state)
{
	static const hash_alg hs[] = {HASH_SHA1,   HASH_SHA224,	  HASH_SHA256,	 HASH_SHA384,
				      HASH_SHA512, HASH_SHA3_256, HASH_SHA3_384, HASH_SHA3_512};
	static const int salts[] = {0, 1, 20, 32, 48, 64, 127, 128, 255, 256, 1024};
	size_t i, j, k;
	(void)state;
	for (i = 0; i < 8; i++) {
		for (j = 0; j < 8; j++) {
			for (k = 0; k < sizeof(salts) / sizeof(salts[0]); k++) {
				pss_params in = {hs[i], hs[j], salts[k]}, out;
				uint8_t *enc = NULL;
				size_t enclen = 0;
				assert_int_equal(pss_params_encode(&in, &enc, &enclen), 0);
				assert_int_equal(decode(enc, enclen, &out), 0);
				assert_int_equal(out.hash, in.hash);
				assert_int_equal(out.mgf_hash, in.mgf_hash);
				assert_int_equal(out.salt_len, in.salt_len);
				free(enc);
			}
		}
	}
}

static void test_encode_errors(void **state)
{
	pss_params p = {HASH_SHA256, HASH_SHA256, 32};
	uint8_t *enc = (uint8_t *)"x";
	size_t enclen = 3;
	(void)state;
	p.salt_len = -1;
	assert_int_equal(pss_params_encode(&p, &enc, &enclen), -1);
	assert_null(enc);
	assert_int_equal(enclen, 0);
	p.salt_len = 1025;
	assert_int_equal(pss_params_encode(&p, &enc, &enclen), -1);
	p.salt_len = 32;
	p.hash = HASH_NONE;
	assert_int_equal(pss_params_encode(&p, &enc, &enclen), -1);
	p.hash = HASH_SHA256;
	p.mgf_hash = (hash_alg)77;
	assert_int_equal(pss_params_encode(&p, &enc, &enclen), -1);
	assert_int_equal(pss_params_encode(NULL, &enc, &enclen), -1);
	p.mgf_hash = HASH_SHA256;
	assert_int_equal(pss_params_encode(&p, NULL, &enclen), -1);
}

/* Non-DER but widespread: defaults written out, absent hash parameters. */
static void test_decode_tolerated(void **state)
{
	static const uint8_t explicit_defaults[] = {
	    0x30, 0x31, 0xa0, 0x0b, ALG_SHA1, 0xa1, 0x18, 0x30, 0x16, OID_MGF1, ALG_SHA1,
	    0xa2, 0x03, 0x02, 0x01, 0x14,     0xa3, 0x03, 0x02, 0x01, 0x01};
	static const uint8_t noparam[] = {0x30, 0x30, 0xa0, 0x0d,     ALG_SHA256_NOPARAM, 0xa1,
					  0x1a, 0x30, 0x18, OID_MGF1, ALG_SHA256_NOPARAM, 0xa2,
					  0x03, 0x02, 0x01, 0x20};
	pss_params p;
	(void)state;
	assert_int_equal(decode(explicit_defaults, sizeof(explicit_defaults), &p), 0);
	assert_int_equal(p.hash, HASH_SHA1);
	assert_int_equal(p.mgf_hash, HASH_SHA1);
	assert_int_equal(p.salt_len, 20);
	assert_int_equal(decode(noparam, sizeof(noparam), &p), 0);
	assert_int_equal(p.hash, HASH_SHA256);
	assert_int_equal(p.mgf_hash, HASH_SHA256);
	assert_int_equal(p.salt_len, 32);
}

static void test_decode_malformed(void **state)
{
	static const struct {
		const char *what;
		uint8_t der[64];
		size_t len;
	} bad[] = {
	    {"empty", {0}, 0},
	    {"not a sequence", {0x31, 0x00}, 2},
	    {"trailing byte", {0x30, 0x00, 0x00}, 3},
	    {"long-form length", {0x30, 0x81, 0x00}, 3},
	    {"indefinite length", {0x30, 0x80, 0x00, 0x00}, 4},
	    {"trailer 2", {0x30, 0x05, 0xa3, 0x03, 0x02, 0x01, 0x02}, 7},
	    {"trailer 0", {0x30, 0x05, 0xa3, 0x03, 0x02, 0x01, 0x00}, 7},
	    {"negative salt", {0x30, 0x05, 0xa2, 0x03, 0x02, 0x01, 0xff}, 7},
	    {"salt 1025", {0x30, 0x06, 0xa2, 0x04, 0x02, 0x02, 0x04, 0x01}, 8},
	    {"huge salt",
	     {0x30, 0x0c, 0xa2, 0x0a, 0x02, 0x08, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	     14},
	    {"non-minimal salt", {0x30, 0x06, 0xa2, 0x04, 0x02, 0x02, 0x00, 0x20}, 8},
	    {"salt not an integer", {0x30, 0x05, 0xa2, 0x03, 0x04, 0x01, 0x20}, 7},
	    {"MD5 hash", {0x30, 0x10, 0xa0, 0x0e, ALG_MD5}, 18},
	    {"hash with params",
	     {0x30, 0x11, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
	      0x04, 0x02, 0x01, 0x02, 0x00},
	     19},
	    {"unknown mask function",
	     {0x30, 0x1e, 0xa1, 0x1c, 0x30, 0x1a, OID_MGF2, ALG_SHA256},
	     32},
	    {"MGF1 without params", {0x30, 0x0f, 0xa1, 0x0d, 0x30, 0x0b, OID_MGF1}, 17},
	    {"MGF1 with NULL params",
	     {0x30, 0x11, 0xa1, 0x0f, 0x30, 0x0d, OID_MGF1, 0x05, 0x00},
	     19},
	    {"MGF1 with MD5", {0x30, 0x1d, 0xa1, 0x1b, 0x30, 0x19, OID_MGF1, ALG_MD5}, 31},
	    {"MGF1 inner trailing",
	     {0x30, 0x20, 0xa1, 0x1e, 0x30, 0x1c, OID_MGF1, 0x30, 0x0f, 0x06, 0x09, 0x60,
	      0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,	    0x01, 0x05, 0x00, 0x05, 0x00},
	     34},
	    {"wrong context tag", {0x30, 0x05, 0xa4, 0x03, 0x02, 0x01, 0x20}, 7},
	    {"fields out of order",
	     {0x30, 0x16, 0xa2, 0x03, 0x02, 0x01, 0x20, 0xa0, 0x0f, ALG_SHA256},
	     24},
	};
	pss_params p;
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (decode(bad[i].der, bad[i].len, &p) != -1)
			fail_msg("accepted: %s", bad[i].what);
	}
	/* Every truncation of the test vector is refused. */
	{
		uint8_t *der = NULL;
		size_t derlen = 0, n;
		assert_int_equal(b64_decode(VECTOR_B64, strlen(VECTOR_B64), 1000, &der, &derlen),
				 0);
		for (n = 0; n < derlen; n++)
			assert_int_equal(decode(der, n, &p), -1);
		free(der);
	}
	assert_int_equal(pss_params_decode(NULL, 2, &p), -1);
	assert_int_equal(pss_params_decode((const uint8_t *)"\x30\x00", 2, NULL), -1);
	/* salt 1024 is the largest accepted */
	assert_int_equal(decode((const uint8_t *)"\x30\x06\xa2\x04\x02\x02\x04\x00", 8, &p), 0);
	assert_int_equal(p.salt_len, 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vector),	     cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_roundtrip_all),    cmocka_unit_test(test_encode_errors),
	    cmocka_unit_test(test_decode_tolerated), cmocka_unit_test(test_decode_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
