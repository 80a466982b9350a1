/* SPDX-License-Identifier: Apache-2.0 */
/* The module's global state: initialization arguments, the one lock around
 * the slot, session and object tables (application mutex callbacks or OS
 * locking), the backend, and fork detection by process id. */
#ifndef CISRES_P11_STATE_H
#define CISRES_P11_STATE_H

#include <stddef.h>

#include "cisres/pkcs11_3.h"

#include "backend.h"

/* C_Initialize: check the arguments, create the lock and the backend, and
 * the tables. In a child of a process that had initialized the module, the
 * inherited state is forgotten first (backend_forget_after_fork). */
CK_RV p11_state_initialize(CK_VOID_PTR init_args);
/* C_Finalize. */
CK_RV p11_state_finalize(CK_VOID_PTR reserved);
/* CKR_OK when initialized in this process, else
 * CKR_CRYPTOKI_NOT_INITIALIZED (also in a child after fork()). */
CK_RV p11_state_check(void);

/* The global lock. Never held across a network call. */
void p11_lock(void);
void p11_unlock(void);

/* Valid while initialized. */
backend *p11_backend(void);
size_t p11_slot_count(void);

#endif
