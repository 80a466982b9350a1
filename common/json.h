/* SPDX-License-Identifier: Apache-2.0 */
/* Typed, size-limited access to JSON over cJSON. */
#ifndef CISRES_JSON_H
#define CISRES_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef enum {
	JSON_OK = 0,
	JSON_MISSING = 1, /* the member is absent (or JSON null) */
	JSON_BADTYPE = 2, /* present with the wrong type, or out of range */
} json_rc;

/* Parse exactly len bytes (no trailing garbage other than whitespace).
 * Returns NULL when malformed, longer than max_len, or nested deeper than
 * max_depth. The root must be an object when want_object is true. */
cJSON *json_parse(const char *buf, size_t len, size_t max_len, int max_depth, bool want_object);

json_rc json_get_string(const cJSON *obj, const char *name, const char **out);
json_rc json_get_bool(const cJSON *obj, const char *name, bool *out);
/* An integral number in [min, max]. */
json_rc json_get_int(const cJSON *obj, const char *name, int64_t min, int64_t max, int64_t *out);
json_rc json_get_array(const cJSON *obj, const char *name, const cJSON **out);
json_rc json_get_object(const cJSON *obj, const char *name, const cJSON **out);

/* Serialize unformatted; malloc'd string or NULL. */
char *json_print(const cJSON *item);
/* Add helpers that return false on allocation failure. json_add_int takes
 * |value| <= 2^53 (exact in a double) and prints it exactly (values of 10^15
 * and more become a cJSON raw item, which json_get_int also reads). */
bool json_add_string(cJSON *obj, const char *name, const char *value);
bool json_add_int(cJSON *obj, const char *name, int64_t value);
bool json_add_bool(cJSON *obj, const char *name, bool value);
/* Add a Base64 string made from bytes. */
bool json_add_b64(cJSON *obj, const char *name, const uint8_t *data, size_t len);
/* Zero the value strings of a parsed tree (used on request bodies that held
 * secrets) before cJSON_Delete. */
void json_wipe(cJSON *item);

#endif
