/* SPDX-License-Identifier: Apache-2.0 */
/* Attribute answers: object attribute lists from certificates, and the
 * C_GetAttributeValue / C_FindObjects semantics over them. */
#include "attrs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#define CERT_MAX_DER (64 * 1024)
#define LABEL_MAX 256
#define ATTRS_MAX 256 /* far above the ~40 attributes of an object */

void attr_list_init(attr_list *l)
{
	memset(l, 0, sizeof(*l));
}

void attr_list_uninit(attr_list *l)
{
	size_t i;
	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->a[i].value);
	free(l->a);
	memset(l, 0, sizeof(*l));
}

static attr *attr_slot(attr_list *l, CK_ATTRIBUTE_TYPE type)
{
	attr *a;

	if (l->failed)
		return NULL;
	if (attr_find(l, type) != NULL) {
		l->failed = true; /* a builder bug: each type once */
		return NULL;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap == 0 ? 32 : l->cap * 2;
		attr *grown;
		if (cap > ATTRS_MAX) {
			l->failed = true;
			return NULL;
		}
		grown = realloc(l->a, cap * sizeof(*grown));
		if (grown == NULL) {
			l->failed = true;
			return NULL;
		}
		l->a = grown;
		l->cap = cap;
	}
	a = &l->a[l->n];
	memset(a, 0, sizeof(*a));
	a->type = type;
	return a;
}

void attr_add(attr_list *l, CK_ATTRIBUTE_TYPE type, const void *value, size_t len)
{
	attr *a = attr_slot(l, type);

	if (a == NULL)
		return;
	if (len > 0) {
		if (value == NULL || (a->value = malloc(len)) == NULL) {
			l->failed = true;
			return;
		}
		memcpy(a->value, value, len);
	}
	a->len = len;
	l->n++;
}

void attr_add_bool(attr_list *l, CK_ATTRIBUTE_TYPE type, bool v)
{
	CK_BBOOL b = v ? CK_TRUE : CK_FALSE;
	attr_add(l, type, &b, sizeof(b));
}

void attr_add_ulong(attr_list *l, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
	attr_add(l, type, &v, sizeof(v));
}

void attr_add_sensitive(attr_list *l, CK_ATTRIBUTE_TYPE type)
{
	attr *a = attr_slot(l, type);
	if (a == NULL)
		return;
	a->sensitive = true;
	l->n++;
}

const attr *attr_find(const attr_list *l, CK_ATTRIBUTE_TYPE type)
{
	size_t i;
	for (i = 0; i < l->n; i++) {
		if (l->a[i].type == type)
			return &l->a[i];
	}
	return NULL;
}

CK_RV attrs_get(const attr_list *l, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count)
{
	CK_RV rv = CKR_OK;
	CK_ULONG i;

	if (tmpl == NULL && count > 0)
		return CKR_ARGUMENTS_BAD;
	for (i = 0; i < count; i++) {
		const attr *a = attr_find(l, tmpl[i].type);
		if (a == NULL) {
			tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_ATTRIBUTE_TYPE_INVALID;
		} else if (a->sensitive) {
			tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_ATTRIBUTE_SENSITIVE;
		} else if (tmpl[i].pValue == NULL) {
			tmpl[i].ulValueLen = a->len;
		} else if (tmpl[i].ulValueLen >= a->len) {
			if (a->len > 0)
				memcpy(tmpl[i].pValue, a->value, a->len);
			tmpl[i].ulValueLen = a->len;
		} else {
			tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_BUFFER_TOO_SMALL;
		}
	}
	return rv;
}

bool attrs_match(const attr_list *l, const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	CK_ULONG i;

	for (i = 0; i < count; i++) {
		const attr *a = attr_find(l, tmpl[i].type);
		if (a == NULL || a->sensitive || a->len != tmpl[i].ulValueLen)
			return false;
		if (a->len > 0 &&
		    (tmpl[i].pValue == NULL || memcmp(a->value, tmpl[i].pValue, a->len) != 0))
			return false;
	}
	return true;
}

/* ---- certificate parsing ---- */

/* Move an OpenSSL-allocated DER buffer into malloc'd memory. */
static uint8_t *take_der(unsigned char *ossl, int len, size_t *out_len)
{
	uint8_t *p = NULL;

	if (ossl != NULL && len > 0 && (p = malloc((size_t)len)) != NULL) {
		memcpy(p, ossl, (size_t)len);
		*out_len = (size_t)len;
	}
	OPENSSL_free(ossl);
	return p;
}

static uint8_t *bn_param(const EVP_PKEY *pk, const char *name, size_t *out_len)
{
	BIGNUM *bn = NULL;
	uint8_t *p = NULL;
	int n;

	if (EVP_PKEY_get_bn_param(pk, name, &bn) != 1)
		return NULL;
	n = BN_num_bytes(bn);
	if (n > 0 && (p = malloc((size_t)n)) != NULL) {
		BN_bn2bin(bn, p);
		*out_len = (size_t)n;
	}
	BN_free(bn);
	return p;
}

static void set_date(CK_DATE *d, const ASN1_TIME *t)
{
	struct tm tm;
	char buf[48];

	memset(d, 0, sizeof(*d));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 || tm.tm_year + 1900 > 9999 ||
	    tm.tm_year + 1900 < 0)
		return;
	snprintf(buf, sizeof(buf), "%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	memcpy(d->year, buf, 4);
	memcpy(d->month, buf + 4, 2);
	memcpy(d->day, buf + 6, 2);
}

static char *subject_cn(X509 *x, const char *fallback)
{
	const X509_NAME *name = X509_get_subject_name(x);
	int idx = name == NULL ? -1 : X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	unsigned char *utf8 = NULL;
	char *label = NULL;
	int n = -1;

	if (idx >= 0)
		n = ASN1_STRING_to_UTF8(&utf8,
					X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
	if (n > 0 && n <= LABEL_MAX && memchr(utf8, '\0', (size_t)n) == NULL)
		label = strndup((const char *)utf8, (size_t)n);
	else
		label = strdup(fallback != NULL ? fallback : "");
	OPENSSL_free(utf8);
	return label;
}

static CK_RV parse_rsa(attrs_cert *c, const EVP_PKEY *pk)
{
	int bits = EVP_PKEY_get_bits(pk);

	c->modulus = bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &c->modulus_len);
	c->exponent = bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &c->exponent_len);
	if (c->modulus == NULL || c->exponent == NULL || bits <= 0)
		return CKR_GENERAL_ERROR;
	c->kind = KEY_RSA;
	c->bits = (unsigned)bits;
	return CKR_OK;
}

static CK_RV parse_ec(attrs_cert *c, X509 *x, const EVP_PKEY *pk)
{
	const ASN1_BIT_STRING *point = X509_get0_pubkey_bitstr(x);
	const curve_info *curve;
	ASN1_OCTET_STRING *os = NULL;
	unsigned char *der = NULL;
	char group[64];
	size_t glen = 0;
	int n;

	if (EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) != 1)
		return CKR_GENERAL_ERROR;
	c->curve_nid = OBJ_txt2nid(group);
	curve = curve_by_nid(c->curve_nid);
	if (curve == NULL || point == NULL || point->length <= 0)
		return CKR_GENERAL_ERROR;
	c->kind = KEY_EC;
	c->bits = curve->bits;
	c->field_len = curve->field_len;

	n = i2d_ASN1_OBJECT(OBJ_nid2obj(c->curve_nid), &der);
	c->ec_params = take_der(der, n, &c->ec_params_len);
	if (c->ec_params == NULL)
		return CKR_HOST_MEMORY;

	/* CKA_EC_POINT: DER OCTET STRING around the point as the certificate
	 * carries it (X9.62 uncompressed in practice). */
	os = ASN1_OCTET_STRING_new();
	if (os == NULL || ASN1_OCTET_STRING_set(os, point->data, point->length) != 1) {
		ASN1_OCTET_STRING_free(os);
		return CKR_HOST_MEMORY;
	}
	der = NULL;
	n = i2d_ASN1_OCTET_STRING(os, &der);
	ASN1_OCTET_STRING_free(os);
	c->ec_point = take_der(der, n, &c->ec_point_len);
	return c->ec_point == NULL ? CKR_HOST_MEMORY : CKR_OK;
}

CK_RV attrs_cert_parse(attrs_cert *c, const uint8_t *der, size_t len, const char *label_fallback)
{
	const unsigned char *p = der;
	unsigned char *out = NULL;
	EVP_PKEY *pk;
	X509 *x = NULL;
	CK_RV rv = CKR_GENERAL_ERROR;
	int n;

	memset(c, 0, sizeof(*c));
	if (der == NULL || len == 0 || len > CERT_MAX_DER)
		return CKR_GENERAL_ERROR;
	x = d2i_X509(NULL, &p, (long)len);
	if (x == NULL || p != der + len)
		goto out;

	rv = CKR_HOST_MEMORY;
	c->der = malloc(len);
	if (c->der == NULL)
		goto out;
	memcpy(c->der, der, len);
	c->der_len = len;

	c->label = subject_cn(x, label_fallback);
	n = i2d_X509_NAME(X509_get_subject_name(x), &out);
	c->subject = take_der(out, n, &c->subject_len);
	out = NULL;
	n = i2d_X509_NAME(X509_get_issuer_name(x), &out);
	c->issuer = take_der(out, n, &c->issuer_len);
	out = NULL;
	n = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &out);
	c->serial = take_der(out, n, &c->serial_len);
	out = NULL;
	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &out);
	c->spki = take_der(out, n, &c->spki_len);
	if (c->label == NULL || c->subject == NULL || c->issuer == NULL || c->serial == NULL ||
	    c->spki == NULL)
		goto out;
	SHA1(c->spki, c->spki_len, c->id);
	set_date(&c->start, X509_get0_notBefore(x));
	set_date(&c->end, X509_get0_notAfter(x));

	rv = CKR_GENERAL_ERROR;
	pk = X509_get0_pubkey(x);
	if (pk == NULL)
		goto out;
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		rv = parse_rsa(c, pk);
		break;
	case EVP_PKEY_EC:
		rv = parse_ec(c, x, pk);
		break;
	default:
		rv = CKR_GENERAL_ERROR;
		break;
	}
out:
	X509_free(x);
	if (rv != CKR_OK)
		attrs_cert_free(c);
	return rv;
}

void attrs_cert_free(attrs_cert *c)
{
	if (c == NULL)
		return;
	free(c->der);
	free(c->label);
	free(c->subject);
	free(c->issuer);
	free(c->serial);
	free(c->spki);
	free(c->modulus);
	free(c->exponent);
	free(c->ec_params);
	free(c->ec_point);
	memset(c, 0, sizeof(*c));
}

/* ---- attribute lists ---- */

static bool date_set(const CK_DATE *d)
{
	return d->year[0] != 0;
}

static void add_date(attr_list *l, CK_ATTRIBUTE_TYPE type, const CK_DATE *d)
{
	attr_add(l, type, d, date_set(d) ? sizeof(*d) : 0);
}

/* Storage attributes every object has. */
static void add_storage(attr_list *l, CK_OBJECT_CLASS cls, bool is_private, const char *label)
{
	attr_add_ulong(l, CKA_CLASS, cls);
	attr_add_bool(l, CKA_TOKEN, true);
	attr_add_bool(l, CKA_PRIVATE, is_private);
	attr_add_bool(l, CKA_MODIFIABLE, false);
	attr_add_bool(l, CKA_COPYABLE, false);
	attr_add_bool(l, CKA_DESTROYABLE, false);
	attr_add(l, CKA_LABEL, label, strlen(label));
}

void attrs_build_cert(attr_list *l, const attrs_cert *c, CK_ULONG category)
{
	uint8_t sha1[SHA_DIGEST_LENGTH];

	add_storage(l, CKO_CERTIFICATE, false, c->label);
	attr_add_ulong(l, CKA_CERTIFICATE_TYPE, CKC_X_509);
	attr_add_bool(l, CKA_TRUSTED, false);
	attr_add_ulong(l, CKA_CERTIFICATE_CATEGORY, category);
	SHA1(c->der, c->der_len, sha1);
	attr_add(l, CKA_CHECK_VALUE, sha1, 3);
	add_date(l, CKA_START_DATE, &c->start);
	add_date(l, CKA_END_DATE, &c->end);
	attr_add(l, CKA_PUBLIC_KEY_INFO, c->spki, c->spki_len);
	attr_add(l, CKA_SUBJECT, c->subject, c->subject_len);
	attr_add(l, CKA_ID, c->id, sizeof(c->id));
	attr_add(l, CKA_ISSUER, c->issuer, c->issuer_len);
	attr_add(l, CKA_SERIAL_NUMBER, c->serial, c->serial_len);
	attr_add(l, CKA_VALUE, c->der, c->der_len);
	attr_add(l, CKA_URL, NULL, 0);
	attr_add(l, CKA_HASH_OF_SUBJECT_PUBLIC_KEY, NULL, 0);
	attr_add(l, CKA_HASH_OF_ISSUER_PUBLIC_KEY, NULL, 0);
	attr_add_ulong(l, CKA_JAVA_MIDP_SECURITY_DOMAIN, 0);
}

/* Attributes common to both keys. */
static void add_key(attr_list *l, const attrs_cert *c, const CK_MECHANISM_TYPE *allowed,
		    size_t n_allowed)
{
	attr_add_ulong(l, CKA_KEY_TYPE, c->kind == KEY_RSA ? CKK_RSA : CKK_EC);
	attr_add(l, CKA_ID, c->id, sizeof(c->id));
	add_date(l, CKA_START_DATE, &c->start);
	add_date(l, CKA_END_DATE, &c->end);
	attr_add_bool(l, CKA_DERIVE, false);
	attr_add_bool(l, CKA_LOCAL, false);
	attr_add_ulong(l, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION);
	attr_add(l, CKA_ALLOWED_MECHANISMS, allowed, n_allowed * sizeof(*allowed));
	attr_add(l, CKA_SUBJECT, c->subject, c->subject_len);
	attr_add(l, CKA_PUBLIC_KEY_INFO, c->spki, c->spki_len);
}

void attrs_build_public(attr_list *l, const attrs_cert *c, const CK_MECHANISM_TYPE *allowed,
			size_t n_allowed)
{
	add_storage(l, CKO_PUBLIC_KEY, false, c->label);
	add_key(l, c, allowed, n_allowed);
	attr_add_bool(l, CKA_ENCRYPT, false);
	attr_add_bool(l, CKA_VERIFY, true);
	attr_add_bool(l, CKA_VERIFY_RECOVER, false);
	attr_add_bool(l, CKA_WRAP, false);
	attr_add_bool(l, CKA_TRUSTED, false);
	if (c->kind == KEY_RSA) {
		attr_add(l, CKA_MODULUS, c->modulus, c->modulus_len);
		attr_add_ulong(l, CKA_MODULUS_BITS, c->bits);
		attr_add(l, CKA_PUBLIC_EXPONENT, c->exponent, c->exponent_len);
	} else {
		attr_add(l, CKA_EC_PARAMS, c->ec_params, c->ec_params_len);
		attr_add(l, CKA_EC_POINT, c->ec_point, c->ec_point_len);
	}
}

void attrs_build_private(attr_list *l, const attrs_cert *c, const attrs_key_flags *f,
			 const CK_MECHANISM_TYPE *allowed, size_t n_allowed)
{
	add_storage(l, CKO_PRIVATE_KEY, f->is_private, c->label);
	add_key(l, c, allowed, n_allowed);
	attr_add_bool(l, CKA_SENSITIVE, true);
	attr_add_bool(l, CKA_DECRYPT, false);
	attr_add_bool(l, CKA_SIGN, f->can_sign);
	attr_add_bool(l, CKA_SIGN_RECOVER, false);
	attr_add_bool(l, CKA_UNWRAP, false);
	attr_add_bool(l, CKA_EXTRACTABLE, false);
	attr_add_bool(l, CKA_ALWAYS_SENSITIVE, true);
	attr_add_bool(l, CKA_NEVER_EXTRACTABLE, true);
	attr_add_bool(l, CKA_WRAP_WITH_TRUSTED, false);
	attr_add_bool(l, CKA_ALWAYS_AUTHENTICATE, f->always_auth);
	if (c->kind == KEY_RSA) {
		attr_add(l, CKA_MODULUS, c->modulus, c->modulus_len);
		attr_add(l, CKA_PUBLIC_EXPONENT, c->exponent, c->exponent_len);
		attr_add_sensitive(l, CKA_PRIVATE_EXPONENT);
		attr_add_sensitive(l, CKA_PRIME_1);
		attr_add_sensitive(l, CKA_PRIME_2);
		attr_add_sensitive(l, CKA_EXPONENT_1);
		attr_add_sensitive(l, CKA_EXPONENT_2);
		attr_add_sensitive(l, CKA_COEFFICIENT);
	} else {
		attr_add(l, CKA_EC_PARAMS, c->ec_params, c->ec_params_len);
		attr_add_sensitive(l, CKA_VALUE);
	}
}
