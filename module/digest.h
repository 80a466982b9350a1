/* SPDX-License-Identifier: Apache-2.0 */
/* Local hashing with OpenSSL: the C_Digest* operations, and the input
 * accumulator that signing and verifying mechanisms share (a running hash
 * for the hashing mechanisms, a bounded buffer for the raw ones). */
#ifndef CISRES_DIGEST_H
#define CISRES_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "cisres/pkcs11_3.h"
#include "oid.h"
#include "session.h"

/* Largest raw input kept for a non-hashing mechanism (a DigestInfo or a
 * digest is at most 83 bytes). */
#define DIGEST_RAW_MAX 512

typedef struct {
	hash_alg hash; /* HASH_NONE: raw accumulation */
	void *md_ctx;  /* EVP_MD_CTX */
	uint8_t raw[DIGEST_RAW_MAX];
	size_t raw_len;
} digest_acc;

CK_RV digest_acc_init(digest_acc *a, hash_alg hash);
/* CKR_DATA_LEN_RANGE when raw input exceeds DIGEST_RAW_MAX. */
CK_RV digest_acc_update(digest_acc *a, const uint8_t *p, size_t n);
/* The digest (or the raw input); out holds at least DIGEST_RAW_MAX. The
 * accumulator cannot be updated afterwards. */
CK_RV digest_acc_final(digest_acc *a, uint8_t *out, size_t *out_len);
void digest_acc_uninit(digest_acc *a);

/* C_DigestInit / C_Digest / C_DigestUpdate / C_DigestFinal (lock held).
 * digest_final with one_shot feeds data first (C_Digest). */
CK_RV digest_init(p11_session *s, const CK_MECHANISM *m);
CK_RV digest_update(p11_session *s, const uint8_t *p, size_t n);
CK_RV digest_final(p11_session *s, const uint8_t *data, size_t len, bool one_shot, uint8_t *out,
		   CK_ULONG_PTR out_len);
void digest_op_free(digest_op *op);

#endif
