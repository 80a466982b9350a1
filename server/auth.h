/* SPDX-License-Identifier: Apache-2.0 */
/* Signer identification and authentication (SIA): passwords (+ TOTP at
 * login when the account requires it), access and refresh tokens, lockout.
 * Tokens are 256-bit random values, base64url, stored as SHA-256. */
#ifndef CISRES_AUTH_H
#define CISRES_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "sam.h"
#include "store/store.h"

typedef enum {
	AUTH_OK = 0,
	AUTH_BAD_CREDENTIALS, /* unknown user, wrong password or OTP */
	AUTH_LOCKED,          /* account locked */
	AUTH_INVALID_TOKEN,   /* unknown, revoked or wrong kind */
	AUTH_EXPIRED_TOKEN,
	AUTH_ERROR,           /* internal */
} auth_rc;

#define AUTH_TOKEN_MAX 64 /* characters of a token string, plus NUL */

typedef struct {
	char access_token[AUTH_TOKEN_MAX];
	char refresh_token[AUTH_TOKEN_MAX]; /* empty unless remember_me */
	int64_t expires_in;
} auth_tokens;

/* The SAM that checks passwords and login OTPs (sam_verify_login): in
 * cisresd with privilege separation, the client of the SAM process, so
 * that TOTP seeds are only ever opened where the HSM is. Set once at start,
 * before serving. NULL (the default): a local SAM without HSM over the
 * store given to auth_login_password (tools, tests; unsealed seeds only). */
void auth_set_sam(sam *m);

/* Password login. When the user has login_otp, the last 6 characters of the
 * password are the current TOTP code. The check itself runs in the SAM
 * (sam_verify_login), which counts failures, locks and audits them; auth
 * issues the tokens and audits the success. The caller zeroes password. */
auth_rc auth_login_password(store *s, const policy *p, const char *user, const char *password,
			    size_t pwlen, bool remember_me, auth_tokens *out);
/* Refresh-token login: a new access token (and, when remember_me, a new
 * refresh token; the old one is revoked). */
auth_rc auth_login_refresh(store *s, const policy *p, const char *refresh_token,
			   bool remember_me, auth_tokens *out);
/* Validate a bearer access token; *user_id on success. */
auth_rc auth_check_bearer(store *s, const policy *p, const char *token, int64_t *user_id);
/* Revoke a token of the user (access or refresh; hint may be NULL).
 * AUTH_INVALID_TOKEN if it is not the user's. */
auth_rc auth_revoke(store *s, int64_t user_id, const char *token, const char *hint);

/* A fresh 256-bit random token string (base64url, no padding) and its
 * storage hash. */
int auth_new_token(char out[AUTH_TOKEN_MAX], uint8_t hash[32]);
void auth_token_hash(const char *token, size_t len, uint8_t hash[32]);

#endif
