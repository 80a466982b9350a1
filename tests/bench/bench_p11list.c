// SPDX-License-Identifier: Apache-2.0
/* bench_p11list: what an application does to list a token, timed. One
 * iteration is C_GetSlotList, then for every slot with a token
 * C_GetTokenInfo, C_OpenSession, C_FindObjectsInit (all objects),
 * C_FindObjects until empty, C_FindObjectsFinal, C_CloseSession. With
 * --attrs it also reads CKA_CLASS, CKA_ID and CKA_LABEL of every object
 * (what NSS does when it loads a token). Prints one result line (see
 * bench_stats.h) with the number of slots and objects seen. */
#include "bench_stats.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#define MAX_SLOTS 256

typedef struct {
	const char *module;
	const char *name;
	long iterations;
	long seconds;
	long min_objects;
	bool attrs;
} opts;

static void usage(void)
{
	fputs("usage: bench_p11list --module PATH [--iterations N] [--seconds S] [--attrs]\n"
	      "         [--min-objects N] [--name NAME]\n"
	      "  Exits 1 when a listing fails or shows fewer than N objects.\n",
	      stderr);
}

static int parse_opts(int argc, char **argv, opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->iterations = 1000;
	o->seconds = 20;
	o->name = "p11list";
	i = 1;
	while (i < argc) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int bad = 0;

		if (strcmp(a, "--attrs") == 0) {
			o->attrs = true;
			i++;
			continue;
		}
		if (v == NULL)
			return -1;
		if (strcmp(a, "--module") == 0)
			o->module = v;
		else if (strcmp(a, "--name") == 0)
			o->name = v;
		else if (strcmp(a, "--iterations") == 0)
			bad = bench_stats_parse_long(v, 1, 10000000, &o->iterations);
		else if (strcmp(a, "--seconds") == 0)
			bad = bench_stats_parse_long(v, 1, 3600, &o->seconds);
		else if (strcmp(a, "--min-objects") == 0)
			bad = bench_stats_parse_long(v, 0, 100000000, &o->min_objects);
		else
			bad = 1;
		if (bad) {
			fprintf(stderr, "bench_p11list: bad option %s\n", a);
			return -1;
		}
		i += 2;
	}
	return o->module == NULL ? -1 : 0;
}

/* Read class, ID and label of one object; CK_RV. */
static CK_RV read_attrs(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
	CK_OBJECT_CLASS cls;
	uint8_t id[256];
	char label[256];
	CK_ATTRIBUTE a[] = {{CKA_CLASS, &cls, sizeof(cls)},
			    {CKA_ID, id, sizeof(id)},
			    {CKA_LABEL, label, sizeof(label)}};

	return f->C_GetAttributeValue(s, h, a, 3);
}

/* One listing; CK_RV, with the slot and object counts. */
static CK_RV list_once(CK_FUNCTION_LIST_PTR f, const opts *o, unsigned long *slots_out,
		       unsigned long *objs_out)
{
	CK_SLOT_ID slots[MAX_SLOTS];
	CK_ULONG n = 0, i;
	unsigned long objs = 0;
	CK_RV rv;

	rv = f->C_GetSlotList(CK_TRUE, NULL, &n);
	if (rv != CKR_OK)
		return rv;
	if (n > MAX_SLOTS)
		return CKR_BUFFER_TOO_SMALL;
	rv = f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK)
		return rv;
	for (i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		CK_SESSION_HANDLE s;
		CK_OBJECT_HANDLE hs[256];
		CK_ULONG got = 0, k;

		rv = f->C_GetTokenInfo(slots[i], &ti);
		if (rv != CKR_OK)
			return rv;
		if (!(ti.flags & CKF_TOKEN_INITIALIZED))
			continue; /* SoftHSM's spare slot */
		rv = f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s);
		if (rv != CKR_OK)
			return rv;
		rv = f->C_FindObjectsInit(s, NULL, 0);
		while (rv == CKR_OK) {
			rv = f->C_FindObjects(s, hs, 256, &got);
			if (rv != CKR_OK || got == 0)
				break;
			objs += got;
			for (k = 0; o->attrs && k < got && rv == CKR_OK; k++) {
				rv = read_attrs(f, s, hs[k]);
				if (rv == CKR_ATTRIBUTE_TYPE_INVALID)
					rv = CKR_OK;
			}
		}
		if (rv == CKR_OK)
			rv = f->C_FindObjectsFinal(s);
		f->C_CloseSession(s);
		if (rv != CKR_OK)
			return rv;
	}
	*slots_out = n;
	*objs_out = objs;
	return CKR_OK;
}

int main(int argc, char **argv)
{
	opts o;
	CK_FUNCTION_LIST_PTR f = NULL;
	CK_C_GetFunctionList getfl;
	CK_C_INITIALIZE_ARGS ia;
	bench_stats_samples s = {0};
	unsigned long slots = 0, objs = 0;
	double init_us, first_us, deadline;
	char extra[256];
	void *dl;
	long i;
	CK_RV rv;

	if (parse_opts(argc, argv, &o) != 0) {
		usage();
		return 2;
	}
	dl = dlopen(o.module, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		fprintf(stderr, "bench_p11list: %s\n", dlerror());
		return 1;
	}
	getfl = (CK_C_GetFunctionList)(uintptr_t)dlsym(dl, "C_GetFunctionList");
	if (getfl == NULL || getfl(&f) != CKR_OK) {
		fprintf(stderr, "bench_p11list: no C_GetFunctionList in %s\n", o.module);
		return 1;
	}
	memset(&ia, 0, sizeof(ia));
	ia.flags = CKF_OS_LOCKING_OK;
	init_us = bench_stats_now_us();
	rv = f->C_Initialize(&ia);
	init_us = bench_stats_now_us() - init_us;
	if (rv != CKR_OK) {
		fprintf(stderr, "bench_p11list: C_Initialize: 0x%lx\n", (unsigned long)rv);
		return 1;
	}
	if (bench_stats_init(&s, (size_t)o.iterations) != 0)
		return 1;
	/* the first listing separately: it may fill per-process caches */
	first_us = bench_stats_now_us();
	rv = list_once(f, &o, &slots, &objs);
	first_us = bench_stats_now_us() - first_us;
	deadline = bench_stats_now_us() + (double)o.seconds * 1e6;
	for (i = 0; i < o.iterations && rv == CKR_OK; i++) {
		double t0 = bench_stats_now_us(), t1;

		if (t0 > deadline)
			break;
		rv = list_once(f, &o, &slots, &objs);
		t1 = bench_stats_now_us();
		if (rv == CKR_OK)
			bench_stats_add(&s, t1 - t0);
	}
	if (rv != CKR_OK)
		fprintf(stderr, "bench_p11list: listing failed: 0x%lx\n", (unsigned long)rv);
	snprintf(extra, sizeof(extra), "slots=%lu objects=%lu attrs=%d init_us=%.0f first_us=%.0f",
		 slots, objs, o.attrs ? 1 : 0, init_us, first_us);
	bench_stats_report("p11list", o.name, &s, extra);
	bench_stats_free(&s);
	f->C_Finalize(NULL);
	if (rv == CKR_OK && objs < (unsigned long)o.min_objects) {
		fprintf(stderr, "bench_p11list: %lu objects, expected at least %ld\n", objs,
			o.min_objects);
		return 1;
	}
	return rv == CKR_OK ? 0 : 1;
}
