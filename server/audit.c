/* SPDX-License-Identifier: Apache-2.0 */
/* Hash-chained audit log: H_i = SHA-256(H_{i-1} || canonical(record_i)),
 * H_0 = 32 zero bytes. The canonical form is a length-prefixed
 * concatenation, so no field can bleed into its neighbour:
 *   u64be seq || u64be time_us || (u32be len || bytes) for actor, action,
 *   object, outcome || u8 detail-present || (u32be len || bytes) detail. */
#include "audit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "log.h"

#define AUDIT_VERIFY_TRIES 5

static void audit_u64(EVP_MD_CTX *md, uint64_t v)
{
	uint8_t b[8];
	int i;

	for (i = 7; i >= 0; i--) {
		b[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
	EVP_DigestUpdate(md, b, sizeof(b));
}

static void audit_str(EVP_MD_CTX *md, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;
	uint8_t b[4];

	if (n > UINT32_MAX)
		n = UINT32_MAX;
	b[0] = (uint8_t)(n >> 24);
	b[1] = (uint8_t)(n >> 16);
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
	EVP_DigestUpdate(md, b, sizeof(b));
	if (n > 0)
		EVP_DigestUpdate(md, s, n);
}

void audit_record_hash(const store_audit *rec, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int len = 0;
	uint8_t present;

	memset(out, 0, 32);
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return; /* all-zero hash never verifies as a record hash */
	}
	EVP_DigestUpdate(md, rec->prev, 32);
	audit_u64(md, (uint64_t)rec->seq);
	audit_u64(md, (uint64_t)rec->time_us);
	audit_str(md, rec->actor);
	audit_str(md, rec->action);
	audit_str(md, rec->object);
	audit_str(md, rec->outcome);
	present = rec->detail != NULL ? 1 : 0;
	EVP_DigestUpdate(md, &present, 1);
	audit_str(md, rec->detail);
	if (EVP_DigestFinal_ex(md, out, &len) != 1 || len != 32)
		memset(out, 0, 32);
	EVP_MD_CTX_free(md);
}

static void audit_chain(store_audit *rec, void *ctx)
{
	(void)ctx;
	audit_record_hash(rec, rec->hash);
}

static void audit_copy(char *dst, size_t cap, const char *src)
{
	/* Bounded copy; an over-long field is truncated, never dropped. */
	snprintf(dst, cap, "%s", src != NULL ? src : "");
}

int audit_log(store *s, const char *actor, const char *action, const char *object,
	      const char *outcome, const char *detail)
{
	store_audit rec;
	struct timespec ts;
	int rc;

	if (s == NULL || action == NULL)
		return -1;
	memset(&rec, 0, sizeof(rec));
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return -1;
	rec.time_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	audit_copy(rec.actor, sizeof(rec.actor), actor != NULL ? actor : "system");
	audit_copy(rec.action, sizeof(rec.action), action);
	audit_copy(rec.object, sizeof(rec.object), object);
	audit_copy(rec.outcome, sizeof(rec.outcome), outcome != NULL ? outcome : "success");
	rec.detail = (char *)detail; /* not modified by the store */
	/* Concurrent callers are group-committed by the store: this returns
	 * once the transaction holding this record is durable. */
	rc = store_audit_append(s, &rec, audit_chain, NULL);
	if (rc != STORE_OK) {
		log_err("audit: cannot append record (action %s): store error %d", rec.action, rc);
		return -1;
	}
	return 0;
}

void audit_stats(store *s, store_audit_stats *out)
{
	store_audit_stats_get(s, out);
}

typedef struct {
	int64_t expect_seq;
	uint8_t prev[32];
	int64_t records;
	int64_t first_bad;
	char reason[128];
} audit_walk;

static int audit_walk_cb(const store_audit *rec, void *ctx)
{
	audit_walk *w = ctx;
	uint8_t h[32];

	if (rec->seq != w->expect_seq) {
		w->first_bad = w->expect_seq;
		snprintf(w->reason, sizeof(w->reason),
			 "sequence gap: expected record %lld, found %lld (deleted or reordered)",
			 (long long)w->expect_seq, (long long)rec->seq);
		return 1;
	}
	if (CRYPTO_memcmp(rec->prev, w->prev, 32) != 0) {
		w->first_bad = rec->seq;
		snprintf(w->reason, sizeof(w->reason),
			 "record %lld does not link to the previous record (deleted, inserted or "
			 "reordered)",
			 (long long)rec->seq);
		return 1;
	}
	audit_record_hash(rec, h);
	if (CRYPTO_memcmp(h, rec->hash, 32) != 0) {
		w->first_bad = rec->seq;
		snprintf(w->reason, sizeof(w->reason), "record %lld was modified (hash mismatch)",
			 (long long)rec->seq);
		return 1;
	}
	memcpy(w->prev, rec->hash, 32);
	w->records++;
	w->expect_seq++;
	return 0;
}

int audit_verify(store *s, audit_report *rep)
{
	int64_t hseq = 0, hseq2 = 0;
	uint8_t hhash[32], hhash2[32];
	audit_walk w;
	int tries;

	if (s == NULL || rep == NULL)
		return -1;
	memset(rep, 0, sizeof(*rep));
	for (tries = 0; tries < AUDIT_VERIFY_TRIES; tries++) {
		/* Read the head before and after the walk: when both agree, no
		 * append ran in between and the walk saw a consistent log. */
		if (store_audit_head(s, &hseq, hhash) != STORE_OK)
			return -1;
		memset(&w, 0, sizeof(w));
		w.expect_seq = 1;
		if (store_audit_iter(s, 1, audit_walk_cb, &w) != STORE_OK)
			return -1;
		if (store_audit_head(s, &hseq2, hhash2) != STORE_OK)
			return -1;
		if (hseq == hseq2 && memcmp(hhash, hhash2, 32) == 0)
			break;
	}
	if (tries == AUDIT_VERIFY_TRIES) {
		snprintf(rep->reason, sizeof(rep->reason), "log kept changing during verification");
		return -1;
	}
	rep->records = w.records;
	if (w.first_bad != 0) {
		rep->first_bad = w.first_bad;
		memcpy(rep->reason, w.reason, sizeof(rep->reason));
		return 0;
	}
	/* The chain is intact as far as it goes; it must end at the head. */
	if (w.records != hseq) {
		rep->first_bad = w.records + 1;
		snprintf(rep->reason, sizeof(rep->reason),
			 "log ends at record %lld but the head says %lld (truncated)",
			 (long long)w.records, (long long)hseq);
		return 0;
	}
	if (CRYPTO_memcmp(w.prev, hhash, 32) != 0) {
		rep->first_bad = hseq;
		snprintf(rep->reason, sizeof(rep->reason),
			 "last record %lld does not match the stored head", (long long)hseq);
		return 0;
	}
	return 1;
}
