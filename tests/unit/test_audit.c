/* SPDX-License-Identifier: Apache-2.0 */
/* audit: a hash-chained log verifies when intact, and tampering through
 * raw SQL (modified field, deleted middle record, swapped records,
 * truncation, recomputed single hash) is reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "audit.h"
#include "store.h"

#define N_RECORDS 10

typedef struct {
	char dir[64];
	char path[128];
	store *s;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	char uri[160];
	int i;

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cisres-audit-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/a.db", f->dir);
	snprintf(uri, sizeof(uri), "sqlite:%s", f->path);
	if (store_open(uri, &f->s) != STORE_OK)
		return -1;
	for (i = 1; i <= N_RECORDS; i++) {
		char obj[32], det[64];
		snprintf(obj, sizeof(obj), "credential:%d", i);
		snprintf(det, sizeof(det), "{\"n\":%d}", i);
		if (audit_log(f->s, "user:alice", i % 2 ? "sign" : "authorize", obj, "success",
			      i == 3 ? NULL : det) != 0)
			return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	char p[192];

	store_close(f->s);
	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Tamper as an attacker with write access to the file would: drop the
 * append-only triggers, then run the SQL. */
static void raw_sql(fixture *f, const char *sql)
{
	sqlite3 *db = NULL;
	char *err = NULL;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db,
				      "DROP TRIGGER IF EXISTS audit_no_update;"
				      "DROP TRIGGER IF EXISTS audit_no_delete;",
				      NULL, NULL, &err),
			 SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "sql: %s\n", err);
		fail();
	}
	sqlite3_close(db);
}

static void expect_broken(fixture *f, int64_t first_bad)
{
	audit_report rep;

	assert_int_equal(audit_verify(f->s, &rep), 0);
	assert_true(rep.reason[0] != '\0');
	if (first_bad > 0)
		assert_int_equal(rep.first_bad, first_bad);
}

static void test_intact(void **state)
{
	fixture *f = *state;
	audit_report rep;
	int64_t seq;
	uint8_t head[32];

	assert_int_equal(audit_verify(f->s, &rep), 1);
	assert_int_equal(rep.records, N_RECORDS);
	assert_int_equal(rep.first_bad, 0);
	assert_int_equal(store_audit_head(f->s, &seq, head), STORE_OK);
	assert_int_equal(seq, N_RECORDS);
	/* More appends keep it intact. */
	assert_int_equal(audit_log(f->s, "system", "config", NULL, NULL, NULL), 0);
	assert_int_equal(audit_verify(f->s, &rep), 1);
	assert_int_equal(rep.records, N_RECORDS + 1);
}

static void test_empty_log(void **state)
{
	char dir[64], uri[160], p[192];
	store *s = NULL;
	audit_report rep;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cisres-audit-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(uri, sizeof(uri), "sqlite:%s/e.db", dir);
	assert_int_equal(store_open(uri, &s), STORE_OK);
	assert_int_equal(audit_verify(s, &rep), 1);
	assert_int_equal(rep.records, 0);
	store_close(s);
	snprintf(p, sizeof(p), "%s/e.db", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/e.db-wal", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/e.db-shm", dir);
	unlink(p);
	rmdir(dir);
}

static void test_hash_is_canonical(void **state)
{
	store_audit a, b;
	uint8_t ha[32], hb[32];

	(void)state;
	/* Moving a byte from one field to the next changes the hash. */
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.seq = b.seq = 1;
	snprintf(a.actor, sizeof(a.actor), "ab");
	snprintf(a.action, sizeof(a.action), "c");
	snprintf(b.actor, sizeof(b.actor), "a");
	snprintf(b.action, sizeof(b.action), "bc");
	audit_record_hash(&a, ha);
	audit_record_hash(&b, hb);
	assert_memory_not_equal(ha, hb, 32);
	/* NULL detail and empty detail differ. */
	b = a;
	b.detail = (char *)"";
	audit_record_hash(&b, hb);
	assert_memory_not_equal(ha, hb, 32);
	/* prev participates. */
	b = a;
	b.prev[31] = 1;
	audit_record_hash(&b, hb);
	assert_memory_not_equal(ha, hb, 32);
	/* Deterministic. */
	b = a;
	audit_record_hash(&b, hb);
	assert_memory_equal(ha, hb, 32);
}

static void test_modified_field(void **state)
{
	fixture *f = *state;

	raw_sql(f, "UPDATE audit SET outcome='failure' WHERE seq=4");
	expect_broken(f, 4);
}

static void test_modified_detail(void **state)
{
	fixture *f = *state;

	raw_sql(f, "UPDATE audit SET detail='{\"n\":99}' WHERE seq=7");
	expect_broken(f, 7);
}

static void test_modified_time(void **state)
{
	fixture *f = *state;

	raw_sql(f, "UPDATE audit SET time_us=time_us+1 WHERE seq=1");
	expect_broken(f, 1);
}

static void test_modified_and_rehashed(void **state)
{
	fixture *f = *state;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	store_audit rec;
	uint8_t h[32];
	const void *blob;

	/* Change a record and recompute its own hash correctly: the next
	 * record's link exposes it. */
	raw_sql(f, "UPDATE audit SET actor='user:mallory' WHERE seq=5");
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT seq,time_us,actor,action,object,outcome,detail,"
					    "prev FROM audit WHERE seq=5",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	memset(&rec, 0, sizeof(rec));
	rec.seq = sqlite3_column_int64(st, 0);
	rec.time_us = sqlite3_column_int64(st, 1);
	snprintf(rec.actor, sizeof(rec.actor), "%s", sqlite3_column_text(st, 2));
	snprintf(rec.action, sizeof(rec.action), "%s", sqlite3_column_text(st, 3));
	snprintf(rec.object, sizeof(rec.object), "%s", sqlite3_column_text(st, 4));
	snprintf(rec.outcome, sizeof(rec.outcome), "%s", sqlite3_column_text(st, 5));
	rec.detail =
	    sqlite3_column_text(st, 6) ? strdup((const char *)sqlite3_column_text(st, 6)) : NULL;
	blob = sqlite3_column_blob(st, 7);
	memcpy(rec.prev, blob, 32);
	sqlite3_finalize(st);
	audit_record_hash(&rec, h);
	free(rec.detail);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "UPDATE audit SET hash=? WHERE seq=5", -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
	expect_broken(f, 6);
}

static void test_deleted_middle(void **state)
{
	fixture *f = *state;

	raw_sql(f, "DELETE FROM audit WHERE seq=5");
	expect_broken(f, 5);
}

static void test_deleted_middle_renumbered(void **state)
{
	fixture *f = *state;

	/* Delete and close the gap in the numbering: the links break. */
	raw_sql(f, "DELETE FROM audit WHERE seq=5; UPDATE audit SET seq=seq-1 WHERE seq>5;"
		   "UPDATE audit_head SET seq=seq-1");
	expect_broken(f, 5);
}

static void test_swapped(void **state)
{
	fixture *f = *state;

	raw_sql(f, "UPDATE audit SET seq=-1 WHERE seq=3; UPDATE audit SET seq=3 WHERE seq=4;"
		   "UPDATE audit SET seq=4 WHERE seq=-1");
	expect_broken(f, 3);
}

static void test_truncated(void **state)
{
	fixture *f = *state;

	raw_sql(f, "DELETE FROM audit WHERE seq=10");
	expect_broken(f, 10);
}

static void test_truncated_many(void **state)
{
	fixture *f = *state;

	raw_sql(f, "DELETE FROM audit WHERE seq>6");
	expect_broken(f, 7);
}

static void test_forged_head(void **state)
{
	fixture *f = *state;

	raw_sql(f, "UPDATE audit_head SET hash=zeroblob(32)");
	expect_broken(f, N_RECORDS);
}

static void test_first_deleted(void **state)
{
	fixture *f = *state;

	raw_sql(f, "DELETE FROM audit WHERE seq=1");
	expect_broken(f, 1);
}

/* ---- concurrent appends keep the chain continuous ---- */

static void *appender(void *arg)
{
	store *s = arg;
	int i;

	for (i = 0; i < 25; i++)
		if (audit_log(s, "user:t", "sign", "credential:x", "success", "{}") != 0)
			return (void *)1;
	return NULL;
}

static void test_concurrent_appends(void **state)
{
	fixture *f = *state;
	pthread_t th[4];
	audit_report rep;
	void *ret;
	int i;

	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, appender, f->s), 0);
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], &ret);
		assert_null(ret);
	}
	assert_int_equal(audit_verify(f->s, &rep), 1);
	assert_int_equal(rep.records, N_RECORDS + 100);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_intact),
	    cmocka_unit_test(test_empty_log),
	    cmocka_unit_test(test_hash_is_canonical),
	    T(test_modified_field),
	    T(test_modified_detail),
	    T(test_modified_time),
	    T(test_modified_and_rehashed),
	    T(test_deleted_middle),
	    T(test_deleted_middle_renumbered),
	    T(test_swapped),
	    T(test_truncated),
	    T(test_truncated_many),
	    T(test_forged_head),
	    T(test_first_deleted),
	    T(test_concurrent_appends),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
