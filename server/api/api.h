/* SPDX-License-Identifier: Apache-2.0 */
/* The CSC API v2.0.0.2 methods, independent of the HTTP library: a request
 * (parsed JSON body, the authenticated user) in, a response (status, JSON
 * body) out. One file per endpoint group; api_error.c maps every failure to
 * the CSC error JSON. */
#ifndef CISRES_API_H
#define CISRES_API_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "context.h"
#include "oid.h"

/* Counters shown by GET /metrics (updated by the handlers). */
typedef struct {
	atomic_uint_fast64_t signatures;    /* signatures produced */
	atomic_uint_fast64_t sign_failures; /* signHash calls refused or failed */
	atomic_uint_fast64_t authorize_ok;
	atomic_uint_fast64_t authorize_fail;
	atomic_uint_fast64_t login_ok;
	atomic_uint_fast64_t login_fail;
	atomic_uint_fast64_t timestamps; /* CSC timestamp + RFC 3161 /tsa */
} api_stats;

/* What the service shares with every request. */
typedef struct {
	context *ctx;
	api_stats stats;
	pthread_mutex_t tsa_lock; /* the TSA's OpenSSL response context is not shared */
	char base_url[600];	  /* "https://host:port" for info.logo */
} api_service;

typedef enum {
	API_AUTH_NONE = 0, /* info */
	API_AUTH_LOGIN,	   /* auth/login: Basic or refresh_token in the body */
	API_AUTH_BEARER,   /* everything else */
} api_auth;

#define API_BEARER_MAX 128 /* characters of a bearer token */
#define API_BASIC_MAX 1024 /* characters of a Basic credential (base64) */

typedef struct {
	api_service *svc;
	const char *method;	   /* "credentials/info" */
	const char *authorization; /* the Authorization header, NULL if absent */
	cJSON *body;		   /* parsed JSON object (an empty one for no body) */
	int64_t user_id;	   /* API_AUTH_BEARER: the authenticated signer */
} api_request;

typedef struct {
	unsigned status; /* HTTP status */
	cJSON *json;	 /* body, NULL for 204 */
	bool www_auth;	 /* add WWW-Authenticate: Bearer (401) */
} api_response;

typedef int (*api_handler)(api_request *req, api_response *res);

typedef struct {
	const char *name; /* method path below /csc/v2/ */
	api_handler fn;
	api_auth auth;
	bool secret_body; /* the request body holds secrets: json_wipe it */
	bool allow_get;	  /* GET accepted besides POST */
} api_method;

/* The method table (api_table.c). */
const api_method *api_lookup(const char *name);
size_t api_method_count(void);
const api_method *api_method_at(size_t i);

/* Check the bearer token of req (API_AUTH_BEARER methods); fills
 * req->user_id or res with the 401. 0 = authenticated. */
int api_authenticate(api_request *req, api_response *res);

/* ---- errors (api_error.c): the one place failures become CSC JSON ---- */
typedef enum {
	API_E_INVALID_REQUEST = 0, /* 400 invalid_request */
	API_E_INVALID_TOKEN,	   /* 401 invalid_token */
	API_E_EXPIRED_TOKEN,	   /* 401 expired_token */
	API_E_AUTHENTICATION,	   /* 400 authentication_error */
	API_E_INVALID_PIN,	   /* 400 invalid_pin */
	API_E_INVALID_OTP,	   /* 400 invalid_otp */
	API_E_NOT_FOUND,	   /* 404 invalid_request (unknown method) */
	API_E_METHOD,		   /* 405 invalid_request */
	API_E_TOO_LARGE,	   /* 413 invalid_request */
	API_E_MEDIA_TYPE,	   /* 415 invalid_request */
	API_E_NOT_IMPLEMENTED,	   /* 501 not_implemented_method */
	API_E_UNAVAILABLE,	   /* 503 temporarily_unavailable */
	API_E_SERVER,		   /* 500 server_error */
} api_err;

/* Fill res with the error; description may be NULL (then a default).
 * Always returns -1 so handlers can "return api_fail(...)". */
int api_fail(api_response *res, api_err e, const char *description);
/* Map SAM and auth outcomes (descriptions per CSC style). */
int api_fail_sam(api_response *res, sam_status st);
/* The error body as a string, for the HTTP layer's own errors (413, 404,
 * 405...) before any handler ran; malloc'd. *status receives the code. */
char *api_error_body(api_err e, const char *description, unsigned *status);

/* ---- parameters (api_param.c) ----
 * Each returns 0, or fills res with "Missing (or invalid type) <type>
 * parameter <name>" / "Invalid parameter <name>" and returns -1. */
int api_param_string(const cJSON *body, api_response *res, const char *name, bool required,
		     size_t max_len, const char **out);
int api_param_bool(const cJSON *body, api_response *res, const char *name, bool def, bool *out);
int api_param_int(const cJSON *body, api_response *res, const char *name, bool required,
		  int64_t min, int64_t max, int64_t def, int64_t *out);
/* credentialID: a string of at most STORE_CRED_ID_MAX - 1 characters. */
int api_param_credential_id(const cJSON *body, api_response *res, char out[STORE_CRED_ID_MAX]);
/* A hash algorithm OID from parameter name (required or not); only the
 * SHA-2 family 256/384/512 is accepted. *out = HASH_NONE when absent. */
int api_param_hash_alg(const cJSON *body, api_response *res, const char *name, bool required,
		       const policy *pol, hash_alg *out);
/* hashes[]: Base64 digests, each of exactly the length of alg (when alg is
 * not HASH_NONE, else any of 32/48/64). *out malloc'd (free()), *n entries.
 * required: absent = error; else absent = 0 entries. */
int api_param_hashes(const cJSON *body, api_response *res, const char *name, bool required,
		     hash_alg alg, sam_hash **out, size_t *n);
/* The certificates parameter: "none" | "single" | "chain" (default single). */
typedef enum { API_CERTS_NONE = 0, API_CERTS_SINGLE, API_CERTS_CHAIN } api_certs;
int api_param_certificates(const cJSON *body, api_response *res, api_certs *out);
/* The optional clientData / lang / description strings: type and size. */
int api_param_common(const cJSON *body, api_response *res);

/* ---- handlers ---- */
int api_info(api_request *req, api_response *res);
int api_auth_login(api_request *req, api_response *res);
int api_auth_revoke(api_request *req, api_response *res);
int api_credentials_list(api_request *req, api_response *res);
int api_credentials_info(api_request *req, api_response *res);
int api_credentials_authorize(api_request *req, api_response *res);
int api_credentials_authorize_check(api_request *req, api_response *res);
int api_credentials_extend(api_request *req, api_response *res);
int api_signatures_sign_hash(api_request *req, api_response *res);
int api_signatures_timestamp(api_request *req, api_response *res);

/* The algorithms the service offers for a key (key.algo), and whether a
 * signAlgo is among them (api_credentials.c). */
size_t api_key_algos(key_kind kind, const policy *pol, const sigalg_info **out, size_t cap);
bool api_key_allows(key_kind kind, const policy *pol, const sigalg_info *alg);

/* RFC 3161 over HTTP (api_signatures.c): answer a DER TimeStampReq. Returns 0 and
 * a malloc'd DER TimeStampResp, or -1 on internal failure. */
int api_tsa_respond(api_service *svc, const uint8_t *req, size_t len, uint8_t **resp,
		    size_t *resplen);

#endif
