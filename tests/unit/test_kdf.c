/* SPDX-License-Identifier: Apache-2.0 */
/* kdf: scrypt hash/verify round trip, wrong secrets, strict parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kdf.h"

#define LN 10

static void test_round_trip(void **state)
{
	char enc[256], enc2[256];

	(void)state;
	assert_int_equal(kdf_hash("correct horse", 13, LN, enc, sizeof(enc)), 0);
	assert_true(strncmp(enc, "$scrypt$ln=10,r=8,p=1$", 22) == 0);
	assert_int_equal(kdf_verify("correct horse", 13, enc), 1);
	/* Fresh salt each time. */
	assert_int_equal(kdf_hash("correct horse", 13, LN, enc2, sizeof(enc2)), 0);
	assert_string_not_equal(enc, enc2);
	assert_int_equal(kdf_verify("correct horse", 13, enc2), 1);
	/* Binary-safe: the length counts, not the NUL. */
	assert_int_equal(kdf_hash("a\0b", 3, LN, enc, sizeof(enc)), 0);
	assert_int_equal(kdf_verify("a\0b", 3, enc), 1);
	assert_int_equal(kdf_verify("a", 1, enc), 0);
	/* Empty secret. */
	assert_int_equal(kdf_hash("", 0, LN, enc, sizeof(enc)), 0);
	assert_int_equal(kdf_verify("", 0, enc), 1);
	assert_int_equal(kdf_verify("x", 1, enc), 0);
}

static void test_wrong_secret(void **state)
{
	char enc[256];

	(void)state;
	assert_int_equal(kdf_hash("1234", 4, LN, enc, sizeof(enc)), 0);
	assert_int_equal(kdf_verify("1235", 4, enc), 0);
	assert_int_equal(kdf_verify("123", 3, enc), 0);
	assert_int_equal(kdf_verify("12345", 5, enc), 0);
	assert_int_equal(kdf_verify("1234", 4, enc), 1);
}

static void test_bad_params(void **state)
{
	char enc[256];

	(void)state;
	assert_int_equal(kdf_hash("x", 1, 9, enc, sizeof(enc)), -1);
	assert_int_equal(kdf_hash("x", 1, 21, enc, sizeof(enc)), -1);
	/* Output buffer too small. */
	assert_int_equal(kdf_hash("x", 1, LN, enc, 20), -1);
	assert_int_equal(kdf_verify("x", 1, NULL), -1);
}

/* Replace the first occurrence of 'from' in src by 'to'. */
static void subst(char *out, size_t cap, const char *src, const char *from, const char *to)
{
	const char *p = strstr(src, from);

	assert_non_null(p);
	snprintf(out, cap, "%.*s%s%s", (int)(p - src), src, to, p + strlen(from));
}

static void test_malformed(void **state)
{
	char enc[256], bad[512];
	const char *salt, *dk;
	size_t i;
	static const char *const fixed[] = {
	    "",
	    "$scrypt$",
	    "$scrypt$ln=10,r=8,p=1$",
	    "$scrypt$ln=10,r=8,p=1$$",
	    "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
	    "$scrypt$ln=10,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==",
	};

	(void)state;
	assert_int_equal(kdf_hash("pw", 2, LN, enc, sizeof(enc)), 0);
	assert_int_equal(kdf_verify("pw", 2, enc), 1);
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		assert_int_equal(kdf_verify("pw", 2, fixed[i]), -1);

	/* Cost parameters out of bounds or not exactly as expected. */
	subst(bad, sizeof(bad), enc, "ln=10", "ln=9");
	assert_int_equal(kdf_verify("pw", 2, bad), -1);
	subst(bad, sizeof(bad), enc, "ln=10", "ln=21");
	assert_int_equal(kdf_verify("pw", 2, bad), -1);
	subst(bad, sizeof(bad), enc, "ln=10", "ln=010");
	assert_int_equal(kdf_verify("pw", 2, bad), -1);
	subst(bad, sizeof(bad), enc, "ln=10", "ln=+10");
	assert_int_equal(kdf_verify("pw", 2, bad), -1);
	subst(bad, sizeof(bad), enc, "r=8", "r=16");
	assert_int_equal(kdf_verify("pw", 2, bad), -1);
	subst(bad, sizeof(bad), enc, "p=1", "p=2");
	assert_int_equal(kdf_verify("pw", 2, bad), -1);
	subst(bad, sizeof(bad), enc, "$scrypt$", "$SCRYPT$");
	assert_int_equal(kdf_verify("pw", 2, bad), -1);
	subst(bad, sizeof(bad), enc, ",r=8", "");
	assert_int_equal(kdf_verify("pw", 2, bad), -1);

	/* Salt and hash fields. */
	salt = strchr(enc + 9, '$') + 1;
	dk = strchr(salt, '$') + 1;
	/* Truncated hash (last base64 quantum removed). */
	snprintf(bad, sizeof(bad), "%.*s", (int)(strlen(enc) - 4), enc);
	assert_int_equal(kdf_verify("pw", 2, bad), -1);
	/* Trailing garbage / extra field. */
	snprintf(bad, sizeof(bad), "%s$", enc);
	assert_int_equal(kdf_verify("pw", 2, bad), -1);
	snprintf(bad, sizeof(bad), "%sAAAA", enc);
	assert_int_equal(kdf_verify("pw", 2, bad), -1);
	/* Not base64 in the salt. */
	snprintf(bad, sizeof(bad), "%.*s!%s", (int)(salt - enc), enc, salt + 1);
	assert_int_equal(kdf_verify("pw", 2, bad), -1);
	/* Salt of the wrong length (12 bytes). */
	snprintf(bad, sizeof(bad), "%.*sAAAAAAAAAAAAAAAA$%s", (int)(salt - enc), enc, dk);
	assert_int_equal(kdf_verify("pw", 2, bad), -1);
	/* Over-long input. */
	memset(bad, 'A', sizeof(bad) - 1);
	bad[sizeof(bad) - 1] = '\0';
	memcpy(bad, enc, strlen(enc));
	assert_int_equal(kdf_verify("pw", 2, bad), -1);

	/* A flipped bit in the stored hash is a mismatch, not a match. */
	snprintf(bad, sizeof(bad), "%s", enc);
	{
		char *q = bad + (dk - enc);
		*q = *q == 'A' ? 'B' : 'A';
	}
	assert_int_not_equal(kdf_verify("pw", 2, bad), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_wrong_secret),
	    cmocka_unit_test(test_bad_params),
	    cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
