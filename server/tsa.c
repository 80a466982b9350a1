/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 3161 time-stamping with OpenSSL's TS_RESP_CTX; the TSA key signs in
 * the HSM (ca_tsa_key). One TS_RESP_CTX per request: no shared state. */
#include "tsa.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

#include "log.h"
#include "secmem.h"

#define TSA_REQ_MAX (16 * 1024) /* a TimeStampReq is a few hundred bytes */
#define TSA_NONCE_HEX_MAX 64
#define TSA_SERIAL_LEN 16

struct tsa {
	ca *c;
	ASN1_OBJECT *policy;
	STACK_OF(X509) * chain; /* issuing, root */
};

static void log_ossl(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_err("tsa: %s: %s", what, buf);
	} else {
		log_err("tsa: %s failed", what);
	}
	ERR_clear_error();
}

/* 128-bit random serial numbers. */
static ASN1_INTEGER *serial_cb(TS_RESP_CTX *ctx, void *data)
{
	uint8_t b[TSA_SERIAL_LEN];
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial = NULL;

	if (sec_random(b, sizeof(b)) == 0) {
		b[0] &= 0x7f;
		b[0] |= 0x40;
		bn = BN_bin2bn(b, sizeof(b), NULL);
		if (bn != NULL)
			serial = BN_to_ASN1_INTEGER(bn, NULL);
	}
	BN_free(bn);
	if (serial == NULL) {
		TS_RESP_CTX_set_status_info(ctx, TS_STATUS_REJECTION,
					    "Error during serial number generation.");
		TS_RESP_CTX_add_failure_info(ctx, TS_INFO_ADD_INFO_NOT_AVAILABLE);
	}
	return serial;
}

static TS_RESP_CTX *make_ctx(const tsa *t)
{
	TS_RESP_CTX *ctx = TS_RESP_CTX_new();

	if (ctx == NULL)
		return NULL;
	if (!TS_RESP_CTX_set_signer_cert(ctx, ca_tsa_cert(t->c)) ||
	    !TS_RESP_CTX_set_signer_key(ctx, ca_tsa_key(t->c)) ||
	    !TS_RESP_CTX_set_signer_digest(ctx, EVP_sha256()) ||
	    !TS_RESP_CTX_set_certs(ctx, t->chain) || !TS_RESP_CTX_set_def_policy(ctx, t->policy) ||
	    !TS_RESP_CTX_add_md(ctx, EVP_sha256()) || !TS_RESP_CTX_add_md(ctx, EVP_sha384()) ||
	    !TS_RESP_CTX_add_md(ctx, EVP_sha512()) || !TS_RESP_CTX_set_accuracy(ctx, 1, 0, 0) ||
	    !TS_RESP_CTX_set_clock_precision_digits(ctx, 0) ||
	    !TS_RESP_CTX_set_ess_cert_id_digest(ctx, EVP_sha256())) {
		log_ossl("TS_RESP_CTX");
		TS_RESP_CTX_free(ctx);
		return NULL;
	}
	TS_RESP_CTX_set_serial_cb(ctx, serial_cb, NULL);
	TS_RESP_CTX_add_flags(ctx, TS_TSA_NAME);
	return ctx;
}

int tsa_new(ca *c, const char *policy_oid, tsa **out)
{
	TS_RESP_CTX *probe;
	tsa *t;

	*out = NULL;
	if (c == NULL || policy_oid == NULL || ca_tsa_cert(c) == NULL || ca_tsa_key(c) == NULL)
		return -1;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -1;
	t->c = c;
	t->policy = OBJ_txt2obj(policy_oid, 1);
	if (t->policy == NULL) {
		log_err("tsa: bad policy OID \"%s\"", policy_oid);
		goto fail;
	}
	t->chain = sk_X509_new_null();
	if (t->chain == NULL || !sk_X509_push(t->chain, ca_issuing_cert(c)) ||
	    !sk_X509_push(t->chain, ca_root_cert(c)))
		goto fail;
	/* Check once that OpenSSL accepts the certificate (EKU timeStamping,
	 * critical) and the configuration. */
	probe = make_ctx(t);
	if (probe == NULL)
		goto fail;
	TS_RESP_CTX_free(probe);
	*out = t;
	return 0;
fail:
	tsa_free(t);
	return -1;
}

void tsa_free(tsa *t)
{
	if (t == NULL)
		return;
	ASN1_OBJECT_free(t->policy);
	sk_X509_free(t->chain); /* borrowed certificates */
	free(t);
}

static int respond_der(const tsa *t, const uint8_t *req, size_t reqlen, TS_RESP **out)
{
	TS_RESP_CTX *ctx;
	TS_RESP *resp = NULL;
	BIO *in;

	*out = NULL;
	/* An over-long request is answered like a malformed one (badDataFormat). */
	if (req == NULL || reqlen > TSA_REQ_MAX)
		reqlen = 0;
	in = reqlen > 0 ? BIO_new_mem_buf(req, (int)reqlen) : BIO_new(BIO_s_mem());
	ctx = make_ctx(t);
	if (in != NULL && ctx != NULL)
		resp = TS_RESP_create_response(ctx, in);
	if (resp == NULL)
		log_ossl("TS_RESP_create_response");
	ERR_clear_error(); /* a rejected request leaves errors behind */
	TS_RESP_CTX_free(ctx);
	BIO_free(in);
	*out = resp;
	return resp != NULL ? 0 : -1;
}

static int der_out(int len, unsigned char *buf, uint8_t **out, size_t *outlen)
{
	if (len <= 0 || buf == NULL) {
		OPENSSL_free(buf);
		return -1;
	}
	*out = malloc((size_t)len);
	if (*out == NULL) {
		OPENSSL_free(buf);
		return -1;
	}
	memcpy(*out, buf, (size_t)len);
	*outlen = (size_t)len;
	OPENSSL_free(buf);
	return 0;
}

int tsa_respond(tsa *t, const uint8_t *req, size_t reqlen, uint8_t **resp, size_t *resplen)
{
	TS_RESP *r = NULL;
	unsigned char *buf = NULL;
	int len, ret;

	*resp = NULL;
	*resplen = 0;
	if (t == NULL || respond_der(t, req, reqlen, &r) != 0)
		return -1;
	len = i2d_TS_RESP(r, &buf);
	ret = der_out(len, buf, resp, resplen);
	TS_RESP_free(r);
	return ret;
}

static bool hex_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
		      (ch >= 'A' && ch <= 'F')))
			return false;
	}
	return true;
}

/* A DER TimeStampReq for the digest (certReq TRUE). */
static int build_req(hash_alg alg, const uint8_t *digest, size_t dlen, const char *nonce_hex,
		     unsigned char **der, int *derlen)
{
	TS_REQ *req = TS_REQ_new();
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *algor = X509_ALGOR_new();
	ASN1_INTEGER *nonce = NULL;
	BIGNUM *bn = NULL;
	int nid, ret = -1;

	*der = NULL;
	switch (alg) {
	case HASH_SHA256:
		nid = NID_sha256;
		break;
	case HASH_SHA384:
		nid = NID_sha384;
		break;
	default:
		nid = NID_sha512;
		break;
	}
	if (req == NULL || mi == NULL || algor == NULL)
		goto out;
	if (!X509_ALGOR_set0(algor, OBJ_nid2obj(nid), V_ASN1_NULL, NULL) ||
	    !TS_MSG_IMPRINT_set_algo(mi, algor) ||
	    !TS_MSG_IMPRINT_set_msg(mi, (unsigned char *)digest, (int)dlen) ||
	    !TS_REQ_set_version(req, 1) || !TS_REQ_set_msg_imprint(req, mi) ||
	    !TS_REQ_set_cert_req(req, 1))
		goto out;
	if (nonce_hex != NULL) {
		if (BN_hex2bn(&bn, nonce_hex) <= 0 ||
		    (nonce = BN_to_ASN1_INTEGER(bn, NULL)) == NULL || !TS_REQ_set_nonce(req, nonce))
			goto out;
	}
	*derlen = i2d_TS_REQ(req, der);
	if (*derlen > 0)
		ret = 0;
out:
	BN_free(bn);
	ASN1_INTEGER_free(nonce);
	X509_ALGOR_free(algor);
	TS_MSG_IMPRINT_free(mi);
	TS_REQ_free(req);
	return ret;
}

int tsa_stamp(tsa *t, hash_alg alg, const uint8_t *digest, size_t dlen, const char *nonce_hex,
	      uint8_t **token, size_t *toklen)
{
	unsigned char *req = NULL, *buf = NULL;
	int reqlen = 0, len, ret = -1;
	TS_RESP *r = NULL;
	PKCS7 *tok;
	size_t want;

	*token = NULL;
	*toklen = 0;
	if (t == NULL)
		return -1;
	switch (alg) {
	case HASH_SHA256:
		want = 32;
		break;
	case HASH_SHA384:
		want = 48;
		break;
	case HASH_SHA512:
		want = 64;
		break;
	default:
		return -2;
	}
	if (digest == NULL || dlen != want)
		return -2;
	if (nonce_hex != NULL) {
		size_t n = strnlen(nonce_hex, TSA_NONCE_HEX_MAX + 1);

		if (n == 0 || n > TSA_NONCE_HEX_MAX || !hex_ok(nonce_hex, n))
			return -2;
	}
	if (build_req(alg, digest, dlen, nonce_hex, &req, &reqlen) != 0) {
		log_ossl("TS_REQ");
		goto out;
	}
	if (respond_der(t, req, (size_t)reqlen, &r) != 0)
		goto out;
	if (ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(r))) !=
		TS_STATUS_GRANTED ||
	    (tok = TS_RESP_get_token(r)) == NULL) {
		log_err("tsa: time-stamp not granted");
		goto out;
	}
	len = i2d_PKCS7(tok, &buf);
	ret = der_out(len, buf, token, toklen);
out:
	OPENSSL_free(req);
	TS_RESP_free(r);
	return ret;
}
