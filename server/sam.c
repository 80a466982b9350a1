/* SPDX-License-Identifier: Apache-2.0 */
/* Signature Activation Module. The only code that lets a signer's key be
 * used: it verifies the factors (credential PIN, TOTP), issues SADs bound to
 * signer + credential + hash set + count + expiry, spends them atomically
 * before signing, and audits every decision durably before answering.
 *
 * A SAD is 256 random bits, base64url; the store keeps only its SHA-256.
 * Every request is checked in full here; nothing is trusted from the
 * caller (the HTTP layer) except the authenticated user id. */
#include "sam.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "audit.h"
#include "b64.h"
#include "digestinfo.h"
#include "kdf.h"
#include "log.h"
#include "sam_client.h"
#include "sam_factor.h"
#include "sam_lock.h"
#include "sam_login.h"
#include "sam_sadtab.h"
#include "secmem.h"
#include "totp.h"

#define SAM_SAD_BYTES 32
#define SAM_PIN_MIN 4
#define SAM_PSS_SALT_SLACK 32 /* salt may exceed the hash length by this much */
#define SAM_DETAIL_MAX (1u << 20)
#define SAM_KEY_ID_LEN 16
#define SAM_SADS_MAX (1u << 20)	       /* live SADs held by the SAM */
#define SAM_SAD_BYTES_MAX (256u << 20) /* and their bytes */
#define SAM_SADS_PER_USER 4096	       /* live SADs of one signer */
#define SAM_CERT_CACHE 256	       /* credentials whose validity is remembered */

/* The validity period of a credential's certificate, remembered by the
 * SHA-256 of the DER so that a signature does not parse X.509. */
typedef struct {
	uint8_t digest[32];
	time_t not_before, not_after;
	bool used;
} sam_cert_entry;

struct sam {
	sam_client *remote; /* non-NULL: every call goes to a SAM process */
	hsm *hsm;
	store *store;
	const policy *pol;
	bool strict; /* refuse unsealed factor secrets */
	tsa *tsa;    /* not owned; served by sam_tsa_* */
	pthread_mutex_t tsa_mu;
	sam_sadtab *sads; /* the live SADs: only here, never in the store */
	sam_lock *locks;  /* factor failure counters, kept in the HSM */
	pthread_mutex_t cert_mu;
	sam_cert_entry certs[SAM_CERT_CACHE];
	unsigned cert_next;
};

static const char *const sam_names[] = {
    [SAM_OK] = "SAM_OK",
    [SAM_E_REQUEST] = "SAM_E_REQUEST",
    [SAM_E_NO_CREDENTIAL] = "SAM_E_NO_CREDENTIAL",
    [SAM_E_DISABLED] = "SAM_E_DISABLED",
    [SAM_E_PIN] = "SAM_E_PIN",
    [SAM_E_OTP] = "SAM_E_OTP",
    [SAM_E_LOCKED] = "SAM_E_LOCKED",
    [SAM_E_FACTORS] = "SAM_E_FACTORS",
    [SAM_E_HASHES_REQUIRED] = "SAM_E_HASHES_REQUIRED",
    [SAM_E_MULTISIGN] = "SAM_E_MULTISIGN",
    [SAM_E_SAD] = "SAM_E_SAD",
    [SAM_E_HASH_MISMATCH] = "SAM_E_HASH_MISMATCH",
    [SAM_E_COUNT] = "SAM_E_COUNT",
    [SAM_E_ALGO] = "SAM_E_ALGO",
    [SAM_E_CERT] = "SAM_E_CERT",
    [SAM_E_INTERNAL] = "SAM_E_INTERNAL",
    [SAM_E_SAD_EXPIRED] = "SAM_E_SAD_EXPIRED",
    [SAM_E_UNAVAILABLE] = "SAM_E_UNAVAILABLE",
};

const char *sam_status_name(sam_status st)
{
	if ((unsigned)st < sizeof(sam_names) / sizeof(sam_names[0]) && sam_names[st] != NULL)
		return sam_names[st];
	return "SAM_E_UNKNOWN";
}

/* ---- lifetime ---- */

int sam_new(const sam_deps *deps, sam **out)
{
	sam *m;

	if (deps == NULL || out == NULL || deps->store == NULL || deps->policy == NULL)
		return -1;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -1;
	m->hsm = deps->hsm;
	m->store = deps->store;
	m->pol = deps->policy;
	pthread_mutex_init(&m->tsa_mu, NULL);
	pthread_mutex_init(&m->cert_mu, NULL);
	if (sam_sadtab_new(SAM_SADS_MAX, SAM_SAD_BYTES_MAX, SAM_SADS_PER_USER, &m->sads) != 0 ||
	    sam_lock_new(deps->hsm, &m->locks) != 0) {
		sam_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

int sam_new_remote(sam_client *c, sam **out)
{
	sam *m;

	if (c == NULL || out == NULL)
		return -1;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -1;
	m->remote = c;
	pthread_mutex_init(&m->tsa_mu, NULL);
	pthread_mutex_init(&m->cert_mu, NULL);
	*out = m;
	return 0;
}

void sam_free(sam *m)
{
	if (m == NULL)
		return;
	if (m->remote != NULL)
		sam_client_free(m->remote);
	sam_sadtab_free(m->sads);
	sam_lock_free(m->locks);
	pthread_mutex_destroy(&m->cert_mu);
	pthread_mutex_destroy(&m->tsa_mu);
	free(m);
}

bool sam_is_remote(const sam *m)
{
	return m != NULL && m->remote != NULL;
}

sam_client *sam_remote(sam *m)
{
	return m != NULL ? m->remote : NULL;
}

void sam_set_tsa(sam *m, tsa *t)
{
	if (m == NULL || m->remote != NULL)
		return;
	pthread_mutex_lock(&m->tsa_mu);
	m->tsa = t;
	pthread_mutex_unlock(&m->tsa_mu);
}

void sam_set_strict(sam *m, bool strict)
{
	if (m != NULL && m->remote == NULL)
		m->strict = strict;
}

/* ---- audit detail: a bounded growable string with a sticky failure ---- */

typedef struct {
	char *p;
	size_t len, cap;
	bool fail;
} sam_buf;

static void sb_add(sam_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_add(sam_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->fail)
		return;
	for (;;) {
		size_t avail = b->cap - b->len;
		va_start(ap, fmt);
		n = avail > 0 ? vsnprintf(b->p + b->len, avail, fmt, ap) : -1;
		va_end(ap);
		if (n >= 0 && (size_t)n < avail) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t ncap = b->cap ? b->cap * 2 : 256;
			char *np;
			if (n > 0 && ncap < b->len + (size_t)n + 1)
				ncap = b->len + (size_t)n + 1;
			if (ncap > SAM_DETAIL_MAX) {
				b->fail = true;
				return;
			}
			np = realloc(b->p, ncap);
			if (np == NULL) {
				b->fail = true;
				return;
			}
			b->p = np;
			b->cap = ncap;
		}
	}
}

static void sb_hex(sam_buf *b, const uint8_t *v, size_t n)
{
	char hx[2 * HASH_MAX_LEN + 1];

	if (n > HASH_MAX_LEN || hex_encode(v, n, hx, sizeof(hx)) != 0) {
		b->fail = true;
		return;
	}
	sb_add(b, "%s", hx);
}

/* JSON string escaping for the few free-text values (ids are hex). */
static void sb_str(sam_buf *b, const char *s)
{
	sb_add(b, "\"");
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			sb_add(b, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			sb_add(b, "\\u%04x", ch);
		else
			sb_add(b, "%c", ch);
	}
	sb_add(b, "\"");
}

static const char *sb_get(sam_buf *b)
{
	return b->fail || b->p == NULL ? "{\"detail\":\"unavailable\"}" : b->p;
}

static void sb_free(sam_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- small helpers ---- */

/* Actor string for the audit: "user:<name>". */
static void sam_actor(sam *m, int64_t user_id, char *buf, size_t cap)
{
	store_user u;

	memset(&u, 0, sizeof(u));
	if (user_id > 0 && store_user_get_id(m->store, user_id, &u) == STORE_OK)
		snprintf(buf, cap, "user:%s", u.name);
	else
		snprintf(buf, cap, "user:#%lld", (long long)user_id);
	sec_zero(&u, sizeof(u));
}

static bool sam_cred_id_ok(const char *id)
{
	size_t n = strnlen(id, STORE_CRED_ID_MAX);
	return n > 0 && n < STORE_CRED_ID_MAX;
}

static void sam_sad_hash(const char *sad, size_t len, uint8_t out[32])
{
	unsigned int n = 0;

	if (EVP_Digest(sad, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32)
		memset(out, 0, 32);
}

/* A fresh SAD string and its storage hash. */
static int sam_sad_new(char out[SAM_SAD_MAX], uint8_t hash[32])
{
	uint8_t raw[SAM_SAD_BYTES];
	char *b = NULL;
	size_t i, j = 0, n;
	int rc = -1;

	if (sec_random(raw, sizeof(raw)) != 0)
		goto out;
	b = b64_encode(raw, sizeof(raw));
	if (b == NULL)
		goto out;
	n = strlen(b);
	for (i = 0; i < n && b[i] != '=' && j + 1 < SAM_SAD_MAX; i++)
		out[j++] = b[i] == '+' ? '-' : (b[i] == '/' ? '_' : b[i]);
	out[j] = '\0';
	if (j != (SAM_SAD_BYTES * 4 + 2) / 3)
		goto out;
	sam_sad_hash(out, j, hash);
	rc = 0;
out:
	sec_zero(raw, sizeof(raw));
	if (b != NULL)
		sec_strfree(b);
	if (rc != 0)
		sec_zero(out, SAM_SAD_MAX);
	return rc;
}

/* The request's SAD -> its storage hash; false when obviously malformed. */
static bool sam_sad_ref(const char *sad, size_t len, uint8_t hash[32])
{
	if (sad == NULL || len == 0 || len >= SAM_SAD_MAX)
		return false;
	sam_sad_hash(sad, len, hash);
	return true;
}

/* Validate a list of hashes for an algorithm. */
static bool sam_hashes_ok(hash_alg h, const sam_hash *hs, size_t n)
{
	const hash_info *hi = hash_by_id(h);
	size_t i;

	if (hi == NULL || h == HASH_NONE || n > SAM_MAX_HASHES || (n > 0 && hs == NULL))
		return false;
	for (i = 0; i < n; i++)
		if (hs[i].len != hi->len || hs[i].len > HASH_MAX_LEN)
			return false;
	return true;
}

/* n hashes of hlen bytes each, flattened (malloc'd). */
static uint8_t *sam_flatten(const sam_hash *hs, size_t n, size_t hlen)
{
	uint8_t *p;
	size_t i;

	if (n == 0 || n > SAM_MAX_HASHES || hlen == 0 || hlen > HASH_MAX_LEN)
		return NULL;
	p = malloc(n * hlen);
	if (p == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		memcpy(p + i * hlen, hs[i].v, hlen);
	return p;
}

/* Are all request hashes in the SAD's bound set (each entry used once)? */
static bool sam_hashes_bound(const sam_sadtab_entry *sad, const sam_hash *hs, size_t n)
{
	bool *used;
	size_t i, j;
	bool ok = true;

	if (n > sad->n_hashes || sad->hash_len == 0)
		return false;
	used = calloc(sad->n_hashes, sizeof(*used));
	if (used == NULL)
		return false;
	for (i = 0; i < n && ok; i++) {
		bool found = false;
		if (hs[i].len != sad->hash_len) {
			ok = false;
			break;
		}
		for (j = 0; j < sad->n_hashes; j++) {
			if (!used[j] &&
			    sec_equal(sad->hashes + j * sad->hash_len, hs[i].v, sad->hash_len)) {
				used[j] = true;
				found = true;
				break;
			}
		}
		ok = found;
	}
	free(used);
	return ok;
}

static void sam_detail_hashes(sam_buf *b, hash_alg h, const sam_hash *hs, size_t n)
{
	const hash_info *hi = hash_by_id(h);
	size_t i;

	sb_add(b, ",\"hashAlgo\":\"%s\",\"hashes\":[", hi != NULL ? hi->name : "none");
	for (i = 0; i < n; i++) {
		sb_add(b, i ? ",\"" : "\"");
		sb_hex(b, hs[i].v, hs[i].len <= HASH_MAX_LEN ? hs[i].len : 0);
		sb_add(b, "\"");
	}
	sb_add(b, "]");
}

/* The first 8 bytes of the SAD hash identify a SAD in the audit log
 * (correlates authorize -> sign) without revealing it. */
static void sam_detail_sadref(sam_buf *b, const uint8_t hash[32])
{
	sb_add(b, ",\"sadRef\":\"");
	sb_hex(b, hash, 8);
	sb_add(b, "\"");
}

/* Locked when the store says so (an operator's lock, or its copy of the
 * count) or when the count in the HSM reached the threshold: the store can
 * be edited or restored by the front end, the HSM cannot. */
static sam_status sam_cred_lock_state(sam *m, const store_credential *cr, uint32_t *failures)
{
	char name[SAM_LOCK_NAME_MAX];
	uint32_t n = 0;

	if (failures != NULL)
		*failures = 0;
	sam_lock_name_cred(cr->id, name);
	if (sam_lock_get(m->locks, name, &n) != 0)
		return SAM_E_INTERNAL;
	if (failures != NULL)
		*failures = n;
	if (cr->pin_locked ||
	    (m->pol->lockout_threshold > 0 && n >= (uint32_t)m->pol->lockout_threshold))
		return SAM_E_LOCKED;
	return SAM_OK;
}

/* Credential checks common to authorize, extend and sign. */
static sam_status sam_cred_usable(sam *m, int64_t user_id, const char *cred_id,
				  store_credential *cr)
{
	int v = store_cred_get(m->store, cred_id, cr);

	if (v == STORE_NOTFOUND)
		return SAM_E_NO_CREDENTIAL;
	if (v != STORE_OK)
		return SAM_E_INTERNAL;
	if (cr->user_id != user_id)
		return SAM_E_NO_CREDENTIAL; /* indistinguishable from unknown */
	if (!cr->enabled)
		return SAM_E_DISABLED;
	return sam_cred_lock_state(m, cr, NULL);
}

/* Count a factor failure on the credential; SAM_E_LOCKED when this one
 * locked it (audited as "lockout"). */
static sam_status sam_factor_fail(sam *m, const store_credential *cr, const char *actor,
				  sam_status st, int *failures_out)
{
	char obj[STORE_CRED_ID_MAX + 16], det[96], name[SAM_LOCK_NAME_MAX];
	uint32_t count = 0;
	int failures = 0, shown = 0;
	bool locked = false, shown_locked = false;

	snprintf(obj, sizeof(obj), "credential:%s", cr->id);
	/* The HSM counts; the store keeps a copy for operators to see. */
	sam_lock_name_cred(cr->id, name);
	if (sam_lock_fail(m->locks, name, &count) != 0)
		return SAM_E_INTERNAL;
	if (store_cred_pin_fail(m->store, cr->id, m->pol->lockout_threshold, &shown,
				&shown_locked) != STORE_OK)
		return SAM_E_INTERNAL;
	failures = m->hsm != NULL ? (count > INT32_MAX ? INT32_MAX : (int)count) : shown;
	locked = m->hsm != NULL ? (m->pol->lockout_threshold > 0 &&
				   count >= (uint32_t)m->pol->lockout_threshold)
				: shown_locked;
	if (failures_out != NULL)
		*failures_out = failures;
	if (locked) {
		snprintf(det, sizeof(det), "{\"failures\":%d}", failures);
		if (audit_log(m->store, actor, "lockout", obj, "success", det) != 0)
			return SAM_E_INTERNAL;
		return SAM_E_LOCKED;
	}
	return st;
}

/* Verify PIN (and OTP when the credential needs it). */
static sam_status sam_check_factors(sam *m, const store_credential *cr, const char *actor,
				    const char *pin, size_t pin_len, const char *otp,
				    size_t otp_len, int *failures_out, const char **why)
{
	store_user u;
	char kdf[STORE_HASH_MAX];
	uint8_t seed[STORE_OTPKEY_MAX];
	size_t seedlen = 0;
	sam_factor_rc fr;
	int64_t step;
	int v;

	if (pin == NULL || pin_len == 0 || pin_len > SAM_SECRET_MAX) {
		*why = "PIN missing";
		return SAM_E_FACTORS;
	}
	if (cr->auth_otp && (otp == NULL || otp_len == 0 || otp_len > SAM_SECRET_MAX)) {
		*why = "OTP missing";
		return SAM_E_OTP;
	}
	fr = sam_factor_open_pin(m->hsm, m->strict, cr, cr->pin_hash, kdf);
	if (fr != SAM_FACTOR_OK) {
		*why = fr == SAM_FACTOR_LEGACY_REFUSED ? "unsealed PIN verifier refused (strict)"
		       : fr == SAM_FACTOR_BAD	       ? "PIN verifier does not authenticate"
						       : "PIN verifier cannot be opened";
		return SAM_E_INTERNAL;
	}
	v = sam_factor_pin_check(m->hsm, cr->id, pin, pin_len, kdf);
	sec_zero(kdf, sizeof(kdf));
	if (v < 0) {
		*why = "PIN hash unusable";
		return SAM_E_INTERNAL;
	}
	if (v == 0) {
		*why = "wrong PIN";
		return sam_factor_fail(m, cr, actor, SAM_E_PIN, failures_out);
	}
	if (!cr->auth_otp)
		return SAM_OK;

	memset(&u, 0, sizeof(u));
	if (store_user_get_id(m->store, cr->user_id, &u) != STORE_OK) {
		*why = "owner not found";
		return SAM_E_INTERNAL;
	}
	if (u.otp_key_len == 0) {
		sec_zero(&u, sizeof(u));
		*why = "no OTP enrolled";
		return SAM_E_OTP;
	}
	fr = sam_factor_open_otp(m->hsm, m->strict, u.id, u.otp_key, u.otp_key_len, seed, &seedlen);
	if (fr != SAM_FACTOR_OK) {
		sec_zero(&u, sizeof(u));
		*why = fr == SAM_FACTOR_LEGACY_REFUSED ? "unsealed OTP seed refused (strict)"
		       : fr == SAM_FACTOR_BAD	       ? "OTP seed does not authenticate"
						       : "OTP seed cannot be opened";
		return SAM_E_INTERNAL;
	}
	step = totp_check(seed, seedlen, otp, otp_len, policy_now(m->pol), m->pol->totp_window);
	sec_zero(seed, sizeof(seed));
	if (step < 0) {
		sec_zero(&u, sizeof(u));
		*why = "wrong or expired OTP";
		return sam_factor_fail(m, cr, actor, SAM_E_OTP, failures_out);
	}
	v = store_user_use_otp_step(m->store, u.id, step);
	sec_zero(&u, sizeof(u));
	if (v == STORE_CONFLICT) {
		*why = "OTP already used";
		return sam_factor_fail(m, cr, actor, SAM_E_OTP, failures_out);
	}
	if (v != STORE_OK) {
		*why = "OTP store failure";
		return SAM_E_INTERNAL;
	}
	return SAM_OK;
}

/* Is the row's binding the one a SAD remembers? */
static bool sam_binding_same(const store_credential *cr, const uint8_t binding[32])
{
	uint8_t now[32];

	return sam_factor_cred_binding(cr, now) == 0 && sec_equal(now, binding, sizeof(now));
}

/* After a success: the count back to 0, in the HSM and the store copy. */
static sam_status sam_cred_reset_failures(sam *m, const store_credential *cr)
{
	char name[SAM_LOCK_NAME_MAX];
	uint32_t n = 0;

	sam_lock_name_cred(cr->id, name);
	if (sam_lock_get(m->locks, name, &n) != 0 || (n > 0 && sam_lock_reset(m->locks, name) != 0))
		return SAM_E_INTERNAL;
	if (cr->pin_failures > 0 && store_cred_pin_reset(m->store, cr->id) != STORE_OK)
		return SAM_E_INTERNAL;
	return SAM_OK;
}

/* Keep a new SAD bound as given; fills res. */
static sam_status sam_mint(sam *m, int64_t user_id, const char *cred_id, const uint8_t binding[32],
			   hash_alg h, const sam_hash *hs, size_t n, int remaining,
			   sam_authorize_res *res, uint8_t sad_hash[32])
{
	sam_sadtab_entry sad;
	const hash_info *hi = n > 0 ? hash_by_id(h) : NULL;
	int64_t now = (int64_t)policy_now(m->pol);
	sam_sadtab_rc v;

	memset(&sad, 0, sizeof(sad));
	if (sam_sad_new(res->sad, sad_hash) != 0)
		return SAM_E_INTERNAL;
	memcpy(sad.hash, sad_hash, 32);
	sad.user_id = user_id;
	snprintf(sad.cred_id, sizeof(sad.cred_id), "%s", cred_id);
	sad.hash_alg = n > 0 ? (int)h : (int)HASH_NONE;
	if (n > 0) {
		if (hi == NULL)
			goto fail;
		sad.hash_len = hi->len;
		sad.n_hashes = n;
		sad.hashes = sam_flatten(hs, n, hi->len);
		if (sad.hashes == NULL)
			goto fail;
	}
	sad.remaining = remaining;
	sad.expires = now + m->pol->sad_ttl;
	memcpy(sad.binding, binding, sizeof(sad.binding));
	v = sam_sadtab_put(m->sads, &sad, now);
	sam_sadtab_entry_clear(&sad);
	if (v != SADTAB_OK) {
		if (v == SADTAB_FULL)
			log_warn("sam: the SAD table is full (%zu live SADs)",
				 sam_sadtab_count(m->sads));
		goto fail;
	}
	res->expires_in = m->pol->sad_ttl;
	return SAM_OK;
fail:
	sam_sadtab_entry_clear(&sad);
	sec_zero(res->sad, sizeof(res->sad));
	return SAM_E_INTERNAL;
}

/* ---- authorize ---- */

static sam_status sam_local_authorize(sam *m, const sam_authorize_req *req, sam_authorize_res *res)
{
	store_credential cr;
	char actor[STORE_NAME_MAX + 16], obj[STORE_CRED_ID_MAX + 16];
	const char *why = NULL;
	uint8_t sad_hash[32], binding[32];
	sam_buf det = {0};
	sam_status st;
	bool have_cred = false;

	if (res == NULL)
		return SAM_E_REQUEST;
	memset(res, 0, sizeof(*res));
	memset(&cr, 0, sizeof(cr));
	if (m == NULL || req == NULL || req->user_id <= 0 || !sam_cred_id_ok(req->credential_id))
		return res->status = SAM_E_REQUEST;
	sam_actor(m, req->user_id, actor, sizeof(actor));
	snprintf(obj, sizeof(obj), "credential:%s", req->credential_id);

	/* Shape of the request. */
	if (req->n_hashes > SAM_MAX_HASHES ||
	    (req->n_hashes > 0 && !sam_hashes_ok(req->hash, req->hashes, req->n_hashes)) ||
	    (req->pin == NULL && req->pin_len > 0) || (req->otp == NULL && req->otp_len > 0) ||
	    req->pin_len > SAM_SECRET_MAX || req->otp_len > SAM_SECRET_MAX) {
		st = SAM_E_REQUEST;
		why = "malformed request";
		goto out;
	}

	st = sam_cred_usable(m, req->user_id, req->credential_id, &cr);
	if (st != SAM_OK) {
		why = st == SAM_E_NO_CREDENTIAL ? "no such credential for this user"
		      : st == SAM_E_DISABLED	? "credential disabled"
		      : st == SAM_E_LOCKED	? "credential locked"
						: "store failure";
		goto out;
	}
	have_cred = true;
	if (req->num_signatures < 1 || req->num_signatures > cr.multisign ||
	    req->num_signatures > m->pol->max_multisign) {
		st = SAM_E_MULTISIGN;
		why = "numSignatures out of range";
		goto out;
	}
	if (cr.scal >= 2 && req->n_hashes == 0) {
		st = SAM_E_HASHES_REQUIRED;
		why = "SCAL2 credential: hashes required";
		goto out;
	}
	if (req->n_hashes > 0 && req->n_hashes != (size_t)req->num_signatures) {
		st = SAM_E_REQUEST;
		why = "number of hashes differs from numSignatures";
		goto out;
	}

	st = sam_check_factors(m, &cr, actor, req->pin, req->pin_len, req->otp, req->otp_len,
			       &res->pin_failures, &why);
	if (st != SAM_OK)
		goto out;
	if (sam_cred_reset_failures(m, &cr) != SAM_OK) {
		st = SAM_E_INTERNAL;
		why = "failure counter not reset";
		goto out;
	}

	/* The row opened its PIN verifier, so it is the row as enrolled: the
	 * SAD remembers it. */
	if (sam_factor_cred_binding(&cr, binding) != 0) {
		st = SAM_E_INTERNAL;
		why = "credential binding";
		goto out;
	}
	st = sam_mint(m, req->user_id, cr.id, binding, req->hash, req->hashes, req->n_hashes,
		      req->num_signatures, res, sad_hash);
	if (st != SAM_OK) {
		why = "SAD issuance failed";
		goto out;
	}

out:
	sb_add(&det, "{\"numSignatures\":%d", req->num_signatures);
	if (st == SAM_OK)
		sam_detail_sadref(&det, sad_hash);
	if (req->n_hashes > 0 && req->n_hashes <= SAM_MAX_HASHES && req->hashes != NULL)
		sam_detail_hashes(&det, req->hash, req->hashes, req->n_hashes);
	if (why != NULL) {
		sb_add(&det, ",\"reason\":");
		sb_str(&det, why);
	}
	if (have_cred && (st == SAM_E_PIN || st == SAM_E_OTP || st == SAM_E_LOCKED))
		sb_add(&det, ",\"failures\":%d", res->pin_failures);
	sb_add(&det, "}");
	if (audit_log(m->store, actor, "authorize", obj, st == SAM_OK ? "success" : "failure",
		      sb_get(&det)) != 0 &&
	    st == SAM_OK) {
		/* Not durable in the log: the SAD must not be usable. */
		(void)sam_sadtab_delete(m->sads, sad_hash);
		res->expires_in = 0;
		st = SAM_E_INTERNAL;
	}
	sb_free(&det);
	store_credential_clear(&cr);
	if (st != SAM_OK)
		sec_zero(res->sad, sizeof(res->sad));
	return res->status = st;
}

/* ---- extendTransaction ---- */

static sam_status sam_local_extend(sam *m, const sam_extend_req *req, sam_authorize_res *res)
{
	store_credential cr;
	sam_sadtab_entry old;
	char actor[STORE_NAME_MAX + 16], obj[STORE_CRED_ID_MAX + 16];
	const char *why = NULL;
	uint8_t old_hash[32], new_hash[32];
	sam_buf det = {0};
	sam_status st;
	int v;

	if (res == NULL)
		return SAM_E_REQUEST;
	memset(res, 0, sizeof(*res));
	memset(&cr, 0, sizeof(cr));
	memset(&old, 0, sizeof(old));
	memset(old_hash, 0, sizeof(old_hash));
	if (m == NULL || req == NULL || req->user_id <= 0 || !sam_cred_id_ok(req->credential_id))
		return res->status = SAM_E_REQUEST;
	sam_actor(m, req->user_id, actor, sizeof(actor));
	snprintf(obj, sizeof(obj), "credential:%s", req->credential_id);

	if (req->n_hashes > SAM_MAX_HASHES ||
	    (req->n_hashes > 0 && !sam_hashes_ok(req->hash, req->hashes, req->n_hashes))) {
		st = SAM_E_REQUEST;
		why = "malformed request";
		goto out;
	}
	if (!sam_sad_ref(req->sad, req->sad_len, old_hash)) {
		st = SAM_E_SAD;
		why = "malformed SAD";
		goto out;
	}
	st = sam_cred_usable(m, req->user_id, req->credential_id, &cr);
	if (st != SAM_OK) {
		why = "credential not usable";
		goto out;
	}
	v = sam_sadtab_get(m->sads, old_hash, (int64_t)policy_now(m->pol), &old);
	if (v == SADTAB_EXPIRED) {
		st = SAM_E_SAD_EXPIRED;
		why = "SAD expired";
		goto out;
	}
	if (v != SADTAB_OK || old.user_id != req->user_id || strcmp(old.cred_id, cr.id) != 0 ||
	    old.remaining < 1) {
		st = v == SADTAB_OK || v == SADTAB_NOTFOUND ? SAM_E_SAD : SAM_E_INTERNAL;
		why = "SAD unknown, spent or bound elsewhere";
		goto out;
	}
	if (!sam_binding_same(&cr, old.binding)) {
		st = SAM_E_SAD;
		why = "credential changed since the authorization";
		goto out;
	}
	if ((cr.scal >= 2 || old.hash_alg != HASH_NONE) && req->n_hashes == 0) {
		/* A bound SAD never turns into an unbound one. */
		st = SAM_E_HASHES_REQUIRED;
		why = "hashes required";
		goto out;
	}
	if (req->n_hashes > (size_t)old.remaining) {
		st = SAM_E_COUNT;
		why = "more hashes than the SAD has signatures left";
		goto out;
	}
	sam_sadtab_entry_clear(&old);
	/* Spend the old SAD entirely, atomically; the count carries over. */
	v = sam_sadtab_take(m->sads, old_hash, (int64_t)policy_now(m->pol), &old);
	if (v != SADTAB_OK) {
		st = v == SADTAB_NOTFOUND  ? SAM_E_SAD
		     : v == SADTAB_EXPIRED ? SAM_E_SAD_EXPIRED
					   : SAM_E_INTERNAL;
		why = "SAD spent concurrently";
		goto out;
	}
	if (req->n_hashes > (size_t)old.remaining) {
		st = SAM_E_COUNT;
		why = "SAD was used concurrently";
		goto out;
	}
	st = sam_mint(m, req->user_id, cr.id, old.binding, req->hash, req->hashes, req->n_hashes,
		      old.remaining, res, new_hash);
	if (st != SAM_OK)
		why = "SAD issuance failed";
out:
	sb_add(&det, "{\"oldSadRef\":\"");
	sb_hex(&det, old_hash, 8);
	sb_add(&det, "\"");
	if (st == SAM_OK) {
		sam_detail_sadref(&det, new_hash);
		sb_add(&det, ",\"remaining\":%d", old.remaining);
	}
	if (req->n_hashes > 0 && req->n_hashes <= SAM_MAX_HASHES && req->hashes != NULL)
		sam_detail_hashes(&det, req->hash, req->hashes, req->n_hashes);
	if (why != NULL) {
		sb_add(&det, ",\"reason\":");
		sb_str(&det, why);
	}
	sb_add(&det, "}");
	if (audit_log(m->store, actor, "extend", obj, st == SAM_OK ? "success" : "failure",
		      sb_get(&det)) != 0 &&
	    st == SAM_OK) {
		(void)sam_sadtab_delete(m->sads, new_hash);
		st = SAM_E_INTERNAL;
	}
	sb_free(&det);
	sam_sadtab_entry_clear(&old);
	store_credential_clear(&cr);
	if (st != SAM_OK) {
		sec_zero(res->sad, sizeof(res->sad));
		res->expires_in = 0;
	}
	return res->status = st;
}

/* ---- sign ---- */

/* Is the credential's certificate valid at 'now'? The validity period is
 * remembered by the credential's binding digest (which covers the
 * certificate's SHA-256): no X.509 parsing, and no second hash of the
 * certificate, per signature. */
static bool sam_cert_valid(sam *m, const uint8_t binding[32], const store_credential *cr,
			   time_t now)
{
	const unsigned char *p = cr->cert_der;
	const uint8_t *d = binding;
	sam_cert_entry e;
	X509 *x;
	bool found = false, ok;

	if (cr->cert_der == NULL || cr->cert_len == 0 || cr->cert_len > (1u << 20))
		return false;
	pthread_mutex_lock(&m->cert_mu);
	for (unsigned i = 0; i < SAM_CERT_CACHE && !found; i++) {
		if (m->certs[i].used && memcmp(m->certs[i].digest, d, 32) == 0) {
			e = m->certs[i];
			found = true;
		}
	}
	pthread_mutex_unlock(&m->cert_mu);
	if (!found) {
		struct tm tb, ta;

		x = d2i_X509(NULL, &p, (long)cr->cert_len);
		if (x == NULL)
			return false;
		ok = p == cr->cert_der + cr->cert_len &&
		     ASN1_TIME_to_tm(X509_get0_notBefore(x), &tb) == 1 &&
		     ASN1_TIME_to_tm(X509_get0_notAfter(x), &ta) == 1;
		X509_free(x);
		if (!ok)
			return false;
		memset(&e, 0, sizeof(e));
		memcpy(e.digest, d, 32);
		e.not_before = timegm(&tb);
		e.not_after = timegm(&ta);
		e.used = true;
		pthread_mutex_lock(&m->cert_mu);
		m->certs[m->cert_next] = e;
		m->cert_next = (m->cert_next + 1) % SAM_CERT_CACHE;
		pthread_mutex_unlock(&m->cert_mu);
	}
	return e.not_before < now && now < e.not_after;
}

/* Resolve the digest algorithm and check the algorithm fits the key. */
static sam_status sam_sign_algo(const store_credential *cr, const sam_sign_req *req,
				const sigalg_info **sa_out, hash_alg *h_out)
{
	const sigalg_info *sa = sigalg_by_id(req->algo);
	const hash_info *hi;
	hash_alg h;

	if (sa == NULL || sa->key != (key_kind)cr->key_kind)
		return SAM_E_ALGO;
	if (sa->hash != HASH_NONE) {
		if (req->hash != HASH_NONE && req->hash != sa->hash)
			return SAM_E_ALGO;
		h = sa->hash;
	} else {
		h = req->hash;
	}
	hi = hash_by_id(h);
	if (h == HASH_NONE || hi == NULL)
		return SAM_E_ALGO;
	if (sa->pss) {
		const hash_info *mgf = hash_by_id(req->pss_mgf_hash);
		size_t em_len = ((size_t)(cr->key_bits > 0 ? cr->key_bits : 0) + 6) / 8;
		if (cr->key_kind != KEY_RSA || mgf == NULL || req->pss_mgf_hash == HASH_NONE)
			return SAM_E_ALGO;
		if (req->pss_salt_len < 0 ||
		    (size_t)req->pss_salt_len > hi->len + SAM_PSS_SALT_SLACK ||
		    em_len < hi->len + (size_t)req->pss_salt_len + 2)
			return SAM_E_ALGO;
	}
	*sa_out = sa;
	*h_out = h;
	return SAM_OK;
}

static sam_status sam_sign_one(sam *m, const store_credential *cr, const sigalg_info *sa,
			       hash_alg h, const sam_sign_req *req, const sam_hash *hv,
			       uint8_t **sig, size_t *siglen)
{
	uint8_t di[HASH_MAX_LEN + 32];
	const uint8_t *in = hv->v;
	size_t inlen = hv->len, cap, dil = 0;
	hsm_mech mech;
	hsm_pss pss, *pp = NULL;
	int v;

	*sig = NULL;
	*siglen = 0;
	if (sa->key == KEY_EC) {
		mech = HSM_MECH_ECDSA;
	} else if (sa->pss) {
		mech = HSM_MECH_RSA_PSS;
		pss.hash = h;
		pss.mgf_hash = req->pss_mgf_hash;
		pss.salt_len = (unsigned long)req->pss_salt_len;
		pp = &pss;
	} else {
		mech = HSM_MECH_RSA_PKCS;
		if (digestinfo_build(h, hv->v, hv->len, di, sizeof(di), &dil) != 0)
			return SAM_E_ALGO;
		in = di;
		inlen = dil;
	}
	cap = (size_t)(cr->key_bits > 0 ? cr->key_bits : 0) / 8 + 256;
	if (cap < 1024)
		cap = 1024;
	*sig = malloc(cap);
	if (*sig == NULL)
		return SAM_E_INTERNAL;
	v = hsm_sign(m->hsm, cr->key_id, cr->key_id_len, mech, pp, in, inlen, *sig, cap, siglen);
	if (v != HSM_OK) {
		free(*sig);
		*sig = NULL;
		*siglen = 0;
		return v == HSM_ERR_INPUT ? SAM_E_ALGO : SAM_E_INTERNAL;
	}
	return SAM_OK;
}

void sam_sign_res_clear(sam_sign_res *res)
{
	size_t i;

	if (res == NULL)
		return;
	if (res->sigs != NULL) {
		for (i = 0; i < res->n; i++)
			free(res->sigs[i]);
		free(res->sigs);
	}
	free(res->lens);
	res->sigs = NULL;
	res->lens = NULL;
	res->n = 0;
}

static sam_status sam_local_sign(sam *m, const sam_sign_req *req, sam_sign_res *res)
{
	store_credential cr;
	sam_sadtab_entry sad;
	char actor[STORE_NAME_MAX + 16], obj[STORE_CRED_ID_MAX + 16];
	const char *why = NULL;
	const sigalg_info *sa = NULL;
	hash_alg h = HASH_NONE;
	uint8_t sad_hash[32], binding[32], *flat = NULL;
	time_t now;
	sam_buf det = {0};
	sam_status st;
	size_t i;
	bool spent = false;
	int v;

	if (res == NULL)
		return SAM_E_REQUEST;
	memset(res, 0, sizeof(*res));
	memset(&cr, 0, sizeof(cr));
	memset(&sad, 0, sizeof(sad));
	memset(sad_hash, 0, sizeof(sad_hash));
	if (m == NULL || req == NULL || req->user_id <= 0 || !sam_cred_id_ok(req->credential_id))
		return res->status = SAM_E_REQUEST;
	now = policy_now(m->pol);
	sam_actor(m, req->user_id, actor, sizeof(actor));
	snprintf(obj, sizeof(obj), "credential:%s", req->credential_id);

	if (m->hsm == NULL) {
		st = SAM_E_INTERNAL;
		why = "no HSM";
		goto out;
	}
	if (req->n_hashes == 0 || req->n_hashes > SAM_MAX_HASHES || req->hashes == NULL) {
		st = SAM_E_REQUEST;
		why = "no hashes or too many";
		goto out;
	}
	if (!sam_sad_ref(req->sad, req->sad_len, sad_hash)) {
		st = SAM_E_SAD;
		why = "missing or malformed SAD";
		goto out;
	}
	st = sam_cred_usable(m, req->user_id, req->credential_id, &cr);
	if (st != SAM_OK) {
		why = "credential not usable";
		goto out;
	}
	/* The SAD must be this signer's, for this credential, and live. */
	v = sam_sadtab_get(m->sads, sad_hash, (int64_t)now, &sad);
	if (v == SADTAB_EXPIRED) { /* and now gone for good */
		st = SAM_E_SAD_EXPIRED;
		why = "SAD expired";
		goto out;
	}
	if (v != SADTAB_OK || sad.user_id != req->user_id || strcmp(sad.cred_id, cr.id) != 0) {
		st = v == SADTAB_OK || v == SADTAB_NOTFOUND ? SAM_E_SAD : SAM_E_INTERNAL;
		why = "SAD unknown, spent or bound elsewhere";
		goto out;
	}
	/* The key and rules are those of the row the signer authorized: a row
	 * edited since (another key id, say) does not sign. */
	if (sam_factor_cred_binding(&cr, binding) != 0 ||
	    !sec_equal(binding, sad.binding, sizeof(binding))) {
		st = SAM_E_SAD;
		why = "credential changed since the authorization";
		goto out;
	}
	st = sam_sign_algo(&cr, req, &sa, &h);
	if (st != SAM_OK) {
		why = "signature algorithm not usable with this key";
		goto out;
	}
	if (!sam_hashes_ok(h, req->hashes, req->n_hashes)) {
		st = SAM_E_REQUEST;
		why = "digest length does not match the hash algorithm";
		goto out;
	}
	if (!sam_cert_valid(m, binding, &cr, now)) {
		st = SAM_E_CERT;
		why = "certificate missing or not valid now";
		goto out;
	}
	/* Decide which error to report; the atomic consume below decides. */
	if (req->n_hashes > (size_t)sad.remaining) {
		st = SAM_E_COUNT;
		why = "more signatures than the SAD allows";
		goto out;
	}
	if (sad.hash_alg != HASH_NONE &&
	    (sad.hash_alg != (int)h || !sam_hashes_bound(&sad, req->hashes, req->n_hashes))) {
		st = SAM_E_HASH_MISMATCH;
		why = "hash not authorized by the SAD";
		goto out;
	}
	flat = sam_flatten(req->hashes, req->n_hashes, hash_by_id(h)->len);
	if (flat == NULL) {
		st = SAM_E_INTERNAL;
		why = "out of memory";
		goto out;
	}
	/* Spend before signing: of concurrent users of one SAD, only as many
	 * as it allows get past this line. */
	v = sam_sadtab_consume(m->sads, sad_hash, (int64_t)now, (int)req->n_hashes, flat,
			       hash_by_id(h)->len, NULL);
	if (v != SADTAB_OK) {
		st = v == SADTAB_NOTFOUND  ? SAM_E_SAD
		     : v == SADTAB_EXPIRED ? SAM_E_SAD_EXPIRED
		     : v == SADTAB_CONFLICT
			 ? (sad.hash_alg != HASH_NONE ? SAM_E_HASH_MISMATCH : SAM_E_COUNT)
			 : SAM_E_INTERNAL;
		if (v == SADTAB_CONFLICT && sad.hash_alg != HASH_NONE) {
			/* Re-read to tell a spent count from a foreign hash. */
			sam_sadtab_entry now_sad;
			if (sam_sadtab_get(m->sads, sad_hash, (int64_t)now, &now_sad) != SADTAB_OK)
				st = SAM_E_SAD;
			else if ((size_t)now_sad.remaining < req->n_hashes)
				st = SAM_E_COUNT;
			sam_sadtab_entry_clear(&now_sad);
		}
		why = "SAD spent concurrently or does not allow this";
		goto out;
	}
	spent = true;

	res->sigs = calloc(req->n_hashes, sizeof(*res->sigs));
	res->lens = calloc(req->n_hashes, sizeof(*res->lens));
	if (res->sigs == NULL || res->lens == NULL) {
		st = SAM_E_INTERNAL;
		why = "out of memory";
		goto out;
	}
	for (i = 0; i < req->n_hashes; i++) {
		res->n = i + 1;
		st =
		    sam_sign_one(m, &cr, sa, h, req, &req->hashes[i], &res->sigs[i], &res->lens[i]);
		if (st != SAM_OK) {
			why = "HSM signing failed";
			goto out;
		}
	}
	res->n = req->n_hashes;

out:
	sb_add(&det, "{\"signAlgo\":\"%s\"", sa != NULL ? sa->oid : "");
	sam_detail_sadref(&det, sad_hash);
	if (req->n_hashes > 0 && req->n_hashes <= SAM_MAX_HASHES && req->hashes != NULL)
		sam_detail_hashes(&det, h != HASH_NONE ? h : req->hash, req->hashes, req->n_hashes);
	if (spent)
		sb_add(&det, ",\"spent\":%zu", req->n_hashes);
	if (why != NULL) {
		sb_add(&det, ",\"reason\":");
		sb_str(&det, why);
	}
	sb_add(&det, "}");
	/* The record must be durable before any signature leaves. */
	if (audit_log(m->store, actor, "sign", obj, st == SAM_OK ? "success" : "failure",
		      sb_get(&det)) != 0)
		st = SAM_E_INTERNAL;
	if (st != SAM_OK)
		sam_sign_res_clear(res);
	sb_free(&det);
	free(flat);
	sam_sadtab_entry_clear(&sad);
	store_credential_clear(&cr);
	return res->status = st;
}

/* ---- key lifecycle ---- */

static const char *sam_admin(const char *actor)
{
	return actor != NULL && actor[0] != '\0' ? actor : "admin:unknown";
}

static sam_status sam_local_keygen(sam *m, const sam_keygen_req *req, sam_keygen_res *res)
{
	store_credential cr;
	store_user u;
	hsm_key_spec spec;
	uint8_t kid[SAM_KEY_ID_LEN];
	char label[STORE_CRED_ID_MAX + 8], obj[STORE_CRED_ID_MAX + 16];
	const char *why = NULL;
	const curve_info *ci = NULL;
	EVP_PKEY *pub = NULL;
	sam_buf det = {0};
	sam_status st = SAM_OK;
	bool have_key = false, have_row = false;

	if (res == NULL)
		return SAM_E_REQUEST;
	memset(res, 0, sizeof(*res));
	memset(&cr, 0, sizeof(cr));
	memset(&u, 0, sizeof(u));
	if (m == NULL || req == NULL || m->hsm == NULL)
		return res->status = SAM_E_REQUEST;
	obj[0] = '\0';

	if (req->user_id <= 0 || store_user_get_id(m->store, req->user_id, &u) != STORE_OK) {
		st = SAM_E_REQUEST;
		why = "no such user";
		goto out;
	}
	memset(&spec, 0, sizeof(spec));
	spec.kind = req->kind;
	if (req->kind == KEY_RSA) {
		if (req->bits < 2048 || req->bits > 8192 || req->bits % 8 != 0) {
			st = SAM_E_REQUEST;
			why = "RSA size must be 2048..8192 bits";
			goto out;
		}
		spec.bits = req->bits;
	} else if (req->kind == KEY_EC) {
		ci = curve_by_nid(req->curve_nid);
		if (ci == NULL) {
			st = SAM_E_REQUEST;
			why = "unsupported curve";
			goto out;
		}
		spec.curve_nid = req->curve_nid;
	} else {
		st = SAM_E_REQUEST;
		why = "unknown key type";
		goto out;
	}
	if ((req->scal != 1 && req->scal != 2) || req->multisign < 1 ||
	    req->multisign > m->pol->max_multisign) {
		st = SAM_E_REQUEST;
		why = "scal must be 1|2, multisign in range";
		goto out;
	}
	if (req->pin == NULL || req->pin_len < SAM_PIN_MIN || req->pin_len > SAM_SECRET_MAX) {
		st = SAM_E_REQUEST;
		why = "PIN missing or of bad length";
		goto out;
	}
	if (req->description != NULL &&
	    strnlen(req->description, sizeof(cr.description)) >= sizeof(cr.description)) {
		st = SAM_E_REQUEST;
		why = "description too long";
		goto out;
	}

	if (sec_random(kid, sizeof(kid)) != 0 ||
	    hex_encode(kid, sizeof(kid), cr.id, sizeof(cr.id)) != 0) {
		st = SAM_E_INTERNAL;
		why = "random";
		goto out;
	}
	snprintf(obj, sizeof(obj), "credential:%s", cr.id);
	snprintf(label, sizeof(label), "cred-%s", cr.id);
	if (hsm_generate_keypair(m->hsm, &spec, kid, sizeof(kid), label, &pub) != HSM_OK ||
	    pub == NULL) {
		st = SAM_E_INTERNAL;
		why = "HSM key generation failed";
		goto out;
	}
	have_key = true;
	cr.user_id = u.id;
	memcpy(cr.key_id, kid, sizeof(kid));
	cr.key_id_len = sizeof(kid);
	cr.key_kind = req->kind;
	cr.key_bits = req->kind == KEY_RSA ? (int)req->bits : (int)ci->bits;
	cr.curve_nid = req->kind == KEY_EC ? req->curve_nid : 0;
	cr.scal = req->scal;
	cr.auth_otp = req->auth_otp;
	cr.multisign = req->multisign;
	cr.enabled = true;
	if (req->description != NULL)
		snprintf(cr.description, sizeof(cr.description), "%s", req->description);
	cr.created = (int64_t)policy_now(m->pol);
	/* Sealed with the finished row as AAD: the binding is fixed now. */
	{
		char kdf[STORE_HASH_MAX];
		int hv = sam_factor_pin_make(m->hsm, m->pol->kdf_log_n, cr.id, req->pin,
					     req->pin_len, kdf);

		if (hv == 0)
			hv = sam_factor_seal_pin(m->hsm, &cr, kdf, cr.pin_hash);
		sec_zero(kdf, sizeof(kdf));
		if (hv != 0) {
			st = SAM_E_INTERNAL;
			why = "PIN hashing or sealing failed";
			goto out;
		}
	}
	if (store_cred_add(m->store, &cr) != STORE_OK) {
		st = SAM_E_INTERNAL;
		why = "store failure";
		goto out;
	}
	have_row = true;
out:
	sb_add(&det, "{\"user\":");
	sb_str(&det, u.name);
	if (req != NULL) {
		sb_add(&det, ",\"keyType\":\"%s\"",
		       req->kind == KEY_RSA ? "RSA" : (req->kind == KEY_EC ? "EC" : "?"));
		if (req->kind == KEY_RSA)
			sb_add(&det, ",\"bits\":%u", req->bits);
		else if (ci != NULL)
			sb_add(&det, ",\"curve\":\"%s\"", ci->name);
		sb_add(&det, ",\"scal\":%d,\"authMode\":\"%s\",\"multisign\":%d", req->scal,
		       req->auth_otp ? "PIN AND OTP" : "PIN", req->multisign);
	}
	if (why != NULL) {
		sb_add(&det, ",\"reason\":");
		sb_str(&det, why);
	}
	sb_add(&det, "}");
	if (audit_log(m->store, sam_admin(req->actor), "keygen", obj[0] ? obj : "credential:-",
		      st == SAM_OK ? "success" : "failure", sb_get(&det)) != 0)
		st = SAM_E_INTERNAL;
	if (st != SAM_OK) {
		if (have_row)
			(void)store_cred_del(m->store, cr.id);
		if (have_key)
			(void)hsm_destroy_keypair(m->hsm, kid, sizeof(kid));
		EVP_PKEY_free(pub);
	} else {
		memcpy(res->credential_id, cr.id, sizeof(res->credential_id));
		res->pub = pub;
	}
	sb_free(&det);
	sec_zero(kid, sizeof(kid));
	sec_zero(&u, sizeof(u));
	store_credential_clear(&cr);
	return res->status = st;
}

/* The PIN verifier of row 'was', sealed again for row 'now' (a field of
 * the binding changes); enc receives the new stored form ("" when the
 * credential has no PIN). The old verifier must open: an edited row is not
 * laundered by an operator's change. */
static sam_status sam_reseal_pin(sam *m, const store_credential *was, const store_credential *now,
				 char enc[STORE_HASH_MAX])
{
	char kdf[STORE_HASH_MAX];
	int v;

	enc[0] = '\0';
	if (was->pin_hash[0] == '\0')
		return SAM_OK;
	if (sam_factor_open_pin(m->hsm, m->strict, was, was->pin_hash, kdf) != SAM_FACTOR_OK)
		return SAM_E_INTERNAL;
	v = sam_factor_seal_pin(m->hsm, now, kdf, enc);
	sec_zero(kdf, sizeof(kdf));
	return v == 0 ? SAM_OK : SAM_E_INTERNAL;
}

static sam_status sam_local_key_set_cert(sam *m, const char *credential_id, const uint8_t *der,
					 size_t len, const char *actor)
{
	store_credential cr;
	char obj[STORE_CRED_ID_MAX + 16], enc[STORE_HASH_MAX] = "";
	const char *why = NULL;
	const unsigned char *p = der;
	X509 *x = NULL;
	EVP_PKEY *hpub = NULL;
	sam_status st = SAM_OK;
	sam_buf det = {0};
	bool stored = false;

	memset(&cr, 0, sizeof(cr));
	if (m == NULL || credential_id == NULL || !sam_cred_id_ok(credential_id))
		return SAM_E_REQUEST;
	snprintf(obj, sizeof(obj), "credential:%s", credential_id);
	if (der == NULL || len == 0 || len > (1u << 20)) {
		st = SAM_E_REQUEST;
		why = "no certificate";
		goto out;
	}
	if (store_cred_get(m->store, credential_id, &cr) != STORE_OK) {
		st = SAM_E_NO_CREDENTIAL;
		why = "no such credential";
		goto out;
	}
	x = d2i_X509(NULL, &p, (long)len);
	if (x == NULL || p != der + len) {
		st = SAM_E_REQUEST;
		why = "certificate does not parse";
		goto out;
	}
	/* The certificate must certify this credential's HSM key. */
	if (m->hsm == NULL || hsm_get_public(m->hsm, cr.key_id, cr.key_id_len, &hpub) != HSM_OK ||
	    hpub == NULL || EVP_PKEY_eq(X509_get0_pubkey(x), hpub) != 1) {
		st = SAM_E_REQUEST;
		why = "certificate key does not match the credential key";
		goto out;
	}
	{
		store_credential now = cr;

		now.cert_der = (uint8_t *)der;
		now.cert_len = len;
		if (sam_reseal_pin(m, &cr, &now, enc) != SAM_OK) {
			st = SAM_E_INTERNAL;
			why = "PIN verifier does not open for the stored row";
			goto out;
		}
	}
	/* The certificate, then the verifier sealed for it: between the two
	 * the credential accepts no PIN, never a wrong one. */
	if (store_cred_set_cert(m->store, credential_id, der, len) != STORE_OK ||
	    (enc[0] != '\0' && store_cred_set_pin(m->store, credential_id, enc) != STORE_OK)) {
		st = SAM_E_INTERNAL;
		why = "store failure";
		goto out;
	}
	stored = true;
out:
	sb_add(&det, "{");
	if (x != NULL) {
		char subj[256];
		X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
		sb_add(&det, "\"subject\":");
		sb_str(&det, subj);
	}
	if (why != NULL) {
		sb_add(&det, "%s\"reason\":", x != NULL ? "," : "");
		sb_str(&det, why);
	}
	sb_add(&det, "}");
	if (audit_log(m->store, sam_admin(actor), "credential.cert", obj,
		      st == SAM_OK ? "success" : "failure", sb_get(&det)) != 0 &&
	    st == SAM_OK) {
		/* Not in the log: put the row back as it was. */
		if (stored) {
			(void)store_cred_set_cert(m->store, credential_id, cr.cert_der,
						  cr.cert_len);
			(void)store_cred_set_pin(m->store, credential_id, cr.pin_hash);
		}
		st = SAM_E_INTERNAL;
	}
	sec_zero(enc, sizeof(enc));
	sb_free(&det);
	X509_free(x);
	EVP_PKEY_free(hpub);
	store_credential_clear(&cr);
	return st;
}

static sam_status sam_local_key_destroy(sam *m, const char *credential_id, const char *actor)
{
	store_credential cr;
	char obj[STORE_CRED_ID_MAX + 16];
	const char *why = NULL;
	sam_status st = SAM_OK;
	int v;

	memset(&cr, 0, sizeof(cr));
	if (m == NULL || credential_id == NULL || !sam_cred_id_ok(credential_id))
		return SAM_E_REQUEST;
	snprintf(obj, sizeof(obj), "credential:%s", credential_id);
	if (store_cred_get(m->store, credential_id, &cr) != STORE_OK) {
		st = SAM_E_NO_CREDENTIAL;
		why = "{\"reason\":\"no such credential\"}";
		goto out;
	}
	/* Disable first: from here on the key cannot be used even if a later
	 * step fails. */
	if (store_cred_set_enabled(m->store, cr.id, false) != STORE_OK) {
		st = SAM_E_INTERNAL;
		why = "{\"reason\":\"store failure\"}";
		goto out;
	}
	if (m->hsm == NULL) {
		st = SAM_E_INTERNAL;
		why = "{\"reason\":\"no HSM\"}";
		goto out;
	}
	v = hsm_destroy_keypair(m->hsm, cr.key_id, cr.key_id_len);
	if (v != HSM_OK && v != HSM_ERR_NOKEY) {
		st = SAM_E_INTERNAL;
		why = "{\"reason\":\"HSM key destruction failed; credential disabled\"}";
		goto out;
	}
	if (store_cred_del(m->store, cr.id) != STORE_OK) {
		st = SAM_E_INTERNAL;
		why = "{\"reason\":\"store failure after key destruction\"}";
		goto out;
	}
	why = v == HSM_ERR_NOKEY ? "{\"note\":\"key was already absent from the HSM\"}" : NULL;
out:
	if (audit_log(m->store, sam_admin(actor), "key.destroy", obj,
		      st == SAM_OK ? "success" : "failure", why) != 0)
		st = SAM_E_INTERNAL;
	store_credential_clear(&cr);
	return st;
}

static sam_status sam_local_set_pin(sam *m, const char *credential_id, const char *pin,
				    size_t pin_len, const char *actor)
{
	char obj[STORE_CRED_ID_MAX + 16];
	char enc[STORE_HASH_MAX];
	store_credential cr;
	const char *why = NULL;
	sam_status st = SAM_OK;
	int v;

	if (m == NULL || credential_id == NULL || !sam_cred_id_ok(credential_id))
		return SAM_E_REQUEST;
	memset(&cr, 0, sizeof(cr));
	snprintf(obj, sizeof(obj), "credential:%s", credential_id);
	if (pin == NULL || pin_len < SAM_PIN_MIN || pin_len > SAM_SECRET_MAX) {
		st = SAM_E_REQUEST;
		why = "{\"reason\":\"PIN of bad length\"}";
		goto out;
	}
	v = store_cred_get(m->store, credential_id, &cr);
	if (v != STORE_OK) {
		st = v == STORE_NOTFOUND ? SAM_E_NO_CREDENTIAL : SAM_E_INTERNAL;
		why = "{\"reason\":\"no such credential\"}";
		goto out;
	}
	{
		char kdf[STORE_HASH_MAX];
		int hv = sam_factor_pin_make(m->hsm, m->pol->kdf_log_n, credential_id, pin, pin_len,
					     kdf);

		if (hv == 0)
			hv = sam_factor_seal_pin(m->hsm, &cr, kdf, enc);
		sec_zero(kdf, sizeof(kdf));
		if (hv != 0) {
			st = SAM_E_INTERNAL;
			why = "{\"reason\":\"PIN hashing or sealing failed\"}";
			goto out;
		}
	}
	v = store_cred_set_pin(m->store, credential_id, enc);
	sec_zero(enc, sizeof(enc));
	if (v != STORE_OK) {
		st = v == STORE_NOTFOUND ? SAM_E_NO_CREDENTIAL : SAM_E_INTERNAL;
		why = "{\"reason\":\"no such credential\"}";
		goto out;
	}
out:
	store_credential_clear(&cr);
	if (audit_log(m->store, sam_admin(actor), "pin.set", obj,
		      st == SAM_OK ? "success" : "failure", why) != 0)
		st = SAM_E_INTERNAL;
	return st;
}

/* ---- TOTP seed enrollment ---- */

#define SAM_OTP_SEED_MIN 16 /* RFC 4226: at least 128 bits */

static sam_status sam_local_user_set_otp(sam *m, int64_t user_id, const uint8_t *seed, size_t len,
					 const char *actor)
{
	store_user u;
	uint8_t blob[STORE_OTPKEY_MAX];
	size_t bloblen = 0;
	char obj[STORE_NAME_MAX + 16];
	const char *why = NULL;
	sam_status st = SAM_OK;
	int v;

	memset(&u, 0, sizeof(u));
	if (m == NULL || user_id <= 0 || (seed == NULL && len > 0))
		return SAM_E_REQUEST;
	snprintf(obj, sizeof(obj), "user:#%lld", (long long)user_id);
	v = store_user_get_id(m->store, user_id, &u);
	if (v != STORE_OK) {
		st = v == STORE_NOTFOUND ? SAM_E_REQUEST : SAM_E_INTERNAL;
		why = "{\"reason\":\"no such user\"}";
		goto out;
	}
	snprintf(obj, sizeof(obj), "user:%s", u.name);
	if (len > 0 && (len < SAM_OTP_SEED_MIN || len > SAM_FACTOR_SEED_MAX)) {
		st = SAM_E_REQUEST;
		why = "{\"reason\":\"OTP seed of bad length\"}";
		goto out;
	}
	if (len > 0 && sam_factor_seal_otp(m->hsm, user_id, seed, len, blob, &bloblen) != 0) {
		st = SAM_E_INTERNAL;
		why = "{\"reason\":\"OTP seed sealing failed\"}";
		goto out;
	}
	if (store_user_set_otp(m->store, user_id, blob, bloblen) != STORE_OK) {
		st = SAM_E_INTERNAL;
		why = "{\"reason\":\"store failure\"}";
		goto out;
	}
	why = len > 0
		  ? (m->hsm != NULL ? "{\"seed\":\"sealed\"}" : "{\"seed\":\"unsealed: no HSM\"}")
		  : "{\"seed\":\"removed\"}";
out:
	if (audit_log(m->store, sam_admin(actor), "otp.set", obj,
		      st == SAM_OK ? "success" : "failure", why) != 0)
		st = SAM_E_INTERNAL;
	sec_zero(blob, sizeof(blob));
	sec_zero(&u, sizeof(u));
	return st;
}

/* ---- migration of unsealed factor secrets ---- */

int sam_seal_legacy(sam *m, size_t *n)
{
	store_user *users = NULL;
	store_credential *creds = NULL;
	size_t nu = 0, nc = 0, done = 0, i;
	char det[96];
	int rc = -1;

	if (n != NULL)
		*n = 0;
	if (m == NULL || m->remote != NULL || m->hsm == NULL)
		return -1;
	if (store_user_list(m->store, &users, &nu) != STORE_OK)
		goto out;
	for (i = 0; i < nu; i++) {
		uint8_t blob[STORE_OTPKEY_MAX];
		size_t bloblen = 0;
		int v;

		if (users[i].otp_key_len == 0 ||
		    sam_factor_otp_sealed(users[i].otp_key, users[i].otp_key_len))
			continue;
		v = users[i].otp_key_len <= SAM_FACTOR_SEED_MAX
			? sam_factor_seal_otp(m->hsm, users[i].id, users[i].otp_key,
					      users[i].otp_key_len, blob, &bloblen)
			: -1;
		if (v == 0)
			v = store_user_set_otp(m->store, users[i].id, blob, bloblen) == STORE_OK
				? 0
				: -1;
		sec_zero(blob, sizeof(blob));
		if (v != 0)
			goto out;
		done++;
	}
	if (store_cred_list(m->store, 0, &creds, &nc) != STORE_OK)
		goto out;
	for (i = 0; i < nc; i++) {
		char enc[STORE_HASH_MAX];
		int v;

		if (creds[i].pin_hash[0] == '\0' || sam_factor_pin_sealed(creds[i].pin_hash))
			continue;
		v = sam_factor_seal_pin(m->hsm, &creds[i], creds[i].pin_hash, enc);
		if (v == 0)
			v = store_cred_set_pin(m->store, creds[i].id, enc) == STORE_OK ? 0 : -1;
		sec_zero(enc, sizeof(enc));
		if (v != 0)
			goto out;
		done++;
	}
	rc = 0;
out:
	snprintf(det, sizeof(det), "{\"sealed\":%zu}", done);
	if (audit_log(m->store, "system", "factor.seal", "store", rc == 0 ? "success" : "failure",
		      det) != 0)
		rc = -1;
	if (users != NULL) {
		sec_zero(users, nu * sizeof(*users));
		free(users);
	}
	if (creds != NULL) {
		for (i = 0; i < nc; i++)
			sec_zero(creds[i].pin_hash, sizeof(creds[i].pin_hash));
		store_cred_list_free(creds, nc);
	}
	if (n != NULL)
		*n = done;
	return rc;
}

/* ---- time-stamping ---- */

static int sam_local_tsa_respond(sam *m, const uint8_t *req, size_t reqlen, uint8_t **resp,
				 size_t *resplen)
{
	int rc = -1;

	pthread_mutex_lock(&m->tsa_mu);
	if (m->tsa != NULL)
		rc = tsa_respond(m->tsa, req, reqlen, resp, resplen);
	pthread_mutex_unlock(&m->tsa_mu);
	return rc;
}

static int sam_local_tsa_stamp(sam *m, hash_alg alg, const uint8_t *digest, size_t dlen,
			       const char *nonce_hex, uint8_t **token, size_t *toklen)
{
	int rc = -1;

	pthread_mutex_lock(&m->tsa_mu);
	if (m->tsa != NULL)
		rc = tsa_stamp(m->tsa, alg, digest, dlen, nonce_hex, token, toklen);
	pthread_mutex_unlock(&m->tsa_mu);
	return rc;
}

/* ---- the public functions: local decision, or a message to the SAM
 * process (sam_client.c) ---- */

sam_status sam_authorize(sam *m, const sam_authorize_req *req, sam_authorize_res *res)
{
	if (m != NULL && m->remote != NULL)
		return sam_client_authorize(m->remote, req, res);
	return sam_local_authorize(m, req, res);
}

sam_status sam_extend(sam *m, const sam_extend_req *req, sam_authorize_res *res)
{
	if (m != NULL && m->remote != NULL)
		return sam_client_extend(m->remote, req, res);
	return sam_local_extend(m, req, res);
}

sam_status sam_sign(sam *m, const sam_sign_req *req, sam_sign_res *res)
{
	if (m != NULL && m->remote != NULL)
		return sam_client_sign(m->remote, req, res);
	return sam_local_sign(m, req, res);
}

sam_status sam_keygen(sam *m, const sam_keygen_req *req, sam_keygen_res *res)
{
	if (m != NULL && m->remote != NULL)
		return sam_client_keygen(m->remote, req, res);
	return sam_local_keygen(m, req, res);
}

sam_status sam_key_set_cert(sam *m, const char *credential_id, const uint8_t *der, size_t len,
			    const char *actor)
{
	if (m != NULL && m->remote != NULL)
		return sam_client_key_set_cert(m->remote, credential_id, der, len, actor);
	return sam_local_key_set_cert(m, credential_id, der, len, actor);
}

sam_status sam_key_destroy(sam *m, const char *credential_id, const char *actor)
{
	if (m != NULL && m->remote != NULL)
		return sam_client_key_destroy(m->remote, credential_id, actor);
	return sam_local_key_destroy(m, credential_id, actor);
}

sam_status sam_set_pin(sam *m, const char *credential_id, const char *pin, size_t pin_len,
		       const char *actor)
{
	if (m != NULL && m->remote != NULL)
		return sam_client_set_pin(m->remote, credential_id, pin, pin_len, actor);
	return sam_local_set_pin(m, credential_id, pin, pin_len, actor);
}

sam_status sam_user_set_otp(sam *m, int64_t user_id, const uint8_t *seed, size_t len,
			    const char *actor)
{
	if (m != NULL && m->remote != NULL)
		return sam_client_user_set_otp(m->remote, user_id, seed, len, actor);
	return sam_local_user_set_otp(m, user_id, seed, len, actor);
}

sam_status sam_verify_login(sam *m, const char *user, const char *pw, size_t pwlen,
			    int64_t *user_id)
{
	if (user_id != NULL)
		*user_id = 0;
	if (m == NULL || user_id == NULL)
		return SAM_E_REQUEST;
	if (m->remote != NULL)
		return sam_client_verify_login(m->remote, user, pw, pwlen, user_id);
	return sam_login_verify(m->hsm, m->locks, m->store, m->pol, m->strict, user, pw, pwlen,
				user_id);
}

sam_status sam_cred_set_enabled(sam *m, const char *credential_id, bool enabled)
{
	store_credential cr, now;
	char enc[STORE_HASH_MAX] = "";
	sam_status st = SAM_OK;
	int v;

	if (m == NULL || m->remote != NULL || !sam_cred_id_ok(credential_id))
		return SAM_E_REQUEST;
	memset(&cr, 0, sizeof(cr));
	v = store_cred_get(m->store, credential_id, &cr);
	if (v != STORE_OK)
		return v == STORE_NOTFOUND ? SAM_E_NO_CREDENTIAL : SAM_E_INTERNAL;
	now = cr;
	now.enabled = enabled;
	if (cr.enabled != enabled) {
		if (!enabled) {
			/* Disabling first: even if re-sealing fails, it is off. */
			if (store_cred_set_enabled(m->store, cr.id, false) != STORE_OK)
				st = SAM_E_INTERNAL;
		}
		if (st == SAM_OK)
			st = sam_reseal_pin(m, &cr, &now, enc);
		if (st == SAM_OK && enabled &&
		    store_cred_set_enabled(m->store, cr.id, true) != STORE_OK)
			st = SAM_E_INTERNAL;
		if (st == SAM_OK && enc[0] != '\0' &&
		    store_cred_set_pin(m->store, cr.id, enc) != STORE_OK)
			st = SAM_E_INTERNAL;
	}
	sec_zero(enc, sizeof(enc));
	store_credential_clear(&cr);
	return st;
}

int sam_record_policy(sam *m, const char *actor)
{
	const policy *p;
	char now[STORE_TEXT_MAX], old[STORE_TEXT_MAX], det[2 * STORE_TEXT_MAX + 32];
	int n;

	if (m == NULL || m->remote != NULL || actor == NULL)
		return -1;
	p = m->pol;
	n = snprintf(now, sizeof(now),
		     "{\"accessTokenTTL\":%lld,\"refreshTokenTTL\":%lld,\"sadTTL\":%lld,"
		     "\"lockoutThreshold\":%d,\"maxMultisign\":%d,\"totpWindow\":%d,"
		     "\"kdfLogN\":%d,\"allowSHA1\":%d}",
		     (long long)p->access_token_ttl, (long long)p->refresh_token_ttl,
		     (long long)p->sad_ttl, p->lockout_threshold, p->max_multisign, p->totp_window,
		     p->kdf_log_n, p->allow_sha1);
	if (n < 0 || (size_t)n >= sizeof(now))
		return -1;
	switch (store_meta_get(m->store, "policy", old, sizeof(old))) {
	case STORE_OK:
		if (strcmp(old, now) == 0)
			return 0; /* unchanged: nothing to record */
		break;
	case STORE_NOTFOUND:
		snprintf(old, sizeof(old), "null");
		break;
	default:
		return -1;
	}
	snprintf(det, sizeof(det), "{\"old\":%s,\"new\":%s}", old, now);
	if (audit_log(m->store, actor, "config.policy", "policy", "success", det) != 0)
		return -1;
	return store_meta_set(m->store, "policy", now) == STORE_OK ? 0 : -1;
}

/* The outcome of clearing the store's lock flag, after the HSM count. */
static sam_status sam_unblocked(int store_rc)
{
	return store_rc == STORE_OK	    ? SAM_OK
	       : store_rc == STORE_NOTFOUND ? SAM_E_NO_CREDENTIAL
					    : SAM_E_INTERNAL;
}

sam_status sam_cred_unblock(sam *m, const char *credential_id)
{
	char name[SAM_LOCK_NAME_MAX];

	if (m == NULL || m->remote != NULL || !sam_cred_id_ok(credential_id))
		return SAM_E_REQUEST;
	sam_lock_name_cred(credential_id, name);
	if (sam_lock_reset(m->locks, name) != 0)
		return SAM_E_INTERNAL;
	return sam_unblocked(store_cred_set_locked(m->store, credential_id, false));
}

sam_status sam_user_unblock(sam *m, int64_t user_id)
{
	char name[SAM_LOCK_NAME_MAX];

	if (m == NULL || m->remote != NULL || user_id <= 0)
		return SAM_E_REQUEST;
	sam_lock_name_user(user_id, name);
	if (sam_lock_reset(m->locks, name) != 0)
		return SAM_E_INTERNAL;
	return sam_unblocked(store_user_set_locked(m->store, user_id, false));
}

int sam_tsa_respond(sam *m, const uint8_t *req, size_t reqlen, uint8_t **resp, size_t *resplen)
{
	if (resp != NULL)
		*resp = NULL;
	if (resplen != NULL)
		*resplen = 0;
	if (m == NULL || req == NULL || resp == NULL || resplen == NULL)
		return -1;
	if (m->remote != NULL)
		return sam_client_tsa_respond(m->remote, req, reqlen, resp, resplen);
	return sam_local_tsa_respond(m, req, reqlen, resp, resplen);
}

int sam_tsa_stamp(sam *m, hash_alg alg, const uint8_t *digest, size_t dlen, const char *nonce_hex,
		  uint8_t **token, size_t *toklen)
{
	if (token != NULL)
		*token = NULL;
	if (toklen != NULL)
		*toklen = 0;
	if (m == NULL || token == NULL || toklen == NULL)
		return -1;
	if (m->remote != NULL)
		return sam_client_tsa_stamp(m->remote, alg, digest, dlen, nonce_hex, token, toklen);
	return sam_local_tsa_stamp(m, alg, digest, dlen, nonce_hex, token, toklen);
}
