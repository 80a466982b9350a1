/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/oid.c: the tables, checked against OpenSSL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "oid.h"

static const hash_alg ALL_HASHES[] = {HASH_SHA1,   HASH_SHA224,	  HASH_SHA256,	 HASH_SHA384,
				      HASH_SHA512, HASH_SHA3_256, HASH_SHA3_384, HASH_SHA3_512};

static void oid_of_nid(int nid, char *buf, size_t cap)
{
	const ASN1_OBJECT *o = OBJ_nid2obj(nid);
	assert_non_null(o);
	assert_true(OBJ_obj2txt(buf, (int)cap, o, 1) > 0);
}

/* Every hash row agrees with OpenSSL: name, OID, length, and its DigestInfo
 * prefix equals OpenSSL's own DER encoding of an X509_SIG. */
static void test_hash_table_vs_openssl(void **state)
{
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(ALL_HASHES) / sizeof(ALL_HASHES[0]); i++) {
		const hash_info *h = hash_by_id(ALL_HASHES[i]);
		const EVP_MD *md;
		char oid[64];
		uint8_t digest[HASH_MAX_LEN];
		X509_SIG *sig;
		X509_ALGOR *alg;
		ASN1_OCTET_STRING *os;
		unsigned char *der = NULL;
		int derlen;

		assert_non_null(h);
		assert_int_equal(h->id, ALL_HASHES[i]);
		md = EVP_get_digestbyname(h->name);
		assert_non_null(md);
		assert_int_equal((size_t)EVP_MD_get_size(md), h->len);
		assert_true(h->len <= HASH_MAX_LEN);
		oid_of_nid(EVP_MD_get_type(md), oid, sizeof(oid));
		assert_string_equal(oid, h->oid);
		assert_ptr_equal(hash_by_oid(h->oid), h);
		assert_ptr_equal(hash_by_name(h->name), h);

		memset(digest, 0xa5, sizeof(digest));
		sig = X509_SIG_new();
		X509_SIG_getm(sig, &alg, &os);
		assert_int_equal(
		    X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL, NULL), 1);
		assert_int_equal(ASN1_OCTET_STRING_set(os, digest, (int)h->len), 1);
		derlen = i2d_X509_SIG(sig, &der);
		assert_int_equal((size_t)derlen, h->prefix_len + h->len);
		assert_memory_equal(der, h->prefix, h->prefix_len);
		OPENSSL_free(der);
		X509_SIG_free(sig);
	}
	assert_null(hash_by_id(HASH_NONE));
	assert_null(hash_by_id((hash_alg)99));
}

static void test_hash_lookups(void **state)
{
	(void)state;
	assert_int_equal(hash_by_name("sha256")->id, HASH_SHA256);
	assert_int_equal(hash_by_name("SHA-256")->id, HASH_SHA256);
	assert_int_equal(hash_by_name("Sha3-384")->id, HASH_SHA3_384);
	assert_int_equal(hash_by_name("sha1")->id, HASH_SHA1);
	assert_int_equal(hash_by_name("SHA-1")->id, HASH_SHA1);
	assert_null(hash_by_name("md5"));
	assert_null(hash_by_name("sha25"));
	assert_null(hash_by_name("sha2566"));
	assert_null(hash_by_name(""));
	assert_null(hash_by_name(NULL));
	assert_null(hash_by_oid("2.16.840.1.101.3.4.2.1.0"));
	assert_null(hash_by_oid("2.16.840.1.101.3.4.2"));
	assert_null(hash_by_oid("1.2.840.113549.2.5")); /* MD5 */
	assert_null(hash_by_oid(NULL));
	assert_int_equal(hash_by_len(20)->id, HASH_SHA1);
	assert_int_equal(hash_by_len(28)->id, HASH_SHA224);
	assert_int_equal(hash_by_len(32)->id, HASH_SHA256);
	assert_int_equal(hash_by_len(48)->id, HASH_SHA384);
	assert_int_equal(hash_by_len(64)->id, HASH_SHA512);
	assert_null(hash_by_len(0));
	assert_null(hash_by_len(16));
	assert_null(hash_by_len(36));
}

static void test_sigalg_table(void **state)
{
	static const struct {
		sig_alg id;
		const char *oid;
		int nid;
		key_kind key;
		hash_alg hash;
	} rows[] = {
	    {SIG_RSA_RAW, "1.2.840.113549.1.1.1", NID_rsaEncryption, KEY_RSA, HASH_NONE},
	    {SIG_RSA_SHA1, "1.2.840.113549.1.1.5", NID_sha1WithRSAEncryption, KEY_RSA, HASH_SHA1},
	    {SIG_RSA_SHA224, "1.2.840.113549.1.1.14", NID_sha224WithRSAEncryption, KEY_RSA,
	     HASH_SHA224},
	    {SIG_RSA_SHA256, "1.2.840.113549.1.1.11", NID_sha256WithRSAEncryption, KEY_RSA,
	     HASH_SHA256},
	    {SIG_RSA_SHA384, "1.2.840.113549.1.1.12", NID_sha384WithRSAEncryption, KEY_RSA,
	     HASH_SHA384},
	    {SIG_RSA_SHA512, "1.2.840.113549.1.1.13", NID_sha512WithRSAEncryption, KEY_RSA,
	     HASH_SHA512},
	    {SIG_RSA_PSS, "1.2.840.113549.1.1.10", NID_rsassaPss, KEY_RSA, HASH_NONE},
	    {SIG_ECDSA_SHA1, "1.2.840.10045.4.1", NID_ecdsa_with_SHA1, KEY_EC, HASH_SHA1},
	    {SIG_ECDSA_SHA224, "1.2.840.10045.4.3.1", NID_ecdsa_with_SHA224, KEY_EC, HASH_SHA224},
	    {SIG_ECDSA_SHA256, "1.2.840.10045.4.3.2", NID_ecdsa_with_SHA256, KEY_EC, HASH_SHA256},
	    {SIG_ECDSA_SHA384, "1.2.840.10045.4.3.3", NID_ecdsa_with_SHA384, KEY_EC, HASH_SHA384},
	    {SIG_ECDSA_SHA512, "1.2.840.10045.4.3.4", NID_ecdsa_with_SHA512, KEY_EC, HASH_SHA512},
	    {SIG_EC_PUBKEY, "1.2.840.10045.2.1", NID_X9_62_id_ecPublicKey, KEY_EC, HASH_NONE},
	};
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const sigalg_info *s = sigalg_by_id(rows[i].id);
		char oid[64];
		assert_non_null(s);
		assert_string_equal(s->oid, rows[i].oid);
		oid_of_nid(rows[i].nid, oid, sizeof(oid));
		assert_string_equal(s->oid, oid);
		assert_int_equal(s->key, rows[i].key);
		assert_int_equal(s->hash, rows[i].hash);
		assert_int_equal(s->pss, rows[i].id == SIG_RSA_PSS);
		assert_non_null(s->name);
		assert_ptr_equal(sigalg_by_oid(rows[i].oid), s);
	}
	assert_null(sigalg_by_oid("1.2.840.113549.1.1.4")); /* md5WithRSA */
	assert_null(sigalg_by_oid("1.2.840.10045.4.3"));
	assert_null(sigalg_by_oid(NULL));
	assert_null(sigalg_by_id((sig_alg)0));
}

static void test_sigalg_for_hash(void **state)
{
	(void)state;
	assert_int_equal(sigalg_ecdsa_for_hash(HASH_SHA1)->id, SIG_ECDSA_SHA1);
	assert_int_equal(sigalg_ecdsa_for_hash(HASH_SHA224)->id, SIG_ECDSA_SHA224);
	assert_int_equal(sigalg_ecdsa_for_hash(HASH_SHA256)->id, SIG_ECDSA_SHA256);
	assert_int_equal(sigalg_ecdsa_for_hash(HASH_SHA384)->id, SIG_ECDSA_SHA384);
	assert_int_equal(sigalg_ecdsa_for_hash(HASH_SHA512)->id, SIG_ECDSA_SHA512);
	assert_null(sigalg_ecdsa_for_hash(HASH_NONE));
	assert_null(sigalg_ecdsa_for_hash(HASH_SHA3_256));
	assert_int_equal(sigalg_rsa_for_hash(HASH_SHA1)->id, SIG_RSA_SHA1);
	assert_int_equal(sigalg_rsa_for_hash(HASH_SHA224)->id, SIG_RSA_SHA224);
	assert_int_equal(sigalg_rsa_for_hash(HASH_SHA256)->id, SIG_RSA_SHA256);
	assert_int_equal(sigalg_rsa_for_hash(HASH_SHA384)->id, SIG_RSA_SHA384);
	assert_int_equal(sigalg_rsa_for_hash(HASH_SHA512)->id, SIG_RSA_SHA512);
	assert_null(sigalg_rsa_for_hash(HASH_NONE));
	assert_null(sigalg_rsa_for_hash(HASH_SHA3_512));
}

static void test_curves(void **state)
{
	static const struct {
		int nid;
		const char *name, *oid;
		size_t field_len;
		unsigned bits;
	} rows[] = {
	    {NID_X9_62_prime256v1, "P-256", "1.2.840.10045.3.1.7", 32, 256},
	    {NID_secp384r1, "P-384", "1.3.132.0.34", 48, 384},
	    {NID_secp521r1, "P-521", "1.3.132.0.35", 66, 521},
	};
	size_t i;
	(void)state;
	for (i = 0; i < 3; i++) {
		const curve_info *c = curve_by_nid(rows[i].nid);
		char oid[64];
		assert_non_null(c);
		assert_string_equal(c->name, rows[i].name);
		assert_string_equal(c->oid, rows[i].oid);
		oid_of_nid(rows[i].nid, oid, sizeof(oid));
		assert_string_equal(c->oid, oid);
		assert_int_equal(c->field_len, rows[i].field_len);
		assert_int_equal(c->bits, rows[i].bits);
		assert_int_equal(c->field_len, (c->bits + 7) / 8);
		assert_ptr_equal(curve_by_oid(rows[i].oid), c);
		assert_ptr_equal(curve_by_name(rows[i].name), c);
		assert_ptr_equal(curve_by_name(OBJ_nid2sn(rows[i].nid)), c);
	}
	assert_int_equal(curve_by_name("prime256v1")->nid, NID_X9_62_prime256v1);
	assert_int_equal(curve_by_name("secp256r1")->nid, NID_X9_62_prime256v1);
	assert_int_equal(curve_by_name("p-384")->nid, NID_secp384r1);
	assert_int_equal(curve_by_name("secp521r1")->nid, NID_secp521r1);
	assert_null(curve_by_name("P-224"));
	assert_null(curve_by_name("secp256k1"));
	assert_null(curve_by_name(NULL));
	assert_null(curve_by_oid("1.3.132.0.10"));
	assert_null(curve_by_oid(NULL));
	assert_null(curve_by_nid(NID_secp256k1));
	assert_null(curve_by_nid(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hash_table_vs_openssl),
	    cmocka_unit_test(test_hash_lookups),
	    cmocka_unit_test(test_sigalg_table),
	    cmocka_unit_test(test_sigalg_for_hash),
	    cmocka_unit_test(test_curves),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
