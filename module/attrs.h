/* SPDX-License-Identifier: Apache-2.0 */
/* Attribute answers: the attribute lists of the token's objects, built once
 * per cache generation from the certificates, and the C_GetAttributeValue
 * and template-matching semantics over them. No state, no network. */
#ifndef CISRES_ATTRS_H
#define CISRES_ATTRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cisres/pkcs11_3.h"
#include "oid.h"

typedef struct {
	CK_ATTRIBUTE_TYPE type;
	uint8_t *value;
	size_t len;
	bool sensitive; /* exists, but its value is never revealed */
} attr;

/* A growing list with a sticky failure flag: add many times, check once. */
typedef struct {
	attr *a;
	size_t n, cap;
	bool failed;
} attr_list;

void attr_list_init(attr_list *l);
void attr_list_uninit(attr_list *l);
void attr_add(attr_list *l, CK_ATTRIBUTE_TYPE type, const void *value, size_t len);
void attr_add_bool(attr_list *l, CK_ATTRIBUTE_TYPE type, bool v);
void attr_add_ulong(attr_list *l, CK_ATTRIBUTE_TYPE type, CK_ULONG v);
void attr_add_sensitive(attr_list *l, CK_ATTRIBUTE_TYPE type);
const attr *attr_find(const attr_list *l, CK_ATTRIBUTE_TYPE type);

/* C_GetAttributeValue semantics over a list: every entry is answered; an
 * unknown type gets CKR_ATTRIBUTE_TYPE_INVALID, a sensitive one
 * CKR_ATTRIBUTE_SENSITIVE, a short buffer CKR_BUFFER_TOO_SMALL, each with
 * ulValueLen = CK_UNAVAILABLE_INFORMATION, while the others are filled. */
CK_RV attrs_get(const attr_list *l, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count);
/* True when every template attribute is present with an equal value. */
bool attrs_match(const attr_list *l, const CK_ATTRIBUTE *tmpl, CK_ULONG count);

/* What the objects need from one certificate, parsed once (OpenSSL). */
typedef struct {
	uint8_t *der;
	size_t der_len;
	uint8_t id[20];	  /* SHA-1 of the DER SubjectPublicKeyInfo: CKA_ID */
	char *label;	  /* subject CN (UTF-8), else the given fallback */
	uint8_t *subject; /* DER Name */
	size_t subject_len;
	uint8_t *issuer;
	size_t issuer_len;
	uint8_t *serial; /* DER INTEGER */
	size_t serial_len;
	uint8_t *spki; /* DER SubjectPublicKeyInfo */
	size_t spki_len;
	CK_DATE start, end;
	key_kind kind;
	unsigned bits; /* RSA modulus bits, EC field bits */
	size_t field_len;
	int curve_nid;
	uint8_t *modulus, *exponent; /* RSA, big-endian */
	size_t modulus_len, exponent_len;
	uint8_t *ec_params; /* EC: DER OBJECT IDENTIFIER of the named curve */
	size_t ec_params_len;
	uint8_t *ec_point; /* EC: DER OCTET STRING wrapping the point */
	size_t ec_point_len;
} attrs_cert;

/* Parse a DER certificate (at most 64 KiB). label_fallback names it when
 * the subject has no CN. CKR_OK, CKR_HOST_MEMORY, or CKR_GENERAL_ERROR
 * (unparsable, or a key that is neither RSA nor a named prime curve). */
CK_RV attrs_cert_parse(attrs_cert *c, const uint8_t *der, size_t len, const char *label_fallback);
void attrs_cert_free(attrs_cert *c);

/* The attribute lists of the three objects of a credential and of a chain
 * certificate. category: 1 user (CKA_CERTIFICATE_CATEGORY), 2 authority. */
void attrs_build_cert(attr_list *l, const attrs_cert *c, CK_ULONG category);
void attrs_build_public(attr_list *l, const attrs_cert *c, const CK_MECHANISM_TYPE *allowed,
			size_t n_allowed);
typedef struct {
	bool is_private;  /* CKA_PRIVATE */
	bool always_auth; /* CKA_ALWAYS_AUTHENTICATE */
	bool can_sign;	  /* CKA_SIGN */
} attrs_key_flags;
void attrs_build_private(attr_list *l, const attrs_cert *c, const attrs_key_flags *f,
			 const CK_MECHANISM_TYPE *allowed, size_t n_allowed);

#endif
