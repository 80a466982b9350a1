/* SPDX-License-Identifier: Apache-2.0 */
/* Factor failure counters of the SAM, kept in the HSM.
 *
 * A credential's PIN/OTP failures (and a user's password failures) are
 * counted in token objects (hsm_counter_*), beside the keys: the database
 * the HTTP process shares can be edited or restored from an old copy, and
 * the count does not move. The database keeps a copy for display only.
 *
 * The SAM process is the only writer that adds; an operator's cisres-admin
 * only resets. So a cached zero is exact, and a cached non-zero count is
 * read again from the HSM before it refuses anyone (the operator may have
 * reset it). Without an HSM (a test SAM) every count is 0. Thread-safe. */
#ifndef CISRES_SAM_LOCK_H
#define CISRES_SAM_LOCK_H

#include <stdint.h>

#include "hsm.h"

typedef struct sam_lock sam_lock;

/* Loads every counter of the token. 0 or -1. */
int sam_lock_new(hsm *h, sam_lock **out);
void sam_lock_free(sam_lock *l);

/* Counter names: "cred:<credential id>" and "user:<user id>". */
#define SAM_LOCK_NAME_MAX HSM_COUNTER_NAME_MAX
void sam_lock_name_cred(const char *cred_id, char name[SAM_LOCK_NAME_MAX]);
void sam_lock_name_user(int64_t user_id, char name[SAM_LOCK_NAME_MAX]);

/* The current count (0 when none). 0 or -1 (HSM failure). */
int sam_lock_get(sam_lock *l, const char *name, uint32_t *count);
/* Count one failure, durably in the HSM before returning; *count is the
 * new count. 0 or -1. */
int sam_lock_fail(sam_lock *l, const char *name, uint32_t *count);
/* Back to 0 (after a success, or an operator's unblock). 0 or -1. */
int sam_lock_reset(sam_lock *l, const char *name);

#endif
