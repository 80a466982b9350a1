/* SPDX-License-Identifier: Apache-2.0 */
/* The service's open parts, shared by cisresd and cisres-admin: store, HSM,
 * CA, TSA and SAM, opened from a server_config. On an empty embedded state
 * directory, ctx_bootstrap creates everything first. */
#ifndef CISRES_CONTEXT_H
#define CISRES_CONTEXT_H

#include "ca.h"
#include "config.h"
#include "hsm.h"
#include "sam.h"
#include "store/store.h"
#include "tsa.h"

typedef struct {
	server_config cfg;
	store *store;
	hsm *hsm;
	ca *ca;
	tsa *tsa;
	sam *sam;
} context;

/* For the embedded default (cfg->state_dir set): create whatever is missing
 * — directories (0700), softhsm2.conf + token directory, a generated token
 * PIN in hsm-pin (0600), the token, the SQLite store, the CA, TSA and a TLS
 * server certificate for the listen address. Idempotent. 0 or -1. */
int ctx_bootstrap(server_config *cfg);
/* Open all parts. 0 or -1 (logged). */
int ctx_open(context *ctx, const server_config *cfg);
void ctx_close(context *ctx);
/* The HSM user PIN from [hsm] pin_env or pin_file (a regular file not
 * accessible by others, trailing newline removed) into out[cap]. The caller
 * zeroes it after use. 0 or -1 (logged). */
int ctx_get_pin(const server_config *cfg, char *out, size_t cap, size_t *outlen);

#endif
