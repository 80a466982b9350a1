/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the server's request handling after HTTP — the
 * Authorization header (Bearer and Basic), the JSON body of every CSC
 * method, and each handler's parameter checks — on a real in-process
 * service (SQLite store, SoftHSM token, CA, TSA, SAM) made once in a
 * throw-away state directory. Input layout:
 *   byte 0: method (index into the method table)
 *   byte 1: authorization: 0 none, 1 a valid Bearer token, 2 the header
 *           given next (byte 2 = its length, then the bytes)
 *   rest:   the request body (parsed as cisresd parses it) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "context.h"
#include "json.h"
#include "kdf.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[] = "/tmp/cisres-fuzz-api-XXXXXX";
static context g_ctx;
static api_service g_svc;
static char g_bearer[AUTH_TOKEN_MAX + 16];

/* The harness's own throw-away state directory goes when the run ends. */
static void remove_state(void)
{
	char cmd[sizeof(g_dir) + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_api_request: could not remove %s\n", g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	server_config cfg;
	store_user u;
	auth_tokens t;
	const char pw[] = "fuzz-password-1";

	(void)argc;
	(void)argv;
	log_init("fuzz_api_request", LOG_LVL_ERR, NULL);
	if (mkdtemp(g_dir) == NULL)
		abort();
	atexit(remove_state);
	config_defaults(&cfg, g_dir);
	cfg.pol.kdf_log_n = 10;
	cfg.pol.lockout_threshold = 1000000; /* keep the fuzz user usable */
	if (ctx_bootstrap(&cfg) != 0 || ctx_open(&g_ctx, &cfg) != 0)
		abort();
	auth_set_sam(g_ctx.sam);
	g_svc.ctx = &g_ctx;
	if (pthread_mutex_init(&g_svc.tsa_lock, NULL) != 0)
		abort();
	snprintf(g_svc.base_url, sizeof(g_svc.base_url), "https://127.0.0.1:1");
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "fuzz");
	snprintf(u.display, sizeof(u.display), "Fuzz User");
	if (kdf_hash(pw, sizeof(pw) - 1, 10, u.pw_hash, sizeof(u.pw_hash)) != 0 ||
	    store_user_add(g_ctx.store, &u) != STORE_OK)
		abort();
	if (auth_login_password(g_ctx.store, &g_ctx.cfg.pol, "fuzz", pw, sizeof(pw) - 1, false,
				&t) != AUTH_OK)
		abort();
	snprintf(g_bearer, sizeof(g_bearer), "Bearer %s", t.access_token);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const api_method *m;
	api_request req;
	api_response res;
	char header[256];
	const uint8_t *body;
	size_t blen;
	char *out;

	if (size < 2 || api_method_count() == 0)
		return 0;
	m = api_method_at(data[0] % api_method_count());
	memset(&req, 0, sizeof(req));
	memset(&res, 0, sizeof(res));
	req.svc = &g_svc;
	req.method = m->name;
	body = data + 2;
	blen = size - 2;
	switch (data[1] % 3) {
	case 1:
		req.authorization = g_bearer;
		break;
	case 2: {
		size_t hl;
		if (blen < 1)
			return 0;
		hl = body[0];
		if (hl > blen - 1)
			hl = blen - 1;
		memcpy(header, body + 1, hl);
		header[hl] = '\0'; /* a header is a C string in libmicrohttpd too */
		req.authorization = header;
		body += 1 + hl;
		blen -= 1 + hl;
		break;
	}
	default:
		break;
	}
	if (m->auth == API_AUTH_BEARER && api_authenticate(&req, &res) != 0)
		goto done;
	req.body = blen == 0 ? cJSON_CreateObject()
			     : json_parse((const char *)body, blen, 1024 * 1024, 16, true);
	if (req.body == NULL)
		goto done;
	if (m->fn(&req, &res) != 0 && res.json == NULL)
		res.status = 500;
	/* Every answer is a status and, but for 204, a JSON object. */
	if (res.status < 200 || res.status > 599)
		abort();
done:
	if (req.body != NULL)
		cJSON_Delete(req.body);
	if (res.json != NULL) {
		out = json_print(res.json);
		free(out);
		cJSON_Delete(res.json);
	}
	return 0;
}
