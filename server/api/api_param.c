/* SPDX-License-Identifier: Apache-2.0 */
/* Typed, bounded access to CSC request parameters, with the CSC-style error
 * descriptions ("Missing (or invalid type) string parameter credentialID",
 * "Invalid parameter hashAlgorithmOID", ...). */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "json.h"

#define API_DESC_MAX 160

static int api_param_missing(api_response *res, const char *type, const char *name)
{
	char d[API_DESC_MAX];

	snprintf(d, sizeof(d), "Missing (or invalid type) %s parameter %s", type, name);
	return api_fail(res, API_E_INVALID_REQUEST, d);
}

static int api_param_invalid(api_response *res, const char *name)
{
	char d[API_DESC_MAX];

	snprintf(d, sizeof(d), "Invalid parameter %s", name);
	return api_fail(res, API_E_INVALID_REQUEST, d);
}

int api_param_string(const cJSON *body, api_response *res, const char *name, bool required,
		     size_t max_len, const char **out)
{
	json_rc rc = json_get_string(body, name, out);

	if (rc == JSON_MISSING && !required) {
		*out = NULL;
		return 0;
	}
	if (rc != JSON_OK)
		return api_param_missing(res, "string", name);
	if (strlen(*out) > max_len)
		return api_param_invalid(res, name);
	return 0;
}

int api_param_bool(const cJSON *body, api_response *res, const char *name, bool def, bool *out)
{
	json_rc rc = json_get_bool(body, name, out);

	if (rc == JSON_MISSING) {
		*out = def;
		return 0;
	}
	if (rc != JSON_OK)
		return api_param_missing(res, "boolean", name);
	return 0;
}

int api_param_int(const cJSON *body, api_response *res, const char *name, bool required,
		  int64_t min, int64_t max, int64_t def, int64_t *out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, name);
	json_rc rc;

	if ((item == NULL || cJSON_IsNull(item)) && !required) {
		*out = def;
		return 0;
	}
	if (item == NULL || !cJSON_IsNumber(item))
		return api_param_missing(res, "integer", name);
	rc = json_get_int(body, name, min, max, out);
	if (rc != JSON_OK)
		return api_param_invalid(res, name);
	return 0;
}

int api_param_credential_id(const cJSON *body, api_response *res, char out[STORE_CRED_ID_MAX])
{
	const char *s;
	size_t n;

	if (api_param_string(body, res, "credentialID", true, STORE_CRED_ID_MAX - 1, &s) != 0)
		return -1;
	n = strlen(s);
	if (n == 0)
		return api_param_invalid(res, "credentialID");
	memcpy(out, s, n + 1);
	return 0;
}

int api_param_hash_alg(const cJSON *body, api_response *res, const char *name, bool required,
		       const policy *pol, hash_alg *out)
{
	const char *oid;
	const hash_info *h;

	*out = HASH_NONE;
	if (api_param_string(body, res, name, required, 64, &oid) != 0)
		return -1;
	if (oid == NULL)
		return 0;
	h = hash_by_oid(oid);
	if (h == NULL || (h->id != HASH_SHA256 && h->id != HASH_SHA384 && h->id != HASH_SHA512 &&
			  !(h->id == HASH_SHA1 && pol != NULL && pol->allow_sha1)))
		return api_param_invalid(res, name);
	*out = h->id;
	return 0;
}

int api_param_hashes(const cJSON *body, api_response *res, const char *name, bool required,
		     hash_alg alg, sam_hash **out, size_t *n)
{
	const cJSON *arr, *it;
	const hash_info *hi = alg != HASH_NONE ? hash_by_id(alg) : NULL;
	sam_hash *v;
	size_t count, i = 0;
	json_rc rc = json_get_array(body, name, &arr);

	*out = NULL;
	*n = 0;
	if (rc == JSON_MISSING && !required)
		return 0;
	if (rc != JSON_OK)
		return api_param_missing(res, "array", name);
	count = (size_t)cJSON_GetArraySize(arr);
	if (count == 0) {
		if (!required)
			return 0;
		return api_param_invalid(res, name);
	}
	if (count > SAM_MAX_HASHES)
		return api_fail(res, API_E_INVALID_REQUEST, "Too many hashes");
	v = calloc(count, sizeof(*v));
	if (v == NULL)
		return api_fail(res, API_E_SERVER, NULL);
	cJSON_ArrayForEach(it, arr)
	{
		uint8_t tmp[768];
		size_t len, dlen = 0;

		if (!cJSON_IsString(it) || it->valuestring == NULL) {
			free(v);
			return api_param_missing(res, "array of strings", name);
		}
		len = strlen(it->valuestring);
		if (len > 4 * (sizeof(tmp) / 3)) {
			free(v);
			return api_fail(res, API_E_INVALID_REQUEST, "Invalid digest value length");
		}
		if (len == 0 ||
		    b64_decode_buf(it->valuestring, len, tmp, sizeof(tmp), &dlen) != 0) {
			free(v);
			return api_fail(res, API_E_INVALID_REQUEST, "Invalid Base64 hash string");
		}
		if (hi != NULL ? dlen != hi->len : (dlen != 32 && dlen != 48 && dlen != 64)) {
			free(v);
			return api_fail(res, API_E_INVALID_REQUEST, "Invalid digest value length");
		}
		memcpy(v[i].v, tmp, dlen);
		v[i].len = dlen;
		i++;
	}
	*out = v;
	*n = count;
	return 0;
}

int api_param_certificates(const cJSON *body, api_response *res, api_certs *out)
{
	const char *s;

	*out = API_CERTS_SINGLE;
	if (api_param_string(body, res, "certificates", false, 16, &s) != 0)
		return -1;
	if (s == NULL || strcmp(s, "single") == 0)
		return 0;
	if (strcmp(s, "none") == 0) {
		*out = API_CERTS_NONE;
		return 0;
	}
	if (strcmp(s, "chain") == 0) {
		*out = API_CERTS_CHAIN;
		return 0;
	}
	return api_param_invalid(res, "certificates");
}

int api_param_common(const cJSON *body, api_response *res)
{
	const char *s;

	if (api_param_string(body, res, "clientData", false, 4096, &s) != 0)
		return -1;
	if (api_param_string(body, res, "lang", false, 35, &s) != 0)
		return -1;
	if (api_param_string(body, res, "description", false, 500, &s) != 0)
		return -1;
	return 0;
}
