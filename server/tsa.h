/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 3161 time-stamping: the TSA of the service. Clock: the system clock. */
#ifndef CISRES_TSA_H
#define CISRES_TSA_H

#include <stddef.h>
#include <stdint.h>

#include "ca.h"
#include "oid.h"

typedef struct tsa tsa;

/* policy_oid: the TSA policy (e.g. "1.3.6.1.4.1.99999.1.1"). */
int tsa_new(ca *c, const char *policy_oid, tsa **out);
void tsa_free(tsa *t);

/* Answer a DER TimeStampReq with a DER TimeStampResp (a rejection response
 * with a PKIFailureInfo for a bad request). Returns 0 when a response was
 * produced (whatever its status), -1 on internal failure. */
int tsa_respond(tsa *t, const uint8_t *req, size_t reqlen, uint8_t **resp, size_t *resplen);
/* Time-stamp a digest (CSC signatures/timestamp): returns the DER
 * TimeStampToken (ContentInfo). nonce_hex may be NULL. 0, -1 on failure,
 * -2 on bad input (digest length, nonce). */
int tsa_stamp(tsa *t, hash_alg alg, const uint8_t *digest, size_t dlen, const char *nonce_hex,
	      uint8_t **token, size_t *toklen);

#endif
