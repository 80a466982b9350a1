/* SPDX-License-Identifier: Apache-2.0 */
/* Sessions: the session table, session states, and the per-session
 * operations (find, sign, verify, digest). All functions expect the global
 * lock held. */
#ifndef CISRES_SESSION_H
#define CISRES_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "cisres/pkcs11_3.h"

typedef struct sign_op sign_op;
typedef struct verify_op verify_op;
typedef struct digest_op digest_op;

typedef struct {
	CK_SESSION_HANDLE handle;
	size_t slot;
	CK_FLAGS flags; /* CKF_SERIAL_SESSION, CKF_RW_SESSION */
	/* C_FindObjects* */
	bool find_active;
	CK_OBJECT_HANDLE *found;
	size_t n_found, pos;
	sign_op *sign;
	verify_op *verify;
	digest_op *digest;
} p11_session;

CK_RV session_init(void);
/* Frees every session (no backend calls). */
void session_uninit(void);

CK_RV session_open(CK_SLOT_ID slot, CK_FLAGS flags, CK_SESSION_HANDLE_PTR out);
/* Closing the last session of a token logs the user out (PKCS#11 §5.6). */
CK_RV session_close(CK_SESSION_HANDLE h);
CK_RV session_close_all(CK_SLOT_ID slot);
/* NULL when no such session. */
p11_session *session_find(CK_SESSION_HANDLE h);
CK_RV session_get_info(const p11_session *s, CK_SESSION_INFO_PTR info);
/* Number of sessions on a slot (rw_only: only read/write ones). */
size_t session_count(size_t slot, bool rw_only);
/* End the operations of the slot's sessions that use private keys (logout). */
void session_end_private_ops(size_t slot);
/* C_SessionCancel: end the operations named by flags (CKF_SIGN, CKF_VERIFY,
 * CKF_DIGEST, CKF_FIND_OBJECTS). */
CK_RV session_cancel(p11_session *s, CK_FLAGS flags);

#endif
