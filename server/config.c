/* SPDX-License-Identifier: Apache-2.0 */
/* Server configuration: built-in defaults rooted at the state directory,
 * overlaid by an INI file whose every key is checked. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"

/* snprintf into a fixed field; false when it did not fit. */
__attribute__((format(printf, 3, 4))) static bool config_fmt(char *dst, size_t cap, const char *fmt,
							     ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < cap;
}

static void config_path(char *dst, size_t cap, const char *state, const char *rel)
{
	if (state == NULL || state[0] == '\0') {
		dst[0] = '\0';
		return;
	}
	if (!config_fmt(dst, cap, "%s/%s", state, rel))
		dst[0] = '\0';
}

void config_defaults(server_config *c, const char *state_dir)
{
	const char *st = state_dir != NULL ? state_dir : "";

	memset(c, 0, sizeof(*c));
	if (!config_fmt(c->state_dir, sizeof(c->state_dir), "%s", st))
		c->state_dir[0] = '\0';
	/* Drop trailing slashes so that derived paths read cleanly. */
	for (size_t n = strlen(c->state_dir); n > 1 && c->state_dir[n - 1] == '/'; n--)
		c->state_dir[n - 1] = '\0';
	st = c->state_dir;

	config_fmt(c->listen, sizeof(c->listen), "%s", "127.0.0.1:8443");
	config_path(c->tls_cert, sizeof(c->tls_cert), st, "tls/server.pem");
	config_path(c->tls_key, sizeof(c->tls_key), st, "tls/server.key");
	c->threads = 0;
	c->max_connections = 256;
	c->max_body = 1024 * 1024;
	config_fmt(c->name, sizeof(c->name), "%s", "CISRES");
	config_fmt(c->region, sizeof(c->region), "%s", "RO");
	config_fmt(c->lang, sizeof(c->lang), "%s", "en-US");
	config_fmt(c->http_threading, sizeof(c->http_threading), "%s", "per-connection");

	config_fmt(c->hsm_module, sizeof(c->hsm_module), "%s", "/usr/lib/softhsm/libsofthsm2.so");
	config_fmt(c->hsm_token, sizeof(c->hsm_token), "%s", "cisres");
	config_path(c->hsm_pin_file, sizeof(c->hsm_pin_file), st, "hsm/pin");
	config_path(c->softhsm_conf, sizeof(c->softhsm_conf), st, "hsm/softhsm2.conf");
	c->hsm_pool = 0;

	if (st[0] != '\0' &&
	    !config_fmt(c->store_uri, sizeof(c->store_uri), "sqlite:%s/cisres.db", st))
		c->store_uri[0] = '\0';

	config_path(c->ca_dir, sizeof(c->ca_dir), st, "ca");
	config_fmt(c->ca_org, sizeof(c->ca_org), "%s", "CISRES Demo");
	c->cert_days = 730;

	config_fmt(c->tsa_policy, sizeof(c->tsa_policy), "%s", "1.3.6.1.4.1.57264.1.1");

	policy_defaults(&c->pol);
}

/* ---- the table of keys ---- */

typedef enum { CK_STR, CK_UINT, CK_SIZE, CK_INT, CK_I64 } config_kind;

typedef struct {
	const char *section;
	const char *key;
	config_kind kind;
	size_t off;
	size_t cap;	  /* CK_STR: field size */
	int64_t min, max; /* numbers */
} config_key;

#define F(field) offsetof(server_config, field), sizeof(((server_config *)0)->field)
#define P(field) offsetof(server_config, pol) + offsetof(policy, field), 0

static const config_key config_keys[] = {
    {"server", "listen", CK_STR, F(listen), 0, 0},
    {"server", "public_url", CK_STR, F(public_url), 0, 0},
    {"server", "tls_cert", CK_STR, F(tls_cert), 0, 0},
    {"server", "tls_key", CK_STR, F(tls_key), 0, 0},
    {"server", "threads", CK_UINT, F(threads), 0, 1024},
    {"server", "max_connections", CK_UINT, F(max_connections), 1, 65536},
    {"server", "max_body", CK_SIZE, F(max_body), 1024, 64 * 1024 * 1024},
    {"server", "name", CK_STR, F(name), 0, 0},
    {"server", "region", CK_STR, F(region), 0, 0},
    {"server", "lang", CK_STR, F(lang), 0, 0},
    {"http", "threading", CK_STR, F(http_threading), 0, 0},
    {"hsm", "module", CK_STR, F(hsm_module), 0, 0},
    {"hsm", "token", CK_STR, F(hsm_token), 0, 0},
    {"hsm", "pin_file", CK_STR, F(hsm_pin_file), 0, 0},
    {"hsm", "pin_env", CK_STR, F(hsm_pin_env), 0, 0},
    {"hsm", "softhsm_conf", CK_STR, F(softhsm_conf), 0, 0},
    {"hsm", "pool", CK_UINT, F(hsm_pool), 0, 1024},
    {"store", "uri", CK_STR, F(store_uri), 0, 0},
    {"ca", "dir", CK_STR, F(ca_dir), 0, 0},
    {"ca", "org", CK_STR, F(ca_org), 0, 0},
    {"ca", "cert_days", CK_INT, F(cert_days), 1, 36500},
    {"tsa", "policy", CK_STR, F(tsa_policy), 0, 0},
    {"policy", "access_token_ttl", CK_I64, P(access_token_ttl), 60, 7 * 24 * 3600},
    {"policy", "refresh_token_ttl", CK_I64, P(refresh_token_ttl), 60, 365 * 24 * 3600},
    {"policy", "sad_ttl", CK_I64, P(sad_ttl), 1, 3600},
    {"policy", "lockout_threshold", CK_INT, P(lockout_threshold), 1, 100},
    {"policy", "max_multisign", CK_INT, P(max_multisign), 1, 1000},
    {"policy", "totp_window", CK_INT, P(totp_window), 0, 10},
    {"policy", "kdf_log_n", CK_INT, P(kdf_log_n), 10, 22},
    {"policy", "allow_sha1", CK_INT, P(allow_sha1), 0, 1},
};

#undef F
#undef P

static const config_key *config_find(const char *section, const char *key)
{
	for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
		if (strcmp(config_keys[i].section, section) == 0 &&
		    strcmp(config_keys[i].key, key) == 0)
			return &config_keys[i];
	}
	return NULL;
}

static bool config_section_known(const char *section)
{
	for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
		if (strcmp(config_keys[i].section, section) == 0)
			return true;
	}
	return false;
}

/* Value checks beyond the type. */
static bool config_is_oid(const char *s)
{
	size_t arcs = 0;
	bool digit = false;

	for (; *s != '\0'; s++) {
		if (isdigit((unsigned char)*s)) {
			digit = true;
		} else if (*s == '.' && digit) {
			digit = false;
			arcs++;
		} else {
			return false;
		}
	}
	return digit && arcs >= 1;
}

static bool config_check_string(const config_key *k, const char *v, char *why, size_t whylen)
{
	if (strcmp(k->key, "region") == 0) {
		if (strlen(v) != 2 || !isupper((unsigned char)v[0]) ||
		    !isupper((unsigned char)v[1])) {
			snprintf(why, whylen, "an ISO 3166-1 alpha-2 code is expected");
			return false;
		}
	} else if (strcmp(k->section, "tsa") == 0 && strcmp(k->key, "policy") == 0) {
		if (!config_is_oid(v)) {
			snprintf(why, whylen, "a dotted OID is expected");
			return false;
		}
	} else if (strcmp(k->section, "http") == 0 && strcmp(k->key, "threading") == 0) {
		if (strcmp(v, "per-connection") != 0 && strcmp(v, "pool") != 0) {
			snprintf(why, whylen, "per-connection or pool is expected");
			return false;
		}
	} else if (strcmp(k->section, "store") == 0) {
		if (strncmp(v, "sqlite:", 7) != 0 && strncmp(v, "postgresql:", 11) != 0 &&
		    strncmp(v, "postgres:", 9) != 0) {
			snprintf(why, whylen, "sqlite:PATH or postgresql://... is expected");
			return false;
		}
	} else if (strcmp(k->key, "listen") == 0 || strcmp(k->key, "name") == 0 ||
		   strcmp(k->key, "token") == 0 || strcmp(k->key, "module") == 0) {
		if (v[0] == '\0') {
			snprintf(why, whylen, "must not be empty");
			return false;
		}
	}
	for (const char *p = v; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20) {
			snprintf(why, whylen, "control characters are not allowed");
			return false;
		}
	}
	return true;
}

static int config_apply(server_config *c, const conf *f, const char *section, const char *key,
			char *err, size_t errlen)
{
	const config_key *k = config_find(section, key);
	const char *v = conf_get(f, section, key);
	char why[96];
	bool ok = true;
	int64_t n;
	uint8_t *base = (uint8_t *)c;

	if (k == NULL) {
		snprintf(err, errlen, "unknown key '%s' in section [%s]", key, section);
		return -1;
	}
	if (v == NULL)
		return 0;
	if (k->kind == CK_STR) {
		if (strlen(v) >= k->cap) {
			snprintf(err, errlen, "[%s] %s: value too long (at most %zu characters)",
				 section, key, k->cap - 1);
			return -1;
		}
		if (!config_check_string(k, v, why, sizeof(why))) {
			snprintf(err, errlen, "[%s] %s: %s", section, key, why);
			return -1;
		}
		memcpy(base + k->off, v, strlen(v) + 1);
		return 0;
	}
	n = conf_get_int(f, section, key, 0, &ok);
	if (!ok || n < k->min || n > k->max) {
		snprintf(err, errlen, "[%s] %s: an integer in [%lld, %lld] is expected", section,
			 key, (long long)k->min, (long long)k->max);
		return -1;
	}
	switch (k->kind) {
	case CK_UINT: {
		unsigned u = (unsigned)n;
		memcpy(base + k->off, &u, sizeof(u));
		break;
	}
	case CK_SIZE: {
		size_t z = (size_t)n;
		memcpy(base + k->off, &z, sizeof(z));
		break;
	}
	case CK_INT: {
		int i = (int)n;
		memcpy(base + k->off, &i, sizeof(i));
		break;
	}
	case CK_I64:
		memcpy(base + k->off, &n, sizeof(n));
		break;
	case CK_STR:
		break;
	}
	return 0;
}

int config_load(server_config *c, const char *path, char *err, size_t errlen)
{
	char perr[256];
	conf *f;
	int rc = 0;

	if (errlen > 0)
		err[0] = '\0';
	f = conf_load(path, true, perr, sizeof(perr));
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, perr);
		return -1;
	}
	for (size_t i = 0; i < conf_section_count(f) && rc == 0; i++) {
		const char *sec = conf_section_name(f, i);

		if (sec[0] == '\0' && conf_key_count(f, sec) == 0)
			continue;
		if (!config_section_known(sec)) {
			snprintf(err, errlen, "%s: unknown section [%s]", path, sec);
			rc = -1;
			break;
		}
		for (size_t j = 0; j < conf_key_count(f, sec); j++) {
			char kerr[512];

			if (config_apply(c, f, sec, conf_key_name(f, sec, j), kerr, sizeof(kerr)) !=
			    0) {
				snprintf(err, errlen, "%s: %s", path, kerr);
				rc = -1;
				break;
			}
		}
	}
	conf_free(f);
	return rc;
}
