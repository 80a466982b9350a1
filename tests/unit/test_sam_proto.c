/* SPDX-License-Identifier: Apache-2.0 */
/* The SAM message protocol (server/sam_proto.h): every request and result
 * survives an encode/decode round trip field by field; truncated,
 * oversized, mistyped and random messages are refused without crashing;
 * encoders refuse values over their bounds; the SEQPACKET transport
 * reassembles large messages, refuses malformed ones and passes
 * descriptors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "sam_proto.h"

/* ---- helpers ---- */

static sam_hash *mk_hashes(size_t n, size_t len)
{
	sam_hash *h = calloc(n ? n : 1, sizeof(*h));

	assert_non_null(h);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < len; j++)
			h[i].v[j] = (uint8_t)(i * 7 + j);
		h[i].len = len;
	}
	return h;
}

static void assert_hashes(const sam_hash *a, const sam_hash *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(a[i].len, b[i].len);
		assert_memory_equal(a[i].v, b[i].v, a[i].len);
	}
}

/* Every strict prefix of a valid message, and the message with one byte
 * appended, is refused by the request decoder. */
static void assert_prefixes_refused(const uint8_t *msg, size_t len)
{
	sam_request q;
	uint8_t *longer = malloc(len + 1);

	for (size_t i = 0; i < len; i++)
		assert_int_equal(sam_proto_dec_request(msg, i, &q), -1);
	assert_non_null(longer);
	memcpy(longer, msg, len);
	longer[len] = 0;
	assert_int_equal(sam_proto_dec_request(longer, len + 1, &q), -1);
	/* ... even with a header that claims the extra byte. */
	longer[7] = (uint8_t)(longer[7] + 1);
	assert_int_equal(sam_proto_dec_request(longer, len + 1, &q), -1);
	free(longer);
}

/* ---- request round trips ---- */

static void test_authorize_roundtrip(void **state)
{
	sam_authorize_req r;
	sam_request q;
	sam_hash *h = mk_hashes(3, 32);
	uint8_t *m = NULL;
	size_t len = 0;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.user_id = 42;
	snprintf(r.credential_id, sizeof(r.credential_id), "%s", "0123456789abcdef");
	r.num_signatures = 3;
	r.hash = HASH_SHA256;
	r.hashes = h;
	r.n_hashes = 3;
	r.pin = "2468";
	r.pin_len = 4;
	r.otp = "123456";
	r.otp_len = 6;
	assert_int_equal(sam_proto_enc_authorize(&r, &m, &len), 0);
	assert_int_equal(sam_proto_type(m, len), SAM_MSG_AUTHORIZE);
	assert_int_equal(sam_proto_dec_request(m, len, &q), 0);
	assert_int_equal(q.type, SAM_MSG_AUTHORIZE);
	assert_int_equal(q.u.authorize.user_id, 42);
	assert_string_equal(q.u.authorize.credential_id, "0123456789abcdef");
	assert_int_equal(q.u.authorize.num_signatures, 3);
	assert_int_equal(q.u.authorize.hash, HASH_SHA256);
	assert_int_equal(q.u.authorize.n_hashes, 3);
	assert_hashes(q.u.authorize.hashes, h, 3);
	assert_int_equal(q.u.authorize.pin_len, 4);
	assert_memory_equal(q.u.authorize.pin, "2468", 4);
	assert_int_equal(q.u.authorize.otp_len, 6);
	assert_memory_equal(q.u.authorize.otp, "123456", 6);
	sam_request_clear(&q);
	assert_prefixes_refused(m, len);
	sam_proto_free(m, len);

	/* Absent factors and no hashes (SCAL1) stay absent. */
	r.pin = NULL;
	r.pin_len = 0;
	r.otp = NULL;
	r.otp_len = 0;
	r.hashes = NULL;
	r.n_hashes = 0;
	r.hash = HASH_NONE;
	assert_int_equal(sam_proto_enc_authorize(&r, &m, &len), 0);
	assert_int_equal(sam_proto_dec_request(m, len, &q), 0);
	assert_null(q.u.authorize.pin);
	assert_null(q.u.authorize.otp);
	assert_null(q.u.authorize.hashes);
	assert_int_equal(q.u.authorize.n_hashes, 0);
	sam_request_clear(&q);
	sam_proto_free(m, len);
	free(h);
}

static void test_extend_sign_roundtrip(void **state)
{
	sam_extend_req e;
	sam_sign_req s;
	sam_request q;
	sam_hash *h = mk_hashes(SAM_MAX_HASHES, 64);
	uint8_t *m = NULL;
	size_t len = 0;
	const char *sad = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";

	(void)state;
	memset(&e, 0, sizeof(e));
	e.user_id = 7;
	snprintf(e.credential_id, sizeof(e.credential_id), "cred-e");
	e.sad = sad;
	e.sad_len = strlen(sad);
	e.hash = HASH_SHA512;
	e.hashes = h;
	e.n_hashes = 2;
	assert_int_equal(sam_proto_enc_extend(&e, &m, &len), 0);
	assert_int_equal(sam_proto_dec_request(m, len, &q), 0);
	assert_int_equal(q.type, SAM_MSG_EXTEND);
	assert_int_equal(q.u.extend.user_id, 7);
	assert_string_equal(q.u.extend.credential_id, "cred-e");
	assert_int_equal(q.u.extend.sad_len, strlen(sad));
	assert_memory_equal(q.u.extend.sad, sad, strlen(sad));
	assert_int_equal(q.u.extend.hash, HASH_SHA512);
	assert_int_equal(q.u.extend.n_hashes, 2);
	assert_hashes(q.u.extend.hashes, h, 2);
	sam_request_clear(&q);
	assert_prefixes_refused(m, len);
	sam_proto_free(m, len);

	/* The largest sign request: SAM_MAX_HASHES x 64 bytes. */
	memset(&s, 0, sizeof(s));
	s.user_id = 9;
	snprintf(s.credential_id, sizeof(s.credential_id), "%.*s", 63,
		 "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	s.sad = sad;
	s.sad_len = strlen(sad);
	s.algo = SIG_RSA_PSS;
	s.hash = HASH_SHA512;
	s.pss_mgf_hash = HASH_SHA256;
	s.pss_salt_len = -5;
	s.hashes = h;
	s.n_hashes = SAM_MAX_HASHES;
	assert_int_equal(sam_proto_enc_sign(&s, &m, &len), 0);
	assert_true(len > SAM_PROTO_PACKET_MAX);
	assert_int_equal(sam_proto_dec_request(m, len, &q), 0);
	assert_int_equal(q.type, SAM_MSG_SIGN);
	assert_int_equal(q.u.sign.user_id, 9);
	assert_int_equal(strlen(q.u.sign.credential_id), 63);
	assert_int_equal(q.u.sign.algo, SIG_RSA_PSS);
	assert_int_equal(q.u.sign.hash, HASH_SHA512);
	assert_int_equal(q.u.sign.pss_mgf_hash, HASH_SHA256);
	assert_int_equal(q.u.sign.pss_salt_len, -5);
	assert_int_equal(q.u.sign.n_hashes, SAM_MAX_HASHES);
	assert_hashes(q.u.sign.hashes, h, SAM_MAX_HASHES);
	sam_request_clear(&q);
	sam_proto_free(m, len);
	free(h);
}

static void test_admin_roundtrip(void **state)
{
	sam_keygen_req k;
	sam_request q;
	uint8_t *m = NULL, der[300], seed[20];
	size_t len = 0;

	(void)state;
	memset(&k, 0, sizeof(k));
	k.user_id = 5;
	k.kind = KEY_RSA;
	k.bits = 3072;
	k.curve_nid = 415;
	k.scal = 2;
	k.auth_otp = true;
	k.multisign = 10;
	k.pin = "123456";
	k.pin_len = 6;
	k.description = "my key";
	k.actor = NULL;
	assert_int_equal(sam_proto_enc_keygen(&k, &m, &len), 0);
	assert_int_equal(sam_proto_dec_request(m, len, &q), 0);
	assert_int_equal(q.type, SAM_MSG_KEYGEN);
	assert_int_equal(q.u.keygen.user_id, 5);
	assert_int_equal(q.u.keygen.kind, KEY_RSA);
	assert_int_equal(q.u.keygen.bits, 3072);
	assert_int_equal(q.u.keygen.curve_nid, 415);
	assert_int_equal(q.u.keygen.scal, 2);
	assert_true(q.u.keygen.auth_otp);
	assert_int_equal(q.u.keygen.multisign, 10);
	assert_int_equal(q.u.keygen.pin_len, 6);
	assert_memory_equal(q.u.keygen.pin, "123456", 6);
	assert_string_equal(q.u.keygen.description, "my key");
	assert_null(q.u.keygen.actor);
	sam_request_clear(&q);
	assert_prefixes_refused(m, len);
	sam_proto_free(m, len);

	for (size_t i = 0; i < sizeof(der); i++)
		der[i] = (uint8_t)i;
	assert_int_equal(sam_proto_enc_set_cert("c1", der, sizeof(der), "admin:x", &m, &len), 0);
	assert_int_equal(sam_proto_dec_request(m, len, &q), 0);
	assert_int_equal(q.type, SAM_MSG_SET_CERT);
	assert_string_equal(q.u.set_cert.credential_id, "c1");
	assert_int_equal(q.u.set_cert.len, sizeof(der));
	assert_memory_equal(q.u.set_cert.der, der, sizeof(der));
	assert_string_equal(q.u.set_cert.actor, "admin:x");
	sam_request_clear(&q);
	sam_proto_free(m, len);

	assert_int_equal(sam_proto_enc_destroy("c2", "admin:y", &m, &len), 0);
	assert_int_equal(sam_proto_dec_request(m, len, &q), 0);
	assert_int_equal(q.type, SAM_MSG_DESTROY);
	assert_string_equal(q.u.destroy.credential_id, "c2");
	assert_string_equal(q.u.destroy.actor, "admin:y");
	sam_request_clear(&q);
	assert_prefixes_refused(m, len);
	sam_proto_free(m, len);

	assert_int_equal(sam_proto_enc_set_pin("c3", "86420", 5, NULL, &m, &len), 0);
	assert_int_equal(sam_proto_dec_request(m, len, &q), 0);
	assert_int_equal(q.type, SAM_MSG_SET_PIN);
	assert_string_equal(q.u.set_pin.credential_id, "c3");
	assert_int_equal(q.u.set_pin.pin_len, 5);
	assert_memory_equal(q.u.set_pin.pin, "86420", 5);
	assert_null(q.u.set_pin.actor);
	sam_request_clear(&q);
	sam_proto_free(m, len);

	/* A binary seed (NUL bytes inside) survives. */
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(i % 3);
	assert_int_equal(sam_proto_enc_set_otp(77, seed, sizeof(seed), "admin:z", &m, &len), 0);
	assert_int_equal(sam_proto_dec_request(m, len, &q), 0);
	assert_int_equal(q.type, SAM_MSG_SET_OTP);
	assert_int_equal(q.u.set_otp.user_id, 77);
	assert_int_equal(q.u.set_otp.len, sizeof(seed));
	assert_memory_equal(q.u.set_otp.seed, seed, sizeof(seed));
	assert_string_equal(q.u.set_otp.actor, "admin:z");
	sam_request_clear(&q);
	sam_proto_free(m, len);
}

static void test_login_tsa_roundtrip(void **state)
{
	sam_request q;
	uint8_t *m = NULL, dg[48], tsq[100];
	size_t len = 0;
	char pw[SAM_PASSWORD_MAX];

	(void)state;
	memset(pw, 'p', sizeof(pw));
	assert_int_equal(sam_proto_enc_login("alice", pw, sizeof(pw), &m, &len), 0);
	assert_int_equal(sam_proto_dec_request(m, len, &q), 0);
	assert_int_equal(q.type, SAM_MSG_LOGIN);
	assert_string_equal(q.u.login.user, "alice");
	assert_int_equal(q.u.login.pwlen, sizeof(pw));
	assert_memory_equal(q.u.login.pw, pw, sizeof(pw));
	sam_request_clear(&q);
	assert_prefixes_refused(m, len);
	sam_proto_free(m, len);

	memset(dg, 0xab, sizeof(dg));
	assert_int_equal(sam_proto_enc_tsa_stamp(HASH_SHA384, dg, sizeof(dg), "0a1b", &m, &len), 0);
	assert_int_equal(sam_proto_dec_request(m, len, &q), 0);
	assert_int_equal(q.type, SAM_MSG_TSA_STAMP);
	assert_int_equal(q.u.tsa_stamp.alg, HASH_SHA384);
	assert_int_equal(q.u.tsa_stamp.dlen, sizeof(dg));
	assert_memory_equal(q.u.tsa_stamp.digest, dg, sizeof(dg));
	assert_string_equal(q.u.tsa_stamp.nonce, "0a1b");
	sam_request_clear(&q);
	sam_proto_free(m, len);

	memset(tsq, 0x30, sizeof(tsq));
	assert_int_equal(sam_proto_enc_tsa_respond(tsq, sizeof(tsq), &m, &len), 0);
	assert_int_equal(sam_proto_dec_request(m, len, &q), 0);
	assert_int_equal(q.type, SAM_MSG_TSA_RESPOND);
	assert_int_equal(q.u.tsa_respond.len, sizeof(tsq));
	assert_memory_equal(q.u.tsa_respond.req, tsq, sizeof(tsq));
	sam_request_clear(&q);
	assert_prefixes_refused(m, len);
	sam_proto_free(m, len);
}

/* ---- results ---- */

static void test_results_roundtrip(void **state)
{
	sam_authorize_res a, a2;
	sam_sign_res s, s2;
	sam_keygen_res k, k2;
	sam_status st;
	uint8_t *m = NULL, *data = NULL, big[SAM_PROTO_TSR_MAX];
	size_t len = 0, dlen = 0;
	int64_t uid = 0, pid = 0;
	int rc = 0, ok = 0;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.status = SAM_OK;
	snprintf(a.sad, sizeof(a.sad), "SAD-SAD-SAD");
	a.expires_in = 300;
	a.pin_failures = 2;
	assert_int_equal(sam_proto_enc_authorize_res(&a, &m, &len), 0);
	assert_int_equal(sam_proto_dec_authorize_res(m, len, &a2), 0);
	assert_int_equal(a2.status, SAM_OK);
	assert_string_equal(a2.sad, "SAD-SAD-SAD");
	assert_int_equal(a2.expires_in, 300);
	assert_int_equal(a2.pin_failures, 2);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(sam_proto_dec_authorize_res(m, i, &a2), -1);
	sam_proto_free(m, len);
	/* A failure carries no SAD; a SAD with a failure is malformed. */
	a.status = SAM_E_PIN;
	assert_int_equal(sam_proto_enc_authorize_res(&a, &m, &len), 0);
	assert_int_equal(sam_proto_dec_authorize_res(m, len, &a2), -1);
	sam_proto_free(m, len);
	a.sad[0] = '\0';
	assert_int_equal(sam_proto_enc_authorize_res(&a, &m, &len), 0);
	assert_int_equal(sam_proto_dec_authorize_res(m, len, &a2), 0);
	assert_int_equal(a2.status, SAM_E_PIN);
	sam_proto_free(m, len);

	/* sign: SAM_MAX_HASHES RSA-8192-sized signatures (> 1 MiB). */
	memset(&s, 0, sizeof(s));
	s.status = SAM_OK;
	s.n = SAM_MAX_HASHES;
	s.sigs = calloc(s.n, sizeof(*s.sigs));
	s.lens = calloc(s.n, sizeof(*s.lens));
	assert_non_null(s.sigs);
	assert_non_null(s.lens);
	for (size_t i = 0; i < s.n; i++) {
		s.sigs[i] = malloc(1024);
		assert_non_null(s.sigs[i]);
		memset(s.sigs[i], (int)(i & 0xff), 1024);
		s.lens[i] = 1024;
	}
	assert_int_equal(sam_proto_enc_sign_res(&s, &m, &len), 0);
	assert_true(len > (1u << 20));
	assert_int_equal(sam_proto_dec_sign_res(m, len, &s2), 0);
	assert_int_equal(s2.status, SAM_OK);
	assert_int_equal(s2.n, SAM_MAX_HASHES);
	for (size_t i = 0; i < s.n; i++) {
		assert_int_equal(s2.lens[i], 1024);
		assert_memory_equal(s2.sigs[i], s.sigs[i], 1024);
	}
	sam_sign_res_clear(&s2);
	assert_int_equal(sam_proto_dec_sign_res(m, len - 1, &s2), -1);
	assert_int_equal(sam_proto_dec_sign_res(m, len / 2, &s2), -1);
	sam_proto_free(m, len);
	sam_sign_res_clear(&s);

	/* keygen: the public key travels as SubjectPublicKeyInfo. */
	memset(&k, 0, sizeof(k));
	k.status = SAM_OK;
	snprintf(k.credential_id, sizeof(k.credential_id), "abcdef");
	k.pub = EVP_EC_gen("P-256");
	assert_non_null(k.pub);
	assert_int_equal(sam_proto_enc_keygen_res(&k, &m, &len), 0);
	assert_int_equal(sam_proto_dec_keygen_res(m, len, &k2), 0);
	assert_int_equal(k2.status, SAM_OK);
	assert_string_equal(k2.credential_id, "abcdef");
	assert_int_equal(EVP_PKEY_eq(k.pub, k2.pub), 1);
	EVP_PKEY_free(k2.pub);
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(sam_proto_dec_keygen_res(m, i, &k2), -1);
		assert_null(k2.pub);
	}
	sam_proto_free(m, len);
	EVP_PKEY_free(k.pub);

	assert_int_equal(sam_proto_enc_status_res(SAM_E_LOCKED, &m, &len), 0);
	assert_int_equal(sam_proto_dec_status_res(m, len, &st), 0);
	assert_int_equal(st, SAM_E_LOCKED);
	sam_proto_free(m, len);
	assert_int_equal(sam_proto_enc_status_res((sam_status)(SAM_STATUS_LAST + 1), &m, &len), -1);

	assert_int_equal(sam_proto_enc_login_res(SAM_OK, 12, &m, &len), 0);
	assert_int_equal(sam_proto_dec_login_res(m, len, &st, &uid), 0);
	assert_int_equal(st, SAM_OK);
	assert_int_equal(uid, 12);
	sam_proto_free(m, len);
	/* Success without a user, or failure with one: malformed. */
	assert_int_equal(sam_proto_enc_login_res(SAM_OK, 0, &m, &len), 0);
	assert_int_equal(sam_proto_dec_login_res(m, len, &st, &uid), -1);
	sam_proto_free(m, len);

	memset(big, 0x5a, sizeof(big));
	assert_int_equal(sam_proto_enc_tsa_res(0, big, sizeof(big), &m, &len), 0);
	assert_int_equal(sam_proto_dec_tsa_res(m, len, &rc, &data, &dlen), 0);
	assert_int_equal(rc, 0);
	assert_int_equal(dlen, sizeof(big));
	assert_memory_equal(data, big, sizeof(big));
	free(data);
	sam_proto_free(m, len);
	assert_int_equal(sam_proto_enc_tsa_res(-2, NULL, 0, &m, &len), 0);
	assert_int_equal(sam_proto_dec_tsa_res(m, len, &rc, &data, &dlen), 0);
	assert_int_equal(rc, -2);
	assert_null(data);
	sam_proto_free(m, len);
	assert_int_equal(sam_proto_enc_tsa_res(-3, NULL, 0, &m, &len), -1);

	assert_int_equal(sam_proto_enc_connect_res(1, 4242, &m, &len), 0);
	assert_int_equal(sam_proto_dec_connect_res(m, len, &ok, &pid), 0);
	assert_int_equal(ok, 1);
	assert_int_equal(pid, 4242);
	sam_proto_free(m, len);
	assert_int_equal(sam_proto_enc_ready(99, &m, &len), 0);
	assert_int_equal(sam_proto_dec_ready(m, len, &pid), 0);
	assert_int_equal(pid, 99);
	/* A result is never a request. */
	{
		sam_request q;
		assert_int_equal(sam_proto_dec_request(m, len, &q), -1);
	}
	sam_proto_free(m, len);
	assert_int_equal(sam_proto_enc_empty(SAM_MSG_CONNECT, &m, &len), 0);
	assert_int_equal(len, SAM_PROTO_HDR_LEN);
	assert_int_equal(sam_proto_dec_empty(m, len, SAM_MSG_CONNECT), 0);
	assert_int_equal(sam_proto_dec_empty(m, len, SAM_MSG_ADOPT), -1);
	sam_proto_free(m, len);
}

/* ---- refusals ---- */

static void test_encoders_refuse_bounds(void **state)
{
	sam_authorize_req r;
	sam_sign_req s;
	sam_hash *h = mk_hashes(SAM_MAX_HASHES + 1, 32);
	uint8_t *m = (uint8_t *)1;
	size_t len = 1;
	char pin[SAM_SECRET_MAX + 1], pw[SAM_PASSWORD_MAX + 1], name[STORE_NAME_MAX + 1];

	(void)state;
	memset(pin, '1', sizeof(pin));
	memset(pw, 'x', sizeof(pw));
	memset(name, 'n', sizeof(name));
	name[STORE_NAME_MAX] = '\0';
	memset(&r, 0, sizeof(r));
	r.user_id = 1;
	snprintf(r.credential_id, sizeof(r.credential_id), "c");
	r.pin = pin;
	r.pin_len = SAM_SECRET_MAX + 1;
	assert_int_equal(sam_proto_enc_authorize(&r, &m, &len), -1);
	assert_null(m);
	assert_int_equal(len, 0);
	r.pin_len = SAM_SECRET_MAX;
	assert_int_equal(sam_proto_enc_authorize(&r, &m, &len), 0);
	sam_proto_free(m, len);
	r.hashes = h;
	r.n_hashes = SAM_MAX_HASHES + 1;
	r.hash = HASH_SHA256;
	assert_int_equal(sam_proto_enc_authorize(&r, &m, &len), -1);
	r.n_hashes = 1;
	h[0].len = HASH_MAX_LEN + 1;
	assert_int_equal(sam_proto_enc_authorize(&r, &m, &len), -1);
	h[0].len = 32;
	r.hash = (hash_alg)-1;
	assert_int_equal(sam_proto_enc_authorize(&r, &m, &len), -1);
	r.hash = HASH_SHA256;
	/* A credential id without its NUL (64 characters). */
	memset(r.credential_id, 'a', sizeof(r.credential_id));
	assert_int_equal(sam_proto_enc_authorize(&r, &m, &len), -1);

	memset(&s, 0, sizeof(s));
	s.user_id = 1;
	snprintf(s.credential_id, sizeof(s.credential_id), "c");
	s.sad = pw;
	s.sad_len = SAM_PROTO_SAD_MAX + 1;
	assert_int_equal(sam_proto_enc_sign(&s, &m, &len), -1);
	assert_int_equal(sam_proto_enc_login("alice", pw, sizeof(pw), &m, &len), -1);
	assert_int_equal(sam_proto_enc_login(name, "pw", 2, &m, &len), -1);
	assert_int_equal(sam_proto_enc_set_cert("c", (const uint8_t *)pw, SAM_PROTO_CERT_MAX + 1,
						NULL, &m, &len),
			 -1);
	assert_int_equal(sam_proto_enc_empty(SAM_MSG_SIGN, &m, &len), -1);
	free(h);
}

/* Craft a message: header + raw body. */
static uint8_t *craft(uint16_t type, uint16_t flags, const uint8_t *body, size_t blen, size_t *len)
{
	uint8_t *m = malloc(SAM_PROTO_HDR_LEN + blen);

	assert_non_null(m);
	m[0] = (uint8_t)(type >> 8);
	m[1] = (uint8_t)type;
	m[2] = (uint8_t)(flags >> 8);
	m[3] = (uint8_t)flags;
	m[4] = (uint8_t)(blen >> 24);
	m[5] = (uint8_t)(blen >> 16);
	m[6] = (uint8_t)(blen >> 8);
	m[7] = (uint8_t)blen;
	if (blen > 0)
		memcpy(m + SAM_PROTO_HDR_LEN, body, blen);
	*len = SAM_PROTO_HDR_LEN + blen;
	return m;
}

static size_t field(uint8_t *p, uint16_t kind, const void *v, uint32_t n)
{
	p[0] = (uint8_t)(kind >> 8);
	p[1] = (uint8_t)kind;
	p[2] = (uint8_t)(n >> 24);
	p[3] = (uint8_t)(n >> 16);
	p[4] = (uint8_t)(n >> 8);
	p[5] = (uint8_t)n;
	if (n > 0 && v != NULL)
		memcpy(p + 6, v, n);
	return 6 + n;
}

static void test_malformed_refused(void **state)
{
	uint8_t body[4096], *m, *good;
	size_t len, glen, off;
	sam_request q;
	sam_status st;
	char id64[64];

	(void)state;
	/* Header: unknown type, non-zero flags, length mismatch, too short. */
	m = craft(0x7777, 0, NULL, 0, &len);
	assert_int_equal(sam_proto_dec_request(m, len, &q), -1);
	free(m);
	assert_int_equal(sam_proto_enc_destroy("c", NULL, &good, &glen), 0);
	assert_int_equal(sam_proto_dec_request(good, glen, &q), 0);
	sam_request_clear(&q);
	good[3] = 1; /* flags */
	assert_int_equal(sam_proto_dec_request(good, glen, &q), -1);
	good[3] = 0;
	good[7]++; /* length */
	assert_int_equal(sam_proto_dec_request(good, glen, &q), -1);
	good[7]--;
	good[9] = 6; /* first field kind: STR -> BYTES */
	assert_int_equal(sam_proto_dec_request(good, glen, &q), -1);
	sam_proto_free(good, glen);
	assert_int_equal(sam_proto_type(NULL, 0), -1);
	assert_int_equal(sam_proto_type((const uint8_t *)"abc", 3), -1);

	/* A credential id of 64 bytes (bound 63). */
	memset(id64, 'a', sizeof(id64));
	off = field(body, 5, id64, 64);
	off += field(body + off, 7, NULL, 0);
	m = craft(SAM_MSG_DESTROY, 0, body, off, &len);
	assert_int_equal(sam_proto_dec_request(m, len, &q), -1);
	free(m);
	/* 63 is fine; an embedded NUL is not. */
	off = field(body, 5, id64, 63);
	off += field(body + off, 7, NULL, 0);
	m = craft(SAM_MSG_DESTROY, 0, body, off, &len);
	assert_int_equal(sam_proto_dec_request(m, len, &q), 0);
	sam_request_clear(&q);
	m[SAM_PROTO_HDR_LEN + 6 + 10] = '\0';
	assert_int_equal(sam_proto_dec_request(m, len, &q), -1);
	free(m);
	/* A NONE field with a length. */
	off = field(body, 5, "c", 1);
	off += field(body + off, 7, "x", 1);
	m = craft(SAM_MSG_DESTROY, 0, body, off, &len);
	assert_int_equal(sam_proto_dec_request(m, len, &q), -1);
	free(m);

	/* Authorize claiming SAM_MAX_HASHES + 1 hashes, and claiming more
	 * hashes than the message holds. */
	{
		uint8_t be[8] = {0, 0, 0, 0, 0, 0, 0, 1}, i32[4] = {0, 0, 0, 1};
		uint8_t cnt[4] = {0, 0, (SAM_MAX_HASHES + 1) >> 8, (SAM_MAX_HASHES + 1) & 0xff};

		off = field(body, 3, be, 8);
		off += field(body + off, 5, "c", 1);
		off += field(body + off, 2, i32, 4);
		off += field(body + off, 2, i32, 4);
		off += field(body + off, 1, cnt, 4);
		m = craft(SAM_MSG_AUTHORIZE, 0, body, off, &len);
		assert_int_equal(sam_proto_dec_request(m, len, &q), -1);
		free(m);
		cnt[2] = 0;
		cnt[3] = 200;
		off = field(body, 3, be, 8);
		off += field(body + off, 5, "c", 1);
		off += field(body + off, 2, i32, 4);
		off += field(body + off, 2, i32, 4);
		off += field(body + off, 1, cnt, 4);
		off += field(body + off, 6,
			     "0123456789012345678901234567890123456789"
			     "012345678901234567890123456789",
			     65); /* one hash over HASH_MAX_LEN */
		m = craft(SAM_MSG_AUTHORIZE, 0, body, off, &len);
		assert_int_equal(sam_proto_dec_request(m, len, &q), -1);
		free(m);
		/* A negative enum (hash algorithm). */
		i32[0] = 0xff;
		off = field(body, 3, be, 8);
		off += field(body + off, 5, "c", 1);
		off += field(body + off, 2, i32, 4);
		off += field(body + off, 2, i32, 4);
		m = craft(SAM_MSG_AUTHORIZE, 0, body, off, &len);
		assert_int_equal(sam_proto_dec_request(m, len, &q), -1);
		free(m);
	}
	/* A status out of range. */
	{
		uint8_t v[4] = {0, 0, 0, (uint8_t)(SAM_STATUS_LAST + 1)};

		off = field(body, 1, v, 4);
		m = craft(SAM_MSG_RES_STATUS, 0, body, off, &len);
		assert_int_equal(sam_proto_dec_status_res(m, len, &st), -1);
		v[3] = SAM_E_INTERNAL;
		off = field(body, 1, v, 4);
		free(m);
		m = craft(SAM_MSG_RES_STATUS, 0, body, off, &len);
		assert_int_equal(sam_proto_dec_status_res(m, len, &st), 0);
		assert_int_equal(st, SAM_E_INTERNAL);
		free(m);
	}
	/* A BOOL that is neither 0 nor 1. */
	{
		uint8_t two = 2, pid[8] = {0};

		off = field(body, 4, &two, 1);
		off += field(body + off, 3, pid, 8);
		m = craft(SAM_MSG_CONNECT_RES, 0, body, off, &len);
		{
			int ok;
			int64_t p;
			assert_int_equal(sam_proto_dec_connect_res(m, len, &ok, &p), -1);
		}
		free(m);
	}
}

static void test_random_garbage(void **state)
{
	uint8_t buf[512];
	sam_request q;
	sam_authorize_res a;
	sam_sign_res s;
	sam_keygen_res k;
	sam_status st;
	int64_t uid;
	uint8_t *d;
	size_t dl;
	int rc;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)(i % (int)sizeof(buf));

		assert_int_equal(RAND_bytes(buf, (int)sizeof(buf)), 1);
		/* Half the time, a plausible header so the body gets parsed. */
		if (len >= SAM_PROTO_HDR_LEN && (i & 1)) {
			uint16_t types[] = {SAM_MSG_AUTHORIZE, SAM_MSG_SIGN,
					    SAM_MSG_KEYGEN,    SAM_MSG_LOGIN,
					    SAM_MSG_RES_SIGN,  SAM_MSG_RES_KEYGEN};
			uint16_t t = types[(size_t)i / 2 % 6];
			buf[0] = (uint8_t)(t >> 8);
			buf[1] = (uint8_t)t;
			buf[2] = buf[3] = 0;
			buf[4] = buf[5] = 0;
			buf[6] = (uint8_t)((len - 8) >> 8);
			buf[7] = (uint8_t)(len - 8);
		}
		if (sam_proto_dec_request(buf, len, &q) == 0)
			sam_request_clear(&q);
		(void)sam_proto_dec_authorize_res(buf, len, &a);
		if (sam_proto_dec_sign_res(buf, len, &s) == 0)
			sam_sign_res_clear(&s);
		if (sam_proto_dec_keygen_res(buf, len, &k) == 0)
			EVP_PKEY_free(k.pub);
		(void)sam_proto_dec_status_res(buf, len, &st);
		(void)sam_proto_dec_login_res(buf, len, &st, &uid);
		if (sam_proto_dec_tsa_res(buf, len, &rc, &d, &dl) == 0)
			free(d);
	}
}

/* ---- transport ---- */

static void test_transport(void **state)
{
	int sp[2], fds[2];
	uint8_t *m = NULL, *r = NULL, big[SAM_PROTO_TSR_MAX], hdr[8];
	size_t len = 0, rlen = 0;
	int rc, fd = -1;
	uint8_t buf[64];
	size_t blen = 0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	{
		int sz = 4 << 20;
		setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(sp[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	/* A 1 MiB response crosses as several records and is reassembled
	 * (sender on its own thread: the socket buffer is smaller). */
	memset(big, 0x42, sizeof(big));
	assert_int_equal(sam_proto_enc_tsa_res(0, big, sizeof(big), &m, &len), 0);
	if (fork() == 0) {
		close(sp[1]);
		_exit(sam_proto_send(sp[0], m, len) == 0 ? 0 : 1);
	}
	assert_int_equal(sam_proto_recv(sp[1], &r, &rlen), 1);
	assert_int_equal(rlen, len);
	assert_memory_equal(r, m, len);
	sam_proto_free(r, rlen);
	sam_proto_free(m, len);

	/* A header claiming more than SAM_PROTO_MSG_MAX. */
	memcpy(hdr, "\x01\x01\x00\x00\x7f\xff\xff\xff", 8);
	assert_int_equal(send(sp[0], hdr, 8, 0), 8);
	assert_int_equal(sam_proto_recv(sp[1], &r, &rlen), -1);
	assert_null(r);
	(void)recv(sp[1], buf, sizeof(buf), MSG_DONTWAIT); /* drop it */
	/* A runt record. */
	assert_int_equal(send(sp[0], "ab", 2, 0), 2);
	assert_int_equal(sam_proto_recv(sp[1], &r, &rlen), -1);
	/* A record longer than its header says. */
	memcpy(hdr, "\x01\x01\x00\x00\x00\x00\x00\x00", 8);
	{
		uint8_t rec[12];
		memcpy(rec, hdr, 8);
		memset(rec + 8, 0, 4);
		assert_int_equal(send(sp[0], rec, sizeof(rec), 0), (ssize_t)sizeof(rec));
		assert_int_equal(sam_proto_recv(sp[1], &r, &rlen), -1);
	}
	/* The sender refuses to send a malformed message. */
	assert_int_equal(sam_proto_send(sp[0], (const uint8_t *)"garbage!", 8), -1);

	/* Descriptor passing. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds), 0);
	assert_int_equal(sam_proto_enc_empty(SAM_MSG_ADOPT, &m, &len), 0);
	assert_int_equal(sam_proto_send_fd(sp[0], m, len, fds[1]), 0);
	sam_proto_free(m, len);
	rc = sam_proto_recv_fd(sp[1], buf, sizeof(buf), &blen, &fd);
	assert_int_equal(rc, 1);
	assert_true(fd >= 0);
	assert_int_equal(sam_proto_dec_empty(buf, blen, SAM_MSG_ADOPT), 0);
	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(read(fds[0], buf, 1), 1);
	close(fd);
	close(fds[0]);
	close(fds[1]);

	/* EOF. */
	close(sp[0]);
	assert_int_equal(sam_proto_recv(sp[1], &r, &rlen), 0);
	assert_int_equal(sam_proto_recv_fd(sp[1], buf, sizeof(buf), &blen, &fd), 0);
	close(sp[1]);
	(void)wait(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_authorize_roundtrip),
	    cmocka_unit_test(test_extend_sign_roundtrip),
	    cmocka_unit_test(test_admin_roundtrip),
	    cmocka_unit_test(test_login_tsa_roundtrip),
	    cmocka_unit_test(test_results_roundtrip),
	    cmocka_unit_test(test_encoders_refuse_bounds),
	    cmocka_unit_test(test_malformed_refused),
	    cmocka_unit_test(test_random_garbage),
	    cmocka_unit_test(test_transport),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
