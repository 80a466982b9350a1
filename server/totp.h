/* SPDX-License-Identifier: Apache-2.0 */
/* TOTP (RFC 6238) over HOTP (RFC 4226): HMAC-SHA-1, 30-second steps. */
#ifndef CISRES_TOTP_H
#define CISRES_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TOTP_STEP 30
#define TOTP_DIGITS 6

/* HOTP value for a counter, as a number (digits wide). */
uint32_t totp_hotp(const uint8_t *key, size_t keylen, uint64_t counter, unsigned digits);
/* Check code (exactly 'digits' decimal digits) against the steps around now
 * (±window). Returns the matching step (>= 0), or -1 when no step matches
 * or the code is malformed. Constant-time per candidate. The caller must
 * still enforce single use with store_user_use_otp_step(). */
int64_t totp_check(const uint8_t *key, size_t keylen, const char *code, size_t codelen,
		   time_t now, int window);
/* otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
 * malloc'd. */
char *totp_uri(const char *issuer, const char *account, const uint8_t *key, size_t keylen);

#endif
