/* SPDX-License-Identifier: Apache-2.0 */
/* The backend: accounts, snapshots, life cycle. The network work is in
 * backend_refresh.c (background) and backend_sign.c (C_Login / C_Sign). */
#include "backend.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "backend_cache.h"
#include "backend_int.h"
#include "log.h"

static void log_setup(const backend_conf *c)
{
	const char *env = getenv("CISRES_DEBUG");
	const char *cats = NULL;

	if (env != NULL && env[0] != '\0')
		cats = env;
	else if (c->debug && c->debug_categories != NULL)
		cats = c->debug_categories;
	if (c->log_file != NULL && log_set_file(c->log_file) != 0)
		log_warn("cannot open log_file %s", c->log_file);
	if (cats != NULL)
		log_init("cisres-pkcs11", LOG_LVL_DEBUG, cats);
	else
		log_init("cisres-pkcs11", LOG_LVL_WARN, "");
}

static int account_init(backend *b, size_t i)
{
	backend_account *a = &b->acc[i];
	backend_credset *cs;

	a->b = b;
	a->index = i;
	a->cfg = &b->conf.accounts[i];
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->sad_lock, NULL);
	a->cli = csc_client_new(a->cfg->url, a->cfg->ca_file, b->conf.timeout);
	if (a->cli == NULL) {
		log_err("account %s: cannot use url %s", a->cfg->name, a->cfg->url);
		return -1;
	}
	csc_client_set_abort(a->cli, &b->abort);
	/* A local file: read now, so that C_Login can use it at once. */
	(void)backend_refresh_token_load(a);
	a->cache_path = backend_cache_path(b->conf.cache_dir, a->cfg->name);
	cs = a->cache_path != NULL ? backend_cache_load(a->cache_path, a->cfg->url, a->cfg->user)
				   : NULL;
	a->had_cache = cs != NULL;
	a->next_refresh = 0; /* now */
	if (cs != NULL) {
		/* A fresh cache (refreshed less than refresh_interval ago, by this
		 * or another process) is refreshed when it becomes stale: a short
		 * process (pkcs11-tool -L) then never waits on, nor loads, the
		 * service, and has no request in flight when it exits. */
		struct stat st;
		time_t now = time(NULL);
		if (stat(a->cache_path, &st) == 0 && st.st_mtime <= now &&
		    now - st.st_mtime < b->conf.refresh_interval) {
			time_t due = st.st_mtime + b->conf.refresh_interval;
			a->next_refresh =
			    due > now + BACKEND_START_DELAY ? due : now + BACKEND_START_DELAY;
		}
	}
	if (cs == NULL)
		cs = backend_creds_empty();
	if (cs == NULL)
		return -1;
	a->generation = 1;
	a->snap = backend_snap_new(a->cfg, cs, false, a->generation);
	backend_creds_unref(cs);
	if (a->snap == NULL)
		return -1;
	log_debug(LOG_CAT_CACHE, "account %s: %zu credential(s) from the cache", a->cfg->name,
		  a->snap->pub.n_creds);
	return 0;
}

static void account_uninit(backend_account *a)
{
	if (a->b == NULL)
		return;
	backend_sign_drop_sads(a);
	csc_client_free(a->cli);
	a->cli = NULL;
	backend_snap_unref(a->snap);
	a->snap = NULL;
	free(a->cache_path);
	a->cache_path = NULL;
	pthread_mutex_destroy(&a->lock);
	pthread_mutex_destroy(&a->sad_lock);
}

/* Wait (bounded) for the first refresh of accounts that had no cache, so
 * that the very first use lists the certificates. */
static void wait_first_refresh(backend *b)
{
	struct timespec until;
	size_t i;
	bool pending;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += BACKEND_FIRST_WAIT_MS / 1000;
	until.tv_nsec += (long)(BACKEND_FIRST_WAIT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&b->lock);
	for (;;) {
		pending = false;
		for (i = 0; i < b->n; i++)
			pending = pending || (!b->acc[i].had_cache && !b->acc[i].refreshed_once);
		if (!pending || !b->thread_running)
			break;
		if (pthread_cond_timedwait(&b->cond, &b->lock, &until) != 0)
			break;
	}
	pthread_mutex_unlock(&b->lock);
}

CK_RV backend_new(backend **out)
{
	backend *b;
	pthread_condattr_t ca;
	size_t i;

	if (out == NULL)
		return CKR_ARGUMENTS_BAD;
	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return CKR_HOST_MEMORY;
	if (backend_conf_load(&b->conf) != 0) {
		log_setup(&b->conf);
		free(b);
		return CKR_GENERAL_ERROR;
	}
	log_setup(&b->conf);
	pthread_mutex_init(&b->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cond, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&b->abort, 0);
	if (csc_global_init() != 0) {
		log_err("libcurl initialisation failed");
		goto fail;
	}
	if (b->conf.n_accounts > 0) {
		b->acc = calloc(b->conf.n_accounts, sizeof(*b->acc));
		if (b->acc == NULL)
			goto fail;
	}
	for (i = 0; i < b->conf.n_accounts; i++) {
		if (account_init(b, i) != 0) {
			b->n = i + 1;
			goto fail;
		}
	}
	b->n = b->conf.n_accounts;
	log_debug(LOG_CAT_GENERAL, "config %s: %zu account(s)",
		  b->conf.path != NULL ? b->conf.path : "(none)", b->n);
	if (b->n > 0) {
		if (backend_refresh_start(b) != 0)
			goto fail;
		wait_first_refresh(b);
	}
	*out = b;
	return CKR_OK;
fail:
	backend_free(b);
	return CKR_GENERAL_ERROR;
}

void backend_free(backend *b)
{
	size_t i;

	if (b == NULL)
		return;
	backend_refresh_stop(b);
	for (i = 0; i < b->n; i++)
		account_uninit(&b->acc[i]);
	free(b->acc);
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->lock);
	backend_conf_free(&b->conf);
	free(b);
}

void backend_forget_after_fork(backend *b)
{
	static const pthread_mutex_t fresh_mutex = PTHREAD_MUTEX_INITIALIZER;
	pthread_condattr_t ca;
	size_t i;

	csc_global_forget_after_fork();
	if (b == NULL)
		return;
	/* The refresh thread does not exist in the child: forget it. */
	b->thread_running = false;
	b->stop = false;
	memcpy(&b->lock, &fresh_mutex, sizeof(fresh_mutex));
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cond, &ca);
	pthread_condattr_destroy(&ca);
	for (i = 0; i < b->n; i++) {
		backend_account *a = &b->acc[i];
		memcpy(&a->lock, &fresh_mutex, sizeof(fresh_mutex));
		memcpy(&a->sad_lock, &fresh_mutex, sizeof(fresh_mutex));
		csc_client_forget_after_fork(a->cli);
		/* The parent's SADs are the parent's. */
		backend_sign_drop_sads(a);
	}
}

size_t backend_account_count(const backend *b)
{
	return b != NULL ? b->n : 0;
}

const backend_snapshot *backend_snapshot_get(backend *b, size_t account)
{
	backend_account *a;
	backend_snap *s;

	if (b == NULL || account >= b->n)
		return NULL;
	a = &b->acc[account];
	pthread_mutex_lock(&a->lock);
	s = a->snap;
	backend_snap_ref(s);
	pthread_mutex_unlock(&a->lock);
	return s != NULL ? &s->pub : NULL;
}

void backend_snapshot_release(backend *b, const backend_snapshot *s)
{
	(void)b;
	if (s == NULL)
		return;
	/* pub is the first member of backend_snap. */
	backend_snap_unref((backend_snap *)(void *)s);
}

void backend_refresh_async(backend *b, size_t account)
{
	if (b == NULL || account >= b->n)
		return;
	pthread_mutex_lock(&b->lock);
	b->acc[account].refresh_requested = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}
