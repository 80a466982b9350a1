/* SPDX-License-Identifier: Apache-2.0 */
/* RSASSA-PSS-params (RFC 4055) DER encode/decode, for CSC signAlgoParams. */
#include "pss.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#define PSS_DEFAULT_HASH HASH_SHA1
#define PSS_DEFAULT_SALT 20
#define PSS_MAX_SALT 1024
/* Far larger than any valid encoding (about 70 bytes). */
#define PSS_MAX_DER 512

/* ---- encode ---- */

/* AlgorithmIdentifier { hash OID, NULL } (RFC 4055 §2.1). */
static X509_ALGOR *pss_hash_algor(const hash_info *h)
{
	X509_ALGOR *a = X509_ALGOR_new();
	ASN1_OBJECT *obj = OBJ_txt2obj(h->oid, 1);

	if (a == NULL || obj == NULL || X509_ALGOR_set0(a, obj, V_ASN1_NULL, NULL) != 1) {
		ASN1_OBJECT_free(obj);
		X509_ALGOR_free(a);
		return NULL;
	}
	return a;
}

/* AlgorithmIdentifier { id-mgf1, AlgorithmIdentifier { hash, NULL } }. */
static X509_ALGOR *pss_mgf1_algor(const hash_info *h)
{
	X509_ALGOR *a = NULL, *inner = pss_hash_algor(h);
	ASN1_STRING *seq = NULL;

	if (inner == NULL)
		return NULL;
	if (ASN1_item_pack(inner, ASN1_ITEM_rptr(X509_ALGOR), &seq) == NULL)
		goto fail;
	a = X509_ALGOR_new();
	if (a == NULL || X509_ALGOR_set0(a, OBJ_nid2obj(NID_mgf1), V_ASN1_SEQUENCE, seq) != 1)
		goto fail;
	X509_ALGOR_free(inner);
	return a;
fail:
	ASN1_STRING_free(seq);
	X509_ALGOR_free(inner);
	X509_ALGOR_free(a);
	return NULL;
}

int pss_params_encode(const pss_params *p, uint8_t **der, size_t *derlen)
{
	const hash_info *h, *mh;
	RSA_PSS_PARAMS *pss = NULL;
	unsigned char *buf = NULL, *q;
	int len, rc = -1;

	if (der == NULL || derlen == NULL)
		return -1;
	*der = NULL;
	*derlen = 0;
	if (p == NULL || p->salt_len < 0 || p->salt_len > PSS_MAX_SALT)
		return -1;
	h = hash_by_id(p->hash);
	mh = hash_by_id(p->mgf_hash);
	if (h == NULL || mh == NULL)
		return -1;
	pss = RSA_PSS_PARAMS_new();
	if (pss == NULL)
		goto out;
	/* DER: components equal to their DEFAULT are omitted. */
	if (h->id != PSS_DEFAULT_HASH && (pss->hashAlgorithm = pss_hash_algor(h)) == NULL)
		goto out;
	if (mh->id != PSS_DEFAULT_HASH && (pss->maskGenAlgorithm = pss_mgf1_algor(mh)) == NULL)
		goto out;
	if (p->salt_len != PSS_DEFAULT_SALT) {
		pss->saltLength = ASN1_INTEGER_new();
		if (pss->saltLength == NULL || ASN1_INTEGER_set(pss->saltLength, p->salt_len) != 1)
			goto out;
	}
	len = i2d_RSA_PSS_PARAMS(pss, NULL);
	if (len <= 0)
		goto out;
	buf = malloc((size_t)len);
	if (buf == NULL)
		goto out;
	q = buf;
	if (i2d_RSA_PSS_PARAMS(pss, &q) != len)
		goto out;
	*der = buf;
	*derlen = (size_t)len;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	RSA_PSS_PARAMS_free(pss);
	return rc;
}

/* ---- decode ---- */

/* The hash of an AlgorithmIdentifier with NULL or absent parameters. */
static const hash_info *pss_algor_hash(const X509_ALGOR *a)
{
	const ASN1_OBJECT *obj = NULL;
	const void *pval = NULL;
	int ptype = V_ASN1_UNDEF, n;
	char oid[80];

	X509_ALGOR_get0(&obj, &ptype, &pval, a);
	if (obj == NULL || (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF))
		return NULL;
	n = OBJ_obj2txt(oid, sizeof(oid), obj, 1);
	if (n <= 0 || (size_t)n >= sizeof(oid))
		return NULL;
	return hash_by_oid(oid);
}

/* The hash inside MGF1 parameters. */
static const hash_info *pss_mgf1_hash(const X509_ALGOR *mgf)
{
	const ASN1_OBJECT *obj = NULL;
	const void *pval = NULL;
	const ASN1_STRING *seq;
	const unsigned char *p;
	unsigned char *re = NULL;
	X509_ALGOR *inner = NULL;
	const hash_info *h = NULL;
	int ptype = V_ASN1_UNDEF, relen;

	X509_ALGOR_get0(&obj, &ptype, &pval, mgf);
	if (obj == NULL || OBJ_obj2nid(obj) != NID_mgf1 || ptype != V_ASN1_SEQUENCE || pval == NULL)
		return NULL;
	seq = pval;
	p = ASN1_STRING_get0_data(seq);
	if (p == NULL || ASN1_STRING_length(seq) <= 0)
		return NULL;
	inner = d2i_X509_ALGOR(NULL, &p, ASN1_STRING_length(seq));
	if (inner == NULL || p != ASN1_STRING_get0_data(seq) + ASN1_STRING_length(seq))
		goto out;
	relen = i2d_X509_ALGOR(inner, &re);
	if (relen != ASN1_STRING_length(seq) ||
	    memcmp(re, ASN1_STRING_get0_data(seq), (size_t)relen) != 0)
		goto out;
	h = pss_algor_hash(inner);
out:
	OPENSSL_free(re);
	X509_ALGOR_free(inner);
	return h;
}

int pss_params_decode(const uint8_t *der, size_t derlen, pss_params *out)
{
	const unsigned char *p = der;
	RSA_PSS_PARAMS *pss = NULL;
	unsigned char *re = NULL;
	const hash_info *h;
	pss_params v = {PSS_DEFAULT_HASH, PSS_DEFAULT_HASH, PSS_DEFAULT_SALT};
	int64_t i64;
	int relen, rc = -1;

	if (der == NULL || out == NULL || derlen == 0 || derlen > PSS_MAX_DER)
		return -1;
	pss = d2i_RSA_PSS_PARAMS(NULL, &p, (long)derlen);
	if (pss == NULL || p != der + derlen)
		goto out;
	/* Refuse BER forms (long lengths, indefinite lengths...): the parsed
	 * structure must re-encode to the same bytes. Explicitly encoded
	 * default values are tolerated, as some encoders emit them. */
	relen = i2d_RSA_PSS_PARAMS(pss, &re);
	if (relen <= 0 || (size_t)relen != derlen || memcmp(re, der, derlen) != 0)
		goto out;
	if (pss->hashAlgorithm != NULL) {
		if ((h = pss_algor_hash(pss->hashAlgorithm)) == NULL)
			goto out;
		v.hash = h->id;
	}
	if (pss->maskGenAlgorithm != NULL) {
		if ((h = pss_mgf1_hash(pss->maskGenAlgorithm)) == NULL)
			goto out;
		v.mgf_hash = h->id;
	}
	if (pss->saltLength != NULL) {
		if (ASN1_INTEGER_get_int64(&i64, pss->saltLength) != 1 || i64 < 0 ||
		    i64 > PSS_MAX_SALT)
			goto out;
		v.salt_len = (int)i64;
	}
	if (pss->trailerField != NULL) {
		if (ASN1_INTEGER_get_int64(&i64, pss->trailerField) != 1 || i64 != 1)
			goto out;
	}
	*out = v;
	rc = 0;
out:
	OPENSSL_free(re);
	RSA_PSS_PARAMS_free(pss);
	return rc;
}
