/* SPDX-License-Identifier: Apache-2.0 */
/* The algorithm tables: hashes, signature algorithms, curves — by OID. */
#ifndef CISRES_OID_H
#define CISRES_OID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
	HASH_NONE = 0,
	HASH_SHA1,
	HASH_SHA224,
	HASH_SHA256,
	HASH_SHA384,
	HASH_SHA512,
	HASH_SHA3_256,
	HASH_SHA3_384,
	HASH_SHA3_512,
} hash_alg;

#define HASH_MAX_LEN 64

typedef struct {
	hash_alg id;
	const char *name;      /* OpenSSL name: "SHA256", "SHA3-256" */
	const char *oid;       /* dotted */
	size_t len;            /* digest length in bytes */
	const uint8_t *prefix; /* DER DigestInfo prefix (with NULL params) */
	size_t prefix_len;
} hash_info;

const hash_info *hash_by_id(hash_alg id);
const hash_info *hash_by_oid(const char *oid);
const hash_info *hash_by_name(const char *name); /* case-insensitive, "sha256" */
/* SHA-2 hash of the given length (20→SHA1, 28, 32, 48, 64), for CKM_ECDSA. */
const hash_info *hash_by_len(size_t len);

typedef enum { KEY_NONE = 0, KEY_RSA, KEY_EC } key_kind;

typedef enum {
	SIG_RSA_RAW = 1, /* rsaEncryption: PKCS#1 v1.5, hash from hashAlgorithmOID */
	SIG_RSA_SHA1,
	SIG_RSA_SHA224,
	SIG_RSA_SHA256,
	SIG_RSA_SHA384,
	SIG_RSA_SHA512,
	SIG_RSA_PSS, /* RSASSA-PSS, params from signAlgoParams */
	SIG_ECDSA_SHA1,
	SIG_ECDSA_SHA224,
	SIG_ECDSA_SHA256,
	SIG_ECDSA_SHA384,
	SIG_ECDSA_SHA512,
	SIG_EC_PUBKEY, /* ecPublicKey listed by some services; hash from hashAlgorithmOID */
} sig_alg;

typedef struct {
	sig_alg id;
	const char *oid;
	const char *name;
	key_kind key;
	hash_alg hash; /* HASH_NONE when not implied by the algorithm */
	bool pss;
} sigalg_info;

const sigalg_info *sigalg_by_id(sig_alg id);
const sigalg_info *sigalg_by_oid(const char *oid);
/* ECDSA algorithm for a hash (SIG_ECDSA_SHA256 for HASH_SHA256), or NULL. */
const sigalg_info *sigalg_ecdsa_for_hash(hash_alg h);
/* sha*WithRSAEncryption for a hash, or NULL. */
const sigalg_info *sigalg_rsa_for_hash(hash_alg h);

typedef struct {
	int nid;           /* OpenSSL NID */
	const char *name;  /* "P-256" */
	const char *oid;   /* dotted */
	size_t field_len;  /* bytes of r (and s) */
	unsigned bits;
} curve_info;

const curve_info *curve_by_nid(int nid);
const curve_info *curve_by_oid(const char *oid);
const curve_info *curve_by_name(const char *name); /* "P-256", "prime256v1", "secp384r1" */

#endif
