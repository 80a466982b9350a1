/* SPDX-License-Identifier: Apache-2.0 */
/* Private interface between the store dispatcher (store.c) and its
 * backends. A backend implements every operation of store.h on its own
 * state; store.c picks the backend from the URI scheme. To add a backend
 * (PostgreSQL), fill a store_ops and list it in store.c. */
#ifndef CISRES_STORE_BACKEND_H
#define CISRES_STORE_BACKEND_H

#include <pthread.h>

#include "store.h"

typedef struct store_ops {
	const char *scheme; /* "sqlite" -> URIs "sqlite:<rest>" */
	int (*open)(const char *rest, void **be);
	void (*close)(void *be);

	int (*user_add)(void *be, store_user *u);
	int (*user_get)(void *be, const char *name, store_user *out);
	int (*user_get_id)(void *be, int64_t id, store_user *out);
	int (*user_list)(void *be, store_user **out, size_t *n);
	int (*user_del)(void *be, int64_t id);
	int (*user_set_password)(void *be, int64_t id, const char *pw_hash);
	int (*user_fail)(void *be, int64_t id, int threshold, int *failures, bool *locked);
	int (*user_reset_failures)(void *be, int64_t id);
	int (*user_set_locked)(void *be, int64_t id, bool locked);
	int (*user_use_otp_step)(void *be, int64_t id, int64_t step);

	int (*cred_add)(void *be, const store_credential *c);
	int (*cred_get)(void *be, const char *id, store_credential *out);
	int (*cred_list)(void *be, int64_t user_id, store_credential **out, size_t *n);
	int (*cred_del)(void *be, const char *id);
	int (*cred_set_enabled)(void *be, const char *id, bool enabled);
	int (*cred_set_pin)(void *be, const char *id, const char *pin_hash);
	int (*cred_set_cert)(void *be, const char *id, const uint8_t *der, size_t len);
	int (*cred_pin_fail)(void *be, const char *id, int threshold, int *failures, bool *locked);
	int (*cred_pin_reset)(void *be, const char *id);
	int (*cred_set_locked)(void *be, const char *id, bool locked);

	int (*token_put)(void *be, const store_token *t);
	int (*token_get)(void *be, const uint8_t hash[32], store_token *out);
	int (*token_revoke)(void *be, const uint8_t hash[32]);
	int (*token_purge_expired)(void *be, int64_t now);

	int (*audit_append)(void *be, store_audit *rec, store_audit_chain_fn chain, void *ctx);
	int (*audit_iter)(void *be, int64_t from_seq, store_audit_cb cb, void *ctx);
	int (*audit_head)(void *be, int64_t *seq, uint8_t hash[32]);

	int (*meta_get)(void *be, const char *key, char *out, size_t cap);
	int (*meta_set)(void *be, const char *key, const char *value);

	int (*user_set_otp)(void *be, int64_t id, const uint8_t *otp_key, size_t len);

	/* Append recs[0..n-1] in ONE durable transaction under the write lock:
	 * for each record in order, set seq and prev from the head (the
	 * previous record of the batch for all but the first), call
	 * chain(recs[i], ctx) to fill hash, insert; then move the head to the
	 * last record and commit. All or nothing: on failure nothing is
	 * appended. Optional (NULL: store.c appends one by one). */
	int (*audit_append_batch)(void *be, store_audit *const *recs, size_t n,
				  store_audit_chain_fn chain, void *ctx);
} store_ops;

/* One caller waiting in store_audit_append (store.c, group commit). */
typedef struct store_audit_waiter store_audit_waiter;

struct store {
	const store_ops *ops;
	void *be;
	/* Audit group commit (store.c): the queue of waiting appends, whether
	 * a leader is writing, and the counters. */
	pthread_mutex_t audit_mu;
	pthread_cond_t audit_cv;
	store_audit_waiter *audit_head, *audit_tail;
	bool audit_leader;
	store_audit_stats audit_stats;
};

extern const store_ops store_sqlite_ops;

#endif
