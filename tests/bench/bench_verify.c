// SPDX-License-Identifier: Apache-2.0
#include "bench_verify.h"

#include <stdio.h>
#include <stdlib.h>

#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "ecdsa_sig.h"

EVP_PKEY *bench_verify_load(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;
	EVP_PKEY *k = NULL;

	if (f == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	if (x != NULL) {
		k = X509_get_pubkey(x);
		X509_free(x);
	} else {
		rewind(f);
		k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	}
	fclose(f);
	return k;
}

bool bench_verify_sha256(EVP_PKEY_CTX *ctx, bool rsa, const uint8_t digest[32], const uint8_t *sig,
			 size_t slen)
{
	uint8_t *der = NULL;
	size_t dlen = 0;
	bool ok;

	if (ctx == NULL || sig == NULL || slen == 0 || EVP_PKEY_verify_init(ctx) != 1)
		return false;
	if (rsa)
		return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
		       EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
		       EVP_PKEY_verify(ctx, sig, slen, digest, 32) == 1;
	if (sig[0] == 0x30 && EVP_PKEY_verify(ctx, sig, slen, digest, 32) == 1)
		return true; /* DER, as CSC returns it */
	if (ecdsa_raw_to_der(sig, slen, &der, &dlen) != 0)
		return false;
	ok = EVP_PKEY_verify_init(ctx) == 1 && EVP_PKEY_verify(ctx, der, dlen, digest, 32) == 1;
	free(der);
	return ok;
}
