/* SPDX-License-Identifier: Apache-2.0 */
/* PKCS#1 DigestInfo build and strict parse. */
#ifndef CISRES_DIGESTINFO_H
#define CISRES_DIGESTINFO_H

#include <stddef.h>
#include <stdint.h>

#include "oid.h"

/* Build DER DigestInfo (with NULL parameters) into out[cap]. 0 or -1. */
int digestinfo_build(hash_alg alg, const uint8_t *digest, size_t dlen, uint8_t *out, size_t cap,
		     size_t *outlen);
/* Strict parse: the input must be exactly a DER DigestInfo for a known hash,
 * with NULL or absent parameters, and a digest of the hash's length.
 * *digest points into in. 0 or -1. */
int digestinfo_parse(const uint8_t *in, size_t len, hash_alg *alg, const uint8_t **digest,
		     size_t *dlen);

#endif
