/* SPDX-License-Identifier: Apache-2.0 */
/* totp: RFC 6238 Appendix B (SHA-1) vectors, window, malformed codes, URI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "totp.h"

static const uint8_t rfc_key[] = "12345678901234567890";
#define RFC_KEYLEN 20

static const struct {
	int64_t t;
	uint32_t code8;
} rfc_vectors[] = {
    {59, 94287082u},	     {1111111109, 7081804u},  {1111111111, 14050471u},
    {1234567890, 89005924u}, {2000000000, 69279037u}, {20000000000LL, 65353130u},
};

static void test_rfc6238_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rfc_vectors) / sizeof(rfc_vectors[0]); i++) {
		uint64_t step = (uint64_t)rfc_vectors[i].t / TOTP_STEP;
		char code[16];

		assert_int_equal(totp_hotp(rfc_key, RFC_KEYLEN, step, 8), rfc_vectors[i].code8);
		/* The 6-digit code is the same truncation mod 10^6. */
		assert_int_equal(totp_hotp(rfc_key, RFC_KEYLEN, step, 6),
				 rfc_vectors[i].code8 % 1000000u);
		snprintf(code, sizeof(code), "%06u", rfc_vectors[i].code8 % 1000000u);
		assert_int_equal(
		    totp_check(rfc_key, RFC_KEYLEN, code, 6, (time_t)rfc_vectors[i].t, 0),
		    (int64_t)step);
	}
}

static void test_rfc4226_vectors(void **state)
{
	/* RFC 4226 Appendix D, same key, counters 0..9. */
	static const uint32_t hotp[] = {755224, 287082, 359152, 969429, 338314,
					254676, 287922, 162583, 399871, 520489};
	unsigned i;

	(void)state;
	for (i = 0; i < 10; i++)
		assert_int_equal(totp_hotp(rfc_key, RFC_KEYLEN, i, 6), hotp[i]);
}

static void code_at(int64_t t, char out[7])
{
	snprintf(out, 7, "%06u", totp_hotp(rfc_key, RFC_KEYLEN, (uint64_t)t / TOTP_STEP, 6));
}

static void test_window(void **state)
{
	const time_t now = 1111111111;
	const int64_t step = now / TOTP_STEP;
	char c[7];

	(void)state;
	code_at(now, c);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, c, 6, now, 1), step);
	code_at(now - TOTP_STEP, c);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, c, 6, now, 1), step - 1);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, c, 6, now, 0), -1);
	code_at(now + TOTP_STEP, c);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, c, 6, now, 1), step + 1);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, c, 6, now, 0), -1);
	/* Outside ±1. */
	code_at(now - 2 * TOTP_STEP, c);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, c, 6, now, 1), -1);
	code_at(now + 2 * TOTP_STEP, c);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, c, 6, now, 1), -1);
	/* A minute-old code (expired). */
	code_at(now - 4 * TOTP_STEP, c);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, c, 6, now, 1), -1);
}

static void test_bad_codes(void **state)
{
	const time_t now = 1234567890;
	char c[7], bad[16];

	(void)state;
	code_at(now, c);
	assert_true(totp_check(rfc_key, RFC_KEYLEN, c, 6, now, 1) >= 0);
	/* Wrong digit. */
	memcpy(bad, c, 7);
	bad[5] = bad[5] == '9' ? '0' : (char)(bad[5] + 1);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, bad, 6, now, 0), -1);
	/* Wrong lengths. */
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, c, 5, now, 1), -1);
	snprintf(bad, sizeof(bad), "%s0", c);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, bad, 7, now, 1), -1);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, "", 0, now, 1), -1);
	/* Non-digits. */
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, "12a456", 6, now, 1), -1);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, " 12345", 6, now, 1), -1);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, "-12345", 6, now, 1), -1);
	memcpy(bad, c, 7);
	bad[2] = '\0';
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, bad, 6, now, 1), -1);
	/* No key. */
	assert_int_equal(totp_check(rfc_key, 0, c, 6, now, 1), -1);
	assert_int_equal(totp_check(NULL, 0, c, 6, now, 1), -1);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, NULL, 6, now, 1), -1);
	/* Another key does not accept the code. */
	assert_int_equal(totp_check((const uint8_t *)"another key 12345678", 20, c, 6, now, 1), -1);
}

static void test_uri(void **state)
{
	char *u;

	(void)state;
	u = totp_uri("CISRES Test", "alice@example.org", rfc_key, RFC_KEYLEN);
	assert_non_null(u);
	assert_string_equal(u, "otpauth://totp/CISRES%20Test:alice%40example.org"
			       "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=CISRES%20Test"
			       "&algorithm=SHA1&digits=6&period=30");
	free(u);
	u = totp_uri("a:b&c", "x/y?z", rfc_key, RFC_KEYLEN);
	assert_non_null(u);
	assert_non_null(strstr(u, "otpauth://totp/a%3Ab%26c:x%2Fy%3Fz?"));
	assert_non_null(strstr(u, "&issuer=a%3Ab%26c&"));
	free(u);
	assert_null(totp_uri("i", "a", rfc_key, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc6238_vectors),
	    cmocka_unit_test(test_rfc4226_vectors),
	    cmocka_unit_test(test_window),
	    cmocka_unit_test(test_bad_codes),
	    cmocka_unit_test(test_uri),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
