/* SPDX-License-Identifier: Apache-2.0 */
/* Client of the SAM process: sam.h calls become sam_proto.h messages. */
#include "sam_client.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sam_proto.h"
#include "secmem.h"

#define SAM_CLIENT_CONNS_MAX 256
#define SAM_CLIENT_CTL_TIMEOUT_MS 60000 /* the monitor may be starting the SAM */
#define SAM_CLIENT_BACKOFF_MIN_MS 50
#define SAM_CLIENT_BACKOFF_MAX_MS 2000
#define SAM_CLIENT_CTL_BUF 256

struct sam_client {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int *idle; /* idle connections (stack) */
	size_t nidle;
	size_t nopen; /* idle + busy + being opened */
	size_t max;
	unsigned timeout_ms;
	/* the monitor (or -1: a fixed set of connections) */
	pthread_mutex_t ctl_mu;
	int ctl;
	int64_t retry_at_ms;
	unsigned backoff_ms;
	pid_t server_pid;
	bool down; /* logged that the SAM process is not available */
};

static int64_t sam_client_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sam_client_timeouts(int fd, unsigned ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static sam_client *sam_client_alloc(size_t max)
{
	sam_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->idle = calloc(max, sizeof(*c->idle));
	if (c->idle == NULL) {
		free(c);
		return NULL;
	}
	c->max = max;
	c->ctl = -1;
	c->timeout_ms = SAM_CLIENT_TIMEOUT_MS;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	pthread_mutex_init(&c->ctl_mu, NULL);
	return c;
}

int sam_connect(int fd, sam **out)
{
	sam_client *c;

	if (out == NULL)
		return -1;
	*out = NULL;
	if (fd < 0)
		return -1;
	c = sam_client_alloc(1);
	if (c == NULL)
		return -1;
	sam_client_timeouts(fd, c->timeout_ms);
	c->idle[c->nidle++] = fd;
	c->nopen = 1;
	if (sam_new_remote(c, out) != 0) {
		sam_client_free(c);
		return -1;
	}
	return 0;
}

int sam_client_new_monitor(int ctl_fd, unsigned max_conns, sam_client **out)
{
	sam_client *c;

	if (out == NULL)
		return -1;
	*out = NULL;
	if (ctl_fd < 0 || max_conns == 0)
		return -1;
	if (max_conns > SAM_CLIENT_CONNS_MAX)
		max_conns = SAM_CLIENT_CONNS_MAX;
	c = sam_client_alloc(max_conns);
	if (c == NULL)
		return -1;
	c->ctl = ctl_fd;
	sam_client_timeouts(ctl_fd, SAM_CLIENT_CTL_TIMEOUT_MS);
	*out = c;
	return 0;
}

void sam_client_free(sam_client *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nidle; i++)
		close(c->idle[i]);
	if (c->ctl >= 0)
		close(c->ctl);
	free(c->idle);
	pthread_mutex_destroy(&c->ctl_mu);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void sam_client_set_timeout(sam_client *c, unsigned ms)
{
	if (c == NULL || ms == 0)
		return;
	pthread_mutex_lock(&c->mu);
	c->timeout_ms = ms;
	for (size_t i = 0; i < c->nidle; i++)
		sam_client_timeouts(c->idle[i], ms);
	pthread_mutex_unlock(&c->mu);
}

pid_t sam_client_server_pid(sam_client *c)
{
	pid_t p;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->ctl_mu);
	p = c->server_pid;
	pthread_mutex_unlock(&c->ctl_mu);
	return p;
}

size_t sam_client_connections(sam_client *c)
{
	size_t n;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->mu);
	n = c->nopen;
	pthread_mutex_unlock(&c->mu);
	return n;
}

/* ---- connections ---- */

/* Ask the monitor for a new connection. */
static int sam_client_open(sam_client *c, int *fd)
{
	uint8_t *req = NULL, buf[SAM_CLIENT_CTL_BUF];
	size_t reqlen = 0, len = 0;
	int64_t pid = 0, now;
	int ok = 0, got = -1, v, rc = -1;

	*fd = -1;
	pthread_mutex_lock(&c->ctl_mu);
	now = sam_client_now_ms();
	if (c->ctl < 0 || now < c->retry_at_ms)
		goto out;
	if (sam_proto_enc_empty(SAM_MSG_CONNECT, &req, &reqlen) != 0)
		goto out;
	if (sam_proto_send(c->ctl, req, reqlen) != 0) {
		log_err("sam: the SAM monitor is gone (%s)", strerror(errno));
		goto dead;
	}
	v = sam_proto_recv_fd(c->ctl, buf, sizeof(buf), &len, &got);
	if (v <= 0 || sam_proto_dec_connect_res(buf, len, &ok, &pid) != 0) {
		log_err("sam: no answer from the SAM monitor (%s)",
			v == 0 ? "closed" : strerror(errno));
		if (got >= 0)
			close(got);
		goto dead;
	}
	if (!ok || got < 0) {
		if (got >= 0)
			close(got);
		/* The SAM process is (re)starting: do not hammer the monitor. */
		c->backoff_ms = c->backoff_ms == 0 ? SAM_CLIENT_BACKOFF_MIN_MS : c->backoff_ms * 2;
		if (c->backoff_ms > SAM_CLIENT_BACKOFF_MAX_MS)
			c->backoff_ms = SAM_CLIENT_BACKOFF_MAX_MS;
		c->retry_at_ms = now + c->backoff_ms;
		if (!c->down)
			log_err("sam: the SAM process is not available (restarting)");
		c->down = true;
		goto out;
	}
	if (c->down)
		log_info("sam: the SAM process %ld is available again", (long)pid);
	c->down = false;
	c->backoff_ms = 0;
	c->retry_at_ms = 0;
	c->server_pid = (pid_t)pid;
	*fd = got;
	rc = 0;
	goto out;
dead:
	close(c->ctl);
	c->ctl = -1;
out:
	pthread_mutex_unlock(&c->ctl_mu);
	sam_proto_free(req, reqlen);
	return rc;
}

/* An idle connection has no request outstanding: anything readable on it
 * (EOF, an error) means the SAM process behind it is gone. */
static bool sam_client_stale(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};

	return poll(&p, 1, 0) != 0;
}

static int sam_client_acquire(sam_client *c, int *fd)
{
	unsigned timeout;

	*fd = -1;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		if (c->nidle > 0) {
			*fd = c->idle[--c->nidle];
			if (sam_client_stale(*fd)) {
				close(*fd);
				*fd = -1;
				c->nopen--;
				continue;
			}
			pthread_mutex_unlock(&c->mu);
			return 0;
		}
		if (c->ctl >= 0 && c->nopen < c->max) {
			c->nopen++;
			timeout = c->timeout_ms;
			pthread_mutex_unlock(&c->mu);
			if (sam_client_open(c, fd) != 0) {
				pthread_mutex_lock(&c->mu);
				c->nopen--;
				pthread_cond_signal(&c->cv);
				pthread_mutex_unlock(&c->mu);
				return -1;
			}
			sam_client_timeouts(*fd, timeout);
			return 0;
		}
		if (c->nopen == 0) { /* no monitor and no connection left */
			pthread_mutex_unlock(&c->mu);
			return -1;
		}
		pthread_cond_wait(&c->cv, &c->mu);
	}
}

static void sam_client_release(sam_client *c, int fd, bool ok)
{
	pthread_mutex_lock(&c->mu);
	if (ok && c->nidle < c->max) {
		c->idle[c->nidle++] = fd;
	} else {
		close(fd);
		c->nopen--;
	}
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* ---- one call ---- */

typedef struct {
	int fd;
	uint8_t *msg; /* the response */
	size_t len;
} sam_call;

/* Send req (consumed) and receive the response into k. SAM_OK, or
 * SAM_E_UNAVAILABLE when the SAM process cannot be reached or went away
 * (k released): the monitor is restarting it. */
static sam_status sam_call_run(sam_client *c, uint8_t *req, size_t reqlen, sam_call *k)
{
	int v = -1;

	memset(k, 0, sizeof(*k));
	k->fd = -1;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (sam_client_acquire(c, &k->fd) != 0)
			break; /* logged once per outage by sam_client_open */
		if (sam_proto_send(k->fd, req, reqlen) != 0) {
			/* Not delivered: safe to try once more on a new connection. */
			int e = errno;
			sam_client_release(c, k->fd, false);
			k->fd = -1;
			if (e == EPIPE || e == ECONNRESET || e == ENOTCONN)
				continue;
			break;
		}
		v = sam_proto_recv(k->fd, &k->msg, &k->len);
		if (v != 1) {
			log_err("sam: the SAM process did not answer (%s)",
				v == 0 ? "connection closed" : strerror(errno));
			sam_client_release(c, k->fd, false);
			k->fd = -1;
		}
		break;
	}
	sam_proto_free(req, reqlen);
	return v == 1 ? SAM_OK : SAM_E_UNAVAILABLE;
}

/* Done with the response; ok = it decoded (else the connection is suspect). */
static void sam_call_end(sam_client *c, sam_call *k, bool ok)
{
	sam_proto_free(k->msg, k->len);
	if (k->fd >= 0)
		sam_client_release(c, k->fd, ok);
	memset(k, 0, sizeof(*k));
	k->fd = -1;
}

/* A RES_STATUS answer (the SAM refused the request as such). */
static bool sam_call_refused(const sam_call *k, sam_status *st)
{
	return sam_proto_type(k->msg, k->len) == SAM_MSG_RES_STATUS &&
	       sam_proto_dec_status_res(k->msg, k->len, st) == 0;
}

static sam_status sam_call_bad(sam_client *c, sam_call *k)
{
	log_err("sam: malformed answer from the SAM process");
	sam_call_end(c, k, false);
	return SAM_E_INTERNAL;
}

/* ---- the operations ---- */

static sam_status sam_client_authorize_like(sam_client *c, uint8_t *req, size_t reqlen, int enc,
					    sam_authorize_res *res)
{
	sam_call k;
	sam_status st;

	if (enc != 0)
		return res->status = SAM_E_REQUEST;
	st = sam_call_run(c, req, reqlen, &k);
	if (st != SAM_OK)
		return res->status = st;
	if (sam_call_refused(&k, &st)) {
		sam_call_end(c, &k, true);
		return res->status = st;
	}
	if (sam_proto_dec_authorize_res(k.msg, k.len, res) != 0) {
		sam_call_bad(c, &k);
		return res->status = SAM_E_INTERNAL;
	}
	sam_call_end(c, &k, true);
	return res->status;
}

sam_status sam_client_authorize(sam_client *c, const sam_authorize_req *req, sam_authorize_res *res)
{
	uint8_t *msg = NULL;
	size_t len = 0;
	int enc;

	if (res == NULL)
		return SAM_E_REQUEST;
	memset(res, 0, sizeof(*res));
	if (req == NULL)
		return res->status = SAM_E_REQUEST;
	enc = sam_proto_enc_authorize(req, &msg, &len);
	return sam_client_authorize_like(c, msg, len, enc, res);
}

sam_status sam_client_extend(sam_client *c, const sam_extend_req *req, sam_authorize_res *res)
{
	uint8_t *msg = NULL;
	size_t len = 0;
	int enc;

	if (res == NULL)
		return SAM_E_REQUEST;
	memset(res, 0, sizeof(*res));
	if (req == NULL)
		return res->status = SAM_E_REQUEST;
	/* Too long to send: what the local SAM calls a bad SAD. */
	if (req->sad_len > SAM_PROTO_SAD_MAX || (req->sad == NULL && req->sad_len > 0))
		return res->status = SAM_E_SAD;
	enc = sam_proto_enc_extend(req, &msg, &len);
	return sam_client_authorize_like(c, msg, len, enc, res);
}

sam_status sam_client_sign(sam_client *c, const sam_sign_req *req, sam_sign_res *res)
{
	uint8_t *msg = NULL;
	size_t len = 0;
	sam_call k;
	sam_status st;

	if (res == NULL)
		return SAM_E_REQUEST;
	memset(res, 0, sizeof(*res));
	if (req == NULL)
		return res->status = SAM_E_REQUEST;
	if (req->n_hashes > 0 && req->n_hashes <= SAM_MAX_HASHES && req->hashes != NULL &&
	    (req->sad_len > SAM_PROTO_SAD_MAX || (req->sad == NULL && req->sad_len > 0)))
		return res->status = SAM_E_SAD;
	if (sam_proto_enc_sign(req, &msg, &len) != 0)
		return res->status = SAM_E_REQUEST;
	st = sam_call_run(c, msg, len, &k);
	if (st != SAM_OK)
		return res->status = st;
	if (sam_call_refused(&k, &st)) {
		sam_call_end(c, &k, true);
		return res->status = st;
	}
	if (sam_proto_dec_sign_res(k.msg, k.len, res) != 0 ||
	    (res->status == SAM_OK && res->n != req->n_hashes)) {
		sam_sign_res_clear(res);
		memset(res, 0, sizeof(*res));
		sam_call_bad(c, &k);
		return res->status = SAM_E_INTERNAL;
	}
	sam_call_end(c, &k, true);
	return res->status;
}

sam_status sam_client_keygen(sam_client *c, const sam_keygen_req *req, sam_keygen_res *res)
{
	uint8_t *msg = NULL;
	size_t len = 0;
	sam_call k;
	sam_status st;

	if (res == NULL)
		return SAM_E_REQUEST;
	memset(res, 0, sizeof(*res));
	if (req == NULL || sam_proto_enc_keygen(req, &msg, &len) != 0)
		return res->status = SAM_E_REQUEST;
	st = sam_call_run(c, msg, len, &k);
	if (st != SAM_OK)
		return res->status = st;
	if (sam_call_refused(&k, &st)) {
		sam_call_end(c, &k, true);
		return res->status = st;
	}
	if (sam_proto_dec_keygen_res(k.msg, k.len, res) != 0) {
		sam_call_bad(c, &k);
		return res->status = SAM_E_INTERNAL;
	}
	sam_call_end(c, &k, true);
	return res->status;
}

/* A request answered by RES_STATUS. */
static sam_status sam_client_status_call(sam_client *c, uint8_t *msg, size_t len, int enc)
{
	sam_call k;
	sam_status st;

	if (enc != 0)
		return SAM_E_REQUEST;
	st = sam_call_run(c, msg, len, &k);
	if (st != SAM_OK)
		return st;
	if (!sam_call_refused(&k, &st))
		return sam_call_bad(c, &k);
	sam_call_end(c, &k, true);
	return st;
}

sam_status sam_client_key_set_cert(sam_client *c, const char *credential_id, const uint8_t *der,
				   size_t len, const char *actor)
{
	uint8_t *msg = NULL;
	size_t mlen = 0;
	int enc;

	if (credential_id == NULL)
		return SAM_E_REQUEST;
	enc = sam_proto_enc_set_cert(credential_id, der, len, actor, &msg, &mlen);
	return sam_client_status_call(c, msg, mlen, enc);
}

sam_status sam_client_key_destroy(sam_client *c, const char *credential_id, const char *actor)
{
	uint8_t *msg = NULL;
	size_t mlen = 0;
	int enc;

	if (credential_id == NULL)
		return SAM_E_REQUEST;
	enc = sam_proto_enc_destroy(credential_id, actor, &msg, &mlen);
	return sam_client_status_call(c, msg, mlen, enc);
}

sam_status sam_client_set_pin(sam_client *c, const char *credential_id, const char *pin,
			      size_t pin_len, const char *actor)
{
	uint8_t *msg = NULL;
	size_t mlen = 0;
	int enc;

	if (credential_id == NULL)
		return SAM_E_REQUEST;
	enc = sam_proto_enc_set_pin(credential_id, pin, pin_len, actor, &msg, &mlen);
	return sam_client_status_call(c, msg, mlen, enc);
}

sam_status sam_client_user_set_otp(sam_client *c, int64_t user_id, const uint8_t *seed, size_t len,
				   const char *actor)
{
	uint8_t *msg = NULL;
	size_t mlen = 0;
	int enc = sam_proto_enc_set_otp(user_id, seed, len, actor, &msg, &mlen);

	return sam_client_status_call(c, msg, mlen, enc);
}

sam_status sam_client_verify_login(sam_client *c, const char *user, const char *pw, size_t pwlen,
				   int64_t *user_id)
{
	uint8_t *msg = NULL;
	size_t mlen = 0;
	sam_call k;
	sam_status st;
	size_t ulen;

	*user_id = 0;
	if (user == NULL || (pw == NULL && pwlen > 0))
		return SAM_E_REQUEST;
	/* What the local check answers without looking (no audit either). */
	ulen = strnlen(user, STORE_NAME_MAX);
	if (ulen == 0 || ulen >= STORE_NAME_MAX || pwlen > SAM_PASSWORD_MAX)
		return SAM_E_PIN;
	if (sam_proto_enc_login(user, pw, pwlen, &msg, &mlen) != 0)
		return SAM_E_REQUEST;
	st = sam_call_run(c, msg, mlen, &k);
	if (st != SAM_OK)
		return st;
	if (sam_call_refused(&k, &st)) {
		sam_call_end(c, &k, true);
		return st;
	}
	if (sam_proto_dec_login_res(k.msg, k.len, &st, user_id) != 0)
		return sam_call_bad(c, &k);
	sam_call_end(c, &k, true);
	return st;
}

/* TSA calls: 0, -1, -2 as tsa.h. */
static int sam_client_tsa_call(sam_client *c, uint8_t *msg, size_t len, int enc, uint8_t **out,
			       size_t *outlen)
{
	sam_call k;
	sam_status st;
	int rc = -1;

	if (enc != 0)
		return -2;
	if (sam_call_run(c, msg, len, &k) != SAM_OK)
		return -1;
	if (sam_call_refused(&k, &st)) {
		sam_call_end(c, &k, true);
		return st == SAM_E_REQUEST ? -2 : -1;
	}
	if (sam_proto_dec_tsa_res(k.msg, k.len, &rc, out, outlen) != 0) {
		sam_call_bad(c, &k);
		return -1;
	}
	sam_call_end(c, &k, true);
	return rc;
}

int sam_client_tsa_respond(sam_client *c, const uint8_t *req, size_t reqlen, uint8_t **resp,
			   size_t *resplen)
{
	uint8_t *msg = NULL;
	size_t mlen = 0;
	int enc = sam_proto_enc_tsa_respond(req, reqlen, &msg, &mlen);

	if (enc != 0)
		return -1; /* tsa_respond has no "bad input" code: too large */
	return sam_client_tsa_call(c, msg, mlen, enc, resp, resplen);
}

int sam_client_tsa_stamp(sam_client *c, hash_alg alg, const uint8_t *digest, size_t dlen,
			 const char *nonce_hex, uint8_t **token, size_t *toklen)
{
	uint8_t *msg = NULL;
	size_t mlen = 0;
	int enc = sam_proto_enc_tsa_stamp(alg, digest, dlen, nonce_hex, &msg, &mlen);

	return sam_client_tsa_call(c, msg, mlen, enc, token, toklen);
}
