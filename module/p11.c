/* SPDX-License-Identifier: Apache-2.0 */
/* The PKCS#11 entry layer. Every C_* function checks initialization (in
 * this process), finds the session, takes the lock, calls the function that
 * does the work and returns its CK_RV, logged with its name under the debug
 * category p11. The function lists come from p11_functions.h. */
#include "p11_functions.h"

#include <stddef.h>
#include <string.h>

#include <openssl/rand.h>

#include "cisres/pkcs11_3.h"

#include "digest.h"
#include "log.h"
#include "mech.h"
#include "object.h"
#include "p11_state.h"
#include "session.h"
#include "sign.h"
#include "slot.h"
#include "token.h"
#include "verify.h"

#define CK_EXPORT __attribute__((visibility("default")))

static const struct {
	CK_RV rv;
	const char *name;
} RV_NAMES[] = {
#define RV(n)                                                                                      \
	{                                                                                          \
		n, #n                                                                              \
	}
    RV(CKR_OK),
    RV(CKR_CANCEL),
    RV(CKR_HOST_MEMORY),
    RV(CKR_SLOT_ID_INVALID),
    RV(CKR_GENERAL_ERROR),
    RV(CKR_FUNCTION_FAILED),
    RV(CKR_ARGUMENTS_BAD),
    RV(CKR_NO_EVENT),
    RV(CKR_CANT_LOCK),
    RV(CKR_ATTRIBUTE_SENSITIVE),
    RV(CKR_ATTRIBUTE_TYPE_INVALID),
    RV(CKR_DATA_INVALID),
    RV(CKR_DATA_LEN_RANGE),
    RV(CKR_DEVICE_ERROR),
    RV(CKR_DEVICE_REMOVED),
    RV(CKR_FUNCTION_CANCELED),
    RV(CKR_FUNCTION_NOT_PARALLEL),
    RV(CKR_FUNCTION_NOT_SUPPORTED),
    RV(CKR_KEY_HANDLE_INVALID),
    RV(CKR_KEY_SIZE_RANGE),
    RV(CKR_KEY_TYPE_INCONSISTENT),
    RV(CKR_KEY_FUNCTION_NOT_PERMITTED),
    RV(CKR_MECHANISM_INVALID),
    RV(CKR_MECHANISM_PARAM_INVALID),
    RV(CKR_OBJECT_HANDLE_INVALID),
    RV(CKR_OPERATION_ACTIVE),
    RV(CKR_OPERATION_NOT_INITIALIZED),
    RV(CKR_PIN_INCORRECT),
    RV(CKR_PIN_INVALID),
    RV(CKR_PIN_LEN_RANGE),
    RV(CKR_PIN_LOCKED),
    RV(CKR_SESSION_CLOSED),
    RV(CKR_SESSION_COUNT),
    RV(CKR_SESSION_HANDLE_INVALID),
    RV(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
    RV(CKR_SESSION_READ_ONLY),
    RV(CKR_SIGNATURE_INVALID),
    RV(CKR_SIGNATURE_LEN_RANGE),
    RV(CKR_TEMPLATE_INCONSISTENT),
    RV(CKR_TOKEN_NOT_PRESENT),
    RV(CKR_TOKEN_WRITE_PROTECTED),
    RV(CKR_USER_ALREADY_LOGGED_IN),
    RV(CKR_USER_NOT_LOGGED_IN),
    RV(CKR_USER_TYPE_INVALID),
    RV(CKR_RANDOM_SEED_NOT_SUPPORTED),
    RV(CKR_BUFFER_TOO_SMALL),
    RV(CKR_CRYPTOKI_NOT_INITIALIZED),
    RV(CKR_CRYPTOKI_ALREADY_INITIALIZED),
#undef RV
};

static const char *rv_name(CK_RV rv)
{
	size_t i;
	for (i = 0; i < sizeof(RV_NAMES) / sizeof(RV_NAMES[0]); i++) {
		if (RV_NAMES[i].rv == rv)
			return RV_NAMES[i].name;
	}
	return "CKR_?";
}

static CK_RV trace(const char *fn, CK_RV rv)
{
	if (log_enabled(LOG_LVL_DEBUG, LOG_CAT_P11))
		log_debug(LOG_CAT_P11, "%s: %s (0x%lx)", fn, rv_name(rv), (unsigned long)rv);
	return rv;
}

/* Run expr with the lock held, once the module is initialized here. */
#define P11_LOCKED(expr)                                                                           \
	do {                                                                                       \
		CK_RV rv_ = p11_state_check();                                                     \
		if (rv_ == CKR_OK) {                                                               \
			p11_lock();                                                                \
			rv_ = (expr);                                                              \
			p11_unlock();                                                              \
		}                                                                                  \
		return trace(__func__, rv_);                                                       \
	} while (0)

/* Run expr with the lock held and the session s found. */
#define P11_SESSION(h, expr)                                                                       \
	do {                                                                                       \
		CK_RV rv_ = p11_state_check();                                                     \
		if (rv_ == CKR_OK) {                                                               \
			p11_session *s;                                                            \
			p11_lock();                                                                \
			s = session_find(h);                                                       \
			rv_ = s == NULL ? CKR_SESSION_HANDLE_INVALID : (expr);                     \
			p11_unlock();                                                              \
		}                                                                                  \
		return trace(__func__, rv_);                                                       \
	} while (0)

/* Run expr without the lock (it takes the lock itself, around a network
 * call). */
#define P11_UNLOCKED(expr)                                                                         \
	do {                                                                                       \
		CK_RV rv_ = p11_state_check();                                                     \
		if (rv_ == CKR_OK)                                                                 \
			rv_ = (expr);                                                              \
		return trace(__func__, rv_);                                                       \
	} while (0)

#define P11_NOT_SUPPORTED() P11_UNLOCKED(CKR_FUNCTION_NOT_SUPPORTED)

/* The token is read-only: a write through a valid session. */
static CK_RV write_protected(const p11_session *s)
{
	return (s->flags & CKF_RW_SESSION) ? CKR_TOKEN_WRITE_PROTECTED : CKR_SESSION_READ_ONLY;
}

/* ---- general ---- */

CK_EXPORT CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
	return trace(__func__, p11_state_initialize(pInitArgs));
}

CK_EXPORT CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
	return trace(__func__, p11_state_finalize(pReserved));
}

CK_EXPORT CK_RV C_GetInfo(CK_INFO_PTR pInfo)
{
	P11_UNLOCKED(slot_module_info(pInfo));
}

/* ---- slots and tokens ---- */

CK_EXPORT CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList,
			      CK_ULONG_PTR pulCount)
{
	P11_LOCKED(slot_list(tokenPresent, pSlotList, pulCount));
}

CK_EXPORT CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
	P11_LOCKED(slot_info(slotID, pInfo));
}

CK_EXPORT CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
	P11_LOCKED(token_get_info(slotID, pInfo));
}

CK_EXPORT CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
	/* Tokens never come or go while the module is loaded. */
	P11_UNLOCKED((flags & CKF_DONT_BLOCK) ? CKR_NO_EVENT : CKR_FUNCTION_NOT_SUPPORTED);
}

CK_EXPORT CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
				   CK_ULONG_PTR pulCount)
{
	P11_LOCKED(slot_check(slotID) != CKR_OK ? CKR_SLOT_ID_INVALID
						: mech_list(pMechanismList, pulCount));
}

CK_EXPORT CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
				   CK_MECHANISM_INFO_PTR pInfo)
{
	P11_LOCKED(slot_check(slotID) != CKR_OK ? CKR_SLOT_ID_INVALID : mech_info(type, pInfo));
}

CK_EXPORT CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
			    CK_UTF8CHAR_PTR pLabel)
{
	P11_LOCKED(slot_check(slotID) != CKR_OK ? CKR_SLOT_ID_INVALID : CKR_TOKEN_WRITE_PROTECTED);
}

CK_EXPORT CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
	P11_SESSION(hSession, write_protected(s));
}

CK_EXPORT CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
			 CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
	/* PINs are managed on the service. */
	P11_SESSION(hSession, write_protected(s));
}

/* ---- sessions ---- */

CK_EXPORT CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
			      CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession)
{
	P11_LOCKED(session_open(slotID, flags, phSession));
}

CK_EXPORT CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
	P11_LOCKED(session_close(hSession));
}

CK_EXPORT CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
	P11_LOCKED(session_close_all(slotID));
}

CK_EXPORT CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
	P11_SESSION(hSession, session_get_info(s, pInfo));
}

CK_EXPORT CK_RV C_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
				    CK_ULONG_PTR pulOperationStateLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
				    CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey,
				    CK_OBJECT_HANDLE hAuthenticationKey)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
			CK_ULONG ulPinLen)
{
	P11_UNLOCKED(token_login(hSession, userType, pPin, ulPinLen, NULL, 0));
}

CK_EXPORT CK_RV C_LoginUser(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
			    CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen)
{
	P11_UNLOCKED(token_login(hSession, userType, pPin, ulPinLen, pUsername, ulUsernameLen));
}

CK_EXPORT CK_RV C_Logout(CK_SESSION_HANDLE hSession)
{
	P11_LOCKED(token_logout(hSession));
}

CK_EXPORT CK_RV C_SessionCancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags)
{
	P11_SESSION(hSession, session_cancel(s, flags));
}

CK_EXPORT CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE hSession)
{
	P11_SESSION(hSession, CKR_FUNCTION_NOT_PARALLEL);
}

CK_EXPORT CK_RV C_CancelFunction(CK_SESSION_HANDLE hSession)
{
	P11_SESSION(hSession, CKR_FUNCTION_NOT_PARALLEL);
}

/* ---- objects ---- */

CK_EXPORT CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
			       CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject)
{
	P11_SESSION(hSession, write_protected(s));
}

CK_EXPORT CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
			     CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
			     CK_OBJECT_HANDLE_PTR phNewObject)
{
	P11_SESSION(hSession, write_protected(s));
}

CK_EXPORT CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
	P11_SESSION(hSession, write_protected(s));
}

CK_EXPORT CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
				    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	P11_SESSION(hSession, write_protected(s));
}

CK_EXPORT CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
				CK_ULONG_PTR pulSize)
{
	P11_SESSION(hSession, object_get_size(s, hObject, pulSize));
}

CK_EXPORT CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
				    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	P11_SESSION(hSession, object_get_attributes(s, hObject, pTemplate, ulCount));
}

CK_EXPORT CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
				  CK_ULONG ulCount)
{
	P11_SESSION(hSession, object_find_init(s, pTemplate, ulCount));
}

CK_EXPORT CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
			      CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount)
{
	P11_SESSION(hSession, object_find(s, phObject, ulMaxObjectCount, pulObjectCount));
}

CK_EXPORT CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
	P11_SESSION(hSession, object_find_final(s));
}

/* ---- encryption and decryption: not offered (sign-only keys) ---- */

CK_EXPORT CK_RV C_EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
			      CK_OBJECT_HANDLE hKey)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
			  CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
				CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_EncryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
			       CK_ULONG_PTR pulLastEncryptedPartLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
			      CK_OBJECT_HANDLE hKey)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData,
			  CK_ULONG ulEncryptedDataLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
				CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
				CK_ULONG_PTR pulPartLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_DecryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart,
			       CK_ULONG_PTR pulLastPartLen)
{
	P11_NOT_SUPPORTED();
}

/* ---- digests (local) ---- */

CK_EXPORT CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism)
{
	P11_SESSION(hSession, digest_init(s, pMechanism));
}

CK_EXPORT CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
			 CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
	P11_SESSION(hSession, digest_final(s, pData, ulDataLen, true, pDigest, pulDigestLen));
}

CK_EXPORT CK_RV C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
	P11_SESSION(hSession, digest_update(s, pPart, ulPartLen));
}

CK_EXPORT CK_RV C_DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest,
			      CK_ULONG_PTR pulDigestLen)
{
	P11_SESSION(hSession, digest_final(s, NULL, 0, false, pDigest, pulDigestLen));
}

/* ---- signatures (remote) ---- */

CK_EXPORT CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
			   CK_OBJECT_HANDLE hKey)
{
	P11_SESSION(hSession, sign_init(s, pMechanism, hKey));
}

CK_EXPORT CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
		       CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	P11_UNLOCKED(sign_final(hSession, pData, ulDataLen, true, pSignature, pulSignatureLen));
}

CK_EXPORT CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
	P11_SESSION(hSession, sign_update(s, pPart, ulPartLen));
}

CK_EXPORT CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
			    CK_ULONG_PTR pulSignatureLen)
{
	P11_UNLOCKED(sign_final(hSession, NULL, 0, false, pSignature, pulSignatureLen));
}

CK_EXPORT CK_RV C_SignRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
				  CK_OBJECT_HANDLE hKey)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
			      CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	P11_NOT_SUPPORTED();
}

/* ---- verification (local) ---- */

CK_EXPORT CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
			     CK_OBJECT_HANDLE hKey)
{
	P11_SESSION(hSession, verify_init(s, pMechanism, hKey));
}

CK_EXPORT CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
			 CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
	P11_SESSION(hSession, verify_final(s, pData, ulDataLen, true, pSignature, ulSignatureLen));
}

CK_EXPORT CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
	P11_SESSION(hSession, verify_update(s, pPart, ulPartLen));
}

CK_EXPORT CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
			      CK_ULONG ulSignatureLen)
{
	P11_SESSION(hSession, verify_final(s, NULL, 0, false, pSignature, ulSignatureLen));
}

CK_EXPORT CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
				    CK_OBJECT_HANDLE hKey)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_VerifyRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
				CK_ULONG ulSignatureLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen)
{
	P11_NOT_SUPPORTED();
}

/* ---- dual-function operations: not offered ---- */

CK_EXPORT CK_RV C_DigestEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
				      CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
				      CK_ULONG_PTR pulEncryptedPartLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_DecryptDigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
				      CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
				      CK_ULONG_PTR pulPartLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_SignEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
				    CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
				    CK_ULONG_PTR pulEncryptedPartLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_DecryptVerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
				      CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
				      CK_ULONG_PTR pulPartLen)
{
	P11_NOT_SUPPORTED();
}

/* ---- keys: generated and kept on the service ---- */

CK_EXPORT CK_RV C_GenerateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
			      CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
			      CK_OBJECT_HANDLE_PTR phKey)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
				  CK_ATTRIBUTE_PTR pPublicKeyTemplate,
				  CK_ULONG ulPublicKeyAttributeCount,
				  CK_ATTRIBUTE_PTR pPrivateKeyTemplate,
				  CK_ULONG ulPrivateKeyAttributeCount,
				  CK_OBJECT_HANDLE_PTR phPublicKey,
				  CK_OBJECT_HANDLE_PTR phPrivateKey)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_WrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
			  CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey,
			  CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
			    CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey,
			    CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
			    CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
			    CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate,
			    CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
	P11_NOT_SUPPORTED();
}

/* ---- random numbers ---- */

CK_EXPORT CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen)
{
	P11_SESSION(hSession, CKR_RANDOM_SEED_NOT_SUPPORTED);
}

static CK_RV random_bytes(CK_BYTE_PTR out, CK_ULONG len)
{
	const CK_ULONG chunk = 1u << 20;

	if (out == NULL && len > 0)
		return CKR_ARGUMENTS_BAD;
	while (len > 0) {
		CK_ULONG n = len < chunk ? len : chunk;
		if (RAND_bytes(out, (int)n) != 1)
			return CKR_FUNCTION_FAILED;
		out += n;
		len -= n;
	}
	return CKR_OK;
}

CK_EXPORT CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData,
				 CK_ULONG ulRandomLen)
{
	P11_SESSION(hSession, random_bytes(RandomData, ulRandomLen));
}

/* ---- PKCS#11 3.0 message-based functions: not offered ---- */

CK_EXPORT CK_RV C_MessageEncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
				     CK_OBJECT_HANDLE hKey)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_EncryptMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
				 CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
				 CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pPlaintext,
				 CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext,
				 CK_ULONG_PTR pulCiphertextLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_EncryptMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
				      CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
				      CK_ULONG ulAssociatedDataLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_EncryptMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
				     CK_ULONG ulParameterLen, CK_BYTE_PTR pPlaintextPart,
				     CK_ULONG ulPlaintextPartLen, CK_BYTE_PTR pCiphertextPart,
				     CK_ULONG_PTR pulCiphertextPartLen, CK_FLAGS flags)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_MessageEncryptFinal(CK_SESSION_HANDLE hSession)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_MessageDecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
				     CK_OBJECT_HANDLE hKey)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_DecryptMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
				 CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
				 CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pCiphertext,
				 CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext,
				 CK_ULONG_PTR pulPlaintextLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_DecryptMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
				      CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
				      CK_ULONG ulAssociatedDataLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_DecryptMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
				     CK_ULONG ulParameterLen, CK_BYTE_PTR pCiphertextPart,
				     CK_ULONG ulCiphertextPartLen, CK_BYTE_PTR pPlaintextPart,
				     CK_ULONG_PTR pulPlaintextPartLen, CK_FLAGS flags)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_MessageDecryptFinal(CK_SESSION_HANDLE hSession)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_MessageSignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
				  CK_OBJECT_HANDLE hKey)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_SignMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
			      CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
			      CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_SignMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
				   CK_ULONG ulParameterLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_SignMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
				  CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
				  CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_MessageSignFinal(CK_SESSION_HANDLE hSession)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_MessageVerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
				    CK_OBJECT_HANDLE hKey)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_VerifyMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
				CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
				CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_VerifyMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
				     CK_ULONG ulParameterLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_VerifyMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
				    CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
				    CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
	P11_NOT_SUPPORTED();
}

CK_EXPORT CK_RV C_MessageVerifyFinal(CK_SESSION_HANDLE hSession)
{
	P11_NOT_SUPPORTED();
}

/* ---- function lists and interfaces ---- */

#define P11_MEMBER(name) .name = name,
#define P11_COUNT(name) +1

static CK_FUNCTION_LIST list_2_40 = {.version = {2, 40}, P11_FUNCTIONS_2_40(P11_MEMBER)};

static CK_FUNCTION_LIST_3_0 list_3_0 = {
    .version = {3, 0}, P11_FUNCTIONS_2_40(P11_MEMBER) P11_FUNCTIONS_3_0(P11_MEMBER)};

/* Designated initializers cannot be out of order, -Woverride-init catches a
 * name given twice, and these catch one missing. */
_Static_assert(sizeof(CK_FUNCTION_LIST) - offsetof(CK_FUNCTION_LIST, C_Initialize) ==
		   (0 P11_FUNCTIONS_2_40(P11_COUNT)) * sizeof(CK_C_Initialize),
	       "P11_FUNCTIONS_2_40 does not fill CK_FUNCTION_LIST");
_Static_assert(sizeof(CK_FUNCTION_LIST_3_0) - offsetof(CK_FUNCTION_LIST_3_0, C_Initialize) ==
		   (0 P11_FUNCTIONS_2_40(P11_COUNT) P11_FUNCTIONS_3_0(P11_COUNT)) *
		       sizeof(CK_C_Initialize),
	       "the 3.0 function lists do not fill CK_FUNCTION_LIST_3_0");

#define INTERFACE_NAME "PKCS 11"

/* The default (first) is 3.0. Not CKF_INTERFACE_FORK_SAFE: a child process
 * must call C_Initialize again. */
static CK_INTERFACE interfaces[] = {
    {(CK_CHAR *)INTERFACE_NAME, &list_3_0, 0},
    {(CK_CHAR *)INTERFACE_NAME, &list_2_40, 0},
};
#define N_INTERFACES (sizeof(interfaces) / sizeof(interfaces[0]))

CK_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
	if (ppFunctionList == NULL)
		return trace(__func__, CKR_ARGUMENTS_BAD);
	*ppFunctionList = &list_2_40;
	return trace(__func__, CKR_OK);
}

CK_EXPORT CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
	CK_RV rv = CKR_OK;

	if (pulCount == NULL) {
		rv = CKR_ARGUMENTS_BAD;
	} else if (pInterfacesList == NULL) {
		*pulCount = N_INTERFACES;
	} else if (*pulCount < N_INTERFACES) {
		*pulCount = N_INTERFACES;
		rv = CKR_BUFFER_TOO_SMALL;
	} else {
		memcpy(pInterfacesList, interfaces, sizeof(interfaces));
		*pulCount = N_INTERFACES;
	}
	return trace(__func__, rv);
}

static CK_VERSION interface_version(const CK_INTERFACE *i)
{
	return *(const CK_VERSION *)i->pFunctionList; /* both lists begin with it */
}

CK_EXPORT CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
			       CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
	size_t i;

	if (ppInterface == NULL)
		return trace(__func__, CKR_ARGUMENTS_BAD);
	for (i = 0; i < N_INTERFACES; i++) {
		CK_VERSION v = interface_version(&interfaces[i]);
		if (pInterfaceName != NULL &&
		    strcmp((const char *)pInterfaceName,
			   (const char *)interfaces[i].pInterfaceName) != 0)
			continue;
		if (pVersion != NULL && (pVersion->major != v.major || pVersion->minor != v.minor))
			continue;
		if ((interfaces[i].flags & flags) != flags)
			continue;
		*ppInterface = &interfaces[i];
		return trace(__func__, CKR_OK);
	}
	return trace(__func__, CKR_ARGUMENTS_BAD);
}
