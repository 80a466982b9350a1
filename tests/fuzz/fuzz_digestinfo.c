/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: strict DigestInfo parsing and build/parse round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "digestinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *digest = NULL;
	size_t dlen = 0, outlen = 0;
	hash_alg alg = HASH_NONE;
	uint8_t out[128];

	if (digestinfo_parse(data, size, &alg, &digest, &dlen) == 0) {
		const hash_info *h = hash_by_id(alg);
		if (h == NULL || dlen != h->len || digest < data || digest + dlen != data + size)
			abort();
		if (digestinfo_build(alg, digest, dlen, out, sizeof(out), &outlen) != 0)
			abort();
		/* Same bytes, or the form with NULL parameters when they were absent. */
		if (outlen == size) {
			if (memcmp(out, data, size) != 0)
				abort();
		} else if (outlen != size + 2) {
			abort();
		}
	}
	/* Build from fuzz data: first byte picks the hash. */
	if (size >= 1) {
		hash_alg a = (hash_alg)(data[0] % 10);
		if (digestinfo_build(a, data + 1, size - 1, out, sizeof(out), &outlen) == 0) {
			if (digestinfo_parse(out, outlen, &alg, &digest, &dlen) != 0 || alg != a ||
			    dlen != size - 1 || memcmp(digest, data + 1, dlen) != 0)
				abort();
		}
	}
	return 0;
}
