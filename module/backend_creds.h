/* SPDX-License-Identifier: Apache-2.0 */
/* Credential sets derived from a CSC credentials/list answer, and the
 * immutable, reference-counted snapshots the PKCS#11 layer reads. */
#ifndef CISRES_BACKEND_CREDS_H
#define CISRES_BACKEND_CREDS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "backend_conf.h"
#include "csc_client.h"

/* What the sign flow needs beyond backend_cred: the CSC auth object ids. */
typedef struct {
	char pin_id[64]; /* "" when no PIN object takes part */
	char otp_id[64]; /* "" when no OTP object takes part */
} backend_cred_auth;

typedef struct {
	atomic_int refs;
	backend_cred *creds;
	backend_cred_auth *auth;
	size_t n;
	char *canon; /* canonical CSC JSON of the list (change detection, cache) */
	size_t canon_len;
} backend_credset;

/* Derive a set from a parsed list. canon (malloc'd) is taken over. Fields
 * come from the CSC answer only. NULL on allocation failure. */
backend_credset *backend_creds_new(const csc_credential_list *l, char *canon, size_t canon_len);
backend_credset *backend_creds_empty(void);
void backend_creds_ref(backend_credset *cs);
void backend_creds_unref(backend_credset *cs);
/* Index of a credential by id, or -1. */
long backend_creds_find(const backend_credset *cs, const char *id);
/* Derive one credential (exposed for tests). 0 or -1. */
int backend_creds_derive(const csc_credential *cr, backend_cred *out, backend_cred_auth *auth);

typedef struct {
	backend_snapshot pub; /* what backend_snapshot_get hands out: first member */
	atomic_int refs;
	backend_credset *cs;
} backend_snap;

/* A snapshot over cs (a reference is taken). */
backend_snap *backend_snap_new(const backend_conf_account *a, backend_credset *cs, bool online,
			       uint64_t generation);
void backend_snap_ref(backend_snap *s);
void backend_snap_unref(backend_snap *s);

#endif
