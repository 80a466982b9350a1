/* SPDX-License-Identifier: Apache-2.0 */
/* auth/login (HTTP Basic, or a refresh token) and auth/revoke. */
#include "api.h"

#include <string.h>

#include "auth.h"
#include "b64.h"
#include "json.h"
#include "log.h"
#include "secmem.h"

/* Decoded Basic credentials: user name and password, in one buffer. */
#define API_BASIC_DECODED ((API_BASIC_MAX / 4) * 3 + 1)

static int api_login_result(api_response *res, auth_rc rc, auth_tokens *tok, bool remember,
			    api_stats *stats)
{
	cJSON *o;

	switch (rc) {
	case AUTH_OK:
		break;
	case AUTH_LOCKED:
		atomic_fetch_add(&stats->login_fail, 1);
		return api_fail(res, API_E_AUTHENTICATION, "Account locked");
	case AUTH_BAD_CREDENTIALS:
		atomic_fetch_add(&stats->login_fail, 1);
		return api_fail(res, API_E_AUTHENTICATION, "Invalid user name or password");
	case AUTH_INVALID_TOKEN:
		atomic_fetch_add(&stats->login_fail, 1);
		return api_fail(res, API_E_AUTHENTICATION, "Invalid refresh_token");
	case AUTH_EXPIRED_TOKEN:
		atomic_fetch_add(&stats->login_fail, 1);
		return api_fail(res, API_E_AUTHENTICATION, "Expired refresh_token");
	case AUTH_ERROR:
		atomic_fetch_add(&stats->login_fail, 1);
		return api_fail(res, API_E_SERVER, NULL);
	}
	o = cJSON_CreateObject();
	if (o == NULL)
		return api_fail(res, API_E_SERVER, NULL);
	res->json = o;
	if (!json_add_string(o, "access_token", tok->access_token) ||
	    (remember && tok->refresh_token[0] != '\0' &&
	     !json_add_string(o, "refresh_token", tok->refresh_token)) ||
	    !json_add_int(o, "expires_in", tok->expires_in))
		return api_fail(res, API_E_SERVER, NULL);
	atomic_fetch_add(&stats->login_ok, 1);
	res->status = 200;
	return 0;
}

/* "Basic <base64(user:password)>" -> user and password pointers into buf
 * (API_BASIC_DECODED bytes). */
static int api_basic_parse(const char *h, char *buf, const char **user, const char **pw,
			   size_t *pwlen)
{
	const char *b64;
	size_t n, dlen = 0;
	char *colon;

	if (strncmp(h, "Basic ", 6) != 0)
		return -1;
	b64 = h + 6;
	n = strnlen(b64, API_BASIC_MAX + 1);
	if (n == 0 || n > API_BASIC_MAX)
		return -1;
	if (b64_decode_buf(b64, n, (uint8_t *)buf, API_BASIC_DECODED - 1, &dlen) != 0)
		return -1;
	buf[dlen] = '\0';
	if (memchr(buf, '\0', dlen) != NULL) /* no embedded NUL */
		return -1;
	colon = strchr(buf, ':');
	if (colon == NULL || colon == buf || (size_t)(colon - buf) >= STORE_NAME_MAX)
		return -1;
	*colon = '\0';
	*user = buf;
	*pw = colon + 1;
	*pwlen = dlen - (size_t)(colon - buf) - 1;
	return 0;
}

int api_auth_login(api_request *req, api_response *res)
{
	api_service *svc = req->svc;
	const char *refresh = NULL;
	bool remember = false;
	auth_tokens tok;
	auth_rc rc;
	int ret;

	if (api_param_bool(req->body, res, "rememberMe", false, &remember) != 0 ||
	    api_param_string(req->body, res, "refresh_token", false, 256, &refresh) != 0 ||
	    api_param_common(req->body, res) != 0)
		return -1;
	memset(&tok, 0, sizeof(tok));
	if (refresh != NULL) {
		rc = auth_login_refresh(svc->ctx->store, &svc->ctx->cfg.pol, refresh, remember,
					&tok);
	} else {
		char buf[API_BASIC_DECODED];
		const char *user = NULL, *pw = NULL;
		size_t pwlen = 0;

		if (req->authorization == NULL)
			return api_fail(res, API_E_INVALID_REQUEST,
					"Missing Basic credentials or refresh_token");
		if (api_basic_parse(req->authorization, buf, &user, &pw, &pwlen) != 0) {
			sec_zero(buf, sizeof(buf));
			return api_fail(res, API_E_INVALID_REQUEST,
					"Malformed Authorization header (Basic credentials)");
		}
		rc = auth_login_password(svc->ctx->store, &svc->ctx->cfg.pol, user, pw, pwlen,
					 remember, &tok);
		sec_zero(buf, sizeof(buf));
	}
	ret = api_login_result(res, rc, &tok, remember, &svc->stats);
	sec_zero(&tok, sizeof(tok));
	return ret;
}

int api_auth_revoke(api_request *req, api_response *res)
{
	const char *token = NULL, *hint = NULL;
	auth_rc rc;

	if (api_param_string(req->body, res, "token", true, 256, &token) != 0 ||
	    api_param_string(req->body, res, "token_type_hint", false, 32, &hint) != 0 ||
	    api_param_common(req->body, res) != 0)
		return -1;
	if (token[0] == '\0')
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid parameter token");
	if (hint != NULL && strcmp(hint, "access_token") != 0 && strcmp(hint, "refresh_token") != 0)
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid parameter token_type_hint");
	rc = auth_revoke(req->svc->ctx->store, req->user_id, token, hint);
	switch (rc) {
	case AUTH_OK:
		res->status = 204;
		return 0;
	case AUTH_INVALID_TOKEN:
	case AUTH_EXPIRED_TOKEN:
	case AUTH_BAD_CREDENTIALS:
	case AUTH_LOCKED:
		return api_fail(res, API_E_INVALID_REQUEST, "Invalid parameter token");
	case AUTH_ERROR:
		break;
	}
	return api_fail(res, API_E_SERVER, NULL);
}
