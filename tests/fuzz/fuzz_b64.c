/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: Base64 / Base32 / hex decoders and round trips. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	uint8_t *out = NULL, buf[8192];
	size_t outlen = 0, blen = 0, n, i;
	char *enc;

	if (size > 8192)
		return 0;

	/* Strict Base64: whatever decodes is canonical and re-encodes to the input. */
	if (b64_decode(in, size, 8192, &out, &outlen) == 0) {
		enc = b64_encode(out, outlen);
		if (enc == NULL || strlen(enc) != size || memcmp(enc, in, size) != 0)
			abort();
		if (b64_decode_buf(in, size, buf, sizeof(buf), &blen) != 0 || blen != outlen ||
		    memcmp(buf, out, outlen) != 0)
			abort();
		free(enc);
		free(out);
	} else if (b64_decode_buf(in, size, buf, sizeof(buf), &blen) == 0) {
		abort(); /* the two decoders must agree */
	}

	/* Base32: re-encodes to the input up to case and padding. */
	if (b32_decode(in, size, buf, sizeof(buf), &blen) == 0) {
		enc = b32_encode(buf, blen);
		if (enc == NULL)
			abort();
		n = size;
		while (n > 0 && in[n - 1] == '=')
			n--;
		if (strlen(enc) != n)
			abort();
		for (i = 0; i < n; i++) {
			if (enc[i] != toupper((unsigned char)in[i]))
				abort();
		}
		free(enc);
	}

	/* Hex: re-encodes to the input up to case. */
	if (hex_decode(in, size, buf, sizeof(buf), &blen) == 0) {
		char hex[8193];
		if (hex_encode(buf, blen, hex, sizeof(hex)) != 0 || strlen(hex) != size)
			abort();
		for (i = 0; i < size; i++) {
			if (hex[i] != tolower((unsigned char)in[i]))
				abort();
		}
	}

	/* Encoding arbitrary bytes always decodes back. */
	if (size <= sizeof(buf)) {
		uint8_t back[8192];
		enc = b64_encode(data, size);
		if (enc == NULL ||
		    b64_decode_buf(enc, strlen(enc), back, sizeof(back), &blen) != 0 ||
		    blen != size || memcmp(back, data, size) != 0)
			abort();
		free(enc);
		enc = b32_encode(data, size);
		if (enc == NULL || b32_decode(enc, strlen(enc), back, sizeof(back), &blen) != 0 ||
		    blen != size || memcmp(back, data, size) != 0)
			abort();
		free(enc);
	}
	return 0;
}
