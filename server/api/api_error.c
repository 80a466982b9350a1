/* SPDX-License-Identifier: Apache-2.0 */
/* The one place where failures become CSC error answers:
 * {"error": <code>, "error_description": <text>} with the HTTP status the
 * CSC API gives for the code. */
#include "api.h"

#include <string.h>

#include <openssl/evp.h>

#include "json.h"
#include "log.h"

typedef struct {
	unsigned status;
	const char *error;
	const char *description; /* default */
} api_error_row;

static const api_error_row api_errors[] = {
    [API_E_INVALID_REQUEST] = {400, "invalid_request", "Invalid request"},
    [API_E_INVALID_TOKEN] = {401, "invalid_token", "Invalid access token"},
    [API_E_EXPIRED_TOKEN] = {401, "expired_token", "The access token has expired"},
    [API_E_AUTHENTICATION] = {400, "authentication_error", "Authentication failed"},
    [API_E_INVALID_PIN] = {400, "invalid_pin", "The PIN is invalid"},
    [API_E_INVALID_OTP] = {400, "invalid_otp", "The OTP is invalid"},
    [API_E_NOT_FOUND] = {404, "invalid_request", "Unknown method"},
    [API_E_METHOD] = {405, "invalid_request", "HTTP method not allowed"},
    [API_E_TOO_LARGE] = {413, "invalid_request", "Request body too large"},
    [API_E_MEDIA_TYPE] = {415, "invalid_request", "Unsupported content type"},
    [API_E_NOT_IMPLEMENTED] = {501, "not_implemented_method", "Method not implemented"},
    [API_E_UNAVAILABLE] = {503, "temporarily_unavailable", "Service temporarily unavailable"},
    [API_E_SERVER] = {500, "server_error", "Internal server error"},
};

static const api_error_row *api_error_lookup(api_err e)
{
	if ((size_t)e >= sizeof(api_errors) / sizeof(api_errors[0]) || api_errors[e].error == NULL)
		e = API_E_SERVER;
	return &api_errors[e];
}

static cJSON *api_error_json(const api_error_row *row, const char *description)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return NULL;
	if (!json_add_string(o, "error", row->error) ||
	    !json_add_string(o, "error_description",
			     description != NULL ? description : row->description)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int api_fail(api_response *res, api_err e, const char *description)
{
	const api_error_row *row = api_error_lookup(e);

	if (res->json != NULL)
		cJSON_Delete(res->json);
	res->status = row->status;
	res->json = api_error_json(row, description);
	res->www_auth = row->status == 401;
	return -1;
}

char *api_error_body(api_err e, const char *description, unsigned *status)
{
	const api_error_row *row = api_error_lookup(e);
	cJSON *o = api_error_json(row, description);
	char *s;

	*status = row->status;
	if (o == NULL)
		return NULL;
	s = json_print(o);
	cJSON_Delete(o);
	return s;
}

int api_fail_sam(api_response *res, sam_status st)
{
	switch (st) {
	case SAM_OK:
		break;
	case SAM_E_REQUEST:
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid request parameters");
	case SAM_E_NO_CREDENTIAL:
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid parameter credentialID");
	case SAM_E_DISABLED:
		return api_fail(res, API_E_INVALID_REQUEST, "Credential disabled");
	case SAM_E_PIN:
		return api_fail(res, API_E_INVALID_PIN, "The PIN is invalid");
	case SAM_E_OTP:
		return api_fail(res, API_E_INVALID_OTP, "The OTP is invalid");
	case SAM_E_LOCKED:
		return api_fail(res, API_E_INVALID_REQUEST, "PIN locked");
	case SAM_E_FACTORS:
		return api_fail(res, API_E_INVALID_REQUEST, "Missing PIN in authData");
	case SAM_E_HASHES_REQUIRED:
		return api_fail(res, API_E_INVALID_REQUEST,
				"Missing (or invalid type) array parameter hashes");
	case SAM_E_MULTISIGN:
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid parameter numSignatures");
	case SAM_E_SAD:
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid SAD");
	case SAM_E_SAD_EXPIRED:
		return api_fail(res, API_E_INVALID_REQUEST, "SAD expired");
	case SAM_E_UNAVAILABLE:
		return api_fail(res, API_E_UNAVAILABLE,
				"The signature activation module is restarting; try again");
	case SAM_E_HASH_MISMATCH:
		return api_fail(res, API_E_INVALID_REQUEST, "Hash is not authorized by the SAD");
	case SAM_E_COUNT:
		return api_fail(res, API_E_INVALID_REQUEST, "numSignatures too high");
	case SAM_E_ALGO:
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid parameter signAlgo");
	case SAM_E_CERT:
		return api_fail(res, API_E_INVALID_REQUEST, "The signing certificate is not valid");
	case SAM_E_INTERNAL:
		break;
	}
	return api_fail(res, API_E_SERVER, NULL);
}
