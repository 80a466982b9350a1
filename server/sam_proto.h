/* SPDX-License-Identifier: Apache-2.0 */
/* The message protocol between the HTTP process and the SAM process (and
 * the SAM monitor): typed, length-checked binary messages over
 * SOCK_SEQPACKET socketpairs.
 *
 * Message:  header  type u16 | flags u16 (0) | length u32   (big endian)
 *           body    length bytes: a fixed sequence of fields per type
 * Field:    kind u16 | length u32 | value
 *           kinds: U32 (4 bytes), I32 (4), I64 (8), BOOL (1: 0|1),
 *           STR (no NUL byte), BYTES, NONE (length 0: an absent optional)
 * Every field has a bound (credential id <= 63, SAD <= 63, PIN/OTP <=
 * SAM_SECRET_MAX, password <= SAM_PASSWORD_MAX, hashes <= SAM_MAX_HASHES x
 * HASH_MAX_LEN, ...); a message is at most SAM_PROTO_MSG_MAX bytes. A
 * decoder accepts exactly the sequence of its type — a wrong kind, a
 * length over its bound, a short or a trailing byte, an unknown status:
 * the whole message is refused (-1), and nothing it allocated remains.
 *
 * Transport: a message travels as one or more SEQPACKET records of at most
 * SAM_PROTO_PACKET_MAX bytes; the first starts with the header, the rest
 * are continuation bytes until header + length bytes have arrived.
 *
 * One request at a time per connection, answered in order: no request ids
 * (concurrency comes from several connections, one per calling thread).
 *
 * Buffers that held a message are zeroed when freed (sam_proto_free): they
 * may hold PINs, OTPs, passwords or SADs. */
#ifndef CISRES_SAM_PROTO_H
#define CISRES_SAM_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oid.h"
#include "sam.h"

#define SAM_PROTO_HDR_LEN 8
#define SAM_PROTO_MSG_MAX (2u << 20)	 /* whole message, header included */
#define SAM_PROTO_PACKET_MAX (64u << 10) /* one SEQPACKET record */

/* Bounds of single fields. */
#define SAM_PROTO_ID_MAX (STORE_CRED_ID_MAX - 1) /* credential id: 63 */
#define SAM_PROTO_SAD_MAX (SAM_SAD_MAX - 1)	 /* 63 */
#define SAM_PROTO_NAME_MAX (STORE_NAME_MAX - 1)	 /* user name: 63 */
#define SAM_PROTO_TEXT_MAX (STORE_TEXT_MAX - 1)	 /* actor, description: 255 */
#define SAM_PROTO_SEED_MAX 128			 /* TOTP seed */
#define SAM_PROTO_SIG_MAX 2048			 /* one signature */
#define SAM_PROTO_PUB_MAX (16u << 10)		 /* SubjectPublicKeyInfo DER */
#define SAM_PROTO_CERT_MAX (1u << 20)		 /* certificate DER */
#define SAM_PROTO_TSQ_MAX (64u << 10)		 /* RFC 3161 request */
#define SAM_PROTO_TSR_MAX (1u << 20)		 /* RFC 3161 response / token */
#define SAM_PROTO_NONCE_MAX 128			 /* hex nonce */

typedef enum {
	/* requests (HTTP process -> SAM) */
	SAM_MSG_AUTHORIZE = 1,
	SAM_MSG_EXTEND,
	SAM_MSG_SIGN,
	SAM_MSG_KEYGEN,
	SAM_MSG_SET_CERT,
	SAM_MSG_DESTROY,
	SAM_MSG_SET_PIN,
	SAM_MSG_SET_OTP,
	SAM_MSG_LOGIN,
	SAM_MSG_TSA_RESPOND,
	SAM_MSG_TSA_STAMP,
	/* results (SAM -> HTTP process) */
	SAM_MSG_RES_AUTHORIZE = 0x101, /* authorize and extend */
	SAM_MSG_RES_SIGN,
	SAM_MSG_RES_KEYGEN,
	SAM_MSG_RES_STATUS, /* set_cert, destroy, set_pin, set_otp; and refusals */
	SAM_MSG_RES_LOGIN,
	SAM_MSG_RES_TSA,
	/* control (monitor <-> HTTP process, monitor <-> SAM process) */
	SAM_MSG_CONNECT = 0x201, /* HTTP -> monitor: a new connection, please */
	SAM_MSG_CONNECT_RES,	 /* monitor -> HTTP: status, SAM pid; the fd attached */
	SAM_MSG_ADOPT,		 /* monitor -> SAM: serve the attached fd */
	SAM_MSG_READY,		 /* SAM -> monitor: open, privileges dropped, serving */
} sam_msg_type;

/* Operation classes a SAM process serves on a connection (sam_server.h). */
#define SAM_OPS_FRONT 0x1u /* authorize, extend, sign, login, TSA */
#define SAM_OPS_ADMIN 0x2u /* keygen, set_cert, destroy, set_pin, set_otp */
#define SAM_OPS_ALL (SAM_OPS_FRONT | SAM_OPS_ADMIN)
unsigned sam_proto_op_class(uint16_t type); /* 0 for a non-request */

/* A decoded request. The pointers inside u point into storage owned by
 * the request (secrets in locked memory); sam_request_clear zeroes and
 * frees it. */
typedef struct {
	uint16_t type;
	union {
		sam_authorize_req authorize;
		sam_extend_req extend;
		sam_sign_req sign;
		sam_keygen_req keygen;
		struct {
			char credential_id[STORE_CRED_ID_MAX];
			const uint8_t *der;
			size_t len;
			const char *actor;
		} set_cert;
		struct {
			char credential_id[STORE_CRED_ID_MAX];
			const char *actor;
		} destroy;
		struct {
			char credential_id[STORE_CRED_ID_MAX];
			const char *pin;
			size_t pin_len;
			const char *actor;
		} set_pin;
		struct {
			int64_t user_id;
			const uint8_t *seed;
			size_t len;
			const char *actor;
		} set_otp;
		struct {
			char user[STORE_NAME_MAX];
			const char *pw;
			size_t pwlen;
		} login;
		struct {
			const uint8_t *req;
			size_t len;
		} tsa_respond;
		struct {
			hash_alg alg;
			uint8_t digest[HASH_MAX_LEN];
			size_t dlen;
			const char *nonce; /* may be NULL */
		} tsa_stamp;
	} u;
	/* owned storage */
	sam_hash *hashes;
	char *secret; /* locked: PIN/OTP/password/SAD/seed, NUL-separated */
	size_t secret_cap;
	uint8_t *blob; /* certificate, TSA request */
	size_t blob_len;
	char *text; /* actor, description, nonce: NUL-separated */
	size_t text_cap;
} sam_request;

void sam_request_clear(sam_request *r);
int sam_proto_dec_request(const uint8_t *msg, size_t len, sam_request *out);

/* ---- encoders: 0 and a message in *msg (free with sam_proto_free), or -1
 * (an argument out of bounds, or no memory) ---- */
int sam_proto_enc_authorize(const sam_authorize_req *r, uint8_t **msg, size_t *len);
int sam_proto_enc_extend(const sam_extend_req *r, uint8_t **msg, size_t *len);
int sam_proto_enc_sign(const sam_sign_req *r, uint8_t **msg, size_t *len);
int sam_proto_enc_keygen(const sam_keygen_req *r, uint8_t **msg, size_t *len);
int sam_proto_enc_set_cert(const char *cred_id, const uint8_t *der, size_t derlen,
			   const char *actor, uint8_t **msg, size_t *len);
int sam_proto_enc_destroy(const char *cred_id, const char *actor, uint8_t **msg, size_t *len);
int sam_proto_enc_set_pin(const char *cred_id, const char *pin, size_t pin_len, const char *actor,
			  uint8_t **msg, size_t *len);
int sam_proto_enc_set_otp(int64_t user_id, const uint8_t *seed, size_t seedlen, const char *actor,
			  uint8_t **msg, size_t *len);
int sam_proto_enc_login(const char *user, const char *pw, size_t pwlen, uint8_t **msg, size_t *len);
int sam_proto_enc_tsa_respond(const uint8_t *req, size_t reqlen, uint8_t **msg, size_t *len);
int sam_proto_enc_tsa_stamp(hash_alg alg, const uint8_t *digest, size_t dlen, const char *nonce_hex,
			    uint8_t **msg, size_t *len);

int sam_proto_enc_authorize_res(const sam_authorize_res *r, uint8_t **msg, size_t *len);
int sam_proto_enc_sign_res(const sam_sign_res *r, uint8_t **msg, size_t *len);
int sam_proto_enc_keygen_res(const sam_keygen_res *r, uint8_t **msg, size_t *len);
int sam_proto_enc_status_res(sam_status st, uint8_t **msg, size_t *len);
int sam_proto_enc_login_res(sam_status st, int64_t user_id, uint8_t **msg, size_t *len);
int sam_proto_enc_tsa_res(int rc, const uint8_t *data, size_t dlen, uint8_t **msg, size_t *len);
int sam_proto_enc_connect_res(int ok, int64_t pid, uint8_t **msg, size_t *len);
int sam_proto_enc_empty(sam_msg_type type, uint8_t **msg, size_t *len); /* CONNECT, ADOPT */
int sam_proto_enc_ready(int64_t pid, uint8_t **msg, size_t *len);

/* ---- result decoders: 0 or -1 (malformed; out left cleared) ---- */
int sam_proto_dec_authorize_res(const uint8_t *msg, size_t len, sam_authorize_res *out);
int sam_proto_dec_sign_res(const uint8_t *msg, size_t len, sam_sign_res *out);
int sam_proto_dec_keygen_res(const uint8_t *msg, size_t len, sam_keygen_res *out);
int sam_proto_dec_status_res(const uint8_t *msg, size_t len, sam_status *st);
int sam_proto_dec_login_res(const uint8_t *msg, size_t len, sam_status *st, int64_t *user_id);
/* *data malloc'd (NULL when the result carries none). */
int sam_proto_dec_tsa_res(const uint8_t *msg, size_t len, int *rc, uint8_t **data, size_t *dlen);
int sam_proto_dec_connect_res(const uint8_t *msg, size_t len, int *ok, int64_t *pid);
int sam_proto_dec_ready(const uint8_t *msg, size_t len, int64_t *pid);
int sam_proto_dec_empty(const uint8_t *msg, size_t len, sam_msg_type type);

/* The type of a message whose header is well formed (length consistent,
 * flags zero), else -1. */
int sam_proto_type(const uint8_t *msg, size_t len);

/* Zero and free a message buffer (NULL allowed). */
void sam_proto_free(uint8_t *msg, size_t len);

/* ---- transport over a SOCK_SEQPACKET socket ---- */
/* Send a whole message. 0, or -1 (errno set; EPIPE when the peer is gone). */
int sam_proto_send(int fd, const uint8_t *msg, size_t len);
/* Receive a whole message into a new buffer (free with sam_proto_free).
 * 1 = a message, 0 = the peer closed the connection before a message,
 * -1 = error, timeout, or a malformed / oversized message. */
int sam_proto_recv(int fd, uint8_t **msg, size_t *len);
/* A small (one-record) control message with one descriptor attached. */
int sam_proto_send_fd(int sock, const uint8_t *msg, size_t len, int fd);
/* Receive a control message of at most cap bytes into buf; *fd receives
 * the attached descriptor (O_CLOEXEC) or -1. 1, 0 (EOF), -1. */
int sam_proto_recv_fd(int sock, uint8_t *buf, size_t cap, size_t *len, int *fd);

#endif
