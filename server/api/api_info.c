/* SPDX-License-Identifier: Apache-2.0 */
/* info: what the service is and what it offers (no authentication). */
#include "api.h"

#include <stdio.h>
#include <string.h>

#include "json.h"

#define API_SPECS "2.0.0.2"

static bool api_info_methods(cJSON *o)
{
	cJSON *arr = cJSON_AddArrayToObject(o, "methods");

	if (arr == NULL)
		return false;
	for (size_t i = 0; i < api_method_count(); i++) {
		cJSON *s = cJSON_CreateString(api_method_at(i)->name);
		if (s == NULL || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			return false;
		}
	}
	return true;
}

static bool api_info_algos(cJSON *o, const policy *pol)
{
	/* Everything any of our keys offers: RSA first, then EC. */
	const sigalg_info *algs[32];
	size_t n = api_key_algos(KEY_RSA, pol, algs, 32);
	cJSON *sa = cJSON_AddObjectToObject(o, "signAlgorithms");
	cJSON *arr;

	n += api_key_algos(KEY_EC, pol, algs + n, 32 - n);
	if (sa == NULL || (arr = cJSON_AddArrayToObject(sa, "algos")) == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		cJSON *s = cJSON_CreateString(algs[i]->oid);
		if (s == NULL || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			return false;
		}
	}
	return true;
}

int api_info(api_request *req, api_response *res)
{
	const server_config *cfg = &req->svc->ctx->cfg;
	const char *lang = NULL;
	char logo[700];
	cJSON *o, *arr, *fmt;

	if (api_param_string(req->body, res, "lang", false, 35, &lang) != 0 ||
	    api_param_common(req->body, res) != 0)
		return -1;
	snprintf(logo, sizeof(logo), "%s/logo.svg", req->svc->base_url);
	o = cJSON_CreateObject();
	if (o == NULL)
		return api_fail(res, API_E_SERVER, NULL);
	res->json = o;
	if (!json_add_string(o, "specs", API_SPECS) || !json_add_string(o, "name", cfg->name) ||
	    !json_add_string(o, "logo", logo) || !json_add_string(o, "region", cfg->region) ||
	    !json_add_string(o, "lang", cfg->lang) ||
	    !json_add_string(o, "description",
			     "CISRES remote qualified electronic signature service: keys held in "
			     "an HSM, signer activation through PIN and one-time password"))
		return api_fail(res, API_E_SERVER, NULL);
	arr = cJSON_AddArrayToObject(o, "authType");
	if (arr == NULL || !cJSON_AddItemToArray(arr, cJSON_CreateString("basic")))
		return api_fail(res, API_E_SERVER, NULL);
	if (!json_add_bool(o, "asynchronousOperationMode", false) || !api_info_methods(o) ||
	    !json_add_bool(o, "validationInfo", false) || !api_info_algos(o, &cfg->pol))
		return api_fail(res, API_E_SERVER, NULL);
	fmt = cJSON_AddObjectToObject(o, "signature_formats");
	if (fmt == NULL || cJSON_AddArrayToObject(fmt, "formats") == NULL ||
	    cJSON_AddArrayToObject(fmt, "envelope_properties") == NULL ||
	    cJSON_AddArrayToObject(o, "conformance_levels") == NULL)
		return api_fail(res, API_E_SERVER, NULL);
	res->status = 200;
	return 0;
}
