/* SPDX-License-Identifier: Apache-2.0 */
/* The SAM process: opens the HSM (with the token PIN), the store, the CA,
 * the TSA and a local SAM, drops what it can, and serves the connections
 * its monitor hands it (sam_spawn.c). Also what the HTTP process opens in
 * place of ctx_open when the SAM runs in its own process. */
#ifndef CISRES_SAM_MAIN_H
#define CISRES_SAM_MAIN_H

#include <stdbool.h>

#include "config.h"
#include "context.h"
#include "sam.h"

typedef struct {
	const char *user;   /* switch to this user when started as root; NULL:
			     * "cisres" when it exists; "": never switch */
	unsigned ops;	    /* SAM_OPS_* served to the HTTP process; 0 = FRONT */
	unsigned max_conns; /* connections of the HTTP process; 0 = from cfg */
	bool strict;	    /* refuse unsealed factor secrets (sam_set_strict) */
	bool seal_legacy;   /* first start: seal unsealed factor secrets */
} sam_spawn_opts;

/* SAM side: what ctx_open does, for the SAM process only (the HSM PIN is
 * read here and nowhere else). ctx->sam is a local SAM with the TSA set.
 * 0 or -1 (logged; everything opened is closed again). */
int sam_main_open(const server_config *cfg, context *ctx);
/* The SAM process body after fork: harden, open, drop privileges, report
 * READY on chan, then serve every descriptor the monitor passes (one
 * thread each) until chan closes. Returns the exit status. first: the
 * first start (seal_legacy applies only then). */
int sam_main_run(const server_config *cfg, const sam_spawn_opts *o, int chan, bool first);

/* HTTP side, in place of ctx_open: the store and the client of the SAM
 * process (taken over: freed by ctx_close); no HSM, no CA keys, no TSA
 * (time-stamps come through sam_tsa_*). The caller opens ctx->ca with
 * ca_open(NULL, ...): certificates only, for the chains the API returns.
 * 0 or -1. */
int sam_main_front_open(const server_config *cfg, sam *client, context *ctx);

#endif
