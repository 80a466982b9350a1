/* SPDX-License-Identifier: Apache-2.0 */
/* The built-in certification authority: a root and an issuing CA whose keys
 * live in the HSM; issues signer, TSA and TLS server certificates. */
#ifndef CISRES_CA_H
#define CISRES_CA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "hsm.h"

typedef struct ca ca;

/* HSM key ids (CKA_ID) used by the CA and TSA. */
#define CA_ROOT_KEY_ID "cisres-ca-root"
#define CA_ISSUING_KEY_ID "cisres-ca-issuing"
#define CA_TSA_KEY_ID "cisres-tsa"

/* Files under DIR (the CA directory, usually STATE/ca):
 *   root.pem, issuing.pem, chain.pem (issuing + root), tsa.pem
 * ca_bootstrap creates whatever is missing: root (EC P-384, 20 y),
 * issuing (EC P-384, 10 y), TSA (EC P-256, 5 y, EKU timeStamping critical).
 * org: the O= of the subjects. */
int ca_bootstrap(hsm *h, const char *dir, const char *org);
/* Load the certificates from DIR and bind them to their HSM keys. With
 * h == NULL (the HTTP process) only the certificates are loaded and
 * checked; issuing then fails. */
int ca_open(hsm *h, const char *dir, ca **out);
void ca_free(ca *c);

/* Issue an end-entity signing certificate for pub: subject CN=cn (and
 * O=org, emailAddress when email is non-NULL), keyUsage digitalSignature +
 * nonRepudiation (critical), EKU clientAuth, emailProtection, codeSigning
 * (non-critical), SKI/AKI, basicConstraints CA:FALSE; validity days.
 * *der malloc'd. */
int ca_issue_signer(ca *c, EVP_PKEY *pub, const char *cn, const char *email, int days,
		    uint8_t **der, size_t *derlen);
/* Issue a TLS server certificate (SAN = the host names/IPs, comma
 * separated, EKU serverAuth) for a key generated in software; writes
 * cert_path (PEM, leaf + chain) and key_path (PEM, 0600). */
int ca_issue_tls_server(ca *c, const char *sans, const char *cert_path, const char *key_path);

X509 *ca_root_cert(const ca *c);    /* borrowed */
X509 *ca_issuing_cert(const ca *c); /* borrowed */
X509 *ca_tsa_cert(const ca *c);     /* borrowed */
/* The TSA key, signing in the HSM (borrowed). */
EVP_PKEY *ca_tsa_key(const ca *c);
/* Path of chain.pem (issuing + root), the file clients trust. */
const char *ca_chain_path(const ca *c);
const char *ca_root_path(const ca *c);

#endif
