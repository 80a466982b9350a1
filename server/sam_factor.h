/* SPDX-License-Identifier: Apache-2.0 */
/* The SAM's factor secrets at rest: credential PIN verifiers
 * (credentials.pin_hash) and TOTP seeds (users.otp_key), sealed with
 * hsm_secret_seal under the HSM-held factor key. The AAD names the row and
 * the field ("cisres:credential:<id>:pin_hash:<binding>", see
 * sam_factor_seal_pin, and "cisres:user:<id>:otp_key"), so that a sealed
 * value copied to another row or field, or kept under an edited row, does
 * not open.
 *
 * Stored forms:
 *   pin_hash: "$hsm1$" + base64(blob)         (sealed)
 *             "$scrypt$..."                    (legacy, unsealed)
 *   otp_key:  blob (magic "CSF1" ...)          (sealed)
 *             raw seed bytes                   (legacy, unsealed)
 * Legacy values are accepted only when strict is false (a database from
 * before sealing, or a SAM without an HSM); a strict SAM refuses them. */
#ifndef CISRES_SAM_FACTOR_H
#define CISRES_SAM_FACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsm.h"
#include "store/store.h"

#define SAM_FACTOR_PIN_PREFIX "$hsm1$"
#define SAM_FACTOR_SEED_MAX (STORE_OTPKEY_MAX - HSM_SECRET_OVERHEAD) /* raw TOTP seed */

typedef enum {
	SAM_FACTOR_OK = 0,
	SAM_FACTOR_LEGACY_REFUSED, /* unsealed value and strict */
	SAM_FACTOR_BAD,		   /* does not open (tampered, moved, other key) */
	SAM_FACTOR_ERROR,	   /* HSM or internal failure */
} sam_factor_rc;

/* PIN verifier -> stored form. The AAD is the credential's binding: its
 * id, owner, HSM key id, key kind and size, SCAL, OTP requirement,
 * multisign, enabled flag and certificate (SHA-256). A row edited in the
 * database (the key of another signer, the OTP requirement dropped, another
 * owner, re-enabled, another certificate) no longer opens its verifier, so
 * no PIN is accepted for it; the SAM re-seals when it changes a field. With h == NULL the verifier
 * is stored unsealed (a SAM without an HSM: tests, tools). */
int sam_factor_seal_pin(hsm *h, const store_credential *cr, const char *kdf,
			char out[STORE_HASH_MAX]);
/* Stored form -> the verifier (out, NUL-terminated). */
sam_factor_rc sam_factor_open_pin(hsm *h, bool strict, const store_credential *cr,
				  const char *stored, char out[STORE_HASH_MAX]);
/* SHA-256 of the credential's binding (the same fields): a SAD remembers
 * it, and signing refuses a row that changed since the authorization. */
int sam_factor_cred_binding(const store_credential *cr, uint8_t out[32]);

/* TOTP seed -> stored form (out has STORE_OTPKEY_MAX bytes). */
int sam_factor_seal_otp(hsm *h, int64_t user_id, const uint8_t *seed, size_t len,
			uint8_t out[STORE_OTPKEY_MAX], size_t *outlen);
/* Stored form -> seed (out has STORE_OTPKEY_MAX bytes). */
sam_factor_rc sam_factor_open_otp(hsm *h, bool strict, int64_t user_id, const uint8_t *stored,
				  size_t len, uint8_t out[STORE_OTPKEY_MAX], size_t *outlen);

/* ---- PIN verifiers ----
 * With an HSM: "$hmac1$" + hex(salt, 16 bytes) + "$" + hex(tag, 32 bytes),
 * tag = hsm_mac("cisres-pin:" cred_id NUL salt PIN) under the HSM's MAC key.
 * A guess can only be checked by the HSM, so a slow KDF adds nothing
 * against an offline attack (there is none without the HSM) and online
 * guessing is bounded by the lockout counter. Without an HSM (tests,
 * tools): a kdf_hash() scrypt string of cost log_n. */
#define SAM_FACTOR_MAC_PREFIX "$hmac1$"
int sam_factor_pin_make(hsm *h, int log_n, const char *cred_id, const char *pin, size_t len,
			char out[STORE_HASH_MAX]);
/* 1: pin matches the verifier (either form); 0: it does not; -1: error
 * (malformed verifier, HSM failure). Constant time in the tag. */
int sam_factor_pin_check(hsm *h, const char *cred_id, const char *pin, size_t len,
			 const char *verifier);

/* Is a stored value sealed? */
bool sam_factor_pin_sealed(const char *stored);
bool sam_factor_otp_sealed(const uint8_t *stored, size_t len);

#endif
