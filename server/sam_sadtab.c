/* SPDX-License-Identifier: Apache-2.0 */
/* The SAM's in-memory table of live SADs: a chained hash table keyed by
 * the SAD's SHA-256 (uniformly distributed, so its first bytes index the
 * buckets), one mutex, bounded in entries and bytes, swept incrementally. */
#include "sam_sadtab.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "oid.h"

#define SADTAB_BUCKETS (1u << 16)
#define SADTAB_SWEEP_STEP 8    /* buckets swept per insertion */
#define SADTAB_ENTRY_COST 256u /* bytes counted per entry besides its hashes */

#define SADTAB_USER_BUCKETS 4096u

/* Live SADs per user, so that one signer cannot fill the table. */
typedef struct sadtab_user {
	struct sadtab_user *next;
	int64_t user_id;
	size_t count;
} sadtab_user;

typedef struct sadtab_node {
	struct sadtab_node *next;
	sam_sadtab_entry e;
	size_t cost;
} sadtab_node;

struct sam_sadtab {
	pthread_mutex_t mu;
	sadtab_node **buckets;
	size_t count, bytes;
	size_t max_entries, max_bytes, max_per_user;
	size_t sweep_next;
	sadtab_user *users[SADTAB_USER_BUCKETS];
};

static sadtab_user **user_link(sam_sadtab *t, int64_t user_id)
{
	sadtab_user **l = &t->users[(uint64_t)user_id % SADTAB_USER_BUCKETS];

	while (*l != NULL && (*l)->user_id != user_id)
		l = &(*l)->next;
	return l;
}

static size_t user_count(sam_sadtab *t, int64_t user_id)
{
	sadtab_user **l = user_link(t, user_id);

	return *l != NULL ? (*l)->count : 0;
}

/* Count one more (+1) or one fewer (-1) live SAD of user_id. */
static bool user_adjust(sam_sadtab *t, int64_t user_id, int delta)
{
	sadtab_user **l = user_link(t, user_id);

	if (*l == NULL) {
		if (delta < 0)
			return true;
		*l = calloc(1, sizeof(**l));
		if (*l == NULL)
			return false;
		(*l)->user_id = user_id;
	}
	if (delta > 0) {
		(*l)->count++;
	} else if (--(*l)->count == 0) {
		sadtab_user *u = *l;
		*l = u->next;
		free(u);
	}
	return true;
}

void sam_sadtab_entry_clear(sam_sadtab_entry *e)
{
	if (e == NULL)
		return;
	free(e->hashes);
	memset(e, 0, sizeof(*e));
}

int sam_sadtab_new(size_t max_entries, size_t max_bytes, size_t max_per_user, sam_sadtab **out)
{
	sam_sadtab *t;

	if (out == NULL || max_entries == 0 || max_bytes == 0 || max_per_user == 0)
		return -1;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -1;
	t->buckets = calloc(SADTAB_BUCKETS, sizeof(*t->buckets));
	if (t->buckets == NULL) {
		free(t);
		return -1;
	}
	pthread_mutex_init(&t->mu, NULL);
	t->max_entries = max_entries;
	t->max_bytes = max_bytes;
	t->max_per_user = max_per_user;
	*out = t;
	return 0;
}

static void node_free(sadtab_node *n)
{
	sam_sadtab_entry_clear(&n->e);
	free(n);
}

void sam_sadtab_free(sam_sadtab *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < SADTAB_BUCKETS; i++) {
		sadtab_node *n = t->buckets[i];

		while (n != NULL) {
			sadtab_node *next = n->next;

			node_free(n);
			n = next;
		}
	}
	for (size_t i = 0; i < SADTAB_USER_BUCKETS; i++) {
		sadtab_user *u = t->users[i];

		while (u != NULL) {
			sadtab_user *next = u->next;

			free(u);
			u = next;
		}
	}
	free(t->buckets);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

static size_t bucket_of(const uint8_t hash[32])
{
	return ((size_t)hash[0] << 8 | hash[1]) & (SADTAB_BUCKETS - 1);
}

/* The link that points at the node for hash (or at NULL). Under mu. */
static sadtab_node **find_link(sam_sadtab *t, const uint8_t hash[32])
{
	sadtab_node **l = &t->buckets[bucket_of(hash)];

	while (*l != NULL && memcmp((*l)->e.hash, hash, 32) != 0)
		l = &(*l)->next;
	return l;
}

static void unlink_node(sam_sadtab *t, sadtab_node **l)
{
	sadtab_node *n = *l;

	*l = n->next;
	t->count--;
	t->bytes -= n->cost;
	(void)user_adjust(t, n->e.user_id, -1);
	node_free(n);
}

/* Remove the expired entries of 'buckets' buckets from the cursor on. */
static void sweep(sam_sadtab *t, int64_t now, size_t buckets)
{
	for (size_t k = 0; k < buckets; k++) {
		sadtab_node **l = &t->buckets[t->sweep_next];

		while (*l != NULL) {
			if ((*l)->e.expires <= now)
				unlink_node(t, l);
			else
				l = &(*l)->next;
		}
		t->sweep_next = (t->sweep_next + 1) & (SADTAB_BUCKETS - 1);
	}
}

static bool entry_copy(sam_sadtab_entry *dst, const sam_sadtab_entry *src)
{
	size_t len = src->n_hashes * src->hash_len;

	*dst = *src;
	dst->hashes = NULL;
	if (len == 0)
		return true;
	dst->hashes = malloc(len);
	if (dst->hashes == NULL)
		return false;
	memcpy(dst->hashes, src->hashes, len);
	return true;
}

static bool entry_ok(const sam_sadtab_entry *e)
{
	if (e->remaining < 1 || e->user_id <= 0 || e->cred_id[0] == '\0' ||
	    memchr(e->cred_id, '\0', sizeof(e->cred_id)) == NULL)
		return false;
	if (e->hash_alg == HASH_NONE)
		return e->n_hashes == 0;
	return e->n_hashes > 0 && e->n_hashes <= SAM_SADTAB_MAX_HASHES && e->hash_len > 0 &&
	       e->hash_len <= HASH_MAX_LEN && e->hashes != NULL;
}

sam_sadtab_rc sam_sadtab_put(sam_sadtab *t, const sam_sadtab_entry *e, int64_t now)
{
	sadtab_node *n, **l;
	size_t cost;

	if (t == NULL || e == NULL || !entry_ok(e))
		return SADTAB_ERR;
	cost = SADTAB_ENTRY_COST + e->n_hashes * e->hash_len;
	n = calloc(1, sizeof(*n));
	if (n == NULL || !entry_copy(&n->e, e)) {
		free(n);
		return SADTAB_ERR;
	}
	n->cost = cost;
	pthread_mutex_lock(&t->mu);
	sweep(t, now, SADTAB_SWEEP_STEP);
	if (t->count >= t->max_entries || t->bytes + cost > t->max_bytes ||
	    user_count(t, e->user_id) >= t->max_per_user)
		sweep(t, now, SADTAB_BUCKETS);
	if (t->count >= t->max_entries || t->bytes + cost > t->max_bytes ||
	    user_count(t, e->user_id) >= t->max_per_user || !user_adjust(t, e->user_id, +1)) {
		pthread_mutex_unlock(&t->mu);
		node_free(n);
		return SADTAB_FULL;
	}
	l = find_link(t, e->hash);
	if (*l != NULL) { /* 256 random bits collided: refuse rather than alias */
		(void)user_adjust(t, e->user_id, -1);
		pthread_mutex_unlock(&t->mu);
		node_free(n);
		return SADTAB_ERR;
	}
	*l = n;
	t->count++;
	t->bytes += cost;
	pthread_mutex_unlock(&t->mu);
	return SADTAB_OK;
}

/* The live node's link, or NULL with *rc set; removes an expired one. */
static sadtab_node **live_link(sam_sadtab *t, const uint8_t hash[32], int64_t now,
			       sam_sadtab_rc *rc)
{
	sadtab_node **l = find_link(t, hash);

	if (*l == NULL) {
		*rc = SADTAB_NOTFOUND;
		return NULL;
	}
	if ((*l)->e.expires <= now) {
		/* Dead for good, even if the clock is later set back. */
		unlink_node(t, l);
		*rc = SADTAB_EXPIRED;
		return NULL;
	}
	*rc = SADTAB_OK;
	return l;
}

sam_sadtab_rc sam_sadtab_get(sam_sadtab *t, const uint8_t hash[32], int64_t now,
			     sam_sadtab_entry *out)
{
	sadtab_node **l;
	sam_sadtab_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (t == NULL || hash == NULL || out == NULL)
		return SADTAB_ERR;
	pthread_mutex_lock(&t->mu);
	l = live_link(t, hash, now, &rc);
	if (l != NULL && !entry_copy(out, &(*l)->e))
		rc = SADTAB_ERR;
	pthread_mutex_unlock(&t->mu);
	return rc;
}

/* Index of h in the bound set of e, or -1. */
static long bound_index(const sam_sadtab_entry *e, const uint8_t *h)
{
	for (size_t i = 0; i < e->n_hashes; i++)
		if (memcmp(e->hashes + i * e->hash_len, h, e->hash_len) == 0)
			return (long)i;
	return -1;
}

/* Can every one of the n hashes be spent from e? Each takes one distinct
 * entry of the bound set (a hash authorized once is signed once). */
static bool hashes_spendable(const sam_sadtab_entry *e, int n, const uint8_t *hashes,
			     size_t hash_len)
{
	bool *used, ok = true;

	if (hash_len != e->hash_len || hashes == NULL || (size_t)n > e->n_hashes)
		return false;
	used = calloc(e->n_hashes, sizeof(*used));
	if (used == NULL)
		return false;
	for (int i = 0; i < n && ok; i++) {
		const uint8_t *h = hashes + (size_t)i * hash_len;
		size_t j;

		for (j = 0; j < e->n_hashes; j++)
			if (!used[j] && memcmp(e->hashes + j * hash_len, h, hash_len) == 0)
				break;
		if (j == e->n_hashes)
			ok = false;
		else
			used[j] = true;
	}
	free(used);
	return ok;
}

static void hashes_remove(sam_sadtab_entry *e, int n, const uint8_t *hashes)
{
	for (int i = 0; i < n; i++) {
		long k = bound_index(e, hashes + (size_t)i * e->hash_len);
		size_t last = e->n_hashes - 1;

		if (k < 0)
			continue;
		if ((size_t)k != last)
			memcpy(e->hashes + (size_t)k * e->hash_len, e->hashes + last * e->hash_len,
			       e->hash_len);
		e->n_hashes--;
	}
}

sam_sadtab_rc sam_sadtab_consume(sam_sadtab *t, const uint8_t hash[32], int64_t now, int n,
				 const uint8_t *hashes, size_t hash_len, sam_sadtab_entry *out)
{
	sadtab_node **l;
	sam_sadtab_entry *e;
	sam_sadtab_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (t == NULL || hash == NULL || n < 1 || n > SAM_SADTAB_MAX_HASHES)
		return SADTAB_ERR;
	pthread_mutex_lock(&t->mu);
	l = live_link(t, hash, now, &rc);
	if (l == NULL)
		goto out;
	e = &(*l)->e;
	if (e->remaining < n ||
	    (e->hash_alg != HASH_NONE && !hashes_spendable(e, n, hashes, hash_len))) {
		rc = SADTAB_CONFLICT;
		goto out;
	}
	e->remaining -= n;
	if (e->hash_alg != HASH_NONE)
		hashes_remove(e, n, hashes);
	if (out != NULL && !entry_copy(out, e))
		memset(out, 0, sizeof(*out)); /* the spend stands; only the copy is lost */
	if (e->remaining == 0)
		unlink_node(t, l);
out:
	pthread_mutex_unlock(&t->mu);
	return rc;
}

sam_sadtab_rc sam_sadtab_take(sam_sadtab *t, const uint8_t hash[32], int64_t now,
			      sam_sadtab_entry *out)
{
	sadtab_node **l, *n;
	sam_sadtab_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (t == NULL || hash == NULL || out == NULL)
		return SADTAB_ERR;
	pthread_mutex_lock(&t->mu);
	l = live_link(t, hash, now, &rc);
	if (l != NULL) {
		n = *l;
		*l = n->next;
		t->count--;
		t->bytes -= n->cost;
		(void)user_adjust(t, n->e.user_id, -1);
		*out = n->e; /* hand the hashes over */
		free(n);
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

sam_sadtab_rc sam_sadtab_delete(sam_sadtab *t, const uint8_t hash[32])
{
	sadtab_node **l;
	sam_sadtab_rc rc = SADTAB_NOTFOUND;

	if (t == NULL || hash == NULL)
		return SADTAB_ERR;
	pthread_mutex_lock(&t->mu);
	l = find_link(t, hash);
	if (*l != NULL) {
		unlink_node(t, l);
		rc = SADTAB_OK;
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

size_t sam_sadtab_count(sam_sadtab *t)
{
	size_t n;

	if (t == NULL)
		return 0;
	pthread_mutex_lock(&t->mu);
	n = t->count;
	pthread_mutex_unlock(&t->mu);
	return n;
}
