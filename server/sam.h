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

typedef struct sam sam;

typedef enum {
	SAM_OK = 0,
	SAM_E_REQUEST,         /* malformed request (sizes, counts, algorithms) */
	SAM_E_NO_CREDENTIAL,   /* unknown credential, or not the user's */
	SAM_E_DISABLED,        /* credential disabled */
	SAM_E_PIN,             /* wrong PIN (counted) */
	SAM_E_OTP,             /* missing, wrong, expired or reused OTP */
	SAM_E_LOCKED,          /* credential PIN locked */
	SAM_E_FACTORS,         /* a required factor is missing */
	SAM_E_HASHES_REQUIRED, /* SCAL2 credential, authorize without hashes */
	SAM_E_MULTISIGN,       /* numSignatures out of range */
	SAM_E_SAD,             /* unknown, spent, expired, or bound elsewhere */
	SAM_E_HASH_MISMATCH,   /* hash not authorized by the SAD */
	SAM_E_COUNT,           /* more signatures than the SAD allows */
	SAM_E_ALGO,            /* signAlgo not usable with this key / params bad */
	SAM_E_CERT,            /* certificate not valid now */
	SAM_E_INTERNAL,
} sam_status;

const char *sam_status_name(sam_status st);

#define SAM_SAD_MAX 64         /* SAD string, NUL included */
#define SAM_MAX_HASHES 1024    /* hashes per request */
#define SAM_SECRET_MAX 128     /* PIN / OTP bytes */

typedef struct {
	uint8_t v[HASH_MAX_LEN];
	size_t len;
} sam_hash;

/* ---- authorize: factors -> SAD ---- */
typedef struct {
	int64_t user_id;          /* authenticated signer (from the access token) */
	char credential_id[STORE_CRED_ID_MAX];
	int num_signatures;       /* 1..multisign */
	hash_alg hash;            /* HASH_NONE when no hashes are given */
	const sam_hash *hashes;   /* n_hashes, may be 0 for SCAL1 */
	size_t n_hashes;
	const char *pin;          /* may be NULL */
	size_t pin_len;
	const char *otp;          /* may be NULL */
	size_t otp_len;
} sam_authorize_req;

typedef struct {
	sam_status status;
	char sad[SAM_SAD_MAX];    /* zero this after use */
	int64_t expires_in;       /* seconds */
	int pin_failures;         /* after SAM_E_PIN */
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
	sig_alg algo;             /* from signAlgo */
	hash_alg hash;            /* the digest algorithm (implied or given) */
	hash_alg pss_mgf_hash;    /* PSS only */
	int pss_salt_len;         /* PSS only */
	const sam_hash *hashes;
	size_t n_hashes;
} sam_sign_req;

typedef struct {
	sam_status status;
	size_t n;                 /* == n_hashes on success */
	uint8_t **sigs;           /* malloc'd array of malloc'd signatures */
	size_t *lens;
} sam_sign_res;

sam_status sam_sign(sam *m, const sam_sign_req *req, sam_sign_res *res);
void sam_sign_res_clear(sam_sign_res *res);

/* ---- key lifecycle (operator, through cisres-admin) ---- */
typedef struct {
	int64_t user_id;
	key_kind kind;
	unsigned bits;            /* RSA */
	int curve_nid;            /* EC */
	int scal;                 /* 1 | 2 */
	bool auth_otp;            /* PIN AND OTP */
	int multisign;
	const char *pin;          /* initial signing PIN */
	size_t pin_len;
	const char *description;  /* may be NULL */
	const char *actor;        /* for the audit record: "admin:<name>" */
	/* certificate issuance: the SAM returns the public key; the caller
	 * (cisres-admin) has the CA certify it and calls sam_key_set_cert. */
} sam_keygen_req;

typedef struct {
	sam_status status;
	char credential_id[STORE_CRED_ID_MAX];
	EVP_PKEY *pub;            /* caller frees */
} sam_keygen_res;

sam_status sam_keygen(sam *m, const sam_keygen_req *req, sam_keygen_res *res);
sam_status sam_key_set_cert(sam *m, const char *credential_id, const uint8_t *der, size_t len,
			    const char *actor);
sam_status sam_key_destroy(sam *m, const char *credential_id, const char *actor);
sam_status sam_set_pin(sam *m, const char *credential_id, const char *pin, size_t pin_len,
		       const char *actor);

/* ---- lifetime ---- */
typedef struct {
	hsm *hsm;
	store *store;
	const policy *policy;
} sam_deps;

int sam_new(const sam_deps *deps, sam **out);
void sam_free(sam *m);

#endif
