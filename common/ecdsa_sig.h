/* SPDX-License-Identifier: Apache-2.0 */
/* ECDSA signature encodings: DER Ecdsa-Sig-Value <-> PKCS#11 r||s. */
#ifndef CISRES_ECDSA_SIG_H
#define CISRES_ECDSA_SIG_H

#include <stddef.h>
#include <stdint.h>

/* DER (strict) -> r||s, each half left-padded to field_len. out must hold
 * 2*field_len bytes. -1 when malformed or r/s longer than field_len. */
int ecdsa_der_to_raw(const uint8_t *der, size_t derlen, size_t field_len, uint8_t *out);
/* r||s (even length) -> DER; *der malloc'd. 0 or -1. */
int ecdsa_raw_to_der(const uint8_t *raw, size_t rawlen, uint8_t **der, size_t *derlen);

#endif
