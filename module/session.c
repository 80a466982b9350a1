/* SPDX-License-Identifier: Apache-2.0 */
/* The session table. Handles are never reused within one initialization. */
#include "session.h"

#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "sign.h"
#include "slot.h"
#include "token.h"
#include "verify.h"

#define SESSIONS_MAX 65536

static p11_session **sessions;
static size_t n_sessions, cap_sessions;
static CK_SESSION_HANDLE next_handle;

CK_RV session_init(void)
{
	sessions = NULL;
	n_sessions = cap_sessions = 0;
	next_handle = 1;
	return CKR_OK;
}

static void session_free(p11_session *s)
{
	free(s->found);
	sign_op_free(s->sign);
	verify_op_free(s->verify);
	digest_op_free(s->digest);
	free(s);
}

void session_uninit(void)
{
	size_t i;
	for (i = 0; i < n_sessions; i++)
		session_free(sessions[i]);
	free(sessions);
	sessions = NULL;
	n_sessions = cap_sessions = 0;
}

CK_RV session_open(CK_SLOT_ID slot, CK_FLAGS flags, CK_SESSION_HANDLE_PTR out)
{
	p11_session *s;

	if (out == NULL)
		return CKR_ARGUMENTS_BAD;
	if (slot_check(slot) != CKR_OK)
		return CKR_SLOT_ID_INVALID;
	if (!(flags & CKF_SERIAL_SESSION))
		return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
	if (n_sessions >= SESSIONS_MAX)
		return CKR_SESSION_COUNT;
	if (n_sessions == cap_sessions) {
		size_t cap = cap_sessions == 0 ? 16 : cap_sessions * 2;
		p11_session **grown = realloc(sessions, cap * sizeof(*grown));
		if (grown == NULL)
			return CKR_HOST_MEMORY;
		sessions = grown;
		cap_sessions = cap;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return CKR_HOST_MEMORY;
	s->handle = next_handle++;
	s->slot = slot;
	s->flags = flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION);
	sessions[n_sessions++] = s;
	*out = s->handle;
	return CKR_OK;
}

static size_t session_index(CK_SESSION_HANDLE h)
{
	size_t i;
	for (i = 0; i < n_sessions; i++) {
		if (sessions[i]->handle == h)
			return i;
	}
	return SIZE_MAX;
}

p11_session *session_find(CK_SESSION_HANDLE h)
{
	size_t i = session_index(h);
	return i == SIZE_MAX ? NULL : sessions[i];
}

static void session_remove(size_t i)
{
	session_free(sessions[i]);
	sessions[i] = sessions[--n_sessions];
}

CK_RV session_close(CK_SESSION_HANDLE h)
{
	size_t i = session_index(h), slot;

	if (i == SIZE_MAX)
		return CKR_SESSION_HANDLE_INVALID;
	slot = sessions[i]->slot;
	session_remove(i);
	if (session_count(slot, false) == 0 && token_logged_in(slot))
		token_forget_login(slot);
	return CKR_OK;
}

CK_RV session_close_all(CK_SLOT_ID slot)
{
	size_t i = 0;

	if (slot_check(slot) != CKR_OK)
		return CKR_SLOT_ID_INVALID;
	while (i < n_sessions) {
		if (sessions[i]->slot == slot)
			session_remove(i);
		else
			i++;
	}
	if (token_logged_in(slot))
		token_forget_login(slot);
	return CKR_OK;
}

size_t session_count(size_t slot, bool rw_only)
{
	size_t i, n = 0;
	for (i = 0; i < n_sessions; i++) {
		if (sessions[i]->slot == slot &&
		    (!rw_only || (sessions[i]->flags & CKF_RW_SESSION)))
			n++;
	}
	return n;
}

CK_RV session_get_info(const p11_session *s, CK_SESSION_INFO_PTR info)
{
	bool user = token_logged_in(s->slot);
	bool rw = (s->flags & CKF_RW_SESSION) != 0;

	if (info == NULL)
		return CKR_ARGUMENTS_BAD;
	memset(info, 0, sizeof(*info));
	info->slotID = s->slot;
	if (rw)
		info->state = user ? CKS_RW_USER_FUNCTIONS : CKS_RW_PUBLIC_SESSION;
	else
		info->state = user ? CKS_RO_USER_FUNCTIONS : CKS_RO_PUBLIC_SESSION;
	info->flags = s->flags;
	info->ulDeviceError = 0;
	return CKR_OK;
}

void session_end_private_ops(size_t slot)
{
	size_t i;
	for (i = 0; i < n_sessions; i++) {
		if (sessions[i]->slot == slot && sessions[i]->sign != NULL) {
			sign_op_free(sessions[i]->sign);
			sessions[i]->sign = NULL;
		}
	}
}

CK_RV session_cancel(p11_session *s, CK_FLAGS flags)
{
	if (flags & CKF_SIGN) {
		sign_op_free(s->sign);
		s->sign = NULL;
	}
	if (flags & CKF_VERIFY) {
		verify_op_free(s->verify);
		s->verify = NULL;
	}
	if (flags & CKF_DIGEST) {
		digest_op_free(s->digest);
		s->digest = NULL;
	}
	if (flags & CKF_FIND_OBJECTS) {
		free(s->found);
		s->found = NULL;
		s->n_found = s->pos = 0;
		s->find_active = false;
	}
	return CKR_OK;
}
