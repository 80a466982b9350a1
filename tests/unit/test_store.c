/* SPDX-License-Identifier: Apache-2.0 */
/* store (SQLite backend): every function against a temporary database,
 * including atomicity of the failure counters across processes. (SADs are
 * not stored: see test_sam_sadtab.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"

typedef struct {
	char dir[64];
	char path[128];
	char uri[160];
	store *s;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cisres-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	snprintf(f->uri, sizeof(f->uri), "sqlite:%s", f->path);
	if (store_open(f->uri, &f->s) != STORE_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	char p[192];

	store_close(f->s);
	snprintf(p, sizeof(p), "%s/store.db", f->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/store.db-wal", f->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/store.db-shm", f->dir);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int64_t add_user(store *s, const char *name)
{
	store_user u;

	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", name);
	snprintf(u.display, sizeof(u.display), "%s Display", name);
	snprintf(u.pw_hash, sizeof(u.pw_hash), "$scrypt$dummy");
	u.created = 1700000000;
	assert_int_equal(store_user_add(s, &u), STORE_OK);
	assert_true(u.id > 0);
	return u.id;
}

static void add_cred(store *s, const char *id, int64_t user)
{
	store_credential c;
	static const uint8_t cert[] = {0x30, 0x03, 0x02, 0x01, 0x05};

	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "%s", id);
	c.user_id = user;
	memcpy(c.key_id, "0123456789abcdef", 16);
	c.key_id_len = 16;
	c.key_kind = 1;
	c.key_bits = 2048;
	c.cert_der = (uint8_t *)cert;
	c.cert_len = sizeof(cert);
	c.scal = 2;
	c.auth_otp = true;
	c.multisign = 5;
	snprintf(c.pin_hash, sizeof(c.pin_hash), "$scrypt$pin");
	c.enabled = true;
	snprintf(c.description, sizeof(c.description), "test key");
	c.created = 1700000001;
	assert_int_equal(store_cred_add(s, &c), STORE_OK);
}

/* ---- open ---- */

static void test_open(void **state)
{
	fixture *f = *state;
	struct stat sb;
	char v[32];
	store *s2 = NULL;

	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(store_meta_get(f->s, "schema_version", v, sizeof(v)), STORE_OK);
	assert_string_equal(v, "2");
	/* The version is owned by the migrations. */
	assert_int_not_equal(store_meta_set(f->s, "schema_version", "7"), STORE_OK);
	/* A second handle on the same file sees the same data. */
	add_user(f->s, "alice");
	assert_int_equal(store_open(f->uri, &s2), STORE_OK);
	{
		store_user u;
		assert_int_equal(store_user_get(s2, "alice", &u), STORE_OK);
	}
	store_close(s2);
	/* Bad URIs. */
	assert_int_not_equal(store_open("postgres://x", &s2), STORE_OK);
	assert_int_not_equal(store_open("sqlite:", &s2), STORE_OK);
	assert_int_not_equal(store_open("sqlite::memory:", &s2), STORE_OK);
	assert_int_not_equal(store_open("/tmp/x.db", &s2), STORE_OK);
	assert_int_not_equal(store_open("sqlite:/nonexistent-dir/x/y.db", &s2), STORE_OK);
	assert_null(s2);
}

static void test_future_schema_refused(void **state)
{
	fixture *f = *state;
	char cmd[256];
	store *s2 = NULL;

	/* A database from a newer program is not touched. */
	store_close(f->s);
	f->s = NULL;
	snprintf(cmd, sizeof(cmd),
		 "sqlite3 %s \"UPDATE meta SET value='99' WHERE key='schema_version'\"", f->path);
	assert_int_equal(system(cmd), 0);
	assert_int_not_equal(store_open(f->uri, &s2), STORE_OK);
	snprintf(cmd, sizeof(cmd),
		 "sqlite3 %s \"UPDATE meta SET value='1' WHERE key='schema_version'\"", f->path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(store_open(f->uri, &f->s), STORE_OK);
}

/* ---- users ---- */

static void test_users(void **state)
{
	fixture *f = *state;
	store_user u, *list = NULL;
	size_t n = 0;
	int failures = -1;
	bool locked = true;
	int64_t a, b;

	a = add_user(f->s, "alice");
	b = add_user(f->s, "bob");
	assert_int_not_equal(a, b);
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "alice");
	assert_int_equal(store_user_add(f->s, &u), STORE_EXISTS);
	memset(&u, 0, sizeof(u));
	assert_int_not_equal(store_user_add(f->s, &u), STORE_OK); /* empty name */

	assert_int_equal(store_user_get(f->s, "alice", &u), STORE_OK);
	assert_int_equal(u.id, a);
	assert_string_equal(u.display, "alice Display");
	assert_int_equal(u.created, 1700000000);
	assert_int_equal(u.otp_key_len, 0);
	assert_int_equal(store_user_get(f->s, "carol", &u), STORE_NOTFOUND);
	assert_int_equal(store_user_get_id(f->s, b, &u), STORE_OK);
	assert_string_equal(u.name, "bob");
	assert_int_equal(store_user_get_id(f->s, 9999, &u), STORE_NOTFOUND);

	/* OTP key and flags round trip. */
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "otpuser");
	memcpy(u.otp_key, "12345678901234567890", 20);
	u.otp_key_len = 20;
	u.login_otp = true;
	u.otp_last_step = 5;
	assert_int_equal(store_user_add(f->s, &u), STORE_OK);
	assert_int_equal(store_user_get(f->s, "otpuser", &u), STORE_OK);
	assert_int_equal(u.otp_key_len, 20);
	assert_memory_equal(u.otp_key, "12345678901234567890", 20);
	assert_true(u.login_otp);
	assert_int_equal(u.otp_last_step, 5);

	assert_int_equal(store_user_list(f->s, &list, &n), STORE_OK);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].name, "alice");
	assert_string_equal(list[1].name, "bob");
	free(list);

	assert_int_equal(store_user_set_password(f->s, a, "$scrypt$new"), STORE_OK);
	assert_int_equal(store_user_get_id(f->s, a, &u), STORE_OK);
	assert_string_equal(u.pw_hash, "$scrypt$new");
	assert_int_equal(store_user_set_password(f->s, 9999, "$x"), STORE_NOTFOUND);

	/* Failure counter and lockout at the threshold. */
	assert_int_equal(store_user_fail(f->s, a, 3, &failures, &locked), STORE_OK);
	assert_int_equal(failures, 1);
	assert_false(locked);
	assert_int_equal(store_user_fail(f->s, a, 3, &failures, &locked), STORE_OK);
	assert_int_equal(failures, 2);
	assert_false(locked);
	assert_int_equal(store_user_reset_failures(f->s, a), STORE_OK);
	assert_int_equal(store_user_fail(f->s, a, 3, &failures, &locked), STORE_OK);
	assert_int_equal(failures, 1);
	assert_int_equal(store_user_fail(f->s, a, 3, &failures, &locked), STORE_OK);
	assert_int_equal(store_user_fail(f->s, a, 3, &failures, &locked), STORE_OK);
	assert_int_equal(failures, 3);
	assert_true(locked);
	assert_int_equal(store_user_get_id(f->s, a, &u), STORE_OK);
	assert_true(u.locked);
	assert_int_equal(u.pw_failures, 3);
	/* A reset of the counter does not unlock. */
	assert_int_equal(store_user_reset_failures(f->s, a), STORE_OK);
	assert_int_equal(store_user_get_id(f->s, a, &u), STORE_OK);
	assert_true(u.locked);
	/* Unlock resets the counter too. */
	assert_int_equal(store_user_fail(f->s, a, 3, &failures, &locked), STORE_OK);
	assert_int_equal(store_user_set_locked(f->s, a, false), STORE_OK);
	assert_int_equal(store_user_get_id(f->s, a, &u), STORE_OK);
	assert_false(u.locked);
	assert_int_equal(u.pw_failures, 0);
	assert_int_equal(store_user_set_locked(f->s, a, true), STORE_OK);
	assert_int_equal(store_user_get_id(f->s, a, &u), STORE_OK);
	assert_true(u.locked);
	assert_int_equal(store_user_fail(f->s, 9999, 3, &failures, &locked), STORE_NOTFOUND);
	/* threshold 0: never locks */
	assert_int_equal(store_user_set_locked(f->s, b, false), STORE_OK);
	assert_int_equal(store_user_fail(f->s, b, 0, &failures, &locked), STORE_OK);
	assert_false(locked);

	/* TOTP steps: strictly increasing only. */
	assert_int_equal(store_user_use_otp_step(f->s, a, 100), STORE_OK);
	assert_int_equal(store_user_use_otp_step(f->s, a, 100), STORE_CONFLICT);
	assert_int_equal(store_user_use_otp_step(f->s, a, 99), STORE_CONFLICT);
	assert_int_equal(store_user_use_otp_step(f->s, a, 101), STORE_OK);
	assert_int_equal(store_user_get_id(f->s, a, &u), STORE_OK);
	assert_int_equal(u.otp_last_step, 101);
	assert_int_equal(store_user_use_otp_step(f->s, 9999, 1), STORE_NOTFOUND);

	assert_int_equal(store_user_del(f->s, b), STORE_OK);
	assert_int_equal(store_user_get(f->s, "bob", &u), STORE_NOTFOUND);
	assert_int_equal(store_user_del(f->s, b), STORE_NOTFOUND);
}

/* ---- credentials ---- */

static void test_credentials(void **state)
{
	fixture *f = *state;
	store_credential c, *list = NULL;
	size_t n = 0;
	int failures = 0;
	bool locked = false;
	int64_t a = add_user(f->s, "alice"), b = add_user(f->s, "bob");
	static const uint8_t cert2[] = {0x30, 0x00};

	add_cred(f->s, "c1", a);
	add_cred(f->s, "c2", a);
	add_cred(f->s, "c3", b);
	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "c1");
	c.user_id = a;
	c.key_id_len = 1;
	assert_int_equal(store_cred_add(f->s, &c), STORE_EXISTS);
	snprintf(c.id, sizeof(c.id), "c9");
	c.user_id = 9999;
	assert_int_equal(store_cred_add(f->s, &c), STORE_NOTFOUND); /* no such user */

	assert_int_equal(store_cred_get(f->s, "c1", &c), STORE_OK);
	assert_int_equal(c.user_id, a);
	assert_int_equal(c.key_id_len, 16);
	assert_memory_equal(c.key_id, "0123456789abcdef", 16);
	assert_int_equal(c.cert_len, 5);
	assert_int_equal(c.cert_der[4], 0x05);
	assert_int_equal(c.scal, 2);
	assert_true(c.auth_otp);
	assert_int_equal(c.multisign, 5);
	assert_true(c.enabled);
	assert_false(c.pin_locked);
	assert_string_equal(c.description, "test key");
	store_credential_clear(&c);
	assert_null(c.cert_der);
	assert_int_equal(store_cred_get(f->s, "nope", &c), STORE_NOTFOUND);

	assert_int_equal(store_cred_list(f->s, a, &list, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].id, "c1");
	assert_string_equal(list[1].id, "c2");
	store_cred_list_free(list, n);
	assert_int_equal(store_cred_list(f->s, 0, &list, &n), STORE_OK);
	assert_int_equal(n, 3);
	store_cred_list_free(list, n);
	assert_int_equal(store_cred_list(f->s, 9999, &list, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_cred_list_free(list, n);

	assert_int_equal(store_cred_set_enabled(f->s, "c1", false), STORE_OK);
	assert_int_equal(store_cred_get(f->s, "c1", &c), STORE_OK);
	assert_false(c.enabled);
	store_credential_clear(&c);
	assert_int_equal(store_cred_set_enabled(f->s, "zz", false), STORE_NOTFOUND);

	assert_int_equal(store_cred_set_pin(f->s, "c1", "$scrypt$newpin"), STORE_OK);
	assert_int_equal(store_cred_set_cert(f->s, "c1", cert2, sizeof(cert2)), STORE_OK);
	assert_int_equal(store_cred_get(f->s, "c1", &c), STORE_OK);
	assert_string_equal(c.pin_hash, "$scrypt$newpin");
	assert_int_equal(c.cert_len, 2);
	store_credential_clear(&c);
	assert_int_equal(store_cred_set_cert(f->s, "c1", NULL, 0), STORE_OK);
	assert_int_equal(store_cred_get(f->s, "c1", &c), STORE_OK);
	assert_null(c.cert_der);
	assert_int_equal(c.cert_len, 0);
	store_credential_clear(&c);
	assert_int_equal(store_cred_set_cert(f->s, "zz", cert2, 2), STORE_NOTFOUND);

	assert_int_equal(store_cred_pin_fail(f->s, "c2", 2, &failures, &locked), STORE_OK);
	assert_int_equal(failures, 1);
	assert_false(locked);
	assert_int_equal(store_cred_pin_reset(f->s, "c2"), STORE_OK);
	assert_int_equal(store_cred_pin_fail(f->s, "c2", 2, &failures, &locked), STORE_OK);
	assert_int_equal(failures, 1);
	assert_int_equal(store_cred_pin_fail(f->s, "c2", 2, &failures, &locked), STORE_OK);
	assert_int_equal(failures, 2);
	assert_true(locked);
	assert_int_equal(store_cred_get(f->s, "c2", &c), STORE_OK);
	assert_true(c.pin_locked);
	assert_int_equal(c.pin_failures, 2);
	store_credential_clear(&c);
	assert_int_equal(store_cred_set_locked(f->s, "c2", false), STORE_OK);
	assert_int_equal(store_cred_get(f->s, "c2", &c), STORE_OK);
	assert_false(c.pin_locked);
	assert_int_equal(c.pin_failures, 0);
	store_credential_clear(&c);
	assert_int_equal(store_cred_pin_fail(f->s, "zz", 2, &failures, &locked), STORE_NOTFOUND);

	/* A user who still owns credentials cannot be deleted. */
	assert_int_equal(store_user_del(f->s, b), STORE_CONFLICT);
	assert_int_equal(store_cred_del(f->s, "c3"), STORE_OK);
	assert_int_equal(store_cred_del(f->s, "c3"), STORE_NOTFOUND);
	assert_int_equal(store_user_del(f->s, b), STORE_OK);
}

/* ---- tokens ---- */

static void fill(uint8_t h[32], uint8_t v)
{
	memset(h, v, 32);
}

static void test_tokens(void **state)
{
	fixture *f = *state;
	store_token t, g;
	int64_t a = add_user(f->s, "alice");
	uint8_t r[32], a1[32], a2[32], x[32];

	fill(r, 1);
	fill(a1, 2);
	fill(a2, 3);
	fill(x, 9);
	memset(&t, 0, sizeof(t));
	memcpy(t.hash, r, 32);
	t.kind = STORE_TOKEN_REFRESH;
	t.user_id = a;
	t.expires = 2000;
	assert_int_equal(store_token_put(f->s, &t), STORE_OK);
	assert_int_equal(store_token_put(f->s, &t), STORE_EXISTS);
	memcpy(t.hash, a1, 32);
	t.kind = STORE_TOKEN_ACCESS;
	memcpy(t.parent, r, 32);
	t.has_parent = true;
	t.expires = 1000;
	assert_int_equal(store_token_put(f->s, &t), STORE_OK);
	memcpy(t.hash, a2, 32);
	t.has_parent = false;
	memset(t.parent, 0, 32);
	assert_int_equal(store_token_put(f->s, &t), STORE_OK);

	assert_int_equal(store_token_get(f->s, a1, &g), STORE_OK);
	assert_int_equal(g.kind, STORE_TOKEN_ACCESS);
	assert_int_equal(g.user_id, a);
	assert_true(g.has_parent);
	assert_memory_equal(g.parent, r, 32);
	assert_int_equal(g.expires, 1000);
	assert_false(g.revoked);
	assert_int_equal(store_token_get(f->s, x, &g), STORE_NOTFOUND);

	/* Revoking the refresh token revokes its children only. */
	assert_int_equal(store_token_revoke(f->s, r), STORE_OK);
	assert_int_equal(store_token_get(f->s, r, &g), STORE_OK);
	assert_true(g.revoked);
	assert_int_equal(store_token_get(f->s, a1, &g), STORE_OK);
	assert_true(g.revoked);
	assert_int_equal(store_token_get(f->s, a2, &g), STORE_OK);
	assert_false(g.revoked);
	assert_int_equal(store_token_revoke(f->s, a2), STORE_OK);
	assert_int_equal(store_token_get(f->s, a2, &g), STORE_OK);
	assert_true(g.revoked);
	assert_int_equal(store_token_revoke(f->s, x), STORE_NOTFOUND);

	assert_int_equal(store_token_purge_expired(f->s, 1500), STORE_OK);
	assert_int_equal(store_token_get(f->s, a1, &g), STORE_NOTFOUND);
	assert_int_equal(store_token_get(f->s, r, &g), STORE_OK);
}

/* ---- concurrency across processes: the failure counter ---- */

static void test_fail_counter_processes(void **state)
{
	fixture *f = *state;
	int64_t a = add_user(f->s, "alice");
	store_user u;
	pid_t kids[3];
	int i, st;

	for (i = 0; i < 3; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			store *s = NULL;
			int k, failures;
			bool locked;
			if (store_open(f->uri, &s) != STORE_OK)
				_exit(2);
			for (k = 0; k < 20; k++)
				if (store_user_fail(s, a, 0, &failures, &locked) != STORE_OK)
					_exit(3);
			store_close(s);
			_exit(0);
		}
	}
	for (i = 0; i < 20; i++) {
		int failures;
		bool locked;
		assert_int_equal(store_user_fail(f->s, a, 0, &failures, &locked), STORE_OK);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	assert_int_equal(store_user_get_id(f->s, a, &u), STORE_OK);
	assert_int_equal(u.pw_failures, 80);
}

/* Several processes create and migrate the same new database at once. */
static void test_concurrent_create(void **state)
{
	fixture *f = *state;
	char uri[192], path[160], p2[192];
	pid_t kids[4];
	store *s = NULL;
	store_user *list = NULL;
	size_t n = 0;
	int i, st;

	snprintf(path, sizeof(path), "%s/fresh.db", f->dir);
	snprintf(uri, sizeof(uri), "sqlite:%s", path);
	for (i = 0; i < 4; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			store *cs = NULL;
			store_user u;
			if (store_open(uri, &cs) != STORE_OK)
				_exit(2);
			memset(&u, 0, sizeof(u));
			snprintf(u.name, sizeof(u.name), "user%d", i);
			if (store_user_add(cs, &u) != STORE_OK)
				_exit(3);
			store_close(cs);
			_exit(0);
		}
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	assert_int_equal(store_open(uri, &s), STORE_OK);
	assert_int_equal(store_user_list(s, &list, &n), STORE_OK);
	assert_int_equal(n, 4);
	free(list);
	store_close(s);
	unlink(path);
	snprintf(p2, sizeof(p2), "%s-wal", path);
	unlink(p2);
	snprintf(p2, sizeof(p2), "%s-shm", path);
	unlink(p2);
}

/* ---- audit ---- */

static void chain_xor(store_audit *rec, void *ctx)
{
	int i;

	(*(int *)ctx)++;
	for (i = 0; i < 32; i++)
		rec->hash[i] = (uint8_t)(rec->prev[i] ^ (uint8_t)rec->seq);
}

typedef struct {
	int64_t n, last;
	bool ok;
} iter_ctx;

static int iter_cb(const store_audit *rec, void *ctx)
{
	iter_ctx *c = ctx;

	c->n++;
	if (rec->seq != c->last + 1)
		c->ok = false;
	c->last = rec->seq;
	if (rec->seq == 2 && (rec->detail == NULL || strcmp(rec->detail, "d2") != 0))
		c->ok = false;
	if (rec->seq == 1 && rec->detail != NULL)
		c->ok = false;
	return rec->seq == 4 ? 1 : 0; /* stop early at 4 */
}

static void test_audit(void **state)
{
	fixture *f = *state;
	store_audit rec;
	uint8_t head[32], zero[32];
	int64_t seq = -1;
	int calls = 0, i;
	iter_ctx ic = {0, 0, true};

	memset(zero, 0, 32);
	assert_int_equal(store_audit_head(f->s, &seq, head), STORE_OK);
	assert_int_equal(seq, 0);
	assert_memory_equal(head, zero, 32);
	for (i = 1; i <= 5; i++) {
		char d[8];
		memset(&rec, 0, sizeof(rec));
		rec.time_us = 1000 + i;
		snprintf(rec.actor, sizeof(rec.actor), "user:alice");
		snprintf(rec.action, sizeof(rec.action), "login");
		snprintf(rec.outcome, sizeof(rec.outcome), "success");
		snprintf(d, sizeof(d), "d%d", i);
		rec.detail = i == 1 ? NULL : d;
		assert_int_equal(store_audit_append(f->s, &rec, chain_xor, &calls), STORE_OK);
		assert_int_equal(rec.seq, i);
		assert_int_equal(store_audit_head(f->s, &seq, head), STORE_OK);
		assert_int_equal(seq, i);
		assert_memory_equal(head, rec.hash, 32);
	}
	assert_int_equal(calls, 5);
	assert_int_equal(store_audit_iter(f->s, 1, iter_cb, &ic), STORE_OK);
	assert_true(ic.ok);
	assert_int_equal(ic.n, 4);
	ic.n = 0;
	ic.last = 2;
	assert_int_equal(store_audit_iter(f->s, 3, iter_cb, &ic), STORE_OK);
	assert_int_equal(ic.n, 2);

	/* Append-only: the database refuses updates and deletes. */
	{
		char cmd[256];
		snprintf(cmd, sizeof(cmd),
			 "sqlite3 %s \"DELETE FROM audit WHERE seq=2\" 2>/dev/null", f->path);
		assert_int_not_equal(system(cmd), 0);
		snprintf(cmd, sizeof(cmd),
			 "sqlite3 %s \"UPDATE audit SET actor='x' WHERE seq=2\" 2>/dev/null",
			 f->path);
		assert_int_not_equal(system(cmd), 0);
	}
}

/* ---- meta ---- */

static void test_meta(void **state)
{
	fixture *f = *state;
	char v[16];

	assert_int_equal(store_meta_get(f->s, "k", v, sizeof(v)), STORE_NOTFOUND);
	assert_int_equal(store_meta_set(f->s, "k", "one"), STORE_OK);
	assert_int_equal(store_meta_get(f->s, "k", v, sizeof(v)), STORE_OK);
	assert_string_equal(v, "one");
	assert_int_equal(store_meta_set(f->s, "k", "two"), STORE_OK);
	assert_int_equal(store_meta_get(f->s, "k", v, sizeof(v)), STORE_OK);
	assert_string_equal(v, "two");
	assert_int_equal(store_meta_set(f->s, "k", "a value that is too long"), STORE_OK);
	assert_int_equal(store_meta_get(f->s, "k", v, sizeof(v)), STORE_ERR);
}

/* ---- schema 2: no SAD table ---- */

static void test_no_sad_table(void **state)
{
	fixture *f = *state;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE name = 'sads'", -1,
			       &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_future_schema_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_users, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_credentials, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fail_counter_processes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_create, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_sad_table, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
