/* SPDX-License-Identifier: Apache-2.0 */
/* One long-lived PKCS#11 application across a server restart: driven by
 * tests/integration/test_module_offline.sh, which starts it with
 *   CISRES_P11_MODULE=<cisres-pkcs11.so> CISRES_TEST_PIN=<pin>
 *   CISRES_TEST_SYNC=<directory>
 * It signs (ECDSA-SHA256, verified against the token's certificate), tells
 * the script ("ready"), waits for "down" (server stopped): the token info and
 * the objects still answer, signing fails with CKR_DEVICE_ERROR; then it tells
 * "checked", waits for "up" (server restarted) and signs again in the same
 * process, same session, without logging in again. Without the environment
 * (plain ctest run) the test is skipped: it needs the real server. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

#include "ecdsa_sig.h"

static CK_FUNCTION_LIST_PTR p11;
static const char *sync_dir;

static void sync_put(const char *name)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", sync_dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
}

static void sync_wait(const char *name)
{
	char path[1024];
	int i;

	snprintf(path, sizeof(path), "%s/%s", sync_dir, name);
	for (i = 0; i < 1200; i++) {
		if (access(path, F_OK) == 0)
			return;
		usleep(100 * 1000);
	}
	fail_msg("timed out waiting for %s", path);
}

static CK_OBJECT_HANDLE find_one(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const CK_BYTE *id,
				 CK_ULONG id_len)
{
	CK_KEY_TYPE kt = CKK_EC;
	CK_ATTRIBUTE tmpl[3] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &kt, sizeof(kt)},
	    {CKA_ID, (void *)id, id_len},
	};
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	CK_ULONG n = 0;

	if (id != NULL) {
		tmpl[1] = tmpl[2];
	}
	assert_int_equal(p11->C_FindObjectsInit(s, tmpl, 2), CKR_OK);
	assert_int_equal(p11->C_FindObjects(s, &h, 1, &n), CKR_OK);
	assert_int_equal(p11->C_FindObjectsFinal(s), CKR_OK);
	assert_int_equal(n, 1);
	return h;
}

/* ECDSA-SHA256 over data with key; verify with the certificate cert_der. */
static CK_RV sign_and_verify(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const uint8_t *cert_der,
			     size_t cert_len)
{
	static const CK_BYTE data[] = "one process, two server lives";
	CK_MECHANISM mech = {CKM_ECDSA_SHA256, NULL, 0};
	CK_BYTE sig[132];
	CK_ULONG sig_len = sizeof(sig);
	uint8_t *der = NULL;
	size_t der_len = 0;
	const unsigned char *p = cert_der;
	X509 *x;
	EVP_PKEY *pk;
	EVP_MD_CTX *md;
	CK_RV rv;

	rv = p11->C_SignInit(s, &mech, key);
	if (rv != CKR_OK)
		return rv;
	rv = p11->C_Sign(s, (CK_BYTE_PTR)data, sizeof(data) - 1, sig, &sig_len);
	if (rv != CKR_OK)
		return rv;
	assert_int_equal(sig_len, 64);
	assert_int_equal(ecdsa_raw_to_der(sig, sig_len, &der, &der_len), 0);
	x = d2i_X509(NULL, &p, (long)cert_len);
	assert_non_null(x);
	pk = X509_get0_pubkey(x);
	assert_non_null(pk);
	md = EVP_MD_CTX_new();
	assert_non_null(md);
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk), 1);
	assert_int_equal(EVP_DigestVerify(md, der, der_len, data, sizeof(data) - 1), 1);
	EVP_MD_CTX_free(md);
	X509_free(x);
	free(der);
	return CKR_OK;
}

static void test_restart(void **state)
{
	const char *module = getenv("CISRES_P11_MODULE");
	const char *pin = getenv("CISRES_TEST_PIN");
	CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
	CK_SLOT_ID slots[8];
	CK_ULONG n_slots = 8;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE key, cert;
	CK_TOKEN_INFO ti;
	CK_BYTE id[256], cert_der[8192];
	CK_ATTRIBUTE a_id = {CKA_ID, id, sizeof(id)};
	CK_ATTRIBUTE a_val = {CKA_VALUE, cert_der, sizeof(cert_der)};
	void *dl;
	(void)state;

	sync_dir = getenv("CISRES_TEST_SYNC");
	if (module == NULL || pin == NULL || sync_dir == NULL) {
		skip(); /* needs the real server: run by test_module_offline.sh */
		return;
	}
	dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(dl);
	*(void **)&get_list = dlsym(dl, "C_GetFunctionList");
	assert_non_null(get_list);
	assert_int_equal(get_list(&p11), CKR_OK);
	assert_int_equal(p11->C_Initialize(NULL), CKR_OK);
	assert_int_equal(p11->C_GetSlotList(CK_TRUE, slots, &n_slots), CKR_OK);
	assert_true(n_slots >= 1);
	assert_int_equal(
	    p11->C_OpenSession(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s),
	    CKR_OK);
	assert_int_equal(p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_OK);
	key = find_one(s, CKO_PRIVATE_KEY, NULL, 0);
	assert_int_equal(p11->C_GetAttributeValue(s, key, &a_id, 1), CKR_OK);
	cert = find_one(s, CKO_CERTIFICATE, id, a_id.ulValueLen);
	assert_int_equal(p11->C_GetAttributeValue(s, cert, &a_val, 1), CKR_OK);

	/* 1. online */
	assert_int_equal(sign_and_verify(s, key, cert_der, a_val.ulValueLen), CKR_OK);
	sync_put("ready");

	/* 2. the server is down: everything local still answers */
	sync_wait("down");
	assert_int_equal(p11->C_GetTokenInfo(slots[0], &ti), CKR_OK);
	assert_int_equal(sign_and_verify(s, key, cert_der, a_val.ulValueLen), CKR_DEVICE_ERROR);
	a_val.ulValueLen = sizeof(cert_der);
	assert_int_equal(p11->C_GetAttributeValue(s, cert, &a_val, 1), CKR_OK);
	sync_put("checked");

	/* 3. the server is back: same process, same session, same handles */
	sync_wait("up");
	assert_int_equal(sign_and_verify(s, key, cert_der, a_val.ulValueLen), CKR_OK);
	assert_int_equal(sign_and_verify(s, key, cert_der, a_val.ulValueLen), CKR_OK);

	assert_int_equal(p11->C_Logout(s), CKR_OK);
	assert_int_equal(p11->C_CloseSession(s), CKR_OK);
	assert_int_equal(p11->C_Finalize(NULL), CKR_OK);
	sync_put("done");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_restart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
