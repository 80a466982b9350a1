/* SPDX-License-Identifier: Apache-2.0 */
/* The only code that talks PKCS#11 to the HSM (SoftHSMv2 by default, any
 * vendor module by path). Keys are addressed by their CKA_ID. */
#ifndef CISRES_HSM_H
#define CISRES_HSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "oid.h"

typedef struct hsm hsm;

typedef struct {
	const char *module_path; /* e.g. /usr/lib/softhsm/libsofthsm2.so */
	const char *token_label; /* token to use */
	const char *pin;	 /* CKU_USER PIN */
	size_t pin_len;
	unsigned pool_size; /* sessions kept open; 0 = number of CPUs * 2 */
} hsm_config;

typedef struct {
	key_kind kind;
	unsigned bits; /* RSA modulus bits */
	int curve_nid; /* EC: NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1 */
} hsm_key_spec;

typedef enum { HSM_MECH_RSA_PKCS = 1, HSM_MECH_RSA_PSS, HSM_MECH_ECDSA } hsm_mech;

#define HSM_OK 0
#define HSM_ERR -1	  /* generic failure (logged) */
#define HSM_ERR_NOKEY -2  /* no key with that CKA_ID */
#define HSM_ERR_INPUT -3  /* input rejected by the HSM (size, params) */
#define HSM_ERR_BUFFER -4 /* signature buffer too small */

/* Create and initialize a token on the first free slot of a SoftHSM-like
 * module (C_InitToken + C_InitPIN). Used by the embedded default only; the
 * caller has set SOFTHSM2_CONF. */
int hsm_create_token(const char *module_path, const char *label, const char *so_pin,
		     const char *user_pin);

/* Load the module, C_Initialize (OS locking), find the token by label, open
 * the session pool and log in. */
int hsm_open(const hsm_config *cfg, hsm **out);
/* Logout, close sessions, C_Finalize, unload. NULL allowed. */
void hsm_close(hsm *h);

/* Generate a key pair in the HSM: private key CKA_TOKEN, CKA_PRIVATE,
 * CKA_SENSITIVE, !CKA_EXTRACTABLE, CKA_SIGN only (no DECRYPT/UNWRAP/DERIVE);
 * public key CKA_VERIFY. Both objects get CKA_ID = id and CKA_LABEL = label.
 * *pub receives the public key as an OpenSSL key (caller frees). */
int hsm_generate_keypair(hsm *h, const hsm_key_spec *spec, const uint8_t *id, size_t idlen,
			 const char *label, EVP_PKEY **pub);
/* Read the public key of a pair. */
int hsm_get_public(hsm *h, const uint8_t *id, size_t idlen, EVP_PKEY **pub);
/* Destroy both objects of a pair. HSM_ERR_NOKEY when absent. */
int hsm_destroy_keypair(hsm *h, const uint8_t *id, size_t idlen);

/* Sign with the private key whose CKA_ID is id.
 * RSA_PKCS: in = DER DigestInfo. RSA_PSS: in = raw digest, pss required.
 * ECDSA: in = raw digest; the result is DER Ecdsa-Sig-Value (re-encoded).
 * sig has cap bytes; *siglen receives the length. Thread-safe (pool). */
typedef struct {
	hash_alg hash;
	hash_alg mgf_hash;
	unsigned long salt_len;
} hsm_pss;
int hsm_sign(hsm *h, const uint8_t *id, size_t idlen, hsm_mech mech, const hsm_pss *pss,
	     const uint8_t *in, size_t inlen, uint8_t *sig, size_t cap, size_t *siglen);

/* An OpenSSL key whose private operation is done by the HSM (for the CA and
 * TSA: X509_sign, TS responses). RSA keys sign PKCS#1 v1.5; EC keys ECDSA.
 * The hsm must outlive the key. Caller frees with EVP_PKEY_free. */
EVP_PKEY *hsm_pkey_new(hsm *h, const uint8_t *id, size_t idlen);

/* ---- factor secrets sealed under an HSM-held key ----
 * PIN verifiers and TOTP seeds are stored AES-256-GCM encrypted under a
 * secret key that never leaves the HSM: CKK_AES, 256 bits, CKA_TOKEN,
 * CKA_PRIVATE, CKA_SENSITIVE, !CKA_EXTRACTABLE, CKA_ENCRYPT/CKA_DECRYPT only,
 * CKA_ID = HSM_FACTOR_KEY_ID (created on first use). The AAD (e.g. row id +
 * field name) is bound into the tag, so a blob cannot be moved elsewhere.
 * Blob: magic "CSF1" (4) || IV (12, random) || ciphertext || tag (16). */
#define HSM_FACTOR_KEY_ID "cisres-factor-key"
#define HSM_SECRET_OVERHEAD 32 /* magic + IV + tag */
#define HSM_SECRET_MAX 1024    /* plaintext bytes accepted */
#define HSM_SECRET_AAD_MAX 256

/* Seal in (inlen bytes) into out (cap >= inlen + HSM_SECRET_OVERHEAD);
 * *outlen receives the blob length. HSM_OK, HSM_ERR_INPUT, HSM_ERR. */
int hsm_secret_seal(hsm *h, const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t inlen,
		    uint8_t *out, size_t cap, size_t *outlen);
/* Open a blob made by hsm_secret_seal with the same AAD. HSM_ERR_INPUT when
 * the blob is malformed or does not authenticate (tampered, other AAD,
 * other key); HSM_ERR_NOKEY when the token has no factor key; HSM_ERR on
 * an HSM failure. out is zeroed on failure. */
int hsm_secret_open(hsm *h, const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t inlen,
		    uint8_t *out, size_t cap, size_t *outlen);
/* Does the value look like a sealed blob (magic and minimum length)? */
bool hsm_secret_is_sealed(const uint8_t *in, size_t inlen);

/* ---- keyed MACs under an HSM-held key ----
 * HMAC-SHA-256 under a secret key that never leaves the HSM: CKK_GENERIC_SECRET,
 * 256 bits, CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, !CKA_EXTRACTABLE,
 * CKA_SIGN/CKA_VERIFY only, CKA_ID = HSM_MAC_KEY_ID (created on first use).
 * PIN verifiers are such MACs: checking a guess needs the HSM. */
#define HSM_MAC_KEY_ID "cisres-mac-key"
#define HSM_MAC_LEN 32
#define HSM_MAC_INPUT_MAX 4096
/* HSM_OK, HSM_ERR_INPUT (empty or oversized input), HSM_ERR. */
int hsm_mac(hsm *h, const uint8_t *in, size_t inlen, uint8_t out[HSM_MAC_LEN]);

/* ---- counters kept in the token ----
 * Small named counters stored as CKO_DATA objects (CKA_TOKEN, CKA_PRIVATE,
 * CKA_APPLICATION "cisres-counter", CKA_LABEL = name, CKA_VALUE = 4 bytes
 * big-endian). They live with the keys, not in the database, so restoring
 * an older database does not reset them (PIN failure counters). A counter
 * that does not exist is 0; writing 0 removes it. Updates are serialized
 * in this process; duplicates left by a race between processes count as
 * their largest value and collapse on the next write. */
#define HSM_COUNTER_NAME_MAX 128 /* NUL included */
int hsm_counter_get(hsm *h, const char *name, uint32_t *value);
int hsm_counter_set(hsm *h, const char *name, uint32_t value);
/* Add one; *value receives the new value. */
int hsm_counter_add(hsm *h, const char *name, uint32_t *value);
/* Call cb for every counter on the token; a non-zero return stops (HSM_ERR). */
typedef int (*hsm_counter_cb)(const char *name, uint32_t value, void *ctx);
int hsm_counter_each(hsm *h, hsm_counter_cb cb, void *ctx);

#endif
