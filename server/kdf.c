/* SPDX-License-Identifier: Apache-2.0 */
/* scrypt password/PIN hashing through OpenSSL 3 EVP_KDF, encoded as
 * "$scrypt$ln=<ln>,r=8,p=1$<b64 salt>$<b64 hash>". */
#include "kdf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "b64.h"
#include "log.h"
#include "secmem.h"

#define KDF_SALT_LEN 16
#define KDF_OUT_LEN 32
#define KDF_R 8
#define KDF_P 1
#define KDF_LN_MIN 10
#define KDF_LN_MAX 20
#define KDF_ENCODED_MAX 200 /* refuse longer inputs outright */
#define KDF_PREFIX "$scrypt$ln="

static int kdf_derive(const char *secret, size_t len, const uint8_t *salt, size_t saltlen,
		      int log_n, uint8_t out[KDF_OUT_LEN])
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[6];
	uint64_t n = (uint64_t)1 << log_n;
	uint32_t r = KDF_R, p = KDF_P;
	/* N * r * 128 bytes plus slack; 2^20 * 8 * 128 = 1 GiB at the cap. */
	uint64_t maxmem = n * r * 128u + (1u << 20);
	static const char empty[1] = {0};
	int rc = -1;

	kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	if (kdf == NULL)
		goto out;
	ctx = EVP_KDF_CTX_new(kdf);
	if (ctx == NULL)
		goto out;
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
						      (void *)(len ? secret : empty), len);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
	params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
	params[5] = OSSL_PARAM_construct_end();
	{
		OSSL_PARAM mm[2];
		mm[0] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
		mm[1] = OSSL_PARAM_construct_end();
		if (EVP_KDF_CTX_set_params(ctx, mm) != 1)
			goto out;
	}
	if (EVP_KDF_derive(ctx, out, KDF_OUT_LEN, params) != 1) {
		log_err("kdf: scrypt derivation failed");
		goto out;
	}
	rc = 0;
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

int kdf_hash(const char *secret, size_t len, int log_n, char *out, size_t cap)
{
	uint8_t salt[KDF_SALT_LEN];
	uint8_t dk[KDF_OUT_LEN];
	char *salt_b64 = NULL, *dk_b64 = NULL;
	int rc = -1, n;

	if ((secret == NULL && len > 0) || out == NULL || cap == 0)
		return -1;
	if (log_n < KDF_LN_MIN || log_n > KDF_LN_MAX)
		return -1;
	if (sec_random(salt, sizeof(salt)) != 0)
		goto out;
	if (kdf_derive(secret, len, salt, sizeof(salt), log_n, dk) != 0)
		goto out;
	salt_b64 = b64_encode(salt, sizeof(salt));
	dk_b64 = b64_encode(dk, sizeof(dk));
	if (salt_b64 == NULL || dk_b64 == NULL)
		goto out;
	n = snprintf(out, cap, KDF_PREFIX "%d,r=%d,p=%d$%s$%s", log_n, KDF_R, KDF_P, salt_b64,
		     dk_b64);
	if (n < 0 || (size_t)n >= cap) {
		sec_zero(out, cap);
		goto out;
	}
	rc = 0;
out:
	sec_zero(dk, sizeof(dk));
	free(salt_b64);
	if (dk_b64 != NULL)
		sec_strfree(dk_b64);
	return rc;
}

/* Parse a run of decimal digits (no sign, no leading zero unless "0"),
 * at most 2 digits. Advances *pp. */
static int kdf_parse_small(const char **pp, int *v)
{
	const char *p = *pp;
	int x = 0, nd = 0;

	while (*p >= '0' && *p <= '9') {
		if (nd == 2)
			return -1;
		if (nd == 1 && x == 0)
			return -1; /* leading zero */
		x = x * 10 + (*p - '0');
		nd++;
		p++;
	}
	if (nd == 0)
		return -1;
	*v = x;
	*pp = p;
	return 0;
}

int kdf_verify(const char *secret, size_t len, const char *encoded)
{
	const char *p, *salt_s, *dk_s, *end;
	size_t enclen, salt_len, dk_len;
	uint8_t salt[KDF_SALT_LEN + 4], want[KDF_OUT_LEN + 4], got[KDF_OUT_LEN];
	size_t saltn = 0, wantn = 0;
	int ln, r, pp, rc = -1;

	if (encoded == NULL || (secret == NULL && len > 0))
		return -1;
	enclen = strnlen(encoded, KDF_ENCODED_MAX + 1);
	if (enclen > KDF_ENCODED_MAX)
		return -1;
	end = encoded + enclen;
	if (strncmp(encoded, KDF_PREFIX, strlen(KDF_PREFIX)) != 0)
		return -1;
	p = encoded + strlen(KDF_PREFIX);
	if (kdf_parse_small(&p, &ln) != 0 || ln < KDF_LN_MIN || ln > KDF_LN_MAX)
		return -1;
	if (strncmp(p, ",r=", 3) != 0)
		return -1;
	p += 3;
	if (kdf_parse_small(&p, &r) != 0 || r != KDF_R)
		return -1;
	if (strncmp(p, ",p=", 3) != 0)
		return -1;
	p += 3;
	if (kdf_parse_small(&p, &pp) != 0 || pp != KDF_P)
		return -1;
	if (*p != '$')
		return -1;
	salt_s = ++p;
	while (p < end && *p != '$')
		p++;
	if (p >= end)
		return -1;
	salt_len = (size_t)(p - salt_s);
	dk_s = ++p;
	dk_len = (size_t)(end - dk_s);
	if (memchr(dk_s, '$', dk_len) != NULL)
		return -1;
	if (b64_decode_buf(salt_s, salt_len, salt, sizeof(salt), &saltn) != 0 ||
	    saltn != KDF_SALT_LEN)
		return -1;
	if (b64_decode_buf(dk_s, dk_len, want, sizeof(want), &wantn) != 0 || wantn != KDF_OUT_LEN)
		goto out;
	if (kdf_derive(secret, len, salt, saltn, ln, got) != 0)
		goto out;
	rc = CRYPTO_memcmp(got, want, KDF_OUT_LEN) == 0 ? 1 : 0;
out:
	sec_zero(got, sizeof(got));
	sec_zero(want, sizeof(want));
	return rc;
}
