/* SPDX-License-Identifier: Apache-2.0 */
/* SAM process: one connection, one request at a time. */
#include "sam_server.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "secmem.h"

#define SAM_SERVE_THREADS_MAX 512

static atomic_uint sam_serve_nactive;

/* Take the decision for one decoded request; *out is the answer. */
static int sam_serve_dispatch(sam *m, sam_request *q, uint8_t **out, size_t *outlen)
{
	int rc = -1;

	switch (q->type) {
	case SAM_MSG_AUTHORIZE:
	case SAM_MSG_EXTEND: {
		sam_authorize_res res;

		if (q->type == SAM_MSG_AUTHORIZE)
			(void)sam_authorize(m, &q->u.authorize, &res);
		else
			(void)sam_extend(m, &q->u.extend, &res);
		rc = sam_proto_enc_authorize_res(&res, out, outlen);
		sec_zero(&res, sizeof(res));
		break;
	}
	case SAM_MSG_SIGN: {
		sam_sign_res res;

		(void)sam_sign(m, &q->u.sign, &res);
		rc = sam_proto_enc_sign_res(&res, out, outlen);
		sam_sign_res_clear(&res);
		break;
	}
	case SAM_MSG_KEYGEN: {
		sam_keygen_res res;

		(void)sam_keygen(m, &q->u.keygen, &res);
		rc = sam_proto_enc_keygen_res(&res, out, outlen);
		EVP_PKEY_free(res.pub);
		break;
	}
	case SAM_MSG_SET_CERT:
		rc = sam_proto_enc_status_res(sam_key_set_cert(m, q->u.set_cert.credential_id,
							       q->u.set_cert.der, q->u.set_cert.len,
							       q->u.set_cert.actor),
					      out, outlen);
		break;
	case SAM_MSG_DESTROY:
		rc = sam_proto_enc_status_res(
		    sam_key_destroy(m, q->u.destroy.credential_id, q->u.destroy.actor), out,
		    outlen);
		break;
	case SAM_MSG_SET_PIN:
		rc = sam_proto_enc_status_res(sam_set_pin(m, q->u.set_pin.credential_id,
							  q->u.set_pin.pin, q->u.set_pin.pin_len,
							  q->u.set_pin.actor),
					      out, outlen);
		break;
	case SAM_MSG_SET_OTP:
		rc = sam_proto_enc_status_res(sam_user_set_otp(m, q->u.set_otp.user_id,
							       q->u.set_otp.seed, q->u.set_otp.len,
							       q->u.set_otp.actor),
					      out, outlen);
		break;
	case SAM_MSG_LOGIN: {
		int64_t uid = 0;
		sam_status st =
		    sam_verify_login(m, q->u.login.user, q->u.login.pw, q->u.login.pwlen, &uid);

		rc = sam_proto_enc_login_res(st, st == SAM_OK ? uid : 0, out, outlen);
		break;
	}
	case SAM_MSG_TSA_RESPOND:
	case SAM_MSG_TSA_STAMP: {
		uint8_t *data = NULL;
		size_t dlen = 0;
		int v;

		if (q->type == SAM_MSG_TSA_RESPOND)
			v = sam_tsa_respond(m, q->u.tsa_respond.req, q->u.tsa_respond.len, &data,
					    &dlen);
		else
			v = sam_tsa_stamp(m, q->u.tsa_stamp.alg, q->u.tsa_stamp.digest,
					  q->u.tsa_stamp.dlen, q->u.tsa_stamp.nonce, &data, &dlen);
		if (v != 0 || dlen == 0) {
			free(data);
			data = NULL;
			dlen = 0;
			if (v == 0)
				v = -1;
		}
		rc = sam_proto_enc_tsa_res(v < -2 ? -1 : v, data, dlen, out, outlen);
		free(data);
		break;
	}
	default:
		break;
	}
	return rc;
}

int sam_serve_ops(sam *local, tsa *t, int fd, unsigned ops)
{
	if (local == NULL || sam_is_remote(local) || fd < 0)
		return -1;
	if (t != NULL)
		sam_set_tsa(local, t);
	for (;;) {
		uint8_t *msg = NULL, *out = NULL;
		size_t len = 0, outlen = 0;
		sam_request q;
		int v = sam_proto_recv(fd, &msg, &len);

		if (v == 0)
			return 0;
		if (v < 0) {
			/* The stream may be out of step: drop the connection. */
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_msg(LOG_LVL_WARN, LOG_CAT_SAM, "sam: dropping a connection: %s",
					strerror(errno));
			return -1;
		}
		if (sam_proto_dec_request(msg, len, &q) != 0) {
			log_msg(LOG_LVL_WARN, LOG_CAT_SAM, "sam: malformed request refused");
			v = sam_proto_enc_status_res(SAM_E_REQUEST, &out, &outlen);
		} else if ((sam_proto_op_class(q.type) & ops) == 0) {
			log_msg(LOG_LVL_WARN, LOG_CAT_SAM,
				"sam: request type %u not allowed on this connection",
				(unsigned)q.type);
			v = sam_proto_enc_status_res(SAM_E_REQUEST, &out, &outlen);
		} else {
			v = sam_serve_dispatch(local, &q, &out, &outlen);
			if (v != 0)
				v = sam_proto_enc_status_res(SAM_E_INTERNAL, &out, &outlen);
		}
		sam_request_clear(&q);
		sam_proto_free(msg, len);
		if (v != 0) {
			log_err("sam: cannot encode an answer");
			return -1;
		}
		v = sam_proto_send(fd, out, outlen);
		sam_proto_free(out, outlen);
		if (v != 0) {
			log_msg(LOG_LVL_WARN, LOG_CAT_SAM, "sam: cannot answer: %s",
				strerror(errno));
			return -1;
		}
	}
}

int sam_serve(sam *local, tsa *t, int fd)
{
	return sam_serve_ops(local, t, fd, SAM_OPS_FRONT);
}

typedef struct {
	sam *local;
	tsa *t;
	int fd;
	unsigned ops;
} sam_serve_job;

static void *sam_serve_main(void *arg)
{
	sam_serve_job j = *(sam_serve_job *)arg;

	free(arg);
	(void)sam_serve_ops(j.local, j.t, j.fd, j.ops);
	close(j.fd);
	atomic_fetch_sub(&sam_serve_nactive, 1);
	return NULL;
}

int sam_serve_thread(sam *local, tsa *t, int fd, unsigned ops)
{
	sam_serve_job *j;
	pthread_attr_t at;
	pthread_t th;
	int rc;

	if (fd < 0)
		return -1;
	if (atomic_fetch_add(&sam_serve_nactive, 1) >= SAM_SERVE_THREADS_MAX) {
		atomic_fetch_sub(&sam_serve_nactive, 1);
		log_err("sam: too many connections");
		close(fd);
		return -1;
	}
	j = malloc(sizeof(*j));
	if (j == NULL) {
		atomic_fetch_sub(&sam_serve_nactive, 1);
		close(fd);
		return -1;
	}
	j->local = local;
	j->t = t;
	j->fd = fd;
	j->ops = ops;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&th, &at, sam_serve_main, j);
	pthread_attr_destroy(&at);
	if (rc != 0) {
		free(j);
		atomic_fetch_sub(&sam_serve_nactive, 1);
		close(fd);
		log_err("sam: cannot start a connection thread");
		return -1;
	}
	return 0;
}

unsigned sam_serve_active(void)
{
	return atomic_load(&sam_serve_nactive);
}
