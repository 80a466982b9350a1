/* SPDX-License-Identifier: Apache-2.0 */
/* The module configuration file. */
#include "backend_conf.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "b64.h"
#include "conf.h"
#include "log.h"

#define ACCOUNT_PREFIX "account."

static const char *home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h != NULL && h[0] == '/')
		return h;
	pw = getpwuid(geteuid());
	return pw != NULL && pw->pw_dir != NULL ? pw->pw_dir : "/";
}

/* "$XDG_<var>/cisres/<leaf>" or "~/<fallback>/cisres/<leaf>" (malloc'd). */
static char *xdg_path(const char *var, const char *fallback, const char *leaf)
{
	const char *x = getenv(var);
	char *out = NULL;
	int n;

	if (x != NULL && x[0] == '/')
		n = asprintf(&out, "%s/cisres%s%s", x, leaf[0] ? "/" : "", leaf);
	else
		n = asprintf(&out, "%s/%s/cisres%s%s", home_dir(), fallback, leaf[0] ? "/" : "",
			     leaf);
	return n < 0 ? NULL : out;
}

/* A configured path with "~/" expanded (malloc'd). */
static char *expand_path(const char *v)
{
	char *out = NULL;

	if (v == NULL || v[0] == '\0')
		return NULL;
	if (v[0] == '~' && v[1] == '/') {
		if (asprintf(&out, "%s/%s", home_dir(), v + 2) < 0)
			return NULL;
		return out;
	}
	return strdup(v);
}

char *backend_conf_path(void)
{
	const char *env = getenv("CISRES_PKCS11_CONF");
	char *user;

	if (env != NULL && env[0] != '\0')
		return strdup(env);
	user = xdg_path("XDG_CONFIG_HOME", ".config", "pkcs11.conf");
	if (user != NULL && access(user, F_OK) == 0)
		return user;
	if (access("/etc/cisres/pkcs11.conf", F_OK) == 0) {
		free(user);
		return strdup("/etc/cisres/pkcs11.conf");
	}
	return user;
}


void backend_conf_serial(const char *url, const char *user, char out[17])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char hex[65];

	out[0] = '\0';
	if (ctx == NULL)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, url, strlen(url)) == 1 && EVP_DigestUpdate(ctx, "\n", 1) == 1 &&
	    EVP_DigestUpdate(ctx, user, strlen(user)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32 &&
	    hex_encode(md, 32, hex, sizeof(hex)) == 0) {
		memcpy(out, hex, 16);
		out[16] = '\0';
	}
	EVP_MD_CTX_free(ctx);
}

/* Read the file with the permission checks of the brief. NULL when absent
 * or refused (reason logged). */

static bool key_known(const char *k, const char *const *known)
{
	for (; *known != NULL; known++) {
		if (strcmp(k, *known) == 0)
			return true;
	}
	return false;
}

static void warn_unknown(const conf *cf, const char *section, const char *const *known)
{
	size_t i, n = conf_key_count(cf, section);

	for (i = 0; i < n; i++) {
		const char *k = conf_key_name(cf, section, i);
		if (k != NULL && !key_known(k, known))
			log_warn("config: [%s] unknown key '%s' ignored", section, k);
	}
}

static bool url_ok(const char *u)
{
	return strncmp(u, "https://", 8) == 0 || strncmp(u, "http://127.0.0.1", 16) == 0 ||
	       strncmp(u, "http://localhost", 16) == 0 || strncmp(u, "http://[::1]", 12) == 0;
}

static int parse_account(const conf *cf, const char *section, backend_conf_account *a)
{
	static const char *const known[] = {
	    "url",	   "user",   "ca_file",	      "label",	     "token_file",
	    "otp_command", "prompt", "module_prompt", "pin_command", NULL};
	const char *name = section + strlen(ACCOUNT_PREFIX);
	const char *v;
	bool ok = true;
	size_t n;
	char *leaf = NULL;

	warn_unknown(cf, section, known);
	if (strlen(name) == 0 || strlen(name) >= sizeof(a->name))
		return -1;
	memcpy(a->name, name, strlen(name) + 1);
	v = conf_get(cf, section, "url");
	if (v == NULL || !url_ok(v) || strlen(v) >= sizeof(a->url)) {
		log_err("config: [account %s] needs url = https://host:port", name);
		return -1;
	}
	n = strlen(v);
	while (n > 0 && v[n - 1] == '/')
		n--;
	memcpy(a->url, v, n);
	a->url[n] = '\0';
	v = conf_get(cf, section, "user");
	if (v == NULL || v[0] == '\0' || strlen(v) >= sizeof(a->user) || strchr(v, ':') != NULL) {
		log_err("config: [account %s] needs user = NAME", name);
		return -1;
	}
	memcpy(a->user, v, strlen(v) + 1);
	v = conf_get(cf, section, "label");
	if (v != NULL && v[0] != '\0') {
		if (strlen(v) >= sizeof(a->label))
			log_warn("config: [account %s] label longer than 32 characters, truncated",
				 name);
		snprintf(a->label, sizeof(a->label), "%s", v);
	} else {
		snprintf(a->label, sizeof(a->label), "CISRES %s", a->user);
	}
	backend_conf_serial(a->url, a->user, a->serial);
	a->ca_file = expand_path(conf_get(cf, section, "ca_file"));
	v = conf_get(cf, section, "token_file");
	if (v != NULL && v[0] != '\0') {
		a->token_file = expand_path(v);
	} else {
		if (asprintf(&leaf, "tokens/%s.token", a->name) < 0)
			return -1;
		a->token_file = xdg_path("XDG_CONFIG_HOME", ".config", leaf);
		free(leaf);
	}
	if (a->token_file == NULL)
		return -1;
	v = conf_get(cf, section, "otp_command");
	if (v != NULL && v[0] != '\0' && (a->otp_command = strdup(v)) == NULL)
		return -1;
	v = conf_get(cf, section, "pin_command");
	if (v != NULL && v[0] != '\0' && (a->pin_command = strdup(v)) == NULL)
		return -1;
	v = conf_get(cf, section, "prompt");
	if (v != NULL && v[0] != '\0' && (a->prompt = expand_path(v)) == NULL)
		return -1;
	a->module_prompt = conf_get_bool(cf, section, "module_prompt", false, &ok);
	if (!ok) {
		log_err("config: [account %s] module_prompt must be true or false", name);
		return -1;
	}
	return 0;
}

static void account_free(backend_conf_account *a)
{
	free(a->ca_file);
	free(a->token_file);
	free(a->otp_command);
	free(a->pin_command);
	free(a->prompt);
	memset(a, 0, sizeof(*a));
}

void backend_conf_free(backend_conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n_accounts; i++)
		account_free(&c->accounts[i]);
	free(c->accounts);
	free(c->path);
	free(c->debug_categories);
	free(c->log_file);
	free(c->cache_dir);
	memset(c, 0, sizeof(*c));
}

/* [module] debug = false | true | "p11,csc,cache" */
static void parse_debug(const conf *cf, backend_conf *out)
{
	const char *v = conf_get(cf, "module", "debug");

	if (v == NULL || strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || strcmp(v, "0") == 0 ||
	    v[0] == '\0')
		return;
	out->debug = true;
	if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "1") == 0)
		out->debug_categories = strdup("all");
	else
		out->debug_categories = strdup(v);
}

int backend_conf_load(backend_conf *out)
{
	static const char *const known[] = {"debug",   "log_file", "cache_dir", "refresh_interval",
					    "timeout", NULL};
	char err[256];
	size_t i, n;
	bool ok = true;
	conf *cf;
	const char *v;

	memset(out, 0, sizeof(*out));
	out->refresh_interval = 300;
	out->timeout = 20;
	out->cache_dir = xdg_path("XDG_CACHE_HOME", ".cache", "");
	out->path = backend_conf_path();
	if (out->cache_dir == NULL || out->path == NULL)
		goto nomem;
	if (access(out->path, F_OK) != 0) {
		log_debug(LOG_CAT_GENERAL, "config %s: absent; no accounts", out->path);
		return 0;
	}
	/* A file that is not a regular file, is writable by others, too large
	 * or malformed gives no accounts rather than a module that fails to
	 * load; the reason is logged. */
	cf = conf_load(out->path, true, err, sizeof(err));
	if (cf == NULL) {
		log_err("config %s: %s; refused (no accounts)", out->path, err);
		return 0;
	}
	warn_unknown(cf, "module", known);
	parse_debug(cf, out);
	v = conf_get(cf, "module", "log_file");
	if (v != NULL && v[0] != '\0')
		out->log_file = expand_path(v);
	v = conf_get(cf, "module", "cache_dir");
	if (v != NULL && v[0] != '\0') {
		free(out->cache_dir);
		out->cache_dir = expand_path(v);
		if (out->cache_dir == NULL) {
			conf_free(cf);
			goto nomem;
		}
	}
	out->refresh_interval = (long)conf_get_int(cf, "module", "refresh_interval", 300, &ok);
	if (!ok || out->refresh_interval < 5 || out->refresh_interval > 86400) {
		log_warn("config: refresh_interval must be 5..86400 seconds; using 300");
		out->refresh_interval = 300;
	}
	out->timeout = (long)conf_get_int(cf, "module", "timeout", 20, &ok);
	if (!ok || out->timeout < 1 || out->timeout > 600) {
		log_warn("config: timeout must be 1..600 seconds; using 20");
		out->timeout = 20;
	}
	n = conf_section_count(cf);
	out->accounts = calloc(n > 0 ? n : 1, sizeof(*out->accounts));
	if (out->accounts == NULL) {
		conf_free(cf);
		goto nomem;
	}
	for (i = 0; i < n; i++) {
		const char *s = conf_section_name(cf, i);
		if (s == NULL || s[0] == '\0' || strcmp(s, "module") == 0)
			continue;
		if (strncmp(s, ACCOUNT_PREFIX, strlen(ACCOUNT_PREFIX)) != 0) {
			log_warn("config: unknown section [%s] ignored", s);
			continue;
		}
		if (parse_account(cf, s, &out->accounts[out->n_accounts]) != 0) {
			account_free(&out->accounts[out->n_accounts]);
			log_err("config: [account %s] skipped", s + strlen(ACCOUNT_PREFIX));
			continue;
		}
		out->n_accounts++;
	}
	conf_free(cf);
	return 0;
nomem:
	backend_conf_free(out);
	return -1;
}
