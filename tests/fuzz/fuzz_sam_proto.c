/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the SAM message decoders (server/sam_proto.h). Every
 * decoder must refuse malformed input without crashing or leaking; what a
 * request decoder accepts must re-encode, decode again, and then re-encode
 * to the same bytes (the encoding is canonical after one round). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sam_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Encode a decoded request again. */
static int reencode(const sam_request *q, uint8_t **m, size_t *len)
{
	switch (q->type) {
	case SAM_MSG_AUTHORIZE:
		return sam_proto_enc_authorize(&q->u.authorize, m, len);
	case SAM_MSG_EXTEND:
		return sam_proto_enc_extend(&q->u.extend, m, len);
	case SAM_MSG_SIGN:
		return sam_proto_enc_sign(&q->u.sign, m, len);
	case SAM_MSG_KEYGEN:
		return sam_proto_enc_keygen(&q->u.keygen, m, len);
	case SAM_MSG_SET_CERT:
		return sam_proto_enc_set_cert(q->u.set_cert.credential_id, q->u.set_cert.der,
					      q->u.set_cert.len, q->u.set_cert.actor, m, len);
	case SAM_MSG_DESTROY:
		return sam_proto_enc_destroy(q->u.destroy.credential_id, q->u.destroy.actor, m,
					     len);
	case SAM_MSG_SET_PIN:
		return sam_proto_enc_set_pin(q->u.set_pin.credential_id, q->u.set_pin.pin,
					     q->u.set_pin.pin_len, q->u.set_pin.actor, m, len);
	case SAM_MSG_SET_OTP:
		return sam_proto_enc_set_otp(q->u.set_otp.user_id, q->u.set_otp.seed,
					     q->u.set_otp.len, q->u.set_otp.actor, m, len);
	case SAM_MSG_LOGIN:
		return sam_proto_enc_login(q->u.login.user, q->u.login.pw, q->u.login.pwlen, m,
					   len);
	case SAM_MSG_TSA_RESPOND:
		return sam_proto_enc_tsa_respond(q->u.tsa_respond.req, q->u.tsa_respond.len, m,
						 len);
	case SAM_MSG_TSA_STAMP:
		return sam_proto_enc_tsa_stamp(q->u.tsa_stamp.alg, q->u.tsa_stamp.digest,
					       q->u.tsa_stamp.dlen, q->u.tsa_stamp.nonce, m, len);
	default:
		abort();
	}
}

static void check_request(const uint8_t *data, size_t size)
{
	sam_request q, q2;
	uint8_t *m1 = NULL, *m2 = NULL;
	size_t l1 = 0, l2 = 0;

	if (sam_proto_dec_request(data, size, &q) != 0)
		return;
	if (sam_proto_op_class(q.type) == 0)
		abort();
	if (reencode(&q, &m1, &l1) != 0)
		abort();
	if (sam_proto_dec_request(m1, l1, &q2) != 0 || q2.type != q.type)
		abort();
	if (reencode(&q2, &m2, &l2) != 0 || l2 != l1 || memcmp(m1, m2, l1) != 0)
		abort();
	sam_request_clear(&q);
	sam_request_clear(&q2);
	sam_proto_free(m1, l1);
	sam_proto_free(m2, l2);
}

static void check_results(const uint8_t *data, size_t size)
{
	sam_authorize_res a;
	sam_sign_res s;
	sam_keygen_res k;
	sam_status st;
	int64_t v64;
	uint8_t *d = NULL, *m = NULL;
	size_t dl = 0, ml = 0;
	int rc, ok;

	if (sam_proto_dec_authorize_res(data, size, &a) == 0) {
		if (sam_proto_enc_authorize_res(&a, &m, &ml) != 0 || ml != size ||
		    memcmp(m, data, size) != 0)
			abort();
		sam_proto_free(m, ml);
	}
	if (sam_proto_dec_sign_res(data, size, &s) == 0) {
		if (sam_proto_enc_sign_res(&s, &m, &ml) != 0 || ml != size ||
		    memcmp(m, data, size) != 0)
			abort();
		sam_proto_free(m, ml);
		sam_sign_res_clear(&s);
	}
	if (sam_proto_dec_keygen_res(data, size, &k) == 0) {
		sam_keygen_res k2;

		if (sam_proto_enc_keygen_res(&k, &m, &ml) != 0 ||
		    sam_proto_dec_keygen_res(m, ml, &k2) != 0)
			abort();
		EVP_PKEY_free(k2.pub);
		EVP_PKEY_free(k.pub);
		sam_proto_free(m, ml);
	}
	(void)sam_proto_dec_status_res(data, size, &st);
	(void)sam_proto_dec_login_res(data, size, &st, &v64);
	if (sam_proto_dec_tsa_res(data, size, &rc, &d, &dl) == 0) {
		if (sam_proto_enc_tsa_res(rc, d, dl, &m, &ml) != 0 || ml != size ||
		    memcmp(m, data, size) != 0)
			abort();
		sam_proto_free(m, ml);
		free(d);
	}
	(void)sam_proto_dec_connect_res(data, size, &ok, &v64);
	(void)sam_proto_dec_ready(data, size, &v64);
	(void)sam_proto_dec_empty(data, size, SAM_MSG_CONNECT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > SAM_PROTO_MSG_MAX)
		return 0;
	check_request(data, size);
	check_results(data, size);
	return 0;
}
