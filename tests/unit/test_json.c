/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/json.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static cJSON *parse(const char *s, bool want_object)
{
	return json_parse(s, strlen(s), 4096, 8, want_object);
}

static void test_parse_ok(void **state)
{
	static const char *const good[] = {
	    "{}",
	    "{\"a\":1}",
	    "  {\"a\" : [1, 2, {\"b\": null}]}  \r\n\t",
	    "\n{\"s\":\"\\u00e9\\n\"}",
	    "{\"a\":{\"a\":{\"a\":1}}}",
	};
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cJSON *j = parse(good[i], true);
		assert_non_null(j);
		cJSON_Delete(j);
	}
}

static void test_parse_malformed(void **state)
{
	static const char *const bad[] = {
	    "",
	    " ",
	    "{",
	    "}",
	    "{\"a\":}",
	    "{\"a\":1,}",
	    "{\"a\":1} x",
	    "{\"a\":1}{}",
	    "{\"a\":1}\v",			 /* vertical tab is not JSON whitespace */
	    "\f{\"a\":1}",			 /* form feed neither */
	    "{\"a\":\"x\x01y\"}",		 /* control character in a string */
	    "{\"a\":\"x\\u0000y\"}",		 /* NUL escape would truncate */
	    "{\"a\":1, \"a\":2}",		 /* duplicate member */
	    "{\"o\":{\"k\":1,\"j\":2,\"k\":3}}", /* nested duplicate */
	    "{'a':1}",
	    "{\"a\":NaN}",
	    "{\"a\":Infinity}",
	    "{\"a\":1e400}", /* overflows to infinity */
	    "[-1e999]",
	    "{\"a\":tru}",
	    "{\"a\":\"unterminated}",
	    "{\"a\":\"bad escape \\x\"}",
	};
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *j = parse(bad[i], false);
		if (j != NULL)
			fail_msg("accepted: %s", bad[i]);
	}
	/* Embedded NUL inside the given length. */
	assert_null(json_parse("{\"a\":1}\0", 8, 4096, 8, true));
	assert_null(json_parse("{\"a\":\"x\0y\"}", 11, 4096, 8, true));
	/* The length bounds the parse: a valid prefix is not enough. */
	assert_null(json_parse("{\"a\":1}", 6, 4096, 8, true));
	/* A valid document inside a longer buffer is parsed by its length. */
	{
		cJSON *j = json_parse("{\"a\":1}garbage", 7, 4096, 8, true);
		assert_non_null(j);
		cJSON_Delete(j);
	}
	assert_null(json_parse(NULL, 0, 10, 8, false));
}

static void test_parse_want_object(void **state)
{
	cJSON *j;
	(void)state;
	assert_null(parse("[1,2]", true));
	assert_null(parse("1", true));
	assert_null(parse("\"s\"", true));
	assert_null(parse("null", true));
	j = parse("[1,2]", false);
	assert_non_null(j);
	cJSON_Delete(j);
	j = parse("42", false);
	assert_non_null(j);
	cJSON_Delete(j);
}

static void test_parse_limits(void **state)
{
	static const char doc[] = "{\"a\":[[1]]}";
	char deep[2100];
	cJSON *j;
	size_t i;
	(void)state;
	/* max_len */
	assert_null(json_parse(doc, strlen(doc), strlen(doc) - 1, 8, true));
	j = json_parse(doc, strlen(doc), strlen(doc), 8, true);
	assert_non_null(j);
	cJSON_Delete(j);
	/* depth: object 1, array 2, array 3 */
	assert_null(json_parse(doc, strlen(doc), 100, 2, true));
	j = json_parse(doc, strlen(doc), 100, 3, true);
	assert_non_null(j);
	cJSON_Delete(j);
	/* Brackets inside strings do not count. */
	j = json_parse("{\"a\":\"[[[[[{{{{\"}", 17, 100, 1, true);
	assert_non_null(j);
	cJSON_Delete(j);
	/* A scalar root has depth 0. */
	j = json_parse("1", 1, 100, 0, false);
	assert_non_null(j);
	cJSON_Delete(j);
	assert_null(json_parse("{}", 2, 100, 0, false));
	/* Very deep nesting is refused without recursion trouble. */
	for (i = 0; i < 1000; i++)
		deep[i] = '[';
	for (i = 0; i < 1000; i++)
		deep[1000 + i] = ']';
	assert_null(json_parse(deep, 2000, 4096, 64, false));
	j = json_parse(deep, 2000, 4096, 1000, false);
	assert_non_null(j);
	cJSON_Delete(j);
}

static void test_get_typed(void **state)
{
	const char *s = NULL;
	const cJSON *sub = NULL;
	bool b = false;
	cJSON *j = parse("{\"s\":\"str\",\"b\":true,\"f\":false,\"n\":null,\"i\":42,"
			 "\"a\":[1],\"o\":{\"x\":1},\"S\":\"upper\"}",
			 true);
	(void)state;
	assert_non_null(j);
	assert_int_equal(json_get_string(j, "s", &s), JSON_OK);
	assert_string_equal(s, "str");
	assert_int_equal(json_get_string(j, "S", &s), JSON_OK);
	assert_string_equal(s, "upper");
	assert_int_equal(json_get_string(j, "missing", &s), JSON_MISSING);
	assert_int_equal(json_get_string(j, "n", &s), JSON_MISSING);
	assert_int_equal(json_get_string(j, "i", &s), JSON_BADTYPE);
	assert_int_equal(json_get_string(j, "b", &s), JSON_BADTYPE);
	assert_int_equal(json_get_bool(j, "b", &b), JSON_OK);
	assert_true(b);
	assert_int_equal(json_get_bool(j, "f", &b), JSON_OK);
	assert_false(b);
	assert_int_equal(json_get_bool(j, "s", &b), JSON_BADTYPE);
	assert_int_equal(json_get_bool(j, "i", &b), JSON_BADTYPE);
	assert_int_equal(json_get_bool(j, "nope", &b), JSON_MISSING);
	assert_int_equal(json_get_array(j, "a", &sub), JSON_OK);
	assert_int_equal(cJSON_GetArraySize(sub), 1);
	assert_int_equal(json_get_array(j, "o", &sub), JSON_BADTYPE);
	assert_int_equal(json_get_array(j, "n", &sub), JSON_MISSING);
	assert_int_equal(json_get_object(j, "o", &sub), JSON_OK);
	assert_true(cJSON_IsObject(sub));
	assert_int_equal(json_get_object(j, "a", &sub), JSON_BADTYPE);
	assert_int_equal(json_get_object(j, "s", &sub), JSON_BADTYPE);
	/* Not an object / NULL. */
	assert_int_equal(json_get_string(NULL, "s", &s), JSON_MISSING);
	assert_int_equal(json_get_string(cJSON_GetObjectItem(j, "a"), "s", &s), JSON_BADTYPE);
	cJSON_Delete(j);
}

static void test_get_int(void **state)
{
	int64_t v = 0;
	cJSON *j = parse("{\"i\":42,\"neg\":-7,\"f\":1.5,\"big\":1e300,\"e\":1e3,\"z\":-0,"
			 "\"s\":\"5\",\"max53\":9007199254740992,\"over53\":9007199254740994,"
			 "\"huge\":-1e19,\"frac\":0.0000001,\"b\":true,\"arr\":[1]}",
			 true);
	(void)state;
	assert_non_null(j);
	assert_int_equal(json_get_int(j, "i", 0, 100, &v), JSON_OK);
	assert_int_equal(v, 42);
	assert_int_equal(json_get_int(j, "i", 0, 41, &v), JSON_BADTYPE);
	assert_int_equal(json_get_int(j, "i", 43, 100, &v), JSON_BADTYPE);
	assert_int_equal(json_get_int(j, "i", 42, 42, &v), JSON_OK);
	assert_int_equal(json_get_int(j, "neg", -10, 10, &v), JSON_OK);
	assert_int_equal(v, -7);
	assert_int_equal(json_get_int(j, "neg", 0, 10, &v), JSON_BADTYPE);
	assert_int_equal(json_get_int(j, "f", INT64_MIN, INT64_MAX, &v), JSON_BADTYPE);
	assert_int_equal(json_get_int(j, "big", INT64_MIN, INT64_MAX, &v), JSON_BADTYPE);
	assert_int_equal(json_get_int(j, "huge", INT64_MIN, INT64_MAX, &v), JSON_BADTYPE);
	assert_int_equal(json_get_int(j, "frac", INT64_MIN, INT64_MAX, &v), JSON_BADTYPE);
	assert_int_equal(json_get_int(j, "e", 0, 1000, &v), JSON_OK);
	assert_int_equal(v, 1000);
	assert_int_equal(json_get_int(j, "z", 0, 0, &v), JSON_OK);
	assert_int_equal(v, 0);
	assert_int_equal(json_get_int(j, "s", 0, 10, &v), JSON_BADTYPE);
	assert_int_equal(json_get_int(j, "b", 0, 10, &v), JSON_BADTYPE);
	assert_int_equal(json_get_int(j, "arr", 0, 10, &v), JSON_BADTYPE);
	assert_int_equal(json_get_int(j, "max53", INT64_MIN, INT64_MAX, &v), JSON_OK);
	assert_int_equal(v, INT64_C(9007199254740992));
	assert_int_equal(json_get_int(j, "over53", INT64_MIN, INT64_MAX, &v), JSON_BADTYPE);
	assert_int_equal(json_get_int(j, "absent", 0, 10, &v), JSON_MISSING);
	cJSON_Delete(j);
	/* NaN / infinity can only come from a built tree. */
	j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "nan", 0.0 / 0.0);
	cJSON_AddNumberToObject(j, "inf", 1.0 / 0.0);
	assert_int_equal(json_get_int(j, "nan", INT64_MIN, INT64_MAX, &v), JSON_BADTYPE);
	assert_int_equal(json_get_int(j, "inf", INT64_MIN, INT64_MAX, &v), JSON_BADTYPE);
	cJSON_Delete(j);
}

static void test_build_and_print(void **state)
{
	cJSON *j = cJSON_CreateObject(), *back;
	char *s;
	const char *str;
	int64_t v;
	bool b;
	(void)state;
	assert_true(json_add_string(j, "s", "a\"b"));
	assert_true(json_add_int(j, "i", -123456789012));
	/* Printed exactly up to 2^53; beyond is refused. */
	assert_true(json_add_int(j, "m", INT64_C(999999999999999)));
	assert_true(json_add_int(j, "u", INT64_C(1700000000123456)));
	assert_true(json_add_int(j, "v", -(INT64_C(1) << 53)));
	assert_false(json_add_int(j, "x", (INT64_C(1) << 53) + 1));
	assert_false(json_add_int(j, "y", INT64_MIN));
	assert_int_equal(json_get_int(j, "u", 0, INT64_MAX, &v), JSON_OK);
	assert_int_equal(v, INT64_C(1700000000123456));
	assert_int_equal(json_get_int(j, "u", 0, 5, &v), JSON_BADTYPE);
	assert_int_equal(json_get_int(j, "v", INT64_MIN, 0, &v), JSON_OK);
	assert_int_equal(v, -(INT64_C(1) << 53));
	assert_true(json_add_bool(j, "b", true));
	assert_true(json_add_b64(j, "d", (const uint8_t *)"foobar", 6));
	assert_true(json_add_b64(j, "e", NULL, 0));
	assert_false(json_add_string(NULL, "s", "x"));
	assert_false(json_add_string(j, "s2", NULL));
	s = json_print(j);
	assert_non_null(s);
	assert_string_equal(s, "{\"s\":\"a\\\"b\",\"i\":-123456789012,\"m\":999999999999999,"
			       "\"u\":1700000000123456,\"v\":-9007199254740992,"
			       "\"b\":true,\"d\":\"Zm9vYmFy\",\"e\":\"\"}");
	back = json_parse(s, strlen(s), 4096, 4, true);
	assert_non_null(back);
	assert_int_equal(json_get_int(back, "i", INT64_MIN, INT64_MAX, &v), JSON_OK);
	assert_int_equal(v, -123456789012);
	assert_int_equal(json_get_int(back, "u", INT64_MIN, INT64_MAX, &v), JSON_OK);
	assert_int_equal(v, INT64_C(1700000000123456));
	assert_int_equal(json_get_int(back, "v", INT64_MIN, INT64_MAX, &v), JSON_OK);
	assert_int_equal(v, -(INT64_C(1) << 53));
	assert_int_equal(json_get_bool(back, "b", &b), JSON_OK);
	assert_true(b);
	assert_int_equal(json_get_string(back, "d", &str), JSON_OK);
	assert_string_equal(str, "Zm9vYmFy");
	assert_null(json_print(NULL));
	free(s);
	cJSON_Delete(back);
	cJSON_Delete(j);
}

static void test_wipe(void **state)
{
	cJSON *j = parse("{\"pin\":\"123456\",\"n\":{\"otp\":\"987654\",\"a\":[\"sad\",1]}}", true);
	cJSON *pin, *otp, *sad;
	(void)state;
	assert_non_null(j);
	pin = cJSON_GetObjectItem(j, "pin");
	otp = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "n"), "otp");
	sad = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "n"), "a"), 0);
	json_wipe(j);
	assert_memory_equal(pin->valuestring, "\0\0\0\0\0\0", 6);
	assert_memory_equal(otp->valuestring, "\0\0\0\0\0\0", 6);
	assert_memory_equal(sad->valuestring, "\0\0\0", 3);
	json_wipe(NULL);
	cJSON_Delete(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_ok),	      cmocka_unit_test(test_parse_malformed),
	    cmocka_unit_test(test_parse_want_object), cmocka_unit_test(test_parse_limits),
	    cmocka_unit_test(test_get_typed),	      cmocka_unit_test(test_get_int),
	    cmocka_unit_test(test_build_and_print),   cmocka_unit_test(test_wipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
