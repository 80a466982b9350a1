/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: RSASSA-PSS-params decode/encode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pss.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pss_params p, q;
	uint8_t *der = NULL, *der2 = NULL;
	size_t derlen = 0, der2len = 0;

	if (pss_params_decode(data, size, &p) != 0)
		return 0;
	if (hash_by_id(p.hash) == NULL || hash_by_id(p.mgf_hash) == NULL || p.salt_len < 0 ||
	    p.salt_len > 1024)
		abort();
	if (pss_params_encode(&p, &der, &derlen) != 0)
		abort();
	if (pss_params_decode(der, derlen, &q) != 0 || q.hash != p.hash ||
	    q.mgf_hash != p.mgf_hash || q.salt_len != p.salt_len)
		abort();
	/* Our encoding is canonical: encoding again gives the same bytes. */
	if (pss_params_encode(&q, &der2, &der2len) != 0 || der2len != derlen ||
	    memcmp(der, der2, derlen) != 0)
		abort();
	free(der);
	free(der2);
	return 0;
}
