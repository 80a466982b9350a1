/* SPDX-License-Identifier: Apache-2.0 */
/* Signer identification and authentication: password (+ TOTP) login with
 * lockout (the check runs in the SAM: sam_verify_login), access/refresh
 * tokens stored as SHA-256, revocation. */
#include "auth.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit.h"
#include "b64.h"
#include "log.h"
#include "secmem.h"

#define AUTH_TOKEN_BYTES 32

/* ---- tokens ---- */

void auth_token_hash(const char *token, size_t len, uint8_t hash[32])
{
	unsigned int n = 0;

	if (EVP_Digest(token, len, hash, &n, EVP_sha256(), NULL) != 1 || n != 32)
		memset(hash, 0, 32);
}

int auth_new_token(char out[AUTH_TOKEN_MAX], uint8_t hash[32])
{
	uint8_t raw[AUTH_TOKEN_BYTES];
	char *b = NULL;
	size_t i, j = 0, n;
	int rc = -1;

	if (sec_random(raw, sizeof(raw)) != 0)
		goto out;
	b = b64_encode(raw, sizeof(raw));
	if (b == NULL)
		goto out;
	n = strlen(b);
	/* base64 -> base64url, no padding */
	for (i = 0; i < n && j + 1 < AUTH_TOKEN_MAX; i++) {
		char ch = b[i];
		if (ch == '=')
			break;
		out[j++] = ch == '+' ? '-' : (ch == '/' ? '_' : ch);
	}
	out[j] = '\0';
	if (j != (AUTH_TOKEN_BYTES * 4 + 2) / 3)
		goto out;
	auth_token_hash(out, j, hash);
	rc = 0;
out:
	sec_zero(raw, sizeof(raw));
	if (b != NULL)
		sec_strfree(b);
	if (rc != 0)
		sec_zero(out, AUTH_TOKEN_MAX);
	return rc;
}

/* ---- helpers ---- */

static void auth_actor(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "user:%s", name);
}

static _Atomic(sam *) auth_sam;

void auth_set_sam(sam *m)
{
	atomic_store(&auth_sam, m);
}

/* Store a fresh token of a kind; returns 0 and fills str/hash. */
static int auth_mint(store *s, int64_t user_id, store_token_kind kind, const uint8_t *parent,
		     int64_t expires, char str[AUTH_TOKEN_MAX], uint8_t hash[32])
{
	store_token t;
	int rc;

	if (auth_new_token(str, hash) != 0)
		return -1;
	memset(&t, 0, sizeof(t));
	memcpy(t.hash, hash, 32);
	t.kind = kind;
	t.user_id = user_id;
	if (parent != NULL) {
		memcpy(t.parent, parent, 32);
		t.has_parent = true;
	}
	t.expires = expires;
	rc = store_token_put(s, &t);
	if (rc != STORE_OK) {
		sec_zero(str, AUTH_TOKEN_MAX);
		return -1;
	}
	return 0;
}

/* Issue access (+ refresh) tokens for a user. On failure nothing usable
 * remains stored. */
static auth_rc auth_issue(store *s, const policy *p, int64_t user_id, bool with_refresh,
			  const uint8_t *parent, auth_tokens *out)
{
	int64_t now = (int64_t)policy_now(p);
	uint8_t rhash[32], ahash[32];
	const uint8_t *access_parent = parent;

	if (with_refresh) {
		if (auth_mint(s, user_id, STORE_TOKEN_REFRESH, NULL, now + p->refresh_token_ttl,
			      out->refresh_token, rhash) != 0)
			return AUTH_ERROR;
		access_parent = rhash;
	}
	if (auth_mint(s, user_id, STORE_TOKEN_ACCESS, access_parent, now + p->access_token_ttl,
		      out->access_token, ahash) != 0) {
		if (with_refresh)
			(void)store_token_revoke(s, rhash);
		sec_zero(out, sizeof(*out));
		return AUTH_ERROR;
	}
	out->expires_in = p->access_token_ttl;
	return AUTH_OK;
}

static void auth_revoke_issued(store *s, auth_tokens *out)
{
	uint8_t h[32];

	if (out->access_token[0] != '\0') {
		auth_token_hash(out->access_token, strlen(out->access_token), h);
		(void)store_token_revoke(s, h);
	}
	if (out->refresh_token[0] != '\0') {
		auth_token_hash(out->refresh_token, strlen(out->refresh_token), h);
		(void)store_token_revoke(s, h);
	}
	sec_zero(out, sizeof(*out));
}

/* ---- logins ---- */

auth_rc auth_login_password(store *s, const policy *p, const char *user, const char *password,
			    size_t pwlen, bool remember_me, auth_tokens *out)
{
	char actor[STORE_NAME_MAX + 8];
	sam *m = atomic_load(&auth_sam), *tmp = NULL;
	int64_t uid = 0;
	sam_status st;
	auth_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (s == NULL || p == NULL || user == NULL || out == NULL ||
	    (password == NULL && pwlen > 0))
		return AUTH_ERROR;
	if (m == NULL) {
		sam_deps d = {NULL, s, p};

		if (sam_new(&d, &tmp) != 0)
			return AUTH_ERROR;
		m = tmp;
	}
	st = sam_verify_login(m, user, password, pwlen, &uid);
	sam_free(tmp);
	switch (st) {
	case SAM_OK:
		break;
	case SAM_E_LOCKED:
		return AUTH_LOCKED;
	case SAM_E_INTERNAL:
		return AUTH_ERROR;
	default:
		return AUTH_BAD_CREDENTIALS;
	}
	auth_actor(actor, sizeof(actor), user);
	rc = auth_issue(s, p, uid, remember_me, NULL, out);
	if (rc != AUTH_OK) {
		(void)audit_log(s, actor, "login", actor, "failure", "token issuance failed");
		return rc;
	}
	if (audit_log(s, actor, "login", actor, "success",
		      remember_me ? "password; refresh token issued" : "password") != 0) {
		auth_revoke_issued(s, out);
		rc = AUTH_ERROR;
	}
	return rc;
}

auth_rc auth_login_refresh(store *s, const policy *p, const char *refresh_token, bool remember_me,
			   auth_tokens *out)
{
	store_token t;
	store_user u;
	uint8_t h[32];
	char actor[STORE_NAME_MAX + 8];
	size_t len;
	int v;
	auth_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (s == NULL || p == NULL || refresh_token == NULL || out == NULL)
		return AUTH_ERROR;
	len = strnlen(refresh_token, AUTH_TOKEN_MAX);
	if (len == 0 || len >= AUTH_TOKEN_MAX)
		return AUTH_INVALID_TOKEN;
	auth_token_hash(refresh_token, len, h);
	v = store_token_get(s, h, &t);
	if (v == STORE_NOTFOUND) {
		(void)audit_log(s, "anonymous", "login.refresh", NULL, "failure",
				"unknown refresh token");
		return AUTH_INVALID_TOKEN;
	}
	if (v != STORE_OK)
		return AUTH_ERROR;
	memset(&u, 0, sizeof(u));
	v = store_user_get_id(s, t.user_id, &u);
	if (v != STORE_OK)
		return v == STORE_NOTFOUND ? AUTH_INVALID_TOKEN : AUTH_ERROR;
	auth_actor(actor, sizeof(actor), u.name);

	if (t.kind != STORE_TOKEN_REFRESH || t.revoked) {
		rc = AUTH_INVALID_TOKEN;
		(void)audit_log(s, actor, "login.refresh", actor, "failure",
				t.revoked ? "revoked refresh token" : "not a refresh token");
		goto out;
	}
	if (t.expires <= (int64_t)policy_now(p)) {
		rc = AUTH_EXPIRED_TOKEN;
		(void)audit_log(s, actor, "login.refresh", actor, "failure",
				"expired refresh token");
		goto out;
	}
	if (u.locked) {
		rc = AUTH_LOCKED;
		(void)audit_log(s, actor, "login.refresh", actor, "failure", "account locked");
		goto out;
	}
	if (remember_me) {
		/* Rotate: a new refresh token; the old one (and the access
		 * tokens it minted) is revoked first, so it works only once. */
		if (store_token_revoke(s, h) != STORE_OK) {
			rc = AUTH_ERROR;
			goto out;
		}
		rc = auth_issue(s, p, u.id, true, NULL, out);
	} else {
		rc = auth_issue(s, p, u.id, false, h, out);
	}
	if (rc != AUTH_OK) {
		(void)audit_log(s, actor, "login.refresh", actor, "failure",
				"token issuance failed");
		goto out;
	}
	if (audit_log(s, actor, "login.refresh", actor, "success",
		      remember_me ? "refresh token rotated" : "access token issued") != 0) {
		auth_revoke_issued(s, out);
		rc = AUTH_ERROR;
	}
out:
	sec_zero(h, sizeof(h));
	sec_zero(&u, sizeof(u));
	return rc;
}

auth_rc auth_check_bearer(store *s, const policy *p, const char *token, int64_t *user_id)
{
	store_token t;
	store_user u;
	uint8_t h[32];
	size_t len;
	int v;

	if (s == NULL || p == NULL || token == NULL || user_id == NULL)
		return AUTH_ERROR;
	*user_id = 0;
	len = strnlen(token, AUTH_TOKEN_MAX);
	if (len == 0 || len >= AUTH_TOKEN_MAX)
		return AUTH_INVALID_TOKEN;
	auth_token_hash(token, len, h);
	v = store_token_get(s, h, &t);
	sec_zero(h, sizeof(h));
	if (v == STORE_NOTFOUND)
		return AUTH_INVALID_TOKEN;
	if (v != STORE_OK)
		return AUTH_ERROR;
	if (t.kind != STORE_TOKEN_ACCESS || t.revoked)
		return AUTH_INVALID_TOKEN;
	if (t.expires <= (int64_t)policy_now(p))
		return AUTH_EXPIRED_TOKEN;
	v = store_user_get_id(s, t.user_id, &u);
	if (v == STORE_NOTFOUND)
		return AUTH_INVALID_TOKEN;
	if (v != STORE_OK)
		return AUTH_ERROR;
	if (u.locked) {
		sec_zero(&u, sizeof(u));
		return AUTH_LOCKED;
	}
	sec_zero(&u, sizeof(u));
	*user_id = t.user_id;
	return AUTH_OK;
}

auth_rc auth_revoke(store *s, int64_t user_id, const char *token, const char *hint)
{
	store_token t;
	store_user u;
	uint8_t h[32];
	char actor[STORE_NAME_MAX + 8];
	size_t len;
	int v;

	(void)hint; /* RFC 7009: only a lookup hint; the hash finds either kind */
	if (s == NULL || token == NULL)
		return AUTH_ERROR;
	len = strnlen(token, AUTH_TOKEN_MAX);
	if (len == 0 || len >= AUTH_TOKEN_MAX)
		return AUTH_INVALID_TOKEN;
	memset(&u, 0, sizeof(u));
	if (store_user_get_id(s, user_id, &u) == STORE_OK)
		auth_actor(actor, sizeof(actor), u.name);
	else
		snprintf(actor, sizeof(actor), "user:#%lld", (long long)user_id);
	sec_zero(&u, sizeof(u));

	auth_token_hash(token, len, h);
	v = store_token_get(s, h, &t);
	if (v == STORE_NOTFOUND || (v == STORE_OK && t.user_id != user_id)) {
		sec_zero(h, sizeof(h));
		(void)audit_log(s, actor, "revoke", actor, "failure", "token not the user's");
		return AUTH_INVALID_TOKEN;
	}
	if (v == STORE_OK)
		v = store_token_revoke(s, h);
	sec_zero(h, sizeof(h));
	if (v != STORE_OK)
		return AUTH_ERROR;
	if (audit_log(s, actor, "revoke", actor, "success",
		      t.kind == STORE_TOKEN_REFRESH ? "refresh token" : "access token") != 0)
		return AUTH_ERROR;
	return AUTH_OK;
}
