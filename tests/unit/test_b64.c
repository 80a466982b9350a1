/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/b64.c: Base64, Base32, hex. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "b64.h"

/* RFC 4648 §10 test vectors. */
static const char *const RFC_IN[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const RFC_B64[] = {"",	  "Zg==",     "Zm8=",	 "Zm9v",
				      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
static const char *const RFC_B32[] = {"",	 "MY",	     "MZXQ",	  "MZXW6",
				      "MZXW6YQ", "MZXW6YTB", "MZXW6YTBOI"};
static const char *const RFC_B32_PAD[] = {
    "", "MY======", "MZXQ====", "MZXW6===", "MZXW6YQ=", "MZXW6YTB", "MZXW6YTBOI======"};

static void test_b64_rfc_vectors(void **state)
{
	size_t i;
	(void)state;
	for (i = 0; i < 7; i++) {
		char *enc = b64_encode((const uint8_t *)RFC_IN[i], strlen(RFC_IN[i]));
		uint8_t *dec = NULL;
		size_t dlen = 99;
		assert_non_null(enc);
		assert_string_equal(enc, RFC_B64[i]);
		assert_int_equal(b64_decode(enc, strlen(enc), 100, &dec, &dlen), 0);
		assert_non_null(dec);
		assert_int_equal(dlen, strlen(RFC_IN[i]));
		assert_memory_equal(dec, RFC_IN[i], dlen);
		free(dec);
		free(enc);
	}
}

static void test_b64_random_vs_openssl(void **state)
{
	uint8_t in[300], buf[300];
	unsigned char ref[4 * 100 + 1];
	size_t len, outlen;
	(void)state;
	for (len = 0; len < 300; len += 7) {
		char *enc;
		int rlen;
		assert_int_equal(RAND_bytes(in, (int)len + 1), 1);
		enc = b64_encode(in, len);
		assert_non_null(enc);
		rlen = EVP_EncodeBlock(ref, in, (int)len);
		assert_int_equal(strlen(enc), (size_t)rlen);
		assert_memory_equal(enc, ref, (size_t)rlen);
		assert_int_equal(b64_decode_buf(enc, strlen(enc), buf, sizeof(buf), &outlen), 0);
		assert_int_equal(outlen, len);
		assert_memory_equal(buf, in, len);
		free(enc);
	}
}

static void test_b64_all_byte_values(void **state)
{
	uint8_t in[256], out[256];
	size_t i, outlen;
	char *enc;
	(void)state;
	for (i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	enc = b64_encode(in, sizeof(in));
	assert_non_null(enc);
	assert_int_equal(b64_decode_buf(enc, strlen(enc), out, sizeof(out), &outlen), 0);
	assert_int_equal(outlen, 256);
	assert_memory_equal(in, out, 256);
	free(enc);
}

static void test_b64_malformed(void **state)
{
	static const char *const bad[] = {
	    "Zg",	/* missing padding */
	    "Zg=",	/* short padding */
	    "Zg===",	/* too much padding */
	    "Z===",	/* three pad characters */
	    "====",	/* only padding */
	    "Zh==",	/* non-zero trailing bits (1 byte) */
	    "Zm9=",	/* non-zero trailing bits (2 bytes) */
	    "Zm9v\n",	/* newline */
	    "Zm9 v",	/* space */
	    " Zm9v",	/* leading space */
	    "Zm9v ",	/* trailing space */
	    "Zm-v",	/* base64url alphabet */
	    "Zm_v",	/* base64url alphabet */
	    "Zg==Zg==", /* padding in the middle */
	    "Z=g=",	/* padding then data */
	    "Zm9vYg=a", /* data after padding */
	    "Zm9\x80",	/* 8-bit */
	    "Zm9v=",	/* stray padding */
	    "A",	/* 1 char */
	    "AB",	/* 2 chars */
	    "ABC",	/* 3 chars */
	    "Zm9vY",	/* 5 chars */
	};
	uint8_t buf[64], *out = (uint8_t *)"x";
	size_t i, outlen = 77;
	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(b64_decode(bad[i], strlen(bad[i]), 1000, &out, &outlen), -1);
		assert_null(out);
		assert_int_equal(outlen, 0);
		assert_int_equal(b64_decode_buf(bad[i], strlen(bad[i]), buf, sizeof(buf), &outlen),
				 -1);
	}
	/* Embedded NUL. */
	assert_int_equal(b64_decode("Zm\0v", 4, 1000, &out, &outlen), -1);
	/* NULL arguments. */
	assert_int_equal(b64_decode(NULL, 4, 1000, &out, &outlen), -1);
	assert_int_equal(b64_decode("Zm9v", 4, 1000, NULL, &outlen), -1);
	assert_int_equal(b64_decode("Zm9v", 4, 1000, &out, NULL), -1);
	assert_int_equal(b64_decode_buf("Zm9v", 4, NULL, 3, &outlen), -1);
}

static void test_b64_limits(void **state)
{
	uint8_t buf[6], *out = NULL;
	size_t outlen = 0;
	(void)state;
	/* max_in */
	assert_int_equal(b64_decode("Zm9vYmFy", 8, 7, &out, &outlen), -1);
	assert_int_equal(b64_decode("Zm9vYmFy", 8, 8, &out, &outlen), 0);
	assert_int_equal(outlen, 6);
	free(out);
	/* capacity */
	assert_int_equal(b64_decode_buf("Zm9vYmFy", 8, buf, 5, &outlen), -1);
	assert_int_equal(b64_decode_buf("Zm9vYmFy", 8, buf, 6, &outlen), 0);
	assert_int_equal(b64_decode_buf("Zm9vYg==", 8, buf, 4, &outlen), 0);
	assert_int_equal(outlen, 4);
	assert_int_equal(b64_decode_buf("Zm9vYg==", 8, buf, 3, &outlen), -1);
	/* Only the prefix given by inlen is read. */
	assert_int_equal(b64_decode_buf("Zm9vYmFy", 4, buf, 6, &outlen), 0);
	assert_int_equal(outlen, 3);
	/* Empty input. */
	assert_int_equal(b64_decode("", 0, 10, &out, &outlen), 0);
	assert_non_null(out);
	assert_int_equal(outlen, 0);
	free(out);
	assert_int_equal(b64_decode_buf("", 0, NULL, 0, &outlen), 0);
	assert_int_equal(outlen, 0);
}

static void test_b64_encode_edge(void **state)
{
	char *s;
	(void)state;
	s = b64_encode(NULL, 0);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	assert_null(b64_encode(NULL, 3));
	s = b64_encode((const uint8_t *)"\xfb\xff", 2);
	assert_string_equal(s, "+/8=");
	free(s);
}

static void test_b32_rfc_vectors(void **state)
{
	uint8_t buf[16];
	size_t i, outlen;
	(void)state;
	for (i = 0; i < 7; i++) {
		char *enc = b32_encode((const uint8_t *)RFC_IN[i], strlen(RFC_IN[i]));
		assert_non_null(enc);
		assert_string_equal(enc, RFC_B32[i]);
		free(enc);
		/* Without padding. */
		assert_int_equal(
		    b32_decode(RFC_B32[i], strlen(RFC_B32[i]), buf, sizeof(buf), &outlen), 0);
		assert_int_equal(outlen, strlen(RFC_IN[i]));
		assert_memory_equal(buf, RFC_IN[i], outlen);
		/* With padding. */
		assert_int_equal(
		    b32_decode(RFC_B32_PAD[i], strlen(RFC_B32_PAD[i]), buf, sizeof(buf), &outlen),
		    0);
		assert_int_equal(outlen, strlen(RFC_IN[i]));
		assert_memory_equal(buf, RFC_IN[i], outlen);
	}
}

static void test_b32_case_and_roundtrip(void **state)
{
	/* RFC 6238 seed "12345678901234567890" */
	static const char seed[] = "12345678901234567890";
	uint8_t buf[64], rnd[41];
	size_t outlen, len;
	char *enc;
	(void)state;
	enc = b32_encode((const uint8_t *)seed, 20);
	assert_string_equal(enc, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
	free(enc);
	assert_int_equal(
	    b32_decode("gezdgnbvgy3tqojqgezdgnbvgy3tqojq", 32, buf, sizeof(buf), &outlen), 0);
	assert_int_equal(outlen, 20);
	assert_memory_equal(buf, seed, 20);
	for (len = 0; len <= 40; len++) {
		assert_int_equal(RAND_bytes(rnd, (int)len + 1), 1);
		enc = b32_encode(rnd, len);
		assert_non_null(enc);
		assert_int_equal(strlen(enc), (len * 8 + 4) / 5);
		assert_int_equal(b32_decode(enc, strlen(enc), buf, sizeof(buf), &outlen), 0);
		assert_int_equal(outlen, len);
		assert_memory_equal(buf, rnd, len);
		free(enc);
	}
}

static void test_b32_malformed(void **state)
{
	static const char *const bad[] = {
	    "M",	 /* impossible length 1 */
	    "MZX",	 /* impossible length 3 */
	    "MZXW6Y",	 /* impossible length 6 */
	    "MZ",	 /* non-zero trailing bits */
	    "MY=",	 /* padding not to a multiple of 8 */
	    "MY=======", /* 9 chars */
	    "MY=====",	 /* 7 chars */
	    "MZXQ=====", /* too much padding */
	    "MY====== ", /* trailing space */
	    "M Y",	 /* space */
	    "MY0=====",	 /* '0' not in alphabet */
	    "MY1=====",	 /* '1' not in alphabet */
	    "MY8=====",	 /* '8' not in alphabet */
	    "========",	 /* only padding */
	    "MY==MY==",	 /* padding in the middle */
	};
	uint8_t buf[16];
	size_t i, outlen;
	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(b32_decode(bad[i], strlen(bad[i]), buf, sizeof(buf), &outlen), -1);
	/* Capacity. */
	assert_int_equal(b32_decode("MZXW6YTBOI", 10, buf, 5, &outlen), -1);
	assert_int_equal(b32_decode("MZXW6YTBOI", 10, buf, 6, &outlen), 0);
	assert_int_equal(b32_decode("MZXW6YTBOI", 10, NULL, 6, &outlen), -1);
}

static void test_hex(void **state)
{
	static const uint8_t bin[] = {0x00, 0x01, 0xab, 0xcd, 0xef, 0xff};
	char out[13];
	uint8_t back[6];
	size_t outlen;
	(void)state;
	assert_int_equal(hex_encode(bin, sizeof(bin), out, sizeof(out)), 0);
	assert_string_equal(out, "0001abcdefff");
	assert_int_equal(hex_encode(bin, sizeof(bin), out, sizeof(out) - 1), -1);
	assert_int_equal(hex_encode(bin, 0, out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(hex_encode(bin, 0, out, 0), -1);
	assert_int_equal(hex_decode("0001ABcdEFff", 12, back, sizeof(back), &outlen), 0);
	assert_int_equal(outlen, 6);
	assert_memory_equal(back, bin, 6);
	assert_int_equal(hex_decode("0001abcdefff", 12, back, 5, &outlen), -1);
	assert_int_equal(hex_decode("000", 3, back, 6, &outlen), -1);
	assert_int_equal(hex_decode("0g", 2, back, 6, &outlen), -1);
	assert_int_equal(hex_decode("g0", 2, back, 6, &outlen), -1);
	assert_int_equal(hex_decode(" 0", 2, back, 6, &outlen), -1);
	assert_int_equal(hex_decode("0x00", 4, back, 6, &outlen), -1);
	assert_int_equal(hex_decode("", 0, back, 0, &outlen), 0);
	assert_int_equal(outlen, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_b64_rfc_vectors),
	    cmocka_unit_test(test_b64_random_vs_openssl),
	    cmocka_unit_test(test_b64_all_byte_values),
	    cmocka_unit_test(test_b64_malformed),
	    cmocka_unit_test(test_b64_limits),
	    cmocka_unit_test(test_b64_encode_edge),
	    cmocka_unit_test(test_b32_rfc_vectors),
	    cmocka_unit_test(test_b32_case_and_roundtrip),
	    cmocka_unit_test(test_b32_malformed),
	    cmocka_unit_test(test_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
