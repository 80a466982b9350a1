/* SPDX-License-Identifier: Apache-2.0 */
/* Typed, size-limited access to JSON over cJSON. */
#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "secmem.h"

/* Integers beyond 2^53 are not exactly representable in a double. */
#define JSON_INT_LIMIT 9007199254740992.0
#define JSON_INT_MAX (INT64_C(1) << 53)
/* cJSON prints numbers with 15 significant digits ("%1.15g"): only
 * integers below 10^15 come out exactly; larger ones are added as raw
 * decimal text. */
#define JSON_INT_PRINT_MAX INT64_C(999999999999999)

static bool is_json_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Lexical pre-scan of the raw text, before cJSON sees it:
 * - no control characters other than JSON whitespace anywhere (cJSON would
 *   skip them as whitespace or keep them inside strings; a NUL would also
 *   truncate the C string);
 * - no "\u0000" escape (it would silently truncate the decoded string);
 * - the bracket nesting outside strings stays within max_depth, so that the
 *   recursive parser never goes deeper than asked. */
static bool json_prescan(const char *buf, size_t len, int max_depth)
{
	bool in_str = false;
	int depth = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c < 0x20 && !is_json_ws(c))
			return false;
		if (in_str) {
			if (c == '"') {
				in_str = false;
			} else if (c == '\\') {
				if (i + 1 >= len)
					return false;
				if (buf[i + 1] == 'u' && i + 5 < len &&
				    memcmp(buf + i + 2, "0000", 4) == 0)
					return false;
				i++; /* skip the escaped character */
			}
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max_depth)
				return false;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return true;
}

static int cmp_names(const void *a, const void *b)
{
	const char *const *x = a;
	const char *const *y = b;
	return strcmp(*x, *y);
}

/* Depth of a tree: a scalar is 0, a container 1 + its deepest child.
 * Also refuses objects with duplicate member names (parsers disagree on
 * which one wins) and numbers that overflowed to infinity. Returns false
 * when deeper than max_depth or invalid. */
static bool json_check_tree(const cJSON *item, int depth, int max_depth)
{
	const cJSON *ch;
	size_t n = 0, i;
	const char **names;
	bool ok = true;

	/* Numbers beyond the double range became infinities. */
	if (cJSON_IsNumber(item))
		return isfinite(item->valuedouble);
	if (!cJSON_IsObject(item) && !cJSON_IsArray(item))
		return true;
	if (depth + 1 > max_depth)
		return false;
	for (ch = item->child; ch != NULL; ch = ch->next) {
		if (!json_check_tree(ch, depth + 1, max_depth))
			return false;
		n++;
	}
	if (!cJSON_IsObject(item) || n < 2)
		return true;
	names = calloc(n, sizeof(*names));
	if (names == NULL)
		return false;
	i = 0;
	for (ch = item->child; ch != NULL; ch = ch->next) {
		if (ch->string == NULL) {
			ok = false;
			break;
		}
		names[i++] = ch->string;
	}
	if (ok) {
		qsort(names, n, sizeof(*names), cmp_names);
		for (i = 1; i < n; i++) {
			if (strcmp(names[i - 1], names[i]) == 0) {
				ok = false;
				break;
			}
		}
	}
	free(names);
	return ok;
}

cJSON *json_parse(const char *buf, size_t len, size_t max_len, int max_depth, bool want_object)
{
	const char *end = NULL;
	cJSON *root;
	size_t used;

	if (buf == NULL || len == 0 || len > max_len || max_depth < 0)
		return NULL;
	if (!json_prescan(buf, len, max_depth))
		return NULL;
	root = cJSON_ParseWithLengthOpts(buf, len, &end, false);
	if (root == NULL)
		return NULL;
	if (end == NULL || end < buf || (size_t)(end - buf) > len)
		goto fail;
	for (used = (size_t)(end - buf); used < len; used++) {
		if (!is_json_ws((unsigned char)buf[used]))
			goto fail;
	}
	if (want_object && !cJSON_IsObject(root))
		goto fail;
	if (!json_check_tree(root, 0, max_depth))
		goto fail;
	return root;
fail:
	json_wipe(root);
	cJSON_Delete(root);
	return NULL;
}

/* The member, or NULL when obj is not an object, the name is absent, or
 * its value is JSON null. */
static const cJSON *json_member(const cJSON *obj, const char *name, json_rc *rc)
{
	const cJSON *it;

	if (obj == NULL || name == NULL) {
		*rc = JSON_MISSING;
		return NULL;
	}
	if (!cJSON_IsObject(obj)) {
		*rc = JSON_BADTYPE;
		return NULL;
	}
	it = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (it == NULL || cJSON_IsNull(it)) {
		*rc = JSON_MISSING;
		return NULL;
	}
	*rc = JSON_OK;
	return it;
}

json_rc json_get_string(const cJSON *obj, const char *name, const char **out)
{
	json_rc rc;
	const cJSON *it = json_member(obj, name, &rc);

	if (it == NULL)
		return rc;
	if (!cJSON_IsString(it) || it->valuestring == NULL)
		return JSON_BADTYPE;
	if (out != NULL)
		*out = it->valuestring;
	return JSON_OK;
}

json_rc json_get_bool(const cJSON *obj, const char *name, bool *out)
{
	json_rc rc;
	const cJSON *it = json_member(obj, name, &rc);

	if (it == NULL)
		return rc;
	if (!cJSON_IsBool(it))
		return JSON_BADTYPE;
	if (out != NULL)
		*out = cJSON_IsTrue(it);
	return JSON_OK;
}

/* A raw item made by json_add_int for a large integer (parsed trees never
 * hold raw items). */
static json_rc json_raw_int(const cJSON *it, int64_t min, int64_t max, int64_t *out)
{
	const char *s = it->valuestring;
	char *end = NULL;
	long long v;

	if (s == NULL || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
		return JSON_BADTYPE;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return JSON_BADTYPE;
	if (v > JSON_INT_MAX || v < -JSON_INT_MAX || v < min || v > max)
		return JSON_BADTYPE;
	if (out != NULL)
		*out = v;
	return JSON_OK;
}

json_rc json_get_int(const cJSON *obj, const char *name, int64_t min, int64_t max, int64_t *out)
{
	json_rc rc;
	const cJSON *it = json_member(obj, name, &rc);
	double d;
	int64_t v;

	if (it == NULL)
		return rc;
	if (cJSON_IsRaw(it))
		return json_raw_int(it, min, max, out);
	if (!cJSON_IsNumber(it))
		return JSON_BADTYPE;
	d = it->valuedouble;
	if (!isfinite(d) || d != floor(d))
		return JSON_BADTYPE;
	if (d > JSON_INT_LIMIT || d < -JSON_INT_LIMIT)
		return JSON_BADTYPE;
	v = (int64_t)d;
	if (v < min || v > max)
		return JSON_BADTYPE;
	if (out != NULL)
		*out = v;
	return JSON_OK;
}

json_rc json_get_array(const cJSON *obj, const char *name, const cJSON **out)
{
	json_rc rc;
	const cJSON *it = json_member(obj, name, &rc);

	if (it == NULL)
		return rc;
	if (!cJSON_IsArray(it))
		return JSON_BADTYPE;
	if (out != NULL)
		*out = it;
	return JSON_OK;
}

json_rc json_get_object(const cJSON *obj, const char *name, const cJSON **out)
{
	json_rc rc;
	const cJSON *it = json_member(obj, name, &rc);

	if (it == NULL)
		return rc;
	if (!cJSON_IsObject(it))
		return JSON_BADTYPE;
	if (out != NULL)
		*out = it;
	return JSON_OK;
}

char *json_print(const cJSON *item)
{
	if (item == NULL)
		return NULL;
	return cJSON_PrintUnformatted(item);
}

bool json_add_string(cJSON *obj, const char *name, const char *value)
{
	if (obj == NULL || name == NULL || value == NULL)
		return false;
	return cJSON_AddStringToObject(obj, name, value) != NULL;
}

bool json_add_int(cJSON *obj, const char *name, int64_t value)
{
	char buf[24];
	cJSON *raw;

	if (obj == NULL || name == NULL)
		return false;
	if (value > JSON_INT_MAX || value < -JSON_INT_MAX)
		return false;
	if (value <= JSON_INT_PRINT_MAX && value >= -JSON_INT_PRINT_MAX)
		return cJSON_AddNumberToObject(obj, name, (double)value) != NULL;
	snprintf(buf, sizeof(buf), "%" PRId64, value);
	raw = cJSON_CreateRaw(buf);
	if (raw == NULL)
		return false;
	if (!cJSON_AddItemToObject(obj, name, raw)) {
		cJSON_Delete(raw);
		return false;
	}
	return true;
}

bool json_add_bool(cJSON *obj, const char *name, bool value)
{
	if (obj == NULL || name == NULL)
		return false;
	return cJSON_AddBoolToObject(obj, name, value ? 1 : 0) != NULL;
}

bool json_add_b64(cJSON *obj, const char *name, const uint8_t *data, size_t len)
{
	char *s;
	bool ok;

	if (obj == NULL || name == NULL || (data == NULL && len > 0))
		return false;
	s = b64_encode(data, len);
	if (s == NULL)
		return false;
	ok = cJSON_AddStringToObject(obj, name, s) != NULL;
	sec_strfree(s);
	return ok;
}

void json_wipe(cJSON *item)
{
	for (; item != NULL; item = item->next) {
		if (item->valuestring != NULL)
			sec_zero(item->valuestring, strlen(item->valuestring));
		if (item->child != NULL)
			json_wipe(item->child);
	}
}
