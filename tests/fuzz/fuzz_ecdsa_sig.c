/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: ECDSA DER <-> raw conversions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecdsa_sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t raw[2 * 256], back[2 * 256], *der = NULL;
	size_t field_len, derlen = 0;

	if (size < 1)
		return 0;
	/* First byte: the field length (0..255, some out of range on purpose). */
	field_len = data[0];
	if (ecdsa_der_to_raw(data + 1, size - 1, field_len, raw) == 0) {
		/* Strict DER: converting back gives the same bytes. */
		if (ecdsa_raw_to_der(raw, 2 * field_len, &der, &derlen) != 0 ||
		    derlen != size - 1 || memcmp(der, data + 1, derlen) != 0)
			abort();
		free(der);
		der = NULL;
	}
	/* The rest as r||s. */
	if (ecdsa_raw_to_der(data + 1, size - 1, &der, &derlen) == 0) {
		size_t half = (size - 1) / 2;
		if (ecdsa_der_to_raw(der, derlen, half, back) != 0 ||
		    memcmp(back, data + 1, size - 1) != 0)
			abort();
		free(der);
	}
	return 0;
}
