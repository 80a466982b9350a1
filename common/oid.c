/* SPDX-License-Identifier: Apache-2.0 */
/* The algorithm tables: hashes, signature algorithms, curves — by OID. */
#include "oid.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <openssl/obj_mac.h>

/* DigestInfo ::= SEQUENCE { SEQUENCE { OID, NULL }, OCTET STRING (len) } —
 * everything up to and including the OCTET STRING header. */
static const uint8_t PFX_SHA1[] = {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
				   0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14};
#define PFX_NIST(total, last, dlen)                                                                \
	{                                                                                          \
		0x30, (total), 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,   \
		    0x02, (last), 0x05, 0x00, 0x04, (dlen)                                         \
	}
static const uint8_t PFX_SHA224[] = PFX_NIST(0x2d, 0x04, 0x1c);
static const uint8_t PFX_SHA256[] = PFX_NIST(0x31, 0x01, 0x20);
static const uint8_t PFX_SHA384[] = PFX_NIST(0x41, 0x02, 0x30);
static const uint8_t PFX_SHA512[] = PFX_NIST(0x51, 0x03, 0x40);
static const uint8_t PFX_SHA3_256[] = PFX_NIST(0x31, 0x08, 0x20);
static const uint8_t PFX_SHA3_384[] = PFX_NIST(0x41, 0x09, 0x30);
static const uint8_t PFX_SHA3_512[] = PFX_NIST(0x51, 0x0a, 0x40);

#define HASH_ROW(id, name, oid, len, pfx)                                                          \
	{                                                                                          \
		id, name, oid, len, pfx, sizeof(pfx)                                               \
	}
static const hash_info HASHES[] = {
    HASH_ROW(HASH_SHA1, "SHA1", "1.3.14.3.2.26", 20, PFX_SHA1),
    HASH_ROW(HASH_SHA224, "SHA224", "2.16.840.1.101.3.4.2.4", 28, PFX_SHA224),
    HASH_ROW(HASH_SHA256, "SHA256", "2.16.840.1.101.3.4.2.1", 32, PFX_SHA256),
    HASH_ROW(HASH_SHA384, "SHA384", "2.16.840.1.101.3.4.2.2", 48, PFX_SHA384),
    HASH_ROW(HASH_SHA512, "SHA512", "2.16.840.1.101.3.4.2.3", 64, PFX_SHA512),
    HASH_ROW(HASH_SHA3_256, "SHA3-256", "2.16.840.1.101.3.4.2.8", 32, PFX_SHA3_256),
    HASH_ROW(HASH_SHA3_384, "SHA3-384", "2.16.840.1.101.3.4.2.9", 48, PFX_SHA3_384),
    HASH_ROW(HASH_SHA3_512, "SHA3-512", "2.16.840.1.101.3.4.2.10", 64, PFX_SHA3_512),
};
#define N_HASHES (sizeof(HASHES) / sizeof(HASHES[0]))

static const sigalg_info SIGALGS[] = {
    {SIG_RSA_RAW, "1.2.840.113549.1.1.1", "rsaEncryption", KEY_RSA, HASH_NONE, false},
    {SIG_RSA_SHA1, "1.2.840.113549.1.1.5", "sha1WithRSAEncryption", KEY_RSA, HASH_SHA1, false},
    {SIG_RSA_SHA224, "1.2.840.113549.1.1.14", "sha224WithRSAEncryption", KEY_RSA, HASH_SHA224,
     false},
    {SIG_RSA_SHA256, "1.2.840.113549.1.1.11", "sha256WithRSAEncryption", KEY_RSA, HASH_SHA256,
     false},
    {SIG_RSA_SHA384, "1.2.840.113549.1.1.12", "sha384WithRSAEncryption", KEY_RSA, HASH_SHA384,
     false},
    {SIG_RSA_SHA512, "1.2.840.113549.1.1.13", "sha512WithRSAEncryption", KEY_RSA, HASH_SHA512,
     false},
    {SIG_RSA_PSS, "1.2.840.113549.1.1.10", "RSASSA-PSS", KEY_RSA, HASH_NONE, true},
    {SIG_ECDSA_SHA1, "1.2.840.10045.4.1", "ecdsa-with-SHA1", KEY_EC, HASH_SHA1, false},
    {SIG_ECDSA_SHA224, "1.2.840.10045.4.3.1", "ecdsa-with-SHA224", KEY_EC, HASH_SHA224, false},
    {SIG_ECDSA_SHA256, "1.2.840.10045.4.3.2", "ecdsa-with-SHA256", KEY_EC, HASH_SHA256, false},
    {SIG_ECDSA_SHA384, "1.2.840.10045.4.3.3", "ecdsa-with-SHA384", KEY_EC, HASH_SHA384, false},
    {SIG_ECDSA_SHA512, "1.2.840.10045.4.3.4", "ecdsa-with-SHA512", KEY_EC, HASH_SHA512, false},
    {SIG_EC_PUBKEY, "1.2.840.10045.2.1", "ecPublicKey", KEY_EC, HASH_NONE, false},
};
#define N_SIGALGS (sizeof(SIGALGS) / sizeof(SIGALGS[0]))

static const curve_info CURVES[] = {
    {NID_X9_62_prime256v1, "P-256", "1.2.840.10045.3.1.7", 32, 256},
    {NID_secp384r1, "P-384", "1.3.132.0.34", 48, 384},
    {NID_secp521r1, "P-521", "1.3.132.0.35", 66, 521},
};
#define N_CURVES (sizeof(CURVES) / sizeof(CURVES[0]))

/* Other names of the curves, in the order of CURVES. */
static const char *const CURVE_ALIASES[][3] = {
    {"prime256v1", "secp256r1", "nistp256"},
    {"secp384r1", "nistp384", NULL},
    {"secp521r1", "nistp521", NULL},
};

const hash_info *hash_by_id(hash_alg id)
{
	size_t i;
	for (i = 0; i < N_HASHES; i++) {
		if (HASHES[i].id == id)
			return &HASHES[i];
	}
	return NULL;
}

const hash_info *hash_by_oid(const char *oid)
{
	size_t i;
	if (oid == NULL)
		return NULL;
	for (i = 0; i < N_HASHES; i++) {
		if (strcmp(HASHES[i].oid, oid) == 0)
			return &HASHES[i];
	}
	return NULL;
}

/* Case-insensitive equality ignoring '-' ("sha-256" == "SHA256"). */
static bool name_eq_nodash(const char *a, const char *b)
{
	for (;;) {
		while (*a == '-')
			a++;
		while (*b == '-')
			b++;
		if (*a == '\0' || *b == '\0')
			return *a == *b;
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return false;
		a++;
		b++;
	}
}

const hash_info *hash_by_name(const char *name)
{
	size_t i;
	if (name == NULL || strlen(name) > 16)
		return NULL;
	for (i = 0; i < N_HASHES; i++) {
		if (name_eq_nodash(HASHES[i].name, name))
			return &HASHES[i];
	}
	return NULL;
}

const hash_info *hash_by_len(size_t len)
{
	switch (len) {
	case 20:
		return hash_by_id(HASH_SHA1);
	case 28:
		return hash_by_id(HASH_SHA224);
	case 32:
		return hash_by_id(HASH_SHA256);
	case 48:
		return hash_by_id(HASH_SHA384);
	case 64:
		return hash_by_id(HASH_SHA512);
	default:
		return NULL;
	}
}

const sigalg_info *sigalg_by_id(sig_alg id)
{
	size_t i;
	for (i = 0; i < N_SIGALGS; i++) {
		if (SIGALGS[i].id == id)
			return &SIGALGS[i];
	}
	return NULL;
}

const sigalg_info *sigalg_by_oid(const char *oid)
{
	size_t i;
	if (oid == NULL)
		return NULL;
	for (i = 0; i < N_SIGALGS; i++) {
		if (strcmp(SIGALGS[i].oid, oid) == 0)
			return &SIGALGS[i];
	}
	return NULL;
}

/* The row with the given key kind and implied hash (not PSS). */
static const sigalg_info *sigalg_for(key_kind k, hash_alg h)
{
	size_t i;
	if (h == HASH_NONE)
		return NULL;
	for (i = 0; i < N_SIGALGS; i++) {
		if (SIGALGS[i].key == k && SIGALGS[i].hash == h && !SIGALGS[i].pss)
			return &SIGALGS[i];
	}
	return NULL;
}

const sigalg_info *sigalg_ecdsa_for_hash(hash_alg h)
{
	return sigalg_for(KEY_EC, h);
}

const sigalg_info *sigalg_rsa_for_hash(hash_alg h)
{
	return sigalg_for(KEY_RSA, h);
}

const curve_info *curve_by_nid(int nid)
{
	size_t i;
	for (i = 0; i < N_CURVES; i++) {
		if (CURVES[i].nid == nid)
			return &CURVES[i];
	}
	return NULL;
}

const curve_info *curve_by_oid(const char *oid)
{
	size_t i;
	if (oid == NULL)
		return NULL;
	for (i = 0; i < N_CURVES; i++) {
		if (strcmp(CURVES[i].oid, oid) == 0)
			return &CURVES[i];
	}
	return NULL;
}

const curve_info *curve_by_name(const char *name)
{
	size_t i, j;
	if (name == NULL)
		return NULL;
	for (i = 0; i < N_CURVES; i++) {
		if (strcasecmp(CURVES[i].name, name) == 0)
			return &CURVES[i];
		for (j = 0; j < 3 && CURVE_ALIASES[i][j] != NULL; j++) {
			if (strcasecmp(CURVE_ALIASES[i][j], name) == 0)
				return &CURVES[i];
		}
	}
	return NULL;
}
