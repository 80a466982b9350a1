/* SPDX-License-Identifier: Apache-2.0 */
/* The persisted cache of one account: $cache_dir/<NAME>.json (0600, written
 * atomically), holding the credentials/list answer in CSC form, so that the
 * token lists its certificates at once and offline. */
#ifndef CISRES_BACKEND_CACHE_H
#define CISRES_BACKEND_CACHE_H

#include <stddef.h>

#include "backend_creds.h"
#include "csc_client.h"

#define BACKEND_CACHE_MAX (8u * 1024u * 1024u)

/* Canonical CSC JSON of a list ({"credentialIDs", "credentialInfos"}),
 * malloc'd; equal lists give equal strings. NULL on allocation failure. */
char *backend_cache_serialize(const csc_credential_list *l, size_t *len);
/* serialize + backend_creds_new. */
backend_credset *backend_cache_credset(const csc_credential_list *l);
/* "<dir>/<name>.json" (malloc'd). */
char *backend_cache_path(const char *dir, const char *name);
/* Load a cache written for this url and user; NULL when absent, stale
 * (other url/user/version), unsafe (not ours, group/other-writable) or
 * malformed. */
backend_credset *backend_cache_load(const char *path, const char *url, const char *user);
/* Write atomically (temporary file + rename), 0600, directory 0700. 0/-1. */
int backend_cache_save(const char *path, const backend_credset *cs, const char *url,
		       const char *user);

#endif
