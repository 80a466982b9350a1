/* SPDX-License-Identifier: Apache-2.0 */
/* Security requirements T10-T16 of standards.md §7, tested straight at the
 * SAM C interface (sam.h) and at the HSM through raw PKCS#11, with the REST
 * layer bypassed. A throw-away SoftHSM token holds the keys; the store and
 * the token live in one state directory that T12 scans whole.
 *
 * T10 sign without a valid SAD; a second PKCS#11 application without the
 *     PIN cannot see or use the private keys
 * T11 signer keys are not extractable and can only sign
 * T12 no private key encoding anywhere in the state directory
 * T13 keygen returns only the public key; certificate key == HSM key;
 *     key bound to the credential and its signer
 * T14 key destruction: sign refused, objects gone, audited
 * T15 operator interface: no secret in any result, an admin connection
 *     cannot authorize or sign
 * T16 audit completeness for a scripted scenario */
#include <dlfcn.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

#include "audit.h"
#include "hsm.h"
#include "kdf.h"
#include "policy.h"
#include "sam.h"
#include "sam_client.h"
#include "sam_proto.h"
#include "sam_server.h"
#include "secmem.h"
#include "store.h"
#include "totp.h"
#include "testlib.h"

#define TOKEN_LABEL "cisres-sec-test"
#define SO_PIN "so-pin-0000"
#define USER_PIN "hsm-user-pin-7Qz"
#define PIN "2468"
#define WRONG_PIN "1357"
#define PASSWORD "carol-Password-1"
#define THRESHOLD 5

static char tmpdir[] = "/tmp/cisres-test-samsec-XXXXXX";
static char store_uri[256];
static time_t g_now = 1750000000;
static const uint8_t otp_seed[20] = "12345678901234567890";

static time_t fake_now(void)
{
	return g_now;
}

static struct {
	hsm *h;
	store *s;
	policy pol;
	sam *m;
	int64_t alice, bob;
	EVP_PKEY *ca_key;
} G;

/* ---- fixture ---- */

/* A signer with a real password verifier and a TOTP seed sealed by the SAM
 * (the enrolment path of cisres-admin user add). */
static int64_t mkuser(const char *name)
{
	store_user u;

	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", name);
	if (kdf_hash(PASSWORD, strlen(PASSWORD), G.pol.kdf_log_n, u.pw_hash, sizeof(u.pw_hash)) !=
	    0)
		return -1;
	u.created = g_now;
	if (store_user_add(G.s, &u) != STORE_OK)
		return -1;
	if (sam_user_set_otp(G.m, u.id, otp_seed, sizeof(otp_seed), "admin:test") != SAM_OK)
		return -1;
	return u.id;
}

static int group_setup(void **state)
{
	hsm_config cfg = {0};
	sam_deps d;

	(void)state;
	if (testlib_softhsm(tmpdir) != 0)
		return -1;
	if (hsm_create_token(testlib_module(), TOKEN_LABEL, SO_PIN, USER_PIN) != HSM_OK)
		return -1;
	cfg.module_path = testlib_module();
	cfg.token_label = TOKEN_LABEL;
	cfg.pin = USER_PIN;
	cfg.pin_len = strlen(USER_PIN);
	cfg.pool_size = 4;
	if (hsm_open(&cfg, &G.h) != HSM_OK)
		return -1;

	snprintf(store_uri, sizeof(store_uri), "sqlite:%s/cisres.db", tmpdir);
	if (store_open(store_uri, &G.s) != STORE_OK)
		return -1;
	policy_defaults(&G.pol);
	G.pol.kdf_log_n = 10;
	G.pol.lockout_threshold = THRESHOLD;
	G.pol.now = fake_now;
	d.hsm = G.h;
	d.store = G.s;
	d.policy = &G.pol;
	if (sam_new(&d, &G.m) != 0)
		return -1;
	sam_set_strict(G.m, true);
	G.alice = mkuser("alice");
	G.bob = mkuser("bob");
	G.ca_key = EVP_EC_gen("P-256");
	return G.alice > 0 && G.bob > 0 && G.ca_key != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	sam_free(G.m);
	store_close(G.s);
	hsm_close(G.h);
	EVP_PKEY_free(G.ca_key);
	testlib_rmtree(tmpdir);
	return 0;
}

/* ---- credentials, factors, SADs ---- */

typedef struct {
	char id[STORE_CRED_ID_MAX];
	EVP_PKEY *pub;
	uint8_t kid[32]; /* CKA_ID in the HSM */
	size_t kid_len;
} cred;

static void make_cert(EVP_PKEY *pub, uint8_t **der, size_t *len)
{
	X509 *x = X509_new();
	X509_NAME *n;
	int l;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(g_now & 0x7fffffff));
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"Test Signer", -1,
				   -1, 0);
	X509_set_issuer_name(x, n);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), g_now - 86400));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), g_now + 365L * 86400));
	assert_int_equal(X509_set_pubkey(x, pub), 1);
	assert_true(X509_sign(x, G.ca_key, EVP_sha256()) > 0);
	*der = NULL;
	l = i2d_X509(x, der);
	assert_true(l > 0);
	*len = (size_t)l;
	X509_free(x);
}

static void mkcred(cred *c, int64_t user, key_kind kind, int curve_nid, int multisign)
{
	sam_keygen_req kr;
	sam_keygen_res res;
	store_credential sc;
	uint8_t *der;
	size_t len;

	memset(c, 0, sizeof(*c));
	memset(&kr, 0, sizeof(kr));
	kr.user_id = user;
	kr.kind = kind;
	kr.bits = 2048;
	kr.curve_nid = curve_nid;
	kr.scal = 2;
	kr.auth_otp = true;
	kr.multisign = multisign;
	kr.pin = PIN;
	kr.pin_len = strlen(PIN);
	kr.description = "security test";
	kr.actor = "admin:test";
	assert_int_equal(sam_keygen(G.m, &kr, &res), SAM_OK);
	assert_non_null(res.pub);
	memcpy(c->id, res.credential_id, sizeof(c->id));
	c->pub = res.pub;
	make_cert(c->pub, &der, &len);
	assert_int_equal(sam_key_set_cert(G.m, c->id, der, len, "admin:test"), SAM_OK);
	OPENSSL_free(der);
	memset(&sc, 0, sizeof(sc));
	assert_int_equal(store_cred_get(G.s, c->id, &sc), STORE_OK);
	assert_true(sc.key_id_len > 0 && sc.key_id_len <= sizeof(c->kid));
	memcpy(c->kid, sc.key_id, sc.key_id_len);
	c->kid_len = sc.key_id_len;
	store_credential_clear(&sc);
}

static void cred_free(cred *c)
{
	EVP_PKEY_free(c->pub);
	c->pub = NULL;
}

/* A fresh OTP: the clock moves to the next step, the code is for it. */
static void next_otp(char out[7])
{
	g_now += TOTP_STEP;
	snprintf(out, 7, "%06u",
		 totp_hotp(otp_seed, sizeof(otp_seed), (uint64_t)g_now / TOTP_STEP, TOTP_DIGITS));
}

static void rand_hash(sam_hash *h)
{
	h->len = 32;
	assert_int_equal(RAND_bytes(h->v, 32), 1);
}

static sam_status authorize_pin(const cred *c, int64_t user, int n, const sam_hash *hs, size_t nh,
				const char *pin, char sad[SAM_SAD_MAX])
{
	sam_authorize_req r;
	sam_authorize_res res;
	char otp[7];

	next_otp(otp);
	memset(&r, 0, sizeof(r));
	r.user_id = user;
	memcpy(r.credential_id, c->id, sizeof(r.credential_id));
	r.num_signatures = n;
	r.hash = HASH_SHA256;
	r.hashes = hs;
	r.n_hashes = nh;
	r.pin = pin;
	r.pin_len = strlen(pin);
	r.otp = otp;
	r.otp_len = strlen(otp);
	sam_authorize(G.m, &r, &res);
	if (sad != NULL)
		memcpy(sad, res.sad, SAM_SAD_MAX);
	if (res.status != SAM_OK)
		assert_string_equal(res.sad, "");
	return res.status;
}

static void authorize_ok(const cred *c, int64_t user, int n, const sam_hash *hs, size_t nh,
			 char sad[SAM_SAD_MAX])
{
	assert_int_equal(authorize_pin(c, user, n, hs, nh, PIN, sad), SAM_OK);
	assert_int_equal(strlen(sad), 43);
}

/* sam_sign with a SAD given as bytes (may be NULL); a refusal must come
 * with no signature at all. */
static sam_status sign_raw(const cred *c, int64_t user, const char *sad, size_t sadlen,
			   const sam_hash *hs, size_t nh, sam_sign_res *res)
{
	sam_sign_req r;
	sam_status st;

	memset(&r, 0, sizeof(r));
	r.user_id = user;
	memcpy(r.credential_id, c->id, sizeof(r.credential_id));
	r.sad = sad;
	r.sad_len = sadlen;
	r.algo = EVP_PKEY_get_base_id(c->pub) == EVP_PKEY_EC ? SIG_ECDSA_SHA256 : SIG_RSA_SHA256;
	r.hash = HASH_SHA256;
	r.pss_mgf_hash = HASH_SHA256;
	r.pss_salt_len = 32;
	r.hashes = hs;
	r.n_hashes = nh;
	st = sam_sign(G.m, &r, res);
	assert_int_equal(res->status, st);
	if (st != SAM_OK) {
		assert_int_equal(res->n, 0);
		assert_null(res->sigs);
		assert_null(res->lens);
	}
	return st;
}

static sam_status sign(const cred *c, int64_t user, const char *sad, const sam_hash *hs, size_t nh,
		       sam_sign_res *res)
{
	return sign_raw(c, user, sad, strlen(sad), hs, nh, res);
}

static bool verify(EVP_PKEY *pub, const sam_hash *h, const uint8_t *sig, size_t siglen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
	bool ok = ctx != NULL && EVP_PKEY_verify_init(ctx) > 0;

	if (ok && EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA)
		ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 &&
		     EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) > 0;
	ok = ok && EVP_PKEY_verify(ctx, sig, siglen, h->v, h->len) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

/* ---- the audit log ---- */

typedef struct {
	const char *action, *outcome, *actor, *object, *needle;
	int n;
} audit_q;

static int audit_q_cb(const store_audit *r, void *ctx)
{
	audit_q *q = ctx;

	if (strcmp(r->action, q->action) == 0 &&
	    (q->outcome == NULL || strcmp(r->outcome, q->outcome) == 0) &&
	    (q->actor == NULL || strcmp(r->actor, q->actor) == 0) &&
	    (q->object == NULL || strcmp(r->object, q->object) == 0) &&
	    (q->needle == NULL || (r->detail != NULL && strstr(r->detail, q->needle) != NULL)))
		q->n++;
	return 0;
}

/* Records with this action (and outcome, actor, object, detail substring
 * when not NULL). */
static int audit_count(const char *action, const char *outcome, const char *actor,
		       const char *object, const char *needle)
{
	audit_q q = {action, outcome, actor, object, needle, 0};

	assert_int_equal(store_audit_iter(G.s, 1, audit_q_cb, &q), STORE_OK);
	return q.n;
}

static void cred_object(const cred *c, char *out, size_t cap)
{
	snprintf(out, cap, "credential:%s", c->id);
}

/* ---- raw PKCS#11 on the same token ---- */

static CK_FUNCTION_LIST_PTR p11(void)
{
	static CK_FUNCTION_LIST_PTR f;
	CK_C_GetFunctionList getfl;
	void *dl;

	if (f != NULL)
		return f;
	/* The module hsm.c loaded and initialized: the login state is per
	 * application, so sessions opened here are logged in (USER_PIN). */
	dl = dlopen(testlib_module(), RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(dl);
	*(void **)&getfl = dlsym(dl, "C_GetFunctionList");
	assert_non_null(getfl);
	assert_int_equal(getfl(&f), CKR_OK);
	dlclose(dl);
	return f;
}

static bool p11_find_slot(CK_FUNCTION_LIST_PTR f, CK_SLOT_ID *slot)
{
	CK_SLOT_ID slots[16];
	CK_ULONG n = 16;
	CK_TOKEN_INFO ti;
	char label[33];

	if (f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		return false;
	memset(label, ' ', 32);
	memcpy(label, TOKEN_LABEL, strlen(TOKEN_LABEL));
	for (CK_ULONG i = 0; i < n; i++) {
		if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
		    memcmp(ti.label, label, 32) == 0) {
			*slot = slots[i];
			return true;
		}
	}
	return false;
}

static CK_SESSION_HANDLE p11_session(void)
{
	CK_FUNCTION_LIST_PTR f = p11();
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s;
	CK_SESSION_INFO si;
	CK_RV rv;

	assert_true(p11_find_slot(f, &slot));
	assert_int_equal(
	    f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s), CKR_OK);
	rv = f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN));
	assert_true(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
	assert_int_equal(f->C_GetSessionInfo(s, &si), CKR_OK);
	assert_int_equal(si.state, CKS_RW_USER_FUNCTIONS);
	return s;
}

/* Objects of class cls with CKA_ID = id (id NULL: every object of cls). */
static CK_ULONG p11_find_in(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
			    const uint8_t *id, size_t idlen, CK_OBJECT_HANDLE *out, CK_ULONG max)
{
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_ID, (void *)id, idlen}};
	CK_ULONG n = 0;

	if (f->C_FindObjectsInit(s, t, id != NULL ? 2 : 1) != CKR_OK)
		return (CK_ULONG)-1;
	if (f->C_FindObjects(s, out, max, &n) != CKR_OK)
		n = (CK_ULONG)-1;
	(void)f->C_FindObjectsFinal(s);
	return n;
}

static CK_OBJECT_HANDLE p11_find(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const cred *c)
{
	CK_OBJECT_HANDLE o[2] = {CK_INVALID_HANDLE, CK_INVALID_HANDLE};
	CK_ULONG n = p11_find_in(p11(), s, cls, c->kid, c->kid_len, o, 2);

	assert_true(n == 0 || n == 1);
	return n == 1 ? o[0] : CK_INVALID_HANDLE;
}

static CK_BBOOL p11_bool(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t)
{
	CK_BBOOL v = 0xaa;
	CK_ATTRIBUTE a = {t, &v, sizeof(v)};

	assert_int_equal(p11()->C_GetAttributeValue(s, o, &a, 1), CKR_OK);
	assert_true(v == CK_TRUE || v == CK_FALSE);
	return v;
}

/* An attribute's value (malloc'd, *len bytes). */
static uint8_t *p11_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, size_t *len)
{
	CK_ATTRIBUTE a = {t, NULL, 0};
	uint8_t *v;

	assert_int_equal(p11()->C_GetAttributeValue(s, o, &a, 1), CKR_OK);
	assert_true(a.ulValueLen > 0 && a.ulValueLen < 4096);
	v = malloc(a.ulValueLen);
	assert_non_null(v);
	a.pValue = v;
	assert_int_equal(p11()->C_GetAttributeValue(s, o, &a, 1), CKR_OK);
	*len = a.ulValueLen;
	return v;
}

/* ---- T10: no signature without a valid SAD ---- */

static void test_t10_sign_without_sad(void **state)
{
	cred c, other;
	sam_hash h, h2;
	sam_sign_res res;
	char sad[SAM_SAD_MAX], osad[SAM_SAD_MAX], fake[SAM_SAD_MAX], obj[96];
	char longsad[SAM_SAD_MAX + 8];
	uint8_t rnd[32];
	int ok_before, fail_before;
	static const char b64u[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	(void)state;
	mkcred(&c, G.alice, KEY_EC, NID_X9_62_prime256v1, 5);
	mkcred(&other, G.alice, KEY_EC, NID_X9_62_prime256v1, 5);
	cred_object(&c, obj, sizeof(obj));
	rand_hash(&h);
	rand_hash(&h2);
	ok_before = audit_count("sign", "success", NULL, obj, NULL);
	fail_before = audit_count("sign", "failure", NULL, obj, NULL);

	/* No SAD at all, and an empty one. */
	assert_int_equal(sign_raw(&c, G.alice, NULL, 0, &h, 1, &res), SAM_E_SAD);
	assert_int_equal(sign_raw(&c, G.alice, "", 0, &h, 1, &res), SAM_E_SAD);
	/* A length that cannot be a SAD. */
	memset(longsad, 'A', sizeof(longsad));
	assert_int_equal(sign_raw(&c, G.alice, longsad, sizeof(longsad), &h, 1, &res), SAM_E_SAD);
	/* A random, well-formed SAD (43 base64url characters, as issued). */
	assert_int_equal(RAND_bytes(rnd, sizeof(rnd)), 1);
	for (size_t i = 0; i < 43; i++)
		fake[i] = b64u[rnd[i % sizeof(rnd)] & 63];
	fake[43] = '\0';
	assert_int_equal(sign(&c, G.alice, fake, &h, 1, &res), SAM_E_SAD);
	/* A live SAD of another credential of the same signer, for this hash. */
	authorize_ok(&other, G.alice, 1, &h, 1, osad);
	assert_int_equal(sign(&c, G.alice, osad, &h, 1, &res), SAM_E_SAD);
	/* A live SAD of this credential presented by another signer. */
	authorize_ok(&c, G.alice, 1, &h, 1, sad);
	{
		cred as_bob = c;
		assert_int_not_equal(sign(&as_bob, G.bob, sad, &h, 1, &res), SAM_OK);
	}
	/* One character changed. */
	memcpy(fake, sad, SAM_SAD_MAX);
	fake[10] = fake[10] == 'A' ? 'B' : 'A';
	assert_int_equal(sign(&c, G.alice, fake, &h, 1, &res), SAM_E_SAD);
	/* A prefix of the SAD. */
	assert_int_equal(sign_raw(&c, G.alice, sad, 42, &h, 1, &res), SAM_E_SAD);
	assert_int_equal(audit_count("sign", "success", NULL, obj, NULL), ok_before);

	/* The real SAD signs once ... */
	assert_int_equal(sign(&c, G.alice, sad, &h, 1, &res), SAM_OK);
	assert_int_equal(res.n, 1);
	assert_true(verify(c.pub, &h, res.sigs[0], res.lens[0]));
	sam_sign_res_clear(&res);
	assert_int_equal(audit_count("sign", "success", NULL, obj, NULL), ok_before + 1);
	/* ... and is spent: the same SAD, again and for another hash. */
	assert_int_equal(sign(&c, G.alice, sad, &h, 1, &res), SAM_E_SAD);
	assert_int_equal(sign(&c, G.alice, sad, &h2, 1, &res), SAM_E_SAD);
	/* The other credential's SAD still works for its own key only. */
	assert_int_equal(sign(&other, G.alice, osad, &h, 1, &res), SAM_OK);
	sam_sign_res_clear(&res);

	/* Exactly one success on c; every refusal above is audited. */
	assert_int_equal(audit_count("sign", "success", NULL, obj, NULL), ok_before + 1);
	assert_int_equal(audit_count("sign", "failure", "user:alice", obj, NULL), fail_before + 9);
	assert_int_equal(audit_count("sign", "failure", "user:bob", obj, NULL), 1);
	sec_zero(sad, sizeof(sad));
	sec_zero(osad, sizeof(osad));
	cred_free(&c);
	cred_free(&other);
}

/* A second PKCS#11 application on the token, without the user PIN: the
 * child of a fork drops the module state it inherited (C_Finalize) and
 * starts afresh (C_Initialize), which is what another process sees. Exit
 * status 0 = every check held, else the number of the failed check. */
static int other_application(const cred *c)
{
	CK_C_GetFunctionList getfl;
	CK_FUNCTION_LIST_PTR f;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s;
	CK_SESSION_INFO si;
	CK_OBJECT_HANDLE o[16];
	CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0};
	CK_OBJECT_HANDLE hd;
	void *dl;

	dl = dlopen(testlib_module(), RTLD_NOW);
	if (dl == NULL)
		return 10;
	*(void **)&getfl = dlsym(dl, "C_GetFunctionList");
	if (getfl == NULL || getfl(&f) != CKR_OK)
		return 11;
	(void)f->C_Finalize(NULL);
	if (f->C_Initialize(NULL) != CKR_OK)
		return 12;
	if (!p11_find_slot(f, &slot))
		return 13;
	if (f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
		return 14;
	if (f->C_GetSessionInfo(s, &si) != CKR_OK || si.state != CKS_RO_PUBLIC_SESSION)
		return 15;
	/* No handle, whatever its number, lets this application sign. */
	for (hd = 1; hd <= 512; hd++)
		if (f->C_SignInit(s, &ecdsa, hd) == CKR_OK)
			return 16;
	/* The public key is visible (the search works) ... */
	if (p11_find_in(f, s, CKO_PUBLIC_KEY, c->kid, c->kid_len, o, 16) != 1)
		return 17;
	/* ... the private key of the credential is not, nor any other private
	 * or secret key (signer keys, CA, TSA, factor key). */
	if (p11_find_in(f, s, CKO_PRIVATE_KEY, c->kid, c->kid_len, o, 16) != 0)
		return 18;
	if (p11_find_in(f, s, CKO_PRIVATE_KEY, NULL, 0, o, 16) != 0)
		return 19;
	if (p11_find_in(f, s, CKO_SECRET_KEY, NULL, 0, o, 16) != 0)
		return 20;
	for (hd = 1; hd <= 512; hd++)
		if (f->C_SignInit(s, &ecdsa, hd) == CKR_OK)
			return 21;
	/* A wrong PIN does not open it. */
	if (f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "wrong-pin", 9) != CKR_PIN_INCORRECT)
		return 22;
	if (p11_find_in(f, s, CKO_PRIVATE_KEY, c->kid, c->kid_len, o, 16) != 0)
		return 23;
	/* Control: with the PIN the same application finds and uses the key,
	 * so the refusals above are the token's access control at work. */
	if (f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)) != CKR_OK)
		return 24;
	if (p11_find_in(f, s, CKO_PRIVATE_KEY, c->kid, c->kid_len, o, 16) != 1)
		return 25;
	if (f->C_SignInit(s, &ecdsa, o[0]) != CKR_OK)
		return 26;
	(void)f->C_Logout(s); /* this process's login only: the parent is not affected */
	(void)f->C_CloseSession(s);
	(void)f->C_Finalize(NULL);
	return 0;
}

static void test_t10_other_application_without_pin(void **state)
{
	cred c;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE o[64];
	pid_t pid;
	int status = -1;

	(void)state;
	mkcred(&c, G.alice, KEY_EC, NID_X9_62_prime256v1, 1);
	/* With the PIN (this application): the private keys are there. */
	s = p11_session();
	assert_int_equal(p11_find_in(p11(), s, CKO_PRIVATE_KEY, c.kid, c.kid_len, o, 64), 1);
	assert_true(p11_find_in(p11(), s, CKO_PRIVATE_KEY, NULL, 0, o, 64) >= 1);
	assert_int_equal(p11()->C_CloseSession(s), CKR_OK);

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(other_application(&c));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	cred_free(&c);
}

/* ---- T11: signer keys are not extractable and only sign ---- */

static void check_not_extractable(const cred *c, bool rsa)
{
	CK_FUNCTION_LIST_PTR f = p11();
	CK_SESSION_HANDLE s = p11_session();
	CK_OBJECT_HANDLE priv = p11_find(s, CKO_PRIVATE_KEY, c), wk = CK_INVALID_HANDLE,
			 copy = CK_INVALID_HANDLE, derived = CK_INVALID_HANDLE;
	static const CK_ATTRIBUTE_TYPE ec_secret[] = {CKA_VALUE};
	static const CK_ATTRIBUTE_TYPE rsa_secret[] = {CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
						       CKA_PRIME_2,	     CKA_EXPONENT_1,
						       CKA_EXPONENT_2,	     CKA_COEFFICIENT};
	const CK_ATTRIBUTE_TYPE *sec = rsa ? rsa_secret : ec_secret;
	size_t nsec = rsa ? sizeof(rsa_secret) / sizeof(rsa_secret[0]) : 1;
	uint8_t buf[1024];
	CK_ULONG len;
	CK_RV rv;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS seccls = CKO_SECRET_KEY;
	CK_KEY_TYPE aes = CKK_AES;
	CK_ULONG aeslen = 32;
	CK_ATTRIBUTE wkt[] = {
	    {CKA_CLASS, &seccls, sizeof(seccls)},
	    {CKA_KEY_TYPE, &aes, sizeof(aes)},
	    {CKA_VALUE_LEN, &aeslen, sizeof(aeslen)},
	    {CKA_TOKEN, &no, sizeof(no)},
	    {CKA_WRAP, &yes, sizeof(yes)},
	    {CKA_ENCRYPT, &yes, sizeof(yes)},
	};
	CK_MECHANISM aesgen = {CKM_AES_KEY_GEN, NULL, 0};
	uint8_t iv[16] = {0};
	CK_MECHANISM wrapmechs[] = {
	    {CKM_AES_KEY_WRAP_PAD, NULL, 0},
	    {CKM_AES_KEY_WRAP, NULL, 0},
	    {CKM_AES_CBC_PAD, iv, sizeof(iv)},
	};
	CK_ATTRIBUTE mkext = {CKA_EXTRACTABLE, &yes, sizeof(yes)};
	CK_ATTRIBUTE mkinsens = {CKA_SENSITIVE, &no, sizeof(no)};

	assert_int_not_equal(priv, CK_INVALID_HANDLE);

	/* The private values cannot be read. */
	for (size_t i = 0; i < nsec; i++) {
		CK_ATTRIBUTE a = {sec[i], buf, sizeof(buf)};
		assert_int_equal(f->C_GetAttributeValue(s, priv, &a, 1), CKR_ATTRIBUTE_SENSITIVE);
		assert_int_equal(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
	}
	/* Attributes as hsm.c promises them, and as the token keeps them. */
	assert_false(p11_bool(s, priv, CKA_EXTRACTABLE));
	assert_true(p11_bool(s, priv, CKA_SENSITIVE));
	assert_true(p11_bool(s, priv, CKA_NEVER_EXTRACTABLE));
	assert_true(p11_bool(s, priv, CKA_ALWAYS_SENSITIVE));
	assert_true(p11_bool(s, priv, CKA_LOCAL)); /* generated on the token */
	assert_true(p11_bool(s, priv, CKA_PRIVATE));
	assert_true(p11_bool(s, priv, CKA_TOKEN));
	assert_true(p11_bool(s, priv, CKA_SIGN));
	assert_false(p11_bool(s, priv, CKA_SIGN_RECOVER));
	assert_false(p11_bool(s, priv, CKA_DECRYPT));
	assert_false(p11_bool(s, priv, CKA_UNWRAP));
	assert_false(p11_bool(s, priv, CKA_DERIVE));
	/* hsm.c does not set CKA_ALWAYS_AUTHENTICATE (the session pool is
	 * logged in once; the SAM is the gate): recorded, not required. */

	/* The key cannot be made extractable or insensitive again. */
	assert_int_not_equal(f->C_SetAttributeValue(s, priv, &mkext, 1), CKR_OK);
	assert_int_not_equal(f->C_SetAttributeValue(s, priv, &mkinsens, 1), CKR_OK);
	assert_false(p11_bool(s, priv, CKA_EXTRACTABLE));
	assert_true(p11_bool(s, priv, CKA_SENSITIVE));
	/* Nor copied into an extractable object. */
	rv = f->C_CopyObject(s, priv, &mkext, 1, &copy);
	if (rv == CKR_OK) {
		(void)f->C_DestroyObject(s, copy);
		fail_msg("C_CopyObject made an extractable copy of a signer key");
	}

	/* Wrapping with an AES key is refused, whatever the mechanism. */
	assert_int_equal(f->C_GenerateKey(s, &aesgen, wkt, sizeof(wkt) / sizeof(wkt[0]), &wk),
			 CKR_OK);
	for (size_t i = 0; i < sizeof(wrapmechs) / sizeof(wrapmechs[0]); i++) {
		len = sizeof(buf);
		rv = f->C_WrapKey(s, &wrapmechs[i], wk, priv, buf, &len);
		assert_int_not_equal(rv, CKR_OK);
		len = 0;
		rv = f->C_WrapKey(s, &wrapmechs[i], wk, priv, NULL, &len);
		assert_int_not_equal(rv, CKR_OK);
	}
	/* Control: the same wrapping key and mechanism do wrap an extractable
	 * key, so the refusal above comes from the signer key's attributes. */
	{
		CK_OBJECT_HANDLE ext = CK_INVALID_HANDLE;
		CK_ATTRIBUTE et[] = {
		    {CKA_CLASS, &seccls, sizeof(seccls)},     {CKA_KEY_TYPE, &aes, sizeof(aes)},
		    {CKA_VALUE_LEN, &aeslen, sizeof(aeslen)}, {CKA_TOKEN, &no, sizeof(no)},
		    {CKA_EXTRACTABLE, &yes, sizeof(yes)},     {CKA_SENSITIVE, &yes, sizeof(yes)},
		};
		assert_int_equal(f->C_GenerateKey(s, &aesgen, et, sizeof(et) / sizeof(et[0]), &ext),
				 CKR_OK);
		len = sizeof(buf);
		assert_int_equal(f->C_WrapKey(s, &wrapmechs[0], wk, ext, buf, &len), CKR_OK);
		assert_true(len >= 32);
		assert_int_equal(f->C_DestroyObject(s, ext), CKR_OK);
	}
	assert_int_equal(f->C_DestroyObject(s, wk), CKR_OK);

	/* Decryption and derivation are refused. */
	if (rsa) {
		CK_MECHANISM m = {CKM_RSA_PKCS, NULL, 0};
		CK_MECHANISM oaep_m = {CKM_RSA_PKCS_OAEP, NULL, 0};
		CK_RSA_PKCS_OAEP_PARAMS op = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL,
					      0};
		oaep_m.pParameter = &op;
		oaep_m.ulParameterLen = sizeof(op);
		assert_int_not_equal(f->C_DecryptInit(s, &m, priv), CKR_OK);
		assert_int_not_equal(f->C_DecryptInit(s, &oaep_m, priv), CKR_OK);
	} else {
		uint8_t *pt;
		size_t ptlen;
		CK_OBJECT_HANDLE pubo = p11_find(s, CKO_PUBLIC_KEY, c);
		CK_ECDH1_DERIVE_PARAMS dp;
		CK_MECHANISM m = {CKM_ECDH1_DERIVE, &dp, sizeof(dp)};
		CK_KEY_TYPE gk = CKK_GENERIC_SECRET;
		CK_ULONG vl = 32;
		CK_ATTRIBUTE dt[] = {
		    {CKA_CLASS, &seccls, sizeof(seccls)}, {CKA_KEY_TYPE, &gk, sizeof(gk)},
		    {CKA_VALUE_LEN, &vl, sizeof(vl)},	  {CKA_TOKEN, &no, sizeof(no)},
		    {CKA_SENSITIVE, &no, sizeof(no)},	  {CKA_EXTRACTABLE, &yes, sizeof(yes)},
		};
		assert_int_not_equal(pubo, CK_INVALID_HANDLE);
		pt = p11_attr(s, pubo, CKA_EC_POINT, &ptlen);
		memset(&dp, 0, sizeof(dp));
		dp.kdf = CKD_NULL;
		dp.pPublicData = pt;
		dp.ulPublicDataLen = ptlen;
		rv = f->C_DeriveKey(s, &m, priv, dt, sizeof(dt) / sizeof(dt[0]), &derived);
		if (rv == CKR_OK) {
			(void)f->C_DestroyObject(s, derived);
			fail_msg("ECDH derivation with a signer key succeeded");
		}
		free(pt);
	}

	/* Control: the key does sign (in this logged-in application). */
	{
		CK_MECHANISM m = {rsa ? CKM_SHA256_RSA_PKCS : CKM_ECDSA, NULL, 0};
		uint8_t dg[32] = {1, 2, 3};
		len = sizeof(buf);
		assert_int_equal(f->C_SignInit(s, &m, priv), CKR_OK);
		assert_int_equal(f->C_Sign(s, dg, sizeof(dg), buf, &len), CKR_OK);
		assert_true(len > 0);
	}
	assert_int_equal(f->C_CloseSession(s), CKR_OK);
}

static void test_t11_key_not_extractable(void **state)
{
	cred ec, ec384, rsa;

	(void)state;
	mkcred(&ec, G.alice, KEY_EC, NID_X9_62_prime256v1, 1);
	mkcred(&ec384, G.alice, KEY_EC, NID_secp384r1, 1);
	mkcred(&rsa, G.bob, KEY_RSA, 0, 1);
	check_not_extractable(&ec, false);
	check_not_extractable(&ec384, false);
	check_not_extractable(&rsa, true);
	cred_free(&ec);
	cred_free(&ec384);
	cred_free(&rsa);
}

/* ---- T12: no private key encoding in any file of the state ---- */

/* DER openings of private keys; -1 matches any byte (a length). */
typedef struct {
	const char *name;
	int b[16];
	size_t n;
} der_pat;

static const der_pat key_pats[] = {
    /* PKCS#8 PrivateKeyInfo: SEQUENCE, version 0, AlgorithmIdentifier */
    {"PKCS#8 (long)", {0x30, 0x82, -1, -1, 0x02, 0x01, 0x00, 0x30}, 8},
    {"PKCS#8 (short)", {0x30, 0x81, -1, 0x02, 0x01, 0x00, 0x30}, 7},
    /* SEC1 ECPrivateKey: SEQUENCE, version 1, OCTET STRING of the scalar */
    {"SEC1 P-256", {0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20}, 7},
    {"SEC1 P-256 (no params)", {0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20}, 7},
    {"SEC1 P-384", {0x30, 0x81, 0xa4, 0x02, 0x01, 0x01, 0x04, 0x30}, 8},
    {"SEC1 P-521", {0x30, 0x81, 0xdc, 0x02, 0x01, 0x01, 0x04, 0x42}, 8},
    /* PKCS#1 RSAPrivateKey: SEQUENCE, version 0, INTEGER modulus */
    {"PKCS#1 RSA", {0x30, 0x82, -1, -1, 0x02, 0x01, 0x00, 0x02, 0x82}, 9},
    {"PKCS#1 RSA (short n)", {0x30, 0x82, -1, -1, 0x02, 0x01, 0x00, 0x02, 0x81}, 9},
};

/* The first pattern found in buf, or NULL. */
static const char *scan_keys(const uint8_t *buf, size_t len)
{
	for (size_t p = 0; p < sizeof(key_pats) / sizeof(key_pats[0]); p++) {
		const der_pat *k = &key_pats[p];
		for (size_t i = 0; i + k->n <= len; i++) {
			size_t j;
			for (j = 0; j < k->n; j++)
				if (k->b[j] >= 0 && buf[i + j] != (uint8_t)k->b[j])
					break;
			if (j == k->n)
				return k->name;
		}
	}
	return NULL;
}

static bool mem_has(const uint8_t *buf, size_t len, const void *needle, size_t nlen)
{
	return nlen > 0 && len >= nlen && memmem(buf, len, needle, nlen) != NULL;
}

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;

	assert_non_null(f);
	for (;;) {
		size_t r;
		if (n == cap) {
			uint8_t *nb;
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			assert_non_null(nb);
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	*len = n;
	return buf;
}

static struct {
	int files, token_files, db_files;
	size_t bytes;
	char found[512];
} scan;

static int scan_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	uint8_t *buf;
	size_t len;
	const char *hit;

	(void)ftw;
	if (flag != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	buf = read_all(path, &len);
	scan.files++;
	if (strstr(path, "/tokens/") != NULL)
		scan.token_files++;
	if (strstr(path, "/cisres.db") != NULL)
		scan.db_files++;
	scan.bytes += len;
	hit = scan_keys(buf, len);
	if (hit == NULL && mem_has(buf, len, USER_PIN, strlen(USER_PIN)))
		hit = "the token user PIN";
	if (hit == NULL && mem_has(buf, len, SO_PIN, strlen(SO_PIN)))
		hit = "the token SO PIN";
	if (hit != NULL && scan.found[0] == '\0')
		snprintf(scan.found, sizeof(scan.found), "%s in %s", hit, path);
	free(buf);
	return 0;
}

static void expect_pattern(EVP_PKEY *k, bool pkcs8)
{
	uint8_t *der = NULL, *pad;
	int l;

	if (pkcs8) {
		PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
		assert_non_null(p8);
		l = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
		PKCS8_PRIV_KEY_INFO_free(p8);
	} else {
		l = i2d_PrivateKey(k, &der);
	}
	assert_true(l > 0);
	/* Somewhere inside random bytes, as it would sit in a file. */
	pad = malloc((size_t)l + 200);
	assert_non_null(pad);
	assert_int_equal(RAND_bytes(pad, (int)l + 200), 1);
	memcpy(pad + 100, der, (size_t)l);
	assert_non_null(scan_keys(pad, (size_t)l + 200));
	free(pad);
	OPENSSL_free(der);
}

static void test_t12_no_key_material_in_state(void **state)
{
	cred c[4];
	sam_hash h;
	char sad[SAM_SAD_MAX];
	sam_sign_res res;
	EVP_PKEY *k;

	(void)state;
	/* The scanner finds what it looks for (every encoding of fresh keys). */
	k = EVP_EC_gen("P-256");
	expect_pattern(k, false);
	expect_pattern(k, true);
	EVP_PKEY_free(k);
	k = EVP_EC_gen("P-384");
	expect_pattern(k, false);
	expect_pattern(k, true);
	EVP_PKEY_free(k);
	k = EVP_RSA_gen(2048);
	expect_pattern(k, false);
	expect_pattern(k, true);
	EVP_PKEY_free(k);

	/* Keys of every kind, used, one of them destroyed. */
	mkcred(&c[0], G.alice, KEY_EC, NID_X9_62_prime256v1, 1);
	mkcred(&c[1], G.alice, KEY_EC, NID_secp384r1, 1);
	mkcred(&c[2], G.bob, KEY_RSA, 0, 1);
	mkcred(&c[3], G.bob, KEY_EC, NID_secp521r1, 1);
	for (int i = 0; i < 4; i++) {
		int64_t u = i < 2 ? G.alice : G.bob;
		rand_hash(&h);
		authorize_ok(&c[i], u, 1, &h, 1, sad);
		assert_int_equal(sign(&c[i], u, sad, &h, 1, &res), SAM_OK);
		sam_sign_res_clear(&res);
	}
	assert_int_equal(sam_key_destroy(G.m, c[3].id, "admin:test"), SAM_OK);

	/* Every file: the SQLite database, its WAL and shared memory, the
	 * SoftHSM token files (private objects encrypted under the PIN key),
	 * the SoftHSM configuration. */
	memset(&scan, 0, sizeof(scan));
	assert_int_equal(nftw(tmpdir, scan_cb, 16, FTW_PHYS), 0);
	assert_true(scan.token_files >= 3); /* token.object + key objects */
	assert_true(scan.db_files >= 1);
	assert_true(scan.bytes > 0);
	if (scan.found[0] != '\0')
		fail_msg("found %s", scan.found);
	for (int i = 0; i < 4; i++)
		cred_free(&c[i]);
}

/* ---- T13: keygen returns the public key only; the certificate, the HSM
 * key and the signer belong together ---- */

static void check_binding(const cred *c, int64_t user, const char *user_name)
{
	CK_SESSION_HANDLE s = p11_session();
	CK_OBJECT_HANDLE priv = p11_find(s, CKO_PRIVATE_KEY, c),
			 pubo = p11_find(s, CKO_PUBLIC_KEY, c);
	store_credential sc;
	X509 *x;
	const unsigned char *p;
	EVP_PKEY *cpub;
	uint8_t *v;
	size_t vlen;
	char hex[2 * 32 + 1], label[STORE_CRED_ID_MAX + 8], obj[96], needle[96];
	BIGNUM *bn = NULL;

	assert_int_not_equal(priv, CK_INVALID_HANDLE);
	assert_int_not_equal(pubo, CK_INVALID_HANDLE);
	memset(&sc, 0, sizeof(sc));
	assert_int_equal(store_cred_get(G.s, c->id, &sc), STORE_OK);

	/* The result of keygen holds no private part. */
	if (EVP_PKEY_get_base_id(c->pub) == EVP_PKEY_EC)
		assert_int_equal(EVP_PKEY_get_bn_param(c->pub, OSSL_PKEY_PARAM_PRIV_KEY, &bn), 0);
	else
		assert_int_equal(EVP_PKEY_get_bn_param(c->pub, OSSL_PKEY_PARAM_RSA_D, &bn), 0);
	assert_null(bn);

	/* The credential names the HSM key: ID = hex(CKA_ID), same CKA_ID and
	 * CKA_LABEL on both objects, and the credential is the signer's. */
	for (size_t i = 0; i < c->kid_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", c->kid[i]);
	assert_string_equal(hex, c->id);
	snprintf(label, sizeof(label), "cred-%s", c->id);
	v = p11_attr(s, priv, CKA_ID, &vlen);
	assert_int_equal(vlen, c->kid_len);
	assert_memory_equal(v, c->kid, vlen);
	free(v);
	v = p11_attr(s, pubo, CKA_ID, &vlen);
	assert_int_equal(vlen, c->kid_len);
	assert_memory_equal(v, c->kid, vlen);
	free(v);
	v = p11_attr(s, priv, CKA_LABEL, &vlen);
	assert_int_equal(vlen, strlen(label));
	assert_memory_equal(v, label, vlen);
	free(v);
	assert_int_equal(sc.user_id, user);
	cred_object(c, obj, sizeof(obj));
	snprintf(needle, sizeof(needle), "\"user\":\"%s\"", user_name);
	assert_int_equal(audit_count("keygen", "success", "admin:test", obj, needle), 1);

	/* The certificate's key is the keygen result and the HSM key. */
	assert_non_null(sc.cert_der);
	p = sc.cert_der;
	x = d2i_X509(NULL, &p, (long)sc.cert_len);
	assert_non_null(x);
	cpub = X509_get0_pubkey(x);
	assert_non_null(cpub);
	assert_int_equal(EVP_PKEY_eq(cpub, c->pub), 1);
	if (EVP_PKEY_get_base_id(cpub) == EVP_PKEY_EC) {
		uint8_t pt[160];
		size_t ptlen = 0;
		const uint8_t *raw;
		size_t rawlen;

		assert_int_equal(EVP_PKEY_get_octet_string_param(cpub, OSSL_PKEY_PARAM_PUB_KEY, pt,
								 sizeof(pt), &ptlen),
				 1);
		v = p11_attr(s, pubo, CKA_EC_POINT, &vlen);
		/* CKA_EC_POINT: DER OCTET STRING around the point. */
		raw = v;
		rawlen = vlen;
		if (vlen > 2 && v[0] == 0x04 && v[1] < 0x80 && (size_t)v[1] + 2 == vlen) {
			raw = v + 2;
			rawlen = vlen - 2;
		} else if (vlen > 3 && v[0] == 0x04 && v[1] == 0x81 && (size_t)v[2] + 3 == vlen) {
			raw = v + 3;
			rawlen = vlen - 3;
		}
		assert_int_equal(rawlen, ptlen);
		assert_memory_equal(raw, pt, ptlen);
		free(v);
	} else {
		uint8_t n[1024], e[16];
		int nlen, elen;
		BIGNUM *bn_n = NULL, *bn_e = NULL;

		assert_int_equal(EVP_PKEY_get_bn_param(cpub, OSSL_PKEY_PARAM_RSA_N, &bn_n), 1);
		assert_int_equal(EVP_PKEY_get_bn_param(cpub, OSSL_PKEY_PARAM_RSA_E, &bn_e), 1);
		nlen = BN_bn2bin(bn_n, n);
		elen = BN_bn2bin(bn_e, e);
		v = p11_attr(s, pubo, CKA_MODULUS, &vlen);
		assert_int_equal(vlen, (size_t)nlen);
		assert_memory_equal(v, n, vlen);
		free(v);
		v = p11_attr(s, priv, CKA_MODULUS, &vlen);
		assert_int_equal(vlen, (size_t)nlen);
		assert_memory_equal(v, n, vlen);
		free(v);
		v = p11_attr(s, pubo, CKA_PUBLIC_EXPONENT, &vlen);
		assert_int_equal(vlen, (size_t)elen);
		assert_memory_equal(v, e, vlen);
		free(v);
		BN_free(bn_n);
		BN_free(bn_e);
	}
	X509_free(x);
	store_credential_clear(&sc);
	assert_int_equal(p11()->C_CloseSession(s), CKR_OK);
}

static void test_t13_keygen_binding(void **state)
{
	cred ec, rsa;
	sam_hash h;
	char sad[SAM_SAD_MAX], obj[96];
	sam_sign_res res;
	uint8_t *der;
	size_t len;
	EVP_PKEY *stranger;

	(void)state;
	mkcred(&ec, G.alice, KEY_EC, NID_X9_62_prime256v1, 1);
	mkcred(&rsa, G.bob, KEY_RSA, 0, 1);
	check_binding(&ec, G.alice, "alice");
	check_binding(&rsa, G.bob, "bob");

	/* A certificate for any other key is refused for the credential. */
	stranger = EVP_EC_gen("P-256");
	assert_non_null(stranger);
	make_cert(stranger, &der, &len);
	cred_object(&ec, obj, sizeof(obj));
	assert_int_equal(sam_key_set_cert(G.m, ec.id, der, len, "admin:test"), SAM_E_REQUEST);
	assert_int_equal(audit_count("credential.cert", "failure", "admin:test", obj,
				     "certificate key does not match"),
			 1);
	OPENSSL_free(der);
	EVP_PKEY_free(stranger);
	check_binding(&ec, G.alice, "alice"); /* unchanged */

	/* The signatures verify under the certified key; only the owner signs. */
	rand_hash(&h);
	authorize_ok(&ec, G.alice, 1, &h, 1, sad);
	assert_int_equal(sign(&ec, G.alice, sad, &h, 1, &res), SAM_OK);
	assert_true(verify(ec.pub, &h, res.sigs[0], res.lens[0]));
	sam_sign_res_clear(&res);
	assert_int_equal(authorize_pin(&ec, G.bob, 1, &h, 1, PIN, sad), SAM_E_NO_CREDENTIAL);
	cred_free(&ec);
	cred_free(&rsa);
}

/* ---- T14: key destruction ---- */

static void test_t14_key_destroy(void **state)
{
	cred c;
	sam_hash h;
	char sad[SAM_SAD_MAX], obj[96];
	sam_sign_res res;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE o[4];
	store_credential sc;

	(void)state;
	mkcred(&c, G.alice, KEY_EC, NID_X9_62_prime256v1, 2);
	cred_object(&c, obj, sizeof(obj));
	s = p11_session();
	assert_int_equal(p11_find_in(p11(), s, CKO_PRIVATE_KEY, c.kid, c.kid_len, o, 4), 1);
	assert_int_equal(p11_find_in(p11(), s, CKO_PUBLIC_KEY, c.kid, c.kid_len, o, 4), 1);

	/* A fresh SAD, then the key goes. */
	rand_hash(&h);
	authorize_ok(&c, G.alice, 1, &h, 1, sad);
	assert_int_equal(audit_count("key.destroy", NULL, NULL, obj, NULL), 0);
	assert_int_equal(sam_key_destroy(G.m, c.id, "admin:test"), SAM_OK);
	assert_int_equal(audit_count("key.destroy", "success", "admin:test", obj, NULL), 1);

	/* The live SAD no longer signs; nothing signs for the credential. */
	assert_int_not_equal(sign(&c, G.alice, sad, &h, 1, &res), SAM_OK);
	assert_int_equal(audit_count("sign", "success", NULL, obj, NULL), 0);
	assert_int_equal(audit_count("sign", "failure", "user:alice", obj, NULL), 1);
	assert_int_equal(authorize_pin(&c, G.alice, 1, &h, 1, PIN, sad), SAM_E_NO_CREDENTIAL);

	/* Both objects are gone from the token (a search by CKA_ID, as the
	 * logged-in application), and the row from the store. */
	assert_int_equal(p11_find_in(p11(), s, CKO_PRIVATE_KEY, c.kid, c.kid_len, o, 4), 0);
	assert_int_equal(p11_find_in(p11(), s, CKO_PUBLIC_KEY, c.kid, c.kid_len, o, 4), 0);
	assert_int_equal(hsm_get_public(G.h, c.kid, c.kid_len, &(EVP_PKEY *){NULL}), HSM_ERR_NOKEY);
	{
		uint8_t dg[32] = {0}, sig[160];
		size_t sl = 0;
		assert_int_equal(hsm_sign(G.h, c.kid, c.kid_len, HSM_MECH_ECDSA, NULL, dg, 32, sig,
					  sizeof(sig), &sl),
				 HSM_ERR_NOKEY);
	}
	memset(&sc, 0, sizeof(sc));
	assert_int_equal(store_cred_get(G.s, c.id, &sc), STORE_NOTFOUND);
	assert_int_equal(p11()->C_CloseSession(s), CKR_OK);

	/* A second destruction is refused and audited as a failure. */
	assert_int_equal(sam_key_destroy(G.m, c.id, "admin:test"), SAM_E_NO_CREDENTIAL);
	assert_int_equal(audit_count("key.destroy", "failure", "admin:test", obj, NULL), 1);
	assert_int_equal(audit_count("key.destroy", "success", "admin:test", obj, NULL), 1);
	sec_zero(sad, sizeof(sad));
	cred_free(&c);
}

/* ---- T15: the operator's interface ---- */

/* The operator's SAM calls return a status and nothing else: no
 * out-parameter through which a PIN verifier or a seed could leave. A
 * change of these signatures fails to compile here. */
typedef sam_status (*t15_set_cert_fn)(sam *, const char *, const uint8_t *, size_t, const char *);
typedef sam_status (*t15_destroy_fn)(sam *, const char *, const char *);
typedef sam_status (*t15_set_pin_fn)(sam *, const char *, const char *, size_t, const char *);
typedef sam_status (*t15_set_otp_fn)(sam *, int64_t, const uint8_t *, size_t, const char *);
typedef sam_status (*t15_unblock_fn)(sam *, const char *);
typedef sam_status (*t15_user_unblock_fn)(sam *, int64_t);

/* What keygen may return: a status, the credential ID, the public key. */
typedef struct {
	sam_status status;
	char credential_id[STORE_CRED_ID_MAX];
	EVP_PKEY *pub;
} t15_keygen_res;

#define T15_PIN "T15-pin-Zq81x"

static void assert_no_secret(const void *buf, size_t len, const char *what)
{
	const char *verifier_prefixes[] = {"$scrypt$", "$hsm1$", "$hmac1$"};

	if (mem_has(buf, len, T15_PIN, strlen(T15_PIN)))
		fail_msg("the PIN in %s", what);
	if (mem_has(buf, len, otp_seed, sizeof(otp_seed)))
		fail_msg("the TOTP seed in %s", what);
	for (size_t i = 0; i < sizeof(verifier_prefixes) / sizeof(verifier_prefixes[0]); i++)
		if (mem_has(buf, len, verifier_prefixes[i], strlen(verifier_prefixes[i])))
			fail_msg("a verifier (%s) in %s", verifier_prefixes[i], what);
}

static void test_t15_operator_results_hold_no_secret(void **state)
{
	t15_set_cert_fn f1 = sam_key_set_cert;
	t15_destroy_fn f2 = sam_key_destroy;
	t15_set_pin_fn f3 = sam_set_pin;
	t15_set_otp_fn f4 = sam_user_set_otp;
	t15_unblock_fn f5 = sam_cred_unblock;
	t15_user_unblock_fn f6 = sam_user_unblock;
	sam_keygen_req kr;
	sam_keygen_res res;
	store_credential sc;
	uint8_t *der = NULL;
	int l;

	(void)state;
	(void)f1;
	(void)f2;
	(void)f3;
	(void)f4;
	(void)f5;
	(void)f6;
	assert_int_equal(sizeof(sam_keygen_res), sizeof(t15_keygen_res));
	assert_int_equal(offsetof(sam_keygen_res, credential_id),
			 offsetof(t15_keygen_res, credential_id));
	assert_int_equal(offsetof(sam_keygen_res, pub), offsetof(t15_keygen_res, pub));

	memset(&kr, 0, sizeof(kr));
	kr.user_id = G.alice;
	kr.kind = KEY_EC;
	kr.curve_nid = NID_X9_62_prime256v1;
	kr.scal = 2;
	kr.auth_otp = true;
	kr.multisign = 1;
	kr.pin = T15_PIN;
	kr.pin_len = strlen(T15_PIN);
	kr.actor = "admin:test";
	assert_int_equal(sam_keygen(G.m, &kr, &res), SAM_OK);
	assert_no_secret(&res, sizeof(res), "the keygen result");
	l = i2d_PUBKEY(res.pub, &der);
	assert_true(l > 0);
	assert_no_secret(der, (size_t)l, "the public key");
	/* The verifier as stored does not appear in the result either. */
	memset(&sc, 0, sizeof(sc));
	assert_int_equal(store_cred_get(G.s, res.credential_id, &sc), STORE_OK);
	assert_true(strlen(sc.pin_hash) > 8);
	assert_false(mem_has((const uint8_t *)&res, sizeof(res), sc.pin_hash, strlen(sc.pin_hash)));
	assert_false(mem_has(der, (size_t)l, sc.pin_hash, strlen(sc.pin_hash)));
	/* Nor the PIN in the stored verifier (it is a KDF or MAC output). */
	assert_false(
	    mem_has((const uint8_t *)sc.pin_hash, strlen(sc.pin_hash), T15_PIN, strlen(T15_PIN)));
	store_credential_clear(&sc);
	OPENSSL_free(der);
	EVP_PKEY_free(res.pub);
	assert_int_equal(
	    sam_set_pin(G.m, res.credential_id, T15_PIN "2", strlen(T15_PIN) + 1, "admin:test"),
	    SAM_OK);
	assert_int_equal(sam_cred_unblock(G.m, res.credential_id), SAM_OK);
	assert_int_equal(sam_key_destroy(G.m, res.credential_id, "admin:test"), SAM_OK);
	/* The audit records of these steps carry no secret. */
	{
		audit_q q = {"keygen", NULL, NULL, NULL, T15_PIN, 0};
		const char *acts[] = {"keygen", "pin.set", "key.destroy", "otp.set"};
		for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
			q.action = acts[i];
			q.n = 0;
			assert_int_equal(store_audit_iter(G.s, 1, audit_q_cb, &q), STORE_OK);
			assert_int_equal(q.n, 0);
		}
	}
}

/* A SAM connection served with SAM_OPS_ADMIN (the operator's class) cannot
 * authorize, extend, sign or log in; one served with SAM_OPS_FRONT (the
 * HTTP process) cannot manage keys or factors. */
static sam *serve_remote(unsigned ops)
{
	int sv[2];
	sam *r = NULL;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(sam_serve_thread(G.m, NULL, sv[1], ops), 0);
	assert_int_equal(sam_connect(sv[0], &r), 0);
	assert_non_null(r);
	return r;
}

static void test_t15_admin_connection_cannot_sign(void **state)
{
	cred c;
	sam *adm, *front;
	sam_hash h;
	char sad[SAM_SAD_MAX], obj[96], otp[7];
	sam_authorize_req ar;
	sam_authorize_res ares;
	sam_extend_req er;
	sam_sign_req sr;
	sam_sign_res res;
	sam_keygen_req kr;
	sam_keygen_res kres;
	int64_t uid = 0;
	int auth_before, sign_before, login_before;

	(void)state;
	for (uint16_t t = 0; t < 64; t++) {
		unsigned cls = sam_proto_op_class(t);
		assert_true(cls == 0 || cls == SAM_OPS_FRONT || cls == SAM_OPS_ADMIN);
	}
	assert_int_equal(sam_proto_op_class(SAM_MSG_AUTHORIZE), SAM_OPS_FRONT);
	assert_int_equal(sam_proto_op_class(SAM_MSG_EXTEND), SAM_OPS_FRONT);
	assert_int_equal(sam_proto_op_class(SAM_MSG_SIGN), SAM_OPS_FRONT);
	assert_int_equal(sam_proto_op_class(SAM_MSG_LOGIN), SAM_OPS_FRONT);

	mkcred(&c, G.alice, KEY_EC, NID_X9_62_prime256v1, 2);
	cred_object(&c, obj, sizeof(obj));
	rand_hash(&h);
	authorize_ok(&c, G.alice, 1, &h, 1, sad); /* a live SAD, issued locally */
	auth_before = audit_count("authorize", NULL, NULL, obj, NULL);
	sign_before = audit_count("sign", NULL, NULL, obj, NULL);
	login_before = audit_count("login", NULL, NULL, NULL, NULL);

	adm = serve_remote(SAM_OPS_ADMIN);
	/* authorize with correct factors */
	next_otp(otp);
	memset(&ar, 0, sizeof(ar));
	ar.user_id = G.alice;
	memcpy(ar.credential_id, c.id, sizeof(ar.credential_id));
	ar.num_signatures = 1;
	ar.hash = HASH_SHA256;
	ar.hashes = &h;
	ar.n_hashes = 1;
	ar.pin = PIN;
	ar.pin_len = strlen(PIN);
	ar.otp = otp;
	ar.otp_len = strlen(otp);
	assert_int_equal(sam_authorize(adm, &ar, &ares), SAM_E_REQUEST);
	assert_string_equal(ares.sad, "");
	/* extend and sign with the live SAD */
	memset(&er, 0, sizeof(er));
	er.user_id = G.alice;
	memcpy(er.credential_id, c.id, sizeof(er.credential_id));
	er.sad = sad;
	er.sad_len = strlen(sad);
	er.hash = HASH_SHA256;
	er.hashes = &h;
	er.n_hashes = 1;
	assert_int_equal(sam_extend(adm, &er, &ares), SAM_E_REQUEST);
	assert_string_equal(ares.sad, "");
	memset(&sr, 0, sizeof(sr));
	sr.user_id = G.alice;
	memcpy(sr.credential_id, c.id, sizeof(sr.credential_id));
	sr.sad = sad;
	sr.sad_len = strlen(sad);
	sr.algo = SIG_ECDSA_SHA256;
	sr.hash = HASH_SHA256;
	sr.hashes = &h;
	sr.n_hashes = 1;
	assert_int_equal(sam_sign(adm, &sr, &res), SAM_E_REQUEST);
	assert_int_equal(res.n, 0);
	assert_null(res.sigs);
	assert_int_not_equal(sam_verify_login(adm, "alice", PASSWORD, strlen(PASSWORD), &uid),
			     SAM_OK);
	assert_int_equal(uid, 0);
	/* None of them reached the SAM's decision: no record at all. */
	assert_int_equal(audit_count("authorize", NULL, NULL, obj, NULL), auth_before);
	assert_int_equal(audit_count("sign", NULL, NULL, obj, NULL), sign_before);
	assert_int_equal(audit_count("login", NULL, NULL, NULL, NULL), login_before);
	/* Control: the connection works for the operator's class. */
	memset(&kr, 0, sizeof(kr));
	kr.user_id = G.bob;
	kr.kind = KEY_EC;
	kr.curve_nid = NID_X9_62_prime256v1;
	kr.scal = 1;
	kr.multisign = 1;
	kr.pin = PIN;
	kr.pin_len = strlen(PIN);
	kr.actor = "admin:test";
	assert_int_equal(sam_keygen(adm, &kr, &kres), SAM_OK);
	assert_non_null(kres.pub);
	EVP_PKEY_free(kres.pub);
	assert_int_equal(sam_key_destroy(adm, kres.credential_id, "admin:test"), SAM_OK);
	sam_free(adm);

	/* The front end's class: no key or factor management. */
	front = serve_remote(SAM_OPS_FRONT);
	assert_int_equal(sam_keygen(front, &kr, &kres), SAM_E_REQUEST);
	assert_null(kres.pub);
	assert_int_equal(sam_key_destroy(front, c.id, "admin:test"), SAM_E_REQUEST);
	assert_int_equal(sam_set_pin(front, c.id, "9999", 4, "admin:test"), SAM_E_REQUEST);
	assert_int_equal(sam_user_set_otp(front, G.alice, otp_seed, sizeof(otp_seed), "admin:x"),
			 SAM_E_REQUEST);
	assert_int_equal(sam_cred_unblock(front, c.id), SAM_E_REQUEST);
	assert_int_equal(sam_user_unblock(front, G.alice), SAM_E_REQUEST);
	/* ... and the SAD still signs there, once: it was never spent above. */
	assert_int_equal(sam_sign(front, &sr, &res), SAM_OK);
	assert_int_equal(res.n, 1);
	assert_true(verify(c.pub, &h, res.sigs[0], res.lens[0]));
	sam_sign_res_clear(&res);
	sam_free(front);
	/* The PIN was not changed through the front connection. */
	assert_int_equal(authorize_pin(&c, G.alice, 1, &h, 1, PIN, sad), SAM_OK);
	sec_zero(sad, sizeof(sad));
	cred_free(&c);
	for (int i = 0; i < 100 && sam_serve_active() > 0; i++)
		usleep(10000);
}

/* ---- T10 (continued): a SAD does not outlive its SAM ---- */

static void test_t10_sad_dies_with_the_sam(void **state)
{
	cred c;
	sam_hash h;
	char sad[SAM_SAD_MAX];
	sam_sign_res res;
	sam_deps d = {G.h, G.s, &G.pol};

	(void)state;
	mkcred(&c, G.alice, KEY_EC, NID_X9_62_prime256v1, 1);
	rand_hash(&h);
	authorize_ok(&c, G.alice, 1, &h, 1, sad);
	/* The SAM goes away (a restarted SAM process); its successor has
	 * never issued this SAD. */
	sam_free(G.m);
	G.m = NULL;
	assert_int_equal(sam_new(&d, &G.m), 0);
	sam_set_strict(G.m, true);
	assert_int_equal(sign(&c, G.alice, sad, &h, 1, &res), SAM_E_SAD);
	/* A new authorization works with the new SAM. */
	authorize_ok(&c, G.alice, 1, &h, 1, sad);
	assert_int_equal(sign(&c, G.alice, sad, &h, 1, &res), SAM_OK);
	sam_sign_res_clear(&res);
	sec_zero(sad, sizeof(sad));
	cred_free(&c);
}

/* ---- T16: audit completeness for a scripted scenario ---- */

typedef struct {
	const char *action, *outcome, *actor, *object;
	const char *needle[4]; /* substrings of the detail */
} exp_rec;

typedef struct {
	const exp_rec *e;
	size_t n, seen;
	int64_t from, t0_us, t1_us;
	char err[2048];
} step_ctx;

static int step_cb(const store_audit *r, void *ctx)
{
	step_ctx *sc = ctx;
	const exp_rec *e;

	if (sc->err[0] != '\0')
		return 1;
	if (sc->seen >= sc->n) {
		snprintf(sc->err, sizeof(sc->err), "unexpected record %lld: %s %s %s %s",
			 (long long)r->seq, r->actor, r->action, r->object, r->outcome);
		return 1;
	}
	e = &sc->e[sc->seen];
	if (r->seq != sc->from + (int64_t)sc->seen)
		snprintf(sc->err, sizeof(sc->err), "sequence gap at %lld", (long long)r->seq);
	else if (strcmp(r->action, e->action) != 0 || strcmp(r->outcome, e->outcome) != 0 ||
		 strcmp(r->actor, e->actor) != 0 || strcmp(r->object, e->object) != 0)
		snprintf(sc->err, sizeof(sc->err),
			 "record %lld is '%s %s %s %s', expected '%s %s %s %s'", (long long)r->seq,
			 r->actor, r->action, r->object, r->outcome, e->actor, e->action, e->object,
			 e->outcome);
	else if (r->time_us < sc->t0_us || r->time_us > sc->t1_us)
		snprintf(sc->err, sizeof(sc->err), "record %lld: time %lld outside [%lld, %lld]",
			 (long long)r->seq, (long long)r->time_us, (long long)sc->t0_us,
			 (long long)sc->t1_us);
	for (size_t i = 0; sc->err[0] == '\0' && i < 4 && e->needle[i] != NULL; i++)
		if (r->detail == NULL || strstr(r->detail, e->needle[i]) == NULL)
			snprintf(sc->err, sizeof(sc->err), "record %lld (%s): no '%s' in '%s'",
				 (long long)r->seq, r->action, e->needle[i],
				 r->detail != NULL ? r->detail : "(null)");
	sc->seen++;
	return sc->err[0] != '\0';
}

static int64_t wall_us(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t audit_head(void)
{
	int64_t seq = 0;
	uint8_t hash[32];

	assert_int_equal(store_audit_head(G.s, &seq, hash), STORE_OK);
	return seq;
}

/* The records appended since *mark are exactly e[0..n) (in order), each
 * stamped with the UTC wall clock (microseconds since the epoch) between
 * t0_us and now. *mark moves past them. */
static void expect_step(const char *what, int64_t *mark, int64_t t0_us, const exp_rec *e, size_t n)
{
	step_ctx sc;

	memset(&sc, 0, sizeof(sc));
	sc.e = e;
	sc.n = n;
	sc.from = *mark + 1;
	sc.t0_us = t0_us;
	sc.t1_us = wall_us();
	assert_int_equal(store_audit_iter(G.s, sc.from, step_cb, &sc), STORE_OK);
	if (sc.err[0] != '\0')
		fail_msg("%s: %s", what, sc.err);
	if (sc.seen != n)
		fail_msg("%s: %zu records, expected %zu", what, sc.seen, n);
	*mark += (int64_t)n;
	assert_int_equal(audit_head(), *mark);
}

static void hash_hex(const sam_hash *h, char *out)
{
	for (size_t i = 0; i < h->len; i++)
		snprintf(out + 2 * i, 3, "%02x", h->v[i]);
}

static void test_t16_audit_scenario(void **state)
{
	cred c;
	sam_hash hs[3];
	char hex[3][2 * HASH_MAX_LEN + 1], sad[SAM_SAD_MAX], obj[96], fail_n[5][24];
	const char *actor = "user:carol";
	sam_sign_res res;
	int64_t carol, uid, mark, t0;
	audit_report rep;

	(void)state;
	t0 = wall_us() - 1;
	mark = audit_head();

	/* Enrolment: the signer's TOTP seed (the user row itself is written by
	 * cisres-admin, which audits "user.add"), the key, the certificate. */
	carol = mkuser("carol");
	assert_true(carol > 0);
	{
		const exp_rec e[] = {{"otp.set", "success", "admin:test", "user:carol", {NULL}}};
		expect_step("otp.set", &mark, t0, e, 1);
	}
	mkcred(&c, carol, KEY_EC, NID_X9_62_prime256v1, 3);
	cred_object(&c, obj, sizeof(obj));
	{
		const exp_rec e[] = {
		    {"keygen", "success", "admin:test", obj, {"\"user\":\"carol\"", "\"scal\":2"}},
		    {"credential.cert", "success", "admin:test", obj, {"Test Signer"}},
		};
		expect_step("enrol", &mark, t0, e, 2);
	}

	/* auth/login: two wrong passwords, then the right one. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(sam_verify_login(G.m, "carol", "wrong-password", 14, &uid),
				 SAM_E_PIN);
		const exp_rec e[] = {{"login", "failure", actor, actor, {"wrong password"}}};
		expect_step("login failure", &mark, t0, e, 1);
	}
	assert_int_equal(sam_verify_login(G.m, "carol", PASSWORD, strlen(PASSWORD), &uid), SAM_OK);
	assert_int_equal(uid, carol);
	/* sam.h: the caller (auth.c, which issues the tokens) audits the
	 * successful login; the SAM adds nothing. */
	expect_step("login success (SAM side)", &mark, t0, NULL, 0);

	/* authorize: two wrong PINs, then the right PIN. */
	for (int i = 0; i < 3; i++) {
		rand_hash(&hs[i]);
		hash_hex(&hs[i], hex[i]);
	}
	for (int i = 0; i < 2; i++) {
		snprintf(fail_n[i], sizeof(fail_n[i]), "\"failures\":%d", i + 1);
		assert_int_equal(authorize_pin(&c, carol, 3, hs, 3, WRONG_PIN, sad), SAM_E_PIN);
		const exp_rec e[] = {
		    {"authorize", "failure", actor, obj, {"wrong PIN", fail_n[i], hex[0]}}};
		expect_step("authorize failure", &mark, t0, e, 1);
	}
	authorize_ok(&c, carol, 3, hs, 3, sad);
	{
		const exp_rec e[] = {{"authorize",
				      "success",
				      actor,
				      obj,
				      {"\"numSignatures\":3", hex[0], hex[1], hex[2]}}};
		expect_step("authorize", &mark, t0, e, 1);
	}

	/* sign x3: one hash each; each record names the hash it signed. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sign(&c, carol, sad, &hs[i], 1, &res), SAM_OK);
		assert_true(verify(c.pub, &hs[i], res.sigs[0], res.lens[0]));
		sam_sign_res_clear(&res);
		const exp_rec e[] = {{"sign", "success", actor, obj, {hex[i], "\"spent\":1"}}};
		expect_step("sign", &mark, t0, e, 1);
	}

	/* lock: THRESHOLD wrong PINs; the last one locks (and says so). */
	for (int i = 0; i < THRESHOLD; i++) {
		snprintf(fail_n[i], sizeof(fail_n[i]), "\"failures\":%d", i + 1);
		if (i + 1 < THRESHOLD) {
			assert_int_equal(authorize_pin(&c, carol, 1, hs, 1, WRONG_PIN, sad),
					 SAM_E_PIN);
			const exp_rec e[] = {
			    {"authorize", "failure", actor, obj, {"wrong PIN", fail_n[i]}}};
			expect_step("authorize failure", &mark, t0, e, 1);
		} else {
			assert_int_equal(authorize_pin(&c, carol, 1, hs, 1, WRONG_PIN, sad),
					 SAM_E_LOCKED);
			const exp_rec e[] = {
			    {"lockout", "success", actor, obj, {fail_n[i]}},
			    {"authorize", "failure", actor, obj, {"wrong PIN", fail_n[i]}},
			};
			expect_step("lockout", &mark, t0, e, 2);
		}
	}
	/* Locked: the right PIN is refused too (and audited). */
	assert_int_equal(authorize_pin(&c, carol, 1, hs, 1, PIN, sad), SAM_E_LOCKED);
	{
		const exp_rec e[] = {{"authorize", "failure", actor, obj, {"credential locked"}}};
		expect_step("locked", &mark, t0, e, 1);
	}

	/* unlock (operator): sam.h says the caller audits; cisres-admin
	 * credential unlock writes "credential.unlock" (test_security.sh). */
	assert_int_equal(sam_cred_unblock(G.m, c.id), SAM_OK);
	expect_step("unblock (SAM side)", &mark, t0, NULL, 0);
	authorize_ok(&c, carol, 1, hs, 1, sad);
	{
		const exp_rec e[] = {{"authorize", "success", actor, obj, {hex[0]}}};
		expect_step("authorize after unlock", &mark, t0, e, 1);
	}

	/* key delete */
	assert_int_equal(sam_key_destroy(G.m, c.id, "admin:test"), SAM_OK);
	{
		const exp_rec e[] = {{"key.destroy", "success", "admin:test", obj, {NULL}}};
		expect_step("key.destroy", &mark, t0, e, 1);
	}

	/* The whole log is an intact chain. */
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(audit_verify(G.s, &rep), 1);
	assert_int_equal(rep.records, mark);
	sec_zero(sad, sizeof(sad));
	cred_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_t10_sign_without_sad),
	    cmocka_unit_test(test_t10_other_application_without_pin),
	    cmocka_unit_test(test_t10_sad_dies_with_the_sam),
	    cmocka_unit_test(test_t11_key_not_extractable),
	    cmocka_unit_test(test_t12_no_key_material_in_state),
	    cmocka_unit_test(test_t13_keygen_binding),
	    cmocka_unit_test(test_t14_key_destroy),
	    cmocka_unit_test(test_t15_operator_results_hold_no_secret),
	    cmocka_unit_test(test_t15_admin_connection_cannot_sign),
	    cmocka_unit_test(test_t16_audit_scenario),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
