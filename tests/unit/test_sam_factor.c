/* SPDX-License-Identifier: Apache-2.0 */
/* Factor secrets under the HSM-held key (server/sam_factor.h and
 * hsm_secret_seal/open): PIN verifiers and TOTP seeds are stored
 * AES-256-GCM sealed; a value does not open in another row or field, a
 * flipped bit does not open, the key is sensitive and not extractable, a
 * strict SAM refuses unsealed values, the legacy migration seals them —
 * and a copy of the database file (with its WAL) contains neither the TOTP
 * seed nor the PIN verifier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>
#undef hash_alg

#include <openssl/obj_mac.h>

#include "b64.h"
#include "hsm.h"
#include "kdf.h"
#include "policy.h"
#include "sam.h"
#include "sam_client.h"
#include "sam_factor.h"
#include "sam_proto.h"
#include "sam_server.h"
#include "store.h"
#include "totp.h"
#include "testlib.h"

#define TOKEN_LABEL "cisres-factor-test"
#define SO_PIN "so-pin-0000"
#define USER_PIN "hsm-user-pin"
#define PIN "975310"

static char tmpdir[] = "/tmp/cisres-test-factor-XXXXXX";
static char dbpath[256];
static const uint8_t seed[20] = {0x9f, 0x11, 0x42, 0x07, 0xc3, 0x55, 0x18, 0xe0, 0x2a, 0x6b,
				 0x71, 0x0d, 0xbe, 0x93, 0x24, 0x5c, 0x86, 0x3f, 0xd1, 0x4a};

static struct {
	hsm *h;
	store *s;
	policy pol;
	sam *m;
	int64_t alice, bob;
} G;

static int64_t mkuser(const char *name)
{
	store_user u;

	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", name);
	snprintf(u.pw_hash, sizeof(u.pw_hash), "$scrypt$unused");
	u.created = 1;
	if (store_user_add(G.s, &u) != STORE_OK)
		return -1;
	return u.id;
}

static int group_setup(void **state)
{
	char uri[300];
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
	cfg.pool_size = 2;
	if (hsm_open(&cfg, &G.h) != HSM_OK)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/cisres.db", tmpdir);
	snprintf(uri, sizeof(uri), "sqlite:%s", dbpath);
	if (store_open(uri, &G.s) != STORE_OK)
		return -1;
	policy_defaults(&G.pol);
	G.pol.kdf_log_n = 10;
	d.hsm = G.h;
	d.store = G.s;
	d.policy = &G.pol;
	if (sam_new(&d, &G.m) != 0)
		return -1;
	G.alice = mkuser("alice");
	G.bob = mkuser("bob");
	return G.alice > 0 && G.bob > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	sam_free(G.m);
	store_close(G.s);
	hsm_close(G.h);
	testlib_rmtree(tmpdir);
	return 0;
}

/* ---- hsm_secret_seal / open ---- */

static void test_seal_open(void **state)
{
	const uint8_t aad[] = "row:1:field", aad2[] = "row:2:field";
	uint8_t blob[128], blob2[128], out[64];
	size_t bl = 0, bl2 = 0, ol = 0;

	(void)state;
	assert_int_equal(
	    hsm_secret_seal(G.h, aad, sizeof(aad), seed, sizeof(seed), blob, sizeof(blob), &bl),
	    HSM_OK);
	assert_int_equal(bl, sizeof(seed) + HSM_SECRET_OVERHEAD);
	assert_true(hsm_secret_is_sealed(blob, bl));
	assert_null(memmem(blob, bl, seed, sizeof(seed)));
	assert_int_equal(hsm_secret_open(G.h, aad, sizeof(aad), blob, bl, out, sizeof(out), &ol),
			 HSM_OK);
	assert_int_equal(ol, sizeof(seed));
	assert_memory_equal(out, seed, sizeof(seed));
	/* Random IV: sealing twice gives two different blobs. */
	assert_int_equal(
	    hsm_secret_seal(G.h, aad, sizeof(aad), seed, sizeof(seed), blob2, sizeof(blob2), &bl2),
	    HSM_OK);
	assert_int_equal(bl2, bl);
	assert_memory_not_equal(blob, blob2, bl);
	/* Another AAD (another row), a flipped bit anywhere: refused. */
	assert_int_equal(hsm_secret_open(G.h, aad2, sizeof(aad2), blob, bl, out, sizeof(out), &ol),
			 HSM_ERR_INPUT);
	assert_int_equal(ol, 0);
	for (size_t i = 4; i < bl; i++) {
		blob[i] ^= 0x01;
		assert_int_equal(
		    hsm_secret_open(G.h, aad, sizeof(aad), blob, bl, out, sizeof(out), &ol),
		    HSM_ERR_INPUT);
		blob[i] ^= 0x01;
	}
	/* Truncated, no magic, too small an output buffer. */
	assert_int_equal(
	    hsm_secret_open(G.h, aad, sizeof(aad), blob, bl - 1, out, sizeof(out), &ol),
	    HSM_ERR_INPUT);
	assert_int_equal(hsm_secret_open(G.h, aad, sizeof(aad), blob, 31, out, sizeof(out), &ol),
			 HSM_ERR_INPUT);
	blob[0] = 'X';
	assert_int_equal(hsm_secret_open(G.h, aad, sizeof(aad), blob, bl, out, sizeof(out), &ol),
			 HSM_ERR_INPUT);
	blob[0] = 'C';
	assert_int_equal(hsm_secret_open(G.h, aad, sizeof(aad), blob, bl, out, 10, &ol),
			 HSM_ERR_INPUT);
	assert_int_equal(hsm_secret_open(G.h, aad, sizeof(aad), blob, bl, out, sizeof(out), &ol),
			 HSM_OK);
	/* Seal refuses an output buffer without room for the overhead. */
	assert_int_equal(hsm_secret_seal(G.h, aad, sizeof(aad), seed, sizeof(seed), blob,
					 sizeof(seed) + HSM_SECRET_OVERHEAD - 1, &bl),
			 HSM_ERR_INPUT);
}

/* The factor key's attributes, read straight through PKCS#11. */
static void test_factor_key_attributes(void **state)
{
	void *dl;
	CK_C_GetFunctionList gfl;
	CK_FUNCTION_LIST_PTR f;
	CK_SLOT_ID slots[8];
	CK_ULONG ns = 8, n = 0;
	CK_SESSION_HANDLE s;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_OBJECT_HANDLE obj[4];
	CK_ATTRIBUTE find[] = {{CKA_CLASS, &cls, sizeof(cls)},
			       {CKA_ID, (void *)HSM_FACTOR_KEY_ID, strlen(HSM_FACTOR_KEY_ID)}};
	CK_BBOOL sens = 0, extr = 1, never = 0, wrap = 1, unwrap = 1, sign = 1, enc = 0, dec = 0,
		 derive = 1, token = 0;
	CK_KEY_TYPE kt = 0;
	CK_ULONG vlen = 0;
	CK_ATTRIBUTE a[] = {
	    {CKA_SENSITIVE, &sens, 1},
	    {CKA_EXTRACTABLE, &extr, 1},
	    {CKA_NEVER_EXTRACTABLE, &never, 1},
	    {CKA_WRAP, &wrap, 1},
	    {CKA_UNWRAP, &unwrap, 1},
	    {CKA_SIGN, &sign, 1},
	    {CKA_ENCRYPT, &enc, 1},
	    {CKA_DECRYPT, &dec, 1},
	    {CKA_DERIVE, &derive, 1},
	    {CKA_TOKEN, &token, 1},
	    {CKA_KEY_TYPE, &kt, sizeof(kt)},
	    {CKA_VALUE_LEN, &vlen, sizeof(vlen)},
	};
	uint8_t value[64];
	CK_ATTRIBUTE v = {CKA_VALUE, value, sizeof(value)};
	CK_RV rv;

	(void)state;
	dl = dlopen(testlib_module(), RTLD_NOW);
	assert_non_null(dl);
	gfl = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	assert_non_null(gfl);
	assert_int_equal(gfl(&f), CKR_OK);
	rv = f->C_Initialize(NULL);
	assert_true(rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED);
	assert_int_equal(f->C_GetSlotList(CK_TRUE, slots, &ns), CKR_OK);
	assert_true(ns >= 1);
	assert_int_equal(f->C_OpenSession(slots[0], CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
	rv = f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN));
	assert_true(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
	assert_int_equal(f->C_FindObjectsInit(s, find, 2), CKR_OK);
	assert_int_equal(f->C_FindObjects(s, obj, 4, &n), CKR_OK);
	assert_int_equal(f->C_FindObjectsFinal(s), CKR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(f->C_GetAttributeValue(s, obj[0], a, sizeof(a) / sizeof(a[0])), CKR_OK);
	assert_true(sens);
	assert_false(extr);
	assert_true(never);
	assert_false(wrap);
	assert_false(unwrap);
	assert_false(sign);
	assert_true(enc);
	assert_true(dec);
	assert_false(derive);
	assert_true(token);
	assert_int_equal(kt, CKK_AES);
	assert_int_equal(vlen, 32);
	assert_int_equal(f->C_GetAttributeValue(s, obj[0], &v, 1), CKR_ATTRIBUTE_SENSITIVE);
	assert_int_equal(f->C_CloseSession(s), CKR_OK);
	/* The module stays loaded for the hsm handle: no C_Finalize here. */
}

/* ---- sam_factor: PIN verifiers and TOTP seeds ---- */

static store_credential binding_row(const char *id)
{
	store_credential c;

	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "%s", id);
	c.user_id = 7;
	memset(c.key_id, 0x5a, 16);
	c.key_id_len = 16;
	c.key_kind = KEY_EC;
	c.key_bits = 256;
	c.scal = 2;
	c.auth_otp = true;
	c.multisign = 1;
	return c;
}

static void test_pin_binding(void **state)
{
	char kdf[STORE_HASH_MAX], sealed[STORE_HASH_MAX], out[STORE_HASH_MAX];
	store_credential a = binding_row("aaaa"), b = binding_row("bbbb"), e;
	uint8_t ba[32], be[32];

	(void)state;
	assert_int_equal(kdf_hash(PIN, strlen(PIN), 10, kdf, sizeof(kdf)), 0);
	assert_int_equal(sam_factor_seal_pin(G.h, &a, kdf, sealed), 0);
	assert_true(sam_factor_pin_sealed(sealed));
	assert_null(strstr(sealed, "$scrypt$"));
	assert_int_equal(sam_factor_open_pin(G.h, true, &a, sealed, out), SAM_FACTOR_OK);
	assert_string_equal(out, kdf);
	/* Moved to credential "bbbb": does not open. */
	assert_int_equal(sam_factor_open_pin(G.h, true, &b, sealed, out), SAM_FACTOR_BAD);
	assert_string_equal(out, "");
	/* The row edited in the database: another owner, another HSM key, the
	 * OTP dropped, SCAL1, more signatures per SAD, another key size. None
	 * opens the verifier, so no PIN is accepted for the edited row. */
	assert_int_equal(sam_factor_cred_binding(&a, ba), 0);
	for (int i = 0; i < 9; i++) {
		e = a;
		switch (i) {
		case 7:
			e.enabled = !a.enabled;
			break;
		case 8:
			e.cert_der = (uint8_t *)"a certificate";
			e.cert_len = 13;
			break;
		case 0:
			e.user_id = 8;
			break;
		case 1:
			e.key_id[0] ^= 1;
			break;
		case 2:
			e.auth_otp = false;
			break;
		case 3:
			e.scal = 1;
			break;
		case 4:
			e.multisign = 100;
			break;
		case 5:
			e.key_bits = 384;
			break;
		default:
			e.key_id_len = 15;
			break;
		}
		assert_int_equal(sam_factor_open_pin(G.h, true, &e, sealed, out), SAM_FACTOR_BAD);
		assert_int_equal(sam_factor_cred_binding(&e, be), 0);
		assert_memory_not_equal(ba, be, 32);
	}
	/* What is not part of the binding (the description) does not matter. */
	e = a;
	snprintf(e.description, sizeof(e.description), "edited");
	assert_int_equal(sam_factor_open_pin(G.h, true, &e, sealed, out), SAM_FACTOR_OK);
	/* Legacy (unsealed) verifier: refused when strict, read otherwise. */
	assert_int_equal(sam_factor_open_pin(G.h, true, &a, kdf, out), SAM_FACTOR_LEGACY_REFUSED);
	assert_int_equal(sam_factor_open_pin(G.h, false, &a, kdf, out), SAM_FACTOR_OK);
	/* Garbage after the prefix. */
	assert_int_equal(sam_factor_open_pin(G.h, true, &a, "$hsm1$@@@@", out), SAM_FACTOR_BAD);
	/* Without an HSM, a sealed value cannot be used at all. */
	assert_int_equal(sam_factor_open_pin(NULL, false, &a, sealed, out), SAM_FACTOR_ERROR);
}

static void test_otp_binding(void **state)
{
	uint8_t blob[STORE_OTPKEY_MAX], out[STORE_OTPKEY_MAX];
	size_t bl = 0, ol = 0;

	(void)state;
	assert_int_equal(sam_factor_seal_otp(G.h, G.alice, seed, sizeof(seed), blob, &bl), 0);
	assert_true(sam_factor_otp_sealed(blob, bl));
	assert_int_equal(sam_factor_open_otp(G.h, true, G.alice, blob, bl, out, &ol),
			 SAM_FACTOR_OK);
	assert_int_equal(ol, sizeof(seed));
	assert_memory_equal(out, seed, sizeof(seed));
	assert_int_equal(sam_factor_open_otp(G.h, true, G.bob, blob, bl, out, &ol), SAM_FACTOR_BAD);
	assert_int_equal(ol, 0);
	assert_int_equal(sam_factor_open_otp(G.h, true, G.alice, seed, sizeof(seed), out, &ol),
			 SAM_FACTOR_LEGACY_REFUSED);
	assert_int_equal(
	    sam_factor_seal_otp(G.h, G.alice, blob, SAM_FACTOR_SEED_MAX + 1, blob, &bl), -1);
}

/* authorize with PIN + OTP at a time step. */
static sam_status authorize_otp(const char *cred, int64_t user, const char *pin, time_t when)
{
	sam_authorize_req ar;
	sam_authorize_res out;
	sam_hash h;
	char otp[16];

	memset(&h, 0x5a, sizeof(h));
	h.len = 32;
	snprintf(otp, sizeof(otp), "%06u",
		 totp_hotp(seed, sizeof(seed), (uint64_t)when / TOTP_STEP, TOTP_DIGITS));
	memset(&ar, 0, sizeof(ar));
	ar.user_id = user;
	snprintf(ar.credential_id, sizeof(ar.credential_id), "%s", cred);
	ar.num_signatures = 1;
	ar.hash = HASH_SHA256;
	ar.hashes = &h;
	ar.n_hashes = 1;
	ar.pin = pin;
	ar.pin_len = strlen(pin);
	ar.otp = otp;
	ar.otp_len = strlen(otp);
	return sam_authorize(G.m, &ar, &out);
}

static size_t file_find(const char *path, const void *needle, size_t nlen)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long sz;
	size_t hits = 0;

	if (f == NULL)
		return 0; /* e.g. no WAL file */
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	sz = ftell(f);
	assert_true(sz >= 0);
	rewind(f);
	buf = malloc((size_t)sz + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)sz, f), (size_t)sz);
	fclose(f);
	for (size_t i = 0; i + nlen <= (size_t)sz; i++)
		if (memcmp(buf + i, needle, nlen) == 0)
			hits++;
	free(buf);
	return hits;
}

static size_t db_find(const void *needle, size_t nlen)
{
	char wal[300];

	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	return file_find(dbpath, needle, nlen) + file_find(wal, needle, nlen);
}

static void test_database_copy_reveals_nothing(void **state)
{
	sam_keygen_req kr;
	sam_keygen_res kres;
	store_credential c;
	store_user u;
	char kdf[STORE_HASH_MAX], b32[64];
	char *b = NULL;
	time_t now = time(NULL);

	(void)state;
	/* Enrollment through the SAM: seed and PIN go in sealed. */
	assert_int_equal(sam_user_set_otp(G.m, G.alice, seed, sizeof(seed), "admin:test"), SAM_OK);
	memset(&kr, 0, sizeof(kr));
	kr.user_id = G.alice;
	kr.kind = KEY_EC;
	kr.curve_nid = NID_X9_62_prime256v1;
	kr.scal = 2;
	kr.auth_otp = true;
	kr.multisign = 1;
	kr.pin = PIN;
	kr.pin_len = strlen(PIN);
	kr.actor = "admin:test";
	assert_int_equal(sam_keygen(G.m, &kr, &kres), SAM_OK);
	EVP_PKEY_free(kres.pub);
	sam_set_strict(G.m, true);
	/* The factors work (strict: only sealed values are read). */
	assert_int_equal(authorize_otp(kres.credential_id, G.alice, "000000", now), SAM_E_PIN);
	assert_int_equal(authorize_otp(kres.credential_id, G.alice, PIN, now), SAM_OK);

	/* What the database holds is sealed. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_cred_get(G.s, kres.credential_id, &c), STORE_OK);
	assert_true(sam_factor_pin_sealed(c.pin_hash));
	/* The verifier inside, opened with the HSM for the search below. */
	assert_int_equal(sam_factor_open_pin(G.h, true, &c, c.pin_hash, kdf), SAM_FACTOR_OK);
	assert_int_equal(sam_factor_pin_check(G.h, c.id, PIN, strlen(PIN), kdf), 1);
	assert_int_equal(sam_factor_pin_check(G.h, c.id, "0000", 4, kdf), 0);
	assert_int_equal(store_user_get_id(G.s, G.alice, &u), STORE_OK);
	assert_true(sam_factor_otp_sealed(u.otp_key, u.otp_key_len));

	/* The copy of the database: no TOTP seed (raw, base32, base64), no
	 * PIN verifier (whole or its hash part), no PIN. */
	{
		char *b32s = b32_encode(seed, sizeof(seed));
		const char *hashpart = strrchr(kdf, '$');

		assert_non_null(b32s);
		snprintf(b32, sizeof(b32), "%s", b32s);
		free(b32s);
		b = b64_encode(seed, sizeof(seed));
		assert_non_null(b);
		assert_non_null(hashpart);
		assert_int_equal(db_find(seed, sizeof(seed)), 0);
		assert_int_equal(db_find(b32, strlen(b32)), 0);
		assert_int_equal(db_find(b, strlen(b)), 0);
		assert_int_equal(db_find(kdf, strlen(kdf)), 0);
		assert_int_equal(db_find(hashpart + 1, strlen(hashpart + 1)), 0);
		assert_int_equal(db_find(PIN, strlen(PIN)), 0);
		free(b);
	}
	/* The scan finds what is there: an unsealed seed and verifier. */
	assert_int_equal(store_user_set_otp(G.s, G.bob, seed, sizeof(seed)), STORE_OK);
	assert_int_equal(store_cred_set_pin(G.s, c.id, kdf), STORE_OK);
	assert_true(db_find(seed, sizeof(seed)) > 0);
	assert_true(db_find(kdf, strlen(kdf)) > 0);
	/* A strict SAM refuses them... */
	assert_int_equal(authorize_otp(c.id, G.alice, PIN, now), SAM_E_INTERNAL);
	/* ... and the migration seals them again. */
	{
		size_t n = 0;
		store_user ub;

		assert_int_equal(sam_seal_legacy(G.m, &n), 0);
		assert_int_equal(n, 2);
		assert_int_equal(store_user_get_id(G.s, G.bob, &ub), STORE_OK);
		assert_true(sam_factor_otp_sealed(ub.otp_key, ub.otp_key_len));
		assert_int_equal(sam_seal_legacy(G.m, &n), 0);
		assert_int_equal(n, 0);
	}
	/* A sealed seed copied to another user does not open there. */
	assert_int_equal(store_user_set_otp(G.s, G.bob, u.otp_key, u.otp_key_len), STORE_OK);
	{
		sam_keygen_res kb;

		kr.user_id = G.bob;
		assert_int_equal(sam_keygen(G.m, &kr, &kb), SAM_OK);
		EVP_PKEY_free(kb.pub);
		assert_int_equal(authorize_otp(kb.credential_id, G.bob, PIN, now + 60),
				 SAM_E_INTERNAL);
	}
	store_credential_clear(&c);
	sam_set_strict(G.m, false);
}

/* ---- sam_connect + sam_serve over a socketpair, in this process ---- */

typedef struct {
	int fd;
	unsigned ops;
	int rc;
} serve_job;

static void *serve_main(void *arg)
{
	serve_job *j = arg;

	j->rc = sam_serve_ops(G.m, NULL, j->fd, j->ops);
	return NULL;
}

static void test_connect_serve(void **state)
{
	int sp[2];
	serve_job j;
	pthread_t th;
	sam *c = NULL;
	int64_t uid = 0;
	uint8_t *tok = NULL;
	size_t toklen = 0;
	uint8_t dg[32] = {0};
	store_user u;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	j.fd = sp[1];
	j.ops = SAM_OPS_FRONT;
	j.rc = 99;
	assert_int_equal(pthread_create(&th, NULL, serve_main, &j), 0);
	assert_int_equal(sam_connect(sp[0], &c), 0);
	assert_true(sam_is_remote(c));
	/* A password check through the connection. */
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "dave");
	assert_int_equal(kdf_hash("dave-pw", 7, 10, u.pw_hash, sizeof(u.pw_hash)), 0);
	u.created = 1;
	assert_int_equal(store_user_add(G.s, &u), STORE_OK);
	assert_int_equal(sam_verify_login(c, "dave", "dave-pw", 7, &uid), SAM_OK);
	assert_int_equal(uid, u.id);
	assert_int_equal(sam_verify_login(c, "dave", "nope", 4, &uid), SAM_E_PIN);
	/* Enrollment is not a front-end operation. */
	assert_int_equal(sam_user_set_otp(c, u.id, seed, sizeof(seed), "x"), SAM_E_REQUEST);
	/* No TSA attached: the time-stamp fails, the connection stays. */
	assert_int_equal(sam_tsa_stamp(c, HASH_SHA256, dg, 32, NULL, &tok, &toklen), -1);
	assert_null(tok);
	assert_int_equal(sam_verify_login(c, "dave", "dave-pw", 7, &uid), SAM_OK);
	/* A remote SAM is not a local one. */
	assert_int_equal(sam_seal_legacy(c, NULL), -1);
	/* Garbage on the wire: refused with SAM_E_REQUEST, still served. */
	{
		uint8_t resp[64];
		ssize_t n;
		assert_int_equal(send(sp[0], "\x00\x01\x00\x00\x00\x00\x00\x02zz", 10, 0), 10);
		n = recv(sp[0], resp, sizeof(resp), 0);
		assert_true(n > 8);
		assert_int_equal(sam_proto_type(resp, (size_t)n), SAM_MSG_RES_STATUS);
	}
	assert_int_equal(sam_verify_login(c, "dave", "dave-pw", 7, &uid), SAM_OK);
	/* Closing the client ends the server loop cleanly. */
	sam_free(c);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(j.rc, 0);
	close(sp[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seal_open),
	    cmocka_unit_test(test_factor_key_attributes),
	    cmocka_unit_test(test_pin_binding),
	    cmocka_unit_test(test_otp_binding),
	    cmocka_unit_test(test_database_copy_reveals_nothing),
	    cmocka_unit_test(test_connect_serve),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
