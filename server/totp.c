/* SPDX-License-Identifier: Apache-2.0 */
/* TOTP (RFC 6238) over HOTP (RFC 4226) with HMAC-SHA-1. */
#include "totp.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "b64.h"
#include "secmem.h"

#define TOTP_MAX_DIGITS 9 /* 10^9 fits a uint32_t; RFC 4226 allows 6..8(9) */
#define TOTP_MAX_WINDOW 10

static const uint32_t totp_pow10[TOTP_MAX_DIGITS + 1] = {
    1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u, 100000000u, 1000000000u,
};

uint32_t totp_hotp(const uint8_t *key, size_t keylen, uint64_t counter, unsigned digits)
{
	uint8_t msg[8], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	unsigned off;
	uint32_t bin;
	int i;

	if (digits == 0 || digits > TOTP_MAX_DIGITS || keylen > (size_t)INT32_MAX)
		return 0;
	for (i = 7; i >= 0; i--) {
		msg[i] = (uint8_t)(counter & 0xff);
		counter >>= 8;
	}
	if (HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof(msg), mac, &maclen) == NULL ||
	    maclen != 20) {
		sec_zero(mac, sizeof(mac));
		return 0;
	}
	off = mac[19] & 0x0f;
	bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
	      ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
	sec_zero(mac, sizeof(mac));
	return bin % totp_pow10[digits];
}

int64_t totp_check(const uint8_t *key, size_t keylen, const char *code, size_t codelen, time_t now,
		   int window)
{
	uint32_t want = 0;
	int64_t step, found = -1;
	size_t i;
	int d;

	if (key == NULL || keylen == 0 || code == NULL || codelen != TOTP_DIGITS || now < 0)
		return -1;
	if (window < 0 || window > TOTP_MAX_WINDOW)
		return -1;
	for (i = 0; i < codelen; i++) {
		if (code[i] < '0' || code[i] > '9')
			return -1;
		want = want * 10u + (uint32_t)(code[i] - '0');
	}
	step = (int64_t)now / TOTP_STEP;
	/* Check every candidate (no early exit), constant-time compare each. */
	for (d = -window; d <= window; d++) {
		int64_t s = step + d;
		uint32_t got;
		if (s < 0)
			continue;
		got = totp_hotp(key, keylen, (uint64_t)s, TOTP_DIGITS);
		if (CRYPTO_memcmp(&got, &want, sizeof(got)) == 0 && found < 0)
			found = s;
		sec_zero(&got, sizeof(got));
	}
	sec_zero(&want, sizeof(want));
	return found;
}

/* Percent-encode everything outside RFC 3986 unreserved characters. */
static char *totp_urlenc(const char *s)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t n = strlen(s), i, j = 0;
	char *o;

	if (n > 1024)
		return NULL;
	o = malloc(n * 3 + 1);
	if (o == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				  (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
				  c == '~';
		if (unreserved) {
			o[j++] = (char)c;
		} else {
			o[j++] = '%';
			o[j++] = hexd[c >> 4];
			o[j++] = hexd[c & 15];
		}
	}
	o[j] = '\0';
	return o;
}

char *totp_uri(const char *issuer, const char *account, const uint8_t *key, size_t keylen)
{
	char *iss = NULL, *acc = NULL, *sec = NULL, *out = NULL;
	size_t cap;
	int n;

	if (issuer == NULL || account == NULL || key == NULL || keylen == 0)
		return NULL;
	iss = totp_urlenc(issuer);
	acc = totp_urlenc(account);
	sec = b32_encode(key, keylen);
	if (iss == NULL || acc == NULL || sec == NULL)
		goto out;
	cap = 2 * strlen(iss) + strlen(acc) + strlen(sec) + 128;
	out = malloc(cap);
	if (out == NULL)
		goto out;
	n = snprintf(out, cap,
		     "otpauth://totp/%s:%s?secret=%s&issuer=%s&algorithm=SHA1&digits=%d&period=%d",
		     iss, acc, sec, iss, TOTP_DIGITS, TOTP_STEP);
	if (n < 0 || (size_t)n >= cap) {
		sec_free(out, cap);
		out = NULL;
	}
out:
	free(iss);
	free(acc);
	if (sec != NULL)
		sec_strfree(sec);
	return out;
}
