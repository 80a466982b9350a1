/* SPDX-License-Identifier: Apache-2.0 */
/* A CSC API v2 client over libcurl + cJSON, shared by the PKCS#11 module and
 * the user CLI.
 *
 * One csc_client per service account (base URL + CA file). All clients share
 * one libcurl connection cache, TLS session cache and DNS cache (CURLSH), so
 * sessions and threads reuse keep-alive connections. Easy handles are pooled
 * per client under a mutex. TLS verification is always on (ca_file, or the
 * system store when NULL). Connect timeout 5 s; total timeout configurable.
 * Only info, credentials/list and credentials/info are retried on transport
 * failures; auth/login, authorize and signHash never are.
 *
 * Bearer tokens: the client holds an access token (locked memory) and,
 * optionally, a refresh token. A call that needs a bearer obtains an access
 * token first with auth/login {"refresh_token", "rememberMe": false} (the
 * refresh token is never rotated) and, when the server answers 401
 * invalid_token/expired_token, renews it once and repeats the call once.
 *
 * Secrets (passwords, PINs, OTPs, tokens, SADs) travel in locked or zeroed
 * buffers; bodies of auth/login, credentials/authorize and signHash are never
 * logged. Debug logging (category csc): method, HTTP status, latency.
 *
 * Pure parsing functions (csc_parse_*) take a response body and are exposed
 * so that unit tests can run them on canned JSON. All functions are
 * thread-safe for distinct or shared csc_client objects. */
#ifndef CISRES_CSC_CLIENT_H
#define CISRES_CSC_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>
/* p11-kit maps the field name hash_alg to hashAlg with a macro, which
 * would rename our hash_alg type: undo it. */
#undef hash_alg

#include "oid.h"

#define CSC_MAX_RESPONSE (16u * 1024u * 1024u) /* response body limit */
#define CSC_CONNECT_TIMEOUT 5		      /* seconds */
#define CSC_DEFAULT_TIMEOUT 20		      /* seconds, total per request */
#define CSC_MAX_CREDENTIALS 4096 /* refused beyond this */
#define CSC_MAX_CERTS 16		      /* per credential (chain) */
#define CSC_MAX_ALGOS 32		      /* key.algo entries */
#define CSC_MAX_AUTH_OBJECTS 8
#define CSC_MAX_TOKEN 4096 /* access/refresh token, SAD characters */
#define CSC_MAX_SIG 2048   /* decoded signature bytes */

/* ---- status / errors: one currency ---- */

typedef enum {
	CSC_OK = 0,
	CSC_ERR_ARG,	  /* bad argument from the caller */
	CSC_ERR_NOMEM,	  /* allocation failure */
	CSC_ERR_NETWORK,  /* could not reach the service (DNS, connect, TLS, timeout) */
	CSC_ERR_HTTP,	  /* the service answered an error status (see http/error) */
	CSC_ERR_PROTOCOL, /* malformed/oversized/unexpected response */
	CSC_ERR_NOAUTH,	  /* no access token and no refresh token to get one */
	CSC_ERR_PENDING,  /* 202: asynchronous authorization not supported */
} csc_rc;

typedef struct {
	csc_rc rc;
	long http;	       /* HTTP status, 0 when none */
	int curl;	       /* CURLcode on CSC_ERR_NETWORK, else 0 */
	char error[64];	       /* CSC "error" (empty when none) */
	char description[256]; /* CSC "error_description" or a local reason */
} csc_status;

void csc_status_clear(csc_status *st);
/* A short human-readable text for logs and the CLI ("invalid_pin: ...",
 * "network: Couldn't connect to server", ...). Writes into buf, returns buf. */
const char *csc_status_str(const csc_status *st, char *buf, size_t len);
/* THE mapping from a CSC / HTTP / transport failure to a PKCS#11 return
 * value (CKR_OK for CSC_OK). The module uses no other. */
CK_RV csc_status_to_ckr(const csc_status *st);
/* Whether the failure was reaching the service (vs. an answer from it). */
bool csc_status_is_network(const csc_status *st);

/* ---- global state ---- */

/* curl_global_init once (guarded) and the shared connection cache. Called
 * implicitly by csc_client_new. Never cleaned up (no curl_global_cleanup). */
int csc_global_init(void);
/* In a child after fork(): forget the shared connection cache and every
 * pooled handle inherited from the parent, without touching them (leaked on
 * purpose: the parent still owns the connections). */
void csc_global_forget_after_fork(void);

/* ---- the client ---- */

typedef struct csc_client csc_client;

/* base_url: "https://host:port" or "https://host/prefix" (the client appends
 * "/csc/v2/<method>"); a trailing "/" is ignored. ca_file: PEM bundle or
 * NULL (system store). timeout_s: total per request (<= 0: default).
 * Returns NULL on a bad URL (not http(s)) or allocation failure. Plain
 * http:// is accepted only for loopback hosts (tests). */
csc_client *csc_client_new(const char *base_url, const char *ca_file, long timeout_s);
void csc_client_free(csc_client *c);
/* After fork() in the child: drop pooled handles and the mutex state without
 * freeing shared curl objects; the client stays usable. */
void csc_client_forget_after_fork(csc_client *c);

/* Set (copy into locked memory) or clear (NULL) the refresh token used to
 * obtain access tokens silently. */
int csc_client_set_refresh_token(csc_client *c, const char *tok, size_t len);
/* Set an access token directly (e.g. from auth/login with a password);
 * expires_in seconds (<= 0: 3600). NULL clears it. */
int csc_client_set_access_token(csc_client *c, const char *tok, size_t len, long expires_in);
/* Drop the cached access token (the next call obtains a new one). */
void csc_client_drop_access_token(csc_client *c);
bool csc_client_has_refresh_token(const csc_client *c);
/* While *flag is non-zero, requests of this client stop within about a
 * second (CSC_ERR_NETWORK "aborted"): lets a shutdown interrupt a slow
 * request. NULL removes the flag. */
void csc_client_set_abort(csc_client *c, const atomic_int *flag);

/* ---- result types (free with the matching *_free) ---- */

typedef struct {
	char specs[32];
	char name[128];
	char region[8];
	char lang[32];
	char description[256];
	char **auth_types; /* "basic", "oauth2code", ... */
	size_t n_auth_types;
	char **methods; /* "credentials/list", ... */
	size_t n_methods;
} csc_info_result;
void csc_info_result_free(csc_info_result *r);

typedef struct {
	char *access_token; /* locked memory, NUL-terminated */
	size_t access_len;
	char *refresh_token; /* locked memory, NULL when not returned */
	size_t refresh_len;
	long expires_in; /* seconds (3600 when absent) */
} csc_tokens;
void csc_tokens_free(csc_tokens *t); /* zeroes */

typedef enum {
	CSC_AUTH_OBJ_OTHER = 0,
	CSC_AUTH_OBJ_PIN, /* Password, not generated */
	CSC_AUTH_OBJ_OTP, /* Password with a generator (totp/hotp), or OOB */
} csc_auth_obj_kind;

typedef struct {
	char type[32]; /* Password, PasswordOOB, ChallengeResponse, ... */
	char id[64];
	char format; /* 'A', 'N' or 0 */
	char generator[32];
	char label[64];
	csc_auth_obj_kind kind; /* derived: PIN / OTP */
	bool in_expression;	/* its id appears in auth.expression (or no expression) */
} csc_auth_object;

typedef struct {
	char *id; /* credentialID (list only; NULL for credentials/info) */
	char description[256];
	char signature_qualifier[32];
	bool key_enabled; /* key.status == "enabled" */
	char **algos;	  /* key.algo OIDs */
	size_t n_algos;
	unsigned key_len;     /* key.len, bits */
	char curve[64];	      /* key.curve OID ("" when absent) */
	char cert_status[16]; /* "valid", "expired", ... ("" when absent) */
	uint8_t **certs;      /* DER, end-entity first */
	size_t *cert_lens;
	size_t n_certs;
	char issuer_dn[512];
	char subject_dn[512];
	char serial[128];
	char valid_from[20]; /* GeneralizedTime YYYYMMDDHHMMSSZ */
	char valid_to[20];
	char auth_mode[16]; /* explicit | oauth2code */
	char auth_expression[256];
	csc_auth_object objects[CSC_MAX_AUTH_OBJECTS];
	size_t n_objects;
	int scal;      /* 1 or 2 (1 when absent) */
	int multisign; /* >= 1 */
	char lang[32];
} csc_credential;
void csc_credential_free(csc_credential *cr); /* frees members, not cr */

typedef struct {
	csc_credential *creds;
	size_t n_creds;
} csc_credential_list;
void csc_credential_list_free(csc_credential_list *l); /* frees members */

/* Derived facts, from the CSC answer only. */
/* Key kind from key.algo OIDs / key.curve: KEY_RSA, KEY_EC or KEY_NONE. */
key_kind csc_credential_key_kind(const csc_credential *cr);
/* Whether the auth expression needs a PIN / an OTP object. */
bool csc_credential_needs_pin(const csc_credential *cr);
bool csc_credential_needs_otp(const csc_credential *cr);
/* The first PIN / OTP auth object that takes part in the expression, or NULL. */
const csc_auth_object *csc_credential_pin_object(const csc_credential *cr);
const csc_auth_object *csc_credential_otp_object(const csc_credential *cr);

typedef struct {
	char *sad; /* locked memory, NUL-terminated */
	size_t sad_len;
	long expires_in; /* seconds (3600 when absent) */
} csc_sad;
void csc_sad_free(csc_sad *s); /* zeroes */

typedef struct {
	uint8_t **sigs; /* decoded signatures, same order as the hashes */
	size_t *sig_lens;
	size_t n_sigs;
} csc_signatures;
void csc_signatures_free(csc_signatures *s);

/* ---- pure parsers (exposed for unit tests) ----
 * Each takes a response body of len bytes; returns CSC_OK or
 * CSC_ERR_PROTOCOL (description says why) / CSC_ERR_NOMEM. On failure the
 * output holds nothing to free. */

/* Fill st from an error answer: http status + {"error","error_description"}.
 * A body that is not such an object still yields CSC_ERR_HTTP with the
 * status (error empty). */
void csc_parse_error(long http, const char *body, size_t len, csc_status *st);
csc_rc csc_parse_info(const char *body, size_t len, csc_info_result *out, csc_status *st);
csc_rc csc_parse_tokens(const char *body, size_t len, csc_tokens *out, csc_status *st);
csc_rc csc_parse_credentials_list(const char *body, size_t len, csc_credential_list *out,
				  csc_status *st);
/* credentials/info answer (no credentialID); id (may be NULL) is copied in. */
csc_rc csc_parse_credential_info(const char *body, size_t len, const char *id, csc_credential *out,
				 csc_status *st);
csc_rc csc_parse_authorize(const char *body, size_t len, csc_sad *out, csc_status *st);
/* expected: number of hashes sent; the answer must have that many. */
csc_rc csc_parse_signatures(const char *body, size_t len, size_t expected, csc_signatures *out,
			    csc_status *st);

/* ---- the methods ---- */

csc_rc csc_info(csc_client *c, csc_info_result *out, csc_status *st);

/* auth/login with HTTP Basic. password is the account password, with the
 * TOTP code appended when the account requires an OTP at login (the caller
 * concatenates). remember_me: ask for a refresh token. On success the access
 * token is also kept by the client. */
csc_rc csc_auth_login_password(csc_client *c, const char *user, const char *password,
			       size_t password_len, bool remember_me, csc_tokens *out,
			       csc_status *st);
/* auth/login {"refresh_token": tok, "rememberMe": false}. out may be NULL.
 * On success the access token is kept by the client. */
csc_rc csc_auth_login_refresh(csc_client *c, const char *tok, size_t tok_len, csc_tokens *out,
			      csc_status *st);
/* auth/revoke {token, token_type_hint} ("access_token" | "refresh_token" |
 * NULL). Needs a bearer (obtained from the refresh token if necessary). */
csc_rc csc_auth_revoke(csc_client *c, const char *tok, size_t tok_len, const char *hint,
		       csc_status *st);

/* credentials/list {credentialInfo: true, certificates: "chain",
 * certInfo: true, authInfo: true}. */
csc_rc csc_credentials_list(csc_client *c, csc_credential_list *out, csc_status *st);
/* credentials/info {credentialID, certificates: "chain", certInfo, authInfo}. */
csc_rc csc_credentials_info(csc_client *c, const char *cred_id, csc_credential *out,
			    csc_status *st);

typedef struct {
	const char *id; /* auth object id */
	const char *value;
	size_t value_len;
} csc_auth_data;

typedef struct {
	const char *cred_id;
	int num_signatures;
	const uint8_t *const *hashes; /* raw digests (SCAL2), or NULL */
	const size_t *hash_lens;
	size_t n_hashes;
	hash_alg hash; /* hashAlgorithmOID when hashes are given */
	const csc_auth_data *auth;
	size_t n_auth;
	const char *description; /* optional */
} csc_authorize_req;

/* credentials/authorize. A 202 answer gives CSC_ERR_PENDING. */
csc_rc csc_credentials_authorize(csc_client *c, const csc_authorize_req *req, csc_sad *out,
				 csc_status *st);

typedef struct {
	const char *cred_id;
	const char *sad; /* may be NULL (credential-scope token) */
	size_t sad_len;
	const uint8_t *const *hashes;
	const size_t *hash_lens;
	size_t n_hashes;
	hash_alg hash;	       /* hashAlgorithmOID (always sent) */
	const char *sign_algo; /* OID */
	const uint8_t *params; /* DER signAlgoParams, or NULL */
	size_t params_len;
} csc_sign_req;

csc_rc csc_signatures_sign_hash(csc_client *c, const csc_sign_req *req, csc_signatures *out,
				csc_status *st);

#endif
