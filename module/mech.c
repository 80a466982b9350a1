/* SPDX-License-Identifier: Apache-2.0 */
/* The mechanism table and the mechanism → signHash mapping. */
#include "mech.h"

#include <stdlib.h>
#include <string.h>

#include "digestinfo.h"
#include "ecdsa_sig.h"

/* Key sizes the service issues (RSA 2048..4096, P-256..P-521). */
#define RSA_MIN 2048
#define RSA_MAX 4096
#define EC_MIN 256
#define EC_MAX 521

#define F_RSA (CKF_SIGN | CKF_VERIFY)
#define F_EC (CKF_SIGN | CKF_VERIFY | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)

static CK_RV prep_pkcs1(const mech_row *row, const mech_params *params, const mech_key *key,
			const uint8_t *in, size_t len, mech_request *out);
static CK_RV prep_pss(const mech_row *row, const mech_params *params, const mech_key *key,
		      const uint8_t *in, size_t len, mech_request *out);
static CK_RV prep_ecdsa(const mech_row *row, const mech_params *params, const mech_key *key,
			const uint8_t *in, size_t len, mech_request *out);

#define RSA_ROW(t, sig, h, fn)                                                                     \
	{                                                                                          \
		t, #t, KEY_RSA, RSA_MIN, RSA_MAX, F_RSA, sig, h, fn                                \
	}
#define EC_ROW(t, h)                                                                               \
	{                                                                                          \
		t, #t, KEY_EC, EC_MIN, EC_MAX, F_EC, MECH_SIG_ECDSA, h, prep_ecdsa                 \
	}
#define DIGEST_ROW(t, h)                                                                           \
	{                                                                                          \
		t, #t, KEY_NONE, 0, 0, CKF_DIGEST, MECH_SIG_NONE, h, NULL                          \
	}

static const mech_row MECHS[] = {
    RSA_ROW(CKM_RSA_PKCS, MECH_SIG_PKCS1, HASH_NONE, prep_pkcs1),
    RSA_ROW(CKM_SHA1_RSA_PKCS, MECH_SIG_PKCS1, HASH_SHA1, prep_pkcs1),
    RSA_ROW(CKM_SHA224_RSA_PKCS, MECH_SIG_PKCS1, HASH_SHA224, prep_pkcs1),
    RSA_ROW(CKM_SHA256_RSA_PKCS, MECH_SIG_PKCS1, HASH_SHA256, prep_pkcs1),
    RSA_ROW(CKM_SHA384_RSA_PKCS, MECH_SIG_PKCS1, HASH_SHA384, prep_pkcs1),
    RSA_ROW(CKM_SHA512_RSA_PKCS, MECH_SIG_PKCS1, HASH_SHA512, prep_pkcs1),
    RSA_ROW(CKM_RSA_PKCS_PSS, MECH_SIG_PSS, HASH_NONE, prep_pss),
    RSA_ROW(CKM_SHA1_RSA_PKCS_PSS, MECH_SIG_PSS, HASH_SHA1, prep_pss),
    RSA_ROW(CKM_SHA224_RSA_PKCS_PSS, MECH_SIG_PSS, HASH_SHA224, prep_pss),
    RSA_ROW(CKM_SHA256_RSA_PKCS_PSS, MECH_SIG_PSS, HASH_SHA256, prep_pss),
    RSA_ROW(CKM_SHA384_RSA_PKCS_PSS, MECH_SIG_PSS, HASH_SHA384, prep_pss),
    RSA_ROW(CKM_SHA512_RSA_PKCS_PSS, MECH_SIG_PSS, HASH_SHA512, prep_pss),
    EC_ROW(CKM_ECDSA, HASH_NONE),
    EC_ROW(CKM_ECDSA_SHA1, HASH_SHA1),
    EC_ROW(CKM_ECDSA_SHA224, HASH_SHA224),
    EC_ROW(CKM_ECDSA_SHA256, HASH_SHA256),
    EC_ROW(CKM_ECDSA_SHA384, HASH_SHA384),
    EC_ROW(CKM_ECDSA_SHA512, HASH_SHA512),
    DIGEST_ROW(CKM_SHA_1, HASH_SHA1),
    DIGEST_ROW(CKM_SHA224, HASH_SHA224),
    DIGEST_ROW(CKM_SHA256, HASH_SHA256),
    DIGEST_ROW(CKM_SHA384, HASH_SHA384),
    DIGEST_ROW(CKM_SHA512, HASH_SHA512),
};
#define N_MECHS (sizeof(MECHS) / sizeof(MECHS[0]))

#define BIT(s) (1u << (unsigned)(s))
#define RSA_PKCS1_BITS                                                                             \
	(BIT(SIG_RSA_RAW) | BIT(SIG_RSA_SHA1) | BIT(SIG_RSA_SHA224) | BIT(SIG_RSA_SHA256) |        \
	 BIT(SIG_RSA_SHA384) | BIT(SIG_RSA_SHA512))
#define RSA_ALL_BITS (RSA_PKCS1_BITS | BIT(SIG_RSA_PSS))

const mech_row *mech_lookup(CK_MECHANISM_TYPE type)
{
	size_t i;
	for (i = 0; i < N_MECHS; i++) {
		if (MECHS[i].type == type)
			return &MECHS[i];
	}
	return NULL;
}

CK_RV mech_list(CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	size_t i;

	if (count == NULL)
		return CKR_ARGUMENTS_BAD;
	if (list == NULL) {
		*count = N_MECHS;
		return CKR_OK;
	}
	if (*count < N_MECHS) {
		*count = N_MECHS;
		return CKR_BUFFER_TOO_SMALL;
	}
	for (i = 0; i < N_MECHS; i++)
		list[i] = MECHS[i].type;
	*count = N_MECHS;
	return CKR_OK;
}

CK_RV mech_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	const mech_row *row = mech_lookup(type);

	if (info == NULL)
		return CKR_ARGUMENTS_BAD;
	if (row == NULL)
		return CKR_MECHANISM_INVALID;
	info->ulMinKeySize = row->min_bits;
	info->ulMaxKeySize = row->max_bits;
	info->flags = row->flags;
	return CKR_OK;
}

hash_alg mech_hash_of(CK_MECHANISM_TYPE digest_mech)
{
	switch (digest_mech) {
	case CKM_SHA_1:
		return HASH_SHA1;
	case CKM_SHA224:
		return HASH_SHA224;
	case CKM_SHA256:
		return HASH_SHA256;
	case CKM_SHA384:
		return HASH_SHA384;
	case CKM_SHA512:
		return HASH_SHA512;
	default:
		return HASH_NONE;
	}
}

hash_alg mech_mgf_hash(CK_RSA_PKCS_MGF_TYPE mgf)
{
	switch (mgf) {
	case CKG_MGF1_SHA1:
		return HASH_SHA1;
	case CKG_MGF1_SHA224:
		return HASH_SHA224;
	case CKG_MGF1_SHA256:
		return HASH_SHA256;
	case CKG_MGF1_SHA384:
		return HASH_SHA384;
	case CKG_MGF1_SHA512:
		return HASH_SHA512;
	default:
		return HASH_NONE;
	}
}

uint32_t mech_algo_bit(const char *oid)
{
	const sigalg_info *s = sigalg_by_oid(oid);
	return s == NULL ? 0 : BIT(s->id);
}

/* PSS: CK_RSA_PKCS_PSS_PARAMS → pss_params, checked against the mechanism
 * and the key (sLen ≤ emLen - hLen - 2, RFC 8017 §9.1.1). */
static CK_RV check_pss(const mech_row *row, const CK_MECHANISM *m, const mech_key *key,
		       pss_params *out)
{
	CK_RSA_PKCS_PSS_PARAMS p;
	const hash_info *h;
	size_t em_len;

	if (m->pParameter == NULL || m->ulParameterLen != sizeof(p))
		return CKR_MECHANISM_PARAM_INVALID;
	memcpy(&p, m->pParameter, sizeof(p));
	out->hash = mech_hash_of(p.hashAlg);
	out->mgf_hash = mech_mgf_hash(p.mgf);
	if (out->hash == HASH_NONE || out->mgf_hash == HASH_NONE)
		return CKR_MECHANISM_PARAM_INVALID;
	if (row->hash != HASH_NONE && row->hash != out->hash)
		return CKR_MECHANISM_PARAM_INVALID;
	h = hash_by_id(out->hash);
	if (h == NULL || key->bits < 2)
		return CKR_MECHANISM_PARAM_INVALID;
	em_len = (key->bits - 1 + 7) / 8;
	if (em_len < h->len + 2 || p.sLen > em_len - h->len - 2)
		return CKR_MECHANISM_PARAM_INVALID;
	out->salt_len = (int)p.sLen;
	return CKR_OK;
}

CK_RV mech_check(const CK_MECHANISM *m, const mech_key *key, CK_FLAGS need,
		 const mech_row **row_out, mech_params *params)
{
	const mech_row *row;

	if (m == NULL || key == NULL || row_out == NULL || params == NULL)
		return CKR_ARGUMENTS_BAD;
	row = mech_lookup(m->mechanism);
	if (row == NULL || (row->flags & need) != need || row->sig == MECH_SIG_NONE)
		return CKR_MECHANISM_INVALID;
	if (row->key != key->kind)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (key->bits < row->min_bits || key->bits > row->max_bits)
		return CKR_KEY_SIZE_RANGE;
	if (key->kind == KEY_EC && (key->field_len == 0 || key->field_len > 66))
		return CKR_KEY_SIZE_RANGE;
	memset(params, 0, sizeof(*params));
	if (row->sig == MECH_SIG_PSS) {
		CK_RV rv = check_pss(row, m, key, &params->pss);
		if (rv != CKR_OK)
			return rv;
	}
	*row_out = row;
	return CKR_OK;
}

bool mech_allowed(const mech_row *row, const mech_key *key)
{
	uint32_t rsa;

	if (row == NULL || key == NULL || row->sig == MECH_SIG_NONE || row->key != key->kind)
		return false;
	if (row->key != KEY_RSA)
		return true;
	/* A service that lists RSA algorithms says which paddings it signs;
	 * one that lists none is assumed to sign both. The hash is the
	 * service's policy and is not filtered here. */
	rsa = key->algos & RSA_ALL_BITS;
	if (rsa == 0)
		return true;
	if (row->sig == MECH_SIG_PSS)
		return (rsa & BIT(SIG_RSA_PSS)) != 0;
	return (rsa & RSA_PKCS1_BITS) != 0;
}

size_t mech_allowed_list(const mech_key *key, CK_MECHANISM_TYPE *out, size_t cap)
{
	size_t i, n = 0;
	for (i = 0; i < N_MECHS && n < cap; i++) {
		if (mech_allowed(&MECHS[i], key))
			out[n++] = MECHS[i].type;
	}
	return n;
}

size_t mech_sig_len(const mech_row *row, const mech_key *key)
{
	if (row->sig == MECH_SIG_ECDSA)
		return 2 * key->field_len;
	return (key->bits + 7) / 8;
}

static CK_RV set_digest(mech_request *out, hash_alg hash, const uint8_t *d, size_t len)
{
	const hash_info *h = hash_by_id(hash);
	if (h == NULL)
		return CKR_MECHANISM_INVALID;
	if (len != h->len || len > sizeof(out->digest))
		return CKR_DATA_LEN_RANGE;
	out->hash = hash;
	memcpy(out->digest, d, len);
	out->digest_len = len;
	return CKR_OK;
}

/* PKCS#1 v1.5: rsaEncryption + hashAlgorithmOID when the service lists it,
 * else sha*WithRSAEncryption of the hash. The input is the local hash, or
 * for CKM_RSA_PKCS the application's DigestInfo. */
static CK_RV prep_pkcs1(const mech_row *row, const mech_params *params, const mech_key *key,
			const uint8_t *in, size_t len, mech_request *out)
{
	const sigalg_info *s = NULL;
	hash_alg hash = row->hash;
	const uint8_t *d = in;
	size_t dlen = len;
	CK_RV rv;

	(void)params;
	if (hash == HASH_NONE && digestinfo_parse(in, len, &hash, &d, &dlen) != 0)
		return CKR_DATA_INVALID;
	rv = set_digest(out, hash, d, dlen);
	if (rv != CKR_OK)
		return rv;
	if ((key->algos & BIT(SIG_RSA_RAW)) == 0)
		s = sigalg_rsa_for_hash(hash);
	if (s == NULL)
		s = sigalg_by_id(SIG_RSA_RAW);
	if (s == NULL)
		return CKR_GENERAL_ERROR;
	out->sign_algo = s->oid;
	return CKR_OK;
}

/* RSASSA-PSS: the digest and signAlgoParams from the checked parameters. */
static CK_RV prep_pss(const mech_row *row, const mech_params *params, const mech_key *key,
		      const uint8_t *in, size_t len, mech_request *out)
{
	const sigalg_info *s = sigalg_by_id(SIG_RSA_PSS);
	CK_RV rv;

	(void)row;
	(void)key;
	if (s == NULL)
		return CKR_GENERAL_ERROR;
	rv = set_digest(out, params->pss.hash, in, len);
	if (rv != CKR_OK)
		return rv;
	if (pss_params_encode(&params->pss, &out->params, &out->params_len) != 0)
		return CKR_HOST_MEMORY;
	out->sign_algo = s->oid;
	return CKR_OK;
}

/* ECDSA: the digest length implies the hash for CKM_ECDSA; the signAlgo is
 * ecdsa-with-<hash>, or ecPublicKey + hashAlgorithmOID when the service lists
 * only that form. */
static CK_RV prep_ecdsa(const mech_row *row, const mech_params *params, const mech_key *key,
			const uint8_t *in, size_t len, mech_request *out)
{
	const sigalg_info *s;
	hash_alg hash = row->hash;
	CK_RV rv;

	(void)params;
	if (hash == HASH_NONE) {
		const hash_info *h = hash_by_len(len);
		if (h == NULL)
			return CKR_DATA_LEN_RANGE;
		hash = h->id;
	}
	rv = set_digest(out, hash, in, len);
	if (rv != CKR_OK)
		return rv;
	s = sigalg_ecdsa_for_hash(hash);
	if (s == NULL || ((key->algos & BIT(s->id)) == 0 && (key->algos & BIT(SIG_EC_PUBKEY)) != 0))
		s = sigalg_by_id(SIG_EC_PUBKEY);
	if (s == NULL)
		return CKR_GENERAL_ERROR;
	out->sign_algo = s->oid;
	return CKR_OK;
}

CK_RV mech_prepare(const mech_row *row, const mech_params *params, const mech_key *key,
		   const uint8_t *in, size_t len, mech_request *out)
{
	CK_RV rv;

	if (row == NULL || row->prepare == NULL || params == NULL || key == NULL || out == NULL ||
	    (in == NULL && len > 0))
		return CKR_ARGUMENTS_BAD;
	memset(out, 0, sizeof(*out));
	rv = row->prepare(row, params, key, in, len, out);
	if (rv != CKR_OK)
		mech_request_clear(out);
	return rv;
}

void mech_request_clear(mech_request *r)
{
	if (r == NULL)
		return;
	free(r->params);
	memset(r, 0, sizeof(*r));
}

CK_RV mech_finish(const mech_row *row, const mech_key *key, const uint8_t *sig, size_t sig_len,
		  uint8_t *out, size_t *out_len)
{
	size_t n = mech_sig_len(row, key);

	if (n == 0 || sig == NULL)
		return CKR_DEVICE_ERROR;
	if (row->sig == MECH_SIG_ECDSA) {
		/* DER Ecdsa-Sig-Value as CSC specifies; a service that answers
		 * r||s already is accepted as well. */
		if (ecdsa_der_to_raw(sig, sig_len, key->field_len, out) != 0) {
			if (sig_len != n)
				return CKR_DEVICE_ERROR;
			memcpy(out, sig, n);
		}
	} else {
		if (sig_len == 0 || sig_len > n)
			return CKR_DEVICE_ERROR;
		memset(out, 0, n - sig_len);
		memcpy(out + (n - sig_len), sig, sig_len);
	}
	*out_len = n;
	return CKR_OK;
}
