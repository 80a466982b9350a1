/* SPDX-License-Identifier: Apache-2.0 */
/* Local hashing (OpenSSL EVP). */
#include "digest.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mech.h"
#include "secmem.h"

struct digest_op {
	digest_acc acc;
	size_t len;	/* digest length */
	bool multipart; /* C_DigestUpdate was called */
};

CK_RV digest_acc_init(digest_acc *a, hash_alg hash)
{
	memset(a, 0, sizeof(*a));
	a->hash = hash;
	if (hash == HASH_NONE)
		return CKR_OK;
	{
		const hash_info *h = hash_by_id(hash);
		EVP_MD *md = h == NULL ? NULL : EVP_MD_fetch(NULL, h->name, NULL);
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		CK_RV rv = CKR_OK;

		if (md == NULL || ctx == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1) {
			EVP_MD_CTX_free(ctx);
			rv = md == NULL ? CKR_MECHANISM_INVALID : CKR_HOST_MEMORY;
		} else {
			a->md_ctx = ctx;
		}
		EVP_MD_free(md);
		return rv;
	}
}

CK_RV digest_acc_update(digest_acc *a, const uint8_t *p, size_t n)
{
	if (n == 0)
		return CKR_OK;
	if (p == NULL)
		return CKR_ARGUMENTS_BAD;
	if (a->hash != HASH_NONE) {
		if (a->md_ctx == NULL || EVP_DigestUpdate(a->md_ctx, p, n) != 1)
			return CKR_FUNCTION_FAILED;
		return CKR_OK;
	}
	if (n > sizeof(a->raw) - a->raw_len)
		return CKR_DATA_LEN_RANGE;
	memcpy(a->raw + a->raw_len, p, n);
	a->raw_len += n;
	return CKR_OK;
}

CK_RV digest_acc_final(digest_acc *a, uint8_t *out, size_t *out_len)
{
	unsigned int n = 0;

	if (a->hash == HASH_NONE) {
		memcpy(out, a->raw, a->raw_len);
		*out_len = a->raw_len;
		return CKR_OK;
	}
	if (a->md_ctx == NULL || EVP_DigestFinal_ex(a->md_ctx, out, &n) != 1)
		return CKR_FUNCTION_FAILED;
	EVP_MD_CTX_free(a->md_ctx);
	a->md_ctx = NULL;
	*out_len = n;
	return CKR_OK;
}

void digest_acc_uninit(digest_acc *a)
{
	if (a == NULL)
		return;
	EVP_MD_CTX_free(a->md_ctx);
	sec_zero(a, sizeof(*a));
}

void digest_op_free(digest_op *op)
{
	if (op == NULL)
		return;
	digest_acc_uninit(&op->acc);
	free(op);
}

static void digest_end(p11_session *s)
{
	digest_op_free(s->digest);
	s->digest = NULL;
}

CK_RV digest_init(p11_session *s, const CK_MECHANISM *m)
{
	const mech_row *row;
	digest_op *op;
	CK_RV rv;

	if (m == NULL) {
		/* PKCS#11 3.0: a NULL mechanism ends the active operation. */
		digest_end(s);
		return CKR_OK;
	}
	if (s->digest != NULL)
		return CKR_OPERATION_ACTIVE;
	row = mech_lookup(m->mechanism);
	if (row == NULL || !(row->flags & CKF_DIGEST))
		return CKR_MECHANISM_INVALID;
	op = calloc(1, sizeof(*op));
	if (op == NULL)
		return CKR_HOST_MEMORY;
	rv = digest_acc_init(&op->acc, row->hash);
	if (rv != CKR_OK) {
		free(op);
		return rv;
	}
	op->len = hash_by_id(row->hash)->len;
	s->digest = op;
	return CKR_OK;
}

CK_RV digest_update(p11_session *s, const uint8_t *p, size_t n)
{
	CK_RV rv;

	if (s->digest == NULL)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (p == NULL && n > 0) {
		digest_end(s);
		return CKR_ARGUMENTS_BAD;
	}
	s->digest->multipart = true;
	rv = digest_acc_update(&s->digest->acc, p, n);
	if (rv != CKR_OK)
		digest_end(s);
	return rv;
}

CK_RV digest_final(p11_session *s, const uint8_t *data, size_t len, bool one_shot, uint8_t *out,
		   CK_ULONG_PTR out_len)
{
	digest_op *op = s->digest;
	uint8_t buf[DIGEST_RAW_MAX];
	size_t n = 0;
	CK_RV rv;

	if (op == NULL)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (out_len == NULL || (one_shot && data == NULL && len > 0)) {
		digest_end(s);
		return CKR_ARGUMENTS_BAD;
	}
	if (one_shot && op->multipart)
		return CKR_OPERATION_ACTIVE;
	/* Two-call convention: the length is known before any work. */
	if (out == NULL) {
		*out_len = op->len;
		return CKR_OK;
	}
	if (*out_len < op->len) {
		*out_len = op->len;
		return CKR_BUFFER_TOO_SMALL;
	}
	rv = one_shot ? digest_acc_update(&op->acc, data, len) : CKR_OK;
	if (rv == CKR_OK)
		rv = digest_acc_final(&op->acc, buf, &n);
	if (rv == CKR_OK) {
		memcpy(out, buf, n);
		*out_len = n;
	}
	digest_end(s);
	return rv;
}
