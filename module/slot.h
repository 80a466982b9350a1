/* SPDX-License-Identifier: Apache-2.0 */
/* Slots: one per configured account, always with a (virtual) token
 * present. Functions expect the global lock held. */
#ifndef CISRES_SLOT_H
#define CISRES_SLOT_H

#include <stddef.h>

#include "cisres/pkcs11_3.h"

/* C_GetInfo. */
CK_RV slot_module_info(CK_INFO_PTR info);
CK_RV slot_list(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count);
CK_RV slot_info(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info);
/* CKR_OK or CKR_SLOT_ID_INVALID. */
CK_RV slot_check(CK_SLOT_ID slot);
/* Copy a UTF-8 string into a blank-padded PKCS#11 field, cut at a
 * character boundary. */
void slot_pad(CK_UTF8CHAR *dst, size_t cap, const char *src);

#endif
