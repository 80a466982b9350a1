/* SPDX-License-Identifier: Apache-2.0 */
/* Credential sets and snapshots. */
#include "backend_creds.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "oid.h"

static void cred_free(backend_cred *c)
{
	size_t i;

	free(c->cert);
	for (i = 0; i < c->n_chain; i++)
		free(c->chain[i]);
	free(c->chain);
	free(c->chain_len);
	for (i = 0; i < c->n_algos; i++)
		free(c->algos[i]);
	free(c->algos);
	memset(c, 0, sizeof(*c));
}

/* GeneralizedTime "YYYYMMDDHHMMSSZ" of now, for string comparison. */
static void now_gt(char out[16])
{
	time_t t = time(NULL);
	struct tm tm;

	out[0] = '\0';
	if (gmtime_r(&t, &tm) != NULL)
		strftime(out, 16, "%Y%m%d%H%M%SZ", &tm);
}

static bool gt_ok(const char *s)
{
	size_t i;

	if (strlen(s) != 15 || s[14] != 'Z')
		return false;
	for (i = 0; i < 14; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n > 0 ? n : 1);
	if (d != NULL && n > 0)
		memcpy(d, p, n);
	return d;
}

int backend_creds_derive(const csc_credential *cr, backend_cred *out, backend_cred_auth *auth)
{
	const csc_auth_object *o;
	const curve_info *ci = NULL;
	char now[16];
	size_t i;

	memset(out, 0, sizeof(*out));
	memset(auth, 0, sizeof(*auth));
	if (cr->id == NULL || strlen(cr->id) >= sizeof(out->id))
		return -1;
	memcpy(out->id, cr->id, strlen(cr->id) + 1);
	out->kind = csc_credential_key_kind(cr);
	if (out->kind == KEY_EC) {
		if (cr->curve[0] != '\0')
			ci = curve_by_oid(cr->curve);
		else if (cr->key_len == 256)
			ci = curve_by_name("P-256");
		else if (cr->key_len == 384)
			ci = curve_by_name("P-384");
		else if (cr->key_len == 521)
			ci = curve_by_name("P-521");
		if (ci != NULL) {
			out->curve_nid = ci->nid;
			out->key_bits = ci->bits;
		} else {
			out->key_bits = cr->key_len;
		}
	} else {
		out->key_bits = cr->key_len;
	}
	if (cr->n_certs > 0) {
		out->cert = dup_bytes(cr->certs[0], cr->cert_lens[0]);
		out->cert_len = cr->cert_lens[0];
		if (out->cert == NULL)
			goto fail;
	}
	if (cr->n_certs > 1) {
		out->n_chain = 0;
		out->chain = calloc(cr->n_certs - 1, sizeof(*out->chain));
		out->chain_len = calloc(cr->n_certs - 1, sizeof(*out->chain_len));
		if (out->chain == NULL || out->chain_len == NULL)
			goto fail;
		for (i = 1; i < cr->n_certs; i++) {
			out->chain[out->n_chain] = dup_bytes(cr->certs[i], cr->cert_lens[i]);
			if (out->chain[out->n_chain] == NULL)
				goto fail;
			out->chain_len[out->n_chain] = cr->cert_lens[i];
			out->n_chain++;
		}
	}
	if (cr->n_algos > 0) {
		out->algos = calloc(cr->n_algos, sizeof(*out->algos));
		if (out->algos == NULL)
			goto fail;
		for (i = 0; i < cr->n_algos; i++) {
			out->algos[i] = strdup(cr->algos[i]);
			if (out->algos[i] == NULL)
				goto fail;
			out->n_algos++;
		}
	}
	/* Usable: key enabled, certificate valid (status and dates). */
	now_gt(now);
	out->enabled = cr->key_enabled &&
		       (cr->cert_status[0] == '\0' || strcmp(cr->cert_status, "valid") == 0) &&
		       !(gt_ok(cr->valid_to) && strcmp(now, cr->valid_to) > 0) &&
		       !(gt_ok(cr->valid_from) && strcmp(now, cr->valid_from) < 0);
	out->scal = cr->scal == 2 ? 2 : 1;
	out->multisign = cr->multisign > 0 ? cr->multisign : 1;
	o = csc_credential_pin_object(cr);
	if (o != NULL) {
		out->needs_pin = true;
		snprintf(auth->pin_id, sizeof(auth->pin_id), "%s", o->id);
	}
	o = csc_credential_otp_object(cr);
	if (o != NULL) {
		out->needs_otp = true;
		snprintf(auth->otp_id, sizeof(auth->otp_id), "%s", o->id);
	}
	out->pin_min = 4;
	out->pin_max = 64;
	{
		const char *d = cr->description[0] != '\0' ? cr->description : cr->subject_dn;
		size_t n = strnlen(d, sizeof(out->description) - 1);
		memcpy(out->description, d, n);
		out->description[n] = '\0';
	}
	return 0;
fail:
	cred_free(out);
	return -1;
}

backend_credset *backend_creds_empty(void)
{
	backend_credset *cs = calloc(1, sizeof(*cs));

	if (cs != NULL)
		atomic_init(&cs->refs, 1);
	return cs;
}

backend_credset *backend_creds_new(const csc_credential_list *l, char *canon, size_t canon_len)
{
	backend_credset *cs = backend_creds_empty();
	size_t i;

	if (cs == NULL) {
		free(canon);
		return NULL;
	}
	cs->canon = canon;
	cs->canon_len = canon_len;
	if (l->n_creds == 0)
		return cs;
	cs->creds = calloc(l->n_creds, sizeof(*cs->creds));
	cs->auth = calloc(l->n_creds, sizeof(*cs->auth));
	if (cs->creds == NULL || cs->auth == NULL)
		goto fail;
	for (i = 0; i < l->n_creds; i++) {
		if (backend_creds_derive(&l->creds[i], &cs->creds[cs->n], &cs->auth[cs->n]) != 0) {
			log_warn("cache: credential skipped (cannot derive it)");
			continue;
		}
		cs->n++;
	}
	return cs;
fail:
	backend_creds_unref(cs);
	return NULL;
}

void backend_creds_ref(backend_credset *cs)
{
	if (cs != NULL)
		atomic_fetch_add(&cs->refs, 1);
}

void backend_creds_unref(backend_credset *cs)
{
	size_t i;

	if (cs == NULL || atomic_fetch_sub(&cs->refs, 1) != 1)
		return;
	for (i = 0; i < cs->n; i++)
		cred_free(&cs->creds[i]);
	free(cs->creds);
	free(cs->auth);
	free(cs->canon);
	free(cs);
}

long backend_creds_find(const backend_credset *cs, const char *id)
{
	size_t i;

	if (cs == NULL || id == NULL)
		return -1;
	for (i = 0; i < cs->n; i++) {
		if (strcmp(cs->creds[i].id, id) == 0)
			return (long)i;
	}
	return -1;
}

backend_snap *backend_snap_new(const backend_conf_account *a, backend_credset *cs, bool online,
			       uint64_t generation)
{
	backend_snap *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	atomic_init(&s->refs, 1);
	backend_creds_ref(cs);
	s->cs = cs;
	snprintf(s->pub.label, sizeof(s->pub.label), "%s", a->label);
	snprintf(s->pub.serial, sizeof(s->pub.serial), "%s", a->serial);
	snprintf(s->pub.user, sizeof(s->pub.user), "%s", a->user);
	snprintf(s->pub.url, sizeof(s->pub.url), "%s", a->url);
	s->pub.module_prompt = a->module_prompt;
	s->pub.otp_auto = a->otp_command != NULL || a->prompt != NULL;
	s->pub.online = online;
	s->pub.generation = generation;
	s->pub.creds = cs != NULL ? cs->creds : NULL;
	s->pub.n_creds = cs != NULL ? cs->n : 0;
	return s;
}

void backend_snap_ref(backend_snap *s)
{
	if (s != NULL)
		atomic_fetch_add(&s->refs, 1);
}

void backend_snap_unref(backend_snap *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	backend_creds_unref(s->cs);
	free(s);
}
