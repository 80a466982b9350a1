/* SPDX-License-Identifier: Apache-2.0 */
/* auth: password (+TOTP) login, lockout that survives a store reopen,
 * refresh tokens, revocation, expiry through an injected clock, audit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "auth.h"
#include "kdf.h"
#include "policy.h"
#include "store.h"
#include "totp.h"

static time_t g_now = 1700000000;
static time_t fake_now(void)
{
	return g_now;
}

static const uint8_t otp_key[20] = "12345678901234567890";

typedef struct {
	char dir[64];
	char uri[160];
	store *s;
	policy p;
	int64_t alice, bob, carol;
} fixture;

static int64_t mkuser(fixture *f, const char *name, const char *pw, bool login_otp)
{
	store_user u;

	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", name);
	if (kdf_hash(pw, strlen(pw), f->p.kdf_log_n, u.pw_hash, sizeof(u.pw_hash)) != 0)
		return -1;
	memcpy(u.otp_key, otp_key, sizeof(otp_key));
	u.otp_key_len = sizeof(otp_key);
	u.login_otp = login_otp;
	u.created = g_now;
	if (store_user_add(f->s, &u) != STORE_OK)
		return -1;
	return u.id;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	g_now = 1700000000;
	policy_defaults(&f->p);
	f->p.kdf_log_n = 10;
	f->p.lockout_threshold = 3;
	f->p.now = fake_now;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cisres-auth-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->uri, sizeof(f->uri), "sqlite:%s/a.db", f->dir);
	if (store_open(f->uri, &f->s) != STORE_OK)
		return -1;
	f->alice = mkuser(f, "alice", "alice-password", false);
	f->bob = mkuser(f, "bob", "bob-password", false);
	f->carol = mkuser(f, "carol", "carol-pw", true);
	if (f->alice < 0 || f->bob < 0 || f->carol < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	char p[192];

	store_close(f->s);
	snprintf(p, sizeof(p), "%s/a.db", f->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/a.db-wal", f->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/a.db-shm", f->dir);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static auth_rc login(fixture *f, const char *user, const char *pw, bool remember, auth_tokens *t)
{
	return auth_login_password(f->s, &f->p, user, pw, strlen(pw), remember, t);
}

static void test_token_format(void **state)
{
	char t1[AUTH_TOKEN_MAX], t2[AUTH_TOKEN_MAX];
	uint8_t h1[32], h2[32], hx[32];
	size_t i;

	(void)state;
	assert_int_equal(auth_new_token(t1, h1), 0);
	assert_int_equal(auth_new_token(t2, h2), 0);
	assert_int_equal(strlen(t1), 43); /* 256 bits, base64url, no padding */
	for (i = 0; i < strlen(t1); i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789-_",
				       t1[i]));
	assert_string_not_equal(t1, t2);
	auth_token_hash(t1, strlen(t1), hx);
	assert_memory_equal(h1, hx, 32);
	assert_memory_not_equal(h1, h2, 32);
}

static void test_login_ok(void **state)
{
	fixture *f = *state;
	auth_tokens t;
	int64_t uid = 0;

	assert_int_equal(login(f, "alice", "alice-password", false, &t), AUTH_OK);
	assert_int_equal(strlen(t.access_token), 43);
	assert_string_equal(t.refresh_token, "");
	assert_int_equal(t.expires_in, 3600);
	assert_int_equal(auth_check_bearer(f->s, &f->p, t.access_token, &uid), AUTH_OK);
	assert_int_equal(uid, f->alice);
	/* The token is stored hashed, never in clear. */
	{
		store_token st;
		uint8_t raw[32];
		memcpy(raw, t.access_token, 32);
		assert_int_equal(store_token_get(f->s, raw, &st), STORE_NOTFOUND);
	}
}

static void test_bad_credentials(void **state)
{
	fixture *f = *state;
	auth_tokens t;

	f->p.lockout_threshold = 10;
	assert_int_equal(login(f, "alice", "alice-passwore", false, &t), AUTH_BAD_CREDENTIALS);
	assert_string_equal(t.access_token, "");
	assert_int_equal(login(f, "alice", "", false, &t), AUTH_BAD_CREDENTIALS);
	assert_int_equal(login(f, "nobody", "alice-password", false, &t), AUTH_BAD_CREDENTIALS);
	assert_int_equal(login(f, "", "x", false, &t), AUTH_BAD_CREDENTIALS);
	/* A password that is a prefix or an extension does not work. */
	assert_int_equal(login(f, "alice", "alice-passwor", false, &t), AUTH_BAD_CREDENTIALS);
	assert_int_equal(login(f, "alice", "alice-password1", false, &t), AUTH_BAD_CREDENTIALS);
}

static void test_lockout(void **state)
{
	fixture *f = *state;
	auth_tokens t;
	store_user u;

	assert_int_equal(login(f, "alice", "x1", false, &t), AUTH_BAD_CREDENTIALS);
	assert_int_equal(login(f, "alice", "x2", false, &t), AUTH_BAD_CREDENTIALS);
	/* The threshold-th failure locks. */
	assert_int_equal(login(f, "alice", "x3", false, &t), AUTH_LOCKED);
	/* The right password is refused now. */
	assert_int_equal(login(f, "alice", "alice-password", false, &t), AUTH_LOCKED);
	assert_string_equal(t.access_token, "");
	/* ...also after a restart. */
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->uri, &f->s), STORE_OK);
	assert_int_equal(login(f, "alice", "alice-password", false, &t), AUTH_LOCKED);
	assert_int_equal(store_user_get(f->s, "alice", &u), STORE_OK);
	assert_true(u.locked);
	/* Other users are unaffected. */
	assert_int_equal(login(f, "bob", "bob-password", false, &t), AUTH_OK);
	/* Admin unlock. */
	assert_int_equal(store_user_set_locked(f->s, f->alice, false), STORE_OK);
	assert_int_equal(login(f, "alice", "alice-password", false, &t), AUTH_OK);
}

static void test_success_resets(void **state)
{
	fixture *f = *state;
	auth_tokens t;
	store_user u;

	assert_int_equal(login(f, "alice", "x1", false, &t), AUTH_BAD_CREDENTIALS);
	assert_int_equal(login(f, "alice", "x2", false, &t), AUTH_BAD_CREDENTIALS);
	assert_int_equal(login(f, "alice", "alice-password", false, &t), AUTH_OK);
	assert_int_equal(store_user_get(f->s, "alice", &u), STORE_OK);
	assert_int_equal(u.pw_failures, 0);
	assert_int_equal(login(f, "alice", "x1", false, &t), AUTH_BAD_CREDENTIALS);
	assert_int_equal(login(f, "alice", "x2", false, &t), AUTH_BAD_CREDENTIALS);
	assert_int_equal(login(f, "alice", "alice-password", false, &t), AUTH_OK);
}

static void otp_password(char *out, size_t cap, const char *pw, time_t when)
{
	snprintf(out, cap, "%s%06u", pw,
		 totp_hotp(otp_key, sizeof(otp_key), (uint64_t)when / TOTP_STEP, 6));
}

static void test_login_otp(void **state)
{
	fixture *f = *state;
	auth_tokens t;
	char pw[64];

	f->p.lockout_threshold = 10;
	/* Password alone is not enough. */
	assert_int_equal(login(f, "carol", "carol-pw", false, &t), AUTH_BAD_CREDENTIALS);
	/* Wrong OTP. */
	snprintf(pw, sizeof(pw), "carol-pw000000");
	if (totp_check(otp_key, sizeof(otp_key), "000000", 6, g_now, 1) < 0)
		assert_int_equal(login(f, "carol", pw, false, &t), AUTH_BAD_CREDENTIALS);
	/* Good password + current OTP. */
	otp_password(pw, sizeof(pw), "carol-pw", g_now);
	assert_int_equal(login(f, "carol", pw, false, &t), AUTH_OK);
	/* The same OTP again: single use. */
	assert_int_equal(login(f, "carol", pw, false, &t), AUTH_BAD_CREDENTIALS);
	/* Right OTP, wrong password. */
	g_now += TOTP_STEP;
	otp_password(pw, sizeof(pw), "carol-pX", g_now);
	assert_int_equal(login(f, "carol", pw, false, &t), AUTH_BAD_CREDENTIALS);
	otp_password(pw, sizeof(pw), "carol-pw", g_now);
	assert_int_equal(login(f, "carol", pw, false, &t), AUTH_OK);
	/* An expired code (two minutes old). */
	g_now += 10 * TOTP_STEP;
	otp_password(pw, sizeof(pw), "carol-pw", g_now - 4 * TOTP_STEP);
	assert_int_equal(login(f, "carol", pw, false, &t), AUTH_BAD_CREDENTIALS);
	/* A previous step, still in the window, but older than the last used
	 * one after a newer login: refused (monotonic steps). */
	otp_password(pw, sizeof(pw), "carol-pw", g_now);
	assert_int_equal(login(f, "carol", pw, false, &t), AUTH_OK);
	otp_password(pw, sizeof(pw), "carol-pw", g_now - TOTP_STEP);
	assert_int_equal(login(f, "carol", pw, false, &t), AUTH_BAD_CREDENTIALS);
}

static void test_refresh(void **state)
{
	fixture *f = *state;
	auth_tokens t, t2, t3;
	int64_t uid;

	assert_int_equal(login(f, "alice", "alice-password", true, &t), AUTH_OK);
	assert_int_equal(strlen(t.refresh_token), 43);
	/* A refresh token is not a bearer token, and vice versa. */
	assert_int_equal(auth_check_bearer(f->s, &f->p, t.refresh_token, &uid), AUTH_INVALID_TOKEN);
	assert_int_equal(auth_login_refresh(f->s, &f->p, t.access_token, false, &t2),
			 AUTH_INVALID_TOKEN);
	/* Refresh without rememberMe: a new access token, the refresh token stays. */
	assert_int_equal(auth_login_refresh(f->s, &f->p, t.refresh_token, false, &t2), AUTH_OK);
	assert_string_equal(t2.refresh_token, "");
	assert_int_equal(auth_check_bearer(f->s, &f->p, t2.access_token, &uid), AUTH_OK);
	assert_int_equal(uid, f->alice);
	/* With rememberMe: rotated; the old refresh token no longer works,
	 * and the access tokens it minted are revoked with it. */
	assert_int_equal(auth_login_refresh(f->s, &f->p, t.refresh_token, true, &t3), AUTH_OK);
	assert_int_equal(strlen(t3.refresh_token), 43);
	assert_string_not_equal(t3.refresh_token, t.refresh_token);
	assert_int_equal(auth_login_refresh(f->s, &f->p, t.refresh_token, false, &t2),
			 AUTH_INVALID_TOKEN);
	assert_int_equal(auth_check_bearer(f->s, &f->p, t.access_token, &uid), AUTH_INVALID_TOKEN);
	assert_int_equal(auth_check_bearer(f->s, &f->p, t3.access_token, &uid), AUTH_OK);
	/* Garbage. */
	assert_int_equal(auth_login_refresh(f->s, &f->p, "", false, &t2), AUTH_INVALID_TOKEN);
	assert_int_equal(auth_login_refresh(f->s, &f->p, "nonsense", false, &t2),
			 AUTH_INVALID_TOKEN);
	/* Expired refresh token. */
	g_now += f->p.refresh_token_ttl;
	assert_int_equal(auth_login_refresh(f->s, &f->p, t3.refresh_token, false, &t2),
			 AUTH_EXPIRED_TOKEN);
	/* A locked account cannot refresh. */
	g_now -= f->p.refresh_token_ttl;
	assert_int_equal(store_user_set_locked(f->s, f->alice, true), STORE_OK);
	assert_int_equal(auth_login_refresh(f->s, &f->p, t3.refresh_token, false, &t2),
			 AUTH_LOCKED);
	assert_int_equal(auth_check_bearer(f->s, &f->p, t3.access_token, &uid), AUTH_LOCKED);
}

static void test_revoke(void **state)
{
	fixture *f = *state;
	auth_tokens ta, tb, tr;
	int64_t uid;

	assert_int_equal(login(f, "alice", "alice-password", false, &ta), AUTH_OK);
	assert_int_equal(login(f, "bob", "bob-password", false, &tb), AUTH_OK);
	/* Not the user's token. */
	assert_int_equal(auth_revoke(f->s, f->alice, tb.access_token, NULL), AUTH_INVALID_TOKEN);
	assert_int_equal(auth_check_bearer(f->s, &f->p, tb.access_token, &uid), AUTH_OK);
	assert_int_equal(auth_revoke(f->s, f->alice, "unknown", "access_token"),
			 AUTH_INVALID_TOKEN);
	/* Own access token. */
	assert_int_equal(auth_revoke(f->s, f->alice, ta.access_token, "access_token"), AUTH_OK);
	assert_int_equal(auth_check_bearer(f->s, &f->p, ta.access_token, &uid), AUTH_INVALID_TOKEN);
	/* Idempotent. */
	assert_int_equal(auth_revoke(f->s, f->alice, ta.access_token, NULL), AUTH_OK);
	/* Revoking a refresh token (wrong hint is fine) takes its access tokens. */
	assert_int_equal(login(f, "alice", "alice-password", true, &tr), AUTH_OK);
	assert_int_equal(auth_revoke(f->s, f->alice, tr.refresh_token, "access_token"), AUTH_OK);
	assert_int_equal(auth_check_bearer(f->s, &f->p, tr.access_token, &uid), AUTH_INVALID_TOKEN);
	assert_int_equal(auth_login_refresh(f->s, &f->p, tr.refresh_token, false, &ta),
			 AUTH_INVALID_TOKEN);
}

static void test_expiry(void **state)
{
	fixture *f = *state;
	auth_tokens t;
	int64_t uid;
	time_t t0 = g_now;

	assert_int_equal(login(f, "alice", "alice-password", false, &t), AUTH_OK);
	g_now = t0 + f->p.access_token_ttl - 1;
	assert_int_equal(auth_check_bearer(f->s, &f->p, t.access_token, &uid), AUTH_OK);
	g_now = t0 + f->p.access_token_ttl;
	assert_int_equal(auth_check_bearer(f->s, &f->p, t.access_token, &uid), AUTH_EXPIRED_TOKEN);
	g_now = t0 + f->p.access_token_ttl + 1;
	assert_int_equal(auth_check_bearer(f->s, &f->p, t.access_token, &uid), AUTH_EXPIRED_TOKEN);
	/* Purge removes it; then it is simply unknown. */
	assert_int_equal(store_token_purge_expired(f->s, (int64_t)g_now), STORE_OK);
	assert_int_equal(auth_check_bearer(f->s, &f->p, t.access_token, &uid), AUTH_INVALID_TOKEN);
	assert_int_equal(auth_check_bearer(f->s, &f->p, "", &uid), AUTH_INVALID_TOKEN);
}

/* ---- audit: every attempt recorded, no secret in it ---- */

typedef struct {
	int login_ok, login_fail, lockout, refresh, revoke;
	bool leak;
} audit_count;

static int count_cb(const store_audit *r, void *ctx)
{
	audit_count *c = ctx;
	const char *secrets[] = {"alice-password", "x1", "wrongpw"};
	size_t i;

	if (strcmp(r->action, "login") == 0 && strcmp(r->outcome, "success") == 0)
		c->login_ok++;
	if (strcmp(r->action, "login") == 0 && strcmp(r->outcome, "failure") == 0)
		c->login_fail++;
	if (strcmp(r->action, "lockout") == 0)
		c->lockout++;
	if (strcmp(r->action, "login.refresh") == 0)
		c->refresh++;
	if (strcmp(r->action, "revoke") == 0)
		c->revoke++;
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		if (strstr(r->actor, secrets[i]) || strstr(r->object, secrets[i]) ||
		    (r->detail && strstr(r->detail, secrets[i])))
			c->leak = true;
	if (strcmp(r->actor, "user:alice") != 0)
		c->leak = true;
	return 0;
}

static void test_audited(void **state)
{
	fixture *f = *state;
	auth_tokens t, t2;
	audit_count c;
	audit_report rep;

	assert_int_equal(login(f, "alice", "wrongpw", false, &t), AUTH_BAD_CREDENTIALS);
	assert_int_equal(login(f, "alice", "alice-password", true, &t), AUTH_OK);
	assert_int_equal(auth_login_refresh(f->s, &f->p, t.refresh_token, false, &t2), AUTH_OK);
	assert_int_equal(auth_revoke(f->s, f->alice, t.access_token, NULL), AUTH_OK);
	assert_int_equal(login(f, "alice", "x1", false, &t), AUTH_BAD_CREDENTIALS);
	assert_int_equal(login(f, "alice", "x1", false, &t), AUTH_BAD_CREDENTIALS);
	assert_int_equal(login(f, "alice", "x1", false, &t), AUTH_LOCKED);
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_audit_iter(f->s, 1, count_cb, &c), STORE_OK);
	assert_int_equal(c.login_ok, 1);
	assert_int_equal(c.login_fail, 4);
	assert_int_equal(c.lockout, 1);
	assert_int_equal(c.refresh, 1);
	assert_int_equal(c.revoke, 1);
	assert_false(c.leak);
	assert_int_equal(audit_verify(f->s, &rep), 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_token_format),
	    T(test_login_ok),
	    T(test_bad_credentials),
	    T(test_lockout),
	    T(test_success_resets),
	    T(test_login_otp),
	    T(test_refresh),
	    T(test_revoke),
	    T(test_expiry),
	    T(test_audited),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
