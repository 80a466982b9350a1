/* SPDX-License-Identifier: Apache-2.0 */
/* ca.c: bootstrap, reopen, signer / TSA / TLS certificates, with the CA keys
 * in a throw-away SoftHSM token. */
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
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "hsm.h"
#include "testlib.h"

#define TOKEN_LABEL "cisres-test"
#define USER_PIN "user-pin-1234"
#define ORG "Test Org"

static char tmpdir[] = "/tmp/cisres-test-ca-XXXXXX";
static char cadir[256];
static hsm *H;
static ca *C;

static int group_setup(void **state)
{
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
	snprintf(cadir, sizeof(cadir), "%s/state/ca", tmpdir);
	if (ca_bootstrap(H, cadir, ORG) != 0)
		return -1;
	return ca_open(H, cadir, &C);
}

static int group_teardown(void **state)
{
	ca_free(C);
	hsm_close(H);
	testlib_rmtree(tmpdir);
	return 0;
}

/* ---- helpers ---- */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(65536);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, f);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static STACK_OF(X509) * load_pem_certs(const char *path)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *b = BIO_new_file(path, "r");
	X509 *x;

	assert_non_null(b);
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, x);
	ERR_clear_error();
	BIO_free(b);
	return sk;
}

/* Is the extension present, with the given criticality? */
static void check_ext(X509 *x, int nid, int critical)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	assert_true(i >= 0);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x, i)), critical);
}

static void check_cn(X509 *x, const char *want)
{
	char buf[256];

	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf,
					      sizeof(buf)) > 0);
	assert_string_equal(buf, want);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_organizationName, buf,
					      sizeof(buf)) > 0);
	assert_string_equal(buf, ORG);
}

static void check_serial(X509 *x)
{
	const ASN1_INTEGER *s = X509_get0_serialNumber(x);

	assert_int_equal(ASN1_STRING_length(s), 16);
	assert_int_equal(ASN1_STRING_type(s), V_ASN1_INTEGER); /* positive */
}

static int verify_chain(X509 *leaf, int purpose)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	int ok;

	X509_STORE_add_cert(st, ca_root_cert(C));
	sk_X509_push(untrusted, ca_issuing_cert(C));
	assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, untrusted), 1);
	if (purpose != 0)
		X509_STORE_CTX_set_purpose(ctx, purpose);
	ok = X509_verify_cert(ctx);
	if (ok != 1)
		print_message("verify: %s\n",
			      X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	sk_X509_free(untrusted);
	return ok;
}

/* ---- tests ---- */

static void test_files(void **state)
{
	struct stat st;
	STACK_OF(X509) * chain;

	assert_int_equal(stat(cadir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_string_equal(strrchr(ca_root_path(C), '/'), "/root.pem");
	assert_string_equal(strrchr(ca_chain_path(C), '/'), "/chain.pem");
	chain = load_pem_certs(ca_chain_path(C));
	assert_int_equal(sk_X509_num(chain), 2);
	assert_int_equal(X509_cmp(sk_X509_value(chain, 0), ca_issuing_cert(C)), 0);
	assert_int_equal(X509_cmp(sk_X509_value(chain, 1), ca_root_cert(C)), 0);
	sk_X509_pop_free(chain, X509_free);
}

static void test_root_and_issuing(void **state)
{
	X509 *root = ca_root_cert(C), *iss = ca_issuing_cert(C);
	BASIC_CONSTRAINTS *bc;
	const ASN1_OCTET_STRING *ski;
	const ASN1_OCTET_STRING *aki;

	check_cn(root, ORG " Root CA");
	check_cn(iss, ORG " Issuing CA");
	check_serial(root);
	check_serial(iss);
	assert_int_equal(X509_get_signature_nid(root), NID_ecdsa_with_SHA384);
	assert_int_equal(X509_get_signature_nid(iss), NID_ecdsa_with_SHA384);
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(root)), 384);
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(iss)), 384);
	/* root: self-signed CA */
	assert_int_equal(X509_verify(root, X509_get0_pubkey(root)), 1);
	check_ext(root, NID_basic_constraints, 1);
	check_ext(root, NID_key_usage, 1);
	check_ext(root, NID_subject_key_identifier, 0);
	assert_int_equal(X509_get_key_usage(root), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_int_equal(X509_check_ca(root), 1);
	/* issuing: signed by the root, pathlen 0 */
	assert_int_equal(X509_verify(iss, X509_get0_pubkey(root)), 1);
	check_ext(iss, NID_basic_constraints, 1);
	check_ext(iss, NID_key_usage, 1);
	bc = X509_get_ext_d2i(iss, NID_basic_constraints, NULL, NULL);
	assert_non_null(bc);
	assert_true(bc->ca);
	assert_non_null(bc->pathlen);
	assert_int_equal(ASN1_INTEGER_get(bc->pathlen), 0);
	BASIC_CONSTRAINTS_free(bc);
	ski = X509_get0_subject_key_id(root);
	aki = X509_get0_authority_key_id(iss);
	assert_non_null(ski);
	assert_non_null(aki);
	assert_int_equal(ASN1_OCTET_STRING_cmp(ski, aki), 0);
	assert_int_equal(verify_chain(iss, 0), 1);
}

static void test_tsa_cert(void **state)
{
	X509 *t = ca_tsa_cert(C);
	EXTENDED_KEY_USAGE *eku;

	check_cn(t, ORG " TSA");
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(t)), 256);
	check_ext(t, NID_ext_key_usage, 1);
	check_ext(t, NID_key_usage, 1);
	eku = X509_get_ext_d2i(t, NID_ext_key_usage, NULL, NULL);
	assert_int_equal(sk_ASN1_OBJECT_num(eku), 1);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)), NID_time_stamp);
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	assert_int_equal(X509_get_key_usage(t), KU_DIGITAL_SIGNATURE);
	assert_int_equal(verify_chain(t, X509_PURPOSE_TIMESTAMP_SIGN), 1);
	assert_int_equal(EVP_PKEY_eq(ca_tsa_key(C), X509_get0_pubkey(t)), 1);
}

static void test_bootstrap_idempotent(void **state)
{
	size_t l1, l2, l3, l4;
	char *root1 = read_file(ca_root_path(C), &l1);
	char *tsa1, *root2, *tsa2;
	char tsapath[300];
	ca *c2 = NULL;

	snprintf(tsapath, sizeof(tsapath), "%s/tsa.pem", cadir);
	tsa1 = read_file(tsapath, &l3);
	assert_int_equal(ca_bootstrap(H, cadir, ORG), 0);
	root2 = read_file(ca_root_path(C), &l2);
	tsa2 = read_file(tsapath, &l4);
	assert_int_equal(l1, l2);
	assert_memory_equal(root1, root2, l1);
	assert_int_equal(l3, l4);
	assert_memory_equal(tsa1, tsa2, l3);
	/* reopen: same certificates */
	assert_int_equal(ca_open(H, cadir, &c2), 0);
	assert_int_equal(X509_cmp(ca_root_cert(c2), ca_root_cert(C)), 0);
	assert_int_equal(X509_cmp(ca_tsa_cert(c2), ca_tsa_cert(C)), 0);
	ca_free(c2);
	free(root1);
	free(root2);
	free(tsa1);
	free(tsa2);
}

static void test_missing_tsa_recreated(void **state)
{
	char dir[300], path[320];
	ca *c2 = NULL;

	/* a second CA directory on the same HSM: keys are reused */
	snprintf(dir, sizeof(dir), "%s/other", tmpdir);
	assert_int_equal(ca_bootstrap(H, dir, "Other"), 0);
	snprintf(path, sizeof(path), "%s/tsa.pem", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(ca_open(H, dir, &c2), -1);
	assert_null(c2);
	assert_int_equal(ca_bootstrap(H, dir, "Other"), 0);
	assert_int_equal(ca_open(H, dir, &c2), 0);
	check_ext(ca_tsa_cert(c2), NID_ext_key_usage, 1);
	ca_free(c2);
	/* bad organization */
	assert_int_equal(ca_bootstrap(H, dir, ""), -1);
}

static X509 *issue(EVP_PKEY *pub, const char *cn, const char *email, int days)
{
	uint8_t *der = NULL;
	size_t len = 0;
	const unsigned char *p;
	X509 *x;

	assert_int_equal(ca_issue_signer(C, pub, cn, email, days, &der, &len), 0);
	p = der;
	x = d2i_X509(NULL, &p, (long)len);
	assert_non_null(x);
	assert_ptr_equal(p, der + len);
	free(der);
	return x;
}

static void check_signer(X509 *x, EVP_PKEY *pub)
{
	EXTENDED_KEY_USAGE *eku;
	int found = 0;

	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), pub), 1);
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA384);
	assert_int_equal(verify_chain(x, 0), 1);
	check_serial(x);
	check_ext(x, NID_key_usage, 1);
	check_ext(x, NID_ext_key_usage, 0);
	check_ext(x, NID_basic_constraints, 0);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION);
	assert_int_equal(X509_check_ca(x), 0);
	eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
		int nid = OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i));

		found |= nid == NID_client_auth	    ? 1
			 : nid == NID_email_protect ? 2
			 : nid == NID_code_sign	    ? 4
						    : 8;
	}
	assert_int_equal(found, 7);
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	assert_non_null(X509_get0_subject_key_id(x));
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x),
					       X509_get0_subject_key_id(ca_issuing_cert(C))),
			 0);
	/* valid now, not after the issuing CA */
	assert_true(X509_cmp_current_time(X509_get0_notBefore(x)) < 0);
	assert_true(
	    ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(ca_issuing_cert(C))) <= 0);
}

static void test_issue_signer(void **state)
{
	hsm_key_spec ec = {KEY_EC, 0, NID_X9_62_prime256v1};
	hsm_key_spec rsa = {KEY_RSA, 2048, 0};
	EVP_PKEY *pub = NULL;
	X509 *x;
	char buf[256];
	int days;

	assert_int_equal(hsm_generate_keypair(H, &ec, (const uint8_t *)"u1", 2, "u1", &pub),
			 HSM_OK);
	x = issue(pub, "Alice Example", "alice@example.com", 365);
	check_signer(x, pub);
	check_cn(x, "Alice Example");
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_pkcs9_emailAddress, buf,
					      sizeof(buf)) > 0);
	assert_string_equal(buf, "alice@example.com");
	assert_int_equal(X509_check_email(x, "alice@example.com", 0, 0), 1);
	assert_int_equal(
	    ASN1_TIME_diff(&days, &(int){0}, X509_get0_notBefore(x), X509_get0_notAfter(x)), 1);
	assert_int_equal(days, 365);
	X509_free(x);
	EVP_PKEY_free(pub);

	assert_int_equal(hsm_generate_keypair(H, &rsa, (const uint8_t *)"u2", 2, "u2", &pub),
			 HSM_OK);
	x = issue(pub, "Bob \xc8\x98tefan", NULL, 30); /* UTF-8 */
	check_signer(x, pub);
	assert_int_equal(
	    X509_NAME_get_index_by_NID(X509_get_subject_name(x), NID_pkcs9_emailAddress, -1), -1);
	X509_free(x);
	/* a very long validity is capped at the issuing CA's */
	x = issue(pub, "Bob", NULL, 3650);
	assert_true(
	    ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(ca_issuing_cert(C))) <= 0);
	X509_free(x);

	/* rejected input */
	{
		uint8_t *der = NULL;
		size_t len = 0;
		char longcn[80];

		memset(longcn, 'a', sizeof(longcn) - 1);
		longcn[sizeof(longcn) - 1] = '\0';
		assert_int_equal(ca_issue_signer(C, pub, "", NULL, 30, &der, &len), -1);
		assert_int_equal(ca_issue_signer(C, pub, longcn, NULL, 30, &der, &len), -1);
		assert_int_equal(ca_issue_signer(C, pub, "x", NULL, 0, &der, &len), -1);
		assert_int_equal(ca_issue_signer(C, pub, "x", "no-at-sign", 30, &der, &len), -1);
		assert_int_equal(ca_issue_signer(C, pub, "x", "a,b@example.com", 30, &der, &len),
				 -1);
		assert_null(der);
	}
	EVP_PKEY_free(pub);
}

static void test_tls_server(void **state)
{
	char cert[300], key[300];
	struct stat st;
	STACK_OF(X509) * chain;
	X509 *leaf;
	EVP_PKEY *pk;
	BIO *b;
	GENERAL_NAMES *gens;
	int ndns = 0, nip = 0;

	snprintf(cert, sizeof(cert), "%s/state/tls/server.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/state/tls/server.key", tmpdir);
	assert_int_equal(
	    ca_issue_tls_server(C, "localhost, 127.0.0.1,::1,sign.example.org", cert, key), 0);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	chain = load_pem_certs(cert);
	assert_int_equal(sk_X509_num(chain), 3);
	leaf = sk_X509_value(chain, 0);
	assert_int_equal(X509_cmp(sk_X509_value(chain, 1), ca_issuing_cert(C)), 0);
	assert_int_equal(X509_cmp(sk_X509_value(chain, 2), ca_root_cert(C)), 0);
	b = BIO_new_file(key, "r");
	pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(pk);
	assert_int_equal(X509_check_private_key(leaf, pk), 1);
	assert_int_equal(EVP_PKEY_get_bits(pk), 256);
	EVP_PKEY_free(pk);
	check_cn(leaf, "localhost");
	assert_int_equal(verify_chain(leaf, X509_PURPOSE_SSL_SERVER), 1);
	assert_int_equal(X509_check_host(leaf, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(leaf, "sign.example.org", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(leaf, "other.example.org", 0, 0, NULL), 0);
	assert_int_equal(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(leaf, "::1", 0), 1);
	assert_int_equal(X509_check_ip_asc(leaf, "127.0.0.2", 0), 0);
	gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		int type = sk_GENERAL_NAME_value(gens, i)->type;

		ndns += type == GEN_DNS;
		nip += type == GEN_IPADD;
	}
	assert_int_equal(ndns, 2);
	assert_int_equal(nip, 2);
	GENERAL_NAMES_free(gens);
	sk_X509_pop_free(chain, X509_free);

	/* bad lists */
	assert_int_equal(ca_issue_tls_server(C, "", cert, key), -1);
	assert_int_equal(ca_issue_tls_server(C, "a b", cert, key), -1);
	assert_int_equal(ca_issue_tls_server(C, "localhost,,x", cert, key), -1);
	assert_int_equal(ca_issue_tls_server(C, "host/evil", cert, key), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_files),
	    cmocka_unit_test(test_root_and_issuing),
	    cmocka_unit_test(test_tsa_cert),
	    cmocka_unit_test(test_bootstrap_idempotent),
	    cmocka_unit_test(test_missing_tsa_recreated),
	    cmocka_unit_test(test_issue_signer),
	    cmocka_unit_test(test_tls_server),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
