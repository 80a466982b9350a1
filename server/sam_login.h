/* SPDX-License-Identifier: Apache-2.0 */
/* The password (+ login OTP) check behind the SAM (sam_verify_login, local
 * side): it reads the user's password hash and sealed TOTP seed, counts
 * failures, locks at the policy threshold and audits every failure. */
#ifndef CISRES_SAM_LOGIN_H
#define CISRES_SAM_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsm.h"
#include "policy.h"
#include "sam_lock.h"
#include "sam.h"
#include "store/store.h"

/* h may be NULL (no sealed seeds can then be opened); locks counts the
 * failures in the HSM (server/sam_lock.h). Contract: see sam_verify_login
 * in sam.h. */
sam_status sam_login_verify(hsm *h, sam_lock *locks, store *s, const policy *p, bool strict,
			    const char *user, const char *pw, size_t pwlen, int64_t *user_id);

#endif
