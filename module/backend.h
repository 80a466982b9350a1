/* SPDX-License-Identifier: Apache-2.0 */
/* The module's view of its accounts: configuration, the persisted and
 * background-refreshed cache of credentials and certificates, and the
 * signing flow over CSC (credentials/authorize + signatures/signHash).
 *
 * The PKCS#11 layer (slots, tokens, objects) reads only snapshots, which are
 * in memory and never wait on the network. Only backend_login_check and
 * backend_sign talk to the server. Error currency: CK_RV.
 *
 * Note from modp11 (PKCS#11 layer) to modnet: added backend_snapshot.otp_auto
 * (additive). Please set it when the account has an otp_command or a prompt
 * program, i.e. when backend_sign can obtain an OTP with otp == NULL. The
 * private key then carries no CKA_ALWAYS_AUTHENTICATE, so applications that
 * answer a context-specific login with the user PIN (pkcs11-tool,
 * pkcs11-provider, libp11) do not send the PIN where an OTP belongs. */
#ifndef CISRES_BACKEND_H
#define CISRES_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>
/* p11-kit's header maps the standard field name hashAlg through a macro
 * named hash_alg, which would rename our hash_alg type; undo it (the PSS
 * params field keeps its standard name, hashAlg). */
#undef hash_alg

#include "oid.h"

typedef struct backend backend;

#define BACKEND_ID_MAX 128   /* credentialID characters + NUL */
#define BACKEND_LABEL_MAX 33 /* token label, NUL included */

typedef struct {
	char id[BACKEND_ID_MAX]; /* CSC credentialID */
	uint8_t *cert;           /* end-entity certificate, DER */
	size_t cert_len;
	uint8_t **chain; /* issuer certificates, DER, nearest first */
	size_t *chain_len;
	size_t n_chain;
	key_kind kind;
	unsigned key_bits;  /* RSA modulus bits or EC field bits */
	int curve_nid;      /* EC */
	char **algos;       /* key.algo OIDs offered by the service */
	size_t n_algos;
	bool enabled;       /* key.status == enabled and cert valid */
	int scal;           /* 1 or 2 */
	int multisign;
	bool needs_otp;     /* auth expression contains an OTP object */
	bool needs_pin;     /* auth expression contains a PIN object */
	unsigned pin_min, pin_max; /* from auth objects, or 4..64 */
	char description[256];
} backend_cred;

typedef struct {
	char label[BACKEND_LABEL_MAX]; /* token label */
	char serial[17];               /* stable token serial (hex) */
	char user[128];
	char url[512];
	bool module_prompt;  /* module-side prompting: no C_Login needed */
	bool otp_auto;       /* otp_command or a prompt program supplies OTPs */
	bool online;         /* last contact with the service succeeded */
	uint64_t generation; /* bumps whenever the credential set changes */
	backend_cred *creds;
	size_t n_creds;
} backend_snapshot;

/* Read the configuration ($CISRES_PKCS11_CONF, else
 * $XDG_CONFIG_HOME/cisres/pkcs11.conf (~/.config when unset), else
 * /etc/cisres/pkcs11.conf), load the persisted caches, and start the
 * background refresh thread. Missing configuration = zero accounts (not an
 * error). Returns CKR_OK or CKR_GENERAL_ERROR (bad configuration). */
CK_RV backend_new(backend **out);
/* Stop the refresh thread and free everything (secrets zeroed). */
void backend_free(backend *b);
/* After fork() in the child: forget threads and connections inherited from
 * the parent without touching them (the child must C_Initialize again). */
void backend_forget_after_fork(backend *b);

size_t backend_account_count(const backend *b);
/* A consistent, immutable snapshot of one account; never blocks on the
 * network. Release with backend_snapshot_release. NULL if no such account. */
const backend_snapshot *backend_snapshot_get(backend *b, size_t account);
void backend_snapshot_release(backend *b, const backend_snapshot *s);
/* Ask the refresh thread to refresh soon (non-blocking). */
void backend_refresh_async(backend *b, size_t account);

/* Check a user PIN at C_Login as far as the service allows without
 * spending an OTP: CKR_OK, CKR_PIN_INCORRECT, CKR_PIN_LOCKED,
 * CKR_PIN_LEN_RANGE, CKR_DEVICE_ERROR (server unreachable: the PIN is then
 * checked at the first signature). */
CK_RV backend_login_check(backend *b, size_t account, const char *pin, size_t pin_len);

/* One signature over a digest, through credentials/authorize (with the
 * hash for SCAL2; reusing a multi-use SAD for SCAL1) and
 * signatures/signHash. pin may be NULL in module-prompt mode (then the
 * backend prompts); otp may be NULL (then otp_command or the prompt
 * program supplies it when the credential needs one).
 * sign_algo: the CSC signAlgo OID; hash: the digest algorithm;
 * params/params_len: DER signAlgoParams (PSS) or NULL.
 * The result is the signature as CSC returns it (DER for ECDSA).
 * Returns CKR_OK, CKR_PIN_INCORRECT, CKR_PIN_LOCKED, CKR_FUNCTION_CANCELED
 * (user cancelled the prompt), CKR_KEY_FUNCTION_NOT_PERMITTED (key
 * disabled), CKR_DEVICE_ERROR / CKR_DEVICE_REMOVED (service unreachable),
 * CKR_BUFFER_TOO_SMALL, CKR_GENERAL_ERROR. */
CK_RV backend_sign(backend *b, size_t account, const char *cred_id, const char *pin,
		   size_t pin_len, const char *otp, size_t otp_len, const char *sign_algo,
		   hash_alg hash, const uint8_t *params, size_t params_len, const uint8_t *digest,
		   size_t digest_len, uint8_t *sig, size_t sig_cap, size_t *sig_len);

/* Forget any cached SAD / authorization of the account (C_Logout). */
void backend_logout(backend *b, size_t account);

#endif
