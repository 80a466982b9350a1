/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/ecdsa_sig.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "ecdsa_sig.h"
#include "oid.h"

/* Real signatures from OpenSSL on the three curves: DER -> raw -> DER gives
 * back the same bytes, and the raw halves are the signature's r and s. */
static void test_real_signatures(void **state)
{
	static const int nids[] = {NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1};
	size_t c;
	int round;
	(void)state;
	for (c = 0; c < 3; c++) {
		const curve_info *ci = curve_by_nid(nids[c]);
		EVP_PKEY *pkey = EVP_EC_gen(OBJ_nid2sn(nids[c]));
		assert_non_null(ci);
		assert_non_null(pkey);
		for (round = 0; round < 20; round++) {
			EVP_MD_CTX *ctx = EVP_MD_CTX_new();
			uint8_t sig[160], raw[2 * 66], *der2 = NULL;
			size_t siglen = sizeof(sig), der2len = 0;
			const BIGNUM *r, *s;
			ECDSA_SIG *es;
			const unsigned char *p = sig;
			uint8_t rb[66], sb[66];

			assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey),
					 1);
			assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, (const uint8_t *)"m", 1),
					 1);
			EVP_MD_CTX_free(ctx);

			assert_int_equal(ecdsa_der_to_raw(sig, siglen, ci->field_len, raw), 0);
			es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
			assert_non_null(es);
			ECDSA_SIG_get0(es, &r, &s);
			BN_bn2binpad(r, rb, (int)ci->field_len);
			BN_bn2binpad(s, sb, (int)ci->field_len);
			assert_memory_equal(raw, rb, ci->field_len);
			assert_memory_equal(raw + ci->field_len, sb, ci->field_len);
			ECDSA_SIG_free(es);

			assert_int_equal(ecdsa_raw_to_der(raw, 2 * ci->field_len, &der2, &der2len),
					 0);
			assert_int_equal(der2len, siglen);
			assert_memory_equal(der2, sig, siglen);
			free(der2);

			/* A field too small for r or s is refused. */
			if (ci->field_len > 32)
				assert_int_equal(ecdsa_der_to_raw(sig, siglen, 32, raw), -1);
		}
		EVP_PKEY_free(pkey);
	}
}

static void test_padding(void **state)
{
	/* r = 1, s = 0x80 (needs a leading 00 in DER) */
	static const uint8_t der[] = {0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80};
	uint8_t raw[64], expect[64] = {0}, *der2 = NULL;
	size_t der2len;
	(void)state;
	expect[31] = 0x01;
	expect[63] = 0x80;
	assert_int_equal(ecdsa_der_to_raw(der, sizeof(der), 32, raw), 0);
	assert_memory_equal(raw, expect, 64);
	assert_int_equal(ecdsa_raw_to_der(expect, 64, &der2, &der2len), 0);
	assert_int_equal(der2len, sizeof(der));
	assert_memory_equal(der2, der, sizeof(der));
	free(der2);
	/* Smallest field that fits. */
	assert_int_equal(ecdsa_der_to_raw(der, sizeof(der), 1, raw), 0);
	assert_int_equal(raw[0], 0x01);
	assert_int_equal(raw[1], 0x80);
}

static void test_der_malformed(void **state)
{
	static const struct {
		const char *what;
		uint8_t der[16];
		size_t len;
	} bad[] = {
	    {"empty sequence", {0x30, 0x00}, 2},
	    {"one integer", {0x30, 0x03, 0x02, 0x01, 0x01}, 5},
	    {"three integers",
	     {0x30, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01},
	     11},
	    {"trailing byte", {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00}, 9},
	    {"long-form length", {0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, 9},
	    {"non-minimal integer", {0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01}, 9},
	    {"negative r", {0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01}, 8},
	    {"negative s", {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0xff}, 8},
	    {"zero r", {0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01}, 8},
	    {"zero s", {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00}, 8},
	    {"empty integer", {0x30, 0x05, 0x02, 0x00, 0x02, 0x01, 0x01}, 7},
	    {"wrong outer tag", {0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, 8},
	    {"wrong inner tag", {0x30, 0x06, 0x04, 0x01, 0x01, 0x02, 0x01, 0x01}, 8},
	    {"length too long", {0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, 8},
	    {"truncated", {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01}, 7},
	    {"indefinite length", {0x30, 0x80, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00, 0x00}, 10},
	};
	uint8_t raw[64];
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ecdsa_der_to_raw(bad[i].der, bad[i].len, 32, raw) != -1)
			fail_msg("accepted: %s", bad[i].what);
	}
	{
		static const uint8_t ok[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01};
		assert_int_equal(ecdsa_der_to_raw(ok, sizeof(ok), 32, raw), 0);
		assert_int_equal(ecdsa_der_to_raw(ok, sizeof(ok), 0, raw), -1);
		assert_int_equal(ecdsa_der_to_raw(ok, sizeof(ok), 1000, raw), -1);
		assert_int_equal(ecdsa_der_to_raw(ok, 0, 32, raw), -1);
		assert_int_equal(ecdsa_der_to_raw(NULL, sizeof(ok), 32, raw), -1);
		assert_int_equal(ecdsa_der_to_raw(ok, sizeof(ok), 32, NULL), -1);
	}
	/* r of 33 significant bytes does not fit a 32-byte field. */
	{
		uint8_t big[4 + 35 + 3];
		size_t n = 0;
		big[n++] = 0x30;
		big[n++] = 2 + 34 + 3;
		big[n++] = 0x02;
		big[n++] = 34;
		big[n++] = 0x00;
		memset(big + n, 0xff, 33);
		n += 33;
		big[n++] = 0x02;
		big[n++] = 0x01;
		big[n++] = 0x01;
		assert_int_equal(ecdsa_der_to_raw(big, n, 32, raw), -1);
		{
			uint8_t raw33[66];
			assert_int_equal(ecdsa_der_to_raw(big, n, 33, raw33), 0);
			assert_int_equal(raw33[0], 0xff);
			assert_int_equal(raw33[65], 0x01);
		}
	}
}

static void test_raw_malformed(void **state)
{
	uint8_t raw[64], *der = (uint8_t *)"x";
	size_t derlen = 5;
	(void)state;
	memset(raw, 0x42, sizeof(raw));
	assert_int_equal(ecdsa_raw_to_der(raw, 63, &der, &derlen), -1);
	assert_null(der);
	assert_int_equal(derlen, 0);
	assert_int_equal(ecdsa_raw_to_der(raw, 0, &der, &derlen), -1);
	assert_int_equal(ecdsa_raw_to_der(NULL, 64, &der, &derlen), -1);
	assert_int_equal(ecdsa_raw_to_der(raw, 64, NULL, &derlen), -1);
	/* All-zero r or s is not a signature. */
	memset(raw, 0, 32);
	assert_int_equal(ecdsa_raw_to_der(raw, 64, &der, &derlen), -1);
	memset(raw, 0x42, 32);
	memset(raw + 32, 0, 32);
	assert_int_equal(ecdsa_raw_to_der(raw, 64, &der, &derlen), -1);
	/* Leading zeros are dropped, high bit gets a 00. */
	memset(raw, 0, 64);
	raw[31] = 0x7f;
	raw[63] = 0xff;
	assert_int_equal(ecdsa_raw_to_der(raw, 64, &der, &derlen), 0);
	assert_int_equal(derlen, 9);
	assert_memory_equal(der, "\x30\x07\x02\x01\x7f\x02\x02\x00\xff", 9);
	free(der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_real_signatures),
	    cmocka_unit_test(test_padding),
	    cmocka_unit_test(test_der_malformed),
	    cmocka_unit_test(test_raw_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
