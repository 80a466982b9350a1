/* SPDX-License-Identifier: Apache-2.0 */
/* Token information and the login state of each token. */
#include "token.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "p11_state.h"
#include "secmem.h"
#include "session.h"
#include "sign.h"
#include "slot.h"

/* Bounds the PIN (and OTP) the module accepts from an application. */
#define PIN_MAX 256
#define PIN_MIN_DEFAULT 4
#define PIN_MAX_DEFAULT 64

typedef struct {
	bool logged_in;
	bool pin_unchecked; /* accepted while the service was unreachable */
	char *pin;	    /* locked memory, pin_len + 1 bytes */
	size_t pin_len;
} token;

static token *tokens;
static size_t n_tokens;

CK_RV token_init(size_t n_slots)
{
	tokens = NULL;
	n_tokens = 0;
	if (n_slots == 0)
		return CKR_OK;
	tokens = calloc(n_slots, sizeof(*tokens));
	if (tokens == NULL)
		return CKR_HOST_MEMORY;
	n_tokens = n_slots;
	return CKR_OK;
}

static void token_clear(token *t)
{
	if (t->pin != NULL)
		sec_unlock_free(t->pin, t->pin_len + 1);
	t->pin = NULL;
	t->pin_len = 0;
	t->logged_in = false;
	t->pin_unchecked = false;
}

void token_uninit(void)
{
	size_t i;
	for (i = 0; i < n_tokens; i++)
		token_clear(&tokens[i]);
	free(tokens);
	tokens = NULL;
	n_tokens = 0;
}

bool token_logged_in(size_t slot)
{
	return slot < n_tokens && tokens[slot].logged_in;
}

bool token_module_prompt(size_t slot)
{
	const backend_snapshot *snap = backend_snapshot_get(p11_backend(), slot);
	bool prompt = false;

	if (snap != NULL) {
		prompt = snap->module_prompt;
		backend_snapshot_release(p11_backend(), snap);
	}
	return prompt;
}

char *token_pin_copy(size_t slot, size_t *len)
{
	char *p;

	if (!token_logged_in(slot) || tokens[slot].pin == NULL)
		return NULL;
	p = sec_locked_strndup(tokens[slot].pin, tokens[slot].pin_len);
	if (p != NULL)
		*len = tokens[slot].pin_len;
	return p;
}

bool token_pin_unchecked(size_t slot)
{
	return token_logged_in(slot) && tokens[slot].pin_unchecked;
}

void token_pin_confirmed(size_t slot)
{
	if (slot < n_tokens)
		tokens[slot].pin_unchecked = false;
}

void token_forget_login(size_t slot)
{
	if (slot >= n_tokens)
		return;
	token_clear(&tokens[slot]);
	session_end_private_ops(slot);
	backend_logout(p11_backend(), slot);
}

CK_RV token_get_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	const backend_snapshot *snap;
	unsigned pin_min = 0, pin_max = 0;
	size_t i;

	if (info == NULL)
		return CKR_ARGUMENTS_BAD;
	if (slot_check(slot) != CKR_OK)
		return CKR_SLOT_ID_INVALID;
	snap = backend_snapshot_get(p11_backend(), slot);
	if (snap == NULL)
		return CKR_SLOT_ID_INVALID;
	memset(info, 0, sizeof(*info));
	slot_pad(info->label, sizeof(info->label), snap->label);
	slot_pad(info->manufacturerID, sizeof(info->manufacturerID), "CISRES");
	slot_pad(info->model, sizeof(info->model), "Remote QES");
	slot_pad(info->serialNumber, sizeof(info->serialNumber), snap->serial);
	info->flags =
	    CKF_RNG | CKF_WRITE_PROTECTED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED;
	if (!snap->module_prompt)
		info->flags |= CKF_LOGIN_REQUIRED;
	for (i = 0; i < snap->n_creds; i++) {
		const backend_cred *c = &snap->creds[i];
		if (c->pin_min > 0 && (pin_min == 0 || c->pin_min < pin_min))
			pin_min = c->pin_min;
		if (c->pin_max > pin_max)
			pin_max = c->pin_max;
	}
	backend_snapshot_release(p11_backend(), snap);
	info->ulMinPinLen = pin_min > 0 ? pin_min : PIN_MIN_DEFAULT;
	info->ulMaxPinLen = pin_max > 0 ? pin_max : PIN_MAX_DEFAULT;
	if (info->ulMaxPinLen < info->ulMinPinLen)
		info->ulMaxPinLen = info->ulMinPinLen;
	info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
	info->ulSessionCount = session_count(slot, false);
	info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
	info->ulRwSessionCount = session_count(slot, true);
	info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
	info->hardwareVersion.major = 0;
	info->firmwareVersion.major = 0;
	/* No clock on the token: utcTime stays blank. */
	memset(info->utcTime, ' ', sizeof(info->utcTime));
	return CKR_OK;
}

/* The account user a C_LoginUser names must be the slot's. */
static CK_RV check_username(size_t slot, const CK_UTF8CHAR *username, CK_ULONG len)
{
	const backend_snapshot *snap;
	CK_RV rv = CKR_OK;

	if (username == NULL || len == 0)
		return CKR_OK;
	snap = backend_snapshot_get(p11_backend(), slot);
	if (snap == NULL)
		return CKR_SLOT_ID_INVALID;
	if (strlen(snap->user) != len || memcmp(snap->user, username, len) != 0)
		rv = CKR_PIN_INCORRECT; /* as a wrong user name + PIN pair */
	backend_snapshot_release(p11_backend(), snap);
	return rv;
}

CK_RV token_login(CK_SESSION_HANDLE h, CK_USER_TYPE type, const CK_UTF8CHAR *pin, CK_ULONG pin_len,
		  const CK_UTF8CHAR *username, CK_ULONG username_len)
{
	p11_session *s;
	char *copy = NULL;
	size_t slot;
	bool unchecked;
	CK_RV rv;

	p11_lock();
	s = session_find(h);
	if (s == NULL) {
		rv = CKR_SESSION_HANDLE_INVALID;
		goto unlock;
	}
	slot = s->slot;
	if (type != CKU_USER && type != CKU_CONTEXT_SPECIFIC) {
		/* CKU_SO: the token is administered on the service. */
		rv = CKR_USER_TYPE_INVALID;
		goto unlock;
	}
	if (pin == NULL) {
		/* No protected authentication path. */
		rv = CKR_ARGUMENTS_BAD;
		goto unlock;
	}
	if (pin_len == 0 || pin_len > PIN_MAX) {
		rv = CKR_PIN_LEN_RANGE;
		goto unlock;
	}
	if (memchr(pin, '\0', pin_len) != NULL) {
		rv = CKR_PIN_INVALID;
		goto unlock;
	}
	if (type == CKU_CONTEXT_SPECIFIC) {
		/* The context-specific secret is the OTP of one signature. */
		if (!token_logged_in(slot) && !token_module_prompt(slot))
			rv = CKR_USER_NOT_LOGGED_IN;
		else
			rv = sign_context_login(s, (const char *)pin, pin_len);
		goto unlock;
	}
	if (token_logged_in(slot)) {
		rv = CKR_USER_ALREADY_LOGGED_IN;
		goto unlock;
	}
	rv = check_username(slot, username, username_len);
	if (rv != CKR_OK)
		goto unlock;
	copy = sec_locked_strndup((const char *)pin, pin_len);
	if (copy == NULL) {
		rv = CKR_HOST_MEMORY;
		goto unlock;
	}
	p11_unlock();

	rv = backend_login_check(p11_backend(), slot, copy, pin_len);
	unchecked = rv == CKR_DEVICE_ERROR;
	if (unchecked) {
		/* The service is unreachable: the PIN is checked by the first
		 * signature, and the token keeps working offline meanwhile. */
		log_info("C_Login: service unreachable, PIN to be checked at the first signature");
		rv = CKR_OK;
	}

	p11_lock();
	if (rv != CKR_OK)
		goto unlock;
	if (session_find(h) == NULL) {
		rv = CKR_SESSION_CLOSED;
	} else if (token_logged_in(slot)) {
		rv = CKR_USER_ALREADY_LOGGED_IN; /* another thread won */
	} else {
		tokens[slot].pin = copy;
		tokens[slot].pin_len = pin_len;
		tokens[slot].logged_in = true;
		tokens[slot].pin_unchecked = unchecked;
		copy = NULL;
	}
unlock:
	p11_unlock();
	if (copy != NULL)
		sec_unlock_free(copy, pin_len + 1);
	return rv;
}

CK_RV token_logout(CK_SESSION_HANDLE h)
{
	p11_session *s = session_find(h);

	if (s == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	if (!token_logged_in(s->slot))
		return CKR_USER_NOT_LOGGED_IN;
	token_forget_login(s->slot);
	return CKR_OK;
}
