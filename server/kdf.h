/* SPDX-License-Identifier: Apache-2.0 */
/* Slow password/PIN hashing (scrypt through OpenSSL's EVP_KDF), with a
 * self-describing encoded form: "$scrypt$ln=15,r=8,p=1$<b64 salt>$<b64 hash>". */
#ifndef CISRES_KDF_H
#define CISRES_KDF_H

#include <stddef.h>

/* Hash secret with a fresh 16-byte salt into out[cap]. 0 or -1. */
int kdf_hash(const char *secret, size_t len, int log_n, char *out, size_t cap);
/* 1 = match, 0 = mismatch, -1 = malformed encoding or failure.
 * Constant-time comparison of the derived value. */
int kdf_verify(const char *secret, size_t len, const char *encoded);

#endif
