/* SPDX-License-Identifier: Apache-2.0 */
/* Store dispatcher: picks the backend by URI scheme and forwards every
 * call through its store_ops. */
#include "store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "secmem.h"
#include "store_backend.h"

static const store_ops *const store_backends[] = {
    &store_sqlite_ops,
};

int store_open(const char *uri, store **out)
{
	size_t i;

	if (uri == NULL || out == NULL)
		return STORE_ERR;
	*out = NULL;
	for (i = 0; i < sizeof(store_backends) / sizeof(store_backends[0]); i++) {
		const store_ops *ops = store_backends[i];
		size_t sl = strlen(ops->scheme);
		store *s;
		int rc;

		if (strncmp(uri, ops->scheme, sl) != 0 || uri[sl] != ':')
			continue;
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return STORE_ERR;
		s->ops = ops;
		if (pthread_mutex_init(&s->audit_mu, NULL) != 0) {
			free(s);
			return STORE_ERR;
		}
		if (pthread_cond_init(&s->audit_cv, NULL) != 0) {
			pthread_mutex_destroy(&s->audit_mu);
			free(s);
			return STORE_ERR;
		}
		rc = ops->open(uri + sl + 1, &s->be);
		if (rc != STORE_OK) {
			pthread_cond_destroy(&s->audit_cv);
			pthread_mutex_destroy(&s->audit_mu);
			free(s);
			return rc;
		}
		*out = s;
		return STORE_OK;
	}
	log_err("store: unsupported store URI scheme (want sqlite:<path>)");
	return STORE_ERR;
}

void store_close(store *s)
{
	if (s == NULL)
		return;
	s->ops->close(s->be);
	pthread_cond_destroy(&s->audit_cv);
	pthread_mutex_destroy(&s->audit_mu);
	free(s);
}

/* Every forwarder checks the handle and the out pointers it dereferences. */
#define STORE_CHECK(cond)                                                                          \
	do {                                                                                       \
		if (s == NULL || !(cond))                                                          \
			return STORE_ERR;                                                          \
	} while (0)

/* ---- users ---- */
int store_user_add(store *s, store_user *u)
{
	STORE_CHECK(u != NULL);
	return s->ops->user_add(s->be, u);
}

int store_user_get(store *s, const char *name, store_user *out)
{
	STORE_CHECK(name != NULL && out != NULL);
	return s->ops->user_get(s->be, name, out);
}

int store_user_get_id(store *s, int64_t id, store_user *out)
{
	STORE_CHECK(out != NULL);
	return s->ops->user_get_id(s->be, id, out);
}

int store_user_list(store *s, store_user **out, size_t *n)
{
	STORE_CHECK(out != NULL && n != NULL);
	return s->ops->user_list(s->be, out, n);
}

int store_user_del(store *s, int64_t id)
{
	STORE_CHECK(true);
	return s->ops->user_del(s->be, id);
}

int store_user_set_password(store *s, int64_t id, const char *pw_hash)
{
	STORE_CHECK(pw_hash != NULL);
	return s->ops->user_set_password(s->be, id, pw_hash);
}

int store_user_set_otp(store *s, int64_t id, const uint8_t *otp_key, size_t len)
{
	STORE_CHECK((otp_key != NULL || len == 0) && len <= STORE_OTPKEY_MAX);
	return s->ops->user_set_otp(s->be, id, otp_key, len);
}

int store_user_fail(store *s, int64_t id, int threshold, int *failures, bool *locked)
{
	STORE_CHECK(true);
	return s->ops->user_fail(s->be, id, threshold, failures, locked);
}

int store_user_reset_failures(store *s, int64_t id)
{
	STORE_CHECK(true);
	return s->ops->user_reset_failures(s->be, id);
}

int store_user_set_locked(store *s, int64_t id, bool locked)
{
	STORE_CHECK(true);
	return s->ops->user_set_locked(s->be, id, locked);
}

int store_user_use_otp_step(store *s, int64_t id, int64_t step)
{
	STORE_CHECK(true);
	return s->ops->user_use_otp_step(s->be, id, step);
}

/* ---- credentials ---- */
void store_credential_clear(store_credential *c)
{
	if (c == NULL)
		return;
	free(c->cert_der);
	sec_zero(c, sizeof(*c));
}

int store_cred_add(store *s, const store_credential *c)
{
	STORE_CHECK(c != NULL);
	return s->ops->cred_add(s->be, c);
}

int store_cred_get(store *s, const char *id, store_credential *out)
{
	STORE_CHECK(id != NULL && out != NULL);
	return s->ops->cred_get(s->be, id, out);
}

int store_cred_list(store *s, int64_t user_id, store_credential **out, size_t *n)
{
	STORE_CHECK(out != NULL && n != NULL);
	return s->ops->cred_list(s->be, user_id, out, n);
}

void store_cred_list_free(store_credential *arr, size_t n)
{
	size_t i;

	if (arr == NULL)
		return;
	for (i = 0; i < n; i++)
		store_credential_clear(&arr[i]);
	free(arr);
}

int store_cred_del(store *s, const char *id)
{
	STORE_CHECK(id != NULL);
	return s->ops->cred_del(s->be, id);
}

int store_cred_set_enabled(store *s, const char *id, bool enabled)
{
	STORE_CHECK(id != NULL);
	return s->ops->cred_set_enabled(s->be, id, enabled);
}

int store_cred_set_pin(store *s, const char *id, const char *pin_hash)
{
	STORE_CHECK(id != NULL && pin_hash != NULL);
	return s->ops->cred_set_pin(s->be, id, pin_hash);
}

int store_cred_set_cert(store *s, const char *id, const uint8_t *der, size_t len)
{
	STORE_CHECK(id != NULL && (der != NULL || len == 0));
	return s->ops->cred_set_cert(s->be, id, der, len);
}

int store_cred_pin_fail(store *s, const char *id, int threshold, int *failures, bool *locked)
{
	STORE_CHECK(id != NULL);
	return s->ops->cred_pin_fail(s->be, id, threshold, failures, locked);
}

int store_cred_pin_reset(store *s, const char *id)
{
	STORE_CHECK(id != NULL);
	return s->ops->cred_pin_reset(s->be, id);
}

int store_cred_set_locked(store *s, const char *id, bool locked)
{
	STORE_CHECK(id != NULL);
	return s->ops->cred_set_locked(s->be, id, locked);
}

/* ---- tokens ---- */
int store_token_put(store *s, const store_token *t)
{
	STORE_CHECK(t != NULL);
	return s->ops->token_put(s->be, t);
}

int store_token_get(store *s, const uint8_t hash[32], store_token *out)
{
	STORE_CHECK(hash != NULL && out != NULL);
	return s->ops->token_get(s->be, hash, out);
}

int store_token_revoke(store *s, const uint8_t hash[32])
{
	STORE_CHECK(hash != NULL);
	return s->ops->token_revoke(s->be, hash);
}

int store_token_purge_expired(store *s, int64_t now)
{
	STORE_CHECK(true);
	return s->ops->token_purge_expired(s->be, now);
}

/* ---- SADs ---- */

/* ---- audit (group commit) ----
 * Every caller queues a waiter and sleeps; whoever finds no leader at work
 * becomes the leader, takes up to STORE_AUDIT_GROUP_MAX waiters from the
 * head of the queue (its own among them), writes them in one transaction
 * without holding audit_mu, then marks them done and wakes everyone. The
 * records that queued while it was writing form the next group. */
#define STORE_AUDIT_GROUP_MAX 128

struct store_audit_waiter {
	store_audit *rec;
	store_audit_chain_fn chain;
	void *ctx;
	int rc;
	bool done;
	store_audit_waiter *next;
};

typedef struct {
	store_audit_waiter **w;
	size_t n;
	size_t hint; /* the backend chains in order: usually w[hint] */
} store_audit_group;

/* The chain callback handed to the backend: each record is chained by the
 * function and context its own caller gave. */
static void store_audit_chain_one(store_audit *rec, void *ctx)
{
	store_audit_group *g = ctx;

	for (size_t k = 0; k < g->n; k++) {
		size_t i = (g->hint + k) % g->n;

		if (g->w[i]->rec == rec) {
			g->hint = i + 1;
			g->w[i]->chain(rec, g->w[i]->ctx);
			return;
		}
	}
}

/* Write one group (audit_mu not held). Sets every waiter's rc; returns
 * the number of transactions committed. */
static uint64_t store_audit_write(store *s, store_audit_waiter **w, size_t n)
{
	store_audit *recs[STORE_AUDIT_GROUP_MAX];
	store_audit_group g = {w, n, 0};
	uint64_t commits = 0;
	int rc;

	if (s->ops->audit_append_batch == NULL) {
		for (size_t i = 0; i < n; i++) {
			w[i]->rc = s->ops->audit_append(s->be, w[i]->rec, w[i]->chain, w[i]->ctx);
			if (w[i]->rc == STORE_OK)
				commits++;
		}
		return commits;
	}
	for (size_t i = 0; i < n; i++)
		recs[i] = w[i]->rec;
	rc = s->ops->audit_append_batch(s->be, recs, n, store_audit_chain_one, &g);
	for (size_t i = 0; i < n; i++)
		w[i]->rc = rc;
	return rc == STORE_OK ? 1 : 0;
}

static bool store_text_ok(const char *t, size_t cap)
{
	return memchr(t, '\0', cap) != NULL;
}

int store_audit_append(store *s, store_audit *rec, store_audit_chain_fn chain, void *ctx)
{
	store_audit_waiter me, *group[STORE_AUDIT_GROUP_MAX];

	STORE_CHECK(rec != NULL && chain != NULL);
	/* A malformed record is refused here, alone, rather than failing the
	 * group it would join. */
	if (!store_text_ok(rec->actor, sizeof(rec->actor)) ||
	    !store_text_ok(rec->action, sizeof(rec->action)) ||
	    !store_text_ok(rec->object, sizeof(rec->object)) ||
	    !store_text_ok(rec->outcome, sizeof(rec->outcome)))
		return STORE_ERR;
	memset(&me, 0, sizeof(me));
	me.rec = rec;
	me.chain = chain;
	me.ctx = ctx;
	me.rc = STORE_ERR;

	pthread_mutex_lock(&s->audit_mu);
	if (s->audit_tail != NULL)
		s->audit_tail->next = &me;
	else
		s->audit_head = &me;
	s->audit_tail = &me;
	while (!me.done) {
		size_t n = 0, ok = 0;
		uint64_t commits;

		if (s->audit_leader) {
			pthread_cond_wait(&s->audit_cv, &s->audit_mu);
			continue;
		}
		/* Lead: not done and no leader means 'me' is still queued. */
		s->audit_leader = true;
		while (s->audit_head != NULL && n < STORE_AUDIT_GROUP_MAX) {
			group[n++] = s->audit_head;
			s->audit_head = s->audit_head->next;
		}
		if (s->audit_head == NULL)
			s->audit_tail = NULL;
		pthread_mutex_unlock(&s->audit_mu);

		commits = store_audit_write(s, group, n);

		pthread_mutex_lock(&s->audit_mu);
		for (size_t i = 0; i < n; i++) {
			if (group[i]->rc == STORE_OK)
				ok++;
			group[i]->next = NULL;
			group[i]->done = true;
		}
		s->audit_stats.records += ok;
		s->audit_stats.failures += n - ok;
		s->audit_stats.commits += commits;
		if (n > s->audit_stats.max_group)
			s->audit_stats.max_group = n;
		s->audit_leader = false;
		pthread_cond_broadcast(&s->audit_cv);
	}
	pthread_mutex_unlock(&s->audit_mu);
	return me.rc;
}

void store_audit_stats_get(store *s, store_audit_stats *out)
{
	if (out == NULL)
		return;
	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->audit_mu);
	*out = s->audit_stats;
	pthread_mutex_unlock(&s->audit_mu);
}

int store_audit_iter(store *s, int64_t from_seq, store_audit_cb cb, void *ctx)
{
	STORE_CHECK(cb != NULL);
	return s->ops->audit_iter(s->be, from_seq, cb, ctx);
}

int store_audit_head(store *s, int64_t *seq, uint8_t hash[32])
{
	STORE_CHECK(seq != NULL && hash != NULL);
	return s->ops->audit_head(s->be, seq, hash);
}

/* ---- meta ---- */
int store_meta_get(store *s, const char *key, char *out, size_t cap)
{
	STORE_CHECK(key != NULL && out != NULL && cap > 0);
	return s->ops->meta_get(s->be, key, out, cap);
}

int store_meta_set(store *s, const char *key, const char *value)
{
	STORE_CHECK(key != NULL && value != NULL);
	return s->ops->meta_set(s->be, key, value);
}
