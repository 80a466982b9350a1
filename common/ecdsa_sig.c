/* SPDX-License-Identifier: Apache-2.0 */
/* ECDSA signature encodings: DER Ecdsa-Sig-Value <-> PKCS#11 r||s. */
#include "ecdsa_sig.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>

/* Far above P-521 (66 bytes); bounds all the work done on outside input. */
#define ECDSA_MAX_FIELD 128
/* SEQUENCE of two INTEGERs of at most ECDSA_MAX_FIELD + 1 bytes each. */
#define ECDSA_MAX_DER (2 * (ECDSA_MAX_FIELD + 1 + 3) + 4)

int ecdsa_der_to_raw(const uint8_t *der, size_t derlen, size_t field_len, uint8_t *out)
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = NULL;
	const BIGNUM *r, *s;
	unsigned char *re = NULL;
	int relen, rc = -1;

	if (der == NULL || out == NULL || field_len == 0 || field_len > ECDSA_MAX_FIELD)
		return -1;
	if (derlen == 0 || derlen > ECDSA_MAX_DER)
		return -1;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	if (sig == NULL || p != der + derlen)
		goto out;
	/* OpenSSL's decoder accepts some BER forms; only the DER one re-encodes
	 * to the same bytes. */
	relen = i2d_ECDSA_SIG(sig, &re);
	if (relen <= 0 || (size_t)relen != derlen || memcmp(re, der, derlen) != 0)
		goto out;
	ECDSA_SIG_get0(sig, &r, &s);
	if (r == NULL || s == NULL || BN_is_negative(r) || BN_is_negative(s) || BN_is_zero(r) ||
	    BN_is_zero(s))
		goto out;
	if ((size_t)BN_num_bytes(r) > field_len || (size_t)BN_num_bytes(s) > field_len)
		goto out;
	if (BN_bn2binpad(r, out, (int)field_len) != (int)field_len ||
	    BN_bn2binpad(s, out + field_len, (int)field_len) != (int)field_len)
		goto out;
	rc = 0;
out:
	OPENSSL_free(re);
	ECDSA_SIG_free(sig);
	return rc;
}

static bool all_zero(const uint8_t *b, size_t n)
{
	uint8_t acc = 0;
	size_t i;
	for (i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

int ecdsa_raw_to_der(const uint8_t *raw, size_t rawlen, uint8_t **der, size_t *derlen)
{
	ECDSA_SIG *sig = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *buf = NULL, *q;
	size_t half;
	int len, rc = -1;

	if (der == NULL || derlen == NULL)
		return -1;
	*der = NULL;
	*derlen = 0;
	if (raw == NULL || rawlen == 0 || rawlen % 2 != 0 || rawlen > 2 * ECDSA_MAX_FIELD)
		return -1;
	half = rawlen / 2;
	if (all_zero(raw, half) || all_zero(raw + half, half))
		return -1;
	sig = ECDSA_SIG_new();
	r = BN_bin2bn(raw, (int)half, NULL);
	s = BN_bin2bn(raw + half, (int)half, NULL);
	if (sig == NULL || r == NULL || s == NULL)
		goto out;
	if (ECDSA_SIG_set0(sig, r, s) != 1)
		goto out;
	r = s = NULL; /* owned by sig */
	len = i2d_ECDSA_SIG(sig, NULL);
	if (len <= 0)
		goto out;
	buf = malloc((size_t)len);
	if (buf == NULL)
		goto out;
	q = buf;
	if (i2d_ECDSA_SIG(sig, &q) != len)
		goto out;
	*der = buf;
	*derlen = (size_t)len;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return rc;
}
