/* SPDX-License-Identifier: Apache-2.0 */
/* The persistent store, behind one interface. Backends: SQLite (embedded
 * default, "sqlite:/path/to/db"); PostgreSQL can be added as a second
 * implementation of store_ops without touching callers.
 *
 * All functions return STORE_OK (0) or a negative STORE_E* code. A store
 * handle is safe to use from several threads (the backend serializes or
 * uses one connection per thread). */
#ifndef CISRES_STORE_H
#define CISRES_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_OK 0
#define STORE_ERR -1	  /* backend failure (logged) */
#define STORE_NOTFOUND -2 /* no such row */
#define STORE_EXISTS -3	  /* unique constraint */
#define STORE_CONFLICT -4 /* conditional update did not apply */

typedef struct store store;

int store_open(const char *uri, store **out);
void store_close(store *s);

/* ---- users (signers) ---- */
#define STORE_NAME_MAX 64
#define STORE_TEXT_MAX 256
#define STORE_HASH_MAX 256   /* encoded KDF string */
#define STORE_OTPKEY_MAX 128 /* a sealed TOTP seed (server/sam_factor.h) */

typedef struct {
	int64_t id;
	char name[STORE_NAME_MAX];    /* login name, unique */
	char display[STORE_TEXT_MAX]; /* certificate CN */
	char email[STORE_TEXT_MAX];   /* may be empty */
	char pw_hash[STORE_HASH_MAX]; /* kdf_hash() output */
	uint8_t
	    otp_key[STORE_OTPKEY_MAX]; /* TOTP seed, sealed by the SAM (opaque here); 0 = none */
	size_t otp_key_len;
	bool login_otp;	       /* auth/login needs password + OTP */
	int64_t otp_last_step; /* highest TOTP step accepted (replay) */
	int pw_failures;       /* consecutive failures */
	bool locked;
	int64_t created; /* unix time */
} store_user;

int store_user_add(store *s, store_user *u); /* sets u->id; STORE_EXISTS */
int store_user_get(store *s, const char *name, store_user *out);
int store_user_get_id(store *s, int64_t id, store_user *out);
int store_user_list(store *s, store_user **out, size_t *n); /* free() the array */
int store_user_del(store *s, int64_t id);
int store_user_set_password(store *s, int64_t id, const char *pw_hash);
/* Replace the stored TOTP seed (an opaque value, sealed by the SAM); len 0
 * removes it. */
int store_user_set_otp(store *s, int64_t id, const uint8_t *otp_key, size_t len);
/* Record a password failure: failures += 1, locked when it reaches
 * threshold. Returns the new failure count in *failures and lock state. */
int store_user_fail(store *s, int64_t id, int threshold, int *failures, bool *locked);
int store_user_reset_failures(store *s, int64_t id);
int store_user_set_locked(store *s, int64_t id, bool locked); /* unlock also resets */
/* Accept TOTP step 'step' only if it is greater than otp_last_step (atomic
 * compare-and-set). STORE_CONFLICT when already used. */
int store_user_use_otp_step(store *s, int64_t id, int64_t step);

/* ---- credentials ---- */
#define STORE_CRED_ID_MAX 64

typedef struct {
	char id[STORE_CRED_ID_MAX]; /* credentialID (hex of key_id) */
	int64_t user_id;
	uint8_t key_id[32]; /* CKA_ID in the HSM */
	size_t key_id_len;
	int key_kind;	   /* key_kind from oid.h */
	int key_bits;	   /* RSA modulus bits, EC field bits */
	int curve_nid;	   /* EC only */
	uint8_t *cert_der; /* end-entity certificate (malloc'd by getters) */
	size_t cert_len;
	int scal;      /* 1 or 2 */
	bool auth_otp; /* "PIN AND OTP" when true, else "PIN" */
	int multisign; /* >= 1 */
	char pin_hash[STORE_HASH_MAX];
	int pin_failures;
	bool pin_locked;
	bool enabled;
	char description[STORE_TEXT_MAX];
	int64_t created;
} store_credential;

void store_credential_clear(store_credential *c); /* frees cert_der */
int store_cred_add(store *s, const store_credential *c);
int store_cred_get(store *s, const char *id, store_credential *out);
/* All credentials of a user (user_id > 0) or of everyone (user_id == 0). */
int store_cred_list(store *s, int64_t user_id, store_credential **out, size_t *n);
void store_cred_list_free(store_credential *arr, size_t n);
int store_cred_del(store *s, const char *id);
int store_cred_set_enabled(store *s, const char *id, bool enabled);
int store_cred_set_pin(store *s, const char *id, const char *pin_hash);
/* Set (or, with len 0, clear) the end-entity certificate. */
int store_cred_set_cert(store *s, const char *id, const uint8_t *der, size_t len);
int store_cred_pin_fail(store *s, const char *id, int threshold, int *failures, bool *locked);
int store_cred_pin_reset(store *s, const char *id);
int store_cred_set_locked(store *s, const char *id, bool locked); /* unlock also resets */

/* ---- access / refresh tokens (stored as SHA-256 of the token) ---- */
typedef enum { STORE_TOKEN_ACCESS = 1, STORE_TOKEN_REFRESH = 2 } store_token_kind;

typedef struct {
	uint8_t hash[32];
	store_token_kind kind;
	int64_t user_id;
	uint8_t parent[32]; /* refresh token that minted this access token; zero if none */
	bool has_parent;
	int64_t expires; /* unix time */
	bool revoked;
} store_token;

int store_token_put(store *s, const store_token *t);
int store_token_get(store *s, const uint8_t hash[32], store_token *out);
/* Revoke a token; revoking a refresh token also revokes every access token
 * whose parent it is. */
int store_token_revoke(store *s, const uint8_t hash[32]);
int store_token_purge_expired(store *s, int64_t now);

/* ---- audit log ---- */
typedef struct {
	int64_t seq;
	int64_t time_us; /* UTC, microseconds since the epoch */
	char actor[STORE_TEXT_MAX];
	char action[STORE_NAME_MAX];
	char object[STORE_TEXT_MAX];
	char outcome[32];
	char *detail; /* malloc'd; may be NULL */
	uint8_t prev[32];
	uint8_t hash[32];
} store_audit;

/* Append under the store's write lock: calls chain(rec, prev_hash, ctx) to
 * fill rec->hash after the store has set rec->seq and rec->prev from the
 * current head; commits durably before returning. */
typedef void (*store_audit_chain_fn)(store_audit *rec, void *ctx);
int store_audit_append(store *s, store_audit *rec, store_audit_chain_fn chain, void *ctx);
/* Group commit: concurrent store_audit_append calls on one store handle are
 * queued; one caller (the leader) appends every queued record in one
 * transaction, in queue order, chaining each to the one before, commits once
 * and wakes the others. Each caller still returns only after its own record
 * is durable; a failure fails every record of that group. */
typedef struct {
	uint64_t records;   /* records appended durably */
	uint64_t commits;   /* transactions committed (groups) */
	uint64_t failures;  /* records whose group failed */
	uint64_t max_group; /* largest group so far */
} store_audit_stats;
/* Counters of this handle since store_open (all zero for a NULL handle). */
void store_audit_stats_get(store *s, store_audit_stats *out);
/* Iterate in seq order from 'from_seq'; cb returns non-zero to stop. */
typedef int (*store_audit_cb)(const store_audit *rec, void *ctx);
int store_audit_iter(store *s, int64_t from_seq, store_audit_cb cb, void *ctx);
/* The head kept beside the log (seq and hash of the last record). */
int store_audit_head(store *s, int64_t *seq, uint8_t hash[32]);

/* ---- key/value settings ---- */
int store_meta_get(store *s, const char *key, char *out, size_t cap);
int store_meta_set(store *s, const char *key, const char *value);

#endif
