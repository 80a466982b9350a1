/* SPDX-License-Identifier: Apache-2.0 */
/* Base64 (RFC 4648 §4, strict), base32 (§6) and hex. */
#include "b64.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char B64_ALPHA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B32_ALPHA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char HEX_ALPHA[] = "0123456789abcdef";
/* Base32 by (unpadded length % 8): padding characters and decoded bytes of
 * the last group; 0 padding marks an impossible remainder (1, 3, 6). */
static const uint8_t B32_PAD[8] = {0, 0, 6, 0, 4, 3, 0, 1};
static const uint8_t B32_TAIL[8] = {0, 0, 1, 0, 2, 3, 0, 4};

/* Value of a Base64 character, or -1. */
static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

char *b64_encode(const uint8_t *in, size_t len)
{
	size_t groups, olen, i, o = 0;
	char *out;

	if (in == NULL && len > 0)
		return NULL;
	groups = len / 3 + (len % 3 != 0);
	if (groups > (SIZE_MAX - 1) / 4)
		return NULL;
	olen = groups * 4;
	out = malloc(olen + 1);
	if (out == NULL)
		return NULL;
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = B64_ALPHA[(v >> 18) & 63];
		out[o++] = B64_ALPHA[(v >> 12) & 63];
		out[o++] = B64_ALPHA[(v >> 6) & 63];
		out[o++] = B64_ALPHA[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = B64_ALPHA[(v >> 18) & 63];
		out[o++] = B64_ALPHA[(v >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = B64_ALPHA[(v >> 18) & 63];
		out[o++] = B64_ALPHA[(v >> 12) & 63];
		out[o++] = B64_ALPHA[(v >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

/* Decoded length of a syntactically valid-looking input, or -1 when the
 * length or padding is wrong. Characters are checked by the decoder. */
static int b64_declen(const char *in, size_t inlen, size_t *declen)
{
	size_t pad = 0;

	if (inlen % 4 != 0)
		return -1;
	if (inlen == 0) {
		*declen = 0;
		return 0;
	}
	if (in[inlen - 1] == '=')
		pad++;
	if (in[inlen - 2] == '=')
		pad++;
	if (pad == 1 && in[inlen - 2] == '=')
		return -1;
	*declen = inlen / 4 * 3 - pad;
	return 0;
}

int b64_decode_buf(const char *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t declen, i, o = 0;

	if ((in == NULL && inlen > 0) || outlen == NULL)
		return -1;
	if (b64_declen(in, inlen, &declen) != 0 || declen > cap)
		return -1;
	if (declen > 0 && out == NULL)
		return -1;
	for (i = 0; i < inlen; i += 4) {
		bool last = i + 4 == inlen;
		int v0 = b64_val((unsigned char)in[i]);
		int v1 = b64_val((unsigned char)in[i + 1]);
		int v2 = b64_val((unsigned char)in[i + 2]);
		int v3 = b64_val((unsigned char)in[i + 3]);
		uint32_t v;

		if (v0 < 0 || v1 < 0)
			return -1;
		if (last && in[i + 2] == '=' && in[i + 3] == '=') {
			if ((v1 & 0x0f) != 0)
				return -1;
			out[o++] = (uint8_t)(v0 << 2 | v1 >> 4);
			break;
		}
		if (v2 < 0)
			return -1;
		if (last && in[i + 3] == '=') {
			if ((v2 & 0x03) != 0)
				return -1;
			v = (uint32_t)v0 << 18 | (uint32_t)v1 << 12 | (uint32_t)v2 << 6;
			out[o++] = (uint8_t)(v >> 16);
			out[o++] = (uint8_t)(v >> 8);
			break;
		}
		if (v3 < 0)
			return -1;
		v = (uint32_t)v0 << 18 | (uint32_t)v1 << 12 | (uint32_t)v2 << 6 | (uint32_t)v3;
		out[o++] = (uint8_t)(v >> 16);
		out[o++] = (uint8_t)(v >> 8);
		out[o++] = (uint8_t)v;
	}
	if (o != declen)
		return -1;
	*outlen = o;
	return 0;
}

int b64_decode(const char *in, size_t inlen, size_t max_in, uint8_t **out, size_t *outlen)
{
	size_t declen;
	uint8_t *buf;

	if (out == NULL || outlen == NULL)
		return -1;
	*out = NULL;
	*outlen = 0;
	if ((in == NULL && inlen > 0) || inlen > max_in)
		return -1;
	if (b64_declen(in, inlen, &declen) != 0)
		return -1;
	buf = malloc(declen > 0 ? declen : 1);
	if (buf == NULL)
		return -1;
	if (b64_decode_buf(in, inlen, buf, declen, outlen) != 0) {
		/* Partial output may be secret material. */
		memset(buf, 0, declen > 0 ? declen : 1);
		free(buf);
		*outlen = 0;
		return -1;
	}
	*out = buf;
	return 0;
}

char *b32_encode(const uint8_t *in, size_t len)
{
	size_t olen, i, o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	char *out;

	if (in == NULL && len > 0)
		return NULL;
	/* ceil(len * 8 / 5) without overflow */
	if (len > (SIZE_MAX - 5) / 8)
		return NULL;
	olen = (len * 8 + 4) / 5;
	out = malloc(olen + 1);
	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		acc = (acc << 8 | in[i]) & 0xfff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = B32_ALPHA[(acc >> bits) & 31];
		}
	}
	if (bits > 0)
		out[o++] = B32_ALPHA[(acc << (5 - bits)) & 31];
	out[o] = '\0';
	return out;
}

static int b32_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

int b32_decode(const char *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t n = inlen, i, o = 0, rem;
	uint32_t acc = 0;
	unsigned bits = 0;

	if ((in == NULL && inlen > 0) || outlen == NULL)
		return -1;
	/* Optional padding: then the whole must be a multiple of 8. */
	while (n > 0 && in[n - 1] == '=')
		n--;
	if (n != inlen && inlen % 8 != 0)
		return -1;
	rem = n % 8;
	if (rem == 1 || rem == 3 || rem == 6)
		return -1;
	if (n != inlen && inlen - n != B32_PAD[rem])
		return -1;
	if (n / 8 * 5 + B32_TAIL[rem] > cap)
		return -1;
	if (n > 0 && out == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		int v = b32_val((unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 5 | (uint32_t)v) & 0xfff;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* Non-zero trailing bits are not canonical. */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return -1;
	*outlen = o;
	return 0;
}

int hex_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
	size_t i;

	if (out == NULL || (in == NULL && len > 0))
		return -1;
	if (len > (SIZE_MAX - 1) / 2 || cap < 2 * len + 1)
		return -1;
	for (i = 0; i < len; i++) {
		out[2 * i] = HEX_ALPHA[in[i] >> 4];
		out[2 * i + 1] = HEX_ALPHA[in[i] & 15];
	}
	out[2 * len] = '\0';
	return 0;
}

static int hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t i;

	if ((in == NULL && inlen > 0) || outlen == NULL)
		return -1;
	if (inlen % 2 != 0 || inlen / 2 > cap)
		return -1;
	if (inlen > 0 && out == NULL)
		return -1;
	for (i = 0; i < inlen; i += 2) {
		int hi = hex_val((unsigned char)in[i]);
		int lo = hex_val((unsigned char)in[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	*outlen = inlen / 2;
	return 0;
}
