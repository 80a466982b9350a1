/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for module/mech.c: the mechanism table, the checks at
 * C_SignInit and the mapping of each mechanism's input to a CSC signHash
 * request. The module is a MODULE library that exports only C_*, so the
 * source under test is compiled into this test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include "../../module/mech.c"

#define OID_RSA "1.2.840.113549.1.1.1"
#define OID_SHA256_RSA "1.2.840.113549.1.1.11"
#define OID_SHA384_RSA "1.2.840.113549.1.1.12"
#define OID_PSS "1.2.840.113549.1.1.10"
#define OID_ECDSA_SHA1 "1.2.840.10045.4.1"
#define OID_ECDSA_SHA256 "1.2.840.10045.4.3.2"
#define OID_ECDSA_SHA384 "1.2.840.10045.4.3.3"
#define OID_ECDSA_SHA512 "1.2.840.10045.4.3.4"
#define OID_EC_PUBKEY "1.2.840.10045.2.1"

static mech_key rsa_key(unsigned bits, const char *const *oids, size_t n)
{
	mech_key k;
	size_t i;
	memset(&k, 0, sizeof(k));
	k.kind = KEY_RSA;
	k.bits = bits;
	for (i = 0; i < n; i++)
		k.algos |= mech_algo_bit(oids[i]);
	return k;
}

static mech_key ec_key(unsigned bits, size_t field, const char *const *oids, size_t n)
{
	mech_key k = rsa_key(bits, oids, n);
	k.kind = KEY_EC;
	k.field_len = field;
	return k;
}

static CK_MECHANISM mech(CK_MECHANISM_TYPE t, void *p, CK_ULONG len)
{
	CK_MECHANISM m;
	m.mechanism = t;
	m.pParameter = p;
	m.ulParameterLen = len;
	return m;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	size_t i;
	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i);
}

/* Check and prepare in one go. */
static CK_RV prepare(CK_MECHANISM_TYPE t, void *param, CK_ULONG plen, const mech_key *k,
		     const uint8_t *in, size_t len, mech_request *req)
{
	CK_MECHANISM m = mech(t, param, plen);
	const mech_row *row = NULL;
	mech_params mp;
	CK_RV rv = mech_check(&m, k, CKF_SIGN, &row, &mp);
	if (rv != CKR_OK)
		return rv;
	return mech_prepare(row, &mp, k, in, len, req);
}

static void test_list_and_info(void **state)
{
	CK_MECHANISM_TYPE list[64];
	CK_MECHANISM_INFO info;
	CK_ULONG n = 0, small = 3;
	bool seen_pss = false, seen_ecdsa = false;
	CK_ULONG i;
	(void)state;

	assert_int_equal(mech_list(NULL, &n), CKR_OK);
	assert_true(n >= 23 && n <= 64);
	assert_int_equal(mech_list(list, &small), CKR_BUFFER_TOO_SMALL);
	assert_int_equal(small, n);
	assert_int_equal(mech_list(list, &n), CKR_OK);
	for (i = 0; i < n; i++) {
		assert_int_equal(mech_info(list[i], &info), CKR_OK);
		assert_int_equal(info.flags & CKF_HW, 0);
		seen_pss |= list[i] == CKM_RSA_PKCS_PSS;
		seen_ecdsa |= list[i] == CKM_ECDSA;
	}
	assert_true(seen_pss && seen_ecdsa);

	assert_int_equal(mech_info(CKM_RSA_PKCS, &info), CKR_OK);
	assert_int_equal(info.ulMinKeySize, 2048);
	assert_int_equal(info.ulMaxKeySize, 4096);
	assert_int_equal(info.flags, CKF_SIGN | CKF_VERIFY);
	assert_int_equal(mech_info(CKM_ECDSA_SHA384, &info), CKR_OK);
	assert_int_equal(info.ulMinKeySize, 256);
	assert_int_equal(info.ulMaxKeySize, 521);
	assert_int_equal(info.flags, CKF_SIGN | CKF_VERIFY | CKF_EC_F_P | CKF_EC_NAMEDCURVE |
					 CKF_EC_UNCOMPRESS);
	assert_int_equal(mech_info(CKM_SHA256, &info), CKR_OK);
	assert_int_equal(info.flags, CKF_DIGEST);
	assert_int_equal(mech_info(CKM_RSA_PKCS_OAEP, &info), CKR_MECHANISM_INVALID);
	assert_int_equal(mech_info(CKM_MD5, &info), CKR_MECHANISM_INVALID);
}

static void test_check(void **state)
{
	mech_key rsa = rsa_key(2048, NULL, 0), ec = ec_key(256, 32, NULL, 0);
	mech_key small = rsa_key(1024, NULL, 0);
	CK_MECHANISM m;
	const mech_row *row;
	mech_params p;
	(void)state;

	m = mech(CKM_SHA256_RSA_PKCS, NULL, 0);
	assert_int_equal(mech_check(&m, &rsa, CKF_SIGN, &row, &p), CKR_OK);
	assert_int_equal(row->type, CKM_SHA256_RSA_PKCS);
	assert_int_equal(row->hash, HASH_SHA256);
	assert_int_equal(mech_check(&m, &ec, CKF_SIGN, &row, &p), CKR_KEY_TYPE_INCONSISTENT);
	assert_int_equal(mech_check(&m, &small, CKF_SIGN, &row, &p), CKR_KEY_SIZE_RANGE);
	m = mech(CKM_ECDSA, NULL, 0);
	assert_int_equal(mech_check(&m, &rsa, CKF_SIGN, &row, &p), CKR_KEY_TYPE_INCONSISTENT);
	assert_int_equal(mech_check(&m, &ec, CKF_VERIFY, &row, &p), CKR_OK);
	m = mech(CKM_SHA256, NULL, 0); /* a digest, not a signature */
	assert_int_equal(mech_check(&m, &rsa, CKF_SIGN, &row, &p), CKR_MECHANISM_INVALID);
	m = mech(CKM_RSA_X_509, NULL, 0);
	assert_int_equal(mech_check(&m, &rsa, CKF_SIGN, &row, &p), CKR_MECHANISM_INVALID);
}

static void test_check_pss(void **state)
{
	mech_key rsa = rsa_key(2048, NULL, 0);
	CK_RSA_PKCS_PSS_PARAMS pp = {CKM_SHA256, CKG_MGF1_SHA256, 32};
	CK_MECHANISM m;
	const mech_row *row;
	mech_params p;
	(void)state;

	m = mech(CKM_RSA_PKCS_PSS, &pp, sizeof(pp));
	assert_int_equal(mech_check(&m, &rsa, CKF_SIGN, &row, &p), CKR_OK);
	assert_int_equal(p.pss.hash, HASH_SHA256);
	assert_int_equal(p.pss.mgf_hash, HASH_SHA256);
	assert_int_equal(p.pss.salt_len, 32);

	m = mech(CKM_RSA_PKCS_PSS, NULL, 0);
	assert_int_equal(mech_check(&m, &rsa, CKF_SIGN, &row, &p), CKR_MECHANISM_PARAM_INVALID);
	m = mech(CKM_RSA_PKCS_PSS, &pp, sizeof(pp) - 1);
	assert_int_equal(mech_check(&m, &rsa, CKF_SIGN, &row, &p), CKR_MECHANISM_PARAM_INVALID);
	/* The hash of a hashing PSS mechanism must be its own. */
	m = mech(CKM_SHA384_RSA_PKCS_PSS, &pp, sizeof(pp));
	assert_int_equal(mech_check(&m, &rsa, CKF_SIGN, &row, &p), CKR_MECHANISM_PARAM_INVALID);
	pp.hashAlg = CKM_SHA384;
	pp.mgf = CKG_MGF1_SHA384;
	pp.sLen = 48;
	assert_int_equal(mech_check(&m, &rsa, CKF_SIGN, &row, &p), CKR_OK);
	/* Unknown hash and MGF. */
	pp.hashAlg = CKM_MD5;
	m = mech(CKM_RSA_PKCS_PSS, &pp, sizeof(pp));
	assert_int_equal(mech_check(&m, &rsa, CKF_SIGN, &row, &p), CKR_MECHANISM_PARAM_INVALID);
	pp.hashAlg = CKM_SHA384;
	pp.mgf = 0x77;
	assert_int_equal(mech_check(&m, &rsa, CKF_SIGN, &row, &p), CKR_MECHANISM_PARAM_INVALID);
	/* sLen bound for 2048 bits and SHA-512: 256 - 64 - 2 = 190. */
	pp.hashAlg = CKM_SHA512;
	pp.mgf = CKG_MGF1_SHA512;
	pp.sLen = 190;
	assert_int_equal(mech_check(&m, &rsa, CKF_SIGN, &row, &p), CKR_OK);
	pp.sLen = 191;
	assert_int_equal(mech_check(&m, &rsa, CKF_SIGN, &row, &p), CKR_MECHANISM_PARAM_INVALID);
}

static void test_rsa_pkcs_digestinfo(void **state)
{
	static const char *const with_raw[] = {OID_RSA, OID_SHA256_RSA};
	static const char *const without_raw[] = {OID_SHA256_RSA, OID_SHA384_RSA};
	mech_key k1 = rsa_key(3072, with_raw, 2), k2 = rsa_key(3072, without_raw, 2);
	mech_key k3 = rsa_key(3072, NULL, 0);
	uint8_t digest[32], di[128], md5sha1[36];
	size_t di_len = 0;
	mech_request req;
	(void)state;

	fill(digest, sizeof(digest), 1);
	assert_int_equal(digestinfo_build(HASH_SHA256, digest, 32, di, sizeof(di), &di_len), 0);

	/* rsaEncryption + hashAlgorithmOID only when the service lists it. */
	assert_int_equal(prepare(CKM_RSA_PKCS, NULL, 0, &k1, di, di_len, &req), CKR_OK);
	assert_string_equal(req.sign_algo, OID_RSA);
	assert_int_equal(req.hash, HASH_SHA256);
	assert_int_equal(req.digest_len, 32);
	assert_memory_equal(req.digest, digest, 32);
	assert_null(req.params);
	mech_request_clear(&req);

	assert_int_equal(prepare(CKM_RSA_PKCS, NULL, 0, &k2, di, di_len, &req), CKR_OK);
	assert_string_equal(req.sign_algo, OID_SHA256_RSA);
	mech_request_clear(&req);
	assert_int_equal(prepare(CKM_RSA_PKCS, NULL, 0, &k3, di, di_len, &req), CKR_OK);
	assert_string_equal(req.sign_algo, OID_SHA256_RSA);
	mech_request_clear(&req);

	/* Not a DigestInfo: a bare digest, TLS 1.1's MD5||SHA-1, a truncated
	 * or extended DigestInfo. */
	assert_int_equal(prepare(CKM_RSA_PKCS, NULL, 0, &k1, digest, 32, &req), CKR_DATA_INVALID);
	fill(md5sha1, sizeof(md5sha1), 9);
	assert_int_equal(prepare(CKM_RSA_PKCS, NULL, 0, &k1, md5sha1, 36, &req), CKR_DATA_INVALID);
	assert_int_equal(prepare(CKM_RSA_PKCS, NULL, 0, &k1, di, di_len - 1, &req),
			 CKR_DATA_INVALID);
	di[di_len] = 0;
	assert_int_equal(prepare(CKM_RSA_PKCS, NULL, 0, &k1, di, di_len + 1, &req),
			 CKR_DATA_INVALID);
}

static void test_rsa_hashing(void **state)
{
	mech_key k = rsa_key(2048, NULL, 0);
	uint8_t d[64];
	mech_request req;
	(void)state;

	fill(d, sizeof(d), 3);
	assert_int_equal(prepare(CKM_SHA384_RSA_PKCS, NULL, 0, &k, d, 48, &req), CKR_OK);
	assert_string_equal(req.sign_algo, OID_SHA384_RSA);
	assert_int_equal(req.hash, HASH_SHA384);
	assert_memory_equal(req.digest, d, 48);
	mech_request_clear(&req);
	assert_int_equal(prepare(CKM_SHA384_RSA_PKCS, NULL, 0, &k, d, 32, &req),
			 CKR_DATA_LEN_RANGE);
}

static void test_pss_prepare(void **state)
{
	static const char *const algos[] = {OID_PSS};
	mech_key k = rsa_key(2048, algos, 1);
	CK_RSA_PKCS_PSS_PARAMS pp = {CKM_SHA256, CKG_MGF1_SHA256, 32};
	uint8_t d[32];
	pss_params back;
	mech_request req;
	(void)state;

	fill(d, sizeof(d), 5);
	assert_int_equal(prepare(CKM_RSA_PKCS_PSS, &pp, sizeof(pp), &k, d, 32, &req), CKR_OK);
	assert_string_equal(req.sign_algo, OID_PSS);
	assert_int_equal(req.hash, HASH_SHA256);
	assert_non_null(req.params);
	assert_int_equal(pss_params_decode(req.params, req.params_len, &back), 0);
	assert_int_equal(back.hash, HASH_SHA256);
	assert_int_equal(back.mgf_hash, HASH_SHA256);
	assert_int_equal(back.salt_len, 32);
	mech_request_clear(&req);
	assert_null(req.params);
	/* The digest must have the length of hashAlg. */
	assert_int_equal(prepare(CKM_RSA_PKCS_PSS, &pp, sizeof(pp), &k, d, 20, &req),
			 CKR_DATA_LEN_RANGE);
}

static void test_ecdsa_prepare(void **state)
{
	static const char *const only_pub[] = {OID_EC_PUBKEY};
	static const char *const both[] = {OID_EC_PUBKEY, OID_ECDSA_SHA256};
	mech_key k = ec_key(384, 48, NULL, 0), kp = ec_key(256, 32, only_pub, 1);
	mech_key kb = ec_key(256, 32, both, 2);
	static const struct {
		size_t len;
		hash_alg hash;
		const char *oid;
	} cases[] = {{20, HASH_SHA1, OID_ECDSA_SHA1},
		     {32, HASH_SHA256, OID_ECDSA_SHA256},
		     {48, HASH_SHA384, OID_ECDSA_SHA384},
		     {64, HASH_SHA512, OID_ECDSA_SHA512}};
	uint8_t d[65];
	mech_request req;
	size_t i;
	(void)state;

	fill(d, sizeof(d), 7);
	/* CKM_ECDSA: the digest length implies the hash. */
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(prepare(CKM_ECDSA, NULL, 0, &k, d, cases[i].len, &req), CKR_OK);
		assert_string_equal(req.sign_algo, cases[i].oid);
		assert_int_equal(req.hash, cases[i].hash);
		assert_int_equal(req.digest_len, cases[i].len);
		mech_request_clear(&req);
	}
	assert_int_equal(prepare(CKM_ECDSA, NULL, 0, &k, d, 33, &req), CKR_DATA_LEN_RANGE);
	assert_int_equal(prepare(CKM_ECDSA, NULL, 0, &k, d, 65, &req), CKR_DATA_LEN_RANGE);
	assert_int_equal(prepare(CKM_ECDSA, NULL, 0, &k, d, 0, &req), CKR_DATA_LEN_RANGE);
	/* A service that lists only ecPublicKey gets it with the hash. */
	assert_int_equal(prepare(CKM_ECDSA_SHA256, NULL, 0, &kp, d, 32, &req), CKR_OK);
	assert_string_equal(req.sign_algo, OID_EC_PUBKEY);
	assert_int_equal(req.hash, HASH_SHA256);
	mech_request_clear(&req);
	assert_int_equal(prepare(CKM_ECDSA_SHA256, NULL, 0, &kb, d, 32, &req), CKR_OK);
	assert_string_equal(req.sign_algo, OID_ECDSA_SHA256);
	mech_request_clear(&req);
}

static void test_allowed(void **state)
{
	static const char *const pss_only[] = {OID_PSS};
	static const char *const pkcs1_only[] = {OID_SHA256_RSA};
	mech_key any = rsa_key(2048, NULL, 0), pss = rsa_key(2048, pss_only, 1);
	mech_key pkcs1 = rsa_key(2048, pkcs1_only, 1), ec = ec_key(256, 32, NULL, 0);
	CK_MECHANISM_TYPE list[32];
	size_t n, i;
	(void)state;

	assert_true(mech_allowed(mech_lookup(CKM_RSA_PKCS), &any));
	assert_true(mech_allowed(mech_lookup(CKM_SHA256_RSA_PKCS_PSS), &any));
	assert_false(mech_allowed(mech_lookup(CKM_RSA_PKCS), &pss));
	assert_true(mech_allowed(mech_lookup(CKM_RSA_PKCS_PSS), &pss));
	assert_true(mech_allowed(mech_lookup(CKM_SHA1_RSA_PKCS), &pkcs1)); /* hash: server policy */
	assert_false(mech_allowed(mech_lookup(CKM_RSA_PKCS_PSS), &pkcs1));
	assert_false(mech_allowed(mech_lookup(CKM_ECDSA), &any));
	assert_false(mech_allowed(mech_lookup(CKM_SHA256), &any));

	n = mech_allowed_list(&ec, list, 32);
	assert_int_equal(n, 6);
	for (i = 0; i < n; i++)
		assert_int_equal(mech_lookup(list[i])->sig, MECH_SIG_ECDSA);
	assert_int_equal(mech_allowed_list(&any, list, 32), 12);
	assert_int_equal(mech_allowed_list(&pss, list, 32), 6);
}

/* DER Ecdsa-Sig-Value with the given r and s. */
static size_t ecdsa_der(const uint8_t *r, size_t rlen, const uint8_t *s, size_t slen, uint8_t *out)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	unsigned char *p = out;
	int n;
	assert_non_null(sig);
	assert_int_equal(
	    ECDSA_SIG_set0(sig, BN_bin2bn(r, (int)rlen, NULL), BN_bin2bn(s, (int)slen, NULL)), 1);
	n = i2d_ECDSA_SIG(sig, &p);
	ECDSA_SIG_free(sig);
	assert_true(n > 0);
	return (size_t)n;
}

static void test_finish(void **state)
{
	mech_key ec = ec_key(256, 32, NULL, 0), rsa = rsa_key(2048, NULL, 0);
	const mech_row *ecdsa = mech_lookup(CKM_ECDSA), *pkcs1 = mech_lookup(CKM_RSA_PKCS);
	uint8_t r[32], s[30], der[80], out[512], in[257];
	size_t n, out_len = 0;
	(void)state;

	assert_int_equal(mech_sig_len(ecdsa, &ec), 64);
	assert_int_equal(mech_sig_len(pkcs1, &rsa), 256);
	fill(r, sizeof(r), 0x81); /* high bit: DER adds a 00 */
	fill(s, sizeof(s), 0x11); /* short: padded to the field */
	n = ecdsa_der(r, sizeof(r), s, sizeof(s), der);
	assert_int_equal(mech_finish(ecdsa, &ec, der, n, out, &out_len), CKR_OK);
	assert_int_equal(out_len, 64);
	assert_memory_equal(out, r, 32);
	assert_int_equal(out[32], 0);
	assert_int_equal(out[33], 0);
	assert_memory_equal(out + 34, s, 30);
	/* Already r||s: accepted as is. */
	memset(in, 0x42, 64);
	assert_int_equal(mech_finish(ecdsa, &ec, in, 64, out, &out_len), CKR_OK);
	assert_memory_equal(out, in, 64);
	assert_int_equal(mech_finish(ecdsa, &ec, in, 63, out, &out_len), CKR_DEVICE_ERROR);

	/* RSA: left-padded to the modulus length; never longer. */
	fill(in, 255, 1);
	assert_int_equal(mech_finish(pkcs1, &rsa, in, 255, out, &out_len), CKR_OK);
	assert_int_equal(out_len, 256);
	assert_int_equal(out[0], 0);
	assert_memory_equal(out + 1, in, 255);
	assert_int_equal(mech_finish(pkcs1, &rsa, in, 257, out, &out_len), CKR_DEVICE_ERROR);
	assert_int_equal(mech_finish(pkcs1, &rsa, in, 0, out, &out_len), CKR_DEVICE_ERROR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list_and_info), cmocka_unit_test(test_check),
	    cmocka_unit_test(test_check_pss),	  cmocka_unit_test(test_rsa_pkcs_digestinfo),
	    cmocka_unit_test(test_rsa_hashing),	  cmocka_unit_test(test_pss_prepare),
	    cmocka_unit_test(test_ecdsa_prepare), cmocka_unit_test(test_allowed),
	    cmocka_unit_test(test_finish),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
