/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the configuration parser, and a write/re-parse round trip. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Append to a growing buffer; aborts on failure (fuzz target only). */
static void put(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);
	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		*buf = realloc(*buf, *cap);
		if (*buf == NULL)
			abort();
	}
	memcpy(*buf + *len, s, n + 1);
	*len += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128];
	conf *c, *c2;
	char *out = NULL;
	size_t len = 0, cap = 0, i, j;
	bool ok;

	c = conf_parse((const char *)data, size, err, sizeof(err));
	if (c == NULL) {
		if (strncmp(err, "line ", 5) != 0)
			abort();
		return 0;
	}
	put(&out, &len, &cap, "");
	for (i = 0; i < conf_section_count(c); i++) {
		const char *sec = conf_section_name(c, i);
		if (sec == NULL)
			abort();
		if (sec[0] != '\0') {
			if (i == 0 && conf_key_count(c, "") > 0)
				abort(); /* "" comes first when present */
			put(&out, &len, &cap, "[");
			put(&out, &len, &cap, sec);
			put(&out, &len, &cap, "]\n");
		}
		for (j = 0; j < conf_key_count(c, sec); j++) {
			const char *k = conf_key_name(c, sec, j), *v;
			if (k == NULL || (v = conf_get(c, sec, k)) == NULL)
				abort();
			(void)conf_get_int(c, sec, k, 0, &ok);
			(void)conf_get_bool(c, sec, k, false, &ok);
			put(&out, &len, &cap, k);
			put(&out, &len, &cap, " = \"");
			put(&out, &len, &cap, v);
			put(&out, &len, &cap, "\"\n");
		}
	}
	/* What we wrote parses back to the same content (when within limits). */
	c2 = conf_parse(out, len, err, sizeof(err));
	if (c2 == NULL) {
		if (len <= CONF_MAX_FILE && strstr(err, "longer than") == NULL)
			abort();
	} else {
		if (conf_section_count(c2) != conf_section_count(c))
			abort();
		for (i = 0; i < conf_section_count(c); i++) {
			const char *sec = conf_section_name(c, i);
			if (conf_key_count(c2, sec) != conf_key_count(c, sec))
				abort();
			for (j = 0; j < conf_key_count(c, sec); j++) {
				const char *k = conf_key_name(c, sec, j);
				const char *v2 = conf_get(c2, sec, k);
				if (v2 == NULL || strcmp(v2, conf_get(c, sec, k)) != 0)
					abort();
			}
		}
		conf_free(c2);
	}
	free(out);
	conf_free(c);
	return 0;
}
