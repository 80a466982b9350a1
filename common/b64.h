/* SPDX-License-Identifier: Apache-2.0 */
/* Base64 (RFC 4648 §4, strict), base32 (§6, for TOTP secrets) and hex. */
#ifndef CISRES_B64_H
#define CISRES_B64_H

#include <stddef.h>
#include <stdint.h>

/* Encode: returns a malloc'd NUL-terminated string or NULL. */
char *b64_encode(const uint8_t *in, size_t len);
/* Decode strict standard Base64: alphabet A-Za-z0-9+/, '=' padding required
 * to a multiple of 4, no whitespace, non-zero trailing bits rejected.
 * Returns 0 and a malloc'd *out (*outlen bytes); -1 on malformed input.
 * Input longer than max_in characters is refused (-1). */
int b64_decode(const char *in, size_t inlen, size_t max_in, uint8_t **out, size_t *outlen);
/* Same, into a caller buffer of size cap (no allocation). */
int b64_decode_buf(const char *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen);

/* Base32 (RFC 4648 alphabet, upper case, no padding on output;
 * decoding accepts upper/lower case and optional '=' padding). */
char *b32_encode(const uint8_t *in, size_t len);
int b32_decode(const char *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen);

/* Lower-case hex. hex_encode writes 2*len+1 bytes into out (cap checked). */
int hex_encode(const uint8_t *in, size_t len, char *out, size_t cap);
int hex_decode(const char *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen);

#endif
