/* SPDX-License-Identifier: Apache-2.0 */
#define _XOPEN_SOURCE 700
#include "testlib.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

const char *testlib_module(void)
{
	const char *m = getenv("CISRES_TEST_PKCS11_MODULE");

	return m != NULL ? m : "/usr/lib/softhsm/libsofthsm2.so";
}

int testlib_softhsm(char *tmpl)
{
	char path[512], tokens[512];
	FILE *f;

	if (mkdtemp(tmpl) == NULL)
		return -1;
	snprintf(tokens, sizeof(tokens), "%s/tokens", tmpl);
	if (mkdir(tokens, 0700) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/softhsm2.conf", tmpl);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
		tokens);
	if (fclose(f) != 0)
		return -1;
	return setenv("SOFTHSM2_CONF", path, 1);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void testlib_rmtree(const char *dir)
{
	if (dir != NULL && dir[0] != '\0')
		(void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
