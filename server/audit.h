/* SPDX-License-Identifier: Apache-2.0 */
/* Append-only, hash-chained evidence log:
 *   H_i = SHA-256(H_{i-1} || canonical(record_i))
 * appended durably before the answer goes out. */
#ifndef CISRES_AUDIT_H
#define CISRES_AUDIT_H

#include <stdint.h>

#include "store/store.h"

/* actor: "user:alice", "admin:root", "system"; action: "login", "authorize",
 * "sign", "lockout", "unlock", "keygen", "credential.add", ...; object:
 * "credential:<id>", "user:<name>"; outcome: "success" | "failure" | ...;
 * detail: free text or JSON (hashes signed, reason) — never a secret.
 * Returns 0 when durable, -1 otherwise (the caller must then fail the
 * operation). */
int audit_log(store *s, const char *actor, const char *action, const char *object,
	      const char *outcome, const char *detail);

typedef struct {
	int64_t records;     /* records checked */
	int64_t first_bad;   /* seq of the first bad record, or 0 */
	char reason[128];    /* what was wrong */
} audit_report;

/* Walk the chain: recompute every hash, check links, sequence continuity
 * (no gaps, starts at 1) and the stored head. 1 = intact, 0 = broken
 * (report filled), -1 = failure. */
int audit_verify(store *s, audit_report *rep);
/* Group-commit counters of the store's audit log (records appended, commits,
 * failed records, largest group): commits < records when concurrent
 * audit_log calls shared a transaction. */
void audit_stats(store *s, store_audit_stats *out);
/* The canonical hash of a record given its prev hash (used by both). */
void audit_record_hash(const store_audit *rec, uint8_t out[32]);

#endif
