/* SPDX-License-Identifier: Apache-2.0 */
/* The object table: per-account views built from snapshots, stable handles,
 * attribute answers and searches. */
#include "object.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "log.h"
#include "p11_state.h"
#include "token.h"

#define HANDLES_MAX (1u << 20)
#define ALLOWED_MAX 32
#define TEMPLATE_MAX 128 /* attributes in a search template */

/* What a handle stands for; the table only grows. */
typedef struct {
	size_t slot;
	obj_kind kind;
	char cred_id[BACKEND_ID_MAX];	  /* credential objects */
	uint8_t fp[SHA256_DIGEST_LENGTH]; /* chain certificates: SHA-256 of the DER */
} handle_key;

typedef struct {
	bool built;
	uint64_t generation;
	bool module_prompt, otp_auto;
	obj_cred *creds;
	size_t n_creds;
	p11_object *objs;
	size_t n_objs, cap_objs;
} obj_view;

static obj_view *views;
static size_t n_views;
static handle_key *handles; /* handle h is handles[h - 1] */
static size_t n_handles, cap_handles;

CK_RV object_init(size_t n_slots)
{
	views = NULL;
	n_views = 0;
	handles = NULL;
	n_handles = cap_handles = 0;
	if (n_slots == 0)
		return CKR_OK;
	views = calloc(n_slots, sizeof(*views));
	if (views == NULL)
		return CKR_HOST_MEMORY;
	n_views = n_slots;
	return CKR_OK;
}

static void view_clear(obj_view *v)
{
	size_t i;
	for (i = 0; i < v->n_objs; i++)
		attr_list_uninit(&v->objs[i].attrs);
	for (i = 0; i < v->n_creds; i++)
		free(v->creds[i].spki);
	free(v->objs);
	free(v->creds);
	memset(v, 0, sizeof(*v));
}

void object_uninit(void)
{
	size_t i;
	for (i = 0; i < n_views; i++)
		view_clear(&views[i]);
	free(views);
	free(handles);
	views = NULL;
	handles = NULL;
	n_views = n_handles = cap_handles = 0;
}

/* The handle for a key, allocated on first sight; 0 when the table is full. */
static CK_OBJECT_HANDLE handle_for(const handle_key *k)
{
	size_t i;

	for (i = 0; i < n_handles; i++) {
		const handle_key *e = &handles[i];
		if (e->slot == k->slot && e->kind == k->kind &&
		    strcmp(e->cred_id, k->cred_id) == 0 && memcmp(e->fp, k->fp, sizeof(e->fp)) == 0)
			return (CK_OBJECT_HANDLE)(i + 1);
	}
	if (n_handles >= HANDLES_MAX)
		return 0;
	if (n_handles == cap_handles) {
		size_t cap = cap_handles == 0 ? 64 : cap_handles * 2;
		handle_key *grown = realloc(handles, cap * sizeof(*grown));
		if (grown == NULL)
			return 0;
		handles = grown;
		cap_handles = cap;
	}
	handles[n_handles++] = *k;
	return (CK_OBJECT_HANDLE)n_handles;
}

/* A new object in the view, with its handle; NULL on failure. */
static p11_object *view_add(obj_view *v, size_t slot, obj_kind kind, const char *cred_id,
			    const uint8_t *fp)
{
	handle_key k;
	p11_object *o;

	memset(&k, 0, sizeof(k));
	k.slot = slot;
	k.kind = kind;
	if (cred_id != NULL)
		memcpy(k.cred_id, cred_id, strnlen(cred_id, sizeof(k.cred_id) - 1));
	if (fp != NULL)
		memcpy(k.fp, fp, sizeof(k.fp));
	if (v->n_objs == v->cap_objs) {
		size_t cap = v->cap_objs == 0 ? 16 : v->cap_objs * 2;
		p11_object *grown = realloc(v->objs, cap * sizeof(*grown));
		if (grown == NULL)
			return NULL;
		v->objs = grown;
		v->cap_objs = cap;
	}
	o = &v->objs[v->n_objs];
	memset(o, 0, sizeof(*o));
	o->handle = handle_for(&k);
	if (o->handle == 0)
		return NULL;
	o->kind = kind;
	attr_list_init(&o->attrs);
	v->n_objs++;
	return o;
}

static bool view_has_ca(const obj_view *v, const uint8_t *fp)
{
	size_t i;
	for (i = 0; i < v->n_objs; i++) {
		const p11_object *o = &v->objs[i];
		if (o->kind == OBJ_CA &&
		    memcmp(handles[o->handle - 1].fp, fp, SHA256_DIGEST_LENGTH) == 0)
			return true;
	}
	return false;
}

static CK_RV add_chain_cert(obj_view *v, size_t slot, const uint8_t *der, size_t len)
{
	uint8_t fp[SHA256_DIGEST_LENGTH];
	attrs_cert pc;
	p11_object *o;
	CK_RV rv;

	SHA256(der, len, fp);
	if (view_has_ca(v, fp))
		return CKR_OK;
	rv = attrs_cert_parse(&pc, der, len, "CA certificate");
	if (rv != CKR_OK) {
		log_warn("PKCS#11: slot %zu: skipping an unparsable chain certificate", slot);
		return rv == CKR_HOST_MEMORY ? rv : CKR_OK;
	}
	o = view_add(v, slot, OBJ_CA, NULL, fp);
	if (o == NULL) {
		attrs_cert_free(&pc);
		return CKR_HOST_MEMORY;
	}
	attrs_build_cert(&o->attrs, &pc, 2);
	attrs_cert_free(&pc);
	return o->attrs.failed ? CKR_HOST_MEMORY : CKR_OK;
}

/* The three objects of one credential. */
static CK_RV add_credential(obj_view *v, size_t slot, const backend_cred *c, obj_cred *oc)
{
	CK_MECHANISM_TYPE allowed[ALLOWED_MAX];
	attrs_key_flags f;
	attrs_cert pc;
	p11_object *o[3];
	size_t i, n_allowed;
	CK_RV rv;

	rv = attrs_cert_parse(&pc, c->cert, c->cert_len, c->id);
	if (rv != CKR_OK) {
		log_warn("PKCS#11: slot %zu: credential %s has no usable certificate, not shown",
			 slot, c->id);
		return rv == CKR_HOST_MEMORY ? rv : CKR_OK;
	}
	memset(oc, 0, sizeof(*oc));
	memcpy(oc->id, c->id, strnlen(c->id, sizeof(oc->id) - 1));
	oc->key.kind = pc.kind;
	oc->key.bits = pc.bits;
	oc->key.field_len = pc.field_len;
	for (i = 0; i < c->n_algos; i++)
		oc->key.algos |= mech_algo_bit(c->algos[i]);
	oc->can_sign = c->enabled;
	oc->always_auth = !v->module_prompt && !v->otp_auto && c->scal == 2 && c->needs_otp;
	oc->spki = malloc(pc.spki_len);
	if (oc->spki == NULL) {
		attrs_cert_free(&pc);
		return CKR_HOST_MEMORY;
	}
	memcpy(oc->spki, pc.spki, pc.spki_len);
	oc->spki_len = pc.spki_len;
	v->n_creds++;

	n_allowed = mech_allowed_list(&oc->key, allowed, ALLOWED_MAX);
	f.is_private = !v->module_prompt;
	f.always_auth = oc->always_auth;
	f.can_sign = oc->can_sign;
	o[0] = view_add(v, slot, OBJ_CERT, c->id, NULL);
	o[1] = o[0] == NULL ? NULL : view_add(v, slot, OBJ_PUBLIC, c->id, NULL);
	o[2] = o[1] == NULL ? NULL : view_add(v, slot, OBJ_PRIVATE, c->id, NULL);
	if (o[2] == NULL) {
		attrs_cert_free(&pc);
		return CKR_HOST_MEMORY;
	}
	attrs_build_cert(&o[0]->attrs, &pc, 1);
	attrs_build_public(&o[1]->attrs, &pc, allowed, n_allowed);
	attrs_build_private(&o[2]->attrs, &pc, &f, allowed, n_allowed);
	o[2]->is_private = f.is_private;
	attrs_cert_free(&pc);
	for (i = 0; i < 3; i++) {
		if (o[i]->attrs.failed)
			return CKR_HOST_MEMORY;
	}
	return CKR_OK;
}

static CK_RV view_build(obj_view *v, size_t slot, const backend_snapshot *snap)
{
	size_t i, j;
	CK_RV rv = CKR_OK;

	v->generation = snap->generation;
	v->module_prompt = snap->module_prompt;
	v->otp_auto = snap->otp_auto;
	if (snap->n_creds > 0) {
		v->creds = calloc(snap->n_creds, sizeof(*v->creds));
		if (v->creds == NULL)
			return CKR_HOST_MEMORY;
	}
	for (i = 0; i < snap->n_creds && rv == CKR_OK; i++)
		rv = add_credential(v, slot, &snap->creds[i], &v->creds[v->n_creds]);
	/* Credential objects point into creds, which no longer moves. */
	for (i = 0, j = 0; i < v->n_objs; i++) {
		if (v->objs[i].kind != OBJ_CA) {
			v->objs[i].cred = &v->creds[j];
			if (v->objs[i].kind == OBJ_PRIVATE)
				j++;
		}
	}
	for (i = 0; i < snap->n_creds && rv == CKR_OK; i++) {
		const backend_cred *c = &snap->creds[i];
		for (j = 0; j < c->n_chain && rv == CKR_OK; j++)
			rv = add_chain_cert(v, slot, c->chain[j], c->chain_len[j]);
	}
	v->built = rv == CKR_OK;
	return rv;
}

/* Rebuild a slot's view when the cache generation changed. On failure the
 * previous view stays. */
static void object_sync(size_t slot)
{
	const backend_snapshot *snap;
	obj_view fresh;

	if (slot >= n_views)
		return;
	snap = backend_snapshot_get(p11_backend(), slot);
	if (snap == NULL)
		return;
	if (views[slot].built && views[slot].generation == snap->generation &&
	    views[slot].module_prompt == snap->module_prompt &&
	    views[slot].otp_auto == snap->otp_auto) {
		backend_snapshot_release(p11_backend(), snap);
		return;
	}
	memset(&fresh, 0, sizeof(fresh));
	if (view_build(&fresh, slot, snap) == CKR_OK) {
		log_debug(LOG_CAT_P11, "slot %zu: %zu objects (generation %llu)", slot,
			  fresh.n_objs, (unsigned long long)fresh.generation);
		view_clear(&views[slot]);
		views[slot] = fresh;
	} else {
		log_warn("PKCS#11: slot %zu: out of memory building the objects", slot);
		view_clear(&fresh);
	}
	backend_snapshot_release(p11_backend(), snap);
}

CK_RV object_get(size_t slot, CK_OBJECT_HANDLE h, const p11_object **out)
{
	obj_view *v;
	size_t i;

	if (h == 0 || h > n_handles || slot >= n_views || handles[h - 1].slot != slot)
		return CKR_OBJECT_HANDLE_INVALID;
	object_sync(slot);
	v = &views[slot];
	for (i = 0; i < v->n_objs; i++) {
		if (v->objs[i].handle == h) {
			*out = &v->objs[i];
			return CKR_OK;
		}
	}
	return CKR_OBJECT_HANDLE_INVALID;
}

bool object_visible(size_t slot, const p11_object *o)
{
	return !o->is_private || token_logged_in(slot);
}

CK_RV object_get_attributes(const p11_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_PTR tmpl,
			    CK_ULONG count)
{
	const p11_object *o;
	CK_RV rv;

	if (tmpl == NULL && count > 0)
		return CKR_ARGUMENTS_BAD;
	rv = object_get(s->slot, h, &o);
	if (rv != CKR_OK)
		return rv;
	if (!object_visible(s->slot, o))
		return CKR_OBJECT_HANDLE_INVALID;
	return attrs_get(&o->attrs, tmpl, count);
}

CK_RV object_get_size(const p11_session *s, CK_OBJECT_HANDLE h, CK_ULONG_PTR size)
{
	const p11_object *o;
	CK_ULONG n = 0;
	size_t i;
	CK_RV rv;

	if (size == NULL)
		return CKR_ARGUMENTS_BAD;
	rv = object_get(s->slot, h, &o);
	if (rv != CKR_OK)
		return rv;
	if (!object_visible(s->slot, o))
		return CKR_OBJECT_HANDLE_INVALID;
	for (i = 0; i < o->attrs.n; i++)
		n += o->attrs.a[i].len + sizeof(CK_ATTRIBUTE);
	*size = n;
	return CKR_OK;
}

CK_RV object_find_init(p11_session *s, const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	obj_view *v;
	size_t i;

	if (tmpl == NULL && count > 0)
		return CKR_ARGUMENTS_BAD;
	if (count > TEMPLATE_MAX)
		return CKR_TEMPLATE_INCONSISTENT;
	if (s->find_active)
		return CKR_OPERATION_ACTIVE;
	object_sync(s->slot);
	v = &views[s->slot];
	free(s->found);
	s->found = NULL;
	s->n_found = s->pos = 0;
	if (v->n_objs > 0) {
		s->found = calloc(v->n_objs, sizeof(*s->found));
		if (s->found == NULL)
			return CKR_HOST_MEMORY;
	}
	for (i = 0; i < v->n_objs; i++) {
		const p11_object *o = &v->objs[i];
		if (object_visible(s->slot, o) && attrs_match(&o->attrs, tmpl, count))
			s->found[s->n_found++] = o->handle;
	}
	s->find_active = true;
	return CKR_OK;
}

CK_RV object_find(p11_session *s, CK_OBJECT_HANDLE_PTR out, CK_ULONG max, CK_ULONG_PTR count)
{
	CK_ULONG n = 0;

	if (out == NULL || count == NULL)
		return CKR_ARGUMENTS_BAD;
	if (!s->find_active)
		return CKR_OPERATION_NOT_INITIALIZED;
	while (n < max && s->pos < s->n_found)
		out[n++] = s->found[s->pos++];
	*count = n;
	return CKR_OK;
}

CK_RV object_find_final(p11_session *s)
{
	if (!s->find_active)
		return CKR_OPERATION_NOT_INITIALIZED;
	free(s->found);
	s->found = NULL;
	s->n_found = s->pos = 0;
	s->find_active = false;
	return CKR_OK;
}
