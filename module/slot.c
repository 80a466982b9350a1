/* SPDX-License-Identifier: Apache-2.0 */
/* Slots and the module information. */
#include "slot.h"

#include <stdio.h>
#include <string.h>

#include "p11_state.h"

#define MANUFACTURER "CISRES"

void slot_pad(CK_UTF8CHAR *dst, size_t cap, const char *src)
{
	size_t n = src == NULL ? 0 : strnlen(src, cap + 1);

	if (n > cap) {
		n = cap;
		/* Do not cut a UTF-8 sequence: back up over continuation
		 * bytes to the start of the cut character. */
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	memset(dst, ' ', cap);
	if (n > 0)
		memcpy(dst, src, n);
}

/* "0.1.0" → {0, 1}. */
static CK_VERSION module_version(void)
{
	CK_VERSION v = {0, 0};
	unsigned major = 0, minor = 0;

	if (sscanf(CISRES_VERSION, "%3u.%3u", &major, &minor) == 2 && major < 256 && minor < 256) {
		v.major = (CK_BYTE)major;
		v.minor = (CK_BYTE)minor;
	}
	return v;
}

CK_RV slot_module_info(CK_INFO_PTR info)
{
	if (info == NULL)
		return CKR_ARGUMENTS_BAD;
	memset(info, 0, sizeof(*info));
	info->cryptokiVersion.major = 3;
	info->cryptokiVersion.minor = 0;
	slot_pad(info->manufacturerID, sizeof(info->manufacturerID), MANUFACTURER);
	slot_pad(info->libraryDescription, sizeof(info->libraryDescription),
		 "CISRES remote signature module");
	info->libraryVersion = module_version();
	return CKR_OK;
}

CK_RV slot_check(CK_SLOT_ID slot)
{
	return slot < p11_slot_count() ? CKR_OK : CKR_SLOT_ID_INVALID;
}

CK_RV slot_list(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
	size_t n = p11_slot_count(), i;

	(void)token_present; /* the virtual token is always present */
	if (count == NULL)
		return CKR_ARGUMENTS_BAD;
	if (list == NULL) {
		*count = n;
		return CKR_OK;
	}
	if (*count < n) {
		*count = n;
		return CKR_BUFFER_TOO_SMALL;
	}
	for (i = 0; i < n; i++)
		list[i] = i;
	*count = n;
	return CKR_OK;
}

CK_RV slot_info(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
	const backend_snapshot *snap;
	char
	    desc[sizeof(((backend_snapshot *)0)->user) + sizeof(((backend_snapshot *)0)->url) + 16];

	if (info == NULL)
		return CKR_ARGUMENTS_BAD;
	if (slot_check(slot) != CKR_OK)
		return CKR_SLOT_ID_INVALID;
	memset(info, 0, sizeof(*info));
	snap = backend_snapshot_get(p11_backend(), slot);
	if (snap != NULL) {
		snprintf(desc, sizeof(desc), "CISRES %s at %s", snap->user, snap->url);
		backend_snapshot_release(p11_backend(), snap);
	} else {
		snprintf(desc, sizeof(desc), "CISRES account %lu", (unsigned long)slot);
	}
	slot_pad(info->slotDescription, sizeof(info->slotDescription), desc);
	slot_pad(info->manufacturerID, sizeof(info->manufacturerID), MANUFACTURER);
	/* A virtual token: present, neither removable nor hardware. */
	info->flags = CKF_TOKEN_PRESENT;
	info->hardwareVersion = module_version();
	info->firmwareVersion = module_version();
	return CKR_OK;
}
