/* SPDX-License-Identifier: Apache-2.0 */
/* Factor secrets at rest, sealed under the HSM-held factor key. */
#include "sam_factor.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "b64.h"
#include "kdf.h"
#include "log.h"
#include "secmem.h"

#define SAM_FACTOR_AAD_MAX HSM_SECRET_AAD_MAX
#define SAM_FACTOR_PREFIX_LEN (sizeof(SAM_FACTOR_PIN_PREFIX) - 1)
/* Largest blob that fits the text column once base64-encoded. */
#define SAM_FACTOR_PIN_BLOB_MAX (((STORE_HASH_MAX - 1 - SAM_FACTOR_PREFIX_LEN) / 4) * 3)

/* The credential's binding: every field that decides whose key signs and
 * under which rules. It is the AAD of the sealed PIN verifier. */
static int sam_factor_aad_pin(const store_credential *cr, char *aad, size_t cap, size_t *len)
{
	char kid[2 * sizeof(cr->key_id) + 1], cert[2 * 32 + 1] = "none";
	uint8_t d[32];
	unsigned int dl = 0;
	int n;

	if (cr->key_id_len == 0 || cr->key_id_len > sizeof(cr->key_id) ||
	    hex_encode(cr->key_id, cr->key_id_len, kid, sizeof(kid)) != 0 ||
	    memchr(cr->id, '\0', sizeof(cr->id)) == NULL)
		return -1;
	if (cr->cert_der != NULL && cr->cert_len > 0 &&
	    (EVP_Digest(cr->cert_der, cr->cert_len, d, &dl, EVP_sha256(), NULL) != 1 ||
	     dl != sizeof(d) || hex_encode(d, sizeof(d), cert, sizeof(cert)) != 0))
		return -1;
	n = snprintf(aad, cap,
		     "cisres:credential:%s:pin_hash:user=%" PRId64 ":key=%s:kind=%d:bits=%d"
		     ":scal=%d:otp=%d:multisign=%d:enabled=%d:cert=%s",
		     cr->id, cr->user_id, kid, cr->key_kind, cr->key_bits, cr->scal,
		     cr->auth_otp ? 1 : 0, cr->multisign, cr->enabled ? 1 : 0, cert);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	*len = (size_t)n;
	return 0;
}

int sam_factor_cred_binding(const store_credential *cr, uint8_t out[32])
{
	char aad[SAM_FACTOR_AAD_MAX];
	size_t len = 0;
	unsigned int n = 0;

	memset(out, 0, 32);
	if (cr == NULL || sam_factor_aad_pin(cr, aad, sizeof(aad), &len) != 0)
		return -1;
	return EVP_Digest(aad, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -1;
}

static int sam_factor_aad_otp(int64_t user_id, char *aad, size_t cap, size_t *len)
{
	int n = snprintf(aad, cap, "cisres:user:%" PRId64 ":otp_key", user_id);

	if (n < 0 || (size_t)n >= cap)
		return -1;
	*len = (size_t)n;
	return 0;
}

bool sam_factor_pin_sealed(const char *stored)
{
	return stored != NULL && strncmp(stored, SAM_FACTOR_PIN_PREFIX, SAM_FACTOR_PREFIX_LEN) == 0;
}

bool sam_factor_otp_sealed(const uint8_t *stored, size_t len)
{
	return hsm_secret_is_sealed(stored, len);
}

int sam_factor_seal_pin(hsm *h, const store_credential *cr, const char *kdf,
			char out[STORE_HASH_MAX])
{
	uint8_t blob[SAM_FACTOR_PIN_BLOB_MAX];
	char aad[SAM_FACTOR_AAD_MAX];
	size_t aadlen, kdflen, bloblen = 0, enclen;
	char *enc = NULL;
	int rc = -1;

	if (cr == NULL || kdf == NULL || out == NULL)
		return -1;
	kdflen = strnlen(kdf, STORE_HASH_MAX);
	if (kdflen == 0 || kdflen >= STORE_HASH_MAX)
		return -1;
	if (h == NULL) {
		memcpy(out, kdf, kdflen + 1);
		return 0;
	}
	if (sam_factor_aad_pin(cr, aad, sizeof(aad), &aadlen) != 0 ||
	    kdflen + HSM_SECRET_OVERHEAD > sizeof(blob))
		return -1;
	if (hsm_secret_seal(h, (const uint8_t *)aad, aadlen, (const uint8_t *)kdf, kdflen, blob,
			    sizeof(blob), &bloblen) != HSM_OK)
		goto out;
	enc = b64_encode(blob, bloblen);
	if (enc == NULL)
		goto out;
	enclen = strlen(enc);
	if (SAM_FACTOR_PREFIX_LEN + enclen >= STORE_HASH_MAX)
		goto out;
	memcpy(out, SAM_FACTOR_PIN_PREFIX, SAM_FACTOR_PREFIX_LEN);
	memcpy(out + SAM_FACTOR_PREFIX_LEN, enc, enclen + 1);
	rc = 0;
out:
	free(enc); /* ciphertext only */
	sec_zero(blob, sizeof(blob));
	return rc;
}

sam_factor_rc sam_factor_open_pin(hsm *h, bool strict, const store_credential *cr,
				  const char *stored, char out[STORE_HASH_MAX])
{
	uint8_t blob[SAM_FACTOR_PIN_BLOB_MAX + 4];
	char aad[SAM_FACTOR_AAD_MAX];
	size_t aadlen, slen, bloblen = 0, plen = 0;
	sam_factor_rc rc = SAM_FACTOR_BAD;
	int v;

	if (cr == NULL || stored == NULL || out == NULL)
		return SAM_FACTOR_ERROR;
	out[0] = '\0';
	slen = strnlen(stored, STORE_HASH_MAX);
	if (slen == 0 || slen >= STORE_HASH_MAX)
		return SAM_FACTOR_BAD;
	if (!sam_factor_pin_sealed(stored)) {
		if (strict && h != NULL)
			return SAM_FACTOR_LEGACY_REFUSED;
		memcpy(out, stored, slen + 1);
		return SAM_FACTOR_OK;
	}
	if (h == NULL)
		return SAM_FACTOR_ERROR; /* sealed, but no HSM to open it */
	if (sam_factor_aad_pin(cr, aad, sizeof(aad), &aadlen) != 0)
		return SAM_FACTOR_BAD;
	if (b64_decode_buf(stored + SAM_FACTOR_PREFIX_LEN, slen - SAM_FACTOR_PREFIX_LEN, blob,
			   sizeof(blob), &bloblen) != 0)
		return SAM_FACTOR_BAD;
	v = hsm_secret_open(h, (const uint8_t *)aad, aadlen, blob, bloblen, (uint8_t *)out,
			    STORE_HASH_MAX - 1, &plen);
	if (v == HSM_OK && plen > 0 && plen < STORE_HASH_MAX && memchr(out, '\0', plen) == NULL) {
		out[plen] = '\0';
		rc = SAM_FACTOR_OK;
	} else {
		rc = v == HSM_ERR_INPUT || v == HSM_OK ? SAM_FACTOR_BAD : SAM_FACTOR_ERROR;
		sec_zero(out, STORE_HASH_MAX);
	}
	sec_zero(blob, sizeof(blob));
	return rc;
}

int sam_factor_seal_otp(hsm *h, int64_t user_id, const uint8_t *seed, size_t len,
			uint8_t out[STORE_OTPKEY_MAX], size_t *outlen)
{
	char aad[SAM_FACTOR_AAD_MAX];
	size_t aadlen;

	if (seed == NULL || out == NULL || outlen == NULL || len == 0 || user_id <= 0)
		return -1;
	*outlen = 0;
	if (h == NULL) {
		if (len > STORE_OTPKEY_MAX)
			return -1;
		memcpy(out, seed, len);
		*outlen = len;
		return 0;
	}
	if (len > SAM_FACTOR_SEED_MAX ||
	    sam_factor_aad_otp(user_id, aad, sizeof(aad), &aadlen) != 0)
		return -1;
	return hsm_secret_seal(h, (const uint8_t *)aad, aadlen, seed, len, out, STORE_OTPKEY_MAX,
			       outlen) == HSM_OK
		   ? 0
		   : -1;
}

sam_factor_rc sam_factor_open_otp(hsm *h, bool strict, int64_t user_id, const uint8_t *stored,
				  size_t len, uint8_t out[STORE_OTPKEY_MAX], size_t *outlen)
{
	char aad[SAM_FACTOR_AAD_MAX];
	size_t aadlen;
	int v;

	if (stored == NULL || out == NULL || outlen == NULL || len == 0 || len > STORE_OTPKEY_MAX)
		return SAM_FACTOR_ERROR;
	*outlen = 0;
	if (!sam_factor_otp_sealed(stored, len)) {
		if (strict && h != NULL)
			return SAM_FACTOR_LEGACY_REFUSED;
		memcpy(out, stored, len);
		*outlen = len;
		return SAM_FACTOR_OK;
	}
	if (h == NULL)
		return SAM_FACTOR_ERROR;
	if (sam_factor_aad_otp(user_id, aad, sizeof(aad), &aadlen) != 0)
		return SAM_FACTOR_ERROR;
	v = hsm_secret_open(h, (const uint8_t *)aad, aadlen, stored, len, out, STORE_OTPKEY_MAX,
			    outlen);
	if (v == HSM_OK && *outlen > 0)
		return SAM_FACTOR_OK;
	*outlen = 0;
	return v == HSM_ERR_INPUT ? SAM_FACTOR_BAD : SAM_FACTOR_ERROR;
}

/* ---- PIN verifiers ---- */

#define PIN_SALT_LEN 16
#define PIN_MAC_DOMAIN "cisres-pin:"

/* The HSM's MAC of (domain, credential id, salt, PIN). */
static int pin_tag(hsm *h, const char *cred_id, const uint8_t salt[PIN_SALT_LEN], const char *pin,
		   size_t len, uint8_t tag[HSM_MAC_LEN])
{
	size_t idlen = strnlen(cred_id, STORE_CRED_ID_MAX);
	size_t dl = sizeof(PIN_MAC_DOMAIN) - 1, n = dl + idlen + 1 + PIN_SALT_LEN + len;
	uint8_t *in;
	int rc;

	if (idlen == 0 || idlen >= STORE_CRED_ID_MAX || len == 0 || n > HSM_MAC_INPUT_MAX)
		return -1;
	in = sec_locked_alloc(n);
	if (in == NULL)
		return -1;
	memcpy(in, PIN_MAC_DOMAIN, dl);
	memcpy(in + dl, cred_id, idlen);
	in[dl + idlen] = 0;
	memcpy(in + dl + idlen + 1, salt, PIN_SALT_LEN);
	memcpy(in + dl + idlen + 1 + PIN_SALT_LEN, pin, len);
	rc = hsm_mac(h, in, n, tag) == HSM_OK ? 0 : -1;
	sec_unlock_free(in, n);
	return rc;
}

int sam_factor_pin_make(hsm *h, int log_n, const char *cred_id, const char *pin, size_t len,
			char out[STORE_HASH_MAX])
{
	uint8_t salt[PIN_SALT_LEN], tag[HSM_MAC_LEN];
	char salt_hex[2 * PIN_SALT_LEN + 1], tag_hex[2 * HSM_MAC_LEN + 1];
	int rc = -1;

	if (out == NULL || cred_id == NULL || pin == NULL || len == 0)
		return -1;
	out[0] = '\0';
	if (h == NULL)
		return kdf_hash(pin, len, log_n, out, STORE_HASH_MAX);
	if (sec_random(salt, sizeof(salt)) == 0 && pin_tag(h, cred_id, salt, pin, len, tag) == 0 &&
	    hex_encode(salt, sizeof(salt), salt_hex, sizeof(salt_hex)) == 0 &&
	    hex_encode(tag, sizeof(tag), tag_hex, sizeof(tag_hex)) == 0) {
		int n = snprintf(out, STORE_HASH_MAX, "%s%s$%s", SAM_FACTOR_MAC_PREFIX, salt_hex,
				 tag_hex);
		rc = n > 0 && (size_t)n < STORE_HASH_MAX ? 0 : -1;
	}
	sec_zero(tag, sizeof(tag));
	sec_zero(tag_hex, sizeof(tag_hex));
	if (rc != 0)
		sec_zero(out, STORE_HASH_MAX);
	return rc;
}

int sam_factor_pin_check(hsm *h, const char *cred_id, const char *pin, size_t len,
			 const char *verifier)
{
	const size_t pl = sizeof(SAM_FACTOR_MAC_PREFIX) - 1;
	uint8_t salt[PIN_SALT_LEN], want[HSM_MAC_LEN], got[HSM_MAC_LEN];
	size_t n = 0;
	const char *p;
	int rc = -1;

	if (verifier == NULL || pin == NULL || cred_id == NULL)
		return -1;
	if (strncmp(verifier, SAM_FACTOR_MAC_PREFIX, pl) != 0)
		return kdf_verify(pin, len, verifier); /* scrypt (no HSM, or older) */
	if (h == NULL || len == 0)
		return -1;
	p = verifier + pl;
	if (strnlen(p, STORE_HASH_MAX) != 2 * PIN_SALT_LEN + 1 + 2 * HSM_MAC_LEN ||
	    p[2 * PIN_SALT_LEN] != '$' ||
	    hex_decode(p, 2 * PIN_SALT_LEN, salt, sizeof(salt), &n) != 0 || n != PIN_SALT_LEN ||
	    hex_decode(p + 2 * PIN_SALT_LEN + 1, 2 * HSM_MAC_LEN, want, sizeof(want), &n) != 0 ||
	    n != HSM_MAC_LEN)
		return -1;
	if (pin_tag(h, cred_id, salt, pin, len, got) == 0)
		rc = sec_equal(got, want, HSM_MAC_LEN) ? 1 : 0;
	sec_zero(got, sizeof(got));
	sec_zero(want, sizeof(want));
	return rc;
}
