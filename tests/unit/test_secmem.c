/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/secmem.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "secmem.h"

/* AddressSanitizer replaces mlock() with a no-op. */
#if defined(__SANITIZE_ADDRESS__)
#define MLOCK_WORKS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MLOCK_WORKS 0
#endif
#endif
#ifndef MLOCK_WORKS
#define MLOCK_WORKS 1
#endif

static void test_zero_and_free(void **state)
{
	uint8_t buf[33];
	char *s;
	void *p;
	(void)state;
	memset(buf, 0xaa, sizeof(buf));
	sec_zero(buf + 1, 31);
	assert_int_equal(buf[0], 0xaa);
	assert_int_equal(buf[32], 0xaa);
	for (size_t i = 1; i < 32; i++)
		assert_int_equal(buf[i], 0);
	sec_zero(NULL, 10);
	sec_zero(buf, 0);
	assert_int_equal(buf[0], 0xaa);
	sec_free(NULL, 10);
	sec_strfree(NULL);
	p = malloc(16);
	assert_non_null(p);
	sec_free(p, 16);
	s = strdup("secret");
	assert_non_null(s);
	sec_strfree(s);
}

static void test_equal(void **state)
{
	uint8_t a[64], b[64];
	(void)state;
	memset(a, 0x5c, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_true(sec_equal(a, b, sizeof(a)));
	b[0] ^= 1;
	assert_false(sec_equal(a, b, sizeof(a)));
	assert_true(sec_equal(a + 1, b + 1, sizeof(a) - 1));
	b[0] ^= 1;
	b[63] ^= 0x80;
	assert_false(sec_equal(a, b, sizeof(a)));
	assert_true(sec_equal(a, b, 63));
	assert_true(sec_equal(a, b, 0));
	assert_false(sec_equal(NULL, b, 1));
	assert_false(sec_equal(a, NULL, 1));
}

static void test_streq(void **state)
{
	(void)state;
	assert_true(sec_streq("123456", 6, "123456", 6));
	assert_false(sec_streq("123456", 6, "123457", 6));
	assert_false(sec_streq("123456", 6, "023456", 6));
	assert_false(sec_streq("12345", 5, "123456", 6));
	assert_false(sec_streq("123456", 6, "12345", 5));
	/* A NUL byte is content too: "abc\0" differs from "abc". */
	assert_false(sec_streq("abc\0", 4, "abc", 3));
	assert_false(sec_streq("abc", 3, "abc\0", 4));
	assert_true(sec_streq("a\0b", 3, "a\0b", 3));
	assert_false(sec_streq("a\0b", 3, "a\0c", 3));
	/* Every bit of every byte counts. */
	for (int bit = 0; bit < 8; bit++) {
		char x[3] = {'p', 'q', 'r'}, y[3] = {'p', 'q', 'r'};
		y[2] = (char)(y[2] ^ (1 << bit));
		assert_false(sec_streq(x, 3, y, 3));
		y[2] = x[2];
		y[0] = (char)(y[0] ^ (1 << bit));
		assert_false(sec_streq(x, 3, y, 3));
	}
	assert_true(sec_streq("", 0, "", 0));
	assert_true(sec_streq(NULL, 0, "", 0));
	assert_false(sec_streq("", 0, "x", 1));
	assert_false(sec_streq(NULL, 1, "x", 1));
	/* Only the given lengths are compared. */
	assert_true(sec_streq("abcdef", 3, "abcxyz", 3));
}

/* The VmFlags of the mapping that contains p, from /proc/self/smaps. */
static int vmflags_of(const void *p, char *flags, size_t cap)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int inside = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (inside && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(flags, cap, "%s", line + 8);
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	return -1;
}

static void test_locked_alloc(void **state)
{
	long ps = sysconf(_SC_PAGESIZE);
	size_t sizes[] = {1, 100, (size_t)ps, (size_t)ps + 1, 3 * (size_t)ps};
	struct rlimit rl;
	char flags[512];
	(void)state;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint8_t *p = sec_locked_alloc(sizes[k]);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % (uintptr_t)ps, 0);
		for (size_t i = 0; i < sizes[k]; i++)
			assert_int_equal(p[i], 0);
		memset(p, 0xee, sizes[k]);
		assert_int_equal(vmflags_of(p, flags, sizeof(flags)), 0);
		/* dd: excluded from core dumps */
		assert_non_null(strstr(flags, " dd"));
		/* lo: locked, when the limit allows it */
		if (MLOCK_WORKS && (geteuid() == 0 || (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
						       rl.rlim_cur >= 16 * (rlim_t)ps)))
			assert_non_null(strstr(flags, " lo"));
		sec_unlock_free(p, sizes[k]);
		/* The mapping is gone. */
		assert_int_equal(vmflags_of(p, flags, sizeof(flags)), -1);
	}
	sec_unlock_free(NULL, 10);
	assert_null(sec_locked_alloc(SIZE_MAX));
}

static void test_locked_strndup(void **state)
{
	char *s = sec_locked_strndup("pin123xyz", 6);
	(void)state;
	assert_non_null(s);
	assert_string_equal(s, "pin123");
	sec_unlock_free(s, 7);
	s = sec_locked_strndup("", 0);
	assert_non_null(s);
	assert_string_equal(s, "");
	sec_unlock_free(s, 1);
	assert_null(sec_locked_strndup(NULL, 3));
	assert_null(sec_locked_strndup("x", SIZE_MAX));
}

static void test_random(void **state)
{
	uint8_t a[32], b[32], z[32] = {0};
	(void)state;
	assert_int_equal(sec_random(a, sizeof(a)), 0);
	assert_int_equal(sec_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, z, sizeof(a));
	assert_int_equal(sec_random(a, 0), 0);
	assert_int_equal(sec_random(NULL, 0), 0);
	assert_int_equal(sec_random(NULL, 4), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_zero_and_free),  cmocka_unit_test(test_equal),
	    cmocka_unit_test(test_streq),	   cmocka_unit_test(test_locked_alloc),
	    cmocka_unit_test(test_locked_strndup), cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
