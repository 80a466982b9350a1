/* SPDX-License-Identifier: Apache-2.0 */
/* cisres-admin: command-line option parsing for the command groups. */
#include "admin.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const admin_opt *opt_find(const admin_opt *opts, const char *name, size_t len)
{
	for (const admin_opt *o = opts; o->name != NULL; o++) {
		if (strlen(o->name) == len && memcmp(o->name, name, len) == 0)
			return o;
	}
	return NULL;
}

int admin_opt_parse(int argc, char **argv, const admin_opt *opts, const char **pos, size_t npos_max,
		    size_t *npos)
{
	bool only_words = false;

	*npos = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!only_words && strcmp(a, "--") == 0) {
			only_words = true;
			continue;
		}
		if (only_words || a[0] != '-' || a[1] == '\0') {
			if (*npos >= npos_max) {
				admin_err("unexpected argument '%s'", a);
				return -1;
			}
			pos[(*npos)++] = a;
			continue;
		}
		const char *eq = strchr(a, '=');
		size_t nlen = eq != NULL ? (size_t)(eq - a) : strlen(a);
		const admin_opt *o = opt_find(opts, a, nlen);
		if (o == NULL) {
			admin_err("unknown option '%.*s'", (int)nlen, a);
			return -1;
		}
		if (o->kind == ADMIN_OPT_FLAG) {
			if (eq != NULL) {
				admin_err("option '%s' takes no value", o->name);
				return -1;
			}
			*o->flag = true;
			continue;
		}
		const char *val;
		if (eq != NULL) {
			val = eq + 1;
		} else {
			if (i + 1 >= argc) {
				admin_err("option '%s' needs a value", o->name);
				return -1;
			}
			val = argv[++i];
		}
		if (*o->str != NULL) {
			admin_err("option '%s' given twice", o->name);
			return -1;
		}
		*o->str = val;
	}
	return 0;
}

int admin_opt_int(const char *s, long min, long max, long *out)
{
	char *end = NULL;
	long v;

	if (s == NULL || *s == '\0' || strlen(s) > 20)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
