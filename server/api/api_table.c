/* SPDX-License-Identifier: Apache-2.0 */
/* The CSC method table (adding a method is adding a row) and the bearer
 * token check shared by every authenticated method. */
#include "api.h"

#include <string.h>

#include "auth.h"
#include "log.h"

static const api_method api_methods[] = {
    {"info", api_info, API_AUTH_NONE, false, true},
    {"auth/login", api_auth_login, API_AUTH_LOGIN, true, false},
    {"auth/revoke", api_auth_revoke, API_AUTH_BEARER, true, false},
    {"credentials/list", api_credentials_list, API_AUTH_BEARER, false, false},
    {"credentials/info", api_credentials_info, API_AUTH_BEARER, false, false},
    {"credentials/authorize", api_credentials_authorize, API_AUTH_BEARER, true, false},
    {"credentials/authorizeCheck", api_credentials_authorize_check, API_AUTH_BEARER, false, false},
    {"credentials/extendTransaction", api_credentials_extend, API_AUTH_BEARER, true, false},
    {"signatures/signHash", api_signatures_sign_hash, API_AUTH_BEARER, true, false},
    {"signatures/timestamp", api_signatures_timestamp, API_AUTH_BEARER, false, false},
};

#define API_METHOD_COUNT (sizeof(api_methods) / sizeof(api_methods[0]))

const api_method *api_lookup(const char *name)
{
	for (size_t i = 0; i < API_METHOD_COUNT; i++) {
		if (strcmp(api_methods[i].name, name) == 0)
			return &api_methods[i];
	}
	return NULL;
}

size_t api_method_count(void)
{
	return API_METHOD_COUNT;
}

const api_method *api_method_at(size_t i)
{
	return i < API_METHOD_COUNT ? &api_methods[i] : NULL;
}

int api_authenticate(api_request *req, api_response *res)
{
	const char *h = req->authorization;
	const char *tok;
	size_t n;
	int64_t uid = 0;
	auth_rc rc;

	if (h == NULL)
		return api_fail(res, API_E_INVALID_TOKEN, "Missing bearer access token");
	if (strncmp(h, "Bearer ", 7) != 0)
		return api_fail(res, API_E_INVALID_TOKEN, "Malformed Authorization header");
	tok = h + 7;
	n = strnlen(tok, API_BEARER_MAX + 1);
	if (n == 0 || n > API_BEARER_MAX)
		return api_fail(res, API_E_INVALID_TOKEN, "Malformed Authorization header");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)tok[i];
		/* RFC 6750 b64token */
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' ||
		      c == '='))
			return api_fail(res, API_E_INVALID_TOKEN, "Malformed Authorization header");
	}
	rc = auth_check_bearer(req->svc->ctx->store, &req->svc->ctx->cfg.pol, tok, &uid);
	switch (rc) {
	case AUTH_OK:
		req->user_id = uid;
		return 0;
	case AUTH_EXPIRED_TOKEN:
		return api_fail(res, API_E_EXPIRED_TOKEN, "The access token has expired");
	case AUTH_INVALID_TOKEN:
	case AUTH_BAD_CREDENTIALS:
	case AUTH_LOCKED:
		return api_fail(res, API_E_INVALID_TOKEN, "Invalid access token");
	case AUTH_ERROR:
		break;
	}
	return api_fail(res, API_E_SERVER, NULL);
}
