/* SPDX-License-Identifier: Apache-2.0 */
/* SAM protocol: encoders, strict decoders and the SEQPACKET transport. */
#include "sam_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "secmem.h"

enum {
	F_U32 = 1,
	F_I32 = 2,
	F_I64 = 3,
	F_BOOL = 4,
	F_STR = 5,
	F_BYTES = 6,
	F_NONE = 7,
};

#define FIELD_HDR 6	  /* kind u16 + length u32 */
#define ENUM_MAX 255	  /* sanity bound of enum-valued fields */
#define SECRET_ARENA 2048 /* password + NUL, or PIN + OTP, or SAD, seed */
#define TEXT_ARENA 1024	  /* actor + description, nonce */

/* ---- big-endian helpers ---- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* ---- writer: a bounded buffer with a sticky failure ---- */

typedef struct {
	uint8_t *p;
	size_t len, cap;
	bool fail;
} sam_wr;

static void wr_reserve(sam_wr *w, size_t n)
{
	size_t ncap;
	uint8_t *np;

	if (w->fail)
		return;
	if (n > SAM_PROTO_MSG_MAX - w->len) {
		w->fail = true;
		return;
	}
	if (w->len + n <= w->cap)
		return;
	ncap = w->cap != 0 ? w->cap : 256;
	while (ncap < w->len + n)
		ncap *= 2;
	if (ncap > SAM_PROTO_MSG_MAX)
		ncap = SAM_PROTO_MSG_MAX;
	np = malloc(ncap);
	if (np == NULL) {
		w->fail = true;
		return;
	}
	if (w->len > 0)
		memcpy(np, w->p, w->len);
	sec_free(w->p, w->cap); /* may hold secrets */
	w->p = np;
	w->cap = ncap;
}

static void wr_field(sam_wr *w, uint16_t kind, const void *d, size_t n)
{
	if (n > UINT32_MAX) {
		w->fail = true;
		return;
	}
	wr_reserve(w, FIELD_HDR + n);
	if (w->fail)
		return;
	put16(w->p + w->len, kind);
	put32(w->p + w->len + 2, (uint32_t)n);
	if (n > 0)
		memcpy(w->p + w->len + FIELD_HDR, d, n);
	w->len += FIELD_HDR + n;
}

static void wr_u32(sam_wr *w, uint32_t v)
{
	uint8_t b[4];

	put32(b, v);
	wr_field(w, F_U32, b, 4);
}

static void wr_i32(sam_wr *w, int32_t v)
{
	uint8_t b[4];

	put32(b, (uint32_t)v);
	wr_field(w, F_I32, b, 4);
}

static void wr_i64(sam_wr *w, int64_t v)
{
	uint8_t b[8];
	uint64_t u = (uint64_t)v;

	put32(b, (uint32_t)(u >> 32));
	put32(b + 4, (uint32_t)u);
	wr_field(w, F_I64, b, 8);
}

static void wr_bool(sam_wr *w, bool v)
{
	uint8_t b = v ? 1 : 0;

	wr_field(w, F_BOOL, &b, 1);
}

/* An enum value as I32, refused outside 0..ENUM_MAX. */
static void wr_enum(sam_wr *w, int v)
{
	if (v < 0 || v > ENUM_MAX) {
		w->fail = true;
		return;
	}
	wr_i32(w, v);
}

static void wr_str(sam_wr *w, const char *s, size_t max)
{
	size_t n;

	if (s == NULL) {
		w->fail = true;
		return;
	}
	n = strnlen(s, max + 1);
	if (n > max) {
		w->fail = true;
		return;
	}
	wr_field(w, F_STR, s, n);
}

static void wr_opt_str(sam_wr *w, const char *s, size_t max)
{
	if (s == NULL)
		wr_field(w, F_NONE, NULL, 0);
	else
		wr_str(w, s, max);
}

static void wr_bytes(sam_wr *w, const void *d, size_t n, size_t max)
{
	if (n > max || (d == NULL && n > 0)) {
		w->fail = true;
		return;
	}
	wr_field(w, F_BYTES, d, n);
}

static void wr_opt_bytes(sam_wr *w, const void *d, size_t n, size_t max)
{
	if (d == NULL && n == 0)
		wr_field(w, F_NONE, NULL, 0);
	else
		wr_bytes(w, d, n, max);
}

static void wr_begin(sam_wr *w, sam_msg_type type)
{
	memset(w, 0, sizeof(*w));
	wr_reserve(w, SAM_PROTO_HDR_LEN);
	if (w->fail)
		return;
	put16(w->p, (uint16_t)type);
	put16(w->p + 2, 0);
	put32(w->p + 4, 0);
	w->len = SAM_PROTO_HDR_LEN;
}

static int wr_finish(sam_wr *w, uint8_t **msg, size_t *len)
{
	*msg = NULL;
	*len = 0;
	if (w->fail || w->p == NULL) {
		sec_free(w->p, w->cap);
		memset(w, 0, sizeof(*w));
		return -1;
	}
	put32(w->p + 4, (uint32_t)(w->len - SAM_PROTO_HDR_LEN));
	/* The caller frees with the message length: keep cap == len. */
	if (w->cap != w->len) {
		uint8_t *np = malloc(w->len);
		if (np == NULL) {
			sec_free(w->p, w->cap);
			memset(w, 0, sizeof(*w));
			return -1;
		}
		memcpy(np, w->p, w->len);
		sec_free(w->p, w->cap);
		w->p = np;
	}
	*msg = w->p;
	*len = w->len;
	memset(w, 0, sizeof(*w));
	return 0;
}

static void wr_hashes(sam_wr *w, const sam_hash *hs, size_t n)
{
	if (n > SAM_MAX_HASHES || (n > 0 && hs == NULL)) {
		w->fail = true;
		return;
	}
	wr_u32(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		wr_bytes(w, hs[i].v, hs[i].len, HASH_MAX_LEN);
}

void sam_proto_free(uint8_t *msg, size_t len)
{
	sec_free(msg, len);
}

/* ---- reader ---- */

typedef struct {
	const uint8_t *p;
	size_t len, off;
	bool fail;
} sam_rd;

/* The next field, which must be of kind and at most max bytes. */
static bool rd_field(sam_rd *r, uint16_t kind, size_t max, const uint8_t **val, size_t *vlen)
{
	uint16_t k;
	uint32_t n;

	*val = NULL;
	*vlen = 0;
	if (r->fail || r->len - r->off < FIELD_HDR) {
		r->fail = true;
		return false;
	}
	k = get16(r->p + r->off);
	n = get32(r->p + r->off + 2);
	if (k != kind || n > max || n > r->len - r->off - FIELD_HDR) {
		r->fail = true;
		return false;
	}
	*val = r->p + r->off + FIELD_HDR;
	*vlen = n;
	r->off += FIELD_HDR + n;
	return true;
}

/* Optional field: NONE (absent, *present = false) or one of kind. */
static bool rd_opt(sam_rd *r, uint16_t kind, size_t max, const uint8_t **val, size_t *vlen,
		   bool *present)
{
	*present = false;
	*val = NULL;
	*vlen = 0;
	if (r->fail || r->len - r->off < FIELD_HDR) {
		r->fail = true;
		return false;
	}
	if (get16(r->p + r->off) == F_NONE)
		return rd_field(r, F_NONE, 0, val, vlen);
	*present = true;
	return rd_field(r, kind, max, val, vlen);
}

static uint32_t rd_u32(sam_rd *r)
{
	const uint8_t *v;
	size_t n;

	if (!rd_field(r, F_U32, 4, &v, &n) || n != 4) {
		r->fail = true;
		return 0;
	}
	return get32(v);
}

static int32_t rd_i32(sam_rd *r)
{
	const uint8_t *v;
	size_t n;
	uint32_t u;

	if (!rd_field(r, F_I32, 4, &v, &n) || n != 4) {
		r->fail = true;
		return 0;
	}
	u = get32(v);
	return u <= INT32_MAX ? (int32_t)u : (int32_t)(u - INT32_MAX - 1) + INT32_MIN;
}

static int64_t rd_i64(sam_rd *r)
{
	const uint8_t *v;
	size_t n;
	uint64_t u;

	if (!rd_field(r, F_I64, 8, &v, &n) || n != 8) {
		r->fail = true;
		return 0;
	}
	u = ((uint64_t)get32(v) << 32) | get32(v + 4);
	return u <= INT64_MAX ? (int64_t)u : (int64_t)(u - INT64_MAX - 1) + INT64_MIN;
}

static bool rd_bool(sam_rd *r)
{
	const uint8_t *v;
	size_t n;

	if (!rd_field(r, F_BOOL, 1, &v, &n) || n != 1 || v[0] > 1) {
		r->fail = true;
		return false;
	}
	return v[0] == 1;
}

static int rd_enum(sam_rd *r)
{
	int32_t v = rd_i32(r);

	if (v < 0 || v > ENUM_MAX) {
		r->fail = true;
		return 0;
	}
	return (int)v;
}

/* A string field copied into out (cap bytes, NUL included). */
static void rd_str(sam_rd *r, size_t max, char *out, size_t cap)
{
	const uint8_t *v;
	size_t n;

	out[0] = '\0';
	if (!rd_field(r, F_STR, max, &v, &n))
		return;
	if (n >= cap || memchr(v, '\0', n) != NULL) {
		r->fail = true;
		return;
	}
	memcpy(out, v, n);
	out[n] = '\0';
}

static bool rd_end(const sam_rd *r)
{
	return !r->fail && r->off == r->len;
}

int sam_proto_type(const uint8_t *msg, size_t len)
{
	if (msg == NULL || len < SAM_PROTO_HDR_LEN || len > SAM_PROTO_MSG_MAX)
		return -1;
	if (get16(msg + 2) != 0 || get32(msg + 4) != len - SAM_PROTO_HDR_LEN)
		return -1;
	return get16(msg);
}

/* Start reading a message of an expected type. */
static bool rd_begin(sam_rd *r, const uint8_t *msg, size_t len, sam_msg_type type)
{
	memset(r, 0, sizeof(*r));
	if (sam_proto_type(msg, len) != (int)type) {
		r->fail = true;
		return false;
	}
	r->p = msg;
	r->len = len;
	r->off = SAM_PROTO_HDR_LEN;
	return true;
}

static bool status_ok(uint32_t v)
{
	return v <= (uint32_t)SAM_STATUS_LAST;
}

unsigned sam_proto_op_class(uint16_t type)
{
	switch (type) {
	case SAM_MSG_AUTHORIZE:
	case SAM_MSG_EXTEND:
	case SAM_MSG_SIGN:
	case SAM_MSG_LOGIN:
	case SAM_MSG_TSA_RESPOND:
	case SAM_MSG_TSA_STAMP:
		return SAM_OPS_FRONT;
	case SAM_MSG_KEYGEN:
	case SAM_MSG_SET_CERT:
	case SAM_MSG_DESTROY:
	case SAM_MSG_SET_PIN:
	case SAM_MSG_SET_OTP:
		return SAM_OPS_ADMIN;
	default:
		return 0;
	}
}

/* ---- request encoders ---- */

int sam_proto_enc_authorize(const sam_authorize_req *q, uint8_t **msg, size_t *len)
{
	sam_wr w;

	wr_begin(&w, SAM_MSG_AUTHORIZE);
	if (q == NULL)
		w.fail = true;
	else {
		wr_i64(&w, q->user_id);
		wr_str(&w, q->credential_id, SAM_PROTO_ID_MAX);
		wr_i32(&w, q->num_signatures);
		wr_enum(&w, (int)q->hash);
		wr_hashes(&w, q->hashes, q->n_hashes);
		wr_opt_bytes(&w, q->pin, q->pin_len, SAM_SECRET_MAX);
		wr_opt_bytes(&w, q->otp, q->otp_len, SAM_SECRET_MAX);
	}
	return wr_finish(&w, msg, len);
}

int sam_proto_enc_extend(const sam_extend_req *q, uint8_t **msg, size_t *len)
{
	sam_wr w;

	wr_begin(&w, SAM_MSG_EXTEND);
	if (q == NULL)
		w.fail = true;
	else {
		wr_i64(&w, q->user_id);
		wr_str(&w, q->credential_id, SAM_PROTO_ID_MAX);
		wr_opt_bytes(&w, q->sad, q->sad_len, SAM_PROTO_SAD_MAX);
		wr_enum(&w, (int)q->hash);
		wr_hashes(&w, q->hashes, q->n_hashes);
	}
	return wr_finish(&w, msg, len);
}

int sam_proto_enc_sign(const sam_sign_req *q, uint8_t **msg, size_t *len)
{
	sam_wr w;

	wr_begin(&w, SAM_MSG_SIGN);
	if (q == NULL)
		w.fail = true;
	else {
		wr_i64(&w, q->user_id);
		wr_str(&w, q->credential_id, SAM_PROTO_ID_MAX);
		wr_opt_bytes(&w, q->sad, q->sad_len, SAM_PROTO_SAD_MAX);
		wr_enum(&w, (int)q->algo);
		wr_enum(&w, (int)q->hash);
		wr_enum(&w, (int)q->pss_mgf_hash);
		wr_i32(&w, q->pss_salt_len);
		wr_hashes(&w, q->hashes, q->n_hashes);
	}
	return wr_finish(&w, msg, len);
}

int sam_proto_enc_keygen(const sam_keygen_req *q, uint8_t **msg, size_t *len)
{
	sam_wr w;

	wr_begin(&w, SAM_MSG_KEYGEN);
	if (q == NULL)
		w.fail = true;
	else {
		wr_i64(&w, q->user_id);
		wr_enum(&w, (int)q->kind);
		wr_u32(&w, q->bits);
		wr_i32(&w, q->curve_nid);
		wr_i32(&w, q->scal);
		wr_bool(&w, q->auth_otp);
		wr_i32(&w, q->multisign);
		wr_opt_bytes(&w, q->pin, q->pin_len, SAM_SECRET_MAX);
		wr_opt_str(&w, q->description, SAM_PROTO_TEXT_MAX);
		wr_opt_str(&w, q->actor, SAM_PROTO_TEXT_MAX);
	}
	return wr_finish(&w, msg, len);
}

int sam_proto_enc_set_cert(const char *cred_id, const uint8_t *der, size_t derlen,
			   const char *actor, uint8_t **msg, size_t *len)
{
	sam_wr w;

	wr_begin(&w, SAM_MSG_SET_CERT);
	wr_str(&w, cred_id, SAM_PROTO_ID_MAX);
	wr_opt_bytes(&w, der, derlen, SAM_PROTO_CERT_MAX);
	wr_opt_str(&w, actor, SAM_PROTO_TEXT_MAX);
	return wr_finish(&w, msg, len);
}

int sam_proto_enc_destroy(const char *cred_id, const char *actor, uint8_t **msg, size_t *len)
{
	sam_wr w;

	wr_begin(&w, SAM_MSG_DESTROY);
	wr_str(&w, cred_id, SAM_PROTO_ID_MAX);
	wr_opt_str(&w, actor, SAM_PROTO_TEXT_MAX);
	return wr_finish(&w, msg, len);
}

int sam_proto_enc_set_pin(const char *cred_id, const char *pin, size_t pin_len, const char *actor,
			  uint8_t **msg, size_t *len)
{
	sam_wr w;

	wr_begin(&w, SAM_MSG_SET_PIN);
	wr_str(&w, cred_id, SAM_PROTO_ID_MAX);
	wr_opt_bytes(&w, pin, pin_len, SAM_SECRET_MAX);
	wr_opt_str(&w, actor, SAM_PROTO_TEXT_MAX);
	return wr_finish(&w, msg, len);
}

int sam_proto_enc_set_otp(int64_t user_id, const uint8_t *seed, size_t seedlen, const char *actor,
			  uint8_t **msg, size_t *len)
{
	sam_wr w;

	wr_begin(&w, SAM_MSG_SET_OTP);
	wr_i64(&w, user_id);
	wr_opt_bytes(&w, seed, seedlen, SAM_PROTO_SEED_MAX);
	wr_opt_str(&w, actor, SAM_PROTO_TEXT_MAX);
	return wr_finish(&w, msg, len);
}

int sam_proto_enc_login(const char *user, const char *pw, size_t pwlen, uint8_t **msg, size_t *len)
{
	sam_wr w;

	wr_begin(&w, SAM_MSG_LOGIN);
	wr_str(&w, user, SAM_PROTO_NAME_MAX);
	wr_opt_bytes(&w, pw, pwlen, SAM_PASSWORD_MAX);
	return wr_finish(&w, msg, len);
}

int sam_proto_enc_tsa_respond(const uint8_t *req, size_t reqlen, uint8_t **msg, size_t *len)
{
	sam_wr w;

	wr_begin(&w, SAM_MSG_TSA_RESPOND);
	wr_opt_bytes(&w, req, reqlen, SAM_PROTO_TSQ_MAX);
	return wr_finish(&w, msg, len);
}

int sam_proto_enc_tsa_stamp(hash_alg alg, const uint8_t *digest, size_t dlen, const char *nonce_hex,
			    uint8_t **msg, size_t *len)
{
	sam_wr w;

	wr_begin(&w, SAM_MSG_TSA_STAMP);
	wr_enum(&w, (int)alg);
	wr_opt_bytes(&w, digest, dlen, HASH_MAX_LEN);
	wr_opt_str(&w, nonce_hex, SAM_PROTO_NONCE_MAX);
	return wr_finish(&w, msg, len);
}

/* ---- request decoder ---- */

void sam_request_clear(sam_request *r)
{
	if (r == NULL)
		return;
	free(r->hashes);
	if (r->secret != NULL)
		sec_unlock_free(r->secret, r->secret_cap);
	free(r->blob);
	sec_free(r->text, r->text_cap);
	sec_zero(r, sizeof(*r));
}

/* Copy n bytes (+ NUL) into an arena; NULL when it does not fit. */
static char *arena_put(char *arena, size_t cap, size_t *used, const uint8_t *d, size_t n)
{
	char *p;

	if (arena == NULL || n >= cap - *used)
		return NULL;
	p = arena + *used;
	if (n > 0)
		memcpy(p, d, n);
	p[n] = '\0';
	*used += n + 1;
	return p;
}

/* An optional secret (BYTES) into the secret arena, NUL-terminated (the
 * length is what counts): NULL when absent or empty. */
static const char *rd_secret(sam_rd *r, sam_request *q, size_t *used, size_t max, size_t *outlen)
{
	const uint8_t *v;
	size_t n;
	bool present;
	const char *p;

	*outlen = 0;
	if (!rd_opt(r, F_BYTES, max, &v, &n, &present) || !present || n == 0)
		return NULL;
	p = arena_put(q->secret, q->secret_cap, used, v, n);
	if (p == NULL) {
		r->fail = true;
		return NULL;
	}
	*outlen = n;
	return p;
}

/* An optional string into the text arena (NULL when absent). */
static const char *rd_opt_text(sam_rd *r, sam_request *q, size_t *used, size_t max)
{
	const uint8_t *v;
	size_t n;
	bool present;
	const char *p;

	if (!rd_opt(r, F_STR, max, &v, &n, &present) || !present)
		return NULL;
	if (memchr(v, '\0', n) != NULL) {
		r->fail = true;
		return NULL;
	}
	p = arena_put(q->text, q->text_cap, used, v, n);
	if (p == NULL)
		r->fail = true;
	return p;
}

static void rd_hashes(sam_rd *r, sam_request *q, const sam_hash **hs, size_t *n)
{
	uint32_t count = rd_u32(r);

	*hs = NULL;
	*n = 0;
	if (r->fail)
		return;
	if (count > SAM_MAX_HASHES) {
		r->fail = true;
		return;
	}
	if (count == 0)
		return;
	/* Each hash takes at least FIELD_HDR bytes: refuse a count the rest
	 * of the message cannot hold before allocating for it. */
	if ((size_t)count > (r->len - r->off) / FIELD_HDR) {
		r->fail = true;
		return;
	}
	q->hashes = calloc(count, sizeof(*q->hashes));
	if (q->hashes == NULL) {
		r->fail = true;
		return;
	}
	for (uint32_t i = 0; i < count && !r->fail; i++) {
		const uint8_t *v;
		size_t len;

		if (rd_field(r, F_BYTES, HASH_MAX_LEN, &v, &len)) {
			memcpy(q->hashes[i].v, v, len);
			q->hashes[i].len = len;
		}
	}
	*hs = q->hashes;
	*n = count;
}

static void dec_authorize(sam_rd *r, sam_request *q, size_t *sused)
{
	sam_authorize_req *a = &q->u.authorize;

	a->user_id = rd_i64(r);
	rd_str(r, SAM_PROTO_ID_MAX, a->credential_id, sizeof(a->credential_id));
	a->num_signatures = rd_i32(r);
	a->hash = (hash_alg)rd_enum(r);
	rd_hashes(r, q, &a->hashes, &a->n_hashes);
	a->pin = rd_secret(r, q, sused, SAM_SECRET_MAX, &a->pin_len);
	a->otp = rd_secret(r, q, sused, SAM_SECRET_MAX, &a->otp_len);
}

static void dec_extend(sam_rd *r, sam_request *q, size_t *sused)
{
	sam_extend_req *e = &q->u.extend;

	e->user_id = rd_i64(r);
	rd_str(r, SAM_PROTO_ID_MAX, e->credential_id, sizeof(e->credential_id));
	e->sad = rd_secret(r, q, sused, SAM_PROTO_SAD_MAX, &e->sad_len);
	e->hash = (hash_alg)rd_enum(r);
	rd_hashes(r, q, &e->hashes, &e->n_hashes);
}

static void dec_sign(sam_rd *r, sam_request *q, size_t *sused)
{
	sam_sign_req *s = &q->u.sign;

	s->user_id = rd_i64(r);
	rd_str(r, SAM_PROTO_ID_MAX, s->credential_id, sizeof(s->credential_id));
	s->sad = rd_secret(r, q, sused, SAM_PROTO_SAD_MAX, &s->sad_len);
	s->algo = (sig_alg)rd_enum(r);
	s->hash = (hash_alg)rd_enum(r);
	s->pss_mgf_hash = (hash_alg)rd_enum(r);
	s->pss_salt_len = rd_i32(r);
	rd_hashes(r, q, &s->hashes, &s->n_hashes);
}

static void dec_keygen(sam_rd *r, sam_request *q, size_t *sused, size_t *tused)
{
	sam_keygen_req *k = &q->u.keygen;

	k->user_id = rd_i64(r);
	k->kind = (key_kind)rd_enum(r);
	k->bits = rd_u32(r);
	k->curve_nid = rd_i32(r);
	k->scal = rd_i32(r);
	k->auth_otp = rd_bool(r);
	k->multisign = rd_i32(r);
	k->pin = rd_secret(r, q, sused, SAM_SECRET_MAX, &k->pin_len);
	k->description = rd_opt_text(r, q, tused, SAM_PROTO_TEXT_MAX);
	k->actor = rd_opt_text(r, q, tused, SAM_PROTO_TEXT_MAX);
}

static void dec_set_cert(sam_rd *r, sam_request *q, size_t *tused)
{
	const uint8_t *v;
	size_t n;
	bool present;

	rd_str(r, SAM_PROTO_ID_MAX, q->u.set_cert.credential_id,
	       sizeof(q->u.set_cert.credential_id));
	if (rd_opt(r, F_BYTES, SAM_PROTO_CERT_MAX, &v, &n, &present) && present && n > 0) {
		q->blob = malloc(n);
		if (q->blob == NULL) {
			r->fail = true;
			return;
		}
		memcpy(q->blob, v, n);
		q->blob_len = n;
		q->u.set_cert.der = q->blob;
		q->u.set_cert.len = n;
	}
	q->u.set_cert.actor = rd_opt_text(r, q, tused, SAM_PROTO_TEXT_MAX);
}

static void dec_set_otp(sam_rd *r, sam_request *q, size_t *sused, size_t *tused)
{
	const uint8_t *v;
	size_t n;
	bool present;

	q->u.set_otp.user_id = rd_i64(r);
	/* Binary: may contain NUL bytes; still in locked memory. */
	if (rd_opt(r, F_BYTES, SAM_PROTO_SEED_MAX, &v, &n, &present) && present && n > 0) {
		const char *p = arena_put(q->secret, q->secret_cap, sused, v, n);
		if (p == NULL) {
			r->fail = true;
			return;
		}
		q->u.set_otp.seed = (const uint8_t *)p;
		q->u.set_otp.len = n;
	}
	q->u.set_otp.actor = rd_opt_text(r, q, tused, SAM_PROTO_TEXT_MAX);
}

static void dec_tsa_respond(sam_rd *r, sam_request *q)
{
	const uint8_t *v;
	size_t n;
	bool present;

	if (rd_opt(r, F_BYTES, SAM_PROTO_TSQ_MAX, &v, &n, &present) && present && n > 0) {
		q->blob = malloc(n);
		if (q->blob == NULL) {
			r->fail = true;
			return;
		}
		memcpy(q->blob, v, n);
		q->blob_len = n;
		q->u.tsa_respond.req = q->blob;
		q->u.tsa_respond.len = n;
	}
}

static void dec_tsa_stamp(sam_rd *r, sam_request *q, size_t *tused)
{
	const uint8_t *v;
	size_t n;
	bool present;

	q->u.tsa_stamp.alg = (hash_alg)rd_enum(r);
	if (rd_opt(r, F_BYTES, HASH_MAX_LEN, &v, &n, &present) && present) {
		memcpy(q->u.tsa_stamp.digest, v, n);
		q->u.tsa_stamp.dlen = n;
	}
	q->u.tsa_stamp.nonce = rd_opt_text(r, q, tused, SAM_PROTO_NONCE_MAX);
}

int sam_proto_dec_request(const uint8_t *msg, size_t len, sam_request *q)
{
	sam_rd r;
	size_t sused = 0, tused = 0;
	int type;

	if (q == NULL)
		return -1;
	memset(q, 0, sizeof(*q));
	type = sam_proto_type(msg, len);
	if (sam_proto_op_class((uint16_t)(type < 0 ? 0 : type)) == 0)
		return -1;
	rd_begin(&r, msg, len, (sam_msg_type)type);
	q->type = (uint16_t)type;
	q->secret = sec_locked_alloc(SECRET_ARENA);
	q->secret_cap = SECRET_ARENA;
	q->text = calloc(1, TEXT_ARENA);
	q->text_cap = TEXT_ARENA;
	if (q->secret == NULL || q->text == NULL) {
		if (q->secret == NULL)
			q->secret_cap = 0;
		sam_request_clear(q);
		return -1;
	}
	switch (type) {
	case SAM_MSG_AUTHORIZE:
		dec_authorize(&r, q, &sused);
		break;
	case SAM_MSG_EXTEND:
		dec_extend(&r, q, &sused);
		break;
	case SAM_MSG_SIGN:
		dec_sign(&r, q, &sused);
		break;
	case SAM_MSG_KEYGEN:
		dec_keygen(&r, q, &sused, &tused);
		break;
	case SAM_MSG_SET_CERT:
		dec_set_cert(&r, q, &tused);
		break;
	case SAM_MSG_DESTROY:
		rd_str(&r, SAM_PROTO_ID_MAX, q->u.destroy.credential_id,
		       sizeof(q->u.destroy.credential_id));
		q->u.destroy.actor = rd_opt_text(&r, q, &tused, SAM_PROTO_TEXT_MAX);
		break;
	case SAM_MSG_SET_PIN:
		rd_str(&r, SAM_PROTO_ID_MAX, q->u.set_pin.credential_id,
		       sizeof(q->u.set_pin.credential_id));
		q->u.set_pin.pin = rd_secret(&r, q, &sused, SAM_SECRET_MAX, &q->u.set_pin.pin_len);
		q->u.set_pin.actor = rd_opt_text(&r, q, &tused, SAM_PROTO_TEXT_MAX);
		break;
	case SAM_MSG_SET_OTP:
		dec_set_otp(&r, q, &sused, &tused);
		break;
	case SAM_MSG_LOGIN:
		rd_str(&r, SAM_PROTO_NAME_MAX, q->u.login.user, sizeof(q->u.login.user));
		q->u.login.pw = rd_secret(&r, q, &sused, SAM_PASSWORD_MAX, &q->u.login.pwlen);
		break;
	case SAM_MSG_TSA_RESPOND:
		dec_tsa_respond(&r, q);
		break;
	case SAM_MSG_TSA_STAMP:
		dec_tsa_stamp(&r, q, &tused);
		break;
	default:
		r.fail = true;
		break;
	}
	if (!rd_end(&r)) {
		sam_request_clear(q);
		return -1;
	}
	return 0;
}

/* ---- result encoders ---- */

int sam_proto_enc_authorize_res(const sam_authorize_res *a, uint8_t **msg, size_t *len)
{
	sam_wr w;

	wr_begin(&w, SAM_MSG_RES_AUTHORIZE);
	if (a == NULL || !status_ok((uint32_t)a->status))
		w.fail = true;
	else {
		size_t n = strnlen(a->sad, SAM_SAD_MAX);
		wr_u32(&w, (uint32_t)a->status);
		if (n >= SAM_SAD_MAX)
			w.fail = true;
		wr_bytes(&w, a->sad, n, SAM_PROTO_SAD_MAX);
		wr_i64(&w, a->expires_in);
		wr_i32(&w, a->pin_failures);
	}
	return wr_finish(&w, msg, len);
}

int sam_proto_enc_sign_res(const sam_sign_res *s, uint8_t **msg, size_t *len)
{
	sam_wr w;

	wr_begin(&w, SAM_MSG_RES_SIGN);
	if (s == NULL || !status_ok((uint32_t)s->status) || s->n > SAM_MAX_HASHES ||
	    (s->status != SAM_OK && s->n != 0) ||
	    (s->n > 0 && (s->sigs == NULL || s->lens == NULL)))
		w.fail = true;
	else {
		wr_u32(&w, (uint32_t)s->status);
		wr_u32(&w, (uint32_t)s->n);
		for (size_t i = 0; i < s->n; i++)
			wr_bytes(&w, s->sigs[i], s->lens[i], SAM_PROTO_SIG_MAX);
	}
	return wr_finish(&w, msg, len);
}

int sam_proto_enc_keygen_res(const sam_keygen_res *k, uint8_t **msg, size_t *len)
{
	sam_wr w;
	unsigned char *der = NULL;
	int dlen = 0;

	wr_begin(&w, SAM_MSG_RES_KEYGEN);
	if (k == NULL || !status_ok((uint32_t)k->status) ||
	    (k->status == SAM_OK) != (k->pub != NULL))
		w.fail = true;
	else {
		if (k->pub != NULL) {
			dlen = i2d_PUBKEY(k->pub, &der);
			if (dlen <= 0)
				w.fail = true;
		}
		wr_u32(&w, (uint32_t)k->status);
		wr_str(&w, k->credential_id, SAM_PROTO_ID_MAX);
		wr_opt_bytes(&w, der, dlen > 0 ? (size_t)dlen : 0, SAM_PROTO_PUB_MAX);
	}
	OPENSSL_free(der);
	return wr_finish(&w, msg, len);
}

int sam_proto_enc_status_res(sam_status st, uint8_t **msg, size_t *len)
{
	sam_wr w;

	wr_begin(&w, SAM_MSG_RES_STATUS);
	if (!status_ok((uint32_t)st))
		w.fail = true;
	wr_u32(&w, (uint32_t)st);
	return wr_finish(&w, msg, len);
}

int sam_proto_enc_login_res(sam_status st, int64_t user_id, uint8_t **msg, size_t *len)
{
	sam_wr w;

	wr_begin(&w, SAM_MSG_RES_LOGIN);
	if (!status_ok((uint32_t)st))
		w.fail = true;
	wr_u32(&w, (uint32_t)st);
	wr_i64(&w, user_id);
	return wr_finish(&w, msg, len);
}

int sam_proto_enc_tsa_res(int rc, const uint8_t *data, size_t dlen, uint8_t **msg, size_t *len)
{
	sam_wr w;

	wr_begin(&w, SAM_MSG_RES_TSA);
	if (rc < -2 || rc > 0 || (rc != 0 && data != NULL))
		w.fail = true;
	wr_i32(&w, rc);
	wr_opt_bytes(&w, data, dlen, SAM_PROTO_TSR_MAX);
	return wr_finish(&w, msg, len);
}

int sam_proto_enc_connect_res(int ok, int64_t pid, uint8_t **msg, size_t *len)
{
	sam_wr w;

	wr_begin(&w, SAM_MSG_CONNECT_RES);
	wr_bool(&w, ok != 0);
	wr_i64(&w, pid);
	return wr_finish(&w, msg, len);
}

int sam_proto_enc_empty(sam_msg_type type, uint8_t **msg, size_t *len)
{
	sam_wr w;

	wr_begin(&w, type);
	if (type != SAM_MSG_CONNECT && type != SAM_MSG_ADOPT)
		w.fail = true;
	return wr_finish(&w, msg, len);
}

int sam_proto_enc_ready(int64_t pid, uint8_t **msg, size_t *len)
{
	sam_wr w;

	wr_begin(&w, SAM_MSG_READY);
	wr_i64(&w, pid);
	return wr_finish(&w, msg, len);
}

/* ---- result decoders ---- */

int sam_proto_dec_authorize_res(const uint8_t *msg, size_t len, sam_authorize_res *out)
{
	sam_rd r;
	const uint8_t *v;
	size_t n;
	uint32_t st;

	if (out == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	rd_begin(&r, msg, len, SAM_MSG_RES_AUTHORIZE);
	st = rd_u32(&r);
	if (rd_field(&r, F_BYTES, SAM_PROTO_SAD_MAX, &v, &n)) {
		if (memchr(v, '\0', n) != NULL)
			r.fail = true;
		else
			memcpy(out->sad, v, n);
	}
	out->expires_in = rd_i64(&r);
	out->pin_failures = rd_i32(&r);
	if (!rd_end(&r) || !status_ok(st) || ((st == SAM_OK) != (n > 0))) {
		sec_zero(out, sizeof(*out));
		return -1;
	}
	out->status = (sam_status)st;
	return 0;
}

int sam_proto_dec_sign_res(const uint8_t *msg, size_t len, sam_sign_res *out)
{
	sam_rd r;
	uint32_t st, n;

	if (out == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	rd_begin(&r, msg, len, SAM_MSG_RES_SIGN);
	st = rd_u32(&r);
	n = rd_u32(&r);
	if (r.fail || !status_ok(st) || n > SAM_MAX_HASHES || (st != SAM_OK && n != 0) ||
	    (size_t)n > (r.len - r.off) / FIELD_HDR)
		return -1;
	if (n > 0) {
		out->sigs = calloc(n, sizeof(*out->sigs));
		out->lens = calloc(n, sizeof(*out->lens));
		if (out->sigs == NULL || out->lens == NULL)
			r.fail = true;
	}
	for (uint32_t i = 0; i < n && !r.fail; i++) {
		const uint8_t *v;
		size_t l;

		if (!rd_field(&r, F_BYTES, SAM_PROTO_SIG_MAX, &v, &l))
			break;
		if (l == 0) {
			r.fail = true;
			break;
		}
		out->sigs[i] = malloc(l);
		if (out->sigs[i] == NULL) {
			r.fail = true;
			break;
		}
		memcpy(out->sigs[i], v, l);
		out->lens[i] = l;
		out->n = i + 1;
	}
	if (!rd_end(&r)) {
		sam_sign_res_clear(out);
		memset(out, 0, sizeof(*out));
		return -1;
	}
	out->n = n;
	out->status = (sam_status)st;
	return 0;
}

int sam_proto_dec_keygen_res(const uint8_t *msg, size_t len, sam_keygen_res *out)
{
	sam_rd r;
	const uint8_t *v;
	size_t n;
	bool present;
	uint32_t st;

	if (out == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	rd_begin(&r, msg, len, SAM_MSG_RES_KEYGEN);
	st = rd_u32(&r);
	rd_str(&r, SAM_PROTO_ID_MAX, out->credential_id, sizeof(out->credential_id));
	if (rd_opt(&r, F_BYTES, SAM_PROTO_PUB_MAX, &v, &n, &present) && present) {
		const unsigned char *p = v;

		out->pub = n > 0 ? d2i_PUBKEY(NULL, &p, (long)n) : NULL;
		if (out->pub == NULL || p != v + n)
			r.fail = true;
	}
	if (!rd_end(&r) || !status_ok(st) || (st == SAM_OK) != (out->pub != NULL)) {
		EVP_PKEY_free(out->pub);
		memset(out, 0, sizeof(*out));
		return -1;
	}
	out->status = (sam_status)st;
	return 0;
}

int sam_proto_dec_status_res(const uint8_t *msg, size_t len, sam_status *st)
{
	sam_rd r;
	uint32_t v;

	if (st == NULL)
		return -1;
	*st = SAM_E_INTERNAL;
	rd_begin(&r, msg, len, SAM_MSG_RES_STATUS);
	v = rd_u32(&r);
	if (!rd_end(&r) || !status_ok(v))
		return -1;
	*st = (sam_status)v;
	return 0;
}

int sam_proto_dec_login_res(const uint8_t *msg, size_t len, sam_status *st, int64_t *user_id)
{
	sam_rd r;
	uint32_t v;
	int64_t uid;

	if (st == NULL || user_id == NULL)
		return -1;
	*st = SAM_E_INTERNAL;
	*user_id = 0;
	rd_begin(&r, msg, len, SAM_MSG_RES_LOGIN);
	v = rd_u32(&r);
	uid = rd_i64(&r);
	if (!rd_end(&r) || !status_ok(v) || (v == SAM_OK) != (uid > 0))
		return -1;
	*st = (sam_status)v;
	*user_id = uid;
	return 0;
}

int sam_proto_dec_tsa_res(const uint8_t *msg, size_t len, int *rc, uint8_t **data, size_t *dlen)
{
	sam_rd r;
	const uint8_t *v;
	size_t n;
	bool present;
	int32_t c;

	if (rc == NULL || data == NULL || dlen == NULL)
		return -1;
	*rc = -1;
	*data = NULL;
	*dlen = 0;
	rd_begin(&r, msg, len, SAM_MSG_RES_TSA);
	c = rd_i32(&r);
	rd_opt(&r, F_BYTES, SAM_PROTO_TSR_MAX, &v, &n, &present);
	if (!rd_end(&r) || c < -2 || c > 0 || (c == 0 ? !(present && n > 0) : present))
		return -1;
	if (c == 0) {
		*data = malloc(n);
		if (*data == NULL)
			return -1;
		memcpy(*data, v, n);
		*dlen = n;
	}
	*rc = c;
	return 0;
}

int sam_proto_dec_connect_res(const uint8_t *msg, size_t len, int *ok, int64_t *pid)
{
	sam_rd r;
	bool b;
	int64_t p;

	if (ok == NULL || pid == NULL)
		return -1;
	*ok = 0;
	*pid = 0;
	rd_begin(&r, msg, len, SAM_MSG_CONNECT_RES);
	b = rd_bool(&r);
	p = rd_i64(&r);
	if (!rd_end(&r) || p < 0)
		return -1;
	*ok = b ? 1 : 0;
	*pid = p;
	return 0;
}

int sam_proto_dec_ready(const uint8_t *msg, size_t len, int64_t *pid)
{
	sam_rd r;
	int64_t p;

	if (pid == NULL)
		return -1;
	*pid = 0;
	rd_begin(&r, msg, len, SAM_MSG_READY);
	p = rd_i64(&r);
	if (!rd_end(&r) || p <= 0)
		return -1;
	*pid = p;
	return 0;
}

int sam_proto_dec_empty(const uint8_t *msg, size_t len, sam_msg_type type)
{
	sam_rd r;

	rd_begin(&r, msg, len, type);
	return rd_end(&r) ? 0 : -1;
}

/* ---- transport ---- */

int sam_proto_send(int fd, const uint8_t *msg, size_t len)
{
	size_t off = 0;

	if (sam_proto_type(msg, len) < 0) {
		errno = EINVAL;
		return -1;
	}
	while (off < len) {
		size_t n = len - off > SAM_PROTO_PACKET_MAX ? SAM_PROTO_PACKET_MAX : len - off;
		ssize_t w = send(fd, msg + off, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if ((size_t)w != n) { /* a record is all or nothing */
			errno = EIO;
			return -1;
		}
		off += n;
	}
	return 0;
}

/* One record into buf (exactly: a longer record is an error). */
static ssize_t sam_proto_recv_record(int fd, uint8_t *buf, size_t cap, int flags)
{
	struct iovec iov = {buf, cap};
	struct msghdr mh;
	ssize_t n;

	for (;;) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		n = recvmsg(fd, &mh, flags);
		if (n < 0 && errno == EINTR)
			continue;
		if (n >= 0 && (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 &&
		    (flags & MSG_PEEK) == 0) {
			errno = EMSGSIZE;
			return -1;
		}
		return n;
	}
}

int sam_proto_recv(int fd, uint8_t **msg, size_t *len)
{
	uint8_t hdr[SAM_PROTO_HDR_LEN];
	uint8_t *buf;
	size_t total, got = 0;
	ssize_t n;

	*msg = NULL;
	*len = 0;
	n = sam_proto_recv_record(fd, hdr, sizeof(hdr), MSG_PEEK);
	if (n == 0)
		return 0;
	if (n < (ssize_t)sizeof(hdr)) {
		if (n > 0) /* drop the runt record */
			(void)sam_proto_recv_record(fd, hdr, sizeof(hdr), 0);
		if (n > 0)
			errno = EPROTO;
		return -1;
	}
	total = SAM_PROTO_HDR_LEN + (size_t)get32(hdr + 4);
	if (get32(hdr + 4) > SAM_PROTO_MSG_MAX - SAM_PROTO_HDR_LEN || get16(hdr + 2) != 0) {
		errno = EMSGSIZE;
		return -1;
	}
	buf = malloc(total);
	if (buf == NULL)
		return -1;
	while (got < total) {
		size_t want = total - got;

		if (want > SAM_PROTO_PACKET_MAX)
			want = SAM_PROTO_PACKET_MAX;
		n = sam_proto_recv_record(fd, buf + got, want, 0);
		if (n <= 0) {
			if (n == 0)
				errno = EPROTO; /* closed in the middle of a message */
			sec_free(buf, total);
			return -1;
		}
		/* Every record but the last is full-sized. */
		if ((size_t)n != want) {
			errno = EPROTO;
			sec_free(buf, total);
			return -1;
		}
		got += (size_t)n;
	}
	*msg = buf;
	*len = total;
	return 1;
}

int sam_proto_send_fd(int sock, const uint8_t *msg, size_t len, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = {(void *)msg, len};
	struct msghdr mh;
	ssize_t w;

	if (sam_proto_type(msg, len) < 0 || len > SAM_PROTO_PACKET_MAX) {
		errno = EINVAL;
		return -1;
	}
	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd >= 0) {
		struct cmsghdr *c;

		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		w = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -1;
	if ((size_t)w != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

int sam_proto_recv_fd(int sock, uint8_t *buf, size_t cap, size_t *len, int *fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct iovec iov = {buf, cap};
	struct msghdr mh;
	struct cmsghdr *c;
	ssize_t n;
	int got = -1;

	*len = 0;
	*fd = -1;
	for (;;) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	if (n < 0)
		return -1;
	/* Take every descriptor that came, keep at most one. */
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < 0)
				got = f;
			else
				close(f);
		}
	}
	if (n == 0 && got < 0)
		return 0;
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || n == 0) {
		if (got >= 0)
			close(got);
		errno = EPROTO;
		return -1;
	}
	*len = (size_t)n;
	*fd = got;
	return 1;
}
