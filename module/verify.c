/* SPDX-License-Identifier: Apache-2.0 */
/* Local signature verification (OpenSSL). */
#include "verify.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "digest.h"
#include "ecdsa_sig.h"
#include "mech.h"
#include "object.h"

struct verify_op {
	const mech_row *row;
	mech_params params;
	mech_key key;
	EVP_PKEY *pkey;
	bool multipart;
	digest_acc acc;
};

void verify_op_free(verify_op *op)
{
	if (op == NULL)
		return;
	EVP_PKEY_free(op->pkey);
	digest_acc_uninit(&op->acc);
	free(op);
}

static void verify_end(p11_session *s)
{
	verify_op_free(s->verify);
	s->verify = NULL;
}

CK_RV verify_init(p11_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE key)
{
	const p11_object *o;
	const mech_row *row = NULL;
	const unsigned char *p;
	mech_params params;
	verify_op *op;
	CK_RV rv;

	if (m == NULL) {
		/* PKCS#11 3.0: a NULL mechanism ends the active operation. */
		verify_end(s);
		return CKR_OK;
	}
	if (s->verify != NULL)
		return CKR_OPERATION_ACTIVE;
	rv = object_get(s->slot, key, &o);
	if (rv != CKR_OK || !object_visible(s->slot, o))
		return CKR_KEY_HANDLE_INVALID;
	if (o->kind == OBJ_PRIVATE)
		return CKR_KEY_FUNCTION_NOT_PERMITTED; /* CKA_VERIFY is on the public key */
	if (o->kind != OBJ_PUBLIC || o->cred == NULL)
		return CKR_KEY_HANDLE_INVALID;
	rv = mech_check(m, &o->cred->key, CKF_VERIFY, &row, &params);
	if (rv != CKR_OK)
		return rv;

	op = calloc(1, sizeof(*op));
	if (op == NULL)
		return CKR_HOST_MEMORY;
	p = o->cred->spki;
	op->pkey = d2i_PUBKEY(NULL, &p, (long)o->cred->spki_len);
	rv = op->pkey == NULL ? CKR_GENERAL_ERROR : digest_acc_init(&op->acc, row->hash);
	if (rv != CKR_OK) {
		verify_op_free(op);
		return rv;
	}
	op->row = row;
	op->params = params;
	op->key = o->cred->key;
	s->verify = op;
	return CKR_OK;
}

CK_RV verify_update(p11_session *s, const uint8_t *part, size_t len)
{
	CK_RV rv;

	if (s->verify == NULL)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (part == NULL && len > 0) {
		verify_end(s);
		return CKR_ARGUMENTS_BAD;
	}
	s->verify->multipart = true;
	rv = digest_acc_update(&s->verify->acc, part, len);
	if (rv != CKR_OK)
		verify_end(s);
	return rv;
}

/* Verify a prepared request (digest + hash) against the signature in
 * PKCS#11 format. */
static CK_RV verify_digest(const verify_op *op, const mech_request *req, const uint8_t *sig,
			   size_t sig_len)
{
	const hash_info *h = hash_by_id(req->hash);
	EVP_PKEY_CTX *ctx = NULL;
	EVP_MD *md = NULL, *mgf = NULL;
	uint8_t *der = NULL;
	size_t der_len = 0;
	CK_RV rv = CKR_GENERAL_ERROR;
	int ok;

	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, op->pkey, NULL);
	if (ctx == NULL || h == NULL || EVP_PKEY_verify_init(ctx) != 1)
		goto out;
	if (op->row->sig == MECH_SIG_ECDSA) {
		if (ecdsa_raw_to_der(sig, sig_len, &der, &der_len) != 0) {
			rv = CKR_SIGNATURE_INVALID;
			goto out;
		}
		sig = der;
		sig_len = der_len;
	} else {
		md = EVP_MD_fetch(NULL, h->name, NULL);
		if (md == NULL || EVP_PKEY_CTX_set_signature_md(ctx, md) != 1)
			goto out;
		if (op->row->sig == MECH_SIG_PSS) {
			const hash_info *mh = hash_by_id(op->params.pss.mgf_hash);
			mgf = mh == NULL ? NULL : EVP_MD_fetch(NULL, mh->name, NULL);
			if (mgf == NULL ||
			    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
			    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mgf) != 1 ||
			    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, op->params.pss.salt_len) != 1)
				goto out;
		} else if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1) {
			goto out;
		}
	}
	ok = EVP_PKEY_verify(ctx, sig, sig_len, req->digest, req->digest_len);
	rv = ok == 1 ? CKR_OK : CKR_SIGNATURE_INVALID;
out:
	free(der);
	EVP_MD_free(md);
	EVP_MD_free(mgf);
	EVP_PKEY_CTX_free(ctx);
	return rv;
}

CK_RV verify_final(p11_session *s, const uint8_t *data, size_t len, bool one_shot,
		   const uint8_t *sig, size_t sig_len)
{
	verify_op *op = s->verify;
	uint8_t input[DIGEST_RAW_MAX];
	size_t in_len = 0;
	mech_request req;
	CK_RV rv;

	if (op == NULL)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (one_shot && op->multipart)
		return CKR_OPERATION_ACTIVE;
	memset(&req, 0, sizeof(req));
	if (sig == NULL || (one_shot && data == NULL && len > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	rv = one_shot ? digest_acc_update(&op->acc, data, len) : CKR_OK;
	if (rv == CKR_OK)
		rv = digest_acc_final(&op->acc, input, &in_len);
	if (rv == CKR_OK)
		rv = mech_prepare(op->row, &op->params, &op->key, input, in_len, &req);
	if (rv != CKR_OK)
		goto out;
	if (sig_len != mech_sig_len(op->row, &op->key)) {
		rv = CKR_SIGNATURE_LEN_RANGE;
		goto out;
	}
	rv = verify_digest(op, &req, sig, sig_len);
out:
	mech_request_clear(&req);
	verify_end(s);
	return rv;
}
