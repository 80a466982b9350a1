/* SPDX-License-Identifier: Apache-2.0 */
/* The background refresh: one thread for all accounts, refreshing each at
 * start, every refresh_interval, and on request; failures keep the old
 * snapshot and mark the account offline. */
#include "backend_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend_cache.h"
#include "log.h"
#include "secmem.h"

#define TOKEN_FILE_MAX 4096

/* ---- the refresh token file ---- */

static bool same_file(const backend_account *a, const struct stat *st)
{
	return a->token_present && a->token_ino == st->st_ino && a->token_size == st->st_size &&
	       a->token_mtime.tv_sec == st->st_mtim.tv_sec &&
	       a->token_mtime.tv_nsec == st->st_mtim.tv_nsec;
}

bool backend_refresh_token_load(backend_account *a)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0, n;
	int fd;
	bool ok = false;

	fd = open(a->cfg->token_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		pthread_mutex_lock(&a->lock);
		if (a->token_present)
			log_warn("account %s: token file %s gone (run 'cisres login')",
				 a->cfg->name, a->cfg->token_file);
		else if (errno == ENOENT)
			log_debug(LOG_CAT_CACHE, "account %s: no token file %s", a->cfg->name,
				  a->cfg->token_file);
		a->token_present = false;
		a->token_refused = false;
		pthread_mutex_unlock(&a->lock);
		csc_client_set_refresh_token(a->cli, NULL, 0);
		return false;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0 || st.st_size <= 0 || st.st_size > TOKEN_FILE_MAX) {
		log_err("account %s: token file %s must be a regular file of the user with mode "
			"0600; ignored",
			a->cfg->name, a->cfg->token_file);
		close(fd);
		csc_client_set_refresh_token(a->cli, NULL, 0);
		pthread_mutex_lock(&a->lock);
		a->token_present = false;
		pthread_mutex_unlock(&a->lock);
		return false;
	}
	pthread_mutex_lock(&a->lock);
	if (same_file(a, &st)) {
		ok = !a->token_refused;
		pthread_mutex_unlock(&a->lock);
		close(fd);
		return ok;
	}
	pthread_mutex_unlock(&a->lock);
	buf = sec_locked_alloc(TOKEN_FILE_MAX + 1);
	if (buf == NULL) {
		close(fd);
		return false;
	}
	while (got < TOKEN_FILE_MAX) {
		ssize_t r = read(fd, buf + got, TOKEN_FILE_MAX - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	/* The first line, without trailing blanks. */
	for (n = 0; n < got && buf[n] != '\n' && buf[n] != '\r'; n++)
		;
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	if (n > 0 && csc_client_set_refresh_token(a->cli, buf, n) == 0) {
		ok = true;
		csc_client_drop_access_token(a->cli);
	} else {
		log_err("account %s: token file %s holds no usable token", a->cfg->name,
			a->cfg->token_file);
	}
	sec_unlock_free(buf, TOKEN_FILE_MAX + 1);
	pthread_mutex_lock(&a->lock);
	a->token_present = true;
	a->token_refused = !ok;
	a->token_ino = st.st_ino;
	a->token_size = st.st_size;
	a->token_mtime = st.st_mtim;
	pthread_mutex_unlock(&a->lock);
	if (ok)
		log_debug(LOG_CAT_CACHE, "account %s: refresh token loaded", a->cfg->name);
	return ok;
}

/* ---- snapshots ---- */

static void swap_snapshot(backend_account *a, backend_credset *cs, bool online, bool changed)
{
	backend_snap *ns, *old;

	pthread_mutex_lock(&a->lock);
	if (changed)
		a->generation++;
	ns = backend_snap_new(a->cfg, cs, online, a->generation);
	if (ns == NULL) {
		if (changed)
			a->generation--;
		pthread_mutex_unlock(&a->lock);
		return;
	}
	old = a->snap;
	a->snap = ns;
	pthread_mutex_unlock(&a->lock);
	backend_snap_unref(old); /* readers keep theirs alive */
}

void backend_refresh_set_online(backend_account *a, bool online)
{
	backend_snap *cur;

	pthread_mutex_lock(&a->lock);
	cur = a->snap;
	if (cur == NULL || cur->pub.online == online) {
		pthread_mutex_unlock(&a->lock);
		return;
	}
	backend_snap_ref(cur);
	pthread_mutex_unlock(&a->lock);
	log_info("account %s: %s", a->cfg->name, online ? "online" : "offline");
	swap_snapshot(a, cur->cs, online, false);
	backend_snap_unref(cur);
}

/* One refresh of one account. Returns true on success. */
static bool refresh_account(backend_account *a)
{
	csc_credential_list l;
	csc_status st;
	char why[320];
	backend_credset *cs;
	backend_snap *cur;
	bool changed;

	if (!backend_refresh_token_load(a)) {
		backend_refresh_set_online(a, false);
		return false;
	}
	if (csc_credentials_list(a->cli, &l, &st) != CSC_OK) {
		if (atomic_load(&a->b->abort) != 0)
			return false; /* shutting down: not a failure of the service */
		log_warn("account %s: refresh failed: %s", a->cfg->name,
			 csc_status_str(&st, why, sizeof(why)));
		if (st.rc == CSC_ERR_NOAUTH) {
			/* Do not try this token again until the file changes. */
			pthread_mutex_lock(&a->lock);
			a->token_refused = true;
			pthread_mutex_unlock(&a->lock);
		}
		backend_refresh_set_online(a, false);
		return false;
	}
	cs = backend_cache_credset(&l);
	csc_credential_list_free(&l);
	if (cs == NULL) {
		backend_refresh_set_online(a, false);
		return false;
	}
	pthread_mutex_lock(&a->lock);
	cur = a->snap;
	backend_snap_ref(cur);
	pthread_mutex_unlock(&a->lock);
	changed = cur == NULL || cur->cs == NULL || cur->cs->canon == NULL ||
		  cur->cs->canon_len != cs->canon_len ||
		  memcmp(cur->cs->canon, cs->canon, cs->canon_len) != 0;
	if (changed) {
		log_debug(LOG_CAT_CACHE, "account %s: credential set changed (%zu credential(s))",
			  a->cfg->name, cs->n);
		if (a->cache_path != NULL)
			(void)backend_cache_save(a->cache_path, cs, a->cfg->url, a->cfg->user);
		swap_snapshot(a, cs, true, true);
	} else {
		/* Unchanged: mark the cache fresh for the other processes. */
		if (a->cache_path != NULL && utimensat(AT_FDCWD, a->cache_path, NULL, 0) != 0)
			(void)backend_cache_save(a->cache_path, cs, a->cfg->url, a->cfg->user);
		if (!cur->pub.online)
			swap_snapshot(a, cur->cs, true, false);
	}
	backend_snap_unref(cur);
	backend_creds_unref(cs);
	log_debug(LOG_CAT_CACHE, "account %s: refreshed", a->cfg->name);
	return true;
}

/* ---- the thread ---- */

static void *refresh_main(void *arg)
{
	backend *b = arg;
	size_t i;

	pthread_mutex_lock(&b->lock);
	while (!b->stop) {
		time_t now = time(NULL), earliest = now + b->conf.refresh_interval;
		bool did = false;

		for (i = 0; i < b->n && !b->stop; i++) {
			backend_account *a = &b->acc[i];
			bool ok;
			if (!a->refresh_requested && now < a->next_refresh) {
				if (a->next_refresh < earliest)
					earliest = a->next_refresh;
				continue;
			}
			a->refresh_requested = false;
			pthread_mutex_unlock(&b->lock);
			ok = refresh_account(a);
			pthread_mutex_lock(&b->lock);
			now = time(NULL);
			a->next_refresh =
			    now + (ok ? b->conf.refresh_interval
				      : (b->conf.refresh_interval < BACKEND_RETRY_INTERVAL
					     ? b->conf.refresh_interval
					     : BACKEND_RETRY_INTERVAL));
			a->refreshed_once = true;
			pthread_cond_broadcast(&b->cond);
			did = true;
		}
		if (did || b->stop)
			continue; /* re-evaluate: requests may have come meanwhile */
		{
			struct timespec until;
			long wait_s = (long)(earliest - now);
			bool requested = false;
			for (i = 0; i < b->n; i++)
				requested = requested || b->acc[i].refresh_requested;
			if (requested)
				continue;
			if (wait_s < 1)
				wait_s = 1;
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_sec += wait_s;
			(void)pthread_cond_timedwait(&b->cond, &b->lock, &until);
		}
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

int backend_refresh_start(backend *b)
{
	pthread_attr_t at;
	sigset_t all, old;
	int rc;

	pthread_mutex_lock(&b->lock);
	b->stop = false;
	pthread_mutex_unlock(&b->lock);
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 512 * 1024);
	/* The thread must not take the application's signals. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&b->thread, &at, refresh_main, b);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
	if (rc != 0) {
		log_err("cannot start the refresh thread: %s", strerror(rc));
		return -1;
	}
	pthread_mutex_lock(&b->lock);
	b->thread_running = true;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

void backend_refresh_stop(backend *b)
{
	bool running;

	pthread_mutex_lock(&b->lock);
	running = b->thread_running;
	b->stop = true;
	atomic_store(&b->abort, 1);
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	if (running)
		pthread_join(b->thread, NULL);
	pthread_mutex_lock(&b->lock);
	b->thread_running = false;
	pthread_mutex_unlock(&b->lock);
}
