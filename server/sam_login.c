/* SPDX-License-Identifier: Apache-2.0 */
/* Password (+ TOTP) verification for auth/login, run by the SAM. The rules
 * are those auth.c applied before the check moved behind the SAM: an
 * unknown user costs the same time as a wrong password; failures are
 * counted and lock the account at the threshold; every failure and lockout
 * is audited as "login" / "lockout" by "user:<name>". */
#include "sam_login.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "b64.h"
#include "kdf.h"
#include "log.h"
#include "sam_factor.h"
#include "sam_lock.h"
#include "secmem.h"
#include "totp.h"

/* A KDF string of the policy's cost that no password matches, so that an
 * unknown user costs the same time as a wrong password. */
static pthread_mutex_t sam_login_dummy_mu = PTHREAD_MUTEX_INITIALIZER;
static char sam_login_dummy[STORE_HASH_MAX];
static int sam_login_dummy_ln = -1;

static void sam_login_burn_time(const policy *p, const char *pw, size_t len)
{
	char enc[STORE_HASH_MAX];

	pthread_mutex_lock(&sam_login_dummy_mu);
	if (sam_login_dummy_ln != p->kdf_log_n) {
		uint8_t r[16];
		char rs[33];
		if (sec_random(r, sizeof(r)) == 0 &&
		    hex_encode(r, sizeof(r), rs, sizeof(rs)) == 0 &&
		    kdf_hash(rs, 32, p->kdf_log_n, sam_login_dummy, sizeof(sam_login_dummy)) == 0)
			sam_login_dummy_ln = p->kdf_log_n;
		sec_zero(r, sizeof(r));
		sec_zero(rs, sizeof(rs));
	}
	memcpy(enc, sam_login_dummy, sizeof(enc));
	pthread_mutex_unlock(&sam_login_dummy_mu);
	if (enc[0] != '\0')
		(void)kdf_verify(pw != NULL ? pw : "", len, enc);
}

/* Count a failed login; audits the failure and a resulting lockout. The
 * HSM counts (when there is one); the store keeps a copy to show. */
static sam_status sam_login_fail(sam_lock *locks, store *s, const policy *p, const store_user *u,
				 const char *actor, const char *why)
{
	char name[SAM_LOCK_NAME_MAX];
	uint32_t count = 0;
	int failures = 0;
	bool locked = false;
	char detail[160];

	sam_lock_name_user(u->id, name);
	if (sam_lock_fail(locks, name, &count) != 0 ||
	    store_user_fail(s, u->id, p->lockout_threshold, &failures, &locked) != STORE_OK) {
		(void)audit_log(s, actor, "login", actor, "failure", why);
		return SAM_E_INTERNAL;
	}
	if (count > 0) {
		failures = count > INT32_MAX ? INT32_MAX : (int)count;
		locked =
		    locked || (p->lockout_threshold > 0 && count >= (uint32_t)p->lockout_threshold);
	}
	snprintf(detail, sizeof(detail), "%s; failures=%d", why, failures);
	if (audit_log(s, actor, "login", actor, "failure", detail) != 0)
		return SAM_E_INTERNAL;
	if (locked && !u->locked) {
		snprintf(detail, sizeof(detail), "account locked after %d failed logins", failures);
		if (audit_log(s, actor, "lockout", actor, "success", detail) != 0)
			return SAM_E_INTERNAL;
		return SAM_E_LOCKED;
	}
	return SAM_E_PIN;
}

/* The login OTP (the last TOTP_DIGITS characters of pw). */
static sam_status sam_login_otp(hsm *h, sam_lock *locks, store *s, const policy *p, bool strict,
				const store_user *u, const char *actor, const char *code)
{
	uint8_t seed[STORE_OTPKEY_MAX];
	size_t seedlen = 0;
	sam_factor_rc fr;
	int64_t step;
	int v;

	if (u->otp_key_len == 0)
		return sam_login_fail(locks, s, p, u, actor, "OTP required but none enrolled");
	fr = sam_factor_open_otp(h, strict, u->id, u->otp_key, u->otp_key_len, seed, &seedlen);
	if (fr != SAM_FACTOR_OK) {
		log_err("sam: the OTP seed of a user cannot be used (%s)",
			fr == SAM_FACTOR_LEGACY_REFUSED ? "unsealed, strict"
			: fr == SAM_FACTOR_BAD		? "does not authenticate"
							: "cannot be opened");
		(void)audit_log(s, actor, "login", actor, "failure", "OTP seed unusable");
		return SAM_E_INTERNAL;
	}
	step = totp_check(seed, seedlen, code, TOTP_DIGITS, policy_now(p), p->totp_window);
	sec_zero(seed, sizeof(seed));
	if (step < 0)
		return sam_login_fail(locks, s, p, u, actor, "wrong OTP");
	v = store_user_use_otp_step(s, u->id, step);
	if (v == STORE_CONFLICT)
		return sam_login_fail(locks, s, p, u, actor, "OTP already used");
	return v == STORE_OK ? SAM_OK : SAM_E_INTERNAL;
}

sam_status sam_login_verify(hsm *h, sam_lock *locks, store *s, const policy *p, bool strict,
			    const char *user, const char *pw, size_t pwlen, int64_t *user_id)
{
	store_user u;
	char actor[STORE_NAME_MAX + 8], name[SAM_LOCK_NAME_MAX];
	uint32_t count = 0;
	size_t ulen, pwpart;
	sam_status st;
	int v;

	if (user_id != NULL)
		*user_id = 0;
	if (s == NULL || p == NULL || user == NULL || user_id == NULL || (pw == NULL && pwlen > 0))
		return SAM_E_REQUEST;
	ulen = strnlen(user, STORE_NAME_MAX);
	if (ulen == 0 || ulen >= STORE_NAME_MAX || pwlen > SAM_PASSWORD_MAX) {
		sam_login_burn_time(p, "", 0);
		return SAM_E_PIN;
	}
	snprintf(actor, sizeof(actor), "user:%s", user);

	memset(&u, 0, sizeof(u));
	v = store_user_get(s, user, &u);
	if (v == STORE_NOTFOUND) {
		sam_login_burn_time(p, pw, pwlen);
		if (audit_log(s, actor, "login", actor, "failure", "unknown user") != 0)
			return SAM_E_INTERNAL;
		return SAM_E_PIN;
	}
	if (v != STORE_OK)
		return SAM_E_INTERNAL;

	sam_lock_name_user(u.id, name);
	if (sam_lock_get(locks, name, &count) != 0) {
		st = SAM_E_INTERNAL;
		goto out;
	}
	if (u.locked || (p->lockout_threshold > 0 && count >= (uint32_t)p->lockout_threshold)) {
		st = audit_log(s, actor, "login", actor, "failure", "account locked") != 0
			 ? SAM_E_INTERNAL
			 : SAM_E_LOCKED;
		goto out;
	}
	pwpart = pwlen;
	if (u.login_otp) {
		if (pwlen < TOTP_DIGITS) {
			st = sam_login_fail(locks, s, p, &u, actor, "password/OTP too short");
			goto out;
		}
		pwpart = pwlen - TOTP_DIGITS;
	}
	v = kdf_verify(pw != NULL ? pw : "", pwpart, u.pw_hash);
	if (v < 0) {
		log_err("sam: unusable password hash for a user");
		(void)audit_log(s, actor, "login", actor, "failure", "internal error");
		st = SAM_E_INTERNAL;
		goto out;
	}
	if (v == 0) {
		st = sam_login_fail(locks, s, p, &u, actor, "wrong password");
		goto out;
	}
	if (u.login_otp) {
		st = sam_login_otp(h, locks, s, p, strict, &u, actor, pw + pwpart);
		if (st != SAM_OK)
			goto out;
	}
	if ((count > 0 && sam_lock_reset(locks, name) != 0) ||
	    (u.pw_failures > 0 && store_user_reset_failures(s, u.id) != STORE_OK)) {
		st = SAM_E_INTERNAL;
		goto out;
	}
	*user_id = u.id;
	st = SAM_OK;
out:
	sec_zero(&u, sizeof(u));
	return st;
}
