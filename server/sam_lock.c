/* SPDX-License-Identifier: Apache-2.0 */
/* Factor failure counters in the HSM, with a cache of the non-zero ones
 * (a small chained hash table by name). */
#include "sam_lock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define LOCK_BUCKETS 1024u

typedef struct lock_node {
	struct lock_node *next;
	uint32_t count;
	char name[SAM_LOCK_NAME_MAX];
} lock_node;

struct sam_lock {
	hsm *hsm;
	pthread_mutex_t mu;
	lock_node *buckets[LOCK_BUCKETS];
};

void sam_lock_name_cred(const char *cred_id, char name[SAM_LOCK_NAME_MAX])
{
	snprintf(name, SAM_LOCK_NAME_MAX, "cred:%s", cred_id != NULL ? cred_id : "");
}

void sam_lock_name_user(int64_t user_id, char name[SAM_LOCK_NAME_MAX])
{
	snprintf(name, SAM_LOCK_NAME_MAX, "user:%lld", (long long)user_id);
}

static size_t lock_bucket(const char *name)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return h % LOCK_BUCKETS;
}

static bool lock_name_ok(const char *name)
{
	size_t n;

	if (name == NULL)
		return false;
	n = strnlen(name, SAM_LOCK_NAME_MAX);
	return n > 0 && n < SAM_LOCK_NAME_MAX;
}

/* Record count for name in the cache (0 removes). Under mu. */
static int cache_set(sam_lock *l, const char *name, uint32_t count)
{
	lock_node **p = &l->buckets[lock_bucket(name)];

	while (*p != NULL && strcmp((*p)->name, name) != 0)
		p = &(*p)->next;
	if (count == 0) {
		if (*p != NULL) {
			lock_node *n = *p;
			*p = n->next;
			free(n);
		}
		return 0;
	}
	if (*p == NULL) {
		*p = calloc(1, sizeof(**p));
		if (*p == NULL)
			return -1;
		memcpy((*p)->name, name, strlen(name) + 1);
	}
	(*p)->count = count;
	return 0;
}

static uint32_t cache_get(sam_lock *l, const char *name)
{
	const lock_node *n = l->buckets[lock_bucket(name)];

	while (n != NULL && strcmp(n->name, name) != 0)
		n = n->next;
	return n != NULL ? n->count : 0;
}

static int load_one(const char *name, uint32_t value, void *ctx)
{
	sam_lock *l = ctx;

	if (!lock_name_ok(name))
		return 0;
	return cache_set(l, name, value);
}

int sam_lock_new(hsm *h, sam_lock **out)
{
	sam_lock *l;

	if (out == NULL)
		return -1;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return -1;
	pthread_mutex_init(&l->mu, NULL);
	l->hsm = h;
	if (h != NULL && hsm_counter_each(h, load_one, l) != HSM_OK) {
		log_err("sam: cannot read the failure counters from the HSM");
		sam_lock_free(l);
		return -1;
	}
	*out = l;
	return 0;
}

void sam_lock_free(sam_lock *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < LOCK_BUCKETS; i++) {
		lock_node *n = l->buckets[i];

		while (n != NULL) {
			lock_node *next = n->next;
			free(n);
			n = next;
		}
	}
	pthread_mutex_destroy(&l->mu);
	free(l);
}

int sam_lock_get(sam_lock *l, const char *name, uint32_t *count)
{
	uint32_t c;
	int rc = 0;

	if (count != NULL)
		*count = 0;
	if (l == NULL || !lock_name_ok(name) || count == NULL)
		return -1;
	if (l->hsm == NULL)
		return 0;
	pthread_mutex_lock(&l->mu);
	c = cache_get(l, name);
	if (c > 0) {
		/* Not trusted until the HSM confirms: an operator may have
		 * reset it from another process. */
		if (hsm_counter_get(l->hsm, name, &c) != HSM_OK || cache_set(l, name, c) != 0)
			rc = -1;
	}
	pthread_mutex_unlock(&l->mu);
	*count = rc == 0 ? c : 0;
	return rc;
}

int sam_lock_fail(sam_lock *l, const char *name, uint32_t *count)
{
	uint32_t c = 0;
	int rc = 0;

	if (count != NULL)
		*count = 0;
	if (l == NULL || !lock_name_ok(name) || count == NULL)
		return -1;
	if (l->hsm == NULL)
		return 0;
	pthread_mutex_lock(&l->mu);
	/* A cached zero is trusted: without the entry, fail closed. */
	if (hsm_counter_add(l->hsm, name, &c) != HSM_OK || cache_set(l, name, c) != 0)
		rc = -1;
	pthread_mutex_unlock(&l->mu);
	*count = c;
	return rc;
}

int sam_lock_reset(sam_lock *l, const char *name)
{
	int rc = 0;

	if (l == NULL || !lock_name_ok(name))
		return -1;
	if (l->hsm == NULL)
		return 0;
	pthread_mutex_lock(&l->mu);
	if (hsm_counter_set(l->hsm, name, 0) != HSM_OK)
		rc = -1;
	else
		(void)cache_set(l, name, 0);
	pthread_mutex_unlock(&l->mu);
	return rc;
}
