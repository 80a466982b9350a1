/* SPDX-License-Identifier: Apache-2.0 */
/* credentials/list, info, authorize, authorizeCheck, extendTransaction. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/x509.h>

#include "json.h"
#include "log.h"
#include "secmem.h"

/* ---- algorithms per key type ---- */

static const sig_alg api_rsa_algos[] = {SIG_RSA_RAW, SIG_RSA_SHA256, SIG_RSA_SHA384, SIG_RSA_SHA512,
					SIG_RSA_PSS};
static const sig_alg api_ec_algos[] = {SIG_ECDSA_SHA256, SIG_ECDSA_SHA384, SIG_ECDSA_SHA512};

size_t api_key_algos(key_kind kind, const policy *pol, const sigalg_info **out, size_t cap)
{
	const sig_alg *list = kind == KEY_RSA ? api_rsa_algos : api_ec_algos;
	size_t n = kind == KEY_RSA ? sizeof(api_rsa_algos) / sizeof(api_rsa_algos[0])
				   : sizeof(api_ec_algos) / sizeof(api_ec_algos[0]);
	size_t k = 0;

	if (kind != KEY_RSA && kind != KEY_EC)
		return 0;
	for (size_t i = 0; i < n && k < cap; i++) {
		const sigalg_info *a = sigalg_by_id(list[i]);
		if (a != NULL)
			out[k++] = a;
	}
	/* SHA-1 only where the policy allows it (legacy tools). */
	if (pol != NULL && pol->allow_sha1 && k < cap)
		out[k++] = sigalg_by_id(kind == KEY_RSA ? SIG_RSA_SHA1 : SIG_ECDSA_SHA1);
	return k;
}

bool api_key_allows(key_kind kind, const policy *pol, const sigalg_info *alg)
{
	const sigalg_info *algs[8];
	size_t n = api_key_algos(kind, pol, algs, 8);

	for (size_t i = 0; i < n; i++) {
		if (algs[i] == alg)
			return true;
	}
	return false;
}

/* ---- CredentialInfo ---- */

typedef struct {
	api_certs certs;
	bool cert_info;
	bool auth_info;
} api_cred_opts;

static bool api_add_dn(cJSON *o, const char *name, const X509_NAME *dn)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long len;
	bool ok = false;

	if (b == NULL)
		return false;
	if (X509_NAME_print_ex(b, dn, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		len = BIO_get_mem_data(b, &p);
		if (len >= 0 && len < 4096) {
			char *s = malloc((size_t)len + 1);
			if (s != NULL) {
				memcpy(s, p, (size_t)len);
				s[len] = '\0';
				ok = json_add_string(o, name, s);
				free(s);
			}
		}
	}
	BIO_free(b);
	return ok;
}

static bool api_add_time(cJSON *o, const char *name, const ASN1_TIME *t)
{
	struct tm tm;
	char buf[32];

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	if (strftime(buf, sizeof(buf), "%Y%m%d%H%M%SZ", &tm) == 0)
		return false;
	return json_add_string(o, name, buf);
}

static bool api_add_serial(cJSON *o, const X509 *x)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	bool ok = hex != NULL && json_add_string(o, "serialNumber", hex);

	OPENSSL_free(hex);
	BN_free(bn);
	return ok;
}

static bool api_add_cert_der(cJSON *arr, X509 *x)
{
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);
	bool ok = false;

	if (len > 0) {
		cJSON *tmp = cJSON_CreateObject();
		if (tmp != NULL && json_add_b64(tmp, "c", der, (size_t)len)) {
			cJSON *s = cJSON_DetachItemFromObject(tmp, "c");
			ok = cJSON_AddItemToArray(arr, s);
			if (!ok)
				cJSON_Delete(s);
		}
		cJSON_Delete(tmp);
	}
	OPENSSL_free(der);
	return ok;
}

/* Is the certificate valid at 'now' (not before / not after)? */
static bool api_cert_valid(const X509 *x, time_t now)
{
	return X509_cmp_time(X509_get0_notBefore(x), &now) < 0 &&
	       X509_cmp_time(X509_get0_notAfter(x), &now) > 0;
}

static bool api_cred_key(cJSON *o, const store_credential *c, const policy *pol)
{
	cJSON *key = cJSON_AddObjectToObject(o, "key");
	const sigalg_info *algs[8];
	size_t n = api_key_algos((key_kind)c->key_kind, pol, algs, 8);
	cJSON *arr;

	if (key == NULL || !json_add_string(key, "status", c->enabled ? "enabled" : "disabled"))
		return false;
	arr = cJSON_AddArrayToObject(key, "algo");
	if (arr == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		cJSON *s = cJSON_CreateString(algs[i]->oid);
		if (s == NULL || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			return false;
		}
	}
	if (!json_add_int(key, "len", c->key_bits))
		return false;
	if (c->key_kind == KEY_EC) {
		const curve_info *ci = curve_by_nid(c->curve_nid);
		if (ci == NULL || !json_add_string(key, "curve", ci->oid))
			return false;
	}
	return true;
}

static bool api_cred_cert(cJSON *o, api_service *svc, const store_credential *c, X509 *x,
			  const api_cred_opts *opt)
{
	cJSON *cert = cJSON_AddObjectToObject(o, "cert");
	time_t now = policy_now(&svc->ctx->cfg.pol);
	cJSON *arr;

	if (cert == NULL)
		return false;
	if (x == NULL)
		return json_add_string(cert, "status", "expired");
	if (!json_add_string(cert, "status", api_cert_valid(x, now) ? "valid" : "expired"))
		return false;
	if (opt->certs != API_CERTS_NONE) {
		arr = cJSON_AddArrayToObject(cert, "certificates");
		if (arr == NULL || !api_add_cert_der(arr, x))
			return false;
		if (opt->certs == API_CERTS_CHAIN) {
			X509 *iss = ca_issuing_cert(svc->ctx->ca);
			X509 *root = ca_root_cert(svc->ctx->ca);
			if ((iss != NULL && !api_add_cert_der(arr, iss)) ||
			    (root != NULL && !api_add_cert_der(arr, root)))
				return false;
		}
	}
	if (opt->cert_info) {
		if (!api_add_dn(cert, "issuerDN", X509_get_issuer_name(x)) ||
		    !api_add_serial(cert, x) ||
		    !api_add_dn(cert, "subjectDN", X509_get_subject_name(x)) ||
		    !api_add_time(cert, "validFrom", X509_get0_notBefore(x)) ||
		    !api_add_time(cert, "validTo", X509_get0_notAfter(x)))
			return false;
	}
	(void)c;
	return true;
}

static bool api_auth_object(cJSON *arr, const char *id, bool totp)
{
	cJSON *ob = cJSON_CreateObject();

	if (ob == NULL || !cJSON_AddItemToArray(arr, ob)) {
		cJSON_Delete(ob);
		return false;
	}
	return json_add_string(ob, "type", "Password") && json_add_string(ob, "id", id) &&
	       json_add_string(ob, "format", "N") &&
	       (!totp || json_add_string(ob, "generator", "totp")) &&
	       json_add_string(ob, "label", id) &&
	       json_add_string(ob, "description",
			       totp ? "One-time password from the authenticator app"
				    : "Signing PIN of the credential");
}

static bool api_cred_auth(cJSON *o, const store_credential *c)
{
	cJSON *auth = cJSON_AddObjectToObject(o, "auth");
	cJSON *arr;

	if (auth == NULL || !json_add_string(auth, "mode", "explicit") ||
	    !json_add_string(auth, "expression", c->auth_otp ? "PIN AND OTP" : "PIN"))
		return false;
	arr = cJSON_AddArrayToObject(auth, "objects");
	if (arr == NULL || !api_auth_object(arr, "PIN", false))
		return false;
	return !c->auth_otp || api_auth_object(arr, "OTP", true);
}

/* Fill o with the CredentialInfo of c. */
static bool api_cred_info(cJSON *o, api_service *svc, const store_credential *c,
			  const api_cred_opts *opt, bool with_id)
{
	const unsigned char *p = c->cert_der;
	X509 *x = c->cert_der != NULL ? d2i_X509(NULL, &p, (long)c->cert_len) : NULL;
	bool ok;
	char scal[2] = {c->scal == 2 ? '2' : '1', '\0'};

	ok = (!with_id || json_add_string(o, "credentialID", c->id)) &&
	     (c->description[0] == '\0' || json_add_string(o, "description", c->description)) &&
	     (c->scal != 2 || json_add_string(o, "signatureQualifier", "eu_eidas_qes")) &&
	     api_cred_key(o, c, &svc->ctx->cfg.pol) && api_cred_cert(o, svc, c, x, opt) &&
	     api_cred_auth(o, c) && json_add_string(o, "SCAL", scal) &&
	     json_add_int(o, "multisign", c->multisign) &&
	     json_add_string(o, "lang", svc->ctx->cfg.lang);
	X509_free(x);
	return ok;
}

static bool api_cred_usable(api_service *svc, const store_credential *c)
{
	const unsigned char *p = c->cert_der;
	X509 *x;
	bool ok;

	if (!c->enabled || c->cert_der == NULL)
		return false;
	x = d2i_X509(NULL, &p, (long)c->cert_len);
	ok = x != NULL && api_cert_valid(x, policy_now(&svc->ctx->cfg.pol));
	X509_free(x);
	return ok;
}

static int api_cred_opts_parse(const cJSON *body, api_response *res, api_cred_opts *opt)
{
	return api_param_certificates(body, res, &opt->certs) == 0 &&
		       api_param_bool(body, res, "certInfo", false, &opt->cert_info) == 0 &&
		       api_param_bool(body, res, "authInfo", false, &opt->auth_info) == 0
		   ? 0
		   : -1;
}

/* The user's credential, or "Invalid parameter credentialID" (also for
 * another user's credential: existence is not revealed). */
static int api_cred_load(api_request *req, api_response *res, const char *id, store_credential *c)
{
	int rc = store_cred_get(req->svc->ctx->store, id, c);

	if (rc == STORE_NOTFOUND)
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid parameter credentialID");
	if (rc != STORE_OK)
		return api_fail(res, API_E_SERVER, NULL);
	if (c->user_id != req->user_id) {
		store_credential_clear(c);
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid parameter credentialID");
	}
	return 0;
}

int api_credentials_list(api_request *req, api_response *res)
{
	api_service *svc = req->svc;
	api_cred_opts opt;
	bool want_info = false, only_valid = false;
	const char *user = NULL;
	store_credential *arr = NULL;
	size_t n = 0;
	cJSON *o, *ids, *infos = NULL;
	int rc;

	if (api_param_string(req->body, res, "userID", false, 256, &user) != 0 ||
	    api_param_bool(req->body, res, "credentialInfo", false, &want_info) != 0 ||
	    api_cred_opts_parse(req->body, res, &opt) != 0 ||
	    api_param_bool(req->body, res, "onlyValid", false, &only_valid) != 0 ||
	    api_param_common(req->body, res) != 0)
		return -1;
	if (user != NULL)
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid parameter userID");
	rc = store_cred_list(svc->ctx->store, req->user_id, &arr, &n);
	if (rc != STORE_OK)
		return api_fail(res, API_E_SERVER, NULL);
	o = cJSON_CreateObject();
	res->json = o;
	if (o == NULL || (ids = cJSON_AddArrayToObject(o, "credentialIDs")) == NULL ||
	    (want_info && (infos = cJSON_AddArrayToObject(o, "credentialInfos")) == NULL))
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (arr[i].user_id != req->user_id)
			continue; /* defence in depth */
		if (only_valid && !api_cred_usable(svc, &arr[i]))
			continue;
		cJSON *s = cJSON_CreateString(arr[i].id);
		if (s == NULL || !cJSON_AddItemToArray(ids, s)) {
			cJSON_Delete(s);
			goto fail;
		}
		if (infos != NULL) {
			cJSON *ci = cJSON_CreateObject();
			if (ci == NULL || !cJSON_AddItemToArray(infos, ci)) {
				cJSON_Delete(ci);
				goto fail;
			}
			if (!api_cred_info(ci, svc, &arr[i], &opt, true))
				goto fail;
		}
	}
	if (only_valid && !json_add_bool(o, "onlyValid", true))
		goto fail;
	store_cred_list_free(arr, n);
	res->status = 200;
	return 0;
fail:
	store_cred_list_free(arr, n);
	return api_fail(res, API_E_SERVER, NULL);
}

int api_credentials_info(api_request *req, api_response *res)
{
	char id[STORE_CRED_ID_MAX];
	api_cred_opts opt;
	store_credential c;
	cJSON *o;
	bool ok;

	if (api_param_credential_id(req->body, res, id) != 0 ||
	    api_cred_opts_parse(req->body, res, &opt) != 0 || api_param_common(req->body, res) != 0)
		return -1;
	memset(&c, 0, sizeof(c));
	if (api_cred_load(req, res, id, &c) != 0)
		return -1;
	o = cJSON_CreateObject();
	res->json = o;
	ok = o != NULL && api_cred_info(o, req->svc, &c, &opt, false);
	store_credential_clear(&c);
	if (!ok)
		return api_fail(res, API_E_SERVER, NULL);
	res->status = 200;
	return 0;
}

/* ---- authorize ---- */

typedef struct {
	const char *pin;
	size_t pin_len;
	const char *otp;
	size_t otp_len;
} api_factors;

/* authData [{id, value}] (v2), or top-level PIN / OTP strings (v1 shape). */
static int api_auth_data(const cJSON *body, api_response *res, api_factors *f)
{
	const cJSON *arr, *it;
	json_rc rc = json_get_array(body, "authData", &arr);
	memset(f, 0, sizeof(*f));
	if (rc == JSON_MISSING) {
		if (api_param_string(body, res, "PIN", false, SAM_SECRET_MAX - 1, &f->pin) != 0 ||
		    api_param_string(body, res, "OTP", false, SAM_SECRET_MAX - 1, &f->otp) != 0)
			return -1;
		f->pin_len = f->pin != NULL ? strlen(f->pin) : 0;
		f->otp_len = f->otp != NULL ? strlen(f->otp) : 0;
		return 0;
	}
	if (rc != JSON_OK)
		return api_fail(res, API_E_INVALID_REQUEST,
				"Missing (or invalid type) array parameter authData");
	if (cJSON_GetArraySize(arr) > 8)
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid parameter authData");
	cJSON_ArrayForEach(it, arr)
	{
		const char *id, *value;

		if (!cJSON_IsObject(it) || json_get_string(it, "id", &id) != JSON_OK)
			return api_fail(res, API_E_INVALID_REQUEST,
					"Missing (or invalid type) string parameter authData.id");
		rc = json_get_string(it, "value", &value);
		if (rc == JSON_BADTYPE)
			return api_fail(
			    res, API_E_INVALID_REQUEST,
			    "Missing (or invalid type) string parameter authData.value");
		if (rc == JSON_MISSING)
			value = NULL;
		if (value != NULL && strlen(value) >= SAM_SECRET_MAX)
			return api_fail(res, API_E_INVALID_REQUEST,
					"Invalid parameter authData.value");
		if (strcmp(id, "PIN") == 0 && f->pin == NULL) {
			f->pin = value;
		} else if (strcmp(id, "OTP") == 0 && f->otp == NULL) {
			f->otp = value;
		} else {
			return api_fail(res, API_E_INVALID_REQUEST,
					"Invalid parameter authData.id");
		}
	}
	f->pin_len = f->pin != NULL ? strlen(f->pin) : 0;
	f->otp_len = f->otp != NULL ? strlen(f->otp) : 0;
	return 0;
}

static int api_sad_result(api_response *res, sam_authorize_res *out)
{
	cJSON *o = cJSON_CreateObject();
	bool ok;

	res->json = o;
	ok = o != NULL && json_add_string(o, "SAD", out->sad) &&
	     json_add_int(o, "expiresIn", out->expires_in);
	sec_zero(out, sizeof(*out));
	if (!ok)
		return api_fail(res, API_E_SERVER, NULL);
	res->status = 200;
	return 0;
}

int api_credentials_authorize(api_request *req, api_response *res)
{
	api_service *svc = req->svc;
	sam_authorize_req ar;
	sam_authorize_res out;
	api_factors f;
	sam_hash *hashes = NULL;
	size_t n_hashes = 0;
	int64_t num = 0;
	hash_alg alg = HASH_NONE;
	const cJSON *harr = cJSON_GetObjectItemCaseSensitive(req->body, "hashes");
	sam_status st;

	memset(&ar, 0, sizeof(ar));
	if (api_param_credential_id(req->body, res, ar.credential_id) != 0 ||
	    api_param_int(req->body, res, "numSignatures", true, 1, 1000000, 0, &num) != 0 ||
	    api_param_hash_alg(req->body, res, "hashAlgorithmOID",
			       harr != NULL && !cJSON_IsNull(harr), &req->svc->ctx->cfg.pol,
			       &alg) != 0 ||
	    api_param_hashes(req->body, res, "hashes", false, alg, &hashes, &n_hashes) != 0 ||
	    api_param_common(req->body, res) != 0)
		goto fail;
	if (api_auth_data(req->body, res, &f) != 0)
		goto fail;
	if (n_hashes > 0 && n_hashes != (size_t)num) {
		api_fail(res, API_E_INVALID_REQUEST,
			 "Invalid parameter numSignatures (must equal the number of hashes)");
		goto fail;
	}
	ar.user_id = req->user_id;
	ar.num_signatures = (int)num;
	ar.hash = n_hashes > 0 ? alg : HASH_NONE;
	ar.hashes = hashes;
	ar.n_hashes = n_hashes;
	ar.pin = f.pin;
	ar.pin_len = f.pin_len;
	ar.otp = f.otp;
	ar.otp_len = f.otp_len;
	memset(&out, 0, sizeof(out));
	st = sam_authorize(svc->ctx->sam, &ar, &out);
	free(hashes);
	if (st != SAM_OK || out.status != SAM_OK) {
		atomic_fetch_add(&svc->stats.authorize_fail, 1);
		sec_zero(&out, sizeof(out));
		return api_fail_sam(res, st != SAM_OK ? st : out.status);
	}
	atomic_fetch_add(&svc->stats.authorize_ok, 1);
	return api_sad_result(res, &out);
fail:
	atomic_fetch_add(&svc->stats.authorize_fail, 1);
	free(hashes);
	return -1;
}

int api_credentials_authorize_check(api_request *req, api_response *res)
{
	const char *handle = NULL;

	if (api_param_string(req->body, res, "handle", true, 1024, &handle) != 0 ||
	    api_param_common(req->body, res) != 0)
		return -1;
	/* authorize never answers 202, so no handle is ever pending. */
	return api_fail(res, API_E_INVALID_REQUEST, "Invalid parameter handle");
}

int api_credentials_extend(api_request *req, api_response *res)
{
	api_service *svc = req->svc;
	sam_extend_req er;
	sam_authorize_res out;
	sam_hash *hashes = NULL;
	size_t n_hashes = 0;
	hash_alg alg = HASH_NONE;
	const char *sad = NULL;
	const cJSON *harr = cJSON_GetObjectItemCaseSensitive(req->body, "hashes");
	sam_status st;

	memset(&er, 0, sizeof(er));
	if (api_param_credential_id(req->body, res, er.credential_id) != 0 ||
	    api_param_string(req->body, res, "SAD", true, 4096, &sad) != 0 ||
	    api_param_hash_alg(req->body, res, "hashAlgorithmOID",
			       harr != NULL && !cJSON_IsNull(harr), &req->svc->ctx->cfg.pol,
			       &alg) != 0 ||
	    api_param_hashes(req->body, res, "hashes", false, alg, &hashes, &n_hashes) != 0 ||
	    api_param_common(req->body, res) != 0)
		goto fail;
	if (strlen(sad) == 0 || strlen(sad) >= SAM_SAD_MAX) {
		free(hashes);
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid SAD");
	}
	er.user_id = req->user_id;
	er.sad = sad;
	er.sad_len = strlen(sad);
	er.hash = n_hashes > 0 ? alg : HASH_NONE;
	er.hashes = hashes;
	er.n_hashes = n_hashes;
	memset(&out, 0, sizeof(out));
	st = sam_extend(svc->ctx->sam, &er, &out);
	free(hashes);
	if (st != SAM_OK || out.status != SAM_OK) {
		sec_zero(&out, sizeof(out));
		return api_fail_sam(res, st != SAM_OK ? st : out.status);
	}
	return api_sad_result(res, &out);
fail:
	free(hashes);
	return -1;
}
