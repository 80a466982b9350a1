/* SPDX-License-Identifier: Apache-2.0 */
/* Signature Activation Module: the only code that decides a key may be
 * used. It verifies the signer's factors (credential PIN, TOTP), issues SADs
 * bound to user + credential + exact hash set (SCAL2) + use count + expiry,
 * and spends them atomically when signing. It knows nothing of HTTP.
 *
 * The interface is message-shaped — a request struct in, a result struct
 * out, no callbacks — so it can move behind a process boundary unchanged. */
#ifndef CISRES_SAM_H
#define CISRES_SAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsm.h"
#include "oid.h"
#include "policy.h"
#include "store/store.h"
#include "tsa.h"

typedef struct sam sam;
struct sam_client;

typedef enum {
	SAM_OK = 0,
	SAM_E_REQUEST,	       /* malformed request (sizes, counts, algorithms) */
	SAM_E_NO_CREDENTIAL,   /* unknown credential, or not the user's */
	SAM_E_DISABLED,	       /* credential disabled */
	SAM_E_PIN,	       /* wrong PIN (counted) */
	SAM_E_OTP,	       /* missing, wrong, expired or reused OTP */
	SAM_E_LOCKED,	       /* credential PIN locked */
	SAM_E_FACTORS,	       /* a required factor is missing */
	SAM_E_HASHES_REQUIRED, /* SCAL2 credential, authorize without hashes */
	SAM_E_MULTISIGN,       /* numSignatures out of range */
	SAM_E_SAD,	       /* unknown, spent, expired, or bound elsewhere */
	SAM_E_HASH_MISMATCH,   /* hash not authorized by the SAD */
	SAM_E_COUNT,	       /* more signatures than the SAD allows */
	SAM_E_ALGO,	       /* signAlgo not usable with this key / params bad */
	SAM_E_CERT,	       /* certificate not valid now */
	SAM_E_INTERNAL,
	SAM_E_SAD_EXPIRED, /* the SAD was valid but has expired (now gone) */
	SAM_E_UNAVAILABLE, /* remote SAM: the SAM process cannot be reached (restarting) */
} sam_status;
#define SAM_STATUS_LAST SAM_E_UNAVAILABLE

const char *sam_status_name(sam_status st);

#define SAM_SAD_MAX 64	      /* SAD string, NUL included */
#define SAM_MAX_HASHES 1024   /* hashes per request */
#define SAM_SECRET_MAX 128    /* PIN / OTP bytes */
#define SAM_PASSWORD_MAX 1024 /* auth/login password (+ OTP) bytes */

typedef struct {
	uint8_t v[HASH_MAX_LEN];
	size_t len;
} sam_hash;

/* ---- authorize: factors -> SAD ---- */
typedef struct {
	int64_t user_id; /* authenticated signer (from the access token) */
	char credential_id[STORE_CRED_ID_MAX];
	int num_signatures;	/* 1..multisign */
	hash_alg hash;		/* HASH_NONE when no hashes are given */
	const sam_hash *hashes; /* n_hashes, may be 0 for SCAL1 */
	size_t n_hashes;
	const char *pin; /* may be NULL */
	size_t pin_len;
	const char *otp; /* may be NULL */
	size_t otp_len;
} sam_authorize_req;

typedef struct {
	sam_status status;
	char sad[SAM_SAD_MAX]; /* zero this after use */
	int64_t expires_in;    /* seconds */
	int pin_failures;      /* after SAM_E_PIN */
} sam_authorize_res;

sam_status sam_authorize(sam *m, const sam_authorize_req *req, sam_authorize_res *res);

/* ---- extendTransaction: a live SAD -> a new SAD for new hashes, same
 * remaining count; the old SAD is spent ---- */
typedef struct {
	int64_t user_id;
	char credential_id[STORE_CRED_ID_MAX];
	const char *sad;
	size_t sad_len;
	hash_alg hash;
	const sam_hash *hashes;
	size_t n_hashes;
} sam_extend_req;

sam_status sam_extend(sam *m, const sam_extend_req *req, sam_authorize_res *res);

/* ---- authorizeCheck helper: is this SAD live? ---- */

/* ---- sign: spend the SAD, sign each hash in the HSM ---- */
typedef struct {
	int64_t user_id;
	char credential_id[STORE_CRED_ID_MAX];
	const char *sad;
	size_t sad_len;
	sig_alg algo;	       /* from signAlgo */
	hash_alg hash;	       /* the digest algorithm (implied or given) */
	hash_alg pss_mgf_hash; /* PSS only */
	int pss_salt_len;      /* PSS only */
	const sam_hash *hashes;
	size_t n_hashes;
} sam_sign_req;

typedef struct {
	sam_status status;
	size_t n;	/* == n_hashes on success */
	uint8_t **sigs; /* malloc'd array of malloc'd signatures */
	size_t *lens;
} sam_sign_res;

sam_status sam_sign(sam *m, const sam_sign_req *req, sam_sign_res *res);
void sam_sign_res_clear(sam_sign_res *res);

/* ---- key lifecycle (operator, through cisres-admin) ---- */
typedef struct {
	int64_t user_id;
	key_kind kind;
	unsigned bits; /* RSA */
	int curve_nid; /* EC */
	int scal;      /* 1 | 2 */
	bool auth_otp; /* PIN AND OTP */
	int multisign;
	const char *pin; /* initial signing PIN */
	size_t pin_len;
	const char *description; /* may be NULL */
	const char *actor;	 /* for the audit record: "admin:<name>" */
				 /* certificate issuance: the SAM returns the public key; the caller
				  * (cisres-admin) has the CA certify it and calls sam_key_set_cert. */
} sam_keygen_req;

typedef struct {
	sam_status status;
	char credential_id[STORE_CRED_ID_MAX];
	EVP_PKEY *pub; /* caller frees */
} sam_keygen_res;

sam_status sam_keygen(sam *m, const sam_keygen_req *req, sam_keygen_res *res);
sam_status sam_key_set_cert(sam *m, const char *credential_id, const uint8_t *der, size_t len,
			    const char *actor);
sam_status sam_key_destroy(sam *m, const char *credential_id, const char *actor);
sam_status sam_set_pin(sam *m, const char *credential_id, const char *pin, size_t pin_len,
		       const char *actor);

/* ---- enrollment of a signer's TOTP seed (operator) ----
 * Seals the seed under the HSM factor key (server/sam_factor.h) and stores
 * it; len 0 removes the seed. Audited ("otp.set"). */
sam_status sam_user_set_otp(sam *m, int64_t user_id, const uint8_t *seed, size_t len,
			    const char *actor);

/* ---- the policy in force (local SAM) ----
 * Compares the security policy the SAM runs with (TTLs, lockout threshold,
 * multisign bound, TOTP window, KDF cost, SHA-1) to the one recorded last
 * (store meta "policy") and, when it differs, records it and appends one
 * "config.policy" audit record with the old and new values: every change
 * of the configuration that governs signing is audited once. 0 or -1. */
int sam_record_policy(sam *m, const char *actor);

/* ---- unblock (operator) ----
 * Reset the factor failure count of a credential (PIN/OTP) or of a user
 * (password) to 0, in the HSM and in the store's copy, and clear the
 * store's lock flag. Local SAM only (cisres-admin): a remote SAM answers
 * SAM_E_REQUEST. The caller audits. */
sam_status sam_cred_unblock(sam *m, const char *credential_id);
/* Enable or disable a credential (local SAM only). The enabled flag is part
 * of the credential's binding, so the SAM re-seals the PIN verifier: a
 * credential re-enabled by an edit of the database accepts no PIN. The
 * caller audits. */
sam_status sam_cred_set_enabled(sam *m, const char *credential_id, bool enabled);
sam_status sam_user_unblock(sam *m, int64_t user_id);

/* ---- auth/login: password (+ login OTP) check, behind the SAM ----
 * The factor secrets (TOTP seeds) are sealed in the HSM, so the check runs
 * where the HSM is. When the user has login_otp, the last 6 characters of
 * pw are the TOTP code. Counts failures and locks the account at the
 * policy threshold; audits every failure ("login") and lockout. On SAM_OK
 * *user_id is the user and the failure count is reset; the caller issues
 * the tokens and audits the success.
 * SAM_E_PIN: unknown user, wrong password or OTP, OTP reused or missing;
 * SAM_E_LOCKED: the account is (now) locked; SAM_E_REQUEST: malformed;
 * SAM_E_INTERNAL. */
sam_status sam_verify_login(sam *m, const char *user, const char *pw, size_t pwlen,
			    int64_t *user_id);

/* ---- time-stamping with the TSA key in the HSM ----
 * Same contracts as tsa_respond / tsa_stamp (tsa.h): 0, -1, (-2). */
int sam_tsa_respond(sam *m, const uint8_t *req, size_t reqlen, uint8_t **resp, size_t *resplen);
int sam_tsa_stamp(sam *m, hash_alg alg, const uint8_t *digest, size_t dlen, const char *nonce_hex,
		  uint8_t **token, size_t *toklen);

/* ---- lifetime ---- */
typedef struct {
	hsm *hsm;
	store *store;
	const policy *policy;
} sam_deps;

/* A local SAM: the decisions are taken in this process, with deps. */
int sam_new(const sam_deps *deps, sam **out);
/* A remote SAM: every function above is sent to a SAM process through the
 * client (server/sam_client.h); the sam owns the client. */
int sam_new_remote(struct sam_client *c, sam **out);
void sam_free(sam *m);
bool sam_is_remote(const sam *m);
/* The client of a remote SAM (NULL for a local one). */
struct sam_client *sam_remote(sam *m);

/* Local SAM only. The TSA served by sam_tsa_* (not owned; NULL: none). */
void sam_set_tsa(sam *m, tsa *t);
/* Local SAM only. strict: refuse factor secrets stored unsealed (legacy
 * rows from before sealing). Default false; a SAM without HSM is never
 * strict. See docs/threat-model.md. */
void sam_set_strict(sam *m, bool strict);
/* Local SAM only: seal every unsealed PIN verifier and TOTP seed in the
 * store (a one-off migration for a database from before sealing). *n
 * receives the number of values sealed. 0 or -1. */
int sam_seal_legacy(sam *m, size_t *n);

#endif
