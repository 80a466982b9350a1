/* SPDX-License-Identifier: Apache-2.0 */
/* Signature operations. */
#include "sign.h"

#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "digest.h"
#include "log.h"
#include "mech.h"
#include "object.h"
#include "p11_state.h"
#include "secmem.h"
#include "token.h"

/* The largest signature a service returns: RSA 8192 (1024 bytes), with
 * room to spare for an encoding. */
#define SIG_MAX 2048
/* Bounds the OTP of a context-specific login. */
#define OTP_MAX 64

struct sign_op {
	uint64_t serial; /* tells this operation from a later one */
	const mech_row *row;
	mech_params params;
	mech_key key;
	size_t slot;
	char cred_id[BACKEND_ID_MAX];
	bool always_auth;
	bool multipart;
	bool in_flight; /* the remote signature is being made */
	char *otp;	/* context-specific login, locked memory */
	size_t otp_len;
	digest_acc acc;
};

static uint64_t next_serial = 1;

static void otp_free(sign_op *op)
{
	if (op->otp != NULL)
		sec_unlock_free(op->otp, op->otp_len + 1);
	op->otp = NULL;
	op->otp_len = 0;
}

void sign_op_free(sign_op *op)
{
	if (op == NULL)
		return;
	otp_free(op);
	digest_acc_uninit(&op->acc);
	free(op);
}

static void sign_end(p11_session *s)
{
	sign_op_free(s->sign);
	s->sign = NULL;
}

CK_RV sign_init(p11_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE key)
{
	const p11_object *o;
	const mech_row *row = NULL;
	mech_params params;
	sign_op *op;
	CK_RV rv;

	if (m == NULL) {
		/* PKCS#11 3.0: a NULL mechanism ends the active operation. */
		sign_end(s);
		return CKR_OK;
	}
	if (s->sign != NULL)
		return CKR_OPERATION_ACTIVE;
	rv = object_get(s->slot, key, &o);
	if (rv != CKR_OK)
		return CKR_KEY_HANDLE_INVALID;
	if (!object_visible(s->slot, o))
		return CKR_USER_NOT_LOGGED_IN;
	if (o->kind == OBJ_PUBLIC)
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (o->kind != OBJ_PRIVATE || o->cred == NULL)
		return CKR_KEY_HANDLE_INVALID;
	if (!o->cred->can_sign)
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	rv = mech_check(m, &o->cred->key, CKF_SIGN, &row, &params);
	if (rv != CKR_OK)
		return rv;
	if (!mech_allowed(row, &o->cred->key))
		return CKR_MECHANISM_INVALID;

	op = calloc(1, sizeof(*op));
	if (op == NULL)
		return CKR_HOST_MEMORY;
	rv = digest_acc_init(&op->acc, row->hash);
	if (rv != CKR_OK) {
		free(op);
		return rv;
	}
	op->serial = next_serial++;
	op->row = row;
	op->params = params;
	op->key = o->cred->key;
	op->slot = s->slot;
	memcpy(op->cred_id, o->cred->id, sizeof(op->cred_id));
	op->always_auth = o->cred->always_auth;
	s->sign = op;
	return CKR_OK;
}

CK_RV sign_update(p11_session *s, const uint8_t *part, size_t len)
{
	CK_RV rv;

	if (s->sign == NULL)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (s->sign->in_flight)
		return CKR_OPERATION_ACTIVE;
	if (part == NULL && len > 0) {
		sign_end(s);
		return CKR_ARGUMENTS_BAD;
	}
	s->sign->multipart = true;
	rv = digest_acc_update(&s->sign->acc, part, len);
	if (rv != CKR_OK)
		sign_end(s);
	return rv;
}

CK_RV sign_context_login(p11_session *s, const char *otp, size_t len)
{
	sign_op *op = s->sign;

	if (op == NULL || !op->always_auth || op->in_flight)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (len == 0 || len > OTP_MAX)
		return CKR_PIN_LEN_RANGE;
	if (memchr(otp, '\0', len) != NULL)
		return CKR_PIN_INVALID;
	otp_free(op);
	op->otp = sec_locked_strndup(otp, len);
	if (op->otp == NULL)
		return CKR_HOST_MEMORY;
	op->otp_len = len;
	return CKR_OK;
}

/* What the unlocked part of sign_final works with, copied under the lock. */
typedef struct {
	uint64_t serial;
	size_t slot;
	char cred_id[BACKEND_ID_MAX];
	const mech_row *row;
	mech_key key;
	mech_request req;
	char *pin, *otp; /* locked memory */
	size_t pin_len, otp_len;
} sign_job;

static void job_clear(sign_job *j)
{
	if (j->pin != NULL)
		sec_unlock_free(j->pin, j->pin_len + 1);
	if (j->otp != NULL)
		sec_unlock_free(j->otp, j->otp_len + 1);
	mech_request_clear(&j->req);
	sec_zero(j, sizeof(*j));
}

/* Lock held: the length answers of the two-call convention, then the
 * request and the secrets for the remote signature. CKR_OK with
 * *ready = false when the call only answered a length. */
static CK_RV sign_prepare(p11_session *s, const uint8_t *data, size_t len, bool one_shot,
			  const uint8_t *sig, CK_ULONG_PTR sig_len, sign_job *job, bool *ready)
{
	sign_op *op = s->sign;
	uint8_t input[DIGEST_RAW_MAX];
	size_t n, in_len = 0;
	CK_RV rv;

	*ready = false;
	if (op == NULL)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (op->in_flight || (one_shot && op->multipart))
		return CKR_OPERATION_ACTIVE;
	if (sig_len == NULL || (one_shot && data == NULL && len > 0)) {
		sign_end(s);
		return CKR_ARGUMENTS_BAD;
	}
	n = mech_sig_len(op->row, &op->key);
	if (sig == NULL) {
		*sig_len = n;
		return CKR_OK;
	}
	if (*sig_len < n) {
		*sig_len = n;
		return CKR_BUFFER_TOO_SMALL;
	}

	rv = one_shot ? digest_acc_update(&op->acc, data, len) : CKR_OK;
	if (rv == CKR_OK)
		rv = digest_acc_final(&op->acc, input, &in_len);
	if (rv == CKR_OK)
		rv = mech_prepare(op->row, &op->params, &op->key, input, in_len, &job->req);
	sec_zero(input, sizeof(input));
	if (rv != CKR_OK)
		goto fail;

	if (token_logged_in(op->slot)) {
		job->pin = token_pin_copy(op->slot, &job->pin_len);
		if (job->pin == NULL) {
			rv = CKR_HOST_MEMORY;
			goto fail;
		}
	} else if (!token_module_prompt(op->slot)) {
		rv = CKR_USER_NOT_LOGGED_IN;
		goto fail;
	}
	if (op->always_auth && op->otp == NULL) {
		/* CKA_ALWAYS_AUTHENTICATE: C_Login(CKU_CONTEXT_SPECIFIC) first. */
		rv = CKR_USER_NOT_LOGGED_IN;
		goto fail;
	}
	job->otp = op->otp; /* moves to the job: one OTP, one signature */
	job->otp_len = op->otp_len;
	op->otp = NULL;
	op->otp_len = 0;
	job->serial = op->serial;
	job->slot = op->slot;
	memcpy(job->cred_id, op->cred_id, sizeof(job->cred_id));
	job->row = op->row;
	job->key = op->key;
	op->in_flight = true;
	*ready = true;
	return CKR_OK;
fail:
	sign_end(s);
	return rv;
}

CK_RV sign_final(CK_SESSION_HANDLE h, const uint8_t *data, size_t len, bool one_shot, uint8_t *sig,
		 CK_ULONG_PTR sig_len)
{
	uint8_t raw[SIG_MAX], out[SIG_MAX];
	size_t raw_len = 0, out_len = 0;
	p11_session *s;
	sign_job job;
	bool ready = false;
	CK_RV rv;

	memset(&job, 0, sizeof(job));
	p11_lock();
	s = session_find(h);
	rv = s == NULL ? CKR_SESSION_HANDLE_INVALID
		       : sign_prepare(s, data, len, one_shot, sig, sig_len, &job, &ready);
	p11_unlock();
	if (rv != CKR_OK || !ready)
		return rv;

	rv = backend_sign(p11_backend(), job.slot, job.cred_id, job.pin, job.pin_len, job.otp,
			  job.otp_len, job.req.sign_algo, job.req.hash, job.req.params,
			  job.req.params_len, job.req.digest, job.req.digest_len, raw, sizeof(raw),
			  &raw_len);
	if (rv == CKR_OK)
		rv = mech_finish(job.row, &job.key, raw, raw_len, out, &out_len);
	log_debug(LOG_CAT_P11, "sign: slot %zu credential %s %s: 0x%lx", job.slot, job.cred_id,
		  job.req.sign_algo, (unsigned long)rv);

	p11_lock();
	s = session_find(h);
	if (s != NULL && s->sign != NULL && s->sign->serial == job.serial)
		sign_end(s);
	if (rv == CKR_OK) {
		token_pin_confirmed(job.slot);
	} else if ((rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED) &&
		   token_pin_unchecked(job.slot)) {
		/* The PIN C_Login took while the service was unreachable is
		 * refused: log out so that the application can log in again.
		 * (A PIN the service confirmed stays: the refusal is then
		 * about the OTP.) */
		token_forget_login(job.slot);
	}
	if (rv == CKR_OK && s == NULL)
		rv = CKR_SESSION_CLOSED;
	if (rv == CKR_OK) {
		memcpy(sig, out, out_len);
		*sig_len = out_len;
	}
	p11_unlock();
	job_clear(&job);
	sec_zero(raw, sizeof(raw));
	return rv;
}
