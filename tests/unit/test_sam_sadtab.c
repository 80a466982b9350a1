/* SPDX-License-Identifier: Apache-2.0 */
/* The SAM's in-memory SAD table: binding data kept exactly, atomic spends
 * (count, bound hashes as a multiset), expiry that cannot be undone by a
 * clock set back, bounds in entries and bytes, and a race of many threads
 * on one SAD where exactly the allowed number of spends succeed. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "oid.h"
#include "sam_sadtab.h"

static void key(uint8_t h[32], unsigned seed)
{
	for (int i = 0; i < 32; i++)
		h[i] = (uint8_t)(seed * 131u + (unsigned)i * 7u);
}

static sam_sadtab_entry unbound(unsigned seed, int remaining, int64_t expires)
{
	sam_sadtab_entry e;

	memset(&e, 0, sizeof(e));
	key(e.hash, seed);
	e.user_id = 7;
	memcpy(e.cred_id, "cred-a", 7);
	e.hash_alg = HASH_NONE;
	e.remaining = remaining;
	e.expires = expires;
	return e;
}

static void test_put_get_binding(void **state)
{
	sam_sadtab *t;
	sam_sadtab_entry e = unbound(1, 3, 100), g;
	uint8_t other[32];

	(void)state;
	assert_int_equal(sam_sadtab_new(16, 1 << 20, 64, &t), 0);
	assert_int_equal(sam_sadtab_put(t, &e, 10), SADTAB_OK);
	assert_int_equal(sam_sadtab_put(t, &e, 10), SADTAB_ERR); /* no aliasing */
	assert_int_equal(sam_sadtab_get(t, e.hash, 10, &g), SADTAB_OK);
	assert_int_equal(g.user_id, 7);
	assert_string_equal(g.cred_id, "cred-a");
	assert_int_equal(g.remaining, 3);
	assert_int_equal(g.expires, 100);
	sam_sadtab_entry_clear(&g);
	key(other, 2);
	assert_int_equal(sam_sadtab_get(t, other, 10, &g), SADTAB_NOTFOUND);
	/* Malformed entries are refused. */
	e = unbound(3, 0, 100);
	assert_int_equal(sam_sadtab_put(t, &e, 10), SADTAB_ERR);
	e = unbound(3, 1, 100);
	e.user_id = 0;
	assert_int_equal(sam_sadtab_put(t, &e, 10), SADTAB_ERR);
	assert_int_equal(sam_sadtab_count(t), 1);
	sam_sadtab_free(t);
}

static void test_count_and_expiry(void **state)
{
	sam_sadtab *t;
	sam_sadtab_entry e = unbound(1, 3, 100), g;

	(void)state;
	assert_int_equal(sam_sadtab_new(16, 1 << 20, 64, &t), 0);
	assert_int_equal(sam_sadtab_put(t, &e, 10), SADTAB_OK);
	assert_int_equal(sam_sadtab_consume(t, e.hash, 10, 4, NULL, 0, NULL), SADTAB_CONFLICT);
	assert_int_equal(sam_sadtab_consume(t, e.hash, 10, 2, NULL, 0, &g), SADTAB_OK);
	assert_int_equal(g.remaining, 1);
	sam_sadtab_entry_clear(&g);
	assert_int_equal(sam_sadtab_consume(t, e.hash, 10, 1, NULL, 0, NULL), SADTAB_OK);
	/* Spent: gone. */
	assert_int_equal(sam_sadtab_consume(t, e.hash, 10, 1, NULL, 0, NULL), SADTAB_NOTFOUND);
	assert_int_equal(sam_sadtab_count(t), 0);

	/* Expiry: at 'expires' it is dead, and stays dead with the clock back. */
	e = unbound(2, 5, 100);
	assert_int_equal(sam_sadtab_put(t, &e, 10), SADTAB_OK);
	assert_int_equal(sam_sadtab_get(t, e.hash, 99, &g), SADTAB_OK);
	sam_sadtab_entry_clear(&g);
	assert_int_equal(sam_sadtab_consume(t, e.hash, 100, 1, NULL, 0, NULL), SADTAB_EXPIRED);
	assert_int_equal(sam_sadtab_consume(t, e.hash, 50, 1, NULL, 0, NULL), SADTAB_NOTFOUND);
	/* take: the whole entry, once. */
	e = unbound(3, 5, 100);
	assert_int_equal(sam_sadtab_put(t, &e, 10), SADTAB_OK);
	assert_int_equal(sam_sadtab_take(t, e.hash, 10, &g), SADTAB_OK);
	assert_int_equal(g.remaining, 5);
	sam_sadtab_entry_clear(&g);
	assert_int_equal(sam_sadtab_take(t, e.hash, 10, &g), SADTAB_NOTFOUND);
	/* delete */
	e = unbound(4, 5, 100);
	assert_int_equal(sam_sadtab_put(t, &e, 10), SADTAB_OK);
	assert_int_equal(sam_sadtab_delete(t, e.hash), SADTAB_OK);
	assert_int_equal(sam_sadtab_delete(t, e.hash), SADTAB_NOTFOUND);
	sam_sadtab_free(t);
}

static void test_bound_hashes(void **state)
{
	sam_sadtab *t;
	sam_sadtab_entry e = unbound(1, 3, 100);
	uint8_t set[3 * 32], req[2 * 32], foreign[32];

	(void)state;
	memset(set, 0xa1, 32);
	memset(set + 32, 0xb2, 32);
	memset(set + 64, 0xa1, 32); /* the same hash authorized twice */
	memset(foreign, 0xcc, 32);
	e.hash_alg = HASH_SHA256;
	e.hashes = set;
	e.n_hashes = 3;
	e.hash_len = 32;
	assert_int_equal(sam_sadtab_new(16, 1 << 20, 64, &t), 0);
	assert_int_equal(sam_sadtab_put(t, &e, 10), SADTAB_OK);
	/* A foreign hash, or a wrong length: nothing changes. */
	assert_int_equal(sam_sadtab_consume(t, e.hash, 10, 1, foreign, 32, NULL), SADTAB_CONFLICT);
	assert_int_equal(sam_sadtab_consume(t, e.hash, 10, 1, set, 48, NULL), SADTAB_CONFLICT);
	/* B twice in one request: only one B was authorized. */
	memcpy(req, set + 32, 32);
	memcpy(req + 32, set + 32, 32);
	assert_int_equal(sam_sadtab_consume(t, e.hash, 10, 2, req, 32, NULL), SADTAB_CONFLICT);
	/* A twice: authorized twice, so allowed. */
	memcpy(req, set, 32);
	memcpy(req + 32, set, 32);
	assert_int_equal(sam_sadtab_consume(t, e.hash, 10, 2, req, 32, NULL), SADTAB_OK);
	/* A a third time: spent. B: still there. */
	assert_int_equal(sam_sadtab_consume(t, e.hash, 10, 1, set, 32, NULL), SADTAB_CONFLICT);
	assert_int_equal(sam_sadtab_consume(t, e.hash, 10, 1, set + 32, 32, NULL), SADTAB_OK);
	assert_int_equal(sam_sadtab_count(t), 0);
	sam_sadtab_free(t);
}

static void test_bounds_and_sweep(void **state)
{
	sam_sadtab *t;
	sam_sadtab_entry e;
	uint8_t set[64 * 32];

	(void)state;
	assert_int_equal(sam_sadtab_new(4, 1 << 20, 64, &t), 0);
	for (unsigned i = 0; i < 4; i++) {
		e = unbound(i + 1, 1, 20);
		assert_int_equal(sam_sadtab_put(t, &e, 10), SADTAB_OK);
	}
	e = unbound(9, 1, 100);
	assert_int_equal(sam_sadtab_put(t, &e, 10), SADTAB_FULL);
	/* Once the others expired, a full sweep makes room. */
	assert_int_equal(sam_sadtab_put(t, &e, 20), SADTAB_OK);
	assert_int_equal(sam_sadtab_count(t), 1);
	sam_sadtab_free(t);

	/* Bytes: 64 hashes of 32 bytes each (2 KiB) do not fit in 2 KiB. */
	assert_int_equal(sam_sadtab_new(1000, 2048, 64, &t), 0);
	memset(set, 0x11, sizeof(set));
	e = unbound(1, 64, 100);
	e.hash_alg = HASH_SHA256;
	e.hashes = set;
	e.n_hashes = 64;
	e.hash_len = 32;
	assert_int_equal(sam_sadtab_put(t, &e, 10), SADTAB_FULL);
	e.n_hashes = 8;
	e.remaining = 8;
	assert_int_equal(sam_sadtab_put(t, &e, 10), SADTAB_OK);
	sam_sadtab_free(t);

	/* Per signer: user 7 has 3 live SADs at most; user 8 is not affected. */
	assert_int_equal(sam_sadtab_new(100, 1 << 20, 3, &t), 0);
	for (unsigned i = 0; i < 3; i++) {
		e = unbound(i + 1, 1, 100);
		assert_int_equal(sam_sadtab_put(t, &e, 10), SADTAB_OK);
	}
	e = unbound(10, 1, 100);
	assert_int_equal(sam_sadtab_put(t, &e, 10), SADTAB_FULL);
	e.user_id = 8;
	assert_int_equal(sam_sadtab_put(t, &e, 10), SADTAB_OK);
	/* Spending one makes room again. */
	e = unbound(1, 1, 100);
	assert_int_equal(sam_sadtab_consume(t, e.hash, 10, 1, NULL, 0, NULL), SADTAB_OK);
	e = unbound(11, 1, 100);
	assert_int_equal(sam_sadtab_put(t, &e, 10), SADTAB_OK);
	sam_sadtab_free(t);
}

#define RACERS 32

typedef struct {
	sam_sadtab *t;
	const uint8_t *hash;
	pthread_barrier_t *b;
	int ok;
} racer;

static void *race(void *arg)
{
	racer *r = arg;

	pthread_barrier_wait(r->b);
	for (int i = 0; i < 50; i++)
		if (sam_sadtab_consume(r->t, r->hash, 10, 1, NULL, 0, NULL) == SADTAB_OK)
			r->ok++;
	return NULL;
}

static void test_race(void **state)
{
	sam_sadtab *t;
	sam_sadtab_entry e = unbound(1, 100, 1000);
	pthread_t th[RACERS];
	racer r[RACERS];
	pthread_barrier_t b;
	int total = 0;

	(void)state;
	assert_int_equal(sam_sadtab_new(16, 1 << 20, 64, &t), 0);
	assert_int_equal(sam_sadtab_put(t, &e, 10), SADTAB_OK);
	pthread_barrier_init(&b, NULL, RACERS);
	for (int i = 0; i < RACERS; i++) {
		r[i] = (racer){t, e.hash, &b, 0};
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < RACERS; i++) {
		pthread_join(th[i], NULL);
		total += r[i].ok;
	}
	/* 32 x 50 attempts on 100 uses: exactly 100 spends. */
	assert_int_equal(total, 100);
	assert_int_equal(sam_sadtab_count(t), 0);
	pthread_barrier_destroy(&b);
	sam_sadtab_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_put_get_binding),
	    cmocka_unit_test(test_count_and_expiry),
	    cmocka_unit_test(test_bound_hashes),
	    cmocka_unit_test(test_bounds_and_sweep),
	    cmocka_unit_test(test_race),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
