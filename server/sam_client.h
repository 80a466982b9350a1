/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP-process side of the SAM process: a sam* on which the sam.h
 * functions work by sending messages (sam_proto.h) to a SAM process.
 *
 * Connections: one request at a time on a connection; a pool of idle
 * connections is shared by the calling threads, so that N threads sign in
 * parallel over N connections (served by N threads in the SAM process).
 * With a monitor (sam_spawn.h) the pool grows on demand up to max_conns by
 * asking the monitor for new connections; a connection whose SAM process
 * died (EOF, error, timeout) is closed and its call fails with
 * SAM_E_INTERNAL, and the next call gets a fresh connection to the
 * respawned SAM. Nothing is retried once the request may have reached the
 * SAM (sign and authorize are not idempotent). */
#ifndef CISRES_SAM_CLIENT_H
#define CISRES_SAM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sam.h"

typedef struct sam_client sam_client;

#define SAM_CLIENT_TIMEOUT_MS 120000 /* one call; RSA keygen can take long */

/* A remote SAM over one connected SOCK_SEQPACKET descriptor (owned; closed
 * by sam_free). The calls are serialized on it. 0 or -1. */
int sam_connect(int fd, sam **out);
/* A client that opens its connections through a SAM monitor's control
 * socket (owned), up to max_conns at a time. */
int sam_client_new_monitor(int ctl_fd, unsigned max_conns, sam_client **out);
void sam_client_free(sam_client *c);
/* Per-call timeout (milliseconds) for connections opened from now on. */
void sam_client_set_timeout(sam_client *c, unsigned ms);
/* The pid the monitor last reported for the SAM process (0: unknown). */
pid_t sam_client_server_pid(sam_client *c);
/* Connections open right now (idle + busy). */
size_t sam_client_connections(sam_client *c);

/* The remote implementations behind sam.h (called by sam.c). */
sam_status sam_client_authorize(sam_client *c, const sam_authorize_req *req,
				sam_authorize_res *res);
sam_status sam_client_extend(sam_client *c, const sam_extend_req *req, sam_authorize_res *res);
sam_status sam_client_sign(sam_client *c, const sam_sign_req *req, sam_sign_res *res);
sam_status sam_client_keygen(sam_client *c, const sam_keygen_req *req, sam_keygen_res *res);
sam_status sam_client_key_set_cert(sam_client *c, const char *credential_id, const uint8_t *der,
				   size_t len, const char *actor);
sam_status sam_client_key_destroy(sam_client *c, const char *credential_id, const char *actor);
sam_status sam_client_set_pin(sam_client *c, const char *credential_id, const char *pin,
			      size_t pin_len, const char *actor);
sam_status sam_client_user_set_otp(sam_client *c, int64_t user_id, const uint8_t *seed, size_t len,
				   const char *actor);
sam_status sam_client_verify_login(sam_client *c, const char *user, const char *pw, size_t pwlen,
				   int64_t *user_id);
int sam_client_tsa_respond(sam_client *c, const uint8_t *req, size_t reqlen, uint8_t **resp,
			   size_t *resplen);
int sam_client_tsa_stamp(sam_client *c, hash_alg alg, const uint8_t *digest, size_t dlen,
			 const char *nonce_hex, uint8_t **token, size_t *toklen);

#endif
