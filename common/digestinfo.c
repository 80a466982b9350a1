/* SPDX-License-Identifier: Apache-2.0 */
/* PKCS#1 DigestInfo build and strict parse. */
#include "digestinfo.h"

#include <string.h>

/* The known hashes, tried in turn by the parser. */
static const hash_alg DI_HASHES[] = {HASH_SHA1,	  HASH_SHA224,	 HASH_SHA256,	HASH_SHA384,
				     HASH_SHA512, HASH_SHA3_256, HASH_SHA3_384, HASH_SHA3_512};

/* Largest prefix: 30 len 30 len 06 len OID(<=9) 05 00 04 len. */
#define DI_MAX_PREFIX 32

int digestinfo_build(hash_alg alg, const uint8_t *digest, size_t dlen, uint8_t *out, size_t cap,
		     size_t *outlen)
{
	const hash_info *h = hash_by_id(alg);

	if (h == NULL || digest == NULL || out == NULL || outlen == NULL)
		return -1;
	if (dlen != h->len || cap < h->prefix_len || cap - h->prefix_len < dlen)
		return -1;
	memcpy(out, h->prefix, h->prefix_len);
	memcpy(out + h->prefix_len, digest, dlen);
	*outlen = h->prefix_len + dlen;
	return 0;
}

/* The DER prefix of the form without parameters, derived from the table's
 * prefix (which carries NULL parameters): both SEQUENCE lengths shrink by
 * two and the 05 00 disappears. Returns its length, 0 when the table's
 * prefix does not have the expected shape. */
static size_t di_prefix_noparams(const hash_info *h, uint8_t *buf)
{
	const uint8_t *p = h->prefix;
	size_t oidlen;

	if (h->prefix_len < 8 || h->prefix_len > DI_MAX_PREFIX || p[0] != 0x30 || p[2] != 0x30 ||
	    p[4] != 0x06)
		return 0;
	oidlen = p[5];
	if (6 + oidlen + 4 != h->prefix_len || p[6 + oidlen] != 0x05 || p[7 + oidlen] != 0x00)
		return 0;
	buf[0] = 0x30;
	buf[1] = (uint8_t)(p[1] - 2);
	buf[2] = 0x30;
	buf[3] = (uint8_t)(p[3] - 2);
	memcpy(buf + 4, p + 4, 2 + oidlen); /* 06 len OID */
	buf[6 + oidlen] = 0x04;
	buf[7 + oidlen] = p[9 + oidlen];
	return 8 + oidlen;
}

int digestinfo_parse(const uint8_t *in, size_t len, hash_alg *alg, const uint8_t **digest,
		     size_t *dlen)
{
	size_t i;

	if (in == NULL || alg == NULL || digest == NULL || dlen == NULL)
		return -1;
	/* DER is unique, so comparing with the two possible encodings of each
	 * known hash is a complete, strict parse. */
	for (i = 0; i < sizeof(DI_HASHES) / sizeof(DI_HASHES[0]); i++) {
		const hash_info *h = hash_by_id(DI_HASHES[i]);
		uint8_t alt[DI_MAX_PREFIX];
		size_t altlen;

		if (h == NULL)
			continue;
		if (len == h->prefix_len + h->len && memcmp(in, h->prefix, h->prefix_len) == 0) {
			*alg = h->id;
			*digest = in + h->prefix_len;
			*dlen = h->len;
			return 0;
		}
		altlen = di_prefix_noparams(h, alt);
		if (altlen > 0 && len == altlen + h->len && memcmp(in, alt, altlen) == 0) {
			*alg = h->id;
			*digest = in + altlen;
			*dlen = h->len;
			return 0;
		}
	}
	return -1;
}
