/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by backend.c, backend_refresh.c and backend_sign.c. */
#ifndef CISRES_BACKEND_INT_H
#define CISRES_BACKEND_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "backend.h"
#include "backend_conf.h"
#include "backend_creds.h"
#include "csc_client.h"

#define BACKEND_MAX_SADS 8
#define BACKEND_RETRY_INTERVAL 30  /* s between attempts while offline */
#define BACKEND_FIRST_WAIT_MS 3000 /* backend_new waits this long for accounts without cache */
#define BACKEND_START_DELAY 2	   /* s: earliest refresh when the cache is fresh */

/* A multi-use SAD of a SCAL1 credential (e-seal path). */
typedef struct {
	char cred_id[BACKEND_ID_MAX]; /* "" = free slot */
	csc_sad sad;		      /* locked memory */
	int remaining;
	time_t expires;
} backend_sad_entry;

typedef struct {
	backend *b;
	size_t index;
	const backend_conf_account *cfg;
	csc_client *cli;
	char *cache_path;

	/* lock: the current snapshot and the token-file state */
	pthread_mutex_t lock;
	backend_snap *snap;
	uint64_t generation;
	bool token_present;
	bool token_refused; /* the service refused this token file content */
	struct timespec token_mtime;
	ino_t token_ino;
	off_t token_size;

	/* guarded by b->lock */
	bool refresh_requested;
	bool refreshed_once;
	bool had_cache;
	time_t next_refresh;

	pthread_mutex_t sad_lock;
	backend_sad_entry sads[BACKEND_MAX_SADS];
} backend_account;

struct backend {
	backend_conf conf;
	backend_account *acc;
	size_t n;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	bool stop;
	bool thread_running;
	pthread_t thread;
	atomic_int abort; /* set at shutdown: interrupts requests */
};

/* backend_refresh.c */
int backend_refresh_start(backend *b);
void backend_refresh_stop(backend *b);
/* Re-read the token file when it changed; sets the client's refresh token.
 * Returns true when a usable token is present. a->lock not held. */
bool backend_refresh_token_load(backend_account *a);
/* Mark the account online/offline (a new snapshot when it changes). */
void backend_refresh_set_online(backend_account *a, bool online);

/* backend_sign.c */
void backend_sign_drop_sads(backend_account *a);

#endif
