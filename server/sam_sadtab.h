/* SPDX-License-Identifier: Apache-2.0 */
/* The SAM's table of live SADs.
 *
 * A SAD exists only here, in the memory of the SAM process. The database
 * the HTTP process shares never holds one, so a compromised front end can
 * neither write, restore nor replay a SAD: the border is the process. When
 * the SAM process ends, every SAD ends with it (the signer authorizes
 * again; the module does so by itself for e-seal credentials).
 *
 * Entries are keyed by the SHA-256 of the SAD (the SAD itself is never
 * kept), bounded in number, in bytes and per signer, and swept of expired entries as
 * the table is used. Every operation is atomic (one mutex); consume is the
 * spend-before-sign of the SAM. */
#ifndef CISRES_SAM_SADTAB_H
#define CISRES_SAM_SADTAB_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct sam_sadtab sam_sadtab;

typedef struct {
	uint8_t hash[32]; /* SHA-256 of the SAD */
	int64_t user_id;
	char cred_id[STORE_CRED_ID_MAX];
	int hash_alg;	 /* hash_alg of the bound hashes; HASH_NONE: unbound (SCAL1) */
	uint8_t *hashes; /* n_hashes * hash_len bytes (malloc'd in results) */
	size_t n_hashes;
	size_t hash_len;
	int remaining; /* signatures still allowed */
	int64_t expires;
	uint8_t binding[32]; /* the credential row as authorized (sam_factor_cred_binding) */
} sam_sadtab_entry;

typedef enum {
	SADTAB_OK = 0,
	SADTAB_NOTFOUND, /* unknown, spent, or swept */
	SADTAB_EXPIRED,	 /* present but expired: now removed */
	SADTAB_CONFLICT, /* count or hashes do not allow the spend; nothing changed */
	SADTAB_FULL,	 /* the bounds are reached even after a sweep */
	SADTAB_ERR,	 /* bad arguments, out of memory */
} sam_sadtab_rc;

#define SAM_SADTAB_MAX_HASHES 1024

/* max_entries and max_bytes bound the table (hash bytes plus a fixed
 * overhead per entry); max_per_user bounds the live SADs of one signer, so
 * that one signer cannot fill the table for everyone. */
int sam_sadtab_new(size_t max_entries, size_t max_bytes, size_t max_per_user, sam_sadtab **out);
void sam_sadtab_free(sam_sadtab *t);
void sam_sadtab_entry_clear(sam_sadtab_entry *e);

/* Add a copy of e (its hash must be new). */
sam_sadtab_rc sam_sadtab_put(sam_sadtab *t, const sam_sadtab_entry *e, int64_t now);
/* A copy of the live entry into *out (the caller clears it). */
sam_sadtab_rc sam_sadtab_get(sam_sadtab *t, const uint8_t hash[32], int64_t now,
			     sam_sadtab_entry *out);
/* Spend n uses: only when the entry is live and remaining >= n; for a
 * bound entry every one of the n hashes (n * hash_len bytes) must still be
 * in the bound set and is removed from it (each authorized hash is signed
 * once). The entry goes when remaining reaches 0. *out (may be NULL)
 * receives the entry as it is after the spend. */
sam_sadtab_rc sam_sadtab_consume(sam_sadtab *t, const uint8_t hash[32], int64_t now, int n,
				 const uint8_t *hashes, size_t hash_len, sam_sadtab_entry *out);
/* Remove a live entry and return it as it was (extendTransaction). */
sam_sadtab_rc sam_sadtab_take(sam_sadtab *t, const uint8_t hash[32], int64_t now,
			      sam_sadtab_entry *out);
sam_sadtab_rc sam_sadtab_delete(sam_sadtab *t, const uint8_t hash[32]);
size_t sam_sadtab_count(sam_sadtab *t);

#endif
