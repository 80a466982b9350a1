/* SPDX-License-Identifier: Apache-2.0 */
/* SAM white-box tests (standards.md §7): these go straight at the SAM C
 * interface (sam.h), bypassing HTTP entirely, to show the SAM enforces the
 * rules even if the REST layer is bypassed or compromised. A throw-away
 * SoftHSM token holds the keys; every produced signature is verified with
 * OpenSSL against the public key. The clock is injected (policy.now). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include "audit.h"
#include "hsm.h"
#include "policy.h"
#include "sam.h"
#include "store.h"
#include "totp.h"
#include "testlib.h"

#define TOKEN_LABEL "cisres-sam-test"
#define SO_PIN "so-pin-0000"
#define USER_PIN "hsm-user-pin"
#define PIN "2468"
#define THRESHOLD 3

static char tmpdir[] = "/tmp/cisres-test-sam-XXXXXX";
static char store_uri[256];
static time_t g_now = 1750000000;
static const uint8_t otp_key[20] = "12345678901234567890";

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

static int64_t mkuser(const char *name)
{
	store_user u;

	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", name);
	snprintf(u.pw_hash, sizeof(u.pw_hash), "$scrypt$unused");
	memcpy(u.otp_key, otp_key, sizeof(otp_key));
	u.otp_key_len = sizeof(otp_key);
	u.created = g_now;
	if (store_user_add(G.s, &u) != STORE_OK)
		return -1;
	return u.id;
}

static int open_sam(void)
{
	sam_deps d = {G.h, G.s, &G.pol};

	return sam_new(&d, &G.m);
}

static int group_setup(void **state)
{
	hsm_config cfg = {0};

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
	if (open_sam() != 0)
		return -1;
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

/* ---- helpers ---- */

typedef struct {
	char id[STORE_CRED_ID_MAX];
	EVP_PKEY *pub;
} cred;

/* An end-entity certificate for pub, valid [now - 1 day, now + days). */
static void make_cert(EVP_PKEY *pub, long days, uint8_t **der, size_t *len)
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
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), g_now + days * 86400));
	assert_int_equal(X509_set_pubkey(x, pub), 1);
	assert_true(X509_sign(x, G.ca_key, EVP_sha256()) > 0);
	*der = NULL;
	l = i2d_X509(x, der);
	assert_true(l > 0);
	*len = (size_t)l;
	X509_free(x);
}

static void mkcred_full(cred *c, int64_t user, key_kind kind, int scal, bool otp, int multisign,
			bool with_cert)
{
	sam_keygen_req kr;
	sam_keygen_res res;

	memset(&kr, 0, sizeof(kr));
	kr.user_id = user;
	kr.kind = kind;
	kr.bits = 2048;
	kr.curve_nid = NID_X9_62_prime256v1;
	kr.scal = scal;
	kr.auth_otp = otp;
	kr.multisign = multisign;
	kr.pin = PIN;
	kr.pin_len = strlen(PIN);
	kr.description = "unit test";
	kr.actor = "admin:test";
	assert_int_equal(sam_keygen(G.m, &kr, &res), SAM_OK);
	assert_int_equal(strlen(res.credential_id), 32);
	assert_non_null(res.pub);
	memcpy(c->id, res.credential_id, sizeof(c->id));
	c->pub = res.pub;
	if (with_cert) {
		uint8_t *der;
		size_t len;
		make_cert(c->pub, 365, &der, &len);
		assert_int_equal(sam_key_set_cert(G.m, c->id, der, len, "admin:test"), SAM_OK);
		OPENSSL_free(der);
	}
}

static void mkcred(cred *c, int64_t user, key_kind kind, int scal, bool otp, int multisign)
{
	mkcred_full(c, user, kind, scal, otp, multisign, true);
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
		 totp_hotp(otp_key, sizeof(otp_key), (uint64_t)g_now / TOTP_STEP, TOTP_DIGITS));
}

static void rand_hash(sam_hash *h, size_t len)
{
	h->len = len;
	assert_int_equal(RAND_bytes(h->v, (int)len), 1);
}

static sam_status authorize(const cred *c, int64_t user, int n, const sam_hash *hs, size_t nh,
			    const char *pin, const char *otp, char sad[SAM_SAD_MAX])
{
	sam_authorize_req r;
	sam_authorize_res res;

	memset(&r, 0, sizeof(r));
	r.user_id = user;
	memcpy(r.credential_id, c->id, sizeof(r.credential_id));
	r.num_signatures = n;
	r.hash = nh > 0 ? HASH_SHA256 : HASH_NONE;
	r.hashes = hs;
	r.n_hashes = nh;
	r.pin = pin;
	r.pin_len = pin != NULL ? strlen(pin) : 0;
	r.otp = otp;
	r.otp_len = otp != NULL ? strlen(otp) : 0;
	sam_authorize(G.m, &r, &res);
	if (sad != NULL)
		memcpy(sad, res.sad, SAM_SAD_MAX);
	if (res.status == SAM_OK) {
		assert_int_equal(strlen(res.sad), 43);
		assert_int_equal(res.expires_in, G.pol.sad_ttl);
	} else {
		assert_string_equal(res.sad, "");
	}
	return res.status;
}

/* authorize with PIN + a fresh OTP; must succeed. */
static void authorize_ok(const cred *c, int64_t user, int n, const sam_hash *hs, size_t nh,
			 char sad[SAM_SAD_MAX])
{
	char otp[7];

	next_otp(otp);
	assert_int_equal(authorize(c, user, n, hs, nh, PIN, otp, sad), SAM_OK);
}

static sam_status sign_full(const cred *c, int64_t user, const char *sad, size_t sadlen,
			    sig_alg algo, hash_alg h, const sam_hash *hs, size_t nh,
			    sam_sign_res *res)
{
	sam_sign_req r;

	memset(&r, 0, sizeof(r));
	r.user_id = user;
	memcpy(r.credential_id, c->id, sizeof(r.credential_id));
	r.sad = sad;
	r.sad_len = sadlen;
	r.algo = algo;
	r.hash = h;
	r.pss_mgf_hash = h;
	r.pss_salt_len = 32;
	r.hashes = hs;
	r.n_hashes = nh;
	return sam_sign(G.m, &r, res);
}

static sam_status sign(const cred *c, int64_t user, const char *sad, const sam_hash *hs, size_t nh,
		       sam_sign_res *res)
{
	const sig_alg a =
	    EVP_PKEY_get_base_id(c->pub) == EVP_PKEY_EC ? SIG_ECDSA_SHA256 : SIG_RSA_SHA256;
	sam_status st = sign_full(c, user, sad, strlen(sad), a, HASH_SHA256, hs, nh, res);

	if (st != SAM_OK) {
		assert_int_equal(res->n, 0);
		assert_null(res->sigs);
	}
	return st;
}

/* ---- OpenSSL verification ---- */

static bool verify(EVP_PKEY *pub, int pad, const EVP_MD *md, int salt, const sam_hash *h,
		   const uint8_t *sig, size_t siglen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
	bool ok = ctx != NULL && EVP_PKEY_verify_init(ctx) > 0;

	if (ok && EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA) {
		ok = EVP_PKEY_CTX_set_rsa_padding(ctx, pad) > 0 &&
		     EVP_PKEY_CTX_set_signature_md(ctx, md) > 0;
		if (ok && pad == RSA_PKCS1_PSS_PADDING)
			ok = EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) > 0 &&
			     EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, salt) > 0;
	}
	ok = ok && EVP_PKEY_verify(ctx, sig, siglen, h->v, h->len) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static void verify_all(const cred *c, const sam_sign_res *res, const sam_hash *hs, size_t n)
{
	size_t i;

	assert_int_equal(res->n, n);
	for (i = 0; i < n; i++)
		assert_true(verify(c->pub, RSA_PKCS1_PADDING, EVP_sha256(), 0, &hs[i], res->sigs[i],
				   res->lens[i]));
}

/* Count audit records by action/outcome (and optional actor). */
typedef struct {
	const char *action, *outcome, *actor, *needle;
	int n;
} audit_q;

static int audit_q_cb(const store_audit *r, void *ctx)
{
	audit_q *q = ctx;

	if (strcmp(r->action, q->action) == 0 && strcmp(r->outcome, q->outcome) == 0 &&
	    (q->actor == NULL || strcmp(r->actor, q->actor) == 0) &&
	    (q->needle == NULL || (r->detail != NULL && strstr(r->detail, q->needle) != NULL)))
		q->n++;
	return 0;
}

static int audit_count(const char *action, const char *outcome, const char *actor,
		       const char *needle)
{
	audit_q q = {action, outcome, actor, needle, 0};

	assert_int_equal(store_audit_iter(G.s, 1, audit_q_cb, &q), STORE_OK);
	return q.n;
}

/* Do the database file or its WAL contain these bytes? */
static bool file_contains(const char *path, const void *needle, size_t n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long len;
	bool found = false;

	if (f == NULL)
		return false;
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return false;
	}
	buf = malloc((size_t)len + 1);
	assert_non_null(buf);
	if (fread(buf, 1, (size_t)len, f) == (size_t)len)
		found = memmem(buf, (size_t)len, needle, n) != NULL;
	free(buf);
	fclose(f);
	return found;
}

static bool db_files_contain(const void *needle, size_t n)
{
	char path[300];
	const char *db = store_uri + strlen("sqlite:");

	snprintf(path, sizeof(path), "%s", db);
	if (file_contains(path, needle, n))
		return true;
	snprintf(path, sizeof(path), "%s-wal", db);
	return file_contains(path, needle, n);
}

/* ---- T01: SAD <-> hash binding ---- */

static void test_t01_hash_binding(void **state)
{
	cred c;
	sam_hash h[3], two[2];
	char sad[SAM_SAD_MAX];
	sam_sign_res res;
	char hex[65];

	(void)state;
	mkcred(&c, G.alice, KEY_EC, 2, true, 5);
	rand_hash(&h[0], 32);
	rand_hash(&h[1], 32);
	authorize_ok(&c, G.alice, 1, &h[0], 1, sad);
	/* Another hash. */
	assert_int_equal(sign(&c, G.alice, sad, &h[1], 1, &res), SAM_E_HASH_MISMATCH);
	/* The authorized hash plus another. */
	two[0] = h[0];
	two[1] = h[1];
	assert_int_not_equal(sign(&c, G.alice, sad, two, 2, &res), SAM_OK);
	/* The authorized hash with another algorithm's framing (SHA-384 length). */
	{
		sam_hash h384;
		memcpy(h384.v, h[0].v, 32);
		rand_hash(&h384, 48);
		assert_int_not_equal(sign_full(&c, G.alice, sad, strlen(sad), SIG_ECDSA_SHA384,
					       HASH_SHA384, &h384, 1, &res),
				     SAM_OK);
	}
	/* Nothing was spent by the refusals: the right hash signs. */
	assert_int_equal(sign(&c, G.alice, sad, &h[0], 1, &res), SAM_OK);
	verify_all(&c, &res, &h[0], 1);
	sam_sign_res_clear(&res);
	/* The audit record names the hash signed. */
	for (size_t i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[0].v[i]);
	assert_int_equal(audit_count("sign", "success", "user:alice", hex), 1);

	/* A set of two: each hash once, in any order, nothing else. */
	rand_hash(&h[2], 32);
	two[0] = h[1];
	two[1] = h[2];
	authorize_ok(&c, G.alice, 2, two, 2, sad);
	two[1] = h[0]; /* h[1] good, h[0] foreign */
	assert_int_equal(sign(&c, G.alice, sad, two, 2, &res), SAM_E_HASH_MISMATCH);
	assert_int_equal(sign(&c, G.alice, sad, &h[2], 1, &res), SAM_OK);
	verify_all(&c, &res, &h[2], 1);
	sam_sign_res_clear(&res);
	/* h[2] again: spent. */
	assert_int_not_equal(sign(&c, G.alice, sad, &h[2], 1, &res), SAM_OK);
	assert_int_equal(sign(&c, G.alice, sad, &h[1], 1, &res), SAM_OK);
	verify_all(&c, &res, &h[1], 1);
	sam_sign_res_clear(&res);
	assert_int_equal(sign(&c, G.alice, sad, &h[1], 1, &res), SAM_E_SAD);

	/* A SAD lives only in the SAM's memory: neither the SAD nor its SHA-256
	 * is anywhere in the database files the front end shares, so there is
	 * no row to forge, restore or replay (the SAM interface, no HTTP). */
	rand_hash(&h[0], 32);
	authorize_ok(&c, G.alice, 1, &h[0], 1, sad);
	{
		uint8_t sh[32];
		unsigned int l = 0;
		char ref[17];
		EVP_Digest(sad, strlen(sad), sh, &l, EVP_sha256(), NULL);
		/* Control: the scan sees the files (the audit record names the
		 * SAD by the first 8 bytes of its hash, in hex). */
		for (int i = 0; i < 8; i++)
			snprintf(ref + 2 * i, 3, "%02x", sh[i]);
		assert_true(db_files_contain(ref, 16));
		assert_false(db_files_contain(sh, sizeof(sh)));
		assert_false(db_files_contain(sad, strlen(sad)));
	}
	assert_int_equal(sign(&c, G.alice, sad, &h[0], 1, &res), SAM_OK);
	verify_all(&c, &res, &h[0], 1);
	sam_sign_res_clear(&res);
	cred_free(&c);
}

/* ---- T02: SAD <-> key binding ---- */

static void test_t02_key_binding(void **state)
{
	cred a, b;
	sam_hash h;
	char sad[SAM_SAD_MAX];
	sam_sign_res res;

	(void)state;
	mkcred(&a, G.alice, KEY_EC, 2, true, 1);
	mkcred(&b, G.alice, KEY_EC, 2, true, 1);
	rand_hash(&h, 32);
	authorize_ok(&a, G.alice, 1, &h, 1, sad);
	/* Same user, same hash, other credential: refused, nothing signed. */
	assert_int_equal(sign(&b, G.alice, sad, &h, 1, &res), SAM_E_SAD);
	assert_null(res.sigs);
	/* Still good for A. */
	assert_int_equal(sign(&a, G.alice, sad, &h, 1, &res), SAM_OK);
	verify_all(&a, &res, &h, 1);
	/* A's signature does not verify under B's key. */
	assert_false(verify(b.pub, 0, NULL, 0, &h, res.sigs[0], res.lens[0]));
	sam_sign_res_clear(&res);
	cred_free(&a);
	cred_free(&b);
}

/* Run one SQL statement on the database, as a front end with write
 * access to the file could. */
static void db_exec(const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(store_uri + strlen("sqlite:"), &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* T02 with the database against us (the SAM interface, no HTTP): Alice
 * points her own credential at Bob's key in the store. The SAD she got
 * before the edit does not sign, and no PIN opens the edited row. */
static void test_t02_edited_row(void **state)
{
	cred a, b;
	sam_hash h;
	char sad[SAM_SAD_MAX], sql[512];
	sam_sign_res res;

	(void)state;
	mkcred(&a, G.alice, KEY_EC, 1, false, 5);
	mkcred(&b, G.bob, KEY_EC, 1, false, 5);
	rand_hash(&h, 32);
	assert_int_equal(authorize(&a, G.alice, 5, NULL, 0, PIN, NULL, sad), SAM_OK);
	snprintf(sql, sizeof(sql),
		 "UPDATE credentials SET key_id = (SELECT key_id FROM credentials WHERE id = '%s') "
		 "WHERE id = '%s';",
		 b.id, a.id);
	db_exec(sql);
	assert_int_equal(sign(&a, G.alice, sad, &h, 1, &res), SAM_E_SAD);
	assert_null(res.sigs);
	assert_int_equal(authorize(&a, G.alice, 1, NULL, 0, PIN, NULL, sad), SAM_E_INTERNAL);
	assert_true(audit_count("sign", "failure", "user:alice",
				"credential changed since the authorization") >= 1);
	/* A SCAL2 credential whose OTP requirement is dropped in the store
	 * accepts no PIN alone. */
	cred_free(&a);
	mkcred(&a, G.alice, KEY_EC, 2, true, 1);
	snprintf(sql, sizeof(sql), "UPDATE credentials SET auth_otp = 0, scal = 1 WHERE id = '%s';",
		 a.id);
	db_exec(sql);
	assert_int_equal(authorize(&a, G.alice, 1, &h, 1, PIN, NULL, sad), SAM_E_INTERNAL);
	cred_free(&a);
	/* Disabled by the operator, re-enabled by an edit: no PIN opens it. The
	 * operator's own disable/enable re-seals and works. */
	mkcred(&a, G.alice, KEY_EC, 1, false, 5);
	assert_int_equal(sam_cred_set_enabled(G.m, a.id, false), SAM_OK);
	assert_int_equal(authorize(&a, G.alice, 1, NULL, 0, PIN, NULL, sad), SAM_E_DISABLED);
	assert_int_equal(sam_cred_set_enabled(G.m, a.id, true), SAM_OK);
	assert_int_equal(authorize(&a, G.alice, 1, NULL, 0, PIN, NULL, sad), SAM_OK);
	assert_int_equal(sam_cred_set_enabled(G.m, a.id, false), SAM_OK);
	snprintf(sql, sizeof(sql), "UPDATE credentials SET enabled = 1 WHERE id = '%s';", a.id);
	db_exec(sql);
	assert_int_equal(authorize(&a, G.alice, 1, NULL, 0, PIN, NULL, sad), SAM_E_INTERNAL);
	cred_free(&a);
	/* Another certificate put in the row (say, one still valid): no PIN. */
	mkcred(&a, G.alice, KEY_EC, 1, false, 5);
	snprintf(sql, sizeof(sql),
		 "UPDATE credentials SET cert = (SELECT cert FROM credentials WHERE id = '%s') "
		 "WHERE id = '%s';",
		 b.id, a.id);
	db_exec(sql);
	assert_int_equal(authorize(&a, G.alice, 1, NULL, 0, PIN, NULL, sad), SAM_E_INTERNAL);
	cred_free(&a);
	cred_free(&b);
}

/* ---- T03: SAD <-> signer binding ---- */

static void test_t03_signer_binding(void **state)
{
	cred a, b;
	sam_hash h;
	char sad[SAM_SAD_MAX], otp[7], bsad[SAM_SAD_MAX];
	sam_sign_res res;
	int before;

	(void)state;
	mkcred(&a, G.alice, KEY_EC, 2, true, 1);
	mkcred(&b, G.bob, KEY_EC, 2, true, 1);
	rand_hash(&h, 32);
	/* Bob cannot authorize Alice's credential, even with her PIN + OTP. */
	before = audit_count("authorize", "failure", "user:bob", NULL);
	next_otp(otp);
	assert_int_equal(authorize(&a, G.bob, 1, &h, 1, PIN, otp, bsad), SAM_E_NO_CREDENTIAL);
	assert_int_equal(audit_count("authorize", "failure", "user:bob", NULL), before + 1);
	/* ... and that attempt did not count against Alice's credential. */
	{
		store_credential sc;
		assert_int_equal(store_cred_get(G.s, a.id, &sc), STORE_OK);
		assert_int_equal(sc.pin_failures, 0);
		store_credential_clear(&sc);
	}
	authorize_ok(&a, G.alice, 1, &h, 1, sad);
	/* Alice's SAD in Bob's session, for Alice's credential. */
	before = audit_count("sign", "failure", "user:bob", NULL);
	assert_int_equal(sign(&a, G.bob, sad, &h, 1, &res), SAM_E_NO_CREDENTIAL);
	/* Alice's SAD in Bob's session, for Bob's credential. */
	assert_int_equal(sign(&b, G.bob, sad, &h, 1, &res), SAM_E_SAD);
	assert_int_equal(audit_count("sign", "failure", "user:bob", NULL), before + 2);
	/* Alice still can. */
	assert_int_equal(sign(&a, G.alice, sad, &h, 1, &res), SAM_OK);
	verify_all(&a, &res, &h, 1);
	sam_sign_res_clear(&res);
	/* An unknown credential looks the same as someone else's. */
	{
		cred ghost = a;
		snprintf(ghost.id, sizeof(ghost.id), "00000000000000000000000000000000");
		assert_int_equal(authorize(&ghost, G.alice, 1, &h, 1, PIN, otp, NULL),
				 SAM_E_NO_CREDENTIAL);
	}
	cred_free(&a);
	cred_free(&b);
}

/* ---- T04: counts and multisign ---- */

static void test_t04_counts(void **state)
{
	cred c2, c1;
	sam_hash h[5];
	char sad[SAM_SAD_MAX], otp[7];
	sam_sign_res res;
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		rand_hash(&h[i], 32);
	mkcred(&c2, G.alice, KEY_EC, 2, true, 3);
	/* numSignatures = 1: a second use is refused. */
	authorize_ok(&c2, G.alice, 1, h, 1, sad);
	assert_int_equal(sign(&c2, G.alice, sad, h, 1, &res), SAM_OK);
	sam_sign_res_clear(&res);
	assert_int_equal(sign(&c2, G.alice, sad, h, 1, &res), SAM_E_SAD);
	/* numSignatures = 3: three hashes in one call, then nothing. */
	authorize_ok(&c2, G.alice, 3, h, 3, sad);
	assert_int_equal(sign(&c2, G.alice, sad, h, 3, &res), SAM_OK);
	verify_all(&c2, &res, h, 3);
	sam_sign_res_clear(&res);
	assert_int_equal(sign(&c2, G.alice, sad, &h[3], 1, &res), SAM_E_SAD);
	/* numSignatures above multisign, or zero, or negative. */
	next_otp(otp);
	assert_int_equal(authorize(&c2, G.alice, 4, h, 4, PIN, otp, sad), SAM_E_MULTISIGN);
	assert_int_equal(authorize(&c2, G.alice, 0, h, 0, PIN, otp, sad), SAM_E_MULTISIGN);
	assert_int_equal(authorize(&c2, G.alice, -1, h, 1, PIN, otp, sad), SAM_E_MULTISIGN);
	/* SCAL2: the number of hashes must equal numSignatures. */
	assert_int_equal(authorize(&c2, G.alice, 2, h, 1, PIN, otp, sad), SAM_E_REQUEST);
	/* Too many hashes for one request. */
	{
		static sam_hash many[SAM_MAX_HASHES + 1];
		assert_int_equal(
		    authorize(&c2, G.alice, 1, many, SAM_MAX_HASHES + 1, PIN, otp, sad),
		    SAM_E_REQUEST);
	}

	/* SCAL1 with a count: 2 + 2 > 3 refused, then the last one. */
	mkcred(&c1, G.alice, KEY_EC, 1, false, 3);
	assert_int_equal(authorize(&c1, G.alice, 3, NULL, 0, PIN, NULL, sad), SAM_OK);
	assert_int_equal(sign(&c1, G.alice, sad, h, 2, &res), SAM_OK);
	verify_all(&c1, &res, h, 2);
	sam_sign_res_clear(&res);
	assert_int_equal(sign(&c1, G.alice, sad, &h[2], 2, &res), SAM_E_COUNT);
	assert_int_equal(sign(&c1, G.alice, sad, &h[4], 1, &res), SAM_OK);
	verify_all(&c1, &res, &h[4], 1);
	sam_sign_res_clear(&res);
	assert_int_equal(sign(&c1, G.alice, sad, &h[4], 1, &res), SAM_E_SAD);
	/* An empty sign request. */
	assert_int_equal(authorize(&c1, G.alice, 1, NULL, 0, PIN, NULL, sad), SAM_OK);
	assert_int_equal(sign(&c1, G.alice, sad, h, 0, &res), SAM_E_REQUEST);
	cred_free(&c2);
	cred_free(&c1);
}

/* ---- T05: replay race ---- */

#define RACERS 16

typedef struct {
	const cred *c;
	const char *sad;
	const sam_hash *h;
	pthread_barrier_t *bar;
	sam_status st;
	sam_sign_res res;
} racer;

static void *race_sign(void *arg)
{
	racer *r = arg;

	pthread_barrier_wait(r->bar);
	r->st = sign_full(r->c, G.alice, r->sad, strlen(r->sad), SIG_ECDSA_SHA256, HASH_SHA256,
			  r->h, 1, &r->res);
	return NULL;
}

static void test_t05_replay_race(void **state)
{
	cred c;
	sam_hash h;
	char sad[SAM_SAD_MAX];
	pthread_t th[RACERS];
	racer r[RACERS];
	pthread_barrier_t bar;
	int i, round, wins, before;

	(void)state;
	mkcred(&c, G.alice, KEY_EC, 2, true, 1);
	for (round = 0; round < 3; round++) {
		rand_hash(&h, 32);
		authorize_ok(&c, G.alice, 1, &h, 1, sad);
		before = audit_count("sign", "success", NULL, NULL);
		pthread_barrier_init(&bar, NULL, RACERS);
		for (i = 0; i < RACERS; i++) {
			memset(&r[i], 0, sizeof(r[i]));
			r[i].c = &c;
			r[i].sad = sad;
			r[i].h = &h;
			r[i].bar = &bar;
			assert_int_equal(pthread_create(&th[i], NULL, race_sign, &r[i]), 0);
		}
		wins = 0;
		for (i = 0; i < RACERS; i++) {
			pthread_join(th[i], NULL);
			if (r[i].st == SAM_OK) {
				wins++;
				verify_all(&c, &r[i].res, &h, 1);
			} else {
				assert_true(r[i].st == SAM_E_SAD || r[i].st == SAM_E_COUNT ||
					    r[i].st == SAM_E_HASH_MISMATCH);
				assert_null(r[i].res.sigs);
			}
			sam_sign_res_clear(&r[i].res);
		}
		pthread_barrier_destroy(&bar);
		assert_int_equal(wins, 1);
		assert_int_equal(audit_count("sign", "success", NULL, NULL), before + 1);
	}
	cred_free(&c);
}

/* ---- T06: expiry at the boundary ---- */

static void test_t06_expiry(void **state)
{
	cred c;
	sam_hash h;
	char sad[SAM_SAD_MAX];
	sam_sign_res res;
	time_t t0;

	(void)state;
	mkcred(&c, G.alice, KEY_EC, 1, false, 1);
	rand_hash(&h, 32);
	/* -1 s: still valid. */
	t0 = g_now;
	assert_int_equal(authorize(&c, G.alice, 1, NULL, 0, PIN, NULL, sad), SAM_OK);
	g_now = t0 + G.pol.sad_ttl - 1;
	assert_int_equal(sign(&c, G.alice, sad, &h, 1, &res), SAM_OK);
	verify_all(&c, &res, &h, 1);
	sam_sign_res_clear(&res);
	/* +1 s: expired. */
	g_now = t0;
	assert_int_equal(authorize(&c, G.alice, 1, NULL, 0, PIN, NULL, sad), SAM_OK);
	g_now = t0 + G.pol.sad_ttl + 1;
	assert_int_equal(sign(&c, G.alice, sad, &h, 1, &res), SAM_E_SAD_EXPIRED);
	/* ... and stays dead if the clock goes back (it was purged). */
	g_now = t0 + 1;
	assert_int_equal(sign(&c, G.alice, sad, &h, 1, &res), SAM_E_SAD);
	/* Exactly at expiry: expired. */
	g_now = t0;
	assert_int_equal(authorize(&c, G.alice, 1, NULL, 0, PIN, NULL, sad), SAM_OK);
	g_now = t0 + G.pol.sad_ttl;
	assert_int_equal(sign(&c, G.alice, sad, &h, 1, &res), SAM_E_SAD_EXPIRED);
	g_now = t0 + G.pol.sad_ttl + 10;
	cred_free(&c);
}

/* ---- T07: SAD integrity ---- */

static void test_t07_sad_integrity(void **state)
{
	cred c;
	sam_hash h;
	char sad[SAM_SAD_MAX], bad[SAM_SAD_MAX + 64];
	sam_sign_res res;
	size_t len, i;

	(void)state;
	mkcred(&c, G.alice, KEY_EC, 2, true, 1);
	rand_hash(&h, 32);
	authorize_ok(&c, G.alice, 1, &h, 1, sad);
	len = strlen(sad);
	/* Flip each byte position in turn. */
	for (i = 0; i < len; i++) {
		memcpy(bad, sad, len + 1);
		bad[i] ^= 0x01;
		assert_int_equal(
		    sign_full(&c, G.alice, bad, len, SIG_ECDSA_SHA256, HASH_SHA256, &h, 1, &res),
		    SAM_E_SAD);
	}
	/* Truncated by one, and to half. */
	assert_int_equal(
	    sign_full(&c, G.alice, sad, len - 1, SIG_ECDSA_SHA256, HASH_SHA256, &h, 1, &res),
	    SAM_E_SAD);
	assert_int_equal(
	    sign_full(&c, G.alice, sad, len / 2, SIG_ECDSA_SHA256, HASH_SHA256, &h, 1, &res),
	    SAM_E_SAD);
	/* Extended. */
	snprintf(bad, sizeof(bad), "%sA", sad);
	assert_int_equal(
	    sign_full(&c, G.alice, bad, len + 1, SIG_ECDSA_SHA256, HASH_SHA256, &h, 1, &res),
	    SAM_E_SAD);
	/* Empty, NULL, over-long. */
	assert_int_equal(sign_full(&c, G.alice, "", 0, SIG_ECDSA_SHA256, HASH_SHA256, &h, 1, &res),
			 SAM_E_SAD);
	assert_int_equal(
	    sign_full(&c, G.alice, NULL, 0, SIG_ECDSA_SHA256, HASH_SHA256, &h, 1, &res), SAM_E_SAD);
	memset(bad, 'A', sizeof(bad) - 1);
	bad[sizeof(bad) - 1] = '\0';
	assert_int_equal(sign_full(&c, G.alice, bad, sizeof(bad) - 1, SIG_ECDSA_SHA256, HASH_SHA256,
				   &h, 1, &res),
			 SAM_E_SAD);
	/* Forged: a well-formed SAD the SAM never issued. */
	{
		uint8_t raw[32];
		size_t j;
		static const char b64u[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		RAND_bytes(raw, sizeof(raw));
		for (j = 0; j < 43; j++)
			bad[j] = b64u[raw[j % 32] & 63];
		bad[43] = '\0';
		assert_int_equal(
		    sign_full(&c, G.alice, bad, 43, SIG_ECDSA_SHA256, HASH_SHA256, &h, 1, &res),
		    SAM_E_SAD);
	}
	/* None of that spent the real SAD. */
	assert_int_equal(sign(&c, G.alice, sad, &h, 1, &res), SAM_OK);
	verify_all(&c, &res, &h, 1);
	sam_sign_res_clear(&res);
	cred_free(&c);
}

/* ---- T08: two factors for SCAL2 ---- */

static void test_t08_factors(void **state)
{
	cred c;
	sam_hash h;
	char sad[SAM_SAD_MAX], otp[7], old[7];
	sam_sign_res res;

	(void)state;
	mkcred(&c, G.alice, KEY_EC, 2, true, 1);
	rand_hash(&h, 32);
	next_otp(otp);
	/* PIN only. */
	assert_int_equal(authorize(&c, G.alice, 1, &h, 1, PIN, NULL, sad), SAM_E_OTP);
	assert_int_equal(authorize(&c, G.alice, 1, &h, 1, PIN, "", sad), SAM_E_OTP);
	/* OTP only. */
	assert_int_equal(authorize(&c, G.alice, 1, &h, 1, NULL, otp, sad), SAM_E_FACTORS);
	assert_int_equal(authorize(&c, G.alice, 1, &h, 1, "", otp, sad), SAM_E_FACTORS);
	/* Nothing at all ("implicit"). */
	assert_int_equal(authorize(&c, G.alice, 1, &h, 1, NULL, NULL, sad), SAM_E_FACTORS);
	/* Malformed OTP. */
	assert_int_equal(authorize(&c, G.alice, 1, &h, 1, PIN, "12345a", sad), SAM_E_OTP);
	assert_int_equal(sam_cred_unblock(G.m, c.id), SAM_OK);
	/* PIN + OTP. */
	assert_int_equal(authorize(&c, G.alice, 1, &h, 1, PIN, otp, sad), SAM_OK);
	/* The same OTP again (still inside its window): refused. */
	assert_int_equal(authorize(&c, G.alice, 1, &h, 1, PIN, otp, NULL), SAM_E_OTP);
	/* An expired OTP (4 steps old). */
	memcpy(old, otp, sizeof(old));
	g_now += 4 * TOTP_STEP;
	snprintf(otp, sizeof(otp), "%06u",
		 totp_hotp(otp_key, sizeof(otp_key), (uint64_t)(g_now - 4 * TOTP_STEP) / TOTP_STEP,
			   TOTP_DIGITS));
	assert_int_equal(authorize(&c, G.alice, 1, &h, 1, PIN, otp, NULL), SAM_E_OTP);
	assert_int_equal(sam_cred_unblock(G.m, c.id), SAM_OK);
	/* Wrong PIN, good OTP. */
	next_otp(otp);
	assert_int_equal(authorize(&c, G.alice, 1, &h, 1, "1357", otp, NULL), SAM_E_PIN);
	assert_int_equal(sam_cred_unblock(G.m, c.id), SAM_OK);
	/* The SAD from PIN + OTP signs (g_now moved < sad_ttl). */
	assert_int_equal(sign(&c, G.alice, sad, &h, 1, &res), SAM_OK);
	verify_all(&c, &res, &h, 1);
	sam_sign_res_clear(&res);
	/* The OTP failures were audited. */
	assert_true(audit_count("authorize", "failure", "user:alice", "OTP already used") >= 1);
	cred_free(&c);
}

/* A copy of the database (closed, checkpointed) to put back later. */
static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out;
	char buf[8192];
	size_t n;

	assert_non_null(in);
	out = fopen(to, "wb");
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

static void save_db_copy(void)
{
	char copy[300];
	const char *db = store_uri + strlen("sqlite:");

	/* Closing the last connection checkpoints the WAL into the file. */
	sam_free(G.m);
	store_close(G.s);
	G.m = NULL;
	snprintf(copy, sizeof(copy), "%s.saved", db);
	copy_file(db, copy);
	assert_int_equal(store_open(store_uri, &G.s), STORE_OK);
	assert_int_equal(open_sam(), 0);
}

static void restore_db_copy(void)
{
	char copy[300], side[300];
	const char *db = store_uri + strlen("sqlite:");

	snprintf(copy, sizeof(copy), "%s.saved", db);
	copy_file(copy, db);
	snprintf(side, sizeof(side), "%s-wal", db);
	(void)unlink(side);
	snprintf(side, sizeof(side), "%s-shm", db);
	(void)unlink(side);
}

/* ---- T09: failure counter and lockout ---- */

static void test_t09_lockout(void **state)
{
	cred c;
	sam_hash h;
	char sad[SAM_SAD_MAX], live[SAM_SAD_MAX], otp[7];
	sam_sign_res res;
	sam_authorize_req r;
	sam_authorize_res ar;

	(void)state;
	mkcred(&c, G.alice, KEY_EC, 2, true, 1);
	rand_hash(&h, 32);
	authorize_ok(&c, G.alice, 1, &h, 1, live);
	save_db_copy();

	memset(&r, 0, sizeof(r));
	r.user_id = G.alice;
	memcpy(r.credential_id, c.id, sizeof(r.credential_id));
	r.num_signatures = 1;
	r.hash = HASH_SHA256;
	r.hashes = &h;
	r.n_hashes = 1;
	r.pin = "0000";
	r.pin_len = 4;
	r.otp = otp;
	r.otp_len = 6;
	next_otp(otp);
	assert_int_equal(sam_authorize(G.m, &r, &ar), SAM_E_PIN);
	assert_int_equal(ar.pin_failures, 1);
	next_otp(otp);
	assert_int_equal(sam_authorize(G.m, &r, &ar), SAM_E_PIN);
	assert_int_equal(ar.pin_failures, 2);
	next_otp(otp);
	assert_int_equal(sam_authorize(G.m, &r, &ar), SAM_E_LOCKED);
	assert_int_equal(ar.pin_failures, THRESHOLD);
	assert_int_equal(audit_count("lockout", "success", "user:alice", NULL) >= 1, 1);
	/* The correct PIN + OTP is refused now. */
	next_otp(otp);
	assert_int_equal(authorize(&c, G.alice, 1, &h, 1, PIN, otp, sad), SAM_E_LOCKED);
	/* A SAD issued before the lock cannot be used either. */
	assert_int_equal(sign(&c, G.alice, live, &h, 1, &res), SAM_E_LOCKED);
	/* The lock survives a restart. */
	sam_free(G.m);
	store_close(G.s);
	G.m = NULL;
	assert_int_equal(store_open(store_uri, &G.s), STORE_OK);
	assert_int_equal(open_sam(), 0);
	next_otp(otp);
	assert_int_equal(authorize(&c, G.alice, 1, &h, 1, PIN, otp, sad), SAM_E_LOCKED);
	/* The lock survives a database restore: the count is in the HSM. Put
	 * back a copy of the database from before the failures. */
	sam_free(G.m);
	store_close(G.s);
	G.m = NULL;
	restore_db_copy();
	assert_int_equal(store_open(store_uri, &G.s), STORE_OK);
	{
		store_credential sc;
		memset(&sc, 0, sizeof(sc));
		assert_int_equal(store_cred_get(G.s, c.id, &sc), STORE_OK);
		assert_int_equal(sc.pin_failures, 0); /* the restored copy knows nothing */
		assert_false(sc.pin_locked);
		store_credential_clear(&sc);
	}
	assert_int_equal(open_sam(), 0);
	next_otp(otp);
	assert_int_equal(authorize(&c, G.alice, 1, &h, 1, PIN, otp, sad), SAM_E_LOCKED);
	/* Editing the store's copy does not unlock either. */
	assert_int_equal(store_cred_set_locked(G.s, c.id, false), STORE_OK);
	next_otp(otp);
	assert_int_equal(authorize(&c, G.alice, 1, &h, 1, PIN, otp, sad), SAM_E_LOCKED);
	/* Unlock (the admin path) resets the counter; then it works. */
	assert_int_equal(sam_cred_unblock(G.m, c.id), SAM_OK);
	authorize_ok(&c, G.alice, 1, &h, 1, sad);
	assert_int_equal(sign(&c, G.alice, sad, &h, 1, &res), SAM_OK);
	verify_all(&c, &res, &h, 1);
	sam_sign_res_clear(&res);
	/* A success resets the counter. */
	next_otp(otp);
	assert_int_equal(authorize(&c, G.alice, 1, &h, 1, "9999", otp, NULL), SAM_E_PIN);
	authorize_ok(&c, G.alice, 1, &h, 1, sad);
	{
		store_credential sc;
		assert_int_equal(store_cred_get(G.s, c.id, &sc), STORE_OK);
		assert_int_equal(sc.pin_failures, 0);
		store_credential_clear(&sc);
	}
	/* Wrong OTPs count too. */
	next_otp(otp);
	assert_int_equal(authorize(&c, G.alice, 1, &h, 1, PIN, "000000", NULL) != SAM_OK, 1);
	cred_free(&c);
}

/* ---- T20: SCAL1 vs SCAL2 ---- */

static void test_t20_scal(void **state)
{
	cred c1, c2;
	sam_hash h;
	char sad[SAM_SAD_MAX], otp[7];
	sam_sign_res res;

	(void)state;
	mkcred(&c1, G.alice, KEY_EC, 1, false, 1);
	mkcred(&c2, G.alice, KEY_EC, 2, true, 1);
	rand_hash(&h, 32);
	/* SCAL1: no hashes at authorize, any hash at sign. */
	assert_int_equal(authorize(&c1, G.alice, 1, NULL, 0, PIN, NULL, sad), SAM_OK);
	assert_int_equal(sign(&c1, G.alice, sad, &h, 1, &res), SAM_OK);
	verify_all(&c1, &res, &h, 1);
	sam_sign_res_clear(&res);
	/* SCAL1 still needs the PIN. */
	assert_int_equal(authorize(&c1, G.alice, 1, NULL, 0, NULL, NULL, sad), SAM_E_FACTORS);
	/* SCAL2: hashes required. */
	next_otp(otp);
	assert_int_equal(authorize(&c2, G.alice, 1, NULL, 0, PIN, otp, sad), SAM_E_HASHES_REQUIRED);
	cred_free(&c1);
	cred_free(&c2);
}

/* ---- algorithms, certificate, extend, lifecycle ---- */

static void test_rsa_algorithms(void **state)
{
	cred c;
	sam_hash h[3], h384, bad;
	char sad[SAM_SAD_MAX];
	sam_sign_res res;

	(void)state;
	mkcred(&c, G.alice, KEY_RSA, 1, false, 10);
	rand_hash(&h[0], 32);
	rand_hash(&h[1], 32);
	rand_hash(&h[2], 32);
	rand_hash(&h384, 48);
	assert_int_equal(authorize(&c, G.alice, 10, NULL, 0, PIN, NULL, sad), SAM_OK);
	/* sha256WithRSAEncryption. */
	assert_int_equal(
	    sign_full(&c, G.alice, sad, strlen(sad), SIG_RSA_SHA256, HASH_NONE, h, 2, &res),
	    SAM_OK);
	verify_all(&c, &res, h, 2);
	assert_int_equal(res.lens[0], 256);
	sam_sign_res_clear(&res);
	/* rsaEncryption with hashAlgorithmOID SHA-384. */
	assert_int_equal(
	    sign_full(&c, G.alice, sad, strlen(sad), SIG_RSA_RAW, HASH_SHA384, &h384, 1, &res),
	    SAM_OK);
	assert_true(
	    verify(c.pub, RSA_PKCS1_PADDING, EVP_sha384(), 0, &h384, res.sigs[0], res.lens[0]));
	sam_sign_res_clear(&res);
	/* RSASSA-PSS SHA-256 / MGF1-SHA-256 / salt 32. */
	assert_int_equal(
	    sign_full(&c, G.alice, sad, strlen(sad), SIG_RSA_PSS, HASH_SHA256, &h[2], 1, &res),
	    SAM_OK);
	assert_true(verify(c.pub, RSA_PKCS1_PSS_PADDING, EVP_sha256(), 32, &h[2], res.sigs[0],
			   res.lens[0]));
	sam_sign_res_clear(&res);
	/* Refusals (nothing spent): ECDSA on an RSA key, rsaEncryption without
	 * a hash, a hash that contradicts the algorithm, a digest of the wrong
	 * length, PSS with a salt that does not fit. */
	assert_int_equal(
	    sign_full(&c, G.alice, sad, strlen(sad), SIG_ECDSA_SHA256, HASH_SHA256, h, 1, &res),
	    SAM_E_ALGO);
	assert_int_equal(
	    sign_full(&c, G.alice, sad, strlen(sad), SIG_RSA_RAW, HASH_NONE, h, 1, &res),
	    SAM_E_ALGO);
	assert_int_equal(
	    sign_full(&c, G.alice, sad, strlen(sad), SIG_RSA_SHA256, HASH_SHA512, h, 1, &res),
	    SAM_E_ALGO);
	assert_int_equal(
	    sign_full(&c, G.alice, sad, strlen(sad), SIG_RSA_SHA384, HASH_NONE, h, 1, &res),
	    SAM_E_REQUEST);
	bad = h[0];
	bad.len = 31;
	assert_int_equal(
	    sign_full(&c, G.alice, sad, strlen(sad), SIG_RSA_SHA256, HASH_NONE, &bad, 1, &res),
	    SAM_E_REQUEST);
	{
		sam_sign_req r;
		memset(&r, 0, sizeof(r));
		r.user_id = G.alice;
		memcpy(r.credential_id, c.id, sizeof(r.credential_id));
		r.sad = sad;
		r.sad_len = strlen(sad);
		r.algo = SIG_RSA_PSS;
		r.hash = HASH_SHA256;
		r.pss_mgf_hash = HASH_SHA256;
		r.hashes = h;
		r.n_hashes = 1;
		r.pss_salt_len = -1;
		assert_int_equal(sam_sign(G.m, &r, &res), SAM_E_ALGO);
		r.pss_salt_len = 500;
		assert_int_equal(sam_sign(G.m, &r, &res), SAM_E_ALGO);
		r.pss_salt_len = 32;
		r.pss_mgf_hash = HASH_NONE;
		assert_int_equal(sam_sign(G.m, &r, &res), SAM_E_ALGO);
		r.algo = (sig_alg)999;
		assert_int_equal(sam_sign(G.m, &r, &res), SAM_E_ALGO);
	}
	/* Still 6 uses left: the refusals spent nothing. */
	{
		sam_hash six[7];
		for (int i = 0; i < 7; i++)
			rand_hash(&six[i], 32);
		assert_int_equal(sign(&c, G.alice, sad, six, 7, &res), SAM_E_COUNT);
		assert_int_equal(sign(&c, G.alice, sad, six, 6, &res), SAM_OK);
		sam_sign_res_clear(&res);
		assert_int_equal(sign(&c, G.alice, sad, &six[6], 1, &res), SAM_E_SAD);
	}
	cred_free(&c);
}

static void test_ec_algorithms(void **state)
{
	cred c;
	sam_hash h, h384;
	char sad[SAM_SAD_MAX];
	sam_sign_res res;

	(void)state;
	mkcred(&c, G.alice, KEY_EC, 1, false, 5);
	rand_hash(&h, 32);
	rand_hash(&h384, 48);
	assert_int_equal(authorize(&c, G.alice, 5, NULL, 0, PIN, NULL, sad), SAM_OK);
	assert_int_equal(
	    sign_full(&c, G.alice, sad, strlen(sad), SIG_ECDSA_SHA256, HASH_NONE, &h, 1, &res),
	    SAM_OK);
	assert_true(verify(c.pub, 0, NULL, 0, &h, res.sigs[0], res.lens[0]));
	/* DER Ecdsa-Sig-Value. */
	assert_int_equal(res.sigs[0][0], 0x30);
	sam_sign_res_clear(&res);
	assert_int_equal(
	    sign_full(&c, G.alice, sad, strlen(sad), SIG_ECDSA_SHA384, HASH_NONE, &h384, 1, &res),
	    SAM_OK);
	assert_true(verify(c.pub, 0, NULL, 0, &h384, res.sigs[0], res.lens[0]));
	sam_sign_res_clear(&res);
	assert_int_equal(
	    sign_full(&c, G.alice, sad, strlen(sad), SIG_EC_PUBKEY, HASH_SHA384, &h384, 1, &res),
	    SAM_OK);
	assert_true(verify(c.pub, 0, NULL, 0, &h384, res.sigs[0], res.lens[0]));
	sam_sign_res_clear(&res);
	/* RSA algorithms on an EC key. */
	assert_int_equal(
	    sign_full(&c, G.alice, sad, strlen(sad), SIG_RSA_SHA256, HASH_NONE, &h, 1, &res),
	    SAM_E_ALGO);
	assert_int_equal(
	    sign_full(&c, G.alice, sad, strlen(sad), SIG_RSA_PSS, HASH_SHA256, &h, 1, &res),
	    SAM_E_ALGO);
	assert_int_equal(
	    sign_full(&c, G.alice, sad, strlen(sad), SIG_EC_PUBKEY, HASH_NONE, &h, 1, &res),
	    SAM_E_ALGO);
	cred_free(&c);
}

static void test_certificate(void **state)
{
	cred c, nocert, other;
	sam_hash h;
	char sad[SAM_SAD_MAX];
	sam_sign_res res;
	uint8_t *der;
	size_t len;
	time_t t0 = g_now;

	(void)state;
	rand_hash(&h, 32);
	/* No certificate yet: the key cannot sign. */
	mkcred_full(&nocert, G.alice, KEY_EC, 1, false, 1, false);
	assert_int_equal(authorize(&nocert, G.alice, 1, NULL, 0, PIN, NULL, sad), SAM_OK);
	assert_int_equal(sign(&nocert, G.alice, sad, &h, 1, &res), SAM_E_CERT);
	/* A certificate for another key is refused. */
	mkcred(&other, G.alice, KEY_EC, 1, false, 1);
	make_cert(other.pub, 365, &der, &len);
	assert_int_equal(sam_key_set_cert(G.m, nocert.id, der, len, "admin:test"), SAM_E_REQUEST);
	assert_int_equal(sam_key_set_cert(G.m, nocert.id, der, len - 1, "admin:test"),
			 SAM_E_REQUEST);
	OPENSSL_free(der);
	/* A certificate that expires in 1 day. */
	mkcred_full(&c, G.alice, KEY_EC, 1, false, 1, false);
	make_cert(c.pub, 1, &der, &len);
	assert_int_equal(sam_key_set_cert(G.m, c.id, der, len, "admin:test"), SAM_OK);
	OPENSSL_free(der);
	assert_int_equal(authorize(&c, G.alice, 1, NULL, 0, PIN, NULL, sad), SAM_OK);
	g_now = t0 + 2 * 86400;
	assert_int_equal(authorize(&c, G.alice, 1, NULL, 0, PIN, NULL, sad), SAM_OK);
	assert_int_equal(sign(&c, G.alice, sad, &h, 1, &res), SAM_E_CERT);
	/* Not yet valid. */
	g_now = t0 - 2 * 86400;
	assert_int_equal(authorize(&c, G.alice, 1, NULL, 0, PIN, NULL, sad), SAM_OK);
	assert_int_equal(sign(&c, G.alice, sad, &h, 1, &res), SAM_E_CERT);
	g_now = t0 + 600;
	cred_free(&c);
	cred_free(&nocert);
	cred_free(&other);
}

static void test_extend(void **state)
{
	cred c;
	sam_hash h[4];
	char sad[SAM_SAD_MAX];
	sam_authorize_res ar;
	sam_extend_req er;
	sam_sign_res res;
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		rand_hash(&h[i], 32);
	mkcred(&c, G.alice, KEY_EC, 2, true, 3);
	authorize_ok(&c, G.alice, 3, h, 3, sad);
	assert_int_equal(sign(&c, G.alice, sad, &h[0], 1, &res), SAM_OK);
	sam_sign_res_clear(&res);
	memset(&er, 0, sizeof(er));
	er.user_id = G.alice;
	memcpy(er.credential_id, c.id, sizeof(er.credential_id));
	er.sad = sad;
	er.sad_len = strlen(sad);
	er.hash = HASH_SHA256;
	/* SCAL2: extending without hashes is refused, and does not spend. */
	assert_int_equal(sam_extend(G.m, &er, &ar), SAM_E_HASHES_REQUIRED);
	/* More hashes than uses left. */
	er.hashes = h;
	er.n_hashes = 3;
	assert_int_equal(sam_extend(G.m, &er, &ar), SAM_E_COUNT);
	/* Bob cannot extend Alice's SAD. */
	er.hashes = &h[3];
	er.n_hashes = 1;
	er.user_id = G.bob;
	assert_int_not_equal(sam_extend(G.m, &er, &ar), SAM_OK);
	er.user_id = G.alice;
	/* Extend to a new hash: the old SAD is spent, the count carries (2). */
	assert_int_equal(sam_extend(G.m, &er, &ar), SAM_OK);
	assert_int_equal(strlen(ar.sad), 43);
	assert_int_equal(sign(&c, G.alice, sad, &h[1], 1, &res), SAM_E_SAD);
	assert_int_equal(sam_extend(G.m, &er, &ar) == SAM_E_SAD, 1);
	/* (that failed extend did not produce a new SAD) */
	cred_free(&c);
	mkcred(&c, G.alice, KEY_EC, 2, true, 3);
	authorize_ok(&c, G.alice, 3, h, 3, sad);
	memcpy(er.credential_id, c.id, sizeof(er.credential_id));
	er.sad = sad;
	er.sad_len = strlen(sad);
	assert_int_equal(sam_extend(G.m, &er, &ar), SAM_OK);
	/* The new SAD signs only the new hash. */
	assert_int_equal(sign(&c, G.alice, ar.sad, &h[1], 1, &res), SAM_E_HASH_MISMATCH);
	assert_int_equal(sign(&c, G.alice, ar.sad, &h[3], 1, &res), SAM_OK);
	verify_all(&c, &res, &h[3], 1);
	sam_sign_res_clear(&res);
	/* Two uses are left: extend again to another hash. */
	{
		char sad2[SAM_SAD_MAX];
		memcpy(sad2, ar.sad, sizeof(sad2));
		er.sad = sad2;
		er.sad_len = strlen(sad2);
		er.hashes = &h[2];
		assert_int_equal(sam_extend(G.m, &er, &ar), SAM_OK);
		assert_int_equal(sign(&c, G.alice, ar.sad, &h[2], 1, &res), SAM_OK);
		sam_sign_res_clear(&res);
		/* One use is left, but no bound hash: nothing more signs. */
		assert_int_equal(sign(&c, G.alice, ar.sad, &h[2], 1, &res), SAM_E_HASH_MISMATCH);
		assert_int_equal(sign(&c, G.alice, ar.sad, &h[3], 1, &res), SAM_E_HASH_MISMATCH);
	}
	cred_free(&c);
	/* SCAL1 with hashes given at authorize: the SAD is bound, and an
	 * extension cannot unbind it. */
	mkcred(&c, G.alice, KEY_EC, 1, false, 2);
	assert_int_equal(authorize(&c, G.alice, 2, h, 2, PIN, NULL, sad), SAM_OK);
	assert_int_equal(sign(&c, G.alice, sad, &h[2], 1, &res), SAM_E_HASH_MISMATCH);
	memcpy(er.credential_id, c.id, sizeof(er.credential_id));
	er.sad = sad;
	er.sad_len = strlen(sad);
	er.hashes = NULL;
	er.n_hashes = 0;
	assert_int_equal(sam_extend(G.m, &er, &ar), SAM_E_HASHES_REQUIRED);
	assert_int_equal(sign(&c, G.alice, sad, &h[1], 1, &res), SAM_OK);
	sam_sign_res_clear(&res);
	cred_free(&c);
}

static void test_lifecycle(void **state)
{
	cred c;
	sam_hash h;
	char sad[SAM_SAD_MAX];
	sam_sign_res res;
	store_credential sc;
	EVP_PKEY *pub = NULL;
	sam_keygen_req kr;
	sam_keygen_res kres;
	uint8_t kid[32];
	size_t kid_len;

	(void)state;
	rand_hash(&h, 32);
	mkcred(&c, G.alice, KEY_EC, 1, false, 1);
	assert_int_equal(store_cred_get(G.s, c.id, &sc), STORE_OK);
	assert_int_equal(sc.user_id, G.alice);
	assert_int_equal(sc.key_kind, KEY_EC);
	assert_int_equal(sc.key_bits, 256);
	assert_true(sc.enabled);
	assert_int_equal(sc.key_id_len, 16);
	/* The PIN is stored as a KDF hash sealed under the HSM factor key
	 * (server/sam_factor.h): neither in clear nor as a bare KDF string. */
	assert_null(strstr(sc.pin_hash, PIN));
	assert_true(strncmp(sc.pin_hash, "$hsm1$", 6) == 0);
	assert_null(strstr(sc.pin_hash, "$scrypt$"));
	memcpy(kid, sc.key_id, sizeof(kid));
	kid_len = sc.key_id_len;
	assert_int_equal(hsm_get_public(G.h, kid, kid_len, &pub), HSM_OK);
	assert_int_equal(EVP_PKEY_eq(pub, c.pub), 1);
	store_credential_clear(&sc);
	EVP_PKEY_free(pub);
	pub = NULL;
	assert_int_equal(audit_count("keygen", "success", "admin:test", NULL) >= 1, 1);

	/* New PIN. */
	assert_int_equal(sam_set_pin(G.m, c.id, "86420", 5, "admin:test"), SAM_OK);
	assert_int_equal(authorize(&c, G.alice, 1, NULL, 0, PIN, NULL, sad), SAM_E_PIN);
	assert_int_equal(authorize(&c, G.alice, 1, NULL, 0, "86420", NULL, sad), SAM_OK);
	assert_int_equal(sam_set_pin(G.m, c.id, "1", 1, "admin:test"), SAM_E_REQUEST);
	assert_int_equal(sam_set_pin(G.m, "nope", "12345", 5, "admin:test"), SAM_E_NO_CREDENTIAL);

	/* Disabled credential. */
	assert_int_equal(store_cred_set_enabled(G.s, c.id, false), STORE_OK);
	assert_int_equal(sign(&c, G.alice, sad, &h, 1, &res), SAM_E_DISABLED);
	assert_int_equal(authorize(&c, G.alice, 1, NULL, 0, "86420", NULL, NULL), SAM_E_DISABLED);
	assert_int_equal(store_cred_set_enabled(G.s, c.id, true), STORE_OK);

	/* Destroy: key gone from the HSM, the credential is unknown, audited. */
	assert_int_equal(sam_key_destroy(G.m, c.id, "admin:test"), SAM_OK);
	assert_int_equal(sign(&c, G.alice, sad, &h, 1, &res), SAM_E_NO_CREDENTIAL);
	assert_int_equal(hsm_get_public(G.h, kid, kid_len, &pub), HSM_ERR_NOKEY);
	assert_int_equal(store_cred_get(G.s, c.id, &sc), STORE_NOTFOUND);
	assert_int_equal(audit_count("key.destroy", "success", "admin:test", NULL), 1);
	assert_int_equal(sam_key_destroy(G.m, c.id, "admin:test"), SAM_E_NO_CREDENTIAL);
	store_credential_clear(&sc);

	/* Keygen input checks. */
	memset(&kr, 0, sizeof(kr));
	kr.user_id = G.alice;
	kr.kind = KEY_EC;
	kr.curve_nid = NID_X9_62_prime256v1;
	kr.scal = 2;
	kr.multisign = 1;
	kr.pin = PIN;
	kr.pin_len = strlen(PIN);
	kr.scal = 3;
	assert_int_equal(sam_keygen(G.m, &kr, &kres), SAM_E_REQUEST);
	kr.scal = 2;
	kr.multisign = G.pol.max_multisign + 1;
	assert_int_equal(sam_keygen(G.m, &kr, &kres), SAM_E_REQUEST);
	kr.multisign = 1;
	kr.pin_len = 2;
	assert_int_equal(sam_keygen(G.m, &kr, &kres), SAM_E_REQUEST);
	kr.pin_len = strlen(PIN);
	kr.user_id = 99999;
	assert_int_equal(sam_keygen(G.m, &kr, &kres), SAM_E_REQUEST);
	kr.user_id = G.alice;
	kr.curve_nid = NID_secp112r1;
	assert_int_equal(sam_keygen(G.m, &kr, &kres), SAM_E_REQUEST);
	kr.kind = KEY_RSA;
	kr.bits = 1024;
	assert_int_equal(sam_keygen(G.m, &kr, &kres), SAM_E_REQUEST);
	assert_null(kres.pub);
	cred_free(&c);
}

static void test_audit_intact(void **state)
{
	audit_report rep;

	(void)state;
	/* Everything above went into one chain that still verifies, and no
	 * PIN appears in it. */
	assert_int_equal(audit_verify(G.s, &rep), 1);
	assert_true(rep.records > 50);
	assert_int_equal(audit_count("authorize", "success", NULL, "\"" PIN "\""), 0);
	assert_int_equal(audit_count("authorize", "failure", NULL, "\"" PIN "\""), 0);
}

/* T16 "config change": the policy in force is audited once per change. */
static void test_policy_change_audited(void **state)
{
	int before, after;

	(void)state;
	before = audit_count("config.policy", "success", "system", NULL);
	assert_int_equal(sam_record_policy(G.m, "system"), 0);
	assert_int_equal(sam_record_policy(G.m, "system"), 0); /* unchanged: no record */
	after = audit_count("config.policy", "success", "system", NULL);
	assert_int_equal(after, before + 1);
	G.pol.lockout_threshold++;
	assert_int_equal(sam_record_policy(G.m, "system"), 0);
	G.pol.lockout_threshold--;
	assert_int_equal(audit_count("config.policy", "success", "system", NULL), after + 1);
	assert_true(audit_count("config.policy", "success", "system", "\"lockoutThreshold\"") >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_t01_hash_binding), cmocka_unit_test(test_t02_key_binding),
	    cmocka_unit_test(test_t02_edited_row),   cmocka_unit_test(test_t03_signer_binding),
	    cmocka_unit_test(test_t04_counts),	     cmocka_unit_test(test_t05_replay_race),
	    cmocka_unit_test(test_t06_expiry),	     cmocka_unit_test(test_t07_sad_integrity),
	    cmocka_unit_test(test_t08_factors),	     cmocka_unit_test(test_t09_lockout),
	    cmocka_unit_test(test_t20_scal),	     cmocka_unit_test(test_rsa_algorithms),
	    cmocka_unit_test(test_ec_algorithms),    cmocka_unit_test(test_certificate),
	    cmocka_unit_test(test_extend),	     cmocka_unit_test(test_lifecycle),
	    cmocka_unit_test(test_audit_intact),     cmocka_unit_test(test_policy_change_audited),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
