/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for module/attrs.c: certificates parsed into the attributes of
 * the token's objects, and the C_GetAttributeValue and search-template
 * semantics. Real certificates are made with OpenSSL. The module exports
 * only C_*, so the source under test is compiled into this test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "../../module/attrs.c"

/* A self-signed certificate for a fresh key; DER in *der (malloc'd). */
static EVP_PKEY *make_cert(const char *type, const char *param, const char *cn, uint8_t **der,
			   size_t *len)
{
	EVP_PKEY *pk;
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	unsigned char *out = NULL;
	int n;

	if (strcmp(type, "RSA") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", param);
	assert_non_null(pk);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set_int64(X509_get_serialNumber(x), 0x0123456789LL), 1);
	assert_non_null(ASN1_TIME_set_string(X509_getm_notBefore(x), "20250102030405Z"));
	assert_non_null(ASN1_TIME_set_string(X509_getm_notAfter(x), "20351231235959Z"));
	if (cn != NULL)
		assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
							    (const unsigned char *)cn, -1, -1, 0),
				 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
						    (const unsigned char *)"CISRES Test", -1, -1,
						    0),
			 1);
	assert_int_equal(X509_set_subject_name(x, name), 1);
	assert_int_equal(X509_set_issuer_name(x, name), 1);
	assert_int_equal(X509_set_pubkey(x, pk), 1);
	assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
	n = i2d_X509(x, &out);
	assert_true(n > 0);
	*der = malloc((size_t)n);
	assert_non_null(*der);
	memcpy(*der, out, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(out);
	X509_NAME_free(name);
	X509_free(x);
	return pk;
}

static void get(const attr_list *l, CK_ATTRIBUTE_TYPE t, void *buf, CK_ULONG *len)
{
	CK_ATTRIBUTE a = {t, buf, *len};
	assert_int_equal(attrs_get(l, &a, 1), CKR_OK);
	*len = a.ulValueLen;
}

static CK_ULONG get_ulong(const attr_list *l, CK_ATTRIBUTE_TYPE t)
{
	CK_ULONG v = 0, len = sizeof(v);
	get(l, t, &v, &len);
	assert_int_equal(len, sizeof(v));
	return v;
}

static CK_BBOOL get_bool(const attr_list *l, CK_ATTRIBUTE_TYPE t)
{
	CK_BBOOL v = 0x55;
	CK_ULONG len = sizeof(v);
	get(l, t, &v, &len);
	assert_int_equal(len, 1);
	return v;
}

static void test_parse_rsa(void **state)
{
	uint8_t *der, *spki = NULL, id[20];
	size_t len;
	attrs_cert c;
	EVP_PKEY *pk = make_cert("RSA", NULL, "Jürgen Signer", &der, &len);
	BIGNUM *n = NULL;
	uint8_t nbuf[512];
	int spki_len;
	(void)state;

	assert_int_equal(attrs_cert_parse(&c, der, len, "fallback"), CKR_OK);
	assert_string_equal(c.label, "Jürgen Signer");
	assert_int_equal(c.kind, KEY_RSA);
	assert_int_equal(c.bits, 2048);
	/* CKA_ID: SHA-1 over the DER SubjectPublicKeyInfo. */
	spki_len = i2d_PUBKEY(pk, &spki);
	assert_true(spki_len > 0);
	SHA1(spki, (size_t)spki_len, id);
	assert_memory_equal(c.id, id, 20);
	assert_int_equal(c.spki_len, (size_t)spki_len);
	assert_memory_equal(c.spki, spki, c.spki_len);
	/* Serial number: a DER INTEGER. */
	{
		static const uint8_t want[] = {0x02, 0x05, 0x01, 0x23, 0x45, 0x67, 0x89};
		assert_int_equal(c.serial_len, sizeof(want));
		assert_memory_equal(c.serial, want, sizeof(want));
	}
	assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n), 1);
	assert_int_equal(c.modulus_len, (size_t)BN_num_bytes(n));
	BN_bn2bin(n, nbuf);
	assert_memory_equal(c.modulus, nbuf, c.modulus_len);
	assert_int_equal(c.exponent_len, 3);
	assert_memory_equal(c.exponent, "\x01\x00\x01", 3);
	assert_memory_equal(c.start.year, "2025", 4);
	assert_memory_equal(c.start.month, "01", 2);
	assert_memory_equal(c.start.day, "02", 2);
	assert_memory_equal(&c.end, "20351231", 8);
	attrs_cert_free(&c);
	BN_free(n);
	OPENSSL_free(spki);
	EVP_PKEY_free(pk);
	free(der);
}

static void test_parse_ec_and_errors(void **state)
{
	static const uint8_t p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
					   0xce, 0x3d, 0x03, 0x01, 0x07};
	static const uint8_t p384_oid[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
	uint8_t *der, pub[200];
	size_t len, publen = 0;
	attrs_cert c;
	EVP_PKEY *pk = make_cert("EC", "P-256", NULL, &der, &len);
	(void)state;

	assert_int_equal(attrs_cert_parse(&c, der, len, "cred-42"), CKR_OK);
	assert_string_equal(c.label, "cred-42"); /* no CN */
	assert_int_equal(c.kind, KEY_EC);
	assert_int_equal(c.bits, 256);
	assert_int_equal(c.field_len, 32);
	assert_int_equal(c.ec_params_len, sizeof(p256_oid));
	assert_memory_equal(c.ec_params, p256_oid, sizeof(p256_oid));
	/* CKA_EC_POINT: DER OCTET STRING around the uncompressed point. */
	assert_int_equal(EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
							 pub, sizeof(pub), &publen),
			 1);
	assert_int_equal(publen, 65);
	assert_int_equal(c.ec_point_len, 67);
	assert_int_equal(c.ec_point[0], 0x04);
	assert_int_equal(c.ec_point[1], 65);
	assert_memory_equal(c.ec_point + 2, pub, 65);
	attrs_cert_free(&c);

	/* Garbage, truncation, trailing bytes. */
	assert_int_equal(attrs_cert_parse(&c, der, len - 1, "x"), CKR_GENERAL_ERROR);
	{
		uint8_t *longer = malloc(len + 1);
		assert_non_null(longer);
		memcpy(longer, der, len);
		longer[len] = 0;
		assert_int_equal(attrs_cert_parse(&c, longer, len + 1, "x"), CKR_GENERAL_ERROR);
		free(longer);
	}
	assert_int_equal(attrs_cert_parse(&c, (const uint8_t *)"\x30\x03\x02\x01\x01", 5, "x"),
			 CKR_GENERAL_ERROR);
	assert_int_equal(attrs_cert_parse(&c, NULL, 0, "x"), CKR_GENERAL_ERROR);
	EVP_PKEY_free(pk);
	free(der);

	pk = make_cert("EC", "P-384", "P384", &der, &len);
	assert_int_equal(attrs_cert_parse(&c, der, len, "x"), CKR_OK);
	assert_int_equal(c.bits, 384);
	assert_int_equal(c.field_len, 48);
	assert_memory_equal(c.ec_params, p384_oid, sizeof(p384_oid));
	attrs_cert_free(&c);
	EVP_PKEY_free(pk);
	free(der);
}

static void test_certificate_object(void **state)
{
	uint8_t *der, buf[4096], sha1[20];
	size_t len;
	CK_ULONG n;
	attrs_cert c;
	attr_list l;
	EVP_PKEY *pk = make_cert("EC", "P-256", "Signer", &der, &len);
	(void)state;

	assert_int_equal(attrs_cert_parse(&c, der, len, "x"), CKR_OK);
	attr_list_init(&l);
	attrs_build_cert(&l, &c, 1);
	assert_false(l.failed);
	assert_int_equal(get_ulong(&l, CKA_CLASS), CKO_CERTIFICATE);
	assert_int_equal(get_ulong(&l, CKA_CERTIFICATE_TYPE), CKC_X_509);
	assert_int_equal(get_ulong(&l, CKA_CERTIFICATE_CATEGORY), 1);
	assert_int_equal(get_ulong(&l, CKA_JAVA_MIDP_SECURITY_DOMAIN), 0);
	assert_int_equal(get_bool(&l, CKA_TOKEN), CK_TRUE);
	assert_int_equal(get_bool(&l, CKA_PRIVATE), CK_FALSE);
	assert_int_equal(get_bool(&l, CKA_TRUSTED), CK_FALSE);
	assert_int_equal(get_bool(&l, CKA_MODIFIABLE), CK_FALSE);
	assert_int_equal(get_bool(&l, CKA_DESTROYABLE), CK_FALSE);
	n = sizeof(buf);
	get(&l, CKA_VALUE, buf, &n);
	assert_int_equal(n, len);
	assert_memory_equal(buf, der, len);
	n = sizeof(buf);
	get(&l, CKA_CHECK_VALUE, buf, &n);
	SHA1(der, len, sha1);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, sha1, 3);
	n = sizeof(buf);
	get(&l, CKA_LABEL, buf, &n);
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "Signer", 6);
	n = sizeof(buf);
	get(&l, CKA_ID, buf, &n);
	assert_int_equal(n, 20);
	assert_memory_equal(buf, c.id, 20);
	n = sizeof(buf);
	get(&l, CKA_URL, buf, &n);
	assert_int_equal(n, 0);
	n = sizeof(buf);
	get(&l, CKA_START_DATE, buf, &n);
	assert_int_equal(n, sizeof(CK_DATE));
	assert_memory_equal(buf, "20250102", 8);
	n = sizeof(buf);
	get(&l, CKA_ISSUER, buf, &n);
	assert_int_equal(n, c.issuer_len);
	attr_list_uninit(&l);

	attr_list_init(&l);
	attrs_build_cert(&l, &c, 2);
	assert_int_equal(get_ulong(&l, CKA_CERTIFICATE_CATEGORY), 2);
	attr_list_uninit(&l);
	attrs_cert_free(&c);
	EVP_PKEY_free(pk);
	free(der);
}

static void test_key_objects(void **state)
{
	const CK_MECHANISM_TYPE allowed[] = {CKM_ECDSA, CKM_ECDSA_SHA256};
	uint8_t *der, buf[512];
	size_t len;
	CK_ULONG n;
	attrs_cert c;
	attr_list pub, priv;
	attrs_key_flags f = {true, true, true};
	EVP_PKEY *pk = make_cert("EC", "P-256", "Signer", &der, &len);
	(void)state;

	assert_int_equal(attrs_cert_parse(&c, der, len, "x"), CKR_OK);
	attr_list_init(&pub);
	attr_list_init(&priv);
	attrs_build_public(&pub, &c, allowed, 2);
	attrs_build_private(&priv, &c, &f, allowed, 2);
	assert_false(pub.failed);
	assert_false(priv.failed);

	assert_int_equal(get_ulong(&pub, CKA_CLASS), CKO_PUBLIC_KEY);
	assert_int_equal(get_ulong(&pub, CKA_KEY_TYPE), CKK_EC);
	assert_int_equal(get_bool(&pub, CKA_VERIFY), CK_TRUE);
	assert_int_equal(get_bool(&pub, CKA_ENCRYPT), CK_FALSE);
	assert_int_equal(get_bool(&pub, CKA_WRAP), CK_FALSE);
	assert_int_equal(get_ulong(&pub, CKA_KEY_GEN_MECHANISM), CK_UNAVAILABLE_INFORMATION);
	n = sizeof(buf);
	get(&pub, CKA_EC_POINT, buf, &n);
	assert_int_equal(n, c.ec_point_len);
	n = sizeof(buf);
	get(&pub, CKA_ALLOWED_MECHANISMS, buf, &n);
	assert_int_equal(n, sizeof(allowed));
	assert_memory_equal(buf, allowed, sizeof(allowed));

	assert_int_equal(get_ulong(&priv, CKA_CLASS), CKO_PRIVATE_KEY);
	assert_int_equal(get_bool(&priv, CKA_SIGN), CK_TRUE);
	assert_int_equal(get_bool(&priv, CKA_PRIVATE), CK_TRUE);
	assert_int_equal(get_bool(&priv, CKA_SENSITIVE), CK_TRUE);
	assert_int_equal(get_bool(&priv, CKA_EXTRACTABLE), CK_FALSE);
	assert_int_equal(get_bool(&priv, CKA_ALWAYS_SENSITIVE), CK_TRUE);
	assert_int_equal(get_bool(&priv, CKA_NEVER_EXTRACTABLE), CK_TRUE);
	assert_int_equal(get_bool(&priv, CKA_DECRYPT), CK_FALSE);
	assert_int_equal(get_bool(&priv, CKA_UNWRAP), CK_FALSE);
	assert_int_equal(get_bool(&priv, CKA_DERIVE), CK_FALSE);
	assert_int_equal(get_bool(&priv, CKA_SIGN_RECOVER), CK_FALSE);
	assert_int_equal(get_bool(&priv, CKA_ALWAYS_AUTHENTICATE), CK_TRUE);
	assert_int_equal(get_bool(&priv, CKA_LOCAL), CK_FALSE);
	n = sizeof(buf);
	get(&priv, CKA_EC_PARAMS, buf, &n);
	assert_int_equal(n, c.ec_params_len);
	n = sizeof(buf);
	get(&priv, CKA_SUBJECT, buf, &n);
	assert_int_equal(n, c.subject_len);

	/* The flags reach the attributes. */
	attr_list_uninit(&priv);
	attr_list_init(&priv);
	f.is_private = false;
	f.always_auth = false;
	f.can_sign = false;
	attrs_build_private(&priv, &c, &f, allowed, 2);
	assert_int_equal(get_bool(&priv, CKA_PRIVATE), CK_FALSE);
	assert_int_equal(get_bool(&priv, CKA_ALWAYS_AUTHENTICATE), CK_FALSE);
	assert_int_equal(get_bool(&priv, CKA_SIGN), CK_FALSE);

	attr_list_uninit(&pub);
	attr_list_uninit(&priv);
	attrs_cert_free(&c);
	EVP_PKEY_free(pk);
	free(der);
}

/* One call answers every entry: the unknown, the sensitive and the short
 * one each get CK_UNAVAILABLE_INFORMATION, the others are filled. */
static void test_get_semantics(void **state)
{
	uint8_t *der, modulus[512], small[4], exp[8];
	size_t len;
	attrs_cert c;
	attr_list priv;
	attrs_key_flags f = {true, false, true};
	CK_OBJECT_CLASS cls = 0;
	CK_ATTRIBUTE t[6];
	EVP_PKEY *pk = make_cert("RSA", NULL, "Signer", &der, &len);
	(void)state;

	assert_int_equal(attrs_cert_parse(&c, der, len, "x"), CKR_OK);
	attr_list_init(&priv);
	attrs_build_private(&priv, &c, &f, NULL, 0);

	t[0] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
	t[1] = (CK_ATTRIBUTE){CKA_PRIVATE_EXPONENT, modulus, sizeof(modulus)};
	t[2] = (CK_ATTRIBUTE){CKA_MODULUS, modulus, sizeof(modulus)};
	t[3] = (CK_ATTRIBUTE){CKA_EC_POINT, small, sizeof(small)}; /* not on an RSA key */
	t[4] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, exp, sizeof(exp)};
	t[5] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, small, sizeof(small)}; /* public key only */
	assert_int_equal(attrs_get(&priv, t, 6), CKR_ATTRIBUTE_TYPE_INVALID);
	assert_int_equal(cls, CKO_PRIVATE_KEY);
	assert_int_equal(t[0].ulValueLen, sizeof(cls));
	assert_int_equal(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	assert_int_equal(t[2].ulValueLen, 256);
	assert_memory_equal(modulus, c.modulus, 256);
	assert_int_equal(t[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	assert_int_equal(t[4].ulValueLen, 3);
	assert_int_equal(t[5].ulValueLen, CK_UNAVAILABLE_INFORMATION);

	/* Only a sensitive one. */
	t[1].ulValueLen = sizeof(modulus);
	assert_int_equal(attrs_get(&priv, &t[1], 1), CKR_ATTRIBUTE_SENSITIVE);
	assert_int_equal(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	/* Lengths with a NULL buffer, then a short buffer. */
	t[2] = (CK_ATTRIBUTE){CKA_MODULUS, NULL, 0};
	assert_int_equal(attrs_get(&priv, &t[2], 1), CKR_OK);
	assert_int_equal(t[2].ulValueLen, 256);
	t[2] = (CK_ATTRIBUTE){CKA_MODULUS, modulus, 255};
	t[0] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
	assert_int_equal(attrs_get(&priv, t, 3), CKR_BUFFER_TOO_SMALL);
	assert_int_equal(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	assert_int_equal(t[0].ulValueLen, sizeof(cls));
	assert_int_equal(attrs_get(&priv, NULL, 1), CKR_ARGUMENTS_BAD);
	assert_int_equal(attrs_get(&priv, NULL, 0), CKR_OK);

	attr_list_uninit(&priv);
	attrs_cert_free(&c);
	EVP_PKEY_free(pk);
	free(der);
}

static void test_match(void **state)
{
	uint8_t *der, other_id[20];
	size_t len;
	attrs_cert c;
	attr_list cert, priv;
	attrs_key_flags f = {true, false, true};
	CK_OBJECT_CLASS cls_cert = CKO_CERTIFICATE, cls_key = CKO_PRIVATE_KEY;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE t[4];
	EVP_PKEY *pk = make_cert("EC", "P-256", "Signer", &der, &len);
	(void)state;

	assert_int_equal(attrs_cert_parse(&c, der, len, "x"), CKR_OK);
	attr_list_init(&cert);
	attr_list_init(&priv);
	attrs_build_cert(&cert, &c, 1);
	attrs_build_private(&priv, &c, &f, NULL, 0);

	assert_true(attrs_match(&cert, NULL, 0));
	t[0] = (CK_ATTRIBUTE){CKA_CLASS, &cls_cert, sizeof(cls_cert)};
	t[1] = (CK_ATTRIBUTE){CKA_ID, c.id, sizeof(c.id)};
	t[2] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof(yes)};
	assert_true(attrs_match(&cert, t, 3));
	assert_false(attrs_match(&priv, t, 3));
	t[0].pValue = &cls_key;
	assert_true(attrs_match(&priv, t, 3));
	/* NSS pairs the certificate with its key by issuer + serial, by
	 * subject and by ID; each attribute must be compared. */
	t[0] = (CK_ATTRIBUTE){CKA_ISSUER, c.issuer, c.issuer_len};
	t[1] = (CK_ATTRIBUTE){CKA_SERIAL_NUMBER, c.serial, c.serial_len};
	assert_true(attrs_match(&cert, t, 2));
	t[1].ulValueLen--;
	assert_false(attrs_match(&cert, t, 2));
	memcpy(other_id, c.id, 20);
	other_id[19] ^= 1;
	t[0] = (CK_ATTRIBUTE){CKA_ID, other_id, 20};
	assert_false(attrs_match(&cert, t, 1));
	t[0] = (CK_ATTRIBUTE){CKA_TOKEN, &no, sizeof(no)};
	assert_false(attrs_match(&cert, t, 1));
	/* Unknown and sensitive attributes never match. */
	t[0] = (CK_ATTRIBUTE){CKA_MODULUS, other_id, 20};
	assert_false(attrs_match(&cert, t, 1));
	t[0] = (CK_ATTRIBUTE){CKA_VALUE, other_id, 20};
	assert_false(attrs_match(&priv, t, 1));
	t[0] = (CK_ATTRIBUTE){CKA_LABEL, "Signer", 6};
	assert_true(attrs_match(&priv, t, 1));
	t[0] = (CK_ATTRIBUTE){CKA_LABEL, "Signe", 5};
	assert_false(attrs_match(&priv, t, 1));

	attr_list_uninit(&cert);
	attr_list_uninit(&priv);
	attrs_cert_free(&c);
	EVP_PKEY_free(pk);
	free(der);
}

static void test_list_limits(void **state)
{
	attr_list l;
	CK_ULONG i;
	(void)state;

	attr_list_init(&l);
	attr_add_ulong(&l, CKA_CLASS, CKO_DATA);
	attr_add_ulong(&l, CKA_CLASS, CKO_DATA); /* each type once */
	assert_true(l.failed);
	attr_list_uninit(&l);
	attr_list_init(&l);
	for (i = 0; i < 300; i++)
		attr_add_ulong(&l, CKA_VENDOR_DEFINED + i, i);
	assert_true(l.failed); /* bounded */
	attr_list_uninit(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_rsa),	       cmocka_unit_test(test_parse_ec_and_errors),
	    cmocka_unit_test(test_certificate_object), cmocka_unit_test(test_key_objects),
	    cmocka_unit_test(test_get_semantics),      cmocka_unit_test(test_match),
	    cmocka_unit_test(test_list_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
