/* SPDX-License-Identifier: Apache-2.0 */
/* audit group commit: many threads appending at once get one durable
 * transaction per group, never one per record, and the log stays exactly
 * what sequential appends would have made: the chain verifies, the count is
 * exact, sequence numbers have no gaps or duplicates, every caller's record
 * is durable (visible to another connection) when its call returns, and a
 * failing group fails all of its records and none of the others. */
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

#define N_THREADS 32
#define N_PER_THREAD 200
#define N_TOTAL (N_THREADS * N_PER_THREAD)

typedef struct {
	char dir[64];
	char path[128];
	store *s;  /* the handle every thread shares */
	store *s2; /* a second handle: another connection, another pool */
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	char uri[160];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cisres-auditgrp-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/a.db", f->dir);
	snprintf(uri, sizeof(uri), "sqlite:%s", f->path);
	if (store_open(uri, &f->s) != STORE_OK || store_open(uri, &f->s2) != STORE_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	char p[192];

	store_close(f->s);
	store_close(f->s2);
	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- 32 threads x 200 records through audit_log ---- */

typedef struct {
	fixture *f;
	int id;
	int failed;
} worker;

static void *log_worker(void *arg)
{
	worker *w = arg;

	for (int i = 0; i < N_PER_THREAD; i++) {
		char actor[32], det[64];

		snprintf(actor, sizeof(actor), "user:t%d", w->id);
		snprintf(det, sizeof(det), "{\"t\":%d,\"i\":%d}", w->id, i);
		if (audit_log(w->f->s, actor, "sign", "credential:x", "success", det) != 0)
			w->failed++;
	}
	return NULL;
}

/* What the log holds: per thread, the records seen in order. */
typedef struct {
	int64_t expect_seq;
	int64_t n;
	int next_i[N_THREADS]; /* each thread's records appear in its own order */
	bool ok;
	char why[128];
} scan;

static int scan_cb(const store_audit *rec, void *ctx)
{
	scan *sc = ctx;
	int t = -1, i = -1;

	if (rec->seq != sc->expect_seq) {
		snprintf(sc->why, sizeof(sc->why), "seq %lld where %lld expected",
			 (long long)rec->seq, (long long)sc->expect_seq);
		sc->ok = false;
		return 1;
	}
	sc->expect_seq++;
	sc->n++;
	if (rec->detail == NULL || sscanf(rec->detail, "{\"t\":%d,\"i\":%d}", &t, &i) != 2 ||
	    t < 0 || t >= N_THREADS) {
		snprintf(sc->why, sizeof(sc->why), "record %lld: unexpected detail",
			 (long long)rec->seq);
		sc->ok = false;
		return 1;
	}
	if (i != sc->next_i[t]) {
		snprintf(sc->why, sizeof(sc->why), "thread %d: record %d where %d expected", t, i,
			 sc->next_i[t]);
		sc->ok = false;
		return 1;
	}
	sc->next_i[t]++;
	return 0;
}

static void test_many_threads(void **state)
{
	fixture *f = *state;
	pthread_t th[N_THREADS];
	worker w[N_THREADS];
	store_audit_stats st;
	audit_report rep;
	scan sc;
	int64_t seq = 0;
	uint8_t head[32];

	for (int i = 0; i < N_THREADS; i++) {
		w[i] = (worker){f, i, 0};
		assert_int_equal(pthread_create(&th[i], NULL, log_worker, &w[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failed, 0);
	}

	/* The chain verifies (links, hashes, seq 1..N without gaps, head). */
	assert_int_equal(audit_verify(f->s, &rep), 1);
	assert_int_equal(rep.records, N_TOTAL);
	/* Through another handle (another connection): the same log. */
	assert_int_equal(audit_verify(f->s2, &rep), 1);
	assert_int_equal(rep.records, N_TOTAL);
	assert_int_equal(store_audit_head(f->s2, &seq, head), STORE_OK);
	assert_int_equal(seq, N_TOTAL);

	/* Every record exactly once, each thread's in the order it wrote them. */
	memset(&sc, 0, sizeof(sc));
	sc.expect_seq = 1;
	sc.ok = true;
	assert_int_equal(store_audit_iter(f->s, 1, scan_cb, &sc), STORE_OK);
	if (!sc.ok)
		fail_msg("%s", sc.why);
	assert_int_equal(sc.n, N_TOTAL);
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(sc.next_i[i], N_PER_THREAD);

	/* Group commit happened: fewer transactions than records. */
	audit_stats(f->s, &st);
	print_message("%d records in %llu commits (largest group %llu)\n", N_TOTAL,
		      (unsigned long long)st.commits, (unsigned long long)st.max_group);
	assert_int_equal(st.records, N_TOTAL);
	assert_int_equal(st.failures, 0);
	assert_true(st.commits >= 1);
	assert_true(st.commits < (uint64_t)N_TOTAL);
	assert_true(st.max_group > 1);
	/* The other handle wrote nothing. */
	audit_stats(f->s2, &st);
	assert_int_equal(st.records, 0);
	assert_int_equal(st.commits, 0);
}

/* ---- durability: a record is committed when its call returns ---- */

static void chain_hash(store_audit *rec, void *ctx)
{
	(void)ctx;
	audit_record_hash(rec, rec->hash);
}

typedef struct {
	fixture *f;
	int id;
	int late; /* returned before its record was visible elsewhere */
	int failed;
} dworker;

static void *durable_worker(void *arg)
{
	dworker *w = arg;

	for (int i = 0; i < 100; i++) {
		store_audit rec;
		int64_t seq = 0;
		uint8_t head[32];

		memset(&rec, 0, sizeof(rec));
		rec.time_us = 1700000000000000LL + i;
		snprintf(rec.actor, sizeof(rec.actor), "user:d%d", w->id);
		snprintf(rec.action, sizeof(rec.action), "sign");
		snprintf(rec.outcome, sizeof(rec.outcome), "success");
		if (store_audit_append(w->f->s, &rec, chain_hash, NULL) != STORE_OK) {
			w->failed++;
			continue;
		}
		/* Another connection must already see it (committed). */
		if (store_audit_head(w->f->s2, &seq, head) != STORE_OK || seq < rec.seq)
			w->late++;
	}
	return NULL;
}

static void test_durable_on_return(void **state)
{
	fixture *f = *state;
	pthread_t th[8];
	dworker w[8];
	audit_report rep;

	for (int i = 0; i < 8; i++) {
		w[i] = (dworker){f, i, 0, 0};
		assert_int_equal(pthread_create(&th[i], NULL, durable_worker, &w[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failed, 0);
		assert_int_equal(w[i].late, 0);
	}
	assert_int_equal(audit_verify(f->s, &rep), 1);
	assert_int_equal(rep.records, 800);
}

/* ---- a failing group fails all of its records, and only those ---- */

static void raw_sql(fixture *f, const char *sql)
{
	sqlite3 *db = NULL;
	char *err = NULL;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err != NULL ? err : "?");
	sqlite3_close(db);
}

#define P_THREADS 8
#define P_PER_THREAD 60

typedef struct {
	fixture *f;
	int id;
	int rc[P_PER_THREAD];
} pworker;

static void *poison_worker(void *arg)
{
	pworker *w = arg;

	for (int i = 0; i < P_PER_THREAD; i++) {
		char det[64];
		/* Every 10th record of thread 0 is refused by the database. */
		bool poison = w->id == 0 && i % 10 == 5;

		snprintf(det, sizeof(det), "{\"t\":%d,\"i\":%d}", w->id, i);
		w->rc[i] = audit_log(w->f->s, poison ? "user:poison" : "user:ok", "sign",
				     "credential:x", "success", det);
	}
	return NULL;
}

typedef struct {
	int seen[P_THREADS][P_PER_THREAD];
	int poison_seen;
} pscan;

static int pscan_cb(const store_audit *rec, void *ctx)
{
	pscan *ps = ctx;
	int t = -1, i = -1;

	if (strcmp(rec->actor, "user:poison") == 0)
		ps->poison_seen++;
	if (rec->detail != NULL && sscanf(rec->detail, "{\"t\":%d,\"i\":%d}", &t, &i) == 2 &&
	    t >= 0 && t < P_THREADS && i >= 0 && i < P_PER_THREAD)
		ps->seen[t][i]++;
	return 0;
}

static void test_failed_group(void **state)
{
	fixture *f = *state;
	pthread_t th[P_THREADS];
	pworker *w = calloc(P_THREADS, sizeof(*w));
	pscan *ps = calloc(1, sizeof(*ps));
	store_audit_stats st;
	audit_report rep;
	int failed = 0, ok = 0, poison_failed = 0;

	assert_non_null(w);
	assert_non_null(ps);
	/* The database refuses one actor: the transaction holding such a
	 * record rolls back, with every other record of its group. */
	raw_sql(f, "CREATE TRIGGER poison BEFORE INSERT ON audit WHEN NEW.actor='user:poison'"
		   " BEGIN SELECT RAISE(ABORT, 'poisoned'); END;");
	for (int i = 0; i < P_THREADS; i++) {
		w[i].f = f;
		w[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, poison_worker, &w[i]), 0);
	}
	for (int i = 0; i < P_THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);

	assert_int_equal(store_audit_iter(f->s, 1, pscan_cb, ps), STORE_OK);
	assert_int_equal(ps->poison_seen, 0);
	for (int t = 0; t < P_THREADS; t++) {
		for (int i = 0; i < P_PER_THREAD; i++) {
			/* Success <=> in the log exactly once; failure <=> absent. */
			if (w[t].rc[i] == 0) {
				ok++;
				assert_int_equal(ps->seen[t][i], 1);
			} else {
				failed++;
				assert_int_equal(ps->seen[t][i], 0);
				if (t == 0 && i % 10 == 5)
					poison_failed++;
			}
		}
	}
	assert_int_equal(poison_failed, P_PER_THREAD / 10);
	audit_stats(f->s, &st);
	print_message("%d appended, %d failed (%d poisoned) in %llu commits\n", ok, failed,
		      poison_failed, (unsigned long long)st.commits);
	assert_int_equal(st.records, (uint64_t)ok);
	assert_int_equal(st.failures, (uint64_t)failed);
	/* What was appended chains without a gap: failed groups left no
	 * trace, not even a burnt sequence number. */
	assert_int_equal(audit_verify(f->s, &rep), 1);
	assert_int_equal(rep.records, ok);
	free(w);
	free(ps);
}

/* A malformed record (unterminated text) is refused alone, before it can
 * join a group and fail the others. */
static void test_malformed_alone(void **state)
{
	fixture *f = *state;
	store_audit rec;
	store_audit_stats st;
	audit_report rep;

	memset(&rec, 0, sizeof(rec));
	memset(rec.actor, 'a', sizeof(rec.actor));
	snprintf(rec.action, sizeof(rec.action), "sign");
	snprintf(rec.outcome, sizeof(rec.outcome), "success");
	assert_int_equal(store_audit_append(f->s, &rec, chain_hash, NULL), STORE_ERR);
	audit_stats(f->s, &st);
	assert_int_equal(st.commits, 0);
	assert_int_equal(st.failures, 0);
	assert_int_equal(audit_log(f->s, "user:x", "sign", "credential:y", "success", NULL), 0);
	assert_int_equal(audit_verify(f->s, &rep), 1);
	assert_int_equal(rep.records, 1);
	audit_stats(NULL, &st);
	assert_int_equal(st.records, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_many_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_durable_on_return, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failed_group, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_alone, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
