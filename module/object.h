/* SPDX-License-Identifier: Apache-2.0 */
/* The object table. Each account's objects (per credential: certificate,
 * public key, private key; plus the issuer chain) are built from the
 * backend snapshot whenever its generation changes. Handles come from a
 * table that only grows, keyed by (account, kind, credential id or chain
 * certificate fingerprint), so a handle stays valid across cache refreshes
 * and a vanished object's handle answers CKR_OBJECT_HANDLE_INVALID.
 * All functions expect the global lock held; pointers they return are valid
 * until the lock is released. */
#ifndef CISRES_OBJECT_H
#define CISRES_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cisres/pkcs11_3.h"

#include "attrs.h"
#include "backend.h"
#include "mech.h"
#include "session.h"

typedef enum { OBJ_CERT = 1, OBJ_PUBLIC, OBJ_PRIVATE, OBJ_CA } obj_kind;

/* What signing and verifying need of a credential. */
typedef struct {
	char id[BACKEND_ID_MAX]; /* CSC credentialID */
	mech_key key;
	bool always_auth; /* an OTP per signature through a context-specific login */
	bool can_sign;
	uint8_t *spki; /* DER SubjectPublicKeyInfo */
	size_t spki_len;
} obj_cred;

typedef struct {
	CK_OBJECT_HANDLE handle;
	obj_kind kind;
	bool is_private;      /* CKA_PRIVATE: hidden until login */
	const obj_cred *cred; /* NULL for chain certificates */
	attr_list attrs;
} p11_object;

CK_RV object_init(size_t n_slots);
void object_uninit(void);

/* The object behind a handle on a slot, visible or not (see
 * object_visible); CKR_OBJECT_HANDLE_INVALID when there is none. */
CK_RV object_get(size_t slot, CK_OBJECT_HANDLE h, const p11_object **out);
/* Private objects are visible only while the user is logged in. */
bool object_visible(size_t slot, const p11_object *o);

CK_RV object_get_attributes(const p11_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_PTR tmpl,
			    CK_ULONG count);
CK_RV object_get_size(const p11_session *s, CK_OBJECT_HANDLE h, CK_ULONG_PTR size);
CK_RV object_find_init(p11_session *s, const CK_ATTRIBUTE *tmpl, CK_ULONG count);
CK_RV object_find(p11_session *s, CK_OBJECT_HANDLE_PTR out, CK_ULONG max, CK_ULONG_PTR count);
CK_RV object_find_final(p11_session *s);

#endif
