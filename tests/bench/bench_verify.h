/* SPDX-License-Identifier: Apache-2.0 */
/* Independent verification of the benchmarks' signatures with OpenSSL
 * (--verify-cert of bench_p11sign and bench_signhash). */
#ifndef CISRES_BENCH_VERIFY_H
#define CISRES_BENCH_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* The public key of a PEM certificate or PEM public key; NULL on error. */
EVP_PKEY *bench_verify_load(const char *path);
/* Does sig verify over the SHA-256 digest (32 bytes)? RSA: PKCS#1 v1.5
 * with SHA-256; EC: a DER Ecdsa-Sig-Value or raw r||s (PKCS#11). ctx is a
 * verification context of the key, reused across calls by one thread. */
bool bench_verify_sha256(EVP_PKEY_CTX *ctx, bool rsa, const uint8_t digest[32], const uint8_t *sig,
			 size_t slen);

#endif
