/* SPDX-License-Identifier: Apache-2.0 */
/* Server configuration: defaults for the embedded state directory, an
 * optional INI file (--config) for production settings. */
#ifndef CISRES_CONFIG_H
#define CISRES_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

#define CONFIG_PATH_MAX 4096

typedef struct {
	char state_dir[CONFIG_PATH_MAX]; /* embedded default root; may be empty with --config */
	/* [server] */
	char listen[256];         /* "127.0.0.1:8443" (comma separated allowed) */
	char public_url[512];     /* base URL printed / used in certificates; derived if empty */
	char tls_cert[CONFIG_PATH_MAX];
	char tls_key[CONFIG_PATH_MAX];
	unsigned threads;         /* worker threads; 0 = 2 * CPUs */
	unsigned max_connections; /* default 256 */
	size_t max_body;          /* request body limit, default 1 MiB */
	char name[128];           /* info.name */
	char region[8];           /* info.region, "RO" */
	char lang[16];            /* info.lang, "en-US" */
	/* [http] */
	char http_threading[16]; /* "per-connection" (default) or "pool" */
	/* [hsm] */
	char hsm_module[CONFIG_PATH_MAX];
	char hsm_token[64];
	char hsm_pin_file[CONFIG_PATH_MAX]; /* file holding the user PIN (0600) */
	char hsm_pin_env[64];               /* or: environment variable name */
	char softhsm_conf[CONFIG_PATH_MAX]; /* exported as SOFTHSM2_CONF if set */
	unsigned hsm_pool;
	/* [store] */
	char store_uri[CONFIG_PATH_MAX]; /* "sqlite:/path/cisres.db" */
	/* [ca] */
	char ca_dir[CONFIG_PATH_MAX];
	char ca_org[128];
	int cert_days;
	/* [tsa] */
	char tsa_policy[64];
	/* [policy] */
	policy pol;
} server_config;

/* Defaults derived from state_dir (which may be NULL/empty). */
void config_defaults(server_config *c, const char *state_dir);
/* Overlay an INI file on the current values; unknown keys are errors.
 * 0 or -1 with err filled. */
int config_load(server_config *c, const char *path, char *err, size_t errlen);

#endif
