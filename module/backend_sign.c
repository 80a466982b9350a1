/* SPDX-License-Identifier: Apache-2.0 */
/* The signing flow: secrets (PIN, OTP) from their sources, then
 * credentials/authorize + signatures/signHash; multi-use SADs for SCAL1
 * credentials (e-seal path); the PIN check at C_Login. */
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend_int.h"
#include "backend_prompt.h"
#include "log.h"
#include "secmem.h"

#define SECRET_CAP (BACKEND_PROMPT_SECRET_MAX + 1)
#define SAD_MARGIN 5 /* seconds: a SAD about to expire is not used */

typedef struct {
	char *pin; /* locked, SECRET_CAP bytes; NULL when not needed */
	size_t pin_len;
	char *otp;
	size_t otp_len;
} secrets;

static void secrets_free(secrets *s)
{
	if (s->pin != NULL)
		sec_unlock_free(s->pin, SECRET_CAP);
	if (s->otp != NULL)
		sec_unlock_free(s->otp, SECRET_CAP);
	memset(s, 0, sizeof(*s));
}

/* ---- SAD store (SCAL1) ---- */

static backend_sad_entry *sad_find_inlock(backend_account *a, const char *cred_id)
{
	size_t i;

	for (i = 0; i < BACKEND_MAX_SADS; i++) {
		if (a->sads[i].cred_id[0] != '\0' && strcmp(a->sads[i].cred_id, cred_id) == 0)
			return &a->sads[i];
	}
	return NULL;
}

static void sad_clear(backend_sad_entry *e)
{
	csc_sad_free(&e->sad);
	memset(e, 0, sizeof(*e));
}

/* A locked copy of a usable SAD for cred_id, counting one use. */
static char *sad_take(backend_account *a, const char *cred_id, size_t *len)
{
	backend_sad_entry *e;
	char *copy = NULL;

	pthread_mutex_lock(&a->sad_lock);
	e = sad_find_inlock(a, cred_id);
	if (e != NULL) {
		if (e->remaining <= 0 || time(NULL) + SAD_MARGIN >= e->expires) {
			sad_clear(e);
		} else {
			copy = sec_locked_strndup(e->sad.sad, e->sad.sad_len);
			if (copy != NULL) {
				*len = e->sad.sad_len;
				e->remaining--;
			}
		}
	}
	pthread_mutex_unlock(&a->sad_lock);
	return copy;
}

/* Keep sad (taken over) for cred_id with this many further uses. */
static void sad_store(backend_account *a, const char *cred_id, csc_sad *sad, int remaining)
{
	backend_sad_entry *e;
	size_t i;

	if (remaining <= 0) {
		csc_sad_free(sad);
		return;
	}
	pthread_mutex_lock(&a->sad_lock);
	e = sad_find_inlock(a, cred_id);
	for (i = 0; e == NULL && i < BACKEND_MAX_SADS; i++) {
		if (a->sads[i].cred_id[0] == '\0')
			e = &a->sads[i];
	}
	if (e == NULL)
		e = &a->sads[0];
	sad_clear(e);
	snprintf(e->cred_id, sizeof(e->cred_id), "%s", cred_id);
	e->sad = *sad;
	memset(sad, 0, sizeof(*sad));
	e->remaining = remaining;
	e->expires = time(NULL) + e->sad.expires_in;
	pthread_mutex_unlock(&a->sad_lock);
}

static void sad_drop(backend_account *a, const char *cred_id)
{
	backend_sad_entry *e;

	pthread_mutex_lock(&a->sad_lock);
	e = sad_find_inlock(a, cred_id);
	if (e != NULL)
		sad_clear(e);
	pthread_mutex_unlock(&a->sad_lock);
}

void backend_sign_drop_sads(backend_account *a)
{
	size_t i;

	pthread_mutex_lock(&a->sad_lock);
	for (i = 0; i < BACKEND_MAX_SADS; i++)
		sad_clear(&a->sads[i]);
	pthread_mutex_unlock(&a->sad_lock);
}

void backend_logout(backend *b, size_t account)
{
	if (b == NULL || account >= b->n)
		return;
	backend_sign_drop_sads(&b->acc[account]);
}

/* ---- secrets ---- */

static CK_RV ask(const backend_account *a, const char *cmd, const char *what, const char *desc,
		 char **out, size_t *len)
{
	CK_RV rv;

	*out = sec_locked_alloc(SECRET_CAP);
	if (*out == NULL)
		return CKR_HOST_MEMORY;
	if (cmd != NULL) {
		rv = backend_prompt_command(cmd, *out, SECRET_CAP, len);
		if (rv != CKR_OK)
			log_warn("account %s: the %s command failed", a->cfg->name, what);
	} else if (a->cfg->prompt != NULL) {
		char prompt[16];
		snprintf(prompt, sizeof(prompt), "%s:", what);
		rv = backend_prompt_pinentry(a->cfg->prompt, "CISRES signature", desc, prompt, *out,
					     SECRET_CAP, len);
	} else {
		log_warn("account %s: a %s is needed and no source is configured", a->cfg->name,
			 what);
		rv = CKR_USER_NOT_LOGGED_IN;
	}
	if (rv != CKR_OK) {
		sec_unlock_free(*out, SECRET_CAP);
		*out = NULL;
		*len = 0;
	}
	return rv;
}

static CK_RV copy_secret(const char *v, size_t len, char **out, size_t *olen)
{
	if (len > BACKEND_PROMPT_SECRET_MAX)
		return CKR_PIN_LEN_RANGE;
	*out = sec_locked_alloc(SECRET_CAP);
	if (*out == NULL)
		return CKR_HOST_MEMORY;
	memcpy(*out, v, len);
	*olen = len;
	return CKR_OK;
}

static CK_RV get_secrets(const backend_account *a, const backend_cred *cr, const char *pin,
			 size_t pin_len, const char *otp, size_t otp_len, secrets *s)
{
	char desc[512];
	CK_RV rv = CKR_OK;

	if (cr->needs_pin) {
		if (pin != NULL && pin_len > 0) {
			rv = copy_secret(pin, pin_len, &s->pin, &s->pin_len);
		} else if (!a->cfg->module_prompt) {
			rv = CKR_USER_NOT_LOGGED_IN;
		} else {
			snprintf(desc, sizeof(desc),
				 "Enter the signing PIN of \"%s\" (token %s) to sign.",
				 cr->description[0] ? cr->description : cr->id, a->cfg->label);
			rv = ask(a, a->cfg->pin_command, "PIN", desc, &s->pin, &s->pin_len);
		}
		if (rv != CKR_OK)
			return rv;
	}
	if (cr->needs_otp) {
		if (otp != NULL && otp_len > 0) {
			rv = copy_secret(otp, otp_len, &s->otp, &s->otp_len);
		} else {
			snprintf(desc, sizeof(desc),
				 "Enter the one-time code of your authenticator app to sign with "
				 "\"%s\" (token %s).",
				 cr->description[0] ? cr->description : cr->id, a->cfg->label);
			rv = ask(a, a->cfg->otp_command, "OTP", desc, &s->otp, &s->otp_len);
		}
	}
	return rv;
}

/* ---- CSC calls ---- */

static CK_RV fail_status(backend_account *a, const char *what, const csc_status *st)
{
	char why[320];
	CK_RV rv = csc_status_to_ckr(st);

	log_warn("account %s: %s failed: %s", a->cfg->name, what,
		 csc_status_str(st, why, sizeof(why)));
	if (csc_status_is_network(st)) {
		backend_refresh_set_online(a, false);
		backend_refresh_async(a->b, a->index);
	}
	return rv;
}

static void note_success(backend_account *a)
{
	const backend_snapshot *s = backend_snapshot_get(a->b, a->index);
	bool offline = s != NULL && !s->online;

	backend_snapshot_release(a->b, s);
	if (offline) {
		backend_refresh_set_online(a, true);
		backend_refresh_async(a->b, a->index);
	}
}

/* credentials/authorize for n signatures (SCAL1) or for the digest (SCAL2). */
static csc_rc do_authorize(backend_account *a, const backend_cred *cr, const backend_cred_auth *au,
			   const secrets *s, int num, const uint8_t *digest, size_t digest_len,
			   hash_alg hash, csc_sad *sad, csc_status *st)
{
	csc_auth_data ad[2];
	size_t n_ad = 0;
	csc_authorize_req rq;
	const uint8_t *hashes[1] = {digest};
	size_t lens[1] = {digest_len};

	if (s->pin != NULL && au->pin_id[0] != '\0')
		ad[n_ad++] = (csc_auth_data){au->pin_id, s->pin, s->pin_len};
	if (s->otp != NULL && au->otp_id[0] != '\0')
		ad[n_ad++] = (csc_auth_data){au->otp_id, s->otp, s->otp_len};
	memset(&rq, 0, sizeof(rq));
	rq.cred_id = cr->id;
	rq.num_signatures = num;
	if (digest != NULL) {
		rq.hashes = hashes;
		rq.hash_lens = lens;
		rq.n_hashes = 1;
		rq.hash = hash;
	}
	rq.auth = ad;
	rq.n_auth = n_ad;
	return csc_credentials_authorize(a->cli, &rq, sad, st);
}

static csc_rc do_sign(backend_account *a, const backend_cred *cr, const char *sad, size_t sad_len,
		      const char *sign_algo, hash_alg hash, const uint8_t *params,
		      size_t params_len, const uint8_t *digest, size_t digest_len,
		      csc_signatures *sigs, csc_status *st)
{
	const uint8_t *hashes[1] = {digest};
	size_t lens[1] = {digest_len};
	csc_sign_req rq;

	memset(&rq, 0, sizeof(rq));
	rq.cred_id = cr->id;
	rq.sad = sad;
	rq.sad_len = sad_len;
	rq.hashes = hashes;
	rq.hash_lens = lens;
	rq.n_hashes = 1;
	rq.hash = hash;
	rq.sign_algo = sign_algo;
	rq.params = params;
	rq.params_len = params_len;
	return csc_signatures_sign_hash(a->cli, &rq, sigs, st);
}

static bool sad_rejected(const csc_status *st)
{
	return st->rc == CSC_ERR_HTTP && st->http == 400 &&
	       strcmp(st->error, "invalid_request") == 0;
}

CK_RV backend_sign(backend *b, size_t account, const char *cred_id, const char *pin, size_t pin_len,
		   const char *otp, size_t otp_len, const char *sign_algo, hash_alg hash,
		   const uint8_t *params, size_t params_len, const uint8_t *digest,
		   size_t digest_len, uint8_t *sig, size_t sig_cap, size_t *sig_len)
{
	backend_account *a;
	const backend_snapshot *snap;
	const backend_snap *bs;
	const backend_cred *cr;
	const backend_cred_auth *au;
	const hash_info *hi = hash_by_id(hash);
	secrets sec = {0};
	csc_sad sad = {0};
	csc_signatures sigs = {0};
	csc_status st;
	char *cached = NULL;
	size_t cached_len = 0;
	long idx;
	csc_rc rc;
	CK_RV rv = CKR_GENERAL_ERROR;

	if (b == NULL || account >= b->n || cred_id == NULL || sign_algo == NULL ||
	    digest == NULL || sig_len == NULL)
		return CKR_ARGUMENTS_BAD;
	if (hi == NULL || hi->len != digest_len)
		return CKR_DATA_LEN_RANGE;
	a = &b->acc[account];
	(void)backend_refresh_token_load(a); /* picks up a new 'cisres login' */
	snap = backend_snapshot_get(b, account);
	if (snap == NULL)
		return CKR_GENERAL_ERROR;
	bs = (const backend_snap *)(const void *)snap;
	idx = backend_creds_find(bs->cs, cred_id);
	if (idx < 0) {
		rv = CKR_KEY_HANDLE_INVALID;
		goto out;
	}
	cr = &bs->cs->creds[idx];
	au = &bs->cs->auth[idx];
	if (!cr->enabled) {
		log_warn("account %s: credential %s is disabled or its certificate not valid",
			 a->cfg->name, cr->id);
		rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
		goto out;
	}

	if (cr->scal == 1) {
		/* e-seal path: a multi-use SAD, authorized once. */
		cached = sad_take(a, cr->id, &cached_len);
		if (cached != NULL) {
			rc = do_sign(a, cr, cached, cached_len, sign_algo, hash, params, params_len,
				     digest, digest_len, &sigs, &st);
			sec_unlock_free(cached, cached_len + 1);
			cached = NULL;
			if (rc == CSC_OK)
				goto got;
			if (!sad_rejected(&st)) {
				rv = fail_status(a, "signatures/signHash", &st);
				goto out;
			}
			log_debug(LOG_CAT_CSC, "account %s: cached SAD refused; authorizing again",
				  a->cfg->name);
			sad_drop(a, cr->id);
		}
		rv = get_secrets(a, cr, pin, pin_len, otp, otp_len, &sec);
		if (rv != CKR_OK)
			goto out;
		rc = do_authorize(a, cr, au, &sec, cr->multisign, NULL, 0, hash, &sad, &st);
		secrets_free(&sec);
		if (rc != CSC_OK) {
			rv = fail_status(a, "credentials/authorize", &st);
			goto out;
		}
		rc = do_sign(a, cr, sad.sad, sad.sad_len, sign_algo, hash, params, params_len,
			     digest, digest_len, &sigs, &st);
		if (rc != CSC_OK) {
			csc_sad_free(&sad);
			rv = fail_status(a, "signatures/signHash", &st);
			goto out;
		}
		sad_store(a, cr->id, &sad, cr->multisign - 1);
	} else {
		/* SCAL2: a SAD bound to this digest. */
		rv = get_secrets(a, cr, pin, pin_len, otp, otp_len, &sec);
		if (rv != CKR_OK)
			goto out;
		rc = do_authorize(a, cr, au, &sec, 1, digest, digest_len, hash, &sad, &st);
		secrets_free(&sec);
		if (rc != CSC_OK) {
			rv = fail_status(a, "credentials/authorize", &st);
			goto out;
		}
		rc = do_sign(a, cr, sad.sad, sad.sad_len, sign_algo, hash, params, params_len,
			     digest, digest_len, &sigs, &st);
		csc_sad_free(&sad);
		if (rc != CSC_OK) {
			rv = fail_status(a, "signatures/signHash", &st);
			goto out;
		}
	}
got:
	note_success(a);
	*sig_len = sigs.sig_lens[0];
	if (sig == NULL || sig_cap < sigs.sig_lens[0]) {
		rv = CKR_BUFFER_TOO_SMALL;
		goto out;
	}
	memcpy(sig, sigs.sigs[0], sigs.sig_lens[0]);
	rv = CKR_OK;
out:
	secrets_free(&sec);
	csc_sad_free(&sad);
	csc_signatures_free(&sigs);
	backend_snapshot_release(b, snap);
	return rv;
}

CK_RV backend_login_check(backend *b, size_t account, const char *pin, size_t pin_len)
{
	backend_account *a;
	const backend_snapshot *snap;
	const backend_snap *bs;
	const backend_cred *cr = NULL;
	const backend_cred_auth *au = NULL;
	secrets sec = {0};
	csc_sad sad = {0};
	csc_status st;
	size_t i;
	CK_RV rv;

	if (b == NULL || account >= b->n || (pin == NULL && pin_len > 0))
		return CKR_ARGUMENTS_BAD;
	a = &b->acc[account];
	snap = backend_snapshot_get(b, account);
	if (snap == NULL)
		return CKR_GENERAL_ERROR;
	bs = (const backend_snap *)(const void *)snap;
	for (i = 0; i < snap->n_creds; i++) {
		const backend_cred *c = &snap->creds[i];
		if (c->needs_pin && (pin_len < c->pin_min || pin_len > c->pin_max)) {
			rv = CKR_PIN_LEN_RANGE;
			goto out;
		}
	}
	if (snap->n_creds == 0 && (pin_len < 4 || pin_len > 64)) {
		rv = CKR_PIN_LEN_RANGE;
		goto out;
	}
	/* A SCAL1 credential that needs the PIN alone can verify it now
	 * without spending an OTP; otherwise the PIN is checked by the first
	 * signature. */
	for (i = 0; i < snap->n_creds; i++) {
		const backend_cred *c = &snap->creds[i];
		if (c->enabled && c->scal == 1 && c->needs_pin && !c->needs_otp) {
			cr = c;
			au = &bs->cs->auth[i];
			break;
		}
	}
	if (cr == NULL) {
		rv = CKR_OK;
		goto out;
	}
	rv = copy_secret(pin, pin_len, &sec.pin, &sec.pin_len);
	if (rv != CKR_OK)
		goto out;
	(void)backend_refresh_token_load(a);
	if (do_authorize(a, cr, au, &sec, cr->multisign, NULL, 0, HASH_NONE, &sad, &st) != CSC_OK) {
		rv = fail_status(a, "credentials/authorize (PIN check)", &st);
		goto out;
	}
	note_success(a);
	sad_store(a, cr->id, &sad, cr->multisign);
	rv = CKR_OK;
out:
	secrets_free(&sec);
	csc_sad_free(&sad);
	backend_snapshot_release(b, snap);
	return rv;
}
