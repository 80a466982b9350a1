/* SPDX-License-Identifier: Apache-2.0 */
/* Signature operations: C_SignInit/Update/Final and C_Sign over the
 * backend's credentials/authorize + signatures/signHash. The lock is never
 * held across the network call. */
#ifndef CISRES_SIGN_H
#define CISRES_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cisres/pkcs11_3.h"
#include "session.h"

/* Lock held. CKR_KEY_HANDLE_INVALID, CKR_USER_NOT_LOGGED_IN,
 * CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_KEY_TYPE_INCONSISTENT,
 * CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID, CKR_OPERATION_ACTIVE. */
CK_RV sign_init(p11_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE key);
/* Lock held. */
CK_RV sign_update(p11_session *s, const uint8_t *part, size_t len);
/* C_Sign (one_shot, with data) and C_SignFinal. Takes the lock itself.
 * The signature length is known locally: a NULL buffer asks for it, a short
 * one gets CKR_BUFFER_TOO_SMALL, both keep the operation; otherwise the one
 * remote signature is made and the operation ends. */
CK_RV sign_final(CK_SESSION_HANDLE h, const uint8_t *data, size_t len, bool one_shot, uint8_t *sig,
		 CK_ULONG_PTR sig_len);
/* C_Login(CKU_CONTEXT_SPECIFIC) during a signing operation on a
 * CKA_ALWAYS_AUTHENTICATE key: keep the OTP for this signature (lock held). */
CK_RV sign_context_login(p11_session *s, const char *otp, size_t len);
void sign_op_free(sign_op *op);

#endif
