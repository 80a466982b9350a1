/* SPDX-License-Identifier: Apache-2.0 */
/* RSASSA-PSS-params (RFC 4055) DER encode/decode, for CSC signAlgoParams. */
#ifndef CISRES_PSS_H
#define CISRES_PSS_H

#include <stddef.h>
#include <stdint.h>

#include "oid.h"

typedef struct {
	hash_alg hash;     /* hashAlgorithm (default SHA-1 when absent) */
	hash_alg mgf_hash; /* MGF1 hash (default SHA-1 when absent) */
	int salt_len;      /* saltLength (default 20) */
} pss_params;

/* *der malloc'd. 0 or -1. */
int pss_params_encode(const pss_params *p, uint8_t **der, size_t *derlen);
/* Strict decode (only MGF1, trailerField 1). 0 or -1. */
int pss_params_decode(const uint8_t *der, size_t derlen, pss_params *out);

#endif
