/* SPDX-License-Identifier: Apache-2.0 */
/* signatures/signHash and signatures/timestamp. */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "json.h"
#include "log.h"
#include "pss.h"
#include "secmem.h"
#include "tsa.h"

#define API_PARAMS_B64_MAX 512
#define API_NONCE_MAX 64 /* hex characters: up to 256 bits */

typedef struct {
	const sigalg_info *alg;
	hash_alg hash;
	pss_params pss;
} api_sign_algo;

static bool api_sha2(hash_alg h)
{
	return h == HASH_SHA256 || h == HASH_SHA384 || h == HASH_SHA512;
}

/* signAlgo, hashAlgorithmOID and signAlgoParams -> the algorithm and the
 * digest algorithm of the hashes. */
static int api_sign_algo_parse(const cJSON *body, api_response *res, const policy *pol,
			       api_sign_algo *a)
{
	const char *oid = NULL, *params = NULL;
	hash_alg given = HASH_NONE;

	memset(a, 0, sizeof(*a));
	if (api_param_string(body, res, "signAlgo", true, 64, &oid) != 0)
		return -1;
	a->alg = sigalg_by_oid(oid);
	if (a->alg == NULL)
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid parameter signAlgo");
	if (api_param_hash_alg(body, res, "hashAlgorithmOID", false, pol, &given) != 0)
		return -1;
	if (a->alg->pss) {
		uint8_t der[API_PARAMS_B64_MAX];
		size_t dlen = 0;

		if (api_param_string(body, res, "signAlgoParams", true, API_PARAMS_B64_MAX,
				     &params) != 0)
			return -1;
		if (b64_decode_buf(params, strlen(params), der, sizeof(der), &dlen) != 0 ||
		    pss_params_decode(der, dlen, &a->pss) != 0 || !api_sha2(a->pss.hash) ||
		    !api_sha2(a->pss.mgf_hash) || a->pss.salt_len < 0)
			return api_fail(res, API_E_INVALID_REQUEST,
					"Invalid parameter signAlgoParams");
		if (given != HASH_NONE && given != a->pss.hash)
			return api_fail(res, API_E_INVALID_REQUEST,
					"Invalid parameter hashAlgorithmOID");
		a->hash = a->pss.hash;
		return 0;
	}
	if (a->alg->hash != HASH_NONE) {
		if (given != HASH_NONE && given != a->alg->hash)
			return api_fail(res, API_E_INVALID_REQUEST,
					"Invalid parameter hashAlgorithmOID");
		if (a->alg->hash == HASH_SHA1 && (pol == NULL || !pol->allow_sha1))
			return api_fail(res, API_E_INVALID_REQUEST, "Invalid parameter signAlgo");
		a->hash = a->alg->hash;
		return 0;
	}
	if (given == HASH_NONE)
		return api_fail(res, API_E_INVALID_REQUEST,
				"Missing (or invalid type) string parameter hashAlgorithmOID");
	a->hash = given;
	return 0;
}

static int api_sign_mode(const cJSON *body, api_response *res)
{
	const char *mode = NULL;

	if (api_param_string(body, res, "operationMode", false, 8, &mode) != 0)
		return -1;
	if (mode != NULL && strcmp(mode, "S") != 0)
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid parameter operationMode");
	return 0;
}

/* The credential's key type, checking that it is the user's. */
static int api_sign_key_kind(api_request *req, api_response *res, const char *id, key_kind *kind)
{
	store_credential c;
	int rc;

	memset(&c, 0, sizeof(c));
	rc = store_cred_get(req->svc->ctx->store, id, &c);
	if (rc == STORE_NOTFOUND || (rc == STORE_OK && c.user_id != req->user_id)) {
		store_credential_clear(&c);
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid parameter credentialID");
	}
	if (rc != STORE_OK)
		return api_fail(res, API_E_SERVER, NULL);
	*kind = (key_kind)c.key_kind;
	store_credential_clear(&c);
	return 0;
}

static int api_sign_result(api_service *svc, api_response *res, const sam_sign_res *out)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *arr;

	res->json = o;
	if (o == NULL || (arr = cJSON_AddArrayToObject(o, "signatures")) == NULL)
		return api_fail(res, API_E_SERVER, NULL);
	for (size_t i = 0; i < out->n; i++) {
		char *b = b64_encode(out->sigs[i], out->lens[i]);
		cJSON *s = b != NULL ? cJSON_CreateString(b) : NULL;

		free(b);
		if (s == NULL || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			return api_fail(res, API_E_SERVER, NULL);
		}
	}
	atomic_fetch_add(&svc->stats.signatures, out->n);
	res->status = 200;
	return 0;
}

int api_signatures_sign_hash(api_request *req, api_response *res)
{
	api_service *svc = req->svc;
	sam_sign_req sr;
	sam_sign_res out;
	api_sign_algo a;
	sam_hash *hashes = NULL;
	size_t n_hashes = 0;
	const char *sad = NULL;
	key_kind kind = KEY_NONE;
	sam_status st;
	int ret;

	memset(&sr, 0, sizeof(sr));
	if (api_param_credential_id(req->body, res, sr.credential_id) != 0 ||
	    api_param_string(req->body, res, "SAD", true, 4096, &sad) != 0 ||
	    api_sign_algo_parse(req->body, res, &req->svc->ctx->cfg.pol, &a) != 0 ||
	    api_param_hashes(req->body, res, "hashes", true, a.hash, &hashes, &n_hashes) != 0 ||
	    api_sign_mode(req->body, res) != 0 || api_param_common(req->body, res) != 0)
		goto fail;
	if (api_sign_key_kind(req, res, sr.credential_id, &kind) != 0)
		goto fail;
	if (!api_key_allows(kind, &req->svc->ctx->cfg.pol, a.alg)) {
		api_fail(res, API_E_INVALID_REQUEST, "Invalid parameter signAlgo");
		goto fail;
	}
	if (strlen(sad) == 0 || strlen(sad) >= SAM_SAD_MAX) {
		api_fail(res, API_E_INVALID_REQUEST, "Invalid SAD");
		goto fail;
	}
	sr.user_id = req->user_id;
	sr.sad = sad;
	sr.sad_len = strlen(sad);
	sr.algo = a.alg->id;
	sr.hash = a.hash;
	if (a.alg->pss) {
		sr.pss_mgf_hash = a.pss.mgf_hash;
		sr.pss_salt_len = a.pss.salt_len;
	}
	sr.hashes = hashes;
	sr.n_hashes = n_hashes;
	memset(&out, 0, sizeof(out));
	st = sam_sign(svc->ctx->sam, &sr, &out);
	free(hashes);
	hashes = NULL;
	if (st == SAM_OK && out.status == SAM_OK && out.n == n_hashes) {
		ret = api_sign_result(svc, res, &out);
		sam_sign_res_clear(&out);
		if (ret != 0)
			atomic_fetch_add(&svc->stats.sign_failures, 1);
		return ret;
	}
	sam_sign_res_clear(&out);
	atomic_fetch_add(&svc->stats.sign_failures, 1);
	if (st == SAM_OK)
		st = out.status != SAM_OK ? out.status : SAM_E_INTERNAL;
	return api_fail_sam(res, st);
fail:
	atomic_fetch_add(&svc->stats.sign_failures, 1);
	free(hashes);
	return -1;
}

static bool api_is_hex(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		      (*s >= 'A' && *s <= 'F')))
			return false;
	}
	return true;
}

int api_signatures_timestamp(api_request *req, api_response *res)
{
	api_service *svc = req->svc;
	const char *h = NULL, *nonce = NULL;
	hash_alg alg = HASH_NONE;
	const hash_info *hi;
	uint8_t digest[256];
	size_t dlen = 0, toklen = 0;
	uint8_t *tok = NULL;
	cJSON *o;
	int rc;

	if (api_param_string(req->body, res, "hash", true, 4096, &h) != 0 ||
	    api_param_hash_alg(req->body, res, "hashAlgo", true, NULL, &alg) != 0 ||
	    api_param_string(req->body, res, "nonce", false, API_NONCE_MAX, &nonce) != 0 ||
	    api_param_common(req->body, res) != 0)
		return -1;
	hi = hash_by_id(alg);
	if (strlen(h) > 4 * (sizeof(digest) / 3))
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid digest value length");
	if (h[0] == '\0' || b64_decode_buf(h, strlen(h), digest, sizeof(digest), &dlen) != 0)
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid Base64 hash string");
	if (hi == NULL || dlen != hi->len)
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid digest value length");
	if (nonce != NULL && (nonce[0] == '\0' || !api_is_hex(nonce)))
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid parameter nonce");
	/* The TSA key is in the HSM, behind the SAM (which serializes it). */
	rc = sam_tsa_stamp(svc->ctx->sam, alg, digest, dlen, nonce, &tok, &toklen);
	if (rc == -2)
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid parameter nonce");
	if (rc != 0 || tok == NULL)
		return api_fail(res, API_E_SERVER, NULL);
	o = cJSON_CreateObject();
	res->json = o;
	if (o == NULL || !json_add_b64(o, "timestamp", tok, toklen)) {
		free(tok);
		return api_fail(res, API_E_SERVER, NULL);
	}
	free(tok);
	atomic_fetch_add(&svc->stats.timestamps, 1);
	res->status = 200;
	return 0;
}

int api_tsa_respond(api_service *svc, const uint8_t *req, size_t len, uint8_t **resp,
		    size_t *resplen)
{
	int rc;

	rc = sam_tsa_respond(svc->ctx->sam, req, len, resp, resplen);
	if (rc == 0)
		atomic_fetch_add(&svc->stats.timestamps, 1);
	return rc == 0 ? 0 : -1;
}
