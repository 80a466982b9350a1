/* SPDX-License-Identifier: Apache-2.0 */
/* Tokens: one per account (slot). Token information from the account's
 * snapshot, and the login state with the user PIN kept in locked memory
 * (zeroed at logout, when the last session closes, and at C_Finalize). */
#ifndef CISRES_TOKEN_H
#define CISRES_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "cisres/pkcs11_3.h"

CK_RV token_init(size_t n_slots);
/* Zeroes the PINs; no backend calls. */
void token_uninit(void);

/* The functions below expect the global lock held, except token_login. */
CK_RV token_get_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info);
bool token_logged_in(size_t slot);
/* Module-side prompting: no C_Login needed, private keys public. */
bool token_module_prompt(size_t slot);
/* A copy of the user PIN in locked memory (sec_unlock_free(p, *len + 1)),
 * or NULL when not logged in (or out of memory). */
char *token_pin_copy(size_t slot, size_t *len);
/* Whether the service has not confirmed the PIN yet (C_Login while it was
 * unreachable), and the confirmation by a successful signature. */
bool token_pin_unchecked(size_t slot);
void token_pin_confirmed(size_t slot);
/* Forget the login of a token: zero the PIN, tell the backend. */
void token_forget_login(size_t slot);

/* C_Login / C_LoginUser. Takes the lock itself: the PIN check may reach the
 * service, and the lock is not held meanwhile. username may be NULL. */
CK_RV token_login(CK_SESSION_HANDLE h, CK_USER_TYPE type, const CK_UTF8CHAR *pin, CK_ULONG pin_len,
		  const CK_UTF8CHAR *username, CK_ULONG username_len);
/* C_Logout (lock held). */
CK_RV token_logout(CK_SESSION_HANDLE h);

#endif
