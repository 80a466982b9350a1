/* SPDX-License-Identifier: Apache-2.0 */
/* PKCS#11 access to the HSM: module loading, a pool of logged-in sessions,
 * key lookup by CKA_ID with a small handle cache, key generation, signing,
 * and OpenSSL keys whose private operation is done in the HSM. */
#include "hsm.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>
/* p11-kit's compatibility names include a macro "hash_alg", which is also
 * the name of our hash enum (oid.h). The struct member keeps "hashAlg". */
#undef hash_alg

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "digestinfo.h"
#include "ecdsa_sig.h"
#include "log.h"
#include "secmem.h"

#define HSM_ID_MAX 64	   /* CKA_ID bytes accepted */
#define HSM_CACHE_SLOTS 64 /* cached key handles */
#define HSM_LABEL_MAX 255  /* CKA_LABEL of generated keys */
#define HSM_SIG_MAX 1024   /* RSA-8192 */
#define HSM_IN_MAX 1024	   /* data to sign */
#define HSM_ATTR_MAX 4096  /* public key attribute bytes */
#define HSM_POOL_MAX 256
#define HSM_TOKEN_LABEL_LEN 32

/* ---- modules: one load + C_Initialize per path and process ---- */

typedef struct p11_module {
	char *path;
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	unsigned refs;
	bool finalize; /* we initialized it, so we finalize it */
	struct p11_module *next;
} p11_module;

static pthread_mutex_t mod_lock = PTHREAD_MUTEX_INITIALIZER;
static p11_module *mod_list;

typedef struct {
	uint8_t id[HSM_ID_MAX];
	size_t idlen;
	CK_OBJECT_CLASS cls;
	CK_OBJECT_HANDLE obj;
	CK_KEY_TYPE kt;
	bool used;
} cache_entry;

struct hsm {
	p11_module *mod;
	CK_FUNCTION_LIST_PTR f;
	CK_SLOT_ID slot;
	char *pin; /* locked memory, for a re-login */
	size_t pin_len;
	pthread_mutex_t lock; /* pool */
	pthread_cond_t cond;
	CK_SESSION_HANDLE *free_sess; /* stack of idle sessions */
	unsigned nsess;		      /* sessions owned by the pool */
	unsigned nfree;
	pthread_mutex_t cache_lock;
	cache_entry cache[HSM_CACHE_SLOTS];
	unsigned cache_next;
	pthread_mutex_t secret_lock;  /* creation of the factor and MAC keys */
	pthread_mutex_t counter_lock; /* read-modify-write of counters */
};

static const char *rv_name(CK_RV rv)
{
	static const struct {
		CK_RV rv;
		const char *name;
	} names[] = {
	    {CKR_OK, "CKR_OK"},
	    {CKR_HOST_MEMORY, "CKR_HOST_MEMORY"},
	    {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID"},
	    {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
	    {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"},
	    {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
	    {CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE"},
	    {CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID"},
	    {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID"},
	    {CKR_DATA_INVALID, "CKR_DATA_INVALID"},
	    {CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE"},
	    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
	    {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY"},
	    {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED"},
	    {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"},
	    {CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE"},
	    {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT"},
	    {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED"},
	    {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
	    {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID"},
	    {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"},
	    {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE"},
	    {CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED"},
	    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
	    {CKR_PIN_INVALID, "CKR_PIN_INVALID"},
	    {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE"},
	    {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
	    {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED"},
	    {CKR_SESSION_COUNT, "CKR_SESSION_COUNT"},
	    {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
	    {CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY"},
	    {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE"},
	    {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT"},
	    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
	    {CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED"},
	    {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN"},
	    {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
	    {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED"},
	    {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID"},
	    {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL"},
	    {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"},
	    {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED"},
	    {CKR_DOMAIN_PARAMS_INVALID, "CKR_DOMAIN_PARAMS_INVALID"},
	    {CKR_CURVE_NOT_SUPPORTED, "CKR_CURVE_NOT_SUPPORTED"},
	    {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED"},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].rv == rv)
			return names[i].name;
	return "CKR_(other)";
}

static void log_rv(const char *fn, CK_RV rv)
{
	log_msg(LOG_LVL_ERR, LOG_CAT_HSM, "hsm: %s: %s (0x%lx)", fn, rv_name(rv),
		(unsigned long)rv);
}

static int map_rv(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:
		return HSM_OK;
	case CKR_ARGUMENTS_BAD:
	case CKR_ATTRIBUTE_VALUE_INVALID:
	case CKR_DATA_INVALID:
	case CKR_DATA_LEN_RANGE:
	case CKR_DOMAIN_PARAMS_INVALID:
	case CKR_CURVE_NOT_SUPPORTED:
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
	case CKR_KEY_SIZE_RANGE:
	case CKR_KEY_TYPE_INCONSISTENT:
	case CKR_MECHANISM_INVALID:
	case CKR_MECHANISM_PARAM_INVALID:
	case CKR_TEMPLATE_INCONSISTENT:
		return HSM_ERR_INPUT;
	case CKR_BUFFER_TOO_SMALL:
		return HSM_ERR_BUFFER;
	case CKR_OBJECT_HANDLE_INVALID:
	case CKR_KEY_HANDLE_INVALID:
		return HSM_ERR_NOKEY;
	default:
		return HSM_ERR;
	}
}

static void module_unload_locked(p11_module *m)
{
	if (m->finalize && m->f != NULL)
		m->f->C_Finalize(NULL);
	if (m->dl != NULL)
		dlclose(m->dl);
	free(m->path);
	free(m);
}

static int module_acquire(const char *path, p11_module **out)
{
	CK_C_GetFunctionList getfl;
	CK_C_INITIALIZE_ARGS args;
	p11_module *m;
	CK_RV rv;

	*out = NULL;
	if (path == NULL || *path == '\0') {
		log_err("hsm: no PKCS#11 module path");
		return HSM_ERR;
	}
	pthread_mutex_lock(&mod_lock);
	for (m = mod_list; m != NULL; m = m->next) {
		if (strcmp(m->path, path) == 0) {
			m->refs++;
			pthread_mutex_unlock(&mod_lock);
			*out = m;
			return HSM_OK;
		}
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->path = strdup(path)) == NULL)
		goto fail;
	m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (m->dl == NULL) {
		log_err("hsm: cannot load %s: %s", path, dlerror());
		goto fail;
	}
	*(void **)&getfl = dlsym(m->dl, "C_GetFunctionList");
	if (getfl == NULL) {
		log_err("hsm: %s has no C_GetFunctionList", path);
		goto fail;
	}
	rv = getfl(&m->f);
	if (rv != CKR_OK || m->f == NULL) {
		log_rv("C_GetFunctionList", rv);
		m->f = NULL;
		goto fail;
	}
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = m->f->C_Initialize(&args);
	if (rv == CKR_OK) {
		m->finalize = true;
	} else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		log_rv("C_Initialize", rv);
		goto fail;
	}
	m->refs = 1;
	m->next = mod_list;
	mod_list = m;
	pthread_mutex_unlock(&mod_lock);
	*out = m;
	return HSM_OK;
fail:
	if (m != NULL)
		module_unload_locked(m);
	pthread_mutex_unlock(&mod_lock);
	return HSM_ERR;
}

static void module_release(p11_module *m)
{
	p11_module **pp;

	if (m == NULL)
		return;
	pthread_mutex_lock(&mod_lock);
	if (--m->refs == 0) {
		for (pp = &mod_list; *pp != NULL; pp = &(*pp)->next) {
			if (*pp == m) {
				*pp = m->next;
				break;
			}
		}
		module_unload_locked(m);
	}
	pthread_mutex_unlock(&mod_lock);
}

static int pad_label(const char *label, CK_UTF8CHAR out[HSM_TOKEN_LABEL_LEN])
{
	size_t n = strlen(label);

	if (n == 0 || n > HSM_TOKEN_LABEL_LEN)
		return -1;
	memset(out, ' ', HSM_TOKEN_LABEL_LEN);
	memcpy(out, label, n);
	return 0;
}

/* Find the slot whose initialized token carries label: one pass. */
static int find_token_once(CK_FUNCTION_LIST_PTR f, const char *label, CK_SLOT_ID *slot)
{
	CK_UTF8CHAR want[HSM_TOKEN_LABEL_LEN];
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0;
	CK_TOKEN_INFO ti;
	CK_RV rv;
	int ret = HSM_ERR;

	if (pad_label(label, want) != 0) {
		log_err("hsm: token label must have 1 to 32 bytes");
		return HSM_ERR_INPUT;
	}
	rv = f->C_GetSlotList(CK_TRUE, NULL, &n);
	if (rv != CKR_OK) {
		log_rv("C_GetSlotList", rv);
		return HSM_ERR;
	}
	if (n == 0 || n > 4096)
		goto out;
	slots = calloc(n, sizeof(*slots));
	if (slots == NULL)
		return HSM_ERR;
	rv = f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK) {
		log_rv("C_GetSlotList", rv);
		goto out;
	}
	for (CK_ULONG i = 0; i < n; i++) {
		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (!(ti.flags & CKF_TOKEN_INITIALIZED))
			continue;
		if (memcmp(ti.label, want, HSM_TOKEN_LABEL_LEN) == 0) {
			*slot = slots[i];
			ret = HSM_OK;
			break;
		}
	}
out:
	free(slots);
	return ret;
}

/* Find the slot whose initialized token carries label. A file-based HSM
 * (SoftHSM) shared with other processes can answer a token as absent or
 * uninitialized while another process rewrites its files; look again a
 * few times before giving up. */
static int find_token(CK_FUNCTION_LIST_PTR f, const char *label, CK_SLOT_ID *slot)
{
	int ret = HSM_ERR;

	for (int attempt = 0; attempt < 10; attempt++) {
		ret = find_token_once(f, label, slot);
		if (ret != HSM_ERR)
			break;
		usleep(100 * 1000);
	}
	if (ret != HSM_OK)
		log_err("hsm: no token labelled \"%s\"", label);
	return ret;
}

int hsm_create_token(const char *module_path, const char *label, const char *so_pin,
		     const char *user_pin)
{
	CK_UTF8CHAR plabel[HSM_TOKEN_LABEL_LEN];
	CK_SLOT_ID *slots = NULL, slot = 0;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_TOKEN_INFO ti;
	CK_ULONG n = 0;
	p11_module *m = NULL;
	CK_FUNCTION_LIST_PTR f;
	bool found = false;
	CK_RV rv;
	int ret = HSM_ERR;

	if (label == NULL || so_pin == NULL || user_pin == NULL || pad_label(label, plabel) != 0)
		return HSM_ERR_INPUT;
	if (module_acquire(module_path, &m) != HSM_OK)
		return HSM_ERR;
	f = m->f;
	rv = f->C_GetSlotList(CK_TRUE, NULL, &n);
	if (rv != CKR_OK || n == 0 || n > 4096) {
		log_rv("C_GetSlotList", rv);
		goto out;
	}
	slots = calloc(n, sizeof(*slots));
	if (slots == NULL)
		goto out;
	rv = f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK) {
		log_rv("C_GetSlotList", rv);
		goto out;
	}
	for (CK_ULONG i = 0; i < n && !found; i++) {
		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (!(ti.flags & CKF_TOKEN_INITIALIZED)) {
			slot = slots[i];
			found = true;
		}
	}
	if (!found) {
		log_err("hsm: no slot with an uninitialized token");
		goto out;
	}
	rv = f->C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin), plabel);
	if (rv != CKR_OK) {
		log_rv("C_InitToken", rv);
		ret = map_rv(rv);
		goto out;
	}
	/* SoftHSM renumbers its slots after C_InitToken. */
	if (find_token(f, label, &slot) != HSM_OK)
		goto out;
	rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK) {
		log_rv("C_OpenSession", rv);
		goto out;
	}
	rv = f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin));
	if (rv != CKR_OK) {
		log_rv("C_Login(SO)", rv);
		goto out;
	}
	rv = f->C_InitPIN(s, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin));
	f->C_Logout(s);
	if (rv != CKR_OK) {
		log_rv("C_InitPIN", rv);
		ret = map_rv(rv);
		goto out;
	}
	log_msg(LOG_LVL_INFO, LOG_CAT_HSM, "hsm: created token \"%s\"", label);
	ret = HSM_OK;
out:
	if (s != CK_INVALID_HANDLE)
		f->C_CloseSession(s);
	free(slots);
	module_release(m);
	return ret;
}

/* ---- session pool ---- */

static CK_RV login(hsm *h, CK_SESSION_HANDLE s)
{
	CK_RV rv = h->f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)h->pin, h->pin_len);

	if (rv == CKR_USER_ALREADY_LOGGED_IN)
		rv = CKR_OK;
	return rv;
}

static CK_RV open_session(hsm *h, CK_SESSION_HANDLE *s)
{
	CK_RV rv = h->f->C_OpenSession(h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);

	if (rv != CKR_OK) {
		*s = CK_INVALID_HANDLE;
		log_rv("C_OpenSession", rv);
	}
	return rv;
}

static CK_RV session_get(hsm *h, CK_SESSION_HANDLE *s)
{
	CK_RV rv = CKR_OK;

	pthread_mutex_lock(&h->lock);
	while (h->nfree == 0)
		pthread_cond_wait(&h->cond, &h->lock);
	*s = h->free_sess[--h->nfree];
	pthread_mutex_unlock(&h->lock);
	if (*s == CK_INVALID_HANDLE) /* a replacement that failed before */
		rv = open_session(h, s);
	return rv;
}

static void session_put(hsm *h, CK_SESSION_HANDLE s)
{
	pthread_mutex_lock(&h->lock);
	h->free_sess[h->nfree++] = s;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

/* Replace a session whose state is unknown (an operation may be active). */
static void session_reset(hsm *h, CK_SESSION_HANDLE *s)
{
	if (*s != CK_INVALID_HANDLE)
		h->f->C_CloseSession(*s);
	open_session(h, s);
}

/* Handle the conditions after which one retry makes sense. Returns true
 * when the caller should retry. */
static bool recover(hsm *h, CK_SESSION_HANDLE *s, CK_RV rv)
{
	switch (rv) {
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_OPERATION_ACTIVE: /* left over from a failure: start afresh */
		session_reset(h, s);
		return *s != CK_INVALID_HANDLE;
	case CKR_USER_NOT_LOGGED_IN:
		return login(h, *s) == CKR_OK;
	default:
		return false;
	}
}

int hsm_open(const hsm_config *cfg, hsm **out)
{
	hsm *h;
	long ncpu;
	unsigned pool;
	CK_RV rv;

	*out = NULL;
	if (cfg == NULL || cfg->token_label == NULL || cfg->pin == NULL)
		return HSM_ERR_INPUT;
	pool = cfg->pool_size;
	if (pool == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		pool = ncpu > 0 && ncpu < HSM_POOL_MAX / 2 ? 2 * (unsigned)ncpu : 4;
	}
	if (pool > HSM_POOL_MAX)
		pool = HSM_POOL_MAX;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return HSM_ERR;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	pthread_mutex_init(&h->cache_lock, NULL);
	pthread_mutex_init(&h->secret_lock, NULL);
	pthread_mutex_init(&h->counter_lock, NULL);
	h->pin = sec_locked_strndup(cfg->pin, cfg->pin_len);
	h->pin_len = cfg->pin_len;
	h->free_sess = calloc(pool, sizeof(*h->free_sess));
	if (h->pin == NULL || h->free_sess == NULL)
		goto fail;
	if (module_acquire(cfg->module_path, &h->mod) != HSM_OK)
		goto fail;
	h->f = h->mod->f;
	if (find_token(h->f, cfg->token_label, &h->slot) != HSM_OK)
		goto fail;
	for (unsigned i = 0; i < pool; i++) {
		CK_SESSION_HANDLE s;

		if (open_session(h, &s) != CKR_OK)
			goto fail;
		h->free_sess[h->nfree++] = s;
		h->nsess++;
	}
	rv = login(h, h->free_sess[0]);
	if (rv != CKR_OK) {
		log_rv("C_Login", rv);
		goto fail;
	}
	log_msg(LOG_LVL_INFO, LOG_CAT_HSM, "hsm: token \"%s\" open, %u sessions", cfg->token_label,
		pool);
	*out = h;
	return HSM_OK;
fail:
	hsm_close(h);
	return HSM_ERR;
}

void hsm_close(hsm *h)
{
	if (h == NULL)
		return;
	if (h->mod != NULL) {
		bool last;

		/* The login state belongs to the process: log out only when no
		 * other hsm handle uses the module. */
		pthread_mutex_lock(&mod_lock);
		last = h->mod->refs == 1;
		pthread_mutex_unlock(&mod_lock);
		if (last && h->nfree > 0 && h->free_sess[0] != CK_INVALID_HANDLE)
			h->f->C_Logout(h->free_sess[0]);
		for (unsigned i = 0; i < h->nfree; i++)
			if (h->free_sess[i] != CK_INVALID_HANDLE)
				h->f->C_CloseSession(h->free_sess[i]);
		module_release(h->mod);
	}
	if (h->pin != NULL)
		sec_unlock_free(h->pin, h->pin_len + 1);
	free(h->free_sess);
	pthread_mutex_destroy(&h->secret_lock);
	pthread_mutex_destroy(&h->counter_lock);
	pthread_mutex_destroy(&h->cache_lock);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* ---- objects ---- */

static bool cache_get(hsm *h, CK_OBJECT_CLASS cls, const uint8_t *id, size_t idlen,
		      CK_OBJECT_HANDLE *obj, CK_KEY_TYPE *kt)
{
	bool hit = false;

	pthread_mutex_lock(&h->cache_lock);
	for (unsigned i = 0; i < HSM_CACHE_SLOTS; i++) {
		cache_entry *e = &h->cache[i];

		if (e->used && e->cls == cls && e->idlen == idlen &&
		    memcmp(e->id, id, idlen) == 0) {
			*obj = e->obj;
			*kt = e->kt;
			hit = true;
			break;
		}
	}
	pthread_mutex_unlock(&h->cache_lock);
	return hit;
}

static void cache_put(hsm *h, CK_OBJECT_CLASS cls, const uint8_t *id, size_t idlen,
		      CK_OBJECT_HANDLE obj, CK_KEY_TYPE kt)
{
	cache_entry *e = NULL;

	pthread_mutex_lock(&h->cache_lock);
	for (unsigned i = 0; i < HSM_CACHE_SLOTS; i++) {
		cache_entry *c = &h->cache[i];

		if (c->used && c->cls == cls && c->idlen == idlen &&
		    memcmp(c->id, id, idlen) == 0) {
			e = c;
			break;
		}
	}
	if (e == NULL) {
		e = &h->cache[h->cache_next];
		h->cache_next = (h->cache_next + 1) % HSM_CACHE_SLOTS;
	}
	memcpy(e->id, id, idlen);
	e->idlen = idlen;
	e->cls = cls;
	e->obj = obj;
	e->kt = kt;
	e->used = true;
	pthread_mutex_unlock(&h->cache_lock);
}

/* Forget every cached handle of id (any class). */
static void cache_drop(hsm *h, const uint8_t *id, size_t idlen)
{
	pthread_mutex_lock(&h->cache_lock);
	for (unsigned i = 0; i < HSM_CACHE_SLOTS; i++) {
		cache_entry *e = &h->cache[i];

		if (e->used && e->idlen == idlen && memcmp(e->id, id, idlen) == 0)
			e->used = false;
	}
	pthread_mutex_unlock(&h->cache_lock);
}

/* Search the token for objects of class cls with CKA_ID = id; up to max
 * handles into objs, count in *n. */
static CK_RV find_objects(hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const uint8_t *id,
			  size_t idlen, CK_OBJECT_HANDLE *objs, CK_ULONG max, CK_ULONG *n)
{
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_ID, (void *)id, idlen},
	};
	CK_RV rv, rv2;

	*n = 0;
	rv = h->f->C_FindObjectsInit(s, tmpl, 2);
	if (rv != CKR_OK)
		return rv;
	rv = h->f->C_FindObjects(s, objs, max, n);
	rv2 = h->f->C_FindObjectsFinal(s);
	if (rv == CKR_OK)
		rv = rv2;
	return rv;
}

/* The handle of the (first) object cls/id; from the cache unless fresh.
 * CKR_OBJECT_HANDLE_INVALID when there is none. */
static CK_RV lookup(hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const uint8_t *id,
		    size_t idlen, bool fresh, CK_OBJECT_HANDLE *obj, CK_KEY_TYPE *ktp)
{
	CK_OBJECT_HANDLE objs[2];
	CK_KEY_TYPE kt = CKK_VENDOR_DEFINED;
	CK_ATTRIBUTE a = {CKA_KEY_TYPE, &kt, sizeof(kt)};
	CK_ULONG n = 0;
	CK_RV rv;

	if (!fresh && cache_get(h, cls, id, idlen, obj, &kt)) {
		if (ktp != NULL)
			*ktp = kt;
		return CKR_OK;
	}
	rv = find_objects(h, s, cls, id, idlen, objs, 2, &n);
	if (rv != CKR_OK)
		return rv;
	if (n == 0) {
		CK_SESSION_INFO si;

		/* Private objects are invisible when the session is not logged
		 * in (e.g. another handle logged out): say so, to re-login. */
		if (cls == CKO_PRIVATE_KEY && h->f->C_GetSessionInfo(s, &si) == CKR_OK &&
		    si.state != CKS_RW_USER_FUNCTIONS && si.state != CKS_RO_USER_FUNCTIONS)
			return CKR_USER_NOT_LOGGED_IN;
		return CKR_OBJECT_HANDLE_INVALID;
	}
	if (n > 1)
		log_warn("hsm: %lu objects share one CKA_ID; using the first", (unsigned long)n);
	*obj = objs[0];
	rv = h->f->C_GetAttributeValue(s, *obj, &a, 1);
	if (rv != CKR_OK)
		return rv;
	cache_put(h, cls, id, idlen, *obj, kt);
	if (ktp != NULL)
		*ktp = kt;
	return CKR_OK;
}

static bool handle_invalid(CK_RV rv)
{
	return rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID;
}

static bool id_ok(const uint8_t *id, size_t idlen)
{
	return id != NULL && idlen > 0 && idlen <= HSM_ID_MAX;
}

/* ---- public keys ---- */

typedef struct {
	key_kind kind;
	uint8_t *n, *e; /* RSA */
	size_t nlen, elen;
	int curve_nid;	/* EC */
	uint8_t *point; /* uncompressed point, not DER-wrapped */
	size_t pointlen;
} pub_raw;

static void pub_raw_clear(pub_raw *p)
{
	free(p->n);
	free(p->e);
	free(p->point);
	memset(p, 0, sizeof(*p));
}

static CK_RV get_attr(hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
		      uint8_t **val, size_t *len)
{
	CK_ATTRIBUTE a = {type, NULL, 0};
	CK_RV rv;

	*val = NULL;
	*len = 0;
	rv = h->f->C_GetAttributeValue(s, obj, &a, 1);
	if (rv != CKR_OK)
		return rv;
	if (a.ulValueLen == 0 || a.ulValueLen > HSM_ATTR_MAX ||
	    a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	a.pValue = malloc(a.ulValueLen);
	if (a.pValue == NULL)
		return CKR_HOST_MEMORY;
	rv = h->f->C_GetAttributeValue(s, obj, &a, 1);
	if (rv != CKR_OK) {
		free(a.pValue);
		return rv;
	}
	*val = a.pValue;
	*len = a.ulValueLen;
	return CKR_OK;
}

/* CKA_EC_POINT: a DER OCTET STRING around the point (PKCS#11 2.40, SoftHSM)
 * or, from some modules, the raw point. Returns the raw point's offset and
 * length inside buf. */
static int ec_point_unwrap(const uint8_t *buf, size_t len, size_t field_len, size_t *off,
			   size_t *plen)
{
	size_t want = 1 + 2 * field_len;
	size_t hdr;

	if (len == want && buf[0] == 0x04) {
		*off = 0;
		*plen = len;
		return 0;
	}
	if (len < 2 || buf[0] != 0x04)
		return -1;
	if (buf[1] < 0x80)
		hdr = 2;
	else if (buf[1] == 0x81 && len >= 3 && buf[2] >= 0x80)
		hdr = 3;
	else
		return -1;
	if (len - hdr != want || (hdr == 2 ? buf[1] : buf[2]) != want || buf[hdr] != 0x04)
		return -1;
	*off = hdr;
	*plen = want;
	return 0;
}

static int curve_field_len(int nid)
{
	switch (nid) {
	case NID_X9_62_prime256v1:
		return 32;
	case NID_secp384r1:
		return 48;
	case NID_secp521r1:
		return 66;
	default:
		return 0;
	}
}

/* Read the public part of pair id (the public object, or the private one
 * for RSA when there is no public object). */
static CK_RV read_public(hsm *h, CK_SESSION_HANDLE s, const uint8_t *id, size_t idlen, bool fresh,
			 pub_raw *out)
{
	CK_KEY_TYPE kt = 0;
	CK_OBJECT_HANDLE obj;
	CK_RV rv;
	uint8_t *params = NULL, *pt = NULL;
	size_t plen = 0, ptlen = 0, off, rawlen;
	const unsigned char *p;
	ASN1_OBJECT *oid = NULL;

	memset(out, 0, sizeof(*out));
	rv = lookup(h, s, CKO_PUBLIC_KEY, id, idlen, fresh, &obj, &kt);
	if (handle_invalid(rv))
		rv = lookup(h, s, CKO_PRIVATE_KEY, id, idlen, fresh, &obj, &kt);
	if (rv != CKR_OK)
		return rv;
	if (kt == CKK_RSA) {
		out->kind = KEY_RSA;
		rv = get_attr(h, s, obj, CKA_MODULUS, &out->n, &out->nlen);
		if (rv == CKR_OK)
			rv = get_attr(h, s, obj, CKA_PUBLIC_EXPONENT, &out->e, &out->elen);
	} else if (kt == CKK_EC) {
		out->kind = KEY_EC;
		rv = get_attr(h, s, obj, CKA_EC_PARAMS, &params, &plen);
		if (rv == CKR_OK)
			rv = get_attr(h, s, obj, CKA_EC_POINT, &pt, &ptlen);
		if (rv != CKR_OK)
			goto out;
		p = params;
		oid = d2i_ASN1_OBJECT(NULL, &p, (long)plen);
		if (oid == NULL || p != params + plen) {
			rv = CKR_DOMAIN_PARAMS_INVALID;
			goto out;
		}
		out->curve_nid = OBJ_obj2nid(oid);
		if (curve_field_len(out->curve_nid) == 0 ||
		    ec_point_unwrap(pt, ptlen, (size_t)curve_field_len(out->curve_nid), &off,
				    &rawlen) != 0) {
			rv = CKR_DOMAIN_PARAMS_INVALID;
			goto out;
		}
		out->point = malloc(rawlen);
		if (out->point == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		memcpy(out->point, pt + off, rawlen);
		out->pointlen = rawlen;
	} else {
		rv = CKR_KEY_TYPE_INCONSISTENT;
	}
out:
	ASN1_OBJECT_free(oid);
	free(params);
	free(pt);
	if (rv != CKR_OK)
		pub_raw_clear(out);
	return rv;
}

/* Provider-native public key (OpenSSL 3 APIs). */
static EVP_PKEY *pub_raw_to_evp(const pub_raw *r)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *n = NULL, *e = NULL;
	int ok = 0;

	if (bld == NULL)
		return NULL;
	if (r->kind == KEY_RSA) {
		n = BN_bin2bn(r->n, (int)r->nlen, NULL);
		e = BN_bin2bn(r->e, (int)r->elen, NULL);
		ok = n != NULL && e != NULL &&
		     OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
		     OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	} else {
		ok = OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
						     OBJ_nid2sn(r->curve_nid), 0) &&
		     OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, r->point,
						      r->pointlen);
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	}
	if (ok)
		params = OSSL_PARAM_BLD_to_param(bld);
	if (ok && (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
		   EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(n);
	BN_free(e);
	return pkey;
}

static int get_public_raw(hsm *h, const uint8_t *id, size_t idlen, pub_raw *r)
{
	CK_SESSION_HANDLE s;
	CK_RV rv;

	rv = session_get(h, &s);
	if (rv != CKR_OK) {
		session_put(h, s);
		return HSM_ERR;
	}
	for (int attempt = 0; attempt < 3; attempt++) {
		rv = read_public(h, s, id, idlen, attempt > 0, r);
		if (rv == CKR_OK)
			break;
		if (handle_invalid(rv)) {
			cache_drop(h, id, idlen);
			if (attempt > 0)
				break; /* fresh search found nothing */
			continue;
		}
		if (!recover(h, &s, rv))
			break;
	}
	session_put(h, s);
	if (handle_invalid(rv))
		return HSM_ERR_NOKEY;
	if (rv != CKR_OK) {
		log_rv("C_GetAttributeValue(public key)", rv);
		return HSM_ERR;
	}
	return HSM_OK;
}

int hsm_get_public(hsm *h, const uint8_t *id, size_t idlen, EVP_PKEY **pub)
{
	pub_raw r;
	int ret;

	*pub = NULL;
	if (h == NULL || !id_ok(id, idlen))
		return HSM_ERR_INPUT;
	ret = get_public_raw(h, id, idlen, &r);
	if (ret != HSM_OK)
		return ret;
	*pub = pub_raw_to_evp(&r);
	pub_raw_clear(&r);
	if (*pub == NULL) {
		log_err("hsm: cannot convert the public key");
		return HSM_ERR;
	}
	return HSM_OK;
}

/* ---- key generation and destruction ---- */

static void add_attr(CK_ATTRIBUTE *t, CK_ULONG *n, CK_ATTRIBUTE_TYPE type, const void *val,
		     CK_ULONG len)
{
	t[*n].type = type;
	t[*n].pValue = (void *)val;
	t[*n].ulValueLen = len;
	(*n)++;
}

int hsm_generate_keypair(hsm *h, const hsm_key_spec *spec, const uint8_t *id, size_t idlen,
			 const char *label, EVP_PKEY **pub)
{
	static const CK_BYTE exp65537[] = {0x01, 0x00, 0x01};
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS pubcls = CKO_PUBLIC_KEY, privcls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt;
	CK_ULONG bits = 0;
	CK_MECHANISM mech = {0, NULL, 0};
	CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE, existing;
	CK_SESSION_HANDLE s;
	uint8_t ecparams[16];
	unsigned char *pp = ecparams;
	int ecparams_len = 0;
	size_t label_len = label != NULL ? strlen(label) : 0;
	CK_ATTRIBUTE pubt[10], privt[16];
	CK_ULONG npub = 0, npriv = 0;
	pub_raw r;
	CK_RV rv;
	int ret = HSM_ERR;

	if (pub != NULL)
		*pub = NULL;
	if (h == NULL || spec == NULL || !id_ok(id, idlen) || label_len > HSM_LABEL_MAX)
		return HSM_ERR_INPUT;
	if (spec->kind == KEY_RSA) {
		if (spec->bits != 2048 && spec->bits != 3072 && spec->bits != 4096)
			return HSM_ERR_INPUT;
		kt = CKK_RSA;
		bits = spec->bits;
		mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
	} else if (spec->kind == KEY_EC) {
		ASN1_OBJECT *oid;

		if (curve_field_len(spec->curve_nid) == 0)
			return HSM_ERR_INPUT;
		oid = OBJ_nid2obj(spec->curve_nid);
		if (oid == NULL || i2d_ASN1_OBJECT(oid, NULL) > (int)sizeof(ecparams))
			return HSM_ERR_INPUT;
		ecparams_len = i2d_ASN1_OBJECT(oid, &pp);
		if (ecparams_len <= 0)
			return HSM_ERR;
		kt = CKK_EC;
		mech.mechanism = CKM_EC_KEY_PAIR_GEN;
	} else {
		return HSM_ERR_INPUT;
	}

	add_attr(pubt, &npub, CKA_CLASS, &pubcls, sizeof(pubcls));
	add_attr(pubt, &npub, CKA_KEY_TYPE, &kt, sizeof(kt));
	add_attr(pubt, &npub, CKA_TOKEN, &yes, sizeof(yes));
	add_attr(pubt, &npub, CKA_VERIFY, &yes, sizeof(yes));
	add_attr(pubt, &npub, CKA_ENCRYPT, &no, sizeof(no));
	add_attr(pubt, &npub, CKA_WRAP, &no, sizeof(no));
	add_attr(pubt, &npub, CKA_ID, id, idlen);
	if (label_len > 0)
		add_attr(pubt, &npub, CKA_LABEL, label, label_len);
	if (kt == CKK_RSA) {
		add_attr(pubt, &npub, CKA_MODULUS_BITS, &bits, sizeof(bits));
		add_attr(pubt, &npub, CKA_PUBLIC_EXPONENT, exp65537, sizeof(exp65537));
	} else {
		add_attr(pubt, &npub, CKA_EC_PARAMS, ecparams, (CK_ULONG)ecparams_len);
	}
	add_attr(privt, &npriv, CKA_CLASS, &privcls, sizeof(privcls));
	add_attr(privt, &npriv, CKA_KEY_TYPE, &kt, sizeof(kt));
	add_attr(privt, &npriv, CKA_TOKEN, &yes, sizeof(yes));
	add_attr(privt, &npriv, CKA_PRIVATE, &yes, sizeof(yes));
	add_attr(privt, &npriv, CKA_SENSITIVE, &yes, sizeof(yes));
	add_attr(privt, &npriv, CKA_EXTRACTABLE, &no, sizeof(no));
	add_attr(privt, &npriv, CKA_SIGN, &yes, sizeof(yes));
	add_attr(privt, &npriv, CKA_SIGN_RECOVER, &no, sizeof(no));
	add_attr(privt, &npriv, CKA_DECRYPT, &no, sizeof(no));
	add_attr(privt, &npriv, CKA_UNWRAP, &no, sizeof(no));
	add_attr(privt, &npriv, CKA_DERIVE, &no, sizeof(no));
	add_attr(privt, &npriv, CKA_ID, id, idlen);
	if (label_len > 0)
		add_attr(privt, &npriv, CKA_LABEL, label, label_len);

	rv = session_get(h, &s);
	if (rv != CKR_OK) {
		session_put(h, s);
		return HSM_ERR;
	}
	/* One CKA_ID, one pair: refuse to shadow an existing key. */
	for (int attempt = 0; attempt < 2; attempt++) {
		rv = lookup(h, s, CKO_PRIVATE_KEY, id, idlen, true, &existing, NULL);
		if (rv == CKR_OK || handle_invalid(rv) || !recover(h, &s, rv))
			break;
	}
	if (rv == CKR_OK) {
		log_err("hsm: a key with this CKA_ID exists already");
		ret = HSM_ERR_INPUT;
		goto out;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		rv = h->f->C_GenerateKeyPair(s, &mech, pubt, npub, privt, npriv, &hpub, &hpriv);
		if (rv == CKR_OK || !recover(h, &s, rv))
			break;
	}
	if (rv != CKR_OK) {
		log_rv("C_GenerateKeyPair", rv);
		ret = map_rv(rv) == HSM_ERR_INPUT ? HSM_ERR_INPUT : HSM_ERR;
		goto out;
	}
	cache_drop(h, id, idlen);
	cache_put(h, CKO_PRIVATE_KEY, id, idlen, hpriv, kt);
	cache_put(h, CKO_PUBLIC_KEY, id, idlen, hpub, kt);
	log_msg(LOG_LVL_DEBUG, LOG_CAT_HSM, "hsm: generated %s key pair",
		kt == CKK_RSA ? "RSA" : "EC");
	ret = HSM_OK;
	if (pub != NULL) {
		rv = read_public(h, s, id, idlen, false, &r);
		if (rv == CKR_OK) {
			*pub = pub_raw_to_evp(&r);
			pub_raw_clear(&r);
		}
		if (*pub == NULL) {
			log_err("hsm: cannot read the new public key");
			h->f->C_DestroyObject(s, hpriv);
			h->f->C_DestroyObject(s, hpub);
			cache_drop(h, id, idlen);
			ret = HSM_ERR;
		}
	}
out:
	session_put(h, s);
	return ret;
}

int hsm_destroy_keypair(hsm *h, const uint8_t *id, size_t idlen)
{
	static const CK_OBJECT_CLASS classes[] = {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY};
	CK_OBJECT_HANDLE objs[16];
	CK_SESSION_HANDLE s;
	CK_ULONG n;
	CK_RV rv;
	int destroyed = 0, ret = HSM_OK;

	if (h == NULL || !id_ok(id, idlen))
		return HSM_ERR_INPUT;
	rv = session_get(h, &s);
	if (rv != CKR_OK) {
		session_put(h, s);
		return HSM_ERR;
	}
	cache_drop(h, id, idlen);
	for (size_t c = 0; c < 2 && ret == HSM_OK; c++) {
		for (int attempt = 0; attempt < 2; attempt++) {
			rv = find_objects(h, s, classes[c], id, idlen, objs, 16, &n);
			if (rv == CKR_OK || !recover(h, &s, rv))
				break;
		}
		if (rv != CKR_OK) {
			log_rv("C_FindObjects", rv);
			ret = HSM_ERR;
			break;
		}
		for (CK_ULONG i = 0; i < n; i++) {
			rv = h->f->C_DestroyObject(s, objs[i]);
			if (rv == CKR_OK) {
				destroyed++;
			} else if (!handle_invalid(rv)) {
				log_rv("C_DestroyObject", rv);
				ret = HSM_ERR;
			}
		}
	}
	session_put(h, s);
	if (ret == HSM_OK && destroyed == 0)
		return HSM_ERR_NOKEY;
	return ret;
}

/* ---- signing ---- */

/* PSS hash -> CKM_SHA*, CKG_MGF1_SHA*, digest length; 0 when unsupported. */
static size_t pss_hash(hash_alg a, CK_MECHANISM_TYPE *mech, CK_RSA_PKCS_MGF_TYPE *mgf)
{
	static const struct {
		hash_alg alg;
		CK_MECHANISM_TYPE mech;
		CK_RSA_PKCS_MGF_TYPE mgf;
		size_t len;
	} t[] = {
	    {HASH_SHA1, CKM_SHA_1, CKG_MGF1_SHA1, 20},
	    {HASH_SHA224, CKM_SHA224, CKG_MGF1_SHA224, 28},
	    {HASH_SHA256, CKM_SHA256, CKG_MGF1_SHA256, 32},
	    {HASH_SHA384, CKM_SHA384, CKG_MGF1_SHA384, 48},
	    {HASH_SHA512, CKM_SHA512, CKG_MGF1_SHA512, 64},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (t[i].alg == a) {
			*mech = t[i].mech;
			*mgf = t[i].mgf;
			return t[i].len;
		}
	}
	return 0;
}

int hsm_sign(hsm *h, const uint8_t *id, size_t idlen, hsm_mech mech, const hsm_pss *pss,
	     const uint8_t *in, size_t inlen, uint8_t *sig, size_t cap, size_t *siglen)
{
	CK_RSA_PKCS_PSS_PARAMS pp;
	CK_MECHANISM m = {0, NULL, 0};
	CK_MECHANISM_TYPE unused;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
	CK_KEY_TYPE kt = CKK_VENDOR_DEFINED;
	uint8_t raw[HSM_SIG_MAX];
	CK_ULONG rawlen = 0;
	uint8_t *der = NULL;
	size_t derlen = 0;
	bool fresh = false;
	CK_RV rv;
	int ret;

	if (siglen != NULL)
		*siglen = 0;
	if (h == NULL || !id_ok(id, idlen) || in == NULL || inlen == 0 || inlen > HSM_IN_MAX ||
	    sig == NULL || siglen == NULL)
		return HSM_ERR_INPUT;
	switch (mech) {
	case HSM_MECH_RSA_PKCS:
		m.mechanism = CKM_RSA_PKCS;
		break;
	case HSM_MECH_RSA_PSS:
		if (pss == NULL || pss_hash(pss->hash, &pp.hashAlg, &pp.mgf) != inlen ||
		    pss_hash(pss->mgf_hash, &unused, &pp.mgf) == 0 || pss->salt_len > HSM_SIG_MAX)
			return HSM_ERR_INPUT;
		pp.sLen = pss->salt_len;
		m.mechanism = CKM_RSA_PKCS_PSS;
		m.pParameter = &pp;
		m.ulParameterLen = sizeof(pp);
		break;
	case HSM_MECH_ECDSA:
		m.mechanism = CKM_ECDSA;
		break;
	default:
		return HSM_ERR_INPUT;
	}

	rv = session_get(h, &s);
	if (rv != CKR_OK) {
		session_put(h, s);
		return HSM_ERR;
	}
	for (int attempt = 0; attempt < 3; attempt++) {
		rv = lookup(h, s, CKO_PRIVATE_KEY, id, idlen, fresh, &key, &kt);
		if (rv == CKR_OK && kt != (mech == HSM_MECH_ECDSA ? CKK_EC : CKK_RSA))
			rv = CKR_KEY_TYPE_INCONSISTENT;
		else if (rv == CKR_OK)
			rv = h->f->C_SignInit(s, &m, key);
		if (rv == CKR_OK) {
			rawlen = sizeof(raw);
			rv = h->f->C_Sign(s, (CK_BYTE_PTR)in, inlen, raw, &rawlen);
			if (rv == CKR_BUFFER_TOO_SMALL) /* the operation stays active */
				session_reset(h, &s);
			break;
		}
		if (handle_invalid(rv)) {
			/* Deleted, or re-created by another process: search again once. */
			cache_drop(h, id, idlen);
			if (fresh)
				break;
			fresh = true;
			continue;
		}
		if (!recover(h, &s, rv))
			break;
	}
	session_put(h, s);
	if (rv != CKR_OK) {
		ret = map_rv(rv);
		if (ret == HSM_ERR)
			log_rv("C_Sign", rv);
		else
			log_msg(LOG_LVL_DEBUG, LOG_CAT_HSM, "hsm: sign: %s", rv_name(rv));
		sec_zero(raw, sizeof(raw));
		return ret;
	}
	if (mech == HSM_MECH_ECDSA) {
		if (ecdsa_raw_to_der(raw, rawlen, &der, &derlen) != 0) {
			log_err("hsm: bad ECDSA signature from the HSM");
			return HSM_ERR;
		}
		if (derlen > cap) {
			free(der);
			return HSM_ERR_BUFFER;
		}
		memcpy(sig, der, derlen);
		*siglen = derlen;
		free(der);
		return HSM_OK;
	}
	if (rawlen > cap)
		return HSM_ERR_BUFFER;
	memcpy(sig, raw, rawlen);
	*siglen = rawlen;
	return HSM_OK;
}

/* ---- OpenSSL keys backed by the HSM (legacy method hooks) ---- */

typedef struct {
	hsm *h;
	size_t idlen;
	uint8_t id[HSM_ID_MAX];
} key_ref;

static pthread_once_t meth_once = PTHREAD_ONCE_INIT;
static RSA_METHOD *rsa_meth;
static EC_KEY_METHOD *ec_meth;
static int rsa_idx = -1, ec_idx = -1;

static void key_ref_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			 void *argp)
{
	free(ptr);
}

static hash_alg hash_from_nid(int nid)
{
	switch (nid) {
	case NID_sha1:
		return HASH_SHA1;
	case NID_sha224:
		return HASH_SHA224;
	case NID_sha256:
		return HASH_SHA256;
	case NID_sha384:
		return HASH_SHA384;
	case NID_sha512:
		return HASH_SHA512;
	case NID_sha3_256:
		return HASH_SHA3_256;
	case NID_sha3_384:
		return HASH_SHA3_384;
	case NID_sha3_512:
		return HASH_SHA3_512;
	default:
		return HASH_NONE;
	}
}

static int rsa_hsm_sign(int type, const unsigned char *m, unsigned int mlen, unsigned char *sigret,
			unsigned int *siglen, const RSA *rsa)
{
	const key_ref *k = RSA_get_ex_data(rsa, rsa_idx);
	uint8_t di[HASH_MAX_LEN + 32];
	size_t dilen = 0, outlen = 0;
	hash_alg alg = hash_from_nid(type);

	if (k == NULL || alg == HASH_NONE ||
	    digestinfo_build(alg, m, mlen, di, sizeof(di), &dilen) != 0)
		return 0;
	if (hsm_sign(k->h, k->id, k->idlen, HSM_MECH_RSA_PKCS, NULL, di, dilen, sigret,
		     (size_t)RSA_size(rsa), &outlen) != HSM_OK)
		return 0;
	*siglen = (unsigned int)outlen;
	return 1;
}

/* EVP_PKEY_sign without a digest set: from is the DigestInfo. */
static int rsa_hsm_priv_enc(int flen, const unsigned char *from, unsigned char *to, RSA *rsa,
			    int padding)
{
	const key_ref *k = RSA_get_ex_data(rsa, rsa_idx);
	size_t outlen = 0;

	if (k == NULL || padding != RSA_PKCS1_PADDING || flen <= 0)
		return -1;
	if (hsm_sign(k->h, k->id, k->idlen, HSM_MECH_RSA_PKCS, NULL, from, (size_t)flen, to,
		     (size_t)RSA_size(rsa), &outlen) != HSM_OK)
		return -1;
	return (int)outlen;
}

static ECDSA_SIG *ec_hsm_sign_sig(const unsigned char *dgst, int dlen, const BIGNUM *kinv,
				  const BIGNUM *r, EC_KEY *eckey)
{
	const key_ref *k = EC_KEY_get_ex_data(eckey, ec_idx);
	uint8_t der[160];
	size_t derlen = 0;
	const unsigned char *p = der;
	ECDSA_SIG *sig;

	if (k == NULL || dlen <= 0)
		return NULL;
	if (hsm_sign(k->h, k->id, k->idlen, HSM_MECH_ECDSA, NULL, dgst, (size_t)dlen, der,
		     sizeof(der), &derlen) != HSM_OK)
		return NULL;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	return sig;
}

static int ec_hsm_sign_setup(EC_KEY *eckey, BN_CTX *ctx, BIGNUM **kinv, BIGNUM **r)
{
	return 1; /* nothing to precompute: the HSM chooses k */
}

static void meth_init(void)
{
	int (*dflt_sign)(int, const unsigned char *, int, unsigned char *, unsigned int *,
			 const BIGNUM *, const BIGNUM *, EC_KEY *) = NULL;

	rsa_idx = RSA_get_ex_new_index(0, NULL, NULL, NULL, key_ref_free);
	ec_idx = EC_KEY_get_ex_new_index(0, NULL, NULL, NULL, key_ref_free);
	rsa_meth = RSA_meth_dup(RSA_PKCS1_OpenSSL());
	if (rsa_meth != NULL) {
		RSA_meth_set1_name(rsa_meth, "cisres-hsm");
		RSA_meth_set_flags(rsa_meth, RSA_meth_get_flags(rsa_meth) | RSA_FLAG_EXT_PKEY);
		RSA_meth_set_sign(rsa_meth, rsa_hsm_sign);
		RSA_meth_set_priv_enc(rsa_meth, rsa_hsm_priv_enc);
		RSA_meth_set_priv_dec(rsa_meth, NULL);
	}
	ec_meth = EC_KEY_METHOD_new(EC_KEY_OpenSSL());
	if (ec_meth != NULL) {
		/* The default sign() DER-encodes what sign_sig() returns. */
		EC_KEY_METHOD_get_sign(EC_KEY_OpenSSL(), &dflt_sign, NULL, NULL);
		EC_KEY_METHOD_set_sign(ec_meth, dflt_sign, ec_hsm_sign_setup, ec_hsm_sign_sig);
	}
}

static key_ref *key_ref_new(hsm *h, const uint8_t *id, size_t idlen)
{
	key_ref *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return NULL;
	k->h = h;
	k->idlen = idlen;
	memcpy(k->id, id, idlen);
	return k;
}

static EVP_PKEY *rsa_pkey(hsm *h, const uint8_t *id, size_t idlen, const pub_raw *r)
{
	RSA *rsa = RSA_new();
	BIGNUM *n = BN_bin2bn(r->n, (int)r->nlen, NULL);
	BIGNUM *e = BN_bin2bn(r->e, (int)r->elen, NULL);
	key_ref *k = key_ref_new(h, id, idlen);
	EVP_PKEY *pkey = EVP_PKEY_new();

	if (rsa == NULL || n == NULL || e == NULL || k == NULL || pkey == NULL ||
	    !RSA_set_method(rsa, rsa_meth))
		goto fail;
	if (!RSA_set0_key(rsa, n, e, NULL))
		goto fail;
	n = e = NULL;
	if (!RSA_set_ex_data(rsa, rsa_idx, k))
		goto fail;
	k = NULL;
	if (!EVP_PKEY_assign_RSA(pkey, rsa))
		goto fail;
	return pkey;
fail:
	RSA_free(rsa);
	BN_free(n);
	BN_free(e);
	free(k);
	EVP_PKEY_free(pkey);
	return NULL;
}

static EVP_PKEY *ec_pkey(hsm *h, const uint8_t *id, size_t idlen, const pub_raw *r)
{
	EC_KEY *ec = EC_KEY_new_by_curve_name(r->curve_nid);
	key_ref *k = key_ref_new(h, id, idlen);
	EVP_PKEY *pkey = EVP_PKEY_new();
	const unsigned char *p = r->point;

	if (ec == NULL || k == NULL || pkey == NULL || !EC_KEY_set_method(ec, ec_meth))
		goto fail;
	if (o2i_ECPublicKey(&ec, &p, (long)r->pointlen) == NULL)
		goto fail;
	if (!EC_KEY_set_ex_data(ec, ec_idx, k))
		goto fail;
	k = NULL;
	if (!EVP_PKEY_assign_EC_KEY(pkey, ec))
		goto fail;
	return pkey;
fail:
	EC_KEY_free(ec);
	free(k);
	EVP_PKEY_free(pkey);
	return NULL;
}

EVP_PKEY *hsm_pkey_new(hsm *h, const uint8_t *id, size_t idlen)
{
	EVP_PKEY *pkey = NULL;
	pub_raw r;

	if (h == NULL || !id_ok(id, idlen))
		return NULL;
	pthread_once(&meth_once, meth_init);
	if (rsa_meth == NULL || ec_meth == NULL || rsa_idx < 0 || ec_idx < 0)
		return NULL;
	if (get_public_raw(h, id, idlen, &r) != HSM_OK)
		return NULL;
	if (r.kind == KEY_RSA)
		pkey = rsa_pkey(h, id, idlen, &r);
	else
		pkey = ec_pkey(h, id, idlen, &r);
	pub_raw_clear(&r);
	if (pkey == NULL)
		log_err("hsm: cannot build the HSM-backed OpenSSL key");
	return pkey;
}

/* ---- factor secrets: AES-256-GCM under an HSM-held key ---- */

static const uint8_t secret_magic[4] = {'C', 'S', 'F', '1'};
#define SECRET_MAGIC_LEN 4
#define SECRET_IV_LEN 12
#define SECRET_TAG_LEN 16
#define SECRET_KEYS_MAX 4 /* duplicates from a creation race across processes */

bool hsm_secret_is_sealed(const uint8_t *in, size_t inlen)
{
	return in != NULL && inlen >= HSM_SECRET_OVERHEAD &&
	       memcmp(in, secret_magic, SECRET_MAGIC_LEN) == 0;
}

/* The HSM-held secret keys of the SAM, each found by its CKA_ID and
 * created on first use. */
typedef struct {
	const char *id; /* CKA_ID and CKA_LABEL */
	CK_KEY_TYPE type;
	CK_MECHANISM_TYPE gen;
	bool crypt; /* CKA_ENCRYPT/CKA_DECRYPT, else CKA_SIGN/CKA_VERIFY */
} named_key;

static const named_key factor_key = {HSM_FACTOR_KEY_ID, CKK_AES, CKM_AES_KEY_GEN, true};
static const named_key mac_key = {HSM_MAC_KEY_ID, CKK_GENERIC_SECRET, CKM_GENERIC_SECRET_KEY_GEN,
				  false};

/* Every key of this name on the token (normally exactly one). A session
 * that is not logged in sees none: say so, so that the caller logs in. */
static CK_RV named_keys(hsm *h, CK_SESSION_HANDLE s, const named_key *k, CK_OBJECT_HANDLE *objs,
			CK_ULONG *n)
{
	CK_SESSION_INFO si;
	CK_RV rv = find_objects(h, s, CKO_SECRET_KEY, (const uint8_t *)k->id, strlen(k->id), objs,
				SECRET_KEYS_MAX, n);

	if (rv == CKR_OK && *n == 0 && h->f->C_GetSessionInfo(s, &si) == CKR_OK &&
	    si.state != CKS_RW_USER_FUNCTIONS && si.state != CKS_RO_USER_FUNCTIONS)
		return CKR_USER_NOT_LOGGED_IN;
	return rv;
}

static CK_RV named_key_create(hsm *h, CK_SESSION_HANDLE s, const named_key *k,
			      CK_OBJECT_HANDLE *key)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = k->type;
	CK_ULONG len = 32;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_BBOOL crypt = k->crypt ? CK_TRUE : CK_FALSE, mac = k->crypt ? CK_FALSE : CK_TRUE;
	CK_MECHANISM mech = {k->gen, NULL, 0};
	CK_ATTRIBUTE t[18];
	CK_ULONG n = 0;

	add_attr(t, &n, CKA_CLASS, &cls, sizeof(cls));
	add_attr(t, &n, CKA_KEY_TYPE, &kt, sizeof(kt));
	add_attr(t, &n, CKA_VALUE_LEN, &len, sizeof(len));
	add_attr(t, &n, CKA_TOKEN, &yes, sizeof(yes));
	add_attr(t, &n, CKA_PRIVATE, &yes, sizeof(yes));
	add_attr(t, &n, CKA_SENSITIVE, &yes, sizeof(yes));
	add_attr(t, &n, CKA_EXTRACTABLE, &no, sizeof(no));
	add_attr(t, &n, CKA_ENCRYPT, &crypt, sizeof(crypt));
	add_attr(t, &n, CKA_DECRYPT, &crypt, sizeof(crypt));
	add_attr(t, &n, CKA_WRAP, &no, sizeof(no));
	add_attr(t, &n, CKA_UNWRAP, &no, sizeof(no));
	add_attr(t, &n, CKA_SIGN, &mac, sizeof(mac));
	add_attr(t, &n, CKA_VERIFY, &mac, sizeof(mac));
	add_attr(t, &n, CKA_DERIVE, &no, sizeof(no));
	add_attr(t, &n, CKA_ID, k->id, strlen(k->id));
	add_attr(t, &n, CKA_LABEL, k->id, strlen(k->id));
	return h->f->C_GenerateKey(s, &mech, t, n, key);
}

/* The handle of key k: from the cache unless fresh, else found, else
 * created (once per process at a time). */
static CK_RV named_key_get(hsm *h, CK_SESSION_HANDLE s, const named_key *k, bool fresh,
			   CK_OBJECT_HANDLE *key)
{
	CK_OBJECT_HANDLE objs[SECRET_KEYS_MAX];
	CK_KEY_TYPE kt;
	CK_ULONG n = 0;
	CK_RV rv;

	if (!fresh && cache_get(h, CKO_SECRET_KEY, (const uint8_t *)k->id, strlen(k->id), key, &kt))
		return CKR_OK;
	pthread_mutex_lock(&h->secret_lock);
	rv = named_keys(h, s, k, objs, &n);
	if (rv == CKR_OK && n == 0) {
		rv = named_key_create(h, s, k, &objs[0]);
		if (rv == CKR_OK) {
			n = 1;
			log_info("hsm: created the key \"%s\"", k->id);
		} else {
			log_rv("C_GenerateKey", rv);
		}
	}
	pthread_mutex_unlock(&h->secret_lock);
	if (rv != CKR_OK)
		return rv;
	*key = objs[0];
	cache_put(h, CKO_SECRET_KEY, (const uint8_t *)k->id, strlen(k->id), *key, k->type);
	return CKR_OK;
}

/* One GCM operation; out has room for inlen + SECRET_TAG_LEN bytes. */
static CK_RV secret_crypt(hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, bool enc,
			  const uint8_t iv[SECRET_IV_LEN], const uint8_t *aad, size_t aadlen,
			  const uint8_t *in, size_t inlen, uint8_t *out, CK_ULONG *outlen)
{
	CK_GCM_PARAMS gp;
	CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
	CK_RV rv;

	memset(&gp, 0, sizeof(gp));
	gp.pIv = (CK_BYTE_PTR)iv;
	gp.ulIvLen = SECRET_IV_LEN;
	gp.ulIvBits = SECRET_IV_LEN * 8;
	gp.pAAD = (CK_BYTE_PTR)aad;
	gp.ulAADLen = aadlen;
	gp.ulTagBits = SECRET_TAG_LEN * 8;
	rv = enc ? h->f->C_EncryptInit(s, &m, key) : h->f->C_DecryptInit(s, &m, key);
	if (rv != CKR_OK)
		return rv;
	if (enc)
		rv = h->f->C_Encrypt(s, (CK_BYTE_PTR)in, inlen, out, outlen);
	else
		rv = h->f->C_Decrypt(s, (CK_BYTE_PTR)in, inlen, out, outlen);
	if (rv == CKR_BUFFER_TOO_SMALL) /* the operation stays active */
		session_reset(h, &s);
	return rv;
}

static bool secret_args_ok(const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t inlen,
			   const uint8_t *out, const size_t *outlen)
{
	return (aad != NULL || aadlen == 0) && aadlen <= HSM_SECRET_AAD_MAX && in != NULL &&
	       out != NULL && outlen != NULL;
}

int hsm_secret_seal(hsm *h, const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t inlen,
		    uint8_t *out, size_t cap, size_t *outlen)
{
	CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
	CK_SESSION_HANDLE s;
	CK_ULONG clen;
	uint8_t iv[SECRET_IV_LEN];
	CK_RV rv = CKR_OK;
	bool fresh = false;
	int ret = HSM_ERR;

	if (outlen != NULL)
		*outlen = 0;
	if (h == NULL || !secret_args_ok(aad, aadlen, in, inlen, out, outlen) || inlen == 0 ||
	    inlen > HSM_SECRET_MAX || cap < inlen + HSM_SECRET_OVERHEAD)
		return HSM_ERR_INPUT;
	if (sec_random(iv, sizeof(iv)) != 0)
		return HSM_ERR;
	rv = session_get(h, &s);
	if (rv != CKR_OK) {
		session_put(h, s);
		return HSM_ERR;
	}
	for (int attempt = 0; attempt < 3; attempt++) {
		rv = named_key_get(h, s, &factor_key, fresh, &key);
		if (rv == CKR_OK) {
			memcpy(out, secret_magic, SECRET_MAGIC_LEN);
			memcpy(out + SECRET_MAGIC_LEN, iv, SECRET_IV_LEN);
			clen = (CK_ULONG)(cap - SECRET_MAGIC_LEN - SECRET_IV_LEN);
			rv = secret_crypt(h, s, key, true, iv, aad, aadlen, in, inlen,
					  out + SECRET_MAGIC_LEN + SECRET_IV_LEN, &clen);
			if (rv == CKR_OK) {
				if (clen != inlen + SECRET_TAG_LEN) {
					rv = CKR_GENERAL_ERROR;
					break;
				}
				*outlen = SECRET_MAGIC_LEN + SECRET_IV_LEN + (size_t)clen;
				ret = HSM_OK;
				break;
			}
		}
		if (handle_invalid(rv) && !fresh) {
			cache_drop(h, (const uint8_t *)factor_key.id, strlen(factor_key.id));
			fresh = true;
			continue;
		}
		if (!recover(h, &s, rv))
			break;
	}
	session_put(h, s);
	sec_zero(iv, sizeof(iv));
	if (ret != HSM_OK) {
		log_rv("C_Encrypt (factor key)", rv);
		sec_zero(out, cap);
		ret = map_rv(rv) == HSM_ERR_INPUT ? HSM_ERR_INPUT : HSM_ERR;
	}
	return ret;
}

int hsm_secret_open(hsm *h, const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t inlen,
		    uint8_t *out, size_t cap, size_t *outlen)
{
	CK_OBJECT_HANDLE objs[SECRET_KEYS_MAX];
	CK_SESSION_HANDLE s;
	CK_KEY_TYPE kt;
	CK_ULONG n = 0, plen = 0;
	const uint8_t *iv, *ct;
	size_t ctlen;
	uint8_t *tmp = NULL;
	CK_RV rv = CKR_OK;
	int ret = HSM_ERR;

	if (outlen != NULL)
		*outlen = 0;
	if (h == NULL || !secret_args_ok(aad, aadlen, in, inlen, out, outlen))
		return HSM_ERR_INPUT;
	if (!hsm_secret_is_sealed(in, inlen) || inlen > HSM_SECRET_MAX + HSM_SECRET_OVERHEAD ||
	    cap < inlen - HSM_SECRET_OVERHEAD)
		return HSM_ERR_INPUT;
	iv = in + SECRET_MAGIC_LEN;
	ct = iv + SECRET_IV_LEN;
	ctlen = inlen - SECRET_MAGIC_LEN - SECRET_IV_LEN;
	/* The module may want room for the whole input. */
	tmp = sec_locked_alloc(ctlen);
	if (tmp == NULL)
		return HSM_ERR;
	rv = session_get(h, &s);
	if (rv != CKR_OK) {
		session_put(h, s);
		sec_unlock_free(tmp, ctlen);
		return HSM_ERR;
	}
	/* The cached key first: one decryption, no search. */
	if (cache_get(h, CKO_SECRET_KEY, (const uint8_t *)factor_key.id, strlen(factor_key.id),
		      &objs[0], &kt)) {
		plen = (CK_ULONG)ctlen;
		rv = secret_crypt(h, s, objs[0], false, iv, aad, aadlen, ct, ctlen, tmp, &plen);
		if (rv == CKR_OK && plen == ctlen - SECRET_TAG_LEN && plen <= cap) {
			memcpy(out, tmp, plen);
			*outlen = plen;
			ret = HSM_OK;
			goto out;
		}
		if (rv == CKR_OK) /* cannot happen with GCM */
			goto out;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		rv = named_keys(h, s, &factor_key, objs, &n);
		if (rv == CKR_OK || !recover(h, &s, rv))
			break;
	}
	if (rv != CKR_OK) {
		log_rv("C_FindObjects (factor key)", rv);
		goto out;
	}
	if (n == 0) {
		log_err("hsm: the token has no factor key \"%s\"", HSM_FACTOR_KEY_ID);
		ret = HSM_ERR_NOKEY;
		goto out;
	}
	/* Normally one key; after a creation race between processes, the one
	 * whose tag verifies. */
	ret = HSM_ERR_INPUT;
	for (CK_ULONG i = 0; i < n; i++) {
		for (int attempt = 0; attempt < 2; attempt++) {
			plen = (CK_ULONG)ctlen;
			rv = secret_crypt(h, s, objs[i], false, iv, aad, aadlen, ct, ctlen, tmp,
					  &plen);
			if (rv == CKR_OK || !recover(h, &s, rv))
				break;
		}
		if (rv == CKR_OK) {
			if (plen != ctlen - SECRET_TAG_LEN || plen > cap) {
				ret = HSM_ERR;
				break;
			}
			memcpy(out, tmp, plen);
			*outlen = plen;
			ret = HSM_OK;
			cache_put(h, CKO_SECRET_KEY, (const uint8_t *)factor_key.id,
				  strlen(factor_key.id), objs[i], CKK_AES);
			break;
		}
		if (rv != CKR_ENCRYPTED_DATA_INVALID && rv != CKR_ENCRYPTED_DATA_LEN_RANGE &&
		    rv != CKR_DATA_INVALID && rv != CKR_DATA_LEN_RANGE && rv != CKR_GENERAL_ERROR &&
		    rv != CKR_FUNCTION_FAILED) {
			log_rv("C_Decrypt (factor key)", rv);
			ret = HSM_ERR;
			break;
		}
	}
	if (ret == HSM_ERR_INPUT)
		log_msg(LOG_LVL_DEBUG, LOG_CAT_HSM, "hsm: a sealed secret does not authenticate");
out:
	session_put(h, s);
	sec_unlock_free(tmp, ctlen);
	if (ret != HSM_OK)
		sec_zero(out, cap);
	return ret;
}

/* ---- keyed MACs under an HSM-held key ---- */

int hsm_mac(hsm *h, const uint8_t *in, size_t inlen, uint8_t out[HSM_MAC_LEN])
{
	CK_MECHANISM m = {CKM_SHA256_HMAC, NULL, 0};
	CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
	CK_SESSION_HANDLE s;
	CK_ULONG olen = 0;
	CK_RV rv;
	bool fresh = false;
	int ret = HSM_ERR;

	if (h == NULL || in == NULL || inlen == 0 || inlen > HSM_MAC_INPUT_MAX || out == NULL)
		return HSM_ERR_INPUT;
	rv = session_get(h, &s);
	if (rv != CKR_OK) {
		session_put(h, s);
		return HSM_ERR;
	}
	for (int attempt = 0; attempt < 3; attempt++) {
		rv = named_key_get(h, s, &mac_key, fresh, &key);
		if (rv == CKR_OK)
			rv = h->f->C_SignInit(s, &m, key);
		if (rv == CKR_OK) {
			olen = HSM_MAC_LEN;
			rv = h->f->C_Sign(s, (CK_BYTE_PTR)in, (CK_ULONG)inlen, out, &olen);
			if (rv == CKR_BUFFER_TOO_SMALL)
				session_reset(h, &s);
			if (rv == CKR_OK) {
				ret = olen == HSM_MAC_LEN ? HSM_OK : HSM_ERR;
				break;
			}
		}
		if (handle_invalid(rv) && !fresh) {
			cache_drop(h, (const uint8_t *)mac_key.id, strlen(mac_key.id));
			fresh = true;
			continue;
		}
		if (!recover(h, &s, rv))
			break;
	}
	session_put(h, s);
	if (ret != HSM_OK) {
		log_rv("C_Sign (MAC key)", rv);
		sec_zero(out, HSM_MAC_LEN);
	}
	return ret;
}

/* ---- counters kept in the token ---- */

#define COUNTER_APP "cisres-counter"
#define COUNTER_DUPS_MAX 8 /* duplicates from a creation race across processes */

static bool counter_name_ok(const char *name)
{
	size_t n;

	if (name == NULL)
		return false;
	n = strnlen(name, HSM_COUNTER_NAME_MAX);
	return n > 0 && n < HSM_COUNTER_NAME_MAX;
}

/* Every counter object of this name (normally at most one). */
static CK_RV counter_find(hsm *h, CK_SESSION_HANDLE s, const char *name, CK_OBJECT_HANDLE *objs,
			  CK_ULONG *n)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_APPLICATION, (void *)COUNTER_APP, sizeof(COUNTER_APP) - 1},
	    {CKA_LABEL, (void *)name, strlen(name)},
	};
	CK_SESSION_INFO si;
	CK_RV rv, rv2;

	*n = 0;
	rv = h->f->C_FindObjectsInit(s, tmpl, 3);
	if (rv != CKR_OK)
		return rv;
	rv = h->f->C_FindObjects(s, objs, COUNTER_DUPS_MAX, n);
	rv2 = h->f->C_FindObjectsFinal(s);
	if (rv == CKR_OK)
		rv = rv2;
	/* Private objects are invisible to a session that is not logged in. */
	if (rv == CKR_OK && *n == 0 && h->f->C_GetSessionInfo(s, &si) == CKR_OK &&
	    si.state != CKS_RW_USER_FUNCTIONS && si.state != CKS_RO_USER_FUNCTIONS)
		return CKR_USER_NOT_LOGGED_IN;
	return rv;
}

static CK_RV counter_read(hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj, uint32_t *value)
{
	uint8_t v[4];
	CK_ATTRIBUTE a = {CKA_VALUE, v, sizeof(v)};
	CK_RV rv = h->f->C_GetAttributeValue(s, obj, &a, 1);

	if (rv != CKR_OK)
		return rv;
	if (a.ulValueLen != sizeof(v))
		return CKR_DATA_INVALID;
	*value = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
	return CKR_OK;
}

/* The counter's value: the largest of its objects (0 when none). */
static CK_RV counter_value(hsm *h, CK_SESSION_HANDLE s, const char *name, CK_OBJECT_HANDLE *objs,
			   CK_ULONG *n, uint32_t *value)
{
	CK_RV rv = counter_find(h, s, name, objs, n);
	uint32_t v;

	*value = 0;
	for (CK_ULONG i = 0; rv == CKR_OK && i < *n; i++) {
		rv = counter_read(h, s, objs[i], &v);
		if (rv == CKR_OK && v > *value)
			*value = v;
	}
	return rv;
}

int hsm_counter_get(hsm *h, const char *name, uint32_t *value)
{
	CK_OBJECT_HANDLE objs[COUNTER_DUPS_MAX];
	CK_SESSION_HANDLE s;
	CK_ULONG n = 0;
	CK_RV rv;

	if (value != NULL)
		*value = 0;
	if (h == NULL || !counter_name_ok(name) || value == NULL)
		return HSM_ERR_INPUT;
	rv = session_get(h, &s);
	for (int attempt = 0; rv == CKR_OK && attempt < 2; attempt++) {
		rv = counter_value(h, s, name, objs, &n, value);
		if (rv == CKR_OK || !recover(h, &s, rv))
			break;
	}
	session_put(h, s);
	if (rv != CKR_OK) {
		log_rv("C_FindObjects (counter)", rv);
		return HSM_ERR;
	}
	return HSM_OK;
}

/* Write value: a new object first, then the old ones go (tokens keep
 * CKA_VALUE of data objects read-only). A crash in between leaves two
 * objects, counted as the larger: a count never falls by accident. */
static CK_RV counter_write(hsm *h, CK_SESSION_HANDLE s, const char *name, uint32_t value)
{
	CK_OBJECT_HANDLE objs[COUNTER_DUPS_MAX], obj;
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE;
	uint8_t v[4] = {(uint8_t)(value >> 24), (uint8_t)(value >> 16), (uint8_t)(value >> 8),
			(uint8_t)value};
	CK_ATTRIBUTE t[6];
	CK_ULONG n = 0, nt = 0;
	CK_RV rv = counter_find(h, s, name, objs, &n);

	if (rv == CKR_USER_NOT_LOGGED_IN && n == 0)
		return rv;
	if (rv != CKR_OK)
		return rv;
	if (value > 0) {
		add_attr(t, &nt, CKA_CLASS, &cls, sizeof(cls));
		add_attr(t, &nt, CKA_TOKEN, &yes, sizeof(yes));
		add_attr(t, &nt, CKA_PRIVATE, &yes, sizeof(yes));
		add_attr(t, &nt, CKA_APPLICATION, COUNTER_APP, sizeof(COUNTER_APP) - 1);
		add_attr(t, &nt, CKA_LABEL, name, strlen(name));
		add_attr(t, &nt, CKA_VALUE, v, sizeof(v));
		rv = h->f->C_CreateObject(s, t, nt, &obj);
		if (rv != CKR_OK)
			return rv;
	}
	for (CK_ULONG i = 0; i < n; i++) {
		rv = h->f->C_DestroyObject(s, objs[i]);
		if (rv != CKR_OK)
			return rv;
	}
	return CKR_OK;
}

int hsm_counter_set(hsm *h, const char *name, uint32_t value)
{
	CK_SESSION_HANDLE s;
	CK_RV rv;

	if (h == NULL || !counter_name_ok(name))
		return HSM_ERR_INPUT;
	rv = session_get(h, &s);
	pthread_mutex_lock(&h->counter_lock);
	for (int attempt = 0; rv == CKR_OK && attempt < 2; attempt++) {
		rv = counter_write(h, s, name, value);
		if (rv == CKR_OK || !recover(h, &s, rv))
			break;
	}
	pthread_mutex_unlock(&h->counter_lock);
	session_put(h, s);
	if (rv != CKR_OK) {
		log_rv("counter write", rv);
		return HSM_ERR;
	}
	return HSM_OK;
}

int hsm_counter_add(hsm *h, const char *name, uint32_t *value)
{
	CK_OBJECT_HANDLE objs[COUNTER_DUPS_MAX];
	CK_SESSION_HANDLE s;
	CK_ULONG n = 0;
	uint32_t v = 0;
	CK_RV rv;

	if (value != NULL)
		*value = 0;
	if (h == NULL || !counter_name_ok(name) || value == NULL)
		return HSM_ERR_INPUT;
	rv = session_get(h, &s);
	pthread_mutex_lock(&h->counter_lock);
	for (int attempt = 0; rv == CKR_OK && attempt < 2; attempt++) {
		rv = counter_value(h, s, name, objs, &n, &v);
		if (rv == CKR_OK && v < UINT32_MAX)
			rv = counter_write(h, s, name, v + 1);
		if (rv == CKR_OK || !recover(h, &s, rv))
			break;
	}
	pthread_mutex_unlock(&h->counter_lock);
	session_put(h, s);
	if (rv != CKR_OK) {
		log_rv("counter update", rv);
		return HSM_ERR;
	}
	*value = v < UINT32_MAX ? v + 1 : v;
	return HSM_OK;
}

int hsm_counter_each(hsm *h, hsm_counter_cb cb, void *ctx)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_APPLICATION, (void *)COUNTER_APP, sizeof(COUNTER_APP) - 1},
	};
	CK_OBJECT_HANDLE objs[64];
	CK_SESSION_HANDLE s;
	CK_ULONG n = 0;
	CK_RV rv;
	int ret = HSM_OK;

	if (h == NULL || cb == NULL)
		return HSM_ERR_INPUT;
	rv = session_get(h, &s);
	if (rv == CKR_OK)
		rv = h->f->C_FindObjectsInit(s, tmpl, 2);
	if (rv == CKR_USER_NOT_LOGGED_IN && recover(h, &s, rv))
		rv = h->f->C_FindObjectsInit(s, tmpl, 2);
	if (rv != CKR_OK) {
		session_put(h, s);
		log_rv("C_FindObjectsInit (counters)", rv);
		return HSM_ERR;
	}
	while ((rv = h->f->C_FindObjects(s, objs, 64, &n)) == CKR_OK && n > 0) {
		for (CK_ULONG i = 0; i < n && ret == HSM_OK; i++) {
			char name[HSM_COUNTER_NAME_MAX];
			CK_ATTRIBUTE a = {CKA_LABEL, name, sizeof(name) - 1};
			uint32_t v = 0;

			if (h->f->C_GetAttributeValue(s, objs[i], &a, 1) != CKR_OK ||
			    a.ulValueLen == 0 || a.ulValueLen >= sizeof(name) ||
			    counter_read(h, s, objs[i], &v) != CKR_OK)
				continue; /* not one of ours */
			name[a.ulValueLen] = '\0';
			if (cb(name, v, ctx) != 0)
				ret = HSM_ERR;
		}
		if (ret != HSM_OK)
			break;
	}
	(void)h->f->C_FindObjectsFinal(s);
	session_put(h, s);
	if (rv != CKR_OK) {
		log_rv("C_FindObjects (counters)", rv);
		return HSM_ERR;
	}
	return ret;
}
