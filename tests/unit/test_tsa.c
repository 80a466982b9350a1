/* SPDX-License-Identifier: Apache-2.0 */
/* tsa.c: RFC 3161 responses signed in a throw-away SoftHSM token, checked
 * with OpenSSL's TS verification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "hsm.h"
#include "tsa.h"
#include "testlib.h"

#define TOKEN_LABEL "cisres-test"
#define USER_PIN "user-pin-1234"
#define POLICY "1.3.6.1.4.1.99999.1.1"

static char tmpdir[] = "/tmp/cisres-test-tsa-XXXXXX";
static hsm *H;
static ca *C;
static tsa *T;

static int group_setup(void **state)
{
	char cadir[256];
	hsm_config cfg = {0};

	if (testlib_softhsm(tmpdir) != 0)
		return -1;
	if (hsm_create_token(testlib_module(), TOKEN_LABEL, "so-pin-0000", USER_PIN) != HSM_OK)
		return -1;
	cfg.module_path = testlib_module();
	cfg.token_label = TOKEN_LABEL;
	cfg.pin = USER_PIN;
	cfg.pin_len = strlen(USER_PIN);
	if (hsm_open(&cfg, &H) != HSM_OK)
		return -1;
	snprintf(cadir, sizeof(cadir), "%s/ca", tmpdir);
	if (ca_bootstrap(H, cadir, "TSA Test") != 0 || ca_open(H, cadir, &C) != 0)
		return -1;
	return tsa_new(C, POLICY, &T);
}

static int group_teardown(void **state)
{
	tsa_free(T);
	ca_free(C);
	hsm_close(H);
	testlib_rmtree(tmpdir);
	return 0;
}

/* ---- helpers ---- */

/* A request built with OpenSSL's TS API. */
static TS_REQ *make_req(const EVP_MD *md, const uint8_t *dg, size_t dlen, long nonce,
			const char *policy)
{
	TS_REQ *req = TS_REQ_new();
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_INTEGER *n = ASN1_INTEGER_new();

	X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL, NULL);
	TS_MSG_IMPRINT_set_algo(mi, alg);
	TS_MSG_IMPRINT_set_msg(mi, (unsigned char *)dg, (int)dlen);
	TS_REQ_set_version(req, 1);
	TS_REQ_set_msg_imprint(req, mi);
	TS_REQ_set_cert_req(req, 1);
	if (nonce > 0) {
		ASN1_INTEGER_set(n, nonce);
		TS_REQ_set_nonce(req, n);
	}
	if (policy != NULL) {
		ASN1_OBJECT *p = OBJ_txt2obj(policy, 1);

		TS_REQ_set_policy_id(req, p);
		ASN1_OBJECT_free(p);
	}
	ASN1_INTEGER_free(n);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(mi);
	return req;
}

static TS_RESP *ask(TS_REQ *req)
{
	unsigned char *der = NULL;
	int len = i2d_TS_REQ(req, &der);
	uint8_t *resp = NULL;
	size_t rlen = 0;
	const unsigned char *p;
	TS_RESP *r;

	assert_true(len > 0);
	assert_int_equal(tsa_respond(T, der, (size_t)len, &resp, &rlen), 0);
	OPENSSL_free(der);
	p = resp;
	r = d2i_TS_RESP(NULL, &p, (long)rlen);
	assert_non_null(r);
	assert_ptr_equal(p, resp + rlen);
	free(resp);
	return r;
}

static long status_of(TS_RESP *r)
{
	return ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(r)));
}

static X509_STORE *root_store(void)
{
	X509_STORE *st = X509_STORE_new();

	assert_int_equal(X509_STORE_add_cert(st, ca_root_cert(C)), 1);
	return st;
}

/* Full check of a response to req: signature and chain to the root,
 * version, imprint, nonce, TSA name (and purpose via OpenSSL). */
static int verify_resp(TS_REQ *req, TS_RESP *r)
{
	TS_VERIFY_CTX *v = TS_REQ_to_TS_VERIFY_CTX(req, NULL);
	int ok;

	assert_non_null(v);
	TS_VERIFY_CTX_set_store(v, root_store());
	ok = TS_RESP_verify_response(v, r);
	ERR_clear_error();
	TS_VERIFY_CTX_free(v);
	return ok;
}

static void check_token_details(PKCS7 *tok, const EVP_MD *md)
{
	STACK_OF(PKCS7_SIGNER_INFO) *sis = PKCS7_get_signer_info(tok);
	PKCS7_SIGNER_INFO *si;
	STACK_OF(X509) *certs = tok->d.sign->cert;
	TS_TST_INFO *info = PKCS7_to_TS_TST_INFO(tok);
	const TS_ACCURACY *acc;
	ASN1_OBJECT *policy = OBJ_txt2obj(POLICY, 1);

	assert_non_null(info);
	/* policy, accuracy, 128-bit serial, hash */
	assert_int_equal(OBJ_cmp(TS_TST_INFO_get_policy_id(info), policy), 0);
	ASN1_OBJECT_free(policy);
	acc = TS_TST_INFO_get_accuracy(info);
	assert_non_null(acc);
	assert_int_equal(ASN1_INTEGER_get(TS_ACCURACY_get_seconds(acc)), 1);
	assert_int_equal(ASN1_STRING_length(TS_TST_INFO_get_serial(info)), 16);
	assert_int_equal(
	    OBJ_obj2nid(TS_MSG_IMPRINT_get_algo(TS_TST_INFO_get_msg_imprint(info))->algorithm),
	    EVP_MD_get_type(md));
	assert_non_null(TS_TST_INFO_get_tsa(info));
	TS_TST_INFO_free(info);
	/* one signer, ESSCertIDv2 (signing-certificate-v2) */
	assert_int_equal(sk_PKCS7_SIGNER_INFO_num(sis), 1);
	si = sk_PKCS7_SIGNER_INFO_value(sis, 0);
	assert_non_null(PKCS7_get_signed_attribute(si, NID_id_smime_aa_signingCertificateV2));
	assert_null(PKCS7_get_signed_attribute(si, NID_id_smime_aa_signingCertificate));
	/* certificates: TSA, issuing, root */
	assert_int_equal(sk_X509_num(certs), 3);
	assert_int_equal(X509_cmp(sk_X509_value(certs, 0), ca_tsa_cert(C)), 0);
}

/* ---- tests ---- */

static void test_eku_critical(void **state)
{
	X509 *t = ca_tsa_cert(C);
	int i = X509_get_ext_by_NID(t, NID_ext_key_usage, -1);

	assert_true(i >= 0);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(t, i)), 1);
	assert_true(X509_get_extended_key_usage(t) == XKU_TIMESTAMP);
}

static void test_respond(void **state)
{
	static const struct {
		const EVP_MD *(*md)(void);
	} mds[] = {{EVP_sha256}, {EVP_sha384}, {EVP_sha512}};
	uint8_t dg[64];
	unsigned int dlen;

	for (size_t i = 0; i < 3; i++) {
		const EVP_MD *md = mds[i].md();
		TS_REQ *req;
		TS_RESP *r;

		EVP_Digest("document", 8, dg, &dlen, md, NULL);
		req = make_req(md, dg, dlen, 0x1234567 + (long)i, i == 1 ? POLICY : NULL);
		r = ask(req);
		assert_int_equal(status_of(r), TS_STATUS_GRANTED);
		assert_int_equal(verify_resp(req, r), 1);
		check_token_details(TS_RESP_get_token(r), md);
		TS_RESP_free(r);
		/* a response to another request does not verify against this one */
		dg[0] ^= 1;
		TS_REQ_free(req);
		req = make_req(md, dg, dlen, 0x1234567 + (long)i, NULL);
		r = ask(req);
		TS_REQ_free(req);
		req = make_req(md, dg, dlen, 0x7654321, NULL);
		assert_int_equal(status_of(r), TS_STATUS_GRANTED);
		assert_int_not_equal(verify_resp(req, r), 1); /* nonce differs */
		ERR_clear_error();
		TS_RESP_free(r);
		TS_REQ_free(req);
	}
}

static void test_wrong_root_fails(void **state)
{
	uint8_t dg[32];
	TS_REQ *req;
	TS_RESP *r;
	TS_VERIFY_CTX *v;
	X509_STORE *st = X509_STORE_new();

	RAND_bytes(dg, sizeof(dg));
	req = make_req(EVP_sha256(), dg, 32, 5, NULL);
	r = ask(req);
	v = TS_REQ_to_TS_VERIFY_CTX(req, NULL);
	/* trusting only the TSA's own issuer's issuer's sibling: an empty store */
	TS_VERIFY_CTX_set_store(v, st);
	assert_int_not_equal(TS_RESP_verify_response(v, r), 1);
	ERR_clear_error();
	TS_VERIFY_CTX_free(v);
	TS_RESP_free(r);
	TS_REQ_free(req);
}

static void test_stamp(void **state)
{
	uint8_t dg[32];
	uint8_t *tok = NULL;
	size_t toklen = 0;
	const unsigned char *p;
	PKCS7 *p7;
	TS_REQ *req;
	TS_VERIFY_CTX *v;
	TS_TST_INFO *info;

	RAND_bytes(dg, sizeof(dg));
	assert_int_equal(tsa_stamp(T, HASH_SHA256, dg, 32, "0123abcd", &tok, &toklen), 0);
	p = tok;
	p7 = d2i_PKCS7(NULL, &p, (long)toklen);
	assert_non_null(p7);
	assert_ptr_equal(p, tok + toklen);
	assert_int_equal(OBJ_obj2nid(p7->type), NID_pkcs7_signed);
	check_token_details(p7, EVP_sha256());
	info = PKCS7_to_TS_TST_INFO(p7);
	assert_int_equal(ASN1_INTEGER_get(TS_TST_INFO_get_nonce(info)), 0x0123abcd);
	TS_TST_INFO_free(info);
	/* verify as a token for the same digest and nonce */
	req = make_req(EVP_sha256(), dg, 32, 0x0123abcd, NULL);
	v = TS_REQ_to_TS_VERIFY_CTX(req, NULL);
	TS_VERIFY_CTX_set_store(v, root_store());
	assert_int_equal(TS_RESP_verify_token(v, p7), 1);
	TS_VERIFY_CTX_free(v);
	TS_REQ_free(req);
	PKCS7_free(p7);
	free(tok);

	/* SHA-512 without a nonce; a 64-hex-digit nonce */
	{
		uint8_t d512[64] = {1};

		assert_int_equal(tsa_stamp(T, HASH_SHA512, d512, 64, NULL, &tok, &toklen), 0);
		free(tok);
		assert_int_equal(
		    tsa_stamp(T, HASH_SHA384, d512, 48,
			      "ffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
			      "ffffffff",
			      &tok, &toklen),
		    0);
		free(tok);
	}
}

static void test_stamp_bad_input(void **state)
{
	uint8_t dg[64] = {0};
	uint8_t *tok = (uint8_t *)"x";
	size_t toklen = 1;
	char longnonce[70];

	memset(longnonce, 'a', 65);
	longnonce[65] = '\0';
	assert_int_equal(tsa_stamp(T, HASH_SHA256, dg, 31, NULL, &tok, &toklen), -2);
	assert_null(tok);
	assert_int_equal(toklen, 0);
	assert_int_equal(tsa_stamp(T, HASH_SHA256, dg, 48, NULL, &tok, &toklen), -2);
	assert_int_equal(tsa_stamp(T, HASH_SHA1, dg, 20, NULL, &tok, &toklen), -2);
	assert_int_equal(tsa_stamp(T, HASH_SHA3_256, dg, 32, NULL, &tok, &toklen), -2);
	assert_int_equal(tsa_stamp(T, HASH_SHA256, dg, 32, "xyz", &tok, &toklen), -2);
	assert_int_equal(tsa_stamp(T, HASH_SHA256, dg, 32, "", &tok, &toklen), -2);
	assert_int_equal(tsa_stamp(T, HASH_SHA256, dg, 32, "-12", &tok, &toklen), -2);
	assert_int_equal(tsa_stamp(T, HASH_SHA256, dg, 32, longnonce, &tok, &toklen), -2);
	assert_null(tok);
}

static void check_rejected(const uint8_t *req, size_t len, int failure_bit)
{
	uint8_t *resp = NULL;
	size_t rlen = 0;
	const unsigned char *p;
	TS_RESP *r;
	const ASN1_BIT_STRING *fi;

	assert_int_equal(tsa_respond(T, req, len, &resp, &rlen), 0);
	p = resp;
	r = d2i_TS_RESP(NULL, &p, (long)rlen);
	assert_non_null(r);
	assert_int_equal(status_of(r), TS_STATUS_REJECTION);
	assert_null(TS_RESP_get_token(r));
	fi = TS_STATUS_INFO_get0_failure_info(TS_RESP_get_status_info(r));
	assert_non_null(fi);
	assert_int_equal(ASN1_BIT_STRING_get_bit(fi, failure_bit), 1);
	TS_RESP_free(r);
	free(resp);
}

static void test_bad_requests(void **state)
{
	static const uint8_t garbage[] = {0x30, 0x03, 0x02, 0x01};
	uint8_t dg[32] = {9};
	uint8_t *big;
	unsigned char *der = NULL;
	int len;
	TS_REQ *req;

	check_rejected(garbage, sizeof(garbage), TS_INFO_BAD_DATA_FORMAT);
	check_rejected((const uint8_t *)"", 0, TS_INFO_BAD_DATA_FORMAT);
	big = calloc(1, 100000);
	check_rejected(big, 100000, TS_INFO_BAD_DATA_FORMAT);
	free(big);
	/* SHA-1 imprint: not accepted */
	req = make_req(EVP_sha1(), dg, 20, 1, NULL);
	len = i2d_TS_REQ(req, &der);
	check_rejected(der, (size_t)len, TS_INFO_BAD_ALG);
	OPENSSL_free(der);
	der = NULL;
	TS_REQ_free(req);
	/* imprint length does not match the algorithm */
	req = make_req(EVP_sha256(), dg, 20, 1, NULL);
	len = i2d_TS_REQ(req, &der);
	check_rejected(der, (size_t)len, TS_INFO_BAD_DATA_FORMAT);
	OPENSSL_free(der);
	der = NULL;
	TS_REQ_free(req);
	/* unknown policy */
	req = make_req(EVP_sha256(), dg, 32, 1, "1.2.3.4.5");
	len = i2d_TS_REQ(req, &der);
	check_rejected(der, (size_t)len, TS_INFO_UNACCEPTED_POLICY);
	OPENSSL_free(der);
	TS_REQ_free(req);
}

static void test_new_errors(void **state)
{
	tsa *t = NULL;

	assert_int_equal(tsa_new(C, "not an oid", &t), -1);
	assert_null(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_eku_critical),     cmocka_unit_test(test_respond),
	    cmocka_unit_test(test_wrong_root_fails), cmocka_unit_test(test_stamp),
	    cmocka_unit_test(test_stamp_bad_input),  cmocka_unit_test(test_bad_requests),
	    cmocka_unit_test(test_new_errors),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
