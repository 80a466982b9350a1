/* SPDX-License-Identifier: Apache-2.0 */
/* Global state: init arguments, the lock, the backend, fork detection. */
#include "p11_state.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "log.h"
#include "object.h"
#include "session.h"
#include "token.h"

typedef enum { LOCK_NONE = 0, LOCK_OS, LOCK_APP } lock_kind;

static struct {
	bool initialized;
	pid_t pid; /* the process that called C_Initialize */
	backend *be;
	size_t n_slots;
	lock_kind lock;
	pthread_mutex_t os_mutex;
	void *app_mutex;
	CK_C_INITIALIZE_ARGS cb; /* the application's mutex callbacks */
} st;

CK_RV p11_state_check(void)
{
	if (!st.initialized || st.pid != getpid())
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	return CKR_OK;
}

void p11_lock(void)
{
	if (st.lock == LOCK_OS)
		pthread_mutex_lock(&st.os_mutex);
	else if (st.lock == LOCK_APP)
		st.cb.LockMutex(st.app_mutex);
}

void p11_unlock(void)
{
	if (st.lock == LOCK_OS)
		pthread_mutex_unlock(&st.os_mutex);
	else if (st.lock == LOCK_APP)
		st.cb.UnlockMutex(st.app_mutex);
}

backend *p11_backend(void)
{
	return st.be;
}

size_t p11_slot_count(void)
{
	return st.n_slots;
}

/* The lock the arguments ask for (PKCS#11 2.40 §5.4 C_Initialize):
 * OS locking when allowed (also when the callbacks are given too), the
 * callbacks when only they are given, and OS locking anyway when the
 * application promised not to call from several threads: it costs nothing
 * and the backend has threads of its own. */
static CK_RV lock_create(const CK_C_INITIALIZE_ARGS *a)
{
	int given = 0;

	memset(&st.cb, 0, sizeof(st.cb));
	if (a != NULL) {
		given = (a->CreateMutex != NULL) + (a->DestroyMutex != NULL) +
			(a->LockMutex != NULL) + (a->UnlockMutex != NULL);
		if (given != 0 && given != 4)
			return CKR_ARGUMENTS_BAD;
		if (a->pReserved != NULL)
			return CKR_ARGUMENTS_BAD;
		/* CKF_LIBRARY_CANT_CREATE_OS_THREADS is not refused although
		 * the backend refreshes in a thread of its own: GnuTLS passes
		 * it, and refusing would make the token invisible there. */
	}
	if (given == 4 && !(a->flags & CKF_OS_LOCKING_OK)) {
		CK_RV rv = a->CreateMutex(&st.app_mutex);
		if (rv != CKR_OK)
			return rv;
		st.cb = *a;
		st.lock = LOCK_APP;
		return CKR_OK;
	}
	if (pthread_mutex_init(&st.os_mutex, NULL) != 0)
		return CKR_CANT_LOCK;
	st.lock = LOCK_OS;
	return CKR_OK;
}

static void lock_destroy(void)
{
	if (st.lock == LOCK_OS)
		pthread_mutex_destroy(&st.os_mutex);
	else if (st.lock == LOCK_APP)
		st.cb.DestroyMutex(st.app_mutex);
	st.lock = LOCK_NONE;
	st.app_mutex = NULL;
}

static void tables_free(void)
{
	session_uninit();
	token_uninit();
	object_uninit();
}

/* In a child after fork(): the parent's threads do not exist here, its
 * connections and locks belong to the parent. Free the memory, touch
 * nothing else (a lock may have been held by a thread of the parent). */
static void forget_inherited(void)
{
	log_debug(LOG_CAT_P11, "C_Initialize: forgetting the state inherited from process %ld",
		  (long)st.pid);
	backend_forget_after_fork(st.be);
	backend_free(st.be);
	tables_free();
	memset(&st, 0, sizeof(st));
}

/* Called by OPENSSL_cleanup(), which applications run at exit (OpenSSL's
 * own atexit handler), often without calling C_Finalize first: the
 * backend's refresh thread must be out of OpenSSL before OpenSSL frees its
 * locks, or it crashes the exiting process. Stop it here (in the process
 * that initialized the module only). */
static void openssl_stopping(void)
{
	if (st.initialized && st.pid == getpid()) {
		st.initialized = false;
		backend_free(st.be);
		st.be = NULL;
	}
}

/* Register openssl_stopping once per process image (a child inherits the
 * registration). The module is first pinned in memory (RTLD_NODELETE), so
 * that a dlclose() after C_Finalize cannot leave OpenSSL a dangling
 * handler. */
static void register_openssl_stop(void)
{
	static bool registered;
	Dl_info info;
	void *self;

	if (registered)
		return;
	if (dladdr((const void *)&openssl_stopping, &info) == 0 || info.dli_fname == NULL)
		return;
	self = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
	if (self == NULL)
		return;
	dlclose(self); /* RTLD_NODELETE stays */
	if (OPENSSL_atexit(openssl_stopping) == 1)
		registered = true;
}

CK_RV p11_state_initialize(CK_VOID_PTR init_args)
{
	CK_RV rv;

	if (st.initialized) {
		if (st.pid == getpid())
			return CKR_CRYPTOKI_ALREADY_INITIALIZED;
		forget_inherited();
	}
	rv = lock_create(init_args);
	if (rv != CKR_OK)
		return rv;
	rv = backend_new(&st.be);
	if (rv != CKR_OK)
		goto fail;
	st.n_slots = backend_account_count(st.be);
	rv = token_init(st.n_slots);
	if (rv == CKR_OK)
		rv = object_init(st.n_slots);
	if (rv == CKR_OK)
		rv = session_init();
	if (rv != CKR_OK)
		goto fail;
	register_openssl_stop();
	st.pid = getpid();
	st.initialized = true;
	return CKR_OK;
fail:
	tables_free();
	if (st.be != NULL)
		backend_free(st.be);
	st.be = NULL;
	lock_destroy();
	return rv;
}

CK_RV p11_state_finalize(CK_VOID_PTR reserved)
{
	CK_RV rv = p11_state_check();

	if (rv != CKR_OK)
		return rv;
	if (reserved != NULL)
		return CKR_ARGUMENTS_BAD;
	p11_lock();
	st.initialized = false;
	tables_free();
	p11_unlock();
	backend_free(st.be);
	st.be = NULL;
	lock_destroy();
	memset(&st, 0, sizeof(st));
	return CKR_OK;
}
