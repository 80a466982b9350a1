/* SPDX-License-Identifier: Apache-2.0 */
/* hsm.c against a throw-away SoftHSM token. */
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <p11-kit/pkcs11.h>
#undef hash_alg

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "digestinfo.h"
#include "hsm.h"
#include "testlib.h"

#define TOKEN_LABEL "cisres-test"
#define SO_PIN "so-pin-0000"
#define USER_PIN "user-pin-1234"

static char tmpdir[] = "/tmp/cisres-test-hsm-XXXXXX";
static hsm *H;
static EVP_PKEY *rsa_pub, *ec256_pub, *ec384_pub;

static int group_setup(void **state)
{
	hsm_config cfg = {0};

	if (testlib_softhsm(tmpdir) != 0)
		return -1;
	if (hsm_create_token(testlib_module(), TOKEN_LABEL, SO_PIN, USER_PIN) != HSM_OK)
		return -1;
	cfg.module_path = testlib_module();
	cfg.token_label = TOKEN_LABEL;
	cfg.pin = USER_PIN;
	cfg.pin_len = strlen(USER_PIN);
	cfg.pool_size = 2; /* fewer sessions than signing threads */
	return hsm_open(&cfg, &H) == HSM_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
	EVP_PKEY_free(rsa_pub);
	EVP_PKEY_free(ec256_pub);
	EVP_PKEY_free(ec384_pub);
	hsm_close(H);
	testlib_rmtree(tmpdir);
	return 0;
}

#define ID(s) (const uint8_t *)(s), strlen(s)

/* ---- verification helpers (plain OpenSSL) ---- */

static int verify_pkcs1(EVP_PKEY *pub, const EVP_MD *md, const uint8_t *dg, size_t dlen,
			const uint8_t *sig, size_t siglen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
	int ok = ctx != NULL && EVP_PKEY_verify_init(ctx) > 0 &&
		 EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 &&
		 EVP_PKEY_CTX_set_signature_md(ctx, md) > 0 &&
		 EVP_PKEY_verify(ctx, sig, siglen, dg, dlen) == 1;

	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static int verify_pss(EVP_PKEY *pub, const EVP_MD *md, int salt, const uint8_t *dg, size_t dlen,
		      const uint8_t *sig, size_t siglen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
	int ok = ctx != NULL && EVP_PKEY_verify_init(ctx) > 0 &&
		 EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) > 0 &&
		 EVP_PKEY_CTX_set_signature_md(ctx, md) > 0 &&
		 EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) > 0 &&
		 EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, salt) > 0 &&
		 EVP_PKEY_verify(ctx, sig, siglen, dg, dlen) == 1;

	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static int verify_ecdsa(EVP_PKEY *pub, const uint8_t *dg, size_t dlen, const uint8_t *sig,
			size_t siglen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
	int ok = ctx != NULL && EVP_PKEY_verify_init(ctx) > 0 &&
		 EVP_PKEY_verify(ctx, sig, siglen, dg, dlen) == 1;

	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static void digest(const EVP_MD *md, const char *msg, uint8_t *out, size_t *len)
{
	unsigned int l = 0;

	assert_int_equal(EVP_Digest(msg, strlen(msg), out, &l, md, NULL), 1);
	*len = l;
}

/* ---- raw PKCS#11 access, to look at what hsm.c created ---- */

static CK_FUNCTION_LIST_PTR p11(void)
{
	static CK_FUNCTION_LIST_PTR f;
	CK_C_GetFunctionList getfl;
	void *dl;

	if (f != NULL)
		return f;
	/* Same path: the module hsm.c loaded and initialized. */
	dl = dlopen(testlib_module(), RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(dl);
	*(void **)&getfl = dlsym(dl, "C_GetFunctionList");
	assert_non_null(getfl);
	assert_int_equal(getfl(&f), CKR_OK);
	dlclose(dl);
	return f;
}

static CK_SESSION_HANDLE p11_session(void)
{
	CK_FUNCTION_LIST_PTR f = p11();
	CK_SLOT_ID slots[16];
	CK_ULONG n = 16;
	CK_TOKEN_INFO ti;
	CK_SESSION_HANDLE s;

	assert_int_equal(f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	for (CK_ULONG i = 0; i < n; i++) {
		assert_int_equal(f->C_GetTokenInfo(slots[i], &ti), CKR_OK);
		if (memcmp(ti.label, TOKEN_LABEL, strlen(TOKEN_LABEL)) == 0) {
			assert_int_equal(
			    f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
			return s; /* logged in: the login state is per application */
		}
	}
	fail_msg("token not found");
	return 0;
}

static CK_OBJECT_HANDLE p11_find(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *id)
{
	CK_FUNCTION_LIST_PTR f = p11();
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_ID, (void *)id, strlen(id)}};
	CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
	CK_ULONG n = 0;

	assert_int_equal(f->C_FindObjectsInit(s, t, 2), CKR_OK);
	assert_int_equal(f->C_FindObjects(s, &o, 1, &n), CKR_OK);
	assert_int_equal(f->C_FindObjectsFinal(s), CKR_OK);
	return n == 1 ? o : CK_INVALID_HANDLE;
}

/* ---- tests ---- */

static void test_open_errors(void **state)
{
	hsm_config cfg = {0};
	hsm *h = NULL;

	cfg.module_path = testlib_module();
	cfg.token_label = "no-such-token";
	cfg.pin = USER_PIN;
	cfg.pin_len = strlen(USER_PIN);
	cfg.pool_size = 1;
	assert_int_not_equal(hsm_open(&cfg, &h), HSM_OK);
	assert_null(h);
	cfg.module_path = "/nonexistent/module.so";
	cfg.token_label = TOKEN_LABEL;
	assert_int_not_equal(hsm_open(&cfg, &h), HSM_OK);
	assert_null(h);

	/* a second token (SoftHSM offers a new free slot); the login state is
	 * per token, so a wrong PIN is refused there */
	assert_int_equal(hsm_create_token(testlib_module(), "second", SO_PIN, "pin-2"), HSM_OK);
	assert_int_not_equal(hsm_create_token(testlib_module(), "123456789012345678901234567890123",
					      SO_PIN, "pin-3"),
			     HSM_OK); /* label longer than 32 */
	cfg.module_path = testlib_module();
	cfg.token_label = "second";
	cfg.pin = "wrong";
	cfg.pin_len = 5;
	assert_int_not_equal(hsm_open(&cfg, &h), HSM_OK);
	assert_null(h);
	cfg.pin = "pin-2";
	assert_int_equal(hsm_open(&cfg, &h), HSM_OK);
	hsm_close(h);
	/* the first handle still works after the second one closed */
	assert_int_equal(hsm_get_public(H, ID("nothing"), &(EVP_PKEY *){NULL}), HSM_ERR_NOKEY);
}

static void test_generate(void **state)
{
	hsm_key_spec rsa = {KEY_RSA, 2048, 0};
	hsm_key_spec p256 = {KEY_EC, 0, NID_X9_62_prime256v1};
	hsm_key_spec p384 = {KEY_EC, 0, NID_secp384r1};
	hsm_key_spec bad_rsa = {KEY_RSA, 1024, 0};
	hsm_key_spec bad_ec = {KEY_EC, 0, NID_secp224r1};
	EVP_PKEY *p = NULL;

	assert_int_equal(hsm_generate_keypair(H, &rsa, ID("rsa"), "rsa key", &rsa_pub), HSM_OK);
	assert_int_equal(EVP_PKEY_get_base_id(rsa_pub), EVP_PKEY_RSA);
	assert_int_equal(EVP_PKEY_get_bits(rsa_pub), 2048);
	assert_int_equal(hsm_generate_keypair(H, &p256, ID("ec256"), "ec key", &ec256_pub), HSM_OK);
	assert_int_equal(EVP_PKEY_get_base_id(ec256_pub), EVP_PKEY_EC);
	assert_int_equal(EVP_PKEY_get_bits(ec256_pub), 256);
	assert_int_equal(hsm_generate_keypair(H, &p384, ID("ec384"), NULL, &ec384_pub), HSM_OK);
	assert_int_equal(EVP_PKEY_get_bits(ec384_pub), 384);

	/* hsm_get_public reads the same key back */
	assert_int_equal(hsm_get_public(H, ID("ec256"), &p), HSM_OK);
	assert_int_equal(EVP_PKEY_eq(p, ec256_pub), 1);
	EVP_PKEY_free(p);
	assert_int_equal(hsm_get_public(H, ID("rsa"), &p), HSM_OK);
	assert_int_equal(EVP_PKEY_eq(p, rsa_pub), 1);
	EVP_PKEY_free(p);

	/* refused: duplicate id, unsupported sizes */
	p = NULL;
	assert_int_equal(hsm_generate_keypair(H, &p256, ID("rsa"), NULL, &p), HSM_ERR_INPUT);
	assert_null(p);
	assert_int_equal(hsm_generate_keypair(H, &bad_rsa, ID("x1"), NULL, &p), HSM_ERR_INPUT);
	assert_int_equal(hsm_generate_keypair(H, &bad_ec, ID("x2"), NULL, &p), HSM_ERR_INPUT);
	assert_int_equal(hsm_get_public(H, ID("x1"), &p), HSM_ERR_NOKEY);
}

static void test_sign_rsa_pkcs1(void **state)
{
	uint8_t dg[64], di[128], sig[512];
	size_t dlen, dilen, siglen = 0;

	digest(EVP_sha256(), "hello", dg, &dlen);
	assert_int_equal(digestinfo_build(HASH_SHA256, dg, dlen, di, sizeof(di), &dilen), 0);
	assert_int_equal(
	    hsm_sign(H, ID("rsa"), HSM_MECH_RSA_PKCS, NULL, di, dilen, sig, sizeof(sig), &siglen),
	    HSM_OK);
	assert_int_equal(siglen, 256);
	assert_true(verify_pkcs1(rsa_pub, EVP_sha256(), dg, dlen, sig, siglen));
	dg[0] ^= 1;
	assert_false(verify_pkcs1(rsa_pub, EVP_sha256(), dg, dlen, sig, siglen));
	/* buffer too small */
	assert_int_equal(
	    hsm_sign(H, ID("rsa"), HSM_MECH_RSA_PKCS, NULL, di, dilen, sig, 100, &siglen),
	    HSM_ERR_BUFFER);
	/* and the pool is still healthy afterwards */
	assert_int_equal(
	    hsm_sign(H, ID("rsa"), HSM_MECH_RSA_PKCS, NULL, di, dilen, sig, sizeof(sig), &siglen),
	    HSM_OK);
}

static void test_sign_rsa_pss(void **state)
{
	hsm_pss pss = {HASH_SHA256, HASH_SHA256, 32};
	hsm_pss pss384 = {HASH_SHA384, HASH_SHA384, 48};
	uint8_t dg[64], sig[512];
	size_t dlen, siglen = 0;

	digest(EVP_sha256(), "pss message", dg, &dlen);
	assert_int_equal(
	    hsm_sign(H, ID("rsa"), HSM_MECH_RSA_PSS, &pss, dg, dlen, sig, sizeof(sig), &siglen),
	    HSM_OK);
	assert_int_equal(siglen, 256);
	assert_true(verify_pss(rsa_pub, EVP_sha256(), 32, dg, dlen, sig, siglen));
	assert_false(verify_pss(rsa_pub, EVP_sha256(), 20, dg, dlen, sig, siglen));

	digest(EVP_sha384(), "pss message", dg, &dlen);
	assert_int_equal(
	    hsm_sign(H, ID("rsa"), HSM_MECH_RSA_PSS, &pss384, dg, dlen, sig, sizeof(sig), &siglen),
	    HSM_OK);
	assert_true(verify_pss(rsa_pub, EVP_sha384(), 48, dg, dlen, sig, siglen));

	/* no params, wrong digest length */
	assert_int_equal(
	    hsm_sign(H, ID("rsa"), HSM_MECH_RSA_PSS, NULL, dg, 32, sig, sizeof(sig), &siglen),
	    HSM_ERR_INPUT);
	assert_int_equal(
	    hsm_sign(H, ID("rsa"), HSM_MECH_RSA_PSS, &pss, dg, 48, sig, sizeof(sig), &siglen),
	    HSM_ERR_INPUT);
}

static void test_sign_ecdsa(void **state)
{
	uint8_t dg[64], sig[160];
	size_t dlen, siglen = 0;

	digest(EVP_sha256(), "ecdsa", dg, &dlen);
	assert_int_equal(
	    hsm_sign(H, ID("ec256"), HSM_MECH_ECDSA, NULL, dg, dlen, sig, sizeof(sig), &siglen),
	    HSM_OK);
	assert_int_equal(sig[0], 0x30); /* DER */
	assert_true(verify_ecdsa(ec256_pub, dg, dlen, sig, siglen));
	assert_false(verify_ecdsa(ec384_pub, dg, dlen, sig, siglen));
	dg[5] ^= 0x80;
	assert_false(verify_ecdsa(ec256_pub, dg, dlen, sig, siglen));

	digest(EVP_sha384(), "ecdsa", dg, &dlen);
	assert_int_equal(
	    hsm_sign(H, ID("ec384"), HSM_MECH_ECDSA, NULL, dg, dlen, sig, sizeof(sig), &siglen),
	    HSM_OK);
	assert_true(verify_ecdsa(ec384_pub, dg, dlen, sig, siglen));

	/* mechanism not for this key type */
	assert_int_equal(
	    hsm_sign(H, ID("rsa"), HSM_MECH_ECDSA, NULL, dg, dlen, sig, sizeof(sig), &siglen),
	    HSM_ERR_INPUT);
	assert_int_equal(
	    hsm_sign(H, ID("ec256"), HSM_MECH_RSA_PKCS, NULL, dg, dlen, sig, sizeof(sig), &siglen),
	    HSM_ERR_INPUT);
}

static void check_private_attrs(const char *id, CK_ATTRIBUTE_TYPE secret)
{
	CK_FUNCTION_LIST_PTR f = p11();
	CK_SESSION_HANDLE s = p11_session();
	CK_OBJECT_HANDLE o = p11_find(s, CKO_PRIVATE_KEY, id);
	uint8_t buf[1024];
	CK_ATTRIBUTE v = {secret, buf, sizeof(buf)};
	CK_BBOOL sens = 0, extr = 1, dec = 1, unw = 1, der = 1, sign = 0, tok = 0, priv = 0;
	CK_ATTRIBUTE flags[] = {
	    {CKA_SENSITIVE, &sens, 1}, {CKA_EXTRACTABLE, &extr, 1}, {CKA_DECRYPT, &dec, 1},
	    {CKA_UNWRAP, &unw, 1},     {CKA_DERIVE, &der, 1},	    {CKA_SIGN, &sign, 1},
	    {CKA_TOKEN, &tok, 1},      {CKA_PRIVATE, &priv, 1},
	};

	assert_int_not_equal(o, CK_INVALID_HANDLE);
	assert_int_equal(f->C_GetAttributeValue(s, o, &v, 1), CKR_ATTRIBUTE_SENSITIVE);
	assert_int_equal(v.ulValueLen, CK_UNAVAILABLE_INFORMATION);
	assert_int_equal(f->C_GetAttributeValue(s, o, flags, 8), CKR_OK);
	assert_true(sens);
	assert_false(extr);
	assert_false(dec);
	assert_false(unw);
	assert_false(der);
	assert_true(sign);
	assert_true(tok);
	assert_true(priv);
	f->C_CloseSession(s);
}

static void test_private_not_readable(void **state)
{
	check_private_attrs("ec256", CKA_VALUE);
	check_private_attrs("rsa", CKA_PRIVATE_EXPONENT);
}

static void test_destroy(void **state)
{
	hsm_key_spec p256 = {KEY_EC, 0, NID_X9_62_prime256v1};
	uint8_t dg[32] = {1}, sig[160];
	size_t siglen;
	EVP_PKEY *p = NULL;

	assert_int_equal(hsm_generate_keypair(H, &p256, ID("tmp"), "tmp", NULL), HSM_OK);
	/* sign once, so the handle is cached */
	assert_int_equal(
	    hsm_sign(H, ID("tmp"), HSM_MECH_ECDSA, NULL, dg, 32, sig, sizeof(sig), &siglen),
	    HSM_OK);
	assert_int_equal(hsm_destroy_keypair(H, ID("tmp")), HSM_OK);
	assert_int_equal(
	    hsm_sign(H, ID("tmp"), HSM_MECH_ECDSA, NULL, dg, 32, sig, sizeof(sig), &siglen),
	    HSM_ERR_NOKEY);
	assert_int_equal(hsm_get_public(H, ID("tmp"), &p), HSM_ERR_NOKEY);
	assert_int_equal(hsm_destroy_keypair(H, ID("tmp")), HSM_ERR_NOKEY);
	/* and the id can be used again */
	assert_int_equal(hsm_generate_keypair(H, &p256, ID("tmp"), "tmp", &p), HSM_OK);
	assert_int_equal(
	    hsm_sign(H, ID("tmp"), HSM_MECH_ECDSA, NULL, dg, 32, sig, sizeof(sig), &siglen),
	    HSM_OK);
	assert_true(verify_ecdsa(p, dg, 32, sig, siglen));
	EVP_PKEY_free(p);
	assert_int_equal(hsm_destroy_keypair(H, ID("tmp")), HSM_OK);
}

static void test_wrong_id(void **state)
{
	uint8_t dg[32] = {0}, sig[160];
	size_t siglen = 99;

	assert_int_equal(
	    hsm_sign(H, ID("no-such-key"), HSM_MECH_ECDSA, NULL, dg, 32, sig, sizeof(sig), &siglen),
	    HSM_ERR_NOKEY);
	assert_int_equal(siglen, 0);
	assert_null(hsm_pkey_new(H, ID("no-such-key")));
	assert_int_equal(hsm_sign(H, (const uint8_t *)"", 0, HSM_MECH_ECDSA, NULL, dg, 32, sig,
				  sizeof(sig), &siglen),
			 HSM_ERR_INPUT);
}

/* Another process (pkcs11-tool) creates, deletes and re-creates a key
 * while we hold the token open. */
static int p11tool(const char *args)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "pkcs11-tool --module %s --token-label " TOKEN_LABEL " --login --pin " USER_PIN
		 " %s >/dev/null 2>&1",
		 testlib_module(), args);
	return system(cmd);
}

static void test_other_process(void **state)
{
	uint8_t dg[32] = {7}, sig[160];
	size_t siglen;
	EVP_PKEY *p1 = NULL, *p2 = NULL;

	if (access("/usr/bin/pkcs11-tool", X_OK) != 0)
		skip();
	assert_int_equal(
	    hsm_sign(H, ID("ext"), HSM_MECH_ECDSA, NULL, dg, 32, sig, sizeof(sig), &siglen),
	    HSM_ERR_NOKEY);
	assert_int_equal(p11tool("--keypairgen --key-type EC:prime256v1 --id 657874 --label ext"),
			 0);
	/* a miss searches the token again */
	assert_int_equal(
	    hsm_sign(H, ID("ext"), HSM_MECH_ECDSA, NULL, dg, 32, sig, sizeof(sig), &siglen),
	    HSM_OK);
	assert_int_equal(hsm_get_public(H, ID("ext"), &p1), HSM_OK);
	assert_true(verify_ecdsa(p1, dg, 32, sig, siglen));
	/* replaced behind our back: the cached handle is stale */
	assert_int_equal(p11tool("--delete-object --type privkey --id 657874"), 0);
	assert_int_equal(p11tool("--delete-object --type pubkey --id 657874"), 0);
	assert_int_equal(p11tool("--keypairgen --key-type EC:prime256v1 --id 657874 --label ext"),
			 0);
	assert_int_equal(
	    hsm_sign(H, ID("ext"), HSM_MECH_ECDSA, NULL, dg, 32, sig, sizeof(sig), &siglen),
	    HSM_OK);
	assert_int_equal(hsm_get_public(H, ID("ext"), &p2), HSM_OK);
	assert_true(verify_ecdsa(p2, dg, 32, sig, siglen));
	assert_false(verify_ecdsa(p1, dg, 32, sig, siglen));
	EVP_PKEY_free(p1);
	EVP_PKEY_free(p2);
	assert_int_equal(hsm_destroy_keypair(H, ID("ext")), HSM_OK);
}

/* hsm_pkey_new: OpenSSL signs through the HSM. */
static void sign_cert_with(EVP_PKEY *hkey, EVP_PKEY *pub, const EVP_MD *md)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	uint8_t sig[512];
	size_t siglen = sizeof(sig);

	assert_non_null(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"t", -1, -1, 0);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	assert_int_equal(X509_set_pubkey(x, pub), 1);
	assert_true(X509_sign(x, hkey, md) > 0);
	assert_int_equal(X509_verify(x, pub), 1);
	/* EVP_DigestSign with the same key */
	assert_int_equal(EVP_DigestSignInit(mctx, NULL, md, NULL, hkey), 1);
	assert_int_equal(EVP_DigestSign(mctx, sig, &siglen, (const uint8_t *)"abc", 3), 1);
	EVP_MD_CTX_free(mctx);
	mctx = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(mctx, NULL, md, NULL, pub), 1);
	assert_int_equal(EVP_DigestVerify(mctx, sig, siglen, (const uint8_t *)"abc", 3), 1);
	EVP_MD_CTX_free(mctx);
	X509_NAME_free(n);
	X509_free(x);
}

static void test_pkey_new(void **state)
{
	EVP_PKEY *k;

	k = hsm_pkey_new(H, ID("ec384"));
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_eq(k, ec384_pub), 1);
	sign_cert_with(k, ec384_pub, EVP_sha384());
	EVP_PKEY_free(k);

	k = hsm_pkey_new(H, ID("rsa"));
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_get_size(k), 256);
	sign_cert_with(k, rsa_pub, EVP_sha256());
	EVP_PKEY_free(k);
}

typedef struct {
	int ok;
	int n;
} thr_res;

static void *signer_thread(void *arg)
{
	thr_res *r = arg;
	uint8_t dg[32], di[64], sig[512];
	size_t dilen, siglen;

	for (int i = 0; i < 25; i++) {
		RAND_bytes(dg, sizeof(dg));
		if (hsm_sign(H, ID("ec256"), HSM_MECH_ECDSA, NULL, dg, 32, sig, sizeof(sig),
			     &siglen) == HSM_OK &&
		    verify_ecdsa(ec256_pub, dg, 32, sig, siglen))
			r->ok++;
		r->n++;
		if (digestinfo_build(HASH_SHA256, dg, 32, di, sizeof(di), &dilen) == 0 &&
		    hsm_sign(H, ID("rsa"), HSM_MECH_RSA_PKCS, NULL, di, dilen, sig, sizeof(sig),
			     &siglen) == HSM_OK &&
		    verify_pkcs1(rsa_pub, EVP_sha256(), dg, 32, sig, siglen))
			r->ok++;
		r->n++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[4];
	thr_res r[4];

	memset(r, 0, sizeof(r));
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, signer_thread, &r[i]), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(r[i].n, 50);
		assert_int_equal(r[i].ok, 50);
	}
}

/* ---- keyed MACs and counters (PIN verifiers, failure counters) ---- */

static void test_mac(void **state)
{
	uint8_t a[HSM_MAC_LEN], b[HSM_MAC_LEN], c[HSM_MAC_LEN];
	CK_FUNCTION_LIST_PTR f = p11();
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE k;
	CK_BBOOL sens = CK_FALSE, extr = CK_TRUE, enc = CK_TRUE, sign = CK_FALSE;
	uint8_t val[64];
	CK_ATTRIBUTE t[] = {{CKA_SENSITIVE, &sens, sizeof(sens)},
			    {CKA_EXTRACTABLE, &extr, sizeof(extr)},
			    {CKA_ENCRYPT, &enc, sizeof(enc)},
			    {CKA_SIGN, &sign, sizeof(sign)}};
	CK_ATTRIBUTE v = {CKA_VALUE, val, sizeof(val)};

	(void)state;
	assert_int_equal(hsm_mac(H, (const uint8_t *)"cisres-pin:c1\0salt1234", 23, a), HSM_OK);
	assert_int_equal(hsm_mac(H, (const uint8_t *)"cisres-pin:c1\0salt1234", 23, b), HSM_OK);
	assert_memory_equal(a, b, HSM_MAC_LEN); /* a MAC, not a random value */
	assert_int_equal(hsm_mac(H, (const uint8_t *)"cisres-pin:c1\0salt1235", 23, c), HSM_OK);
	assert_memory_not_equal(a, c, HSM_MAC_LEN);
	assert_int_equal(hsm_mac(H, (const uint8_t *)"", 0, c), HSM_ERR_INPUT);
	/* The key: in the token, sensitive, not extractable, MAC only. */
	s = p11_session();
	k = p11_find(s, CKO_SECRET_KEY, HSM_MAC_KEY_ID);
	assert_int_not_equal(k, CK_INVALID_HANDLE);
	assert_int_equal(f->C_GetAttributeValue(s, k, t, 4), CKR_OK);
	assert_true(sens);
	assert_false(extr);
	assert_false(enc);
	assert_true(sign);
	assert_int_equal(f->C_GetAttributeValue(s, k, &v, 1), CKR_ATTRIBUTE_SENSITIVE);
	f->C_CloseSession(s);
}

static int count_cb(const char *name, uint32_t value, void *ctx)
{
	uint32_t *sum = ctx;

	if (strncmp(name, "test:", 5) == 0)
		*sum += value;
	return 0;
}

static void test_counters(void **state)
{
	uint32_t v = 99, sum = 0;
	hsm_config cfg = {0};

	(void)state;
	assert_int_equal(hsm_counter_get(H, "test:a", &v), HSM_OK);
	assert_int_equal(v, 0);
	assert_int_equal(hsm_counter_add(H, "test:a", &v), HSM_OK);
	assert_int_equal(v, 1);
	assert_int_equal(hsm_counter_add(H, "test:a", &v), HSM_OK);
	assert_int_equal(v, 2);
	assert_int_equal(hsm_counter_set(H, "test:b", 7), HSM_OK);
	assert_int_equal(hsm_counter_each(H, count_cb, &sum), HSM_OK);
	assert_int_equal(sum, 9);
	/* Kept in the token: another opening of it sees the same counts. */
	hsm_close(H);
	cfg.module_path = testlib_module();
	cfg.token_label = TOKEN_LABEL;
	cfg.pin = USER_PIN;
	cfg.pin_len = strlen(USER_PIN);
	cfg.pool_size = 2;
	assert_int_equal(hsm_open(&cfg, &H), HSM_OK);
	assert_int_equal(hsm_counter_get(H, "test:a", &v), HSM_OK);
	assert_int_equal(v, 2);
	/* 0 removes. */
	assert_int_equal(hsm_counter_set(H, "test:a", 0), HSM_OK);
	assert_int_equal(hsm_counter_get(H, "test:a", &v), HSM_OK);
	assert_int_equal(v, 0);
	sum = 0;
	assert_int_equal(hsm_counter_each(H, count_cb, &sum), HSM_OK);
	assert_int_equal(sum, 7);
	/* Names are bounded. */
	{
		char big[HSM_COUNTER_NAME_MAX + 1];
		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(hsm_counter_set(H, big, 1), HSM_ERR_INPUT);
		assert_int_equal(hsm_counter_set(H, "", 1), HSM_ERR_INPUT);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_errors),	   cmocka_unit_test(test_generate),
	    cmocka_unit_test(test_sign_rsa_pkcs1), cmocka_unit_test(test_sign_rsa_pss),
	    cmocka_unit_test(test_sign_ecdsa),	   cmocka_unit_test(test_private_not_readable),
	    cmocka_unit_test(test_destroy),	   cmocka_unit_test(test_wrong_id),
	    cmocka_unit_test(test_other_process),  cmocka_unit_test(test_pkey_new),
	    cmocka_unit_test(test_threads),	   cmocka_unit_test(test_mac),
	    cmocka_unit_test(test_counters),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
