/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: json_parse, the typed getters and print/parse round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LEN 65536
#define MAX_DEPTH 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"credentialID", "hash", "numSignatures", "a", ""};
	cJSON *root, *again;
	const cJSON *sub;
	const char *s;
	int64_t v;
	bool b;
	char *printed;
	size_t i;

	root = json_parse((const char *)data, size, MAX_LEN, MAX_DEPTH, false);
	if (root == NULL)
		return 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		json_rc rc = json_get_string(root, names[i], &s);
		if (rc == JSON_OK && s == NULL)
			abort();
		rc = json_get_int(root, names[i], -1000, 1000, &v);
		if (rc == JSON_OK && (v < -1000 || v > 1000))
			abort();
		(void)json_get_bool(root, names[i], &b);
		(void)json_get_array(root, names[i], &sub);
		(void)json_get_object(root, names[i], &sub);
	}
	/* What we accept prints to something we accept again, equal in value. */
	printed = json_print(root);
	if (printed == NULL)
		abort();
	again = json_parse(printed, strlen(printed), 4 * MAX_LEN, MAX_DEPTH, false);
	if (again == NULL || !cJSON_Compare(root, again, true))
		abort();
	free(printed);
	json_wipe(again);
	cJSON_Delete(again);
	json_wipe(root);
	cJSON_Delete(root);
	return 0;
}
