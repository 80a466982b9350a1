/* SPDX-License-Identifier: Apache-2.0 */
/* Signature verification, done locally with OpenSSL against the public
 * key object. All functions expect the global lock held. */
#ifndef CISRES_VERIFY_H
#define CISRES_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cisres/pkcs11_3.h"
#include "session.h"

CK_RV verify_init(p11_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE key);
CK_RV verify_update(p11_session *s, const uint8_t *part, size_t len);
/* C_Verify (one_shot, with data) and C_VerifyFinal: CKR_OK,
 * CKR_SIGNATURE_INVALID or CKR_SIGNATURE_LEN_RANGE; the operation ends. */
CK_RV verify_final(p11_session *s, const uint8_t *data, size_t len, bool one_shot,
		   const uint8_t *sig, size_t sig_len);
void verify_op_free(verify_op *op);

#endif
