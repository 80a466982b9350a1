/* SPDX-License-Identifier: Apache-2.0 */
/* The mechanism table: one row per CKM_* the token offers, and how the
 * input of each signing mechanism becomes a CSC signHash request
 * (signAlgo OID, hash, digest, signAlgoParams). Pure functions: no state,
 * no network. */
#ifndef CISRES_MECH_H
#define CISRES_MECH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cisres/pkcs11_3.h"
#include "oid.h"
#include "pss.h"

typedef enum {
	MECH_SIG_NONE = 0, /* a digest mechanism */
	MECH_SIG_PKCS1,	   /* RSASSA-PKCS1-v1_5 */
	MECH_SIG_PSS,	   /* RSASSA-PSS */
	MECH_SIG_ECDSA,
} mech_sig;

/* What the module knows of a key when it checks and prepares a signature. */
typedef struct {
	key_kind kind;
	unsigned bits;	  /* RSA modulus bits, EC field bits */
	size_t field_len; /* EC: bytes of r (and s) */
	uint32_t algos;	  /* the credential's key.algo list: bit (1u << sig_alg) per known OID */
} mech_key;

/* Parameters of one operation, checked at *Init. */
typedef struct {
	pss_params pss; /* MECH_SIG_PSS only */
} mech_params;

/* One signHash request, prepared from the mechanism input. */
typedef struct {
	const char *sign_algo; /* CSC signAlgo OID (static) */
	hash_alg hash;
	uint8_t digest[HASH_MAX_LEN];
	size_t digest_len;
	uint8_t *params; /* DER signAlgoParams (PSS), malloc'd, or NULL */
	size_t params_len;
} mech_request;

typedef struct mech_row mech_row;
typedef CK_RV (*mech_prepare_fn)(const mech_row *row, const mech_params *params,
				 const mech_key *key, const uint8_t *in, size_t len,
				 mech_request *out);

struct mech_row {
	CK_MECHANISM_TYPE type;
	const char *name;
	key_kind key;	   /* KEY_NONE for digest mechanisms */
	CK_ULONG min_bits; /* key sizes, as C_GetMechanismInfo reports them */
	CK_ULONG max_bits;
	CK_FLAGS flags; /* CKF_SIGN | CKF_VERIFY | CKF_DIGEST | CKF_EC_* */
	mech_sig sig;
	hash_alg hash;		 /* hashed locally when not HASH_NONE; the digest of CKM_SHA* */
	mech_prepare_fn prepare; /* digest (or DigestInfo) -> signHash request */
};

/* The row of a mechanism, or NULL when the token does not offer it. */
const mech_row *mech_lookup(CK_MECHANISM_TYPE type);
/* C_GetMechanismList semantics (NULL list → count; short list →
 * CKR_BUFFER_TOO_SMALL with the count). */
CK_RV mech_list(CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count);
/* C_GetMechanismInfo semantics. */
CK_RV mech_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info);

/* Check a mechanism for a key at C_SignInit / C_VerifyInit (need is CKF_SIGN
 * or CKF_VERIFY): CKR_MECHANISM_INVALID, CKR_KEY_TYPE_INCONSISTENT,
 * CKR_KEY_SIZE_RANGE, CKR_MECHANISM_PARAM_INVALID. */
CK_RV mech_check(const CK_MECHANISM *m, const mech_key *key, CK_FLAGS need, const mech_row **row,
		 mech_params *params);
/* Whether the credential allows the mechanism (CKA_ALLOWED_MECHANISMS). */
bool mech_allowed(const mech_row *row, const mech_key *key);
/* The mechanisms allowed for a key, for CKA_ALLOWED_MECHANISMS; returns how
 * many were written (at most cap). */
size_t mech_allowed_list(const mech_key *key, CK_MECHANISM_TYPE *out, size_t cap);

/* Signature length in PKCS#11 format: RSA modulus bytes, ECDSA 2 * field. */
size_t mech_sig_len(const mech_row *row, const mech_key *key);
/* Bit (1u << sig_alg) for a key.algo OID; 0 when unknown. */
uint32_t mech_algo_bit(const char *oid);

/* Turn the mechanism input — the local hash for hashing mechanisms, else
 * what the application passed — into a signHash request. CKR_DATA_INVALID
 * (not a DigestInfo), CKR_DATA_LEN_RANGE (digest length), CKR_HOST_MEMORY. */
CK_RV mech_prepare(const mech_row *row, const mech_params *params, const mech_key *key,
		   const uint8_t *in, size_t len, mech_request *out);
void mech_request_clear(mech_request *r);

/* Turn the signature CSC returned into the PKCS#11 format: ECDSA DER →
 * r||s, RSA left-padded to the modulus length. out holds mech_sig_len
 * bytes. CKR_DEVICE_ERROR when the service's answer does not fit. */
CK_RV mech_finish(const mech_row *row, const mech_key *key, const uint8_t *sig, size_t sig_len,
		  uint8_t *out, size_t *out_len);

/* CKM_SHA_1.. → hash, and CKG_MGF1_SHA*.. → hash; HASH_NONE when unknown. */
hash_alg mech_hash_of(CK_MECHANISM_TYPE digest_mech);
hash_alg mech_mgf_hash(CK_RSA_PKCS_MGF_TYPE mgf);

#endif
